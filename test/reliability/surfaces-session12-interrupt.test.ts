/**
 * SURFACES, session 12: a Jupyter kernel interrupt under tslab stops the
 * running inference. tslab answers SIGINT by ending the cell, but the
 * awaited promise ran on (measured with jupyter_client on the session-start
 * code: a NUTS run interrupted at 8 s still drawing 40 s later, the next
 * cell's `infer` queued behind it). Simulated here as tslab's kernel looks
 * to tyche: `globalThis.__tslab__` set before tyche loads, then SIGINT.
 */
import { beforeAll, describe, expect, test, vi } from 'vitest';

vi.hoisted(() => {
  (globalThis as { __tslab__?: unknown }).__tslab__ = {};
});

import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/backend/select.js';
import { Normal, infer, model } from '../../src/index.js';
import { inferenceCallsPending } from '../../src/infer/one-at-a-time.js';

beforeAll(async () => {
  await initBackend('cpu');
});

const m = model(async ({ sample, observe }) => {
  const mu = await sample('mu', Normal(0, 1));
  await observe('y', Normal(mu, 1), 0.5);
}, { name: 'interrupted' });

describe('a kernel interrupt (SIGINT under tslab) stops the running infer', () => {
  test.each([
    ['importance', { method: 'importance', particles: 5_000_000, seed: 1 }],
    ['nuts', { method: 'nuts', chains: 1, warmup: 50, samples: 5_000_000, seed: 1 }],
  ])('%s: rejects with an AbortError soon after, frees its tensors, and the next call runs', async (_name, options) => {
    const before = tf.memory().numTensors;
    const outcome = infer(m, options as never).then(() => 'finished', (e: unknown) => e);
    await new Promise((r) => setTimeout(r, 3000));
    const sent = Date.now();
    process.emit('SIGINT');
    const err = await outcome;
    const stopMs = Date.now() - sent;
    expect((err as Error).message).toMatch(/Jupyter kernel interrupt/);
    expect((err as Error).name).toBe('AbortError');
    expect(stopMs).toBeLessThan(5_000);
    expect(inferenceCallsPending()).toBe(0);
    expect(tf.memory().numTensors).toBe(before);
    // the next call is not stopped by the old interrupt
    const post = await infer(m, { method: 'importance', particles: 100, seed: 2 });
    expect(Number.isFinite(post.moments('mu').mean)).toBe(true);
    post.dispose();
  }, 60_000);
});
