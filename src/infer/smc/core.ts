/**
 * The particle core: sequential Monte Carlo for a Feynman–Kac model.
 *
 * A Feynman–Kac model is a population of particles moved by a kernel M_t and
 * reweighted by a potential G_t. Everything particle-based in tyche is one:
 * state-space filters (move = transition, potential = emission density), SMC
 * over async programs (move = run to the next observe, potential = its
 * likelihood), tempered SMC (move = MCMC, potential = likelihood increment),
 * and LLM or diffusion steering (move = next token / denoising step,
 * potential = reward ratio). {@link runSMC} runs any of them.
 *
 * The loop, for t = 0, 1, ... while `!fk.done(t, state)`:
 *
 * 1. if t > 0 and ESS < `essThreshold * N`, resample (record the ancestors),
 *    then optionally rejuvenate (`fk.rejuvenate`, an MCMC move);
 * 2. `fk.step(state, t, rng)` moves every particle and returns the log
 *    potential of each;
 * 3. log-weights += log potential; the log-normaliser estimate grows by
 *    `logsumexp(lw_prev + lp) - logsumexp(lw_prev)` (the log of the weighted
 *    mean of the incremental weights), which is exact bookkeeping for adaptive
 *    resampling and keeps `exp(logZ)` an unbiased estimate of Z.
 *
 * Ownership: the core takes ownership of the state a step returns and of a
 * tensor log potential (disposed once read). Tensors of the previous state
 * that the new state does not hold are disposed, so a step may build a new
 * record of tensors without freeing the old one. The caller owns the final
 * state in the result (dispose it with `result.dispose()` or the store).
 *
 * @module
 */
import { NonFiniteDensityError, ZeroDensityError } from '../../core/errors.js';
import * as tf from '@tensorflow/tfjs-core';
import { type Rng, rngFrom, type Seed } from '../../core/rng.js';
import { type Resampler, type ResamplingScheme, normaliseLogWeights, resolveResampler, temperedResample } from './resampling.js';
import { type ParticleStore, inferStore } from './store.js';
import { Pacer } from '../pace.js';
import { oneAtATime } from '../one-at-a-time.js';
import { type OptionRules, checkOptionValues, checkOptions as checkOptionNames } from '../../core/options.js';
import { POPULATION_RULE } from './population.js';
import { RESAMPLERS } from './resampling.js';

/** What a step returns: the moved population and each particle's log potential. */
export interface StepResult<S> {
  /** The new state (the core owns it from now on). */
  readonly state: S;
  /**
   * log G_t for each particle: N numbers or a tensor of N elements (disposed
   * by the core). `-Infinity` kills a particle; NaN is an error.
   */
  readonly logPotential: ArrayLike<number> | tf.Tensor;
}

/** A Feynman–Kac model over particle states of type `S`. */
export interface FeynmanKac<S> {
  /** The initial population of `n` particles (equally weighted). */
  init(n: number, rng: Rng): S | Promise<S>;
  /** Move the population at step `t` (from 0) and weight it. */
  step(state: S, t: number, rng: Rng): StepResult<S> | Promise<StepResult<S>>;
  /** True when there is no step `t` (checked before each step). */
  done(t: number, state: S): boolean;
  /**
   * Optional MCMC move applied after each resampling, before step `t`
   * (resample-move). It must leave the current target invariant.
   */
  rejuvenate?(state: S, t: number, rng: Rng): S | Promise<S>;
  /** How the state is held and resampled (default: inferred from the initial state). */
  readonly store?: ParticleStore<S>;
}

/** What `onStep` and `keepHistory` see after each step. */
export interface StepInfo<S> {
  /** The step just taken. */
  readonly t: number;
  /** The population after the step (do not keep tensors from it: they are disposed later). */
  readonly state: S;
  /** Normalised log-weights (log-sum-exp 0); read-only, reused by the core. */
  readonly logWeights: Float64Array;
  /** Normalised weights; read-only, reused by the core. */
  readonly weights: Float64Array;
  /** Effective sample size of the weights. */
  readonly ess: number;
  /** Running estimate of log Z after this step. */
  readonly logZ: number;
  /** This step's contribution to log Z. */
  readonly logIncrement: number;
  /** Whether the population was resampled before this step. */
  readonly resampled: boolean;
  /** Parent (after step t - 1) of each particle; the identity when not resampled. */
  readonly ancestors: Int32Array;
}

