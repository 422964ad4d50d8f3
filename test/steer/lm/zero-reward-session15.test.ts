/**
 * Session 15 (STEERUSER): a step reward model's score of 0 rules a solution out. The particle methods
 * already refused a population the reward model scored 0 one and all (session 14); best-of-N and beam
 * search over steps returned one of those solutions as their answer, with nothing to tell it from a win.
 * Now every step method throws the same `ZeroDensityError` naming the reward model, and a population with
 * one solution above 0 still returns that solution. Planted bug: `refuseAllZero` made a no-op (the old
 * behaviour) fails the first three tests.
 */
import { describe, expect, it } from 'vitest';
import { ZeroDensityError } from '../../../src/core/errors.js';
import { type StepRewardModel, beamSearchSteps, bestOfNSteps, particleFilterSteps, selfConsistencySteps } from '../../../src/steer/lm/scaling/index.js';
import { completeScore, lm } from './step-solutions.js';

/** A verifier: partial steps look fine (0.5), every complete solution is wrong (0). */
const rejectsAll: StepRewardModel = { name: 'strict-verifier', score: async (t, o) => t.map(() => (o?.complete ? 0 : 0.5)) };
/** The same verifier, which accepts only the answer '#1' after a single 'a' step. */
const acceptsOne: StepRewardModel = { name: 'one-right', score: async (t, o) => t.map((s) => (o?.complete ? (s === 'a;#1' ? 1 : 0) : 0.5)) };
const answerOf = (s: string) => (s.endsWith('#1') ? 1 : s.endsWith('#2') ? 2 : null);
const refused = /: all \d+ final candidates scored 0 under the reward model "strict-verifier"; a score of 0 rules a solution out/;

async function errorOf(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => null,
    (e: unknown) => e,
  );
}

describe('a reward of 0 on every final candidate is refused by every step method (session 15)', () => {
  it('best-of-N names the reward model (it returned a rejected solution as its answer)', async () => {
    const err = await errorOf(bestOfNSteps(lm, rejectsAll, '', { budget: 8, answerOf, seed: 1 }));
    expect(err).toBeInstanceOf(ZeroDensityError);
    expect((err as Error).message).toMatch(/^best-of-N/);
    expect((err as Error).message).toMatch(refused);
  });

  it('beam search names the reward model, under every final selection', async () => {
    for (const select of ['best', 'reward', 'vote'] as const) {
      const err = await errorOf(beamSearchSteps(lm, rejectsAll, '', { budget: 4, beamWidth: 2, select, answerOf, seed: 1 }));
      expect(err).toBeInstanceOf(ZeroDensityError);
      expect((err as Error).message).toMatch(/^beam search/);
      expect((err as Error).message).toMatch(refused);
    }
  });

  it("the particle filter refuses it too where a clip kept the weights above 0 (replace weights, logit link with eps 1e-7: its_hub's variant)", async () => {
    const err = await errorOf(particleFilterSteps(lm, rejectsAll, '', { particles: 4, weights: 'replace', answerOf, seed: 1 }));
    expect(err).toBeInstanceOf(ZeroDensityError);
    expect((err as Error).message).toMatch(/^step particle filter/);
    expect((err as Error).message).toMatch(refused);
    // with the default ratio weights and log link the core refuses the population first, as in session 14
    await expect(particleFilterSteps(lm, rejectsAll, '', { particles: 4, answerOf, seed: 1 })).rejects.toThrow(/under the reward model "strict-verifier"/);
  });

  it('one candidate above 0 is the answer; other rejected ones stay in the candidates with weight 0', async () => {
    // 32 draws from the seven-solution LM: 'a;#1' (probability 3/12) is among them for this seed
    const bo = await bestOfNSteps(lm, acceptsOne, '', { budget: 32, answerOf, seed: 1 });
    expect(bo.text).toBe('a;#1');
    expect(bo.candidates.some((c) => c.reward === 0 && c.weight === 0)).toBe(true);
    const beam = await beamSearchSteps(lm, acceptsOne, '', { budget: 16, beamWidth: 4, answerOf, seed: 1 });
    expect(beam.text).toBe('a;#1');
  });

  it('methods without a reward model, and rewards in (0, 1), are untouched', async () => {
    const sc = await selfConsistencySteps(lm, '', { budget: 8, answerOf, seed: 1 });
    expect(sc.answer === 1 || sc.answer === 2).toBe(true);
    const soft: StepRewardModel = { name: 'soft', score: async (t, o) => t.map((s) => (o?.complete ? completeScore(s) : 0.5)) };
    const bo = await bestOfNSteps(lm, soft, '', { budget: 8, answerOf, seed: 1 });
    expect(bo.candidates.every((c) => c.reward > 0)).toBe(true);
  });
});
