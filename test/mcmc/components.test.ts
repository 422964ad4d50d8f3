/**
 * Unit tests of the MCMC building blocks: leapfrog, metrics, Welford
 * accumulators, the window schedule, dual averaging, the step-size heuristic
 * and the NUTS tree bookkeeping.
 */
import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/core/rng.js';
import {
  DualAveraging,
  EuclideanMetric,
  HmcKernel,
  type GradientCoroutine,
  type HamiltonianKernel,
  type LogDensityAndGradient,
  type LogDensityTarget,
  MetricAdapter,
  NutsKernel,
  type PhasePoint,
  type Position,
  WelfordCovariance,
  WelfordVariance,
  batchTarget,
  checkLogDensityAndGradient,
  evaluate,
  hamiltonian,
  initialStepSize,
  leapfrog,
  checkBatchedLogDensityAndGradient,
  windowSchedule,
} from '../../src/infer/mcmc/index.js';
import {
  eightSchoolsCentered,
  eightSchoolsNonCentered,
  gaussian,
  logGamma,
  randomCovariance,
  spdInverse,
} from './targets.js';

/** Runs a gradient coroutine to completion against a synchronous target. */
function drive<T>(co: GradientCoroutine<T>, target: LogDensityTarget): T {
  let step = co.next();
  while (!step.done) {
    const r = target(Float64Array.from(step.value)) as LogDensityAndGradient;
    step = co.next({ logp: r.logp, grad: r.grad, offset: 0 });
  }
  return step.value;
}

function at(target: LogDensityTarget, q: Float64Array): Position {
  const r = target(q) as LogDensityAndGradient;
  return { q: Array.from(q), logp: r.logp, grad: Array.from(r.grad) };
}

const D = 4;
const cov = randomCovariance(D, 7, [0.5, 3]);
const mean = Float64Array.from([1, -2, 0.5, 3]);
const { target } = gaussian(mean, cov);

describe('leapfrog', () => {
  it('is reversible: L steps, flip the momentum, L steps returns to the start', () => {
    const metric = new EuclideanMetric('dense', D, randomCovariance(D, 3, [0.5, 2]));
    const rng = new Rng(1);
    const z0: PhasePoint = { ...at(target, Float64Array.from([0.3, -1, 2, 1])), p: metric.sampleMomentum(rng) };
    let z = z0;
    for (let i = 0; i < 25; i++) z = drive(leapfrog(z, 0.1, metric), target);
    z = { ...z, p: z.p.map((x) => -x) };
    for (let i = 0; i < 25; i++) z = drive(leapfrog(z, 0.1, metric), target);
    for (let i = 0; i < D; i++) {
      expect(z.q[i]).toBeCloseTo(z0.q[i]!, 10);
      expect(-z.p[i]!).toBeCloseTo(z0.p[i]!, 10);
    }
  });

  it('has an energy error of second order in the step size', () => {
    const metric = new EuclideanMetric('diag', D, Float64Array.from([0.5, 2, 1, 3]));
    const z0: PhasePoint = { ...at(target, Float64Array.from([0.3, -1, 2, 1])), p: [1, -0.5, 0.2, 0.7] };
    const h0 = hamiltonian(z0, metric);
    const errorOver = (eps: number): number => {
      let z = z0;
      for (let i = 0; i < Math.round(1 / eps); i++) z = drive(leapfrog(z, eps, metric), target);
      return Math.abs(hamiltonian(z, metric) - h0);
    };
    const ratio = errorOver(0.02) / errorOver(0.01);
    expect(ratio).toBeGreaterThan(3);
    expect(ratio).toBeLessThan(5);
  });
});

