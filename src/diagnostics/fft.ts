/**
 * A small radix-2 fast Fourier transform for real sequences, used for
 * autocovariances. Lengths are powers of two; callers zero-pad.
 *
 * Conventions: the forward transform is X[k] = sum_n x[n] e^{-2 pi i k n / m}
 * and the inverse carries the 1/m factor, so `irfft(rfft(x)) = x`.
 *
 * @module
 */

/** A half spectrum of a real sequence of even length m: bins 0..m/2 (m/2 + 1 complex values). */
export interface HalfSpectrum {
  /** Real parts, length m/2 + 1. */
  readonly re: Float64Array;
  /** Imaginary parts, length m/2 + 1. */
  readonly im: Float64Array;
}

/** True when n is a positive integer power of two. */
export function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n >= 1 && (n & (n - 1)) === 0;
}

/** The smallest power of two that is at least n (and at least 1). */
export function nextPowerOfTwo(n: number): number {
  let m = 1;
  while (m < n) m *= 2;
  return m;
}

/**
 * In-place complex FFT of length n (a power of two) on split real/imaginary
 * arrays. `inverse` flips the sign of the exponent and divides by n.
 */
export function fftInPlace(re: Float64Array, im: Float64Array, inverse = false): void {
  const n = re.length;
  if (im.length !== n) throw new RangeError(`fft: re has length ${n} but im has length ${im.length}`);
  if (!isPowerOfTwo(n)) throw new RangeError(`fft: length must be a power of two, got ${n}`);
  // bit-reversal permutation
  for (let i = 1, j = 0; i < n; i++) {
    let bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) {
      let t = re[i];
      re[i] = re[j];
      re[j] = t;
      t = im[i];
      im[i] = im[j];
      im[j] = t;
    }
  }
  const sign = inverse ? 1 : -1;
  for (let len = 2; len <= n; len *= 2) {
    const half = len / 2;
    const step = (sign * 2 * Math.PI) / len;
    for (let k = 0; k < half; k++) {
      // each twiddle computed directly (no accumulated rounding from recurrences)
      const wr = Math.cos(step * k);
      const wi = Math.sin(step * k);
      for (let start = 0; start < n; start += len) {
        const a = start + k;
        const b = a + half;
        const xr = re[b] * wr - im[b] * wi;
        const xi = re[b] * wi + im[b] * wr;
        re[b] = re[a] - xr;
        im[b] = im[a] - xi;
        re[a] += xr;
        im[a] += xi;
      }
    }
  }
  if (inverse) {
    for (let i = 0; i < n; i++) {
      re[i] /= n;
      im[i] /= n;
    }
  }
}

/**
 * Forward FFT of a real sequence, zero-padded to length `m` (a power of two,
 * at least 2 and at least `x.length`). Returns bins 0..m/2; the rest follow
 * from X[m - k] = conj(X[k]).
 *
 * The even and odd samples are packed into one complex sequence of length
 * m/2, transformed once, and separated, which halves the work.
 */
export function rfft(x: ArrayLike<number>, m: number = Math.max(2, nextPowerOfTwo(x.length))): HalfSpectrum {
  if (!isPowerOfTwo(m) || m < 2) throw new RangeError(`rfft: padded length must be a power of two >= 2, got ${m}`);
  if (x.length > m) throw new RangeError(`rfft: padded length ${m} is shorter than the input (${x.length})`);
  const h = m / 2;
  const zr = new Float64Array(h);
  const zi = new Float64Array(h);
  for (let k = 0; k < h; k++) {
    const e = 2 * k;
    zr[k] = e < x.length ? x[e] : 0;
    zi[k] = e + 1 < x.length ? x[e + 1] : 0;
  }
  fftInPlace(zr, zi);
  const re = new Float64Array(h + 1);
  const im = new Float64Array(h + 1);
  for (let k = 0; k <= h; k++) {
    const a = k % h; // Z[h] = Z[0]
    const b = (h - k) % h;
    // E = (Z[k] + conj Z[h-k]) / 2 (spectrum of even samples),
    // O = (Z[k] - conj Z[h-k]) / (2i) (spectrum of odd samples)
    const er = (zr[a] + zr[b]) / 2;
    const ei = (zi[a] - zi[b]) / 2;
    const or = (zi[a] + zi[b]) / 2;
    const oi = -(zr[a] - zr[b]) / 2;
    const wr = Math.cos((-2 * Math.PI * k) / m);
    const wi = Math.sin((-2 * Math.PI * k) / m);
    re[k] = er + (or * wr - oi * wi);
    im[k] = ei + (or * wi + oi * wr);
  }
  return { re, im };
}

/**
 * Inverse of {@link rfft}: the real sequence of length m = 2 (re.length - 1)
 * whose half spectrum is given (bins 0..m/2, Hermitian symmetry assumed; the
 * imaginary parts of bins 0 and m/2 are ignored, as they must be zero).
 */
export function irfft(spectrum: HalfSpectrum): Float64Array {
  const h = spectrum.re.length - 1;
  if (spectrum.im.length !== h + 1) throw new RangeError('irfft: re and im must have the same length');
  const m = 2 * h;
  if (!isPowerOfTwo(m) || m < 2) throw new RangeError(`irfft: spectrum must have 2^k + 1 bins, got ${h + 1}`);
  const { re, im } = spectrum;
  const zr = new Float64Array(h);
  const zi = new Float64Array(h);
  for (let k = 0; k < h; k++) {
    // X[k + h] = conj X[h - k]
    const cr = re[h - k];
    const ci = k === 0 ? 0 : -im[h - k];
    const xr = re[k];
    const xi = k === 0 ? 0 : im[k];
    const er = (xr + cr) / 2;
    const ei = (xi + ci) / 2;
    // O = (X[k] - X[k + h]) e^{+2 pi i k / m} / 2
    const dr = (xr - cr) / 2;
    const di = (xi - ci) / 2;
    const wr = Math.cos((2 * Math.PI * k) / m);
    const wi = Math.sin((2 * Math.PI * k) / m);
    const or = dr * wr - di * wi;
    const oi = dr * wi + di * wr;
    // Z = E + i O
    zr[k] = er - oi;
    zi[k] = ei + or;
  }
  fftInPlace(zr, zi, true);
  const out = new Float64Array(m);
  for (let k = 0; k < h; k++) {
    out[2 * k] = zr[k];
    out[2 * k + 1] = zi[k];
  }
  return out;
}
