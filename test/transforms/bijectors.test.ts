/**
 * Bijectors, bijectTo and TransformedDistribution.
 *
 * Every bijector is checked by fast-check properties: inverse(forward(x)) = x,
 * forward(x) lies in the codomain, and log|det J| equals an independent
 * numerical Jacobian: central finite differences in float64 for the scalar
 * (number) path, and tfjs autodiff (one gradient per row of J, batched) for
 * vector/matrix bijectors, restricted to the free output coordinates as in
 * Stan. Deliberately broken bijectors (wrong sign, dropped term) must fail
 * the same checks, so the checks can fail.
 */
import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import { Rng } from '../../src/core/rng.js';
import { type Value, toArray } from '../../src/core/value.js';
import * as C from '../../src/distributions/constraints.js';
import { Normal } from '../../src/distributions/normal.js';
import { Transformed, TransformedDistribution } from '../../src/distributions/transformed.js';
import {
  Affine,
  Bijector,
  CholeskyOuterProduct,
  Compose,
  CorrCholesky,
  Exp,
  Identity,
  Independent,
  Interval,
  LowerBound,
  LowerCholesky,
  Ordered,
  Sigmoid,
  Softplus,
  StickBreaking,
  UpperBound,
  bijectTo,
  cholesky,
  registerBijectTo,
} from '../../src/transforms/index.js';
import { packLower, unpackLower } from '../../src/transforms/triangular.js';

beforeAll(async () => {
  await initBackend('cpu');
});

const SEED = 20261123;
const RUNS = 60;
const opts = { seed: SEED, numRuns: RUNS };

// ---------------------------------------------------------------- helpers

/** A bijector whose log-Jacobian is altered: the checks must reject it. */
class Tampered extends Bijector {
  readonly name: string;
  readonly domain: C.Constraint;
  readonly codomain: C.Constraint;
  constructor(
    readonly base: Bijector,
    readonly alter: (ld: Value, x: Value) => Value,
  ) {
    super();
    this.name = `Tampered(${base.name})`;
    this.domain = base.domain;
    this.codomain = base.codomain;
  }
  forward(x: Value): Value {
    return this.base.forward(x);
  }
  inverse(y: Value): Value {
    return this.base.inverse(y);
  }
  logDetJacobian(x: Value, y?: Value): Value {
    return this.alter(this.base.logDetJacobian(x, y), x);
  }
  override forwardShape(s: readonly number[]): number[] {
    return this.base.forwardShape(s);
  }
}
const negate = (ld: Value): Value => (typeof ld === 'number' ? -ld : tf.neg(ld));

/** log|f'(x)| by central differences in float64 (truncation O(h^2), rounding O(eps/h)). */
function fdLogDeriv(f: (x: number) => number, x: number): number {
  const h = 1e-5 * (1 + Math.abs(x));
  return Math.log(Math.abs((f(x + h) - f(x - h)) / (2 * h)));
}

/** log|det A| by LU with partial pivoting, in float64. */
function logAbsDet(a: number[][]): number {
  const m = a.map((r) => [...r]);
  const n = m.length;
  let s = 0;
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r][c]) > Math.abs(m[p][c])) p = r;
    [m[c], m[p]] = [m[p], m[c]];
    if (m[c][c] === 0) return -Infinity;
    s += Math.log(Math.abs(m[c][c]));
    for (let r = c + 1; r < n; r++) {
      const f = m[r][c] / m[c][c];
      for (let k = c; k < n; k++) m[r][k] -= f * m[c][k];
    }
  }
  return s;
}

/**
 * log|det J| of `free(forward(x))` by autodiff: x is replicated n times
 * (a batch of n), and the gradient of sum_i F[i, i] gives row i of J in
 * batch member i; one gradient call for the whole Jacobian.
 */
function autodiffLogDet(fn: (xs: tf.Tensor) => tf.Tensor, x: number[]): number {
  const n = x.length;
  const rows = tf.tidy(() => {
    const xs = tf.tile(tf.tensor2d([x]), [n, 1]);
    const g = tf.grad((z: tf.Tensor) => {
      const f = fn(z);
      if (f.shape[1] !== n) throw new Error(`free coordinates: ${f.shape[1]} outputs for ${n} inputs`);
      return tf.sum(tf.mul(f, tf.eye(n)));
    })(xs);
    return g.arraySync() as number[][];
  });
  return logAbsDet(rows);
}

