/**
 * Autocovariance and autocorrelation of one sequence at every lag, by FFT.
 *
 * @module
 */
import { irfft, nextPowerOfTwo, rfft } from './fft.js';
import { mean } from './empirical.js';

/**
 * Autocovariances of a sequence at lags 0..n-1, the "biased" estimate
 * recommended by Geyer (1992): gamma_t = (1/n) sum_{i < n - t} (x_i - xbar)(x_{i+t} - xbar).
 *
 * Computed in O(n log n): the centred sequence is zero-padded to a power of
 * two at least 2n (so the circular correlation equals the linear one), its
 * power spectrum |X|^2 is formed, and an inverse real FFT gives the sums.
 */
export function autocovariance(x: ArrayLike<number>): Float64Array {
  const n = x.length;
  if (n === 0) return new Float64Array(0);
  const m = nextPowerOfTwo(2 * n);
  const mu = mean(x);
  const centred = new Float64Array(n);
  for (let i = 0; i < n; i++) centred[i] = x[i] - mu;
  const { re, im } = rfft(centred, m);
  const power = new Float64Array(re.length);
  for (let k = 0; k < re.length; k++) power[k] = re[k] * re[k] + im[k] * im[k];
  const sums = irfft({ re: power, im: new Float64Array(re.length) });
  const out = new Float64Array(n);
  for (let t = 0; t < n; t++) out[t] = sums[t] / n;
  return out;
}

/**
 * Autocorrelations of a sequence at lags 0..n-1 (autocovariance divided by
 * the lag-0 value; so rho_0 = 1). A constant sequence gives NaN at every lag.
 */
export function autocorrelation(x: ArrayLike<number>): Float64Array {
  const acov = autocovariance(x);
  const v = acov[0];
  return acov.map((g) => (v > 0 ? g / v : NaN));
}
