/**
 * The Dirichlet distribution over probability vectors.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../core/rng.js';
import { lgammaTensor, xlogy } from '../core/special.js';
import { type Value, type ValueLike, asFloat, describe } from '../core/value.js';
import { positive, simplex } from './constraints.js';
import { Distribution, type Typed, checkParam, param, valueArg } from './distribution.js';
import { eventLogDensity, eventValue } from './event-density.js';
import { FLOAT32_TINY, broadcastValues, logStandardGammas, standardGammaLogGrad } from './gamma.js';
import { lgammaNumber } from '../math/special.js';

/**
 * Dirichlet(concentration) over the simplex: vectors of K nonnegative entries
 * summing to 1, where the last axis of `concentration` (all entries > 0)
 * holds the K categories and leading axes are the batch. Density
 * Gamma(a0) / prod Gamma(a_k) * prod x_k^(a_k - 1), with a0 = sum a_k.
 *
 * Draws are independent Gamma(a_k, 1) variables normalised to sum 1, made on
 * the log scale (so tiny concentrations do not underflow to 0/0) and
 * reparameterised: gradients reach `concentration` through the implicit
 * gradients of the gamma draws and the normalisation.
 */
export class DirichletDistribution extends Distribution {
  readonly name = 'Dirichlet';
  readonly support = simplex;
  override readonly hasRsample = true;
  readonly batchShape: readonly number[];
  override readonly eventShape: readonly number[];
  /** Concentrations, shape `batchShape ++ [K]`. */
  readonly concentration: tf.Tensor;
  /**
   * log Gamma(sum a) - sum log Gamma(a), in float64, for concentrations given as
   * one plain vector of numbers (constant: not recomputed by tensor ops at each
   * log density, which hmc-gibbs's sweeps evaluate once per value of every
   * discrete site); else undefined.
   */
  private readonly norm64: number | undefined;

  /** @param concentration - positive concentrations over the last axis (K >= 1 categories) */
  constructor(concentration: ValueLike) {
    super();
    const c = param(this.name, 'concentration', concentration);
    if (typeof c === 'number' || c.rank < 1 || c.shape[c.rank - 1] < 1) {
      throw new RangeError(`${this.name}: parameter concentration must be a vector (last axis = categories), got ${describe(c)}`);
    }
    checkParam(this.name, 'concentration', c, positive);
    this.concentration = asFloat(c) as tf.Tensor;
    this.batchShape = c.shape.slice(0, -1);
    this.eventShape = [c.shape[c.rank - 1]];
    this.norm64 = logNormalizer64(concentration);
  }

  sample(rng: Rng, sampleShape: readonly number[] = []): Value {
    const shape = this.shape(sampleShape);
    const k = this.eventShape[0];
    const alpha = broadcastValues(`${this.name}: concentration`, this.concentration, shape);
    const logz = logStandardGammas(rng, alpha);
    // x = softmax(log z) per event, in float64
    const x = new Float64Array(logz.length);
    for (let off = 0; off < x.length; off += k) {
      let m = -Infinity;
      for (let i = off; i < off + k; i++) m = Math.max(m, logz[i]);
      let s = 0;
      for (let i = off; i < off + k; i++) s += x[i] = Math.exp(logz[i] - m);
      for (let i = off; i < off + k; i++) x[i] /= s;
    }
    const value = Float32Array.from(x, (v) => Math.max(v, FLOAT32_TINY));
    const draw = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      void args;
      return {
        value: tf.tensor(value, shape),
        // x = softmax(l), l_k = log z_k(a_k): dL/da = x * (dy - sum(dy * x)) * dl/da
        gradFunc: (dy: tf.Tensor) => {
          const g = new Float32Array(logz.length);
          for (let i = 0; i < g.length; i++) g[i] = standardGammaLogGrad(alpha[i], logz[i]);
          const xt = tf.tensor(Float32Array.from(x), shape);
          const dl = tf.mul(xt, tf.sub(dy, tf.sum(tf.mul(dy, xt), -1, true)));
          return tf.mul(dl, tf.tensor(g, shape));
        },
      };
    });
    return tf.tidy(() => draw(tf.broadcastTo(this.concentration, shape)));
  }

  logProb(xLike: ValueLike): Value {
    const x = valueArg(this, 'logProb', xLike);
    const xt = eventValue(`${this.name}.logProb`, x, this.eventShape);
    const a = this.concentration;
    const k = this.eventShape[0];
    return tf.tidy(() =>
      eventLogDensity(this.support, xt, tf.fill([k], 1 / k), (v) => {
        const norm = this.norm64 ?? tf.sub(lgammaTensor(tf.sum(a, -1)), tf.sum(lgammaTensor(a), -1));
        return tf.add(tf.sum(xlogy(tf.sub(a, 1), v) as tf.Tensor, -1), norm);
      }),
    );
  }

  override get mean(): Value {
    return tf.tidy(() => tf.broadcastTo(tf.div(this.concentration, tf.sum(this.concentration, -1, true)), this.shape()));
  }
  override get variance(): Value {
    return tf.tidy(() => {
      const a = this.concentration;
      const a0 = tf.sum(a, -1, true);
      return tf.div(tf.mul(a, tf.sub(a0, a)), tf.mul(tf.square(a0), tf.add(a0, 1)));
    });
  }
}

/** log Gamma(sum a) - sum log Gamma(a) in float64 for one plain vector of numbers, else undefined. */
function logNormalizer64(concentration: ValueLike): number | undefined {
  if (!Array.isArray(concentration)) return undefined;
  const a: unknown[] = concentration;
  if (!a.every((v): v is number => typeof v === 'number')) return undefined;
  let sum = 0;
  let terms = 0;
  for (const v of a) {
    sum += v;
    terms += lgammaNumber(v);
  }
  return lgammaNumber(sum) - terms;
}

/** Dirichlet(concentration); the last axis holds the categories. Draws are tensors. */
export function Dirichlet(concentration: ValueLike): DirichletDistribution & Typed<tf.Tensor> {
  return new DirichletDistribution(concentration);
}
