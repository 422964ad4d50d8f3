/**
 * tyche/testing: SBC, TARP, log Z checks, oracles and arbitraries.
 *
 * Design error rates. SBC runs at family-wise alpha = 0.01 (each quantity's
 * chi-square and ECDF-band tests at 0.01 / (2K), Bonferroni), TARP at 0.01,
 * the log Z z-test at 0.01 and the enumeration oracle at 4 sigma per
 * probability; so a correct engine fails a given check with probability at
 * most about 1%. Seeds are fixed, so results are reproducible; the checks
 * below that must fail (planted bugs) fail by wide margins, not marginally.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import { type Model, block, model } from '../../src/core/index.js';
import { Rng } from '../../src/core/rng.js';
import { Bernoulli, Categorical, Normal } from '../../src/distributions/index.js';
import { Posterior, infer } from '../../src/infer/index.js';
import { systematic } from '../../src/infer/smc/resampling.js';
import {
  analyzeRanks,
  arbConjugate,
  arbDistribution,
  arbProgram,
  bidirectionalBounds,
  betaBernoulli,
  chiSquareUniformity,
  compareWithEnumeration,
  checkLogDetJacobian,
  ecdfBandTest,
  engineAgreesWithExact,
  engineAgreesWithExactProperty,
  type GeneratedProgram,
  exactConjugateEngine,
  gapDecreases,
  independentDraws,
  linearGaussianLogZBounds,
  linearGaussianSmoothingDraw,
  logDetJacobianProperty,
  stateSpaceLogZBounds,
  logZUnbiasedness,
  normalNormal,
  priorPredictive,
  sbc,
  tarp,
  tarpCheck,
} from '../../src/testing/index.js';
import { Bijector, Exp, Ordered, Sigmoid, Softplus, StickBreaking } from '../../src/transforms/index.js';
import type { Value } from '../../src/core/value.js';
import { kalmanFilter, linearGaussian1D, linearGaussianStateSpace, rtsSmoother } from '../../src/infer/smc/index.js';
import { linearGaussianCheck, linearGaussianData } from './check-models.js';

beforeAll(async () => {
  await initBackend('cpu');
});

const fam = normalNormal(0, 1, 1);
const simulator = fam.simulator(3);
const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** The exact posterior sampler and three planted bugs. */
const engines = {
  exact: exactConjugateEngine(fam, 400),
  prior: exactConjugateEngine(fam, 400, (d, _y, rng) => d.map(() => fam.prior.sample(rng) as number)),
  overconfident: exactConjugateEngine(fam, 400, (d, y) => {
    const m = fam.moments(y).mean;
    return d.map((x) => m + (x - m) / 2); // posterior sd halved
  }),
  biased: exactConjugateEngine(fam, 400, (d, y) => {
    const s = fam.moments(y).sd;
    return d.map((x) => x + s); // shifted by one posterior sd
  }),
};

/** A data-dependent TARP reference point: the data mean plus a little noise. */
const dataReference = (sim: { args: [number[]] }, rng: Rng) => [mean(sim.args[0]) + 0.1 * rng.normal()];

