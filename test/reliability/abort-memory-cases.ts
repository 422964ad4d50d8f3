/**
 * The reliability tier's abort and memory checks, shared by
 * `test/reliability/abort-memory.test.ts` (which asserts them) and
 * `scripts/reliability/abort-memory.ts` (which prints the table).
 *
 * For every long-running engine: how long after `abort()` the run's promise
 * rejects (a run sized to last far longer, aborted mid-way), the live tensor
 * count and RSS over repeated small runs whose posteriors are disposed, and
 * whether two runs with the same seed agree.
 */
import * as tf from '@tensorflow/tfjs-core';
import { type Ctx, type Posterior, Bernoulli, Normal, infer, model } from '../../src/index.js';
import { cpuMs } from '../helpers/cpu-time.js';

/** Observations of the continuous model. */
const YS = [0.3, -0.5, 1.2, 0.8, 0.1];

/** A continuous model with tensor-valued work (a vector observation, a deterministic). */
export const gaussModel = model(async ({ sample, observe, deterministic }: Ctx) => {
  const mu = await sample('mu', Normal(0, 1));
  for (let i = 0; i < YS.length; i++) await observe(`y${i}`, Normal(mu, 1), YS[i]);
  deterministic('mu2', tf.mul(mu, 2));
  return mu;
}, { name: 'gauss' });

/** A model of the particle engines: a tensor-valued latent and tensors made in the model body. */
export const vectorModel = model(async ({ sample, observe, deterministic }: Ctx) => {
  const v = (await sample('v', Normal(0, 1).expand([4]))) as tf.Tensor;
  const shifted = tf.add(v, 0.5); // an intermediate the engine must free
  await observe('y', Normal(shifted, 1), YS.slice(0, 4));
  const mu = deterministic('mu', tf.mean(v));
  return mu;
}, { name: 'vector' });

/** A long stream of observations: SMC runs one step per observation. */
export const streamModel = model(async ({ sample, observe }: Ctx) => {
  const v = (await sample('v', Normal(0, 1).expand([4]))) as tf.Tensor;
  for (let i = 0; i < 1e9; i++) await observe(`y${i}`, Normal(tf.add(v, 0.5), 1), YS.slice(0, 4));
}, { name: 'stream' });

/** A mixed model for hmc-gibbs: a coin and a continuous site. */
export const mixedModel = model(async ({ sample, observe }: Ctx) => {
  const z = await sample('z', Bernoulli(0.5));
  const mu = await sample('mu', Normal(z, 1));
  for (let i = 0; i < YS.length; i++) await observe(`y${i}`, Normal(mu, 1), YS[i]);
  return mu;
}, { name: 'mixed' });

/** `flips` coins with a soft observation on their count: 2^flips paths to enumerate. */
export function coinsModel(flips: number) {
  return model(async ({ sample, factor }: Ctx) => {
    let heads = 0;
    for (let i = 0; i < flips; i++) heads += (await sample(`c${i}`, Bernoulli(0.5))) as number;
    await factor('near', -((heads - flips / 3) ** 2) / 4);
    return heads;
  }, { name: 'coins' });
}

/** One engine's checks: the model, small options for repeated runs and large ones for an abort. */
export interface EngineCase {
  readonly engine: string;
  readonly model: ReturnType<typeof model>;
  /** Options of a quick run (memory and seed checks). */
  readonly small: Record<string, unknown>;
  /** Options of a run that lasts far longer than the abort delay. */
  readonly large: Record<string, unknown>;
  /** The model of the long run, when not `model`. */
  readonly largeModel?: ReturnType<typeof model>;
  /** The scalar the seed check compares. */
  readonly quantity: string;
}

export const CASES: readonly EngineCase[] = [
  { engine: 'importance', model: vectorModel, small: { particles: 200 }, large: { particles: 10_000_000 }, quantity: 'mu' },
  { engine: 'smc', model: vectorModel, small: { particles: 200 }, large: { particles: 1000 }, largeModel: streamModel, quantity: 'mu' },
  { engine: 'tempered', model: vectorModel, small: { particles: 50, moves: 2 }, large: { particles: 100_000, moves: 2 }, quantity: 'mu' },
  { engine: 'mh', model: vectorModel, small: { samples: 200, warmup: 50 }, large: { samples: 10_000_000 }, quantity: 'mu' },
  { engine: 'nuts', model: gaussModel, small: { chains: 2, warmup: 30, samples: 30 }, large: { chains: 2, warmup: 1000, samples: 10_000_000 }, quantity: 'mu' },
  { engine: 'hmc', model: gaussModel, small: { chains: 2, warmup: 30, samples: 30 }, large: { chains: 2, warmup: 1000, samples: 10_000_000 }, quantity: 'mu' },
  { engine: 'hmc-gibbs', model: mixedModel, small: { chains: 1, warmup: 30, samples: 30 }, large: { chains: 1, warmup: 1000, samples: 10_000_000 }, quantity: 'mu' },
  { engine: 'vi', model: gaussModel, small: { steps: 50, samples: 50 }, large: { steps: 10_000_000 }, quantity: 'mu' },
  { engine: 'svgd', model: gaussModel, small: { particles: 8, steps: 20 }, large: { particles: 8, steps: 10_000_000 }, quantity: 'mu' },
  { engine: 'neutra', model: gaussModel, small: { guide: 'normal', viSteps: 30, chains: 1, warmup: 30, samples: 30 }, large: { viSteps: 10_000_000 }, quantity: 'mu' },
  { engine: 'enumerate', model: coinsModel(8), small: {}, large: {}, largeModel: coinsModel(40), quantity: 'c0' },
];

