/**
 * Session 17 (STEERUSER3): `particleFilterSteps(..., { weights: 'replace', essThreshold: 0.5 })` ran with the
 * threshold silently set to 1 (its_hub's variant replaces the weights, so it must resample at every step): a user
 * asking for ESS-adaptive resampling got another algorithm without a word. An explicit threshold other than 1 is now
 * a RangeError naming both options; leaving it out (or 1) runs as before. Fails on the old code (the run resolved).
 */
import { describe, expect, it } from 'vitest';
import { particleFilterSteps } from '../../../src/steer/lm/scaling/pf.js';
import type { StepRewardModel } from '../../../src/steer/lm/scaling/types.js';
import { completeScore, lm } from './step-solutions.js';

const prm: StepRewardModel = { name: 'exact', score: async (ts, o) => ts.map((t) => (o?.complete ? completeScore(t) : 0.5)) };

describe("replace weights and an adaptive threshold (session 17)", () => {
  it('refuses essThreshold other than 1 with weights: replace, and runs without it', async () => {
    await expect(particleFilterSteps(lm, prm, '', { particles: 4, weights: 'replace', essThreshold: 0.5, seed: 1 })).rejects.toThrow(
      /essThreshold 0.5 has no meaning with weights: 'replace'.*use weights: 'ratio' for ESS-adaptive resampling/,
    );
    const a = await particleFilterSteps(lm, prm, '', { particles: 4, weights: 'replace', seed: 1 });
    const b = await particleFilterSteps(lm, prm, '', { particles: 4, weights: 'replace', essThreshold: 1, seed: 1 });
    expect(b.candidates).toEqual(a.candidates);
    expect(a.logZ).toBeNull();
  });
});
