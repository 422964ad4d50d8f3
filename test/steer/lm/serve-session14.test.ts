/**
 * Session 14 (STEERUSER): `generate` and `tyche serve` with prompts of different lengths in one batch,
 * and empty stop strings.
 *
 * Before session 14 `generate` capped every sequence of a batch at the room the *longest* prompt left
 * in the context, so in one `/v1/completions` request `["In the beginning", <125 characters>]` with
 * `max_tokens: 16` gave the short prompt 2 tokens and `finish_reason: "length"`, silently. Now each
 * sequence has its own budget, and the server (as vLLM) refuses a prompt whose tokens and
 * `max_tokens` do not fit the context together. An empty stop string ended every completion at once
 * with empty text; now it is refused. `top_p` was ignored (nucleus sampling silently off), and so were
 * presence/frequency/repetition penalties, min_p, logit_bias, best_of and suffix: top_p is now applied,
 * the others are refused unless neutral (the values OpenAI clients send by default). A seeded prompt's
 * completion depended on the prompts beside it in the request (one stream drew for the batch); each prompt
 * now has its own stream from the seed.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src/backend/index.js';
import { generate } from '../../../src/steer/lm/generate.js';
import { completions } from '../../../src/steer/lm/serve.js';
import { loadTransformerLM } from '../../../src/steer/lm/transformer/files.js';

await initBackend();
const lm = loadTransformerLM('kjv-char');
afterAll(() => lm.dispose());
const short = lm.vocab.encode('In the beginning');
const longText = 'And God said '.repeat(10).slice(0, lm.contextLength - 3); // leaves room for 2 tokens (BOS counted)
const long = lm.vocab.encode(longText);

describe('generate: each sequence has its own budget (session 14)', () => {
  it('a long prompt beside a short one does not cut the short one short', async () => {
    const alone = await generate(lm, [short], { maxTokens: 16, temperature: 0 });
    const both = await generate(lm, [short, long], { maxTokens: 16, temperature: 0 });
    expect(alone[0]!.tokens.length).toBe(16); // greedy kjv-char runs on ("the the the ..."): the budget binds
    expect(both[0]!.text).toBe(alone[0]!.text); // was 2 tokens: the long prompt's room
    expect(both[0]!.finish).toBe('length');
    expect(both[1]!.tokens.length).toBeLessThanOrEqual(lm.contextLength - 1 - long.length);
    expect(both[1]!.finish).not.toBe('stop');
  });

  it('a prompt that fills the context gets nothing and finish "length"; the others run', async () => {
    const full = lm.vocab.encode('a'.repeat(lm.contextLength - 1));
    const out = await generate(lm, [full, short], { maxTokens: 5, temperature: 0 });
    expect(out[0]!.tokens).toEqual([]);
    expect(out[0]!.finish).toBe('length');
    expect(out[1]!.tokens.length).toBe(5);
  });

  it('an empty stop string is an error, not an empty completion', async () => {
    await expect(generate(lm, [short], { maxTokens: 4, stop: [''] })).rejects.toThrow(/stop string must be a non-empty string/);
  });
});

describe('tyche serve: prompts and max_tokens against the context (session 14)', () => {
  const ask = (body: Record<string, unknown>) => completions(lm, lm.name, body, lm.contextLength);

  it('answers a short prompt in full beside a long one that fits', async () => {
    const res = (await ask({ prompt: ['In the beginning', longText.slice(0, 100)], max_tokens: 16, temperature: 0 })) as { choices: { text: string; finish_reason: string }[] };
    const alone = (await ask({ prompt: 'In the beginning', max_tokens: 16, temperature: 0 })) as { choices: { text: string }[] };
    expect(res.choices[0]!.text).toBe(alone.choices[0]!.text);
    expect(res.choices[0]!.text.length).toBe(16);
  });

  it('refuses a prompt whose tokens and max_tokens exceed the context, naming the prompt, both counts and the context', async () => {
    await expect(ask({ prompt: ['In the beginning', longText], max_tokens: 16 })).rejects.toMatchObject({
      status: 400,
      param: 'max_tokens',
      message: expect.stringMatching(/prompt 1 has 125 tokens \(and a BOS token\) and max_tokens is 16: together more than the model's context of 128/),
    });
  });

  it('applies top_p (it was ignored): a nucleus of one token is greedy decoding', async () => {
    const greedy = (await ask({ prompt: 'In the beginning', max_tokens: 16, temperature: 0 })) as { choices: { text: string }[] };
    const nucleus = (await ask({ prompt: 'In the beginning', max_tokens: 16, temperature: 1, top_p: 1e-6, seed: 3 })) as { choices: { text: string }[] };
    const sampled = (await ask({ prompt: 'In the beginning', max_tokens: 16, temperature: 1, seed: 3 })) as { choices: { text: string }[] };
    expect(nucleus.choices[0]!.text).toBe(greedy.choices[0]!.text);
    expect(sampled.choices[0]!.text).not.toBe(greedy.choices[0]!.text); // so the check above can fail
    await expect(ask({ prompt: 'a', top_p: 0 })).rejects.toMatchObject({ status: 400, param: 'top_p' });
  });

  it('refuses sampling parameters it does not implement unless they are neutral', async () => {
    await expect(ask({ prompt: 'a', max_tokens: 2, presence_penalty: 0, frequency_penalty: 0, logit_bias: {}, best_of: 1 })).resolves.toBeTruthy();
    for (const [k, v] of [['presence_penalty', 0.5], ['frequency_penalty', -1], ['repetition_penalty', 1.2], ['min_p', 0.1], ['best_of', 3], ['logit_bias', { '5': 10 }], ['suffix', 'x']] as const) {
      await expect(ask({ prompt: 'a', [k]: v }), k).rejects.toMatchObject({ status: 400, param: k, message: expect.stringMatching(new RegExp(`^${k} is not supported by this server`)) });
    }
  });

  it("a seeded prompt's completion does not depend on the prompts beside it (each prompt is sampled with the seed, as vLLM)", async () => {
    type R = { choices: { text: string }[] };
    const alone = (await ask({ prompt: 'In the beginning', max_tokens: 16, seed: 5 })) as R;
    const after = (await ask({ prompt: ['And the LORD', 'In the beginning'], max_tokens: 16, seed: 5 })) as R;
    const twins = (await ask({ prompt: ['In the beginning', 'In the beginning'], max_tokens: 16, seed: 5 })) as R;
    expect(after.choices[1]!.text).toBe(alone.choices[0]!.text); // was " LORbacsing." against " cray it wuck! t"
    expect(twins.choices.map((c) => c.text)).toEqual([alone.choices[0]!.text, alone.choices[0]!.text]);
    await expect(generate(lm, [short, short], { maxTokens: 2, rng: [1] })).rejects.toThrow(/rng has 1 streams for 2 prompts/);
  });

  it('refuses an empty stop string', async () => {
    await expect(ask({ prompt: 'In the', stop: ['.', ''] })).rejects.toMatchObject({ status: 400, param: 'stop' });
  });
});
