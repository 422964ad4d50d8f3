/**
 * TRUST, session 15: the Dirichlet log density at large concentrations.
 *
 * The direct form lgamma(a0) - sum lgamma(a_k) + sum (a_k - 1) log x_k adds terms near a0 log a0 that cancel to a few
 * units (the Beta's cancellation before GAMMA's session-14 fix): in float32 (every Dirichlet density is a tensor
 * op, float32 outside the compiled NUTS path) 0.007 nats off at a0 = 1e4, 0.5 at 1e6. The new form
 * (`distributions/dirichlet.ts` `dirichletSaddle`) is sum_k log Gamma(a0 x_k; a_k, 1) - S(a0) + K log a0, each Gamma
 * density in its saddle-point form where a_k >= 10.
 *
 * References: mpmath at 40 digits at float32 inputs, at the simplex point x / sum(x)
 * (`test/reliability/fixtures/trust-session15-dirichlet.py` writes the fixture). Bounds: 16 eps32 times the size of
 * the terms each form adds (the new form: 1 + |log p| + sum a_k |t_k - 1| + |log x_k| + K log a0, t_k = a0 x_k / a_k,
 * a_k |t_k - 1| being the conditioning of t_k's own rounding; the direct form: 1 + the sum of its terms' sizes).
 * Planted: the old direct form (`use` false in `DirichletDistribution.logProb`) fails the value tests and the
 * log Z of the model at alpha ~ 1e7 (0.11 nats off, 8 MCSE); the fourth test checks the bound tells the forms apart.
 * Poisson's mass at large rates is the same cancellation (`largeCounts` in distributions/poisson.ts: the Gamma(k + 1, 1)
 * density at the rate); planted: `largeCounts` returning the direct form fails the last test.
 */
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import { Dirichlet, Normal, Poisson, infer, model, ops } from '../../src/index.js';
import { digammaNumber, lgammaNumber, lgammaTensor } from '../../src/core/special.js';
import { POISSON_SADDLE_MIN } from '../../src/distributions/poisson.js';

interface PoissonRow { rate: number; k: number; lp: number; scale: number }
interface Row { kind: string; alpha: number; a: number[]; x: number[]; lp: number; da: number[]; cond: number; scale: number }
const fixture = JSON.parse(readFileSync(new URL('./fixtures/trust-session15-dirichlet.json', import.meta.url), 'utf8')) as { dirichlet: Row[]; poisson: PoissonRow[] };
const ref = fixture.dirichlet;
const EPS32 = 2 ** -23;
const SADDLE_MIN = 10;
const a0Of = (r: Row): number => r.a.reduce((p, v) => p + v, 0);
const bound = (r: Row): number => 16 * EPS32 * (a0Of(r) >= SADDLE_MIN ? 1 + Math.abs(r.lp) + r.cond : 1 + r.scale);

/** The fixture's rows grouped by category count (each group one batch tensor, concentrations 0.5..1e6: both forms in one call). */
function groups(): Row[][] {
  const by = new Map<number, Row[]>();
  for (const r of ref) by.set(r.a.length, [...(by.get(r.a.length) ?? []), r]);
  return [...by.values()];
}

beforeAll(async () => {
  await initBackend('cpu');
});

