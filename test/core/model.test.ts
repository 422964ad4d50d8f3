import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import { block, condition, mask, model, replay, scale, seed, substitute, traceOf, uncondition, execute, Rng, ops, plateNestingOf } from '../../src/core/index.js';
import { Normal } from '../../src/distributions/normal.js';

beforeAll(async () => {
  await initBackend('cpu');
});

const HALF_LOG_2PI = 0.5 * Math.log(2 * Math.PI);
const normalLp = (x: number, m: number, s: number) => -0.5 * ((x - m) / s) ** 2 - Math.log(s) - HALF_LOG_2PI;

const simple = model(async ({ sample, observe }, y: number) => {
  const mu = await sample('mu', Normal(0, 1));
  await observe('y', Normal(mu, 0.5), y);
  return mu;
});

describe('model execution', () => {
  it('records sites in order with their log densities', async () => {
    const { trace, returnValue } = await traceOf(simple, 1, 0.3);
    expect([...trace.sites.keys()]).toEqual(['mu', 'y']);
    const mu = trace.get('mu')!.value as number;
    expect(returnValue).toBe(mu);
    expect(trace.logPrior()).toBeCloseTo(normalLp(mu, 0, 1), 12);
    expect(trace.logLikelihood()).toBeCloseTo(normalLp(0.3, mu, 0.5), 12);
    expect(trace.logJoint()).toBeCloseTo(normalLp(mu, 0, 1) + normalLp(0.3, mu, 0.5), 12);
  });

  it('is reproducible for a seed and differs across seeds', async () => {
    const a = await traceOf(simple, 'abc', 0);
    const b = await traceOf(simple, 'abc', 0);
    const c = await traceOf(simple, 'abd', 0);
    expect(a.returnValue).toBe(b.returnValue);
    expect(a.returnValue).not.toBe(c.returnValue);
  });

  it('rejects a duplicate address, naming it', async () => {
    const dup = model(async ({ sample }) => {
      for (let i = 0; i < 2; i++) await sample('x', Normal(0, 1));
    });
    await expect(traceOf(dup, 1)).rejects.toThrow(/site "x": duplicate address/);
  });

  it('names the site when a log density is NaN', async () => {
    const bad = model(async ({ sample, observe }) => {
      const x = await sample('x', Normal(0, 1));
      await observe('obs', Normal(x, 1), NaN);
    });
    await expect(traceOf(bad, 1)).rejects.toThrow(/site "obs".*NaN/);
  });

  it('names both shapes and the site on an observed shape mismatch', async () => {
    const bad = model(async ({ observe }) => {
      await observe('y', Normal(tf.zeros([3]), 1), tf.zeros([4]));
    });
    await expect(traceOf(bad, 1)).rejects.toThrow(/site "y".*\[4\].*\[3\]/);
  });

  it('rejects invalid parameters with the parameter name', () => {
    expect(() => Normal(0, -1)).toThrow(/Normal: parameter scale must be positive/);
  });

  it('supports stochastic control flow and recursion', async () => {
    const geom = model(async ({ sample, scope }) => {
      const go = async (depth: number): Promise<number> =>
        scope(`d${depth}`, async () => ((await sample('coin', Normal(0, 1))) > 0 ? go(depth + 1) : depth));
      return go(0);
    });
    for (let s = 0; s < 5; s++) {
      const { trace, returnValue } = await traceOf(geom, s);
      expect(trace.sites.size).toBe(returnValue + 1);
      const deepest = Array.from({ length: returnValue + 1 }, (_, i) => `d${i}`).join('/');
      expect(trace.has(`${deepest}/coin`)).toBe(true);
    }
  });
});

describe('plates', () => {
  it('expand a scalar distribution to the plate size and allocate dims right to left', async () => {
    const m = model(async ({ sample, plate }) => {
      const a = await plate('outer', 3, (_i, p) => p.sample('a', Normal(0, 1)));
      const b = await plate('outer2', 2, () => plate('inner', 4, () => sample('b', Normal(0, 1))));
      return { a, b };
    });
    const { returnValue } = await traceOf(m, 2);
    expect(returnValue.a.shape).toEqual([3]);
    expect((returnValue.b as unknown as tf.Tensor).shape).toEqual([4, 2]);
  });

  it('scales log densities by size / subsample size', async () => {
    const m = model(async ({ plate, observe }) => {
      await plate('data', 10, async (idx) => {
        await observe('y', Normal(0, 1), tf.tensor(idx.map((i) => i / 10)));
      }, { subsample: 4 });
    });
    const { trace } = await traceOf(m, 3);
    const site = trace.get('y')!;
    expect(site.scale).toBeCloseTo(10 / 4, 12);
    const idx = site.plates[0].indices;
    expect(idx).toHaveLength(4);
    const expected = (10 / 4) * idx.reduce((s, i) => s + normalLp(i / 10, 0, 1), 0);
    expect(trace.logJoint() as tf.Tensor).toBeDefined();
    expect(((trace.logJoint() as tf.Tensor).dataSync()[0])).toBeCloseTo(expected, 4);
  });

  it('rejects a batch that does not fit the plate, naming the site and plate', async () => {
    const m = model(async ({ plate, sample }) => plate('p', 3, () => sample('z', Normal(tf.zeros([5]), 1))));
    await expect(traceOf(m, 1)).rejects.toThrow(/site "z".*plate "p"/);
  });
});

