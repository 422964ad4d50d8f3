/**
 * Gradients through asynchronous code.
 *
 * `tf.grad` and `tf.tidy` need a synchronous function, but models are async.
 * tfjs's engine keeps one global tape; here it is opened before the async
 * function runs and closed after, then `engine.gradients` backpropagates over
 * what was recorded. The result matches `tf.grad` exactly (tested).
 *
 * The hazard: the tape and the scope are global. Any other tfjs work that
 * runs during the awaits is recorded too, and its intermediate tensors are
 * disposed when the scope closes. So every gradient taken here is serialised
 * by one lock, and tyche never runs other tfjs work concurrently with it.
 * Do not run unrelated tfjs code concurrently with a tyche gradient
 * computation (e.g. from a timer).
 *
 * Two costs of tfjs's own recording are avoided (they were most of the
 * time of a small model's gradient): the backward pass runs with the tape
 * closed (as under `tf.grad`), so it is not itself recorded, and tensors
 * saved for the backward pass are new handles on the same data instead of
 * an Identity kernel (and tape node) each.
 *
 * This module relies on tfjs-core internals (`startTape`, `endTape`,
 * `state.activeTape`, `gradientDepth`, `saveTensorsForBackwardMode`), so
 * tfjs-core is pinned to an exact version and a regression test guards it.
 *
 * @module
 */
import { asyncContext } from './async-context.js';
import * as tf from '@tensorflow/tfjs-core';
import './gradients.js';

interface TapeNode {
  saved?: tf.Tensor[];
}
interface EngineInternals {
  startScope(name?: string): void;
  endScope(result?: unknown): void;
  startTape(): void;
  endTape(): void;
  gradients(f: () => tf.Tensor, xs: tf.Tensor[], dy?: tf.Tensor, allowNoGradients?: boolean): { value: tf.Tensor; grads: tf.Tensor[] };
  keep<T extends tf.Tensor>(t: T): T;
  makeTensorFromDataId(dataId: object, shape: number[], dtype: tf.DataType, backend?: unknown): tf.Tensor;
  saveTensorsForBackwardMode(tensors: tf.Tensor[]): tf.Tensor[];
  backend: { incRef?(dataId: object): void };
  state: { activeTape: TapeNode[] | null; gradientDepth: number; tensorInfo: Map<object, { backend: { incRef?(dataId: object): void } }> };
}

/**
 * tfjs saves each taped op's inputs and outputs by running an Identity
 * kernel per tensor (and taping that too), which is about half of the kernel
 * launches of a small model's forward pass. The saved copy only has to hold
 * a reference to the data, so while a tyche gradient is recorded the engine
 * saves them as new tensor handles on the same data (a reference count
 * increment), with no kernel launch and no tape node. Falls back to the
 * engine's own method for backends without `incRef`.
 */
function installCheapSaves(engine: EngineInternals): () => void {
  const own = Object.prototype.hasOwnProperty.call(engine, 'saveTensorsForBackwardMode');
  const original = engine.saveTensorsForBackwardMode;
  engine.saveTensorsForBackwardMode = function (tensors: tf.Tensor[]): tf.Tensor[] {
    const out: tf.Tensor[] = [];
    for (const t of tensors) {
      const backend = engine.state.tensorInfo.get(t.dataId)?.backend;
      if (!backend?.incRef) return original.call(engine, tensors);
    }
    for (const t of tensors) {
      const backend = engine.state.tensorInfo.get(t.dataId)!.backend;
      backend.incRef!(t.dataId);
      out.push(engine.keep(engine.makeTensorFromDataId(t.dataId, t.shape, t.dtype, backend)));
    }
    return out;
  };
  return () => {
    if (own) engine.saveTensorsForBackwardMode = original;
    else delete (engine as Partial<EngineInternals>).saveTensorsForBackwardMode;
  };
}

let lock: Promise<void> = Promise.resolve();

/** Marks the async context that holds the lock (where the runtime can tell contexts apart). */
const holder = asyncContext<true>();

/**
 * Holders of the lock where the runtime has no `AsyncLocalStorage`, in the
 * order they entered (see {@link withGradientLock}).
 */
const entered: object[] = [];

/**
 * Run `fn` when no other gradient computation is in flight (FIFO). A call
 * made inside `fn`'s own async context (e.g. a model that runs inference
 * itself, under an engine that holds the lock per execution, or an engine
 * step that records a density under the lock it holds) enters at once
 * instead of waiting for itself.
 *
 * Where the runtime has no `AsyncLocalStorage` (browsers), that context is
 * not known, and a request that waited for the holder waited for ever when
 * the holder was what made it: MH on a continuous model hung on its first
 * step (it records its density under the lock the step holds), and so did a
 * model's nested `infer` under importance, MH, NUTS and VI (the async stack,
 * which tells a nested call apart for `infer`'s queue, does not reach the
 * holder through the engines' `.then`/`.catch` chains). There every request
 * enters at once (`tycheLockHolder`): `infer`'s queue runs one call at a
 * time and an engine takes the lock for one execution or step after
 * another, so holders nest, each ending before the one it runs inside.
 * Holders that do not nest (nested calls run side by side from concurrent
 * particles, so their tfjs scopes interleave) fail, when the first of them
 * ends, with an error that says so, not with tensors silently freed under
 * another run.
 */
export async function withGradientLock<T>(fn: () => Promise<T>): Promise<T> {
  const ctx = await holder();
  if (ctx === null) return tycheLockHolder(fn);
  if (ctx.getStore() === true) return fn();
  const prev = lock;
  let release!: () => void;
  const mine = new Promise<void>((r) => (release = r));
  lock = mine;
  await prev;
  try {
    return await ctx.run(true, fn);
  } finally {
    release();
    // nobody queued behind: switch the context off until the next run. While any AsyncLocalStorage
    // is enabled, Node (20) runs promise hooks on every promise of the process: ~1.5x the cost of
    // every await afterwards (sequential enumeration after a parallel one: 2.4 -> 3.8 s)
    if (lock === mine) ctx.disable?.();
  }
}

