/**
 * A cache keyed by a plain JS array (or typed array) that also checks the
 * array's contents: what was made from an array (a tensor, a normalised
 * probability table) is reused only while the array still holds the same
 * numbers. A model that fills one buffer again and again (`row[0] = y[t]`
 * before each `observe`, `probs[0] = ...` before each `Categorical`) gets
 * what it wrote each time, not what the buffer held at its first use.
 *
 * @module
 */

/** A plain (possibly nested) array of numbers or booleans, or a typed array. */
export type NumericArray = readonly unknown[] | Float32Array | Float64Array | Int32Array;

/**
 * The contents of a (nested) array as one float64 sequence in which each
 * array contributes its length and then its elements, so that two arrays of
 * different shapes never give the same sequence. Elements that are not
 * numbers or arrays (booleans, and anything a caller will refuse anyway)
 * are written as `Number(e)`.
 */
function contentsOf(x: NumericArray): Float64Array {
  if (!Array.isArray(x)) {
    // typed arrays: flat
    const flat = new Float64Array(x.length + 1);
    flat[0] = x.length;
    flat.set(x as ArrayLike<number>, 1);
    return flat;
  }
  const out: number[] = [];
  writeContents(x, out);
  return Float64Array.from(out);
}

function writeContents(a: readonly unknown[], out: number[]): void {
  out.push(a.length);
  for (let i = 0; i < a.length; i++) {
    const e = a[i];
    if (Array.isArray(e)) writeContents(e, out);
    else out.push(typeof e === 'number' ? e : Number(e));
  }
}

/** a === b, with NaN equal to NaN. */
function same(a: number, b: number): boolean {
  return a === b || (a !== a && b !== b);
}

/**
 * Compare the (nested) array `a` with `seen` from position `k`; the position
 * after it, or -1 on a difference. (Plain functions, no closures: this runs
 * on every hit, and closures cost microseconds under some transpilers.)
 */
function compareFrom(a: readonly unknown[], seen: Float64Array, k: number): number {
  if (k >= seen.length || seen[k++] !== a.length) return -1;
  for (let i = 0; i < a.length; i++) {
    const e = a[i];
    if (Array.isArray(e)) {
      k = compareFrom(e, seen, k);
      if (k < 0) return -1;
    } else if (k >= seen.length || !same(seen[k++], typeof e === 'number' ? e : Number(e))) return -1;
  }
  return k;
}

/** True when `x` still holds the sequence `seen`. */
function sameContents(x: NumericArray, seen: Float64Array): boolean {
  if (Array.isArray(x)) return compareFrom(x, seen, 0) === seen.length;
  const t = x as ArrayLike<number>;
  if (seen.length !== t.length + 1 || seen[0] !== t.length) return false;
  for (let i = 0; i < t.length; i++) if (!same(seen[i + 1], t[i])) return false;
  return true;
}

/**
 * Values made from arrays, remembered per array object together with the
 * array's contents at the time. {@link ContentCache.get} returns the
 * remembered value only when the array still holds those contents (and
 * `valid` accepts it); otherwise it makes, remembers and returns a new one.
 * A hit costs one pass over the array; the last array asked for is checked
 * before the map.
 */
export class ContentCache<T> {
  private readonly map = new WeakMap<object, { contents: Float64Array; value: T }>();
  private lastKey: object | undefined;
  private lastEntry: { contents: Float64Array; value: T } | undefined;

  /**
   * The value made from `x`'s current contents.
   * @param x - the array (its identity is the key; its contents are checked on every hit)
   * @param make - makes the value from `x` on a miss (it may throw; nothing is remembered then)
   * @param valid - optional check of a remembered value (e.g. a tensor not yet disposed)
   */
  get(x: NumericArray, make: () => T, valid?: (value: T) => boolean): T {
    const entry = x === this.lastKey ? this.lastEntry : this.map.get(x);
    if (entry !== undefined && sameContents(x, entry.contents) && (valid === undefined || valid(entry.value))) {
      this.lastKey = x;
      this.lastEntry = entry;
      return entry.value;
    }
    const value = make();
    const fresh = { contents: contentsOf(x), value };
    this.map.set(x, fresh);
    this.lastKey = x;
    this.lastEntry = fresh;
    return value;
  }
}
