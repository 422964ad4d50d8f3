/**
 * Tests of the MCMC diagnostics (src/diagnostics) against:
 * - exact results (FFT against a direct DFT, autocovariances against direct sums, closed-form quantiles);
 * - an independent numpy/scipy implementation (test/diagnostics/numpy_reference.py), to 1e-9;
 * - known statistical behaviour, with fixed seeds and tolerances derived from Monte Carlo error:
 *   independent draws, AR(1) chains with known ESS, shifted chains, chains with different scales,
 *   and the posteriordb eight-schools reference draws (skipped when absent).
 *
 * No tensors are used, so no tfjs backend is initialised.
 */
import { resolve } from 'node:path';
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Rng } from '../../src/core/rng.js';
import type { SummaryRow } from '../../src/infer/posterior.js';
import { irfft, rfft, fftInPlace } from '../../src/diagnostics/fft.js';
import {
  autocorrelation,
  autocovariance,
  averageRanks,
  betaQuantile,
  ebfmi,
  ecdf,
  essBasic,
  essBulk,
  essQuantile,
  essTail,
  mcseMean,
  mcseQuantile,
  mcseSd,
  normalQuantile,
  quantile,
  quantiles,
  rankNormalizedSplitRhat,
  regularizedIncompleteBeta,
  rhatBulk,
  rhatTail,
  splitChains,
  splitRhat,
  splitRhatAndEss,
  summarize,
} from '../../src/diagnostics/index.js';
import { meanSd } from '../stats.js';

interface Golden {
  essBasic: number;
  essBasicNoSplit: number;
  essBulk: number;
  essTail: number;
  rhatBulk: number;
  rhatTail: number;
  splitRhat: number;
  rhat: number;
  mcseMean: number;
  mcseSd: number;
  mcseQ05: number;
  mcseQ50: number;
  ebfmi: number[];
  acf: number[];
}

// Printed by test/diagnostics/numpy_reference.py (numpy 2.4.6, scipy 1.17.1).
const GOLDEN: Record<string, Golden> = {
  "synth_4x101": {
    essBasic: 308.5734942840189, essBasicNoSplit: 308.1471485737469, essBulk: 298.39706306270847,
    essTail: 300.4571856734279, rhatBulk: 1.0625237418769429, rhatTail: 1.0003654137248699,
    splitRhat: 1.0535079360061548, rhat: 1.0625237418769429, mcseMean: 0.042046047657145404,
    mcseSd: 0.023060561472556168, mcseQ05: 0.047573833627041096, mcseQ50: 0.06492479805715395,
    ebfmi: [1.7043087611225347, 1.6478405047953348, 1.884781120053346, 1.7603871743444464],
    acf: [1.0, 0.14697561362999953, -0.43469091169323953, 0.2719324298321276, 0.4816794197273438],
  },
  "synth_3x64": {
    essBasic: 164.84329016654553, essBasicNoSplit: 164.86573363000878, essBulk: 164.49346225586464,
    essTail: 153.27686107520339, rhatBulk: 1.012004131545252, rhatTail: 0.9992625437971986,
    splitRhat: 1.0065670866644927, rhat: 1.012004131545252, mcseMean: 0.057662405420863753,
    mcseSd: 0.03321521662015315, mcseQ05: 0.04379666230967877, mcseQ50: 0.0923538124194614,
    ebfmi: [1.8257202992270258, 1.649415260421663, 1.8553752573190008],
    acf: [1.0, 0.0832282576727528, -0.5740425596219788, 0.16625007742529024, 0.3940861448544367],
  },
  "eight_tau": {
    essBasic: 10077.523988617979, essBasicNoSplit: 10059.029207961265, essBulk: 9989.271639565088,
    essTail: 9992.181003247493, rhatBulk: 0.9997759282822997, rhatTail: 0.9998451348725214,
    splitRhat: 0.9997418007416058, rhat: 0.9998451348725214, mcseMean: 0.031861513564070555,
    mcseSd: 0.04551281454564827, mcseQ05: 0.012800437784794491, mcseQ50: 0.031205272591225075,
    ebfmi: [1.9180617261844837, 2.010678909131128, 2.01637369354344, 1.9656498891437266, 2.0154765355616657, 2.017631621510599, 1.9802925780423724, 2.0049456113051165, 2.033526726383146, 2.09474896836478],
    acf: [1.0, 0.040741431871682034, -0.027853669822854487, 0.009889899272518677, 0.03149985052358061],
  },
  "eight_theta[1]": {
    essBasic: 10151.674010063442, essBasicNoSplit: 10125.116924426427, essBulk: 10095.296771642359,
    essTail: 9732.479527239082, rhatBulk: 0.9993234493306673, rhatTail: 0.9997887675835181,
    splitRhat: 0.9993667026987625, rhat: 0.9997887675835181, mcseMean: 0.055737528229521854,
    mcseSd: 0.06219337961287817, mcseQ05: 0.11697810136417996, mcseQ50: 0.053597511794095,
    ebfmi: [2.070630179849036, 2.023635370419729, 1.9752379403555171, 2.0302925427069964, 1.930493647116565, 2.0161414312931214, 2.001504708791509, 1.9153592105156079, 2.1109470482945403, 2.0250777784506915],
    acf: [1.0, -0.035873892727787376, -0.014711451963026532, 0.0348962443436117, 0.00518723888407042],
  },
};

