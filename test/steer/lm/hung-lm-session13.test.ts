/**
 * STEER (session 13): a language model whose forward pass never settles.
 * Before this session an abort released only the waiting run: the wrapper's
 * batcher (passes never overlap) stayed busy with the hung pass, so every
 * later run on the same wrapped model waited for ever.
 */
import { describe, expect, it } from 'vitest';
import { Rng } from '../../../src/core/rng.js';
import { type CachedLanguageModel, wrapLanguageModel } from '../../../src/steer/lm/cached.js';
import { MarkovLM } from '../../../src/steer/lm/markov.js';
import { RewardPotential } from '../../../src/steer/lm/potentials/reward.js';
import { DirectSampler } from '../../../src/steer/lm/samplers/direct.js';
import { LocallyOptimalSampler } from '../../../src/steer/lm/samplers/locally-optimal.js';
import { bestOfN } from '../../../src/steer/lm/smc/baselines.js';
import { smcSteerK } from '../../../src/steer/lm/smc/smc-steer.js';
import { smcSteer } from '../../../src/steer/lm/smc/steer.js';
import { particleFilterSteps } from '../../../src/steer/lm/scaling/pf.js';
import type { StepRewardModel } from '../../../src/steer/lm/scaling/types.js';
import type { ExtendRequest, IncrementalLanguageModel, KVCache, LanguageModel } from '../../../src/steer/lm/types.js';
import { TokenVocabulary } from '../../../src/steer/lm/vocab.js';
import { within } from './within.js';

const abc = TokenVocabulary.characters('abc');
const markov = MarkovLM.random(abc, new Rng('steer13-hung'), { eos: 0.25 });

/** `markov`, except that while `hang` is set its forward passes never settle; counts the passes it left hanging. */
function hangable(): LanguageModel & { hang: boolean; hung: number; release(): void } {
  const waiting: (() => void)[] = [];
  return {
    name: 'hangable',
    vocab: abc,
    contextLength: Infinity,
    hang: true,
    hung: 0,
    nextTokenLogprobs(prefixes) {
      if (!this.hang) return markov.nextTokenLogprobs(prefixes);
      this.hung++;
      return new Promise((resolve) => waiting.push(() => void markov.nextTokenLogprobs(prefixes).then(resolve)));
    },
    release() {
      for (const w of waiting.splice(0)) w();
    },
  };
}

const base = { sampler: new DirectSampler(), particles: 8, maxTokens: 4, seed: 1 };

/** Resolves once `model` has a pass hanging (10 s at most). */
async function untilHung(model: { hung: number }): Promise<void> {
  for (let i = 0; i < 10_000 && model.hung === 0; i++) await new Promise((r) => setTimeout(r, 1));
  expect(model.hung).toBeGreaterThan(0);
}

describe('a forward pass that never settles does not hold the wrapped model after an abort (was: every later run on it hung)', () => {
  const runs: [string, (lm: CachedLanguageModel, signal?: AbortSignal) => Promise<{ logZ: number }>][] = [
    ['smcSteer', (lm, signal) => smcSteer({ ...base, lm, signal })],
    ['smcSteer, locally optimal', (lm, signal) => smcSteer({ ...base, lm, sampler: new LocallyOptimalSampler(), signal })],
    ['smcSteerK', (lm, signal) => smcSteerK({ ...base, k: 2, lm, signal })],
    ['bestOfN', (lm, signal) => bestOfN({ lm, particles: 4, maxTokens: 3, seed: 1, potential: new RewardPotential(abc, () => 0), signal })],
  ];
  for (const [name, run] of runs) {
    it(`${name}: the aborted run rejects, and the next run on the same wrapper gives the answer of a fresh wrapper`, async () => {
      const inner = hangable();
      const lm = wrapLanguageModel(inner);
      const ac = new AbortController();
      const pending = run(lm, ac.signal);
      await untilHung(inner); // abort once a pass hangs (a fixed delay raced the first pass under load)
      ac.abort();
      expect(await within(2000, pending)).toBe('AbortError');
      inner.hang = false; // the model works again; its hung pass still has not settled
      let next: { logZ: number } | undefined;
      expect(await within(2000, run(lm).then((r) => (next = r)))).toBe('finished');
      const fresh = await run(wrapLanguageModel(markov));
      expect(next!.logZ).toBe(fresh.logZ);
      // the hung pass settles late: its rows are not cached, and nothing breaks
      inner.release();
      await new Promise((r) => setTimeout(r, 10));
      expect((await run(lm)).logZ).toBe(fresh.logZ);
    }, 20_000);
  }
});

