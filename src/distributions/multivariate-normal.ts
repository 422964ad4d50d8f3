/**
 * The multivariate normal distribution.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../core/rng.js';
import { type Value, type ValueLike, asFloat, broadcastShapes, describe } from '../core/value.js';
import { lowerCholesky, positiveDefinite, realVector } from './constraints.js';
import { Distribution, type Typed, checkParam, param, standardNormal, valueArg } from './distribution.js';
import { eventLogDensity, eventValue } from './event-density.js';
import { cholesky, choleskyOfInverse, diagPart, gram, lowerInverse, matVec, solveLower } from './linalg.js';

const LOG_2PI = Math.log(2 * Math.PI);

/** How the spread of a {@link MultivariateNormal} is given: exactly one of the three. */
export type MvnScale =
  | { readonly scaleTril: ValueLike; readonly covariance?: undefined; readonly precision?: undefined }
  | { readonly covariance: ValueLike; readonly scaleTril?: undefined; readonly precision?: undefined }
  | { readonly precision: ValueLike; readonly scaleTril?: undefined; readonly covariance?: undefined };

const SCALE_KEYS = ['scaleTril', 'covariance', 'precision'] as const;

/**
 * MultivariateNormal(loc, {scaleTril | covariance | precision}) over vectors
 * of size D (event shape `[D]`).
 *
 * The distribution stores the lower Cholesky factor `scaleTril` (L, with
 * covariance L L^T): given a covariance it is factorised, given a precision
 * it is the factor of its inverse (computed without inverting). `logProb`
 * solves L z = x - loc by forward substitution; draws are loc + L eps, so
 * they are reparameterised. Batch dimensions of `loc` (`[..., D]`) and of
 * the matrix (`[..., D, D]`) broadcast. All values are tensors.
 */
export class MultivariateNormalDistribution extends Distribution {
  readonly name = 'MultivariateNormal';
  readonly support = realVector;
  override readonly hasRsample = true;
  readonly batchShape: readonly number[];
  override readonly eventShape: readonly number[];
  /** The mean vector, shape `[..., D]`. */
  readonly loc: tf.Tensor;
  /** The lower Cholesky factor of the covariance, shape `[..., D, D]`. */
  readonly scaleTril: tf.Tensor;

  /**
   * @param loc - mean, a vector (or batch of vectors) of size D
   * @param scale - exactly one of `scaleTril` (lower triangular, positive
   *   diagonal), `covariance` or `precision` (symmetric positive definite)
   */
  constructor(loc: ValueLike, scale: MvnScale) {
    super();
    const name = this.name;
    const given = SCALE_KEYS.filter((k) => scale !== null && typeof scale === 'object' && scale[k] !== undefined);
    if (given.length !== 1) {
      throw new TypeError(`${name}: give exactly one of scaleTril, covariance or precision${given.length ? ` (got ${given.join(', ')})` : ''}`);
    }
    const key = given[0];
    const l = param(name, 'loc', loc);
    if (typeof l === 'number' || l.rank < 1) throw new RangeError(`${name}: parameter loc must be a vector of size D, got ${describe(l)}`);
    const m = param(name, key, scale[key] as ValueLike);
    const d = l.shape[l.rank - 1];
    if (typeof m === 'number' || m.rank < 2 || m.shape[m.rank - 1] !== m.shape[m.rank - 2]) {
      throw new RangeError(`${name}: parameter ${key} must be a square matrix (shape [..., D, D]), got ${describe(m)}`);
    }
    if (m.shape[m.rank - 1] !== d) {
      throw new RangeError(`${name}: parameter loc has size ${d} (shape [${l.shape.join(', ')}]) but ${key} has shape [${m.shape.join(', ')}]`);
    }
    this.loc = asFloat(l) as tf.Tensor;
    const mat = asFloat(m) as tf.Tensor;
    checkParam(name, key, mat, key === 'scaleTril' ? lowerCholesky : positiveDefinite);
    this.scaleTril = key === 'scaleTril' ? mat : key === 'covariance' ? cholesky(mat) : choleskyOfInverse(mat);
    this.batchShape = broadcastShapes(l.shape.slice(0, -1), m.shape.slice(0, -2), `${name}: batch shapes of loc and ${key}`);
    this.eventShape = [d];
  }

  /** Event size D. */
  get dim(): number {
    return this.eventShape[0];
  }

  sample(rng: Rng, sampleShape: readonly number[] = []): Value {
    return tf.tidy(() => tf.add(this.loc, matVec(this.scaleTril, standardNormal(rng, this.shape(sampleShape)) as tf.Tensor)));
  }

  logProb(xLike: ValueLike): Value {
    const x = valueArg(this, 'logProb', xLike);
    const xt = eventValue(`${this.name}.logProb`, x, this.eventShape);
    return eventLogDensity(this.support, xt, this.loc, (v) => {
      const z = solveLower(this.scaleTril, tf.sub(v, this.loc));
      const halfLogDet = tf.sum(tf.log(diagPart(this.scaleTril)), -1);
      return tf.sub(tf.mul(-0.5, tf.add(tf.sum(tf.square(z), -1), this.dim * LOG_2PI)), halfLogDet);
    });
  }

  override get mean(): Value {
    return tf.broadcastTo(this.loc, this.shape());
  }
  override get variance(): Value {
    return tf.tidy(() => tf.broadcastTo(tf.sum(tf.square(this.scaleTril), -1), this.shape()));
  }
  /** The covariance matrix L L^T, shape `batchShape ++ [D, D]`. */
  get covariance(): tf.Tensor {
    return tf.tidy(() => tf.broadcastTo(gram(this.scaleTril), [...this.batchShape, this.dim, this.dim]));
  }
  /** The precision matrix (L L^T)^-1 = L^-T L^-1, shape `batchShape ++ [D, D]`. */
  get precision(): tf.Tensor {
    return tf.tidy(() => {
      const inv = lowerInverse(this.scaleTril);
      return tf.broadcastTo(tf.matMul(inv, inv, true, false), [...this.batchShape, this.dim, this.dim]);
    });
  }
}

/**
 * MultivariateNormal(loc, { scaleTril } | { covariance } | { precision }).
 * Parameters may be arrays or tensors; draws are tensors of shape `[..., D]`.
 */
export function MultivariateNormal(loc: ValueLike, scale: MvnScale): MultivariateNormalDistribution & Typed<tf.Tensor> {
  return new MultivariateNormalDistribution(loc, scale);
}
