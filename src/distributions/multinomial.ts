/**
 * The multinomial distribution.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../core/rng.js';
import { lgammaTensor } from '../core/special.js';
import { type Value, type ValueLike, describe, toNumber } from '../core/value.js';
import { type Constraint, nonnegativeInteger } from './constraints.js';
import { isCount, logFactorial, xLogY, xLogYNumber } from './counts.js';
import { Distribution, type Typed, checkParam, maskSupport, param, valueArg } from './distribution.js';
import { type ProbsArg, SimplexProbs } from './probs.js';
import { binomialVariate, drawEvents } from './samplers.js';

const supportCache = new Map<number, Constraint>();

/** Vectors of nonnegative integers summing to `n` over the last axis (one event per vector). */
export function multinomialSupport(n: number): Constraint {
  let c = supportCache.get(n);
  if (c === undefined) {
    c = {
      name: `multinomial(${n})`,
      isDiscrete: true,
      eventDim: 1,
      check: (x: Value) =>
        tf.tidy(() => {
          const t = eventTensor(x, `multinomial(${n})`);
          const counts = tf.all(tf.logicalAnd(tf.equal(t, tf.round(t)), tf.greaterEqual(t, 0)), -1);
          return tf.logicalAnd(counts, tf.equal(tf.sum(t, -1), n));
        }),
    };
    supportCache.set(n, c);
  }
  return c;
}

function eventTensor(x: Value, what: string): tf.Tensor {
  if (typeof x === 'number' || x.rank === 0) throw new TypeError(`${what}: expected a vector of counts (last axis = categories), got ${describe(x)}`);
  return x;
}

/** One event: counts of `n` draws over `k` categories with probabilities `p[off..off+k)`, written to `out[at..at+k)`. */
function multinomialEvent(rng: Rng, n: number, p: ArrayLike<number>, off: number, k: number, out: Float32Array, at: number): void {
  let last = 0;
  for (let i = 0; i < k; i++) if (p[off + i] > 0) last = i;
  let rest = n;
  let mass = 1;
  for (let i = 0; i < last; i++) {
    const pi = p[off + i];
    const x = rest === 0 ? 0 : binomialVariate(rng, rest, mass > 0 ? Math.min(1, pi / mass) : 1);
    out[at + i] = x;
    rest -= x;
    mass -= pi;
  }
  out[at + last] = rest;
  for (let i = last + 1; i < k; i++) out[at + i] = 0;
}

/**
 * Multinomial(n, probs): counts over K categories of `n` independent
 * categorical draws. Events are vectors of shape `[K]` (the last axis of
 * `probs`); the leading axes of `probs` are the batch. Mass
 * `n! / prod_k x_k! * prod_k p_k^x_k` on count vectors summing to `n`.
 *
 * `totalCount` is one nonnegative integer shared by the batch. Draws are
 * float32 tensors. When `probs` is a plain JS vector and the value is a
 * single count vector, `logProb` is computed in float64 and returns a number.
 */
export class MultinomialDistribution extends Distribution {
  readonly name = 'Multinomial';
  readonly support: Constraint;
  readonly batchShape: readonly number[];
  override readonly eventShape: readonly number[];
  /** The number of draws n. */
  readonly totalCount: number;
  private readonly s: SimplexProbs;

  /**
   * @param totalCount - number of draws, a nonnegative integer (number or scalar tensor)
   * @param probs - probabilities over the last axis, or `{ probs }` / `{ logits }`
   */
  constructor(totalCount: ValueLike, probs: ProbsArg) {
    super();
    const n = param('Multinomial', 'totalCount', totalCount);
    if (typeof n !== 'number' && n.size !== 1) {
      throw new RangeError(`Multinomial: parameter totalCount must be a single number shared by the batch, got ${describe(n)}`);
    }
    this.totalCount = toNumber(n);
    checkParam('Multinomial', 'totalCount', this.totalCount, nonnegativeInteger);
    this.s = new SimplexProbs('Multinomial', probs);
    this.batchShape = this.s.batchShape;
    this.eventShape = [this.s.k];
    this.support = multinomialSupport(this.totalCount);
  }

  /** Normalised probabilities, a tensor of shape `batchShape ++ [K]`. */
  get probs(): tf.Tensor {
    return this.s.probsTensor();
  }
  /** Normalised log-probabilities, a tensor of shape `batchShape ++ [K]`. */
  get logits(): tf.Tensor {
    return this.s.logProbsTensor();
  }

  sample(rng: Rng, sampleShape: readonly number[] = []): Value {
    const k = this.s.k;
    const p = this.s.probsArray();
    const n = this.totalCount;
    return drawEvents(this.shape(sampleShape), p.length / k, k, (b, out, at) => multinomialEvent(rng, n, p, b * k, k, out, at));
  }

  logProb(xLike: ValueLike): Value {
    const x = valueArg(this, 'logProb', xLike);
    const t = eventTensor(x, 'Multinomial.logProb');
    const k = this.s.k;
    if (t.shape[t.rank - 1] !== k) {
      throw new RangeError(`Multinomial.logProb: value has ${t.shape[t.rank - 1]} categories on its last axis, expected ${k}`);
    }
    const logP = this.s.logP64;
    if (logP && t.rank === 1) return this.logProbNumber(t.dataSync(), logP);
    return tf.tidy(() => {
      const xs = tf.maximum(t, 0); // keeps lgamma's argument valid; invalid events are masked
      const terms = tf.sub(xLogY(xs, this.s.logProbsTensor()) as tf.Tensor, lgammaTensor(tf.add(xs, 1)));
      const lp = tf.add(tf.sum(terms, -1), logFactorial(this.totalCount));
      return maskSupport(this.support, t, lp) as tf.Tensor;
    });
  }

  /** float64 log-mass of one count vector. */
  private logProbNumber(x: ArrayLike<number>, logP: Float64Array): number {
    let lp = logFactorial(this.totalCount);
    let sum = 0;
    for (let i = 0; i < x.length; i++) {
      const xi = x[i];
      if (!isCount(xi)) return -Infinity;
      sum += xi;
      lp += xLogYNumber(xi, logP[i]) - logFactorial(xi);
    }
    return sum === this.totalCount ? lp : -Infinity;
  }

  override get mean(): Value {
    return tf.tidy(() => tf.mul(this.s.probsTensor(), this.totalCount));
  }
  override get variance(): Value {
    return tf.tidy(() => {
      const p = this.s.probsTensor();
      return tf.mul(tf.mul(p, tf.sub(1, p)), this.totalCount);
    });
  }
}

/** Multinomial(totalCount, probs), or `Multinomial(totalCount, { logits })`; events are count vectors over the last axis. */
export function Multinomial(totalCount: ValueLike, probs: ProbsArg): MultinomialDistribution & Typed<tf.Tensor> {
  return new MultinomialDistribution(totalCount, probs);
}
