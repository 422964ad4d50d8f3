/**
 * Session 19 (STEER5): an aborted steering run left the language model's batch in flight running to its end. The
 * wrapper already let an aborted caller leave at once (session 13), but the model itself got no signal, so a llama.cpp
 * model kept its sequences busy evaluating rows nobody wanted (the next run on it waited for them) and the shipped
 * transformer ran every chunk of the pass. Now the wrapper gives each forward pass a signal that aborts once every run
 * waiting on it has aborted (the rule `shared-abort.ts` holds for the PRM potential too), and the models stop at the
 * next chunk or sequence. Counted in model evaluations and event-loop turns, never wall time (FLAKE, session 16).
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { wrapLanguageModel } from '../../../src/steer/lm/cached.js';
import { generate } from '../../../src/steer/lm/generate.js';
import { exportTransformerGGUF } from '../../../src/steer/lm/gguf.js';
import { DirectSampler } from '../../../src/steer/lm/samplers/direct.js';
import { nextToken } from '../../../src/steer/lm/smc/next-token.js';
import { runStepPrograms, StepProgram } from '../../../src/steer/lm/smc/program.js';
import { smcSteer } from '../../../src/steer/lm/smc/steer.js';
import { loadTransformerLM } from '../../../src/steer/lm/transformer/files.js';
import { CharVocabulary } from '../../../src/steer/lm/transformer/tokenizer.js';
import type { LanguageModel, LanguageModelCallOptions } from '../../../src/steer/lm/types.js';

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

/** A uniform model over 'ab' that evaluates one prefix per event-loop turn and honours the call's signal. */
class SlowUniform implements LanguageModel {
  readonly name = 'slow-uniform';
  readonly vocab = new CharVocabulary(['a', 'b']);
  readonly contextLength = Infinity;
  evaluated = 0;
  readonly signals: (AbortSignal | undefined)[] = [];
  async nextTokenLogprobs(prefixes: readonly (readonly number[])[], options?: LanguageModelCallOptions): Promise<Float32Array[]> {
    this.signals.push(options?.signal);
    const rows: Float32Array[] = [];
    for (const _ of prefixes) {
      await turn();
      if (options?.signal?.aborted) throw options.signal.reason;
      this.evaluated++;
      rows.push(new Float32Array(this.vocab.size).fill(-Math.log(this.vocab.size)));
    }
    return rows;
  }
}

describe('the wrapper passes a signal to the model that aborts once every run waiting on the pass has', () => {
  it('two runs share a pass: the first abort leaves it running, the second stops the model; nothing is cached', async () => {
    const inner = new SlowUniform();
    const lm = wrapLanguageModel(inner, { maxBatchSize: 64 });
    const a = new AbortController();
    const b = new AbortController();
    const prefixes = Array.from({ length: 20 }, (_, i) => [...inner.vocab.encode(i.toString(2).replace(/0/g, 'a').replace(/1/g, 'b'))]);
    const pa = Promise.allSettled(prefixes.map((p) => lm.logprobs(p, { signal: a.signal })));
    const pb = Promise.allSettled(prefixes.slice(0, 10).map((p) => lm.logprobs(p, { signal: b.signal })));
    while (inner.evaluated < 3) await turn();
    a.abort(new Error('a stops'));
    // a's rows 10..19 are abandoned, b still waits for 0..9: the pass goes on
    expect(inner.signals[0]?.aborted).toBe(false);
    while (inner.evaluated < 6) await turn();
    b.abort(new Error('b stops'));
    const atAbort = inner.evaluated;
    expect(inner.signals[0]?.aborted).toBe(true);
    expect((await pa).every((r) => r.status === 'rejected')).toBe(true);
    expect((await pb).every((r) => r.status === 'rejected')).toBe(true);
    for (let i = 0; i < 30; i++) await turn();
    // the model stopped at its next row (a model given no signal evaluates all 20)
    expect(inner.evaluated - atAbort).toBeLessThanOrEqual(1);
    expect(inner.evaluated).toBeLessThan(prefixes.length);
    expect(lm.stats().cachedRows).toBe(0);
    // a later run gets every row, evaluated afresh under a new pass
    const rows = await Promise.all(prefixes.map((p) => lm.logprobs(p)));
    expect(rows.length).toBe(prefixes.length);
    expect(inner.signals.at(-1)).toBeUndefined(); // a run without a signal: the pass can never be cut, no signal
  });

  it('a run that joins a pass in flight without a signal keeps it going after the others abort', async () => {
    const inner = new SlowUniform();
    const lm = wrapLanguageModel(inner);
    const a = new AbortController();
    const prefixes = [[0], [1], [0, 0], [0, 1], [1, 0]];
    const pa = Promise.allSettled(prefixes.map((p) => lm.logprobs(p, { signal: a.signal })));
    while (inner.evaluated < 1) await turn();
    const late = lm.logprobs([1, 0]); // merged into the job in flight
    a.abort(new Error('a stops'));
    expect(inner.signals[0]?.aborted).toBe(false);
    expect((await late).length).toBe(inner.vocab.size);
    expect((await pa).every((r) => r.status === 'rejected')).toBe(true);
  });
});

