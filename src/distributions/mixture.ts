/**
 * Finite mixtures: {@link Mixture} of a list of component distributions and
 * {@link MixtureSameFamily} over the last batch dimension of one batched
 * component distribution.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../core/rng.js';
import { type Value, add, broadcastShapes, describe, exp, logSumExp, mul, square, sub, toNumber, toTensor, where, type ValueLike } from '../core/value.js';
import { CategoricalDistribution } from './categorical.js';
import { type Constraint, nonnegative, positive, positiveFinite } from './constraints.js';
import { DeltaDistribution } from './delta.js';
import { Distribution, type Typed, type ValueOf, sameShape, valueArg } from './distribution.js';

/**
 * The number of categories of a mixing distribution: a scalar-event discrete
 * distribution over 0..K-1 (a `Categorical`, or any distribution whose
 * support is an integer interval from 0). Throws naming the mixture.
 */
function mixingCategories(where: string, mixing: Distribution): number {
  if (!(mixing instanceof Distribution)) throw new TypeError(`${where}: mixing must be a distribution, got ${typeof mixing}`);
  if (!mixing.isDiscrete || mixing.eventShape.length !== 0) {
    throw new TypeError(`${where}: mixing must be a discrete distribution over 0..K-1 with scalar events (e.g. Categorical), got ${mixing.toString()}`);
  }
  if (mixing instanceof CategoricalDistribution) return mixing.numCategories;
  const upper = (mixing.support as Partial<{ lower: Value; upper: Value }>).upper;
  const lower = (mixing.support as Partial<{ lower: Value; upper: Value }>).lower;
  if (typeof upper === 'number' && Number.isFinite(upper) && lower === 0) return upper + 1;
  throw new TypeError(`${where}: cannot tell the number of categories of mixing distribution ${mixing.name} (support ${mixing.support.name})`);
}

/** Append `n` size-1 axes to a tensor (numbers pass through), to broadcast batch values over event dimensions. */
function padEvent(v: Value, n: number): Value {
  if (typeof v === 'number' || n === 0) return v;
  return tf.reshape(v, [...v.shape, ...new Array<number>(n).fill(1)]);
}

/** The common support of the components, or an error naming the mixture (`positive` beside `nonnegative` is `nonnegative`). */
function sharedSupport(where: string, supports: Constraint[]): Constraint {
  const names = new Set(supports.map((s) => s.name));
  if (names.size === 2 && names.has(positive.name) && names.has(nonnegative.name)) return nonnegative;
  if (names.size !== 1) throw new TypeError(`${where}: components must share one support, got ${[...names].join(', ')}`);
  return supports[0];
}

/** A point mass (`Delta(0)`, or a batch of points): an atom of a zero-inflated mixture. */
function atomOf(c: Distribution): Value | undefined {
  return c instanceof DeltaDistribution ? c.v : undefined;
}

/** True where the support holds every point of `v` (numbers or a tensor). */
function holdsAll(support: Constraint, v: Value): boolean {
  const ok = support.check(v);
  return typeof ok === 'boolean' ? ok : tf.tidy(() => tf.all(ok).dataSync()[0] === 1);
}

/**
 * The support of components that may include point masses (`Delta(v)`, v a number) beside
 * other components: the others' support, which must hold every point. `atoms` lists the
 * point masses that sit on a continuous support (zero inflation of a density), or is empty.
 */
function mixtureSupport(where: string, components: readonly Distribution[]): { support: Constraint; atoms: number[] } {
  const points = components.map(atomOf);
  const rest = components.filter((_, k) => points[k] === undefined);
  if (rest.length === 0 || rest.length === components.length) return { support: sharedSupport(where, components.map((c) => c.support)), atoms: [] };
  const shared = sharedSupport(where, rest.map((c) => c.support));
  // a point at the open end of a positive support (a hurdle LogNormal: dry days at 0) joins it: [0, inf)
  const atZero = points.some((v) => v !== undefined && holdsAll(nonnegative, v) && !holdsAll(shared, v));
  const support = atZero && (shared === positive || shared === positiveFinite) ? nonnegative : shared;
  points.forEach((v, k) => {
    if (v === undefined) return;
    if ((components[k] as DeltaDistribution).eventDim !== 0) {
      throw new TypeError(`${where}: components[${k}] is a point mass over events of rank ${(components[k] as DeltaDistribution).eventDim}; beside other components only scalar point masses (eventDim 0) are supported`);
    }
    if (!holdsAll(support, v)) {
      throw new TypeError(`${where}: components[${k}] is a point mass at ${describe(v)}, outside the support of the other components (${support.name})`);
    }
  });
  return { support, atoms: support.isDiscrete ? [] : points.flatMap((v, k) => (v === undefined ? [] : [k])) };
}

