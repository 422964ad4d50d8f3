/**
 * Seeded, splittable random streams.
 *
 * Every random choice in tyche comes from an {@link Rng}. A stream is created
 * from a seed and can be split into independent child streams (one per chain,
 * particle or sample), so the same seed always gives the same result on the
 * same backend, whatever the order in which concurrent executions run.
 *
 * The generator is seedrandom's Alea (fast, 2^116 period). Tensor-valued
 * draws are made here in JavaScript and uploaded, which keeps results
 * identical across tfjs backends.
 *
 * @module
 */
import seedrandom from 'seedrandom';

/** A seed: a number or a string. */
export type Seed = number | string;

/** A seeded stream of uniform and normal variates that can be split. */
export class Rng {
  private readonly gen: seedrandom.PRNG;
  private splits = 0;
  /** The second normal of the last polar pair, when `hasSpare` (a number field with a flag, not `number | null`, so V8 keeps it an unboxed double: no heap number per draw). */
  private spareNormal = 0.5;
  private hasSpare = false;

  /** @param seed - any number or string; the same seed gives the same stream. */
  constructor(readonly seed: Seed = 0) {
    this.gen = seedrandom.alea(String(seed));
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
    return this.gen.int32() >>> 0;
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

  /** `n` independent child streams (see {@link Rng.split}). */
  splitN(n: number): Rng[] {
    const out: Rng[] = [];
    for (let i = 0; i < n; i++) out.push(this.split());
    return out;
  }
}

/** A fresh stream from a seed, or from the clock when no seed is given. */
export function rngFrom(seed?: Seed | Rng): Rng {
  if (seed instanceof Rng) return seed;
  if (seed === undefined) return new Rng(`${Date.now()}-${Math.random()}`);
  return new Rng(seed);
}
