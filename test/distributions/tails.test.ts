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
import { type Value, add } from '../../src/core/value.js';
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
import { NegativeBinomial } from '../../src/distributions/negative-binomial.js';
import { Normal } from '../../src/distributions/normal.js';
import { Poisson } from '../../src/distributions/poisson.js';
import { HalfStudentT, StudentT } from '../../src/distributions/student-t.js';
import { Truncated, TruncatedDistribution } from '../../src/distributions/truncated.js';
import { infer } from '../../src/infer/registry.js';
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
  // log(pbeta(h^2 / (3 + h^2), 0.5, 1.5)), log(2) + pt(h, 3, lower.tail = FALSE, log.p = TRUE)
  {
    name: 'HalfStudentT(3, 1)',
    d: HalfStudentT(3, 1),
    at: [1e-8, 0.5, 3, 40, 100],
    lcdf: [-1.8728422413015927e1, -1.0539677481574399, -5.9398564705559695e-2, -3.4381271818355769e-5, -2.2045243531945317e-6],
    lccdf: [-7.3510519893460469e-9, -4.2855775537192231e-1, -2.8530374948909625, -1.027801575631038e1, -1.3024999887455335e1],
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
