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
 * different shapes never give the same sequence (booleans as 0 and 1), or
 * undefined where an element is anything else (a tensor, a string, null):
 * such an array is never remembered, and nothing is read from its elements
 * (reading a tensor draw as a number is an error under the gradient engines).
 */
function contentsOf(x: NumericArray): Float64Array | undefined {
  if (!Array.isArray(x)) {
    // typed arrays: flat
    const flat = new Float64Array(x.length + 1);
    flat[0] = x.length;
    flat.set(x as ArrayLike<number>, 1);
    return flat;
  }
  const out: number[] = [];
  return writeContents(x, out) ? Float64Array.from(out) : undefined;
}

/** Append the contents of `a` to `out`; false at an element that is not a number, boolean or array. */
function writeContents(a: readonly unknown[], out: number[]): boolean {
  out.push(a.length);
  for (let i = 0; i < a.length; i++) {
    const e = a[i];
    if (Array.isArray(e)) {
      if (!writeContents(e, out)) return false;
    } else if (typeof e === 'number') out.push(e);
    else if (typeof e === 'boolean') out.push(e ? 1 : 0);
    else return false;
  }
  return true;
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
    const s = seen[k]; // undefined past the end, which no element equals
    if (e === s) {
      k++; // the common case: the same number
    } else if (Array.isArray(e)) {
      k = compareFrom(e, seen, k);
      if (k < 0) return -1;
    } else if (typeof e === 'number' ? e === e || s === s : typeof e !== 'boolean' || (e ? 1 : 0) !== s) {
      return -1; // a different number (NaN equals NaN here), a different boolean, or not a number at all
    } else k++;
  }
  return k;
}

/** True when the nested array `x` still holds the sequence `seen`. */
function sameNested(x: readonly unknown[], seen: Float64Array): boolean {
  return compareFrom(x, seen, 0) === seen.length;
}

/**
 * Values made from arrays, remembered per array object together with the
 * array's contents at the time. {@link ContentCache.get} returns the
 * remembered value only when the array still holds those contents (and
 * `valid` accepts it); otherwise it makes, remembers and returns a new one.
 * A hit costs one pass over the array; the last array asked for is checked
 * before the map. An array that holds anything but numbers, booleans and
 * arrays of them (a tensor, say) is never remembered: `make` runs each time.
 */
export class ContentCache<T> {
  private readonly map = new WeakMap<object, CacheEntry<T>>();
  private lastKey: object | undefined;
  private lastEntry: CacheEntry<T> | undefined;
  /** Content-keyed mode: values by a hash of their flat number array's contents (empty while off; see the constructor). */
  private readonly byContents = new Map<number, CacheEntry<T>[]>();
  private byContentsSize = 0;

  /**
   * @param maxByContents - also find values by contents, up to this many arrays
   *   (cleared when full): a flat array of numbers that misses by identity
   *   (a vector the model builds afresh on every run, e.g.
   *   `Categorical(new Array(n).fill(1 / n))`) then gets the value made from
   *   an earlier array that held the same numbers, found by a hash and an
   *   exact comparison, instead of a new one. Only for values that keep
   *   nothing of the array itself (a copy, a table made from it). Default 0: off.
   */
  constructor(private readonly maxByContents = 0) {}

  /**
   * The value made from `x`'s current contents.
   * @param x - the array (its identity is the key; its contents are checked on every hit)
   * @param make - makes the value from `x` on a miss (it may throw; nothing is remembered then); pass a function
   *   made once, not a closure per call, where the call is hot (a hit then allocates nothing)
   * @param valid - optional check of a remembered value (e.g. a tensor not yet disposed)
   */
  get<X extends NumericArray>(x: X, make: (x: X) => T, valid?: (value: T) => boolean): T {
    const entry = x === this.lastKey ? this.lastEntry : this.map.get(x);
    if (entry !== undefined && (entry.flat ? sameFlat(x, entry.contents) : sameNested(x as readonly unknown[], entry.contents)) && (valid === undefined || valid(entry.value))) {
      this.lastKey = x;
      this.lastEntry = entry;
      return entry.value;
    }
    if (this.maxByContents > 0 && Array.isArray(x)) return this.getByContents(x, make, valid);
    const value = make(x);
    const contents = contentsOf(x);
    if (contents === undefined) return value;
    // a typed array or a plain array of numbers (its contents: its length, then its elements) is compared by one tight loop
    const flat = !Array.isArray(x) || (contents.length === x.length + 1 && x.every((e) => typeof e === 'number'));
    const fresh: CacheEntry<T> = { contents, value, flat };
    this.map.set(x, fresh);
    this.lastKey = x;
    this.lastEntry = fresh;
    return value;
  }

  /** An identity miss in content-keyed mode: the value of an earlier array with the same numbers, else a new one. */
  private getByContents<X extends NumericArray>(x: X & readonly unknown[], make: (x: X) => T, valid: ((value: T) => boolean) | undefined): T {
    const h = contentsHash(x);
    if (h === undefined) return make(x); // not a flat array of numbers: nothing remembered (as for tensors)
    const byContents = this.byContents;
    const bucket = byContents.get(h);
    let entry: CacheEntry<T> | undefined;
    if (bucket !== undefined) {
      for (const e of bucket) {
        if (sameFlat(x, e.contents) && (valid === undefined || valid(e.value))) {
          entry = e;
          break;
        }
      }
    }
    if (entry === undefined) {
      const value = make(x);
      if (this.byContentsSize >= this.maxByContents) {
        byContents.clear();
        this.byContentsSize = 0;
      }
      entry = { contents: contentsOf(x)!, value, flat: true };
      const now = byContents.get(h);
      if (now !== undefined) now.push(entry);
      else byContents.set(h, [entry]);
      this.byContentsSize += 1;
    }
    // the same array asked again (a buffer, an enumeration's paths) is then an identity hit
    this.lastKey = x;
    this.lastEntry = entry;
    return entry.value;
  }
}

/** A hash of a flat array of numbers (undefined where an element is not a number). */
function contentsHash(a: readonly unknown[]): number | undefined {
  let h = a.length | 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    if (typeof x !== 'number') return undefined;
    h = (Math.imul(h, 31) + ((x * 2654435761) | 0)) | 0;
  }
  return h;
}

/** A remembered value, the contents it was made from, and whether they are flat (a typed array, or a plain array of numbers). */
interface CacheEntry<T> {
  readonly contents: Float64Array;
  readonly value: T;
  readonly flat: boolean;
}

/** True when the flat array `a` (numbers when remembered) still holds `seen` (its length, then its elements; NaN equal to NaN). */
function sameFlat(a: ArrayLike<unknown>, seen: Float64Array): boolean {
  if (seen[0] !== a.length) return false;
  for (let i = 0; i < a.length; i++) {
    const e = a[i];
    const s = seen[i + 1];
    if (e !== s && !(e !== e && s !== s)) return false; // (anything not a number is never equal to s)
  }
  return true;
}
