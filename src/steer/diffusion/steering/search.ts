/**
 * Search baselines for steering, counted in network evaluations (Ma et al.,
 * "Inference-Time Scaling for Diffusion Models beyond Scaling Denoising
 * Steps"): best-of-N over independent samples, and zero-order search around
 * a pivot noise — over the initial noise of a sampler (with a deterministic
 * sampler the initial noise determines the sample, so this is a search over
 * noises; random search over noises is best-of-N with that sampler), or, with
 * `over: 'path'`, over every Gaussian draw of a stochastic sampler's path
 * (the initial noise and the noise injected at each step), which then
 * determine the sample just as the initial noise does for an ODE sampler.
 *
 * @module
 */
import { DIFFUSION_SAMPLER_RULES, checkSteerOptions } from '../../run-rules.js';
import { checkIntegerOptions, optionNames } from '../../../core/options.js';
import * as tf from '@tensorflow/tfjs-core';
import { type Rng, rngFrom, type Seed } from '../../../core/rng.js';
import { Pacer } from '../../../infer/pace.js';
import type { DiffusionModel } from '../model.js';
import { type Sampler, ddpm, gaussianNoise, sampleDiffusion, samplerStep } from '../samplers.js';
import { timeGrid } from '../schedules.js';
import { type Frame, frameRow } from './frames.js';
import { type Reward, evaluateReward, noFiniteRewardError } from './rewards.js';
import { oneAtATime } from '../../../infer/one-at-a-time.js';

/** Options shared by the search baselines. */
export interface SearchOptions {
  readonly reward: Reward;
  /** The sampler (default DDPM; a deterministic one makes the sample a function of the initial noise). */
  readonly sampler?: Sampler;
  readonly steps?: number;
  readonly cond?: (n: number) => tf.Tensor;
  readonly seed?: Seed;
  readonly rng?: Rng;
  readonly signal?: AbortSignal;
  /** Keep the returned sample's trajectory after these steps (0 = the initial noise) in `frames`. */
  readonly keep?: readonly number[];
}

/** The outcome of a search: the best sample, its reward, the reward trace and the cost. */
export interface SearchResult {
  /** The best sample `[1, ...eventShape]` (the caller owns it). */
  readonly x: tf.Tensor;
  readonly reward: number;
  /** Best reward after each batch of candidates. */
  readonly trace: number[];
  /** Network evaluations used in total. */
  readonly evaluations: number;
  /** The returned sample's trajectory at the steps asked for in `keep`. */
  readonly frames: Frame[];
}

/** Candidate samples with their rewards, cost and kept frames (all rows). */
interface Candidates {
  readonly x: tf.Tensor;
  readonly rewards: Float64Array;
  readonly evaluations: number;
  readonly frames: Frame[];
}

async function candidates(model: DiffusionModel, o: SearchOptions, noise: tf.Tensor, rng: Rng): Promise<Candidates> {
  const n = noise.shape[0]!;
  const cond = o.cond?.(n);
  try {
    const r = await sampleDiffusion(model, { sampler: o.sampler ?? ddpm(), steps: o.steps ?? 100, x: noise, cond, rng, signal: o.signal, checkFinite: false, keep: o.keep });
    try {
      const frames = r.trajectory.map((f) => ({ step: f.step, t: f.t, x: f.x }));
      return { x: r.x, rewards: await evaluateReward(o.reward, r.x, { step: -1, t: r.times[r.times.length - 1]! }), evaluations: r.evaluations * n, frames };
    } catch (err) {
      r.x.dispose();
      throw err;
    }
  } finally {
    cond?.dispose();
  }
}

/** What a zero-order search perturbs: the initial noise, or every Gaussian draw of the path. */
export type NoiseSearchSpace = 'initial' | 'path';

/**
 * Run a stochastic sampler with every Gaussian draw given: `noise` is
 * `[n, steps + 1, ...eventShape]` of standard normals, slice 0 the initial
 * noise (scaled as `sampleDiffusion` scales it), slice l + 1 the noise of
 * step l. The same noise gives the same sample. The caller owns `x`.
 */