/**
 * Mixture(mixing, components): draw an index k from `mixing` (a Categorical,
 * or any distribution over 0..K-1), then a value from `components[k]`.
 * All K components must have the same event shape; their batch shapes and
 * the mixing batch shape broadcast together. Density
 * p(x) = sum_k w_k p_k(x), computed as a log-sum-exp.
 *
 * With a Categorical given as a plain vector and number-parameter scalar
 * components, `logProb` and `sample` stay on plain numbers.
 */
export class MixtureDistribution extends Distribution {
  readonly name = 'Mixture';
  readonly batchShape: readonly number[];
  override readonly eventShape: readonly number[];
  readonly support: Constraint;
  /** The component distributions. */
  readonly components: readonly Distribution[];
  /**
   * Components that are point masses beside continuous ones (a zero-inflated density):
   * at such a point the value has positive probability, so its log density there is
   * the log of the point masses' weight alone, and elsewhere the continuous part's
   * (the density with respect to counting measure on the points plus Lebesgue measure;
   * adding a mass to a density would depend on the data's units).
   */
  private readonly atoms: readonly number[];
  /** The atoms' points, described for messages. */
  private readonly pointMassText: string | undefined;

  /**
   * @param mixing - distribution of the component index, over 0..K-1
   * @param components - K distributions of equal batch and event shapes
   */
  constructor(
    readonly mixing: Distribution,
    components: readonly Distribution[],
  ) {
    super();
    const where = this.name;
    if (!Array.isArray(components) || components.length === 0) throw new TypeError(`${where}: components must be a non-empty array of distributions`);
    components.forEach((c, i) => {
      if (!(c instanceof Distribution)) throw new TypeError(`${where}: components[${i}] is not a distribution`);
    });
    const k = mixingCategories(where, mixing);
    if (k !== components.length) throw new RangeError(`${where}: mixing has ${k} categories but ${components.length} components were given`);
    const first = components[0];
    // event shapes must be equal; batch shapes broadcast (Normal(mu, 1) with a vector mu beside Normal(0, 1), or
    // a batch of particles beside a constant component)
    let batch = first.batchShape as number[];
    components.forEach((c, i) => {
      if (!sameShape(c.eventShape, first.eventShape)) {
        throw new RangeError(
          `${where}: components[${i}] (${c.toString()}) has event shape [${c.eventShape.join(', ')}], but components[0] has [${first.eventShape.join(', ')}]`,
        );
      }
      batch = broadcastShapes(batch, c.batchShape, `${where}: batch shapes of components[0..${i - 1}] and components[${i}]`);
    });
    this.batchShape = broadcastShapes(mixing.batchShape, batch, `${where}: batch shapes of mixing and components`);
    this.eventShape = first.eventShape;
    const { support, atoms } = mixtureSupport(where, components);
    this.support = support;
    this.atoms = atoms;
    this.pointMassText = atoms.length === 0 ? undefined : atoms.map((k) => describe((components[k] as DeltaDistribution).v)).join(', ');
    this.components = components.map((c) => c.expand(this.batchShape));
  }

  /** The components' common finite support, for enumeration (undefined unless every component enumerates the same values). */
  override enumerateSupport(): Value[] | undefined {
    const first = this.components[0].enumerateSupport();
    if (first === undefined || first.some((v) => typeof v !== 'number')) return undefined;
    for (const c of this.components.slice(1)) {
      const other = c.enumerateSupport();
      if (other === undefined || other.length !== first.length || other.some((v, i) => v !== first[i])) return undefined;
    }
    return first;
  }

  /** log w_k = mixing.logProb(k) for each component (numbers on the float64 Categorical path). */
  private logWeights(): Value[] {
    return this.components.map((_, k) => this.mixing.logProb(k));
  }

  sample(rng: Rng, sampleShape: readonly number[] = []): Value {
    if (sampleShape.length === 0 && this.batchShape.length === 0) {
      const k = toNumber(this.mixing.sample(rng));
      return this.components[k].sample(rng);
    }
    return tf.tidy(() => {
      const idx = toTensor(this.mixing.expand(this.batchShape).sample(rng, sampleShape));
      const draws = this.components.map((c) => c.sample(rng, sampleShape));
      let out = toTensor(draws[0]);
      for (let k = 1; k < draws.length; k++) {
        const pick = padEvent(tf.equal(idx, k), this.eventShape.length) as tf.Tensor;
        out = where(pick, draws[k], out) as tf.Tensor;
      }
      return out;
    });
  }

  logProb(valueLike: ValueLike): Value {
    const value = valueArg(this, 'logProb', valueLike);
    // numbers in, numbers out on the float64 path; tensors are tidied
    return typeof value === 'number' ? this.logProbOf(value) : tf.tidy(() => toTensor(this.logProbOf(value)));
  }

