/**
 * Batched program SMC (one execution for all particles, resampling by lazy
 * in-place gathers) against per-particle program SMC and the Kalman filter;
 * the fallback to per-particle execution and its reasons; the per-particle
 * path's replay without density recomputation; memory and abort.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import { model } from '../../src/core/model.js';
import * as ops from '../../src/core/value.js';
import { Normal, NormalDistribution } from '../../src/distributions/normal.js';
import { Uniform } from '../../src/distributions/uniform.js';
import { Bernoulli } from '../../src/distributions/bernoulli.js';
import { infer } from '../../src/infer/registry.js';
import '../../src/infer/smc/program.js';
import { type RunOut, checkAgainstKalman, forgetfulBatched, forgetfulLean, walk } from './program-helpers.js';
import { meanSE } from '../stats.js';

beforeAll(async () => {
  await initBackend();
});

const YS = [0.3, -0.5, 1.2, 2.0, 1.1, 0.4, -0.3, 0.8, 1.5, 0.9];

const SEEDS = 24;
const N = 200;

async function engineRun(seed: number, batched: boolean): Promise<RunOut> {
  const post = await infer(walk, { method: 'smc', particles: N, seed, batched }, YS);
  expect(post.diagnostics.execution).toBe(batched ? 'batched' : 'per-particle');
  const out = { logZ: post.logZ, meanX: post.expectation((d) => d.returnValue as number) };
  post.dispose();
  return out;
}

/** The random walk with a Normal that counts its log-density calls (`calls()`), to see which sites a runtime scores. */
function countingWalk(): { counted: ReturnType<typeof model<[number[]], unknown>>; calls: () => number } {
  let calls = 0;
  class Counted extends NormalDistribution {
    override logProb(x: ops.Value): ops.Value {
      calls++;
      return super.logProb(x);
    }
  }
  const counted = model(async ({ sample, observe }, ys: number[]) => {
    let x = await sample('x0', new Counted(0, 1));
    for (let t = 0; t < ys.length; t++) {
      if (t > 0) x = await sample(`x${t}`, new Counted(x, 1));
      await observe(`y${t}`, new Counted(x, 1), ys[t]);
    }
    return x;
  });
  return { counted, calls: () => calls };
}

