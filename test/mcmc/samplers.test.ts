/**
 * Statistical and behavioural tests of the NUTS and HMC samplers: moments of
 * correlated Gaussians within 4 MCSE, divergences on Neal's funnel, step-size
 * and dense mass-matrix adaptation, reproducibility, vectorised chains,
 * progress and abort.
 */
import { describe, expect, it } from 'vitest';
import { mcseMean } from '../../src/diagnostics/mcse.js';
import {
  type BatchedLogDensityTarget,
  type LogDensityTarget,
  type McmcSamples,
  parameterDraws,
  sampleHmc,
  sampleHmcBatched,
  sampleNuts,
  sampleNutsBatched,
  samplerDigest,
} from '../../src/infer/mcmc/index.js';
import { cholesky } from '../../src/infer/mcmc/linalg.js';
import { EuclideanMetric } from '../../src/infer/mcmc/metric.js';
import { NutsTrajectory } from '../../src/infer/mcmc/nuts.js';
import { Rng } from '../../src/core/rng.js';
import { eightSchoolsCentered, gaussian, logGamma, momentFailures, randomCovariance } from './targets.js';

const cov2 = Float64Array.from([1, 1.8, 1.8, 4]); // sd 1 and 2, correlation 0.9
const mean2 = Float64Array.from([1, -1]);
const mean10 = Float64Array.from({ length: 10 }, (_, i) => i - 4.5);
const cov10 = randomCovariance(10, 42, [0.3, 5]);

function sameDraws(a: McmcSamples, b: McmcSamples): boolean {
  return a.samples.every((s, c) => s.every((x, i) => x === b.samples[c]![i]));
}

describe('NUTS on Gaussians', () => {
  it('2-D correlated: means and covariances within 4 MCSE, no divergences', async () => {
    const g = gaussian(mean2, cov2);
    const r = await sampleNuts(g.target, { dim: 2, chains: 4, warmup: 500, draws: 1000, seed: 1 });
    expect(momentFailures(r, mean2, cov2)).toEqual([]);
    expect(samplerDigest(r).totalDivergences).toBe(0);
    expect(r.gradientEvaluations.reduce((a, b) => a + b)).toBe(g.calls());
  });

  it('10-D correlated with a dense metric: means and covariances within 4 MCSE', async () => {
    const g = gaussian(mean10, cov10);
    const r = await sampleNuts(g.target, { dim: 10, chains: 4, warmup: 1000, draws: 1000, seed: 2, massMatrix: 'dense' });
    expect(momentFailures(r, mean10, cov10)).toEqual([]);
    expect(samplerDigest(r).totalDivergences).toBe(0);
  });

  it('10-D correlated with a diagonal metric, vectorised chains: within 4 MCSE', async () => {
    const g = gaussian(mean10, cov10);
    const r = await sampleNutsBatched(g.batched, { dim: 10, chains: 4, warmup: 1000, draws: 1000, seed: 3 });
    expect(r.vectorised).toBe(true);
    expect(momentFailures(r, mean10, cov10)).toEqual([]);
  });
});

describe('NUTS on a skewed target', () => {
  it('log-Gamma coordinates: means digamma(a) and variances trigamma(a) within 4 MCSE', async () => {
    const shapes = [0.5, 2, 10];
    const eulerGamma = 0.5772156649015329;
    // digamma and trigamma at 1/2 and at integers n: H_{n-1} - gamma, pi^2/6 - sum_{k<n} 1/k^2
    const digammaInt = (n: number): number => Array.from({ length: n - 1 }, (_, k) => 1 / (k + 1)).reduce((a, b) => a + b, 0) - eulerGamma;
    const trigammaInt = (n: number): number =>
      Math.PI ** 2 / 6 - Array.from({ length: n - 1 }, (_, k) => 1 / (k + 1) ** 2).reduce((a, b) => a + b, 0);
    const mean = Float64Array.from([-eulerGamma - 2 * Math.LN2, digammaInt(2), digammaInt(10)]);
    const variance = [Math.PI ** 2 / 2, trigammaInt(2), trigammaInt(10)];
    const cov = new Float64Array(9);
    variance.forEach((v, i) => (cov[i * 3 + i] = v));
    const r = await sampleNuts(logGamma(shapes), { dim: 3, chains: 4, warmup: 500, draws: 1000, seed: 15 });
    expect(momentFailures(r, mean, cov)).toEqual([]);
  });
});

