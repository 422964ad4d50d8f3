/**
 * Session 14 (STEERUSER): token steering with a prompt on a transformer whose context is finite.
 *
 * Before session 14 the default `maxTokens` (32) ignored the prompt: `smcSteer` on kjv-char (context
 * 128) with a 110-token prompt ran until the particles reached 128 − 1 tokens and then failed with
 * `ContextLengthError: prefix of 128 tokens (plus BOS) is longer than the context length 128`, after the
 * work; an explicit `maxTokens: 40` did the same. Now the default shrinks to the room the prompt leaves
 * (17 here), and an explicit `maxTokens` that cannot fit is a RangeError before any LM call, in the same
 * words from every token-steering entry point, and `tyche steer` says which `--max-tokens` fits (it printed
 * the RangeError's stack). Planted bug: the old constructor (default 32, no check); the old CLI.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src/backend/index.js';
import { AutomatonPotential } from '../../../src/steer/lm/potentials/automaton.js';
import { DirectSampler } from '../../../src/steer/lm/samplers/direct.js';
import { LocallyOptimalSampler } from '../../../src/steer/lm/samplers/locally-optimal.js';
import { bestOfN, locallyConstrainedDecode } from '../../../src/steer/lm/smc/baselines.js';
import { smcSteerK } from '../../../src/steer/lm/smc/smc-steer.js';
import { conditionalSteer, smcSteer } from '../../../src/steer/lm/smc/steer.js';
import { loadTransformerLM } from '../../../src/steer/lm/transformer/files.js';
import type { LanguageModel } from '../../../src/steer/lm/types.js';
import { UsageError } from '../../../src/cli/args.js';
import { steerMain } from '../../../src/cli/steer.js';

await initBackend();
const inner = loadTransformerLM('kjv-char');
afterAll(() => inner.dispose());
let calls = 0;
/** kjv-char, counting the rows it is asked for (not incremental: every call goes through nextTokenLogprobs). */
const lm: LanguageModel = {
  name: inner.name,
  vocab: inner.vocab,
  contextLength: inner.contextLength,
  nextTokenLogprobs: (prefixes) => {
    calls += prefixes.length;
    return inner.nextTokenLogprobs(prefixes);
  },
};
const prompt = inner.vocab.encode('And God said '.repeat(9).slice(0, 110));
const room = lm.contextLength - 1 - prompt.length; // 17: kjv-char has a BOS token
const noE = () => new AutomatonPotential(lm.vocab, '[^e]*');

describe('token steering fits prompt + maxTokens into the context (session 14)', () => {
  it('the default maxTokens shrinks to the room the prompt leaves (it failed part-way before)', async () => {
    expect(room).toBe(17);
    const res = await smcSteer({ lm, potential: noE(), sampler: new LocallyOptimalSampler(), particles: 4, prompt, seed: 1 });
    expect(Number.isFinite(res.logZ)).toBe(true);
    for (const p of res.particles) expect(p.tokens.length).toBeLessThanOrEqual(room);
  }, 60_000);

  it('an explicit maxTokens that does not fit is one RangeError, before any LM call, from every entry point', async () => {
    const common = { lm, potential: noE(), particles: 3, prompt, maxTokens: room + 1, seed: 1 };
    const message = /^steering: the prompt \(110 tokens, plus BOS\) and maxTokens = 18 do not fit the context of "kjv-char" \(128 tokens\): at most maxTokens = 17 fits$/;
    const runs: [string, () => Promise<unknown>][] = [
      ['smcSteer', () => smcSteer({ ...common, sampler: new DirectSampler() })],
      ['smcSteerK', () => smcSteerK({ ...common, sampler: new DirectSampler(), k: 2 })],
      ['conditionalSteer', () => conditionalSteer({ ...common, sampler: new DirectSampler(), reference: inner.vocab.encode(' and') })],
      ['bestOfN', () => bestOfN(common)],
      ['locallyConstrainedDecode', () => locallyConstrainedDecode(common)],
    ];
    for (const [name, run] of runs) {
      calls = 0;
      await expect(run(), name).rejects.toThrow(message);
      expect(calls, name).toBe(0);
    }
    const ok = await smcSteer({ ...common, maxTokens: room, sampler: new DirectSampler() }); // exactly the room fits
    expect(ok.particles.length).toBe(3);
  }, 60_000);

  it('tyche steer: a --prompt that leaves too little room for --max-tokens (default 40) is a usage error saying what fits', async () => {
    const io = { stdout: { write: () => true }, stderr: { write: () => true } };
    const prompt117 = 'And God said '.repeat(9);
    const err = await steerMain(['--no-letter', 'e', '--prompt', prompt117, '--particles', '2'], io).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toBe('steer: --prompt (117 tokens) and --max-tokens 40 do not fit the context of kjv-char (128 tokens, BOS included): pass --max-tokens 10 or less');
  }, 60_000);

  it('a prompt longer than the context alone says so', async () => {
    const long = inner.vocab.encode('a'.repeat(lm.contextLength));
    await expect(smcSteer({ lm, sampler: new DirectSampler(), particles: 2, prompt: long, seed: 1 })).rejects.toThrow(/the prompt \(128 tokens, plus BOS\) and maxTokens = 32 do not fit .*: the prompt alone is too long/);
  });
});
