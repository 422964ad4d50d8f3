/**
 * Likelihoods on the link scale, named as in Stan: `poisson_log`,
 * `bernoulli_logit`, `binomial_logit` and the Gaussian GLM `normal_id_glm`.
 * They take the linear predictor directly, so no `exp` or `sigmoid` is formed
 * and the log density stays finite where the mean under- or overflows.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { ContentCache } from '../core/content-cache.js';
import type { Rng } from '../core/rng.js';
import { lgamma } from '../core/special.js';
import { type Value, type ValueLike, add, exp, maximum, mul, sub, toTensor } from '../core/value.js';
import { matVec } from '../linalg/index.js';
import { nonnegativeInteger, positive, realVector } from './constraints.js';
import { BernoulliDistribution } from './bernoulli.js';
import { BinomialDistribution } from './binomial.js';
import { isCount, logFactorial } from './counts.js';
import { Distribution, type DrawType, type Typed, batchShapeOf, checkParam, maskSupport, param, standardNormal, valueArg } from './distribution.js';
import { batchValues, drawScalars, poissonVariate } from './samplers.js';

/**
 * PoissonLog(alpha): Poisson counts with log rate `alpha` (Stan's
 * `poisson_log`): mass `exp(k alpha - e^alpha) / k!`, computed without
 * forming `log(exp(alpha))`.
 */
export class PoissonLogDistribution extends Distribution {
  readonly name = 'PoissonLog';
  readonly support = nonnegativeInteger;
  readonly batchShape: readonly number[];
  /** The log rate (linear predictor). */
  readonly logRate: Value;

  /** @param logRate - the log of the mean count, any real */
  constructor(logRate: ValueLike) {
    super();
    this.logRate = param('PoissonLog', 'logRate', logRate);
    this.batchShape = batchShapeOf('PoissonLog', { logRate: this.logRate });
  }

  sample(rng: Rng, sampleShape: readonly number[] = []): Value {
    if (typeof this.logRate === 'number' && sampleShape.length === 0) return poissonVariate(rng, Math.exp(this.logRate));
    const rates = batchValues('PoissonLog', () => exp(this.logRate), this.batchShape);
    return drawScalars(this.shape(sampleShape), rates.length, (b) => poissonVariate(rng, rates[b]));
  }

  logProb(kLike: ValueLike): Value {
    const k = valueArg(this, 'logProb', kLike);
    const a = this.logRate;
    if (typeof k === 'number' && typeof a === 'number') return isCount(k) ? k * a - Math.exp(a) - logFactorial(k) : -Infinity;
    return tf.tidy(() => {
      const ks = maximum(k, 0);
      const lp = sub(sub(mul(ks, a), exp(a)), lgamma(add(ks, 1)));
      return maskSupport(this.support, k, toTensor(lp)) as tf.Tensor;
    });
  }

  override get mean(): Value {
    return exp(this.logRate);
  }
  override get variance(): Value {
    return exp(this.logRate);
  }
}

/** PoissonLog(alpha): counts with log rate `alpha` (Stan's `poisson_log`). */
export function PoissonLog<A extends ValueLike>(logRate: A): PoissonLogDistribution & Typed<DrawType<[A]>> {
  return new PoissonLogDistribution(logRate);
}

/** BernoulliLogit(alpha): Bernoulli with log-odds `alpha` (Stan's `bernoulli_logit`); the same as `Bernoulli({ logits: alpha })`. */
export function BernoulliLogit<A extends ValueLike>(logits: A): BernoulliDistribution & Typed<DrawType<[A]>> {
  return new BernoulliDistribution({ logits }) as BernoulliDistribution & Typed<DrawType<[A]>>;
}

/** BinomialLogit(n, alpha): Binomial with log-odds `alpha` (Stan's `binomial_logit`); the same as `Binomial(n, { logits: alpha })`. */
export function BinomialLogit<N extends ValueLike, A extends ValueLike>(totalCount: N, logits: A): BinomialDistribution & Typed<DrawType<[N, A]>> {
  return new BinomialDistribution(totalCount, { logits }) as BinomialDistribution & Typed<DrawType<[N, A]>>;
}

const HALF_LOG_2PI = 0.5 * Math.log(2 * Math.PI);

/** Design matrices given as arrays, converted once per array and contents (a model builds its distributions on every evaluation). */
const matrices = new ContentCache<tf.Tensor2D>();
function matrixOf(x: number[][]): tf.Tensor2D {
  return matrices.get(x, () => tf.keep(tf.tensor2d(x)), (t) => !t.isDisposed);
}

