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