describe('static HMC', () => {
  it('2-D correlated: means and covariances within 4 MCSE', async () => {
    const g = gaussian(mean2, cov2);
    const r = await sampleHmc(g.target, { dim: 2, chains: 4, warmup: 500, draws: 1000, seed: 4 });
    expect(r.method).toBe('hmc');
    expect(momentFailures(r, mean2, cov2)).toEqual([]);
    expect(r.stats[0]!.treeDepth.every((d) => d === 0)).toBe(true);
  });

  it('a fixed number of steps takes exactly that many leapfrog steps', async () => {
    const g = gaussian(mean2, cov2);
    const r = await sampleHmc(g.target, { dim: 2, chains: 1, warmup: 100, draws: 50, seed: 4, numSteps: 7 });
    expect(r.stats[0]!.nLeapfrog.every((n) => n === 7)).toBe(true);
  });
});

describe('divergences', () => {
  it('are detected and reported on the centered eight-schools model, concentrated at small tau', async () => {
    // NumPyro's README reports ~19 divergences for this model with 500 warmup / 1000 draws.
    const r = await sampleNuts(eightSchoolsCentered(), { dim: 10, chains: 4, warmup: 500, draws: 1000, seed: 5 });
    const digest = samplerDigest(r);
    expect(digest.totalDivergences).toBeGreaterThan(0);
    let count = 0;
    let logTauDivergent = 0;
    let logTauAll = 0;
    const logTau = parameterDraws(r, 1);
    r.stats.forEach((s, c) => {
      s.divergent.forEach((flag, i) => {
        logTauAll += logTau[c]![i]!;
        if (flag === 1) {
          count += 1;
          logTauDivergent += logTau[c]![i]!;
        }
      });
    });
    expect(count).toBe(digest.totalDivergences);
    // divergences happen in the neck of the funnel (small tau), below the average draw
    expect(logTauDivergent / count).toBeLessThan(logTauAll / (r.chains * r.draws));
    expect(r.stats.every((s) => s.energy.every(Number.isFinite))).toBe(true);
  });

  it('every transition diverges when the energy threshold is tiny', async () => {
    const g = gaussian(mean2, cov2);
    const r = await sampleNuts(g.target, { dim: 2, chains: 1, warmup: 0, draws: 50, seed: 6, stepSize: 0.5, maxEnergyError: 1e-12 });
    // a leapfrog step conserves energy only approximately, so the first step already exceeds 1e-12
    expect(samplerDigest(r).totalDivergences).toBeGreaterThan(45);
  });

  it('a gradient entry that is not finite diverges; finite entries whose sum overflows do not (diag and dense metrics)', () => {
    // one leapfrog step (maxTreeDepth 1) with a step of 1e-308, so a gradient of 1.5e308 moves the momentum by 0.75:
    // the trajectory checks finiteness on the gradient's sum, falling back to each entry when the sum is not finite
    const oneStep = (kind: 'diag' | 'dense', grad: number[]): boolean => {
      const metric = new EuclideanMetric(kind, 2);
      const t = new NutsTrajectory(2, 1, 1000);
      const from = { q: [0.1, 0.2], logp: -1, grad: [0.3, -0.4] };
      expect(t.begin(from, 1e-308, metric, new Rng(3))).not.toBeNull();
      expect(t.advance(-1, Float64Array.from(grad), 0)).toBeNull();
      return t.result().divergent;
    };
    for (const kind of ['diag', 'dense'] as const) {
      expect(oneStep(kind, [1.5e308, 1.5e308]), kind).toBe(false);
      expect(oneStep(kind, [1.5e308, -1.5e308]), kind).toBe(false);
      expect(oneStep(kind, [0.5, Number.NaN]), kind).toBe(true);
      expect(oneStep(kind, [Infinity, -Infinity]), kind).toBe(true);
      expect(oneStep(kind, [Infinity, 1]), kind).toBe(true);
    }
  });
});

