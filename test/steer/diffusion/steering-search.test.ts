/**
 * Tree sampling and search (fast tier) on the analytic 2-D mixture:
 * Diffusion Tree Sampling's tree law (leaf probabilities by Boltzmann
 * descent) is exactly exp(λ r) Π 1/|children| normalised, matches the
 * frequencies of its own draws, and — grown uniformly — recovers the
 * closed-form tilted mixture within Monte Carlo error (planted bug: the
 * soft backup without its 1/λ fails); DTS* beats best-of-N at equal
 * network evaluations; the search over paths and `steerAtBudget` count their
 * evaluations; bad input, abort and memory. The paper's value-driven growth
 * is measured in steering-search.slow.test.ts.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src/backend/select.js';
import * as D from '../../../src/steer/diffusion/index.js';
import * as St from '../../../src/steer/diffusion/steering/index.js';
import { checkWeightedRuns, mixtureStatistics, type WeightedRun } from '../../../src/testing/weighted-runs.js';
import { MIX } from './fixtures.js';

beforeAll(async () => {
  await initBackend('cpu');
});

const SCH = D.vpLinear();
const MODEL = MIX.model(SCH, 'epsilon');
const A = [0.6, -0.4];
const TARGET = St.linearTilt(MIX.marginal(SCH, SCH.tMin), A, 1);

/** Leaves and their weights ∝ exp(λ r) Π_ancestors 1/|C|, computed from the tree directly. */
function pathWeights(root: St.DtsNode, lambda: number, S: number): { x: number[]; logw: number[] } {
  const x: number[] = [];
  const logw: number[] = [];
  const walk = (n: St.DtsNode, lw: number) => {
    if (n.level === S) {
      x.push(...n.x);
      logw.push(lw + lambda * n.value);
      return;
    }
    for (const c of n.children) walk(c, lw - Math.log(n.children.length));
  };
  walk(root, 0);
  return { x, logw };
}

/**
 * Planted bug: the soft backup without its 1/λ (v = log mean exp(λ v_c)),
 * then Boltzmann descent ∝ exp(λ v̂) as DTS does; returns the leaves' descent probabilities.
 */
function missingInverseLambda(root: St.DtsNode, lambda: number, S: number): { x: number[]; weights: number[] } {
  const value = new Map<St.DtsNode, number>();
  const v = (n: St.DtsNode): number => {
    if (n.level === S) return n.value;
    const cached = value.get(n);
    if (cached !== undefined) return cached;
    const out = St.softMean(n.children.map(v), lambda) * lambda;
    value.set(n, out);
    return out;
  };
  const x: number[] = [];
  const weights: number[] = [];
  const walk = (n: St.DtsNode, p: number) => {
    if (n.level === S) {
      x.push(...n.x);
      weights.push(p);
      return;
    }
    const e = n.children.map((c) => lambda * v(c));
    const top = Math.max(...e);
    const z = e.reduce((a, b) => a + Math.exp(b - top), 0);
    n.children.forEach((c, i) => walk(c, (p * Math.exp(e[i]! - top)) / z));
  };
  walk(root, 1);
  return { x, weights };
}

function normalise(logw: number[]): Float64Array {
  const top = Math.max(...logw);
  const w = Float64Array.from(logw, (v) => Math.exp(v - top));
  const s = w.reduce((a, b) => a + b, 0);
  return w.map((v) => v / s);
}

