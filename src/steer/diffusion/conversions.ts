/**
 * Model conversions that change the schedule while keeping the marginals:
 * {@link reparametrise} re-expresses a model trained under one Gaussian path
 * as a model under another, matching times by signal-to-noise ratio and
 * rescaling space (x̄_s = c_s x_{t(s)}); {@link interpolantToVp} is the case
 * of Kim et al.: a linear-interpolant flow as a variance-preserving process,
 * with the matching velocity transform
 *
 *   ū(x̄, s) = (c'_s / c_s) x̄ + c_s t'(s) u(x̄ / c_s, t(s)).
 *
 * (The flow-ODE-to-SDE conversion is the sampler `flowSde`.)
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { type DiffusionModel, denoise } from './model.js';
import { type Schedule, dLogSnr, logSnr, timeOfLogSnr, vpLinear } from './schedules.js';

/** The time map of a reparametrisation: source time t(s), scale c_s and their derivatives. */
export interface TimeMap {
  /** Source time with the same log-SNR as target time s. */
  readonly t: number;
  /** dt/ds. */
  readonly dt: number;
  /** Space scale c_s = sigma_target(s) / sigma_source(t(s)). */
  readonly c: number;
  /** c'_s / c_s. */
  readonly dLogC: number;
}

/** The SNR-matching time map from `source` to `target` at target time s. */
export function snrTimeMap(source: Schedule, target: Schedule, s: number, who = 'snrTimeMap'): TimeMap {
  const t = timeOfLogSnr(source, logSnr(target, s), who);
  const dt = dLogSnr(target, s) / dLogSnr(source, t);
  const c = target.sigma(s) / source.sigma(t);
  const dLogC = target.dSigma(s) / target.sigma(s) - (source.dSigma(t) / source.sigma(t)) * dt;
  return { t, dt, c, dLogC };
}

/**
 * The model `model` re-expressed under `target`: its output at (x̄, s) is
 * the velocity of the process x̄_s = c_s x_{t(s)}, which has exactly the
 * target's marginals alpha_s x0 + sigma_s eps. Throws when the target's
 * times reach log-SNRs the source schedule does not cover.
 */
export function reparametrise(model: DiffusionModel, target: Schedule): DiffusionModel {
  const name = `${model.name} as ${target.name}`;
  const who = `reparametrise(${name})`;
  // the target's whole domain must map into the source's
  snrTimeMap(model.schedule, target, target.tMin, `${who} at target tMin`);
  snrTimeMap(model.schedule, target, target.tMax, `${who} at target tMax`);
  return {
    name,
    schedule: target,
    prediction: 'velocity',
    eventShape: model.eventShape,
    classes: model.classes,
    conditionDim: model.conditionDim,
    async predict(xbar, s, cond) {
      const m = snrTimeMap(model.schedule, target, s, who);
      const x = tf.div(xbar, m.c);
      let u: tf.Tensor;
      try {
        u = await denoise(model, x, m.t, cond, 'velocity', { caller: who });
      } finally {
        x.dispose();
      }
      const out = tf.tidy(() => tf.add(tf.mul(xbar, m.dLogC), tf.mul(u, m.c * m.dt)));
      u.dispose();
      return out;
    },
  };
}

/** A linear-interpolant (flow-matching) model as a variance-preserving one (default VP-linear). */
export function interpolantToVp(model: DiffusionModel, vp: Schedule = vpLinear()): DiffusionModel {
  if (model.schedule.kind !== 'interpolant') throw new Error(`interpolantToVp: model "${model.name}" uses schedule ${model.schedule.name}, not a linear interpolant`);
  if (vp.kind !== 'vp') throw new Error(`interpolantToVp: target schedule ${vp.name} is not variance-preserving`);
  return reparametrise(model, vp);
}
