/**
 * The LKJ distribution over Cholesky factors of correlation matrices.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../core/rng.js';
import { logBeta, xlogy } from '../core/special.js';
import { type Value, type ValueLike, add, mul, sizeOf, sub } from '../core/value.js';
import { corrCholesky, positive } from './constraints.js';
import { Distribution, type Typed, checkParam, param, valueArg } from './distribution.js';
import { eventLogDensity, eventValue } from './event-density.js';
import { broadcastValues, logStandardGamma } from './gamma.js';
import { diagPart, sliceLast } from './linalg.js';

/**
 * LKJCholesky(dim, concentration): the distribution of the lower Cholesky
 * factor L of a D x D correlation matrix C = L L^T, where C has density
 * proportional to det(C)^(eta - 1) (Lewandowski, Kurowicka and Joe, 2009).
 * eta = 1 is uniform over correlation matrices; larger eta concentrates
 * mass near the identity. Each off-diagonal correlation has marginal
 * (r + 1) / 2 ~ Beta(eta - 1 + D/2, eta - 1 + D/2).
 *
 * Density of L, with respect to its strictly-lower entries:
 * prod_{i=2..D} L_ii^(D - i + 2 eta - 2) / c_D(eta), where D - i is the
 * Jacobian of L -> C and c_D(eta) the LKJ normaliser. Draws use the onion
 * method: row i is sqrt(y) u with y ~ Beta(i/2, eta + (D - 1 - i)/2) and u
 * uniform on the unit sphere in R^i, and diagonal sqrt(1 - y). Draws are not
 * reparameterised. `concentration` may be a number or a tensor (batch).
 */
export class LKJCholeskyDistribution extends Distribution {
  readonly name = 'LKJCholesky';
  readonly support = corrCholesky;
  readonly batchShape: readonly number[];
  override readonly eventShape: readonly number[];
  /** The matrix size D. */
  readonly dim: number;
  /** The shape parameter eta > 0. */
  readonly concentration: Value;

  /**
   * @param dim - matrix size D (an integer >= 2)
   * @param concentration - eta > 0 (default 1: uniform over correlation matrices)
   */
  constructor(dim: number, concentration: ValueLike = 1) {
    super();
    if (!(Number.isInteger(dim) && dim >= 2)) throw new RangeError(`${this.name}: parameter dim must be an integer >= 2, got ${dim}`);
    this.dim = dim;
    this.concentration = param(this.name, 'concentration', concentration);
    checkParam(this.name, 'concentration', this.concentration, positive);
    this.batchShape = typeof this.concentration === 'number' ? [] : this.concentration.shape;
    this.eventShape = [dim, dim];
  }

  sample(rng: Rng, sampleShape: readonly number[] = []): Value {
    const d = this.dim;
    const etas = broadcastValues(`${this.name}: concentration`, this.concentration, this.batchShape);
    const events = sizeOf(sampleShape) * etas.length;
    const out = new Float32Array(events * d * d);
    const u = new Float64Array(d);
    for (let e = 0; e < events; e++) {
      const eta = etas[e % etas.length];
      const off = e * d * d;
      out[off] = 1;
      for (let i = 1; i < d; i++) {
        // y ~ Beta(i/2, eta + (d - 1 - i)/2) as G1 / (G1 + G2), on the log scale
        const logG1 = logStandardGamma(rng, i / 2);
        const logG2 = logStandardGamma(rng, eta + (d - 1 - i) / 2);
        const y = 1 / (1 + Math.exp(logG2 - logG1));
        const oneMinusY = 1 / (1 + Math.exp(logG1 - logG2));
        let norm = 0;
        for (let j = 0; j < i; j++) {
          u[j] = rng.normal();
          norm += u[j] * u[j];
        }
        const f = Math.sqrt(y / norm);
        for (let j = 0; j < i; j++) out[off + i * d + j] = u[j] * f;
        out[off + i * d + i] = Math.sqrt(oneMinusY);
      }
    }
    return tf.tensor(out, this.shape(sampleShape));
  }

  logProb(xLike: ValueLike): Value {
    const x = valueArg(this, 'logProb', xLike);
    const d = this.dim;
    const xt = eventValue(`${this.name}.logProb`, x, this.eventShape);
    const eta = this.concentration;
    return tf.tidy(() => {
      const etaCol = typeof eta === 'number' ? eta : tf.expandDims(eta, -1);
      // exponents D - i + 2 eta - 2 of L_ii for i = 2..D
      const base = tf.tensor1d(Array.from({ length: d - 1 }, (_, k) => d - 2 - k));
      return eventLogDensity(this.support, xt, tf.eye(d), (v) => {
        const order = add(base, mul(2, sub(etaCol, 1))) as tf.Tensor;
        const unnorm = tf.sum(xlogy(order, sliceLast(diagPart(v), 1, d - 1)) as tf.Tensor, -1);
        return tf.sub(unnorm, lkjLogNormalizer(d, eta));
      });
    });
  }
}

/**
 * log c_D(eta) = log of the integral of det(C)^(eta - 1) over D x D correlation
 * matrices: sum_{k=1}^{D-1} [(2 eta - 2 + D - k)(D - k) log 2 + (D - k) log B(b_k, b_k)],
 * b_k = eta + (D - k - 1)/2 (Lewandowski, Kurowicka and Joe, 2009).
 */
export function lkjLogNormalizer(dim: number, eta: Value): Value {
  let total: Value = 0;
  for (let k = 1; k < dim; k++) {
    const b = add(eta, (dim - k - 1) / 2);
    const pow2 = mul((dim - k) * Math.LN2, add(mul(2, eta), dim - k - 2));
    total = add(total, add(pow2, mul(dim - k, logBeta(b, b))));
  }
  return total;
}

/** LKJCholesky(dim, concentration = 1). Draws are tensors of shape `[..., dim, dim]`. */
export function LKJCholesky(dim: number, concentration: ValueLike = 1): LKJCholeskyDistribution & Typed<tf.Tensor> {
  return new LKJCholeskyDistribution(dim, concentration);
}
