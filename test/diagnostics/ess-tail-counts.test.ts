/**
 * Tail ESS from counts (`essTail`, issue 16 session 13): the indicator chains' autocovariances come from the
 * positions of the rarer value, not from the chains as floats. Pinned against the float path it replaced,
 * `min(indicatorEss(q05), indicatorEss(q95))`, to 1e-10 relative on chains that exercise each part: mixing and
 * antithetic chains (short Geyer sums), a slow chain (lags past the direct ones, the FFT fallback), ties at the
 * quantiles (discrete values), odd lengths (a middle draw dropped), one chain, too few draws, a constant quantity.
 */
import { describe, expect, it } from 'vitest';
import { essTail, indicatorEss } from '../../src/diagnostics/ess.js';
import { quantile } from '../../src/diagnostics/empirical.js';

/** A seeded uniform stream (LCG), so every case is fixed. */
function stream(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) + 0.5) / 4294967296;
}

/** `m` AR(1) chains of `n` draws with coefficient `phi`, each value passed through `f`. */
function ar1(seed: number, m: number, n: number, phi: number, f: (x: number) => number = (x) => x): Float64Array[] {
  const u = stream(seed);
  const out: Float64Array[] = [];
  for (let j = 0; j < m; j++) {
    const c = new Float64Array(n);
    let x = 0;
    for (let i = 0; i < n; i++) {
      x = phi * x + Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
      c[i] = f(x);
    }
    out.push(c);
  }
  return out;
}

/** The float path the counts replaced: split ESS of each quantile's indicator chains as floats. */
function floatTail(chains: Float64Array[]): number {
  const pooled = new Float64Array(chains.reduce((s, c) => s + c.length, 0));
  let o = 0;
  for (const c of chains) (pooled.set(c, o), (o += c.length));
  return Math.min(indicatorEss(chains, quantile(pooled, 0.05)), indicatorEss(chains, quantile(pooled, 0.95)));
}

const cases: [string, Float64Array[]][] = [
  ['4 x 1000, mixing (phi 0.3)', ar1(1, 4, 1000, 0.3)],
  ['4 x 1000, antithetic (phi -0.6)', ar1(2, 4, 1000, -0.6)],
  ['4 x 1000, slow (phi 0.995): lags past the direct ones', ar1(3, 4, 1000, 0.995)],
  ['4 x 1001, odd length', ar1(4, 4, 1001, 0.5)],
  ['4 x 800, ties at the quantiles (integer values)', ar1(5, 4, 800, 0.4, (x) => Math.round(2 * x))],
  ['4 x 600, mostly one value (a point mass below the 5% quantile)', ar1(6, 4, 600, 0.2, (x) => (x < 0.5 ? -1 : x))],
  ['1 x 2000, one chain', ar1(7, 1, 2000, 0.6)],
  ['3 x 9, four draws per half', ar1(8, 3, 9, 0.1)],
];

describe('essTail from counts', () => {
  for (const [name, chains] of cases) {
    it(`equals the float indicator chains' ESS: ${name}`, () => {
      const want = floatTail(chains);
      const got = essTail(chains);
      expect(Number.isFinite(want)).toBe(true);
      expect(Math.abs(got - want)).toBeLessThanOrEqual(1e-10 * want);
    });
  }

  it('is NaN where the float path is: too few draws per half, a constant quantity, a non-finite draw', () => {
    const short = ar1(9, 4, 7, 0.1);
    expect(floatTail(short)).toBeNaN();
    expect(essTail(short)).toBeNaN();
    const constant = [new Float64Array(100).fill(3), new Float64Array(100).fill(3)];
    expect(floatTail(constant)).toBeNaN();
    expect(essTail(constant)).toBeNaN();
    const bad = ar1(10, 2, 100, 0.1);
    bad[1][50] = NaN;
    expect(essTail(bad)).toBeNaN();
  });
});