  private logProbOf(value: Value): Value {
    const w = this.logWeights();
    if (this.atoms.length === 0) return logSumExpOf(this.components.map((c, k) => add(w[k], c.logProb(value))));
    // a point mass beside a density: at a point, the points' weight alone; elsewhere the density
    const atoms = this.atoms;
    const others = this.components.flatMap((_, k) => (atoms.includes(k) ? [] : [k]));
    const onPoint = atoms.map((k) => this.components[k].logProb(value));
    if (onPoint.every((t): t is number => typeof t === 'number')) {
      const hit = onPoint.some((t) => t > -Infinity);
      return hit ? logSumExpOf(atoms.map((k, j) => add(w[k], onPoint[j]))) : logSumExpOf(others.map((k) => add(w[k], this.components[k].logProb(value))));
    }
    return tf.tidy(() => {
      const hit = onPoint.map((t) => tf.greater(toTensor(t), -Infinity)).reduce((a, b) => tf.logicalOr(a, b));
      // each side is computed where it is finite, so that the side not taken gives no NaN gradient: the atoms' terms
      // with 0 in place of -Infinity off the points, the densities at a point of their support on the points
      const at = toTensor(logSumExpOf(atoms.map((k, j) => add(w[k], tf.where(hit, toTensor(onPoint[j]), 0)))));
      const safe = tf.where(hit, tf.fill(hit.shape, insidePoint(this.support)), toTensor(value));
      const rest = toTensor(logSumExpOf(others.map((k) => add(w[k], this.components[k].logProb(safe)))));
      const shape = broadcastShapes(broadcastShapes(hit.shape, at.shape), rest.shape);
      return tf.where(tf.broadcastTo(hit, shape), tf.broadcastTo(at, shape), tf.broadcastTo(rest, shape));
    });
  }

  /** Where the mixture puts point masses beside a density (`Delta(0)` in a zero-inflated density): their points, described; else `undefined`. */
  get pointMasses(): string | undefined {
    return this.pointMassText;
  }

  override get mean(): Value {
    const e = this.eventShape.length;
    const w = this.logWeights().map((l) => padEvent(exp(l), e));
    return this.components.reduce<Value>((acc, c, k) => add(acc, mul(w[k], c.mean)), 0);
  }

  /** Law of total variance: sum_k w_k (var_k + mean_k^2) - mean^2. */
  override get variance(): Value {
    const e = this.eventShape.length;
    const w = this.logWeights().map((l) => padEvent(exp(l), e));
    const second = this.components.reduce<Value>((acc, c, k) => add(acc, mul(w[k], add(c.variance, square(c.mean)))), 0);
    return sub(second, square(this.mean));
  }
}

/** A number inside a scalar support (for values that are masked out). */
function insidePoint(support: Constraint): number {
  const { lower, upper } = support as Partial<{ lower: Value; upper: Value }>;
  const lo = typeof lower === 'number' ? lower : NaN;
  const hi = typeof upper === 'number' ? upper : NaN;
  const p = [1, 0.5, 0, -1, (lo + hi) / 2, lo + 1, hi - 1].find((v) => Number.isFinite(v) && support.check(v) === true);
  if (p === undefined) throw new TypeError(`Mixture: no point of the support ${support.name} to evaluate at`);
  return p;
}

/**
 * The point masses a distribution puts on a continuous support (a Mixture of
 * `Delta(v)` and a density, also inside `expand`, `Independent` or
 * `Truncated`), described for messages, or `undefined` where it has none.
 * Gradient-based engines see only the density of such a site and never its
 * points.
 */
export function pointMassesOf(d: Distribution): string | undefined {
  if (d instanceof MixtureDistribution) return d.pointMasses;
  const base = (d as { base?: unknown }).base;
  return base instanceof Distribution ? pointMassesOf(base) : undefined;
}

/** log sum exp of numbers, or of tensors broadcast together. */
function logSumExpOf(terms: Value[]): Value {
  if (terms.every((t): t is number => typeof t === 'number')) return logSumExp(terms);
  return tf.tidy(() => {
    const shape = terms.reduce<number[]>((s, t) => broadcastShapes(s, toTensor(t).shape), []);
    return logSumExp(tf.stack(terms.map((t) => tf.broadcastTo(toTensor(t), shape)), -1), shape.length);
  });
}

/**
 * Mixture(mixing, components): a finite mixture of K distributions of equal
 * shapes with weights from `mixing` (e.g. `Categorical([0.3, 0.7])`).
 * Zero inflation: a point mass `Delta(v)` (v a number) beside counts
 * (`[Delta(0), Poisson(lam)]`) or beside a density (`[Delta(0), Gamma(a, b)]`,
 * where an observed v scores the point's weight alone, never the density).
 */
export function Mixture<D extends Distribution>(mixing: Distribution, components: readonly D[]): MixtureDistribution & Typed<ValueOf<D>> {
  return new MixtureDistribution(mixing, components);
}

