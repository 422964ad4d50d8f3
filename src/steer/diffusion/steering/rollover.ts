/**
 * Rollover budget forcing (Kim et al., "Inference-Time Scaling for Flow
 * Models via Stochastic Generation and Rollover Budget Forcing"): one
 * trajectory of a stochastic sampler (for a flow, `flowSde()`), a fixed
 * budget of network evaluations spread evenly over the steps. At each step
 * the kernel is evaluated once; children x_s = mean + std z are drawn one at
 * a time and scored by the reward of their x0-prediction (one evaluation
 * each) until one beats the current reward — then the step is done and the
 * unused allowance rolls over to the next step — or the allowance runs out
 * and the best child is kept.
 *
 * The budget is spread over the steps whose children cost an evaluation (all
 * but the last: its children are final samples, scored by the reward alone),
 * and the last of those steps draws all the allowance it has left (there is no
 * later step to roll it over to) and keeps the best child, so the children
 * cost exactly `budget` evaluations when the budget gives each such step at
 * least one child (each step draws at least one). The last step draws up to
 * the per-step share (at least one) until one improves: reward calls only.
 *
 * @module
 */
import { DIFFUSION_SAMPLER_RULES, checkSteerOptions } from '../../run-rules.js';
import { checkIntegerOptions, optionNames } from '../../../core/options.js';
import * as tf from '@tensorflow/tfjs-core';
import { type Rng, rngFrom, type Seed } from '../../../core/rng.js';
import { Pacer } from '../../../infer/pace.js';
import { type DiffusionModel, denoise } from '../model.js';
import { type Sampler, ddpm, gaussianNoise } from '../samplers.js';
import { timeGrid } from '../schedules.js';
import type { Frame } from './frames.js';
import { type Reward, evaluateReward, noFiniteRewardError } from './rewards.js';
import { oneAtATime } from '../../../infer/one-at-a-time.js';

/** Options of {@link rolloverBudgetForcing}. */
export interface RolloverOptions {
  readonly reward: Reward;
  /** A stochastic sampler (default DDPM; for flows `flowSde()`). */
  readonly sampler?: Sampler;
  readonly steps?: number;
  /** Evaluations for the children over the whole run (on top of one kernel evaluation a step); spent in full when it is at least steps − 1. */
  readonly budget: number;
  readonly cond?: tf.Tensor;
  readonly seed?: Seed;
  readonly rng?: Rng;
  readonly signal?: AbortSignal;
  /** Keep the trajectory after these steps (0 = the initial noise) in `frames`. */
  readonly keep?: readonly number[];
}

/** The outcome of {@link rolloverBudgetForcing}. */
export interface RolloverResult {
  /** The sample `[1, ...eventShape]` (the caller owns it). */
  readonly x: tf.Tensor;
  /** Reward of the final sample. */
  readonly reward: number;
  /** Reward of the x0-prediction after each step. */
  readonly trace: number[];
  /** Children drawn at each step. */
  readonly children: number[];
  /** Network evaluations used in total. */
  readonly evaluations: number;
  /** The trajectory at the steps asked for in `keep` (0 = the initial noise). */
  readonly frames: Frame[];
}

/** The option names rolloverBudgetForcing accepts (checked against its options type by the compiler). */
const ROLLOVER_BUDGET_FORCING_OPTIONS = optionNames<RolloverOptions>({ reward: true, sampler: true, steps: true, budget: true, cond: true, seed: true, rng: true, signal: true, keep: true });

/** Run rollover budget forcing on one trajectory. */
export async function rolloverBudgetForcing(model: DiffusionModel, options: RolloverOptions): Promise<RolloverResult> {
  // one inference at a time: its tensors would otherwise be freed by, or recorded on, a call beside it (infer/one-at-a-time.ts)
  checkSteerOptions('rolloverBudgetForcing', options, ROLLOVER_BUDGET_FORCING_OPTIONS, DIFFUSION_SAMPLER_RULES); // before the queue turn: a bad signal is named, not taken into the queue
  return oneAtATime(options.signal, () => runRolloverBudgetForcing(model, options));
}