describe('Dirichlet log densities against 40-digit references, concentrations 0.5..1e6, at draws, the mean and a tail point', () => {
  it('a batch of tensor concentrations (both forms in one call): within 16 eps32 of the terms', () => {
    const bad: string[] = [];
    for (const rows of groups()) {
      const lp = tf.tidy(() => (Dirichlet(tf.tensor2d(rows.map((r) => r.a))).logProb(tf.tensor2d(rows.map((r) => r.x))) as tf.Tensor).dataSync());
      rows.forEach((r, i) => {
        if (!(Math.abs(lp[i] - r.lp) <= bound(r))) bad.push(`a=${r.a} x=${r.x}: ${lp[i]} vs ${r.lp} (bound ${bound(r)})`);
      });
    }
    expect(bad).toEqual([]);
  });

  it('one concentration at a time, as a plain vector of numbers (float64 normaliser) and as a tensor: the same bounds', () => {
    const bad: string[] = [];
    for (const r of ref) {
      const [n, t] = tf.tidy(() => [Dirichlet(r.a).logProb(tf.tensor1d(r.x)), Dirichlet(tf.tensor1d(r.a)).logProb(tf.tensor1d(r.x))].map((v) => (v as tf.Tensor).dataSync()[0]));
      if (!(Math.abs(n - r.lp) <= bound(r))) bad.push(`numbers a=${r.a}: ${n} vs ${r.lp}`);
      if (!(Math.abs(t - r.lp) <= bound(r))) bad.push(`tensor a=${r.a}: ${t} vs ${r.lp}`);
    }
    expect(bad).toEqual([]);
  });

  it('gradients in the concentrations (tf.grad, float32): NaN-free and within 64 eps32 of the terms', () => {
    const bad: string[] = [];
    for (const rows of groups()) {
      const g = tf.tidy(() => tf.grad((a: tf.Tensor) => tf.sum(Dirichlet(a).logProb(tf.tensor2d(rows.map((r) => r.x))) as tf.Tensor))(tf.tensor2d(rows.map((r) => r.a))).dataSync());
      const k = rows[0].a.length;
      rows.forEach((r, i) => {
        const psi0 = Math.abs(digammaNumber(a0Of(r)));
        r.da.forEach((want, j) => {
          // the terms: those of the exact gradient, and |t_k - 1| (t_k = a0 x_k / a_k) where the saddle-point form's
          // derivative in a_k subtracts t_k - 1 - log t_k from t_k - 1 (6e3 each at the tail point with a_k = 10)
          const t = (a0Of(r) * r.x[j]) / r.a[j];
          const tol = 64 * EPS32 * (1 + psi0 + Math.abs(digammaNumber(r.a[j])) + Math.abs(Math.log(r.x[j])) + Math.abs(t - 1));
          const got = g[i * k + j];
          if (!(Math.abs(got - want) <= tol)) bad.push(`a=${r.a} x=${r.x} d/da${j}: ${got} vs ${want} (tol ${tol})`);
        });
      });
    }
    expect(bad).toEqual([]);
  });

  it('the bound tells the forms apart: the direct float32 form fails it at most rows with a0 >= 1e3', () => {
    const big = ref.filter((r) => a0Of(r) >= 1e3);
    let fail = 0;
    for (const r of big) {
      const d = tf.tidy(() => {
        const a = tf.tensor1d(r.a);
        const x = tf.tensor1d(r.x);
        return tf.add(tf.sub(lgammaTensor(tf.sum(a)), tf.sum(lgammaTensor(a))), tf.sum(tf.mul(tf.sub(a, 1), tf.log(x)))).dataSync()[0];
      });
      if (!(Math.abs(d - r.lp) <= bound(r))) fail++;
    }
    expect(big.length).toBeGreaterThan(30);
    expect(fail / big.length, `direct form fails ${fail} of ${big.length}`).toBeGreaterThan(0.5);
  });
});

// eight compositions drawn (numpy, seed 16) from Dirichlet(1e7 P), float32
const P = [0.05, 0.15, 0.3, 0.2, 0.3];
const X = [
  [0.0499464199, 0.150092721, 0.300245792, 0.200030863, 0.299684227],
  [0.0500190854, 0.150004983, 0.300155729, 0.200086743, 0.29973346],
  [0.049884107, 0.149958432, 0.299987137, 0.200089708, 0.300080597],
  [0.0500803143, 0.150035039, 0.299604088, 0.20006676, 0.300213784],
  [0.0500094332, 0.149951845, 0.300010413, 0.199987009, 0.300041318],
  [0.0500007384, 0.149945557, 0.299873322, 0.200002462, 0.300177932],
  [0.05016727, 0.149981216, 0.299853265, 0.200015262, 0.299982965],
  [0.0499785393, 0.150020763, 0.300070286, 0.200060204, 0.299870223],
];
const PRIOR_MEAN = Math.log(1e7);
const PRIOR_SD = 0.5;
const concentration = model(async ({ sample, observe }) => {
  const la = await sample('la', Normal(PRIOR_MEAN, PRIOR_SD));
  for (let i = 0; i < X.length; i++) await observe(`x${i}`, Dirichlet(ops.mul(ops.exp(la), tf.tensor1d(P))), tf.tensor1d(X[i]));
});

