/**
 * Session 18 (STEERUSER4): a step search cut off by `maxSteps` before any solution finished returned
 * `answer: null` and nothing else (session 15's open item): a newcomer could not tell "the model found no answer"
 * from "the search stopped too early". Every step method's result now has `warnings`, naming the limit and its value
 * (and how many candidates each limit cut) when no candidate finished, or when the chosen one was cut while others
 * finished; each unfinished candidate says which limit cut it (`cutBy`). Planted: the result without warnings.
 */
import { describe, expect, it } from 'vitest';
import { type ScalingResult, type StepRewardModel, beamSearchSteps, bestOfNSteps, particleFilterSteps, particleGibbsSteps, selfConsistencySteps } from '../../../src/steer/lm/scaling/index.js';
import { completeScore, lm } from './step-solutions.js';

const prm: StepRewardModel = { name: 'exact', score: async (texts, o) => texts.map((t) => (o?.complete ? completeScore(t) : 0.6)) };
const answerOf = (s: string): string | null => /#(\d)$/.exec(s)?.[1] ?? null;

const methods: [string, (o: { maxSteps?: number; maxTokens?: number }) => Promise<ScalingResult>][] = [
  ['step particle filter', (o) => particleFilterSteps(lm, prm, '', { particles: 6, seed: 1, answerOf, ...o })],
  ['step particle filter', (o) => particleGibbsSteps(lm, prm, '', { particles: 3, iterations: 2, seed: 1, answerOf, ...o })],
  ['best-of-N', (o) => bestOfNSteps(lm, prm, '', { budget: 6, seed: 1, answerOf, ...o })],
  ['self-consistency', (o) => selfConsistencySteps(lm, '', { budget: 6, seed: 1, answerOf, ...o })],
  ['beam search', (o) => beamSearchSteps(lm, prm, '', { budget: 6, beamWidth: 2, seed: 1, answerOf, ...o })],
];

describe('a step search cut off before any solution finished says so', () => {
  it.each(methods.map((m, i) => [i, ...m] as const))('method %i (%s): maxSteps = 1 warns, naming maxSteps; no cut, no warning', async (_i, who, run) => {
    const cut = await run({ maxSteps: 1 });
    expect(cut.answer).toBeNull();
    expect(cut.candidates.every((c) => !c.finished && c.cutBy === 'maxSteps')).toBe(true);
    const n = cut.candidates.length;
    expect(cut.warnings).toEqual([`${who}: no solution finished: all ${n} candidates were cut before EOS (${n} by maxSteps = 1), so there is no answer; raise maxSteps (maxSteps = 1)`]);
    const whole = await run({});
    expect(whole.candidates.every((c) => c.finished && c.cutBy === undefined)).toBe(true);
    expect(whole.warnings).toEqual([]);
    expect(whole.answer).not.toBeNull();
  });

  it('names maxTokens when that is the limit that cut them', async () => {
    const res = await bestOfNSteps(lm, prm, '', { budget: 4, seed: 2, answerOf, maxTokens: 1 });
    expect(res.candidates.every((c) => c.cutBy === 'maxTokens')).toBe(true);
    expect(res.warnings).toEqual(['best-of-N: no solution finished: all 4 candidates were cut before EOS (4 by maxTokens = 1), so there is no answer; raise maxTokens (maxTokens = 1)']);
  });

  it('warns when the chosen candidate was cut while others finished', async () => {
    // best-of-N picks the highest complete score; cut candidates keep their last (partial) score 0.6, above every
    // finished one's (at most 0.9 for '#1' but 0.45 or less after a 'b' step, 0.2 for '#2')
    const high: StepRewardModel = { name: 'partial-high', score: async (texts, o) => texts.map((t) => (o?.complete ? completeScore(t) * 0.5 : 0.95)) };
    for (let seed = 0; seed < 20; seed++) {
      const res = await bestOfNSteps(lm, high, '', { budget: 6, seed, answerOf, maxSteps: 2 });
      const chosen = res.candidates.find((c) => c.text === res.text)!;
      if (chosen.finished || res.candidates.every((c) => !c.finished)) continue;
      expect(res.warnings).toHaveLength(1);
      expect(res.warnings[0]).toMatch(/^best-of-N: the chosen candidate was cut by maxSteps = 2 before EOS while \d+ of 6 finished, so there is no answer$/);
      return;
    }
    throw new Error('no seed gave a cut winner beside finished candidates');
  });
});
