/**
 * Annealed (likelihood-tempered) SMC for static models:
 * `infer(model, { method: 'tempered', particles })`.
 *
 * The targets are pi_b(x) ∝ p(x) p(y | x)^b for 0 = b_0 < b_1 < ... < b_T = 1.
 * Particles start as prior draws; at each step the next temperature is found
 * by bisection so that the ESS of the incremental weights p(y|x)^(b' - b) is
 * `targetEss` times the number of particles (as in PyMC's SMC and TFP's
 * `sample_sequential_monte_carlo`), the population is reweighted, resampled
 * and moved by MCMC steps that leave pi_b' invariant (single-site MH over
 * traces on the model with its observations scaled by b'). The product of
 * the mean incremental weights estimates the marginal likelihood Z.
 *
 * Two paths (`diagnostics.path`):
 *
 * - `'compiled'` (default where the model allows it): all particles are rows
 *   of one float64 matrix; the model's log density is recorded once with its
 *   likelihood scaled by an input β and replayed for every row and
 *   temperature (`tempered-compiled.ts`); the moves are HMC steps of the
 *   whole population with a metric from the particles' covariance and a step
 *   size adapted from the acceptance rate (`population-hmc.ts`). Needs
 *   continuous latent sites that are the same in every run and a record the
 *   compiler accepts.
 * - `'per-particle'` (any model, discrete or continuous; `compile: false`
 *   forces it): each particle is a trace, tempering is done with the `scale`
 *   handler on observed sites and factors, and the moves are single-site MH
 *   steps that re-run the model (float32 on tfjs). `diagnostics.notCompiled`
 *   says why the compiled path was not taken.
 *
 * @module
 */
import { scaleHandler } from '../../core/handlers.js';
import type { Model } from '../../core/model.js';
import { rngFrom } from '../../core/rng.js';
import { initialTrace } from '../mcmc/mh-engine.js';
import { type SiteProposal, type TraceState, mhStep, runWithValues, siteLogDensityNumber } from '../mcmc/trace-mh.js';
import { type Draw, Posterior } from '../posterior.js';
import { Pacer, mapPaced } from '../pace.js';
import { withLedger } from '../../backend/ledger.js';
import { nextTensorId, reachableTensors } from '../mcmc/state-tensors.js';
import { type CommonOptions, registerEngine } from '../registry.js';
import { type FeynmanKac, runSMCInsideCall } from './core.js';
import type { ResamplingScheme } from './resampling.js';
import { perParticleStore } from './store.js';
import { nextTemperature } from './temperature.js';
import { compiledTempered } from './tempered-compiled.js';
import { TycheError } from '../../core/errors.js';
import { NESTED_RUN, insideAnotherRun } from '../scaled-density.js';

export { nextTemperature };

/** Options of `infer(model, { method: 'tempered', ... })`. */
export interface TemperedOptions extends CommonOptions {
  readonly method: 'tempered';
  /** Number of particles (default 1000). */
  readonly particles?: number;
  /** The ESS fraction each temperature step aims at (default 0.5). */
  readonly targetEss?: number;
  /**
   * Moves after each resampling. Compiled path: HMC transitions of the whole
   * population (default: until every coordinate's correlation with the
   * pre-move positions is below 0.1, 2 to 25 transitions). Per-particle path:
   * MH steps per particle (default 10 x the number of latent sites).
   */
  readonly moves?: number;
  /** Per-address MH proposals (default: from the site's prior); they imply the per-particle path. */
  readonly proposals?: Readonly<Record<string, SiteProposal>>;
  /**
   * The compiled float64 path (see the module notes): `'auto'` (default) takes
   * it where the model allows and falls back to the per-particle path
   * otherwise; `true` requires it (an error says why it cannot run); `false`
   * forces the per-particle path.
   */
  readonly compile?: boolean | 'auto';
  /** Resampling scheme (default `'systematic'`). */
  readonly resampling?: ResamplingScheme;
  /** Called after each temperature step. */
  readonly onStep?: (info: { step: number; beta: number; ess: number; logZ: number }) => void | Promise<void>;
  /** Stops the run. */
  readonly signal?: AbortSignal;
}

