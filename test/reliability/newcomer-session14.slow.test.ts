/**
 * NEWUSER, session 14, slow tier (TYCHE_SLOW=1 via `npm run test:slow`): importance on the near-Poisson
 * NegativeBinomial of `newcomer-session14.test.ts` (about a minute under load: 100 counts on every particle).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import { infer } from '../../src/index.js';
import { NB2_EXACT, nb2Model } from './newcomer-session14-nb2.js';

beforeAll(async () => {
  await initBackend('cpu');
});

/** |estimate - exact| within 4 standard errors. */
const within = (estimate: number, exact: number, se: number) => Math.abs(estimate - exact) <= 4 * se;

describe('a near-Poisson NegativeBinomial, phi ~ LogNormal(log 1e5, 1), under importance (found: batched, refused as "control flow depends on a random value" (float32 rounding of the density read as a branch); per particle, E[mu] 3.199 with ESS 1.1 against the exact 4.900)', () => {
  it('importance, batched and per particle: no warning, E[mu] within 4 MCSE (sd / sqrt(ESS)) of the quadrature', async () => {
    for (const batched of [true, false]) {
      const post = await infer(nb2Model, { method: 'importance', particles: batched ? 4000 : 3000, batched, seed: 1 });
      expect(post.warnings, `batched ${batched}`).toEqual([]);
      const { mean } = post.moments('mu');
      expect(within(mean, NB2_EXACT.mean, NB2_EXACT.sd / Math.sqrt(post.ess)), `batched ${batched}: ${mean}, ESS ${post.ess}`).toBe(true);
      post.dispose();
    }
  }, 600_000);

  it('planted: the old per-particle answer 3.199 is outside 4 standard errors of the quadrature at this ESS', () => {
    expect(within(3.199, NB2_EXACT.mean, NB2_EXACT.sd / Math.sqrt(150))).toBe(false);
  });
});
