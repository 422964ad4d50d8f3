/**
 * The wrapper every model gets: auto-batching, the prefix trie, KV caches on
 * trie nodes, counters, bounded memory, errors; the conformance suite on a
 * tfjs model with tensor caches, and the suite catching planted bugs.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src/backend/select.js';
import { CachedLanguageModel, wrapLanguageModel } from '../../../src/steer/lm/cached.js';
import { ContextLengthError, UnknownTokenError } from '../../../src/steer/lm/errors.js';
import { NGramLM } from '../../../src/steer/lm/ngram.js';
import { TokenVocabulary } from '../../../src/steer/lm/vocab.js';
import { checkLanguageModel, rowDistance } from '../../../src/testing/lm-conformance.js';
import { lmConformance } from '../../helpers/lm-conformance.js';
import { ToyRecurrentLM, brokenIncremental, brokenModel } from '../../helpers/toy-lms.js';

beforeAll(async () => {
  await initBackend('cpu');
});

const vocab = TokenVocabulary.characters('abc ');
const corpus = ['abc', 'a b', 'cab', 'bca a', 'ccc', 'ab ab'];
const ngram = () => NGramLM.fit(vocab, corpus, { order: 3 });

/** Counts forward passes of the raw model. */
function counting<T extends { nextTokenLogprobs: NGramLM['nextTokenLogprobs'] }>(lm: T): T & { passes: number; rows: number } {
  const out = lm as T & { passes: number; rows: number };
  out.passes = 0;
  out.rows = 0;
  const orig = lm.nextTokenLogprobs.bind(lm);
  out.nextTokenLogprobs = async (p) => {
    out.passes++;
    out.rows += p.length;
    return orig(p);
  };
  return out;
}

