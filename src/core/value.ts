/**
 * Values and polymorphic arithmetic.
 *
 * A value in a model is a plain `number` (the per-particle scalar path) or a
 * tfjs `Tensor` (batched or vector-valued work). The functions here take
 * either and return a `number` when every argument is a number, so a scalar
 * model never pays tensor dispatch (about 3 us per op) on every `+`; as soon
 * as one argument is a tensor they dispatch to tfjs, and gradients flow.
 *
 * Distributions write each formula once with these functions.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
// gradients of every op, so tensor paths are differentiable wherever tyche is used
import '../backend/gradients.js';
import { scalar64, tensor64 } from '../backend/float64-constants.js';
import { TycheError } from './errors.js';
import { ContentCache } from './content-cache.js';

/** A number or a tensor. */
export type Value = number | tf.Tensor;
/** An array of numbers and tensors (and nested arrays of them), stacked along a new last axis by {@link toValue}. */
export type ValueArray = readonly (number | tf.Tensor | ValueArray)[];
/** What users may pass as a parameter or observed value. */
export type ValueLike = Value | number[] | number[][] | Float32Array | Float64Array | Int32Array | boolean | ValueArray;

/** True when `x` is a tfjs tensor. */
export function isTensor(x: unknown): x is tf.Tensor {
  return x instanceof tf.Tensor;
}

const arrayTensors = new ContentCache<tf.Tensor>();

/**
 * The tensor for a data array. Conversions are cached per array object, so a
 * model that passes the same data array on every execution does not allocate
 * a tensor each time; a hit checks the array's contents, so an array filled
 * again in place (a reused buffer) gets a new tensor. Inside an engine's
 * per-execution scope the tensor is freed with the scope (and remade on the
 * next use); outside one it lives as long as the process (like any tensor
 * nobody disposes), so keep top-level data in tensors or reuse the array.
 */
function arrayTensor(x: number[] | number[][] | Float32Array | Float64Array | Int32Array, what: string): tf.Tensor {
  return arrayTensors.get(
    x,
    () => {
      const problem = Array.isArray(x) ? arrayProblem(x) : undefined;
      if (problem) throw new TycheError(`${what}: ${problem}`);
      return tensor64(x); // remembers the doubles for float64 replays (backend/float64-constants.ts)
    },
    (t) => !t.isDisposed,
  );
}

/**
 * Why a plain (nested) array is not a rectangular array of numbers, or
 * undefined: a `null` (how JSON writes a missing value; tfjs would read it
 * as 0), a hole or `undefined`, a string, or rows of different lengths
 * (tfjs would flatten them).
 */
function arrayProblem(x: readonly unknown[], path = ''): string | undefined {
  let rowLength: number | undefined; // the length of the nested arrays, or -1 for numbers
  for (let i = 0; i < x.length; i++) {
    const e = x[i];
    const at = `${path}[${i}]`;
    const length = Array.isArray(e) ? e.length : -1;
    if (rowLength !== undefined && length !== rowLength) {
      return `the array is ragged: element ${at} ${length < 0 ? 'is not an array' : `has length ${length}`}, element ${path}[0] ${rowLength < 0 ? 'is not an array' : `has length ${rowLength}`} (data must be a rectangular array of numbers)`;
    }
    rowLength = length;
    if (Array.isArray(e)) {
      const inner = arrayProblem(e, at);
      if (inner) return inner;
    } else if (typeof e !== 'number' && typeof e !== 'boolean') {
      return e === null
        ? `element ${at} is null (a missing value?): a null would be read as 0; drop the entry (with its covariates) or make it a latent site`
        : `element ${at} is ${e === undefined ? 'undefined (a hole in the array?)' : typeof e === 'string' ? `the string ${JSON.stringify(e)} (parse the data with Number first)` : describe(e)}, not a number`;
    }
  }
  return undefined;
}

/** The shape of a value: `[]` for numbers. */
export function shapeOf(x: Value): number[] {
  return typeof x === 'number' ? [] : x.shape;
}

