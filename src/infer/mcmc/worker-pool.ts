/**
 * Chains of `infer(model, { method: 'nuts' | 'hmc', workers })` on worker
 * threads, for models that cannot run batched.
 *
 * A model is a closure and cannot be sent to another thread, so each worker
 * imports it from a module (`workers.module`, `workers.exportName`). Chains
 * are dealt round-robin to the threads; a worker runs its chains one after
 * the other with the sequential sampler, chain c on the same split of the
 * seed as in the sequential run, so the draws are identical to
 * `vectorize: false` with the same seed (on the same backend). The main
 * thread merges the chains into one {@link McmcSamples}.
 *
 * Workers start with the main thread's tfjs backend. When the worker code or
 * the user's module is TypeScript (tests under vitest, scripts under tsx),
 * tsx's loader is registered in the worker before anything is imported; a
 * program using compiled tyche and a `.js` module needs nothing.
 *
 * @module
 */
import type { InitStrategy } from './initialise.js';
import type { Worker } from 'node:worker_threads';
import { importNodeOnly } from '../../backend/runtime.js';
import { backendName } from '../../backend/select.js';
import type { Seed } from '../../core/rng.js';
import { type CompileMode, type CompileStats, type CompileStatus, addStats } from './compiled-density.js';
import type { McmcSamples } from './sampler.js';
import {
  type WorkerChainResult,
  type WorkerJob,
  type WorkerMessage,
  type WorkerSamplerSettings,
  reviveError,
} from './worker-protocol.js';

/** Where workers find the model, and how many to start. */
export interface WorkersOption {
  /**
   * The module exporting the model: a URL (e.g. `new URL('./model.js',
   * import.meta.url)`), a `file:` URL string, or a path (relative paths are
   * resolved against the working directory). Must be the same model as the
   * one passed to `infer`.
   */
  readonly module: URL | string;
  /** Name of the export holding the model; default `'default'`. */
  readonly exportName?: string;
  /** Worker threads; default min(chains, available cores). */
  readonly threads?: number;
}

/** What the engine hands to {@link sampleInWorkers}. */
export interface WorkerRun {
  readonly method: 'nuts' | 'hmc';
  readonly args: readonly unknown[];
  readonly seed: Seed;
  readonly chains: number;
  readonly dim: number;
  readonly names: readonly string[];
  /** The addresses each condition handler of the model conditions (`conditionedAddresses`). */
  readonly conditioned: readonly (readonly string[])[];
  readonly init: InitStrategy | readonly Float64Array[];
  readonly sampler: WorkerSamplerSettings;
  /** The engine's `compile` option. */
  readonly compile: CompileMode;
  /** Called with the iterations done over all chains. */
  readonly onProgress?: (p: { completed: number; total: number; elapsedMs: number }) => void;
  /** Terminates the workers; the promise rejects with the signal's reason. */
  readonly signal?: AbortSignal;
}

const TS_EXTENSION = /\.(ts|mts|cts|tsx)$/;

/** The Node built-ins the pool uses. */
interface NodeBuiltins {
  readonly createRequire: typeof import('node:module').createRequire;
  readonly availableParallelism: typeof import('node:os').availableParallelism;
  readonly isAbsolute: typeof import('node:path').isAbsolute;
  readonly resolve: typeof import('node:path').resolve;
  readonly pathToFileURL: typeof import('node:url').pathToFileURL;
  readonly Worker: typeof import('node:worker_threads').Worker;
  /** Whether this thread is one of the pool's chain workers (its `workerData` carries a job). */
  readonly insideChainWorker: boolean;
}
let builtins: NodeBuiltins | undefined;

/**
 * Load the Node built-ins on first use, by names held in strings, so that
 * browser bundles of tyche leave them out; in a browser, `workers` is an
 * error that names it.
 */
async function loadBuiltins(): Promise<NodeBuiltins> {
  if (builtins) return builtins;
  const feature = 'MCMC workers (worker threads)';
  const [mod, os, path, url, wt] = await Promise.all([
    importNodeOnly<typeof import('node:module')>('node:module', feature),
    importNodeOnly<typeof import('node:os')>('node:os', feature),
    importNodeOnly<typeof import('node:path')>('node:path', feature),
    importNodeOnly<typeof import('node:url')>('node:url', feature),
    importNodeOnly<typeof import('node:worker_threads')>('node:worker_threads', feature),
  ]);
  builtins = { createRequire: mod.createRequire, availableParallelism: os.availableParallelism, isAbsolute: path.isAbsolute, resolve: path.resolve, pathToFileURL: url.pathToFileURL, Worker: wt.Worker, insideChainWorker: !wt.isMainThread && isChainWorkerData(wt.workerData) };
  return builtins;
}

