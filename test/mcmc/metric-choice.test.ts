/**
 * The automatic metric choice (`massMatrix: 'auto'`, metric-choice.ts): dense
 * on a strongly correlated Gaussian, diagonal on an independent one, the
 * decision reported, and the draws right within Monte Carlo error. Planted
 * bug: a dense metric applied un-inverted (momenta drawn from N(0, M^{-1})
 * instead of N(0, M)) must fail the same exact-draw check that the right
 * metric passes.
 */
import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/core/rng.js';
import { EuclideanMetric, type GradientCoroutine, type LogDensityAndGradient, type LogDensityTarget, NutsKernel, sampleNuts } from '../../src/infer/mcmc/index.js';
import { chooseMetric, correlationCondition, correlationConditionBounds, noiseCondition, symmetricEigenvalues } from '../../src/infer/mcmc/metric-choice.js';
import { describeMetricChoice } from '../../src/infer/mcmc/hmc-engine.js';
import { gaussian, momentFailures } from './targets.js';

/** A d-dimensional Gaussian with unit variances and correlation rho between every pair. */
function equicorrelated(d: number, rho: number, scales: readonly number[]): Float64Array {
  const c = new Float64Array(d * d);
  for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) c[i * d + j] = (i === j ? 1 : rho) * scales[i]! * scales[j]!;
  return c;
}

describe('metric choice: the rule', () => {
  it('eigenvalues by Jacobi rotations match a known spectrum; condition numbers and the noise level', () => {
    // equicorrelation: eigenvalues 1 + (d-1) rho (once) and 1 - rho (d-1 times)
    const ev = [...symmetricEigenvalues(equicorrelated(4, 0.5, [1, 1, 1, 1]), 4)].sort((a, b) => a - b);
    expect(ev.map((v) => +v.toFixed(10))).toEqual([0.5, 0.5, 0.5, 2.5]);
    expect(correlationCondition(equicorrelated(3, 0.9, [1, 100, 0.01]), 3)).toBeCloseTo(2.8 / 0.1, 8);
    expect(noiseCondition(10, 10)).toBe(Infinity);
    expect(noiseCondition(10, 250)).toBeCloseTo((1.2 / 0.8) ** 2, 12);
  });

  it('dense for strong correlations, diag for independent coordinates, diag above the dimension cap', () => {
    expect(chooseMetric(equicorrelated(5, 0.95, [1, 2, 3, 4, 5]), 5, 200).kind).toBe('dense');
    expect(chooseMetric(equicorrelated(5, 0, [1, 2, 3, 4, 5]), 5, 200).kind).toBe('diag');
    expect(chooseMetric(equicorrelated(5, 0.95, [1, 1, 1, 1, 1]), 5, 200, { maxDenseDim: 4 }).kind).toBe('diag');
    // too few draws to tell correlation from noise
    expect(chooseMetric(equicorrelated(5, 0.95, [1, 1, 1, 1, 1]), 5, 8).kind).toBe('diag');
  });
});

describe('metric choice: bounds that decide without eigenvalues', () => {
  it('bracket the condition number, and the decision is the eigenvalue rule\'s on random covariances of every strength', () => {
    const rng = new Rng('metric-bounds');
    let byBound = 0;
    let byEigen = 0;
    for (let trial = 0; trial < 300; trial++) {
      const d = 2 + Math.floor(rng.uniform() * 9);
      const n = 4 * d + Math.floor(rng.uniform() * 400);
      // covariance of n draws of x = A z: A near the identity plus a random part of random strength
      const strength = rng.uniform() ** 2 * 1.5;
      const a = Float64Array.from({ length: d * d }, (_, k) => (k % (d + 1) === 0 ? 1 : 0) + strength * (rng.uniform() - 0.5));
      const cov = new Float64Array(d * d);
      for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) for (let k = 0; k < d; k++) cov[i * d + j] += a[i * d + k]! * a[j * d + k]! * (1 + (i === j ? rng.uniform() : 0));
      const exact = correlationCondition(cov, d);
      const corr = Float64Array.from(cov, (c, k) => c / Math.sqrt(cov[Math.floor(k / d) * (d + 1)]! * cov[(k % d) * (d + 1)]!));
      const { lower, upper } = correlationConditionBounds(corr, d);
      expect(lower).toBeLessThanOrEqual(exact * (1 + 1e-9));
      expect(upper).toBeGreaterThanOrEqual(exact * (1 - 1e-9));
      const threshold = 2 * noiseCondition(d, n / 2);
      const decision = chooseMetric(cov, d, n);
      expect(decision.kind, `d ${d} n ${n} cond ${exact} threshold ${threshold}`).toBe(exact > threshold ? 'dense' : 'diag');
      if (decision.bound === 'upper') expect(decision.conditionNumber).toBeGreaterThanOrEqual(exact * (1 - 1e-9));
      if (decision.bound === 'lower') expect(decision.conditionNumber).toBeLessThanOrEqual(exact * (1 + 1e-9));
      if (decision.bound) byBound++;
      else {
        byEigen++;
        expect(decision.conditionNumber).toBeCloseTo(exact, 9);
      }
    }
    // both paths are exercised
    expect(byBound).toBeGreaterThan(30);
    expect(byEigen).toBeGreaterThan(30);
    // the reported bound says so
    const r = chooseMetric(equicorrelated(5, 0.01, [1, 2, 3, 4, 5]), 5, 400);
    expect(r).toMatchObject({ kind: 'diag', bound: 'upper' });
    expect(describeMetricChoice(['diag'], [r])).toMatch(/^diag \(auto: condition number of the warmup correlation or a bound on it that decided 1\.08-1\.08 against threshold/);
    expect(chooseMetric(equicorrelated(5, 0.99, [1, 2, 3, 4, 5]), 5, 400)).toMatchObject({ kind: 'dense', bound: 'lower' });
  });
});

