/**
 * The distribution interface shared by every family.
 *
 * Shapes follow TFP/Pyro: a draw has shape `sampleShape ++ batchShape ++
 * eventShape`; `logProb` sums over the event dimensions and returns shape
 * `sampleShape ++ batchShape`. With number parameters and no sample shape a
 * draw is a plain `number` and `logProb` returns a `number` (the scalar path,
 * no tensor dispatch). With tensor parameters everything is a tensor and
 * differentiable through tfjs.
 *
 * @module
 */
import { rememberFloat64, tensor64 } from '../backend/float64-constants.js';
import * as tf from '@tensorflow/tfjs-core';
import { InvalidParameterError, TycheError } from '../core/errors.js';
import type { Rng } from '../core/rng.js';
import { type Value, type ValueLike, all, allTrueIfCheap, broadcastShapes, describe, exp, expm1, log, log1p, neg, shapeOf, sizeOf, toValue, where } from '../core/value.js';
import type { Constraint } from './constraints.js';

/**
 * A phantom marker of the type of a distribution's draws. Factories return
 * `XDistribution & Typed<number>` when every parameter is a number, so that
 * `await sample('x', Normal(0, 1))` is typed `number` in user code, and
 * `Typed<tf.Tensor>` otherwise. Inside a `plate`, draws are tensors whatever
 * the parameters (the plate adds a batch dimension).
 */
export interface Typed<V extends Value> {
  /** Never set; carries the draw type for TypeScript only. */
  readonly __value?: V;
}

/** The draw type of a distribution (see {@link Typed}); `Value` when unknown. */
export type ValueOf<D> = D extends { readonly __value?: infer V } ? (unknown extends V ? Value : V extends Value ? V : Value) : Value;

/** `number` when every parameter type is a number (or boolean), else `tf.Tensor`. */
export type DrawType<P extends readonly unknown[]> = P[number] extends number | boolean ? number : tf.Tensor;

/** Global switch for parameter validation (on by default, as in Pyro). */
let validateArgs = true;
/** Turn constructor parameter checks on or off (they read tensor parameters synchronously). */
export function setValidation(on: boolean): void {
  validateArgs = on;
}
/** Whether parameter checks are on. */
export function validationEnabled(): boolean {
  return validateArgs;
}

/** The event shape of scalar distributions: one frozen array shared by all (the prototype's default). */
const SCALAR_EVENT: readonly number[] = Object.freeze([]);

/** A probability distribution over values of a fixed shape. */
export abstract class Distribution {
  // The defaults of `eventShape` ([]) and `hasRsample` (false) live on the prototype, not in field
  // initialisers: a subclass of a class with field initialisers is ~4x dearer to construct in V8
  // (Categorical(probs): ~130 -> ~35 ns), and models build a distribution at every site they visit.
  static {
    Object.defineProperty(this.prototype, 'eventShape', { value: SCALAR_EVENT, writable: true, configurable: true });
    Object.defineProperty(this.prototype, 'hasRsample', { value: false, writable: true, configurable: true });
  }
  /** Family name used in messages, e.g. `Normal`. */
  abstract readonly name: string;
  /** Shape of independent, non-identical batch members. */
  abstract readonly batchShape: readonly number[];
  /** Shape of one event (a single draw of one batch member). */
  declare readonly eventShape: readonly number[];
  /** The set of values with positive density. */
  abstract readonly support: Constraint;
  /** True when `sample` is differentiable with respect to tensor parameters. */
  declare readonly hasRsample: boolean;

  /** True for distributions over integers. */
  get isDiscrete(): boolean {
    return this.support.isDiscrete;
  }

  /**
   * A draw of shape `sampleShape ++ batchShape ++ eventShape`. When
   * {@link hasRsample} is true the draw is a differentiable function of the
   * tensor parameters (reparameterised).
   */
  abstract sample(rng: Rng, sampleShape?: readonly number[]): Value;

