/**
 * Every steering method behind one call at a given compute budget (network
 * evaluations), for comparisons at equal compute: the `tyche diffuse`
 * command, the reward-vs-compute script and the notebook use it.
 *
 * | method | what it returns | budget B (network evaluations) |
 * | --- | --- | --- |
 * | `plain` | B/steps independent samples, equal weights | B/steps samples |
 * | `fk` | FK steering's weighted population | k = B/steps particles |
| `tds` | the twisted diffusion sampler's weighted population (needs `likelihood`; λ = 1) | k = B/(3 steps) particles |
 * | `best-of-n` | the best of B/steps samples | n = B/steps |
 * | `zero-order` | the best sample of a zero-order search over initial noises | a pivot and rounds of 4 neighbours (the last round what is left), B/steps samples |
 * | `zero-order-path` | the same search over every noise of the path (initial and per step) | as `zero-order` |
 * | `path` | the best sample of the search over paths | width · branches = ⌊B / c⌋ branches, c = `pathBranchCost` (width the largest divisor up to its square root) |
 * | `rollover` | rollover budget forcing's one trajectory | B − steps for children, all spent |
 * | `dts` | draws from the Diffusion Tree Sampling tree | B (it stops when the next rollout would not fit) |
 * | `dts-star` | the best leaf of Diffusion Tree Search | as `dts` |
 *
 * The budget counts network (denoiser) evaluations, one a sampler step a row
 * (DDPM, the flow SDE). Each run reports what it spent, the rows its reward
 * scored (`rewardCalls`, not budgeted: rollover's last step and DTS score
 * without a network call) and, when it spent other than B, why
 * (`budgetNote`): a method's cost comes in units (a sample: `steps`; a TDS
 * particle: 3 · `steps`; a path-search branch: c), and what is left of B
 * is less than one unit.
 *
 * @module
 */
import { DIFFUSION_SAMPLER_RULES, checkSteerOptions } from '../../run-rules.js';
import { checkIntegerOptions, optionNames } from '../../../core/options.js';
import * as tf from '@tensorflow/tfjs-core';
import type { Seed } from '../../../core/rng.js';
import type { DiffusionModel } from '../model.js';
import { type Sampler, ddpm, sampleDiffusion } from '../samplers.js';
import { diffusionTreeSampling, dtsFrames } from './dts.js';
import { type FkPotential, fkSteering } from './fk-steering.js';
import type { Frame } from './frames.js';
import { STEER_METHODS, type SteerMethod } from './method-names.js';
import { pathBranchCost, pathSearch } from './path-search.js';
import { type Reward, evaluateReward } from './rewards.js';
import { rolloverBudgetForcing } from './rollover.js';
import { type LogLikelihood, twistedDiffusion } from './tds.js';
import { diffusionBestOfN, zeroOrderSearch } from './search.js';

export { STEER_METHODS, type SteerMethod } from './method-names.js';

/** Options of {@link steerAtBudget}. */
export interface SteerAtBudgetOptions {
  readonly reward: Reward;
  /** Network evaluations to spend (each method is sized to it; see the module table). */
  readonly budget: number;
  /** Sampler steps (default 50). */
  readonly steps?: number;
  /** Tilt λ for FK steering and DTS (default 1). */
  readonly lambda?: number;
  /** The log-likelihood log p(y | x) TDS conditions on (its target p(x) p(y | x) is the tilt with λ = 1 and r = log p(y | x)). */
  readonly likelihood?: LogLikelihood;
  /** FK potential (default `diff`). */
  readonly potential?: FkPotential;
  /** The base sampler (default DDPM; must be stochastic for fk, rollover and the trees). */
  readonly sampler?: Sampler;
  /** Draws DTS returns (default: as many as `plain` would). */
  readonly samples?: number;
  /** Conditioning for a batch of n rows. */
  readonly cond?: (n: number) => tf.Tensor;
  readonly seed?: Seed;
  readonly signal?: AbortSignal;
  /**
   * Frames to keep, as grid step indices (0 = the initial noise, `steps` = the
   * final samples): the population for plain, FK and TDS (FK and TDS from step
   * 1, before resampling), the returned sample's trajectory for the searches and
   * rollover, the draws' (or DTS*'s best leaf's) ancestors in the tree for DTS.
   * The search over paths has none (its path re-noises, going back in time).
   */
  readonly keep?: readonly number[];
}

/** What {@link steerAtBudget} returns. */
export interface SteerRun {
  readonly method: SteerMethod;
  /** Returned samples `[n, ...eventShape]` (the caller owns them). */
  readonly x: tf.Tensor;
  /** Normalised weights of the rows (equal for unweighted outputs). */
  readonly weights: Float64Array;
  /** Reward of each row. */
  readonly rewards: Float64Array;
  /** Network evaluations actually spent. */
  readonly evaluations: number;
  /** Rows the reward scored (final samples and x0-predictions); not part of the budget. */
  readonly rewardCalls: number;
  /** Null when the run spent exactly the budget; else how far off it is and why (a unit of its cost that B does not fill). */
  readonly budgetNote: string | null;
  /** Kept snapshots of the particles over time (see `keep`; none for `path`). */
  readonly frames: Frame[];
}

