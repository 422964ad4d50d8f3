/**
 * Diffusion steering (fast tier) on the analytic 2-D Gaussian mixture:
 * FK steering recovers the closed-form tilted mixture under a linear reward
 * (means μ_k + λΣ_k a, weights ∝ π_k exp(λ a·μ_k + λ² aᵀΣ_k a / 2)) within
 * Monte Carlo error across independent runs; planted bugs (weights not
 * accumulated between adaptive resamplings, as in FK steering's public code;
 * the weights dropped) fail the same check. Bad input, NaN/throwing rewards,
 * weight underflow, abort and memory. The other potentials and the
 * convergence in particles and steps are in steering.slow.test.ts.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import '../../../src/backend/gradients.js';
import { initBackend } from '../../../src/backend/select.js';
import { runSMC, batchedStore, type FeynmanKac } from '../../../src/infer/smc/index.js';
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
const LAMBDA = 1;
const TARGET = St.linearTilt(MIX.marginal(SCH, SCH.tMin), A, LAMBDA);
const RUNS = 10;
/** DDPM's own discretisation bias must stay below the Monte Carlo error of RUNS x 64 particles. */
const STEPS = 100;

let resamplings = 0;
async function fkRuns(opts: Partial<St.FkRunOptions>, runs = RUNS): Promise<WeightedRun[]> {
  const out: WeightedRun[] = [];
  resamplings = 0;
  for (let r = 0; r < runs; r++) {
    const res = await St.fkSteering(MODEL, { reward: St.linearReward(A), lambda: LAMBDA, particles: 64, steps: STEPS, checkFinite: false, seed: `fk-${opts.potential ?? 'diff'}-${r}`, ...opts });
    out.push({ x: await res.x.data(), weights: Float64Array.from(res.weights) });
    resamplings += res.resampledAt.length;
    res.x.dispose();
  }
  return out;
}

/** Planted bug (FK steering's issue #12): the weight after a step is only that step's potential, not accumulated since the last resampling. */
function nonAccumulating(base: FeynmanKac<St.FkState>): FeynmanKac<St.FkState & { since: Float64Array }> {
  type S = St.FkState & { since: Float64Array };
  const store = batchedStore<S>();
  return {
    init: async (n, rng) => ({ ...(await base.init(n, rng)), since: new Float64Array(n) }),
    done: (t, s) => base.done(t, s),
    async step(state, t, rng) {
      const out = await base.step(state, t, rng);
      const lp = Float64Array.from(out.logPotential as ArrayLike<number>);
      const reported = lp.map((v, i) => v - state.since[i]!);
      return { state: { ...out.state, since: lp }, logPotential: reported };
    },
    store: { ...store, select: (s, a, n) => ({ ...store.select(s, a, n), since: new Float64Array(n) }) },
  };
}

describe('the closed-form tilted mixture', () => {
  it('linearTilt matches importance-weighted exact draws of the mixture', async () => {
    const { Rng } = await import('../../../src/core/rng.js');
    const runs: WeightedRun[] = [];
    for (let r = 0; r < 10; r++) {
      const x = MIX.sample(2000, new Rng(`tilt-${r}`)).x;
      const w = Float64Array.from({ length: 2000 }, (_, i) => Math.exp(LAMBDA * (A[0]! * x[2 * i]! + A[1]! * x[2 * i + 1]!)));
      runs.push({ x, weights: w });
    }
    const tilt = St.linearTilt(MIX, A, LAMBDA);
    const ok = checkWeightedRuns(runs, 2, mixtureStatistics(tilt));
    expect(ok.pass, ok.summary).toBe(true);
    // planted bug: the means shifted by λa instead of λΣ_k a
    const wrong = new D.GaussianMixture(MIX.means.map((m, k) => ({ weight: tilt.weights[k]!, mean: m.map((v, i) => v + LAMBDA * A[i]!), covariance: MIX.covariances[k]! })));
    const bad = checkWeightedRuns(runs, 2, mixtureStatistics(wrong));
    expect(bad.pass, bad.summary).toBe(false);
  });
});