/**
 * Starts a run with a fresh signal, aborts it (with `reason`) once the model
 * has evaluated 3 rows, checks that the run rejects with that reason, lets
 * the event loop turn, and returns how many rows the model evaluated after
 * the abort.
 */
async function rowsAfterAbort(inner: SlowUniform, start: (signal: AbortSignal) => Promise<unknown>, reason: string): Promise<number> {
  const ac = new AbortController();
  const run = start(ac.signal);
  run.catch(() => undefined);
  while (inner.evaluated < 3) await turn();
  ac.abort(new Error(reason));
  const atAbort = inner.evaluated;
  await expect(run).rejects.toThrow(reason);
  for (let i = 0; i < 30; i++) await turn();
  return inner.evaluated - atAbort;
}

describe('generate (what `tyche serve` runs) passes its signal to the model', () => {
  it('an abort inside a forward pass stops the model at its next row; results unchanged under a live signal', async () => {
    const inner = new SlowUniform();
    const prompts = Array.from({ length: 20 }, () => [0]);
    const after = await rowsAfterAbort(inner, (signal) => generate(inner, prompts, { maxTokens: 4, rng: 3, signal }), 'client gone');
    expect(after).toBeLessThanOrEqual(1); // a model given no signal finishes the 20 rows
    const plain = await generate(new SlowUniform(), prompts.slice(0, 4), { maxTokens: 4, rng: 3 });
    const signalled = await generate(new SlowUniform(), prompts.slice(0, 4), { maxTokens: 4, rng: 3, signal: new AbortController().signal });
    expect(signalled).toEqual(plain);
  });
});

describe('a step program passes the run signal to nextToken', () => {
  it('an abort mid-pass stops the model at its next row; a seeded run is unchanged by a live signal', async () => {
    class Walk extends StepProgram {
      tokens: number[] = [];
      constructor(readonly lm: LanguageModel) {
        super();
      }
      async step(): Promise<void> {
        const y = (await this.sample(await nextToken(this.lm, this.tokens, { signal: this.signal }))) as number;
        if (y === this.lm.vocab.eos || this.tokens.length >= 5) return this.finish();
        this.tokens.push(y);
      }
    }
    const inner = new SlowUniform();
    const lm = wrapLanguageModel(inner, { cache: false });
    const after = await rowsAfterAbort(inner, (signal) => runStepPrograms(() => new Walk(lm), { particles: 24, seed: 2, signal, maxSteps: 8 }), 'stop walking');
    expect(after).toBeLessThanOrEqual(1); // without the signal the pass runs its 24 rows
    const texts = async (signal?: AbortSignal) => {
      const r = await runStepPrograms(() => new Walk(wrapLanguageModel(new SlowUniform(), { cache: false })), { particles: 6, seed: 2, maxSteps: 8, ...(signal ? { signal } : {}) });
      return JSON.stringify([r.logZ, [...r.logWeights], r.programs.map((p) => p.tokens)]);
    };
    expect(await texts(new AbortController().signal)).toBe(await texts());
  });
});

