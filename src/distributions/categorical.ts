/**
 * The categorical distribution over category indices.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { ContentCache } from '../core/content-cache.js';
import type { Rng } from '../core/rng.js';
import { type Value, broadcastShapes, shapeOf, toTensor, type ValueLike } from '../core/value.js';
import type { IntervalConstraint } from './constraints.js';
import { countSupport, integerRange } from './counts.js';
import { Distribution, type Typed, maskSupport, valueArg } from './distribution.js';
import { type IndexDraw, type ProbsArg, SimplexProbs } from './probs.js';
import { categoricalVariate, cumulativeRows, drawScalars } from './samplers.js';

/** The parameter of each plain probability vector seen, while the vector holds the same numbers (a buffer filled again gets a new one). */
const shared = new ContentCache<SimplexProbs>();

/** The parameter for `probs`, shared between distributions built from the same plain vector with the same contents. */
function simplexOf(probs: ProbsArg): SimplexProbs {
  if (!Array.isArray(probs)) return new SimplexProbs('Categorical', probs);
  return shared.get(probs, makeSimplex);
}

/** (One function for every miss: a closure per call would be allocated on every hit.) */
function makeSimplex(probs: readonly unknown[]): SimplexProbs {
  return new SimplexProbs('Categorical', probs as ProbsArg);
}

/**
 * Categorical(probs): a category index `0..K-1` drawn with probability
 * `probs[..., k]`, where the last axis of the parameter holds the K
 * categories and the leading axes are the batch.
 *
 * The parameter may be probabilities (nonnegative, summing to 1 within 1e-6)
 * or `{ logits }` (unnormalised log-probabilities). Given as a plain JS vector
 * (`number[]`, `Float64Array`), it is held in float64: draws are numbers and
 * `logProb` of a number is a table lookup. Tensor draws are float32 indices.
 */
export class CategoricalDistribution extends Distribution {
  readonly name = 'Categorical';
  readonly support: IntervalConstraint;
  readonly batchShape: readonly number[];
  private readonly s: SimplexProbs;

  /** @param probs - probabilities over the last axis, or `{ probs }` / `{ logits }`. */
  constructor(probs: ProbsArg) {
    super();
    this.s = simplexOf(probs);
    this.batchShape = this.s.batchShape;
    this.support = countSupport(this.s.k - 1);
  }

  /** Number of categories K. */
  get numCategories(): number {
    return this.s.k;
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
    const cdf64 = this.s.cdf64;
    if (cdf64 && sampleShape.length === 0) return categoricalVariate(rng, cdf64, 0, k);
    const cdf = cdf64 ?? cumulativeRows(this.s.probsArray(), k);
    return drawScalars(this.shape(sampleShape), cdf.length / k, (b) => categoricalVariate(rng, cdf, b * k, k));
  }

  logProb(xLike: ValueLike): Value {
    const x = valueArg(this, 'logProb', xLike);
    const logP = this.s.logP64;
    if (typeof x === 'number' && logP) return Number.isInteger(x) && x >= 0 && x < this.s.k ? logP[x] : -Infinity;
    const k = this.s.k;
    return tf.tidy(() => {
      const lp = this.s.logProbsTensor();
      const xt = toTensor(x);
      const shape = [...broadcastShapes(shapeOf(x), this.batchShape, 'Categorical.logProb'), k];
      // clamp so that out-of-support values index safely; they are masked below
      const idx = tf.cast(tf.clipByValue(xt, 0, k - 1), 'int32');
      // (tf.oneHot refuses a depth of 1: a single category is always hit)
      const hit = k === 1 ? tf.ones(shape, 'bool') : tf.cast(tf.broadcastTo(tf.oneHot(idx, k), shape), 'bool');
      const picked = tf.sum(tf.where(hit, tf.broadcastTo(lp, shape), tf.zeros(shape)), -1);
      return maskSupport(this.support, xt, picked) as tf.Tensor;
    });
  }

  /** Mean of the index, sum_k k p_k. */
  override get mean(): Value {
    return this.moment(1);
  }
  /** Variance of the index. */
  override get variance(): Value {
    if (this.s.logP64) {
      const m = this.moment(1) as number;
      return (this.moment(2) as number) - m * m;
    }
    return tf.tidy(() => {
      const m = this.moment(1) as tf.Tensor;
      return tf.sub(this.moment(2), tf.square(m));
    });
  }

  /** E[index^power]. */
  private moment(power: number): Value {
    const p = this.s.p64;
    if (p) {
      let s = 0;
      for (let i = 1; i < p.length; i++) s += Math.pow(i, power) * p[i];
      return s;
    }
    return tf.tidy(() => tf.sum(tf.mul(this.s.probsTensor(), tf.pow(tf.range(0, this.s.k), power)), -1));
  }

  /** The indices `0..K-1` as numbers when the batch shape is `[]`, else `undefined`. */
  override enumerateSupport(): Value[] | undefined {
    return this.batchShape.length === 0 ? integerRange(this.s.k) : undefined;
  }
}

/**
 * The distribution of each plain probability vector seen, while the vector holds the same numbers:
 * a `CategoricalDistribution` holds nothing but its shared parameter (the float64 path keeps its own
 * copy, never the caller's array), so `Categorical(probs)` at a site a model visits again and again
 * (each path of an enumeration) returns the same object after one content check, instead of
 * building one per visit (~30 ns, and garbage). Content-keyed too (up to 256 vectors): a model that
 * builds its vector afresh on every run (`Categorical(new Array(n).fill(1 / n))`) passes a new array
 * each time, and each miss normalised and logged all n entries again (~25 µs at n = 112, a third of
 * a lean Gibbs run of the scalar coal switchpoint: GIBBS2, session 17).
 */
const sharedDists = new ContentCache<CategoricalDistribution>(256);

/** (One function for every miss, as `makeSimplex`.) */
function makeCategorical(probs: readonly unknown[]): CategoricalDistribution {
  return new CategoricalDistribution(probs as ProbsArg);
}

/**
 * Categorical(probs), or `Categorical({ logits })`; the last axis holds the categories. Calls with
 * the same plain array holding the same numbers may return the same (immutable) object.
 */
export function Categorical<P extends ProbsArg>(probs: P): CategoricalDistribution & Typed<IndexDraw<P>> {
  if (Array.isArray(probs)) return sharedDists.get(probs, makeCategorical) as CategoricalDistribution & Typed<IndexDraw<P>>;
  return new CategoricalDistribution(probs);
}