/** Whether a thread's `workerData` is the one the pool gives its chain workers. */
function isChainWorkerData(data: unknown): boolean {
  return data !== null && typeof data === 'object' && 'job' in data && 'entry' in data;
}

/** The built-ins, once {@link sampleInWorkers} has loaded them. */
function node(): NodeBuiltins {
  if (!builtins) throw new Error('worker-pool: Node built-ins not loaded (call sampleInWorkers)');
  return builtins;
}

/** The worker's bootstrap: register tsx when asked, then load the entry (CommonJS, run with `eval`). */
const BOOTSTRAP = `
const { workerData } = require('node:worker_threads');
(async () => {
  if (workerData.tsLoader) (await import(workerData.tsLoader)).register();
  await import(workerData.entry);
})().catch((err) => setImmediate(() => { throw err; }));
`;

/** The module option as a URL string. */
export function moduleUrl(module: URL | string): string {
  if (module instanceof URL) return module.href;
  if (typeof module !== 'string' || module.length === 0) {
    throw new TypeError(`workers: module must be a URL or a path, got ${module === '' ? 'an empty string' : typeof module}`);
  }
  if (/^(file|data):/.test(module)) return module;
  const { pathToFileURL, isAbsolute, resolve } = node();
  return pathToFileURL(isAbsolute(module) ? module : resolve(process.cwd(), module)).href;
}

