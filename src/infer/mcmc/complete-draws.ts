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
import type { Draw } from '../posterior.js';
import { replayDraws } from '../replay-draws.js';
import type { Layout } from './potential.js';
import type { Model } from '../../core/model.js';

/** Options of {@link completeDraws}. */
export interface CompleteOptions {
  /** The model ran batched during sampling, so try batched runs here (checked against a per-draw run). */
  readonly batched: boolean;
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