  /**
   * Log density (or mass) of `value`, summed over event dimensions;
   * `-Infinity` outside the support. The value may be a number, a tensor or
   * a plain (nested) array of numbers, as for `observe`: an array is read as
   * the tensor of its shape (e.g. `Dirichlet([1, 1, 1]).logProb([0.2, 0.3, 0.5])`).
   * Families convert it with {@link valueArg}; a subclass written outside
   * tyche should do the same to accept arrays.
   */
  abstract logProb(value: ValueLike): Value;

  /** The mean, where defined. */
  get mean(): Value {
    throw new Error(`${this.name}: the mean is not defined or not implemented`);
  }
  /** The variance, where defined. */
  get variance(): Value {
    throw new Error(`${this.name}: the variance is not defined or not implemented`);
  }
  /** Standard deviation, where the variance is defined. */
  get stddev(): Value {
    const v = this.variance;
    return typeof v === 'number' ? Math.sqrt(v) : tf.sqrt(v);
  }

  /**
   * The cumulative distribution function P(X <= x) of a univariate
   * distribution, elementwise (numbers in, numbers out). Families that
   * implement it enable inverse-cdf sampling of `Truncated`; the default throws.
   */
  cdf(x: ValueLike): Value {
    void x;
    throw new Error(`cdf is not implemented for ${this.name}`);
  }
  /**
   * The quantile function (inverse of {@link cdf}) at probabilities `u` in
   * [0, 1], elementwise. The default throws.
   */
  icdf(u: ValueLike): Value {
    void u;
    throw new Error(`icdf is not implemented for ${this.name}`);
  }

  /**
   * log P(X <= x), elementwise (Stan's `*_lcdf`). Families override it with
   * forms that stay accurate far in the lower tail, where `cdf` underflows
   * (e.g. `Normal(0, 1).logCdf(-40)` = -804.608...); the default is
   * `log(cdf(x))`.
   */
  logCdf(xLike: ValueLike): Value {
    const x = valueArg(this, 'logCdf', xLike);
    return log(this.cdf(x));
  }
  /**
   * log P(X > x), the log survival function, elementwise (Stan's `*_lccdf`),
   * accurate far in the upper tail where families override it; the default
   * is `log(1 - cdf(x))`.
   */
  logSurvival(xLike: ValueLike): Value {
    const x = valueArg(this, 'logSurvival', xLike);
    return log1p(neg(this.cdf(x)));
  }
  /**
   * The quantile at a log-probability: {@link icdf} of `exp(logP)`, computed
   * so that it stays finite where `exp(logP)` underflows for families that
   * override it (used by `Truncated` to draw far in a lower tail). The
   * default is `icdf(exp(logP))`.
   */
  icdfLog(logP: Value): Value {
    return this.icdf(exp(logP));
  }
  /**
   * The inverse survival function at a log survival probability: the x with
   * `logSurvival(x) = logQ` (used by `Truncated` to draw far in an upper
   * tail). The default is `icdf(1 - exp(logQ))`, which loses the tail where
   * `exp(logQ)` is below float64's epsilon; families override it.
   */
  isfLog(logQ: Value): Value {
    return this.icdf(neg(expm1(logQ)));
  }

  /**
   * All values of a finite discrete support, in order, for enumeration.
   * Only defined for finite discrete distributions; others return `undefined`.
   */
  enumerateSupport(): Value[] | undefined {
    return undefined;
  }

  /** The same distribution with its batch broadcast to `batchShape`. */
  expand(batchShape: readonly number[]): Distribution {
    // (parameters that do not broadcast: their site reports it)
    if (parameterShapeError(this) || sameShape(batchShape, this.batchShape)) return this;
    return new ExpandedDistribution(this, batchShape);
  }

  /** Shape of a draw for a given sample shape. */
  shape(sampleShape: readonly number[] = []): number[] {
    return [...sampleShape, ...this.batchShape, ...this.eventShape];
  }

  toString(): string {
    return `${this.name}(batch=[${this.batchShape.join(',')}], event=[${this.eventShape.join(',')}])`;
  }
}

