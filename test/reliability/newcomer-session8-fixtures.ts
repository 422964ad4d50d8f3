/** Models shared by newcomer-session8.test.ts and its slow twin. */
import { Gamma, Poisson, model } from '../../src/index.js';

/** The counts of the SVGD finding: Poisson near 1e4 (exact posterior of lam: Gamma(2 + 40272, 0.01 + 4), mean 10043.39). */
export const SVGD_FOUND_COUNTS = [10234, 9876, 10112, 10050];

/** lam ~ Gamma(2, 0.01); each count ~ Poisson(lam). */
export const svgdCounts = model(async ({ sample, observe }, y: number[]) => {
  const lam = await sample('lam', Gamma(2, 0.01));
  for (let i = 0; i < y.length; i++) await observe(`y${i}`, Poisson(lam), y[i]);
});
