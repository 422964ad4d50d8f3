/**
 * The shipped transformers: tokenizer, weight format, offline loading,
 * conformance (rows normalised, batched = unbatched, KV-cached = recomputed,
 * errors, flat tensor count), batched generation with and without caches,
 * the process reward model, and the arithmetic task's checker.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src/backend/select.js';
import { Rng } from '../../../src/core/rng.js';
import { ARITH_ALPHABET, arithmeticProblems, checkSolution, corruptedSolution, extractAnswer, solve } from '../../../src/steer/lm/arithmetic.js';
import { generate } from '../../../src/steer/lm/generate.js';
import { SHIPPED_LM_DIR, loadProcessRewardModel, loadTransformerLM, readModelFiles } from '../../../src/steer/lm/transformer/files.js';
import { attendRows } from '../../../src/steer/lm/transformer/kernels.js';
import { WasmAttention } from '../../../src/steer/lm/transformer/wasm-attention.js';
import { WasmDense } from '../../../src/steer/lm/transformer/wasm-dense.js';
import { TransformerLM } from '../../../src/steer/lm/transformer/lm.js';
import { type TransformerConfig, initWeights, makeRope } from '../../../src/steer/lm/transformer/model.js';
import { Adam, lmBatch, lmLoss } from '../../../src/steer/lm/transformer/train.js';
import { CharVocabulary } from '../../../src/steer/lm/transformer/tokenizer.js';
import { decodeWeights, encodeWeights } from '../../../src/steer/lm/transformer/weights.js';
import { assertSameVocabulary } from '../../../src/steer/lm/errors.js';
import { lmConformance } from '../../helpers/lm-conformance.js';

beforeAll(async () => {
  await initBackend();
});

const tinyConfig: TransformerConfig = { vocabSize: 7, dModel: 16, nLayers: 2, nHeads: 2, dFF: 24, contextLength: 24, ropeTheta: 10000, normEps: 1e-5, head: 'lm' };

/** A random-weight tiny transformer (weights scaled up so its rows are far from uniform). */
function tinyLM(seed = 3, fusedStep?: boolean): TransformerLM {
  const w = initWeights(tinyConfig, seed);
  for (const [k, t] of Object.entries(w)) {
    if (t.rank > 1) {
      w[k] = tf.mul(t, 25);
      t.dispose();
    }
  }
  return new TransformerLM(tinyConfig, w, new CharVocabulary('abcde', 'tiny'), { name: 'tiny-transformer', fusedStep });
}

describe('CharVocabulary', () => {
  it('encodes and decodes, with BOS 0 and EOS 1', () => {
    const v = new CharVocabulary('ab c', 'v');
    expect(v.size).toBe(6);
    expect(v.encode('ca b')).toEqual([5, 2, 4, 3]);
    expect(v.decode([5, 2, 1, 4, 3])).toBe('ca b');
    expect(v.tokenText(0)).toBe('');
  });
  it('names the character and position it cannot encode, and unknown ids', () => {
    const v = new CharVocabulary('ab', 'v');
    expect(() => v.encode('abz')).toThrow(/v: character "z" at index 2/);
    expect(() => v.tokenText(9)).toThrow(/unknown token id 9/);
    expect(() => new CharVocabulary('aba')).toThrow(/repeats/);
  });
});

lmConformance('tiny random transformer (fused one-token steps)', () => tinyLM(3, true), { maxPrefixLength: 20 });
lmConformance('tiny random transformer (every step in tfjs)', () => tinyLM(3, false), { maxPrefixLength: 20 });
lmConformance('shipped kjv-char transformer', () => loadTransformerLM('kjv-char'), { prefixes: 12, maxPrefixLength: 40 });
lmConformance('shipped arith-char transformer', () => loadTransformerLM('arith-char'), { prefixes: 8, maxPrefixLength: 30 });

