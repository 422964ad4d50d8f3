/**
 * Diffusion Tree Sampling and Diffusion Tree Search (Jain et al., "Diffusion
 * Tree Sampling: Scalable inference-time alignment of diffusion models",
 * 2025): the reverse chain of a stochastic sampler as a tree whose nodes are
 * noisy states x_t, each with a soft-value estimate and a visit count, grown
 * by selection → expansion → rollout → backup.
 *
 * - **Selection** from a dummy root (whose children are initial noises): at a
 *   node that may take another child (at most `maxChildren`, a fixed number
 *   or a function of the visits for progressive widening) stop and expand it; otherwise go to a
 *   child drawn with probability ∝ exp(λ_sel v̂(child)) (DTS; λ_sel is
 *   `selectionLambda`, 0 by default: see below) or to the child
 *   with the highest v̂ (DTS*, the greedy variant; where the greedy path ends
 *   at a finished sample, that rollout is selected by Boltzmann instead).
 * - **Expansion and rollout**: draw a new child from the sampler's kernel
 *   p(x_s | x_t), then continue to the final time; every intermediate state
 *   joins the tree, so later rollouts reuse it. A node's kernel (its Gaussian
 *   mean and std) is computed once and cached: a second child of the same
 *   node costs no network evaluation.
 * - **Backup**: the leaf's value is its reward r(x_0); each ancestor's value
 *   is the soft Bellman backup v̂(x_t) = (1/λ) log mean_children exp(λ v̂(c)),
 *   the Monte Carlo estimate of the soft value
 *   V_t(x_t) = (1/λ) log E[exp(λ r(x_0)) | x_t].
 *
 * Why DTS samples the tilted law p(x_0) exp(λ r(x_0)) / Z: drawing a leaf by
 * Boltzmann descent picks child c of node a with probability
 * exp(λ v̂(c)) / Σ_c' exp(λ v̂(c')) = exp(λ (v̂(c) − v̂(a))) / |C(a)|, and the
 * product along a path telescopes to exp(λ r(leaf)) Π_a (1/|C(a)|) /
 * exp(λ v̂(root)): self-normalised importance sampling over the tree's paths,
 * whose children are draws from the base kernel. When the number of children
 * of each node does not depend on the rewards (`selectionLambda: 0`, uniform
 * growth, the default for DTS) this is consistent at every budget; growing by
 * the values (the paper's rule, `selectionLambda: λ`) makes the counts depend
 * on the rewards seen, and the tree's law is exact only as every node's
 * children fill up (measured on the analytic mixture: it under-tilts at
 * 25,000–160,000 evaluations; see docs/steer/diffusion-steering.md). {@link DtsResult.leaves} returns those exact leaf
 * probabilities, so one tree gives a weighted population with no extra
 * sampling noise.
 *
 * Rollouts run in batches: `batch` selections on the same tree (visits are
 * counted as they are made, so widening spreads them), then one sweep over
 * the levels that evaluates the network once per level for all rollouts
 * there. Cost is counted in network evaluations (one per row per kernel).
 *
 * @module
 */
import { DIFFUSION_SAMPLER_RULES, checkSteerOptions } from '../../run-rules.js';
import { checkIntegerOptions, optionNames } from '../../../core/options.js';
import { ZeroDensityError } from '../../../core/errors.js';
import * as tf from '@tensorflow/tfjs-core';
import { type Rng, rngFrom, type Seed } from '../../../core/rng.js';
import { Pacer } from '../../../infer/pace.js';
import { type DiffusionModel } from '../model.js';
import { type Sampler, ddpm } from '../samplers.js';
import { checkTime, timeGrid } from '../schedules.js';
import type { Frame } from './frames.js';
import { type Reward, evaluateReward } from './rewards.js';
import { oneAtATime } from '../../../infer/one-at-a-time.js';

/** DTS (sample the tilted law) or DTS* (search for the highest reward). */
export type DtsMode = 'sample' | 'search';

