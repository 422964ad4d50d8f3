/**
 * Fixed-lag smoothing for state-space filters: each particle carries its
 * last L + 1 states (x_{t-L}, ..., x_t) in a window that is resampled with
 * it, so after step t the weighted window estimates p(x_{t-L..t} | y_0..y_t).
 * The estimate of x_s is read once, when it is L steps old (or at the end),
 * giving E[x_s | y_0..y_{min(s+L, T-1)}] at O(N L d) memory and no
 * backward pass; lag 0 is filtering. Larger lags reduce the variance of the
 * target (closer to the full smoother) but suffer more path degeneracy.
 *
 * @module
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { FeynmanKac } from './core.js';

/** A filter state with a fixed-lag window. */
export type LagState = {
  /** Current particles, `[N, ...event]`. */
  readonly x: tf.Tensor;
  /** `N * (lag + 1) * d` values: particle i's slot j holds x_{t-lag+j} (slots before time 0 are zero). */
  readonly window: Float32Array;
};

/** Check a lag. */
function checkLag(lag: number): void {
  if (!Number.isInteger(lag) || lag < 0) throw new Error(`fixedLag must be a non-negative integer, got ${lag}`);
}

/**
 * A filter's Feynman–Kac model with a fixed-lag window added to its state:
 * after every step the window shifts by one slot and receives the new x_t.
 */
export function withFixedLag<S extends { readonly x: tf.Tensor }>(fk: FeynmanKac<S>, lag: number): FeynmanKac<S & LagState> {
  checkLag(lag);
  const slots = lag + 1;
  const push = (window: Float32Array | undefined, x: tf.Tensor): Float32Array => {
    const n = x.shape[0];
    const v = x.dataSync() as ArrayLike<number>;
    const d = v.length / n;
    const out = new Float32Array(n * slots * d);
    for (let i = 0; i < n; i++) {
      const base = i * slots * d;
      if (window && lag > 0) out.set(window.subarray(base + d, base + slots * d), base);
      for (let k = 0; k < d; k++) out[base + lag * d + k] = v[i * d + k];
    }
    return out;
  };
  return {
    store: fk.store as FeynmanKac<S & LagState>['store'],
    async init(n, rng) {
      const s = await fk.init(n, rng);
      return { ...s, window: new Float32Array(0) } as S & LagState;
    },
    async step(state, t, rng) {
      const out = await fk.step(state, t, rng);
      const next = out.state as S & Partial<LagState>;
      return { state: { ...next, window: push(t === 0 ? undefined : state.window, next.x) } as S & LagState, logPotential: out.logPotential };
    },
    done: (t, state) => fk.done(t, state),
    rejuvenate: fk.rejuvenate ? (state, t, rng) => fk.rejuvenate?.(state, t, rng) as S & LagState : undefined,
  };
}

/** Weighted moments of the states in window slot `slot` (per state dimension). */
export function windowMoments(window: Float32Array, weights: Float64Array, lag: number, slot: number): { mean: Float64Array; variance: Float64Array } {
  const n = weights.length;
  const slots = lag + 1;
  const d = window.length / (n * slots);
  const mean = new Float64Array(d);
  const second = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    const base = (i * slots + slot) * d;
    for (let k = 0; k < d; k++) {
      const v = window[base + k];
      mean[k] += weights[i] * v;
      second[k] += weights[i] * v * v;
    }
  }
  const variance = Float64Array.from(second, (s, k) => Math.max(0, s - mean[k] * mean[k]));
  return { mean, variance };
}
