/**
 * NEWUSER, session 15: models written as a newcomer would, checked for a
 * warning where the answer is wrong. Each test fails on the code before its
 * fix (the old behaviour is in the titles).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/backend/select.js';
import { Bernoulli, Gamma, Normal, Poisson, Truncated, Uniform, infer, model, ops } from '../../src/index.js';
import { DOGS_Y, dogsCounts } from './newcomer-session15-dogs.js';

beforeAll(async () => {
  await initBackend('cpu');
});

const unmovedWarning = (warnings: readonly string[], site: string) => warnings.find((w) => w.startsWith(`every draw of ${site} is the same value`));

/** posteriordb dogs_log as Stan writes it (probabilities, not logits), with its data tensors (the caller disposes them). */
function dogsLogAsStanWritesIt() {
  const { avoid, shock } = dogsCounts();
  const A = tf.tensor2d(avoid);
  const S = tf.tensor2d(shock);
  const Y = tf.tensor2d(DOGS_Y as number[][]);
  const dogsLog = model(async ({ sample, observe }) => {
    const b1 = await sample('beta1', Uniform(-100, 0));
    const b2 = await sample('beta2', Uniform(0, 100));
    await observe('y', Bernoulli(ops.sigmoid(ops.add(ops.mul(b1, A), ops.mul(b2, S)))), Y);
  });
  return { dogsLog, A, S, Y };
}

describe('mh: a continuous site that never moved is named (found: posteriordb dogs_log under mh at its defaults kept beta2 at 0.244 for all 1000 draws, against 0.057 +- 0.024 by quadrature; its sd 0 and NaN R-hat/ESS drew no warning)', () => {
  it('a site whose every proposal is rejected is named, with the mh advice; a moving site and a discrete site settled by the data are not (old code: no warning at all)', async () => {
    const ys = [0.1, -0.3, 0.25];
    const m = model(async ({ sample, observe }) => {
      const a = await sample('a', Normal(0, 1));
      const mu = await sample('mu', Uniform(0, 1));
      const z = await sample('z', Bernoulli(0.5));
      await observe('w', Normal(ops.mul(z, 10), 0.1), 10); // z = 1 for certain
      for (let i = 0; i < ys.length; i++) await observe(`y${i}`, Normal(mu, 1), ys[i]!);
      return a;
    });
    // a proposal off the support: every move of mu is rejected, so mu keeps its first value
    const post = await infer(m, { method: 'mh', seed: 1, proposals: { mu: { sample: () => 2, logProb: () => 0 } } });
    const rows = post.summary().rows as unknown as readonly { name: string; sd: number; r_hat: number }[];
    expect(rows.find((r) => r.name === 'mu')!.sd).toBe(0);
    expect(rows.find((r) => r.name === 'a')!.r_hat).toBeLessThan(1.01); // the other checks see nothing wrong
    expect(post.diagnostics.unmoved).toEqual(['mu']);
    const w = unmovedWarning(post.warnings, 'mu');
    expect(w, post.warnings.join('\n')).toBeDefined();
    expect(w).toContain("use method 'nuts'");
    expect(post.warnings.filter((x) => x.startsWith('every draw of'))).toHaveLength(1); // neither a nor z
    post.dispose();
  });

  it('posteriordb dogs_log (Uniform(-100, 0) and Uniform(0, 100) priors, Bernoulli(inv_logit(.)) over 750 trials): mh at its defaults names beta2', async () => {
    const { dogsLog, A, S, Y } = dogsLogAsStanWritesIt();
    const post = await infer(dogsLog, { method: 'mh', seed: 1 });
    const beta2 = (post.summary().rows as readonly { name: string; mean: number; sd: number }[]).find((r) => r.name === 'beta2')!;
    // float64 quadrature on a 200 x 200 grid: beta2 0.0566 (sd 0.0241); the chain sat far off it
    expect(beta2.sd).toBe(0);
    expect(Math.abs(beta2.mean - 0.0566)).toBeGreaterThan(4 * 0.0241);
    expect(unmovedWarning(post.warnings, 'beta2'), post.warnings.join('\n')).toBeDefined();
    post.dispose();
    tf.dispose([A, S, Y]);
  });
});

describe('an observation "impossible" only because a sigmoid rounded to 0 or 1 (found: dogs_log written as Bernoulli(inv_logit(.)) stopped nuts, hmc and vi (and smc at some seeds) with "the observation is impossible"; the data are possible, the probabilities at the start points saturated)', () => {
  it('the error names the site, says the probability is exactly 0 or 1 at that point, and points to logits (old code: no hint)', async () => {
    const { dogsLog, A, S, Y } = dogsLogAsStanWritesIt();
    for (const method of ['nuts', 'vi'] as const) {
      const err = await infer(dogsLog, { method, seed: 1 }).then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      expect(err, method).toBeInstanceOf(Error);
      expect(err!.message, method).toMatch(/^site "y": .*exactly 0 or 1 at this point.*Bernoulli\(\{ logits: eta \}\)/s);
    }
    // a probability the user gave as exactly 1, observed 0: still impossible, and the hint is conditional ("where it comes from a sigmoid")
    const sure = model(async ({ sample, observe }) => {
      await sample('mu', Normal(0, 1));
      await observe('k', Bernoulli(1), 0);
    });
    const e2 = await infer(sure, { method: 'importance', particles: 10, seed: 1 }).then(() => undefined, (e: unknown) => e as Error);
    expect(e2?.message).toContain('the observation is impossible here');
    tf.dispose([A, S, Y]);
  });
});

describe('an observed value outside the support (found: a 0 among zero-truncated Poisson counts stopped nuts with "... outside the support of Truncated(Poisson) ...; give init values", advice that cannot help)', () => {
  it('nuts and importance say to fix the data before the engine\'s own words (old code: no such words)', async () => {
    const ztp = model(async ({ sample, observe }, ys: number[]) => {
      const l = await sample('l', Gamma(2, 2));
      for (let i = 0; i < ys.length; i++) await observe(`y${i}`, Truncated(Poisson(l), { low: 1 }), ys[i]!);
    });
    const runs = { nuts: () => infer(ztp, { method: 'nuts', chains: 1, seed: 1 }, [1, 0, 2]), importance: () => infer(ztp, { method: 'importance', particles: 100, seed: 1 }, [1, 0, 2]) };
    for (const [method, run] of Object.entries(runs)) {
      const err = await run().then(() => undefined, (e: unknown) => e as Error);
      expect(err?.message, method).toMatch(/^site "y1": the observed value 0 is outside the support of Truncated\(Poisson\) \(.*\): fix the data \(no start point or init value can help\); /);
    }
  });
});