/** Options of {@link diffusionTreeSampling}. */
export interface DtsOptions {
  /** The reward r on final samples. */
  readonly reward: Reward;
  /** Tilt λ > 0: DTS targets p(x_0) exp(λ r(x_0)) (default 1). */
  readonly lambda?: number;
  /** `sample` (DTS, Boltzmann descent for the returned draws, uniform growth by default; default) or `search` (DTS*, greedy selection, returns the best leaf). */
  readonly mode?: DtsMode;
  /** A stochastic sampler whose kernel gives the children (default DDPM). */
  readonly sampler?: Sampler;
  /** Number of steps on an even grid (default 50). */
  readonly steps?: number;
  /** Explicit decreasing times (overrides `steps`). */
  readonly times?: readonly number[];
  /** Network evaluations to spend (the run stops before a batch would exceed it). */
  readonly budget: number;
  /** Rollouts per sweep (default 16). */
  readonly batch?: number;
  /**
   * Children a node may have after `visits` visits: a number (the paper's
   * fixed maximum; default 4) or a function, e.g. `v => Math.ceil(Math.sqrt(v))`
   * (progressive widening: every node keeps widening as the budget grows).
   */
  readonly maxChildren?: number | ((visits: number, level: number) => number);
  /**
   * The tilt of the Boltzmann selection while the tree grows. The returned law
   * always uses λ. Default: 0 for DTS (`mode: 'sample'`), λ for DTS* (its
   * fallback where the greedy path ends at a finished leaf).
   *
   * 0 grows the tree uniformly: the tree's law is then self-normalised
   * importance sampling with the base process as proposal, consistent at every
   * budget. λ is the paper's rule (grow where v̂ is high): each node's number of
   * children becomes a stopping time driven by its own estimates, and the
   * tree's law is exact only in the paper's limit where every node has
   * infinitely many children; at the budgets one can run it under-tilts
   * (measured on the analytic mixture: mass 0.221 ± 0.012 against 0.110 at
   * 25,000 evaluations, no better at 160,000; see
   * docs/steer/diffusion-steering.md). Use λ here for search-like use where
   * the reward matters more than the law.
   */
  readonly selectionLambda?: number;
  /** DTS: how many samples to draw from the final tree by Boltzmann descent (default 1). */
  readonly samples?: number;
  /** Conditioning for a batch of n rows (e.g. `n => labels(n, 3)`). */
  readonly cond?: (n: number) => tf.Tensor;
  /** Check network outputs are finite (default true). */
  readonly checkFinite?: boolean;
  readonly seed?: Seed;
  readonly rng?: Rng;
  /** Stops the run within one level of a sweep; the reason is thrown. */
  readonly signal?: AbortSignal;
}

/** One node of the tree (level −1 is the dummy root, 0 the initial noise, S the final samples). */
export interface DtsNode {
  readonly level: number;
  /** The state (empty at the root). */
  readonly x: Float32Array;
  readonly parent: DtsNode | null;
  readonly children: DtsNode[];
  /** Rollouts that passed through this node. */
  visits: number;
  /** Soft-value estimate v̂ (the reward at a leaf). */
  value: number;
  /** Cached kernel mean of p(· | x) (set once the node has been evaluated). */
  mean: Float32Array | null;
  /** Cached kernel standard deviation. */
  std: number;
  /** Children requested in the current batch but not yet drawn. */
  pending: number;
}

/** The final samples of a tree with their exact tree probabilities. */
export interface DtsLeaves {
  /** Leaf states, row-major `[L * dim]`. */
  readonly x: Float32Array;
  readonly rewards: Float64Array;
  /** Probability of each leaf under Boltzmann descent (sums to 1; the DTS law). */
  readonly weights: Float64Array;
}

/** One point of the reward-vs-compute trace, after a batch. */
export interface DtsTracePoint {
  readonly evaluations: number;
  /** Highest reward among the leaves so far. */
  readonly best: number;
  /** Expected reward under the tree's current law (Σ weight · reward). */
  readonly expected: number;
}

/** The outcome of {@link diffusionTreeSampling}. */
export interface DtsResult {
  /** DTS: `samples` draws from the tree; DTS*: the best leaf `[1, ...eventShape]` (the caller owns it). */
  readonly x: tf.Tensor;
  /** Rewards of the rows of `x`. */
  readonly rewards: Float64Array;
  /** The tree's leaf node of each row of `x` (its ancestors are the row's trajectory; see {@link dtsFrames}). */
  readonly drawn: readonly DtsNode[];
  /** Every leaf with its tree probability. */
  readonly leaves: DtsLeaves;
  /** The highest-reward leaf. */
  readonly best: { readonly x: Float32Array; readonly reward: number };
  /** Network evaluations spent. */
  readonly evaluations: number;
  readonly rollouts: number;
  /** Nodes in the tree (root excluded). */
  readonly nodes: number;
  readonly trace: DtsTracePoint[];
  /** Soft value of the root, an estimate of (1/λ) log E_p[exp(λ r(x_0))]. */
  readonly rootValue: number;
  /** The tree itself, for inspection and plots. */
  readonly root: DtsNode;
  readonly times: readonly number[];
}