export async function sampleAlongNoise(
  model: DiffusionModel,
  o: { sampler: Sampler; times: readonly number[]; noise: tf.Tensor; cond?: tf.Tensor; signal?: AbortSignal; keep?: readonly number[] },
): Promise<{ x: tf.Tensor; evaluations: number; frames: Frame[] }> {
  // yields to the event loop every few ms (a step on the cpu backend never does) and rejects with the signal's reason
  const pace = new Pacer(o.signal);
  const S = o.times.length - 1;
  const [n, blocks] = o.noise.shape;
  if (blocks !== S + 1) throw new Error(`sampleAlongNoise(model "${model.name}"): noise has ${blocks} blocks for ${S} steps (need steps + 1: the initial noise and one per step)`);
  const sch = model.schedule;
  const scale = Math.sqrt(sch.alpha(o.times[0]!) ** 2 + sch.sigma(o.times[0]!) ** 2);
  const block = (l: number) => tf.tidy(() => tf.squeeze(tf.slice(o.noise, [0, l], [n!, 1]), [1]));
  let x = tf.tidy(() => tf.mul(block(0), scale));
  let evaluations = 0;
  const unused = rngFrom(0); // every draw is given; samplerStep never consumes this stream
  const keep = new Set(o.keep ?? []);
  const frames: Frame[] = [];
  const snap = async (step: number) => {
    if (keep.has(step)) frames.push({ step, t: o.times[step]!, x: Float32Array.from(await x.data()) });
  };
  try {
    await snap(0);
    for (let l = 0; l < S; l++) {
      await pace.tick();
      const z = block(l + 1);
      try {
        const out = await samplerStep(o.sampler, { model, x, t: o.times[l]!, s: o.times[l + 1]!, cond: o.cond, step: l, checkFinite: false }, unused, z);
        tf.dispose([out.x0, out.mean, ...(out.logProb ? [out.logProb] : [])]);
        x.dispose();
        x = out.x;
        evaluations += out.evaluations;
      } finally {
        z.dispose();
      }
      await snap(l + 1);
    }
  } catch (err) {
    x.dispose();
    throw err;
  }
  return { x, evaluations, frames };
}

function argmax(v: Float64Array): number {
  let b = 0;
  for (let i = 1; i < v.length; i++) if (v[i]! > v[b]!) b = i;
  return b;
}

/** Scale of the initial noise at tMax (as sampleDiffusion draws it). */
function initialScale(model: DiffusionModel): number {
  const t0 = model.schedule.tMax;
  return Math.sqrt(model.schedule.alpha(t0) ** 2 + model.schedule.sigma(t0) ** 2);
}

/** The option names diffusionBestOfN accepts (checked against its options type by the compiler). */
const DIFFUSION_BEST_OF_N_OPTIONS = optionNames<SearchOptions & { n: number; batch?: number }>({ reward: true, sampler: true, steps: true, cond: true, seed: true, rng: true, signal: true, keep: true, n: true, batch: true });

/** Best-of-N: `n` independent samples in batches of `batch`, keep the one with the highest reward. */
export async function diffusionBestOfN(model: DiffusionModel, options: SearchOptions & { n: number; batch?: number }): Promise<SearchResult> {
  // one inference at a time: its tensors would otherwise be freed by, or recorded on, a call beside it (infer/one-at-a-time.ts)
  checkSteerOptions('diffusionBestOfN', options, DIFFUSION_BEST_OF_N_OPTIONS, DIFFUSION_SAMPLER_RULES); // before the queue turn: a bad signal is named, not taken into the queue
  return oneAtATime(options.signal, () => runDiffusionBestOfN(model, options));
}

