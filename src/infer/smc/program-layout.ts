/**
 * The layout of a batched program-SMC run, read from one particle run on its
 * own (with numbers): how many batch dimensions to reserve between the
 * particle axis and each site's own batch shape, and the shape each value
 * has per particle, so that a batched row can be handed back as the value a
 * per-particle run would have made.
 *
 * Why dimensions are reserved: run on its own, `observe('y', Normal(mu, 1),
 * ys)` with a scalar `mu` and ten observations broadcasts `[]` against
 * `[10]`. Batched, `mu` is `[N]`, which does not broadcast against `[10]`;
 * with one reserved dimension it is `[N, 1]`, and `Normal(mu, 1)` scores all
 * ten observations of each particle (`[N, 10]`). Plates need the same (a
 * plate occupies a dimension counted from the right). The number reserved is
 * the deepest batch rank any site has in the reference run: a plate's depth,
 * the batch rank of a sample site's distribution (an observation of shape
 * `[10]` expands a scalar distribution to batch `[10]`), the rank of a
 * factor's log weight.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Trace } from '../../core/trace.js';
import { plateNestingOf } from '../../core/trace.js';
import { isTensor, shapeOf } from '../../core/value.js';
import { NotBatchableError } from './batch-refusal.js';

/** The shapes of a value's tensors and numbers (`[]`), following its arrays and plain records. */
export type ShapeSkeleton = { readonly shape: readonly number[] } | readonly ShapeSkeleton[] | { readonly [key: string]: ShapeSkeleton } | undefined;

/** How a program's particles are laid out in a batched run (see the module comment). */
export interface BatchLayout {
  /** Batch dimensions reserved between the particle axis and each site's own batch shape. */
  readonly nesting: number;
  /** Each site's value shape in a run on its own, by address. */
  readonly shapes: ReadonlyMap<string, readonly number[]>;
  /** The shapes of the return value of a run on its own. */
  readonly returned: ShapeSkeleton;
}

/** The layout of a program that needs no reserved dimensions and whose shapes are not known (rows as stored). */
export const PLAIN_LAYOUT: BatchLayout = { nesting: 0, shapes: new Map(), returned: undefined };

/** The shapes of `v`'s numbers and tensors (undefined for anything else). */
export function shapeSkeleton(v: unknown): ShapeSkeleton {
  if (typeof v === 'number' || isTensor(v)) return { shape: shapeOf(v) };
  if (Array.isArray(v)) return v.map(shapeSkeleton);
  if (v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
    const out: Record<string, ShapeSkeleton> = {};
    for (const [k, x] of Object.entries(v)) out[k] = shapeSkeleton(x);
    return out;
  }
  return undefined;
}

/** The leaf shape a skeleton gives for a value (undefined when it gives none). */
export function leafShape(s: ShapeSkeleton): readonly number[] | undefined {
  return s !== undefined && !Array.isArray(s) && Array.isArray((s as { shape?: unknown }).shape) ? (s as { shape: readonly number[] }).shape : undefined;
}

/** The child of a skeleton at an array index or record key. */
export function childSkeleton(s: ShapeSkeleton, key: string | number): ShapeSkeleton {
  if (s === undefined || leafShape(s) !== undefined) return undefined;
  return (s as Record<string | number, ShapeSkeleton>)[key];
}

/**
 * The layout from a run of one particle on its own (`trace`, `returnValue`).
 * Throws `NotBatchableError` for what a batched run cannot do alike: a
 * subsampled plate (each particle draws its own subsample).
 */
export function layoutOf(trace: Trace, returnValue: unknown): BatchLayout {
  let nesting = plateNestingOf(trace);
  const shapes = new Map<string, readonly number[]>();
  for (const s of trace) {
    for (const p of s.plates) {
      if (p.subsampleSize < p.size) {
        throw new NotBatchableError(
          `site "${s.address}": plate "${p.name}" subsamples ${p.subsampleSize} of ${p.size}; each particle draws its own subsample, which one batched execution cannot (it would share one among all particles): run without subsample for the batched path`,
        );
      }
    }
    if (s.type === 'sample' && s.dist) nesting = Math.max(nesting, s.dist.batchShape.length);
    if (s.type === 'factor') nesting = Math.max(nesting, shapeOf(s.logProb).length);
    if (typeof s.value === 'number' || isTensor(s.value)) shapes.set(s.address, shapeOf(s.value));
  }
  return { nesting, shapes, returned: shapeSkeleton(returnValue) };
}

/**
 * Row `data[offset .. offset + k)` of a batched tensor as the value a run on
 * its own gives: a number where `own` is `[]`, else a tensor of shape `own`
 * (or of the stored row shape `rest` when `own` is unknown or holds another
 * number of elements).
 */
export function rowValue(data: tf.TypedArray, offset: number, k: number, rest: readonly number[], dtype: tf.DataType, own: readonly number[] | undefined): number | tf.Tensor {
  const shape = own && own.reduce((a, b) => a * b, 1) === k ? own : rest;
  if (shape.length === 0) return data[offset];
  return tf.tensor(data.subarray(offset, offset + k), [...shape], dtype);
}
