/**
 * The batched probe's gate (`smc/probe-gate.ts`, JUMP session 14): program
 * SMC's default (`batched: 'auto'`) probes a batched run of a few particles
 * and checks each against a run on its own; the probe now waits after its
 * first eighth of sites and checks those first, so a program that branches
 * on a draw is refused after a few steps instead of a whole batched run.
 *
 * Checked here, with the gate switched off through a mock of `gateSites` for
 * the comparisons: the jump walk's batched probe stops at the gate (steps
 * its batched execution ran, counted by the model), the refusal names a
 * site before the gate, and the answer (log Z, bit for bit) is the one
 * without the gate; a program that runs batched still does, with the log Z
 * it has without the gate (the gate only makes the probe wait); tensors
 * are freed after a probe stopped at its gate.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import { model } from '../../src/core/model.js';
import { Bernoulli } from '../../src/distributions/bernoulli.js';
import { Normal } from '../../src/distributions/normal.js';
import { infer } from '../../src/infer/registry.js';
import '../../src/infer/smc/program.js';
import '../../src/infer/importance.js';

const gate = vi.hoisted(() => ({ off: false }));
vi.mock('../../src/infer/smc/probe-gate.js', async (original) => {
  const real = await original<typeof import('../../src/infer/smc/probe-gate.js')>();
  return { ...real, gateSites: (reference: number) => (gate.off ? undefined : real.gateSites(reference)) };
});

beforeAll(async () => {
  await initBackend();
});

/** Observations of a walk, T = 60 (a reference run of 1 + 59 + 60 = 120 sites, or 179 with the jumps' draws: both gated). */
const YS = Array.from({ length: 60 }, (_, t) => Math.sin(t / 7) * 2 + ((t * 37) % 11) / 10);

/** Steps run with a tensor state (the batched probe's and run's steps: the per-particle runtimes hold numbers). */
let tensorSteps = 0;

/** The walk with jumps (control flow on a Bernoulli draw), counting its steps run with a tensor state. */
const jumps = model(async ({ sample, observe }, ys: number[]) => {
  let x = await sample('x0', Normal(0, 1));
  for (let t = 0; t < ys.length; t++) {
    if (t > 0) {
      const jump = await sample(`j${t}`, Bernoulli(0.1));
      x = jump === 1 ? await sample(`x${t}`, Normal(0, 5)) : await sample(`x${t}`, Normal(x, 0.5));
    }
    if (typeof x !== 'number') tensorSteps++;
    await observe(`y${t}`, Normal(x, 1), ys[t]);
  }
  return x;
});

/** The walk without jumps: it runs batched. */
const walk = model(async ({ sample, observe }, ys: number[]) => {
  let x = await sample('x0', Normal(0, 1));
  for (let t = 0; t < ys.length; t++) {
    if (t > 0) x = await sample(`x${t}`, Normal(x, 0.5));
    await observe(`y${t}`, Normal(x, 1), ys[t]);
  }
  return x;
});

describe('the batched probe stops at its gate where its first part shows a branch on a draw', () => {
  it('the jump walk: batched steps 60 -> at most the gate, a site before the gate named, log Z bit for bit the same (seeds 0-3)', async () => {
    for (let seed = 0; seed < 4; seed++) {
      const runs: { steps: number; logZ: number; why: string }[] = [];
      for (const off of [true, false]) {
        gate.off = off;
        tensorSteps = 0;
        // (grouped: false: a grouped attempt runs the model's first site with a tensor, counted as a tensor step)
        const post = await infer(jumps, { method: 'smc', particles: 100, seed, grouped: false }, YS);
        expect(post.diagnostics.execution).toBe('per-particle');
        runs.push({ steps: tensorSteps, logZ: post.logZ, why: String(post.diagnostics.notBatched) });
        post.dispose();
      }
      gate.off = false;
      const [without, gated] = runs;
      // without the gate the probe runs all 60 steps batched; with it, the first eighth of 179 sites: 23, within step 8
      expect(without.steps).toBe(60);
      expect(gated.steps).toBeLessThanOrEqual(8);
      const step = Number(/at "x(\d+)"/.exec(gated.why)?.[1]);
      expect(step).toBeLessThanOrEqual(7);
      expect(gated.why).toMatch(/control flow depends on a random value/);
      expect(gated.logZ).toBe(without.logZ);
    }
  });

  it('a program that runs batched still does, with the log Z it has without the gate (smc and importance, seeds 0-2)', async () => {
    for (let seed = 0; seed < 3; seed++) {
      for (const method of ['smc', 'importance'] as const) {
        const z: number[] = [];
        for (const off of [true, false]) {
          gate.off = off;
          const post = await infer(walk, { method, particles: 200, seed }, YS);
          if (method === 'smc') expect(post.diagnostics.execution).toBe('batched');
          z.push(post.logZ);
          post.dispose();
        }
        gate.off = false;
        expect(z[1]).toBe(z[0]);
      }
    }
  });

  it('a probe stopped at its gate frees its tensors', async () => {
    (await infer(jumps, { method: 'smc', particles: 50, seed: 'warm-up' }, YS)).dispose();
    const before = tf.memory().numTensors;
    for (let seed = 0; seed < 3; seed++) (await infer(jumps, { method: 'smc', particles: 50, seed }, YS)).dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