/** What an {@link AncestorSampler} sees when the core resamples before step `t`. */
export interface AncestorContext<S> {
  /** The step about to be taken. */
  readonly t: number;
  /** The population after step `t - 1` (read it, do not keep or free it). */
  readonly state: S;
  /** Normalised weights of that population (read-only). */
  readonly weights: Float64Array;
  /** Normalised log-weights (read-only). */
  readonly logWeights: Float64Array;
  /** Number of particles. */
  readonly particles: number;
  /** The random stream reserved for resampling. */
  readonly rng: Rng;
  /** The run's resampling scheme. */
  readonly resampler: Resampler;
}

/**
 * A replacement for the core's ancestor draw: returns the ancestor (index
 * after step `t - 1`) of each of the `particles` offspring. After it the
 * offspring are equally weighted, as after ordinary resampling. Conditional
 * SMC uses one to keep a reference path in slot 0 (see
 * {@link conditionalAncestors}).
 */
export type AncestorSampler<S> = (ctx: AncestorContext<S>) => Int32Array;

/** What a {@link TemperSchedule} sees before the resampling of step `t`. */
export interface TemperContext {
  /** The step about to be taken. */
  readonly t: number;
  /** Effective sample size of the current weights. */
  readonly ess: number;
  /** Number of particles. */
  readonly particles: number;
  /** Normalised weights (read-only). */
  readonly weights: Float64Array;
}

/** Chooses the tempered-resampling exponent alpha in [0, 1] at each resampling. */
export type TemperSchedule = (ctx: TemperContext) => number;

/** Options of {@link runSMC}. */
export interface SMCOptions<S, H = never> {
  /** Number of particles. */
  readonly particles: number;
  /** Resampling scheme (default `'systematic'`) or a custom {@link Resampler}. */
  readonly resampling?: ResamplingScheme | Resampler;
  /**
   * Resample before a step when ESS < `essThreshold * particles` (default
   * 0.5). 1 resamples whenever the weights are not all equal; 0 never.
   */
  readonly essThreshold?: number;
  /**
   * Tempered resampling exponent alpha in [0, 1] (default 1, ordinary
   * resampling): ancestors are drawn from `w^alpha` and keep weight
   * `w^(1 - alpha)` (see {@link temperedResample}). A function chooses alpha
   * at each resampling from the current weights (e.g. entropic particle
   * filtering's temperature schedules, alpha = 1 / T).
   */
  readonly temper?: number | TemperSchedule;
  /** Seed of the random stream (ignored when `rng` is given). */
  readonly seed?: Seed;
  /** The random stream to use. */
  readonly rng?: Rng;
  /** Called after each step (awaited); for progress, logging or early inspection. */
  readonly onStep?: (info: StepInfo<S>) => void | Promise<void>;
  /**
   * Abort the run: checked before every step (which yields to the event loop
   * every few ms, see `Pacer`); the state is freed and the reason thrown.
   */
  readonly signal?: AbortSignal;
  /** Record the ancestors of every step (default true). */
  readonly genealogy?: boolean;
  /** Record a snapshot after every step (e.g. particle values for smoothing); returned in `history`. */
  readonly keepHistory?: (info: StepInfo<S>) => H;
  /** How to hold and resample the state (default: `fk.store`, else inferred). */
  readonly store?: ParticleStore<S>;
  /** Stop with an error after this many steps (default: no limit). */
  readonly maxSteps?: number;
  /**
   * Draw ancestors with this function instead of `resampling` (e.g. the
   * conditional resampling of conditional SMC); not combinable with `temper`.
   */
  readonly ancestorSampler?: AncestorSampler<S>;
}

