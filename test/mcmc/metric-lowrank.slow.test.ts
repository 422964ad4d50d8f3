/**
 * The low-rank metric chosen automatically on a 200-d Gaussian with 3 strong
 * directions (vectorised chains) and the diagonal on an independent one
 * (sequential chains): every coordinate's mean and variance, and the mean and
 * variance along each strong direction, within 4.5 MCSE of the exact values
 * (406 checks: 4.5 keeps the family's false-alarm rate near 0.3%); and
 * through `infer` on a model written for one chain (the 107-parameter
 * hierarchical regression of models/), vectorised by the compiled replay,
 * the low-rank metric chosen and reported in the diagnostics. The
 * kernel-level planted bug (inverse metric off by 4x along one direction) is
 * in metric-lowrank.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { mcseMean } from '../../src/diagnostics/mcse.js';
import { type McmcSamples, sampleNuts, sampleNutsBatched } from '../../src/infer/mcmc/index.js';
import { infer } from '../../src/index.js';
import { hierarchicalData, hierarchicalRegression } from '../../models/hierarchical-regression.js';
import { type LowRankGaussian, lowRankGaussian } from './lowrank-gaussian.js';

/** Coordinates (and directions) whose mean or variance misses the truth by more than k MCSE. */
function momentMisses(r: McmcSamples, g: LowRankGaussian, k: number): string[] {
  const d = g.dim;
  const misses: string[] = [];
  const check = (what: string, draws: Float64Array[], truth: number): void => {
    let s = 0;
    let n = 0;
    for (const c of draws) for (const x of c) (s += x), (n += 1);
    const err = Math.abs(s / n - truth) / mcseMean(draws);
    if (!(err < k)) misses.push(`${what}: |z| = ${err.toFixed(2)}`);
  };
  const project = (w: ArrayLike<number>): Float64Array[] =>
    r.samples.map((s) => Float64Array.from({ length: r.draws }, (_, t) => {
      let p = 0;
      for (let i = 0; i < d; i++) p += w[i]! * (s[t * d + i]! - g.mean[i]!);
      return p;
    }));
  for (let i = 0; i < d; i++) {
    const e = new Float64Array(d);
    e[i] = 1;
    const x = project(e);
    check(`mean[${i}]`, x, 0);
    check(`var[${i}]`, x.map((c) => c.map((v) => v * v)), g.varianceAlong(e));
  }
  for (let j = 0; j < g.strengths.length; j++) {
    const w = g.directions.subarray(j * d, j * d + d);
    const x = project(w);
    check(`mean along w${j}`, x, 0);
    check(`var along w${j}`, x.map((c) => c.map((v) => v * v)), g.varianceAlong(w));
  }
  return misses;
}

describe("massMatrix: 'auto' above the dense cap: moments within MCSE", () => {
  // 406 checks: |z| < 4.5 for each keeps the family's false-alarm rate near 0.3%
  const K = 4.5;

  it('200-d with 3 strong directions, vectorised chains: lowrank chosen and reported, means and variances within MCSE', async () => {
    const g = lowRankGaussian(200, [400, 100, 25], 12);
    const r = await sampleNutsBatched(g.batched, { dim: 200, chains: 4, warmup: 600, draws: 600, seed: 13, massMatrix: 'auto' });
    expect(r.metricKind).toEqual(['lowrank', 'lowrank', 'lowrank', 'lowrank']);
    expect(r.metricDecision!.every((x) => x?.kind === 'lowrank' && x.rank! >= 3)).toBe(true);
    expect(momentMisses(r, g, K)).toEqual([]);
  }, 300_000);

  it('independent 200-d, sequential chains: diag chosen and reported, means and variances within MCSE', async () => {
    const g = lowRankGaussian(200, [], 14);
    const r = await sampleNuts(g.target, { dim: 200, chains: 2, warmup: 400, draws: 400, seed: 15, massMatrix: 'auto' });
    expect(r.metricKind).toEqual(['diag', 'diag']);
    expect(r.inverseMetric[0]!.length).toBe(200);
    expect(momentMisses(r, g, K)).toEqual([]);
  }, 300_000);
});

describe('the low-rank metric through infer (a model written for one chain, vectorised replay)', () => {
  it("hierarchical regression, 107 parameters: 'auto' picks lowrank, reported in diagnostics.metricChoice", async () => {
    const post = await infer(hierarchicalRegression, { method: 'nuts', chains: 2, warmup: 300, samples: 50, seed: 4 }, hierarchicalData());
    const d = post.diagnostics as unknown as { metric: string[]; metricChoice: string; vectorized: true | string };
    expect(d.vectorized).toBe(true);
    expect(d.metric).toEqual(['lowrank', 'lowrank']);
    expect(d.metricChoice).toMatch(/^lowrank \(auto: rank \d+-\d+, strongest direction's variance ratio/);
  }, 300_000);
});