// ../shared beside the checkout (as CI has it); the test skips without it
const EIGHT_SCHOOLS = resolve(process.cwd(), '../shared/posteriordb/eight_schools-eight_schools_noncentered/reference_draws.json');

/** |a - b| <= tol * max(1, |b|). */
function expectClose(a: number, b: number, tol: number, what = ''): void {
  const err = Math.abs(a - b);
  if (!(err <= tol * Math.max(1, Math.abs(b)))) throw new Error(`${what}: ${a} differs from ${b} by ${err}`);
}

/** Stationary AR(1) chains x_t = rho x_{t-1} + sqrt(1 - rho^2) e_t with unit marginal variance, times scale[c]. */
function ar1Chains(seed: string, chains: number, n: number, rho: number, scales: readonly number[] = [1]): Float64Array[] {
  const rng = new Rng(seed);
  const s = Math.sqrt(1 - rho * rho);
  return Array.from({ length: chains }, (_, c) => {
    const x = new Float64Array(n);
    let v = rng.normal();
    for (let i = 0; i < n; i++) {
      x[i] = v * scales[c % scales.length];
      v = rho * v + s * rng.normal();
    }
    return x;
  });
}

/** The deterministic skewed, autocorrelated test series of numpy_reference.py. */
function synth(chains: number, n: number): number[][] {
  return Array.from({ length: chains }, (_, c) => {
    const out: number[] = [];
    let v = 0;
    for (let i = 0; i < n; i++) {
      v = 0.6 * v + Math.sin(1.7 * i + 0.9 * c) + 0.5 * Math.cos(0.37 * i * i + c);
      out.push(v + 0.3 * v * v * (c % 2 === 0 ? 1 : 0.5) + 0.2 * c);
    }
    return out;
  });
}

function naiveDft(x: readonly number[], m: number): { re: number[]; im: number[] } {
  const re: number[] = [];
  const im: number[] = [];
  for (let k = 0; k < m; k++) {
    let r = 0;
    let i = 0;
    for (let n = 0; n < x.length; n++) {
      r += x[n] * Math.cos((-2 * Math.PI * k * n) / m);
      i += x[n] * Math.sin((-2 * Math.PI * k * n) / m);
    }
    re.push(r);
    im.push(i);
  }
  return { re, im };
}

const finiteArray = (min: number, max: number) =>
  fc.array(fc.double({ min: -1e3, max: 1e3, noNaN: true, noDefaultInfinity: true }), { minLength: min, maxLength: max });

