/**
 * Tensor ledgers: free what an async run made, without a global lock.
 *
 * `tf.tidy` cannot wrap async code, and an engine scope held open across
 * awaits (`tidyAsync`) must hold the gradient lock for as long as it is open,
 * so a run that holds one cannot contain another (nested inference would wait
 * for itself). A ledger instead records every tensor made in the run's
 * *async context* (Node's `AsyncLocalStorage`, which follows promises,
 * timers and `setImmediate`), including inside nested runs, and when the run
 * settles frees those still alive that are neither kept (`tf.keep`) nor
 * returned by `keep`. Tensors made concurrently by other async work are in
 * other contexts and are left alone.
 *
 * Where `AsyncLocalStorage` is missing (browsers), {@link withLedger} runs
 * `fn` without recording: nothing is freed early, and intermediates made by
 * model code may stay alive (as `tf.memory()` will show).
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { type AsyncContext, asyncContext } from './async-context.js';

interface Ledger {
  tensors: tf.Tensor[];
  /** Prune disposed entries when the list grows past this. */
  limit: number;
  closed: boolean;
  readonly parent: Ledger | undefined;
}

/** The ledger of the current async context (innermost run). */
const localStorage = asyncContext<Ledger>();

interface TrackingEngine {
  trackTensor(a: tf.Tensor, backend: unknown): void;
}

let active = 0;
let restore: (() => void) | undefined;

/** Wrap the engine's `trackTensor` (every new tensor passes through it) while any ledger is open. */
function install(s: AsyncContext<Ledger>): void {
  if (active++ > 0) return;
  const engine = tf.engine() as unknown as TrackingEngine;
  const own = Object.prototype.hasOwnProperty.call(engine, 'trackTensor');
  const original = engine.trackTensor;
  engine.trackTensor = function (this: TrackingEngine, a: tf.Tensor, backend: unknown): void {
    original.call(this, a, backend);
    for (let l = s.getStore(); l !== undefined; l = l.parent) if (!l.closed) record(l, a);
  };
  restore = () => {
    if (own) engine.trackTensor = original;
    else delete (engine as Partial<TrackingEngine>).trackTensor;
  };
}

function uninstall(): void {
  if (--active > 0) return;
  restore?.();
  restore = undefined;
}

function record(l: Ledger, t: tf.Tensor): void {
  if (t instanceof tf.Variable) return;
  l.tensors.push(t);
  if (l.tensors.length > l.limit) {
    l.tensors = l.tensors.filter((x) => !x.isDisposed);
    l.limit = Math.max(4096, 2 * l.tensors.length);
  }
}

/** Whether ledgers record here (Node's `AsyncLocalStorage` exists); in browsers {@link withLedger} frees nothing. */
export async function ledgersRecord(): Promise<boolean> {
  return (await localStorage()) !== null;
}

/**
 * Whether the caller runs inside a {@link withLedger} run (e.g. a model that
 * runs inference itself, under an engine that keeps a ledger). False where
 * the runtime has no `AsyncLocalStorage`.
 */
export async function insideLedger(): Promise<boolean> {
  const s = await localStorage();
  return s?.getStore() !== undefined;
}

/**
 * Run `fn`, then free every tensor made in its async context that is still
 * alive, not `tf.keep`-ed, and not among `keep(result)` (also when `fn`
 * fails, keeping nothing). Nested ledgers record into their parents too.
 */
export async function withLedger<T>(fn: () => Promise<T>, keep: (result: T) => Iterable<tf.Tensor>): Promise<T> {
  const s = await localStorage();
  if (s === null) return fn();
  const ledger: Ledger = { tensors: [], limit: 4096, closed: false, parent: s.getStore() };
  install(s);
  let kept = new Set<tf.Tensor>();
  try {
    const result = await s.run(ledger, fn);
    kept = new Set(keep(result));
    return result;
  } finally {
    ledger.closed = true;
    uninstall();
    // no ledger open any more: switch the context off until the next run. While any
    // AsyncLocalStorage is enabled, Node (20) runs promise hooks on every promise of the process
    // (an await costs ~2x: per-particle program SMC after any ledgered run, 2.9 -> 2.5 s)
    if (active === 0) s.disable?.();
    for (const t of ledger.tensors) {
      if (!t.isDisposed && !(t as unknown as { kept?: boolean }).kept && !kept.has(t)) t.dispose();
    }
    ledger.tensors = [];
  }
}