describe('adaptation', () => {
  it('dual averaging reaches the target acceptance', async () => {
    // Identity metric on an isotropic normal: pure step-size adaptation, no
    // window restarts. After warmup the mean acceptance statistic should
    // equal the target up to its MCSE and the O(1/sqrt(warmup)) bias of dual
    // averaging (about 1% in step size after 1000 iterations, see the unit
    // test), which moves acceptance by less than 0.02.
    const g = gaussian(new Float64Array(10), Float64Array.from({ length: 100 }, (_, k) => (k % 11 === 0 ? 1 : 0)));
    for (const [targetAccept, seed] of [
      [0.6, 7],
      [0.8, 8],
      [0.95, 9],
    ] as const) {
      const r = await sampleNuts(g.target, { dim: 10, chains: 4, warmup: 1000, draws: 1000, seed, massMatrix: 'identity', targetAccept });
      const acc = r.stats.map((s) => s.acceptStat);
      const m = acc.reduce((s, a) => s + a.reduce((x, y) => x + y, 0), 0) / (r.chains * r.draws);
      expect(Math.abs(m - targetAccept)).toBeLessThan(4 * mcseMean(acc) + 0.02);
    }
  });

  it('dense adaptation recovers the covariance of a badly scaled, correlated target', async () => {
    const d = 5;
    const cov = randomCovariance(d, 13, [0.1, 10]);
    const g = gaussian(new Float64Array(d), cov);
    const r = await sampleNuts(g.target, { dim: d, chains: 2, warmup: 1000, draws: 200, seed: 10, massMatrix: 'dense', saveWarmup: true });
    // The last slow window covers warmup iterations 450..949 (500 draws).
    const n = 500;
    const l = cholesky(cov, d);
    for (let c = 0; c < r.chains; c++) {
      const w = r.warmupSamples![c]!.subarray(450 * d, 950 * d);
      // 1. exactly Stan's regularised sample covariance of the window
      const mu = new Float64Array(d);
      for (let t = 0; t < n; t++) for (let i = 0; i < d; i++) mu[i] += w[t * d + i]! / n;
      for (let i = 0; i < d; i++) {
        for (let j = 0; j < d; j++) {
          let s = 0;
          for (let t = 0; t < n; t++) s += (w[t * d + i]! - mu[i]!) * (w[t * d + j]! - mu[j]!);
          const expected = (n / (n + 5)) * (s / (n - 1)) + (i === j ? 1e-3 * (5 / (n + 5)) : 0);
          expect(r.inverseMetric[c]![i * d + j]! / expected).toBeCloseTo(1, 9);
        }
      }
      // 2. close to the true covariance: whitened by the true Cholesky factor,
      // each product y_i y_j averages to the identity, within 4 MCSE of the window
      const y = new Float64Array(n * d);
      for (let t = 0; t < n; t++) {
        for (let i = 0; i < d; i++) {
          let s = w[t * d + i]!;
          for (let k = 0; k < i; k++) s -= l[i * d + k]! * y[t * d + k]!;
          y[t * d + i] = s / l[i * d + i]!;
        }
      }
      for (let i = 0; i < d; i++) {
        for (let j = 0; j <= i; j++) {
          const prod = new Float64Array(n);
          for (let t = 0; t < n; t++) prod[t] = y[t * d + i]! * y[t * d + j]!;
          const m = prod.reduce((a, b) => a + b, 0) / n;
          expect(Math.abs(m - (i === j ? 1 : 0))).toBeLessThan(4 * mcseMean([prod]));
        }
      }
    }
    // 3. and it pays: the adapted dense metric needs short trajectories
    const diag = await sampleNuts(g.target, { dim: d, chains: 2, warmup: 1000, draws: 200, seed: 10, massMatrix: 'diag' });
    const leapDense = samplerDigest(r).meanLeapfrog.reduce((a, b) => a + b) / 2;
    const leapDiag = samplerDigest(diag).meanLeapfrog.reduce((a, b) => a + b) / 2;
    expect(leapDense).toBeLessThan(leapDiag);
    expect(leapDense).toBeLessThan(8);
  });
});

