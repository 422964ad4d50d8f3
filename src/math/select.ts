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
  let lo = 0;
  let hi = a.length - 1;
  while (hi > lo) {
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
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return a[k]!;
  }
  return a[k]!;
}

function median3(a: number, b: number, c: number): number {
  return a < b ? (b < c ? b : a < c ? c : a) : a < c ? a : b < c ? c : b;
}