/** `markov` as an incremental model with counted KV caches, whose passes hang while `hang` is set. */
function hangableIncremental(): IncrementalLanguageModel & { hang: boolean; hung: number; live: number; release(): void } {
  const waiting: (() => void)[] = [];
  const model = {
    name: 'hangable-incremental',
    vocab: abc,
    contextLength: Infinity,
    hang: true,
    hung: 0,
    live: 0,
    nextTokenLogprobs: (prefixes: readonly (readonly number[])[]) => markov.nextTokenLogprobs(prefixes),
    async answer(requests: readonly ExtendRequest[]) {
      const contexts = requests.map((r) => [...((r.cache as (KVCache & { tokens?: number[] }) | null)?.tokens ?? []), ...r.tokens]);
      const rows = await markov.nextTokenLogprobs(contexts);
      return contexts.map((tokens, i) => {
        model.live++;
        let disposed = false;
        const cache = { length: tokens.length, tokens, dispose: () => void (disposed || ((disposed = true), model.live--)) };
        return { cache, logprobs: rows[i]! };
      });
    },
    calls: 0,
    extend(requests: readonly ExtendRequest[]) {
      // the first pass (the empty prefix, the trie's root) answers: the hung pass is a deeper one, whose nodes are pruned when abandoned
      if (!model.hang || model.calls++ === 0) return model.answer(requests);
      model.hung++;
      return new Promise<Awaited<ReturnType<typeof model.answer>>>((resolve) => waiting.push(() => void model.answer(requests).then(resolve)));
    },
    release() {
      for (const w of waiting.splice(0)) w();
    },
  };
  return model;
}

describe('an abandoned pass of an incremental model: its KV caches are disposed when it settles late, none kept', () => {
  it('smcSteer: after abort, release and a second run, the live caches are exactly the ones the trie holds', async () => {
    const inner = hangableIncremental();
    const lm = wrapLanguageModel(inner);
    const ac = new AbortController();
    const pending = smcSteer({ ...base, lm, signal: ac.signal });
    await untilHung(inner);
    ac.abort();
    expect(await within(2000, pending)).toBe('AbortError');
    inner.hang = false;
    const next = await smcSteer({ ...base, lm });
    expect(next.logZ).toBe((await smcSteer({ ...base, lm: wrapLanguageModel(markov) })).logZ);
    const kept = lm.stats().cachedKvCaches;
    inner.release(); // the hung pass settles now: every cache it made must be disposed, none stored
    await new Promise((r) => setTimeout(r, 10));
    expect(inner.live).toBe(kept);
    expect(lm.stats().cachedKvCaches).toBe(kept);
    lm.clearCache();
    expect(inner.live).toBe(0);
  }, 20_000);
});

describe('step search on an LM whose pass hangs: an abort ends it (was: the signal was read only between tokens, so the run hung)', () => {
  it('particleFilterSteps rejects with the abort within 2 s, and the next run on the same wrapper finishes', async () => {
    const { lm: stepLM, vocab } = await import('./step-solutions.js');
    let hang = true;
    const inner: LanguageModel = {
      name: 'hangable-steps',
      vocab,
      contextLength: Infinity,
      nextTokenLogprobs: (prefixes) => (hang ? new Promise(() => undefined) : stepLM.nextTokenLogprobs(prefixes)),
    };
    const lm = wrapLanguageModel(inner);
    const prm: StepRewardModel = { name: 'flat', score: async (t) => t.map(() => 0.5) };
    const ac = new AbortController();
    const pending = particleFilterSteps(lm, prm, '', { particles: 4, seed: 1, signal: ac.signal });
    await new Promise((r) => setTimeout(r, 30));
    ac.abort();
    expect(await within(2000, pending)).toBe('AbortError');
    hang = false;
    expect(await within(2000, particleFilterSteps(lm, prm, '', { particles: 4, seed: 1 }))).toBe('finished');
  }, 20_000);
});

