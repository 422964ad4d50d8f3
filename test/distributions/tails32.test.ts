/**
 * Log-CDFs and log-survival functions on the float32 tensor path (what
 * `compile: false`, a model off the compiled path, and VI evaluate) against
 * the float64 number path, far in both tails of every family with a cdf:
 * values, and gradients in every parameter and in x against float64 central
 * differences of the number path. Before the log-space custom ops, the
 * Student-t, Gamma, InverseGamma, Beta and count families took the log of a
 * float32 cdf and gave -Infinity below about 1e-38 (the planted check below
 * runs that naive form and must fail).
 *
 * Tolerances are first-order float32 error bounds, not tuned: rounding each
 * float32 input x_k by eps32 = 2^-24 (relative) moves f by at most
 * eps32 * sum_k |x_k df/dx_k|, and the result's own rounding adds eps32 |f|;
 * a factor 8 covers the few float32 ops between the inputs and the float64
 * kernel (loc/scale standardisation, 1 - p in logit form). Gradients use the
 * same bound with the derivatives of the gradient, plus the central
 * difference's own error (the difference of two step sizes). Values and
 * gradients below the smallest normal float32 (1.2e-38) may read as 0.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import { type Value, log, log1p, neg } from '../../src/core/value.js';
import { Beta } from '../../src/distributions/beta.js';
import { Binomial } from '../../src/distributions/binomial.js';
import { Cauchy, HalfCauchy } from '../../src/distributions/cauchy.js';
import type { Distribution } from '../../src/distributions/distribution.js';
import { Exponential } from '../../src/distributions/exponential.js';
import { Gamma } from '../../src/distributions/gamma.js';
import { Geometric } from '../../src/distributions/geometric.js';
import { HalfNormal } from '../../src/distributions/half-normal.js';
import { InverseGamma } from '../../src/distributions/inverse-gamma.js';
import { Laplace } from '../../src/distributions/laplace.js';
import { LogNormal } from '../../src/distributions/lognormal.js';
import { Logistic } from '../../src/distributions/logistic.js';
import { NegativeBinomial } from '../../src/distributions/negative-binomial.js';
import { Normal } from '../../src/distributions/normal.js';
import { Poisson } from '../../src/distributions/poisson.js';
import { HalfStudentT, StudentT } from '../../src/distributions/student-t.js';
import { Truncated } from '../../src/distributions/truncated.js';
import { Uniform } from '../../src/distributions/uniform.js';

beforeAll(async () => {
  await initBackend('cpu');
});

const EPS32 = 2 ** -24;
const SLACK = 8;
/** The smallest normal float32: a value or gradient below it may read as 0 (float32 cannot hold it). */
const FLT_MIN = 2 ** -126;

type Which = 'lcdf' | 'lccdf';
/** A family, its parameters, the points (far in the tails) and which arguments are differentiable (indices into [...params, x]). */
interface Case {
  readonly name: string;
  readonly make: (...p: Value[]) => Distribution;
  readonly params: readonly number[];
  readonly at: readonly number[];
  readonly which: readonly Which[];
  /** Indices into [...params, x] to differentiate (counts: not x; integer parameters: not those). */
  readonly diff: readonly number[];
}

