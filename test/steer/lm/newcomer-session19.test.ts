/**
 * Session 19 (STEER5), the steering half as a newcomer. A process reward model used as a potential whose scorer
 * returns something other than a probability (a logit, a log-probability, NaN, a string from a JSON API) gave
 * "potential "prm": prefix(...) returned NaN": the link turned the value into NaN and the message named neither the
 * scorer nor the value, and a string "0.5" was taken by JavaScript's coercion. The scorer's value is now checked as
 * the step searches check theirs: an error naming the value, the text and what a score must be.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { wrapLanguageModel } from '../../../src/steer/lm/cached.js';
import { ProcessRewardPotential } from '../../../src/steer/lm/potentials/reward.js';
import { DirectSampler } from '../../../src/steer/lm/samplers/direct.js';
import { smcSteer } from '../../../src/steer/lm/smc/steer.js';
import { loadTransformerLM } from '../../../src/steer/lm/transformer/files.js';

const lm = wrapLanguageModel(loadTransformerLM('arith-char'));
afterAll(() => lm.dispose());
const PROMPT = 'Q: 3+4*2-7 A:';

function steerWith(value: unknown) {
  const potential = new ProcessRewardPotential(lm.vocab, { score: async (t) => t.map(() => value as number), context: PROMPT }, 'my-prm');
  return smcSteer({ lm, potential, sampler: new DirectSampler(), particles: 4, maxTokens: 14, seed: 5, prompt: lm.vocab.encode!(PROMPT) });
}

describe('a PRM potential whose scorer returns something other than a probability', () => {
  it.each([
    ['a logit', 1.7, /the scorer returned 1\.7 for the text "Q: 3\+4\*2-7 A: 4\*2=8;"/],
    ['a log-probability', -0.2, /the scorer returned -0\.2 for the text/],
    ['NaN', NaN, /the scorer returned NaN for the text/],
    ['a string', '0.5', /the scorer returned string "0\.5" for the text/],
  ])('%s is an error naming the potential, the value and what a score must be', async (_what, value, message) => {
    const run = steerWith(value);
    await expect(run).rejects.toThrow(/potential "my-prm"/);
    await expect(steerWith(value)).rejects.toThrow(message);
    await expect(steerWith(value)).rejects.toThrow(/a number in \[0, 1\]/);
  });

  it('probabilities at the ends of [0, 1] are scores (0 rules the text out)', async () => {
    const r = await steerWith(1);
    expect(Number.isFinite(r.logZ)).toBe(true);
    await expect(steerWith(0)).rejects.toThrow(/weight zero/);
  });
});