const num = (v: Value): number => (typeof v === 'number' ? v : toArray(v)[0]);
const arr = (v: Value): number[] => Array.from(toArray(v));
const ok = (c: C.Constraint, v: Value): boolean => {
  const r = c.check(v);
  return typeof r === 'boolean' ? r : tf.tidy(() => tf.all(r).dataSync()[0] === 1);
};

// ---------------------------------------------------------- scalar bijectors

const loc = fc.double({ min: -5, max: 5, noNaN: true });
const width = fc.double({ min: 0.1, max: 10, noNaN: true });
const scale = fc.tuple(fc.double({ min: 0.1, max: 5, noNaN: true }), fc.boolean()).map(([s, neg]) => (neg ? -s : s));

const scalarCases: [string, fc.Arbitrary<Bijector>][] = [
  ['Identity', fc.constant(Identity())],
  ['Exp', fc.constant(Exp())],
  ['Softplus', fc.constant(Softplus())],
  ['Sigmoid', fc.constant(Sigmoid())],
  ['Affine', fc.tuple(loc, scale).map(([l, s]) => Affine(l, s))],
  ['Interval', fc.tuple(loc, width).map(([l, w]) => Interval(l, l + w))],
  ['LowerBound', loc.map((l) => LowerBound(l))],
  ['UpperBound', loc.map((u) => UpperBound(u))],
  ['Compose(Exp, Affine)', fc.tuple(loc, scale).map(([l, s]) => Compose(Exp(), Affine(l, s)))],
  // inner scale <= 1 keeps the sigmoid argument within 8.5, away from float64 saturation
  ['Compose(Affine, Sigmoid, Affine)', fc.tuple(fc.double({ min: 0.1, max: 1, noNaN: true }), loc, width).map(([s, l, w]) => Compose(Affine(0.5, s), Sigmoid(), Affine(l, w)))],
];

// Inputs in [-8, 8]: sigmoid stays 3e-4 away from its bounds, so float64
// round trips lose at most eps / 3e-4 ~ 1e-12 relative.
const xs = fc.double({ min: -8, max: 8, noNaN: true });
const ROUNDTRIP_TOL = 1e-9;
// FD with h = 1e-5 (1 + |x|): truncation (h^2/6) |f'''/f'| <= 2e-8 for these maps
// (|f'''/f'| <= 1 after the affine scale), rounding eps |f| / (h |f'|) <= 1e-8.
const FD_TOL = 1e-6;

describe('scalar bijectors, number path (float64)', () => {
  for (const [name, arb] of scalarCases) {
    it(`${name}: inverse(forward(x)) = x, forward(x) in codomain, log|dy/dx| = finite differences`, () => {
      fc.assert(
        fc.property(arb, xs, (b, x) => {
          const y = b.forward(x) as number;
          expect(typeof y).toBe('number');
          expect(Math.abs((b.inverse(y) as number) - x)).toBeLessThanOrEqual(ROUNDTRIP_TOL * (1 + Math.abs(x)));
          expect(ok(b.codomain, y)).toBe(true);
          const ld = b.logDetJacobian(x, y) as number;
          expect(typeof ld).toBe('number');
          expect(Math.abs(ld - fdLogDeriv((t) => b.forward(t) as number, x))).toBeLessThanOrEqual(FD_TOL);
          expect(Math.abs(num(b.inverseLogDetJacobian(y)) + ld)).toBeLessThanOrEqual(1e-9 * (1 + Math.abs(ld)));
        }),
        opts,
      );
    });
  }

  it('the finite-difference check rejects a wrong Jacobian sign or a dropped term', () => {
    const check = (b: Bijector) =>
      fc.check(
        fc.property(xs, (x) => Math.abs(num(b.logDetJacobian(x)) - fdLogDeriv((t) => b.forward(t) as number, x)) <= FD_TOL),
        opts,
      ).failed;
    expect(check(new Tampered(Exp(), negate))).toBe(true);
    expect(check(new Tampered(Sigmoid(), negate))).toBe(true);
    const iv = Interval(-1, 2.5);
    expect(check(new Tampered(iv, (ld) => (ld as number) - Math.log(3.5)))).toBe(true); // missing log(width)
  });
});