const all2 = ['lcdf', 'lccdf'] as const;
const cases: Case[] = [
  { name: 'StudentT', make: (df, l, s) => StudentT(df!, l!, s!), params: [3, 0, 1], at: [-1e15, -1e6, -40, 40, 1e6, 1e15], which: all2, diff: [0, 1, 2, 3] },
  { name: 'StudentT(df 30)', make: (df, l, s) => StudentT(df!, l!, s!), params: [30, 1, 2], at: [-400, -20, 3, 30, 400], which: all2, diff: [0, 1, 2, 3] },
  { name: 'HalfStudentT', make: (df, s) => HalfStudentT(df!, s!), params: [3, 1], at: [1e-20, 1e-3, 0.5, 40, 1e15], which: all2, diff: [0, 1, 2] },
  { name: 'Gamma', make: (a, b) => Gamma(a!, b!), params: [2, 1], at: [1e-30, 1e-3, 200, 1000], which: all2, diff: [0, 1, 2] },
  { name: 'Gamma(50, 2)', make: (a, b) => Gamma(a!, b!), params: [50, 2], at: [0.25, 3, 100], which: all2, diff: [0, 1, 2] },
  { name: 'InverseGamma', make: (a, b) => InverseGamma(a!, b!), params: [5, 1], at: [1e-3, 0.5, 1e15], which: all2, diff: [0, 1, 2] },
  { name: 'Beta', make: (a, b) => Beta(a!, b!), params: [2, 3], at: [1e-30, 0.25, 1 - 2 ** -20], which: all2, diff: [0, 1, 2] },
  { name: 'Beta(50, 50)', make: (a, b) => Beta(a!, b!), params: [50, 50], at: [0.01, 0.5, 0.99], which: all2, diff: [0, 1, 2] },
  { name: 'Poisson', make: (r) => Poisson(r!), params: [5], at: [0, 3, 60, 199], which: all2, diff: [0] },
  { name: 'Poisson(200)', make: (r) => Poisson(r!), params: [200], at: [5, 200], which: all2, diff: [0] },
  { name: 'Binomial', make: (n, p) => Binomial(n!, p!), params: [1000, 0.5], at: [10, 500, 990], which: all2, diff: [1] },
  { name: 'NegativeBinomial', make: (r, p) => NegativeBinomial(r!, p!), params: [5, 0.5], at: [0, 10, 500], which: all2, diff: [0, 1] },
  { name: 'Geometric', make: (p) => Geometric(p!), params: [0.5], at: [0, 3, 500], which: all2, diff: [0] },
  { name: 'Normal', make: (l, s) => Normal(l!, s!), params: [1, 2], at: [-80, -1, 3, 80], which: all2, diff: [0, 1, 2] },
  { name: 'LogNormal', make: (l, s) => LogNormal(l!, s!), params: [0, 1], at: [1e-30, 1, 1e30], which: all2, diff: [0, 1, 2] },
  { name: 'HalfNormal', make: (s) => HalfNormal(s!), params: [2], at: [1e-3, 1, 60], which: all2, diff: [0, 1] },
  { name: 'Exponential', make: (r) => Exponential(r!), params: [2], at: [1e-30, 1, 100], which: all2, diff: [0, 1] },
  { name: 'Laplace', make: (l, s) => Laplace(l!, s!), params: [0, 1], at: [-80, -1, 2, 80], which: all2, diff: [0, 1, 2] },
  { name: 'Logistic', make: (l, s) => Logistic(l!, s!), params: [0, 1], at: [-80, -1, 2, 80], which: all2, diff: [0, 1, 2] },
  { name: 'Cauchy', make: (l, s) => Cauchy(l!, s!), params: [0, 1], at: [-1e15, -2, 3, 1e15], which: all2, diff: [0, 1, 2] },
  { name: 'HalfCauchy', make: (s) => HalfCauchy(s!), params: [1], at: [1e-20, 0.5, 1e15], which: all2, diff: [0, 1] },
  { name: 'Uniform', make: (a, b) => Uniform(a!, b!), params: [0, 4], at: [1e-3, 2, 4 - 1e-3], which: all2, diff: [0, 1, 2] },
];

type Evaluate = (d: Distribution, x: Value, which: Which) => Value;
const direct: Evaluate = (d, x, which) => (which === 'lcdf' ? d.logCdf(x) : d.logSurvival(x));
/** The naive form the tensor path used before (the log of a float32 cdf): the planted failure. */
const naive: Evaluate = (d, x, which) => (which === 'lcdf' ? log(d.cdf(x)) : log1p(neg(d.cdf(x))));

/** The float64 function of [...params, x]. */
const f64 = (c: Case, which: Which) => (v: readonly number[]): number => direct(c.make(...v.slice(0, -1)), v[v.length - 1]!, which) as number;

/** A fourth-order central difference of f in argument k at v with step h; and its error estimate (difference from step 2h). */
function diff(f: (v: readonly number[]) => number, v: readonly number[], k: number, h: number): { d: number; err: number } {
  const at = (dx: number): number => f(v.map((x, i) => (i === k ? x + dx : x)));
  const d4 = (s: number): number => (8 * (at(s) - at(-s)) - (at(2 * s) - at(-2 * s))) / (12 * s);
  const d = d4(h);
  return { d, err: Math.abs(d - d4(2 * h)) };
}

