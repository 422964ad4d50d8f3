/**
 * Slow tier (TYCHE_SLOW=1) of token-level steering on the shipped text
 * transformer (kjv-char): `tf.memory().numTensors` stays flat over 10^4
 * steered tokens (four runs of 64 particles, up to 40 tokens each, KV caches
 * through the wrapper), every returned string satisfies the constraint, and
 * an AbortSignal stops a run within one token step with nothing left behind.
 */
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { initBackend } from '../../../src/backend/select.js';
import { wrapLanguageModel } from '../../../src/steer/lm/cached.js';
import { AutomatonPotential } from '../../../src/steer/lm/potentials/automaton.js';
import { LocallyOptimalSampler } from '../../../src/steer/lm/samplers/locally-optimal.js';
import { smcSteer } from '../../../src/steer/lm/smc/steer.js';
import { loadTransformerLM } from '../../../src/steer/lm/transformer/files.js';

const slow = process.env.TYCHE_SLOW ? describe : describe.skip;

slow('steering the shipped kjv-char transformer', () => {
  it('numTensors is flat over 10^4 steered tokens, and every string has no letter e', async () => {
    await initBackend();
    const base = loadTransformerLM('kjv-char');
    const pattern = '[^eE]*';
    const counts: number[] = [];
    let tokens = 0;
    for (let r = 0; tokens < 10_000; r++) {
      const lm = wrapLanguageModel(base);
      const res = await smcSteer({ lm, potential: new AutomatonPotential(base.vocab, pattern), sampler: new LocallyOptimalSampler(), particles: 64, maxTokens: 40, seed: r });
      tokens += res.tokens;
      for (const p of res.particles) if (p.alive) expect(/e/i.test(p.text)).toBe(false);
      lm.clearCache(); // frees its KV caches (dispose() would free the model too)
      counts.push(tf.memory().numTensors);
    }
    expect(tokens).toBeGreaterThanOrEqual(10_000);
    expect(new Set(counts).size, `numTensors after each run: ${counts.join(', ')}`).toBe(1);

    const ac = new AbortController();
    const lm = wrapLanguageModel(base);
    let steps = 0;
    const run = smcSteer({
      lm,
      potential: new AutomatonPotential(base.vocab, pattern),
      sampler: new LocallyOptimalSampler(),
      particles: 16,
      maxTokens: 100,
      seed: 9,
      signal: ac.signal,
      onStep: (info) => {
        steps = info.t + 1;
        if (info.t === 4) ac.abort(new Error('enough'));
      },
    });
    await expect(run).rejects.toThrow('enough');
    expect(steps).toBe(5);
    lm.clearCache();
    expect(tf.memory().numTensors).toBe(counts[0]);
    base.dispose();
  });
});
