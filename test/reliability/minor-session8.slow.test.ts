/**
 * MINOR, session 8, slow tier (TYCHE_SLOW=1): condition() on a site that the
 * model visits only on one branch of a continuous latent, under the gradient
 * samplers (the default tier checks enumerate, importance, SMC, MH,
 * hmc-gibbs and PSIS-weighted VI in minor-session8.test.ts).
 *
 * x ~ N(0, 1), and only when x > 0 is a ~ N(x, 1) drawn, with a = 1.5 given:
 * E[x | a] = -0.42344, sd 0.92979 (quadrature on a grid of 1/5000 over
 * [-8, 8]). The density jumps at x = 0, which the samplers cross by their
 * accept step (NUTS, seed 1, 2 x (500 + 1000): -0.4413, bulk ESS 287, 52 s
 * wall / 15 s CPU on a loaded machine).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import { type Ctx, Normal, condition, infer, model, toNumber } from '../../src/index.js';

beforeAll(async () => {
  await initBackend('cpu');
});

const continuous = model(async ({ sample }: Ctx) => {
  const x = await sample('x', Normal(0, 1));
  if (toNumber(x) > 0) await sample('a', Normal(x, 1));
  return x;
}, { name: 'continuous_branch' });

describe('gradient samplers on a site conditioned on a branch of a continuous latent', () => {
  // (static HMC, same settings: over 4 minutes on the loaded machine, its long fixed trajectories each running the
  // model per gradient; not run here)
  it('nuts gives E[x | a = 1.5] within 4 MCSE (bulk ESS)', async () => {
    const post = await infer(condition(continuous, { a: 1.5 }), { method: 'nuts', chains: 2, warmup: 500, samples: 1000, seed: 1 });
    const ess = Number(post.summary().rows.find((r) => r.name === 'x')!.ess_bulk);
    const mcse = 0.92979 / Math.sqrt(ess);
    const mean = post.moments('x').mean;
    expect(Math.abs(mean - -0.42344) / mcse).toBeLessThan(4);
    expect(Math.abs(mean - 0) / mcse).toBeGreaterThan(4); // planted: the data ignored (the prior mean)
  }, 600_000);
});