describe('reproducibility and vectorised chains', () => {
  const g = gaussian(mean2, cov2);
  const opts = { dim: 2, chains: 3, warmup: 150, draws: 100 } as const;

  it('the same seed gives identical draws; another seed does not', async () => {
    const a = await sampleNuts(g.target, { ...opts, seed: 11 });
    const b = await sampleNuts(g.target, { ...opts, seed: 11 });
    const c = await sampleNuts(g.target, { ...opts, seed: 12 });
    expect(sameDraws(a, b)).toBe(true);
    expect(a.stats[1]!.treeDepth).toEqual(b.stats[1]!.treeDepth);
    expect(sameDraws(a, c)).toBe(false);
  });

  it('vectorised chains reproduce sequential chains exactly (NUTS and HMC, fixed batch, async target)', async () => {
    const seq = await sampleNuts(g.target, { ...opts, seed: 13 });
    const batchSizes = (fixedBatch: boolean): { target: BatchedLogDensityTarget; sizes: Set<number> } => {
      const sizes = new Set<number>();
      return {
        sizes,
        target: (q) => {
          sizes.add(q.length / 2);
          return g.batched(q);
        },
      };
    };
    const fixedSizes = batchSizes(true);
    const fixed = await sampleNutsBatched(fixedSizes.target, { ...opts, seed: 13 });
    const shrinkingSizes = batchSizes(false);
    const vec = await sampleNutsBatched(shrinkingSizes.target, { ...opts, seed: 13, fixedBatch: false });
    const asyncTarget: LogDensityTarget = async (q) => g.target(q);
    const asyncSeq = await sampleNuts(asyncTarget, { ...opts, seed: 13 });
    expect(sameDraws(seq, vec)).toBe(true);
    expect(sameDraws(seq, fixed)).toBe(true);
    expect(sameDraws(seq, asyncSeq)).toBe(true);
    expect([...fixedSizes.sizes]).toEqual([3]);
    expect([...shrinkingSizes.sizes].sort()).toEqual([1, 2, 3]);
    expect(vec.gradientEvaluations).toEqual(seq.gradientEvaluations);

    const hSeq = await sampleHmc(g.target, { ...opts, seed: 14 });
    const hVec = await sampleHmcBatched(g.batched, { ...opts, seed: 14 });
    expect(sameDraws(hSeq, hVec)).toBe(true);
  });

  it('user init values start each chain there', async () => {
    const init = [Float64Array.of(10, 10), Float64Array.of(-10, 5)];
    let first: number[] | undefined;
    await sampleNutsBatched(
      (q) => {
        first ??= Array.from(q);
        return g.batched(q);
      },
      { dim: 2, chains: 2, warmup: 10, draws: 10, seed: 1, init },
    );
    expect(first).toEqual([10, 10, -10, 5]);
  });
});