describe('scalar bijectors, tensor path (float32)', () => {
  // float32 ops have relative error ~6e-8 each; a handful of ops and inverse
  // amplification 1/(s(1-s)) <= 56 for |x| <= 4 (sigmoid) keep errors < 1e-4.
  const txs = fc.array(fc.double({ min: -4, max: 4, noNaN: true }), { minLength: 1, maxLength: 6 });
  for (const [name, arb] of scalarCases) {
    it(`${name}: matches the number path elementwise and round-trips`, () => {
      fc.assert(
        fc.property(arb, txs, (b, x) => {
          tf.tidy(() => {
            const t = tf.tensor1d(x);
            const y = b.forward(t) as tf.Tensor;
            const ld = b.logDetJacobian(t, y) as tf.Tensor;
            expect(y.shape).toEqual([x.length]);
            expect(ld.shape).toEqual([x.length]);
            const yv = arr(y);
            const lv = arr(ld);
            const back = arr(b.inverse(y));
            x.forEach((xi, i) => {
              const yi = b.forward(xi) as number;
              expect(Math.abs(yv[i] - yi)).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(yi)));
              expect(Math.abs(lv[i] - (b.logDetJacobian(xi) as number))).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(lv[i])));
              expect(Math.abs(back[i] - xi)).toBeLessThanOrEqual(1e-4 * (1 + Math.abs(xi)));
            });
            expect(ok(b.codomain, y)).toBe(true);
          });
        }),
        { seed: SEED, numRuns: 20 },
      );
    });
  }

  it('broadcasts tensor parameters against number inputs', () => {
    const b = Affine(tf.tensor1d([0, 1, 2]), 2);
    const y = b.forward(1) as tf.Tensor;
    expect(arr(y)).toEqual([2, 3, 4]);
    const ld = b.logDetJacobian(1) as tf.Tensor;
    expect(ld.shape).toEqual([3]);
    for (const v of arr(ld)) expect(v).toBeCloseTo(Math.log(2), 6);
    const iv = Interval(tf.tensor1d([0, -1]), tf.tensor1d([1, 3]));
    expect((iv.logDetJacobian(0) as tf.Tensor).shape).toEqual([2]);
    expect(arr(iv.forward(0))).toEqual([0.5, 1]);
  });

  it('rejects bad parameters with messages naming them', () => {
    expect(() => Affine(0, 0)).toThrow(/Affine: parameter scale must be nonzero/);
    expect(() => Interval(2, 1)).toThrow(/Interval: lower must be below upper/);
    expect(() => Interval(NaN, 1)).toThrow(/Interval: parameter lower is NaN/);
  });
});

// ------------------------------------------------------ vector/matrix bijectors

interface VectorCase {
  name: string;
  bijector: () => Bijector;
  /** Input size for a given K. */
  inSize: (k: number) => number;
  /** The free output coordinates, [B, ...event] -> [B, m]. */
  free: (y: tf.Tensor) => tf.Tensor;
  /** Relative round-trip tolerance when it differs from {@link VEC_ROUNDTRIP_TOL}. */
  roundTripTol?: number;
}
/** All simplex coordinates but the last (the free ones). */
const simplexFree = (y: tf.Tensor) => tf.slice(y, [0, 0], [-1, y.shape[y.rank - 1] - 1]);

const vectorCases: VectorCase[] = [
  { name: 'StickBreaking', bijector: StickBreaking, inSize: (k) => k - 1, free: simplexFree },
  { name: 'Ordered', bijector: Ordered, inSize: (k) => k, free: (y) => y },
  { name: 'LowerCholesky', bijector: LowerCholesky, inSize: (k) => (k * (k + 1)) / 2, free: (y) => packLower(y, false) },
  { name: 'CorrCholesky', bijector: CorrCholesky, inSize: (k) => (k * (k - 1)) / 2, free: (y) => packLower(y, true) },
  {
    name: 'Compose(LowerCholesky, CholeskyOuterProduct)',
    bijector: () => Compose(LowerCholesky(), CholeskyOuterProduct()),
    inSize: (k) => (k * (k + 1)) / 2,
    free: (y) => packLower(y, false),
    // the inverse is a float32 Cholesky of A = L L^T, whose condition number
    // reaches (e^2 / e^-2)^2 ~ 3e3 for |x| <= 2: errors ~ 6e-8 * 3e3 * a few
    roundTripTol: 1e-3,
  },
  {
    name: 'Compose(Affine, StickBreaking)',
    bijector: () => Compose(Affine(0.3, -1.7), StickBreaking()),
    inSize: (k) => k - 1,
    free: simplexFree,
  },
  { name: 'Independent(Softplus, 1)', bijector: () => Independent(Softplus(), 1), inSize: (k) => k, free: (y) => y },
  { name: 'Compose(Ordered, Exp)', bijector: () => Compose(Ordered(), Exp()), inSize: (k) => k, free: (y) => y },
];