/**
 * MixtureSameFamily(mixing, component): a mixture over the last batch
 * dimension of one batched `component` distribution (batch shape
 * `[..., K]`), with weights from `mixing` over 0..K-1 (batch shape
 * broadcasting with `[...]`), as in TFP and NumPyro. Batch shape is the
 * component's without its last dimension; event shape is the component's.
 * Draws choose an index, then pick that component's draw; they are tensors.
 */
export class MixtureSameFamilyDistribution extends Distribution {
  readonly name = 'MixtureSameFamily';
  readonly batchShape: readonly number[];
  override readonly eventShape: readonly number[];
  readonly support: Constraint;
  /** The batched component distribution (batch `batchShape ++ [K]`). */
  readonly component: Distribution;
  /** Number of components K. */
  readonly numComponents: number;

  /**
   * @param mixing - distribution of the component index, over 0..K-1
   * @param component - a distribution whose last batch dimension has size K
   */
  constructor(
    readonly mixing: Distribution,
    component: Distribution,
  ) {
    super();
    const where = this.name;
    if (!(component instanceof Distribution)) throw new TypeError(`${where}: component must be a distribution, got ${typeof component}`);
    const cb = component.batchShape;
    if (cb.length === 0) throw new RangeError(`${where}: component must have a batch dimension of size K (the components), got batch shape []`);
    const k = mixingCategories(where, mixing);
    if (cb[cb.length - 1] !== k) {
      throw new RangeError(`${where}: mixing has ${k} categories but the component's last batch dimension is ${cb[cb.length - 1]} (batch shape [${cb.join(', ')}])`);
    }
    this.numComponents = k;
    this.batchShape = broadcastShapes(mixing.batchShape, cb.slice(0, -1), `${where}: batch shapes of mixing and component`);
    this.eventShape = component.eventShape;
    this.support = component.support;
    this.component = component.expand([...this.batchShape, k]);
  }

  /** Normalised log weights, a tensor of shape `batchShape ++ [K]`. */
  private logWeights(): tf.Tensor {
    const m = this.mixing;
    return tf.tidy(() => {
      const lw = m instanceof CategoricalDistribution ? m.logits : tf.stack(Array.from({ length: this.numComponents }, (_, k) => toTensor(m.logProb(k))), -1);
      return tf.broadcastTo(lw, [...this.batchShape, this.numComponents]);
    });
  }

  sample(rng: Rng, sampleShape: readonly number[] = []): Value {
    const e = this.eventShape.length;
    return tf.tidy(() => {
      const idx = toTensor(this.mixing.expand(this.batchShape).sample(rng, sampleShape));
      const all = toTensor(this.component.sample(rng, sampleShape)); // sample ++ batch ++ [K] ++ event
      const pick = padEvent(tf.cast(tf.oneHot(tf.cast(idx, 'int32'), this.numComponents), 'bool'), e) as tf.Tensor;
      return tf.sum(tf.where(tf.broadcastTo(pick, all.shape), all, tf.zerosLike(all)), all.rank - e - 1);
    });
  }

  logProb(valueLike: ValueLike): Value {
    const value = valueArg(this, 'logProb', valueLike);
    const e = this.eventShape.length;
    return tf.tidy(() => {
      const x = tf.expandDims(toTensor(value), -(e + 1)); // the K axis, before the event axes
      const lp = toTensor(this.component.logProb(x));
      const terms = tf.add(lp, this.logWeights());
      return logSumExp(terms, terms.rank - 1);
    });
  }

  override get mean(): Value {
    const e = this.eventShape.length;
    return tf.tidy(() => {
      const w = padEvent(tf.exp(this.logWeights()), e) as tf.Tensor;
      return tf.sum(tf.mul(w, toTensor(this.component.mean)), w.rank - e - 1);
    });
  }

  /** Law of total variance: sum_k w_k (var_k + mean_k^2) - mean^2. */
  override get variance(): Value {
    const e = this.eventShape.length;
    return tf.tidy(() => {
      const w = padEvent(tf.exp(this.logWeights()), e) as tf.Tensor;
      const m = toTensor(this.component.mean);
      const second = tf.sum(tf.mul(w, tf.add(toTensor(this.component.variance), tf.square(m))), w.rank - e - 1);
      return tf.sub(second, tf.square(toTensor(this.mean)));
    });
  }
}

/**
 * MixtureSameFamily(mixing, component): mixture over the last batch
 * dimension (size K) of `component`, weighted by `mixing` over 0..K-1.
 */
export function MixtureSameFamily(mixing: Distribution, component: Distribution): MixtureSameFamilyDistribution & Typed<tf.Tensor> {
  return new MixtureSameFamilyDistribution(mixing, component);
}