const equal = (n: number) => new Float64Array(n).fill(1 / n);

/** The option names steerAtBudget accepts (checked against its options type by the compiler). */
const STEER_AT_BUDGET_OPTIONS = optionNames<SteerAtBudgetOptions>({ reward: true, budget: true, steps: true, lambda: true, likelihood: true, potential: true, sampler: true, samples: true, cond: true, seed: true, signal: true, keep: true });

/** A reward that counts the rows it scores (everything else, `differentiable` included, read through to `reward`). */
function countingReward(reward: Reward): { reward: Reward; rows: () => number } {
  let rows = 0;
  // not an object: left to the method, which names it
  if (typeof reward !== 'object' || reward === null) return { reward, rows: () => rows };
  const counted = Object.create(reward) as { evaluate: Reward['evaluate'] };
  counted.evaluate = (x, ctx) => {
    rows += x.shape[0]!;
    return reward.evaluate(x, ctx);
  };
  return { reward: counted as Reward, rows: () => rows };
}

/** The note of a run that spent other than the budget (null when it spent it exactly). */
function budgetNote(spent: number, budget: number, unit: string): string | null {
  if (spent === budget) return null;
  return spent < budget ? `${budget - spent} of ${budget} evaluations unspent: ${unit}` : `${spent - budget} evaluations over the budget of ${budget}: ${unit}`;
}

/**
 * Run `method` at the given budget of network evaluations (see the module
 * table for how each method is sized); the run reports what it spent, its
 * reward calls and, when it spent other than the budget, why.
 */
export async function steerAtBudget(model: DiffusionModel, method: SteerMethod, o: SteerAtBudgetOptions): Promise<SteerRun> {
  checkSteerOptions('steerAtBudget', o, STEER_AT_BUDGET_OPTIONS, DIFFUSION_SAMPLER_RULES);
  const counter = countingReward(o.reward);
  // the method calls the counting reward; the rewards shown for plain and TDS (which use none) are read with the user's, uncounted
  const { run, unit } = await runAtBudget(model, method, { ...o, reward: counter.reward }, o.reward);
  return { ...run, rewardCalls: counter.rows(), budgetNote: budgetNote(run.evaluations, o.budget, unit) };
}

/** The width and branches of a search over paths whose product is the most branches the budget pays for (width the largest divisor up to its square root); at least 1 x 1. */
export function pathShape(budget: number, cost: number): { width: number; branches: number } {
  const p = Math.max(1, Math.floor(budget / cost));
  let width = Math.floor(Math.sqrt(p));
  while (p % width !== 0) width--;
  return { width, branches: p / width };
}