describe('batched program SMC', () => {
  it('matches the Kalman filter and per-particle program SMC within MCSE; a resampling that forgets the live values fails the same check', async () => {
    const batched = await checkAgainstKalman(YS, SEEDS, (s) => engineRun(s, true));
    expect(batched.ok, `batched: ${batched.detail}`).toBe(true);
    const perParticle = await checkAgainstKalman(YS, SEEDS, (s) => engineRun(s, false));
    expect(perParticle.ok, `per-particle: ${perParticle.detail}`).toBe(true);
    // the two engines' log Z distributions: equal means within MCSE
    const a = meanSE(batched.logZs);
    const b = meanSE(perParticle.logZs);
    expect(Math.abs(a.mean - b.mean), `mean log Z batched ${a.mean} ± ${a.se}, per-particle ${b.mean} ± ${b.se}`).toBeLessThan(4 * Math.hypot(a.se, b.se));
    const planted = await checkAgainstKalman(YS, SEEDS, (s) => forgetfulBatched(YS, N, s));
    expect(planted.ok, `planted bug passed: ${planted.detail}`).toBe(false);
    if (process.env.TYCHE_REPORT) console.log(`batched ${batched.detail}\nper-particle ${perParticle.detail}\nplanted ${planted.detail}`);
  }, 120_000);

  it('carries values computed from draws across resamplings (derived tensors are gathered too)', async () => {
    // the state is held as a derived tensor (2x - x = x), and a second derived value spans several observations
    const derived = model(async ({ sample, observe }, ys: number[]) => {
      let twice = ops.mul(2, await sample('x0', Normal(0, 1)));
      for (let t = 0; t < ys.length; t++) {
        const x = ops.div(twice, 2);
        const next = t > 0 ? await sample(`x${t}`, Normal(x, 1)) : x;
        await observe(`y${t}`, Normal(next, 1), ys[t]);
        twice = ops.mul(next, 2);
      }
      return ops.div(twice, 2);
    });
    const a = await infer(derived, { method: 'smc', particles: 300, seed: 3, essThreshold: 1 }, YS);
    expect(a.diagnostics.execution).toBe('batched');
    // each particle's return value is its own last draw: rows stayed aligned through every resampling
    for (const d of a.draws) expect(d.returnValue as number).toBeCloseTo(d.values[`x${YS.length - 1}`] as number, 5);
    a.dispose();
  });

  it('falls back to per-particle execution when control flow depends on a draw, and says why', async () => {
    const branchy = model(async ({ sample, observe }) => {
      const u = await sample('u', Uniform(0, 1));
      const x = u > 0.5 ? await sample('a', Normal(1, 1)) : await sample('b', Normal(-1, 1));
      await observe('y', Normal(x, 1), 0.5);
      return x;
    });
    const post = await infer(branchy, { method: 'smc', particles: 50, seed: 1 });
    expect(post.diagnostics.execution).toBe('per-particle');
    expect(String(post.diagnostics.notBatched)).toMatch(/"u"/);
    await expect(infer(branchy, { method: 'smc', particles: 50, seed: 1, batched: true })).rejects.toThrow(/"u"/);
    // a branch on a tensor's truthiness does not throw: the condition watch catches it (a comparison never consumed)
    const truthy = model(async ({ sample, observe }) => {
      const u = await sample('u', Normal(0, 1));
      const x = ops.gt(u, 0) ? await sample('a', Normal(1, 1)) : await sample('b', Normal(-1, 1));
      await observe('y', Normal(x, 1), 0.5);
      return x;
    });
    // (checkConditions: false: the static check of the source would refuse this model before it runs)
    const t = await infer(truthy, { method: 'smc', particles: 50, seed: 2, checkConditions: false });
    expect(t.diagnostics.execution).toBe('per-particle');
    expect(String(t.diagnostics.notBatched)).toMatch(/^site "a": the model branches on a tensor comparison/);
    expect(t.draws.some((d) => 'b' in d.values)).toBe(true);
    // the same sites on both sides, but a density chosen by truthiness: caught by the densities
    const regimes = model(async ({ sample, observe }) => {
      const biased = await sample('biased', Bernoulli(0.3));
      const p = biased ? 0.8 : 0.3;
      for (let i = 0; i < 4; i++) await observe(`f${i}`, Bernoulli(p), i === 2 ? 0 : 1);
    });
    const r = await infer(regimes, { method: 'smc', particles: 50, seed: 3 });
    expect(r.diagnostics.execution).toBe('per-particle');
    expect(String(r.diagnostics.notBatched)).toMatch(/has log density/);
    const off = await infer(walk, { method: 'smc', particles: 20, seed: 1, batched: false }, YS);
    expect(off.diagnostics.notBatched).toBe('batched: false');
    await expect(infer(walk, { method: 'smc', particles: 20, batched: 'yes' as never }, YS)).rejects.toThrow(/batched must be/);
    await expect(infer(walk, { method: 'smc', particles: 20, batched: true, rejuvenate: { steps: 1 } }, YS)).rejects.toThrow(/rejuvenate runs per particle/);
  });

  it('keeps tf.memory flat over long runs and honours an AbortSignal', async () => {
    const long = Array.from({ length: 60 }, (_, t) => Math.sin(t / 5));
    const first = await infer(walk, { method: 'smc', particles: 500, seed: 1 }, long);
    first.dispose();
    const before = tf.memory().numTensors;
    for (let s = 0; s < 2; s++) (await infer(walk, { method: 'smc', particles: 500, seed: s }, long)).dispose();
    expect(tf.memory().numTensors).toBe(before);
    const ac = new AbortController();
    const run = infer(walk, { method: 'smc', particles: 500, seed: 1, signal: ac.signal, onStep: ({ step }: { step: number }) => (step === 20 ? ac.abort(new Error('stop here')) : undefined) }, long);
    await expect(run).rejects.toThrow(/stop here/);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('per-particle program SMC', () => {
  it('on the lean runtime matches the Kalman filter and the general runtime within MCSE; a resampling that forgets to copy fails the same check', async () => {
    const run = (lean: boolean) => async (seed: number): Promise<RunOut> => {
      const post = await infer(walk, { method: 'smc', particles: N, seed, batched: false, lean }, YS);
      expect(post.diagnostics.runtime).toBe(lean ? 'lean' : 'general');
      const out = { logZ: post.logZ, meanX: post.expectation((d) => d.returnValue as number) };
      post.dispose();
      return out;
    };
    const lean = await checkAgainstKalman(YS, SEEDS, run(true));
    expect(lean.ok, `lean: ${lean.detail}`).toBe(true);
    const general = await checkAgainstKalman(YS, SEEDS, run(false));
    expect(general.ok, `general: ${general.detail}`).toBe(true);
    const a = meanSE(lean.logZs);
    const b = meanSE(general.logZs);
    expect(Math.abs(a.mean - b.mean), `mean log Z lean ${a.mean} ± ${a.se}, general ${b.mean} ± ${b.se}`).toBeLessThan(4 * Math.hypot(a.se, b.se));
    // stronger: both runtimes draw the same numbers from the same streams in the same order, so each seed's run is the same run
    expect(lean.logZs).toEqual(general.logZs);
    const planted = await checkAgainstKalman(YS, SEEDS, (s) => forgetfulLean(YS, N, s));
    expect(planted.ok, `planted bug passed: ${planted.detail}`).toBe(false);
    if (process.env.TYCHE_REPORT) console.log(`lean ${lean.detail}\ngeneral ${general.detail}\nplanted ${planted.detail}`);
  }, 120_000);

  it('on the lean runtime: scopes, deterministic sites and stochastic control flow; falls back to the general runtime, which names errors as before', async () => {
    const branchy = model(async ({ sample, observe, scope, deterministic }) => {
      const u = await sample('u', Uniform(0, 1));
      const x = await scope('arm', () => (u > 0.5 ? sample('a', Normal(1, 1)) : sample('b', Normal(-1, 1))));
      deterministic('twice', 2 * x);
      await observe('y', Normal(x, 1), 0.5);
      await observe('z', Normal(x, 1), 0.7);
      return x;
    });
    const post = await infer(branchy, { method: 'smc', particles: 200, seed: 1, batched: false, essThreshold: 1 });
    expect(post.diagnostics.runtime).toBe('lean');
    expect(post.draws.some((d) => 'arm/a' in d.values) && post.draws.some((d) => 'arm/b' in d.values)).toBe(true);
    for (const d of post.draws) expect(d.values.twice).toBe(2 * (d.returnValue as number));
    // what the lean runtime does not run: the general runtime takes over and says why
    const plated = model(async ({ sample, observe, plate }) => {
      const m = await sample('m', Normal(0, 1));
      await plate('data', 2, () => observe('y', Normal(m, 1), tf.tensor1d([0.1, 0.2])));
    });
    const p = await infer(plated, { method: 'smc', particles: 20, seed: 1, batched: false });
    expect(p.diagnostics.runtime).toBe('general');
    expect(String(p.diagnostics.notLean)).toMatch(/plate/);
    p.dispose();
    const off = await infer(walk, { method: 'smc', particles: 20, seed: 1, batched: false, lean: false }, YS);
    expect(off.diagnostics.notLean).toBe('lean: false');
    // errors: the same as on the general runtime (a duplicate address, the model's own error)
    const twice = model(async ({ sample, observe }) => {
      const x = await sample('x', Normal(0, 1));
      await observe('y', Normal(x, 1), 0.1);
      await observe('y', Normal(x, 1), 0.2);
    });
    await expect(infer(twice, { method: 'smc', particles: 20, seed: 1, batched: false })).rejects.toThrow(/"y"/);
    const boom = model(async ({ sample, observe }) => {
      const x = await sample('x', Normal(0, 1));
      await observe('y', Normal(x, 1), 0.1);
      if (x > 1) throw new Error('boom in the model');
      await observe('z', Normal(x, 1), 0.2);
    });
    await expect(infer(boom, { method: 'smc', particles: 50, seed: 1, batched: false })).rejects.toThrow(/boom in the model/);
  });

  it('on the lean runtime computes one density per observation and particle (none at replayed or latent sites) and honours an AbortSignal', async () => {
    const { counted, calls } = countingWalk();
    const n = 40;
    const post = await infer(counted, { method: 'smc', particles: n, seed: 1, batched: false, essThreshold: 1 }, YS);
    expect(post.diagnostics.runtime).toBe('lean');
    expect(post.diagnostics.replays as number).toBeGreaterThan(n);
    // (plus one particle run on its own first: the probe that shows the model makes no tensors)
    expect(calls()).toBe((n + 1) * YS.length);
    const long = Array.from({ length: 100 }, (_, t) => Math.sin(t / 5));
    const ac = new AbortController();
    const run = infer(walk, { method: 'smc', particles: 300, seed: 1, batched: false, signal: ac.signal, onStep: ({ step }: { step: number }) => (step === 30 ? ac.abort(new Error('stop the lean run')) : undefined) }, long);
    await expect(run).rejects.toThrow(/stop the lean run/);
  });

  it('on the general runtime replays copies without recomputing densities: about one density per site and particle', async () => {
    const { counted, calls } = countingWalk();
    const n = 40;
    const post = await infer(counted, { method: 'smc', particles: n, seed: 1, batched: false, essThreshold: 1, lean: false }, YS);
    const sites = 2 * YS.length;
    // replayed copies (diagnostics.replays) re-run their prefix; with recomputation each would cost up to `sites` densities
    expect(post.diagnostics.replays as number).toBeGreaterThan(n);
    expect(calls()).toBeLessThanOrEqual(n * sites + 2 * (post.diagnostics.replays as number));
  });
});
