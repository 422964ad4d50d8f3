/**
 * NUTS chains on worker threads (`infer(..., { workers })`): the draws and
 * sampler statistics equal the sequential run's with the same seed; a model
 * error in a worker reaches the caller as a ModelError naming the site; an
 * AbortSignal stops the run; bad options get clear errors. The model module
 * is TypeScript (test/fixtures/worker-model.ts), loaded in the workers with
 * tsx's loader.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import { ModelError } from '../../src/core/model.js';
import { infer } from '../../src/index.js';
import type { HMCDiagnostics } from '../../src/infer/mcmc/hmc-engine.js';
import { BRANCHING_DATA, branching, failsInWorker } from '../fixtures/worker-model.js';

beforeAll(async () => {
  await initBackend('cpu');
});

const MODULE = new URL('../fixtures/worker-model.ts', import.meta.url);
const RUN = { method: 'nuts', chains: 2, warmup: 40, samples: 20, seed: 'w1' } as const;

describe('NUTS chains on worker threads', () => {
  it('give the same draws and statistics as the sequential run with the same seed', async () => {
    let progressCalls = 0;
    let lastProgress = { completed: 0, total: 0 };
    let t0 = performance.now();
    const parallel = await infer(branching, { ...RUN, workers: { module: MODULE, exportName: 'branching', threads: 2 }, onProgress: (p: { completed: number; total: number }) => { progressCalls++; lastProgress = p; } }, BRANCHING_DATA);
    const parallelMs = performance.now() - t0;
    t0 = performance.now();
    const sequential = await infer(branching, { ...RUN, vectorize: false }, BRANCHING_DATA);
    console.log(`2 chains x (${RUN.warmup} + ${RUN.samples}): 2 workers ${parallelMs.toFixed(0)} ms (startup included), sequential ${(performance.now() - t0).toFixed(0)} ms`);
    const auto = await infer(branching, RUN, BRANCHING_DATA);
    const dp = parallel.diagnostics as unknown as HMCDiagnostics;
    const ds = sequential.diagnostics as unknown as HMCDiagnostics;
    expect(dp.vectorized).toMatch(/worker threads/);
    expect((auto.diagnostics as unknown as HMCDiagnostics).vectorized).toMatch(/fell back/);
    for (const site of ['mu', 'sigma']) {
      const a = parallel.draws.map((d) => d.values[site]);
      expect(a).toHaveLength(RUN.chains * RUN.samples);
      expect(a).toEqual(sequential.draws.map((d) => d.values[site]));
      expect(a).toEqual(auto.draws.map((d) => d.values[site]));
    }
    expect(parallel.draws.map((d) => d.chain)).toEqual(sequential.draws.map((d) => d.chain));
    // the workers evaluate the log density the way the main thread does (the `compile` option)
    expect((dp as { compiled?: unknown }).compiled).toEqual((ds as { compiled?: unknown }).compiled);
    expect(dp.compileStats?.evaluations).toBe(ds.compileStats?.evaluations); // counted per chain in the threads, added up
    expect(dp.stepSize).toEqual(ds.stepSize);
    expect(dp.gradientEvaluationsPerChain).toEqual(ds.gradientEvaluationsPerChain);
    dp.stats.forEach((s, c) => {
      expect(Array.from(s.treeDepth)).toEqual(Array.from(ds.stats[c]!.treeDepth));
      expect(Array.from(s.logDensity)).toEqual(Array.from(ds.stats[c]!.logDensity));
    });
    expect(progressCalls).toBeGreaterThan(0);
    expect(lastProgress.total).toBe(RUN.chains * (RUN.warmup + RUN.samples));
  });

  it('a model error in a worker reaches the caller as a ModelError naming the site', async () => {
    const run = infer(failsInWorker, { ...RUN, chains: 2, workers: { module: MODULE, exportName: 'failsInWorker', threads: 1 } });
    await expect(run).rejects.toBeInstanceOf(ModelError);
    await expect(run).rejects.toMatchObject({ address: 'mu', message: expect.stringMatching(/site "mu": duplicate address/) });
  });

  it('a missing export, a wrong model, and arguments that cannot be copied are clear errors', async () => {
    const one = { module: MODULE, threads: 1 };
    await expect(infer(branching, { ...RUN, workers: { ...one, exportName: 'nope' } }, BRANCHING_DATA)).rejects.toThrow(/export "nope" of .*worker-model\.ts is missing/);
    await expect(infer(branching, { ...RUN, workers: { ...one, exportName: 'other' } }, BRANCHING_DATA)).rejects.toThrow(/not the model passed to infer/);
    const withMethod = Object.assign([...BRANCHING_DATA], { describe: () => 'data' });
    await expect(infer(branching, { ...RUN, workers: { ...one, exportName: 'branching' } }, withMethod)).rejects.toThrow(/plain data/);
    await expect(infer(branching, { ...RUN, workers: { module: MODULE, exportName: 'branching', threads: 0 } }, BRANCHING_DATA)).rejects.toThrow(/threads must be a positive integer/);
  });

  it('a module that starts a run with workers at import, naming itself as the module, is an error (not workers starting workers without end)', async () => {
    await expect(import('../fixtures/worker-self-start.js')).rejects.toThrow(/called inside a chain worker thread, while it imported .*worker-self-start\.ts: that module starts a run with workers when it is imported/);
  });

  it('an AbortSignal terminates the workers and rejects with its reason', async () => {
    const controller = new AbortController();
    const t0 = performance.now();
    const run = infer(branching, { ...RUN, chains: 2, warmup: 5000, samples: 5000, signal: controller.signal, workers: { module: MODULE, exportName: 'branching', threads: 1 }, onProgress: () => controller.abort(new Error('stop now')) }, BRANCHING_DATA);
    await expect(run).rejects.toThrow('stop now');
    expect(performance.now() - t0).toBeLessThan(30_000);
  });
});
