/**
 * The Dirichlet distribution over probability vectors.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../core/rng.js';
import { SADDLE_TENSOR_MIN, lgammaTensor, logGammaPdf, logSaddleNormTensor, xlogy } from '../core/special.js';
import { type Value, type ValueLike, allTrueIfCheap, asFloat, describe } from '../core/value.js';
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
 * Where a0 >= 10 the log density is formed from Gamma(a_k, 1) densities at
 * a0 x_k (see `dirichletSaddle`), whose terms are the size of the result:
 * the direct form adds terms near a0 log a0 that cancel (in float32, 0.007
 * nats off at a0 = 1e4 and 0.5 at 1e6).
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
  /** sum a in float64 where `norm64` is defined (a plain vector of numbers), else NaN. */
  private readonly a0Number: number;

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
    this.a0Number = this.norm64 === undefined ? NaN : (concentration as number[]).reduce((p, v) => p + v, 0);
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
        if (this.norm64 !== undefined) return this.a0Number >= SADDLE_TENSOR_MIN ? dirichletSaddle(a, v) : dirichletDirect(a, v, this.norm64);
        const use = tf.greaterEqual(tf.sum(a, -1, true), SADDLE_TENSOR_MIN);
        if (allTrueIfCheap(use)) return dirichletSaddle(a, v);
        if (allTrueIfCheap(tf.logicalNot(use))) return dirichletDirect(a, v);
        // both forms, each with safe arguments where the other is used (no NaN in either's gradient)
        const full = tf.backend_util.assertAndGetBroadcastShape(a.shape, v.shape);
        const useFull = tf.broadcastTo(use, full);
        const s = dirichletSaddle(tf.where(useFull, tf.broadcastTo(a, full), SADDLE_TENSOR_MIN), tf.where(useFull, tf.broadcastTo(v, full), 1 / k));
        const d = dirichletDirect(tf.where(useFull, 1, tf.broadcastTo(a, full)), tf.where(useFull, 1 / k, tf.broadcastTo(v, full)));
        return tf.where(tf.broadcastTo(tf.squeeze(use, [-1]), full.slice(0, -1)), s, d);
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

/**
 * The direct Dirichlet log density sum (a_k - 1) log x_k + log Gamma(a0) - sum log Gamma(a_k)
 * (`norm`, if given, is the last two terms).
 */
function dirichletDirect(a: tf.Tensor, x: tf.Tensor, norm?: number): tf.Tensor {
  return tf.add(tf.sum(xlogy(tf.sub(a, 1), x) as tf.Tensor, -1), norm ?? tf.sub(lgammaTensor(tf.sum(a, -1)), tf.sum(lgammaTensor(a), -1)));
}

/**
 * The Dirichlet log density for a0 = sum a >= 10, as Gamma densities: with
 * u_k = a0 x_k, the density is sum_k log Gamma(u_k; a_k, 1) - S(a0) + K log a0,
 * S(z) = z log z - z - lgamma(z) (exact where sum x = 1; the term
 * a0 (sum x - 1) is left out, so a point whose rounded entries do not sum to 1
 * has the density of its projection on the simplex, to first order). Each
 * Gamma density takes its saddle-point form (Loader 2000) where a_k >= 10 and
 * its direct form below (see `logGammaPdf`), so no term near a0 log a0 is
 * formed; this is the Beta's saddle-point form (`logBetaPdf`) for K categories.
 */
function dirichletSaddle(a: tf.Tensor, x: tf.Tensor): tf.Tensor {
  const a0 = tf.sum(a, -1, true);
  const g = logGammaPdf(a, 1, tf.mul(a0, x)) as tf.Tensor;
  const a0s = tf.squeeze(a0, [-1]);
  return tf.add(tf.sub(tf.sum(g, -1), logSaddleNormTensor(a0s)), tf.mul(a.shape[a.rank - 1], tf.log(a0s)));
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