/** Number of elements of a shape. */
export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/**
 * Normalises user input to a {@link Value}: numbers and tensors pass through,
 * booleans become 0/1, arrays of numbers become float32 tensors, and arrays
 * that hold tensors (numbers and tensors mixed, or nested arrays of them)
 * are stacked along a new last axis after broadcasting their elements to one
 * shape, so `Categorical([ops.sub(1, w), w])` is differentiable in `w`.
 * Errors start with `what` (e.g. `Normal: parameter loc`).
 */
export function toValue(x: ValueLike, what = 'value'): Value {
  if (typeof x === 'number') return x;
  if (typeof x === 'boolean') return x ? 1 : 0;
  if (isTensor(x)) return x;
  if (Array.isArray(x) && holdsTensor(x)) return stackValues(x, what);
  if (Array.isArray(x) || ArrayBuffer.isView(x)) return arrayTensor(x as number[] | Float32Array, what);
  if (x !== null && typeof (x as { then?: unknown }).then === 'function') throw new TycheError(`${what} is a Promise — did you forget \`await\` (e.g. on a \`sample\` call)?`);
  throw new TypeError(`${what}: expected a number, boolean, array or tensor, got ${describe(x)}`);
}

/** True when a (nested) array holds at least one tensor. */
function holdsTensor(x: readonly unknown[]): boolean {
  for (const e of x) if (e instanceof tf.Tensor || (Array.isArray(e) && holdsTensor(e))) return true;
  return false;
}

/** Stack an array of numbers, tensors and (nested) arrays of them along a new last axis. */
function stackValues(x: readonly unknown[], what: string): tf.Tensor {
  if (x.length === 0) throw new TycheError(`${what}: an empty array inside an array of tensors`);
  const parts: Value[] = x.map((e, i) => {
    if (typeof e === 'number' || isTensor(e)) return e;
    if (typeof e === 'boolean') return e ? 1 : 0;
    if (Array.isArray(e)) return holdsTensor(e) ? stackValues(e, what) : arrayTensor(e as number[], `${what}[${i}]`);
    if (e !== null && typeof (e as { then?: unknown }).then === 'function') throw new TycheError(`${what}[${i}] is a Promise — did you forget \`await\` (e.g. on a \`sample\` call)?`);
    throw new TycheError(`${what}[${i}]: expected a number, tensor or array, got ${describe(e)}`);
  });
  let shape: number[] = [];
  parts.forEach((p, i) => {
    try {
      shape = broadcastShapes(shape, shapeOf(p));
    } catch {
      throw new TycheError(`${what}: element ${i} has shape [${shapeOf(p).join(', ')}], which does not broadcast with the elements before it ([${shape.join(', ')}]); the elements are stacked along a new last axis`);
    }
  });
  return tf.tidy(() => tf.stack(parts.map((p) => tf.broadcastTo(typeof p === 'number' ? scalar64(p) : p.dtype === 'float32' ? p : tf.cast(p, 'float32'), shape)), -1));
}

/** A tensor from any value (numbers become scalars that remember their double, see backend/float64-constants.ts). */
export function toTensor(x: Value): tf.Tensor {
  return typeof x === 'number' ? scalar64(x) : x;
}

/** Short description of a value for error messages. */
export function describe(x: unknown): string {
  if (isTensor(x)) return `tensor of shape [${x.shape.join(', ')}]`;
  if (Array.isArray(x)) return `array of length ${x.length}`;
  if (x === null) return 'null';
  return typeof x === 'number' ? String(x) : typeof x;
}

/**
 * A value as a number; tensors must hold exactly one element. A boolean (what
 * a comparison such as `gt` gives on numbers) becomes 1 or 0.
 */
export function toNumber(x: Value | boolean): number {
  if (typeof x === 'number') return x;
  if (typeof x === 'boolean') return x ? 1 : 0;
  if (!isTensor(x)) throw new TycheError(`toNumber: expected a number, a boolean or a one-element tensor, got ${describe(x)}`);
  if (x.size !== 1) throw new TycheError(`expected a single number, got a tensor of shape [${x.shape.join(', ')}]`);
  return x.dataSync()[0];
}