describe('progress and abort', () => {
  const g = gaussian(mean2, cov2);

  it('reports progress, ending with every iteration completed', async () => {
    const seen: number[] = [];
    await sampleNuts(g.target, {
      dim: 2, chains: 2, warmup: 200, draws: 200, seed: 1, progressIntervalMs: 0,
      onProgress: (p) => {
        seen.push(p.completed);
        expect(p.total).toBe(800);
      },
    });
    expect(seen.length).toBeGreaterThan(1);
    expect(seen.at(-1)).toBe(800);
    expect(seen.every((x, i) => i === 0 || x >= seen[i - 1]!)).toBe(true);
  });

  it('an already aborted signal rejects before any work', async () => {
    const ac = new AbortController();
    ac.abort();
    const before = g.calls();
    await expect(sampleNuts(g.target, { dim: 2, seed: 1, signal: ac.signal })).rejects.toMatchObject({ name: 'AbortError' });
    expect(g.calls()).toBe(before);
  });

  it('aborting mid-run stops it with the signal reason (sequential and vectorised)', async () => {
    for (const vectorised of [false, true]) {
      const ac = new AbortController();
      const before = g.calls();
      const huge = { dim: 2, chains: 4, warmup: 1_000_000, draws: 1_000_000, seed: 1, signal: ac.signal };
      setTimeout(() => ac.abort(new Error('stop now')), 30);
      const t0 = performance.now();
      const run = vectorised ? sampleNutsBatched(g.batched, huge) : sampleNuts(g.target, huge);
      await expect(run).rejects.toThrow('stop now');
      expect(performance.now() - t0).toBeLessThan(2000);
      expect(g.calls() - before).toBeGreaterThan(0);
    }
  });
});

describe('bad input', () => {
  const g = gaussian(mean2, cov2);
  it('is rejected with errors naming the argument', async () => {
    await expect(sampleNuts(g.target, { dim: 0 })).rejects.toThrow(/dim must be an integer >= 1/);
    await expect(sampleNuts(g.target, { dim: 2, chains: 1.5 })).rejects.toThrow(/chains/);
    await expect(sampleNuts(g.target, { dim: 2, chains: 2, init: [new Float64Array(2)] })).rejects.toThrow(/one per chain/);
    await expect(sampleNuts(g.target, { dim: 2, chains: 1, init: [new Float64Array(3)] })).rejects.toThrow(/init\[0\].*length dim = 2/);
    await expect(sampleNuts(g.target, { dim: 2, massMatrix: 'full' as never })).rejects.toThrow(/massMatrix/);
    await expect(sampleNuts(g.target, { dim: 3, chains: 1 })).rejects.toThrow(/gradient has length 2, expected dim = 3/);
    await expect(sampleNuts(g.target, { dim: 2, targetAccept: 1.2 })).rejects.toThrow(/targetAccept/);
    await expect(sampleNutsBatched(g.target as never, { dim: 2, chains: 2 })).rejects.toThrow(/batched target/);
    await expect(sampleNuts(g.target, { dim: 2, initialInverseMetric: Float64Array.of(1, 0) })).rejects.toThrow(/entry 1 must be positive/);
    await expect(sampleNuts(g.target, { dim: 2, massMatrix: 'dense', initialInverseMetric: Float64Array.of(1, 1) })).rejects.toThrow(
      /length 4/,
    );
    const before = g.calls();
    await expect(sampleNuts(g.target, { dim: 2, stepSize: 0 })).rejects.toThrow(/stepSize/);
    expect(g.calls()).toBe(before);
  });
  it('reports starting points outside the support', async () => {
    const halfLine: LogDensityTarget = (q) => ({
      logp: q[0]! > 0 ? -q[0]! : -Infinity,
      grad: Float64Array.of(-1),
    });
    await expect(sampleNuts(halfLine, { dim: 1, chains: 1, init: [Float64Array.of(-1)] })).rejects.toThrow(
      /chain 0: the initial point has a non-finite log density/,
    );
    const nowhere: LogDensityTarget = () => ({ logp: -Infinity, grad: Float64Array.of(0) });
    await expect(sampleNuts(nowhere, { dim: 1, chains: 1 })).rejects.toThrow(/no point with finite log density .* 100 uniform draws/);
  });
});