async function runDiffusionBestOfN(model: DiffusionModel, options: SearchOptions & { n: number; batch?: number }): Promise<SearchResult> {
  checkSteerOptions('diffusionBestOfN', options, DIFFUSION_BEST_OF_N_OPTIONS, DIFFUSION_SAMPLER_RULES);
  checkIntegerOptions('diffusionBestOfN', options, { n: 1, batch: 1, steps: 1 });
  const who = `diffusionBestOfN(model "${model.name}")`;
  if (!Number.isInteger(options.n) || options.n < 1) throw new RangeError(`${who}: n must be a positive integer, got ${options.n}`);
  const rng = options.rng ?? rngFrom(options.seed ?? 0);
  const batch = Math.min(options.n, options.batch ?? options.n);
  const scale = initialScale(model);
  const pace = new Pacer(options.signal);
  const dim = model.eventShape.reduce((a, b) => a * b, 1);
  let best: tf.Tensor | null = null;
  let bestReward = -Infinity;
  let bestFrames: Frame[] = [];
  let evaluations = 0;
  const trace: number[] = [];
  try {
    for (let done = 0; done < options.n; done += batch) {
      if (pace.due()) await pace.pause();
      const m = Math.min(batch, options.n - done);
      const noise = tf.tidy(() => tf.mul(gaussianNoise([m, ...model.eventShape], rng), scale));
      const c = await candidates(model, options, noise, rng).finally(() => noise.dispose());
      evaluations += c.evaluations;
      const i = argmax(c.rewards);
      if (c.rewards[i]! > bestReward || best === null) {
        best?.dispose();
        best = tf.tidy(() => tf.slice(c.x, [i], [1]));
        bestReward = c.rewards[i]!;
        bestFrames = frameRow(c.frames, i, dim);
      }
      c.x.dispose();
      trace.push(bestReward);
    }
  } catch (err) {
    best?.dispose();
    throw err;
  }
  if (bestReward === -Infinity) {
    best?.dispose();
    throw noFiniteRewardError(who, options.reward, `all ${options.n} samples`);
  }
  return { x: best!, reward: bestReward, trace, evaluations, frames: bestFrames };
}

/** Options of {@link zeroOrderSearch}. */
export interface ZeroOrderSearchOptions extends SearchOptions {
  /** Rounds of neighbours after the pivot. */
  readonly rounds: number;
  /** Neighbours drawn around the pivot each round. */
  readonly neighbours: number;
  /**
   * Neighbours of the last round (default `neighbours`), so that a search can
   * spend an exact number of samples: 1 + (rounds − 1) · neighbours + lastNeighbours.
   */
  readonly lastNeighbours?: number;
  /** Step size of a neighbour relative to a standard normal (default 0.3). */
  readonly radius?: number;
  /**
   * `initial` (default): perturb the initial noise (with a stochastic sampler
   * the later steps draw fresh noise, so a candidate is a random function of
   * it); `path`: perturb every Gaussian draw of the path — the initial noise
   * and each step's noise — so a candidate is a deterministic function of the
   * searched noise (needs a stochastic sampler).
   */
  readonly over?: NoiseSearchSpace;
}

/** The option names zeroOrderSearch accepts (checked against its options type by the compiler). */
const ZERO_ORDER_SEARCH_OPTIONS = optionNames<ZeroOrderSearchOptions>({ rounds: true, neighbours: true, lastNeighbours: true, radius: true, over: true, reward: true, sampler: true, steps: true, cond: true, seed: true, rng: true, signal: true, keep: true });

/**
 * Zero-order search around a pivot noise: start from a random pivot; each
 * round draws `neighbours` noises pivot + radius·z (each block — the initial
 * noise, and with `over: 'path'` each step's noise — rescaled to the norm of
 * the pivot's block, keeping it on the typical set of a standard normal), and
 * moves the pivot to the best of them if it beats the pivot's reward.
 * `rounds` rounds (the last of `lastNeighbours`); the first round also scores the pivot.
 */
export async function zeroOrderSearch(model: DiffusionModel, options: ZeroOrderSearchOptions): Promise<SearchResult> {
  // one inference at a time: its tensors would otherwise be freed by, or recorded on, a call beside it (infer/one-at-a-time.ts)
  checkSteerOptions('zeroOrderSearch', options, ZERO_ORDER_SEARCH_OPTIONS, DIFFUSION_SAMPLER_RULES); // before the queue turn: a bad signal is named, not taken into the queue
  return oneAtATime(options.signal, () => runZeroOrderSearch(model, options));
}