describe('EuclideanMetric', () => {
  it('draws momenta with covariance M = inverse(M^-1) and computes p^T M^-1 p / 2', () => {
    const inv = randomCovariance(3, 11, [0.5, 4]);
    const m = spdInverse(inv, 3);
    const metric = new EuclideanMetric('dense', 3, inv);
    const rng = new Rng(5);
    const n = 20000;
    const acc = new Float64Array(9);
    for (let t = 0; t < n; t++) {
      const p = metric.sampleMomentum(rng);
      for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) acc[i * 3 + j] += (p[i]! * p[j]!) / n;
      if (t === 0) {
        let k = 0;
        for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) k += 0.5 * p[i]! * inv[i * 3 + j]! * p[j]!;
        expect(metric.kinetic(p)).toBeCloseTo(k, 12);
      }
    }
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < 3; j++) {
        const sd = Math.sqrt((m[i * 3 + i]! * m[j * 3 + j]! + m[i * 3 + j]! ** 2) / n);
        expect(Math.abs(acc[i * 3 + j]! - m[i * 3 + j]!)).toBeLessThan(4.5 * sd);
      }
    }
  });

  it('diag momenta have variance 1 / inverse-metric entry', () => {
    const metric = new EuclideanMetric('diag', 2, Float64Array.from([4, 0.25]));
    const rng = new Rng(2);
    const n = 20000;
    const v = [0, 0];
    for (let t = 0; t < n; t++) {
      const p = metric.sampleMomentum(rng);
      v[0] += p[0]! ** 2 / n;
      v[1] += p[1]! ** 2 / n;
    }
    // Var(p^2) = 2 sigma^4 for a normal
    expect(Math.abs(v[0]! - 0.25)).toBeLessThan(4.5 * Math.sqrt(2 / n) * 0.25);
    expect(Math.abs(v[1]! - 4)).toBeLessThan(4.5 * Math.sqrt(2 / n) * 4);
  });

  it('rejects bad inverse metrics with clear errors', () => {
    expect(() => new EuclideanMetric('diag', 2, Float64Array.from([1, -1]))).toThrow(/entry 1 must be positive/);
    expect(() => new EuclideanMetric('dense', 2, Float64Array.from([1, 2, 2, 1]))).toThrow(/not symmetric positive definite/);
    expect(() => new EuclideanMetric('dense', 2, Float64Array.from([1, 0.5, 0, 1]))).toThrow(/not symmetric/);
    expect(() => new EuclideanMetric('dense', 2, Float64Array.from([1, 0]))).toThrow(/length 4/);
    expect(() => new EuclideanMetric('banana' as never, 2)).toThrow(/kind must be one of/);
  });
});

describe('Welford accumulators', () => {
  it('match two-pass mean, variance and covariance', () => {
    const rng = new Rng(9);
    const n = 500;
    const xs = Array.from({ length: n }, () => Float64Array.from([rng.normal() * 3 + 100, rng.normal(), rng.uniform()]));
    xs.forEach((x) => (x[1] = x[1]! + 0.5 * x[0]!));
    const wv = new WelfordVariance(3);
    const wc = new WelfordCovariance(3);
    xs.forEach((x) => {
      wv.add(x);
      wc.add(x);
    });
    const mu = [0, 1, 2].map((i) => xs.reduce((s, x) => s + x[i]!, 0) / n);
    const c = (i: number, j: number): number => xs.reduce((s, x) => s + (x[i]! - mu[i]!) * (x[j]! - mu[j]!), 0) / (n - 1);
    const v = wv.sampleVariance();
    const cv = wc.sampleCovariance();
    for (let i = 0; i < 3; i++) {
      expect(wv.sampleMean()[i]).toBeCloseTo(mu[i]!, 9);
      expect(v[i]! / c(i, i)).toBeCloseTo(1, 12);
      for (let j = 0; j < 3; j++) expect(cv[i * 3 + j]! - c(i, j)).toBeCloseTo(0, 9);
    }
    wc.restart();
    expect(wc.count).toBe(0);
    expect(() => wc.sampleCovariance()).toThrow(/at least 2 samples/);
  });
});

