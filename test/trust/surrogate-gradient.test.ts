/**
 * A user `tf.customGrad` op whose gradient is not its value's derivative (a
 * straight-through clip: identity gradient, clipped value). HMC and NUTS stay
 * exact with it (leapfrog with any position-dependent force is reversible and
 * volume-preserving, and the accept step uses the true density), so they only
 * note it; VI follows the gradient it is given, so it refuses the op by name
 * unless `surrogateGradients: true`, and then the posterior warns. The slow
 * tier (probe-session6.slow.test.ts) checks the NUTS answer against quadrature.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import { Normal, infer, model, ops } from '../../src/index.js';
import { clipStraightThrough, clipTrue, withOp } from '../helpers/clip-ops.js';

beforeAll(async () => {
  await initBackend('cpu');
});


describe('a surrogate gradient in a user tf.customGrad op', () => {
  it('VI refuses it by name and says how to opt out; with surrogateGradients: true it fits and warns; the true gradient passes silently', async () => {
    await expect(infer(withOp(clipStraightThrough), { method: 'vi', guide: 'normal', steps: 50, samples: 100, seed: 1 })).rejects.toThrow(
      /vi: tf.customGrad op before site "y" \(run on tfjs in float32\): its gradFunc disagrees with central differences.*surrogateGradients: true/,
    );
    const allowed = await infer(withOp(clipStraightThrough), { method: 'vi', guide: 'normal', steps: 50, samples: 100, seed: 1, surrogateGradients: true });
    expect(allowed.warnings.some((w) => /tf.customGrad op before site "y".*surrogate gradient \(surrogateGradients: true\)/.test(w))).toBe(true);
    const honest = await infer(withOp(clipTrue), { method: 'vi', guide: 'normal', steps: 50, samples: 100, seed: 1 });
    expect(honest.diagnostics['compiled']).toBe(true);
    expect(honest.warnings.some((w) => /surrogate/.test(w))).toBe(false);
  }, 60_000);

  it('NUTS runs with it and notes it in compileStats (it cannot bias the answer); the true gradient gets no such note', async () => {
    const noted = await infer(withOp(clipStraightThrough), { method: 'nuts', chains: 1, samples: 50, warmup: 50, seed: 1 });
    const stats = noted.diagnostics['compileStats'] as { notes?: string[]; surrogateGradients?: string[] };
    expect(stats.surrogateGradients?.[0]).toMatch(/tf.customGrad op before site "y".*disagrees/);
    expect(stats.notes?.some((n) => /disagrees.*HMC and NUTS stay exact/.test(n))).toBe(true);
    const honest = await infer(withOp(clipTrue), { method: 'nuts', chains: 1, samples: 50, warmup: 50, seed: 1 });
    expect((honest.diagnostics['compileStats'] as { surrogateGradients?: string[] }).surrogateGradients).toBeUndefined();
  }, 60_000);
});