describe('fft', () => {
  it('rfft matches a direct DFT and irfft inverts it', () => {
    fc.assert(
      fc.property(finiteArray(1, 64), fc.integer({ min: 0, max: 2 }), (x, extra) => {
        let m = 2;
        while (m < x.length) m *= 2;
        m *= 2 ** extra;
        const { re, im } = rfft(x, m);
        const ref = naiveDft(x, m);
        const scale = x.reduce((s, v) => s + Math.abs(v), 1);
        for (let k = 0; k <= m / 2; k++) {
          expect(Math.abs(re[k] - ref.re[k])).toBeLessThan(1e-12 * scale * m);
          expect(Math.abs(im[k] - ref.im[k])).toBeLessThan(1e-12 * scale * m);
        }
        const back = irfft({ re, im });
        expect(back.length).toBe(m);
        for (let n = 0; n < m; n++) expect(Math.abs(back[n] - (n < x.length ? x[n] : 0))).toBeLessThan(1e-12 * scale * m);
      }),
      { numRuns: 100 },
    );
  });

  it('complex fft round-trips and rejects lengths that are not powers of two', () => {
    const re = Float64Array.from([1, -2, 3.5, 0.25]);
    const im = Float64Array.from([0, 1, -1, 2]);
    fftInPlace(re, im);
    fftInPlace(re, im, true);
    expect(Array.from(re).map((v) => +v.toFixed(12))).toEqual([1, -2, 3.5, 0.25]);
    expect(Array.from(im).map((v) => +v.toFixed(12))).toEqual([0, 1, -1, 2]);
    expect(() => fftInPlace(new Float64Array(6), new Float64Array(6))).toThrow(/power of two/);
    expect(() => rfft([1, 2, 3], 2)).toThrow(/shorter than the input/);
  });
});

describe('autocovariance and autocorrelation', () => {
  it('match direct O(n^2) sums for any length', () => {
    fc.assert(
      fc.property(finiteArray(1, 150), (x) => {
        const n = x.length;
        const mu = x.reduce((s, v) => s + v, 0) / n;
        const got = autocovariance(x);
        const scale = x.reduce((s, v) => s + (v - mu) ** 2, 1e-300) / n;
        for (let t = 0; t < n; t++) {
          let direct = 0;
          for (let i = 0; i + t < n; i++) direct += (x[i] - mu) * (x[i + t] - mu);
          expect(Math.abs(got[t] - direct / n)).toBeLessThanOrEqual(1e-10 * scale + 1e-300);
        }
      }),
      { numRuns: 100 },
    );
  });

  it('autocorrelation is 1 at lag 0, matches the reference and is NaN for a constant series', () => {
    const acf = autocorrelation(synth(4, 101)[0]);
    expect(acf[0]).toBe(1);
    GOLDEN.synth_4x101.acf.forEach((v, t) => expectClose(acf[t], v, 1e-9, `acf[${t}]`));
    expect(Number.isNaN(autocorrelation([2, 2, 2])[1])).toBe(true);
  });

  it('estimates the AR(1) autocorrelation rho^t', () => {
    const [x] = ar1Chains('acf', 1, 20000, 0.7);
    const acf = autocorrelation(x);
    // sd of a lag-t sample autocorrelation of AR(1) is about sqrt((1 + rho^2) / ((1 - rho^2) n)) (Bartlett)
    const se = Math.sqrt((1 + 0.49) / (0.51 * 20000));
    for (const t of [1, 2, 3]) expect(Math.abs(acf[t] - 0.7 ** t)).toBeLessThan(4.5 * se * t);
  });
});