async function runAtBudget(model: DiffusionModel, method: SteerMethod, o: SteerAtBudgetOptions, shown: Reward): Promise<{ run: Omit<SteerRun, 'rewardCalls' | 'budgetNote'>; unit: string }> {
  checkSteerOptions('steerAtBudget', o, STEER_AT_BUDGET_OPTIONS, DIFFUSION_SAMPLER_RULES);
  checkIntegerOptions('steerAtBudget', o, { steps: 1, samples: 1 });
  const who = `steerAtBudget(${method}, model "${model.name}")`;
  if (!STEER_METHODS.includes(method)) throw new RangeError(`${who}: method must be one of ${STEER_METHODS.join(', ')}`);
  const steps = o.steps ?? 50;
  if (!Number.isInteger(steps) || steps < 1) throw new RangeError(`${who}: steps must be a positive integer, got ${steps}`);
  if (!(o.budget >= steps)) throw new RangeError(`${who}: a budget of ${o.budget} evaluations does not cover one sample of ${steps} steps`);
  const k = Math.floor(o.budget / steps);
  const sampler = o.sampler ?? ddpm();
  const common = { reward: o.reward, sampler, steps, seed: o.seed, signal: o.signal };
  // the rewards shown of a returned population; a reward that fails frees the population (it leaked one tensor a run)
  const final = (x: tf.Tensor) =>
    evaluateReward(shown, x, { step: -1, t: model.schedule.tMin }).catch((err: unknown) => {
      x.dispose();
      throw err;
    });
  const perSample = `a sample costs ${steps} (one a step)`;
  const keep = new Set(o.keep ?? []);
  const frames: SteerRun['frames'] = [];
  switch (method) {
    case 'plain': {
      const cond = o.cond?.(k);
      try {
        const r = await sampleDiffusion(model, { sampler, steps, particles: k, cond, seed: o.seed, signal: o.signal, keep: o.keep, checkFinite: false });
        for (const f of r.trajectory) frames.push({ step: f.step, t: f.t, x: f.x });
        return { run: { method, x: r.x, weights: equal(k), rewards: await final(r.x), evaluations: r.evaluations * k, frames }, unit: perSample };
      } finally {
        cond?.dispose();
      }
    }
    case 'fk': {
      const cond = o.cond?.(k);
      try {
        const r = await fkSteering(model, {
          ...common,
          lambda: o.lambda,
          potential: o.potential,
          particles: k,
          cond,
          checkFinite: false,
          onStep: async (info) => {
            if (keep.has(info.step + 1)) frames.push({ step: info.step + 1, t: info.t, x: Float32Array.from(await info.x.data()) });
          },
        });
        return { run: { method, x: r.x, weights: Float64Array.from(r.weights), rewards: Float64Array.from(r.rewards), evaluations: r.totalEvaluations, frames }, unit: `a particle costs ${steps} (one a step)` };
      } finally {
        cond?.dispose();
      }
    }
    case 'tds': {
      if (!o.likelihood) throw new Error(`${who}: tds needs options.likelihood (a differentiable log p(y | x))`);
      const n = Math.floor(o.budget / (3 * steps));
      if (n < 1) throw new RangeError(`${who}: a budget of ${o.budget} evaluations does not cover one TDS particle (3 x ${steps} steps)`);
      const cond = o.cond?.(n);
      try {
        const r = await twistedDiffusion(model, {
          likelihood: o.likelihood,
          sampler,
          steps,
          particles: n,
          cond,
          seed: o.seed,
          signal: o.signal,
          onStep: async (info) => {
            if (keep.has(info.step + 1)) frames.push({ step: info.step + 1, t: info.t, x: Float32Array.from(await info.x.data()) });
          },
        });
        return { run: { method, x: r.x, weights: Float64Array.from(r.weights), rewards: await final(r.x), evaluations: r.evaluations * n, frames }, unit: `a TDS particle costs ${3 * steps} (3 a step: the network and its gradient)` };
      } finally {
        cond?.dispose();
      }
    }
    case 'best-of-n': {
      const r = await diffusionBestOfN(model, { ...common, cond: o.cond, n: k, keep: o.keep });
      return { run: { method, x: r.x, weights: equal(1), rewards: Float64Array.of(r.reward), evaluations: r.evaluations, frames: r.frames }, unit: perSample };
    }
    case 'zero-order':
    case 'zero-order-path': {
      // the pivot, then rounds of up to 4 neighbours, the last round what is left: k samples in all (k = 1: the pivot alone)
      const neighbours = Math.min(4, k - 1);
      const rounds = Math.ceil((k - 1) / Math.max(1, neighbours));
      const lastNeighbours = k - 1 - (rounds - 1) * neighbours;
      const over = method === 'zero-order' ? 'initial' : 'path';
      const r = neighbours < 1 ? await diffusionBestOfN(model, { ...common, cond: o.cond, n: 1, keep: o.keep }) : await zeroOrderSearch(model, { ...common, cond: o.cond, rounds, neighbours, lastNeighbours, over, keep: o.keep });
      return { run: { method, x: r.x, weights: equal(1), rewards: Float64Array.of(r.reward), evaluations: r.evaluations, frames: r.frames }, unit: perSample };
    }
    case 'path': {
      const forward = 2;
      const backward = 6;
      // every branch costs the same through the rounds: as many branches (width x branches) as the budget pays for
      const cost = pathBranchCost(steps, { forward, backward });
      const { width, branches } = pathShape(o.budget, cost);
      const r = await pathSearch(model, { ...common, cond: o.cond, width, branches, forward, backward });
      return { run: { method, x: r.x, weights: equal(1), rewards: Float64Array.of(r.reward), evaluations: r.evaluations, frames }, unit: `a branch through every round costs ${cost} (${width} x ${branches} branches)` };
    }
    case 'rollover': {
      const cond = o.cond?.(1);
      try {
        const r = await rolloverBudgetForcing(model, { ...common, budget: Math.max(0, Math.floor(o.budget) - steps), cond, keep: o.keep });
        const unit = steps === 1 ? 'with one step there is no step whose children cost an evaluation' : `rollover draws at least one child a step, ${steps - 1} evaluations of children`;
        return { run: { method, x: r.x, weights: equal(1), rewards: Float64Array.of(r.reward), evaluations: r.evaluations, frames: r.frames }, unit };
      } finally {
        cond?.dispose();
      }
    }
    case 'dts':
    case 'dts-star': {
      const r = await diffusionTreeSampling(model, { ...common, lambda: o.lambda, budget: o.budget, mode: method === 'dts' ? 'sample' : 'search', samples: o.samples ?? k, cond: o.cond, checkFinite: false });
      return { run: { method, x: r.x, weights: equal(r.x.shape[0]!), rewards: r.rewards, evaluations: r.evaluations, frames: dtsFrames(r, o.keep ?? []) }, unit: 'the tree stops when the next rollout (up to one a step) would not fit' };
    }
  }
}
