/**
 * NEWUSER, session 14: Stan's neg_binomial_2(mu, phi) over near-Poisson counts with a dispersion known to be
 * large (phi ~ LogNormal(log 1e5, 1)), written as docs/modelling.md says, and its exact posterior moments of
 * mu by quadrature with a hand-written mass function (shared by the fast and slow tiers).
 */
import { LogNormal, NegativeBinomial, model, ops } from '../../src/index.js';

/** NegativeBinomial(phi, mu / (mu + phi)) (Stan's neg_binomial_2(mu, phi)) log mass by hand, in float64. */
export function nb2ByHand(k: number, mu: number, phi: number): number {
  let s = 0;
  for (let j = 0; j < k; j++) s += Math.log(phi + j) - Math.log(j + 1);
  return s - phi * Math.log1p(mu / phi) + k * Math.log(mu / (mu + phi));
}

/** Counts with variance near their mean (as Poisson(5) data are): 10 copies of 10 values. */
export const KS = [3, 5, 7, 4, 6, 2, 5, 8, 5, 4];
export const COUNTS = Array.from({ length: 100 }, (_, i) => KS[i % 10]!);

export const nb2Model = model(async ({ sample, observe }) => {
  const mu = await sample('mu', LogNormal(Math.log(5), 1));
  const phi = await sample('phi', LogNormal(Math.log(1e5), 1));
  await observe('y', NegativeBinomial(phi, ops.div(mu, ops.add(mu, phi))), COUNTS);
});

/** E[mu] and sd(mu) by quadrature over (log mu, log phi) with the hand formula (400 x 400 midpoints). */
export const NB2_EXACT = (() => {
  let z = 0;
  let m = 0;
  let s = 0;
  const rows: [number, number][] = [];
  for (let i = 0; i < 400; i++) {
    const lmu = Math.log(5) - 0.4 + (0.8 * (i + 0.5)) / 400;
    const mu = Math.exp(lmu);
    for (let j = 0; j < 400; j++) {
      const lphi = Math.log(1e5) - 6 + (12 * (j + 0.5)) / 400;
      let l = -0.5 * (lmu - Math.log(5)) ** 2 - 0.5 * (lphi - Math.log(1e5)) ** 2;
      for (const k of KS) l += 10 * nb2ByHand(k, mu, Math.exp(lphi));
      rows.push([l, mu]);
    }
  }
  const top = rows.reduce((a, r) => Math.max(a, r[0]), -Infinity);
  for (const [l, mu] of rows) {
    const w = Math.exp(l - top);
    z += w;
    m += w * mu;
    s += w * mu * mu;
  }
  return { mean: m / z, sd: Math.sqrt(s / z - (m / z) ** 2) };
})();
