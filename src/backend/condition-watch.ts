/**
 * Noticing a model that branches on a tensor comparison.
 *
 * In tensor mode (batched or vectorised runs) `ops.gt(x, 0)` is a boolean
 * tensor, and `if (tensor)` in JavaScript is always true: a model written
 * with `if (ops.gt(x, 0))` silently takes its first branch. JavaScript has
 * no hook for an object's truthiness, so the watch looks at it indirectly:
 * a boolean tensor made during a model run that no later kernel takes as
 * input and nothing reads (`dataSync`, `data`, ...) was almost surely used
 * as a JS condition (or is dead code). Library code that makes booleans
 * (support checks, masks) consumes them (`tf.all`, `where`, `cast`) or
 * reads them, so it does not count.
 *
 * While a {@link ConditionWatch} is open, the tfjs engine is watched:
 * boolean outputs of top-level kernels (`state.kernelDepth` 0) launched in
 * the watch's async context (see `run`) are pending; any kernel (in any
 * context) that takes one as input, or any read of its data, consumes it.
 * `unconsumed()` then names the site where the first pending one was made.
 * Sites come from the model runner through `mark` (an effect handler).
 *
 * Where the runtime has no `AsyncLocalStorage` (browsers), every kernel
 * launched while the watch is open counts as the run's (a false alarm only
 * makes the caller fall back to its slower, exact path).
 *
 * This relies on tfjs-core internals (`runKernelFunc`, `readSync`, `read`,
 * `state.kernelDepth`), like `jit/trace.ts` and `infer/smc/reindex.ts`;
 * the hooks are installed over whatever is there, and removed only while
 * they are still on top (a hook installed later keeps ours below it, which
 * passes through when no watch is open).
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { type AsyncContext, asyncContext } from './async-context.js';
import { SiteCursor } from './site-cursor.js';

type DataId = object;

/** The engine members the watch hooks (tfjs-core internals, pinned version). */
interface WatchedEngine {
  runKernelFunc(params: { inputs?: Record<string, unknown> }): tf.Tensor | tf.Tensor[];
  readSync(dataId: DataId): unknown;
  read(dataId: DataId): Promise<unknown>;
  state: { kernelDepth: number };
}

/** Boolean tensors made during one model run and not yet consumed, with the site each was made at. */
export class ConditionWatch {
  /** Pending tensors and where each was made (`at` filled in when the next site is entered). */
  private readonly pending = new Map<tf.Tensor, { at: string | undefined; after: string | undefined }>();
  /** The run's sites (a tensor made between sites is named after the next one). */
  private readonly cursor = new SiteCursor<{ at: string | undefined; after: string | undefined }>((place, site) => {
    place.at = site;
  });

  /** @param context - the async context that tells the run's kernels from others (null: every kernel counts) */
  constructor(private readonly context: AsyncContext<ConditionWatch> | null) {}

  /** Run `fn` (and everything it starts asynchronously) as the watched run. */
  run<T>(fn: () => T): T {
    return this.context === null ? fn() : this.context.run(this, fn);
  }

  /** The model runner starts (`'enter'`) or has finished (`'leave'`) the site `address`. */
  mark(address: string, phase: 'enter' | 'leave'): void {
    this.cursor.mark(address, phase);
  }

  /**
   * The site where the first boolean tensor made so far and neither consumed
   * nor read was made (undefined: none), leaving out the tensors in `keep`
   * (values the run hands back, e.g. its trace values and return value) and
   * disposed ones. A tensor made between two sites is named after the next
   * site (where the branch led), else the last one reached. Clears the
   * pending set.
   */
  unconsumed(keep: Iterable<tf.Tensor> = []): string | undefined {
    const kept = new Set(keep);
    let found: string | undefined;
    for (const [t, where] of this.pending) {
      if (found === undefined && !t.isDisposed && !kept.has(t)) found = where.at ?? where.after ?? '(before the first site)';
    }
    this.pending.clear();
    this.cursor.clear();
    return found;
  }

  /** A top-level kernel of the run made `t`. */
  made(t: tf.Tensor): void {
    if (t.dtype !== 'bool') return;
    this.pending.set(t, this.cursor.track({ at: this.cursor.site, after: this.cursor.lastSite }));
  }

  /** `t` was taken as input by a kernel. */
  consume(t: tf.Tensor): void {
    this.pending.delete(t);
  }

  /** The storage `dataId` was read. */
  consumeData(dataId: DataId): void {
    for (const t of this.pending.keys()) if (t.dataId === dataId) this.pending.delete(t);
  }
}

const storage = asyncContext<ConditionWatch>();
const open = new Set<ConditionWatch>();
let unwatch: (() => void) | undefined;

function hook(context: AsyncContext<ConditionWatch> | null): void {
  const engine = tf.engine() as unknown as WatchedEngine;
  const names = ['runKernelFunc', 'readSync', 'read'] as const;
  const own = names.map((k) => Object.prototype.hasOwnProperty.call(engine, k));
  const original = { runKernelFunc: engine.runKernelFunc, readSync: engine.readSync, read: engine.read };
  const mine: Pick<WatchedEngine, 'runKernelFunc' | 'readSync' | 'read'> = {
    runKernelFunc(this: WatchedEngine, params) {
      if (open.size === 0) return original.runKernelFunc.call(this, params);
      const inputs = params.inputs;
      if (inputs !== undefined) {
        for (const k in inputs) {
          const t = inputs[k];
          if (t instanceof tf.Tensor && t.dtype === 'bool') for (const w of open) w.consume(t);
        }
      }
      const top = this.state.kernelDepth === 0;
      const out = original.runKernelFunc.call(this, params);
      if (top) {
        const w = context === null ? (open.size === 1 ? [...open][0] : undefined) : context.getStore();
        if (w !== undefined && open.has(w)) {
          if (Array.isArray(out)) for (const o of out) w.made(o);
          else w.made(out);
        }
      }
      return out;
    },
    readSync(this: WatchedEngine, dataId) {
      for (const w of open) w.consumeData(dataId);
      return original.readSync.call(this, dataId);
    },
    read(this: WatchedEngine, dataId) {
      for (const w of open) w.consumeData(dataId);
      return original.read.call(this, dataId);
    },
  };
  Object.assign(engine, mine);
  unwatch = () => {
    names.forEach((k, i) => {
      if (engine[k] !== mine[k]) return; // another hook sits over ours: ours stays below it, passing through
      if (own[i]) (engine as unknown as Record<string, unknown>)[k] = original[k];
      else delete (engine as unknown as Record<string, unknown>)[k];
    });
  };
}

/** An open watch and the way to close it. */
export interface OpenConditionWatch {
  readonly watch: ConditionWatch;
  /** Stop watching (once); the engine hooks go when the last watch closes. */
  close(): void;
}

/** Open a {@link ConditionWatch}: the engine is watched until `close()`. */
export async function openConditionWatch(): Promise<OpenConditionWatch> {
  const context = await storage();
  const watch = new ConditionWatch(context);
  if (open.size === 0 && unwatch === undefined) hook(context);
  open.add(watch);
  let closed = false;
  return {
    watch,
    close() {
      if (closed) return;
      closed = true;
      open.delete(watch);
      if (open.size === 0) {
        unwatch?.();
        unwatch = undefined;
        // no watch open: no promise hooks until the next one (see ledger.ts)
        context?.disable?.();
      }
    },
  };
}
