/**
 * A small set-associative cache keyed by a number: a value made from a number
 * parameter (a distribution built by `Bernoulli(p)`) is made once and found
 * again by one multiply, a table read or two and a comparison or two. Each
 * number has a set of two slots (the most recent first); a third number in
 * the same set replaces the older one, so memory stays bounded whatever
 * numbers a model passes (e.g. a probability computed from a continuous
 * draw), and the few constants of a model stay found even when two of them
 * share a set (with one slot per set, burglary's 0.001 and 0.7 did, and
 * replaced each other at every site).
 *
 * @module
 */

/** Sets of each cache (a power of two: `slotOf` keeps 8 bits), two slots each. */
const SETS = 256;

/**
 * Values made from numbers, at most two per set. `get`
 * returns the value made from exactly the same number (`Object.is`, so `0`
 * and `-0`, and NaN, are told apart and found), or makes and remembers one.
 */
export class NumberCache<T> {
  private readonly keys = new Float64Array(2 * SETS);
  private readonly values: (T | undefined)[] = new Array<T | undefined>(2 * SETS).fill(undefined);

  /**
   * The value made from `x`.
   * @param x - the key
   * @param make - makes the value from `x` on a miss (it may throw; nothing is remembered then); pass a function
   *   made once, not a closure per call, where the call is hot
   */
  get(x: number, make: (x: number) => T): T {
    const i = 2 * setOf(x);
    const values = this.values;
    const keys = this.keys;
    const first = values[i];
    if (first !== undefined && Object.is(keys[i], x)) return first;
    const second = values[i + 1];
    if (second !== undefined && Object.is(keys[i + 1], x)) return second;
    const made = make(x);
    // the newest first; the older of the two is dropped
    keys[i + 1] = keys[i];
    values[i + 1] = first;
    keys[i] = x;
    values[i] = made;
    return made;
  }
}

/** The set of `x`: the high 8 bits of a multiplicative hash of its scaled value (numbers in [0, 1] spread evenly). */
function setOf(x: number): number {
  // (x * 2^32) | 0 keeps 32 bits of a probability's fraction (any number maps somewhere; NaN to 0)
  return Math.imul((x * 4294967296) | 0, 0x9e3779b1) >>> 24;
}
