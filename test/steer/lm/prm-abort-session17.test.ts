/**
 * Session 17 (STEERUSER3): the step methods held the event loop while the shipped reward model scored a batch (one
 * synchronous forward pass: 150-250 ms of main-thread CPU at 64 texts on wasm, load 14; ~3.7 s on the pure-JS cpu
 * backend), so an abort landed only after it. Scoring smaller batches would bound that but changes seeded results on
 * wasm (a text's score depends on its batch's padding). `ProcessRewardModel.score` given a signal now runs the same
 * forward pass in pieces (embedding, each block's attention and feed-forward halves, head) with a turn of the event
 * loop between them: the same ops on the same batch, so the same scores bit for bit. The step methods pass their
 * signal to the reward model. Event-loop turns are counted, never wall time (FLAKE, session 16).
 */
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { wrapLanguageModel } from '../../../src/steer/lm/cached.js';
import { extractAnswer } from '../../../src/steer/lm/arithmetic.js';
import { particleFilterSteps } from '../../../src/steer/lm/scaling/pf.js';
import type { StepRewardModel } from '../../../src/steer/lm/scaling/types.js';
import { loadProcessRewardModel, loadTransformerLM } from '../../../src/steer/lm/transformer/files.js';

const prm = loadProcessRewardModel('arith-prm');
const texts = ['Q: 3+4*2-7 A: 4*2=8;', 'Q: 3+4*2-7 A: 4*2=8;3+8=11;', 'Q: 9-2*3 A:', 'Q: 6*2+3-4 A: 6*2=12;12+3=15;15-4=11;#11'];
afterAll(() => prm.dispose());

/** Counts turns of the event loop (setImmediate) while `work` runs. */
async function turnsDuring<T>(work: () => Promise<T>): Promise<{ value: T; turns: number }> {
  let turns = 0;
  let on = true;
  const tick = (): void => {
    if (!on) return;
    turns++;
    setImmediate(tick);
  };
  setImmediate(tick);
  try {
    const value = await work();
    return { value, turns };
  } finally {
    on = false;
  }
}

/** Settles pending turns (the reward model stops at its next piece after the run has rejected). */
async function settle(): Promise<void> {
  for (let i = 0; i < 4; i++) await new Promise((r) => setImmediate(r));
}

describe('ProcessRewardModel.score with a signal', () => {
  it('gives the same scores bit for bit, and lets the event loop turn between its pieces', async () => {
    const pieces = 2 * prm.config.nLayers + 1; // the waits: before each block half and before the head
    for (const complete of [false, true]) {
      const plain = await turnsDuring(() => prm.score(texts, { complete }));
      const paced = await turnsDuring(() => prm.score(texts, { complete, signal: new AbortController().signal }));
      expect(Array.from(paced.value)).toEqual(Array.from(plain.value));
      expect(plain.turns).toBe(0); // without a signal: one pass, as before
      expect(paced.turns).toBeGreaterThanOrEqual(pieces);
    }
  });

  it('stops at the next piece once aborted, frees what it held, and rejects with the reason', async () => {
    await prm.score(texts); // warm (kernels)
    const before = tf.memory().numTensors;
    const ac = new AbortController();
    let turns = 0;
    const tick = (): void => {
      if (++turns === 2) ac.abort(new Error('stop scoring'));
      else if (!ac.signal.aborted) setImmediate(tick);
    };
    setImmediate(tick);
    await expect(prm.score(texts, { signal: ac.signal })).rejects.toThrow(/stop scoring/);
    expect(turns).toBe(2); // it stopped inside the pass: the pass has 2 L + 1 waits
    expect(tf.memory().numTensors).toBe(before);
    await expect(prm.score(texts, { signal: ac.signal })).rejects.toThrow(/stop scoring/); // aborted before it starts
  });
});

describe('step methods pass their signal to the reward model', () => {
  it('the reward model sees the run signal; an abort during scoring stops the scoring too', async () => {
    const lm = wrapLanguageModel(loadTransformerLM('arith-char'));
    try {
      const seen: (AbortSignal | undefined)[] = [];
      const spy: StepRewardModel = { name: 'spy', score: (t, o) => (seen.push(o?.signal), prm.score(t, o)) };
      const ac = new AbortController();
      const opts = { particles: 3, seed: 3, maxSteps: 2, answerOf: extractAnswer };
      const quiet = await particleFilterSteps(lm, prm, 'Q: 3+4*2-7 A:', opts);
      const res = await particleFilterSteps(lm, spy, 'Q: 3+4*2-7 A:', { ...opts, signal: ac.signal });
      expect(seen.length).toBeGreaterThan(0);
      expect(seen.every((s) => s === ac.signal)).toBe(true);
      expect(res.logZ).toBe(quiet.logZ); // the paced scoring changes no result
      expect(res.candidates).toEqual(quiet.candidates);
      // an abort from inside the reward model's pass: the run rejects and the pass stops at its next piece
      lm.clearCache();
      const before = tf.memory().numTensors;
      const stop = new AbortController();
      let outcome: Promise<unknown> | undefined;
      const aborting: StepRewardModel = {
        name: 'aborting',
        score: (t, o) => {
          const p = prm.score(t, o);
          outcome = p.then(
            () => 'finished',
            (e: Error) => e.message,
          );
          setImmediate(() => stop.abort(new Error('user stop')));
          return p;
        },
      };
      await expect(particleFilterSteps(lm, aborting, 'Q: 3+4*2-7 A:', { ...opts, signal: stop.signal })).rejects.toThrow(/user stop/);
      expect(await outcome).toBe('user stop');
      await settle();
      lm.clearCache();
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      lm.dispose();
    }
  });
});
