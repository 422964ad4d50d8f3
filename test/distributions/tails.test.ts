/**
 * Tail-accurate log-CDFs and log-survival functions against R, truncation
 * normalised in log space (far-tail density and draws), and discrete
 * truncation (exact normalisers, draws, enumeration). Reference values come
 * from R 4.x; each block names the R call that made it (the tests never run R).
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import { model } from '../../src/core/model.js';
import { Rng } from '../../src/core/rng.js';
import { type Value, add, toNumber } from '../../src/core/value.js';
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
import { Truncated, TruncatedDistribution } from '../../src/distributions/truncated.js';
import { infer } from '../../src/infer/index.js';
import { normalIcdfLogNumber } from '../../src/math/log-cdf.js';

beforeAll(async () => {
  await initBackend('cpu');
});

const num = (v: Value): number => (typeof v === 'number' ? v : v.dataSync()[0]!);

/** max over points of |got - want| / max(|want|, tiny), with exact matches of 0 and infinities required. */
function maxRelError(got: readonly number[], want: readonly number[]): number {
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    const g = got[i]!;
    const w = want[i]!;
    if (w === 0 || !Number.isFinite(w)) {
      if (g !== w && Math.abs(g) > 1e-300) return Infinity;
      continue;
    }
    worst = Math.max(worst, Math.abs(g - w) / Math.abs(w));
  }
  return worst;
}

type Case = { name: string; d: Distribution; at: number[]; lcdf?: number[]; lccdf?: number[] };