describe('TransformerLM', () => {
  it('extends caches of different lengths in one batch, equal to recomputing', async () => {
    const lm = tinyLM(5);
    const a = [2, 3, 4, 5, 6, 2, 3];
    const b = [4, 4];
    const [ra, rb] = await lm.extend([{ cache: null, tokens: a }, { cache: null, tokens: b }]);
    const [ea, eb, ec] = await lm.extend([
      { cache: ra!.cache, tokens: [5] },
      { cache: rb!.cache, tokens: [2, 3, 6] },
      { cache: null, tokens: [3] },
    ]);
    const direct = await lm.nextTokenLogprobs([[...a, 5], [...b, 2, 3, 6], [3]]);
    for (const [x, y] of [[ea!.logprobs, direct[0]!], [eb!.logprobs, direct[1]!], [ec!.logprobs, direct[2]!]] as const) {
      for (let i = 0; i < x.length; i++) expect(Math.abs(x[i]! - y[i]!)).toBeLessThan(1e-4);
    }
    expect(ea!.cache.length).toBe(a.length + 2);
    for (const r of [ra, rb, ea, eb, ec]) r!.cache.dispose();
    lm.dispose();
  });

  it('fused steps share KV buffers: siblings of one cache (same batch and later) equal recomputing, and old caches stay valid', async () => {
    const lm = tinyLM(6, true);
    const base = [2, 3, 4];
    const [r0] = await lm.extend([{ cache: null, tokens: base }]);
    // two children of the same cache in one batch: the first extends the buffer in place, the second copies
    const [a, b] = await lm.extend([{ cache: r0!.cache, tokens: [5] }, { cache: r0!.cache, tokens: [6] }]);
    const [a2] = await lm.extend([{ cache: a!.cache, tokens: [2] }]); // in place again
    const [c] = await lm.extend([{ cache: r0!.cache, tokens: [4] }]); // a third child, later
    const [b2] = await lm.extend([{ cache: b!.cache, tokens: [3] }]);
    const [again] = await lm.extend([{ cache: a!.cache, tokens: [3] }]); // a's buffer has moved on: copy
    const want = await lm.nextTokenLogprobs([[...base, 5], [...base, 6], [...base, 5, 2], [...base, 4], [...base, 6, 3], [...base, 5, 3]]);
    [a, b, a2, c, b2, again].forEach((r, i) => {
      for (let j = 0; j < r!.logprobs.length; j++) expect(Math.abs(r!.logprobs[j]! - want[i]![j]!)).toBeLessThan(1e-4);
    });
    expect(a2!.cache.length).toBe(base.length + 3);
    for (const r of [r0, a, b, a2, c, b2, again]) r!.cache.dispose();
    lm.dispose();
  });

  it('a vocabulary mismatch between two shipped models is caught, naming both', () => {
    const kjv = loadTransformerLM('kjv-char');
    const arith = loadTransformerLM('arith-char');
    expect(() => assertSameVocabulary(kjv, arith)).toThrow(/kjv-char.*arith-char|arith-char.*kjv-char/);
    kjv.dispose();
    arith.dispose();
  });

  it('rejects a prefix longer than the context, a foreign cache and a bad id, naming the model', async () => {
    const lm = tinyLM();
    const other = tinyLM();
    await expect(lm.nextTokenLogprobs([new Array(24).fill(2)])).rejects.toThrow(/tiny-transformer/);
    await expect(lm.nextTokenLogprobs([[2, 99]])).rejects.toThrow(/tiny-transformer.*unknown token id 99/);
    const [r] = await other.extend([{ cache: null, tokens: [2] }]);
    await expect(lm.extend([{ cache: r!.cache, tokens: [3] }])).rejects.toThrow(/tiny-transformer: extend request 0 carries a cache from another model/);
    r!.cache.dispose();
    await expect(lm.extend([{ cache: r!.cache, tokens: [3] }])).rejects.toThrow(/another model|disposed/);
    lm.dispose();
    other.dispose();
  });

  it('generates the same greedy text with and without KV caches, and keeps the tensor count flat', async () => {
    const lm = loadTransformerLM('kjv-char');
    const prompts = ['And God said', 'In the beginning', 'The LORD'].map((s) => lm.vocab.encode(s));
    const before = tf.memory().numTensors;
    const a = await generate(lm, prompts, { maxTokens: 24, temperature: 0 });
    const b = await generate(lm, prompts, { maxTokens: 24, temperature: 0, useCache: false });
    expect(a.map((g) => g.text)).toEqual(b.map((g) => g.text));
    expect(tf.memory().numTensors).toBe(before);
    const s = await generate(lm, prompts, { maxTokens: 40, temperature: 1, rng: 4, stop: [','] });
    for (const g of s) expect(g.text.includes(',')).toBe(false);
    lm.dispose();
  });
});