function newNode(level: number, x: Float32Array, parent: DtsNode | null): DtsNode {
  return { level, x, parent, children: [], visits: 0, value: NaN, mean: null, std: 0, pending: 0 };
}

/** (1/λ) log mean_i exp(λ v_i), stable; -Infinity when every value is -Infinity. */
export function softMean(values: ArrayLike<number>, lambda: number): number {
  let top = -Infinity;
  for (let i = 0; i < values.length; i++) top = Math.max(top, lambda * values[i]!);
  if (top === -Infinity) return -Infinity;
  let acc = 0;
  for (let i = 0; i < values.length; i++) acc += Math.exp(lambda * values[i]! - top);
  return (top + Math.log(acc / values.length)) / lambda;
}

/** Draw an index with probability ∝ exp(λ v_i) (uniformly when λ = 0). */
function boltzmann(children: readonly DtsNode[], lambda: number, rng: Rng): number {
  if (lambda === 0) return rng.int(children.length);
  let top = -Infinity;
  for (const c of children) top = Math.max(top, lambda * c.value);
  if (top === -Infinity) return rng.int(children.length);
  let total = 0;
  const w = children.map((c) => {
    const v = Math.exp(lambda * c.value - top);
    total += v;
    return v;
  });
  let u = rng.uniform() * total;
  for (let i = 0; i < w.length; i++) {
    u -= w[i]!;
    if (u <= 0) return i;
  }
  return w.length - 1;
}

function greedy(children: readonly DtsNode[]): number {
  let b = 0;
  for (let i = 1; i < children.length; i++) if (children[i]!.value > children[b]!.value) b = i;
  return b;
}

/** The leaves of the tree with their Boltzmann-descent probabilities (depth-first, children in the order drawn). */
export function treeLeaves(root: DtsNode, lambda: number, finalLevel: number): DtsLeaves {
  const xs: Float32Array[] = [];
  const rewards: number[] = [];
  const weights: number[] = [];
  const stack: [DtsNode, number][] = [[root, 1]];
  while (stack.length > 0) {
    const [node, p] = stack.pop()!;
    if (node.level === finalLevel) {
      xs.push(node.x);
      rewards.push(node.value);
      weights.push(p);
      continue;
    }
    const k = node.children.length;
    for (let i = k - 1; i >= 0; i--) {
      // exp(λ(v_c − v_a)) / |C|: the children's shares sum to 1 because v_a is their soft mean
      const c = node.children[i]!;
      const share = node.value === -Infinity ? 1 / k : Math.exp(lambda * (c.value - node.value)) / k;
      stack.push([c, p * share]);
    }
  }
  const dim = xs[0]?.length ?? 0;
  const x = new Float32Array(xs.length * dim);
  xs.forEach((v, i) => x.set(v, i * dim));
  let total = 0;
  for (const w of weights) total += w;
  return { x, rewards: Float64Array.from(rewards), weights: Float64Array.from(weights, (w) => w / total) };
}

