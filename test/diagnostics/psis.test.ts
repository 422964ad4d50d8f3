/**
 * Pareto-smoothed importance sampling (src/diagnostics/psis.ts) against known tails:
 * - exact generalized Pareto samples (every tail of a GPD is a GPD with the same shape);
 * - importance ratios with an exact Pareto tail: x ~ Exponential(1) as proposal and
 *   Exponential(lambda) as target give w = lambda exp((1 - lambda) x), Pareto with k = 1 - lambda;
 * - Student-t(nu_q) proposals for Student-t(nu_p) targets (ratio ~ |x|^(nu_q - nu_p), k = 1 - nu_p / nu_q),
 *   and a bounded ratio (Student-t proposal, Normal target), where k-hat must be small.
 * Expected k-hat is the true k shrunk by the weakly informative prior (k M + 5) / (M + 10); the
 * tolerance is 4 Monte Carlo standard errors of the mean over independent replicates. A planted
 * bug (the GPD fitted to the tail weights without subtracting the cutoff) fails the same check.
 * No tensors: no tfjs backend is initialised.
 */
import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/core/rng.js';
import { gpdFit, gpdQuantile, psis, psisTailLength } from '../../src/diagnostics/psis.js';

const S = 10_000;
const M = psisTailLength(S); // 300
const REPLICATES = 24;

/** Mean k-hat of `estimate` over replicates of `draw`, with its Monte Carlo standard error. */
function khatOver(estimate: (lw: Float64Array) => number, draw: (rng: Rng) => Float64Array, seed: string): { mean: number; se: number } {
  const rng = new Rng(seed);
  const ks: number[] = [];
  for (let r = 0; r < REPLICATES; r++) ks.push(estimate(draw(rng)));
  const mean = ks.reduce((a, b) => a + b, 0) / ks.length;
  const sd = Math.sqrt(ks.reduce((a, b) => a + (b - mean) ** 2, 0) / (ks.length - 1));
  return { mean, se: sd / Math.sqrt(ks.length) };
}

/** Whether the mean k-hat is within 4 MCSE of the true k shrunk by the prior. */
function agrees(r: { mean: number; se: number }, k: number): boolean {
  const expected = (k * M + 5) / (M + 10);
  return Math.abs(r.mean - expected) <= 4 * r.se;
}

/** Log of S exact GPD(k, 1) draws. */
const gpdLogDraws = (k: number) => (rng: Rng): Float64Array => Float64Array.from({ length: S }, () => Math.log(gpdQuantile(rng.uniform(), k, 1)));

/** log p - log q for x ~ Exponential(1) = q and p = Exponential(lambda). */
const exponentialRatios = (lambda: number) => (rng: Rng): Float64Array =>
  Float64Array.from({ length: S }, () => {
    const x = -Math.log(rng.uniform());
    return Math.log(lambda) - lambda * x + x;
  });

const khatOf = (lw: Float64Array): number => psis(lw).khat;

/** The planted bug: fit the GPD to the tail weights themselves, not their excess over the cutoff. */
function khatWithoutCutoff(lw: Float64Array): number {
  const max = lw.reduce((a, b) => Math.max(a, b), -Infinity);
  const tail = Array.from(lw, (v) => Math.exp(v - max)).sort((a, b) => a - b).slice(S - M);
  return gpdFit(tail).k;
}

describe('psis k-hat', () => {
  it.each([0.2, 0.5, 0.9])('recovers the shape of exact GPD draws (k = %s)', (k) => {
    const r = khatOver(khatOf, gpdLogDraws(k), `gpd-${k}`);
    expect(agrees(r, k), `mean k-hat ${r.mean.toFixed(3)} +- ${r.se.toFixed(3)}`).toBe(true);
  });

  it.each([0.5, 0.25])('recovers k = 1 - lambda for Exponential(1) proposals and Exponential(%s) targets', (lambda) => {
    const r = khatOver(khatOf, exponentialRatios(lambda), `exp-${lambda}`);
    expect(agrees(r, 1 - lambda), `mean k-hat ${r.mean.toFixed(3)} +- ${r.se.toFixed(3)}`).toBe(true);
  });

  it('planted bug: a fit that ignores the cutoff fails the same check', () => {
    const r = khatOver(khatWithoutCutoff, exponentialRatios(0.5), 'exp-0.5');
    expect(agrees(r, 0.5)).toBe(false);
  });

  it.each([
    [4, 1],
    [2, 1],
  ])('recovers k = 1 - nu_p / nu_q for a Student-t(nu_q = %s) proposal and a Student-t(nu_p = %s) target', (nuQ, nuP) => {
    // the ratio grows like |x|^(nu_q - nu_p) and P(|x| > s) like s^(-nu_q): a Pareto tail with k = 1 - nu_p / nu_q
    const draw = (rng: Rng): Float64Array =>
      Float64Array.from({ length: S }, () => {
        const x = studentT(rng, nuQ);
        return logT(x, nuP) - logT(x, nuQ);
      });
    const r = khatOver(khatOf, draw, `t-${nuQ}-${nuP}`);
    expect(agrees(r, 1 - nuP / nuQ), `mean k-hat ${r.mean.toFixed(3)} +- ${r.se.toFixed(3)}`).toBe(true);
  });

  it('gives a small k-hat when the ratios are bounded (Student-t proposal, Normal target)', () => {
    const rng = new Rng('t-proposal');
    const lw = Float64Array.from({ length: S }, () => {
      const x = studentT(rng, 3);
      return -0.5 * x * x - logT(x, 3);
    });
    expect(psis(lw).khat).toBeLessThan(0.5);
  });
});

/** Student-t log density up to a constant. */
function logT(x: number, nu: number): number {
  return -((nu + 1) / 2) * Math.log1p((x * x) / nu);
}

function studentT(rng: Rng, nu: number): number {
  return rng.normal() / Math.sqrt(chiSquare(rng, nu) / nu);
}

function chiSquare(rng: Rng, nu: number): number {
  let s = 0;
  for (let i = 0; i < nu; i++) s += rng.normal() ** 2;
  return s;
}

describe('psis smoothing', () => {
  it('replaces only the M largest ratios, keeps their order, and never exceeds the largest raw ratio', () => {
    const lw = exponentialRatios(0.5)(new Rng('smooth'));
    const { logWeights, tailLength, threshold } = psis(lw);
    expect(tailLength).toBe(M);
    expect(threshold).toBeCloseTo(0.7, 12);
    const order = Array.from(lw.keys()).sort((a, b) => lw[a]! - lw[b]!);
    const max = lw[order[S - 1]!]!;
    for (let j = 0; j < S - M; j++) expect(logWeights[order[j]!]).toBe(lw[order[j]!]);
    for (let j = S - M; j < S; j++) {
      expect(logWeights[order[j]!]!).toBeLessThanOrEqual(max);
      if (j > S - M) expect(logWeights[order[j]!]!).toBeGreaterThanOrEqual(logWeights[order[j - 1]!]!);
    }
  });

  it('rejects bad input and reports too few draws', () => {
    expect(() => psis([])).toThrow(/at least one/);
    expect(() => psis([0, NaN, 1])).toThrow(/log ratio 1 is NaN/);
    expect(() => psis([0, 1], { rEff: 0 })).toThrow(/rEff/);
    expect(psis([0, 1, 2]).khat).toBe(Infinity); // a tail of 1 draw is not fitted
    expect(() => gpdFit([2, 1])).toThrow(/sorted/);
  });
});