describe('handlers', () => {
  it('replay reuses latent values and recomputes densities', async () => {
    const { trace } = await traceOf(simple, 4, 1.0);
    const { trace: t2 } = await traceOf(replay(simple, trace), 99, 2.0);
    expect(t2.get('mu')!.value).toBe(trace.get('mu')!.value);
    expect(t2.get('y')!.value).toBe(2.0);
  });

  it('substitute fixes latent values; condition observes them', async () => {
    const { trace } = await traceOf(substitute(simple, { mu: 0.25 }), 1, 0);
    expect(trace.get('mu')!.value).toBe(0.25);
    expect(trace.get('mu')!.observed).toBe(false);
    const { trace: t2 } = await traceOf(condition(simple, { mu: 0.5 }), 1, 0);
    expect(t2.get('mu')!.observed).toBe(true);
    expect(t2.logLikelihood()).toBeCloseTo(normalLp(0.5, 0, 1) + normalLp(0, 0.5, 0.5), 12);
  });

  it('block hides sites from outer handlers', async () => {
    const { trace } = await traceOf(block(simple, { hide: ['mu'] }), 1, 0);
    expect([...trace.sites.keys()]).toEqual(['y']);
    const { trace: t2 } = await traceOf(block(simple, { expose: ['mu'] }), 1, 0);
    expect([...t2.sites.keys()]).toEqual(['mu']);
  });

  it('scale and mask change the log joint', async () => {
    const base = (await traceOf(simple, 7, 0.1)).trace.logJoint() as number;
    const scaled = (await traceOf(scale(simple, 0.5), 7, 0.1)).trace.logJoint() as number;
    expect(scaled).toBeCloseTo(0.5 * base, 12);
    const masked = (await traceOf(mask(simple, false), 7, 0.1)).trace.logJoint();
    expect(masked).toBe(0);
  });

  it('seed makes draws independent of the outer stream', async () => {
    const a = await traceOf(seed(simple, 42), 1, 0);
    const b = await traceOf(seed(simple, 42), 2, 0);
    expect(a.returnValue).toBe(b.returnValue);
  });

  it('uncondition redraws observed sites (predictive)', async () => {
    const { trace } = await execute(uncondition(simple), { rng: new Rng(5) }, 123);
    expect(trace.get('y')!.observed).toBe(false);
    expect(trace.get('y')!.value).not.toBe(123);
  });
});

describe('batched execution', () => {
  // eight schools, non-centered, written with the polymorphic ops so it runs per particle and batched
  const { add, mul } = ops;
  const y = [28, 8, -3, 7, -1, 1, 18, 12];
  const sigma = [15, 10, 16, 11, 9, 11, 10, 18];
  const schools = model(async ({ sample, observe, plate }) => {
    const mu = await sample('mu', Normal(0, 5));
    const logTau = await sample('logTau', Normal(0, 1));
    const tau = ops.exp(logTau);
    await plate('school', 8, async (_idx, p) => {
      const z = await p.sample('z', Normal(0, 1));
      await p.observe('y', Normal(add(mu, mul(tau, z)), tf.tensor1d(sigma)), tf.tensor1d(y));
    });
  });

  it('draws a leading particle axis, reserves plate dims, and sums log densities per particle', async () => {
    const { trace: probe } = await traceOf(schools, 1);
    const nesting = plateNestingOf(probe);
    expect(nesting).toBe(1);
    const K = 5;
    const { trace } = await execute(schools, { rng: new Rng(3), batch: { size: K, plateNesting: nesting } });
    expect((trace.get('mu')!.value as tf.Tensor).shape).toEqual([K, 1]);
    expect((trace.get('z')!.value as tf.Tensor).shape).toEqual([K, 8]);
    const lj = trace.logJoint() as tf.Tensor;
    expect(lj.shape).toEqual([K]);
    // each particle's log joint equals an unbatched run with its values substituted
    const mu = (trace.get('mu')!.value as tf.Tensor).dataSync();
    const lt = (trace.get('logTau')!.value as tf.Tensor).dataSync();
    const z = (trace.get('z')!.value as tf.Tensor).arraySync() as number[][];
    const batched = lj.dataSync();
    for (let k = 0; k < K; k++) {
      const { trace: one } = await execute(substitute(schools, { mu: mu[k], logTau: lt[k], z: tf.tensor1d(z[k]) }), { rng: new Rng(0) });
      expect(batched[k]).toBeCloseTo((one.logJoint() as tf.Tensor).dataSync()[0], 3);
    }
  });
});