describe('FK steering', () => {
  it('recovers the tilted mixture with ESS-adaptive resampling (diff); without weights accumulated between resamplings it is biased', async () => {
    const runs = await fkRuns({ potential: 'diff', essThreshold: 0.7 });
    const ok = checkWeightedRuns(runs, 2, mixtureStatistics(TARGET));
    expect(ok.pass, ok.summary).toBe(true);
    expect(resamplings).toBeGreaterThanOrEqual(RUNS); // adaptive resampling happened, with weights accumulated between

    const bugRuns: WeightedRun[] = [];
    for (let r = 0; r < RUNS; r++) {
      const fk = nonAccumulating(St.fkSteeringModel(MODEL, { reward: St.linearReward(A), lambda: LAMBDA, steps: STEPS, checkFinite: false }));
      const res = await runSMC(fk, { particles: 64, essThreshold: 0.7, seed: `fk-diff-${r}`, genealogy: false });
      bugRuns.push({ x: await res.state.x.data(), weights: Float64Array.from(res.weights) });
      res.store.dispose(res.state);
    }
    const bug = checkWeightedRuns(bugRuns, 2, mixtureStatistics(TARGET));
    if (process.env.TYCHE_REPORT) console.log(`tilted mixture: ${ok.summary}; planted non-accumulating weights: ${bug.summary}`);
    expect(bug.pass, bug.summary).toBe(false);
  });

  it('max potential with a resampling interval and a time window, soft reward over x0 draws', async () => {
    const runs = await fkRuns({ potential: 'max', interval: 3, window: [0.05, 0.8], x0Samples: 4, essThreshold: 0.5 }, 8);
    const ok = checkWeightedRuns(runs, 2, mixtureStatistics(TARGET));
    expect(ok.pass, ok.summary).toBe(true);
  });

  it('counts network and reward evaluations; weights accumulate (resampled only when ESS falls)', async () => {
    const res = await St.fkSteering(MODEL, { reward: St.linearReward(A), lambda: 3, particles: 32, steps: 20, interval: 5, seed: 1 });
    expect(res.evaluations).toBe(20);
    expect(res.totalEvaluations).toBe(640);
    expect(res.rewardCalls).toBe(5); // steps 0, 5, 10, 15 and the final sample
    // resampling happens only right after a potential step
    for (const t of res.resampledAt) expect((t - 1) % 5).toBe(0);
    expect(res.resampledAt.length).toBeGreaterThan(0);
    res.x.dispose();
  });
});