// Each reference is R's value at `at` (options(digits = 17)).
const cases: Case[] = [
  // pnorm(c(-40, -38, -20, -10, -5, -1, 0, 1, 5, 10, 20), log.p = TRUE)
  {
    name: 'Normal(0, 1)',
    d: Normal(0, 1),
    at: [-40, -38, -20, -10, -5, -1, 0, 1, 5, 10, 20],
    lcdf: [
      -8.046084420137538e2, -7.265572160188201e2, -2.0391715537109727e2, -5.323128515051247e1, -1.5064998393988725e1, -1.8410216450092636, -6.9314718055994529e-1,
      -1.7275377902344988e-1, -2.8665161296376358e-7, -7.6198530241605269e-24, -2.7536241186062337e-89,
    ],
  },
  // pnorm(c(-30, -3, 0.5, 4, 25), 1, 2, lower.tail = FALSE, log.p = TRUE)
  { name: 'Normal(1, 2)', d: Normal(1, 2), at: [-30, -3, 0.5, 4, 25], lccdf: [-1.7344607917938702e-54, -2.3012909328963493e-2, -5.1298407540943047e-1, -2.7059444008238898, -7.5410673001568796e1] },
  // pt((c(-1e200, -1e10, -100, -3, 0, 2, 50, 1e6) - 0.5) / 2, 3, log.p = TRUE) and lower.tail = FALSE
  {
    name: 'StudentT(3, 0.5, 2)',
    d: StudentT(3, 0.5, 2),
    at: [-1e200, -1e10, -100, -3, 0, 2, 50, 1e6],
    lcdf: [-1.3793738908157029e3, -6.6900387809246951e1, -1.1654733111133853e1, -2.4167317265792345, -8.9314905010078915e-1, -2.9283839641994736e-1, -7.2307673527562008e-5, -8.821275558528467e-18],
    lccdf: [0, -8.8212623254253591e-30, -8.6779192811840293e-6, -9.3445903002765007e-2, -5.2655639141058341e-1, -1.3709830213886112, -9.5346164535059152, -3.9269365193182402e1],
  },
  // pt(c(-1e200, -1e10, -100, -3, 0, 2, 50, 1e6), 30, log.p = TRUE)
  {
    name: 'StudentT(30)',
    d: StudentT(30),
    at: [-1e200, -1e10, -100, -3, 0, 2, 50, 1e6],
    lcdf: [-1.3767120466255552e4, -6.4238543618949132e2, -8.9808542480714053e1, -5.9163637414983281, -6.9314718055994529e-1, -2.7692443129667326e-2, -9.3577088296113867e-31, -1.0364534648044162e-159],
  },
  // pcauchy(c(-1e300, -1e8, -2, 0, 3, 1e8), log.p = TRUE) and lower.tail = FALSE
  {
    name: 'Cauchy(0, 1)',
    d: Cauchy(0, 1),
    at: [-1e300, -1e8, -2, 0, 3, 1e8],
    lcdf: [-6.919202577840631e2, -1.9565410629801764e1, -1.9133603645040103, -6.9314718055994529e-1, -1.0804899566097342e-1, -3.1830988669039664e-9],
    lccdf: [-3.1830988618379069e-301, -3.1830988669039664e-9, -1.5968015985558459e-1, -6.9314718055994529e-1, -2.2787085952902988, -1.9565410629801764e1],
  },
  // ifelse(l < 0, l - log(2), log1p(-0.5 * exp(-l))) for l = c(-800, -5, 0, 0.5, 5, 800) (R has no Laplace)
  { name: 'Laplace(0, 1)', d: Laplace(0, 1), at: [-800, -5, 0, 0.5, 5, 800], lcdf: [-8.0069314718055989e2, -5.6931471805599454, -6.9314718055994529e-1, -3.6135061480875907e-1, -3.3746612689856343e-3, 0] },
  // plogis(c(-800, -30, -1, 0, 2, 40, 800), 0.5, 2, log.p = TRUE) and lower.tail = FALSE
  {
    name: 'Logistic(0.5, 2)',
    d: Logistic(0.5, 2),
    at: [-800, -30, -1, 0, 2, 40, 800],
    lcdf: [-400.25, -1.5250000238236938e1, -1.1368710061148999, -8.2593941987884356e-1, -3.8687100611489994e-1, -2.6465736354069411e-9, -2.4591264394483951e-174],
    lccdf: [-1.4915355816354144e-174, -2.3823693837176014e-7, -3.8687100611489994e-1, -5.7593941987884356e-1, -1.1368710061148999, -1.9750000002646573e1, -399.75],
  },
  // pexp(c(1e-12, 0.1, 3, 400), 2, log.p = TRUE) and lower.tail = FALSE
  {
    name: 'Exponential(2)',
    d: Exponential(2),
    at: [1e-12, 0.1, 3, 400],
    lcdf: [-26.9378739353696019521, -1.7077718009705198376, -0.0024818293689595279, 0],
    lccdf: [-2.0e-12, -0.2, -6, -800],
  },
  // pgamma(c(1e-30, 0.01, 1, 5, 600), 2.5, 1.5, log.p = TRUE) and lower.tail = FALSE
  {
    name: 'Gamma(2.5, 1.5)',
    d: Gamma(2.5, 1.5),
    at: [1e-30, 0.01, 1, 5, 600],
    lcdf: [-172.88119280663008226, -11.7109454767458061, -1.2039255917025613, -0.01041640074181153, 0],
    lccdf: [-8.2918595873121123e-76, -8.203568011619086e-6, -3.5669517860255529e-1, -4.5695774000629372, -8.900794245222952e2],
  },
  // pgamma(1.5 / c(0.01, 0.5, 2, 1e6), 3, lower.tail = FALSE, log.p = TRUE) (the InverseGamma(3, 1.5) cdf) and lower.tail = TRUE
  {
    name: 'InverseGamma(3, 1.5)',
    d: InverseGamma(3, 1.5),
    at: [0.01, 0.5, 2, 1e6],
    lcdf: [-1.4065854365016631e2, -8.5993383650372934e-1, -4.1348632904089432e-2, -5.624993671878835e-19],
    lccdf: [-8.1803269190045145e-62, -5.5024249677722104e-1, -3.2063189992022911, -4.2021896943796335e1],
  },
  // plnorm(c(1e-200, 0.1, 1, 10, 1e30), 0, 1, log.p = TRUE) and lower.tail = FALSE
  {
    name: 'LogNormal(0, 1)',
    d: LogNormal(0, 1),
    at: [1e-200, 0.1, 1, 10, 1e30],
    lcdf: [-1.0604501350262821e5, -4.5420921675812096, -6.9314718055994529e-1, -1.0708228320026953e-2, 0],
    lccdf: [0, -1.0708228320026967e-2, -6.9314718055994529e-1, -4.5420921675812114, -2.3910085275342622e3],
  },
  // h = c(1e-8, 0.5, 3, 40, 100): pchisq((h / 2)^2, 1, log.p = TRUE) and lower.tail = FALSE (P(|Z| <= h/2); log(2 * pnorm(h, 0, 2) - 1) cancels near 0)
  {
    name: 'HalfNormal(2)',
    d: HalfNormal(2),
    at: [1e-8, 0.5, 3, 40, 100],
    lcdf: [-1.9339619277157038e1, -1.622459064037205, -1.4342520686117596e-1, -5.5072482372123098e-89, 0],
    lccdf: [-3.9894228119720763e-9, -2.1991458425118973e-1, -2.0127972202639519, -2.0322400819053735e2, -1.25413821395886e3],
  },
  // log(pbeta(h^2 / (3 + h^2), 0.5, 1.5)), log(2) + pt(h, 3, lower.tail = FALSE, log.p = TRUE); at h = 1e-8 the
  // survival is log(1 - 7.35e-9), which R's log(2) + pt(...) loses to cancellation (-7.3510519893e-9, 3e-9 off): the
  // value there is mpmath's log(1 - 2 * quad(dt, 0, 1e-8)) at 40 digits
  {
    name: 'HalfStudentT(3, 1)',
    d: HalfStudentT(3, 1),
    at: [1e-8, 0.5, 3, 40, 100],
    lcdf: [-1.8728422413015927e1, -1.0539677481574399, -5.9398564705559695e-2, -3.4381271818355769e-5, -2.2045243531945317e-6],
    lccdf: [-7.3510519659762096e-9, -4.2855775537192231e-1, -2.8530374948909625, -1.027801575631038e1, -1.3024999887455335e1],
  },
  // ifelse(h < 1, log1p(-2 * atan(h) / pi), log(2 * atan(1 / h) / pi))
  { name: 'HalfCauchy(1)', d: HalfCauchy(1), at: [1e-8, 0.5, 3, 40, 100], lccdf: [-6.3661977439400507e-9, -3.4979471750208641e-1, -1.5855614147303534, -4.1406704363347187, -5.0567862231665233] },
  // pbeta(c(1e-150, 0.01, 0.3, 0.9, 1 - 1e-12), 2, 3, log.p = TRUE) and lower.tail = FALSE
  {
    name: 'Beta(2, 3)',
    d: Beta(2, 3),
    at: [1e-150, 0.01, 0.3, 0.9, 1 - 1e-12],
    lcdf: [-6.8898376842898563e2, -7.4319532486885613, -1.0546911016101819, -3.7068619313264731e-3, -3.9997345452279211e-36],
    lccdf: [-6.0000000000001397e-300, -5.9220531895992081e-4, -4.281709456438022e-1, -5.5994224593319588, -8.1506835352560941e1],
  },
  // ppois(c(0, 2, 7, 30, 200), 3, log.p = TRUE) and lower.tail = FALSE
  {
    name: 'Poisson(3)',
    d: Poisson(3),
    at: [0, 2, 7, 30, 200],
    lcdf: [-3, -8.5993383650372934e-1, -1.1975929889328357e-2, -4.1254051981139466e-21, -2.5403985866806401e-283],
    lccdf: [-0.051069180942701589, -0.550242496777221035, -4.430838475144222244, -46.937122708066745247, -650.699260324705733183],
  },
  // pbinom(c(0, 3, 6, 12, 19), 20, 0.3, log.p = TRUE) and lower.tail = FALSE
  {
    name: 'Binomial(20, 0.3)',
    d: Binomial(20, 0.3),
    at: [0, 3, 6, 12, 19],
    lcdf: [-7.1334988787746489, -2.2341155163671473, -4.9756425865783194e-1, -1.2796980686273062e-3, -3.4867844010607823e-11],
    lccdf: [-7.9824117270618994e-4, -1.1326590832169803e-1, -9.365184706297649e-1, -6.6617708935603579, -2.4079456086518721e1],
  },
  // pnbinom(c(0, 2, 10, 150), size = 3, prob = 0.6, log.p = TRUE) and lower.tail = FALSE (tyche's p is R's 1 - prob)
  {
    name: 'NegativeBinomial(3, 0.4)',
    d: NegativeBinomial(3, 0.4),
    at: [0, 2, 10, 150],
    lcdf: [-1.5324768712979722, -3.8190484369915156e-1, -1.316199545119735e-3, -3.4409285786487184e-57],
    lccdf: [-0.24334625863172915, -1.1474664548856286, -6.6336648551334978, -130.01160893004768582],
  },
  // pgeom(c(0, 2, 10, 150), 0.3, log.p = TRUE) and lower.tail = FALSE
  {
    name: 'Geometric(0.3)',
    d: Geometric(0.3),
    at: [0, 2, 10, 150],
    lcdf: [-1.2039728043259361, -4.2007126049752663e-1, -1.997137431175653e-2, -4.0719650536770667e-24],
    lccdf: [-0.35667494393873234, -1.0700248318161969, -3.92342438332605559, -53.85791653474858265],
  },
];

