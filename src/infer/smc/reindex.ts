/**
 * Resampling the live values of one batched execution, lazily and in place.
 *
 * Batched program SMC runs all particles as one execution of the model:
 * every draw is a tensor with a leading particle axis, and so is every
 * tensor the program computes from draws. When the population is resampled
 * at an observation, the execution is suspended inside that `observe`, and
 * the values its variables hold (the draws and anything computed from them)
 * must have their rows gathered by the ancestor indices before it goes on.
 * The handler cannot see the program's variables, so a `ParticleAxis`
 * follows the tensors instead:
 *
 * - lineage: while the execution runs (in its async context), every tfjs
 *   kernel is watched; an output of a kernel with a particle-axis input is a
 *   particle-axis tensor (when its leading dimension is the particle count),
 *   stamped with the current epoch (the number of resamplings so far);
 * - resampling appends the ancestor indices and starts a new epoch; no
 *   tensor is touched;
 * - a stale tensor (stamped with an older epoch) is brought up to date just
 *   before a kernel reads it or its data is read out: its rows are gathered
 *   by the composed ancestors and the result's storage is swapped into the
 *   same tensor object (its `dataId`), so every variable that holds it sees
 *   the resampled rows. Tensors that are never used again (garbage) are
 *   never gathered, so a resampling costs one gather per value the program
 *   actually reads afterwards, not one per value it ever made.
 *
 * Tensors made outside the execution (data, parameters) have no lineage and
 * are never touched. Reductions across the particle axis (a leading
 * dimension other than the particle count) get no stamp: a program that
 * mixes particles is not a per-particle program, which the engine checks by
 * replaying a few particles one by one (see `program-batched.ts`).
 *
 * Where `AsyncLocalStorage` is missing (browsers), `openParticleAxis`
 * returns undefined and program SMC runs per particle.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { type AsyncContext, asyncContext } from '../../backend/async-context.js';

type DataId = object;

/** The engine methods a `ParticleAxis` watches (tfjs-core internals, pinned version). */
interface WatchedEngine {
  runKernelFunc(params: { inputs?: Record<string, unknown> }): tf.Tensor | tf.Tensor[];
  readSync(dataId: DataId): unknown;
  read(dataId: DataId): Promise<unknown>;
}

/** Tensors with a leading particle axis in one batched execution, and their resampling epochs. */
export class ParticleAxis {
  private epoch = 0;
  private readonly stamp = new WeakMap<tf.Tensor, number>();
  private readonly byData = new WeakMap<DataId, tf.Tensor>();
  /** `parents[e][i]`: the row at epoch e of row i at epoch e + 1. */
  private readonly parents: Int32Array[] = [];
  /** Row maps from epoch e to the current epoch (as index tensors), for the current epoch. */
  private readonly maps = new Map<number, { rows: Int32Array; tensor?: tf.Tensor }>();
  private busy = false;
  /** Stale tensors brought up to date so far (a diagnostic). */
  regathered = 0;

  /** @param size - the number of particles (the leading dimension) */
  constructor(readonly size: number) {}

  /** Mark `t` as holding one row per particle, as of now (ignored unless its leading dimension is the particle count). */
  track(t: tf.Tensor): void {
    if (t.rank === 0 || t.shape[0] !== this.size) return;
    this.stamp.set(t, this.epoch);
    this.byData.set(t.dataId, t);
  }

  /** True when `t` is a tracked particle-axis tensor. */
  has(t: tf.Tensor): boolean {
    return this.stamp.has(t);
  }

  /** Resampling: particle i of the new epoch is particle `ancestors[i]` of the current one. */
  resample(ancestors: Int32Array): void {
    if (ancestors.length !== this.size) throw new Error(`ParticleAxis: ${ancestors.length} ancestors for ${this.size} particles`);
    this.parents.push(ancestors.slice());
    this.epoch++;
    this.clearMaps();
  }

  /** Bring `t` up to date: gather its rows by the ancestors since it was stamped (in place, keeping the tensor object). */
  refresh(t: tf.Tensor): void {
    const e = this.stamp.get(t);
    if (e === undefined || e === this.epoch || t.isDisposed) return;
    const index = this.indexFrom(e);
    this.busy = true;
    try {
      const g = tf.gather(t, index, 0);
      const mine = t.dataId;
      const w = t as unknown as { dataId: DataId };
      w.dataId = g.dataId;
      (g as unknown as { dataId: DataId }).dataId = mine;
      g.dispose();
    } finally {
      this.busy = false;
    }
    this.stamp.set(t, this.epoch);
    this.byData.set(t.dataId, t);
    this.regathered++;
  }

  /**
   * Where the current rows of `t` are stored without refreshing it: row i of
   * `t` now is row `map[i]` of its storage; undefined when `t` is up to date
   * or has no particle axis. For reading many stale tensors out on the host
   * (read their data outside the execution's context, where reads are not
   * refreshed), which is cheaper than a gather per tensor.
   */
  rowMap(t: tf.Tensor): Int32Array | undefined {
    const e = this.stamp.get(t);
    return e === undefined || e === this.epoch ? undefined : this.rowsFrom(e).rows;
  }

