/**
 * NEWUSER, session 13, slow tier: posteriordb's M0 capture-recapture model
 * written with its discrete inclusion z_i sampled (hmc-gibbs) rather than
 * marginalised, against the exact quadrature moments
 * (`newcomer-session13-m0.ts`). Fails on the code before the fix of the
 * count distributions' gradient at a probability of exactly 0.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/backend/select.js';
import { Bernoulli, Binomial, Uniform, diagnostics, infer, model, ops } from '../../src/index.js';
import { M0_EXACT, M0_T, m0Counts } from './newcomer-session13-m0.js';

beforeAll(async () => {
  await initBackend('cpu');
});

const within = (estimate: number, exact: number, se: number) => Math.abs(estimate - exact) <= 4 * se;

describe('posteriordb M0 with the inclusion z_i as a plated Bernoulli site, y_i ~ Binomial(T, z_i p) (found: NaN gradients at z_i = 0 stalled NUTS inside hmc-gibbs: step size 4e-197, omega 0.644 and 0.288 in two chains against the exact 0.4235)', () => {
  it('hmc-gibbs (started at z = 1, as the prior draw of z makes the 87 seen rows impossible): omega, p and N = sum(z) within 4 MCSE of the exact moments; planted: N = 87 (only the animals seen) is rejected', async () => {
    const s = m0Counts();
    const latent = model(async ({ sample, plate }) => {
      const omega = await sample('omega', Uniform(0, 1));
      const p = await sample('p', Uniform(0, 1));
      return plate('rows', s.length, async (_i, pl) => {
        const z = await pl.sample('z', Bernoulli(omega));
        await pl.observe('s', Binomial(M0_T, ops.mul(z, p)), tf.tensor1d(s));
        return z;
      });
    });
    const chains = 2;
    const post = await infer(latent, { method: 'hmc-gibbs', chains, warmup: 300, samples: 400, seed: 1, init: { z: tf.ones([s.length]) } });
    // (the 150 unseen rows' z_i are near-independent coin flips: a warning may name them, never omega or p)
    expect(post.warnings.join('\n')).not.toMatch(/\b(omega|p)\b \d|divergen|step size/);
    for (const k of ['omega', 'p'] as const) {
      const row = post.summary().rows.find((r) => r.name === k)! as unknown as { mean: number; sd: number; mcse_mean: number; mcse_sd: number };
      expect(within(row.mean, M0_EXACT[k].mean, row.mcse_mean), `${k} mean ${row.mean} +- ${row.mcse_mean}`).toBe(true);
      expect(within(row.sd, M0_EXACT[k].sd, row.mcse_sd), `${k} sd ${row.sd} +- ${row.mcse_sd}`).toBe(true);
    }
    // N per draw, by chain
    const perChain: number[][] = Array.from({ length: chains }, () => []);
    for (const d of post.draws as readonly { chain: number; values: Record<string, unknown> }[]) {
      const z = d.values.z as tf.Tensor | number[];
      const a = Array.isArray(z) ? z : Array.from(z.dataSync());
      perChain[d.chain]!.push(a.reduce((u, v) => u + v, 0));
    }
    const all = perChain.flat();
    const mean = all.reduce((u, v) => u + v, 0) / all.length;
    const se = diagnostics.mcseMean(perChain);
    expect(within(mean, M0_EXACT.N.mean, se), `N ${mean} +- ${se}`).toBe(true);
    expect(within(87, mean, se)).toBe(false);
    post.dispose();
  }, 600_000);
});