describe('logCdf and logSurvival (float64 paths) against R', () => {
  it.each(cases)('$name to 1e-10 relative, far in both tails', ({ d, at, lcdf, lccdf }) => {
    if (lcdf) expect(maxRelError(at.map((x) => num(d.logCdf(x))), lcdf)).toBeLessThan(1e-10);
    if (lccdf) expect(maxRelError(at.map((x) => num(d.logSurvival(x))), lccdf)).toBeLessThan(1e-10);
  });

  it('the check itself fails on log(cdf), the naive form (planted)', () => {
    const naive = [-40, -38, -20].map((z) => Math.log(Normal(0, 1).cdf(z) as number));
    expect(maxRelError(naive, cases[0]!.lcdf!.slice(0, 3))).toBeGreaterThan(1e-10);
    const naiveSf = [5, 10, 20].map((z) => Math.log1p(-(Normal(0, 1).cdf(z) as number)));
    expect(maxRelError(naiveSf, [-1.5064998393988725e1, -5.323128515051247e1, -2.0391715537109727e2])).toBeGreaterThan(1e-10);
  });

  it('Logistic: density, quantile of a log-probability and draws against R / the exact moments (planted: a wrong scale fails)', () => {
    // dlogis(c(-3, 0.5, 10), 0.5, 2, log = TRUE); qlogis(-500, 0.5, 2, log.p = TRUE)
    const d = Logistic(0.5, 2);
    expect(maxRelError([-3, 0.5, 10].map((x) => num(d.logProb(x))), [-2.7635954814361199, -2.0794415416798357, -5.4603761480842961])).toBeLessThan(1e-12);
    expect(Math.abs(num(d.icdfLog(-500)) + 999.5)).toBeLessThan(1e-9);
    const xs = (d.sample(new Rng(5), [20000]) as tf.Tensor).dataSync();
    const z = momentZ(xs, 0.5, (4 * Math.PI ** 2) / 3);
    expect(Math.max(z.mean, z.variance)).toBeLessThan(4);
    expect(momentZ(xs, 0.5, (4.4 * Math.PI ** 2) / 3).variance).toBeGreaterThan(4);
  });

  it('the normal quantile of a log-probability inverts log Phi where Phi underflows', () => {
    // qnorm(-804.6084420137538, log.p = TRUE) = -40; deeper, round trips through normal_lcdf
    expect(Math.abs(normalIcdfLogNumber(-804.6084420137538) + 40)).toBeLessThan(1e-12);
    const n = Normal(0, 1);
    for (const z of [-1e5, -300, -37.5, -3, 0.2, 6]) expect(Math.abs(num(n.icdfLog(n.logCdf(z))) - z)).toBeLessThan(1e-11 * Math.max(1, Math.abs(z)));
    for (const z of [40, 300]) expect(Math.abs(num(n.isfLog(n.logSurvival(z))) - z)).toBeLessThan(1e-11 * z);
  });
});