/** Runs one engine on its case. */
export function run(c: EngineCase, size: 'small' | 'large', seed = 1, signal?: AbortSignal): Promise<Posterior> {
  const m = size === 'large' ? (c.largeModel ?? c.model) : c.model;
  return infer(m, { method: c.engine, seed, ...c[size], ...(signal ? { signal } : {}) }) as Promise<Posterior>;
}

/** What an abort did: latency from `abort()` to the rejection, and what the run rejected with. */
export interface AbortResult {
  /** Milliseconds from `abort()` to the promise settling. */
  readonly latencyMs: number;
  /**
   * Milliseconds of this process's CPU time from `abort()` to the promise settling: the work the run did after
   * the abort, which a loaded machine does not stretch (the wall-clock `latencyMs` also holds the time the OS gave
   * other processes).
   */
  readonly cpuLatencyMs: number;
  /** True when the run settled by rejecting with the abort reason. */
  readonly aborted: boolean;
  /** What the run settled with, for messages. */
  readonly outcome: string;
}

/** Something that runs until done or aborted and returns a disposable result (an engine run). */
export type Runner = (signal: AbortSignal) => Promise<{ dispose(): void; readonly size?: number }>;

/** Start a large run, abort it after `delayMs`, and time how long the rejection takes. */
export function measureAbort(c: EngineCase, delayMs = 300): Promise<AbortResult> {
  return measureAbortOf((signal) => run(c, 'large', 1, signal), delayMs);
}

/** {@link measureAbort} for any runner (the test also gives it deliberately broken ones). */
export async function measureAbortOf(runner: Runner, delayMs = 300): Promise<AbortResult> {
  const ac = new AbortController();
  const before = tf.memory().numTensors;
  let abortedAt = NaN;
  let abortedAtCpu = NaN;
  const timer = setTimeout(() => {
    abortedAt = performance.now();
    abortedAtCpu = cpuMs();
    ac.abort();
  }, delayMs);
  let outcome: string;
  let aborted = false;
  try {
    const post = await runner(ac.signal);
    outcome = `finished (${post.size} draws) before the abort`;
    post.dispose();
  } catch (err) {
    aborted = err === ac.signal.reason;
    outcome = aborted ? 'AbortError' : `${(err as Error)?.name}: ${(err as Error)?.message}`;
  }
  const settled = performance.now();
  const settledCpu = cpuMs();
  clearTimeout(timer);
  const leaked = tf.memory().numTensors - before;
  if (leaked !== 0) outcome += `, ${leaked} tensor(s) left behind`;
  return { latencyMs: Number.isNaN(abortedAt) ? NaN : settled - abortedAt, cpuLatencyMs: settledCpu - abortedAtCpu, aborted: aborted && leaked === 0, outcome };
}

/** Live tensors and RSS after the first and the last of `runs` small runs, each posterior disposed. */
export interface MemoryResult {
  readonly tensorsAfter1: number;
  readonly tensorsAfterN: number;
  readonly rssMbAfter1: number;
  readonly rssMbAfterN: number;
  readonly runs: number;
}

export function measureMemory(c: EngineCase, runs = 10): Promise<MemoryResult> {
  return measureMemoryOf((seed) => run(c, 'small', seed), runs);
}

/** {@link measureMemory} for any run (given its seed). */
export async function measureMemoryOf(runOnce: (seed: number) => Promise<{ dispose(): void }>, runs = 10): Promise<MemoryResult> {
  let tensorsAfter1 = 0;
  let rssMbAfter1 = 0;
  for (let i = 1; i <= runs; i++) {
    const post = await runOnce(i);
    post.dispose();
    if (i === 1) {
      tensorsAfter1 = tf.memory().numTensors;
      rssMbAfter1 = rssMb();
    }
  }
  return { tensorsAfter1, tensorsAfterN: tf.memory().numTensors, rssMbAfter1, rssMbAfterN: rssMb(), runs };
}

/** RSS in MB, after a full garbage collection where `--expose-gc` allows one (else RSS is only loosely flat). */
function rssMb(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().rss / 2 ** 20;
}

/** Mean of the case's quantity in two runs with the same seed (they must agree exactly). */
export async function measureSeed(c: EngineCase, seed = 7): Promise<[number, number]> {
  const out: number[] = [];
  for (let k = 0; k < 2; k++) {
    const post = await run(c, 'small', seed);
    out.push(post.moments(c.quantity).mean);
    post.dispose();
  }
  return [out[0], out[1]];
}
