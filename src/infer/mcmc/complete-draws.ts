/**
 * The draws of an engine that moves in unconstrained space (NUTS, HMC,
 * HMC-within-Gibbs, SVGD), completed with what only a model run gives: the
 * `deterministic` sites, the return value, and the constrained values of
 * sites whose support depends on other values (see `replayDraws`).
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Value } from '../../core/value.js';
import { type Draw, type DrawColumns, materialiseDraws, typedRows, valueAt, widthOf } from '../draw-columns.js';
import { type Replayed, replayDraws } from '../replay-draws.js';
import type { Layout, ReplayedDensity } from './potential.js';
import type { Model } from '../../core/model.js';
import { compiledDeterministics, completionFromRecord } from './compiled-completion.js';

/** Options of {@link completeDraws}. */
export interface CompleteOptions {
  /** The model ran batched during sampling, so try batched runs here (checked against a per-draw run). */
  readonly batched: boolean;
  /**
   * The log density ran as a compiled replay (a fixed structure), so try the
   * deterministic sites from a compiled record of the model first
   * (`compiled-completion.ts`), before model runs.
   */
  readonly compiled?: boolean;
  /**
   * The log density's record in use and the completion's values picked out of its run
   * (`recorded-outputs.ts`): replayed first, with no recording of the model for the completion.
   */
  readonly record?: ReplayedDensity['outputs'];
  /** Stops the runs. */
  readonly signal?: AbortSignal;
}

/**
 * `draws` (constrained values of the layout's fixed-support sites, plus any
 * values from outside the layout such as Gibbs-updated discrete sites) with
 * the deterministic sites, the return value and the dependent-support sites
 * added. `point(i)` is draw i's unconstrained vector (length `layout.dim`).
 */
export async function completeDraws<A extends unknown[], R>(m: Model<A, R>, args: A, layout: Layout, point: (i: number) => Float64Array, draws: Draw<R>[], options: CompleteOptions): Promise<Draw<R>[]> {
  const dependent = layout.sites.filter((s) => s.dependentSupport);
  const batchRank = new Map(layout.sites.map((s) => [s.address, s.batchRank]));
  // non-scalar sites of fixed support, stacked straight from the draws' unconstrained rows (one bijector call per chunk)
  const vectorSites = new Map(layout.sites.filter((s) => !s.dependentSupport && s.shape.length > 0).map((s) => [s.address, s]));
  const stacked = (address: string, start: number, end: number): tf.Tensor | undefined => {
    const s = vectorSites.get(address);
    if (!s) return undefined;
    const rows = new Float32Array((end - start) * s.size);
    for (let i = start; i < end; i++) rows.set(point(i).subarray(s.offset, s.offset + s.size), (i - start) * s.size);
    return s.bijector.forward(tf.tensor(rows, [end - start, ...s.unconstrainedShape])) as tf.Tensor;
  };
  const replayed = await replayDraws(
    m,
    args,
    {
      size: draws.length,
      values: (i) => draws[i]!.values,
      unconstrained: new Map(dependent.map((s) => [s.address, { shape: s.unconstrainedShape, row: (i: number) => point(i).subarray(s.offset, s.offset + s.size) }])),
      // sites outside the layout (hmc-gibbs's discrete ones) are scalars or plated: their own rank is their batch rank
      batching: { plateNesting: layout.plateNesting, batchRank: (a) => batchRank.get(a) ?? rankOf(draws[0]!.values[a]) },
      stacked,
    },
    { latent: new Set(dependent.map((s) => s.address)), batched: options.batched, ...(options.signal ? { signal: options.signal } : {}) },
  );
  if (!replayed) return draws;
  return draws.map((d, i) => ({ ...d, values: { ...d.values, ...replayed.values[i] }, returnValue: replayed.returnValues[i]! }));
}

function rankOf(v: Value | undefined): number {
  return v === undefined || typeof v === 'number' ? 0 : v.rank;
}

/** Values per batched completion run: draws x values per draw up to this run as one batch. */
const CHUNK_VALUES = 1 << 18;

function valuesPerDraw(c: DrawColumns<unknown>): number {
  let n = 0;
  for (const col of c.columns.values()) n += widthOf(col);
  return n;
}