describe('Diffusion Tree Sampling', () => {
  it('the tree law is exp(λ r) Π 1/|C| normalised, its root value the soft mean, and Boltzmann draws follow it', async () => {
    const before = tf.memory().numTensors;
    const lambda = 1.5;
    const res = await St.diffusionTreeSampling(MODEL, { reward: St.linearReward(A), lambda, budget: 600, steps: 10, batch: 8, samples: 4000, checkFinite: false, seed: 3 });
    expect(res.evaluations).toBeLessThanOrEqual(600);
    expect(res.rollouts).toBe(res.leaves.weights.length);
    const direct = pathWeights(res.root, lambda, 10);
    const w = normalise(direct.logw);
    // the same depth-first order
    expect(Array.from(res.leaves.x)).toEqual(direct.x.map((v) => Math.fround(v)));
    for (let i = 0; i < w.length; i++) expect(res.leaves.weights[i]).toBeCloseTo(w[i]!, 10);
    // root value = (1/λ) log Σ_leaves Π(1/|C|) exp(λ r)
    const top = Math.max(...direct.logw);
    expect(res.rootValue).toBeCloseTo((top + Math.log(direct.logw.reduce((a, v) => a + Math.exp(v - top), 0))) / lambda, 9);
    // draws: each leaf's frequency within 4.5 binomial standard errors of its probability
    const key = (arr: ArrayLike<number>, i: number) => `${arr[2 * i]},${arr[2 * i + 1]}`;
    const index = new Map<string, number>();
    for (let i = 0; i < w.length; i++) index.set(key(res.leaves.x, i), i);
    const drawn = await res.x.data();
    const counts = new Float64Array(w.length);
    for (let j = 0; j < 4000; j++) counts[index.get(key(drawn, j))!]!++;
    for (let i = 0; i < w.length; i++) expect(Math.abs(counts[i]! / 4000 - w[i]!)).toBeLessThan(4.5 * Math.sqrt((w[i]! * (1 - w[i]!)) / 4000) + 1e-9);
    res.x.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('grown uniformly (the default), the tree law recovers the tilted mixture; the soft backup without its 1/λ does not', async () => {
    const lambda = 0.5;
    const target = St.linearTilt(MIX.marginal(SCH, SCH.tMin), A, lambda);
    const good: WeightedRun[] = [];
    const bad: WeightedRun[] = [];
    for (let r = 0; r < 10; r++) {
      const res = await St.diffusionTreeSampling(MODEL, { reward: St.linearReward(A), lambda, budget: 15_000, steps: 100, batch: 64, checkFinite: false, seed: `dts-u-${r}` });
      good.push({ x: res.leaves.x, weights: res.leaves.weights });
      bad.push(missingInverseLambda(res.root, lambda, 100));
      res.x.dispose();
    }
    const ok = checkWeightedRuns(good, 2, mixtureStatistics(target));
    const wrong = checkWeightedRuns(bad, 2, mixtureStatistics(target));
    if (process.env.TYCHE_REPORT) console.log(`DTS uniform growth: ${ok.summary}; planted (backup without 1/λ): ${wrong.summary}`);
    expect(ok.pass, ok.summary).toBe(true);
    expect(wrong.pass, wrong.summary).toBe(false);
  }, 120_000);

  it('DTS* finds higher rewards than best-of-N at equal network evaluations (a sharp reward off the data)', async () => {
    // r(x) = -20 |x - (0, 1.5)|^2: a point between the mixture's components, rarely reached by plain samples
    const needle = St.tensorReward('needle', (x) => tf.mul(tf.sum(tf.square(tf.sub(x, tf.tensor2d([[0, 1.5]]))), 1), -20));
    const diff: number[] = [];
    for (let r = 0; r < 8; r++) {
      const star = await St.diffusionTreeSampling(MODEL, { reward: needle, mode: 'search', budget: 3000, steps: 30, batch: 8, checkFinite: false, seed: `star-${r}` });
      const bon = await St.diffusionBestOfN(MODEL, { reward: needle, n: 100, steps: 30, seed: `bon-${r}` });
      expect(star.evaluations).toBeLessThanOrEqual(bon.evaluations);
      diff.push(star.best.reward - bon.reward);
      tf.dispose([star.x, bon.x]);
    }
    const m = diff.reduce((a, b) => a + b, 0) / diff.length;
    const se = Math.sqrt(diff.reduce((a, b) => a + (b - m) ** 2, 0) / (diff.length - 1) / diff.length);
    if (process.env.TYCHE_REPORT) console.log(`DTS* - best-of-N at 3000 evaluations: ${m.toFixed(3)} ± ${se.toFixed(3)}`);
    expect(m / se).toBeGreaterThan(3);
  }, 120_000);

  it('bad input is named; an AbortSignal stops it within a level; no tensors are left', async () => {
    const reward = St.linearReward(A);
    const before = tf.memory().numTensors;
    await expect(St.diffusionTreeSampling(MODEL, { reward, budget: 100, sampler: D.ddim() })).rejects.toThrow(/deterministic; a tree needs a stochastic kernel/);
    await expect(St.diffusionTreeSampling(MODEL, { reward, budget: 100, lambda: 0 })).rejects.toThrow(/lambda must be a positive finite number/);
    await expect(St.diffusionTreeSampling(MODEL, { reward, budget: 10, steps: 20 })).rejects.toThrow(/budget of 10 evaluations does not cover one rollout of 20 steps/);
    await expect(St.diffusionTreeSampling(MODEL, { reward, budget: 100, mode: 'greedy' as St.DtsMode })).rejects.toThrow(/mode must be 'sample' \(DTS\) or 'search' \(DTS\*\)/);
    const nan: St.Reward = { name: 'nan', evaluate: (x) => new Float64Array(x.shape[0]!).fill(NaN) };
    await expect(St.diffusionTreeSampling(MODEL, { reward: nan, budget: 100, steps: 5 })).rejects.toThrow(/reward "nan" returned NaN for particle 0 at the final sample/);
    const ctl = new AbortController();
    const calls: number[] = [];
    const slow: D.DiffusionModel = {
      ...MODEL,
      predict(x, t, c) {
        calls.push(t);
        if (calls.length === 7) ctl.abort(new Error('tree stopped'));
        return MODEL.predict(x, t, c);
      },
    };
    await expect(St.diffusionTreeSampling(slow, { reward, budget: 10_000, steps: 20, signal: ctl.signal })).rejects.toThrow(/tree stopped/);
    expect(calls.length).toBe(7);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('zero-order search over the whole path', () => {
  it('the path noise determines the sample; the search spends what it reports, keeps its reward, and beats searching the initial noise alone under DDPM', async () => {
    const before = tf.memory().numTensors;
    const times = D.timeGrid(SCH, 10);
    const noise = tf.tidy(() => tf.randomNormal([3, 11, 2], 0, 1, 'float32', 5));
    const a = await St.sampleAlongNoise(MODEL, { sampler: D.ddpm(), times, noise });
    const b = await St.sampleAlongNoise(MODEL, { sampler: D.ddpm(), times, noise });
    expect(Array.from(await a.x.data())).toEqual(Array.from(await b.x.data()));
    expect(a.evaluations).toBe(10);
    // the same initial noise with other step noises: another sample (the step noise matters under DDPM)
    const other = tf.tidy(() => tf.concat([tf.slice(noise, [0, 0], [3, 1]), tf.randomNormal([3, 10, 2], 0, 1, 'float32', 6)], 1));
    const c = await St.sampleAlongNoise(MODEL, { sampler: D.ddpm(), times, noise: other });
    expect(maxAbs(await a.x.data(), await c.x.data())).toBeGreaterThan(0.05);
    tf.dispose([a.x, b.x, c.x, noise, other]);
    const reward = St.tensorReward('needle', (x) => tf.mul(tf.sum(tf.square(tf.sub(x, tf.tensor2d([[0, 1.5]]))), 1), -20));
    // 8 seeds, 60 samples each: the search over every noise against the search over the initial noise (DDPM redraws the rest)
    const diffs: number[] = [];
    for (let r = 0; r < 8; r++) {
      const opts = { reward, rounds: 12, neighbours: 5, steps: 20, seed: `zo-path-${r}` };
      const path = await St.zeroOrderSearch(MODEL, { ...opts, over: 'path' });
      const init = await St.zeroOrderSearch(MODEL, opts);
      expect(path.evaluations).toBe((1 + 12 * 5) * 20);
      for (let i = 1; i < path.trace.length; i++) expect(path.trace[i]!).toBeGreaterThanOrEqual(path.trace[i - 1]!);
      expect((await St.evaluateReward(reward, path.x, { step: -1, t: 0 }))[0]).toBeCloseTo(path.reward, 4);
      diffs.push(path.reward - init.reward);
      tf.dispose([path.x, init.x]);
    }
    const mean = diffs.reduce((x, y) => x + y, 0) / diffs.length;
    const se = Math.sqrt(diffs.reduce((x, y) => x + (y - mean) ** 2, 0) / (diffs.length - 1) / diffs.length);
    if (process.env.TYCHE_REPORT) console.log(`zero-order over the path - over the initial noise: ${mean.toFixed(3)} ± ${se.toFixed(3)} (8 seeds)`);
    expect(mean).toBeGreaterThan(2 * se);
    await expect(St.zeroOrderSearch(MODEL, { reward, rounds: 1, neighbours: 1, over: 'path', sampler: D.ddim() })).rejects.toThrow(/over: 'path' searches the noise a stochastic sampler injects at each step; ddim/);
    const short = tf.zeros([1, 4, 2]);
    await expect(St.sampleAlongNoise(MODEL, { sampler: D.ddpm(), times, noise: short })).rejects.toThrow(/noise has 4 blocks for 10 steps/);
    short.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('search over paths and steerAtBudget', () => {
  it('path search spends what its rounds cost, returns the reward of its sample, never worse than its own first round', async () => {
    const before = tf.memory().numTensors;
    const reward = St.linearReward(A);
    const res = await St.pathSearch(MODEL, { reward, width: 3, branches: 4, forward: 2, backward: 5, steps: 20, seed: 9 });
    // rounds: 0→5, then from 3→8, 6→11, 9→14, 12→17, 15→20 (final): 6 rounds of 12 branches; each but the last scores an x0-prediction
    expect(res.evaluations).toBe(12 * (5 + 5 * 5) + 12 * 5);
    expect(res.trace).toHaveLength(6);
    const r = await St.evaluateReward(reward, res.x, { step: -1, t: 0 });
    expect(r[0]).toBeCloseTo(res.reward, 4);
    res.x.dispose();
    await expect(St.pathSearch(MODEL, { reward, forward: 3, backward: 3 })).rejects.toThrow(/backward \(3\) must exceed forward \(3\)/);
    await expect(St.pathSearch(MODEL, { reward, width: 0 })).rejects.toThrow(/pathSearch: width must be a positive integer, got 0/);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('every method stays within the budget and reports the rewards of what it returns', async () => {
    const before = tf.memory().numTensors;
    const reward = St.linearReward(A);
    for (const method of St.STEER_METHODS) {
      const run = await St.steerAtBudget(MODEL, method, { reward, likelihood: St.mixtureClassLikelihood(MIX, 1, SCH), budget: 400, steps: 20, seed: 1, keep: [0, 10, 20] });
      expect(run.evaluations, method).toBeLessThanOrEqual(400);
      expect(run.evaluations, method).toBeGreaterThanOrEqual(200); // each spends the budget up to less than a unit of its cost (budget-session15)
      const r = await St.evaluateReward(reward, run.x, { step: -1, t: 0 });
      for (let i = 0; i < r.length; i++) expect(r[i], `${method} row ${i}`).toBeCloseTo(run.rewards[i]!, 4);
      expect(run.weights.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9);
      // frames over time for every method with one (FK and TDS from step 1; the search over paths goes back in time)
      expect(run.frames.map((f) => f.step), method).toEqual(method === 'path' ? [] : method === 'fk' || method === 'tds' ? [10, 20] : [0, 10, 20]);
      const x = await run.x.data();
      const last = run.frames[run.frames.length - 1];
      if (last && method !== 'fk' && method !== 'tds') expect(Array.from(last.x), `${method}: the last frame is the returned sample`).toEqual(Array.from(x));
      run.x.dispose();
    }
    await expect(St.steerAtBudget(MODEL, 'fk', { reward, budget: 10, steps: 20 })).rejects.toThrow(/budget of 10 evaluations does not cover one sample of 20 steps/);
    expect(tf.memory().numTensors).toBe(before);
  });
});

function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}