/** tsx's ESM registration API, for workers that must load TypeScript. */
function tsLoaderUrl(moduleHref: string): string {
  const { pathToFileURL, createRequire } = node();
  for (const base of [import.meta.url, pathToFileURL(`${process.cwd()}/`).href]) {
    try {
      // the package's `require` entry is a CommonJS shim; the `import` one sits beside it
      return pathToFileURL(createRequire(base).resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs')).href;
    } catch {
      // try the next base
    }
  }
  throw new Error(`workers: ${moduleHref} is TypeScript and needs tsx in the worker threads; install tsx, or point workers.module at compiled JavaScript`);
}

function checkThreads(threads: number | undefined, chains: number): number {
  if (threads === undefined) return Math.max(1, Math.min(chains, node().availableParallelism()));
  if (!Number.isInteger(threads) || threads < 1) throw new RangeError(`workers: threads must be a positive integer, got ${threads}`);
  return Math.min(threads, chains);
}

function checkCloneable(args: readonly unknown[]): void {
  try {
    structuredClone(args);
  } catch (err) {
    throw new TypeError(
      `workers: the model's arguments must be plain data that can be copied to a worker thread (numbers, arrays, typed arrays, plain objects; no functions or tensors): ${err instanceof Error ? err.message : String(err)}`,
    );
  }
}

/**
 * Runs the chains of an HMC or NUTS run on worker threads and merges them;
 * `compiled` is the first chain's compile status (see the `compile` option).
 */
export async function sampleInWorkers(option: WorkersOption, run: WorkerRun): Promise<McmcSamples & { readonly compiled: CompileStatus; readonly compileStats: CompileStats; readonly conditionVisits: readonly (readonly string[])[] }> {
  if (option === null || typeof option !== 'object') throw new TypeError('workers: expected { module, exportName?, threads? }');
  const { Worker, insideChainWorker } = await loadBuiltins();
  const module = moduleUrl(option.module);
  if (insideChainWorker) {
    // the worker imported a module that itself starts workers at import: without this, each worker would
    // start more workers, without end (a user's script naming itself as workers.module did, to 6.9 GB)
    throw new Error(
      `workers: infer(..., { workers }) was called inside a chain worker thread, while it imported ${module}: that module starts a run with workers when it is imported (top-level code). ` +
        'Put the model in a module of its own and point workers.module at it, or run the top-level code only on the main thread (if (isMainThread) from node:worker_threads)',
    );
  }
  const exportName = option.exportName ?? 'default';
  if (typeof exportName !== 'string') throw new TypeError(`workers: exportName must be a string, got ${typeof exportName}`);
  const threads = checkThreads(option.threads, run.chains);
  checkCloneable(run.args);
  run.signal?.throwIfAborted();

  const self = import.meta.url;
  const entry = new URL(self.endsWith('.ts') ? './worker-entry.ts' : './worker-entry.js', self).href;
  const needsTs = TS_EXTENSION.test(new URL(entry).pathname) || TS_EXTENSION.test(new URL(module).pathname);
  const tsLoader = needsTs ? tsLoaderUrl(TS_EXTENSION.test(new URL(module).pathname) ? module : entry) : undefined;

  const start = performance.now();
  const total = run.chains * (run.sampler.warmup + run.sampler.draws);
  const completed = new Array<number>(run.chains).fill(0);
  const results = new Array<WorkerChainResult | undefined>(run.chains);
  const busy = new Array<{ warmupMs: number; samplingMs: number }>(threads);
  const workers: Worker[] = [];
  // per condition handler of the model, the addresses some worker's runs reached (merged over the workers)
  const conditionVisits: Set<string>[] = [];

  try {
    await new Promise<void>((resolveAll, rejectAll) => {
      let finished = 0;
      let failed = false;
      const onAbort = (): void => fail(run.signal!.reason ?? new DOMException('The MCMC run was aborted.', 'AbortError'));
      const cleanup = (): void => run.signal?.removeEventListener('abort', onAbort);
      const fail = (err: unknown): void => {
        if (failed) return;
        failed = true;
        cleanup();
        rejectAll(err);
      };
      run.signal?.addEventListener('abort', onAbort, { once: true });

      for (let t = 0; t < threads; t++) {
        const assigned: number[] = [];
        for (let c = t; c < run.chains; c += threads) assigned.push(c);
        const where = `worker thread ${t} running chains ${assigned.join(', ')}`;
        busy[t] = { warmupMs: 0, samplingMs: 0 };
        const job: WorkerJob = {
          module,
          exportName,
          args: run.args,
          method: run.method,
          seed: run.seed,
          chains: run.chains,
          assigned,
          init: run.init,
          sampler: run.sampler,
          backend: backendName(),
          names: run.names,
          conditioned: run.conditioned,
          compile: run.compile,
        };
        const worker = new Worker(BOOTSTRAP, { eval: true, workerData: { entry, tsLoader, job } });
        workers.push(worker);
        let done = false;
        worker.on('message', (msg: WorkerMessage) => {
          switch (msg.type) {
            case 'progress':
              completed[msg.chain] = msg.completed;
              run.onProgress?.({ completed: completed.reduce((a, b) => a + b, 0), total, elapsedMs: performance.now() - start });
              return;
            case 'chain':
              results[msg.result.chain] = msg.result;
              busy[t]!.warmupMs += msg.result.warmupMs;
              busy[t]!.samplingMs += msg.result.samplingMs;
              return;
            case 'error':
              fail(reviveError(msg.error, where));
              return;
            case 'done':
              msg.conditionVisits.forEach((addresses, i) => {
                const merged = (conditionVisits[i] ??= new Set());
                for (const a of addresses) merged.add(a);
              });
              done = true;
              finished += 1;
              if (finished === threads) {
                cleanup();
                resolveAll();
              }
              return;
          }
        });
        worker.on('error', (err) => fail(err instanceof Error ? err : new Error(`workers: ${where} failed: ${String(err)}`)));
        worker.on('exit', (code) => {
          if (!done) fail(new Error(`workers: ${where} exited with code ${code} before finishing`));
        });
      }
    });
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }

  const chains = results as WorkerChainResult[];
  return {
    method: run.method,
    vectorised: false,
    dim: run.dim,
    chains: run.chains,
    warmup: run.sampler.warmup,
    draws: run.sampler.draws,
    samples: chains.map((r) => r.samples),
    stats: chains.map((r) => r.stats),
    stepSize: chains.map((r) => r.stepSize),
    inverseMetric: chains.map((r) => r.inverseMetric),
    metricKind: chains.map((r) => r.metricKind),
    gradientEvaluations: chains.map((r) => r.gradientEvaluations),
    timing: {
      // the threads ran side by side: the busiest one's time is the wall time of each phase
      warmupMs: Math.max(...busy.map((b) => b.warmupMs)),
      samplingMs: Math.max(...busy.map((b) => b.samplingMs)),
      totalMs: performance.now() - start,
    },
    compiled: chains[0]!.compiled,
    compileStats: addStats(chains.map((r) => r.compileStats)),
    conditionVisits: conditionVisits.map((s) => [...s]),
    // as the sequential sampler's result carries them (sampler.ts), for the hidden-mode check (mode-check.ts)
    ...(chains.some((r) => r.initEnds !== undefined && r.initEnds.length > 0) ? { initEnds: chains.map((r) => r.initEnds ?? []) } : {}),
  };
}
