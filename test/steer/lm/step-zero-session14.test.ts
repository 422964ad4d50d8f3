/**
 * Session 14 (STEERUSER): a step reward model that scores everything 0 kills every particle of the step
 * particle filter and of particle Gibbs; the error now names the reward model and the link, as token
 * steering names its potential (before: only "SMC step 2: every particle has zero weight (all log
 * potentials are -Infinity)", with nothing saying which function did it). Planted bug: the old runner
 * (no wrapping of the core's error) fails the message check.
 */
import { describe, expect, it } from 'vitest';
import { ZeroDensityError } from '../../../src/core/errors.js';
import { type StepRewardModel, particleFilterSteps, particleGibbsSteps } from '../../../src/steer/lm/scaling/index.js';
import { lm } from './step-solutions.js';

const zero: StepRewardModel = { name: 'zero-prm', score: async (t) => t.map(() => 0) };

describe('a reward model that rules out everything is named (session 14)', () => {
  it('particleFilterSteps and particleGibbsSteps name the reward model and the link', async () => {
    for (const run of [() => particleFilterSteps(lm, zero, '', { particles: 4, seed: 1 }), () => particleGibbsSteps(lm, zero, '', { particles: 3, iterations: 2, seed: 1 })]) {
      const err = await run().then(() => null, (e: unknown) => e);
      expect(err).toBeInstanceOf(ZeroDensityError);
      expect((err as Error).message).toMatch(/^step particle filter: every particle has weight zero under the reward model "zero-prm" \(SMC step \d+: every particle has zero weight .*\); a complete solution's score of 0 is weight zero under the log link, so no answer is returned$/);
    }
  });

  it('under the logit link the message gives eps', async () => {
    await expect(particleFilterSteps(lm, zero, '', { particles: 2, seed: 1, link: 'logit', eps: 0 })).rejects.toThrow(/under the logit link with eps = 0/);
  });
});