/** K in 2..4 and an input vector of the case's size with entries in [-2, 2]. */
function vectorInput(c: VectorCase): fc.Arbitrary<number[]> {
  return fc
    .integer({ min: 2, max: 4 })
    .chain((k) => fc.array(fc.double({ min: -2, max: 2, noNaN: true }), { minLength: c.inSize(k), maxLength: c.inSize(k) }));
}

// Float32: the round trip passes through exp/tanh/log/atanh and a cumulative
// sum of at most 10 terms; errors ~ 10 ops * 6e-8 * amplification (atanh at
// |z| <= tanh 2: 1/(1-z^2) < 14) stay below 1e-5 (measured: <= 1e-6).
const VEC_ROUNDTRIP_TOL = 1e-5;
// Autodiff in float32: each entry of J has relative error ~1e-7; log|det J|
// of these (at most 10x10, triangular) Jacobians is accurate to ~1e-6
// relative (measured: <= 2e-7). A sign or term error moves it by O(1).
const JAC_TOL = 1e-4;

function jacobianGap(b: Bijector, free: (y: tf.Tensor) => tf.Tensor, x: number[]): number {
  const ld = tf.tidy(() => num(b.logDetJacobian(tf.tensor1d(x))));
  const ad = autodiffLogDet((z) => free(b.forward(z) as tf.Tensor), x);
  return Math.abs(ld - ad);
}

