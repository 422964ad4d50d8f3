/**
 * NEWUSER6, session 19, slow tier: posteriors written as a newcomer would from
 * the Stan code, against rstan. Each test has a planted bug that it rejects.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/backend/select.js';
import { BernoulliLogit, HalfCauchy, HalfNormal, Normal, infer, model, ops } from '../../src/index.js';
import { ME_DATA, ME_REFERENCE, ML_DATA, ML_REFERENCE } from './newcomer-session19-data.js';

beforeAll(async () => {
  await initBackend('cpu');
});

/** Parameters whose mean or sd is more than 4 combined standard errors from rstan's (engine MCSE and the reference's). */
function misses(post: { summary(): { rows: readonly unknown[] } }, reference: readonly { name: string; mean: number; sd: number; ess: number }[]): string[] {
  const rows = post.summary().rows as readonly { name: string; mean: number; sd: number; mcse_mean: number; mcse_sd: number }[];
  return reference.flatMap((r) => {
    const q = rows.find((w) => w.name === r.name);
    if (!q) return [`${r.name}: no summary row`];
    const se = r.sd / Math.sqrt(r.ess);
    const ok = Math.abs(q.mean - r.mean) <= 4 * Math.hypot(q.mcse_mean, se) && Math.abs(q.sd - r.sd) <= 4 * Math.hypot(q.mcse_sd, se / Math.SQRT2);
    return ok ? [] : [`${r.name}: ${q.mean.toFixed(3)} (${q.sd.toFixed(3)}) against ${r.mean} (${r.sd})`];
  });
}

/** Measurement error in the covariate: the true x per row a latent site in a plate. `ignoreError` plants the usual slip (regress on x_meas as if exact). */
function measurementError(ignoreError: boolean) {
  return model(async ({ sample, observe, plate }) => {
    const muX = await sample('mu_x', Normal(0, 10));
    const sigmaX = await sample('sigma_x', HalfCauchy(5));
    const alpha = await sample('alpha', Normal(0, 10));
    const beta = await sample('beta', Normal(0, 10));
    const sigma = await sample('sigma', HalfCauchy(5));
    const x = await plate('rows', ME_DATA.N, () => sample('x', Normal(muX, sigmaX)));
    await observe('x_meas', Normal(x, ME_DATA.tau), tf.tensor1d(ME_DATA.xMeas));
    await observe('y', Normal(ops.add(alpha, ops.mul(beta, ignoreError ? tf.tensor1d(ME_DATA.xMeas) : x)), sigma), tf.tensor1d(ME_DATA.y));
  });
}

/** Multilevel logistic regression, non-centred, `a[g]` by `tf.gather`. `flipped` plants a 0/1 coding slip (1 - y). */
function multilevelLogistic(flipped: boolean) {
  const idx = tf.tensor1d(ML_DATA.g.map((v) => v - 1), 'int32');
  const x = tf.tensor1d(ML_DATA.x);
  const y = tf.tensor1d(ML_DATA.y.map((v) => (flipped ? 1 - v : v)));
  return model(async ({ sample, observe, plate, deterministic }) => {
    const muA = await sample('mu_a', Normal(0, 2));
    const sigmaA = await sample('sigma_a', HalfNormal(1));
    const b = await sample('b', Normal(0, 2));
    const z = await plate('groups', ML_DATA.J, () => sample('z', Normal(0, 1)));
    const a = deterministic('a', ops.add(muA, ops.mul(sigmaA, z)));
    await observe('y', BernoulliLogit(ops.add(tf.gather(a as tf.Tensor, idx), ops.mul(b, x))), y);
  });
}

describe('a measurement-error model and a 40-group multilevel logistic regression against rstan', () => {
  it('measurement error: nuts and hmc at their defaults within 4 combined standard errors, no warning; planted: the error ignored is rejected', async () => {
    for (const method of ['nuts', 'hmc'] as const) {
      const post = await infer(measurementError(false), { method, seed: 1 });
      expect(post.warnings, post.warnings.join('\n')).toEqual([]);
      expect(misses(post, ME_REFERENCE), method).toEqual([]);
      post.dispose();
    }
    const planted = await infer(measurementError(true), { method: 'nuts', seed: 1 });
    expect(misses(planted, ME_REFERENCE.filter((r) => !r.name.startsWith('x['))).length).toBeGreaterThan(0);
    planted.dispose();
  }, 300_000);

  it('multilevel logistic (non-centred): nuts at its defaults within 4 combined standard errors, no warning; planted: y coded 1 - y is rejected', async () => {
    const post = await infer(multilevelLogistic(false), { method: 'nuts', seed: 1 });
    expect(post.warnings, post.warnings.join('\n')).toEqual([]);
    expect(misses(post, ML_REFERENCE)).toEqual([]);
    post.dispose();
    const planted = await infer(multilevelLogistic(true), { method: 'nuts', seed: 1 });
    expect(misses(planted, ML_REFERENCE).length).toBeGreaterThan(0);
    planted.dispose();
  }, 300_000);
});
