/**
 * Session 18 (STEERUSER4): `tyche serve` ignored fields it does not read, so a misspelt `temprature: 0` sampled at
 * temperature 1 with a 200 answer, and vLLM fields it does not implement (`min_tokens`, `ignore_eos`) changed nothing
 * without a word. Now an unknown field is a 400 naming it (and the nearest known field). And a request's prompts
 * were unbounded: 20,000 short prompts in one request took 1.6 GB of memory (a 4 MiB body holds ~400,000), all in
 * one batch; now more than `maxPrompts` (default 1024) is a 400. Probed and right: malformed JSON, a non-object
 * body, `max_tokens` 1e999, a client hanging up mid-way through a 20,000-prompt request (server answers after,
 * numTensors flat), a small request beside a huge one (answered while the huge one ran).
 */
import { describe, expect, it } from 'vitest';
import { Rng } from '../../../src/core/rng.js';
import { MarkovLM } from '../../../src/steer/lm/markov.js';
import { completions, serveLanguageModel } from '../../../src/steer/lm/serve.js';
import { TokenVocabulary } from '../../../src/steer/lm/vocab.js';

const lm = MarkovLM.random(TokenVocabulary.characters('ab'), new Rng('serve-s18'), { eos: 0.2 });

describe('tyche serve refuses what it would ignore (session 18)', () => {
  it('a misspelt or unimplemented field is a 400 naming it', async () => {
    await expect(completions(lm, lm.name, { prompt: 'ab', temprature: 0 }, 16)).rejects.toThrow(/^unknown field "temprature" \(did you mean temperature\?\): this server reads model, prompt, max_tokens, temperature/);
    await expect(completions(lm, lm.name, { prompt: 'ab', ignore_eos: true }, 16)).rejects.toMatchObject({ param: 'ignore_eos', status: 400 });
    await expect(completions(lm, lm.name, { prompt: 'ab', min_tokens: 4 }, 16)).rejects.toThrow(/^unknown field "min_tokens"/);
    // what OpenAI clients send, and the fields it reads, still pass
    const ok = (await completions(lm, lm.name, { model: lm.name, prompt: 'ab', max_tokens: 2, temperature: 0, top_p: 1, n: 1, stream: false, user: 'me', logprobs: null, presence_penalty: 0, seed: 3 }, 16)) as { choices: unknown[] };
    expect(ok.choices).toHaveLength(1);
  });

  it('more prompts than maxPrompts is a 400; at the limit it answers', async () => {
    await expect(completions(lm, lm.name, { prompt: Array.from({ length: 5 }, () => 'a'), max_tokens: 1 }, 16, undefined, 4)).rejects.toThrow(/^prompt has 5 prompts, more than this server takes in one request \(4; they are generated in one batch\): split the request$/);
    const ok = (await completions(lm, lm.name, { prompt: Array.from({ length: 4 }, () => 'a'), max_tokens: 1 }, 16, undefined, 4)) as { choices: unknown[] };
    expect(ok.choices).toHaveLength(4);
    await expect(completions(lm, lm.name, { prompt: Array.from({ length: 1025 }, () => 'a'), max_tokens: 0 }, 16)).rejects.toThrow(/more than this server takes in one request \(1024;/);
    await expect(serveLanguageModel(lm, { port: 0, maxPrompts: 0 })).rejects.toThrow(/maxPrompts must be a positive integer, got 0/);
  });
});