/**
 * The value argument of a distribution method (`logProb`, `cdf`, `icdf`,
 * `logCdf`, `logSurvival`) as a {@link Value}: numbers and tensors pass
 * through untouched (the hot path), booleans become 0/1, and plain (nested)
 * arrays of numbers or typed arrays become the tensor of their shape (cached
 * per array, as `observe` does). Strings, `null`s, holes and ragged arrays
 * throw an error starting `Name.method: value`; a value of the wrong shape is
 * reported by the family with its expected and given shape.
 */
export function valueArg(dist: Distribution, method: string, x: ValueLike): Value {
  if (typeof x === 'number') return x;
  const v = x instanceof tf.Tensor ? x : toValue(x, `${dist.name}.${method}: value`);
  if (typeof v !== 'number') checkValueBroadcasts(dist, method, v.shape);
  return v;
}

/**
 * A value's batch axes (all but the event's) must broadcast against the
 * distribution's batch shape; otherwise tfjs fails deep inside the density
 * with 'Operands could not be broadcast together with shapes 2 and 3'. The
 * event axes are the family's to check (it names its event shape); parameters
 * that do not broadcast keep their deferred error.
 */
function checkValueBroadcasts(dist: Distribution, method: string, shape: readonly number[]): void {
  if (parameterShapeError(dist)) return;
  const event = dist.eventShape.length;
  if (shape.length < event) return;
  const batch = dist.batchShape;
  const valueBatch = shape.slice(0, shape.length - event);
  if (!broadcasts(valueBatch, batch)) throw valueShapeError(dist, method, valueBatch, batch);
}

/** The error for a value whose batch shape `have` does not broadcast against the distribution's `want`. */
function valueShapeError(dist: Distribution, method: string, have: readonly number[], want: readonly number[]): TycheError {
  // (the words 'do not broadcast' are read by the batched program SMC's layout probe)
  const ev = dist.eventShape.length > 0 ? `, then the event shape [${dist.eventShape.join(', ')}]` : '';
  return new TycheError(`${dist.name}.${method}: the value's batch shape [${have.join(', ')}] and the distribution's batch shape [${want.join(', ')}] do not broadcast (expected a value of shape [${want.join(', ')}]${ev})`);
}

/** Shapes are equal. */
export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/**
 * Parameters whose batch shapes do not broadcast, e.g. `Normal(theta, sigma)`
 * with 8 thetas and 7 sigmas. The distribution is built before the model
 * reaches the site it is for, so the error is deferred to that site: the
 * distribution's batch shape is a placeholder that throws this error when
 * read, and the site (`sample`, `observe`) reports it as a `ModelError`
 * naming itself (see {@link parameterShapeError}).
 */
export class ParameterShapeError extends TycheError {
  /**
   * @param distribution - the family, e.g. `Normal`
   * @param message - the full message, naming each parameter and its shape
   */
  constructor(
    readonly distribution: string,
    message: string,
  ) {
    super(message);
    this.name = 'ParameterShapeError';
  }
}

/** Placeholder batch shapes of distributions whose parameters do not broadcast, with their error. */
const deferredShapeErrors = new WeakMap<object, ParameterShapeError>();

/**
 * A placeholder batch shape that throws `err` when read. Its `length` is 1
 * (not 0), so a runtime that takes only scalar distributions passes it to the
 * general one, whose site reports the error.
 */
function deferredShape(err: ParameterShapeError): number[] {
  const shape = new Proxy([] as number[], {
    get(_target, prop) {
      if (prop === 'length') return 1;
      throw err;
    },
  });
  deferredShapeErrors.set(shape, err);
  return shape;
}

/**
 * The error of a distribution whose parameters' batch shapes do not
 * broadcast (undefined for a good one): a site checks it first, so the
 * message names the site.
 */
export function parameterShapeError(dist: Distribution): ParameterShapeError | undefined {
  return deferredShapeErrors.get(dist.batchShape);
}

