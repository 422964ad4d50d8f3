/**
 * Draws held column by column: one Float64Array per site with every draw's
 * value end to end (chains x draws x site size, chain-major), instead of an
 * object and a tensor per draw.
 *
 * MCMC produces thousands of draws of a few fixed-shape sites. Building a
 * record and a tensor for each of them costs more than the sampling itself
 * on a small model (eight schools: 8000 tensors per 4 x 1000 draws), while
 * what users and the diagnostics mostly read (summaries, moments, ESS, R-hat)
 * are the columns themselves. A posterior built from {@link DrawColumns}
 * answers those from the columns and makes the per-draw records
 * ({@link materialiseDraws}) only when someone asks for `draws`.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { type Value, unravelIndex } from '../core/value.js';

/** One draw: latent values by address, the model's return value and a log-weight. */
export interface Draw<R = unknown> {
  readonly values: Readonly<Record<string, Value>>;
  readonly returnValue: R;
  readonly logWeight: number;
  /** The chain (MCMC) this draw belongs to. */
  readonly chain?: number;
}

/** Every draw's value of one site, end to end. */
export interface DrawColumn {
  /** Shape of one draw's value (`[]`: a number). */
  readonly shape: readonly number[];
  /** Values, draw after draw: length = draws x product of `shape`. */
  readonly data: Float64Array;
  /** The dtype of the per-draw tensors made from it (non-scalar sites); default float32. */
  readonly dtype?: 'float32' | 'int32';
}

/** Equally weighted draws of `chains` chains of equal length, chain-major, held as columns. */
export interface DrawColumns<R = unknown> {
  /** Draws in all (chains x draws per chain). */
  readonly size: number;
  /** Chains; draw i belongs to chain `floor(i / (size / chains))`. */
  readonly chains: number;
  /** Columns by address, in the order the sites appear in a draw. */
  readonly columns: ReadonlyMap<string, DrawColumn>;
  /** Per draw: the model's return value (undefined for all when absent). */
  readonly returnValues?: readonly R[];
}

/** Number of values in one draw of a column. */
export function widthOf(c: DrawColumn): number {
  let w = 1;
  for (const d of c.shape) w *= d;
  return w;
}

/**
 * Checks that the columns hold `size` draws each and that `chains` divides
 * `size`; throws naming the offending site.
 */
export function checkColumns(c: DrawColumns<unknown>): void {
  if (!(Number.isInteger(c.chains) && c.chains >= 1 && c.size % c.chains === 0)) throw new RangeError(`draw columns: ${c.size} draws do not split into ${c.chains} chains of equal length`);
  for (const [address, col] of c.columns) {
    if (col.data.length !== c.size * widthOf(col)) throw new RangeError(`draw columns: site "${address}" holds ${col.data.length} values, expected ${c.size} draws x ${widthOf(col)}`);
  }
  if (c.returnValues !== undefined && c.returnValues.length !== c.size) throw new RangeError(`draw columns: ${c.returnValues.length} return values for ${c.size} draws`);
}

/** The value of draw i of a column: a number, or a new tensor of the column's shape. */
export function valueAt(col: DrawColumn, i: number): Value {
  if (col.shape.length === 0) return col.data[i]!;
  return tf.tensor(typedRows(col, i, i + 1), [...col.shape], col.dtype ?? 'float32');
}

/** Draws start..end-1 of a column as the typed array tfjs takes for its dtype (tfjs refuses Float64Array). */
export function typedRows(col: DrawColumn, start: number, end: number): Float32Array | Int32Array {
  const w = widthOf(col);
  const rows = col.data.subarray(start * w, end * w);
  return col.dtype === 'int32' ? Int32Array.from(rows) : Float32Array.from(rows);
}

/** Per-draw records made from columns (a tensor per draw of each non-scalar site; the caller owns them). */
export function materialiseDraws<R>(c: DrawColumns<R>): Draw<R>[] {
  const perChain = c.size / c.chains;
  const cols = [...c.columns];
  const out: Draw<R>[] = new Array<Draw<R>>(c.size);
  for (let i = 0; i < c.size; i++) {
    const values: Record<string, Value> = {};
    for (const [address, col] of cols) values[address] = valueAt(col, i);
    out[i] = { values, returnValue: c.returnValues?.[i] as R, logWeight: 0, chain: Math.floor(i / perChain) };
  }
  return out;
}

/**
 * Every scalar quantity of the columns (`theta[0]`, `theta[1]`, ... for a
 * vector site), each with every draw's value, in site then element order.
 */
export function scalarQuantities(c: DrawColumns<unknown>): Map<string, Float64Array> {
  const out = new Map<string, Float64Array>();
  for (const [address, col] of c.columns) {
    const w = widthOf(col);
    if (col.shape.length === 0) {
      out.set(address, col.data.slice());
      continue;
    }
    for (let j = 0; j < w; j++) {
      const v = new Float64Array(c.size);
      gatherRows(col.data, j, w, c.size, 1, v, 0);
      out.set(`${address}[${unravelIndex(j, [...col.shape]).join(',')}]`, v);
    }
  }
  return out;
}

/**
 * Copies `rows` blocks of `width` numbers, the r-th from
 * `src[srcStart + r * srcStride ..]`, one after another into `dst` from
 * `dstStart`: a strided gather (a column of row-major draws, one site's
 * slice of each draw). A function of its own, small, so that V8 compiles
 * the loop alone, not the caller around it (on a process's first call, tens
 * of ms of compiler time for a loop run once).
 */
export function gatherRows(src: ArrayLike<number>, srcStart: number, srcStride: number, rows: number, width: number, dst: Float64Array | Float32Array, dstStart: number): void {
  let to = dstStart;
  for (let r = 0; r < rows; r++) {
    const from = srcStart + r * srcStride;
    for (let k = 0; k < width; k++) dst[to++] = src[from + k]!;
  }
}

/** A quantity's draws split into its chains (copies: callers may keep or change them). */
export function splitChains(values: Float64Array, chains: number): Float64Array[] {
  const n = values.length / chains;
  return Array.from({ length: chains }, (_, k) => values.slice(k * n, (k + 1) * n));
}