describe('the shipped transformer stops a pass between chunks', () => {
  const tlm = loadTransformerLM('kjv-char', { maxBatch: 2 });
  afterAll(() => tlm.dispose());

  it('extend under a signal aborted after its first chunk runs no further chunk', async () => {
    const fused = (tlm as unknown as { fused: { step: (...a: unknown[]) => unknown } }).fused;
    const step = fused.step.bind(fused);
    let chunks = 0;
    fused.step = (...a: unknown[]) => (chunks++, step(...a));
    try {
      const ac = new AbortController();
      const run = tlm.extend(
        Array.from({ length: 16 }, () => ({ cache: null, tokens: [] as number[] })),
        { signal: ac.signal },
      );
      setImmediate(() => ac.abort(new Error('stop')));
      await expect(run).rejects.toThrow('stop');
      const atReject = chunks;
      for (let i = 0; i < 10; i++) await turn();
      expect(chunks).toBe(atReject);
      expect(chunks).toBeLessThanOrEqual(2); // of 8 chunks
      // without a signal all 8 run and the rows equal
      chunks = 0;
      const all = await tlm.extend(Array.from({ length: 16 }, () => ({ cache: null, tokens: [] as number[] })));
      expect(chunks).toBe(8);
      const signalled = await tlm.extend(
        Array.from({ length: 16 }, () => ({ cache: null, tokens: [] as number[] })),
        { signal: new AbortController().signal },
      );
      expect(signalled.map((r) => [...r.logprobs])).toEqual(all.map((r) => [...r.logprobs]));
    } finally {
      fused.step = step;
    }
  });

  it('seeded steering results are sha256-identical with and without a signal', async () => {
    const digest = async (signal?: AbortSignal): Promise<string> => {
      const lm = wrapLanguageModel(tlm, { maxBatchSize: 16 });
      const r = await smcSteer({ lm, sampler: new DirectSampler(), particles: 12, maxTokens: 10, seed: 7, prompt: tlm.vocab.encode('And God said'), ...(signal ? { signal } : {}) });
      return createHash('sha256')
        .update(JSON.stringify([r.logZ, r.particles.map((p) => [p.text, p.logWeight])]))
        .digest('hex');
    };
    const plain = await digest();
    expect(await digest(new AbortController().signal)).toBe(plain);
  });
});

const available = await import('node-llama-cpp').then(
  () => true,
  () => false,
);
if (!available) console.warn('lm-abort-session19: the llama.cpp case is skipped: node-llama-cpp is not installed');

describe.skipIf(!available)('llama.cpp evaluates no prefix whose turn comes after the abort', () => {
  it('16 prefixes on 2 sequences, aborted after the first evaluation: at most the 2 under way run on', async () => {
    const { loadLlamaCpp } = await import('../../../src/steer/lm/llama-cpp.js');
    const dir = mkdtempSync(join(tmpdir(), 'tyche-gguf19-'));
    const src = loadTransformerLM('kjv-char');
    const path = join(dir, 'kjv-char.gguf');
    exportTransformerGGUF(src, path);
    src.dispose();
    const cpp = await loadLlamaCpp({ modelPath: path, sequences: 2, threads: 1 });
    try {
      const prefixes = Array.from({ length: 16 }, (_, i) => cpp.vocab.encode(`In the beginning ${String.fromCharCode(97 + i)}`));
      const ac = new AbortController();
      const run = cpp.nextTokenLogprobs(prefixes, { signal: ac.signal });
      run.catch(() => undefined);
      while (cpp.stats.evaluations < 1) await turn();
      ac.abort(new Error('stop'));
      const atAbort = cpp.stats.evaluations;
      await expect(run).rejects.toThrow('stop');
      // a call on both sequences waits for whatever the aborted call still runs, then runs its own 2
      const rows = await cpp.nextTokenLogprobs(prefixes.slice(0, 2));
      expect(rows[0]!.length).toBe(cpp.vocab.size);
      // of the 15 left at the abort, at most the 2 under way ran (a model ignoring the signal runs all 15)
      expect(cpp.stats.evaluations - atAbort - 2).toBeLessThanOrEqual(2);
    } finally {
      await cpp.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