describe('training pieces', () => {
  it('Adam on tf.variableGrads lowers the next-token loss of a tiny model (a frozen optimiser would not)', () => {
    const w = initWeights(tinyConfig, 4);
    const vars: Record<string, tf.Variable> = {};
    for (const [k, t] of Object.entries(w)) {
      vars[k] = tf.variable(t, true, `adam-test/${k}`);
      t.dispose();
    }
    const adam = new Adam(vars);
    const rope = makeRope(tinyConfig);
    const batch = lmBatch([[0, 2, 3, 4, 5, 6, 2, 3, 4, 5, 6, 1], [0, 6, 5, 4, 3, 2, 6, 5, 4, 3, 2, 1]]);
    const losses: number[] = [];
    for (let i = 0; i < 30; i++) {
      const { value, grads } = tf.variableGrads(() => lmLoss(tinyConfig, vars, rope, batch));
      losses.push(value.dataSync()[0]!);
      adam.apply(grads, 1e-2);
      tf.dispose([value, ...Object.values(grads)]);
    }
    expect(losses.at(-1)!).toBeLessThan(0.5 * losses[0]!);
    expect(() => adam.apply({}, 1e-2)).toThrow(/Adam: no gradient for variable token_embd.weight/);
    rope.dispose();
    tf.dispose([...Object.values(vars), ...Object.values(adam.m), ...Object.values(adam.v)]);
  });
});

describe('weights format', () => {
  it('round-trips and names what is wrong in a damaged file', () => {
    const w = initWeights(tinyConfig, 1);
    const { header, data } = encodeWeights(tinyConfig, 'abcde', w);
    const back = decodeWeights(header, data, 'mem');
    expect(Array.from(back['blk.1.ffn_up.weight']!.dataSync())).toEqual(Array.from(w['blk.1.ffn_up.weight']!.dataSync()));
    expect(() => decodeWeights(header, data.subarray(0, 100), 'short.bin')).toThrow(/short.bin: binary too short/);
    tf.dispose([...Object.values(w), ...Object.values(back)]);
  });
  it('loads the shipped models from models/lm with no network, and reports a missing one', () => {
    for (const name of ['kjv-char', 'arith-char', 'arith-prm']) {
      const { header, weights } = readModelFiles(name);
      expect(header.metadata.licence).toBeTruthy();
      tf.dispose(Object.values(weights));
    }
    expect(() => loadTransformerLM(`${SHIPPED_LM_DIR}/nope`)).toThrow(/nope.json does not exist/);
  });
});

describe('arithmetic task and process reward model', () => {
  it('solves, checks and corrupts solutions exactly', () => {
    expect(solve('42+18*4-34')).toEqual({ steps: ['18*4=72', '42+72=114', '114-34=80'], answer: 80 });
    expect(checkSolution('42+18*4-34', ' 18*4=72; 42+72=114; 114-34=80; #80')).toMatchObject({ correct: [true, true, true], answerCorrect: true });
    expect(checkSolution('42+18*4-34', ' 18*4=72; 42+72=115; 115-34=81; #81').correct).toEqual([true, false, false]);
    expect(checkSolution('42+18*4-34', ' 42+18=60;').correct).toEqual([false]); // wrong order
    expect(extractAnswer(' 1+2=3; #3')).toBe(3);
    const rng = new Rng(2);
    for (const p of arithmeticProblems(50, 9)) {
      const { solution, firstWrong } = corruptedSolution(p, rng);
      const c = checkSolution(p.expression, solution);
      expect(c.correct.indexOf(false) === -1 ? c.steps.length : c.correct.indexOf(false)).toBe(firstWrong);
      expect(c.answerCorrect).toBe(false);
    }
    expect([...ARITH_ALPHABET].every((ch) => new CharVocabulary(ARITH_ALPHABET).covers(ch))).toBe(true);
  });

  it('the shipped PRM scores a batch of partial solutions in (0, 1), higher for right steps than wrong on average', async () => {
    const prm = loadProcessRewardModel('arith-prm');
    const rng = new Rng(11);
    const right: string[] = [];
    const wrong: string[] = [];
    for (const p of arithmeticProblems(60, 'prm-test')) {
      right.push(p.prompt + ` ${p.steps[0]};`);
      const bad = corruptedSolution(p, rng);
      if (bad.firstWrong === 0) wrong.push(p.prompt + bad.solution.slice(0, bad.solution.indexOf(';') + 1));
    }
    const [sr, sw] = [await prm.score(right), await prm.score(wrong)];
    for (const s of [...sr, ...sw]) expect(s > 0 && s < 1).toBe(true);
    const mean = (a: Float64Array): number => a.reduce((x, y) => x + y, 0) / a.length;
    expect(mean(sr)).toBeGreaterThan(mean(sw));
    await expect(prm.score(['Q: x'])).rejects.toThrow(/arith-prm: text 0 cannot be scored/);
    prm.dispose();
  });
});