describe('empirical helpers', () => {
  it('quantiles interpolate linearly (type 7)', () => {
    expect(quantile([4, 1, 3, 2], 0.5)).toBe(2.5);
    expect(quantile([5, 1, 2, 3, 4], 0.25)).toBe(2);
    expect(quantile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.05)).toBeCloseTo(1.45, 12);
    expect(Array.from(quantiles([3, 1, 2], [0, 0.5, 1]))).toEqual([1, 2, 3]);
    expect(() => quantile([1, 2], 1.5)).toThrow(/\[0, 1\]/);
    expect(() => quantile([], 0.5)).toThrow(/empty/);
  });

  it('ecdf counts values at most x', () => {
    const f = ecdf([3, 1, 2, 2]);
    expect([f(0), f(1), f(2), f(2.5), f(3), f(9)]).toEqual([0, 0.25, 0.75, 0.75, 1, 1]);
    expect(Array.from(f.sorted)).toEqual([1, 2, 2, 3]);
    expect(() => ecdf([])).toThrow(/empty/);
  });

  it('ranks ties by their average rank', () => {
    expect(Array.from(averageRanks([3, 1, 3, 2, 3]))).toEqual([4, 1, 4, 2, 4]);
    expect(Array.from(averageRanks([0.5, -1]))).toEqual([2, 1]);
  });

  it('splitChains halves each chain and drops the middle draw of an odd chain', () => {
    const halves = splitChains([Float64Array.from([1, 2, 3, 4, 5])]);
    expect(halves.map((h) => Array.from(h))).toEqual([
      [1, 2],
      [4, 5],
    ]);
  });
});

describe('quantile functions', () => {
  it('normalQuantile matches known values', () => {
    const known: [number, number][] = [
      [0.5, 0],
      [0.975, 1.959963984540054],
      [0.9, 1.2815515655446004],
      [0.999, 3.090232306167813],
      [0.8413447460685429, 1],
      [1e-10, -6.361340902404056],
      [0.6, 0.2533471031357997],
    ];
    for (const [p, z] of known) expectClose(normalQuantile(p), z, 1e-14, `normalQuantile(${p})`);
    expect(normalQuantile(0)).toBe(-Infinity);
    expect(normalQuantile(1)).toBe(Infinity);
    expect(Number.isNaN(normalQuantile(1.5))).toBe(true);
  });

  it('regularizedIncompleteBeta and betaQuantile match closed forms', () => {
    fc.assert(
      fc.property(fc.double({ min: 0.001, max: 0.999, noNaN: true }), fc.double({ min: 0.1, max: 50, noNaN: true }), (p, b) => {
        // Beta(1, b): CDF 1 - (1 - x)^b; Beta(a, 1): CDF x^a
        expectClose(betaQuantile(p, 1, b), -Math.expm1(Math.log1p(-p) / b), 1e-10, 'Beta(1,b)');
        expectClose(betaQuantile(p, b, 1), Math.pow(p, 1 / b), 1e-10, 'Beta(a,1)');
        const x = betaQuantile(p, b, b + 1.5);
        expectClose(regularizedIncompleteBeta(x, b, b + 1.5), p, 1e-10, 'I(Q(p)) = p');
        expectClose(regularizedIncompleteBeta(p, b, 2.5) + regularizedIncompleteBeta(1 - p, 2.5, b), 1, 1e-12, 'symmetry');
      }),
      { numRuns: 100 },
    );
    // Beta(2, 2): CDF 3x^2 - 2x^3
    for (const x of [0.1, 0.3, 0.5, 0.8]) expectClose(regularizedIncompleteBeta(x, 2, 2), 3 * x * x - 2 * x ** 3, 1e-13, 'Beta(2,2)');
    // large shapes as in mcseQuantile: against the normal approximation (skewness ~ 0.04 here)
    const a = 0.05 * 10000 + 1;
    const b = 0.95 * 10000 + 1;
    const sd = Math.sqrt((a * b) / ((a + b) ** 2 * (a + b + 1)));
    expect(Math.abs(betaQuantile(0.8413447460685429, a, b) - a / (a + b) - sd)).toBeLessThan(0.05 * sd);
    expect(() => betaQuantile(0.5, 0, 1)).toThrow(/shape a/);
    expect(() => betaQuantile(2, 1, 1)).toThrow(/\[0, 1\]/);
  });
});