describe('auto-batching and the prefix trie', () => {
  it('merges requests made in the same tick into one forward pass, identical prefixes once', async () => {
    const raw = counting(ngram());
    const lm = wrapLanguageModel(raw, { kvCache: false });
    const prefixes = [[0], [1], [0], [0, 1], [1], [], [0, 1]];
    const rows = await Promise.all(prefixes.map((p) => lm.logprobs(p)));
    const s = lm.stats();
    expect(raw.passes).toBe(1);
    expect(raw.rows).toBe(4); // [0], [1], [0,1], []
    expect(s).toMatchObject({ requests: 7, misses: 4, merged: 3, hits: 0, forwardPasses: 1, batchSizes: { 4: 1 } });
    const direct = await raw.nextTokenLogprobs(prefixes);
    rows.forEach((r, i) => expect(Array.from(r)).toEqual(Array.from(direct[i])));
  });

  it('collects across awaits within the tick (particles at different microtask depths)', async () => {
    const raw = counting(ngram());
    const lm = wrapLanguageModel(raw, { kvCache: false });
    const particle = async (k: number) => {
      for (let i = 0; i < k; i++) await Promise.resolve();
      return lm.logprobs([k % 3]);
    };
    await Promise.all([0, 1, 2, 3, 4, 5, 6, 7].map(particle));
    expect(raw.passes).toBe(1);
    expect(lm.stats().misses).toBe(3);
  });

  it('answers repeated prefixes from the trie without forward passes', async () => {
    const raw = counting(ngram());
    const lm = wrapLanguageModel(raw, { kvCache: false });
    await lm.nextTokenLogprobs([[0, 1], [2]]);
    const passes = raw.passes;
    const again = await lm.nextTokenLogprobs([[0, 1], [2], [0, 1]]);
    expect(raw.passes).toBe(passes);
    expect(lm.stats()).toMatchObject({ hits: 3, misses: 2 });
    expect(lm.has([0, 1])).toBe(true);
    again[0][0] = 123; // rows are copies: the cache is untouched
    expect((await lm.logprobs([0, 1]))[0]).not.toBe(123);
  });

  it('a delay trigger collects requests from separate macrotasks; a full batch goes without waiting', async () => {
    const raw = counting(ngram());
    const lm = wrapLanguageModel(raw, { flush: { delayMs: 30 }, maxBatchSize: 4, kvCache: false });
    const later = (p: number[], ms: number) => new Promise<Float32Array>((res) => setTimeout(() => res(lm.logprobs(p)), ms));
    await Promise.all([lm.logprobs([0]), later([1], 1), later([2], 5)]);
    expect(raw.passes).toBe(1);
    const slow = wrapLanguageModel(raw, { flush: { delayMs: 10_000 }, maxBatchSize: 4, kvCache: false });
    const t0 = performance.now();
    await Promise.all([[0, 0], [0, 1], [0, 2], [0, 3]].map((p) => slow.logprobs(p)));
    expect(performance.now() - t0).toBeLessThan(5_000);
    expect(raw.passes).toBe(2);
  });

  it('a row holding NaN, or of the wrong length, is an error naming the model and the prefix', async () => {
    const base = ngram();
    const bad = (mutate: (r: Float32Array) => Float32Array) => ({
      name: 'nan-model',
      vocab: base.vocab,
      contextLength: Infinity,
      nextTokenLogprobs: async (p: readonly (readonly number[])[]) => (await base.nextTokenLogprobs(p)).map(mutate),
    });
    await expect(wrapLanguageModel(bad((r) => ((r[2] = NaN), r))).logprobs([0, 1])).rejects.toThrow(/"nan-model": the row for prefix \[0, 1\] holds NaN \(token 2\)/);
    await expect(wrapLanguageModel(bad((r) => r.slice(1))).logprobs([1])).rejects.toThrow(/the row for prefix \[1\] is Float32Array of length 4, expected a Float32Array of the vocabulary size 5/);
  });

  it('respects the maximum batch size', async () => {
    const raw = counting(ngram());
    const lm = wrapLanguageModel(raw, { maxBatchSize: 3, kvCache: false });
    await Promise.all(Array.from({ length: 8 }, (_, i) => lm.logprobs([i % 4, (i >> 2) % 4])));
    expect(raw.passes).toBe(3);
    expect(lm.stats().batchSizes).toEqual({ 3: 2, 2: 1 });
  });

  it('with cache off evaluates every request (batched, not deduplicated)', async () => {
    const raw = counting(ngram());
    const lm = wrapLanguageModel(raw, { cache: false });
    await Promise.all([[0], [0], [0]].map((p) => lm.logprobs(p)));
    await lm.logprobs([0]);
    expect(raw.passes).toBe(2);
    expect(raw.rows).toBe(4);
    expect(lm.stats()).toMatchObject({ hits: 0, merged: 0 });
  });

  it('keeps memory bounded: LRU eviction by rows and by bytes', async () => {
    const lm = wrapLanguageModel(ngram(), { maxRows: 5, kvCache: false });
    for (let i = 0; i < 16; i++) await lm.logprobs([i % 4, i >> 2]);
    const s = lm.stats();
    expect(s.cachedRows).toBe(5);
    expect(s.evictedRows).toBe(11); // 16 distinct prefixes, 5 kept
    expect(s.nodes).toBeLessThanOrEqual(1 + 4 + 5);
    // the most recent prefix is still cached, the oldest is not
    expect(lm.has([3, 3])).toBe(true);
    expect(lm.has([0, 0])).toBe(false);
    const byBytes = wrapLanguageModel(ngram(), { maxRowBytes: 3 * vocab.size * 4, kvCache: false });
    for (let i = 0; i < 10; i++) await byBytes.logprobs([i % 4]);
    expect(byBytes.stats().cachedRows).toBe(3);
  });

  it('validates prefixes with errors naming the model', async () => {
    const lm = wrapLanguageModel(ngram());
    await expect(lm.logprobs([0, 9])).rejects.toThrow(UnknownTokenError);
    await expect(lm.logprobs([0, 9])).rejects.toThrow(/language model "3-gram": unknown token id 9 at position 1/);
    const rnn = new ToyRecurrentLM('short-rnn', 'ab', 4);
    const w = wrapLanguageModel(rnn);
    await expect(w.logprobs([0, 1, 0, 1])).rejects.toThrow(ContextLengthError);
    await expect(w.logprobs([0, 1, 0, 1])).rejects.toThrow(/"short-rnn": prefix of 4 tokens \(plus BOS\) is longer than the context length 4/);
    w.dispose();
  });

  it('a failing forward pass rejects every request of its batch, and the wrapper recovers', async () => {
    let fail = true;
    const base = ngram();
    const flaky = {
      name: 'flaky',
      vocab: base.vocab,
      contextLength: Infinity,
      nextTokenLogprobs: async (p: readonly (readonly number[])[]) => {
        if (fail) throw new Error('device lost');
        return base.nextTokenLogprobs(p);
      },
    };
    const lm = wrapLanguageModel(flaky);
    const results = await Promise.allSettled([lm.logprobs([0]), lm.logprobs([1]), lm.logprobs([0])]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
    fail = false;
    await expect(lm.logprobs([0])).resolves.toHaveLength(vocab.size);
  });
});

describe('KV caches on trie nodes', () => {
  let rnn: ToyRecurrentLM;
  beforeAll(() => {
    rnn = new ToyRecurrentLM('toy-rnn', 'abcd', 64);
  });
  afterAll(() => rnn.dispose());

  it('extending a cached prefix by one token costs one token', async () => {
    const lm = new CachedLanguageModel(rnn);
    const before = rnn.tokensRun;
    const seq = [0, 1, 2, 3, 0, 1, 2, 3, 0, 1];
    for (let k = 0; k <= seq.length; k++) await lm.logprobs(seq.slice(0, k));
    // BOS once, then one token per extension
    expect(rnn.tokensRun - before).toBe(1 + seq.length);
    expect(lm.stats()).toMatchObject({ tokensEvaluated: 1 + seq.length, kvReuses: seq.length, forwardPasses: seq.length + 1 });
    // the same rows as recomputing each prefix
    for (let k = 0; k <= seq.length; k++) {
      const [ref] = await rnn.nextTokenLogprobs([seq.slice(0, k)]);
      const got = await lm.logprobs(seq.slice(0, k));
      for (let i = 0; i < ref.length; i++) if (ref[i] > -1e9) expect(got[i]).toBeCloseTo(ref[i], 5);
    }
    lm.clearCache();
    expect(rnn.liveCaches.size).toBe(0);
  });

  it('evicted nodes dispose their caches; a long run keeps tf.memory().numTensors flat', async () => {
    const lm = new CachedLanguageModel(rnn, { maxKvCaches: 8, maxRows: 16 });
    const counts: number[] = [];
    const rngTokens = (i: number, k: number) => Array.from({ length: k }, (_, j) => (i * 7 + j * 3 + ((i * j) % 5)) % 4);
    for (let round = 0; round < 30; round++) {
      // 16 particles extend their own prefixes one token per step, concurrently
      await Promise.all(Array.from({ length: 16 }, (_, p) => lm.logprobs(rngTokens(p + round, 1 + (round % 10)))));
      counts.push(tf.memory().numTensors);
      expect(rnn.liveCaches.size).toBeLessThanOrEqual(8);
    }
    const s = lm.stats();
    expect(s.cachedKvCaches).toBe(8);
    expect(s.evictedKvCaches).toBeGreaterThan(100);
    // after warm-up the tensor count stays where it is: the 8 caches, nothing else
    expect(new Set(counts.slice(2)).size).toBe(1);
    lm.clearCache();
    expect(rnn.liveCaches.size).toBe(0);
  });
});

describe('the wrapper under random traffic (fast-check)', () => {
  it('rows always equal the model\'s, counters add up, budgets hold, no cache leaks', async () => {
    const rnn = new ToyRecurrentLM('toy-rnn-prop', 'abc', 16, 4, 9);
    const prefix = fc.array(fc.integer({ min: 0, max: 2 }), { maxLength: 6 });
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(prefix, { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 6 }), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 5 }), fc.boolean(), async (ticks, maxRows, maxKv, kv) => {
        const lm = new CachedLanguageModel(rnn, { maxRows, maxKvCaches: maxKv, kvCache: kv, maxBatchSize: 4 });
        for (const tick of ticks) {
          const rows = await Promise.all(tick.map((p) => lm.logprobs(p)));
          const ref = await rnn.nextTokenLogprobs(tick);
          rows.forEach((r, i) => expect(rowDistance(r, ref[i])).toBeLessThan(1e-5));
          const s = lm.stats();
          expect(s.hits + s.merged + s.misses).toBe(s.requests);
          expect(s.cachedRows).toBeLessThanOrEqual(maxRows);
          expect(s.cachedKvCaches).toBeLessThanOrEqual(kv ? maxKv : 0);
          expect(rnn.liveCaches.size).toBe(s.cachedKvCaches);
        }
        lm.clearCache();
        expect(rnn.liveCaches.size).toBe(0);
      }),
      { numRuns: 60, seed: 3 },
    );
    rnn.dispose();
  });
});