/**
 * The layout's fixed-support sites as columns (`fixed`, e.g. from
 * `columnsFromSamples`), completed with the deterministic sites and the
 * return value. Where the log density compiled (`options.compiled`), a
 * compiled record of the model gives the deterministic sites and the sites of
 * dependent support first (`compiled-completion.ts`). Where the model runs batched (`options.batched`) and every
 * recorded site holds numbers or numeric tensors, the answer stays columnar:
 * one batched model run per chunk of draws (checked against a per-draw run
 * at the first draw) writes straight into the new columns, and no per-draw
 * record or tensor is made. Otherwise (sites of dependent support, a batched
 * run that fails or disagrees, other values) the per-draw records of
 * {@link completeDraws}.
 */
export async function completeColumns<A extends unknown[], R>(m: Model<A, R>, args: A, layout: Layout, point: (i: number) => Float64Array, fixed: DrawColumns<R>, options: CompleteOptions): Promise<DrawColumns<R> | Draw<R>[]> {
  if (options.compiled) {
    // one recording replayed at every draw, where model runs cost a per-draw run and a batched one (else: why not, and model runs)
    // the density's own record first (its run's deterministic sites as extra outputs), else a recording of its own
    const fromRecord = options.record ? await completionFromRecord(options.record.record, options.record.outputs, point, fixed.size, options.signal) : undefined;
    const det = fromRecord !== undefined && typeof fromRecord !== 'string' ? fromRecord : await compiledDeterministics(m, args, layout, point, fixed.size, options.signal);
    if (typeof det !== 'string') {
      if (det.columns.size === 0 && det.returnValues === undefined) return fixed;
      return { size: fixed.size, chains: fixed.chains, columns: new Map([...fixed.columns, ...det.columns]), ...(det.returnValues ? { returnValues: det.returnValues as R[] } : {}) };
    }
  }
  if (!options.batched || layout.sites.some((s) => s.dependentSupport)) return completeDraws(m, args, layout, point, materialiseDraws(fixed), options);
  const batchRank = new Map(layout.sites.map((s) => [s.address, s.batchRank]));
  // per-draw values only for the first draw's check run (and a per-draw fallback): tensors made here are freed below
  const made: tf.Tensor[] = [];
  const values = (i: number): Record<string, Value> => {
    const out: Record<string, Value> = {};
    for (const [k, c] of fixed.columns) {
      const v = valueAt(c, i);
      if (typeof v !== 'number') made.push(v);
      out[k] = v;
    }
    return out;
  };
  const stacked = (address: string, start: number, end: number): tf.Tensor | undefined => {
    const c = fixed.columns.get(address);
    if (!c) return undefined;
    return tf.tensor(typedRows(c, start, end), [end - start, ...c.shape], c.dtype ?? 'float32');
  };
  let replayed: Replayed<R> | undefined;
  try {
    replayed = await replayDraws(
      m,
      args,
      { size: fixed.size, values, batching: { plateNesting: layout.plateNesting, batchRank: (a) => batchRank.get(a) ?? 0 }, stacked },
      // small draws run in one batch (a model run on tfjs costs the same for 1000 rows as for 4000)
      { batched: true, columns: true, chunk: Math.max(1024, Math.floor(CHUNK_VALUES / Math.max(1, valuesPerDraw(fixed)))), ...(options.signal ? { signal: options.signal } : {}) },
    );
  } finally {
    for (const t of made) if (!t.isDisposed) t.dispose();
  }
  if (!replayed) return fixed;
  const done = replayed;
  if (replayed.columns && replayed.values.every((v) => Object.keys(v).length === 0)) {
    const returns = replayed.returnValues.some((r) => r !== undefined) ? { returnValues: replayed.returnValues } : {};
    return { size: fixed.size, chains: fixed.chains, columns: new Map([...fixed.columns, ...replayed.columns]), ...returns };
  }
  // values that are not columns (or a per-draw fallback): per-draw records
  const cols = replayed.columns;
  return materialiseDraws(fixed).map((d, i) => {
    const extra: Record<string, Value> = { ...done.values[i] };
    if (cols) for (const [k, c] of cols) extra[k] = valueAt(c, i);
    return { ...d, values: { ...d.values, ...extra }, returnValue: done.returnValues[i]! };
  });
}
