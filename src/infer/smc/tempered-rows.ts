/**
 * Likelihood-tempered SMC over a population held as the rows of one float64
 * matrix: the algorithm of `tempered` for models whose log density compiles.
 *
 * The targets are π_β(x) ∝ p(x) p(y | x)^β in unconstrained space. Each
 * step finds the next β by bisection on the ESS of the incremental weights
 * p(y | x)^(β' - β) (the same rule as the per-particle path), weighs the
 * particles by them, and, after the core resamples (a row gather), moves all
 * particles together by HMC at the new β (see `population-hmc.ts`). The
 * product of the mean incremental weights estimates Z.
 *
 * The target is any {@link TemperedTarget}: the compiled record of a model
 * (`ScaledDensity`) in the engine, a closed form in tests.
 *
 * @module
 */
import type { Rng } from '../../core/rng.js';
import { Pacer } from '../pace.js';
import type { ScaledEvaluation } from '../scaled-density.js';
import { runSMCForEntry } from './core.js';
import { type HmcTuning, populationMoves } from './population-hmc.js';
import type { ResamplingScheme } from './resampling.js';
import { batchedStore } from './store.js';
import { nextTemperature } from './temperature.js';

/** A tempered target over rows: base (log prior + log-Jacobian), scaled (log-likelihood) and the gradient of base + β scaled. */
export interface TemperedTarget {
  /** Coordinates per particle. */
  readonly dim: number;
  /** Evaluate every row of `q` (particles × dim) at β > 0, pausing with `pace` in long loops. */
  evaluate(q: Float64Array, beta: number, pace?: Pacer): Promise<ScaledEvaluation>;
}

/** Options of {@link temperedRows}. */
export interface TemperedRowsOptions {
  /** The ESS fraction each temperature step aims at. */
  readonly targetEss: number;
  /** HMC transitions per temperature; default: until the particles decorrelate from where they started (2 to 25). */
  readonly moves?: number;
  readonly resampling?: ResamplingScheme;
  readonly rng: Rng;
  readonly signal?: AbortSignal;
  readonly onStep?: (info: { step: number; beta: number; ess: number; logZ: number }) => void | Promise<void>;
}

/** The outcome of {@link temperedRows}. */
export interface TemperedRowsResult {
  /** Final particles (rows of dim), weighted by `logWeights`. */
  readonly q: Float64Array;
  /** Final normalised log-weights. */
  readonly logWeights: Float64Array;
  readonly logZ: number;
  /** The temperatures, from 0 to 1. */
  readonly betas: number[];
  /** Per temperature after the first: mean HMC acceptance probability, transitions, leapfrog steps, step size. */
  readonly acceptance: number[];
  readonly transitions: number[];
  readonly leapfrog: number[];
  readonly stepSizes: number[];
  readonly essHistory: number[];
}

/** The population the core resamples: rows of q and each particle's two parts. */
interface Rows {
  readonly q: Float64Array;
  readonly base: Float64Array;
  readonly scaled: Float64Array;
}

/**
 * Tempered SMC from `init` (particles × dim prior draws in unconstrained
 * space; the number of particles is its row count).
 */
export async function temperedRows(target: TemperedTarget, init: Float64Array, options: TemperedRowsOptions): Promise<TemperedRowsResult> {
  const dim = target.dim;
  const n = init.length / dim;
  if (!Number.isInteger(n) || n < 1) throw new Error(`tempered: ${init.length} initial values do not split into rows of ${dim}`);
  let beta = 0;
  const betas = [0];
  const acceptance: number[] = [];
  const transitions: number[] = [];
  const leapfrog: number[] = [];
  const stepSizes: number[] = [];
  const tuning: HmcTuning = { stepSize: Math.min(1, dim ** -0.25) };
  const pace = new Pacer(options.signal);
  const moveRng = options.rng.split();
  const logTarget = (e: ScaledEvaluation, b: number): Float64Array => e.base.map((x, i) => x + b * e.scaled[i]!);

  const result = await runSMCForEntry<Rows>(
    {
      async init() {
        // β = 1 only to read the two parts (the base is recovered as f - β scaled, which needs β > 0)
        const e = await target.evaluate(init, 1, pace);
        return { q: Float64Array.from(init), base: e.base, scaled: e.scaled };
      },
      step(state) {
        const next = nextTemperature(beta, state.scaled, options.targetEss);
        const logPotential = state.scaled.map((s) => (s === -Infinity ? -Infinity : (next - beta) * s));
        beta = next;
        betas.push(beta);
        return { state, logPotential };
      },
      done: () => beta >= 1,
      async rejuvenate(state) {
        const b = beta;
        const rowsTarget = async (x: Float64Array) => {
          const e = await target.evaluate(x, b, pace);
          return { logp: logTarget(e, b), grad: e.grad };
        };
        const q = Float64Array.from(state.q);
        const start = await rowsTarget(q);
        const pop = { q, logp: Float64Array.from(start.logp), grad: Float64Array.from(start.grad) };
        const report = await populationMoves(rowsTarget, pop, n, dim, tuning, moveRng, { ...(options.moves !== undefined ? { transitions: options.moves } : {}), pace });
        acceptance.push(report.acceptance);
        transitions.push(report.transitions);
        leapfrog.push(report.leapfrog);
        stepSizes.push(tuning.stepSize);
        const e = await target.evaluate(pop.q, b, pace);
        return { q: pop.q, base: e.base, scaled: e.scaled };
      },
      store: batchedStore<Rows>(),
    },
    {
      particles: n,
      essThreshold: 1,
      resampling: options.resampling,
      rng: options.rng.split(),
      signal: options.signal,
      genealogy: false,
      onStep: options.onStep ? (info) => options.onStep?.({ step: info.t, beta, ess: info.ess, logZ: info.logZ }) : undefined,
    },
  );
  return { q: result.state.q, logWeights: result.logWeights, logZ: result.logZ, betas, acceptance, transitions, leapfrog, stepSizes, essHistory: result.essHistory };
}