describe('vector and matrix bijectors (tensors)', () => {
  for (const c of vectorCases) {
    it(`${c.name}: round trip, codomain, log|det J| = autodiff Jacobian on free coordinates`, () => {
      const b = c.bijector();
      fc.assert(
        fc.property(vectorInput(c), (x) => {
          tf.tidy(() => {
            const t = tf.tensor1d(x);
            const y = b.forward(t) as tf.Tensor;
            expect(y.shape).toEqual(b.forwardShape([x.length]));
            expect(ok(b.codomain, y)).toBe(true);
            const back = arr(b.inverse(y));
            expect(back.length).toBe(x.length);
            const tol = c.roundTripTol ?? VEC_ROUNDTRIP_TOL;
            back.forEach((v, i) => expect(Math.abs(v - x[i])).toBeLessThanOrEqual(tol * (1 + Math.abs(x[i]))));
            const ld = b.logDetJacobian(t, y) as tf.Tensor;
            expect(ld.shape).toEqual([]);
          });
          expect(jacobianGap(b, c.free, x)).toBeLessThanOrEqual(JAC_TOL * (1 + Math.abs(tf.tidy(() => num(b.logDetJacobian(tf.tensor1d(x)))))));
        }),
        { seed: SEED, numRuns: 30 },
      );
    });

    it(`${c.name}: batched over leading axes, row by row`, () => {
      const b = c.bijector();
      const n = c.inSize(3);
      const rng = new Rng(7);
      const data = Array.from({ length: 6 * n }, () => rng.normal());
      tf.tidy(() => {
        const t = tf.tensor3d(data, [2, 3, n]);
        const y = b.forward(t) as tf.Tensor;
        expect(y.shape).toEqual(b.forwardShape([2, 3, n]));
        const ld = arr(b.logDetJacobian(t));
        expect(ld.length).toBe(6);
        const ys = arr(y);
        const per = ys.length / 6;
        for (let r = 0; r < 6; r++) {
          const row = tf.tensor1d(data.slice(r * n, (r + 1) * n));
          const yr = arr(b.forward(row));
          yr.forEach((v, i) => expect(ys[r * per + i]).toBeCloseTo(v, 5));
          expect(ld[r]).toBeCloseTo(num(b.logDetJacobian(row)), 4);
        }
        expect(arr(b.inverse(y)).map((v, i) => Math.abs(v - data[i])).every((d) => d < 1e-3)).toBe(true);
      });
    });
  }

  it('vector bijectors leave no intermediate tensors behind', () => {
    for (const c of vectorCases) {
      const b = c.bijector();
      const t = tf.tensor2d(Array.from({ length: 2 * c.inSize(3) }, (_, i) => 0.1 * i - 0.3), [2, c.inSize(3)]);
      const before = tf.memory().numTensors;
      const outs = [b.forward(t), b.logDetJacobian(t)];
      outs.push(b.inverse(outs[0]));
      // only the three results survive (fewer when a result is the input itself)
      expect(tf.memory().numTensors - before).toBeLessThanOrEqual(3);
      tf.dispose([t, ...outs.filter((o): o is tf.Tensor => typeof o !== 'number')]);
    }
  });

  it('CholeskyOuterProduct alone: log|det| over the lower triangle of L matches autodiff', () => {
    const b = CholeskyOuterProduct();
    fc.assert(
      fc.property(vectorInput(vectorCases[2]), (v) => {
        const k = Math.round((-1 + Math.sqrt(1 + 8 * v.length)) / 2);
        const packed = tf.tidy(() => arr(packLower(LowerCholesky().forward(tf.tensor1d(v)) as tf.Tensor, false)));
        const ld = tf.tidy(() => num(b.logDetJacobian(unpackLower(tf.tensor1d(packed), k, false))));
        const ad = autodiffLogDet((z) => packLower(b.forward(unpackLower(z, k, false)) as tf.Tensor, false), packed);
        expect(Math.abs(ld - ad)).toBeLessThanOrEqual(JAC_TOL * (1 + Math.abs(ld)));
      }),
      { seed: SEED, numRuns: 30 },
    );
  });

  it('the autodiff check rejects a wrong sign or a dropped term', () => {
    const fails = (b: Bijector, c: VectorCase) =>
      fc.check(
        fc.property(vectorInput(c), (x) => jacobianGap(b, c.free, x) <= JAC_TOL * (1 + Math.abs(tf.tidy(() => num(b.logDetJacobian(tf.tensor1d(x))))))),
        { seed: SEED, numRuns: 30 },
      ).failed;
    const [sb, ord, , cc] = vectorCases;
    expect(fails(new Tampered(StickBreaking(), negate), sb)).toBe(true);
    expect(fails(new Tampered(Ordered(), negate), ord)).toBe(true);
    expect(fails(new Tampered(CorrCholesky(), (ld) => tf.mul(ld, 0.5)), cc)).toBe(true);
    // dropping the tanh term leaves only the stick term
    expect(
      fails(
        new Tampered(CorrCholesky(), (ld, x) => tf.sub(ld, tf.sum(tf.log(tf.sub(1, tf.square(tf.tanh(x as tf.Tensor)))), -1))),
        cc,
      ),
    ).toBe(true);
  });

  it('StickBreaking maps 0 to the uniform simplex and CorrCholesky maps 0 to the identity', () => {
    tf.tidy(() => {
      for (const v of arr(StickBreaking().forward(tf.zeros([4])))) expect(v).toBeCloseTo(0.2, 6);
      expect(arr(CorrCholesky().forward(tf.zeros([3])))).toEqual(arr(tf.eye(3)));
      expect(arr(Ordered().forward(tf.tensor1d([1, 0, Math.log(2)])))).toEqual([1, 2, 4]);
    });
  });

  it('cholesky inverts L L^T', () => {
    tf.tidy(() => {
      const a = tf.tensor2d([
        [4, 2, -2],
        [2, 10, 4],
        [-2, 4, 9],
      ]);
      const l = arr(cholesky(a));
      const want = [2, 0, 0, 1, 3, 0, -1, 5 / 3, Math.sqrt(9 - 1 - 25 / 9)];
      l.forEach((v, i) => expect(v).toBeCloseTo(want[i], 5));
    });
  });

  it('vector bijectors name themselves when given a number or a bad size', () => {
    expect(() => StickBreaking().forward(1)).toThrow(/StickBreaking: expected a vector.*the number 1/);
    expect(() => CorrCholesky().forward(tf.zeros([4]))).toThrow(/CorrCholesky: the input's last axis has 4 entries/);
    expect(() => LowerCholesky().forward(tf.zeros([4]))).toThrow(/LowerCholesky: .*K\(K\+1\)\/2/);
  });

  it('Compose tracks event dimensions and sums elementwise log-Jacobians', () => {
    const b = Compose(Exp(), StickBreaking());
    expect(b.eventDimIn).toBe(1);
    expect(b.eventDimOut).toBe(1);
    expect(b.domain.name).toBe('independent(real, 1)');
    tf.tidy(() => {
      const x = tf.tensor2d([0.1, -0.4, 0.2, 0.3], [2, 2]);
      const ld = arr(b.logDetJacobian(x));
      const want = arr(tf.add(tf.sum(x, -1), StickBreaking().logDetJacobian(tf.exp(x)) as tf.Tensor));
      ld.forEach((v, i) => expect(v).toBeCloseTo(want[i], 5));
    });
    expect(Compose(Exp(), Affine(1, 2)).forward(0.5)).toBeCloseTo(1 + 2 * Math.exp(0.5), 14);
  });
});

// ---------------------------------------------------------------- bijectTo

describe('bijectTo', () => {
  const cases: [C.Constraint, number[], string][] = [
    [C.real, [], 'Identity'],
    [C.positive, [], 'Exp'],
    [C.nonnegative, [], 'Exp'],
    [C.unitInterval, [], 'Sigmoid'],
    [C.interval(-2, 3), [], 'Interval'],
    [C.greaterThan(1.5), [], 'LowerBound'],
    [C.lessThan(-1), [], 'UpperBound'],
    [C.simplex, [2, 3], 'StickBreaking'],
    [C.ordered, [4], 'Ordered'],
    [C.lowerCholesky, [6], 'LowerCholesky'],
    [C.corrCholesky, [2, 3], 'CorrCholesky'],
    [C.positiveDefinite, [6], 'Compose(LowerCholesky, CholeskyOuterProduct)'],
    [C.realVector, [3], 'Identity'],
    [C.independent(C.positive, 1), [2, 3], 'Independent(Exp, 1)'],
    [C.independent(C.interval(0, 2), 2), [2, 3], 'Independent(Interval, 2)'],
  ];
  for (const [c, shape, name] of cases) {
    it(`${c.name} -> ${name}, landing in the constraint`, () => {
      const b = bijectTo(c);
      expect(b.name).toBe(name);
      const rng = new Rng(3);
      fc.assert(
        fc.property(fc.integer({ min: 0, max: 1000 }), () => {
          tf.tidy(() => {
            const x: Value = shape.length === 0 ? rng.normal() * 3 : tf.tensor(Array.from(rng.normals(shape.reduce((a, d) => a * d, 1))), shape);
            const y = b.forward(x);
            expect(ok(c, y)).toBe(true);
            const back = arr(b.inverse(y));
            arr(x).forEach((v, i) => expect(Math.abs(back[i] - v)).toBeLessThanOrEqual(1e-3 * (1 + Math.abs(v))));
            const ld = b.logDetJacobian(x, y);
            expect(arr(ld).every(Number.isFinite)).toBe(true);
            expect(typeof ld === 'number' ? [] : ld.shape).toEqual(shape.slice(0, shape.length - b.eventDimIn));
          });
        }),
        { seed: SEED, numRuns: 10 },
      );
    });
  }

  it('independent(base, n) sums the base log-Jacobian over the extra axes', () => {
    tf.tidy(() => {
      const x = tf.tensor2d([0.5, -1, 2, 0.25, 0, 1], [2, 3]);
      expect(arr(bijectTo(C.independent(C.positive, 1)).logDetJacobian(x))).toEqual(arr(tf.sum(x, -1)));
    });
  });

  it('discrete and unknown constraints are errors naming the constraint', () => {
    expect(() => bijectTo(C.boolean)).toThrow(/constraint boolean is discrete/);
    expect(() => bijectTo(C.nonnegativeInteger)).toThrow(/nonnegativeInteger is discrete/);
    expect(() => bijectTo(C.positiveInteger)).toThrow(/positiveInteger is discrete/);
    expect(() => bijectTo(C.integerInterval(0, 3))).toThrow(/integerInterval\(0, 3\) is discrete/);
    expect(() => bijectTo(C.independent(C.boolean, 1))).toThrow(/independent\(boolean, 1\) is discrete/);
    const odd: C.Constraint = { name: 'oddThing', isDiscrete: false, eventDim: 0, check: () => true };
    expect(() => bijectTo(odd)).toThrow(/no bijector is known for the constraint oddThing/);
    registerBijectTo((c) => (c.name === 'oddThing' ? Softplus() : undefined));
    expect(bijectTo(odd).name).toBe('Softplus');
  });
});

// ----------------------------------------------------- TransformedDistribution

const HALF_LOG_2PI = 0.5 * Math.log(2 * Math.PI);

/** Composite Simpson's rule for f on [a, b] with n (even) intervals. */
function simpson(f: (x: number) => number, a: number, b: number, n: number): number {
  const h = (b - a) / n;
  let s = f(a) + f(b);
  for (let i = 1; i < n; i++) s += (i % 2 === 1 ? 4 : 2) * f(a + i * h);
  return (s * h) / 3;
}

describe('TransformedDistribution', () => {
  it('Exp(Normal) has the log-normal density (number path, float64)', () => {
    fc.assert(
      fc.property(loc, fc.double({ min: 0.2, max: 3, noNaN: true }), fc.double({ min: 1e-3, max: 50, noNaN: true }), (mu, sigma, y) => {
        const d = Transformed(Normal(mu, sigma), Exp());
        const z = (Math.log(y) - mu) / sigma;
        const want = -Math.log(y) - Math.log(sigma) - HALF_LOG_2PI - 0.5 * z * z;
        const got = d.logProb(y) as number;
        expect(Math.abs(got - want)).toBeLessThanOrEqual(1e-12 * (1 + Math.abs(want)));
      }),
      opts,
    );
    const d = Transformed(Normal(0, 1), [Exp()]);
    expect(d.logProb(-1)).toBe(-Infinity);
    expect(d.logProb(0)).toBe(-Infinity);
    expect(d.support.name).toBe('positive');
    expect(d.name).toBe('Exp(Normal)');
  });

  it('Exp(Normal) with tensor parameters matches the closed form (float32)', () => {
    tf.tidy(() => {
      const mu = [0.1, -0.5, 1.2];
      const d = new TransformedDistribution(Normal(tf.tensor1d(mu), 0.7), Exp());
      expect(d.batchShape).toEqual([3]);
      expect(d.eventShape).toEqual([]);
      const y = [0.5, 2, 3.5];
      const lp = arr(d.logProb(tf.tensor1d(y)));
      y.forEach((v, i) => {
        const z = (Math.log(v) - mu[i]) / 0.7;
        const want = -Math.log(v) - Math.log(0.7) - HALF_LOG_2PI - 0.5 * z * z;
        expect(Math.abs(lp[i] - want)).toBeLessThanOrEqual(1e-4 * (1 + Math.abs(want)));
      });
      const edge = arr(d.logProb(tf.tensor1d([-1, 0, 1])));
      expect(edge.slice(0, 2)).toEqual([-Infinity, -Infinity]);
      expect(Number.isFinite(edge[2])).toBe(true);
    });
  });

  it('an interval-transformed Normal integrates to 1 and its draws have the integrated mean', () => {
    const [a, b] = [-1, 2.5];
    const d = Transformed(Normal(0.3, 1.4), Interval(a, b));
    expect(d.support.name).toBe('interval(-1, 2.5)');
    const pdf = (y: number) => Math.exp(d.logProb(y) as number);
    expect(d.logProb(a)).toBe(-Infinity);
    expect(d.logProb(b + 0.1)).toBe(-Infinity);
    // the density is smooth and flat to all orders at both ends: Simpson with
    // 4000 intervals is accurate far below the 1e-7 tolerance
    expect(Math.abs(simpson(pdf, a, b, 4000) - 1)).toBeLessThan(1e-7);
    const mean = simpson((y) => y * pdf(y), a, b, 4000);
    const sd = Math.sqrt(simpson((y) => (y - mean) ** 2 * pdf(y), a, b, 4000));
    const n = 20000;
    const draws = tf.tidy(() => arr(d.sample(new Rng(11), [n])));
    expect(draws.every((v) => v > a && v < b)).toBe(true);
    const m = draws.reduce((s, v) => s + v, 0) / n;
    expect(Math.abs(m - mean)).toBeLessThan((4.5 * sd) / Math.sqrt(n));
  });

  it('StickBreaking(Normal) reinterprets the base batch axis as the event and normalises on the 2-simplex', () => {
    tf.tidy(() => {
      const base = Normal(tf.tensor1d([0.2, -0.3]), 1.1);
      const d = Transformed(base, StickBreaking());
      expect(d.batchShape).toEqual([]);
      expect(d.eventShape).toEqual([3]);
      const s = d.sample(new Rng(5), [4]) as tf.Tensor;
      expect(s.shape).toEqual([4, 3]);
      expect(ok(C.simplex, s)).toBe(true);
      const lp = d.logProb(s) as tf.Tensor;
      expect(lp.shape).toEqual([4]);
      const x = StickBreaking().inverse(s) as tf.Tensor;
      const want = arr(tf.sub(tf.sum(base.logProb(x) as tf.Tensor, -1), StickBreaking().logDetJacobian(x) as tf.Tensor));
      arr(lp).forEach((v, i) => expect(v).toBeCloseTo(want[i], 4));
      expect(arr(d.logProb(tf.tensor1d([0.5, 0.6, -0.1])))).toEqual([-Infinity]);
    });
    // K = 2: the density of the free coordinate y1 on (0, 1) integrates to 1
    const d2 = Transformed(Normal(tf.tensor1d([0.4]), 0.8), StickBreaking());
    const n = 2000;
    const lp = tf.tidy(() => {
      const y1 = tf.linspace(0, 1, n + 1);
      return arr(d2.logProb(tf.stack([y1, tf.sub(1, y1)], 1)));
    });
    const w = (i: number) => (i === 0 || i === n ? 1 : i % 2 === 1 ? 4 : 2);
    const total = lp.reduce((s, v, i) => s + w(i) * Math.exp(v), 0) / (3 * n);
    // float32 log densities (relative error ~1e-6 after exp) and Simpson error ~1e-9
    expect(Math.abs(total - 1)).toBeLessThan(1e-4);
  });

  it('CorrCholesky(Normal) on 2x2 factors normalises over the free correlation', () => {
    const d = Transformed(Normal(tf.tensor1d([0.3]), 0.9), CorrCholesky());
    expect(d.eventShape).toEqual([2, 2]);
    const n = 2000;
    const lp = tf.tidy(() => {
      const r = tf.linspace(-1, 1, n + 1);
      const zero = tf.zerosLike(r);
      const l = tf.reshape(tf.stack([tf.onesLike(r), zero, r, tf.sqrt(tf.relu(tf.sub(1, tf.square(r))))], 1), [n + 1, 2, 2]);
      return arr(d.logProb(l));
    });
    const w = (i: number) => (i === 0 || i === n ? 1 : i % 2 === 1 ? 4 : 2);
    const total = (lp.reduce((s, v, i) => s + w(i) * Math.exp(v), 0) * 2) / (3 * n);
    expect(Math.abs(total - 1)).toBeLessThan(1e-4);
  });

  it('keeps draws reparameterised: d/dmu of mean(exp(mu + eps)) = mean(y)', () => {
    const d0 = Transformed(Normal(0, 1), Exp());
    expect(d0.hasRsample).toBe(true);
    tf.tidy(() => {
      const mu = tf.scalar(0.2);
      const f = (m: tf.Tensor) => tf.mean(Transformed(Normal(m, 0.5), Exp()).sample(new Rng(9), [50]) as tf.Tensor) as tf.Scalar;
      const g = num(tf.grad(f)(mu));
      expect(Math.abs(g - num(f(mu)))).toBeLessThan(1e-5 * num(f(mu)));
    });
  });

  it('rejects a base with too few axes for the bijector, naming both', () => {
    expect(() => Transformed(Normal(0, 1), StickBreaking())).toThrow(/StickBreaking acts on 1-dimensional events, but the base Normal has shape \[\]/);
    expect(() => Transformed(Normal(0, 1), [])).toThrow(/at least one bijector/);
  });
});