  /** Free the index tensors. */
  dispose(): void {
    this.clearMaps();
  }

  /** The row map from epoch `e` to now, as a kept int32 tensor. */
  private indexFrom(e: number): tf.Tensor {
    const m = this.rowsFrom(e);
    if (!m.tensor) {
      this.busy = true;
      try {
        m.tensor = tf.keep(tf.tensor1d(m.rows, 'int32'));
      } finally {
        this.busy = false;
      }
    }
    return m.tensor;
  }

  private rowsFrom(e: number): { rows: Int32Array; tensor?: tf.Tensor } {
    const hit = this.maps.get(e);
    if (hit) return hit;
    // rows at the current epoch -> rows at epoch e: compose the parents from e + 1 up
    const next = e + 1 === this.epoch ? undefined : this.rowsFrom(e + 1).rows;
    const p = this.parents[e];
    let rows = p;
    if (next) {
      rows = new Int32Array(next.length);
      for (let i = 0; i < rows.length; i++) rows[i] = p[next[i]];
    }
    const m = { rows };
    this.maps.set(e, m);
    return m;
  }

  private clearMaps(): void {
    for (const m of this.maps.values()) m.tensor?.dispose();
    this.maps.clear();
  }

  /** The engine hook: refresh stale inputs, stamp outputs of kernels with particle-axis inputs. */
  kernel(params: { inputs?: Record<string, unknown> }, run: () => tf.Tensor | tf.Tensor[]): tf.Tensor | tf.Tensor[] {
    if (this.busy || params.inputs === undefined) return run();
    let particle = false;
    const inputs = params.inputs;
    for (const k in inputs) {
      const t = inputs[k] as tf.Tensor;
      if (this.stamp.has(t)) {
        particle = true;
        this.refresh(t);
      }
    }
    const out = run();
    if (particle) {
      if (Array.isArray(out)) for (const o of out) this.track(o);
      else this.track(out);
    }
    return out;
  }

  /** The engine hook for reads: the storage to read for `dataId` (refreshed first if stale). */
  readTarget(dataId: DataId): DataId {
    if (this.busy) return dataId;
    const t = this.byData.get(dataId);
    if (t === undefined || t.dataId !== dataId || t.isDisposed) return dataId;
    this.refresh(t);
    return t.dataId;
  }
}

const storage = asyncContext<ParticleAxis>();
let watchers = 0;
let unwatch: (() => void) | undefined;

function watch(s: AsyncContext<ParticleAxis>): void {
  if (watchers++ > 0) return;
  const engine = tf.engine() as unknown as WatchedEngine;
  const own = {
    runKernelFunc: Object.prototype.hasOwnProperty.call(engine, 'runKernelFunc'),
    readSync: Object.prototype.hasOwnProperty.call(engine, 'readSync'),
    read: Object.prototype.hasOwnProperty.call(engine, 'read'),
  };
  const original = { runKernelFunc: engine.runKernelFunc, readSync: engine.readSync, read: engine.read };
  const mine: Pick<WatchedEngine, 'runKernelFunc' | 'readSync' | 'read'> = {
    runKernelFunc(this: WatchedEngine, params) {
      const axis = s.getStore();
      return axis === undefined ? original.runKernelFunc.call(this, params) : axis.kernel(params, () => original.runKernelFunc.call(this, params));
    },
    readSync(this: WatchedEngine, dataId) {
      const axis = s.getStore();
      return original.readSync.call(this, axis === undefined ? dataId : axis.readTarget(dataId));
    },
    read(this: WatchedEngine, dataId) {
      const axis = s.getStore();
      return original.read.call(this, axis === undefined ? dataId : axis.readTarget(dataId));
    },
  };
  Object.assign(engine, mine);
  unwatch = () => {
    for (const k of ['runKernelFunc', 'readSync', 'read'] as const) {
      // another hook installed over ours (e.g. a JIT trace running concurrently) keeps ours below it,
      // which passes through when no batched execution is running
      if (engine[k] !== mine[k]) continue;
      if (own[k]) (engine as unknown as Record<string, unknown>)[k] = original[k];
      else delete (engine as unknown as Record<string, unknown>)[k];
    }
  };
}

/** A particle axis whose lineage is followed in the async context of `enter`, or undefined where the runtime has no `AsyncLocalStorage`. */
export interface OpenAxis {
  readonly axis: ParticleAxis;
  /** Run `fn` (and everything it starts asynchronously) with lineage tracking. */
  enter<T>(fn: () => T): T;
  /** Stop watching the engine (once) and free the index tensors. */
  close(): void;
}

/** Open a `ParticleAxis` of `size` particles, watching the tfjs engine until `close()`. */
export async function openParticleAxis(size: number): Promise<OpenAxis | undefined> {
  const s = await storage();
  if (s === null) return undefined;
  const axis = new ParticleAxis(size);
  watch(s);
  let open = true;
  return {
    axis,
    enter: (fn) => s.run(axis, fn),
    close() {
      if (!open) return;
      open = false;
      axis.dispose();
      if (--watchers === 0) {
        unwatch?.();
        unwatch = undefined;
        // no axis open: no promise hooks until the next one (see backend/ledger.ts)
        s.disable?.();
      }
    },
  };
}