/** A particle: the trace at the current temperature and its untempered log-likelihood. */
interface Particle<R> {
  readonly state: TraceState<R>;
  readonly logLik: number;
  /** At the start: what `scale` or `mask` handlers on latent sites change of the prior the particle was drawn from. */
  readonly initial?: number;
}

/**
 * log p_scaled - log p over the latent sites of a trace drawn from the prior
 * (`priorDrawCorrection`): the particles start from the model's unscaled
 * prior, the path from the scaled one.
 */
function priorCorrection(state: TraceState<unknown>): number {
  let total = 0;
  for (const s of state.trace) {
    if (s.type === 'sample' && !s.observed && (s.scale !== 1 || s.mask !== true)) total += siteLogDensityNumber(s) - siteLogDensityNumber({ ...s, scale: 1, mask: true });
  }
  return total;
}

/**
 * The untempered log-likelihood of a trace whose observed sites were scored
 * at temperature `beta` > 0 (their scale carries the factor `beta`).
 */
function logLikelihood(state: TraceState<unknown>, beta: number): number {
  let total = 0;
  for (const s of state.trace) {
    if (s.type === 'factor' || (s.type === 'sample' && s.observed)) total += siteLogDensityNumber({ ...s, scale: s.scale / beta });
  }
  return total;
}

/** Likelihood-tempered SMC with MH moves over traces. */
export async function tempered<A extends unknown[], R>(m: Model<A, R>, options: Omit<TemperedOptions, 'method'>, args: A): Promise<Posterior<A, R>> {
  const tensorsSince = nextTensorId();
  const nested = await insideAnotherRun();
  // the run's ledger: what the final draws reach is kept, every other tensor it made is freed (see withLedger)
  return withLedger(() => temperedRun(m, options, args, tensorsSince, nested), (post) => [...reachableTensors(post.draws)]);
}

