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
 * @module
 */
import { TycheError, ZeroDensityError, rejectsPoint } from '../core/errors.js';
import * as tf from '@tensorflow/tfjs-core';
import { replayHandler } from '../core/handlers.js';
import { Model, ModelError, execute } from '../core/model.js';
import { type Rng, rngFrom } from '../core/rng.js';
import { tidyAsync } from '../backend/autodiff.js';
import { type Trace, siteLogDensity } from '../core/trace.js';
import { type Value, isTensor, logSumExp, toNumber } from '../core/value.js';
import { nextTensorId } from './mcmc/state-tensors.js';
import { Pacer } from './pace.js';
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

/** Every tensor among a draw's values. */
function tensorsIn(values: Readonly<Record<string, Value>>): tf.Tensor[] {
  return Object.values(values).filter(isTensor);
}

/** One weighted sample: run the guide (if any), replay the model on it, and weigh. */
async function weightedSample<A extends unknown[], R>(m: Model<A, R>, guide: Model<A, unknown> | undefined, r: Rng, args: A, i: number): Promise<Draw<R>> {
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
    const proposed = new Set(g.trace.latentSites().map((s) => s.address));
    const logP = sumSites(result.trace, (a, observed, type) => type === 'factor' || observed || proposed.has(a));
    const logQ = sumSites(g.trace, () => true);
    logW = logP - logQ;
  } else {
    result = await execute(m, { rng: r }, ...args);
    logW = sumSites(result.trace, (_a, observed, type) => type === 'factor' || observed);
  }
  if (Number.isNaN(logW)) throw new TycheError(`importance: the log-weight of sample ${i} is NaN`);
  return { values: result.trace.values(), returnValue: result.returnValue, logWeight: logW };
}

/** Importance sampling with the prior or a guide as proposal. */
export async function importance<A extends unknown[], R>(m: Model<A, R>, options: Omit<ImportanceOptions, 'method'>, args: A): Promise<Posterior<A, R>> {
  const n = options.particles ?? 1000;
  if (!Number.isInteger(n) || n <= 0) throw new RangeError(`importance: particles must be a positive integer, got ${n}`);
  const guide = options.guide === undefined ? undefined : options.guide instanceof Model ? (options.guide as unknown as Model<A, unknown>) : new Model(options.guide as unknown as (...a: unknown[]) => unknown);
  const rng = rngFrom(options.seed ?? 0);
  const draws: Draw<R>[] = [];
  const pace = new Pacer(options.signal);
  const tensorsSince = nextTensorId();
  try {
    for (let i = 0; i < n; i++) {
      if (pace.due()) await pace.pause();
      const r = rng.split();
      // one engine scope per sample: tensors the model makes are freed, the draw's values kept
      const draw = await tidyAsync(() => weightedSample(m, guide, r, args, i), (d) => [...tensorsIn(d.values), ...(isTensor(d.returnValue) ? [d.returnValue] : [])]).catch((err: unknown) => {
        // an invalid distribution parameter means weight zero for this particle, as in every engine (rejectsPoint)
        if (rejectsPoint(err)) return undefined;
        throw err;
      });
      if (draw) draws.push(draw);
      options.onProgress?.(i + 1, n);
    }
  } catch (err) {
    disposeDraws(draws, args, tensorsSince);
    throw err;
  }
  const logZ = logSumExp(draws.map((d) => d.logWeight)) - Math.log(n);
  if (logZ === -Infinity) {
    disposeDraws(draws, args, tensorsSince);
    throw new ZeroDensityError(`importance: all ${n} particles have weight zero, so there is no posterior to return (more particles or a guide may find the region of positive probability)`);
  }
  return new Posterior({ method: 'importance', draws, logZ, model: m, args, tensorsSince });
}

registerEngine<ImportanceOptions>({
  name: 'importance',
  options: ['particles', 'guide', 'onProgress', 'signal'],
  description: 'importance sampling from the prior (likelihood weighting) or a guide',
  run: (m, options, args) => importance(m, options, args),
});