function checkGolden(name: string, draws: number[][], g: Golden): void {
  const tol = 1e-9;
  expectClose(essBasic(draws), g.essBasic, tol, `${name} essBasic`);
  expectClose(essBasic(draws, { split: false }), g.essBasicNoSplit, tol, `${name} essBasic(split=false)`);
  expectClose(essBulk(draws), g.essBulk, tol, `${name} essBulk`);
  expectClose(essTail(draws), g.essTail, tol, `${name} essTail`);
  expectClose(rhatBulk(draws), g.rhatBulk, tol, `${name} rhatBulk`);
  expectClose(rhatTail(draws), g.rhatTail, tol, `${name} rhatTail`);
  expectClose(splitRhat(draws), g.splitRhat, tol, `${name} splitRhat`);
  // the one-pass pair infer's MCMC warnings read
  const both = splitRhatAndEss(draws);
  expectClose(both.rhat, g.splitRhat, tol, `${name} splitRhatAndEss rhat`);
  expectClose(both.ess, g.essBasic, tol, `${name} splitRhatAndEss ess`);
  expectClose(rankNormalizedSplitRhat(draws), g.rhat, tol, `${name} rhat`);
  expectClose(mcseMean(draws), g.mcseMean, tol, `${name} mcseMean`);
  expectClose(mcseSd(draws), g.mcseSd, tol, `${name} mcseSd`);
  expectClose(mcseQuantile(draws, 0.05), g.mcseQ05, tol, `${name} mcseQuantile(0.05)`);
  expectClose(mcseQuantile(draws, 0.5), g.mcseQ50, tol, `${name} mcseQuantile(0.5)`);
  Array.from(ebfmi(draws)).forEach((v, c) => expectClose(v, g.ebfmi[c], tol, `${name} ebfmi[${c}]`));
}

describe('agreement with an independent numpy/scipy implementation', () => {
  it('on deterministic skewed, autocorrelated chains (odd and even lengths)', () => {
    checkGolden('synth 4x101', synth(4, 101), GOLDEN.synth_4x101);
    checkGolden('synth 3x64', synth(3, 64), GOLDEN.synth_3x64);
  });

  it.skipIf(!existsSync(EIGHT_SCHOOLS))('on the posteriordb eight-schools reference draws', () => {
    const raw = JSON.parse(readFileSync(EIGHT_SCHOOLS, 'utf8')) as Record<string, number[]>[];
    checkGolden('eight schools tau', raw.map((c) => c['tau']), GOLDEN.eight_tau);
    checkGolden('eight schools theta[1]', raw.map((c) => c['theta[1]']), GOLDEN['eight_theta[1]']);
  });
});

// Replicates for the statistical checks: each check compares the mean over K fixed seeds with its
// target, allowing 4.5 standard errors of that mean (the replicates' sd / sqrt(K)).
const K = 20;

describe('splitRhatAndEss: split R-hat and basic ESS from one centring', () => {
  it('gives what splitRhat and essBasic give, on chains the ESS truncates early and late (lags summed directly, then by FFT), antithetic, stuck, short and non-finite', () => {
    const cases: [string, number[][] | Float64Array[]][] = [
      ['white', ar1Chains('srae-white', 4, 1000, 0)],
      ['antithetic', ar1Chains('srae-anti', 4, 1000, -0.6)],
      ['rho 0.5, odd length', ar1Chains('srae-half', 3, 501, 0.5)],
      ['rho 0.97 (truncation beyond the direct lags)', ar1Chains('srae-slow', 4, 1000, 0.97)],
      ['one chain', ar1Chains('srae-one', 1, 400, 0.3)],
      ['scales differ', ar1Chains('srae-scales', 4, 300, 0.2, [1, 1, 1, 3])],
      ['stuck at two constants', [[1, 1, 1, 1], [2, 2, 2, 2]]],
      ['all equal', [[3, 3, 3, 3, 3, 3], [3, 3, 3, 3, 3, 3]]],
      ['too short for an ESS', [[1, 2, 3, 4, 5], [2, 3, 1, 5, 4]]],
      ['a NaN', [[1, 2, NaN, 4, 5, 6, 7, 8], [2, 3, 1, 5, 4, 6, 8, 7]]],
    ];
    for (const [name, draws] of cases) {
      const { rhat, ess } = splitRhatAndEss(draws);
      const [r, e] = [splitRhat(draws), essBasic(draws)];
      for (const [got, want, what] of [[rhat, r, 'rhat'], [ess, e, 'ess']] as const) {
        if (Number.isFinite(want)) expectClose(got, want, 1e-12, `${name} ${what}`);
        else expect(got, `${name} ${what}`).toBe(want);
      }
    }
    // the slow chains really do need lags past the direct sums (ESS ~ n (1 - rho) / (1 + rho) ~ 60 of 4000)
    expect(essBasic(ar1Chains('srae-slow', 4, 1000, 0.97))).toBeLessThan(200);
    expect(() => splitRhatAndEss([[1, 2, 3], [1, 2]])).toThrow(/splitRhatAndEss: all chains must have the same number of draws/);
  });
});

