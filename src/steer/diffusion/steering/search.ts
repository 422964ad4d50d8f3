/**
 * Search baselines for steering, counted in network evaluations (Ma et al.,
 * "Inference-Time Scaling for Diffusion Models beyond Scaling Denoising
 * Steps"): best-of-N over independent samples, and zero-order search over
 * the initial noise of a sampler around a pivot (with a deterministic
 * sampler the initial noise determines the sample, so this is a search over
 * noises; random search over noises is best-of-N with that sampler).
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { type Rng, rngFrom, type Seed } from '../../../core/rng.js';
import { Pacer } from '../../../infer/pace.js';
import type { DiffusionModel } from '../model.js';
import { type Sampler, ddpm, gaussianNoise, sampleDiffusion } from '../samplers.js';
import { type Reward, evaluateReward } from './rewards.js';

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
}

async function candidates(model: DiffusionModel, o: SearchOptions, noise: tf.Tensor, rng: Rng): Promise<{ x: tf.Tensor; rewards: Float64Array; evaluations: number }> {
  const n = noise.shape[0]!;
  const cond = o.cond?.(n);
  try {
    const r = await sampleDiffusion(model, { sampler: o.sampler ?? ddpm(), steps: o.steps ?? 100, x: noise, cond, rng, signal: o.signal, checkFinite: false });
    try {
      return { x: r.x, rewards: await evaluateReward(o.reward, r.x, { step: -1, t: r.times[r.times.length - 1]! }), evaluations: r.evaluations * n };
    } catch (err) {
      r.x.dispose();
      throw err;
    }
  } finally {
    cond?.dispose();
  }
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

/** Best-of-N: `n` independent samples in batches of `batch`, keep the one with the highest reward. */
export async function diffusionBestOfN(model: DiffusionModel, options: SearchOptions & { n: number; batch?: number }): Promise<SearchResult> {
  const who = `diffusionBestOfN(model "${model.name}")`;
  if (!Number.isInteger(options.n) || options.n < 1) throw new RangeError(`${who}: n must be a positive integer, got ${options.n}`);
  const rng = options.rng ?? rngFrom(options.seed ?? 0);
  const batch = Math.min(options.n, options.batch ?? options.n);
  const scale = initialScale(model);
  const pace = new Pacer(options.signal);
  let best: tf.Tensor | null = null;
  let bestReward = -Infinity;
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
      }
      c.x.dispose();
      trace.push(bestReward);
    }
  } catch (err) {
    best?.dispose();
    throw err;
  }
  return { x: best!, reward: bestReward, trace, evaluations };
}

/**
 * Zero-order search over initial noises: start from a random pivot; each
 * round draws `neighbours` noises pivot + radius·z (renormalised to the
 * pivot's norm), and moves the pivot to the best of them if it beats the
 * pivot's reward. `rounds` rounds; the first round also scores the pivot.
 */
export async function zeroOrderSearch(model: DiffusionModel, options: SearchOptions & { rounds: number; neighbours: number; radius?: number }): Promise<SearchResult> {
  const who = `zeroOrderSearch(model "${model.name}")`;
  if (!Number.isInteger(options.rounds) || options.rounds < 1) throw new RangeError(`${who}: rounds must be a positive integer, got ${options.rounds}`);
  if (!Number.isInteger(options.neighbours) || options.neighbours < 1) throw new RangeError(`${who}: neighbours must be a positive integer, got ${options.neighbours}`);
  const radius = options.radius ?? 0.3;
  if (!(radius > 0)) throw new RangeError(`${who}: radius must be positive, got ${radius}`);
  const rng = options.rng ?? rngFrom(options.seed ?? 0);
  const scale = initialScale(model);
  const pace = new Pacer(options.signal);
  let pivot = tf.tidy(() => tf.mul(gaussianNoise([1, ...model.eventShape], rng), scale));
  let best: tf.Tensor | null = null;
  let bestReward = -Infinity;
  let evaluations = 0;
  const trace: number[] = [];
  try {
    const first = await candidates(model, options, pivot, rng);
    evaluations += first.evaluations;
    best = first.x;
    bestReward = first.rewards[0]!;
    for (let r = 0; r < options.rounds; r++) {
      if (pace.due()) await pace.pause();
      const k = options.neighbours;
      const noise = tf.tidy(() => {
        const z = gaussianNoise([k, ...model.eventShape], rng);
        const cand = tf.add(tf.tile(pivot, [k, ...model.eventShape.map(() => 1)]), tf.mul(z, radius * scale));
        // keep the candidates on the typical set of the noise: rescale to the pivot's norm
        const axes = model.eventShape.map((_, i) => i + 1);
        const norm = tf.sqrt(tf.sum(tf.square(cand), axes, true));
        return tf.mul(tf.div(cand, norm), tf.sqrt(tf.sum(tf.square(pivot))));
      });
      const c = await candidates(model, options, noise, rng).catch((err) => {
        noise.dispose();
        throw err;
      });
      evaluations += c.evaluations;
      const i = argmax(c.rewards);
      if (c.rewards[i]! > bestReward) {
        best.dispose();
        best = tf.tidy(() => tf.slice(c.x, [i], [1]));
        bestReward = c.rewards[i]!;
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
  return { x: best!, reward: bestReward, trace, evaluations };
}