/** The outcome of {@link runSMC}. */
export interface SMCResult<S, H = never> {
  /** The final population (owned by the caller). */
  readonly state: S;
  /** Final normalised log-weights. */
  readonly logWeights: Float64Array;
  /** Final normalised weights. */
  readonly weights: Float64Array;
  /** Estimate of log Z (exp of it is unbiased for Z). */
  readonly logZ: number;
  /** Number of steps taken. */
  readonly steps: number;
  /** ESS after each step. */
  readonly essHistory: number[];
  /** Running log Z after each step. */
  readonly logZHistory: number[];
  /** `ancestors[t][i]`: parent (after step t - 1) of particle i after step t; empty without genealogy. */
  readonly ancestors: Int32Array[];
  /** The steps before which the population was resampled. */
  readonly resampledAt: number[];
  /** Snapshots from `keepHistory`, one per step. */
  readonly history: H[];
  /** The store holding `state` (use `store.dispose(state)` to free it). */
  readonly store: ParticleStore<S>;
}

/** Read a log potential into `out` (length N), disposing a tensor. */
async function readPotential(lp: ArrayLike<number> | tf.Tensor, n: number, at: string): Promise<ArrayLike<number>> {
  if (lp instanceof tf.Tensor) {
    try {
      if (lp.size !== n) throw new Error(`${at}: logPotential has shape [${lp.shape.join(', ')}], expected ${n} values (one per particle)`);
      return await lp.data();
    } finally {
      lp.dispose();
    }
  }
  if (lp === null || typeof lp !== 'object' || typeof lp.length !== 'number') {
    throw new Error(`${at}: logPotential must be a tensor or an array of ${n} numbers`);
  }
  if (lp.length !== n) throw new Error(`${at}: logPotential has ${lp.length} values, expected ${n} (one per particle)`);
  return lp;
}

function checkOptions<S, H>(o: SMCOptions<S, H>, who = 'SMC'): void {
  if (!Number.isInteger(o.particles) || o.particles < 1) throw new Error(`${who}: particles must be a positive integer, got ${o.particles}`);
  const th = o.essThreshold;
  if (th !== undefined && !(th >= 0 && th <= 1)) throw new Error(`${who}: essThreshold must lie in [0, 1], got ${th}`);
  const a = o.temper;
  if (typeof a === 'function') {
    if (o.ancestorSampler) throw new Error(`${who}: ancestorSampler cannot be combined with a temper schedule`);
    return;
  }
  if (a !== undefined && !(a >= 0 && a <= 1)) throw new Error(`${who}: temper must lie in [0, 1], got ${a}`);
  if (o.ancestorSampler && a !== undefined && a !== 1) throw new Error(`${who}: ancestorSampler cannot be combined with tempered resampling (temper < 1)`);
}

/** Run a custom ancestor sampler and check what it returns. */
function customAncestors<S>(sampler: AncestorSampler<S>, ctx: AncestorContext<S>, at: string): Int32Array {
  const a = sampler(ctx);
  const n = ctx.particles;
  if (!(a instanceof Int32Array) || a.length !== n) throw new Error(`${at}: ancestorSampler must return an Int32Array of ${n} indices`);
  for (let i = 0; i < n; i++) {
    if (!(a[i] >= 0 && a[i] < n)) throw new Error(`${at}: ancestorSampler returned index ${a[i]} outside 0..${n - 1}`);
  }
  return a;
}

/** The options of {@link runSMC}, each with its rule where a value can be checked before the run. */
const RUN_SMC_OPTIONS: { readonly [K in keyof Required<SMCOptions<unknown, unknown>>]: OptionRules[string] | null } = {
  particles: POPULATION_RULE,
  resampling: { type: 'choice', values: Object.keys(RESAMPLERS), orElse: 'a resampling function', orType: ['function'] },
  essThreshold: { type: 'number', min: 0, max: 1 },
  temper: null,
  seed: null,
  rng: { type: 'object', what: 'an Rng (rngFrom(seed)); or give seed' },
  onStep: { type: 'function' },
  signal: { type: 'signal' },
  genealogy: { type: 'boolean' },
  keepHistory: { type: 'function' },
  store: { type: 'object', what: 'a ParticleStore' },
  maxSteps: { type: 'integer', min: 0 },
  ancestorSampler: { type: 'function' },
};
const RUN_SMC_RULES: OptionRules = Object.fromEntries(Object.entries(RUN_SMC_OPTIONS).filter((e): e is [string, OptionRules[string]] => e[1] !== null));