describe('logCdf and logSurvival on tensors (float32)', () => {
  it('Normal, Exponential, Laplace, Cauchy, LogNormal and HalfNormal stay finite and float32-accurate where the cdf underflows', () => {
    const check = (d: Distribution, c: Case, which: 'lcdf' | 'lccdf'): void => {
      const want = c[which]!;
      const vals = Array.from(((which === 'lcdf' ? d.logCdf(tf.tensor(c.at)) : d.logSurvival(tf.tensor(c.at))) as tf.Tensor).dataSync());
      // float32 relative precision, and values below float32's range (|log F| < 1e-38, e.g. log Phi(20)) read as 0
      const bad = vals.filter((g, i) => !(Math.abs(g - want[i]!) <= 2e-6 * Math.abs(want[i]!) + 1e-38));
      expect(bad).toEqual([]);
    };
    const byName = (n: string): Case => cases.find((c) => c.name === n)!;
    check(Normal(tf.scalar(0), 1), byName('Normal(0, 1)'), 'lcdf');
    check(Normal(tf.scalar(1), 2), byName('Normal(1, 2)'), 'lccdf');
    check(Exponential(tf.scalar(2)), byName('Exponential(2)'), 'lccdf');
    check(Laplace(tf.scalar(0), 1), { ...byName('Laplace(0, 1)'), at: [-80, -5, 0, 0.5, 5, 80], lcdf: [-80.69314718055995, -5.6931471805599454, -6.9314718055994529e-1, -3.6135061480875907e-1, -3.3746612689856343e-3, -9.0242569392270765e-36] }, 'lcdf');
    check(Cauchy(tf.scalar(0), 1), { ...byName('Cauchy(0, 1)'), at: [-1e30, -1e8, -2, 0, 3, 1e8], lcdf: [-70.222282675670769, -1.9565410629801764e1, -1.9133603645040103, -6.9314718055994529e-1, -1.0804899566097342e-1, -3.1830988669039664e-9] }, 'lcdf');
    check(HalfNormal(tf.scalar(2)), { ...byName('HalfNormal(2)'), at: [0.5, 3, 40, 100] , lccdf: byName('HalfNormal(2)').lccdf!.slice(1) }, 'lccdf');
  });

  it('gradients of a far-tail truncated normal log density are finite', () => {
    const g = tf.grad((loc: tf.Tensor) => tf.sum(Truncated(Normal(loc, 1), { low: 40 }).logProb(tf.tensor([40.01, 40.5])) as tf.Tensor))(tf.tensor([0, 0]));
    const v = Array.from(g.dataSync());
    expect(v.every(Number.isFinite)).toBe(true);
    // d/dloc [log phi(x - loc) - log S(40 - loc)] = (x - loc) - hazard(40) at loc = 0;
    // exp(dnorm(40, log = TRUE) - pnorm(40, lower.tail = FALSE, log.p = TRUE)) = 40.024968847206338
    expect(Math.abs(v[0]! - (40.01 - 40.024968847206338))).toBeLessThan(2e-3);
  });
});

/** |mean - m| and |variance - v| in Monte Carlo standard errors (the variance's from the sample's fourth moment). */
function momentZ(xs: ArrayLike<number>, m: number, v: number): { mean: number; variance: number } {
  const n = xs.length;
  let s = 0;
  for (let i = 0; i < n; i++) s += xs[i]!;
  const mean = s / n;
  let s2 = 0;
  let s4 = 0;
  for (let i = 0; i < n; i++) {
    const d = xs[i]! - mean;
    s2 += d * d;
    s4 += d ** 4;
  }
  const variance = s2 / (n - 1);
  return { mean: Math.abs(mean - m) / Math.sqrt(variance / n), variance: Math.abs(variance - v) / Math.sqrt((s4 / n - variance * variance) / n) };
}

/** A truncation whose normaliser is off by a factor (0.9 unless given; the planted bug). */
class WrongMass extends TruncatedDistribution {
  factor = 0.9;
  override logMass(): Value {
    return add(super.logMass(), Math.log(this.factor));
  }
}

/** Simpson's rule for the integral of exp(logProb) over [a, b]. */
function integral(d: Distribution, a: number, b: number, m = 2000): number {
  const h = (b - a) / m;
  let s = 0;
  for (let i = 0; i <= m; i++) s += (i === 0 || i === m ? 1 : i % 2 ? 4 : 2) * Math.exp(num(d.logProb(a + i * h)));
  return (s * h) / 3;
}