/** E[la], sd and log Z by quadrature in float64 (the direct form is exact to 1e-8 nats in float64 here), at the points' projections x / sum(x). */
function quadrature(): { mean: number; sd: number; logZ: number } {
  const h = 2e-4;
  const pts: [number, number][] = [];
  let m = -Infinity;
  for (let la = PRIOR_MEAN - 4; la < PRIOR_MEAN + 4; la += h) {
    const a = P.map((p) => Math.fround(Math.exp(la) * p));
    const a0 = a.reduce((s, v) => s + v, 0);
    let l = -0.5 * ((la - PRIOR_MEAN) / PRIOR_SD) ** 2 - Math.log(PRIOR_SD * Math.sqrt(2 * Math.PI));
    for (const x0 of X) {
      const s = x0.reduce((p, v) => p + Math.fround(v), 0);
      l += lgammaNumber(a0);
      a.forEach((ai, i) => (l += (ai - 1) * Math.log(Math.fround(x0[i]) / s) - lgammaNumber(ai)));
    }
    pts.push([la, l]);
    m = Math.max(m, l);
  }
  let z = 0, s1 = 0, s2 = 0;
  for (const [la, l] of pts) {
    const w = Math.exp(l - m);
    z += w;
    s1 += w * la;
    s2 += w * la * la;
  }
  const mean = s1 / z;
  return { mean, sd: Math.sqrt(s2 / z - mean * mean), logZ: m + Math.log(z * h) };
}

describe('a Dirichlet concentration near 1e7 under batched importance (float32): E[log alpha] and log Z within 4 MCSE of quadrature', () => {
  it('alpha ~ LogNormal(log 1e7, 0.5), eight 5-part compositions', async () => {
    const exact = quadrature();
    const n = 4000;
    const post = await infer(concentration, { method: 'importance', particles: n, batched: true, seed: 1 });
    const { mean } = post.moments('la') as { mean: number };
    expect(post.ess).toBeGreaterThan(1000);
    const seMean = exact.sd / Math.sqrt(post.ess);
    // log Z's Monte Carlo sd: sqrt(var(w) / (n mean(w)^2)) = sqrt((n / ESS - 1) / n)
    const seLogZ = Math.sqrt((n / post.ess - 1) / n);
    expect(Math.abs(mean - exact.mean) / seMean, `E[la] ${mean} vs ${exact.mean}`).toBeLessThan(4);
    expect(Math.abs(post.logZ - exact.logZ) / seLogZ, `log Z ${post.logZ} vs ${exact.logZ} (se ${seLogZ})`).toBeLessThan(4);
  }, 120_000);
});

describe('Poisson log masses at large rates (tensors): k log rate - rate - lgamma(k + 1) cancels near k log k', () => {
  // the mass is the Gamma(k + 1, 1) density at the rate: bound by that saddle-point form's terms where k + 1 >= POISSON_SADDLE_MIN
  const bound = (r: PoissonRow): number => {
    const a = r.k + 1;
    const terms = a >= POISSON_SADDLE_MIN && r.rate > 0 ? 1 + Math.abs(r.lp) + a * Math.abs(r.rate / a - 1) + Math.abs(Math.log(r.rate)) + Math.log(a) : 1 + r.scale;
    return 16 * EPS32 * terms;
  };
  it('rates 0.5..1e7, counts 0..rate + 6 sd in one float32 tensor: within 16 eps32 of the terms (was 0.19 nats off at 1e5, 1.1 at 1e6)', () => {
    const rows = fixture.poisson;
    const lp = tf.tidy(() => (Poisson(tf.tensor1d(rows.map((r) => r.rate))).logProb(tf.tensor1d(rows.map((r) => r.k))) as tf.Tensor).dataSync());
    const bad = rows.flatMap((r, i) => (Math.abs(lp[i] - r.lp) <= bound(r) ? [] : [`rate ${r.rate} k ${r.k}: ${lp[i]} vs ${r.lp} (bound ${bound(r)})`]));
    expect(rows.filter((r) => r.rate > 5e4).length).toBeGreaterThan(10);
    expect(bad).toEqual([]);
  });
});