describe('(a) independent normal draws', () => {
  const S = 4000;
  const reps = Array.from({ length: K }, (_, k) => ar1Chains(`iid-${k}`, 4, S / 4, 0));

  it('R-hat is within 0.01 of 1', () => {
    for (const ch of reps) {
      expect(Math.abs(rankNormalizedSplitRhat(ch) - 1)).toBeLessThan(0.01);
      expect(Math.abs(splitRhat(ch) - 1)).toBeLessThan(0.01);
    }
  });

  it('bulk and basic ESS match the number of draws', () => {
    for (const f of [essBulk, essBasic]) {
      const e = meanSd(reps.map((ch) => f(ch)));
      expect(Math.abs(e.mean - S)).toBeLessThan(4.5 * e.se);
    }
  });

  it('tail ESS is close to the number of draws', () => {
    // The initial-sequence estimator adds positively selected noise to tau: for independent draws its
    // mean sits O(S^-1/2) below S. Over 200 seeds (4 x 1000 draws) it was -1.8% for bulk ESS and -4%
    // (sd 4%) for tail ESS; the numpy reference shares it exactly. So: no more than 4.5 SE above S
    // and no more than 10% below.
    const e = meanSd(reps.map((ch) => essTail(ch)));
    expect(e.mean).toBeLessThan(S + 4.5 * e.se);
    expect(e.mean).toBeGreaterThan(0.9 * S);
  });

  it('MCSEs match their large-sample values for normal draws', () => {
    // sd of the sample sd: 1 / sqrt(2 (S - 1)); sd of the sample p-quantile: sqrt(p (1 - p) / S) / phi(z_p)
    const sdSd = meanSd(reps.map((ch) => mcseSd(ch)));
    expect(Math.abs(sdSd.mean - 1 / Math.sqrt(2 * (S - 1)))).toBeLessThan(4.5 * sdSd.se);
    for (const p of [0.5, 0.05]) {
      const z = normalQuantile(p);
      const target = Math.sqrt((p * (1 - p)) / S) / (Math.exp(-0.5 * z * z) / Math.sqrt(2 * Math.PI));
      const m = meanSd(reps.map((ch) => mcseQuantile(ch, p)));
      expect(Math.abs(m.mean - target)).toBeLessThan(4.5 * m.se);
    }
  });

  it('E-BFMI of independent energies is about 2', () => {
    const e = meanSd(reps.map((ch) => meanSd(Array.from(ebfmi(ch))).mean));
    expect(Math.abs(e.mean - 2)).toBeLessThan(4.5 * e.se);
  });
});

describe('(b) AR(1) chains with known autocorrelation', () => {
  // For AR(1) with coefficient rho the asymptotic variance of the mean is (1 + rho)/(1 - rho) / S,
  // so ESS = S (1 - rho) / (1 + rho); rho < 0 (antithetic) gives ESS > S.
  const S = 4000;
  for (const rho of [0.5, 0.9, -0.3]) {
    it(`ESS and MCSE of the mean for rho = ${rho}`, () => {
      const reps = Array.from({ length: K }, (_, k) => ar1Chains(`ar-${rho}-${k}`, 4, S / 4, rho));
      const target = (S * (1 - rho)) / (1 + rho);
      for (const f of [essBasic, essBulk]) {
        const e = meanSd(reps.map((ch) => f(ch)));
        expect(Math.abs(e.mean - target)).toBeLessThan(4.5 * e.se);
      }
      const m = meanSd(reps.map((ch) => mcseMean(ch)));
      expect(Math.abs(m.mean - Math.sqrt(1 / target))).toBeLessThan(4.5 * m.se);
      // E-BFMI of AR(1) energies: E(E_n - E_{n-1})^2 / Var E = 2 (1 - rho)
      const b = meanSd(reps.map((ch) => meanSd(Array.from(ebfmi(ch))).mean));
      expect(Math.abs(b.mean - 2 * (1 - rho))).toBeLessThan(4.5 * b.se);
    });
  }
});