async function temperedRun<A extends unknown[], R>(m: Model<A, R>, options: Omit<TemperedOptions, 'method'>, args: A, tensorsSince: number, nested: boolean): Promise<Posterior<A, R>> {
  const n = options.particles ?? 1000;
  if (!Number.isInteger(n) || n <= 0) throw new RangeError(`tempered: particles must be a positive integer, got ${n}`);
  const target = options.targetEss ?? 0.5;
  if (!(target > 0 && target < 1)) throw new RangeError(`tempered: targetEss must lie in (0, 1), got ${target}`);
  const compile = options.compile ?? 'auto';
  if (compile !== true && compile !== false && compile !== 'auto') throw new RangeError(`tempered: compile must be true, false or 'auto', got ${String(compile)}`);
  if (options.moves !== undefined && !(Number.isInteger(options.moves) && options.moves >= 0)) throw new RangeError(`tempered: moves must be a nonnegative integer, got ${options.moves}`);
  const rng = rngFrom(options.seed ?? 0);
  let notCompiled = 'compile: false';
  if (compile !== false) {
    const run = options.proposals
      ? { notCompiled: 'per-site MH proposals were given (they need the per-particle path)' }
      : nested
        ? { notCompiled: NESTED_RUN }
        : await compiledTempered(m, args, n, rng.split(), {
          targetEss: target,
          ...(options.moves !== undefined ? { moves: options.moves } : {}),
          ...(options.resampling ? { resampling: options.resampling } : {}),
          ...(options.signal ? { signal: options.signal } : {}),
          ...(options.onStep ? { onStep: options.onStep } : {}),
        });
    if (!('notCompiled' in run)) {
      const r = run.result;
      return new Posterior({
        method: 'tempered',
        draws: run.draws,
        logZ: r.logZ,
        diagnostics: {
          path: 'compiled',
          betas: r.betas,
          acceptance: r.acceptance,
          transitions: r.transitions,
          leapfrog: r.leapfrog,
          stepSizes: r.stepSizes,
          essHistory: r.essHistory,
          compileStats: run.compileStats,
        },
        model: m,
        args,
        tensorsSince,
      });
    }
    if (compile === true) throw new TycheError(`tempered: compile: true, but the model cannot take the compiled path: ${run.notCompiled}`);
    notCompiled = run.notCompiled;
  }
  const observedOnly = (msg: { type: string; observed: boolean }) => msg.type === 'factor' || (msg.type === 'sample' && msg.observed);
  let beta = 0;
  const betas: number[] = [0];
  let acceptRate: number[] = [];
  const pace = new Pacer(options.signal);

  const fk: FeynmanKac<Particle<R>[]> = {
    async init(count, r) {
      const out: Particle<R>[] = [];
      for (let i = 0; i < count; i++) {
        if (pace.due()) await pace.pause();
        const state = await initialTrace(m.withHandler(scaleHandler(0, observedOnly)), args, r);
        out.push({ state, logLik: 0 });
      }
      // score the observations at temperature 1 to get each particle's log-likelihood
      return mapPaced(
        out,
        async (p) => {
          const s = await runWithValues(m, args, (a) => p.state.trace.get(a)?.value, r.split());
          return { state: s, logLik: logLikelihood(s, 1), initial: priorCorrection(s) };
        },
        pace,
      );
    },
    step(state) {
      const next = nextTemperature(beta, state.map((p) => p.logLik), target);
      const logPotential = Float64Array.from(state, (p) => (p.logLik === -Infinity ? -Infinity : (next - beta) * p.logLik + (beta === 0 ? (p.initial ?? 0) : 0)));
      beta = next;
      betas.push(beta);
      return { state, logPotential };
    },
    done: () => beta >= 1,
    async rejuvenate(state, _t, r) {
      const tempered = m.withHandler(scaleHandler(beta, observedOnly));
      const moves = options.moves;
      let acc = 0;
      let tries = 0;
      const out: Particle<R>[] = [];
      for (const p of state) {
        if (pace.due()) await pace.pause();
        let s = await runWithValues(tempered, args, (a) => p.state.trace.get(a)?.value, r.split());
        const k = moves ?? 10 * s.trace.latentSites().length;
        for (let j = 0; j < k; j++) {
          const step = await mhStep(tempered, args, s, r, { proposals: options.proposals });
          s = step.state;
          tries++;
          if (step.accepted) acc++;
        }
        out.push({ state: s, logLik: logLikelihood(s, beta) });
      }
      acceptRate.push(tries ? acc / tries : NaN);
      return out;
    },
    store: perParticleStore<Particle<R>>((p) => p),
  };
  const result = await runSMCInsideCall(fk, {
    particles: n,
    essThreshold: 1,
    resampling: options.resampling,
    rng: rng.split(),
    signal: options.signal,
    genealogy: false,
    onStep: options.onStep ? (info) => options.onStep?.({ step: info.t, beta, ess: info.ess, logZ: info.logZ }) : undefined,
  });
  const draws: Draw<R>[] = result.state.map((p, i) => ({ values: p.state.trace.values(), returnValue: p.state.returnValue, logWeight: result.logWeights[i] }));
  acceptRate = acceptRate.filter((x) => !Number.isNaN(x));
  return new Posterior({ method: 'tempered', draws, logZ: result.logZ, diagnostics: { path: 'per-particle', notCompiled, betas, acceptance: acceptRate, essHistory: result.essHistory }, model: m, args, tensorsSince });
}

registerEngine<TemperedOptions>({
  name: 'tempered',
  options: ['particles', 'targetEss', 'moves', 'proposals', 'resampling', 'onStep', 'signal', 'compile'],
  description: 'likelihood-tempered (annealed) SMC for static models with an adaptive temperature schedule: compiled float64 rows with population HMC moves where the model allows, else per-particle MH over traces',
  run: (m, options, args) => tempered(m, options, args),
});