describe('simulation-based calibration', () => {
  it('passes the exact posterior sampler', async () => {
    const r = await sbc({ simulator, engine: engines.exact, simulations: 100, draws: 39, seed: 1 });
    expect(r.pass, r.toString()).toBe(true);
    expect(r.quantities.map((q) => q.name)).toEqual(['mu', 'logLik']);
    expect(r.quantities[0].ranks.length).toBe(100);
  });

  it('fails an engine that returns the prior (through the log-likelihood rank)', async () => {
    const r = await sbc({ simulator, engine: engines.prior, simulations: 100, draws: 39, seed: 1 });
    expect(r.pass).toBe(false);
    // the parameter's own ranks are blind to this bug; the log-likelihood's are not
    expect(r.quantities.find((q) => q.name === 'logLik')?.pass).toBe(false);
    expect(r.failures.join('\n')).toMatch(/logLik/);
  });

  it('fails an over-confident engine (sd halved) with U-shaped ranks', async () => {
    const r = await sbc({ simulator, engine: engines.overconfident, simulations: 100, draws: 39, seed: 1 });
    expect(r.pass).toBe(false);
    const mu = r.quantities.find((q) => q.name === 'mu')!;
    expect(mu.pass).toBe(false);
    expect(mu.varianceRatio).toBeGreaterThan(1.3);
    expect(mu.hint).toMatch(/over-confident/);
  });

  it('fails a biased engine (shifted by one posterior sd)', async () => {
    const r = await sbc({ simulator, engine: engines.biased, simulations: 100, draws: 39, seed: 1 });
    expect(r.pass).toBe(false);
    const mu = r.quantities.find((q) => q.name === 'mu')!;
    expect(mu.pass).toBe(false);
    expect(mu.meanRank).toBeLessThan(0.4);
    expect(mu.hint).toMatch(/above the truth/);
  });

  it('passes importance sampling and enumeration (prior-predictive simulator on a model)', async () => {
    const is = await sbc({ simulator, engine: { method: 'importance', particles: 500 }, simulations: 60, draws: 19, seed: 2 });
    expect(is.pass, is.toString()).toBe(true);
    const coin = model(async ({ sample, observe }, flips: number[]) => {
      const biased = await sample('biased', Bernoulli(0.3));
      const k = await sample('k', Categorical([0.2, 0.5, 0.3]));
      const p = biased ? 0.8 : 0.2 + 0.2 * k;
      for (let i = 0; i < flips.length; i++) await observe(`f${i}`, Bernoulli(p), flips[i]);
    });
    const en = await sbc({ simulator: priorPredictive(coin, [[0, 0, 0, 0]]), engine: { method: 'enumerate' }, simulations: 200, draws: 19, seed: 3 });
    expect(en.pass, en.toString()).toBe(true);
    expect(en.quantities.map((q) => q.name)).toEqual(['biased', 'k', 'logLik']);
  });

  it('an engine that warns on every run prints one line for the loop, not one per run', async () => {
    const printed: string[] = [];
    const original = console.warn;
    console.warn = (...xs: unknown[]) => void printed.push(xs.map(String).join(' '));
    try {
      // 20 particles: importance's ESS is under 100 on every run
      const r = await tarpCheck({ simulator, engine: { method: 'importance', particles: 20 }, simulations: 6, draws: 10, seed: 1 });
      expect(r.params).toEqual(['mu']);
    } finally {
      console.warn = original;
    }
    expect(printed).toHaveLength(1);
    expect(printed[0]).toMatch(/^importance: 6 of 6 runs warned \(each run's warnings are on its post\.warnings\); the first: ESS [\d.]+ of 20 draws is below 100/);
  });

  it('ranks are uniform under the null: chi-square and ECDF band keep their level', () => {
    const rng = new Rng(11);
    let chi = 0;
    let band = 0;
    const R = 2000;
    for (let r = 0; r < R; r++) {
      const ranks = Array.from({ length: 50 }, () => rng.int(20));
      if (chiSquareUniformity(ranks, 19, 10).pValue < 0.05) chi++;
      if (!ecdfBandTest(ranks, 19, 0.05).pass) band++;
    }
    // false-alarm rates at most 5% (+ 4.5 binomial standard errors)
    const tol = 0.05 + 4.5 * Math.sqrt((0.05 * 0.95) / R);
    expect(chi / R).toBeLessThan(tol);
    expect(band / R).toBeLessThan(tol);
    expect(band / R).toBeGreaterThan(0.01); // and the band is not vacuous
  });

  it('analyzeRanks rejects malformed ranks with a clear message', () => {
    expect(() => analyzeRanks({ mu: [0, 5, 20] }, 20)).not.toThrow();
    expect(() => analyzeRanks({ mu: [0, 22] }, 20)).toThrow(/rank 1 is 22/);
    expect(() => analyzeRanks({ a: [0, 1], b: [1] }, 5)).toThrow(/"b" has 1 ranks/);
  });
});

describe('TARP expected coverage', () => {
  it('passes the exact sampler, with the box and with data-dependent references', async () => {
    const box = await tarpCheck({ simulator, engine: engines.exact, simulations: 150, draws: 100, seed: 1 });
    expect(box.pass, `max deviation ${box.maxDeviation} vs ${box.critical}`).toBe(true);
    expect(box.diagonalInBand).toBe(true);
    const data = await tarpCheck({ simulator, engine: engines.exact, simulations: 150, draws: 100, seed: 1, reference: dataReference });
    expect(data.pass).toBe(true);
    const is = await tarpCheck({ simulator, engine: { method: 'importance', particles: 500 }, simulations: 80, draws: 100, seed: 2, reference: dataReference });
    expect(is.pass, `importance: max deviation ${is.maxDeviation} vs ${is.critical}`).toBe(true);
  });

  it('fails the prior engine (data-dependent references), the over-confident and the biased engines', async () => {
    const prior = await tarpCheck({ simulator, engine: engines.prior, simulations: 150, draws: 100, seed: 1, reference: dataReference });
    expect(prior.pass).toBe(false);
    expect(prior.signedDeviation).toBeGreaterThan(0);
    const over = await tarpCheck({ simulator, engine: engines.overconfident, simulations: 150, draws: 100, seed: 1 });
    expect(over.pass).toBe(false);
    expect(over.diagonalInBand).toBe(false);
    const biased = await tarpCheck({ simulator, engine: engines.biased, simulations: 150, draws: 100, seed: 1, reference: dataReference });
    expect(biased.pass).toBe(false);
  });

  it('works on raw samples in several dimensions and checks shapes', () => {
    const rng = new Rng(4);
    // exact: truth and samples from the same Normal(m_i, 1) in 2-D
    const truths: number[][] = [];
    const samples: number[][][] = [];
    for (let i = 0; i < 200; i++) {
      const m = [rng.normal() * 3, rng.normal() * 3];
      truths.push(m.map((x) => x + rng.normal()));
      samples.push(Array.from({ length: 50 }, () => m.map((x) => x + rng.normal())));
    }
    expect(tarp(samples, truths, { seed: 1 }).pass).toBe(true);
    // over-confident: every sample set shrunk to a third of its spread around its mean
    const narrow = samples.map((s) => {
      const centre = [0, 1].map((d) => mean(s.map((y) => y[d])));
      return s.map((x) => x.map((v, d) => centre[d] + (v - centre[d]) / 3));
    });
    expect(tarp(narrow, truths, { seed: 1 }).pass).toBe(false);
    expect(() => tarp([[[1, 2]]], [[1]])).toThrow(/sample 0 of simulation 0 has 2 coordinates, expected 1/);
  });
});

describe('log-normaliser checks', () => {
  const data = [0.5, 1.5, -0.3];
  const logZ = fam.logZ(data);

  it('conjugate log Z matches enumeration-free estimates: importance Z-hat is unbiased', async () => {
    const estimates: number[] = [];
    for (let s = 0; s < 40; s++) estimates.push((await infer(fam.model, { method: 'importance', particles: 50, seed: s }, data)).logZ);
    const r = logZUnbiasedness(estimates, logZ);
    expect(r.pass, JSON.stringify(r)).toBe(true);
    expect(r.meanLogError).toBeLessThan(0.05); // Jensen: E log Z-hat <= log Z (up to noise)
    // a planted bias (Z-hat doubled) is caught
    expect(logZUnbiasedness(estimates.map((e) => e + Math.log(2)), logZ).pass).toBe(false);
  });

  it('bidirectional bounds sandwich log Z, and their gap estimates the symmetric KL', () => {
    // synthetic forward/reverse estimates: log Z -/+ KL with noise
    const rng = new Rng(3);
    const fwd = Array.from({ length: 100 }, () => logZ - 0.3 + 0.1 * rng.normal());
    const rev = Array.from({ length: 100 }, () => logZ + 0.2 + 0.1 * rng.normal());
    const b = bidirectionalBounds(fwd, rev, { logZ });
    expect(b.consistent).toBe(true);
    expect(Math.abs(b.gap - 0.5)).toBeLessThan(4.5 * b.gapSe);
    expect(b.interval[0]).toBeLessThan(logZ);
    expect(b.interval[1]).toBeGreaterThan(logZ);
    // crossed bounds (a bug in one runner) are inconsistent
    expect(bidirectionalBounds(rev, fwd).consistent).toBe(false);
    const shrinking = [0.8, 0.4, 0.1].map((g) => ({ gap: g, gapSe: 0.02 }));
    expect(gapDecreases(shrinking)).toBe(true);
    expect(gapDecreases([...shrinking].reverse())).toBe(false);
  });
});

describe('bidirectional log Z bounds on a linear-Gaussian state-space model', () => {
  const { params, particles, runs } = linearGaussianCheck;
  const ys = linearGaussianData();
  const exact = kalmanFilter(linearGaussian1D(params), ys).logLikelihood;

  it('the exact smoothing draws have the RTS smoother\'s moments', () => {
    const rng = new Rng(4);
    const n = 4000;
    const draws = Array.from({ length: n }, () => linearGaussianSmoothingDraw(params, ys, rng));
    const rts = rtsSmoother(linearGaussian1D(params), kalmanFilter(linearGaussian1D(params), ys));
    for (const t of [0, 12, ys.length - 1]) {
      const m = mean(draws.map((d) => d[t]));
      const v = rts.covariances[t][0][0];
      expect(Math.abs(m - rts.means[t][0])).toBeLessThan(4.5 * Math.sqrt(v / n));
    }
  });

  it('SMC below and CSMC from exact paths above bracket the Kalman log Z, and the gap (symmetric KL) closes with particles', async () => {
    const r = await linearGaussianLogZBounds(params, ys, { particles, runs, seed: 1 });
    const rows = r.levels.map((l) => `N=${l.particles}: [${l.lower.mean.toFixed(3)} ± ${l.lower.se.toFixed(3)}, ${l.upper.mean.toFixed(3)} ± ${l.upper.se.toFixed(3)}] gap ${l.gap.toFixed(3)}`);
    console.log(`log Z ${exact.toFixed(3)}; ${rows.join('; ')}`);
    expect(r.logZ).toBeCloseTo(exact, 9);
    expect(r.consistent, rows.join('\n')).toBe(true);
    expect(r.gapDecreases, rows.join('\n')).toBe(true);
    expect(r.pass).toBe(true);
    for (const l of r.levels) {
      // the gap is KL(fwd || rev) + KL(rev || fwd), each estimated from one side and the exact log Z
      expect(l.gap).toBeCloseTo((l.klForward as number) + (l.klReverse as number), 9);
      expect(l.symmetricKL).toBe(Math.max(0, l.gap));
    }
    // with 4 particles both sides are resolved away from log Z
    const first = r.levels[0];
    expect(first.lower.mean + 4.5 * first.lower.se).toBeLessThan(exact);
    expect(first.upper.mean - 4.5 * first.upper.se).toBeGreaterThan(exact);
  });

  it('a CSMC reference that is not an exact posterior path breaks the upper bound', async () => {
    // planted bug: references drawn from the prior dynamics instead of the smoothing distribution
    const prior = (_run: number, rng: Rng) => {
      const x: number[] = [params.m0 + params.s0 * rng.normal()];
      for (let t = 1; t < ys.length; t++) x.push(params.a * x[t - 1] + params.q * rng.normal());
      return x;
    };
    const r = await stateSpaceLogZBounds(linearGaussianStateSpace(params, ys), { particles: [4, 16], runs: 30, references: prior, logZ: exact, seed: 2 });
    expect(r.consistent).toBe(false);
    expect(r.pass).toBe(false);
  });

  it('rejects particle counts that do not increase', async () => {
    await expect(stateSpaceLogZBounds(linearGaussianStateSpace(params, ys), { particles: [16, 4], runs: 5, references: [] })).rejects.toThrow(/must increase/);
  });
});

/** A planted wrong Jacobian: delegates to `inner` but scales its log-determinant. */
class ScaledLogDet extends Bijector {
  readonly name: string;
  constructor(
    private readonly inner: Bijector,
    private readonly factor: number,
  ) {
    super();
    this.name = `${inner.name}×${factor}`;
  }
  get domain() {
    return this.inner.domain;
  }
  get codomain() {
    return this.inner.codomain;
  }
  forward(x: Value): Value {
    return this.inner.forward(x);
  }
  inverse(y: Value): Value {
    return this.inner.inverse(y);
  }
  logDetJacobian(x: Value, y?: Value): Value {
    const l = this.inner.logDetJacobian(x, y);
    return typeof l === 'number' ? this.factor * l : l.mul(this.factor);
  }
  override forwardShape(shape: readonly number[]): number[] {
    return this.inner.forwardShape(shape);
  }
  override inverseShape(shape: readonly number[]): number[] {
    return this.inner.inverseShape(shape);
  }
}

describe('fast-check finds a planted wrong Jacobian and shrinks it', () => {
  it('the real bijectors match finite differences', () => {
    fc.assert(logDetJacobianProperty([Exp(), Softplus(), Sigmoid(), StickBreaking(), Ordered()]), { numRuns: 200, seed: 1 });
    // a spot value: on R^1 the offset is log 1 = 0, so x = 0 breaks the stick at z = 1/2 and log det = 2 log(1/2)
    const spot = checkLogDetJacobian(StickBreaking(), [0]);
    expect(spot.analytic).toBeCloseTo(2 * Math.log(0.5), 5);
    expect(spot.pass).toBe(true);
  });

  it('a halved log-determinant (Exp) shrinks to an input near 0', () => {
    const out = fc.check(logDetJacobianProperty([new ScaledLogDet(Exp(), 0.5)]), { numRuns: 200, seed: 1 });
    expect(out.failed).toBe(true);
    const [c] = out.counterexample as [{ x: number }];
    console.log(`planted Exp×0.5: shrunk to ${String(out.counterexample?.[0])} after ${out.numShrinks} shrinks`);
    // log det Exp = x, so the error |x|/2 first exceeds the (1e-6 + 1e-6 |x|) tolerance at |x| just above 2e-6
    expect(Math.abs(c.x)).toBeGreaterThan(2e-6);
    expect(Math.abs(c.x)).toBeLessThan(1e-5);
  });

  it('a negated log-determinant (StickBreaking) is found among correct bijectors and shrinks to the one-entry vector [0]', () => {
    const out = fc.check(logDetJacobianProperty([new ScaledLogDet(Softplus(), 1), new ScaledLogDet(StickBreaking(), -1)]), { numRuns: 200, seed: 2 });
    expect(out.failed).toBe(true);
    const [c] = out.counterexample as [{ bijector: Bijector; x: number[] }];
    console.log(`planted StickBreaking×-1: shrunk to ${String(out.counterexample?.[0])} after ${out.numShrinks} shrinks`);
    expect(c.bijector.name).toBe('StickBreaking×-1');
    expect(c.x).toEqual([0]);
  });
});

describe('exact oracles', () => {
  const sprinkler = model(async ({ sample, observe }) => {
    const rain = await sample('rain', Bernoulli(0.2));
    const sprinklerOn = await sample('sprinkler', Bernoulli(rain ? 0.01 : 0.4));
    const wet = rain || sprinklerOn ? 0.9 : 0.05;
    await observe('wet', Bernoulli(wet), 1);
    return rain;
  });

  it('importance sampling agrees with enumeration; a planted wrong posterior does not', async () => {
    const ok = await compareWithEnumeration(sprinkler, [], { method: 'importance', particles: 3000, seed: 1 });
    expect(ok.pass, ok.toString()).toBe(true);
    expect(ok.sites.map((s) => s.site)).toEqual(['rain', 'sprinkler', '<return>']);
    // the prior is not the posterior: flagged
    const prior = await infer(model(async ({ sample }) => {
      const rain = await sample('rain', Bernoulli(0.2));
      await sample('sprinkler', Bernoulli(rain ? 0.01 : 0.4));
      return rain;
    }), { method: 'importance', particles: 3000, seed: 1 });
    const bad = await compareWithEnumeration(sprinkler, [], prior as never);
    expect(bad.pass).toBe(false);
    expect(bad.toString()).toMatch(/DISAGREE/);
  });

  it('a planted engine that drops factors is caught on random programs, and the program shrinks', async () => {
    // importance sampling on the model with its factor sites hidden from the trace: their weight is lost
    const dropsFactors = (m: Model<[], unknown>, args: [], seed: number) =>
      infer(block(m, { hide: (msg) => msg.type === 'factor' }), { method: 'importance', particles: 2000, seed }, ...args);
    const out = await fc.check(engineAgreesWithExactProperty(dropsFactors), { numRuns: 60, seed: 9 });
    expect(out.failed).toBe(true);
    const [program] = out.counterexample as [GeneratedProgram, number];
    expect(program.description).toMatch(/factor/);
    expect(program.choices).toBeLessThanOrEqual(2);
    expect(program.statements.length).toBeLessThanOrEqual(3);
  });

  it('engineAgreesWithExact holds for importance sampling on random programs', async () => {
    await engineAgreesWithExact({ method: 'importance', particles: 1500 }, { numRuns: 8, seed: 7 });
  });
});

describe('fast-check finds planted bugs and shrinks them', () => {
  /**
   * Planted off-by-one: the cumulative walk starts one particle late
   * (`cum` begins at 0 and the first weight added is weights[1]), so
   * particle 0 is never chosen and every other particle takes its
   * predecessor's share.
   */
  function buggySystematic(weights: Float64Array, n: number, rng: Rng): Int32Array {
    const total = weights.reduce((a, b) => a + b, 0);
    const out = new Int32Array(n);
    const u = rng.uniform();
    let j = 0;
    let cum = 0;
    for (let k = 0; k < n; k++) {
      const v = ((k + u) * total) / n;
      while (cum <= v && j < weights.length - 1) cum += weights[++j];
      out[k] = j;
    }
    return out;
  }

  /** Systematic resampling gives every particle floor(n w_i) or ceil(n w_i) offspring. */
  const offspringProperty = (resample: typeof systematic) =>
    fc.property(fc.array(fc.integer({ min: 0, max: 10 }), { minLength: 1, maxLength: 12 }).filter((w) => w.some((x) => x > 0)), fc.integer({ min: 1, max: 30 }), fc.integer(), (w, n, seed) => {
      const weights = Float64Array.from(w);
      const total = w.reduce((a, b) => a + b, 0);
      const counts = new Array<number>(w.length).fill(0);
      for (const a of resample(weights, n, new Rng(seed))) counts[a]++;
      return counts.every((c, i) => {
        const e = (n * w[i]) / total;
        return c >= Math.floor(e - 1e-9) && c <= Math.ceil(e + 1e-9);
      });
    });

  it('the real systematic resampler satisfies the offspring property', () => {
    fc.assert(offspringProperty(systematic), { numRuns: 300, seed: 1 });
  });

  it('the planted off-by-one is found and shrunk to a tiny case', () => {
    const out = fc.check(offspringProperty(buggySystematic), { numRuns: 300, seed: 1 });
    expect(out.failed).toBe(true);
    const [weights, n] = out.counterexample as [number[], number, number];
    expect(weights.length).toBeLessThanOrEqual(2);
    expect(n).toBeLessThanOrEqual(2);
  });
});

describe('arbitraries', () => {
  it('arbDistribution: draws lie in the support with finite log density', () => {
    fc.assert(
      fc.property(arbDistribution(), fc.integer(), (g, seed) => {
        const x = g.dist.sample(new Rng(seed)) as number;
        const lp = g.dist.logProb(x) as number;
        return Number.isFinite(x) && Number.isFinite(lp);
      }),
      { numRuns: 300, seed: 2 },
    );
  });

  it('arbProgram: programs enumerate within their path bound, with a description', async () => {
    await fc.assert(
      fc.asyncProperty(arbProgram(), async (p) => {
        const post = await infer(p.model, { method: 'enumerate' });
        expect(post.diagnostics.executions as number).toBeLessThanOrEqual(p.maxPaths);
        expect(Math.abs(post.weights.reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-9);
        expect(p.description).toMatch(/x0 ~/);
      }),
      { numRuns: 40, seed: 3 },
    );
  });

  it('arbConjugate: exact log Z and posterior moments agree with enumeration on a fine grid (Beta-Bernoulli) and with importance sampling', async () => {
    // Beta-Bernoulli closed forms against direct numerical integration
    const bb = betaBernoulli(2, 3);
    const ys = [1, 0, 1, 1];
    const grid = 20000;
    let z = 0;
    let m1 = 0;
    for (let i = 0; i < grid; i++) {
      const p = (i + 0.5) / grid;
      const dens = Math.exp(bb.prior.logProb(p) as number) * ys.reduce((a, y) => a * (y ? p : 1 - p), 1);
      z += dens / grid;
      m1 += (p * dens) / grid;
    }
    expect(Math.abs(Math.log(z) - bb.logZ(ys))).toBeLessThan(1e-6);
    expect(Math.abs(m1 / z - bb.moments(ys).mean)).toBeLessThan(1e-6);
    // random conjugate models: importance sampling's log Z is within its error of the exact value
    await fc.assert(
      fc.asyncProperty(arbConjugate({ maxData: 4 }), async (g) => {
        const post = await infer(g.family.model, { method: 'importance', particles: 4000, seed: 5 }, g.data);
        // log Z-hat of N particles has sd about sqrt((1/ESS - 1/N))
        const sd = Math.sqrt(Math.max(1 / post.ess - 1 / post.size, 1e-6));
        expect(Math.abs(post.logZ - g.logZ)).toBeLessThan(4.5 * sd + 1e-6);
      }),
      { numRuns: 12, seed: 4 },
    );
  });
});

describe('independent draws for ranking', () => {
  it('thins an autocorrelated chain by its ESS and resamples weighted output', () => {
    const rng = new Rng(8);
    const n = 4000;
    let x = 0;
    const draws = Array.from({ length: n }, () => {
      x = 0.9 * x + Math.sqrt(1 - 0.81) * rng.normal(); // AR(1): integrated autocorrelation time (1 + 0.9) / (1 - 0.9) = 19
      return { values: { x }, returnValue: undefined, logWeight: 0, chain: 0 };
    });
    const chain = new Posterior({ method: 'ar1', draws, model: fam.model as never, args: [] as never });
    const thinned = independentDraws(chain, 100, new Rng(1));
    expect(thinned.how).toBe('thinned');
    expect(thinned.stride).toBeGreaterThan(19 / 1.5);
    expect(thinned.stride).toBeLessThan(19 * 1.5);
    expect(thinned.draws.length).toBe(100);
    const weighted = new Posterior({ method: 'w', draws: [0, 1].map((v) => ({ values: { x: v }, returnValue: undefined, logWeight: v === 1 ? Math.log(3) : 0 })), model: fam.model as never, args: [] as never });
    const picked = independentDraws(weighted, 4000, new Rng(2));
    expect(picked.how).toBe('resampled');
    const ones = picked.draws.filter((d) => d.values.x === 1).length / 4000;
    expect(Math.abs(ones - 0.75)).toBeLessThan(4.5 * Math.sqrt((0.75 * 0.25) / 4000));
  });
});

describe('priorPredictive', () => {
  it('redraws observed sites, keeps latents as truth and conditions the model on the simulated data', async () => {
    const m = model(async ({ sample, observe }, ys: number[]) => {
      const mu = await sample('mu', Normal(0, 1));
      for (let i = 0; i < ys.length; i++) await observe(`y${i}`, Normal(mu, 0.01), ys[i]);
    });
    const sim = await priorPredictive(m, [[100, 100]])(new Rng(1), 0);
    expect(Object.keys(sim.params)).toEqual(['mu']);
    expect(Object.keys(sim.data ?? {})).toEqual(['y0', 'y1']);
    const y0 = sim.data!.y0 as number;
    expect(Math.abs(y0 - (sim.params.mu as number))).toBeLessThan(0.1);
    const post = await infer(sim.model, { method: 'importance', particles: 2000, seed: 1 }, ...sim.args);
    expect(Math.abs(post.moments('mu').mean - y0)).toBeLessThan(0.1);
  });
});
