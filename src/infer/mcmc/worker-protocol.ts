/**
 * What the main thread and the chain workers of `infer(model, { method:
 * 'nuts' | 'hmc', workers })` send each other (see `worker-pool.ts` and
 * `worker-entry.ts`), and the seeding rule that makes a chain run in a worker
 * draw exactly what it draws in the sequential run.
 *
 * Everything here crosses a thread boundary by structured clone: plain data
 * and typed arrays only.
 *
 * @module
 */
import type { AscentEnd, InitStrategy } from './initialise.js';
import { ModelError } from '../../core/model.js';
import { type Rng, type Seed, rngFrom } from '../../core/rng.js';
import type { SamplerStats } from './chain.js';
import type { CompileMode, CompileStats, CompileStatus } from './compiled-density.js';
import type { MetricKind } from './metric.js';
import type { MassMatrixOption } from './metric-choice.js';

/** Sampler settings shared by every chain of a run (plain data). */
export interface WorkerSamplerSettings {
  readonly warmup: number;
  readonly draws: number;
  readonly targetAccept?: number;
  readonly massMatrix?: MassMatrixOption;
  readonly maxTreeDepth?: number;
  readonly numSteps?: number;
  readonly integrationTime?: number;
  readonly jitter?: number;
}

/** The job of one worker: which model to import and which chains to run. */
export interface WorkerJob {
  /** URL (`file:` or `data:`) of the module that exports the model. */
  readonly module: string;
  /** Name of the export holding the model. */
  readonly exportName: string;
  /** The model's arguments. */
  readonly args: readonly unknown[];
  readonly method: 'nuts' | 'hmc';
  /** The run's seed; chain c draws from {@link chainStream}(seed, c). */
  readonly seed: Seed;
  /** Chains in the whole run. */
  readonly chains: number;
  /** The chains this worker runs, in order. */
  readonly assigned: readonly number[];
  /** `'uniform'`, or the starting point of every chain of the run (indexed by chain). */
  readonly init: InitStrategy | readonly Float64Array[];
  readonly sampler: WorkerSamplerSettings;
  /** The main thread's tfjs backend, to initialise the same one. */
  readonly backend: string | undefined;
  /** Coordinate names of the main thread's layout (the worker checks its model has the same). */
  readonly names: readonly string[];
  /** The addresses each condition handler of the main thread's model conditions (the worker checks its model's are the same; see `conditionedAddresses`). */
  readonly conditioned: readonly (readonly string[])[];
  /** How the worker evaluates the log density (the engine's `compile` option). */
  readonly compile: CompileMode;
}

/** One finished chain. */
export interface WorkerChainResult {
  readonly chain: number;
  /** draws x D, row-major. */
  readonly samples: Float64Array;
  readonly stats: SamplerStats;
  readonly stepSize: number;
  readonly inverseMetric: Float64Array;
  /** The metric's shape after warmup. */
  readonly metricKind: MetricKind;
  readonly gradientEvaluations: number;
  readonly warmupMs: number;
  readonly samplingMs: number;
  /** Whether the worker's log density ran as a compiled trace, else why not. */
  readonly compiled: CompileStatus;
  /** This chain's log-density evaluations, and those that ran on tfjs (see `CompileStats`). */
  readonly compileStats: CompileStats;
  /** With `init: 'ascent'`: where each of this chain's candidate ascents ended, for the main thread's hidden-mode check (`mode-check.ts`). */
  readonly initEnds?: AscentEnd[];
}

/** An error, flattened for the trip between threads. */
export interface SerializedError {
  readonly name: string;
  readonly message: string;
  readonly stack: string | undefined;
  /** The site, for a {@link ModelError}. */
  readonly address: string | undefined;
}

/** A message from a worker to the main thread. */
export type WorkerMessage =
  | { readonly type: 'progress'; readonly chain: number; readonly completed: number }
  | { readonly type: 'chain'; readonly result: WorkerChainResult }
  | { readonly type: 'error'; readonly error: SerializedError }
  | {
      readonly type: 'done';
      /** The conditioned addresses this worker's runs reached, per condition handler of its model (see `conditionVisitsSince`). */
      readonly conditionVisits: readonly (readonly string[])[];
    };

/**
 * The random stream of chain `chain` of a run seeded with `seed`, in the form
 * the sampler takes for a one-chain run. A K-chain run gives chain c the
 * (c+1)-th split of the seed's stream (`rngFrom(seed).splitN(K)[c]`), and a
 * one-chain run takes the first split of the stream it is given; a stream
 * whose first c splits are spent hands out exactly that split next (splits
 * are numbered, see `Rng.split`).
 */
export function chainStream(seed: Seed, chain: number): Rng {
  const rng = rngFrom(seed);
  for (let i = 0; i < chain; i++) rng.split();
  return rng;
}

/** Flattens an error for `postMessage`. */
export function serializeError(err: unknown): SerializedError {
  if (err instanceof Error) {
    return { name: err.name, message: err.message, stack: err.stack, address: err instanceof ModelError ? err.address : undefined };
  }
  return { name: 'Error', message: String(err), stack: undefined, address: undefined };
}

/**
 * Rebuilds a worker's error on the main thread: a {@link ModelError} (same
 * site and message) when it was one, else an `Error` with the same name and
 * message; the worker's stack is kept after a marker line.
 */
export function reviveError(e: SerializedError, where: string): Error {
  const err = e.address !== undefined ? new ModelError(e.address, '') : new Error('');
  err.message = e.message;
  if (e.address === undefined) err.name = e.name;
  err.stack = `${e.name}: ${e.message}\n    at (${where})${e.stack ? `\n${e.stack.split('\n').slice(1).join('\n')}` : ''}`;
  return err;
}