/** Checked settings. */
function resolve(model: DiffusionModel, o: DtsOptions) {
  const who = `diffusionTreeSampling(model "${model.name}")`;
  if (!o || typeof o.reward?.evaluate !== 'function') throw new TypeError(`${who}: options.reward must be a Reward ({ name, evaluate })`);
  const lambda = o.lambda ?? 1;
  if (!(lambda > 0) || !Number.isFinite(lambda)) throw new RangeError(`${who}: lambda must be a positive finite number (the soft value is (1/λ) log E exp(λ r)), got ${lambda}`);
  const mode = o.mode ?? 'sample';
  if (mode !== 'sample' && mode !== 'search') throw new RangeError(`${who}: mode must be 'sample' (DTS) or 'search' (DTS*), got "${String(mode)}"`);
  const sampler = o.sampler ?? ddpm();
  if (!sampler.stochastic) throw new Error(`${who}: the sampler ${sampler.name} is deterministic; a tree needs a stochastic kernel (use ddpm(), ddim({eta > 0}) or flowSde())`);
  if (!(Number.isFinite(o.budget) && o.budget >= 1)) throw new RangeError(`${who}: budget must be a positive number of network evaluations, got ${o.budget}`);
  const batch = o.batch ?? 16;
  if (!Number.isInteger(batch) || batch < 1) throw new RangeError(`${who}: batch must be a positive integer, got ${batch}`);
  const samples = o.samples ?? 1;
  if (!Number.isInteger(samples) || samples < 1) throw new RangeError(`${who}: samples must be a positive integer, got ${samples}`);
  const mc = o.maxChildren ?? 4;
  if (typeof mc === 'number' && !(Number.isInteger(mc) && mc >= 1)) throw new RangeError(`${who}: maxChildren must be a positive integer or a function of the visits, got ${mc}`);
  const selectionLambda = o.selectionLambda ?? (mode === 'sample' ? 0 : lambda);
  if (!(selectionLambda >= 0) || !Number.isFinite(selectionLambda)) throw new RangeError(`${who}: selectionLambda must be a nonnegative finite number, got ${selectionLambda}`);
  const maxChildren = typeof mc === 'number' ? () => mc : mc;
  const times = o.times ? [...o.times] : timeGrid(model.schedule, o.steps ?? 50);
  if (times.length < 2) throw new RangeError(`${who}: need at least two times (one step), got ${times.length}`);
  for (let i = 0; i < times.length; i++) {
    checkTime(model.schedule, times[i]!, `${who}, times[${i}]`);
    if (i > 0 && !(times[i]! < times[i - 1]!)) throw new RangeError(`${who}: times must decrease (noise to data); times[${i}] = ${times[i]} follows ${times[i - 1]}`);
  }
  return { who, lambda, selectionLambda, mode, sampler, batch, samples, maxChildren, times };
}

/** The option names diffusionTreeSampling accepts (checked against its options type by the compiler). */
const DIFFUSION_TREE_SAMPLING_OPTIONS = optionNames<DtsOptions>({ reward: true, lambda: true, mode: true, sampler: true, steps: true, times: true, budget: true, batch: true, maxChildren: true, selectionLambda: true, samples: true, cond: true, checkFinite: true, seed: true, rng: true, signal: true });

/**
 * Run Diffusion Tree Sampling (`mode: 'sample'`) or Diffusion Tree Search
 * (`mode: 'search'`) within a budget of network evaluations.
 *
 * @example
 * ```ts
 * const res = await diffusionTreeSampling(model, { reward: linearReward([1, 0]), lambda: 2, budget: 20_000, samples: 64, seed: 1 });
 * res.x;              // 64 draws from the tree (≈ p(x0) exp(2 x0[0]) as the budget grows)
 * res.leaves.weights; // every leaf's exact probability under the tree
 * ```
 */
export async function diffusionTreeSampling(model: DiffusionModel, options: DtsOptions): Promise<DtsResult> {
  // one inference at a time: its tensors would otherwise be freed by, or recorded on, a call beside it (infer/one-at-a-time.ts)
  checkSteerOptions('diffusionTreeSampling', options, DIFFUSION_TREE_SAMPLING_OPTIONS, DIFFUSION_SAMPLER_RULES); // before the queue turn: a bad signal is named, not taken into the queue
  return oneAtATime(options.signal, () => runDiffusionTreeSampling(model, options));
}