lmConformance('tfjs recurrent model with tensor caches', () => new ToyRecurrentLM('toy-rnn-conformance', 'abcd', 24));

describe('the conformance checks catch planted bugs', () => {
  const failing = async (lm: Parameters<typeof checkLanguageModel>[0]) => {
    const r = await checkLanguageModel(lm, { prefixes: 4 });
    return r.checks.filter((c) => !c.passed).map((c) => c.name);
  };
  it('unnormalised rows', async () => {
    expect(await failing(brokenModel(ngram(), 'unnormalised'))).toContain('rows-normalised');
  });
  it('rows that depend on the batch', async () => {
    expect(await failing(brokenModel(ngram(), 'batch-dependent'))).toContain('batched-equals-unbatched');
  });
  it('unknown ids accepted', async () => {
    expect(await failing(brokenModel(ngram(), 'accepts-unknown-ids'))).toEqual(['errors']);
  });
  it('tensors leaked', async () => {
    // (its errors also fail: they name the inner model, not this one)
    expect(await failing(brokenModel(ngram(), 'leaks-tensors'))).toContain('tensors-flat');
  });
  it('a stale KV cache', async () => {
    const rnn = new ToyRecurrentLM('toy-rnn-stale', 'abcd', 24);
    expect(await failing(brokenIncremental(rnn))).toContain('kv-equals-recomputed');
    rnn.dispose();
  });
});
