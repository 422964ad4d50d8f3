/**
 * NUTS on the float32 tfjs path (`compile: false`) on models truncated far in
 * a tail, where the truncation's mass underflows float32: the posterior mean
 * must match quadrature on the float64 number path within 4 MCSE (fixed
 * seeds). Planted: the same model with the naive normaliser log(1 - cdf) on
 * tensors (the form before the log-space custom ops) does not.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import { model } from '../../src/core/model.js';
import { type Value, log1p, neg } from '../../src/core/value.js';
import type { Distribution } from '../../src/distributions/distribution.js';
import { Gamma } from '../../src/distributions/gamma.js';
import { Poisson } from '../../src/distributions/poisson.js';
import { Truncated, TruncatedDistribution } from '../../src/distributions/truncated.js';
import { infer } from '../../src/infer/index.js';

beforeAll(async () => {
  await initBackend('cpu');
});

/** An open-top truncation normalised by log(1 - cdf(low)) in float32 on tensors: the planted bug (underflows to -Infinity). */
class NaiveTail extends TruncatedDistribution {
  override logMass(): Value {
    return isTensorParam(this.base) ? log1p(neg(this.base.cdf(this.low))) : super.logMass();
  }
}
const isTensorParam = (d: Distribution): boolean => typeof d.logProb(1) !== 'number';

/** Posterior mean of a scalar by the trapezoid rule on a grid (float64), from its log joint. */
function quadratureMean(grid: readonly number[], logJoint: (x: number) => number): number {
  const lps = grid.map(logJoint);
  const top = Math.max(...lps.filter(Number.isFinite));
  const w = lps.map((lp) => (Number.isFinite(lp) ? Math.exp(lp - top) : 0));
  return w.reduce((a, wi, i) => a + wi * grid[i]!, 0) / w.reduce((a, b) => a + b, 0);
}

/** |posterior mean - exact| in MCSE from NUTS with compile: false, or Infinity where the run fails. */
async function zScore(m: ReturnType<typeof model>, name: string, exact: number, seed: number): Promise<number> {
  try {
    const post = await infer(m, { method: 'nuts', chains: 4, warmup: 300, samples: 400, seed, compile: false });
    const row = post.summary().rows.find((r) => r.name === name)!;
    post.dispose();
    const z = Math.abs(row.mean - exact) / Number(row.mcse_mean);
    console.log(`${name}: NUTS mean ${row.mean.toPrecision(6)} (mcse ${Number(row.mcse_mean).toPrecision(3)}) vs quadrature ${exact.toPrecision(6)}: |z| = ${z.toFixed(2)}`);
    return Number.isFinite(z) ? z : Infinity;
  } catch (err) {
    console.log(`${name}: the run failed: ${err instanceof Error ? err.message.slice(0, 200) : String(err)}`);
    return Infinity;
  }
}

describe('NUTS with compile: false on far truncations (float32 tfjs path)', () => {
  it('Gamma(a, 1) truncated above 200 (mass about 1e-85): the shape a matches quadrature within 4 MCSE; the naive normaliser does not', async () => {
    const ys = [201, 203.5, 207, 202, 205];
    const make = (naive: boolean) =>
      model(async ({ sample, observe }) => {
        const a = await sample('a', Gamma(4, 1));
        const base = Gamma(a, 1);
        await observe('y', naive ? new NaiveTail(base, { low: 200 }) : Truncated(base, { low: 200 }), tf.tensor(ys));
      });
    const grid = Array.from({ length: 4000 }, (_, i) => (i + 0.5) / 200);
    const exact = quadratureMean(grid, (a) => (Gamma(4, 1).logProb(a) as number) + ys.reduce((s, y) => s + (Truncated(Gamma(a, 1), { low: 200 }).logProb(y) as number), 0));
    const before = tf.memory().numTensors;
    expect(await zScore(make(false), 'a', exact, 3)).toBeLessThan(4);
    expect(tf.memory().numTensors).toBe(before);
    expect(await zScore(make(true), 'a', exact, 3)).toBeGreaterThan(4);
  }, 300_000);

  it('a Poisson truncated to 50 and above (mass about 1e-50 at rate 1): the rate matches quadrature within 4 MCSE; the naive normaliser does not', async () => {
    const ys = [50, 51, 50, 53, 52, 50];
    const make = (naive: boolean) =>
      model(async ({ sample, observe }) => {
        const rate = await sample('rate', Gamma(2, 1));
        const base = Poisson(rate);
        await observe('y', naive ? new NaiveTail(base, { low: 50 }) : Truncated(base, { low: 50 }), tf.tensor(ys));
      });
    const grid = Array.from({ length: 4000 }, (_, i) => (i + 0.5) / 200);
    const exact = quadratureMean(grid, (r) => (Gamma(2, 1).logProb(r) as number) + ys.reduce((s, y) => s + (Truncated(Poisson(r), { low: 50 }).logProb(y) as number), 0));
    expect(await zScore(make(false), 'rate', exact, 5)).toBeLessThan(4);
    expect(await zScore(make(true), 'rate', exact, 5)).toBeGreaterThan(4);
  }, 300_000);
});
