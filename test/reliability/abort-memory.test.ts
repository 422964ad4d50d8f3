/**
 * Reliability tier, abort and memory (issue 11 items 5, 6, 7): for every
 * long-running engine, an abort lands within 100 ms of CPU time of the signal
 * (the work done after it; and within 2 s of wall time) and the run rejects
 * with the signal's reason (leaving no tensor behind); the live tensor
 * count (and, loosely, RSS) stays flat over 10 repeated runs whose posteriors
 * are disposed; the same seed gives the same result. The cases are shared
 * with `scripts/reliability/abort-memory.ts`, which prints the table.
 *
 * Each check is also run once on a deliberately broken runner (a loop that
 * never yields, a run that leaks a tensor) to show that it can fail.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, test } from 'vitest';
import { Bernoulli, Normal, infer, initBackend, model } from '../../src/index.js';
import { cpuMs } from '../helpers/cpu-time.js';
import { CASES, measureAbort, measureAbortOf, measureMemory, measureMemoryOf, measureSeed, type AbortResult } from './abort-memory-cases.js';

/**
 * Abort latency the issue asks for, in CPU milliseconds of this process from `abort()` to the rejection: the
 * work a run does after the abort. Wall time on a loaded machine also holds the OS's time for other processes
 * (FLAKE, session 16: at load 18 the wall latency reached 61 ms where the CPU latency was 15 ms).
 */
const LATENCY_MS = 100;
/** Wall-clock bound on the same latency, only against a run that idles on after an abort (no CPU spent, never settling). */
const HANG_MS = 2000;
/** RSS growth allowed over 10 small runs (loose: the heap grows and shrinks on its own). */
const RSS_SLACK_MB = 64;

beforeAll(async () => {
  await initBackend();
});

describe.each(CASES.map((c) => [c.engine, c] as const))('%s', (_name, c) => {
  test('an abort lands within 100 ms of CPU and rejects with the signal\'s reason, leaving no tensor behind', async () => {
    // up to 3 tries, the first within the limits counts (a major GC can land after the abort); an engine
    // that does not yield, or checks its signal too seldom, misses on every try
    const late = (r: AbortResult): boolean => r.cpuLatencyMs > LATENCY_MS || r.latencyMs > HANG_MS;
    let r = await measureAbort(c);
    for (let k = 1; k < 3 && r.aborted && late(r); k++) r = await measureAbort(c);
    expect(r.outcome).toBe('AbortError');
    expect(r.aborted).toBe(true);
    expect(r.cpuLatencyMs, `${r.cpuLatencyMs.toFixed(1)} ms of CPU, ${r.latencyMs.toFixed(1)} ms of wall time`).toBeLessThanOrEqual(LATENCY_MS);
    expect(r.latencyMs).toBeLessThanOrEqual(HANG_MS);
  });

  test('numTensors (and RSS, loosely) stay flat over 10 runs with disposed posteriors', async () => {
    const m = await measureMemory(c);
    expect(m.tensorsAfterN).toBe(m.tensorsAfter1);
    expect(m.rssMbAfterN - m.rssMbAfter1).toBeLessThan(RSS_SLACK_MB);
  });

  test('the same seed gives the same result', async () => {
    const [a, b] = await measureSeed(c);
    expect(Number.isFinite(a)).toBe(true);
    expect(b).toBe(a);
  });
});

describe('the checks can fail', () => {
  test('a loop that checks the signal but never yields to the event loop is reported as not aborted', async () => {
    // what importance, smc, tempered, mh and neutra did before: the timer that aborts never gets to run
    const r = await measureAbortOf(async (signal) => {
      for (let i = 0; i < 600; i++) {
        signal.throwIfAborted();
        const end = performance.now() + 1;
        while (performance.now() < end); // one unit of work
        await Promise.resolve(); // microtasks only
      }
      return { dispose() {} };
    });
    expect(r.aborted).toBe(false);
    expect(r.outcome).toMatch(/finished .* before the abort/);
  });

  test('a loop that yields but looks at the signal only every 150 ms of work is reported late in CPU time', async () => {
    const r = await measureAbortOf(async (signal) => {
      for (let i = 0; i < 40; i++) {
        await new Promise((resolve) => setImmediate(resolve)); // the timer that aborts gets through
        const end = cpuMs() + 150;
        while (cpuMs() < end); // 150 ms of work before the next look at the signal
        signal.throwIfAborted();
      }
      return { dispose() {} };
    });
    expect(r.aborted).toBe(true);
    expect(r.cpuLatencyMs).toBeGreaterThan(LATENCY_MS);
  });

  test('a run that keeps a tensor per run is reported as not flat', async () => {
    const kept: tf.Tensor[] = [];
    const m = await measureMemoryOf(async () => {
      kept.push(tf.scalar(1));
      return { dispose() {} };
    }, 3);
    expect(m.tensorsAfterN - m.tensorsAfter1).toBe(2);
    tf.dispose(kept);
  });
});

