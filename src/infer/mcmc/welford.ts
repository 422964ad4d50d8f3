/**
 * Welford's streaming accumulators for the mean and (co)variance of vectors,
 * numerically stable in one pass.
 *
 * @module
 */

/** Streaming mean and per-coordinate variance of D-vectors. */
export class WelfordVariance {
  private n = 0;
  private readonly mean: Float64Array;
  private readonly m2: Float64Array;

  /** @param dim - the vector length D. */
  constructor(readonly dim: number) {
    this.mean = new Float64Array(dim);
    this.m2 = new Float64Array(dim);
  }

  /** Number of vectors added since the last restart. */
  get count(): number {
    return this.n;
  }

  /** Adds one vector. */
  add(x: ArrayLike<number>): void {
    this.n += 1;
    for (let i = 0; i < this.dim; i++) {
      const delta = x[i]! - this.mean[i]!;
      this.mean[i] = this.mean[i]! + delta / this.n;
      this.m2[i] = this.m2[i]! + delta * (x[i]! - this.mean[i]!);
    }
  }

  /** The running mean (a copy). */
  sampleMean(): Float64Array {
    return this.mean.slice();
  }

  /** The unbiased sample variances (denominator n - 1); needs n >= 2. */
  sampleVariance(): Float64Array {
    if (this.n < 2) throw new RangeError(`welford: a variance needs at least 2 samples, got ${this.n}`);
    const out = new Float64Array(this.dim);
    for (let i = 0; i < this.dim; i++) out[i] = this.m2[i]! / (this.n - 1);
    return out;
  }

  /** Forgets every sample. */
  restart(): void {
    this.n = 0;
    this.mean.fill(0);
    this.m2.fill(0);
  }
}

/** Streaming mean and full covariance matrix of D-vectors. */
export class WelfordCovariance {
  private n = 0;
  private readonly mean: Float64Array;
  private readonly m2: Float64Array;
  private readonly delta: Float64Array;

  /** @param dim - the vector length D. */
  constructor(readonly dim: number) {
    this.mean = new Float64Array(dim);
    this.m2 = new Float64Array(dim * dim);
    this.delta = new Float64Array(dim);
  }

  /** Number of vectors added since the last restart. */
  get count(): number {
    return this.n;
  }

  /** Adds one vector. */
  add(x: ArrayLike<number>): void {
    const d = this.dim;
    this.n += 1;
    for (let i = 0; i < d; i++) {
      this.delta[i] = x[i]! - this.mean[i]!;
      this.mean[i] = this.mean[i]! + this.delta[i]! / this.n;
    }
    // m2 += delta_old (x - mean_new)^T, which stays symmetric.
    for (let i = 0; i < d; i++) {
      const di = this.delta[i]!;
      for (let j = 0; j < d; j++) this.m2[i * d + j] = this.m2[i * d + j]! + di * (x[j]! - this.mean[j]!);
    }
  }

  /** The running mean (a copy). */
  sampleMean(): Float64Array {
    return this.mean.slice();
  }

  /** The unbiased sample covariance (row-major D x D, symmetrised); needs n >= 2. */
  sampleCovariance(): Float64Array {
    if (this.n < 2) throw new RangeError(`welford: a covariance needs at least 2 samples, got ${this.n}`);
    const d = this.dim;
    const out = new Float64Array(d * d);
    for (let i = 0; i < d; i++) {
      for (let j = 0; j <= i; j++) {
        const c = (0.5 * (this.m2[i * d + j]! + this.m2[j * d + i]!)) / (this.n - 1);
        out[i * d + j] = c;
        out[j * d + i] = c;
      }
    }
    return out;
  }

  /** Forgets every sample. */
  restart(): void {
    this.n = 0;
    this.mean.fill(0);
    this.m2.fill(0);
  }
}
