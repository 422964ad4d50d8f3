/**
 * Selection: an order statistic without a sort.
 *
 * @module
 */

/**
 * The k-th smallest (0-based) entry of `a` by Hoare's selection (median-of-
 * three pivots, so sorted input stays linear), in expected linear time. It
 * reorders `a`: every entry before index k is at most the answer and every
 * entry after it at least the answer.
 */
export function kthSmallest(a: Float64Array, k: number): number {
  const range = { lo: 0, hi: a.length - 1 };
  while (range.hi > range.lo && !partitionPass(a, k, range));
  return a[k]!;
}

/**
 * {@link kthSmallest} one partition pass at a time: the generator yields after
 * each pass (the first touches all of `a`, the later ones about half the one
 * before) and returns the answer, so a caller can pace a selection over
 * millions of entries. The same passes as `kthSmallest`, so the same answer and
 * the same reordering of `a`.
 */
export function* kthSmallestPasses(a: Float64Array, k: number): Generator<void, number, void> {
  const range = { lo: 0, hi: a.length - 1 };
  while (range.hi > range.lo && !partitionPass(a, k, range)) yield;
  return a[k]!;
}

/**
 * One pass of Hoare's partition of `a[lo..hi]` around a median-of-three pivot:
 * narrows `range` to the side holding index k, or returns true when `a[k]` is
 * in its final place.
 */
function partitionPass(a: Float64Array, k: number, range: { lo: number; hi: number }): boolean {
  const { lo, hi } = range;
  const mid = (lo + hi) >>> 1;
  // median of three as pivot: sorted data (ratios are often nearly sorted) stays linear
  const p = median3(a[lo]!, a[mid]!, a[hi]!);
  let i = lo;
  let j = hi;
  while (i <= j) {
    while (a[i]! < p) i++;
    while (a[j]! > p) j--;
    if (i <= j) {
      const t = a[i]!;
      a[i] = a[j]!;
      a[j] = t;
      i++;
      j--;
    }
  }
  if (k <= j) range.hi = j;
  else if (k >= i) range.lo = i;
  else return true;
  return false;
}

function median3(a: number, b: number, c: number): number {
  return a < b ? (b < c ? b : a < c ? c : a) : a < c ? a : b < c ? c : b;
}
