/**
 * Session 16 (STEERUSER2): token steering given an AbortSignal added one abort listener per waiting LM call,
 * one per particle (35 at once for 32 particles), and Node printed "MaxListenersExceededWarning: Possible
 * EventTarget memory leak detected. 11 abort listeners added to [AbortSignal]" on every such run. The listeners
 * were removed as the calls settled (no leak), but a warning that names a leak is what a user reads. The wrapper
 * now keeps one listener per signal for all its waiting callers. Fails on the old wrapper (35 listeners at once).
 */
import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { Rng } from '../../../src/core/rng.js';
import { wrapLanguageModel } from '../../../src/steer/lm/cached.js';
import { MarkovLM } from '../../../src/steer/lm/markov.js';
import { AutomatonPotential } from '../../../src/steer/lm/potentials/automaton.js';
import { DirectSampler } from '../../../src/steer/lm/samplers/direct.js';
import { smcSteer } from '../../../src/steer/lm/smc/steer.js';
import { TokenVocabulary } from '../../../src/steer/lm/vocab.js';

const abc = TokenVocabulary.characters('abc');
const markov = MarkovLM.random(abc, new Rng('listeners16'), { eos: 0.1 });

/** A signal that records the most abort listeners it held at once. */
function watched(): { ac: AbortController; most: () => number } {
  const ac = new AbortController();
  let most = 0;
  const add = ac.signal.addEventListener.bind(ac.signal);
  ac.signal.addEventListener = ((...a: Parameters<AbortSignal['addEventListener']>) => {
    add(...a);
    most = Math.max(most, getEventListeners(ac.signal, 'abort').length);
  }) as AbortSignal['addEventListener'];
  return { ac, most: () => most };
}

describe('one abort listener per signal, not per particle (session 16)', () => {
  it('32 particles: a few listeners at once, none left after the run, no MaxListenersExceededWarning', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on('warning', onWarning);
    try {
      const { ac, most } = watched();
      const lm = wrapLanguageModel(markov);
      const res = await smcSteer({ lm, potential: new AutomatonPotential(abc, '[ab]*'), sampler: new DirectSampler(), particles: 32, maxTokens: 12, seed: 1, signal: ac.signal });
      expect(res.particles).toHaveLength(32);
      expect(most()).toBeLessThanOrEqual(8);
      expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
      await new Promise((r) => setImmediate(r));
      expect(warnings).not.toContain('MaxListenersExceededWarning');
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('an abort still reaches every waiting call at once, with the signal reason, and leaves no listener', async () => {
    const { ac } = watched();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    // an LM whose forward pass waits on a gate: every particle's call is waiting when the abort comes
    const slow = wrapLanguageModel({ name: 'gated', vocab: abc, contextLength: 64, nextTokenLogprobs: async (p) => (await gate, markov.nextTokenLogprobs(p)) });
    const run = smcSteer({ lm: slow, potential: new AutomatonPotential(abc, '[ab]*'), sampler: new DirectSampler(), particles: 16, maxTokens: 6, seed: 1, signal: ac.signal });
    await new Promise((r) => setTimeout(r, 20));
    const reason = new Error('stop here');
    ac.abort(reason);
    await expect(run).rejects.toBe(reason);
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
    release();
    // the wrapper is free for a later run on the same signal-less path
    const again = await smcSteer({ lm: slow, potential: new AutomatonPotential(abc, '[ab]*'), sampler: new DirectSampler(), particles: 4, maxTokens: 6, seed: 2 });
    expect(again.particles).toHaveLength(4);
  });
});
