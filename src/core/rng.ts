/**
 * Seeded, splittable random streams.
 *
 * Every random choice in tyche comes from an {@link Rng}. A stream is created
 * from a seed and can be split into independent child streams (one per chain,
 * particle or sample), so the same seed always gives the same result on the
 * same backend, whatever the order in which concurrent executions run.
 *
 * The generator is Johannes Baagøe's Alea (fast, 2^116 period), the stream
 * of seedrandom's `alea` bit for bit, written here as methods of the class:
 * seedrandom makes a new closure per generator, so every new stream gave the
 * hot call sites of the samplers a new call target and V8 threw their
 * optimised code away (`test/core/rng-alea.test.ts` pins the streams to
 * seedrandom's). Tensor-valued draws are made here in JavaScript and
 * uploaded, which keeps results identical across tfjs backends.
 *
 * @module
 */

/** A seed: a number or a string. */
export type Seed = number | string;

/** A seeded stream of uniform and normal variates that can be split. */
export class Rng {
  // Alea's state: three fractions in [0, 1) and a carry
  private s0 = 0.5;
  private s1 = 0.5;
  private s2 = 0.5;
  private c = 1.5;
  private splits = 0;
  /** The second normal of the last polar pair, when `hasSpare` (a number field with a flag, not `number | null`, so V8 keeps it an unboxed double: no heap number per draw). */
  private spareNormal = 0.5;
  private hasSpare = false;

  /** @param seed - any number or string; the same seed gives the same stream. */
  constructor(readonly seed: Seed = 0) {
    const mash = new Mash();
    this.s0 = mash.hash(' ');
    this.s1 = mash.hash(' ');
    this.s2 = mash.hash(' ');
    this.c = 1;
    const text = String(seed);
    this.s0 -= mash.hash(text);
    if (this.s0 < 0) this.s0 += 1;
    this.s1 -= mash.hash(text);
    if (this.s1 < 0) this.s1 += 1;
    this.s2 -= mash.hash(text);
    if (this.s2 < 0) this.s2 += 1;
  }

  /** Alea's next fraction in [0, 1). */
  private gen(): number {
    const t = 2091639 * this.s0 + this.c * 2.3283064365386963e-10; // 2^-32
    this.s0 = this.s1;
    this.s1 = this.s2;
    this.c = t | 0;
    this.s2 = t - this.c;
    return this.s2;
  }

  /** A uniform draw in the open interval (0, 1). */
  uniform(): number {
    let u = this.gen();
    while (u === 0) u = this.gen();
    return u;
  }

  /** A standard normal draw (Marsaglia's polar method). */
  normal(): number {
    if (this.hasSpare) {
      this.hasSpare = false;
      return this.spareNormal;
    }
    let u: number, v: number, s: number;
    do {
      u = 2 * this.gen() - 1;
      v = 2 * this.gen() - 1;
      s = u * u + v * v;
    } while (s >= 1 || s === 0);
    const f = Math.sqrt((-2 * Math.log(s)) / s);
    this.spareNormal = v * f;
    this.hasSpare = true;
    return u * f;
  }

  /** A uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.gen() * n);
  }

  /** A 32-bit unsigned integer, e.g. a seed for another generator. */
  uint32(): number {
    return ((this.gen() * 0x100000000) | 0) >>> 0;
  }

  /** `n` uniform draws in (0, 1). */
  uniforms(n: number): Float64Array {
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = this.uniform();
    return out;
  }

  /** `n` standard normal draws. */
  normals(n: number): Float64Array {
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = this.normal();
    return out;
  }

  /**
   * A new independent stream derived from this one. The k-th split of a
   * stream with a given seed is always the same stream, however many draws
   * were made in between.
   */
  split(): Rng {
    this.splits += 1;
    return new Rng(`${this.seed}/${this.splits}`);
  }

  /**
   * The stream that the k-th call of {@link Rng.split} gives (k = 1, 2, ...),
   * made without making the ones before it and without advancing this
   * stream's split count (so `splitAt(n + 1)` is the stream after `n` splits,
   * at O(1) cost however large n is).
   */
  splitAt(k: number): Rng {
    if (!Number.isInteger(k) || k < 1) throw new RangeError(`Rng.splitAt: k must be a positive integer, got ${k}`);
    return new Rng(`${this.seed}/${k}`);
  }

  /** `n` independent child streams (see {@link Rng.split}). */
  splitN(n: number): Rng[] {
    const out: Rng[] = [];
    for (let i = 0; i < n; i++) out.push(this.split());
    return out;
  }
}

/** Baagøe's Mash: the string hash that seeds Alea (its state carries over from one call to the next). */
class Mash {
  private n = 0xefc8249d;

  hash(data: string): number {
    let n = this.n;
    for (let i = 0; i < data.length; i++) {
      n += data.charCodeAt(i);
      let h = 0.02519603282416938 * n;
      n = h >>> 0;
      h -= n;
      h *= n;
      n = h >>> 0;
      h -= n;
      n += h * 0x100000000; // 2^32
    }
    this.n = n;
    return (n >>> 0) * 2.3283064365386963e-10; // 2^-32
  }
}

/** A fresh stream from a seed, or from the clock when no seed is given. */
export function rngFrom(seed?: Seed | Rng): Rng {
  if (seed instanceof Rng) return seed;
  if (seed === undefined) return new Rng(`${Date.now()}-${Math.random()}`);
  return new Rng(seed);
}