describe('the wrapper with callers that leave: merged requests, partly abandoned passes', () => {
  it('one of two merged callers aborts: the other gets the row, it is cached, one forward pass', async () => {
    let settle!: () => void;
    const inner: LanguageModel = { name: 'gated', vocab: abc, contextLength: Infinity, nextTokenLogprobs: (p) => new Promise((r) => (settle = () => void markov.nextTokenLogprobs(p).then(r))) };
    const lm = wrapLanguageModel(inner);
    const ac = new AbortController();
    const leaving = lm.logprobs([1], { signal: ac.signal });
    const staying = lm.logprobs([1]);
    await new Promise((r) => setTimeout(r, 5)); // the pass has started
    ac.abort();
    await expect(leaving).rejects.toThrow(/aborted/);
    settle();
    const row = await staying;
    expect(Array.from(row)).toEqual(Array.from((await markov.nextTokenLogprobs([[1]]))[0]!));
    expect(lm.has([1])).toBe(true);
    expect(lm.stats()).toMatchObject({ requests: 2, misses: 1, merged: 1, forwardPasses: 1 });
  });

  it('every caller of a hung pass aborts: the same prefix is asked afresh and answered, the next batch runs, the late rows are dropped', async () => {
    let passes = 0;
    const gates: (() => void)[] = [];
    const inner: LanguageModel = {
      name: 'first-hangs',
      vocab: abc,
      contextLength: Infinity,
      nextTokenLogprobs: (p) => (passes++ === 0 ? new Promise((r) => gates.push(() => void markov.nextTokenLogprobs(p).then(r))) : markov.nextTokenLogprobs(p)),
    };
    const lm = wrapLanguageModel(inner);
    const a = new AbortController();
    const b = new AbortController();
    const first = [lm.logprobs([1], { signal: a.signal }), lm.logprobs([2], { signal: b.signal }), lm.logprobs([1], { signal: b.signal })];
    await new Promise((r) => setTimeout(r, 5));
    a.abort();
    expect(lm.has([1])).toBe(false);
    b.abort(new Error('b left'));
    await expect(Promise.allSettled(first)).resolves.toMatchObject([{ status: 'rejected' }, { status: 'rejected', reason: { message: 'b left' } }, { status: 'rejected', reason: { message: 'b left' } }]);
    const again = await within(1000, lm.logprobs([1]));
    expect(again).toBe('finished');
    expect(lm.stats().forwardPasses).toBe(2);
    gates[0]!(); // the hung pass settles late
    await new Promise((r) => setTimeout(r, 5));
    expect(lm.has([2])).toBe(false); // its rows are not cached
    expect(lm.has([1])).toBe(true); // the fresh pass's row is
  });

  it('an already aborted signal rejects before any request is made', async () => {
    const lm = wrapLanguageModel(markov);
    await expect(lm.logprobs([0], { signal: AbortSignal.abort(new Error('gone')) })).rejects.toThrow('gone');
    expect(lm.stats().requests).toBe(0);
    await expect(lm.logprobs([0], { signal: 'stop' as never })).rejects.toThrow(`language model "${markov.name}": logprobs' signal must be an AbortSignal, got string`);
  });
});

describe('the shipped kjv-char transformer (tensor KV caches): a pass abandoned while it waits, settled late, leaks no tensor', () => {
  it('smcSteer aborted while extend is held, then released: numTensors back to the start once the caches are cleared', async () => {
    const tf = await import('@tensorflow/tfjs-core');
    const { initBackend } = await import('../../../src/backend/select.js');
    const { loadTransformerLM } = await import('../../../src/steer/lm/transformer/files.js');
    await initBackend();
    const kjv = loadTransformerLM('kjv-char');
    const before = tf.memory().numTensors;
    const gates: (() => void)[] = [];
    let hold = false;
    // kjv-char, except that while `hold` is set each extend waits for its gate before running
    const held: IncrementalLanguageModel = {
      name: kjv.name,
      vocab: kjv.vocab,
      contextLength: kjv.contextLength,
      nextTokenLogprobs: (p) => kjv.nextTokenLogprobs(p),
      extend: (requests) => (hold ? new Promise<void>((r) => gates.push(r)).then(() => kjv.extend(requests)) : kjv.extend(requests)),
    };
    const lm = wrapLanguageModel(held);
    const run = (signal?: AbortSignal) => smcSteer({ lm, sampler: new DirectSampler(), particles: 16, maxTokens: 12, seed: 3, signal });
    await run(); // warm: caches in the trie
    hold = true;
    const ac = new AbortController();
    const pending = smcSteer({ lm, sampler: new DirectSampler(), particles: 16, maxTokens: 12, seed: 4, signal: ac.signal }); // new prefixes: passes
    for (let i = 0; i < 10_000 && gates.length === 0; i++) await new Promise((r) => setTimeout(r, 1));
    expect(gates.length).toBeGreaterThan(0);
    ac.abort();
    expect(await within(2000, pending)).toBe('AbortError');
    hold = false;
    expect(await within(20_000, run())).toBe('finished');
    for (const g of gates.splice(0)) g(); // the held passes run now, for no one
    await new Promise((r) => setTimeout(r, 200));
    lm.clearCache();
    expect(tf.memory().numTensors).toBe(before);
  }, 60_000);
});
