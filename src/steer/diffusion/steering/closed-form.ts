/**
 * Closed-form targets of the analytic Gaussian-mixture test bed, for checking
 * correctors and guidance: products of mixtures, powers and geometric
 * averages of Gaussians (see also `linearTilt` for reward tilts).
 *
 * @module
 */
import { GaussianMixture } from '../gaussian-mixture.js';

/** Inverse and log-determinant of a symmetric positive-definite matrix (Gauss–Jordan). */
function invert(m: readonly (readonly number[])[], who: string): { inv: number[][]; logDet: number } {
  const d = m.length;
  const a = m.map((r, i) => [...r, ...Array.from({ length: d }, (_, j) => (i === j ? 1 : 0))]);
  let logDet = 0;
  for (let c = 0; c < d; c++) {
    let p = c;
    for (let r = c + 1; r < d; r++) if (Math.abs(a[r]![c]!) > Math.abs(a[p]![c]!)) p = r;
    const piv = a[p]![c]!;
    if (!(Math.abs(piv) > 1e-300)) throw new RangeError(`${who}: the matrix is singular`);
    [a[c], a[p]] = [a[p]!, a[c]!];
    logDet += Math.log(Math.abs(piv));
    for (let j = 0; j < 2 * d; j++) a[c]![j]! /= piv;
    for (let r = 0; r < d; r++) {
      if (r === c) continue;
      const f = a[r]![c]!;
      if (f !== 0) for (let j = 0; j < 2 * d; j++) a[r]![j]! -= f * a[c]![j]!;
    }
  }
  return { inv: a.map((r) => r.slice(d)), logDet };
}

const matVec = (m: readonly (readonly number[])[], v: readonly number[]) => m.map((r) => r.reduce((s, x, j) => s + x * v[j]!, 0));

/**
 * The normalised product ∝ Π_i N(μ_i, Σ_i)^{λ_i} of Gaussians (the powers
 * may be any reals as long as the precision Σ λ_i Σ_i⁻¹ stays positive
 * definite): N(m, P⁻¹) with P = Σ λ_i Σ_i⁻¹, m = P⁻¹ Σ λ_i Σ_i⁻¹ μ_i.
 */
export function gaussianPowerProduct(factors: readonly { mean: readonly number[]; covariance: readonly (readonly number[])[]; power: number }[]): { mean: number[]; covariance: number[][] } {
  const who = 'gaussianPowerProduct';
  if (factors.length === 0) throw new Error(`${who}: need at least one factor`);
  const d = factors[0]!.mean.length;
  const P = Array.from({ length: d }, () => new Array<number>(d).fill(0));
  const h = new Array<number>(d).fill(0);
  for (const f of factors) {
    const { inv } = invert(f.covariance, who);
    const pm = matVec(inv, f.mean);
    for (let i = 0; i < d; i++) {
      h[i]! += f.power * pm[i]!;
      for (let j = 0; j < d; j++) P[i]![j]! += f.power * inv[i]![j]!;
    }
  }
  const { inv: cov } = invert(P, who);
  const evals = cov.map((r, i) => r[i]!);
  if (!evals.every((v) => v > 0)) throw new RangeError(`${who}: the product's precision is not positive definite (powers too negative)`);
  return { mean: matVec(cov, h), covariance: cov };
}

/**
 * The normalised product of two Gaussian mixtures, again a mixture: component
 * (a, b) is N(m_ab, (Σ_a⁻¹ + Σ_b⁻¹)⁻¹) with weight ∝ π_a π_b N(μ_a; μ_b, Σ_a + Σ_b).
 */
export function mixtureProduct(p: GaussianMixture, q: GaussianMixture): GaussianMixture {
  const who = 'mixtureProduct';
  if (p.dim !== q.dim) throw new Error(`${who}: dimensions differ (${p.dim} and ${q.dim})`);
  const d = p.dim;
  const comps: { weight: number; mean: number[]; covariance: number[][] }[] = [];
  const logw: number[] = [];
  p.means.forEach((ma, a) => {
    q.means.forEach((mb, b) => {
      const Sa = p.covariances[a]!;
      const Sb = q.covariances[b]!;
      const sum = Sa.map((r, i) => r.map((v, j) => v + Sb[i]![j]!));
      const { inv, logDet } = invert(sum, who);
      const diff = ma.map((v, i) => v - mb[i]!);
      const quad = matVec(inv, diff).reduce((s, v, i) => s + v * diff[i]!, 0);
      logw.push(Math.log(p.weights[a]!) + Math.log(q.weights[b]!) - 0.5 * (quad + logDet + d * Math.log(2 * Math.PI)));
      const g = gaussianPowerProduct([
        { mean: ma, covariance: Sa, power: 1 },
        { mean: mb, covariance: Sb, power: 1 },
      ]);
      comps.push({ weight: 0, mean: g.mean, covariance: g.covariance });
    });
  });
  const top = Math.max(...logw);
  return new GaussianMixture(comps.map((c, k) => ({ ...c, weight: Math.exp(logw[k]! - top) })));
}

/**
 * Moments of a 1-D density ∝ exp(logDensity(x)) by the trapezoid rule on
 * [lo, hi] with `n` intervals: the mean, the variance and P(x > cut).
 */
export function quadratureMoments1d(logDensity: (x: Float64Array) => Float64Array, lo: number, hi: number, n = 20000, cut = 0): { mean: number; variance: number; above: number } {
  const xs = Float64Array.from({ length: n + 1 }, (_, i) => lo + ((hi - lo) * i) / n);
  const lp = logDensity(xs);
  let top = -Infinity;
  for (const v of lp) top = Math.max(top, v);
  let z = 0;
  let m1 = 0;
  let m2 = 0;
  let above = 0;
  for (let i = 0; i <= n; i++) {
    const w = (i === 0 || i === n ? 0.5 : 1) * Math.exp(lp[i]! - top);
    z += w;
    m1 += w * xs[i]!;
    m2 += w * xs[i]! * xs[i]!;
    if (xs[i]! > cut) above += w;
  }
  const mean = m1 / z;
  return { mean, variance: m2 / z - mean * mean, above: above / z };
}
