/**
 * The in-page half of bench/browser.ts: NUTS with vectorised chains and a
 * particle filter with many particles, timed on whichever backend
 * `initBackend` is switched to in the same page (WebGL, then wasm).
 */
import '../src/main.js';
import * as tf from '@tensorflow/tfjs-core';
import { type BackendName, Normal, backendInfo, infer, initBackend, model, ops } from '../src/index.js';
import { linearGaussianStateSpace, particleFilter } from '../src/infer/smc/index.js';

/** Eight schools, non-centred, with `ops`: all chains in one batched computation. */
const y = [28, 8, -3, 7, -1, 1, 18, 12];
const sigma = [15, 10, 16, 11, 9, 11, 10, 18];
const schools = model(async ({ sample, observe, plate }) => {
  const mu = await sample('mu', Normal(0, 5));
  const tau = ops.exp(await sample('logTau', Normal(0, 1)));
  await plate('school', y.length, async (_i, p) => {
    const z = await p.sample('z', Normal(0, 1));
    await p.observe('y', Normal(ops.add(mu, ops.mul(tau, z)), tf.tensor1d(sigma)), tf.tensor1d(y));
  });
});

/** One timing. */
export interface BenchTiming {
  readonly backend: string;
  readonly task: string;
  readonly ms: number;
  readonly check: number;
}

/** The settings of one bench run. */
export interface BenchSettings {
  readonly chains: number;
  readonly warmup: number;
  readonly samples: number;
  readonly particles: number;
  readonly steps: number;
}

async function nuts(s: BenchSettings, seed: number): Promise<number> {
  // compile: false keeps the log density on tensors (the backend's work), not the float64 JS replay
  const post = await infer(schools, { method: 'nuts', chains: s.chains, warmup: s.warmup, samples: s.samples, compile: false, vectorize: true, seed });
  const m = post.moments('mu').mean;
  post.dispose();
  return m;
}

async function smc(s: BenchSettings, seed: number): Promise<number> {
  const ys = Array.from({ length: s.steps }, (_, t) => Math.sin(t / 5) * 2);
  const res = await particleFilter(linearGaussianStateSpace({ m0: 0, s0: 1, q: 0.5, r: 1 }, ys), { particles: s.particles, seed, filteringMeans: false });
  const z = res.logZ;
  res.dispose();
  return z;
}

/** Switch to `backend` (no tensor is alive between runs), warm up once, then time `reps` runs of each task. */
async function runOn(backend: BackendName, s: BenchSettings, reps: number): Promise<BenchTiming[]> {
  await initBackend(backend);
  const out: BenchTiming[] = [];
  for (const [task, fn] of [
    [`nuts ${s.chains} chains`, nuts],
    [`smc ${s.particles} particles`, smc],
  ] as const) {
    await fn({ ...s, warmup: 5, samples: 5, steps: 3 }, 0);
    for (let r = 0; r < reps; r++) {
      const t0 = performance.now();
      const check = await fn(s, r + 1);
      out.push({ backend: backendInfo()!.name, task, ms: performance.now() - t0, check });
    }
  }
  return out;
}

(globalThis as Record<string, unknown>).tycheBench = { runOn };
