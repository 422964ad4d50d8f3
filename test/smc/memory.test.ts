/**
 * Tensors held during an SMC run over a program do not grow with the number
 * of observations T: the peak of `tf.memory().numTensors` inside a run
 * (read at every step from `onStep`) is the same at T = 20, 40 and 80 on the
 * general per-particle runtime and on the batched one. Planted: with the old
 * retention (`retention.keepSiteDensities`: each site's log-density tensor
 * held until the particle or the run ends) the same check fails, the peak
 * growing by about one tensor per particle (general) or per step (batched)
 * and observation. Also the three leaks the probe found in code every engine
 * shares: a distribution's parameter check on a tensor, a batched draw from
 * a distribution whose parameters hold every particle, and a batched site's
 * density computed without a scope where a run with numbers had seen numbers.
 */
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import { type Ctx, execute, model } from '../../src/core/model.js';
import { rngFrom } from '../../src/core/rng.js';
import { Normal } from '../../src/distributions/normal.js';
import { type Value, ops } from '../../src/index.js';
import { infer } from '../../src/infer/registry.js';
import '../../src/infer/smc/program.js';
import { BatchedProgram, batchedDraws, batchedProgramStore, checkFinalParticles } from '../../src/infer/smc/program-batched.js';
import { retention } from '../../src/infer/smc/retention.js';
import type { ParticleStore } from '../../src/infer/smc/store.js';
import { batchedWalkRun, walk } from './program-helpers.js';

/** Observations of a vector latent, data held as tensors made before the run (the model makes no tensor of its own). */
let DATA: tf.Tensor[] = [];

beforeAll(async () => {
  await initBackend('cpu');
  DATA = Array.from({ length: 80 }, (_, t) => tf.tensor1d([0.3, 0.1, -0.2, Math.sin(t)]));
});

afterAll(() => {
  tf.dispose(DATA);
});

/** v ~ N(0, I_4), y_t ~ N(v, I) for t < T: on tensors (runs per particle on the general runtime). */
const vectorObs = model(async ({ sample, observe }: Ctx, T: number) => {
  const v = await sample('v', Normal(0, 1).expand([4]));
  for (let t = 0; t < T; t++) await observe(`y${t}`, Normal(v, 1), DATA[t]);
  return v;
});

/** mu ~ N(0, 1) observed T times (batched: mu is one tensor of every particle). */
const scalarObs = model(async ({ sample, observe }: Ctx, T: number) => {
  const mu = await sample('mu', Normal(0, 1));
  for (let t = 0; t < T; t++) await observe(`y${t}`, Normal(mu, 1), Math.sin(t));
  return mu;
});

const TS = [20, 40, 80];
const N = 20;

/** The peak count of live tensors during a run (above the count before it) at each T, and each run's log Z. */
async function peaks(run: (T: number, onStep: () => void) => Promise<{ logZ: number; dispose(): void }>): Promise<{ peaks: number[]; logZ: number[] }> {
  const out = { peaks: [] as number[], logZ: [] as number[] };
  for (const T of TS) {
    const before = tf.memory().numTensors;
    let peak = 0;
    const post = await run(T, () => {
      peak = Math.max(peak, tf.memory().numTensors - before);
    });
    out.peaks.push(peak);
    out.logZ.push(post.logZ);
    post.dispose();
    expect(tf.memory().numTensors).toBe(before);
  }
  return out;
}

/** The same peaks with the old retention switched on. */
async function withOldRetention<T>(f: () => Promise<T>): Promise<T> {
  retention.keepSiteDensities = true;
  try {
    return await f();
  } finally {
    retention.keepSiteDensities = false;
  }
}

const general = (T: number, onStep: () => void) => infer(vectorObs, { method: 'smc', particles: N, batched: false, seed: 3, onStep }, T);
const batched = (T: number, onStep: () => void) => infer(scalarObs, { method: 'smc', particles: N, batched: true, seed: 3, onStep }, T);

describe('program SMC holds no tensor per observation during a run', () => {
  it('general runtime: the peak is the same at T = 20, 40, 80; the old retention grows by a tensor per particle and observation', async () => {
    const now = await peaks(general);
    expect(now.peaks[0]).toBeGreaterThan(0); // (the probe sees the particles' draws)
    expect(now.peaks).toEqual([now.peaks[0], now.peaks[0], now.peaks[0]]);
    const old = await withOldRetention(() => peaks(general));
    console.log(`general runtime, ${N} particles, T = ${TS.join(', ')}: peak tensors ${now.peaks.join(', ')}; old retention ${old.peaks.join(', ')}`);
    expect(old.peaks[2] - old.peaks[0]).toBeGreaterThanOrEqual((N * (TS[2] - TS[0])) / 2);
    // the same answers, bit for bit
    expect(old.logZ).toEqual(now.logZ);
  });

  it('batched runtime: the peak is the same at T = 20, 40, 80; the old retention grows by a tensor per observation', async () => {
    const now = await peaks(batched);
    expect(now.peaks).toEqual([now.peaks[0], now.peaks[0], now.peaks[0]]);
    const old = await withOldRetention(() => peaks(batched));
    console.log(`batched runtime, ${N} particles, T = ${TS.join(', ')}: peak tensors ${now.peaks.join(', ')}; old retention ${old.peaks.join(', ')}`);
    expect(old.peaks[2] - old.peaks[0]).toBeGreaterThanOrEqual((TS[2] - TS[0]) / 2);
    expect(old.logZ).toEqual(now.logZ);
  });
});