describe('windowSchedule', () => {
  it("reproduces Stan's windows for 1000 warmup: 75 / 25 50 100 200 500 / 50", () => {
    expect(windowSchedule(1000)).toEqual({ firstSample: 75, lastSample: 949, ends: [99, 149, 249, 449, 949] });
  });
  it('lets the last window absorb what doubling cannot fill', () => {
    expect(windowSchedule(200).ends).toEqual([99, 149]);
    expect(windowSchedule(160).ends).toEqual([99, 109]);
  });
  it('shrinks the buffers to 15% / 75% / 10% when they do not fit, and skips below 20', () => {
    expect(windowSchedule(100)).toEqual({ firstSample: 15, lastSample: 89, ends: [89] });
    expect(windowSchedule(19).ends).toEqual([]);
  });
  it('validates its options', () => {
    expect(() => windowSchedule(1000, { baseWindow: 0 })).toThrow(/baseWindow/);
    expect(() => windowSchedule(1000, { initBuffer: 1.5 })).toThrow(/initBuffer/);
  });
});

describe('MetricAdapter', () => {
  it("returns Stan's regularised window variance at each window end", () => {
    const schedule = windowSchedule(1000);
    const adapter = new MetricAdapter('diag', 2, schedule);
    const rng = new Rng(4);
    const window: Float64Array[] = [];
    for (let it = 0; it <= 99; it++) {
      const q = Float64Array.from([rng.normal() * 2, rng.normal() * 0.1]);
      if (it >= 75) window.push(q);
      const out = adapter.observe(it, q);
      if (it < 99) expect(out).toBeNull();
      else {
        const n = window.length;
        expect(n).toBe(25);
        for (let i = 0; i < 2; i++) {
          const m = window.reduce((s, x) => s + x[i]!, 0) / n;
          const v = window.reduce((s, x) => s + (x[i]! - m) ** 2, 0) / (n - 1);
          expect(out![i]).toBeCloseTo((n / (n + 5)) * v + 1e-3 * (5 / (n + 5)), 12);
        }
      }
    }
  });
});

describe('DualAveraging', () => {
  it('drives a deterministic acceptance curve to its target', () => {
    // acceptance exp(-eps) equals 0.8 at eps = -log(0.8)
    const da = new DualAveraging({ targetAccept: 0.8 });
    let eps = 1;
    da.restart(eps);
    for (let t = 0; t < 3000; t++) eps = da.update(Math.exp(-eps));
    // The averaged gradient s_t must stay at gamma (mu - x*) / sqrt(t) to hold
    // the iterate at x*, so the acceptance sits below target by about
    // gamma (mu - x*) / (2 sqrt(t)) = 0.0017 at t = 3000: a step size about 1%
    // too large. Allow 2%.
    expect(Math.abs(da.finalStepSize() / -Math.log(0.8) - 1)).toBeLessThan(0.02);
  });
  it('validates its options', () => {
    expect(() => new DualAveraging({ targetAccept: 1 })).toThrow(/targetAccept/);
    expect(() => new DualAveraging({ kappa: 0 })).toThrow(/kappa/);
  });
});

describe('initialStepSize', () => {
  it('scales with the target: within a factor 4 of the sd for a wide 1-D normal', () => {
    for (const sd of [0.01, 1, 100]) {
      const t: LogDensityTarget = (q) => ({ logp: -0.5 * (q[0]! / sd) ** 2, grad: Float64Array.of(-q[0]! / sd ** 2) });
      const eps = drive(initialStepSize(at(t, Float64Array.of(sd)), 1, new EuclideanMetric('diag', 1), new Rng(3)), t);
      expect(eps / sd).toBeGreaterThan(0.25);
      expect(eps / sd).toBeLessThan(4);
    }
  });
  it('fails clearly on an improper (flat) target', () => {
    const flat: LogDensityTarget = () => ({ logp: 0, grad: Float64Array.of(0) });
    expect(() => drive(initialStepSize(at(flat, Float64Array.of(0)), 1, new EuclideanMetric('diag', 1), new Rng(3)), flat)).toThrow(
      /improper/,
    );
  });
});