async function runRolloverBudgetForcing(model: DiffusionModel, options: RolloverOptions): Promise<RolloverResult> {
  checkSteerOptions('rolloverBudgetForcing', options, ROLLOVER_BUDGET_FORCING_OPTIONS, DIFFUSION_SAMPLER_RULES);
  checkIntegerOptions('rolloverBudgetForcing', options, { steps: 1 });
  const who = `rolloverBudgetForcing(model "${model.name}")`;
  const sampler = options.sampler ?? ddpm();
  if (!sampler.stochastic) throw new Error(`${who}: the sampler ${sampler.name} is deterministic; children need a stochastic step (use flowSde() for a flow)`);
  if (!Number.isInteger(options.budget) || options.budget < 0) throw new RangeError(`${who}: budget must be a nonnegative integer, got ${options.budget}`);
  const times = timeGrid(model.schedule, options.steps ?? 50);
  const S = times.length - 1;
  const rng = options.rng ?? rngFrom(options.seed ?? 0);
  const pace = new Pacer(options.signal);
  // the steps whose children are scored through an x0-prediction (one evaluation each): all but the last
  const costed = S - 1;
  const quota = costed > 0 ? Math.floor(options.budget / costed) : options.budget;
  let extra = costed > 0 ? options.budget - quota * costed : 0;
  const sch = model.schedule;
  let x = tf.tidy(() => tf.mul(gaussianNoise([1, ...model.eventShape], rng), Math.sqrt(sch.alpha(times[0]!) ** 2 + sch.sigma(times[0]!) ** 2)));
  let current = -Infinity;
  let evaluations = 0;
  let carry = 0;
  const trace: number[] = [];
  const children: number[] = [];
  const keep = new Set(options.keep ?? []);
  const frames: RolloverResult['frames'] = [];
  const snap = async (step: number) => {
    if (keep.has(step)) frames.push({ step, t: times[step]!, x: Float32Array.from(await x.data()) });
  };
  try {
    await snap(0);
    for (let i = 0; i < S; i++) {
      if (pace.due()) await pace.pause();
      const t = times[i]!;
      const s = times[i + 1]!;
      const k = await sampler.kernel({ model, x, t, s, cond: options.cond, step: i });
      evaluations += k.evaluations;
      k.x0.dispose();
      let allowance = i < costed || costed === 0 ? quota + carry + (extra > 0 ? 1 : 0) : quota;
      if (extra > 0) extra--;
      allowance = Math.max(1, allowance); // at least one child: the step itself
      // the last step whose children cost an evaluation spends all it has left: nothing later could
      const spendAll = i === costed - 1;
      let best: tf.Tensor | null = null;
      let bestReward = -Infinity;
      let used = 0;
      try {
        while (used < allowance) {
          const z = gaussianNoise(k.mean.shape, rng);
          const child = tf.tidy(() => tf.add(k.mean, tf.mul(z, k.std)));
          z.dispose();
          used++;
          let r: number;
          try {
            if (i === S - 1) {
              r = (await evaluateReward(options.reward, child, { step: -1, t: s }))[0]!;
            } else {
              const x0 = await denoise(model, child, s, options.cond, 'x0', { caller: who, step: i });
              evaluations += 1;
              r = (await evaluateReward(options.reward, x0, { step: i, t: s }).finally(() => x0.dispose()))[0]!;
            }
          } catch (err) {
            child.dispose();
            throw err;
          }
          if (r > bestReward || best === null) {
            best?.dispose();
            best = child;
            bestReward = r;
          } else child.dispose();
          if (bestReward > current && !spendAll) break;
        }
      } catch (err) {
        best?.dispose();
        throw err;
      } finally {
        k.mean.dispose();
      }
      carry = bestReward > current ? allowance - used : 0;
      children.push(used);
      x.dispose();
      x = best!;
      current = bestReward;
      trace.push(bestReward);
      await snap(i + 1);
    }
  } catch (err) {
    x.dispose();
    throw err;
  }
  if (current === -Infinity) {
    x.dispose();
    throw noFiniteRewardError(who, options.reward, 'the final sample and every child drawn for it');
  }
  return { x, reward: current, trace, children, evaluations, frames };
}