async function runDiffusionTreeSampling(model: DiffusionModel, options: DtsOptions): Promise<DtsResult> {
  checkSteerOptions('diffusionTreeSampling', options, DIFFUSION_TREE_SAMPLING_OPTIONS, DIFFUSION_SAMPLER_RULES);
  checkIntegerOptions('diffusionTreeSampling', options, { batch: 1, samples: 1, steps: 1 });
  const { who, lambda, selectionLambda, mode, sampler, batch, samples, maxChildren, times } = resolve(model, options);
  const S = times.length - 1;
  const dim = model.eventShape.reduce((a, b) => a * b, 1);
  const rng = options.rng ?? rngFrom(options.seed ?? 0);
  const pace = new Pacer(options.signal);
  const sch = model.schedule;
  const scale0 = Math.sqrt(sch.alpha(times[0]!) ** 2 + sch.sigma(times[0]!) ** 2);
  const root = newNode(-1, new Float32Array(0), null);
  let evaluations = 0;
  let rollouts = 0;
  let nodes = 0;
  let best: { x: Float32Array; reward: number } = { x: new Float32Array(dim), reward: -Infinity };
  let bestLeaf: DtsNode | null = null;
  const trace: DtsTracePoint[] = [];

  /**
   * Pick the node to expand, counting visits on the way; null at a final
   * leaf, 'wait' at a node whose every child is still being drawn in this
   * batch (the batch ends there).
   */
  const select = (greedily: boolean): DtsNode | null | 'wait' => {
    let node = root;
    for (;;) {
      node.visits++;
      if (node.level === S) return null;
      const have = node.children.length + node.pending;
      if (have < maxChildren(node.visits, node.level) || have === 0) {
        node.pending++;
        return node;
      }
      if (node.children.length === 0) return 'wait';
      const i = greedily ? greedy(node.children) : boltzmann(node.children, selectionLambda, rng);
      node = node.children[i]!;
    }
  };
  /** Network evaluations a rollout from `node` will need. */
  const cost = (node: DtsNode) => S - Math.max(node.level, 0) - (node.level >= 0 && node.mean !== null ? 1 : 0);

  while (evaluations < options.budget) {
    await pace.tick();
    // selection: up to `batch` rollouts whose cost fits the remaining budget
    const starts: DtsNode[] = [];
    let planned = 0;
    for (let b = 0; b < batch; b++) {
      // DTS*: greedy descent; where it ends at a finished leaf (its path is full), explore by Boltzmann selection instead
      let node = select(mode === 'search');
      if (node === null && mode === 'search') node = select(false);
      if (node === 'wait') break;
      if (node === null) continue;
      const c = cost(node);
      if (evaluations + planned + c > options.budget) {
        node.pending--;
        break;
      }
      planned += c;
      starts.push(node);
    }
    if (starts.length === 0) break;
    // expansion and rollout: one sweep over the levels
    const atLevel: DtsNode[][] = Array.from({ length: S + 1 }, () => []);
    const fromRoot: DtsNode[] = [];
    for (const node of starts) (node.level < 0 ? fromRoot : atLevel[node.level]!).push(node);
    const newLeaves: DtsNode[] = [];
    const grow = (parent: DtsNode, x: Float32Array) => {
      const child = newNode(parent.level + 1, x, parent);
      child.visits = 1;
      parent.children.push(child);
      nodes++;
      (child.level === S ? newLeaves : atLevel[child.level]!).push(child);
    };
    for (const parent of fromRoot) {
      const z = rng.normals(dim);
      grow(parent, Float32Array.from(z, (v) => v * scale0));
      parent.pending--;
    }
    for (let l = 0; l < S; l++) {
      const list = atLevel[l]!;
      if (list.length === 0) continue;
      if (options.signal?.aborted) throw options.signal.reason ?? new Error(`${who}: aborted`);
      await pace.tick();
      const todo = [...new Set(list.filter((n) => n.mean === null))];
      if (todo.length > 0) {
        const xs = new Float32Array(todo.length * dim);
        todo.forEach((n, i) => xs.set(n.x, i * dim));
        const x = tf.tensor(xs, [todo.length, ...model.eventShape]);
        const cond = options.cond?.(todo.length);
        try {
          const k = await sampler.kernel({ model, x, t: times[l]!, s: times[l + 1]!, cond, step: l, checkFinite: options.checkFinite });
          evaluations += k.evaluations * todo.length;
          const means = await k.mean.data();
          tf.dispose([k.mean, k.x0]);
          if (!(k.std > 0)) throw new Error(`${who}: the sampler ${sampler.name} gave a deterministic step at level ${l} (t = ${times[l]}); a tree needs noise`);
          todo.forEach((n, i) => {
            n.mean = Float32Array.from(means.subarray(i * dim, (i + 1) * dim));
            n.std = k.std;
          });
        } finally {
          x.dispose();
          cond?.dispose();
        }
      }
      for (const parent of list) {
        const z = rng.normals(dim);
        const m = parent.mean!;
        grow(parent, Float32Array.from(m, (v, j) => v + parent.std * z[j]!));
        if (parent.pending > 0) parent.pending--;
      }
    }
    // rewards of the new leaves, then the soft Bellman backup, deepest level first
    const xs = new Float32Array(newLeaves.length * dim);
    newLeaves.forEach((n, i) => xs.set(n.x, i * dim));
    const xt = tf.tensor(xs, [newLeaves.length, ...model.eventShape]);
    let r: Float64Array;
    try {
      r = await evaluateReward(options.reward, xt, { step: -1, t: times[S]! });
    } finally {
      xt.dispose();
    }
    const dirty: Set<DtsNode>[] = Array.from({ length: S + 1 }, () => new Set());
    newLeaves.forEach((leaf, i) => {
      leaf.value = r[i]!;
      if (r[i]! > best.reward) {
        best = { x: leaf.x, reward: r[i]! };
        bestLeaf = leaf;
      }
      for (let a = leaf.parent; a !== null; a = a.parent) dirty[a.level + 1]!.add(a);
    });
    for (let l = S; l >= 0; l--) for (const a of dirty[l]!) a.value = softMean(a.children.map((c) => c.value), lambda);
    rollouts += newLeaves.length;
    trace.push({ evaluations, best: best.reward, expected: expectedReward(root, lambda, S) });
  }
  if (rollouts === 0) throw new RangeError(`${who}: a budget of ${options.budget} evaluations does not cover one rollout of ${S} steps`);
  // every leaf -Infinity: the tilted law has no mass on the tree (Boltzmann descent would fall back to uniform draws)
  if (mode === 'sample' && root.value === -Infinity) throw new ZeroDensityError(`${who}: reward "${options.reward.name}" is -Infinity on all ${rollouts} rollouts; no sample has positive density under p(x0)·exp(λ r(x0)) — is the reward -Infinity everywhere the model samples?`);

  const leaves = treeLeaves(root, lambda, S);
  let x: tf.Tensor;
  let rewards: Float64Array;
  const drawn: DtsNode[] = [];
  if (mode === 'search') {
    x = tf.tensor(best.x, [1, ...model.eventShape]);
    rewards = Float64Array.of(best.reward);
    if (bestLeaf) drawn.push(bestLeaf);
  } else {
    const out = new Float32Array(samples * dim);
    rewards = new Float64Array(samples);
    for (let i = 0; i < samples; i++) {
      let node = root;
      while (node.level < S) node = node.children[boltzmann(node.children, lambda, rng)]!;
      out.set(node.x, i * dim);
      rewards[i] = node.value;
      drawn.push(node);
    }
    x = tf.tensor(out, [samples, ...model.eventShape]);
  }
  return { x, rewards, drawn, leaves, best, evaluations, rollouts, nodes, trace, rootValue: root.value, root, times };
}