/** Runs `fn` as a holder of the lock where there is no async context: it enters at once, and must end before any holder that began before it (see {@link withGradientLock}). */
async function tycheLockHolder<T>(fn: () => Promise<T>): Promise<T> {
  const me = {};
  entered.push(me);
  let later = 0;
  let result: T;
  try {
    result = await fn();
  } finally {
    const at = entered.lastIndexOf(me);
    later = entered.length - 1 - at;
    entered.splice(at, 1);
  }
  if (later > 0) {
    throw new Error(
      `tyche: two tfjs computations that each hold tyche's engine scope ran side by side and ended out of order (${later} begun inside this one still running): this runtime has no AsyncLocalStorage to keep them apart, so their tensors may have been freed under them. ` +
        'Run one inference (or gradient) at a time, and await each one a model starts before starting the next.',
    );
  }
  return result;
}

/**
 * Whether the caller runs inside {@link withGradientLock} (e.g. a model that
 * runs inference itself, under an engine that holds the lock per execution).
 * False where the runtime has no `AsyncLocalStorage`.
 */
export async function insideGradientLock(): Promise<boolean> {
  const ctx = await holder();
  return ctx?.getStore() === true;
}

/**
 * Value and gradients of an async scalar function with respect to `xs`.
 * Tensors created inside `f` are disposed, except the returned value and
 * gradients (which the caller owns). `allowNoGradients` returns zeros for an
 * `x` that `f` does not depend on.
 */
export async function valueAndGradsAsync(
  f: () => Promise<tf.Tensor>,
  xs: tf.Tensor[],
  options: { allowNoGradients?: boolean } = {},
): Promise<{ value: tf.Tensor; grads: tf.Tensor[] }> {
  return withGradientLock(async () => {
    const engine = tf.engine() as unknown as EngineInternals;
    if (engine.state.gradientDepth !== 0) {
      throw new Error('valueAndGradsAsync: another gradient computation is open (nested async gradients are not supported)');
    }
    engine.startScope('tyche-async-grad');
    engine.startTape();
    let taping = true;
    const restoreSaves = installCheapSaves(engine);
    let result: { value: tf.Tensor; grads: tf.Tensor[] } | undefined;
    try {
      const y = await f();
      if (!(y instanceof tf.Tensor) || y.size !== 1) {
        throw new Error(`valueAndGradsAsync: f must return a scalar tensor, got ${y instanceof tf.Tensor ? `shape [${y.shape.join(', ')}]` : typeof y}`);
      }
      // Close our tape before backpropagating, so that the backward pass is
      // not itself recorded (as with tf.grad). At depth 0 `gradients` opens a
      // fresh tape; the function it runs puts the recorded one back.
      restoreSaves();
      engine.endTape();
      taping = false;
      const recorded = engine.state.activeTape;
      const r = engine.gradients(
        () => {
          engine.state.activeTape = recorded;
          return y;
        },
        xs,
        undefined,
        true,
      );
      const grads = r.grads.map((g, i) => {
        if (g) return g;
        if (!options.allowNoGradients) throw new Error(`valueAndGradsAsync: the value does not depend on input ${i}`);
        return tf.zerosLike(xs[i]);
      });
      result = { value: r.value, grads };
      return result;
    } finally {
      if (taping) {
        restoreSaves();
        engine.endTape();
      }
      releaseAbandonedTape(engine);
      engine.endScope(result ? [result.value, ...result.grads] : undefined);
    }
  });
}

/**
 * Dispose the tensors saved for a backward pass that will not run (a tape
 * left behind when the recorded function threw: tfjs keeps them) and drop the
 * tape. Only at depth 0: an open outer gradient owns the tape and releases it.
 */
function releaseAbandonedTape(engine: EngineInternals): void {
  const tape = engine.state.activeTape;
  if (engine.state.gradientDepth === 0 && tape) {
    for (const node of tape) for (const t of node.saved ?? []) t.dispose();
    engine.state.activeTape = null;
  }
}

/**
 * `tf.grad(f)(x)`, except that when `f` throws, the tensors tfjs saved for
 * the backward pass are disposed (tfjs leaves them: 4–7 tensors per failed
 * call of a small reward). For synchronous user callbacks (a steering
 * reward's tensor function). Nested calls share the outermost tape, which the
 * outermost call releases.
 */
export function gradSync(f: (x: tf.Tensor) => tf.Tensor, x: tf.Tensor): tf.Tensor {
  try {
    return tf.grad(f)(x);
  } catch (err) {
    releaseAbandonedTape(tf.engine() as unknown as EngineInternals);
    throw err;
  }
}

/**
 * Run async tfjs work in its own engine scope (under the same lock as
 * gradients): every tensor created inside and not returned by `keep` is
 * disposed when `fn` settles. This is `tf.tidy` for async code; engines use
 * it around each model execution so user-level intermediate tensors do not
 * accumulate over long runs.
 */
export async function tidyAsync<T>(fn: () => Promise<T>, keep: (result: T) => tf.Tensor[]): Promise<T> {
  return withGradientLock(async () => {
    const engine = tf.engine() as unknown as EngineInternals;
    engine.startScope('tyche-async-tidy');
    let kept: tf.Tensor[] = [];
    try {
      const result = await fn();
      kept = keep(result);
      return result;
    } finally {
      engine.endScope(kept);
    }
  });
}
