/**
 * Importance sampling: likelihood weighting from the prior, or proposals from
 * a user guide written as an async model with the same latent addresses.
 *
 * With a guide q, each particle runs q, then replays the model on q's draws:
 * log w = log p(x, y) - log q(x), counting only latent sites the guide
 * proposed (latent sites the guide does not name are drawn from the prior and
 * cancel). Without a guide, log w = log p(y | x). The estimate of log Z is
 * logsumexp(log w) - log N, unbiased for Z.
 *
 * Where the model (and guide) compiles, the draws and their weights are
 * float64: each particle runs on tfjs inside a float64 shadow run
 * (`withFloat64Shadow`: every kernel computed again in float64 from the
 * JS-number noise and data), its latent values are read in float64 where
 * every kernel behind them has a replay rule (the value tensors then
 * remember those doubles, `float64Of`), and its log weight is the compiled
 * record replayed in float64 at them (`importance-weights.ts`;
 * `diagnostics.weights` says `'float64'` or `'float32'`, and
 * `diagnostics.notCompiled` why not). `compile: false` keeps the float32
 * draws and weights of the runs themselves.
 *
 * @module
 */
import { TycheError, ZeroDensityError, rejectsPoint } from '../core/errors.js';
import * as tf from '@tensorflow/tfjs-core';
import { replayHandler } from '../core/handlers.js';
import { Model, ModelError, execute } from '../core/model.js';
import { type Rng, rngFrom } from '../core/rng.js';
import { tidyAsync, withGradientLock } from '../backend/autodiff.js';
import { type Float64Reader, type Float64Shadow, openFloat64Shadow } from '../backend/jit/trace.js';
import { type Trace, priorDrawCorrection, siteLogDensity } from '../core/trace.js';
import { type Value, isTensor, logSumExp, toNumber } from '../core/value.js';
import { nextTensorId } from './mcmc/state-tensors.js';
import { Pacer } from './pace.js';
import { Float64Weights, NUMBERS_ALREADY } from './importance-weights.js';
import { NESTED_RUN, insideAnotherRun } from './scaled-density.js';
import { type Draw, Posterior, disposeDraws } from './posterior.js';
import { type CommonOptions, registerEngine } from './registry.js';

/** Options of `infer(model, { method: 'importance', ... })`. */
export interface ImportanceOptions extends CommonOptions {
  readonly method: 'importance';
  /** Number of weighted samples (default 1000). */
  readonly particles?: number;
  /**
   * A proposal: an async model taking the same arguments, sampling (a subset
   * of) the model's latent addresses. Defaults to the prior.
   */
  readonly guide?: Model<never, unknown> | ((...args: never[]) => unknown);
  /** Called after each sample with the count done so far. */
  readonly onProgress?: (done: number, total: number) => void;
  /** Stops the run (the promise rejects with the signal's reason). */
  readonly signal?: AbortSignal;
  /**
   * Log weights in float64 from a compiled record of the model: `'auto'`
   * (default) where it compiles, else float32; `true` requires it (an error
   * says why it cannot); `false` keeps the float32 weights of the tfjs runs.
   */
  readonly compile?: boolean | 'auto';
}

function numberOf(v: Value): number {
  const n = typeof v === 'number' ? v : toNumber(v);
  if (isTensor(v)) v.dispose();
  return n;
}

/** Sum of site log densities selected by `keep`, as a number; disposes intermediates. */
function sumSites(trace: Trace, keep: (address: string, observed: boolean, type: string) => boolean): number {
  let total = 0;
  for (const s of trace) {
    if (s.type !== 'sample' && s.type !== 'factor') continue;
    if (!keep(s.address, s.observed, s.type)) continue;
    total += numberOf(tf.tidy(() => siteLogDensity(s)) as Value);
  }
  return total;
}

/**
 * The corrections of the latent sites drawn from their priors (not in
 * `proposed`) for a `scale` or `mask` handler on them (`priorDrawCorrection`).
 */
function priorCorrections(trace: Trace, proposed?: ReadonlySet<string>): number {
  let total = 0;
  for (const s of trace) {
    if (s.type !== 'sample' || s.observed || proposed?.has(s.address)) continue;
    if (s.scale !== 1 || s.mask !== true) total += numberOf(tf.tidy(() => priorDrawCorrection(s)) as Value);
  }
  return total;
}

/** Every tensor among a draw's values. */
function tensorsIn(values: Readonly<Record<string, Value>>): tf.Tensor[] {
  return Object.values(values).filter(isTensor);
}

/**
 * One weighted sample: run the guide (if any), replay the model on it, and
 * weigh. With `float64`, a draw whose latent sites fit its record is weighed
 * by it instead (after the tfjs scope closes: `pending` holds its rows),
 * its tensor values read in float64 by `read` (a shadow run's reader).
 */