describe('NutsKernel', () => {
  it('keeps nLeapfrog consistent with the tree depth and respects maxTreeDepth', () => {
    const metric = new EuclideanMetric('diag', D);
    const rng = new Rng(8);
    for (const maxTreeDepth of [1, 3, 10]) {
      const kernel = new NutsKernel({ maxTreeDepth });
      let pos = at(target, Float64Array.from(mean));
      for (let t = 0; t < 200; t++) {
        const tr = drive(kernel.transition(pos, 0.3, metric, rng), target);
        expect(tr.treeDepth).toBeLessThanOrEqual(maxTreeDepth);
        // a trajectory of depth d has 2^d - 1 steps, plus at most 2^d - 1 of a rejected subtree
        expect(tr.nLeapfrog).toBeGreaterThanOrEqual(2 ** tr.treeDepth - 1);
        expect(tr.nLeapfrog).toBeLessThanOrEqual(2 ** (tr.treeDepth + 1) - 1);
        expect(tr.acceptStat).toBeGreaterThanOrEqual(0);
        expect(tr.acceptStat).toBeLessThanOrEqual(1);
        expect(Number.isFinite(tr.energy)).toBe(true);
        pos = tr.position;
      }
    }
  });
  it('validates its options', () => {
    expect(() => new NutsKernel({ maxTreeDepth: 0 })).toThrow(/maxTreeDepth/);
  });
});

describe('target checks', () => {
  it('collapse non-finite answers to logp = -Infinity and reject malformed ones', () => {
    const answer = (logp: number, g: number): Position =>
      drive(evaluate([0]), () => ({ logp, grad: Float64Array.of(g) }));
    expect(answer(NaN, 1).logp).toBe(-Infinity);
    expect(answer(Infinity, 1).logp).toBe(-Infinity);
    expect(answer(0, NaN).logp).toBe(-Infinity);
    expect(answer(-3, 2)).toEqual({ q: [0], logp: -3, grad: [2] });
    expect(() => checkLogDensityAndGradient({ logp: 0, grad: Float64Array.of(1, 2) }, 1)).toThrow(/length 2, expected dim = 1/);
    expect(() => checkLogDensityAndGradient({ logp: 0, grad: [1] } as never, 1)).toThrow(/Float64Array/);
    expect(() => checkBatchedLogDensityAndGradient({ logp: new Float64Array(2), grad: new Float64Array(3) }, 2, 2)).toThrow(
      /grad of length 4/,
    );
  });
  it('batchTarget loops a single-point target over the rows', async () => {
    const b = batchTarget(target, D);
    const q = Float64Array.from([...mean, 0, 0, 0, 0]);
    const r = await b(q);
    const r1 = target(q.slice(4)) as LogDensityAndGradient;
    expect(r.logp[0]).toBeCloseTo(0, 12);
    expect(r.logp[1]).toBe(r1.logp);
    expect(Array.from(r.grad.slice(4))).toEqual(Array.from(r1.grad));
  });
});

describe('hand-written test targets', () => {
  it('have gradients that match central finite differences', () => {
    const rng = new Rng(21);
    const targets: [string, LogDensityTarget, number][] = [
      ['gaussian', target, D],
      ['eight schools centered', eightSchoolsCentered(), 10],
      ['eight schools non-centered', eightSchoolsNonCentered(), 10],
      ['log-gamma', logGamma([0.5, 2, 10]), 3],
    ];
    for (const [name, t, d] of targets) {
      const q = Float64Array.from(rng.normals(d));
      const grad = Array.from((t(q) as LogDensityAndGradient).grad);
      for (let i = 0; i < d; i++) {
        const h = 1e-5;
        const up = q.slice();
        const down = q.slice();
        up[i] += h;
        down[i] -= h;
        const fd = ((t(up) as LogDensityAndGradient).logp - (t(down) as LogDensityAndGradient).logp) / (2 * h);
        expect(Math.abs(fd - grad[i]!), `${name} coordinate ${i}`).toBeLessThan(1e-6 * Math.max(1, Math.abs(fd)));
      }
    }
  });
});