describe('Truncated, continuous, far in a tail', () => {
  it('normalises in log space: densities and log masses against R', () => {
    // dnorm(c(10, 10.5, 12), log = TRUE) - pnorm(10, lower.tail = FALSE, log.p = TRUE)
    const up = Truncated(Normal(0, 1), { low: 10 });
    expect(maxRelError([10, 10.5, 12].map((x) => num(up.logProb(x))), [2.3123466173077958, -2.8126533826922042, -19.6876533826921971])).toBeLessThan(1e-10);
    // pnorm(-38, log.p = TRUE) + log1p(-exp(pnorm(-39, log.p = TRUE) - pnorm(-38, log.p = TRUE))); dnorm(c(38.2, 38.9), log = TRUE) minus it
    const two = Truncated(Normal(0, 1), { low: 38, high: 39 });
    expect(maxRelError([num(two.logMass()), num(two.logProb(38.2)), num(two.logProb(38.9))], [-726.5572160188201, -3.9817225143847281, -30.9667225143845144])).toBeLessThan(1e-10);
    // pnorm(-40, log.p = TRUE); pt(1000, 3, lower.tail = FALSE, log.p = TRUE)
    expect(maxRelError([num(Truncated(Normal(0, 1), { high: -40 }).logMass()), num(Truncated(StudentT(3), { low: 1000 }).logMass())], [-804.6084420137538, -20.625545997896715])).toBeLessThan(1e-10);
    // the density integrates to 1; the planted normaliser does not
    expect(Math.abs(integral(up, 10, 12) - 1)).toBeLessThan(1e-9);
    expect(Math.abs(integral(new WrongMass(Normal(0, 1), { low: 10 }), 10, 12) - 1)).toBeGreaterThan(0.1);
    // tensors (float32): finite and close where the float32 cdf would underflow
    const t = Truncated(Normal(tf.tensor([0, 0]), 1), { low: tf.tensor([10, -39]), high: tf.tensor([11, -38]) });
    const lm = Array.from((t.logMass() as tf.Tensor).dataSync());
    // log(pnorm(11, lower.tail = FALSE) ... ): pnorm(10, lower.tail = FALSE, log.p = TRUE) + log1p(-exp(pnorm(11, lower.tail = FALSE, log.p = TRUE) - pnorm(10, lower.tail = FALSE, log.p = TRUE))) = -53.23128515051247 to 1e-23
    expect(Math.abs(lm[0]! + 53.23128515051247) / 53.23).toBeLessThan(2e-6);
    expect(Math.abs(lm[1]! + 726.5572160188201) / 726.56).toBeLessThan(2e-6);
  });

  it('draws far in a tail are finite, inside the bounds and match the exact moments within 4 MCSE; a planted wrong normaliser fails', () => {
    // a = 10: lambda = exp(dnorm(a, log = TRUE) - pnorm(a, lower.tail = FALSE, log.p = TRUE)); mean lambda, variance 1 + a lambda - lambda^2
    const [mean, variance] = [10.0980932339624907, 0.0094453778258696275];
    const d = Truncated(Normal(0, 1), { low: 10 });
    const rng = new Rng(7);
    const xs = Float64Array.from({ length: 20000 }, () => d.sample(rng) as number);
    expect(xs.every((x) => Number.isFinite(x) && x >= 10)).toBe(true);
    const z = momentZ(xs, mean, variance);
    expect(Math.max(z.mean, z.variance)).toBeLessThan(4);
    const xt = Float64Array.from((d.sample(new Rng(8), [20000]) as tf.Tensor).dataSync());
    expect(xt.every((x) => Number.isFinite(x) && x >= 10)).toBe(true);
    expect(momentZ(xt, mean, variance).mean).toBeLessThan(4);
    const wrong = new WrongMass(Normal(0, 1), { low: 10 });
    const xw = Float64Array.from({ length: 20000 }, () => wrong.sample(rng) as number);
    expect(momentZ(xw, mean, variance).mean).toBeGreaterThan(4);
    // the lower tail, beyond float64's cdf: -lambda(40) and 1 + 40 lambda - lambda^2 = 6.226684156445117e-4
    const low = Truncated(Normal(0, 1), { high: -40 });
    const xl = Float64Array.from({ length: 20000 }, () => low.sample(rng) as number);
    expect(xl.every((x) => Number.isFinite(x) && x <= -40)).toBe(true);
    const zl = momentZ(xl, -40.024968847206338, 6.226684156445117e-4);
    expect(Math.max(zl.mean, zl.variance)).toBeLessThan(4);
    // a batch of tensor bounds in both tails
    const tb = (Truncated(Normal(tf.tensor([0, 0]), 1), { low: tf.tensor([10, -41]), high: tf.tensor([11, -40]) }).sample(new Rng(3), [500]) as tf.Tensor).dataSync();
    expect(Array.from(tb).every((x, i) => Number.isFinite(x) && (i % 2 === 0 ? x >= 10 && x <= 11 : x >= -41 && x <= -40))).toBe(true);
  });

  it('far-tail draws are reparameterised: d E[x] / d loc at low = 10 matches 1 - lambda (lambda - a) within 4 MCSE; gradients stay finite two-sided far out', () => {
    // a = 10 - 0.5; lambda = exp(dnorm(a, log = TRUE) - pnorm(a, lower.tail = FALSE, log.p = TRUE)); 1 - lambda * (lambda - a)
    const exact = 0.010404820221052713;
    const n = 4000;
    const g = Float64Array.from(tf.grad((loc: tf.Tensor) => tf.sum(Truncated(Normal(loc, 1), { low: 10 }).sample(new Rng(21)) as tf.Tensor))(tf.fill([n], 0.5)).dataSync());
    const mean = g.reduce((a, b) => a + b, 0) / n;
    const se = Math.sqrt(g.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1) / n);
    expect(Math.abs(mean - exact)).toBeLessThan(4 * se);
    // planted: the untruncated reparameterisation (d x / d loc = 1) is far off
    expect(Math.abs(1 - exact)).toBeGreaterThan(4 * se);
    // sample shape [100] against a batch [1] (broadcast bounds), far out on both sides of [38, 39]
    const g2 = tf.grad((loc: tf.Tensor) => tf.sum(Truncated(Normal(loc, 1), { low: 38, high: 39 }).sample(new Rng(1), [100]) as tf.Tensor))(tf.tensor([0.5])).dataSync();
    expect(Number.isFinite(g2[0])).toBe(true);
  });

  it('bases without icdf draw by bisection on the log-cdf when the mass is small (StudentT(3) above 1000; Gamma with tensor shapes above 40)', () => {
    // pgamma(40, c(2, 3), lower.tail = FALSE, log.p = TRUE)
    const g = Truncated(Gamma(tf.tensor([2, 3]), 1), { low: 40 });
    const glm = Array.from((g.logMass() as tf.Tensor).dataSync());
    expect(Math.abs(glm[0]! + 36.286427933295691) / 36.29).toBeLessThan(2e-6);
    expect(Math.abs(glm[1]! + 33.265408340027051) / 33.27).toBeLessThan(2e-6);
    expect(Array.from((g.sample(new Rng(1), [20]) as tf.Tensor).dataSync()).every((x) => Number.isFinite(x) && x >= 40)).toBe(true);
    const d = Truncated(StudentT(3), { low: 1000 });
    // integrate(function(x) x * dt(x, 3), 1000, Inf)$value / pt(1000, 3, lower.tail = FALSE), and the variance likewise
    const xs = Float64Array.from((d.sample(new Rng(11), [1000]) as tf.Tensor).dataSync());
    expect(xs.every((x) => Number.isFinite(x) && x >= 1000)).toBe(true);
    expect(momentZ(xs, 1500.0008999993784, 750002.099999811966).mean).toBeLessThan(4);
    const wrong = new WrongMass(StudentT(3), { low: 1000 });
    wrong.factor = 0.5;
    const planted = Float64Array.from((wrong.sample(new Rng(11), [1000]) as tf.Tensor).dataSync());
    expect(momentZ(planted, 1500.0008999993784, 750002.099999811966).mean).toBeGreaterThan(4);
  });
});