describe('(c) chains that disagree in location', () => {
  it('a chain shifted by 2 sd gives R-hat well above 1.1', () => {
    for (let k = 0; k < 3; k++) {
      const ch = ar1Chains(`shift-${k}`, 4, 1000, 0).map((c, i) => (i === 0 ? c.map((x) => x + 2) : c));
      // expected: sqrt(1 + var(split-chain means)) = sqrt(1 + 6/7) ~ 1.36 (classic), a little less rank-normalized
      expect(splitRhat(ch)).toBeGreaterThan(1.1);
      expect(rhatBulk(ch)).toBeGreaterThan(1.1);
      expect(rankNormalizedSplitRhat(ch)).toBeGreaterThan(1.1);
    }
  });

  it('a trend within one chain is caught by splitting it', () => {
    const [x] = ar1Chains('trend', 1, 1000, 0);
    const trended = x.map((v, i) => v + (4 * i) / 1000);
    expect(splitRhat([trended])).toBeGreaterThan(1.1);
    expect(rankNormalizedSplitRhat([trended])).toBeGreaterThan(1.1);
  });

  it('chains stuck at different constants give R-hat = Infinity', () => {
    expect(splitRhat([[1, 1, 1, 1], [2, 2, 2, 2]])).toBe(Infinity);
  });
});

describe('(d) chains that disagree in scale', () => {
  it('are flagged by the folded (tail) R-hat but not by the bulk or classic R-hat', () => {
    for (let k = 0; k < 3; k++) {
      const ch = ar1Chains(`scale-${k}`, 4, 1000, 0, [1, 1, 1, 3]);
      expect(rhatTail(ch)).toBeGreaterThan(1.01);
      expect(rankNormalizedSplitRhat(ch)).toBeGreaterThan(1.01);
      expect(rhatBulk(ch)).toBeLessThan(1.01);
      expect(splitRhat(ch)).toBeLessThan(1.01);
    }
  });
});

describe('(e) the posteriordb eight-schools reference draws (10 chains x 1000, thinned)', () => {
  it.skipIf(!existsSync(EIGHT_SCHOOLS))('have R-hat < 1.01 and bulk/tail ESS close to 10000', () => {
    const raw = JSON.parse(readFileSync(EIGHT_SCHOOLS, 'utf8')) as Record<string, number[]>[];
    expect(raw.length).toBe(10);
    const names = Object.keys(raw[0]);
    const rows = summarize(new Map(names.map((n) => [n, raw.map((c) => c[n])])));
    // Thinned draws are nearly independent; the spread of ESS estimates for 10 x 1000 independent
    // draws, measured here over K seeds, sets the tolerance.
    const iid = meanSd(Array.from({ length: K }, (_, k) => essBulk(ar1Chains(`iid10-${k}`, 10, 1000, 0))));
    expect(rows.map((r) => r.name)).toEqual(names);
    for (const r of rows) {
      expect(r.r_hat).toBeLessThan(1.01);
      expect(Math.abs(r.ess_bulk - 10000)).toBeLessThan(4.5 * iid.sd);
      expect(Math.abs(r.ess_tail - 10000)).toBeLessThan(4.5 * iid.sd);
      expect(r.mcse_mean).toBeCloseTo(r.sd / Math.sqrt(essBasic(raw.map((c) => c[r.name]))), 12);
    }
  });
});