/**
 * The batch shape implied by broadcasting a set of parameters. Where they do
 * not broadcast, a placeholder that defers a {@link ParameterShapeError} to
 * the distribution's site.
 */
export function batchShapeOf(name: string, params: Record<string, Value>, eventDims: Record<string, number> = {}): number[] {
  // plain-number parameters (every site of a per-particle program): nothing to broadcast
  let numbers = true;
  for (const k in params) {
    if (typeof params[k] !== 'number') {
      numbers = false;
      break;
    }
  }
  if (numbers) return [];
  let shape: number[] = [];
  for (const [k, v] of Object.entries(params)) {
    const s = shapeOf(v);
    const e = eventDims[k] ?? 0;
    const b = s.slice(0, s.length - e);
    if (!broadcasts(shape, b)) {
      const named = Object.entries(params).map(([k2, v2]) => {
        const s2 = shapeOf(v2);
        const e2 = eventDims[k2] ?? 0;
        return `${k2} of ${e2 > 0 ? 'batch ' : ''}shape [${s2.slice(0, s2.length - e2).join(', ')}]`;
      });
      return deferredShape(new ParameterShapeError(name, `${name}: parameters ${named.slice(0, -1).join(', ')} and ${named[named.length - 1]} do not broadcast`));
    }
    shape = broadcastShapes(shape, b, `${name}: parameter ${k}`);
  }
  return shape;
}

/** Two shapes broadcast (numpy rules). */
function broadcasts(a: readonly number[], b: readonly number[]): boolean {
  for (let i = 1; i <= Math.min(a.length, b.length); i++) {
    const da = a[a.length - i]!;
    const db = b[b.length - i]!;
    if (da !== db && da !== 1 && db !== 1) return false;
  }
  return true;
}

/**
 * Normalise a user parameter to a value with {@link toValue} (arrays holding
 * tensors are stacked along a new last axis), naming the distribution and
 * parameter in errors. A NaN number is an {@link InvalidParameterError}.
 */
export function param(dist: string, name: string, x: ValueLike): Value {
  if (x === undefined || x === null) throw new TycheError(`${dist}: parameter ${name} is missing`);
  const v = toValue(x, `${dist}: parameter ${name}`);
  if (typeof v === 'number' && Number.isNaN(v)) throw new InvalidParameterError(dist, name, `${dist}: parameter ${name} is NaN`);
  return v;
}

/**
 * Throw an {@link InvalidParameterError} naming the distribution and
 * parameter when `x` violates `c` (skipped when validation is off).
 */
export function checkParam(dist: string, name: string, x: Value, c: Constraint): void {
  if (!validateArgs) return;
  // (tidied: the comparison tensors of a tensor parameter were left alive, a few per distribution made)
  if (!(typeof x === 'number' ? all(c.check(x)) : tf.tidy(() => all(c.check(x))))) throw parameterError(dist, name, x, c);
}

/** The error for a parameter `x` that violates `c` (kept out of `checkParam`, which every distribution runs). */
function parameterError(dist: string, name: string, x: Value, c: Constraint): InvalidParameterError {
  return new InvalidParameterError(dist, name, `${dist}: parameter ${name} must be ${c.name}, got ${typeof x === 'number' ? x : `${describe(x)}${firstFailing(x, c)}`}`);
}

/**
 * Where a tensor parameter first fails its constraint (`", first at element
 * [1, 0]"`; empty where the check does not map onto the elements), read from
 * the boolean check only: a NaN in a 1000-row covariate is then found by its
 * row, not by a search of the data.
 */
function firstFailing(x: tf.Tensor, c: Constraint): string {
  // tidied: the check's intermediate comparisons are tensors too
  const flags = tf.tidy(() => {
    const ok = c.check(x);
    return typeof ok === 'boolean' || ok.size !== x.size ? undefined : ok.dataSync();
  });
  if (flags === undefined) return '';
  const i = flags.findIndex((f) => !f);
  if (i < 0) return '';
  const index: number[] = [];
  for (let k = x.shape.length - 1, r = i; k >= 0; k--) {
    index.unshift(r % x.shape[k]!);
    r = Math.floor(r / x.shape[k]!);
  }
  return `, first at element [${index.join(', ')}]`;
}