describe('Truncated under inference, far in a tail', () => {
  it('NUTS (compiled, vectorised chains) on observations truncated about 23 sd out recovers the quadrature posterior mean within 4 MCSE; the naive normaliser is infinite there', async () => {
    const ys = [30.05, 30.2, 30.01, 30.4, 30.12, 30.3];
    const logJoint = (mu: number, trunc: (mu: number) => Distribution): number => ys.reduce((lp, y) => lp + num(trunc(mu).logProb(y)), num(Normal(0, 3).logProb(mu)));
    const tail = (mu: number): Distribution => Truncated(Normal(mu, 1), { low: 30 });
    // posterior mean of mu by quadrature on the float64 path
    const grid = Array.from({ length: 6001 }, (_, i) => -20 + i / 100);
    const lps = grid.map((mu) => logJoint(mu, tail));
    const top = Math.max(...lps);
    const w = lps.map((lp) => Math.exp(lp - top));
    const exact = w.reduce((a, wi, i) => a + wi * grid[i]!, 0) / w.reduce((a, b) => a + b, 0);
    const m = model(async ({ sample, observe }) => {
      const mu = await sample('mu', Normal(0, 3));
      for (let i = 0; i < ys.length; i++) await observe(`y${i}`, Truncated(Normal(mu, 1), { low: 30 }), ys[i]!);
    });
    const post = await infer(m, { method: 'nuts', chains: 4, warmup: 300, samples: 400, seed: 2 });
    const row = post.summary().rows.find((r) => r.name === 'mu')!;
    expect(Math.abs(row.mean - exact) / Number(row.mcse_mean)).toBeLessThan(4);
    post.dispose();
    // planted: log(1 - cdf(30)) underflows at the posterior mean, so the naive truncated density is +Infinity
    const naive = (mu: number): number => ys.reduce((lp, y) => lp + num(Normal(mu, 1).logProb(y)) - Math.log1p(-(Normal(mu, 1).cdf(30) as number)), 0);
    expect(Number.isFinite(naive(exact))).toBe(false);
  });
});

