/**
 * Exact Gibbs updates of a finite discrete site inside a plate (per-datum
 * assignments `z` of a mixture), all elements at once.
 *
 * For each support value k the model runs once with every element of the
 * site set to k. The log density of each site in the same plate is split by
 * the plate's element (summed over its other axes); element i's full
 * conditional is then proportional to exp(sum of the element-i terms at
 * z_i = k), and the elements are drawn independently. That is exact when the
 * elements are conditionally independent given everything else: every site
 * that depends on z lives in z's plate, and its element i reads z_i only.
 *
 * Violations are detected where cheap, and are an error naming the site
 * (suggesting `mh`) rather than a wrong answer: a site whose log density
 * cannot be split by element (outside the plate, or without the plate's
 * axis) must not change between the K all-equal runs; and with `check`, one
 * more run changes a single random element and requires every other
 * element's terms, and the unsplit sites, to stay the same.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Model } from '../../core/model.js';
import { ModelError } from '../../core/model.js';
import type { Rng } from '../../core/rng.js';
import { type Site, type Trace, maskedLogProb } from '../../core/trace.js';
import { type Value, isTensor, toTensor } from '../../core/value.js';
import type { Distribution } from '../../distributions/distribution.js';
import { supportValues } from '../enumerate-parallel.js';
import { runWithValues } from './trace-mh.js';

/** A finite discrete site in one plate, updated element-wise by Gibbs. */
export interface PlatedSite {
  /** The site's address. */
  readonly address: string;
  /** The plate's name. */
  readonly plate: string;
  /** The number of elements (the plate's size). */
  readonly size: number;
  /** The values every element can take. */
  readonly support: readonly number[];
  /** The dtype of the site's draws (kept for the values Gibbs sets). */
  readonly dtype: tf.DataType;
}

/**
 * Describes a batched finite discrete site that plated Gibbs can update, or
 * throws an error naming it: the site must sit in exactly one plate, without
 * subsampling, with batch shape `[size]` and no event dimensions.
 */
export function platedSiteOf(site: Site): PlatedSite {
  const dist = site.dist as Distribution;
  const fail = (why: string): never => {
    throw new ModelError(site.address, `hmc-gibbs: ${dist.name} has batch shape [${dist.batchShape.join(', ')}]; ${why}`);
  };
  if (site.plates.length === 0) fail('Gibbs updates scalar discrete sites, or discrete sites batched by one plate (write one site per element, put the site in a plate, or marginalise)');
  if (site.plates.length > 1) fail(`Gibbs updates discrete sites in one plate only, this one is in plates ${site.plates.map((p) => `"${p.name}"`).join(', ')} (use method 'mh' with gibbs, or marginalise)`);
  const plate = site.plates[0]!;
  if (plate.subsampleSize !== plate.size) fail(`Gibbs cannot update a discrete site in the subsampled plate "${plate.name}"`);
  if (dist.eventShape.length > 0 || dist.batchShape.length !== 1 || dist.batchShape[0] !== plate.size) {
    fail(`Gibbs updates a discrete site in plate "${plate.name}" only when its shape is the plate's [${plate.size}] (no other batch or event dimensions)`);
  }
  const support = supportValues(dist);
  if (support === undefined || support.length === 0) fail(`${dist.name} does not have a finite support shared by all elements; Gibbs needs one (marginalise or truncate the site, or use method 'mh')`);
  return { address: site.address, plate: plate.name, size: plate.size, support: support!, dtype: isTensor(site.value) ? site.value.dtype : 'float32' };
}

/** A run's log density split by the plate's elements, and the sites that cannot be split. */
interface Split {
  /** Per element: the sum of the element's terms of the sites in the plate. */
  readonly perElement: Float64Array;
  /** The total log density of each other site, by address. */
  readonly shared: Map<string, number>;
}

/** Splits the log density of each sample/factor site of a trace by the elements of `ps`'s plate. */
function splitByElement(trace: Trace, ps: PlatedSite): Split {
  const perElement = new Float64Array(ps.size);
  const shared = new Map<string, number>();
  for (const s of trace) {
    if (s.type !== 'sample' && s.type !== 'factor') continue;
    if (s.mask === false || s.scale === 0) continue;
    let lp: ArrayLike<number> = [];
    let shape: number[] = [];
    tf.tidy(() => {
      const t = toTensor(maskedLogProb(s));
      lp = t.dataSync();
      shape = t.shape;
    });
    const frame = s.plates.find((p) => p.name === ps.plate);
    const axis = frame === undefined ? -1 : shape.length + frame.dim;
    if (axis >= 0 && shape[axis] === ps.size) {
      let stride = 1;
      for (let d = axis + 1; d < shape.length; d++) stride *= shape[d]!;
      for (let j = 0; j < lp.length; j++) perElement[Math.floor(j / stride) % ps.size] += lp[j]! * s.scale;
    } else {
      let total = 0;
      for (let j = 0; j < lp.length; j++) total += lp[j]!;
      shared.set(s.address, total * s.scale);
    }
  }
  return { perElement, shared };
}

