/**
 * Search over paths (Ma et al., "Inference-Time Scaling for Diffusion Models
 * beyond Scaling Denoising Steps", 2025): a beam of `width` partial
 * trajectories. Each round, every kept state x_t is re-noised forward by
 * `forward` grid steps with `branches` fresh noises (the exact forward
 * transition x_u = (α_u/α_t) x_t + √(σ_u² − (α_u/α_t)² σ_t²) z), each
 * branch is denoised `backward` > `forward` grid steps with the sampler, and
 * the `width` branches whose x0-prediction scores best are kept; the last
 * round scores the final samples and the best one is returned. The search
 * acts on the noise injected along the path, not only on the initial noise
 * (compare {@link zeroOrderSearch} and {@link diffusionBestOfN}, whose random
 * search with a deterministic sampler is a search over initial noises).
 *
 * Cost, in network evaluations: `width` · `start` for the plain start, then
 * per round `width` · `branches` · (denoising steps + 1 for the x0-prediction
 * that is scored, except on the final round, which scores samples).
 *
 * @module
 */
import { DIFFUSION_SAMPLER_RULES, checkSteerOptions } from '../../run-rules.js';
import { checkIntegerOptions, optionNames } from '../../../core/options.js';
import * as tf from '@tensorflow/tfjs-core';
import { rngFrom } from '../../../core/rng.js';
import { Pacer } from '../../../infer/pace.js';
import { type DiffusionModel, denoise } from '../model.js';
import { ddpm, gaussianNoise, sampleDiffusion } from '../samplers.js';
import { timeGrid } from '../schedules.js';
import { type Reward, evaluateReward, noFiniteRewardError } from './rewards.js';
import type { SearchOptions, SearchResult } from './search.js';
import { oneAtATime } from '../../../infer/one-at-a-time.js';

/** Options of {@link pathSearch}. */
export interface PathSearchOptions extends SearchOptions {
  /** Paths kept between rounds (N; default 4). */
  readonly width?: number;
  /** Noises drawn per kept path per round (M; default 4). */
  readonly branches?: number;
  /** Grid steps to re-noise forward each round (Δf; default 2). */
  readonly forward?: number;
  /** Grid steps to denoise each round (Δb > Δf; default 6). */
  readonly backward?: number;
  /** Plain sampler steps before the first round (default: none). */
  readonly start?: number;
}

/** Evaluate `reward` on the rows of x (the x0-prediction at t unless `final`), one number per row. */
async function score(model: DiffusionModel, reward: Reward, x: tf.Tensor, t: number, final: boolean, cond: tf.Tensor | undefined, step: number): Promise<Float64Array> {
  if (final) return evaluateReward(reward, x, { step: -1, t });
  const x0 = await denoise(model, x, t, cond, 'x0', { caller: 'pathSearch', step, checkFinite: false });
  try {
    return await evaluateReward(reward, x0, { step, t });
  } finally {
    x0.dispose();
  }
}

/** Indices of the k largest values. */
function topK(v: Float64Array, k: number): number[] {
  return Array.from(v.keys())
    .sort((a, b) => v[b]! - v[a]!)
    .slice(0, k);
}

/**
 * Network evaluations one branch costs through every round of the search
 * (the rounds of {@link pathSearch} from the plain start at `start`, with
 * `perStep` evaluations a sampler step): a round's denoising steps, plus one
 * for the x0-prediction it scores unless it is the last. The whole search
 * costs `width · start · perStep + width · branches · pathBranchCost(...)`.
 */
export function pathBranchCost(steps: number, o: { forward?: number; backward?: number; start?: number; perStep?: number } = {}): number {
  const fwd = o.forward ?? 2;
  const bwd = o.backward ?? 6;
  const perStep = o.perStep ?? 1;
  if (!(bwd > fwd)) throw new RangeError(`pathBranchCost: backward (${bwd}) must exceed forward (${fwd})`);
  let pos = o.start ?? 0;
  let cost = 0;
  // the same walk over the grid as the search's rounds below
  for (let first = true; first || pos < steps; first = false) {
    const from = pos - Math.min(fwd, pos);
    const to = Math.min(from + bwd, steps);
    cost += (to - from) * perStep + (to === steps ? 0 : 1);
    pos = to;
    if (to === steps) break;
  }
  return cost;
}

/** The option names pathSearch accepts (checked against its options type by the compiler). */
const PATH_SEARCH_OPTIONS = optionNames<PathSearchOptions>({ width: true, branches: true, forward: true, backward: true, start: true, reward: true, sampler: true, steps: true, cond: true, seed: true, rng: true, signal: true, keep: true });

/** Run the search over paths and return the best final sample. */
export async function pathSearch(model: DiffusionModel, options: PathSearchOptions): Promise<SearchResult> {
  // one inference at a time: its tensors would otherwise be freed by, or recorded on, a call beside it (infer/one-at-a-time.ts)
  checkSteerOptions('pathSearch', options, PATH_SEARCH_OPTIONS, DIFFUSION_SAMPLER_RULES); // before the queue turn: a bad signal is named, not taken into the queue
  return oneAtATime(options.signal, () => runPathSearch(model, options));
}

