/**
 * NEWUSER3, session 16: models written as a newcomer would, checked for a
 * warning where the answer is wrong and for no warning where it is right.
 * Each test fails on the code before its fix (the old behaviour is in the titles).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/backend/select.js';
import { LKJCholesky, Normal, Uniform, infer, model } from '../../src/index.js';

beforeAll(async () => {
  await initBackend('cpu');
});

describe("nuts: a correlation matrix's Cholesky factor is not 'never moved' (found: an LKJCholesky(3, 2) prior under nuts at its defaults warned that L[0] never moved: L[0][0] is 1 by construction)", () => {
  it('LKJCholesky(3, 2) alone: no warning, and r12 = (L L^T)[0][1] has the exact marginal (2 Beta(2.5, 2.5) - 1: mean 0, sd 1/sqrt(6)) within 4 MCSE', async () => {
    const lkj = model(async ({ sample }) => {
      await sample('L', LKJCholesky(3, 2));
    });
    const post = await infer(lkj, { method: 'nuts', seed: 1 });
    expect(post.warnings, post.warnings.join('\n')).toEqual([]);
    expect(post.diagnostics.unmoved).toBeUndefined();
    // r12 = L[1][0] * L[0][0] = L[1][0]
    const chains = post.chainColumns()!.get('L[1,0]')!;
    const all = chains.flatMap((c) => [...c]);
    const mean = all.reduce((a, b) => a + b, 0) / all.length;
    const sd = Math.sqrt(all.reduce((a, b) => a + (b - mean) ** 2, 0) / all.length);
    const row = (post.summary().rows as unknown as readonly { name: string; mcse_mean: number; mcse_sd: number }[]).find((r) => r.name === 'L[1,0]')!;
    expect(Math.abs(mean - 0)).toBeLessThan(4 * row.mcse_mean);
    expect(Math.abs(sd - 1 / Math.sqrt(6))).toBeLessThan(4 * row.mcse_sd);
    post.dispose();
  });

  it('mh: the same prior (MH draws L whole; its 1 and zeros are not a site that never moved)', async () => {
    const lkj = model(async ({ sample }) => {
      await sample('L', LKJCholesky(3, 2));
    });
    const post = await infer(lkj, { method: 'mh', seed: 1, chains: 2, samples: 200, warmup: 100 });
    expect(post.diagnostics.unmoved).toBeUndefined();
    post.dispose();
  });

  it('a site that truly never moves beside it is still named, and only it (Uniform(-1e20, 1e20): float64 cannot resolve its moves)', async () => {
    const m = model(async ({ sample, observe }) => {
      await sample('L', LKJCholesky(3, 2));
      const wide = await sample('wide', Uniform(-1e20, 1e20));
      await observe('y', Normal(wide, 1), 0.5);
    });
    const post = await infer(m, { method: 'nuts', seed: 1, samples: 100, warmup: 100, maxTreeDepth: 5 }); // its stuck site runs every tree to the depth limit
    expect(post.diagnostics.unmoved).toEqual(['wide']);
    post.dispose();
  });
});