describe("massMatrix: 'auto' in the sampler", () => {
  const d = 5;
  const mean = Float64Array.from([1, -1, 0, 2, 0.5]);
  const scales = [1, 3, 0.5, 2, 1];
  for (const [name, rho, want] of [
    ['strongly correlated (rho = 0.95)', 0.95, 'dense'],
    ['independent', 0, 'diag'],
  ] as const) {
    it(`${name}: chooses ${want}, reports it, and the draws match the target within 4 MCSE`, async () => {
      const cov = equicorrelated(d, rho, scales);
      const g = gaussian(mean, cov);
      const r = await sampleNuts(g.target, { dim: d, chains: 4, warmup: 500, draws: 500, seed: 21, massMatrix: 'auto' });
      expect(r.metricKind).toEqual([want, want, want, want]);
      expect(r.metricDecision!.every((x) => x?.kind === want)).toBe(true);
      expect(r.inverseMetric[0]!.length).toBe(want === 'dense' ? d * d : d);
      expect(describeMetricChoice(r.metricKind, r.metricDecision)).toMatch(new RegExp(`^${want} \\(auto: condition number`));
      expect(momentFailures(r, mean, cov)).toEqual([]);
    }, 60_000);
  }

  it('a forced shape is kept and reported as asked', async () => {
    const g = gaussian(mean, equicorrelated(d, 0.95, scales));
    const r = await sampleNuts(g.target, { dim: d, chains: 1, warmup: 150, draws: 10, seed: 3, massMatrix: 'diag' });
    expect(r.metricKind).toEqual(['diag']);
    expect(r.metricDecision).toBeUndefined();
    expect(describeMetricChoice(r.metricKind, r.metricDecision)).toBe('diag (as asked)');
  });

  it('rejects an unknown shape, naming the option', async () => {
    const g = gaussian(mean, equicorrelated(d, 0, scales));
    await expect(sampleNuts(g.target, { dim: d, massMatrix: 'full' as never })).rejects.toThrow(/massMatrix must be one of identity, diag, dense, auto/);
  });
});

/** A dense metric whose momenta come from N(0, M^{-1}) instead of N(0, M): the planted bug. */
class UninvertedMetric extends EuclideanMetric {
  override sampleMomentum(rng: Rng): number[] {
    const z: number[] = [];
    for (let i = 0; i < this.dim; i++) z.push(rng.normal());
    const inv = this.inverse;
    // p = L z with L L^T = M^{-1}: covariance M^{-1}, the matrix the right metric inverts
    const l = new Float64Array(this.dim * this.dim);
    for (let i = 0; i < this.dim; i++) {
      for (let j = 0; j <= i; j++) {
        let s = inv[i * this.dim + j]!;
        for (let k = 0; k < j; k++) s -= l[i * this.dim + k]! * l[j * this.dim + k]!;
        l[i * this.dim + j] = i === j ? Math.sqrt(s) : s / l[j * this.dim + j]!;
      }
    }
    return z.map((_, i) => {
      let s = 0;
      for (let k = 0; k <= i; k++) s += l[i * this.dim + k]! * z[k]!;
      return s;
    });
  }
}

describe('the dense metric in NUTS, one step from exact draws (planted bug: un-inverted metric)', () => {
  const cov = Float64Array.of(4, 1.9, 1.9, 1); // correlation 0.95
  const mean = Float64Array.of(0, 0);
  const { target } = gaussian(mean, cov);
  const chol = [2, 0, 0.95, Math.sqrt(1 - 0.95 ** 2)];

  function drive<T>(co: GradientCoroutine<T>, t: LogDensityTarget): T {
    let step = co.next();
    while (!step.done) {
      const r = t(Float64Array.from(step.value)) as LogDensityAndGradient;
      step = co.next({ logp: r.logp, grad: r.grad, offset: 0 });
    }
    return step.value;
  }

  /** Largest |z| of the one-step variances against the target's, over the two coordinates. */
  function worstZ(metric: EuclideanMetric): number {
    const rng = new Rng(77);
    const kernel = new NutsKernel();
    const n = 3000;
    const sumSq = [0, 0];
    const fourth = [0, 0];
    for (let k = 0; k < n; k++) {
      const z0 = rng.normal();
      const z1 = rng.normal();
      const q = Float64Array.of(chol[0]! * z0, chol[2]! * z0 + chol[3]! * z1);
      const r = target(q) as LogDensityAndGradient;
      const end = drive(kernel.transition({ q: Array.from(q), logp: r.logp, grad: Array.from(r.grad) }, 0.9, metric, rng), target).position.q;
      for (let i = 0; i < 2; i++) {
        sumSq[i] += end[i]! ** 2;
        fourth[i] += end[i]! ** 4;
      }
    }
    let worst = 0;
    for (let i = 0; i < 2; i++) {
      const v = cov[i * 3]!;
      const se = Math.sqrt((fourth[i]! / n - v * v) / n);
      worst = Math.max(worst, Math.abs(sumSq[i]! / n - v) / se);
    }
    return worst;
  }

  it('the right dense metric (M^{-1} = the covariance) keeps the target: variances within 4 standard errors', () => {
    expect(worstZ(new EuclideanMetric('dense', 2, cov))).toBeLessThan(4);
  });

  it('the planted bug (momenta from N(0, M^{-1})) is caught by the same check', () => {
    expect(worstZ(new UninvertedMetric('dense', 2, cov))).toBeGreaterThan(4);
  });
});
