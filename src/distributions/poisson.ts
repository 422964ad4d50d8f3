/**
 * The Poisson distribution.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { traceActive } from '../backend/jit/trace.js';
import type { Rng } from '../core/rng.js';
import { gammaincc, gammainccNumber, lgamma, logGammaPdf, logGammainc, logGammaincNumber, logGammaincc, logGammainccNumber } from '../core/special.js';
import { countTail } from './tails.js';
import { type Value, type ValueLike, add, allTrueIfCheap, log, maximum, shapeOf, sub, toTensor } from '../core/value.js';
import { nonnegative, nonnegativeInteger } from './constraints.js';
import { directOrSaddle, isCount, logFactorial, xLogOf, xLogYNumber } from './counts.js';
import { Distribution, type DrawType, type Typed, batchShapeOf, checkParam, maskSupport, param, valueArg } from './distribution.js';
import { batchValues, drawScalars, poissonVariate } from './samplers.js';

/** The batch shape of a number rate, shared (as `location-scale.ts` shares its own). */
const SCALAR_BATCH: readonly number[] = Object.freeze([]);

/**
 * Poisson(rate): counts `k = 0, 1, 2, ...` with mass
 * `rate^k exp(-rate) / k!`. `rate` must be nonnegative; rate 0 is the point
 * mass at 0.
 */
export class PoissonDistribution extends Distribution {
  readonly name = 'Poisson';
  readonly support = nonnegativeInteger;
  readonly batchShape: readonly number[];
  /** The rate (mean) of the counts. */
  readonly rate: Value;
  private readonly logRate: number;

  /** @param rate - the mean count, nonnegative */
  constructor(rate: ValueLike) {
    super();
    if (typeof rate === 'number' && rate >= 0 && rate < Infinity) {
      // a valid finite plain number, the per-particle case (a model builds one at every site it visits): what the
      // checks below give it, without them (NaN, negatives and Infinity take them; they name the parameter)
      this.rate = rate;
      this.batchShape = SCALAR_BATCH;
      this.logRate = Math.log(rate);
      return;
    }
    this.rate = param('Poisson', 'rate', rate);
    checkParam('Poisson', 'rate', this.rate, nonnegative);
    this.batchShape = batchShapeOf('Poisson', { rate: this.rate });
    this.logRate = typeof this.rate === 'number' ? Math.log(this.rate) : NaN;
  }

  sample(rng: Rng, sampleShape: readonly number[] = []): Value {
    if (typeof this.rate === 'number' && sampleShape.length === 0) return poissonVariate(rng, this.rate);
    const rates = batchValues('Poisson', () => this.rate, this.batchShape);
    return drawScalars(this.shape(sampleShape), rates.length, (b) => poissonVariate(rng, rates[b]));
  }

  logProb(kLike: ValueLike): Value {
    const k = valueArg(this, 'logProb', kLike);
    const rate = this.rate;
    if (typeof k === 'number' && typeof rate === 'number') {
      // an infinite rate puts no mass on any finite count (k log rate - rate would be Inf - Inf)
      if (rate === Infinity) return -Infinity;
      return isCount(k) ? xLogYNumber(k, this.logRate) - rate - logFactorial(k) : -Infinity;
    }
    return tf.tidy(() => {
      const ks = maximum(k, 0); // keeps lgamma's argument valid; negative values are masked
      const lp = largeCounts(ks, rate, () => sub(xLogOf(ks, rate), add(rate, lgamma(add(ks, 1)))));
      const finiteRate = tf.where(tf.equal(toTensor(rate), Infinity), tf.fill(shapeOf(lp) as number[], -Infinity), toTensor(lp));
      return maskSupport(this.support, k, finiteRate) as tf.Tensor;
    });
  }

  override get mean(): Value {
    return this.rate;
  }
  override get variance(): Value {
    return this.rate;
  }

  /** P(X <= k) = Q(floor(k) + 1, rate), the regularised upper incomplete gamma (0 below 0). */
  override cdf(kLike: ValueLike): Value {
    const k = valueArg(this, 'cdf', kLike);
    return countTail([this.rate], k, (r, j) => gammainccNumber(j + 1, r), (r, j) => gammaincc(add(j, 1), r), 0);
  }
  /** log Q(floor(k) + 1, rate) (Stan's `poisson_lcdf`), float64 in log space for numbers and tensors. */
  override logCdf(kLike: ValueLike): Value {
    const k = valueArg(this, 'logCdf', kLike);
    return countTail([this.rate], k, (r, j) => logGammainccNumber(j + 1, r), (r, j) => logGammaincc(add(j, 1), r), -Infinity);
  }
  /** log P(X > k) = log P(floor(k) + 1, rate) (Stan's `poisson_lccdf`), float64 in log space, finite far in the upper tail. */
  override logSurvival(kLike: ValueLike): Value {
    const k = valueArg(this, 'logSurvival', kLike);
    return countTail([this.rate], k, (r, j) => logGammaincNumber(j + 1, r), (r, j) => logGammainc(add(j, 1), r), 0);
  }
}

/** Poisson(rate). The rate may be a number, array or tensor. */
export function Poisson<R extends ValueLike>(rate: R): PoissonDistribution & Typed<DrawType<[R]>> {
  return new PoissonDistribution(rate);
}

/**
 * Counts from which the tensor mass takes the saddle-point form. Below it the
 * direct form's float32 rounding is under ~1e-4 nats an element (the terms are
 * under ~7000), and typical count data never pays for the second form: with
 * counts from 10 (the Gamma densities' threshold) a Poisson regression's whole
 * NUTS call took 1.7x the CPU (both forms recorded, counts up to 50).
 */
export const POISSON_SADDLE_MIN = 1000;

/**
 * `direct` (k log rate - rate - lgamma(k + 1), tensors) with the elements
 * where k + 1 >= `POISSON_SADDLE_MIN` and 0 < rate < Infinity replaced by the same mass as a
 * Gamma(k + 1, 1) density at `rate` in its saddle-point form
 * (`logGammaPdf`): at large rates the direct form's terms, near k log k,
 * cancel (float32: 1.3e-3 nats off at rate 1e4, 0.19 at 1e5, 1.1 at 1e6).
 * Elsewhere the direct form is kept, bit for bit, with its gradients at rate 0;
 * where a cheap read shows every element takes one form, only that one is computed. While a
 * trace records (a compiled or float64 shadow density, replayed in float64) the direct form throughout.
 */
function largeCounts(ks: Value, rate: Value, direct: () => Value): tf.Tensor {
  // a recorded density replays in float64 (backend/jit), where the direct form is exact and cheaper (see binomial.ts)
  if (traceActive()) return toTensor(direct());
  const a = tf.add(toTensor(ks), 1);
  // decided on the counts alone first (data: no read of the rate, so a compiled density records no guard on it)
  if (allTrueIfCheap(tf.less(a, POISSON_SADDLE_MIN))) return toTensor(direct());
  const r = toTensor(rate);
  const big = tf.logicalAnd(tf.greaterEqual(a, POISSON_SADDLE_MIN), tf.logicalAnd(tf.greater(r, 0), tf.less(r, Infinity)));
  return directOrSaddle(big, direct, (at) => logGammaPdf(at(a, POISSON_SADDLE_MIN), 1, at(r, POISSON_SADDLE_MIN)) as tf.Tensor);
}