describe('Truncated counts under inference', () => {
  it('NUTS on a zero-truncated Poisson (tensor rate, compiled) recovers the quadrature posterior mean within 4 MCSE; the untruncated model does not', async () => {
    const ys = [1, 2, 1, 3, 1, 1, 2];
    const m = (truncate: boolean) =>
      model(async ({ sample, observe }) => {
        const rate = await sample('rate', Gamma(2, 1));
        await observe('y', truncate ? Truncated(Poisson(rate), { low: 1 }) : Poisson(rate), ys);
      });
    // p(rate | y) on a grid, float64: Gamma(2, 1) prior, Poisson mass over 1 - exp(-rate)
    const grid = Array.from({ length: 4000 }, (_, i) => (i + 0.5) / 400);
    const lps = grid.map((r) => Math.log(r) - r + ys.reduce((a, y) => a + num(Poisson(r).logProb(y)) - Math.log(-Math.expm1(-r)), 0));
    const top = Math.max(...lps);
    const w = lps.map((lp) => Math.exp(lp - top));
    const exact = w.reduce((a, wi, i) => a + wi * grid[i]!, 0) / w.reduce((a, b) => a + b, 0);
    const z = async (truncate: boolean): Promise<number> => {
      const post = await infer(m(truncate), { method: 'nuts', chains: 4, warmup: 300, samples: 400, seed: 4 });
      const row = post.summary().rows.find((r) => r.name === 'rate')!;
      post.dispose();
      return Math.abs(row.mean - exact) / Number(row.mcse_mean);
    };
    expect(await z(true)).toBeLessThan(4);
    expect(await z(false)).toBeGreaterThan(4);
  });
});

