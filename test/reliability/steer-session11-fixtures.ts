/** Exact answers shared by the session-11 steering tests (fast and slow tiers). */
import * as tf from '@tensorflow/tfjs-core';
import * as D from '../../src/steer/diffusion/index.js';
import { normalCdfNumber } from '../../src/math/special.js';

/**
 * The exact log E[exp(λ x_S)] of a one-dimensional model's DDPM chain on
 * `times` (x starting from N(0, α²+σ²) at times[0]), the discretised law FK
 * steering targets: the chain's density propagated on a grid of bins over
 * [lo, hi], each Gaussian transition's mass put in the bins by normal-cdf
 * differences. 4800 bins over [−12, 12] agree with 9600 to 4e-4 nats on the
 * mixture of the tests.
 */
export async function ddpmTiltLogZ(model: D.DiffusionModel, times: readonly number[], lambda: number, bins = 4800, lo = -12, hi = 12): Promise<number> {
  if (model.eventShape.length !== 1 || model.eventShape[0] !== 1) throw new Error('ddpmTiltLogZ: needs a one-dimensional model');
  const dx = (hi - lo) / bins;
  const xs = Float64Array.from({ length: bins }, (_, i) => lo + (i + 0.5) * dx);
  const sch = model.schedule;
  const s0 = Math.hypot(sch.alpha(times[0]!), sch.sigma(times[0]!));
  let p = new Float64Array(bins);
  for (let i = 0; i < bins; i++) p[i] = normalCdfNumber((xs[i]! + dx / 2) / s0) - normalCdfNumber((xs[i]! - dx / 2) / s0);
  const sampler = D.ddpm();
  for (let k = 0; k + 1 < times.length; k++) {
    const x = tf.tensor2d(Float32Array.from(xs), [bins, 1]);
    const out = await sampler.kernel({ model, x, t: times[k]!, s: times[k + 1]! });
    const mean = await out.mean.data();
    tf.dispose([x, out.mean, out.x0]);
    const sd = out.std;
    const q = new Float64Array(bins);
    for (let i = 0; i < bins; i++) {
      if (p[i]! < 1e-300) continue;
      const mu = mean[i]!;
      const a = Math.max(0, Math.floor((mu - 8 * sd - lo) / dx));
      const b = Math.min(bins - 1, Math.ceil((mu + 8 * sd - lo) / dx));
      let prev = normalCdfNumber((lo + a * dx - mu) / sd);
      for (let j = a; j <= b; j++) {
        const c = normalCdfNumber((lo + (j + 1) * dx - mu) / sd);
        q[j]! += p[i]! * (c - prev);
        prev = c;
      }
    }
    p = q;
  }
  let top = -Infinity;
  for (let i = 0; i < bins; i++) if (p[i]! > 0) top = Math.max(top, lambda * xs[i]!);
  let acc = 0;
  let mass = 0;
  for (let i = 0; i < bins; i++) {
    acc += p[i]! * Math.exp(lambda * xs[i]! - top);
    mass += p[i]!;
  }
  return top + Math.log(acc / mass);
}

/** The continuous-time answer log E[exp(λ x)] under a 1-D Gaussian mixture (weights normalised). */
export function mixtureTiltLogZ(comps: readonly { weight: number; mean: readonly number[]; covariance: number }[], lambda: number): number {
  const total = comps.reduce((a, c) => a + c.weight, 0);
  return Math.log(comps.reduce((a, c) => a + (c.weight / total) * Math.exp(lambda * c.mean[0]! + (lambda * lambda * c.covariance) / 2), 0));
}

/** The two-Gaussian mixture of the session-10/11 FK tests in one dimension: 0.5 N(−2, 0.5) + 0.5 N(2, 0.3). */
export const MIXTURE_1D = [
  { weight: 0.5, mean: [-2], covariance: 0.5 },
  { weight: 0.5, mean: [2], covariance: 0.3 },
] as const;
