/**
 * Session 15 (STEERUSER): `tyche serve` named an out-of-range number that JSON reads as Infinity (`1e999`) as
 * "got null" (JSON.stringify of Infinity), so the client saw a value it never sent. Now the number is written as it
 * was read. Bad JSON, a non-object body and concurrent good and bad requests were probed and found right (the
 * seeded answers of three requests mixed with two refused ones equal their solo answers).
 */
import { describe, expect, it } from 'vitest';
import { completions } from '../../../src/steer/lm/serve.js';
import { MarkovLM } from '../../../src/steer/lm/markov.js';
import { Rng } from '../../../src/core/rng.js';
import { TokenVocabulary } from '../../../src/steer/lm/vocab.js';

const lm = MarkovLM.random(TokenVocabulary.characters('ab'), new Rng('serve-s15'), { eos: 0.2 });

describe('tyche serve names the number a client sent (session 15)', () => {
  it('temperature 1e999 (Infinity once parsed) is named as Infinity, not null', async () => {
    const body = JSON.parse('{"prompt": "ab", "temperature": 1e999, "max_tokens": 2}') as Record<string, unknown>;
    await expect(completions(lm, lm.name, body, 16)).rejects.toThrow(/^temperature must be a number >= 0, got Infinity$/);
    await expect(completions(lm, lm.name, { prompt: 'ab', top_p: -Infinity }, 16)).rejects.toThrow(/^top_p must be a number in \(0, 1\], got -Infinity$/);
    await expect(completions(lm, lm.name, { prompt: 'ab', max_tokens: '4' }, 16)).rejects.toThrow(/^max_tokens must be an integer in 0..16, got "4"$/);
  });
});