describe('kernel invariance (exact draws in, one transition, the same law out)', () => {
  // log-Gamma(0.5) and log-Gamma(2) coordinates, drawn exactly:
  // Gamma(1/2, 1) = Z^2 / 2 and Gamma(2, 1) = E1 + E2.
  const shapes = [0.5, 2];
  const exact = (rng: Rng): Float64Array =>
    Float64Array.of(Math.log(rng.normal() ** 2 / 2), Math.log(-Math.log(rng.uniform()) - Math.log(rng.uniform())));
  const eulerGamma = 0.5772156649015329;
  const mean = [-eulerGamma - 2 * Math.LN2, 1 - eulerGamma];
  const variance = [Math.PI ** 2 / 2, Math.PI ** 2 / 6 - 1];
  const kernels = [
    ['NUTS', new NutsKernel()],
    ['static HMC', new HmcKernel({ numSteps: 3 })],
    ['static HMC, 1 to 5 steps (jitter 1)', new HmcKernel({ numSteps: 3, jitter: 1 })],
  ] as const;
  /** One transition from each of n exact draws: the moments that leave 4.5 sd of the target's, and how many draws moved. */
  const oneStep = (kernel: HamiltonianKernel): { failures: string[]; moved: number; n: number } => {
    const t = logGamma(shapes);
    const metric = new EuclideanMetric('dense', 2, Float64Array.of(4, 0.5, 0.5, 1));
    const rng = new Rng(31);
    const n = 4000;
    const sum = [0, 0];
    const sumSq = [0, 0];
    const fourth = [0, 0];
    let moved = 0;
    for (let k = 0; k < n; k++) {
      const start = at(t, exact(rng));
      const end = drive(kernel.transition(start, 0.8, metric, rng), t).position.q;
      if (end !== start.q) moved += 1;
      for (let i = 0; i < 2; i++) {
        const dev = end[i]! - mean[i]!;
        sum[i] += dev;
        sumSq[i] += dev * dev;
        fourth[i] += dev ** 4;
      }
    }
    const failures: string[] = [];
    for (let i = 0; i < 2; i++) {
      const zMean = Math.abs(sum[i]! / n) / Math.sqrt(variance[i]! / n);
      // sd of the mean of squared deviations from the (empirical) fourth moment
      const zVar = Math.abs(sumSq[i]! / n - variance[i]!) / Math.sqrt((fourth[i]! / n - variance[i]! ** 2) / n);
      if (!(zMean < 4.5)) failures.push(`mean ${i}: z ${zMean.toFixed(2)}`);
      if (!(zVar < 4.5)) failures.push(`variance ${i}: z ${zVar.toFixed(2)}`);
    }
    return { failures, moved, n };
  };
  for (const [name, kernel] of kernels) {
    it(`${name}: means and variances of one step from exact draws match within 4.5 sd`, () => {
      const r = oneStep(kernel);
      expect(r.moved).toBeGreaterThan(r.n / 2);
      expect(r.failures).toEqual([]);
    });
  }

  it('static HMC whose step count is chosen from the state (a planted bug) fails', () => {
    const short = new HmcKernel({ numSteps: 1 });
    const long = new HmcKernel({ numSteps: 5 });
    const fromState: HamiltonianKernel = { name: 'hmc', transition: (from, eps, metric, rng) => (from.q[0]! > mean[0]! ? short : long).transition(from, eps, metric, rng) };
    expect(oneStep(fromState).failures.length).toBeGreaterThan(0);
  });
});