describe('summarize', () => {
  it('lays out Stan/ArviZ columns, accepts a Map or a record, and its rows are SummaryRows', () => {
    const draws = ar1Chains('sum', 4, 500, 0.3);
    const shifted = draws.map((c) => c.map((x) => 10 + 2 * x));
    const rows = summarize({ a: draws, b: shifted });
    const fromMap = summarize(new Map([['a', draws], ['b', shifted]]));
    expect(fromMap).toEqual(rows);
    const row: SummaryRow = rows[1];
    expect(Object.keys(row)).toEqual(['name', 'mean', 'sd', 'q5', 'q50', 'q95', 'mcse_mean', 'mcse_sd', 'ess_bulk', 'ess_tail', 'r_hat']);
    // location-scale equivariance / invariance
    expectClose(rows[1].mean, 10 + 2 * rows[0].mean, 1e-12, 'mean');
    expectClose(rows[1].sd, 2 * rows[0].sd, 1e-12, 'sd');
    expectClose(rows[1].q95, 10 + 2 * rows[0].q95, 1e-12, 'q95');
    expectClose(rows[1].mcse_mean, 2 * rows[0].mcse_mean, 1e-9, 'mcse_mean');
    expectClose(rows[1].ess_bulk, rows[0].ess_bulk, 1e-12, 'ess_bulk');
    expectClose(rows[1].r_hat, rows[0].r_hat, 1e-12, 'r_hat');
  });

  it('names the quantity whose draws are malformed', () => {
    expect(() => summarize({ theta: [[1, 2, 3], [1, 2]] })).toThrow(/quantity 'theta'.*chain 1 has 2/);
  });
});

describe('input checks and degenerate draws', () => {
  it('rejects malformed draws with errors naming the function', () => {
    expect(() => essBulk([])).toThrow(/essBulk: draws must be a non-empty array/);
    expect(() => splitRhat([[1, 2, 3, 4], [1, 2, 3]])).toThrow(/splitRhat: all chains must have the same number of draws/);
    expect(() => essTail([[]])).toThrow(/essTail: chains must hold at least one draw/);
    expect(() => mcseMean([5 as unknown as number[]])).toThrow(/mcseMean: chain 0 must be an array/);
    expect(() => essQuantile([[1, 2, 3, 4]], 1.5)).toThrow(/essQuantile: probability/);
    expect(() => mcseQuantile([[1, 2, 3, 4]], -0.1)).toThrow(/mcseQuantile: probability/);
    expect(() => ebfmi([[1, 2], [1]])).toThrow(/ebfmi: all chains/);
  });

  it('gives NaN, not garbage, for non-finite, constant or too-short draws', () => {
    const bad = [[1, 2, NaN, 4, 5, 6, 7, 8]];
    const constant = [[3, 3, 3, 3, 3, 3, 3, 3]];
    for (const f of [essBasic, essBulk, essTail, splitRhat, rankNormalizedSplitRhat, mcseMean, mcseSd]) {
      expect(f(bad)).toBeNaN();
      expect(f(constant)).toBeNaN();
    }
    expect(essBulk([[1, 2, 3, 4, 5, 6]])).toBeNaN(); // 3 draws per split chain
    expect(mcseQuantile(bad, 0.5)).toBeNaN();
    expect(ebfmi([[1, 1, 1]])[0]).toBeNaN();
    expect(Array.from(ebfmi([1, 2, 1, 2]))).toHaveLength(1); // a flat array is one chain
  });

  it('bulk ESS and bulk/tail R-hat are invariant to monotone transformations', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1000 }), (seed) => {
        const ch = ar1Chains(`inv-${seed}`, 3, 60, 0.5);
        const t = ch.map((c) => c.map((x) => Math.exp(2 * x) + x));
        expect(essBulk(t)).toBe(essBulk(ch));
        expect(rhatBulk(t)).toBe(rhatBulk(ch));
        expect(essTail(t)).toBe(essTail(ch));
      }),
      { numRuns: 30 },
    );
  });

  it('quantile ESS and MCSE exist for any probability in [0, 1]', () => {
    const ch = ar1Chains('q', 2, 200, 0.2);
    for (const p of [0.01, 0.25, 0.75, 0.99]) {
      expect(essQuantile(ch, p)).toBeGreaterThan(0);
      expect(mcseQuantile(ch, p)).toBeGreaterThanOrEqual(0);
    }
  });
});