/**
 * Mask a log-density to `-Infinity` outside the support. Values are checked
 * elementwise; `lp` must be computed safely for invalid values (NaN is fine
 * there, it is replaced).
 */
export function maskSupport(support: Constraint, value: Value, lp: Value): Value {
  const fits = typeof value !== 'number' && typeof lp !== 'number' && broadcastsTo(value.shape, lp.shape);
  // a tensor found valid before (tensors are immutable: e.g. observed data, checked on every execution)
  if (fits && validTensors.get(support)?.has(value)) return lp;
  const ok = support.check(value);
  if (typeof ok === 'boolean') {
    if (typeof lp === 'number') return ok ? lp : -Infinity;
    return ok ? lp : tf.fill(lp.shape, -Infinity);
  }
  // every value inside (checked where a read is cheap): lp as is, with no masking op to differentiate
  if (typeof lp !== 'number' && broadcastsTo(ok.shape, lp.shape) && allTrueIfCheap(ok)) {
    if (fits && sameShape(ok.shape, (value as tf.Tensor).shape)) rememberValid(support, value as tf.Tensor);
    return lp;
  }
  return where(ok, lp, -Infinity);
}

/** True when `from` broadcasts to exactly `to` (right-aligned dims equal or 1). */
function broadcastsTo(from: readonly number[], to: readonly number[]): boolean {
  if (from.length > to.length) return false;
  const lead = to.length - from.length;
  return from.every((d, i) => d === 1 || d === to[lead + i]);
}

/** Tensors known to lie in a support (whole tensor checked), per support. */
const validTensors = new WeakMap<Constraint, WeakSet<tf.Tensor>>();

function rememberValid(support: Constraint, value: tf.Tensor): void {
  let set = validTensors.get(support);
  if (!set) validTensors.set(support, (set = new WeakSet()));
  set.add(value);
}

/** Standard normal draws of a shape: a number for `[]`, else a float32 tensor. */
export function standardNormal(rng: Rng, shape: readonly number[]): Value {
  if (shape.length === 0) return rng.normal();
  return tensor64(Float64Array.from(rng.normals(sizeOf(shape))), shape); // remembers the doubles (float64 draws in importance)
}

/** Uniform (0,1) draws of a shape: a number for `[]`, else a float32 tensor. */
export function standardUniform(rng: Rng, shape: readonly number[]): Value {
  if (shape.length === 0) return rng.uniform();
  const u64 = Float64Array.from(rng.uniforms(sizeOf(shape)));
  const u = Float32Array.from(u64);
  // float32 rounding can reach 1; keep draws in the open interval
  for (let i = 0; i < u.length; i++) if (u[i] >= 1) u[i] = 1 - 2 ** -24;
  return rememberFloat64(tf.tensor(u, shape as number[]), u64); // the doubles, for float64 draws in importance
}

/**
 * True when all parameters are numbers and no sample shape is asked for:
 * the draw can be made with plain arithmetic.
 */
export function scalarPath(sampleShape: readonly number[] | undefined, ...params: Value[]): boolean {
  return (!sampleShape || sampleShape.length === 0) && params.every((p) => typeof p === 'number');
}

function toTensorValue(v: Value): tf.Tensor {
  return typeof v === 'number' ? tf.scalar(v) : v;
}

/**
 * A distribution whose batch is broadcast to a larger shape (used by `plate`
 * and by `expand`): new leading dimensions, and size-1 dimensions of the
 * base's batch broadcast to a larger size, are drawn independently.
 */
export class ExpandedDistribution extends Distribution {
  readonly name: string;
  readonly batchShape: readonly number[];
  override readonly eventShape: readonly number[];
  readonly support: Constraint;
  override readonly hasRsample: boolean;
  private readonly extra: number[];
  /** Axes of the base batch that have size 1 and are broadcast to a larger size. */
  private readonly broadcastAxes: number[];