describe('FK steering: bad input and long runs', () => {
  const nanReward: St.Reward = { name: 'nan-at-3', evaluate: (x) => Float64Array.from({ length: x.shape[0]! }, (_, i) => (i === 3 ? NaN : 0)) };
  const boom: St.Reward = {
    name: 'boom',
    evaluate: () => {
      throw new Error('classifier offline');
    },
  };

  it('names a reward that returns NaN or throws, and bad options', async () => {
    // counted from here: default-tier files share a worker (isolate: false), so the absolute count holds other files' tensors
    const before = tf.memory().numTensors;
    await expect(St.fkSteering(MODEL, { reward: nanReward, particles: 8, steps: 5 })).rejects.toThrow(/reward "nan-at-3" returned NaN for particle 3 at step 0/);
    await expect(St.fkSteering(MODEL, { reward: boom, particles: 8, steps: 5 })).rejects.toThrow(/reward "boom" threw at step 0 \(t = 1\): classifier offline/);
    const short: St.Reward = { name: 'short', evaluate: () => [1, 2] };
    await expect(St.fkSteering(MODEL, { reward: short, particles: 8, steps: 5 })).rejects.toThrow(/reward "short" returned 2 values at step 0.*expected 8/);
    await expect(St.fkSteering(MODEL, { reward: St.linearReward(A), potential: 'sum' as St.FkPotential, particles: 8 })).rejects.toThrow(/potential must be one of diff, max, add, rt, got "sum"/);
    await expect(St.fkSteering(MODEL, { reward: St.linearReward(A), interval: 0, particles: 8 })).rejects.toThrow(/interval must be a positive integer/);
    await expect(St.fkSteering(MODEL, { reward: St.linearReward([1, 2, 3]), particles: 8, steps: 3 })).rejects.toThrow(/reward "linear" threw at step 0.*\[8, 2\] do not have 3 entries/);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('a reward so sharp that every weight underflows stays in log space: ESS reported, no NaN', async () => {
    const res = await St.fkSteering(MODEL, { reward: St.linearReward(A), lambda: 1e6, particles: 16, steps: 10, essThreshold: 0, seed: 2 });
    expect(res.weights.every(Number.isFinite)).toBe(true);
    expect(res.logWeights.every((v) => !Number.isNaN(v))).toBe(true);
    expect(res.essHistory.every((e) => e >= 1 && e <= 16)).toBe(true);
    expect(res.essHistory.at(-1)).toBeLessThan(1.01);
    expect(Number.isFinite(res.logZ)).toBe(true);
    res.x.dispose();
  });

  it('an AbortSignal stops within one step and memory stays flat over a long run', async () => {
    const ctl = new AbortController();
    let seen = 0;
    await expect(
      St.fkSteering(MODEL, {
        reward: St.linearReward(A),
        particles: 8,
        steps: 50,
        signal: ctl.signal,
        onStep: ({ step }) => {
          seen = step;
          if (step === 3) ctl.abort(new Error('stop here'));
        },
      }),
    ).rejects.toThrow(/stop here/);
    expect(seen).toBe(3);
    const counts: number[] = [];
    const before = tf.memory().numTensors;
    const res = await St.fkSteering(MODEL, { reward: St.linearReward(A), lambda: 2, particles: 16, steps: 300, essThreshold: 0.9, onStep: () => void counts.push(tf.memory().numTensors) });
    expect(res.resampledAt.length).toBeGreaterThan(5);
    expect(Math.max(...counts.slice(10)) - Math.min(...counts.slice(10))).toBe(0);
    res.x.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('twisted diffusion sampler (fast checks; the class-conditional check is in steering.slow.test.ts)', () => {
  it('counts evaluations, names a bad likelihood, frees its tensors; inpainting likelihood shapes', async () => {
    const before = tf.memory().numTensors;
    const res = await St.twistedDiffusion(MODEL, { likelihood: St.mixtureClassLikelihood(MIX, 1, SCH), particles: 32, steps: 20, seed: 4 });
    expect(res.evaluations).toBe(2 + 20 + 2 * 19); // twist at the start, one kernel per step, twist after every move but the last
    expect(res.essHistory.every((e) => e > 0 && e <= 32)).toBe(true);
    res.x.dispose();
    expect(tf.memory().numTensors).toBe(before);
    const bad: St.LogLikelihood = { name: 'broken', logProb: (x) => tf.mul(tf.sum(x, 1), NaN) };
    await expect(St.twistedDiffusion(MODEL, { likelihood: bad, particles: 4, steps: 5 })).rejects.toThrow(/likelihood "broken" gave NaN for particle 0 \(the twist on the x0-prediction\) at step 0/);
    await expect(St.twistedDiffusion(MODEL, { likelihood: bad, particles: 4, steps: 5, sampler: D.flowOde() })).rejects.toThrow(/deterministic; the twisted proposal needs a stochastic/);
    const inpaint = St.maskedGaussianLikelihood([1, 0], [1, 0], 0.1);
    const x = tf.tensor2d([[1, 5], [0, 5]]);
    const lpT = inpaint.logProb(x);
    const lp = lpT.arraySync() as number[];
    lpT.dispose();
    expect(lp[0]! - lp[1]!).toBeCloseTo(50, 3); // only the observed coordinate counts: (0 - 1)^2 / (2 * 0.01)
    x.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('search baselines', () => {
  it('best-of-N and zero-order noise search count evaluations, keep the best, never lose reward', async () => {
    const before = tf.memory().numTensors;
    const reward = St.linearReward(A);
    const bon = await St.diffusionBestOfN(MODEL, { reward, n: 24, batch: 8, steps: 10, sampler: D.ddim(), seed: 5 });
    expect(bon.evaluations).toBe(240);
    expect(bon.trace).toHaveLength(3);
    for (let i = 1; i < bon.trace.length; i++) expect(bon.trace[i]!).toBeGreaterThanOrEqual(bon.trace[i - 1]!);
    const r = await St.evaluateReward(reward, bon.x, { step: -1, t: 0 });
    expect(r[0]).toBeCloseTo(bon.reward, 4);
    bon.x.dispose();
    const zo = await St.zeroOrderSearch(MODEL, { reward, rounds: 4, neighbours: 5, steps: 10, sampler: D.ddim(), seed: 6 });
    expect(zo.evaluations).toBe((1 + 4 * 5) * 10);
    for (let i = 1; i < zo.trace.length; i++) expect(zo.trace[i]!).toBeGreaterThanOrEqual(zo.trace[i - 1]!);
    const rz = await St.evaluateReward(reward, zo.x, { step: -1, t: 0 });
    expect(rz[0]).toBeCloseTo(zo.reward, 4);
    zo.x.dispose();
    await expect(St.diffusionBestOfN(MODEL, { reward, n: 0 })).rejects.toThrow(/n must be a positive integer, got 0/);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('rollover budget forcing', () => {
  it('spends at most its budget, rolls unused allowance over, keeps the reward of its sample; also on a flow through flowSde', async () => {
    const before = tf.memory().numTensors;
    const reward = St.linearReward(A);
    const none = await St.rolloverBudgetForcing(MODEL, { reward, budget: 0, steps: 10, seed: 7 });
    expect(none.children).toEqual(new Array(10).fill(1));
    expect(none.evaluations).toBe(10 + 9); // a kernel a step, an x0-prediction per child but the last
    none.x.dispose();
    const rbf = await St.rolloverBudgetForcing(MODEL, { reward, budget: 40, steps: 10, seed: 7 });
    // session 15: the budget is spread over the 9 steps whose children cost an evaluation, and spent in full (the last of them draws what is left)
    expect(rbf.children.slice(0, 9).reduce((a, b) => a + b, 0)).toBe(40);
    expect(rbf.evaluations).toBe(10 + 40);
    // a constant reward: the first child of step 0 beats -Infinity (4 of its 5 roll over), then no child ever improves;
    // 40 = 9 x 4 + 4 extra (steps 0-3 get 5); the last step's children are scored on the sample (no evaluation), its share 4
    const flat: St.Reward = { name: 'flat', evaluate: (x) => new Float64Array(x.shape[0]!) };
    const rolled = await St.rolloverBudgetForcing(MODEL, { reward: flat, budget: 40, steps: 10, seed: 7 });
    expect(rolled.children).toEqual([1, 9, 5, 5, 4, 4, 4, 4, 4, 4]);
    expect(rolled.evaluations).toBe(10 + 40);
    rolled.x.dispose();
    const r = await St.evaluateReward(reward, rbf.x, { step: -1, t: 0 });
    expect(r[0]).toBeCloseTo(rbf.reward, 4);
    rbf.x.dispose();
    const flow = MIX.model(D.linearInterpolant(), 'velocity');
    const f = await St.rolloverBudgetForcing(flow, { reward, budget: 20, steps: 10, sampler: D.flowSde(), seed: 8 });
    expect(f.trace).toHaveLength(10);
    f.x.dispose();
    await expect(St.rolloverBudgetForcing(flow, { reward, budget: 5, sampler: D.flowOde() })).rejects.toThrow(/deterministic; children need a stochastic step/);
    expect(tf.memory().numTensors).toBe(before);
  });
});
