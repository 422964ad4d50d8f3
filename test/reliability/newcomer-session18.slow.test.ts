/**
 * NEWUSER5, session 18, slow tier: posteriors written as a newcomer would from
 * the Stan code, against rstan. Each test has a planted bug that it rejects.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/backend/select.js';
import { LogNormal, Normal, infer, model, ops } from '../../src/index.js';
import { WEIBULL_EVENT, WEIBULL_REFERENCE, WEIBULL_T, WEIBULL_X } from './newcomer-session18-weibull.js';

beforeAll(async () => {
  await initBackend('cpu');
});

/** Parameters whose mean or sd is more than 4 combined standard errors from rstan's (engine MCSE and the reference's). */
function misses(post: { summary(): { rows: readonly unknown[] } }, reference: readonly { name: string; mean: number; sd: number; ess: number }[]): string[] {
  const rows = post.summary().rows as readonly { name: string; mean: number; sd: number; mcse_mean: number; mcse_sd: number }[];
  return reference.flatMap((r) => {
    const q = rows.find((w) => w.name === r.name)!;
    const se = r.sd / Math.sqrt(r.ess);
    const ok = Math.abs(q.mean - r.mean) <= 4 * Math.hypot(q.mcse_mean, se) && Math.abs(q.sd - r.sd) <= 4 * Math.hypot(q.mcse_sd, se / Math.SQRT2);
    return ok ? [] : [`${r.name}: ${q.mean.toFixed(3)} (${q.sd.toFixed(3)}) against ${r.mean} (${r.sd})`];
  });
}

/**
 * Weibull survival with right censoring, as a newcomer writes it with no
 * Weibull family: a loop over rows, each row's log density (event) or log
 * survival (censored) by hand as a `factor`. `censoredAsEvents` plants the
 * usual slip: every row scored as an event.
 */
function weibull(censoredAsEvents: boolean) {
  return model(async ({ sample, factor }) => {
    const b0 = await sample('b0', Normal(0, 5));
    const b1 = await sample('b1', Normal(0, 5));
    const k = await sample('k', LogNormal(0, 1));
    for (let i = 0; i < WEIBULL_T.length; i++) {
      const lam = ops.exp(ops.add(b0, ops.mul(b1, WEIBULL_X[i]!)));
      const z = ops.div(WEIBULL_T[i]!, lam);
      const logSurvival = ops.neg(ops.exp(ops.mul(k, ops.log(z)))); // -(t / lam)^k
      const event = censoredAsEvents || WEIBULL_EVENT[i] === 1;
      await factor(`t${i}`, event ? ops.add(ops.add(ops.sub(ops.log(k), ops.log(lam)), ops.mul(ops.sub(k, 1), ops.log(z))), logSurvival) : logSurvival);
    }
  });
}

describe('right-censored Weibull survival written by hand (factor per row) against rstan', () => {
  it('nuts and hmc at their defaults: every mean and sd within 4 combined standard errors, no warning, tensors flat; planted: censored rows scored as events is rejected', async () => {
    const before = tf.memory().numTensors;
    for (const method of ['nuts', 'hmc'] as const) {
      const post = await infer(weibull(false), { method, seed: 1 });
      expect(post.warnings, post.warnings.join('\n')).toEqual([]);
      expect(misses(post, WEIBULL_REFERENCE), method).toEqual([]);
      post.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
    const planted = await infer(weibull(true), { method: 'nuts', seed: 1 });
    expect(misses(planted, WEIBULL_REFERENCE).length).toBeGreaterThan(0);
    planted.dispose();
  }, 300_000);
});