  constructor(readonly base: Distribution, batchShape: readonly number[]) {
    super();
    if (parameterShapeError(base)) {
      // parameters that do not broadcast: keep the placeholder, so the site still names itself
      this.name = base.name;
      this.batchShape = base.batchShape;
      this.eventShape = base.eventShape;
      this.support = base.support;
      this.hasRsample = base.hasRsample;
      this.extra = [];
      this.broadcastAxes = [];
      return;
    }
    const b = base.batchShape;
    const n = batchShape.length - b.length;
    const ok = n >= 0 && b.every((d, i) => d === batchShape[n + i] || d === 1);
    if (!ok) {
      throw new Error(`${base.name}: cannot expand batch shape [${b.join(', ')}] to [${batchShape.join(', ')}] (existing dimensions must match on the right, or be 1)`);
    }
    this.name = base.name;
    this.batchShape = [...batchShape];
    this.eventShape = base.eventShape;
    this.support = base.support;
    this.hasRsample = base.hasRsample;
    this.extra = batchShape.slice(0, n);
    this.broadcastAxes = b.flatMap((d, i) => (d === 1 && batchShape[n + i] !== 1 ? [i] : []));
  }

  sample(rng: Rng, sampleShape: readonly number[] = []): Value {
    if (this.broadcastAxes.length === 0) return this.base.sample(rng, [...sampleShape, ...this.extra]);
    return tf.tidy(() => this.sampleBroadcast(rng, sampleShape));
  }

  /**
   * Independent draws for broadcast size-1 batch axes: draw them as leading
   * sample axes of the base, then move each into its batch position.
   */
  private sampleBroadcast(rng: Rng, sampleShape: readonly number[]): tf.Tensor {
    const b = this.base.batchShape;
    const n = this.batchShape.length - b.length;
    const axes = this.broadcastAxes;
    const k = axes.length;
    const sizes = axes.map((i) => this.batchShape[n + i]);
    const lead = [...sampleShape, ...this.extra];
    // [sizes, sample, extra, base batch, event], then without the broadcast size-1 axes
    const draw = toTensorValue(this.base.sample(rng, [...sizes, ...lead]));
    const kept = b.flatMap((d, i) => (axes.includes(i) ? [] : [i]));
    const squeezed = tf.reshape(draw, [...sizes, ...lead, ...kept.map((i) => b[i]), ...this.eventShape]);
    const perm: number[] = lead.map((_, j) => k + j);
    const batchStart = k + lead.length;
    for (let i = 0; i < b.length; i++) {
      const j = axes.indexOf(i);
      perm.push(j >= 0 ? j : batchStart + kept.indexOf(i));
    }
    for (let e = 0; e < this.eventShape.length; e++) perm.push(batchStart + kept.length + e);
    return tf.transpose(squeezed, perm);
  }

  logProb(valueLike: ValueLike): Value {
    const lp = this.base.logProb(valueArg(this, 'logProb', valueLike));
    const want = [...this.batchShape];
    const have = shapeOf(lp);
    // broadcast when the value did not carry the expanded dimensions
    if (have.length < want.length || !sameShape(have.slice(have.length - want.length), want)) {
      if (!broadcasts(have, want)) throw valueShapeError(this, 'logProb', have, want);
      return tf.broadcastTo(typeof lp === 'number' ? tf.scalar(lp) : lp, broadcastShapes(have, want, `${this.name}.logProb`));
    }
    return lp;
  }

  override get mean(): Value {
    return bcast(this.base.mean, this.shape());
  }
  override get variance(): Value {
    return bcast(this.base.variance, this.shape());
  }
  override enumerateSupport(): Value[] | undefined {
    return this.extra.length === 0 ? this.base.enumerateSupport() : undefined;
  }
}

function bcast(v: Value, shape: number[]): Value {
  return tf.broadcastTo(typeof v === 'number' ? tf.scalar(v) : v, shape);
}
