/**
 * Session 13 (lead, STEER's open item): a step reward model whose `score` never settles held a step
 * search for ever, even after an abort (the search read its signal between tokens and at LM
 * requests, not while it waited for the reward model). The wait is now raced against the signal.
 */
import { describe, expect, it } from 'vitest';
import { bestOfNSteps } from '../../../src/steer/lm/scaling/baselines.js';
import { particleFilterSteps } from '../../../src/steer/lm/scaling/pf.js';
import type { StepRewardModel } from '../../../src/steer/lm/scaling/types.js';
import { lm } from './step-solutions.js';
import { within } from './within.js';

describe('a step reward model that never settles: an abort ends the step search', () => {
  type Search = (rm: StepRewardModel, signal?: AbortSignal) => Promise<unknown>;
  const methods: [string, Search][] = [
    ['particleFilterSteps', (rm, signal) => particleFilterSteps(lm, rm, '', { particles: 4, seed: 1, signal })],
    ['bestOfNSteps', (rm, signal) => bestOfNSteps(lm, rm, '', { budget: 4, seed: 1, signal })],
  ];
  it.each(methods)('%s rejects with the abort within 2 s; a run with a working reward model then finishes', async (_name, search) => {
    let calls = 0;
    const hanging: StepRewardModel = { name: 'hanging', score: () => (calls++, new Promise<number[]>(() => undefined)) };
    const ac = new AbortController();
    const pending = search(hanging, ac.signal);
    for (let i = 0; i < 2000 && calls === 0; i++) await new Promise((r) => setTimeout(r, 1));
    expect(calls).toBeGreaterThan(0); // the search is waiting on the reward model
    ac.abort();
    expect(await within(2000, pending)).toBe('AbortError');
    const flat: StepRewardModel = { name: 'flat', score: async (t) => t.map(() => 0.5) };
    expect(await within(5000, search(flat))).toBe('finished');
  }, 20_000);
});