/** Equal up to float32 rounding (identical computations give identical numbers; this only forgives the last bits). */
function same(a: number, b: number): boolean {
  return a === b || Math.abs(a - b) <= 1e-5 * (1 + Math.abs(a) + Math.abs(b));
}

const MH_HINT = "Gibbs updates the elements of a plated discrete site together only when they are conditionally independent given everything else (every site that depends on them is in their plate and reads its own element): move such a site into the plate, or use method 'mh'";

/**
 * Checks that the unsplit sites of run `b` equal those of run `a` (and that
 * both have the same sites), else throws naming the first site that differs.
 */
function checkShared(ps: PlatedSite, a: Split, b: Split, what: string): void {
  for (const [address, x] of b.shared) {
    const y = a.shared.get(address);
    if (y === undefined || !same(x, y)) {
      throw new ModelError(address, `hmc-gibbs: the log density of this site changes with the plated discrete site "${ps.address}" (${String(y)} vs ${x} ${what}); ${MH_HINT}`);
    }
  }
  for (const address of a.shared.keys()) {
    if (!b.shared.has(address)) throw new ModelError(address, `hmc-gibbs: this site comes and goes with the plated discrete site "${ps.address}" (${what}); ${MH_HINT}`);
  }
}

/**
 * One Gibbs update of every element of a plated discrete site: `values` gives
 * the other sites' values (the site's own is replaced). Returns the new
 * values (one per element) and the model runs spent. With `check`, one more
 * run tests conditional independence at a random element (see the module
 * header). Tensors the runs create are left to the caller's scope.
 */
export async function platedGibbsStep<A extends unknown[], R>(
  m: Model<A, R>,
  args: A,
  values: (address: string) => Value | undefined,
  ps: PlatedSite,
  rng: Rng,
  check: boolean,
): Promise<{ values: Float64Array; runs: number }> {
  const { address, size, support } = ps;
  const K = support.length;
  const r = rng.split();
  const runAt = async (z: tf.Tensor): Promise<Split> => {
    const { trace } = await runWithValues(m, args, (a) => (a === address ? z : values(a)), r);
    const site = trace.get(address);
    if (site === undefined || site.value !== z) throw new ModelError(address, `hmc-gibbs: this plated discrete site is missing from a run; the set of sites must not depend on random choices (use method 'mh')`);
    for (const s of trace) {
      if (s.type === 'sample' && !s.observed && s.address !== address && values(s.address) === undefined) {
        throw new ModelError(address, `hmc-gibbs: setting this plated site creates the new site "${s.address}"; use method 'mh' for sites that change the model's structure`);
      }
    }
    const split = splitByElement(trace, ps);
    trace.disposeLogProbs();
    return split;
  };
  const runs: Split[] = [];
  for (let k = 0; k < K; k++) {
    runs.push(await runAt(tf.fill([size], support[k]!, ps.dtype)));
    if (k > 0) checkShared(ps, runs[0]!, runs[k]!, `with every element at ${support[0]} and at ${support[k]}`);
  }
  let spent = K;
  if (check && K > 1 && size > 1) {
    // change one random element: nothing else may move
    const j = rng.int(size);
    const k1 = 1 + rng.int(K - 1);
    const mixed = new Float64Array(size).fill(support[0]!);
    mixed[j] = support[k1]!;
    const one = await runAt(tf.tensor1d(Array.from(mixed), ps.dtype as 'float32' | 'int32'));
    spent += 1;
    checkShared(ps, runs[0]!, one, `with every element at ${support[0]}, and element ${j} at ${support[k1]}`);
    for (let i = 0; i < size; i++) {
      const want = i === j ? runs[k1]!.perElement[i]! : runs[0]!.perElement[i]!;
      if (!same(one.perElement[i]!, want)) {
        throw new ModelError(address, `hmc-gibbs: the log density of element ${i} of plate "${ps.plate}" changes with element ${j} of this site; ${MH_HINT}`);
      }
    }
  }
  // draw each element from its conditional
  const out = new Float64Array(size);
  const w = new Float64Array(K);
  for (let i = 0; i < size; i++) {
    let max = -Infinity;
    for (let k = 0; k < K; k++) max = Math.max(max, (w[k] = runs[k]!.perElement[i]!));
    if (!(max > -Infinity)) throw new ModelError(address, `hmc-gibbs: element ${i} has ${Number.isNaN(max) ? 'a NaN log density' : 'zero probability at every value'} given the other sites`);
    let total = 0;
    for (let k = 0; k < K; k++) total += w[k] = Math.exp(w[k]! - max);
    if (Number.isNaN(total)) throw new ModelError(address, `hmc-gibbs: element ${i} has a NaN log density`);
    let u = rng.uniform() * total;
    let pick = K - 1;
    for (let k = 0; k < K; k++) {
      u -= w[k]!;
      if (u <= 0) {
        pick = k;
        break;
      }
    }
    out[i] = support[pick]!;
  }
  return { values: out, runs: spent };
}