/** Elements of a value as a flat Float64Array. */
export function toArray(x: Value): Float64Array {
  return typeof x === 'number' ? Float64Array.of(x) : Float64Array.from(x.dataSync());
}

/** Row-major coordinates of flat index `i` in an array of shape `shape`. */
export function unravelIndex(i: number, shape: readonly number[]): number[] {
  const idx = new Array<number>(shape.length);
  for (let k = shape.length - 1; k >= 0; k--) {
    idx[k] = i % shape[k];
    i = Math.floor(i / shape[k]);
  }
  return idx;
}

/** Broadcast two shapes (numpy rules), or throw naming both. */
export function broadcastShapes(a: readonly number[], b: readonly number[], where = 'broadcast'): number[] {
  const n = Math.max(a.length, b.length);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new TycheError(`${where}: shapes [${a.join(', ')}] and [${b.join(', ')}] do not broadcast`);
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

type Bin = (a: Value, b: Value) => Value;

/**
 * A binary op on numbers and tensors. A number beside a tensor becomes a
 * scalar tensor for this op only and is freed at once, so `ops.mul(x, 0.9)`
 * leaves one tensor, not two (a batched program run held both until it
 * ended). Where a gradient is taped, tfjs keeps its own copy of what the
 * backward pass needs; a float64 shadow or record reads the scalar's double
 * when the kernel runs (`scalar64` remembers it).
 */
function bin(num: (a: number, b: number) => number, ten: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor): Bin {
  return (a, b) => {
    if (typeof a !== 'number' && typeof b !== 'number') return ten(a, b);
    if (typeof b !== 'number') return ownScalar(a as number, (s) => ten(s, b));
    if (typeof a !== 'number') return ownScalar(b, (s) => ten(a, s));
    return num(a, b);
  };
}

/** `f` of a scalar tensor of `x` made for it alone, freed when `f` returns (or throws). */
function ownScalar(x: number, f: (s: tf.Tensor) => tf.Tensor): tf.Tensor {
  const s = scalar64(x);
  try {
    return f(s);
  } finally {
    s.dispose();
  }
}
function un(num: (a: number) => number, ten: (a: tf.Tensor) => tf.Tensor): (a: Value) => Value {
  return (a) => (typeof a === 'number' ? num(a) : ten(a));
}

export const add: Bin = bin((a, b) => a + b, tf.add);
export const sub: Bin = bin((a, b) => a - b, tf.sub);
export const mul: Bin = bin((a, b) => a * b, tf.mul);
export const div: Bin = bin((a, b) => a / b, tf.div);
export const pow: Bin = bin(Math.pow, tf.pow);
export const maximum: Bin = bin(Math.max, tf.maximum);
export const minimum: Bin = bin(Math.min, tf.minimum);
export const atan2: Bin = bin(Math.atan2, tf.atan2);
export const neg = un((a) => -a, tf.neg);
export const exp = un(Math.exp, tf.exp);
export const log = un(Math.log, tf.log);
export const log1p = un(Math.log1p, tf.log1p);
export const expm1 = un(Math.expm1, tf.expm1);
export const sqrt = un(Math.sqrt, tf.sqrt);
export const square = un((a) => a * a, tf.square);
export const abs = un(Math.abs, tf.abs);
export const tanh = un(Math.tanh, tf.tanh);
export const atan = un(Math.atan, tf.atan);
export const floor = un(Math.floor, tf.floor);
export const sigmoid = un((a) => (a >= 0 ? 1 / (1 + Math.exp(-a)) : Math.exp(a) / (1 + Math.exp(a))), tf.sigmoid);
/** log(1 + exp(x)), stable. */
export const softplus = un((a) => (a > 0 ? a + Math.log1p(Math.exp(-a)) : Math.log1p(Math.exp(a))), tf.softplus);
/** log(sigmoid(x)), stable. */
// (tf.logSigmoid's gradient fails on intermediate tensors in tfjs 4.22, so use -softplus(-x))
export const logSigmoid = un((a) => -(a > 0 ? Math.log1p(Math.exp(-a)) : -a + Math.log1p(Math.exp(a))), (a) => tf.neg(tf.softplus(tf.neg(a))));

/**
 * log(exp(a) + exp(b)), stable, and -Infinity (not NaN) when both are -Infinity,
 * as Stan's `log_sum_exp`: a mixture whose components all have density zero
 * at a point has density zero there, which every engine treats as a rejected
 * point, while NaN is an error.
 */
export const logAddExp: Bin = bin(
  (a, b) => {
    const m = Math.max(a, b);
    return m === -Infinity ? -Infinity : m + Math.log1p(Math.exp(-Math.abs(a - b)));
  },
  (a, b) => {
    // the shift is clamped to the lowest finite float32, so -inf - shift stays -inf (never -inf + inf)
    const shift = tf.maximum(tf.maximum(a, b), -3.4e38);
    return tf.add(shift, tf.log(tf.add(tf.exp(tf.sub(a, shift)), tf.exp(tf.sub(b, shift)))));
  },
);

/** Sum of all elements (a number for numbers, a scalar tensor otherwise). */
export function sumAll(x: Value): Value {
  return typeof x === 'number' ? x : x.rank === 0 ? x : tf.sum(x);
}

/** Sum over the last `n` axes (event dimensions). */
export function sumLast(x: Value, n: number): Value {
  if (n === 0 || typeof x === 'number') return x;
  const axes: number[] = [];
  for (let i = x.rank - n; i < x.rank; i++) axes.push(i);
  return tf.sum(x, axes);
}

/**
 * Elementwise choice: `cond ? a : b`. With number arguments, `cond` is a
 * boolean; with tensors it is a boolean tensor (broadcast as needed).
 */
export function where(cond: boolean | tf.Tensor, a: Value, b: Value): Value {
  if (typeof cond === 'boolean') {
    if (typeof a === 'number' && typeof b === 'number') return cond ? a : b;
    const shape = broadcastShapes(shapeOf(a), shapeOf(b));
    return tf.broadcastTo(toTensor(cond ? a : b), shape);
  }
  const shape = broadcastShapes(broadcastShapes(cond.shape, shapeOf(a)), shapeOf(b));
  return tf.where(expandTo(cond, shape), expandTo(toTensor(a), shape), expandTo(toTensor(b), shape));
}

/**
 * `x` broadcast to `shape`. tfjs-wasm's `Tile` (what `tf.broadcastTo` runs)
 * and its broadcasting comparisons are slow — about 1 ms for 12k elements,
 * against 0.1 ms for a broadcasting `add` (measured, bench/coal-switchpoint.ts)
 * — so numeric tensors are broadcast by adding zeros (gradients flow as
 * through `broadcastTo`).
 */
function expandTo(x: tf.Tensor, shape: readonly number[]): tf.Tensor {
  if (x.shape.length === shape.length && x.shape.every((d, i) => d === shape[i])) return x;
  return x.dtype === 'bool' ? tf.broadcastTo(x, shape as number[]) : tf.add(x, tf.zeros(shape as number[], x.dtype));
}

/** A comparison of two tensors; where both have several elements and their shapes differ, both are expanded first (see `expandTo`). */
function compare(a: Value, b: Value, f: (x: tf.Tensor, y: tf.Tensor) => tf.Tensor): tf.Tensor {
  const x = toTensor(a);
  const y = toTensor(b);
  if (x.size === 1 || y.size === 1 || (x.rank === y.rank && x.shape.every((d, i) => d === y.shape[i]))) return f(x, y);
  const shape = broadcastShapes(x.shape, y.shape);
  return f(expandTo(x, shape), expandTo(y, shape));
}

/** Elementwise comparisons returning booleans (numbers) or boolean tensors. */
export function lt(a: Value, b: Value): boolean | tf.Tensor {
  return typeof a === 'number' && typeof b === 'number' ? a < b : compare(a, b, tf.less);
}
export function le(a: Value, b: Value): boolean | tf.Tensor {
  return typeof a === 'number' && typeof b === 'number' ? a <= b : compare(a, b, tf.lessEqual);
}
export function gt(a: Value, b: Value): boolean | tf.Tensor {
  return typeof a === 'number' && typeof b === 'number' ? a > b : compare(a, b, tf.greater);
}
export function ge(a: Value, b: Value): boolean | tf.Tensor {
  return typeof a === 'number' && typeof b === 'number' ? a >= b : compare(a, b, tf.greaterEqual);
}
export function eq(a: Value, b: Value): boolean | tf.Tensor {
  return typeof a === 'number' && typeof b === 'number' ? a === b : compare(a, b, tf.equal);
}
export function and(a: boolean | tf.Tensor, b: boolean | tf.Tensor): boolean | tf.Tensor {
  if (typeof a === 'boolean' && typeof b === 'boolean') return a && b;
  return tf.logicalAnd(typeof a === 'boolean' ? tf.scalar(a, 'bool') : a, typeof b === 'boolean' ? tf.scalar(b, 'bool') : b);
}
/** True when x is an integer (numbers) or elementwise (tensors). */
export function isInteger(x: Value): boolean | tf.Tensor {
  return typeof x === 'number' ? Number.isInteger(x) : tf.equal(x, tf.round(x));
}

/** Every element of a boolean value is true (synchronous read for tensors). */
export function all(cond: boolean | tf.Tensor): boolean {
  if (typeof cond === 'boolean') return cond;
  // tfjs's `all` of an empty tensor is false, but every element of none holds (a check on empty data). The
  // empty tensor is still read, so the condition watch counts it consumed and a compiled record guards it
  // (as an empty guard: a recorded `All` would keep tfjs's false, which the replay's fold does not give)
  if (cond.size === 0) return cond.dataSync().length === 0;
  return tf.tidy(() => tf.all(cond).dataSync()[0] === 1);
}

/** Backends whose tensors live in main memory, where a synchronous read costs no more than a kernel launch. */
const HOST_BACKENDS = new Set(['cpu', 'wasm', 'tensorflow']);

/**
 * Every element of a boolean tensor is true, answered only where finding out
 * is cheap (a synchronous read on a host-memory backend: cpu, wasm, node);
 * `undefined` on GPU backends, where the caller should stay on its
 * branch-free tensor path. Lets support masks skip their `where` ops (and
 * the ops' gradients) in the common case where every value is valid.
 */
export function allTrueIfCheap(cond: tf.Tensor): boolean | undefined {
  if (!HOST_BACKENDS.has(tf.getBackend())) return undefined;
  const d = cond.dataSync();
  for (let i = 0; i < d.length; i++) if (!d[i]) return false;
  return true;
}

/** Some element of a number or tensor is NaN (synchronous read for tensors). */
export function hasNaN(x: Value): boolean {
  if (typeof x === 'number') return Number.isNaN(x);
  const d = x.dataSync();
  for (let i = 0; i < d.length; i++) if (Number.isNaN(d[i])) return true;
  return false;
}

/** Cast a value to float32 tensor if it is a tensor (numbers unchanged). */
export function asFloat(x: Value): Value {
  return typeof x === 'number' || x.dtype === 'float32' ? x : tf.cast(x, 'float32');
}

/**
 * log(sum(exp(xs))), stable, over an array of numbers (a number) or over
 * `axis` of a tensor (a tensor; all axes when `axis` is left out, kept as
 * size 1 with `keepDims`). Unlike `tf.logSumExp`, which gives NaN when every
 * term is -Infinity (it subtracts the maximum, and -Infinity - -Infinity is
 * NaN), this gives -Infinity there, a point of zero density that samplers
 * reject, and its gradient there is 0, not NaN. Any +Infinity term gives
 * +Infinity (the sum is infinite; the gradient there is not defined); a NaN
 * term gives NaN. The tensor path is built from kernels the compiled replay
 * (`backend/jit`) records, so it behaves the same there.
 *
 * An array whose terms include tensors (Stan's `log_sum_exp(a, b)` written
 * `ops.logSumExp([a, b])` on sampled values) is summed term by term,
 * elementwise, with the terms broadcast against each other: a tensor of the
 * broadcast shape, with the same rules at -Infinity, +Infinity and NaN.
 */
export function logSumExp(xs: ArrayLike<number>): number;
export function logSumExp(x: tf.Tensor, axis?: number | number[], keepDims?: boolean): tf.Tensor;
export function logSumExp(xs: ArrayLike<Value>): Value;
export function logSumExp(xs: ArrayLike<Value> | tf.Tensor, axis?: number | number[], keepDims = false): Value {
  if (isTensor(xs)) return logSumExpTensor(xs, axis, keepDims);
  // anything else without a length would silently give -Infinity
  if (typeof (xs as { length?: unknown } | null)?.length !== 'number') throw new TypeError(`ops.logSumExp: expected an array of numbers or a tensor, got ${describe(xs as unknown as Value)}`);
  // a tensor term compared or subtracted as a JS number is NaN: the sum was -Infinity or NaN, silently
  for (let i = 0; i < xs.length; i++) if (isTensor(xs[i])) return logSumExpTerms(xs as ArrayLike<Value>);
  const ns = xs as ArrayLike<number>;
  let m = -Infinity;
  for (let i = 0; i < ns.length; i++) if (ns[i]! > m) m = ns[i]!;
  if (m === -Infinity) return -Infinity;
  if (m === Infinity) return Infinity;
  let s = 0;
  for (let i = 0; i < ns.length; i++) s += Math.exp(ns[i]! - m);
  return m + Math.log(s);
}

/** {@link logSumExp} over an array of terms, some of them tensors: elementwise over the terms (broadcast), as the tensor path does over an axis. */
function logSumExpTerms(xs: ArrayLike<Value>): tf.Tensor {
  return tf.tidy(() => {
    const ts = Array.from(xs, (x) => {
      const t = isTensor(x) ? x : tf.scalar(x as number);
      return t.dtype === 'float32' ? t : tf.cast(t, 'float32');
    });
    let m = ts[0]!;
    for (let i = 1; i < ts.length; i++) m = tf.maximum(m, ts[i]!);
    const shift = tf.where(tf.isFinite(m), m, tf.zerosLike(m));
    let s = tf.exp(tf.sub(ts[0]!, shift));
    for (let i = 1; i < ts.length; i++) s = tf.add(s, tf.exp(tf.sub(ts[i]!, shift)));
    const zero = tf.equal(s, 0); // a NaN sum is not zero: NaN stays NaN
    const logS = tf.log(tf.where(zero, tf.onesLike(s), s));
    return tf.where(zero, tf.fill(s.shape, -Infinity), tf.add(logS, shift));
  });
}

/** The tensor path of {@link logSumExp}: the maximum is replaced by 0 where it is not finite, and a zero sum gives -Infinity through a `where` whose other branch sees a sum of 1 (so no 1/0 reaches the gradient). */
function logSumExpTensor(x: tf.Tensor, axis: number | number[] | undefined, keepDims: boolean): tf.Tensor {
  return tf.tidy(() => {
    const xf = x.dtype === 'float32' ? x : tf.cast(x, 'float32');
    // tf.max of no elements is not -Infinity on every backend: an empty sum is 0, its log -Infinity
    if (xf.size === 0) return tf.fill(tf.sum(xf, axis, keepDims).shape, -Infinity);
    const m = tf.max(xf, axis, true);
    const shift = tf.where(tf.isFinite(m), m, tf.zerosLike(m));
    const s = tf.sum(tf.exp(tf.sub(xf, shift)), axis, keepDims);
    const zero = tf.equal(s, 0); // a NaN sum is not zero: NaN stays NaN
    const logS = tf.log(tf.where(zero, tf.onesLike(s), s));
    return tf.where(zero, tf.fill(s.shape, -Infinity), tf.add(logS, tf.reshape(shift, s.shape)));
  });
}