async function weightedSample<A extends unknown[], R>(
  m: Model<A, R>,
  guide: Model<A, unknown> | undefined,
  r: Rng,
  args: A,
  i: number,
  float64: Float64Weights | undefined,
  pending: { rows?: { model: Float64Array; guide?: Float64Array } },
  read?: Float64Reader,
): Promise<Draw<R>> {
  let logW: number;
  let result: { trace: Trace; returnValue: R };
  if (guide) {
    const g = await execute(guide, { rng: r.split() }, ...args);
    for (const s of g.trace) {
      if (s.type === 'sample' && s.observed) throw new ModelError(s.address, 'a guide must not observe data');
    }
    result = await execute(m, { rng: r, handlers: [replayHandler(g.trace)] }, ...args);
    for (const s of g.trace) {
      if (s.type === 'sample' && !result.trace.has(s.address)) {
        throw new ModelError(s.address, 'the guide samples this address but the model has no such site');
      }
    }
    pending.rows = float64?.rows(result.trace, g.trace, read);
    if (pending.rows) return { values: result.trace.values(), returnValue: result.returnValue, logWeight: NaN };
    const proposed = new Set(g.trace.latentSites().map((s) => s.address));
    const logP = sumSites(result.trace, (a, observed, type) => type === 'factor' || observed || proposed.has(a));
    const logQ = sumSites(g.trace, () => true);
    logW = logP - logQ + priorCorrections(result.trace, proposed);
  } else {
    result = await execute(m, { rng: r }, ...args);
    pending.rows = float64?.rows(result.trace, undefined, read);
    if (pending.rows) return { values: result.trace.values(), returnValue: result.returnValue, logWeight: NaN };
    logW = sumSites(result.trace, (_a, observed, type) => type === 'factor' || observed) + priorCorrections(result.trace);
  }
  if (Number.isNaN(logW)) throw new TycheError(`importance: the log-weight of sample ${i} is NaN`);
  return { values: result.trace.values(), returnValue: result.returnValue, logWeight: logW };
}

/** Importance sampling with the prior or a guide as proposal. */
export async function importance<A extends unknown[], R>(m: Model<A, R>, options: Omit<ImportanceOptions, 'method'>, args: A): Promise<Posterior<A, R>> {
  const n = options.particles ?? 1000;
  if (!Number.isInteger(n) || n <= 0) throw new RangeError(`importance: particles must be a positive integer, got ${n}`);
  const guide = options.guide === undefined ? undefined : options.guide instanceof Model ? (options.guide as unknown as Model<A, unknown>) : new Model(options.guide as unknown as (...a: unknown[]) => unknown);
  const compile = options.compile ?? 'auto';
  if (compile !== true && compile !== false && compile !== 'auto') throw new RangeError(`importance: compile must be true, false or 'auto', got ${String(compile)}`);
  const rng = rngFrom(options.seed ?? 0);
  const draws: Draw<R>[] = [];
  const pace = new Pacer(options.signal);
  const tensorsSince = nextTensorId();
  let float64: Float64Weights | undefined;
  let notCompiled = 'compile: false';
  let float32Draws = 0;
  let shadow: Float64Shadow | undefined;
  try {
    if (compile !== false) {
      const w = (await insideAnotherRun()) ? { reason: NESTED_RUN } : await Float64Weights.create(m as Model<A, unknown>, guide, args);
      if (w instanceof Float64Weights) float64 = w;
      else if (compile === true) throw new TycheError(`importance: compile: true, but the model's weights cannot be compiled: ${w.reason}`);
      else notCompiled = w.reason;
    }
    for (let i = 0; i < n; i++) {
      if (pace.due()) await pace.pause();
      const r = rng.split();
      const pending: { rows?: { model: Float64Array; guide?: Float64Array } } = {};
      // one engine scope per sample: tensors the model makes are freed, the draw's values kept
      // with float64 weights, the particle runs in a float64 shadow (under the gradient lock: the shadow hooks the engine)
      if (float64 && !shadow) shadow = openFloat64Shadow();
      const sh = shadow;
      const run = (): Promise<Draw<R>> =>
        sh ? withGradientLock(() => sh.run((read) => weightedSample(m, guide, r, args, i, float64, pending, read))) : weightedSample(m, guide, r, args, i, float64, pending);
      let draw = await tidyAsync(run, (d) => [...tensorsIn(d.values), ...(isTensor(d.returnValue) ? [d.returnValue] : [])]).catch((err: unknown) => {
        // an invalid distribution parameter means weight zero for this particle, as in every engine (rejectsPoint)
        if (rejectsPoint(err)) return undefined;
        throw err;
      });
      if (draw && pending.rows) {
        const logWeight = await float64!.weigh(pending.rows);
        if (Number.isNaN(logWeight)) throw new TycheError(`importance: the log-weight of sample ${i} is NaN`);
        draw = { ...draw, logWeight };
      } else if (draw) float32Draws++;
      if (draw) draws.push(draw);
      options.onProgress?.(i + 1, n);
    }
  } catch (err) {
    disposeDraws(draws, args, tensorsSince);
    throw err;
  } finally {
    shadow?.close();
  }
  const logZ = logSumExp(draws.map((d) => d.logWeight)) - Math.log(n);
  if (logZ === -Infinity) {
    disposeDraws(draws, args, tensorsSince);
    throw new ZeroDensityError(`importance: all ${n} particles have weight zero, so there is no posterior to return (more particles or a guide may find the region of positive probability)`);
  }
  const diagnostics = float64
    ? { weights: float32Draws === 0 ? 'float64' : 'mixed', float32Draws, viaTfjs: float64.viaTfjs }
    : { weights: notCompiled === NUMBERS_ALREADY ? 'float64' : 'float32', notCompiled };
  return new Posterior({ method: 'importance', draws, logZ, diagnostics, model: m, args, tensorsSince });
}

registerEngine<ImportanceOptions>({
  name: 'importance',
  options: ['particles', 'guide', 'onProgress', 'signal', 'compile'],
  description: 'importance sampling from the prior (likelihood weighting) or a guide',
  run: (m, options, args) => importance(m, options, args),
});