describe('Truncated, discrete (bounds inclusive, as Stan)', () => {
  const poissonPmf = (k: number, rate: number): number => {
    let lf = 0;
    for (let i = 2; i <= k; i++) lf += Math.log(i);
    return Math.exp(k * Math.log(rate) - rate - lf);
  };

  it('Poisson truncated to [2, 6] is normalised exactly and enumerates exactly', async () => {
    const d = Truncated(Poisson(3), { low: 2, high: 6 });
    // ppois(6, 3) - ppois(1, 3) = 0.76734319121970296
    expect(Math.abs(Math.exp(num(d.logMass())) - 0.76734319121970296)).toBeLessThan(1e-15);
    expect(d.enumerateSupport()).toEqual([2, 3, 4, 5, 6]);
    expect([1, 7, 2.5, -1].map((k) => d.logProb(k))).toEqual([-Infinity, -Infinity, -Infinity, -Infinity]);
    // exact enumeration of a model with the truncated prior and a Gaussian observation, against Bayes' rule by hand
    const m = model(async ({ sample, observe }) => {
      const k = await sample('k', Truncated(Poisson(3), { low: 2, high: 6 }));
      await observe('y', Normal(k, 1), 4.3);
      return k;
    });
    const w = [2, 3, 4, 5, 6].map((k) => poissonPmf(k, 3) * Math.exp(-0.5 * (4.3 - k) ** 2));
    const z = w.reduce((a, b) => a + b, 0);
    for (const strategy of ['sequential', 'parallel'] as const) {
      const post = await infer(m, { method: 'enumerate', strategy });
      const marg = post.marginal((s) => toNumber(s.returnValue as Value));
      for (let i = 0; i < 5; i++) expect(Math.abs(marg.prob(2 + i) - w[i]! / z)).toBeLessThan(strategy === 'parallel' ? 1e-6 : 1e-12);
    }
  });

  it('far-tail and wide truncations use the log-CDFs: values against R, draws against the exact mass function', () => {
    // ppois(39, 1, lower.tail = FALSE, log.p = TRUE); dpois(40:41, 1, log = TRUE) minus it
    const tail = Truncated(Poisson(1), { low: 40 });
    expect(maxRelError([num(tail.logMass()), num(tail.logProb(40)), num(tail.logProb(41))], [-111.29596194811081, -0.024677766646590271, -3.738249833350892004])).toBeLessThan(1e-10);
    // log(ppois(19000, 1e4) - ppois(10099, 1e4)) (8901 values: a log-cdf difference); ppois(10199, 1e4, lower.tail = FALSE, log.p = TRUE)
    expect(maxRelError([num(Truncated(Poisson(1e4), { low: 10100, high: 19000 }).logMass()), num(Truncated(Poisson(1e4), { low: 10200 }).logMass())], [-1.8334374589819629, -3.7596911771103674])).toBeLessThan(1e-10);
    // draws: P(40) = dpois(40, 1) / ppois(39, 1, lower.tail = FALSE) = 0.975624240052674785, within 4 MCSE; the planted normaliser fails
    const p40 = 0.975624240052674785;
    const n = 4000;
    const freq40 = (d: Pick<Distribution, 'sample'>, seed: number): number => {
      const rng = new Rng(seed);
      let c = 0;
      for (let i = 0; i < n; i++) {
        const k = d.sample(rng) as number;
        expect(Number.isInteger(k) && k >= 40).toBe(true);
        if (k === 40) c++;
      }
      return c / n;
    };
    const mcse = Math.sqrt((p40 * (1 - p40)) / n);
    expect(Math.abs(freq40(tail, 5) - p40)).toBeLessThan(4 * mcse);
    // planted: a sampler that shifts the untruncated base to the bound (40 + Poisson(1)) instead of conditioning it
    const shifted = { sample: (rng: Rng): Value => 40 + (Poisson(1).sample(rng) as number) };
    expect(Math.abs(freq40(shifted, 5) - p40)).toBeGreaterThan(4 * mcse);
    // a lower-tail truncation walks down from high: P(70), P(69) = dpois(70:69, 100) / ppois(70, 100)
    const below = Truncated(Poisson(100), { high: 70 });
    const rng = new Rng(3);
    const ks = Array.from({ length: n }, () => below.sample(rng) as number);
    for (const [k, p] of [[70, 0.31968995544778661], [69, 0.22378296881345067]] as const) {
      expect(Math.abs(ks.filter((v) => v === k).length / n - p)).toBeLessThan(4 * Math.sqrt((p * (1 - p)) / n));
    }
    // a bulk truncation draws by rejection: frequencies of Poisson(3) on [2, 6] within 4 MCSE of the exact pmf
    const bulk = Truncated(Poisson(3), { low: 2, high: 6 });
    const counts = new Array<number>(7).fill(0);
    const draws = (bulk.sample(new Rng(9), [n]) as tf.Tensor).dataSync();
    for (const k of draws) counts[k]!++;
    const mass = 0.76734319121970296;
    for (let k = 2; k <= 6; k++) {
      const p = poissonPmf(k, 3) / mass;
      expect(Math.abs(counts[k]! / n - p)).toBeLessThan(4 * Math.sqrt((p * (1 - p)) / n));
    }
  });

  it('tensor parameters: exact, differentiable normalisers (zero-truncated Poisson) and batched draws', () => {
    const rate = tf.tensor([0.5, 3]);
    const zt = Truncated(Poisson(rate), { low: 1 });
    const lm = Array.from((zt.logMass() as tf.Tensor).dataSync());
    for (const [i, r] of [0.5, 3].entries()) expect(Math.abs(lm[i]! - Math.log(-Math.expm1(-r)))).toBeLessThan(1e-6);
    // d/dr log(1 - e^-r) = e^-r / (1 - e^-r)
    const g = tf.grad((r: tf.Tensor) => tf.sum(Truncated(Poisson(r), { low: 1 }).logMass() as tf.Tensor))(rate).dataSync();
    for (const [i, r] of [0.5, 3].entries()) expect(Math.abs(g[i]! - Math.exp(-r) / -Math.expm1(-r))).toBeLessThan(1e-5);
    // draws far in the upper tail with tensor rates (the float32 log-cdf underflows there; the walk needs no normaliser):
    // P(40) = dpois(40, r) / ppois(39, r, lower.tail = FALSE): 0.975624240052674785 (r = 1), 0.87844661632061616 (r = 5)
    const x = (Truncated(Poisson(tf.tensor([1, 5])), { low: 40 }).sample(new Rng(2), [2000]) as tf.Tensor).dataSync();
    expect(Array.from(x).every((k) => Number.isInteger(k) && k >= 40)).toBe(true);
    for (const [col, p40] of [[0, 0.975624240052674785], [1, 0.87844661632061616]] as const) {
      const f40 = Array.from(x).filter((k, i) => i % 2 === col && k === 40).length / 2000;
      expect(Math.abs(f40 - p40)).toBeLessThan(4 * Math.sqrt((p40 * (1 - p40)) / 2000));
    }
  });

  it('Binomial, NegativeBinomial and Geometric truncations normalise; Geometric stays memoryless', () => {
    const sumProb = (d: Distribution): number => (d.enumerateSupport() as number[]).reduce((s, k) => s + Math.exp(num(d.logProb(k))), 0);
    expect(Math.abs(sumProb(Truncated(Binomial(10, 0.3), { low: 3 })) - 1)).toBeLessThan(1e-13);
    expect(Math.abs(sumProb(Truncated(NegativeBinomial(3, 0.4), { high: 4 })) - 1)).toBeLessThan(1e-13);
    const g = Truncated(Geometric(0.3), { low: 5 });
    for (const k of [5, 6, 20]) expect(Math.abs(num(g.logProb(k)) - num(Geometric(0.3).logProb(k - 5)))).toBeLessThan(1e-13);
  });

  it('bad bounds are errors that name the argument', () => {
    expect(() => Truncated(Poisson(3), { low: 5, high: 3 })).toThrow(/Truncated\(Poisson\): parameter low must be at most high \(both inclusive\), got low = 5 and high = 3/);
    expect(() => Truncated(Poisson(3), { high: -1 })).toThrow(/parameter high = -1 is below the support of Poisson/);
    expect(() => Truncated(Binomial(10, 0.3), { low: 11 })).toThrow(/parameter low = 11 is above the support of Binomial/);
    expect(() => Truncated(Poisson(3), { low: 2.5 })).toThrow(/parameter low must be an integer/);
    expect(() => Truncated(Poisson(3), { low: tf.scalar(2) })).toThrow(/parameter low of a discrete truncation must be a number/);
    expect(() => Truncated(Exponential(1), { high: -1 })).toThrow(/Truncated\(Exponential\): parameter high = -1 is below the support of Exponential/);
    expect(() => Truncated(Normal(0, 1), { low: 1, high: 1 })).toThrow(/parameter low must be below high/);
  });

  it('keeps tf.memory().numTensors flat over repeated tensor evaluations and draws', () => {
    const cont = Truncated(Normal(tf.tensor([0, 1]), 1), { low: 10 });
    const disc = Truncated(Poisson(tf.tensor([2, 3])), { low: 1, high: 6 });
    const x = tf.tensor([10.5, 11]);
    const k = tf.tensor([1, 4]);
    const rng = new Rng(4);
    const once = (): void => {
      tf.dispose([cont.logProb(x), cont.logProb(10.5), cont.sample(rng, [3]), disc.logProb(k), disc.sample(rng, [3])] as tf.Tensor[]);
    };
    once();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 4; i++) once();
    expect(tf.memory().numTensors).toBe(before);
  });
});
