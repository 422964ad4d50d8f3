/**
 * A small direct-mapped cache keyed by a number: a value made from a number
 * parameter (a distribution built by `Bernoulli(p)`) is made once and found
 * again by one multiply, one table read and one comparison. A key that lands
 * on an occupied slot replaces it, so memory stays bounded whatever numbers
 * a model passes (e.g. a probability computed from a continuous draw).
 *
 * @module
 */

/** Slots of each cache (a power of two). */
const SLOTS = 256;

/**
 * Values made from numbers, at most one per slot. {@link NumberCache.get}
 * returns the value made from exactly the same number (`Object.is`, so `0`
 * and `-0`, and NaN, are told apart and found), or makes and remembers one.
 */
export class NumberCache<T> {
  private readonly keys = new Float64Array(SLOTS);
  private readonly values: (T | undefined)[] = new Array<T | undefined>(SLOTS).fill(undefined);

  /**
   * The value made from `x`.
   * @param x - the key
   * @param make - makes the value from `x` on a miss (it may throw; nothing is remembered then); pass a function
   *   made once, not a closure per call, where the call is hot
   */
  get(x: number, make: (x: number) => T): T {
    const i = slotOf(x);
    const v = this.values[i];
    if (v !== undefined && Object.is(this.keys[i], x)) return v;
    const made = make(x);
    this.keys[i] = x;
    this.values[i] = made;
    return made;
  }
}

/** The slot of `x`: the high bits of a multiplicative hash of its scaled value (numbers in [0, 1] spread evenly). */
function slotOf(x: number): number {
  // (x * 2^32) | 0 keeps 32 bits of a probability's fraction (any number maps somewhere; NaN to 0)
  return Math.imul((x * 4294967296) | 0, 0x9e3779b1) >>> 24;
}