async function runZeroOrderSearch(model: DiffusionModel, options: ZeroOrderSearchOptions): Promise<SearchResult> {
  checkSteerOptions('zeroOrderSearch', options, ZERO_ORDER_SEARCH_OPTIONS, DIFFUSION_SAMPLER_RULES);
  checkIntegerOptions('zeroOrderSearch', options, { rounds: 1, neighbours: 1, lastNeighbours: 1, steps: 1 });
  const who = `zeroOrderSearch(model "${model.name}")`;
  if (!Number.isInteger(options.rounds) || options.rounds < 1) throw new RangeError(`${who}: rounds must be a positive integer, got ${options.rounds}`);
  if (!Number.isInteger(options.neighbours) || options.neighbours < 1) throw new RangeError(`${who}: neighbours must be a positive integer, got ${options.neighbours}`);
  const radius = options.radius ?? 0.3;
  if (!(radius > 0)) throw new RangeError(`${who}: radius must be positive, got ${radius}`);
  const over = options.over ?? 'initial';
  if (over !== 'initial' && over !== 'path') throw new RangeError(`${who}: over must be 'initial' or 'path', got "${String(over)}"`);
  const sampler = options.sampler ?? ddpm();
  if (over === 'path' && !sampler.stochastic) throw new Error(`${who}: over: 'path' searches the noise a stochastic sampler injects at each step; ${sampler.name} is deterministic (use over: 'initial')`);
  const times = timeGrid(model.schedule, options.steps ?? 100);
  const rng = options.rng ?? rngFrom(options.seed ?? 0);
  const pace = new Pacer(options.signal);
  const dim = model.eventShape.reduce((a, b) => a * b, 1);
  const blocks = over === 'path' ? times.length : 1;
  const scale = initialScale(model);
  /** Samples and rewards of candidate noises `[n, blocks, dim]` (standard normals). */
  const score = async (noise: tf.Tensor): Promise<Candidates> => {
    if (over === 'initial') {
      const x0 = tf.tidy(() => tf.mul(tf.reshape(noise, [noise.shape[0]!, ...model.eventShape]), scale));
      return candidates(model, options, x0, rng).finally(() => x0.dispose());
    }
    const n = noise.shape[0]!;
    const cond = options.cond?.(n);
    const shaped = tf.reshape(noise, [n, blocks, ...model.eventShape]);
    try {
      const r = await sampleAlongNoise(model, { sampler, times, noise: shaped, cond, signal: options.signal, keep: options.keep });
      try {
        return { x: r.x, rewards: await evaluateReward(options.reward, r.x, { step: -1, t: times[times.length - 1]! }), evaluations: r.evaluations * n, frames: r.frames };
      } catch (err) {
        r.x.dispose();
        throw err;
      }
    } finally {
      shaped.dispose();
      cond?.dispose();
    }
  };
  let pivot = gaussianNoise([1, blocks, dim], rng);
  let best: tf.Tensor | null = null;
  let bestReward = -Infinity;
  let bestFrames: Frame[] = [];
  let evaluations = 0;
  const trace: number[] = [];
  try {
    const first = await score(pivot);
    evaluations += first.evaluations;
    best = first.x;
    bestReward = first.rewards[0]!;
    bestFrames = first.frames;
    for (let r = 0; r < options.rounds; r++) {
      if (pace.due()) await pace.pause();
      const k = r === options.rounds - 1 ? (options.lastNeighbours ?? options.neighbours) : options.neighbours;
      const noise = tf.tidy(() => {
        const cand = tf.add(tf.tile(pivot, [k, 1, 1]), tf.mul(gaussianNoise([k, blocks, dim], rng), radius));
        // keep every block on the typical set of the noise: rescale it to the norm of the pivot's block
        const norm = tf.sqrt(tf.sum(tf.square(cand), 2, true));
        return tf.mul(tf.div(cand, norm), tf.sqrt(tf.sum(tf.square(pivot), 2, true)));
      });
      const c = await score(noise).catch((err) => {
        noise.dispose();
        throw err;
      });
      evaluations += c.evaluations;
      const i = argmax(c.rewards);
      if (c.rewards[i]! > bestReward) {
        best.dispose();
        best = tf.tidy(() => tf.slice(c.x, [i], [1]));
        bestReward = c.rewards[i]!;
        bestFrames = frameRow(c.frames, i, dim);
        pivot.dispose();
        pivot = tf.tidy(() => tf.slice(noise, [i], [1]));
      }
      noise.dispose();
      c.x.dispose();
      trace.push(bestReward);
    }
  } catch (err) {
    best?.dispose();
    throw err;
  } finally {
    pivot.dispose();
  }
  if (bestReward === -Infinity) {
    best?.dispose();
    throw noFiniteRewardError(who, options.reward, `the pivot and every neighbour of ${trace.length} rounds`);
  }
  return { x: best!, reward: bestReward, trace, evaluations, frames: bestFrames };
}