describe('nested inference and run ledgers', () => {
  const inner = model(async ({ sample, observe }) => {
    const p = await sample('p', Normal(0, 1));
    await observe('y', Normal(p, 1), 0.5);
  });
  const outer = model(async ({ sample, factor }) => {
    const z = (await sample('z', Normal(0, 1))) as number;
    const post = await infer(inner, { method: 'importance', particles: 5, seed: 1 });
    const m = post.moments('p').mean;
    post.dispose();
    await factor('f', -Math.abs(m - z));
  });

  // importance and mh hold the gradient lock per execution: the inner run re-enters it (same async context)
  test.each([
    ['smc', { particles: 8 }],
    ['tempered', { particles: 8 }],
    ['importance', { particles: 8 }],
    ['mh', { samples: 8, warmup: 0 }],
  ] as const)('%s: a model may run inference itself (no deadlock, no leak)', async (method, opts) => {
    const before = tf.memory().numTensors;
    const post = await infer(outer, { method, seed: 1, ...opts });
    expect(post.size).toBe(8);
    post.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  test('tensors made concurrently outside the run are left alone', async () => {
    const outside: tf.Tensor[] = [];
    const timer = setInterval(() => outside.push(tf.scalar(1)), 1);
    // the general per-particle runtime, whose particles interleave with the timer (the vector model now runs batched, in one go)
    const post = await infer(CASES[1]!.model, { method: 'smc', particles: 300, seed: 1, batched: false, lean: false });
    clearInterval(timer);
    expect(outside.length).toBeGreaterThan(0);
    expect(outside.filter((t) => t.isDisposed)).toHaveLength(0);
    post.dispose();
    tf.dispose(outside);
  });
});

describe('Posterior.dispose', () => {
  test('frees the draws\' tensors but not the model\'s arguments; queries afterwards are a clear error', async () => {
    const data = tf.tensor1d([0.5, 1.5]);
    const m = model(async ({ sample, observe, deterministic }, y: tf.Tensor) => {
      const v = await sample('v', Normal(0, 1).expand([2]));
      await observe('y', Normal(v, 1), y);
      deterministic('data', y);
    });
    const before = tf.memory().numTensors;
    const post = await infer(m, { method: 'importance', particles: 20, seed: 1 }, data);
    expect(tf.memory().numTensors).toBeGreaterThan(before);
    post.dispose();
    expect(tf.memory().numTensors).toBe(before);
    expect(data.isDisposed).toBe(false);
    expect(post.isDisposed).toBe(true);
    expect(() => post.moments('v[0]')).toThrow(/importance posterior has been disposed/);
    post.dispose(); // twice is harmless
    data.dispose();
  });

  test('Symbol.dispose frees it too', async () => {
    const post = await infer(model(async ({ sample }) => sample('v', Normal(0, 1).expand([3]))), { method: 'importance', particles: 5, seed: 1 });
    const before = tf.memory().numTensors;
    (post as unknown as Record<symbol, () => void>)[Symbol.dispose]();
    expect(tf.memory().numTensors).toBe(before - 5);
  });
});

describe('enumerate on a path that never ends (issue 11 item 7)', () => {
  // geometric by coin flips: recurse on tails; the first path (all tails) never ends
  const geometric = model(async ({ sample }) => {
    const flip = async (n: number): Promise<number> => ((await sample(`c${n}`, Bernoulli(0.5))) === 0 ? flip(n + 1) : n);
    return flip(0);
  });

  test('maxSites turns it into an error naming the site', async () => {
    await expect(infer(geometric, { method: 'enumerate', maxExecutions: 5, maxSites: 1000 })).rejects.toThrow(/site "c1000": one execution passed 1000 sample\/factor sites here \(enumerate maxSites = 1000\)/);
  });

  test('the default limit stops it too', async () => {
    await expect(infer(geometric, { method: 'enumerate', maxExecutions: 5 })).rejects.toThrow(/site "c100000"/);
  });

  test('a signal aborts it inside the one execution', async () => {
    // 100 ms into the execution; the abort's latency in CPU time (wall time under load holds other processes' turns)
    const r = await measureAbortOf(async (signal) => {
      await infer(geometric, { method: 'enumerate', maxSites: 1e12, signal });
      return { dispose() {} };
    }, 100);
    expect(r.outcome).toBe('AbortError');
    expect(r.cpuLatencyMs).toBeLessThanOrEqual(LATENCY_MS);
    expect(r.latencyMs).toBeLessThanOrEqual(HANG_MS);
  });
});