describe('fused one-token step (step.ts, kernels.ts)', () => {
  /** Per-row attention in float64, one row and head at a time: the reference the batched kernel is pinned to. */
  function attendOne(q: Float32Array, K: Float32Array, V: Float32Array, n: number, H: number, d: number): Float64Array {
    const hd = d / H;
    const out = new Float64Array(d);
    for (let h = 0; h < H; h++) {
      const s = Array.from({ length: n }, (_, t) => {
        let a = 0;
        for (let i = 0; i < hd; i++) a += q[h * hd + i]! * K[t * d + h * hd + i]!;
        return a / Math.sqrt(hd);
      });
      const m = Math.max(...s);
      const w = s.map((x) => Math.exp(x - m));
      const z = w.reduce((a, b) => a + b, 0);
      for (let t = 0; t < n; t++) for (let i = 0; i < hd; i++) out[h * hd + i] += (w[t]! / z) * V[t * d + h * hd + i]!;
    }
    return out;
  }

  /** Rows of unequal lengths whose buffers hold large stale entries past each length (what a wrong mask would read). */
  function attentionCase(B: number, H: number, d: number, cap: number, seed: number) {
    const rng = new Rng(seed);
    const lengths = Int32Array.from({ length: B }, (_, b) => 1 + ((b * 7 + seed) % (cap - 1)));
    const fill = (a: Float32Array, n: number) => a.forEach((_, i) => (a[i] = i < n * d ? rng.normal() : 5 + 5 * rng.uniform()));
    const buffer = (n: number): Float32Array => {
      const a = new Float32Array(cap * d);
      fill(a, n);
      return a;
    };
    const keys = Array.from(lengths, buffer);
    const values = Array.from(lengths, buffer);
    const q = Float32Array.from({ length: B * d }, () => rng.normal());
    return { q, keys, values, lengths };
  }

  /** Attention of `B` rows into `out`, by some kernel. */
  type Attend = (q: Float32Array, keys: Float32Array[], values: Float32Array[], lengths: Int32Array, B: number, H: number, d: number, out: Float32Array) => void;
  const CAP = 40;
  const jsAttend: Attend = (q, keys, values, lengths, B, H, d, out) => attendRows(q, keys, values, lengths, B, H, d, 1 / Math.sqrt(d / H), new Float64Array(CAP), out);
  /** The SIMD WebAssembly kernel, with one owner object per row (`owners` to reuse them across calls). */
  const wasmAttend = (w: WasmAttention, owners?: object[]): Attend => (q, keys, values, lengths, B, H, d, out) => {
    w.begin(owners ?? keys.map(() => ({})), lengths, B);
    w.attend(0, q, keys, values, 1 / Math.sqrt(d / H), out);
  };

  /** Largest |kernel - per-row reference| over all rows, for the case of `seed`. */
  function attentionError(kernel: Attend, B: number, H: number, d: number, seed = 11, wrongMask = false): number {
    const { q, keys, values, lengths } = attentionCase(B, H, d, CAP, seed);
    const out = new Float32Array(B * d);
    kernel(q, keys, values, wrongMask ? lengths.map((n) => n + 1) : lengths, B, H, d, out);
    let err = 0;
    for (let b = 0; b < B; b++) {
      const want = attendOne(q.subarray(b * d, (b + 1) * d), keys[b]!, values[b]!, lengths[b]!, H, d);
      for (let i = 0; i < d; i++) err = Math.max(err, Math.abs(out[b * d + i]! - want[i]!));
    }
    return err;
  }

  // |values| <= ~4 for the valid entries and the weights sum to 1: float32 rounding of the
  // scores and of the convex combination stays far below 1e-5 (observed <= 1e-6)
  it('attention over all rows in one pass (typed arrays) equals per-row attention to float32 rounding; a mask one position too long is caught', () => {
    for (const [B, H, d] of [[64, 2, 64], [5, 4, 16], [1, 1, 2]] as const) {
      expect(attentionError(jsAttend, B, H, d)).toBeLessThan(1e-5);
      expect(attentionError(jsAttend, B, H, d, 11, true)).toBeGreaterThan(1e-3); // planted bug: reads a stale position, fails the check above by 100x
    }
  });

  it('the SIMD WebAssembly attention equals per-row attention, its KV mirror copies only new positions of the same storage; a wrong mask and a stale mirror are caught', () => {
    const w = WasmAttention.create({ nHeads: 2, dModel: 64, contextLength: CAP, nLayers: 1 });
    expect(w, 'WebAssembly SIMD is available in Node 20').not.toBeNull();
    expect(WasmAttention.create({ nHeads: 1, dModel: 2, contextLength: CAP, nLayers: 1 })).toBeNull(); // head size 2: the typed-array path
    const huge = WasmAttention.create({ nHeads: 32, dModel: 4096, contextLength: 4096, nLayers: 4 })!;
    expect(huge.begin([{}], [1], 1)).toBe(false); // a 512 MiB mirror for one row: over budget, the step attends in typed arrays
    for (const B of [64, 5, 1]) {
      expect(attentionError(wasmAttend(w!), B, 2, 64)).toBeLessThan(1e-5);
      expect(attentionError(wasmAttend(w!), B, 2, 64, 11, true)).toBeGreaterThan(1e-3);
    }
    // a second step on the same storage, one position longer: the mirror adds that position only
    const B = 8;
    const { q, keys, values, lengths } = attentionCase(B, 2, 64, CAP, 12);
    const owners = keys.map(() => ({}));
    const first = lengths.map((n) => Math.max(1, n - 1));
    const out = new Float32Array(B * 64);
    wasmAttend(w!, owners)(q, keys, values, first, B, 2, 64, out);
    const err = (): number => {
      wasmAttend(w!, owners)(q, keys, values, lengths, B, 2, 64, out);
      let e = 0;
      for (let b = 0; b < B; b++) {
        const want = attendOne(q.subarray(b * 64, (b + 1) * 64), keys[b]!, values[b]!, lengths[b]!, 2, 64);
        for (let i = 0; i < 64; i++) e = Math.max(e, Math.abs(out[b * 64 + i]! - want[i]!));
      }
      return e;
    };
    expect(err()).toBeLessThan(1e-5);
    // planted bug: storage rewritten under the same owner (what a KV buffer never does) is not seen by the mirror
    for (const k of keys) k.fill(0.5, 0, 64);
    expect(err()).toBeGreaterThan(1e-3);
  });

  it('the SIMD WebAssembly dense layers equal float64 products (tiles of 4 rows and the rows left over, padded columns) and SwiGLU; a wrong weight matrix is caught', () => {
    const rng = new Rng(21);
    const mat = (n: number, m: number) => ({ data: Float32Array.from({ length: n * m }, () => rng.normal()), n, m });
    const mats = { a: mat(64, 192), b: mat(24, 7), b2: mat(24, 7), gu: mat(16, 48), down: mat(24, 16) };
    const dense = WasmDense.create(mats, 24);
    expect(dense, 'WebAssembly SIMD is available in Node 20').not.toBeNull();
    expect(WasmDense.create(mats, 6)).toBeNull(); // feed-forward width not a multiple of 4: the tfjs layers
    const product = (x: Float32Array, B: number, w: { data: Float32Array; n: number; m: number }) =>
      Array.from({ length: B * w.m }, (_, k) => {
        const [r, j] = [Math.floor(k / w.m), k % w.m];
        let s = 0;
        for (let i = 0; i < w.n; i++) s += x[r * w.n + i]! * w.data[i * w.m + j]!;
        return s;
      });
    // relative to the sum of |terms|: float32 accumulation over n <= 64 terms stays below 64 * 6e-8
    const relErr = (got: ArrayLike<number>, want: number[], x: Float32Array, B: number, w: { data: Float32Array; n: number; m: number }) => {
      const absX = x.map(Math.abs);
      const scale = product(absX, B, { ...w, data: w.data.map(Math.abs) });
      return Math.max(...want.map((v, k) => Math.abs(got[k]! - v) / scale[k]!));
    };
    for (const B of [1, 4, 7, 64]) {
      for (const name of ['a', 'b'] as const) {
        const w = mats[name];
        const x = Float32Array.from({ length: B * w.n }, () => rng.normal());
        expect(relErr(dense!.matmul(name, x, B), product(x, B, w), x, B, w)).toBeLessThan(4e-6);
        if (name === 'b') expect(relErr(dense!.matmul('b2', x, B), product(x, B, w), x, B, w)).toBeGreaterThan(1e-2); // planted: another matrix of the same shape
      }
    }
    const B = 5;
    const x = Float32Array.from({ length: B * 16 }, () => rng.normal());
    const gu = product(x, B, mats.gu);
    const act = new Float32Array(B * 24).map((_, k) => {
      const [r, j] = [Math.floor(k / 24), k % 24];
      const g = gu[r * 48 + j]!;
      return (g / (1 + Math.exp(-g))) * gu[r * 48 + 24 + j]!;
    });
    const want = product(act, B, mats.down);
    const got = dense!.swiglu('gu', 'down', x, B);
    for (let k = 0; k < want.length; k++) expect(Math.abs(got[k]! - want[k]!)).toBeLessThan(1e-4 * (1 + Math.abs(want[k]!)));
  });

  it('the step on wasm kernels, and on typed arrays + tfjs (with and without tfjs chains), equals the tfjs forward pass for a batch of unequal lengths', async () => {
    const prefixes = [[2, 3, 4, 5, 6, 2, 3], [4, 4], [], [3, 6, 6, 2, 5, 4, 3, 2, 2, 6, 5], [5]];
    const next = [5, 2, 6, 3, 4];
    for (const fusedStepOptions of [{}, { wasm: false, tfChainMinRows: 1 }, { wasm: false, tfChainMinRows: 1000 }]) {
      const lm = tinyLM(8, true);
      const fused = new TransformerLM(lm.config, Object.fromEntries(Object.entries(lm.weights).map(([k, t]) => [k, tf.clone(t)])), lm.vocab, { name: 'tiny', fusedStepOptions });
      const base = await fused.extend(prefixes.map((p) => ({ cache: null, tokens: p })));
      const stepped = await fused.extend(base.map((r, i) => ({ cache: r.cache, tokens: [next[i]!] })));
      const want = await lm.nextTokenLogprobs(prefixes.map((p, i) => [...p, next[i]!]));
      stepped.forEach((r, i) => {
        for (let j = 0; j < r.logprobs.length; j++) expect(Math.abs(r.logprobs[j]! - want[i]![j]!)).toBeLessThan(1e-4);
      });
      // fresh sequences (BOS only) also run fused, and their caches extend like any other
      const fresh = await fused.extend([{ cache: null, tokens: [] }, { cache: null, tokens: [] }]);
      const then = await fused.extend([{ cache: fresh[0]!.cache, tokens: [4] }]);
      const wantFresh = await lm.nextTokenLogprobs([[], [4]]);
      for (const [r, w] of [[fresh[0]!, wantFresh[0]!], [fresh[1]!, wantFresh[0]!], [then[0]!, wantFresh[1]!]] as const) {
        for (let j = 0; j < w.length; j++) expect(Math.abs(r.logprobs[j]! - w[j]!)).toBeLessThan(1e-4);
      }
      for (const r of [...base, ...stepped, ...fresh, ...then]) r.cache.dispose();
      fused.dispose();
      lm.dispose();
    }
  });
});