/**
 * A step for argument k at v: relative, and inside the support (never across 0 or 1 for positive or unit-interval
 * arguments); a zero argument (a location) steps on the scale of the point x, so that x - loc changes in float64.
 */
function step(v: readonly number[], k: number): number {
  const x = v[k]!;
  if (x === 0) return 1e-4 * Math.max(1, Math.abs(v[v.length - 1]!));
  const room = x > 0 && x < 1 ? Math.min(x, 1 - x) : Math.abs(x);
  return 1e-4 * Math.min(room, Math.max(1, Math.abs(x)));
}

/**
 * The float32 error bound of f at v (see the module notes): eps32 (|f| + sum_k |v_k df/dv_k|) times the slack, over
 * the differentiable arguments `ks` (the others are integers, exact in float32).
 */
function bound(f: (v: readonly number[]) => number, v: readonly number[], value: number, ks: readonly number[]): number {
  let s = Math.abs(value);
  for (const k of ks) {
    if (v[k] === 0) continue;
    const d = diff(f, v, k, step(v, k)).d;
    if (Number.isFinite(d)) s += Math.abs(v[k]! * d);
  }
  return SLACK * EPS32 * s;
}

/** The tensor path's value and gradients at v (scalars in, float32). */
function tensorPath(c: Case, which: Which, v: readonly number[], evaluate: Evaluate): { value: number; grads: number[] } {
  return tf.tidy(() => {
    const ts = v.map((x) => tf.scalar(x));
    const fn = (...xs: tf.Tensor[]): tf.Tensor => evaluate(c.make(...xs.slice(0, -1)), xs[xs.length - 1]!, which) as tf.Tensor;
    const value = fn(...ts).dataSync()[0]!;
    const diffArgs = c.diff.map((k) => ts[k]!);
    const g = tf.grads((...xs: tf.Tensor[]) => fn(...v.map((_, k) => (c.diff.includes(k) ? xs[c.diff.indexOf(k)]! : ts[k]!))))(diffArgs);
    return { value, grads: g.map((t) => t.dataSync()[0]!) };
  });
}

/** Failures of the tensor path (or of a planted evaluator) against the float64 path, as readable lines. */
function failures(evaluate: Evaluate, perturbGrad = 1): string[] {
  const out: string[] = [];
  for (const c of cases) {
    for (const which of c.which) {
      const f = f64(c, which);
      for (const x of c.at) {
        const v = [...c.params, Math.fround(x)];
        const want = f(v);
        const got = tensorPath(c, which, v, evaluate);
        const tag = `${c.name}(${c.params.join(', ')}) ${which} at ${x}`;
        const tol = bound(f, v, want, c.diff);
        if (!(Math.abs(got.value - want) <= tol + FLT_MIN)) out.push(`${tag}: ${got.value} vs ${want} (tol ${tol.toExponential(2)})`);
        c.diff.forEach((k, i) => {
          const { d, err } = diff(f, v, k, step(v, k));
          const gk = (u: readonly number[]): number => diff(f, u, k, step(u, k)).d;
          const gtol = bound(gk, v, d, c.diff) + 4 * err + FLT_MIN;
          const g = got.grads[i]! * perturbGrad;
          if (!(Math.abs(g - d) <= gtol)) out.push(`${tag}: d/d[${k}] ${g} vs ${d} (tol ${gtol.toExponential(2)})`);
        });
      }
    }
  }
  return out;
}