/** `fk` has the methods a run calls, or an error naming the one missing. */
function checkFeynmanKac(who: string, fk: unknown): void {
  if (fk === null || typeof fk !== 'object') throw new TypeError(`${who}: the first argument must be a FeynmanKac model (an object with init, step and done), got ${fk === null ? 'null' : typeof fk}`);
  for (const m of ['init', 'step', 'done'] as const) {
    const f = (fk as Record<string, unknown>)[m];
    if (typeof f !== 'function') throw new TypeError(`${who}: fk.${m} must be a function (a FeynmanKac model has init, step and done), got ${f === null ? 'null' : typeof f}`);
  }
}

/**
 * Run sequential Monte Carlo on a Feynman–Kac model.
 *
 * Options are checked before anything runs, as `infer` checks its own: an
 * unknown name (with the near miss), a value out of range, or an `fk`
 * without `init`, `step` or `done` is an error that starts `runSMC:`, and so
 * does every error of the run itself (`runSMC: step 3: every particle has
 * zero weight ...`); errors thrown by `fk`'s own methods pass through as
 * they are.
 *
 * @example
 * ```ts
 * const res = await runSMC(filter, { particles: 1000, resampling: 'systematic', seed: 1 });
 * res.logZ; // log-likelihood estimate
 * ```
 */
export async function runSMC<S, H = never>(fk: FeynmanKac<S>, options: SMCOptions<S, H>): Promise<SMCResult<S, H>> {
  checkFeynmanKac('runSMC', fk);
  checkOptionNames('runSMC', options, Object.keys(RUN_SMC_OPTIONS));
  checkOptionValues('runSMC', options, RUN_SMC_RULES);
  checkOptions(options, 'runSMC');
  // one run at a time with `infer` calls (tfjs's scopes and tape are global: steering beside NUTS crashed with
  // "Cannot read properties of undefined (reading 'backend')"); the engines' own runs, inside their ledgers, run at once
  return oneAtATime(options.signal, () => run(fk, options, 'runSMC'));
}

/**
 * {@link runSMC} for a package entry point that checks its own options and
 * names itself in the errors it passes on (the steering functions): queued
 * as `runSMC` is, its messages worded `SMC step t: ...` for the entry point
 * to wrap.
 * @internal
 */
export async function runSMCForEntry<S, H = never>(fk: FeynmanKac<S>, options: SMCOptions<S, H>): Promise<SMCResult<S, H>> {
  checkOptions(options);
  return oneAtATime(options.signal, () => run(fk, options));
}

/**
 * {@link runSMC} for an engine that already runs inside an `infer` call
 * (program SMC, tempered SMC): the same run, without taking a turn in the
 * queue. Its caller holds the turn; queued, the run would wait on that very
 * call, and where the stack check cannot see the nesting (a browser, after a
 * paced yield to the event loop) it did (the in-page bad-input checks hung).
 * @internal
 */
export async function runSMCInsideCall<S, H = never>(fk: FeynmanKac<S>, options: SMCOptions<S, H>): Promise<SMCResult<S, H>> {
  checkOptions(options);
  return run(fk, options);
}