describe('batched program SMC frees what `ops` made for a number operand (found: 2 tensors held per step for `ops.mul(x, 0.9)`)', () => {
  /** x_t ~ N(0.9 x_{t-1}, 1), y_t ~ N(x_t, 1): `scaled` makes the drift's tensor; `ops` or raw tfjs with a scalar of its own (planted). */
  const ar1 = (scaled: (x: Value) => Value) =>
    model(async ({ sample, observe }: Ctx, T: number) => {
      let x: Value = await sample('x0', Normal(0, 1));
      for (let t = 0; t < T; t++) {
        if (t > 0) x = await sample(`x${t}`, Normal(scaled(x), 1));
        await observe(`y${t}`, Normal(x, 1), Math.sin(t));
      }
      return x;
    });
  const viaOps = ar1((x) => ops.mul(x, 0.9));
  const ownScalar = ar1((x) => tf.mul(x as tf.Tensor, tf.scalar(0.9)));
  const run = (m: typeof viaOps) => (T: number, onStep: () => void) => infer(m, { method: 'smc', particles: N, batched: true, seed: 3, onStep }, T);

  it('the peak grows by 2 tensors a step (the draw the trace keeps, and the drift the program made), not 3; planted: a scalar of the model\'s own is 3', async () => {
    const now = await peaks(run(viaOps));
    const planted = await peaks(run(ownScalar));
    const perStep = (p: number[]) => [(p[1] - p[0]) / (TS[1] - TS[0]), (p[2] - p[1]) / (TS[2] - TS[1])];
    console.log(`ops.mul(x, 0.9), batched, ${N} particles, T = ${TS.join(', ')}: peak tensors ${now.peaks.join(', ')}; tf.mul(x, tf.scalar(0.9)) ${planted.peaks.join(', ')}`);
    expect(perStep(now.peaks)).toEqual([2, 2]);
    expect(perStep(planted.peaks)).toEqual([3, 3]);
    // the same particles and weights, bit for bit
    expect(planted.logZ).toEqual(now.logZ);
  });
});

describe('the final check of a batched run compares each particle\'s densities summed over its sites (the sites\' tensors are freed)', () => {
  const YS = Array.from({ length: 15 }, (_, t) => Math.sin(t / 3));

  /** A batched run of the walk, resampled at every step with `store`; whether checking every final particle passes. */
  async function checkedRun(store: ParticleStore<BatchedProgram<tf.Tensor>>): Promise<string> {
    return batchedWalkRun(YS, 12, store, { seed: 5, essThreshold: 1 }, (res) => {
      const { draws, rows } = batchedDraws(res.state, res.logWeights);
      const which = rows.map((row, k) => ({ row, draw: draws[k] }));
      return checkFinalParticles(walk as never, [YS], res.state, which, rngFrom(6)).then(
        () => 'passed',
        (err: Error) => err.message,
      );
    });
  }

  it('passes on the engine\'s run; fails where resampling forgets to carry the totals with the particles (planted)', async () => {
    expect(await checkedRun(batchedProgramStore<tf.Tensor>())).toBe('passed');
    const forgetful: ParticleStore<BatchedProgram<tf.Tensor>> = {
      ...batchedProgramStore<tf.Tensor>(),
      select(state, ancestors) {
        state.open.axis.resample(ancestors);
        return state;
      },
    };
    expect(await checkedRun(forgetful)).toMatch(/has log density .* summed over its 30 sites, the batched run/);
  });
});

describe('shared code leaves no intermediate tensor behind', () => {
  it('a distribution with a tensor parameter: the parameter check leaves nothing', () => {
    const loc = tf.zeros([4]);
    const before = tf.memory().numTensors;
    Normal(loc, 1);
    expect(tf.memory().numTensors).toBe(before);
    loc.dispose();
  });

  it('a batched execution keeps only its draws and densities (a draw from parameters that hold every particle; a site that a run with numbers scored with numbers)', async () => {
    const m = model(async ({ sample, observe }: Ctx) => {
      const x0 = await sample('x0', Normal(0, 1));
      const x1 = await sample('x1', Normal(x0, 1));
      await observe('y', Normal(x1, 1), 0.5);
    });
    await execute(m, { rng: rngFrom(1) }); // numbers: the sites are marked as computing with numbers
    const before = tf.memory().numTensors;
    const { trace } = await execute(m, { rng: rngFrom(2), batch: { size: 7, plateNesting: 0 } });
    // two draws, three densities
    expect(tf.memory().numTensors - before).toBe(5);
    trace.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