/**
 * NormalIdGlm(X, alpha, beta, sigma): the Gaussian linear model
 * `y ~ Normal(alpha + X beta, sigma)` as one distribution over the whole
 * response vector (Stan's `normal_id_glm`): event shape `[N]` for `X` of
 * shape `[N, D]`. The log density is one matrix-vector product and a sum of
 * squares (no N-element Normal is built):
 * `-N log sigma - N/2 log 2 pi - |y - alpha - X beta|^2 / (2 sigma^2)`.
 *
 * `alpha` is a number or tensor (a batch `[...]`, or `[..., N]` for
 * per-observation intercepts), `beta` is `[D]` or `[..., D]`, `sigma` a
 * positive number or tensor `[...]`. Sufficient statistics (X^T y, X^T X)
 * would make each evaluation O(D^2) instead of O(N D), but in float32 the
 * cancellation in y^T y - 2 mu^T y + mu^T mu loses the residual sum of squares
 * when the fit is good, so it is not done.
 */
export class NormalIdGlmDistribution extends Distribution {
  readonly name = 'NormalIdGlm';
  readonly support = realVector;
  override readonly hasRsample = true;
  readonly batchShape: readonly number[];
  override readonly eventShape: readonly number[];
  /** The design matrix `[N, D]`. */
  readonly x: tf.Tensor2D;
  /** Intercept. */
  readonly alpha: Value;
  /** Coefficients `[..., D]`. */
  readonly beta: tf.Tensor;
  /** Residual scale > 0. */
  readonly sigma: Value;

  constructor(x: tf.Tensor2D | number[][], alpha: ValueLike, beta: ValueLike, sigma: ValueLike) {
    super();
    const xt = x instanceof tf.Tensor ? x : matrixOf(x);
    if (xt.rank !== 2) throw new TypeError(`NormalIdGlm: x must be a matrix [N, D], got shape [${xt.shape.join(', ')}]`);
    this.x = xt as tf.Tensor2D;
    const [n, d] = this.x.shape;
    this.alpha = param('NormalIdGlm', 'alpha', alpha);
    const b = param('NormalIdGlm', 'beta', beta);
    this.beta = toTensor(b);
    if (this.beta.rank < 1 || this.beta.shape[this.beta.rank - 1] !== d) {
      throw new TypeError(`NormalIdGlm: beta must have shape [..., ${d}] to fit x of shape [${n}, ${d}], got shape [${this.beta.shape.join(', ')}]`);
    }
    this.sigma = param('NormalIdGlm', 'sigma', sigma);
    checkParam('NormalIdGlm', 'sigma', this.sigma, positive);
    const alphaShape = typeof this.alpha === 'number' ? [] : this.alpha.shape;
    const alphaPerRow = alphaShape.length > 0 && alphaShape[alphaShape.length - 1] === n && n !== 1;
    this.batchShape = batchShapeOf('NormalIdGlm', { alpha: this.alpha, beta: this.beta, sigma: this.sigma }, { alpha: alphaPerRow ? 1 : 0, beta: 1 });
    this.eventShape = [n];
  }

  /** The mean `alpha + X beta`, shape `[..., N]`. */
  override get mean(): Value {
    return tf.tidy(() => {
      const a = this.alpha;
      const n = this.x.shape[0];
      const xb = matVec(this.x, this.beta);
      const aT = typeof a === 'number' ? a : a.rank > 0 && a.shape[a.rank - 1] === n && n !== 1 ? a : tf.expandDims(a, -1);
      return tf.add(xb, aT);
    });
  }

  override get variance(): Value {
    return tf.tidy(() => tf.mul(tf.onesLike(this.mean as tf.Tensor), tf.expandDims(tf.square(toTensor(this.sigma)), -1)));
  }

  sample(rng: Rng, sampleShape: readonly number[] = []): Value {
    const z = standardNormal(rng, this.shape(sampleShape));
    return tf.tidy(() => tf.add(this.mean as tf.Tensor, tf.mul(tf.expandDims(toTensor(this.sigma), -1), z as tf.Tensor)));
  }

  logProb(yLike: ValueLike): Value {
    const y = valueArg(this, 'logProb', yLike);
    const n = this.x.shape[0];
    const yt = toTensor(y);
    if (yt.rank < 1 || yt.shape[yt.rank - 1] !== n) throw new TypeError(`NormalIdGlm: y must have shape [..., ${n}] to fit x with ${n} rows, got shape [${yt.shape.join(', ')}]`);
    return tf.tidy(() => {
      const sigma = toTensor(this.sigma);
      const rss = tf.sum(tf.square(tf.sub(yt, this.mean as tf.Tensor)), -1);
      return tf.sub(tf.mul(-n, tf.add(tf.log(sigma), HALF_LOG_2PI)), tf.div(rss, tf.mul(2, tf.square(sigma))));
    });
  }
}

/**
 * NormalIdGlm(X, alpha, beta, sigma): `y ~ Normal(alpha + X beta, sigma)`
 * over the whole vector y (Stan's `normal_id_glm`); X is `[N, D]`.
 */
export function NormalIdGlm(x: tf.Tensor2D | number[][], alpha: ValueLike, beta: ValueLike, sigma: ValueLike): NormalIdGlmDistribution {
  return new NormalIdGlmDistribution(x, alpha, beta, sigma);
}