/** {@link runSMC} once its turn has come. */
async function run<S, H>(fk: FeynmanKac<S>, options: SMCOptions<S, H>, who = 'SMC'): Promise<SMCResult<S, H>> {
  // where a message names the step: `SMC step 3` inside the package's engines (which name the site or entry point around it), `runSMC: step 3` called directly
  const at = (t: number): string => (who === 'SMC' ? `SMC step ${t}` : `${who}: step ${t}`);
  const N = options.particles;
  const threshold = (options.essThreshold ?? 0.5) * N;
  const temper = options.temper ?? 1;
  const resampler = resolveResampler(options.resampling);
  const rng = options.rng ?? rngFrom(options.seed);
  const resampleRng = rng.split();
  const genealogy = options.genealogy ?? true;
  const pace = new Pacer(options.signal);

  const lw = new Float64Array(N).fill(-Math.log(N));
  const W = new Float64Array(N).fill(1 / N);
  const identity: Int32Array = Int32Array.from({ length: N }, (_, i) => i);
  const essHistory: number[] = [];
  const logZHistory: number[] = [];
  const ancestorsHistory: Int32Array[] = [];
  const resampledAt: number[] = [];
  const history: H[] = [];
  let logZ = 0;
  let ess = N;

  let state: S = await fk.init(N, rng);
  const store = options.store ?? fk.store ?? inferStore(state);
  let t = 0;
  try {
    while (!fk.done(t, state)) {
      if (pace.due()) await pace.pause();
      if (options.maxSteps !== undefined && t >= options.maxSteps) throw new Error(`${who}: reached maxSteps = ${options.maxSteps} before done()`);

      let ancestors: Int32Array = identity;
      let resampled = false;
      if (t > 0 && ess < threshold) {
        const alpha = typeof temper === 'function' ? temper({ t, ess, particles: N, weights: W }) : temper;
        if (!(alpha >= 0 && alpha <= 1)) throw new Error(`${at(t)}: the temper schedule returned ${alpha}; alpha must lie in [0, 1]`);
        if (alpha === 1) {
          ancestors = options.ancestorSampler
            ? customAncestors(options.ancestorSampler, { t, state, weights: W, logWeights: lw, particles: N, rng: resampleRng, resampler }, at(t))
            : resampler(W, N, resampleRng);
          lw.fill(-Math.log(N));
          W.fill(1 / N);
        } else {
          const r = temperedResample(lw, alpha, N, resampleRng, resampler);
          ancestors = r.ancestors;
          lw.set(r.logWeights);
          logZ += normaliseLogWeights(lw, W).logTotal;
        }
        state = store.select(state, ancestors, N);
        resampled = true;
        resampledAt.push(t);
        if (fk.rejuvenate) {
          const moved = await fk.rejuvenate(state, t, rng);
          if (moved !== state) store.release(state, moved);
          state = moved;
        }
      }

      const out = await fk.step(state, t, rng);
      if (out.state !== state) store.release(state, out.state);
      state = out.state;
      const lp = await readPotential(out.logPotential, N, at(t));
      // lw += lp, then normalise; lw was normalised, so the log of the new total is the increment of log Z
      let norm: { logTotal: number; ess: number };
      try {
        norm = normaliseLogWeights(lw, W, lp);
      } catch (err) {
        // a log potential or weight of +Infinity or NaN: infer names the site to blame (diagnose.ts)
        throw new NonFiniteDensityError(`${at(t)}: ${(err as Error).message}`);
      }
      if (norm.logTotal === -Infinity) throw new ZeroDensityError(`${at(t)}: every particle has zero weight (all log potentials are -Infinity)`);
      logZ += norm.logTotal;
      ess = norm.ess;
      essHistory.push(ess);
      logZHistory.push(logZ);
      if (genealogy) ancestorsHistory.push(ancestors);

      if (options.onStep || options.keepHistory) {
        const info: StepInfo<S> = { t, state, logWeights: lw, weights: W, ess, logZ, logIncrement: norm.logTotal, resampled, ancestors };
        if (options.keepHistory) history.push(options.keepHistory(info));
        if (options.onStep) await options.onStep(info);
      }
      t++;
    }
  } catch (err) {
    store.dispose(state);
    throw err;
  }
  return {
    state,
    logWeights: lw,
    weights: W,
    logZ,
    steps: t,
    essHistory,
    logZHistory,
    ancestors: ancestorsHistory,
    resampledAt,
    history,
    store,
  };
}