/**
 * The trajectories of the drawn rows at the grid steps in `keep` (0 = the
 * initial noise, S = the final sample): the ancestors of each drawn leaf, one
 * frame per step with a row per draw.
 */
export function dtsFrames(res: Pick<DtsResult, 'drawn' | 'times'>, keep: readonly number[]): Frame[] {
  const S = res.times.length - 1;
  const steps = [...new Set(keep)].filter((s) => s >= 0 && s <= S).sort((a, b) => a - b);
  const dim = res.drawn[0]?.x.length ?? 0;
  const frames = steps.map((step) => ({ step, t: res.times[step]!, x: new Float32Array(res.drawn.length * dim) }));
  res.drawn.forEach((leaf, row) => {
    for (let node: DtsNode | null = leaf; node !== null && node.level >= 0; node = node.parent) {
      const k = steps.indexOf(node.level);
      if (k >= 0) frames[k]!.x.set(node.x, row * dim);
    }
  });
  return frames;
}

/** Σ over leaves of (tree probability × reward), without materialising the leaves. */
function expectedReward(root: DtsNode, lambda: number, S: number): number {
  let acc = 0;
  const stack: [DtsNode, number][] = [[root, 1]];
  while (stack.length > 0) {
    const [node, p] = stack.pop()!;
    if (node.level === S) {
      if (p > 0) acc += p * node.value;
      continue;
    }
    const k = node.children.length;
    for (const c of node.children) stack.push([c, node.value === -Infinity ? p / k : (p * Math.exp(lambda * (c.value - node.value))) / k]);
  }
  return acc;
}