async function runPathSearch(model: DiffusionModel, options: PathSearchOptions): Promise<SearchResult> {
  checkSteerOptions('pathSearch', options, PATH_SEARCH_OPTIONS, DIFFUSION_SAMPLER_RULES);
  checkIntegerOptions('pathSearch', options, { width: 1, branches: 1, forward: 0, backward: 1, start: 0, steps: 1 });
  const who = `pathSearch(model "${model.name}")`;
  const width = options.width ?? 4;
  const branches = options.branches ?? 4;
  const fwd = options.forward ?? 2;
  const bwd = options.backward ?? 6;
  const start = options.start ?? 0;
  const steps = options.steps ?? 50;
  for (const [name, v, min] of [['width', width, 1], ['branches', branches, 1], ['forward', fwd, 0], ['backward', bwd, 1], ['start', start, 0], ['steps', steps, 1]] as const) {
    if (!Number.isInteger(v) || v < min) throw new RangeError(`${who}: ${name} must be an integer >= ${min}, got ${v}`);
  }
  if (!(bwd > fwd)) throw new RangeError(`${who}: backward (${bwd}) must exceed forward (${fwd}) so that each round makes progress`);
  if (start > steps) throw new RangeError(`${who}: start (${start}) is past the last step (${steps})`);
  const sampler = options.sampler ?? ddpm();
  const rng = options.rng ?? rngFrom(options.seed ?? 0);
  const pace = new Pacer(options.signal);
  const sch = model.schedule;
  const times = timeGrid(sch, steps);
  const S = times.length - 1;
  const run = async (x: tf.Tensor, from: number, to: number) => {
    const cond = options.cond?.(x.shape[0]!);
    try {
      return await sampleDiffusion(model, { sampler, times: times.slice(from, to + 1), x, cond, rng, signal: options.signal, checkFinite: false });
    } finally {
      cond?.dispose();
    }
  };
  let evaluations = 0;
  const trace: number[] = [];
  const scale0 = Math.sqrt(sch.alpha(times[0]!) ** 2 + sch.sigma(times[0]!) ** 2);
  // the first round draws width·branches initial noises; later rounds re-noise the kept states
  let x = tf.tidy(() => tf.mul(gaussianNoise([width, ...model.eventShape], rng), scale0));
  let pos = 0;
  let rewards: Float64Array | null = null;
  try {
    if (start > 0) {
      const r = await run(x, 0, start);
      evaluations += r.evaluations * width;
      x.dispose();
      x = r.x;
      pos = start;
    }
    while (pos < S || rewards === null) {
      await pace.tick();
      const n = x.shape[0]!;
      const m = n * branches;
      const back = Math.min(fwd, pos);
      const from = pos - back;
      const to = Math.min(from + bwd, S);
      // re-noise every kept state forward from times[pos] to times[from]
      const t = times[pos]!;
      const u = times[from]!;
      const ratio = sch.alpha(u) / sch.alpha(t);
      const sd = Math.sqrt(Math.max(0, sch.sigma(u) ** 2 - ratio * ratio * sch.sigma(t) ** 2));
      const noisy = tf.tidy(() => {
        if (pos === 0) return tf.mul(gaussianNoise([m, ...model.eventShape], rng), scale0);
        const rep = tf.tile(x, [branches, ...model.eventShape.map(() => 1)]);
        return back === 0 ? rep : tf.add(tf.mul(rep, ratio), tf.mul(gaussianNoise([m, ...model.eventShape], rng), sd));
      });
      let r: Awaited<ReturnType<typeof run>>;
      try {
        r = to > from ? await run(noisy, from, to) : { x: tf.clone(noisy), evaluations: 0, times: [], logProb: new Float64Array(0), trajectory: [] };
      } finally {
        noisy.dispose();
      }
      evaluations += r.evaluations * m;
      const final = to === S;
      const cond = final ? undefined : options.cond?.(m);
      let v: Float64Array;
      try {
        v = await score(model, options.reward, r.x, times[to]!, final, cond, to);
      } catch (err) {
        r.x.dispose();
        throw err;
      } finally {
        cond?.dispose();
      }
      if (!final) evaluations += m;
      const keep = topK(v, final ? 1 : width);
      x.dispose();
      x = tf.tidy(() => tf.gather(r.x, tf.tensor1d(keep, 'int32')));
      r.x.dispose();
      rewards = Float64Array.from(keep, (i) => v[i]!);
      trace.push(rewards[0]!);
      pos = to;
      if (final) break;
    }
  } catch (err) {
    x.dispose();
    throw err;
  }
  if (rewards![0] === -Infinity) {
    x.dispose();
    throw noFiniteRewardError(who, options.reward, 'every final sample of the beam');
  }
  return { x, reward: rewards![0]!, trace, evaluations, frames: [] }; // no frames: the path re-noises, going back in time
}
