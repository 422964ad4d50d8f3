/**
 * What a denoising network predicts, and the exact conversions between the
 * parametrisations for a given schedule and time.
 *
 * With x_t = alpha x0 + sigma eps (see {@link Schedule}):
 *
 * | prediction  | quantity                                         |
 * | ----------- | ------------------------------------------------ |
 * | `epsilon`   | E[eps | x_t]                                     |
 * | `x0`        | E[x0 | x_t] (Tweedie's denoised estimate)        |
 * | `score`     | ∇ log p_t(x_t) = -E[eps | x_t] / sigma           |
 * | `velocity`  | E[dx_t/dt | x_t] = alpha' x0 + sigma' eps (flow matching) |
 * | `v`         | alpha eps - sigma x0 (Salimans & Ho; variance-preserving schedules only) |
 *
 * Every conversion is affine in the prediction for fixed x_t and t, so a
 * classifier-free-guidance combination (weights summing to one) gives the
 * same result in any parametrisation.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { type Schedule, checkTime } from './schedules.js';

/** A network's output type. */
export type Prediction = 'epsilon' | 'x0' | 'score' | 'velocity' | 'v';

/** All prediction types. */
export const PREDICTIONS: readonly Prediction[] = ['epsilon', 'x0', 'score', 'velocity', 'v'];

/**
 * Throw a clear error when `prediction` is not a known type or cannot be used
 * with `schedule` (`v` needs a variance-preserving schedule).
 */
export function checkPrediction(prediction: string, schedule: Schedule, who: string): asserts prediction is Prediction {
  if (!(PREDICTIONS as readonly string[]).includes(prediction)) {
    throw new TypeError(`${who}: unknown prediction type "${prediction}"; expected one of ${PREDICTIONS.join(', ')}`);
  }
  if (prediction === 'v' && schedule.kind !== 'vp') {
    throw new TypeError(`${who}: prediction type "v" (alpha eps - sigma x0) is defined for variance-preserving schedules only, but the schedule is ${schedule.name} (${schedule.kind}); use "velocity" for flows`);
  }
}

/** a x + b y, elementwise with scalar coefficients. */
export function axpby(a: number, x: tf.Tensor, b: number, y: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.add(tf.mul(x, a), tf.mul(y, b)));
}

/** Coefficients (cx, cp) of a conversion: target = cx x_t + cp prediction. */
export type Affine = readonly [number, number];

function x0Of(from: Prediction, a: number, s: number, da: number, ds: number, who: string): Affine {
  switch (from) {
    case 'x0':
      return [0, 1];
    case 'epsilon':
    case 'score': {
      if (a === 0) throw new RangeError(`${who}: cannot recover x0 from a ${from} prediction where alpha_t = 0 (pure noise); evaluate at a smaller t`);
      return from === 'epsilon' ? [1 / a, -s / a] : [1 / a, (s * s) / a];
    }
    case 'velocity': {
      const det = da * s - ds * a;
      if (det === 0) throw new RangeError(`${who}: the velocity does not determine x0 here (alpha' sigma - sigma' alpha = 0)`);
      return [-ds / det, s / det];
    }
    case 'v':
      return [a, -s];
  }
}

function epsOf(from: Prediction, a: number, s: number, da: number, ds: number, who: string): Affine {
  switch (from) {
    case 'epsilon':
      return [0, 1];
    case 'score':
      return [0, -s];
    case 'x0':
      if (s === 0) throw new RangeError(`${who}: cannot recover epsilon from an x0 prediction where sigma_t = 0`);
      return [1 / s, -a / s];
    case 'velocity': {
      const det = da * s - ds * a;
      if (det === 0) throw new RangeError(`${who}: the velocity does not determine epsilon here (alpha' sigma - sigma' alpha = 0)`);
      return [da / det, -a / det];
    }
    case 'v':
      return [s, a];
  }
}

/**
 * The coefficients (cx, cp) with `to = cx x_t + cp pred` for a prediction of
 * type `from` at time `t` of `schedule`. Throws where the conversion is
 * undefined (x0 from epsilon where alpha = 0, `v` off a VP schedule).
 */
export function conversionCoefficients(from: Prediction, to: Prediction, schedule: Schedule, t: number, who = 'convertPrediction'): Affine {
  checkPrediction(from, schedule, who);
  checkPrediction(to, schedule, who);
  checkTime(schedule, t, who);
  if (from === to) return [0, 1];
  const a = schedule.alpha(t);
  const s = schedule.sigma(t);
  const da = schedule.dAlpha(t);
  const ds = schedule.dSigma(t);
  switch (to) {
    case 'x0':
      return x0Of(from, a, s, da, ds, who);
    case 'epsilon':
      return epsOf(from, a, s, da, ds, who);
    case 'score': {
      const [ex, ep] = epsOf(from, a, s, da, ds, who);
      return [-ex / s, -ep / s];
    }
    case 'velocity':
    case 'v': {
      // velocity = a' x0 + s' eps ; v = a eps - s x0
      const [xx, xp] = x0Of(from, a, s, da, ds, who);
      const [ex, ep] = epsOf(from, a, s, da, ds, who);
      const [cx0, ceps] = to === 'velocity' ? [da, ds] : [-s, a];
      return [cx0 * xx + ceps * ex, cx0 * xp + ceps * ep];
    }
  }
}

/**
 * Convert a prediction `pred` of type `from` at (x_t, t) to type `to`
 * (a new tensor; the inputs are not disposed).
 */
export function convertPrediction(pred: tf.Tensor, x: tf.Tensor, from: Prediction, to: Prediction, schedule: Schedule, t: number, who = 'convertPrediction'): tf.Tensor {
  const [cx, cp] = conversionCoefficients(from, to, schedule, t, who);
  if (cx === 0 && cp === 1) return tf.clone(pred);
  if (cx === 0) return tf.mul(pred, cp);
  return axpby(cx, x, cp, pred);
}
