/**
 * Tracing particle lineages back through the genealogy recorded by the
 * particle core.
 *
 * `ancestors[t][i]` is the index, in the population after step `t - 1`, of
 * the parent of particle `i` after step `t` (`ancestors[0]` is the identity).
 *
 * @module
 */

/**
 * The lineage of chosen final particles: `out[t][j]` is the index, after step
 * `t`, of the ancestor of final particle `from[j]` (default: every final
 * particle, in order). `out[last]` equals `from`.
 */
export function traceLineages(ancestors: readonly Int32Array[], from?: Int32Array): Int32Array[] {
  const T = ancestors.length;
  if (T === 0) return [];
  const n = ancestors[T - 1].length;
  let cur = from ?? Int32Array.from({ length: n }, (_, i) => i);
  for (let j = 0; j < cur.length; j++) {
    if (!(cur[j] >= 0 && cur[j] < n)) throw new Error(`traceLineages: final index ${cur[j]} is outside 0..${n - 1}`);
  }
  const out = new Array<Int32Array>(T);
  out[T - 1] = cur;
  for (let t = T - 1; t > 0; t--) {
    const a = ancestors[t];
    const prev = new Int32Array(cur.length);
    for (let j = 0; j < cur.length; j++) prev[j] = a[cur[j]];
    out[t - 1] = prev;
    cur = prev;
  }
  return out;
}

/**
 * Number of distinct ancestors, at each step, of the final population: how
 * much of the path degeneracy the genealogy shows (1 means every path
 * coalesces there).
 */
export function distinctAncestors(ancestors: readonly Int32Array[]): number[] {
  const lines = traceLineages(ancestors);
  return lines.map((idx) => new Set(idx).size);
}

/**
 * The ancestry of chosen final particles, kept only where it changes: `ids[k]`
 * holds, for each of `from`'s particles, the index of its ancestor in the
 * population of steps `steps[k]` up to the next entry's step (the ancestry
 * changes only at a resampling). `steps` descends: the first entry is the
 * final population's own (`from`), the last is step 0's. Steps without
 * resampling (the core records the first step's identity array for them)
 * cost nothing.
 *
 * @internal
 */
export interface FinalAncestry {
  readonly steps: readonly number[];
  readonly ids: readonly Int32Array[];
  /** The population size (every id is below it). */
  readonly particles: number;
}

/**
 * The `FinalAncestry` of the final particles `from` (indices into the
 * last step's population) from the core's recorded genealogy.
 *
 * @internal
 */
export function finalAncestry(ancestors: readonly Int32Array[], from: Int32Array): FinalAncestry {
  const T = ancestors.length;
  const n = T === 0 ? from.length : ancestors[T - 1].length;
  const steps: number[] = [];
  const ids: Int32Array[] = [];
  let cur = from;
  for (let t = T - 1; t > 0; t--) {
    const a = ancestors[t];
    if (a === ancestors[0]) continue; // (no resampling at t: the core's identity array)
    steps.push(t);
    ids.push(cur);
    const prev = new Int32Array(cur.length);
    for (let j = 0; j < cur.length; j++) prev[j] = a[cur[j]];
    cur = prev;
  }
  steps.push(0);
  ids.push(cur);
  return { steps, ids, particles: n };
}

/**
 * How many ancestral lineages one site's final values rest on: the earliest
 * step whose ancestors determine the values (the final particles that share
 * an ancestor there share the value: the value was drawn at or before that
 * step and only copied since), and the effective number of those ancestors,
 * `(sum w)^2 / sum over ancestors of (their descendants' total weight)^2`.
 * `x[j]` is the value of final particle `at[j]` (an index into the ancestry's
 * `from`), `w[i]` the weight of final particle `i`. Unlike counting distinct values, this reads
 * copying whatever the values are (a discrete site's equal values are no
 * sign of it). A value redrawn since (a rejuvenation move) is not determined
 * by earlier ancestors, so only the later ones count.
 *
 * @internal
 */
export function lineageEss(ancestry: FinalAncestry, x: ArrayLike<number>, at: ArrayLike<number>, w: ArrayLike<number>): { ess: number; step: number } {
  const { steps, ids, particles } = ancestry;
  // (scratch kept on the ancestry: one allocation for all of a run's sites)
  const s = ((ancestry as { scratch?: Scratch }).scratch ??= { valueOf: new Float64Array(particles), stamp: new Int32Array(particles), mass: new Float64Array(particles), mark: 0 });
  const { valueOf, stamp, mass } = s;
  // earliest first: the first epoch whose ancestors determine every value (it holds at every later epoch too)
  for (let k = ids.length - 1; k >= 0; k--) {
    const id = ids[k];
    const mark = ++s.mark;
    let determined = true;
    for (let j = 0; j < x.length; j++) {
      const a = id[at[j]];
      if (stamp[a] !== mark) {
        stamp[a] = mark;
        valueOf[a] = x[j];
      } else if (valueOf[a] !== x[j]) {
        determined = false;
        break;
      }
    }
    if (!determined && k > 0) continue;
    let total = 0;
    let s2 = 0;
    // (mass is all zeros between calls: each use clears what it set)
    for (let j = 0; j < x.length; j++) {
      const wj = w[at[j]];
      mass[id[at[j]]] += wj;
      total += wj;
    }
    for (let j = 0; j < x.length; j++) {
      const a = id[at[j]];
      s2 += mass[a] * mass[a];
      mass[a] = 0;
    }
    return { ess: s2 === 0 ? 0 : (total * total) / s2, step: steps[k] };
  }
  return { ess: 0, step: 0 }; // (unreachable: ids is never empty)
}

interface Scratch {
  readonly valueOf: Float64Array;
  readonly stamp: Int32Array;
  readonly mass: Float64Array;
  mark: number;
}

const attached = new WeakMap<object, FinalAncestry>();

/**
 * Keep a run's `FinalAncestry` beside its posterior's diagnostics (not
 * in them: it is read by the warnings, not printed or serialised).
 *
 * @internal
 */
export function attachAncestry(diagnostics: object, ancestry: FinalAncestry): void {
  attached.set(diagnostics, ancestry);
}

/**
 * The `FinalAncestry` kept by `attachAncestry`, if any.
 *
 * @internal
 */
export function ancestryOf(diagnostics: object): FinalAncestry | undefined {
  return attached.get(diagnostics);
}
