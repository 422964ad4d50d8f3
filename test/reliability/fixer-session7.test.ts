/**
 * FIXER, session 7: regressions for the bugs fixed here, each failing on the
 * code before its fix.
 *
 * 1. vi's final draws (`svi.sample`) took no signal: an abort during them
 *    waited for all `samples` (and the model runs after them never yielded).
 * 4. particleGibbsSteps made `iterations + 1` random streams before its first
 *    sweep (iterations: 1e9 hung).
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import { Rng } from '../../src/core/rng.js';
import { infer } from '../../src/index.js';
import * as Lm from '../../src/steer/lm/index.js';
import { gaussModel } from './abort-memory-cases.js';

beforeAll(async () => {
  await initBackend('cpu');
});

describe('1. vi: an abort during the final draws', () => {
  it('rejects with the signal\'s reason soon after the abort and leaves no tensor (it finished all 300k draws first: ~6 s)', async () => {
    const before = tf.memory().numTensors;
    const ac = new AbortController();
    const reason = new Error('stop the draws');
    let abortedAt = NaN;
    // 100 ms after the last step: the final draws (or the model runs after them) are under way
    const onStep = (p: { step: number; steps: number }) => {
      if (p.step === p.steps)
        setTimeout(() => {
          abortedAt = performance.now();
          ac.abort(reason);
        }, 100);
    };
    const t0 = performance.now();
    const run = infer(gaussModel, { method: 'vi', steps: 5, samples: 300_000, seed: 1, signal: ac.signal, onStep });
    let thrown: unknown;
    try {
      await run;
    } catch (err) {
      thrown = err;
    }
    const end = performance.now();
    expect(thrown).toBe(reason);
    expect(end - t0).toBeGreaterThan(100);
    expect(end - abortedAt).toBeLessThan(1000);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('4. particleGibbsSteps splits its random streams lazily', () => {
  it('Rng.splitAt(k) is the k-th split, and leaves the split count alone', () => {
    const a = new Rng('pg');
    const splits = a.splitN(5);
    const b = new Rng('pg');
    expect(b.splitAt(5).normals(3)).toEqual(splits[4]!.normals(3));
    expect(b.split().normals(3)).toEqual(new Rng('pg').split().normals(3));
    expect(() => b.splitAt(0)).toThrow(/splitAt: k must be a positive integer, got 0/);
  });

  it('iterations: 1e6 starts its first sweep at once (it made 1e6 + 1 streams first), and an abort in it stops the run', async () => {
    const lm = Lm.MarkovLM.random(Lm.TokenVocabulary.characters('ab;#12'), new Rng('fixer-pg'), { eos: 1e-6 });
    const ac = new AbortController();
    const reason = new Error('stop the sweeps');
    let splitsBeforeScore = -1;
    let splits = 0;
    const split = Rng.prototype.split;
    Rng.prototype.split = function (this: Rng) {
      splits++;
      return split.call(this);
    };
    const prm: Lm.StepRewardModel = {
      name: 'stops',
      score: async (texts) => {
        if (splitsBeforeScore < 0) splitsBeforeScore = splits;
        ac.abort(reason);
        return texts.map(() => 0.5);
      },
    };
    try {
      await expect(Lm.particleGibbsSteps(lm, prm, '', { particles: 3, iterations: 1_000_000, seed: 1, signal: ac.signal, maxSteps: 2, maxTokens: 8 })).rejects.toBe(reason);
    } finally {
      Rng.prototype.split = split;
    }
    expect(splitsBeforeScore).toBeGreaterThan(0);
    expect(splitsBeforeScore).toBeLessThan(1000);
  });
});