describe('log-CDFs on the float32 tensor path against float64, far in both tails', () => {
  it('every family: values and gradients within the float32 error bound', () => {
    expect(failures(direct)).toEqual([]);
  });

  it('planted: the naive log of the float32 cdf fails (underflow), and so does a gradient off by 1e-3', () => {
    const bad = failures(naive);
    for (const name of ['StudentT', 'Gamma', 'InverseGamma', 'Beta', 'Poisson', 'Binomial', 'NegativeBinomial']) expect(bad.some((l) => l.startsWith(name))).toBe(true);
    expect(failures(direct, 1 + 1e-3).length).toBeGreaterThan(20);
  });

  it('far truncations are finite and match the float64 path: StudentT(3) above 40 (and 1e13), Gamma(2, 1) above 200, a Poisson above 60', () => {
    const check = (make: (p: Value) => Distribution, p: number, xs: number[]): void => {
      const want = xs.map((x) => make(p).logProb(x) as number);
      const got = Array.from((make(tf.scalar(p)).logProb(tf.tensor(xs)) as tf.Tensor).dataSync());
      // the density minus the log mass, each within float32 rounding of its own size
      got.forEach((g, i) => expect(Math.abs(g - want[i]!)).toBeLessThan(SLACK * EPS32 * (Math.abs(make(p).logProb(xs[i]!) as number) + 2 * Math.abs(want[i]!) + 1000)));
      expect(got.every(Number.isFinite)).toBe(true);
    };
    check((df) => Truncated(StudentT(df, 0, 1), { low: 40 }), 3, [40.5, 100]);
    check((df) => Truncated(StudentT(df, 0, 1), { low: 1e13 }), 3, [2e13]);
    check((a) => Truncated(Gamma(a, 1), { low: 200 }), 2, [201, 210]);
    check((r) => Truncated(Poisson(r), { low: 60 }), 1, [60, 61, 70]);
    // the gradient in the shape: finite and equal to the float64 central difference, within float32 rounding of its
    // two terms (d/da of the density and of the log mass, which nearly cancel)
    const g = tf.tidy(() => tf.grad((a: tf.Tensor) => Truncated(Gamma(a, 1), { low: 200 }).logProb(tf.scalar(201)) as tf.Tensor)(tf.scalar(2)).dataSync()[0]!);
    const fd = (f: (a: number) => number): number => (f(2 + 1e-5) - f(2 - 1e-5)) / 2e-5;
    const dDensity = fd((a) => Gamma(a, 1).logProb(201) as number);
    const dMass = fd((a) => Gamma(a, 1).logSurvival(200) as number);
    expect(Number.isFinite(g)).toBe(true);
    expect(Math.abs(g - (dDensity - dMass))).toBeLessThan(SLACK * EPS32 * (Math.abs(dDensity) + Math.abs(dMass)) + 1e-9);
  });

  it('broadcast tensor parameters: each element and the gradients summed over broadcast axes equal the scalar evaluations', () => {
    const cases2: { make: (p: Value) => Distribution; p: number[]; x: number[]; which: Which }[] = [
      { make: (a) => Gamma(a, 1), p: [2, 50], x: [1e-3, 200, 1000], which: 'lccdf' },
      { make: (df) => StudentT(df, 0, 1), p: [3, 60], x: [-1e15, -40, 40], which: 'lcdf' },
      { make: (a) => Beta(a, 3), p: [2, 50], x: [1e-30, 0.5], which: 'lcdf' },
      { make: (r) => Poisson(r), p: [1, 5], x: [60, 199], which: 'lccdf' },
    ];
    for (const c of cases2) {
      const pt = tf.tensor(c.p);
      const xt = tf.tensor(c.x, [c.x.length, 1]);
      const fn = (q: tf.Tensor): tf.Tensor => direct(c.make(q), xt, c.which) as tf.Tensor;
      const vals = tf.tidy(() => Array.from(fn(pt).dataSync()));
      const grads = tf.tidy(() => Array.from(tf.grad((q: tf.Tensor) => tf.sum(fn(q)))(pt).dataSync()));
      const scalar = (pi: number, xi: number) => tensorPath({ name: '', make: c.make, params: [pi], at: [], which: [c.which], diff: [0] }, c.which, [pi, Math.fround(xi)], direct);
      expect(vals.length).toBe(c.x.length * c.p.length);
      c.x.forEach((xi, i) => c.p.forEach((pi, j) => expect(vals[i * c.p.length + j]).toBe(scalar(pi, xi).value)));
      c.p.forEach((pi, j) => {
        const sum = c.x.reduce((acc, xi) => acc + scalar(pi, xi).grads[0]!, 0);
        expect(Math.abs(grads[j]! - sum)).toBeLessThanOrEqual(4 * EPS32 * c.x.reduce((acc, xi) => acc + Math.abs(scalar(pi, xi).grads[0]!), 0));
      });
      tf.dispose([pt, xt]);
    }
  });

  it('keeps tf.memory().numTensors flat', () => {
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      tf.dispose(tf.tidy(() => Gamma(tf.scalar(2), 1).logSurvival(tf.tensor([200, 1000]))));
      tensorPath(cases[0]!, 'lcdf', [3, 0, 1, -40], direct);
    }
    expect(tf.memory().numTensors).toBe(before);
  });
});
