/**
 * Session 15 (STEERUSER): bad input to the step-level methods (particle filter, particle Gibbs, best-of-N, beam
 * search, self-consistency), found by trying them as a newcomer. Before: a prompt that was not a string ran (a
 * number became the text "3" the reward read); `maxTokens: 0` was refused as "the prompt (0 tokens) leaves no
 * room in the context ... (Infinity)"; an explicit maxTokens larger than the context left was clamped without a
 * word (moving where solutions are cut, so the target), where token steering refuses it; an `answerOf` that threw
 * surfaced as its bare message, and one that returned undefined (a forgotten `return`) voted for "undefined".
 * Each test fails on the old code.
 */
import { describe, expect, it } from 'vitest';
import type { LanguageModel } from '../../../src/steer/lm/types.js';
import { type StepRewardModel, beamSearchSteps, bestOfNSteps, particleFilterSteps, selfConsistencySteps } from '../../../src/steer/lm/scaling/index.js';
import { completeScore, lm } from './step-solutions.js';

const prm: StepRewardModel = { name: 'soft', score: async (t, o) => t.map((s) => (o?.complete ? completeScore(s) : 0.5)) };
const answerOf = (s: string) => (s.endsWith('#1') ? 1 : s.endsWith('#2') ? 2 : null);
/** The seven-solution LM with a context of 5 tokens. */
const small = Object.assign(Object.create(lm) as LanguageModel, { contextLength: 5 });

describe('step methods refuse bad input by name (session 15)', () => {
  it('a prompt that is not a string is a TypeError', async () => {
    await expect(particleFilterSteps(lm, prm, 3 as never, { particles: 2, answerOf, seed: 1 })).rejects.toThrow(/^step search: prompt must be a string \(the text the solution follows\), got 3$/);
    await expect(bestOfNSteps(lm, prm, [1, 2] as never, { budget: 2, seed: 1 })).rejects.toThrow(TypeError);
  });

  it('maxTokens 0 names the option; an explicit maxTokens past the context is refused, not clamped', async () => {
    await expect(bestOfNSteps(lm, prm, '', { budget: 2, maxTokens: 0, seed: 1 })).rejects.toThrow(/^bestOfNSteps: maxTokens must be a positive integer, got 0$/);
    await expect(particleFilterSteps(small, prm, 'a;', { particles: 2, maxTokens: 4, seed: 1 })).rejects.toThrow(/^step search: the prompt \(2 tokens\) and maxTokens = 4 do not fit the context of "weighted-set" \(5 tokens\): at most maxTokens = 3 fits$/);
    await expect(beamSearchSteps(small, prm, 'abab;', { budget: 2, seed: 1 })).rejects.toThrow(/the prompt \(5 tokens\) does not fit the context .*: the prompt leaves no room$/);
    // what fits runs, and the default is the room left
    const res = await particleFilterSteps(small, prm, 'a;', { particles: 2, maxTokens: 3, answerOf, seed: 1 });
    expect(res.candidates).toHaveLength(2);
  });

  it('answerOf: a throw is named with the solution; an answer that is not a string, finite number or null is refused', async () => {
    await expect(bestOfNSteps(lm, prm, '', { budget: 2, seed: 1, answerOf: () => { throw new Error('no #'); } })).rejects.toThrow(/^step search: answerOf threw on the solution ".*": no #$/);
    const forgot = ((s: string) => { void s; }) as unknown as (s: string) => null;
    await expect(selfConsistencySteps(lm, '', { budget: 2, seed: 1, answerOf: forgot })).rejects.toThrow(/^step search: answerOf returned undefined for the solution ".*"; an answer must be a string, a finite number or null$/);
    await expect(selfConsistencySteps(lm, '', { budget: 2, seed: 1, answerOf: () => NaN })).rejects.toThrow(/answerOf returned NaN/);
  });
});
