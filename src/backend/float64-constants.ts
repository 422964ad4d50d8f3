/**
 * The float64 values behind float32 tensors.
 *
 * tfjs stores every float tensor in float32, so `tf.tensor([1 + 1e-9])`
 * holds exactly 1 and the double is lost before any backend (or the
 * engine's `makeTensor`) sees it: tfjs's `tensor()` converts a JS array to
 * a `Float32Array` first. The JIT (`jit/trace.ts`) replays a model in
 * float64, and would replay it on float32-rounded data. So wherever tyche
 * itself turns JS numbers into a tensor (data given as numbers, arrays or
 * `Float64Array`s, parameters written as numbers, `ops` on numbers), it
 * makes the tensor here and remembers the doubles, keyed by the tensor's
 * data (its `dataId`, which `reshape` and `clone` share), and the recorder
 * captures those doubles instead of the tensor's float32 values.
 *
 * Nothing is remembered where float32 holds the values exactly (integers
 * below 2^24, halves, ...): the tensor's own values are then the doubles.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';

const doubles = new WeakMap<object, Float64Array>();

/** True when every value is exactly representable in float32. */
function float32Exact(values: ArrayLike<number>): boolean {
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (Math.fround(v) !== v && !Number.isNaN(v)) return false;
  }
  return true;
}

/**
 * Remember `values` (row-major, float64) as the exact values of the float32
 * tensor `t` (not copied: treat them as immutable); returns `t`. Throws when
 * the sizes differ.
 */
export function rememberFloat64(t: tf.Tensor, values: Float64Array): tf.Tensor {
  if (values.length !== t.size) throw new RangeError(`rememberFloat64: ${values.length} values for a tensor of shape [${t.shape.join(', ')}]`);
  if (t.dtype === 'float32' && !float32Exact(values)) doubles.set(t.dataId, values);
  return t;
}

/**
 * The float64 values remembered for `t`'s data (by `rememberFloat64`, or
 * {@link tensor64}: data tyche converted, noise of tensor draws, importance
 * draws), or undefined (its float32 values are all that is known).
 */
export function float64Of(t: tf.Tensor): Float64Array | undefined {
  const v = doubles.get(t.dataId);
  return v !== undefined && v.length === t.size ? v : undefined;
}

/** A float32 scalar tensor of `x` that remembers the double (see the module notes). */
export function scalar64(x: number): tf.Tensor {
  const t = tf.scalar(x);
  if (Math.fround(x) !== x && !Number.isNaN(x)) doubles.set(t.dataId, Float64Array.of(x));
  return t;
}

/** The values of a nested array of numbers, row-major. */
function flatten(x: unknown, out: number[]): void {
  if (Array.isArray(x)) for (const e of x) flatten(e, out);
  else out.push(x as number);
}

/**
 * A float32 tensor of `values` (a nested number array or a typed array, as
 * `tf.tensor` takes) that remembers the doubles (see the module notes).
 */
export function tensor64(values: number | readonly unknown[] | Float64Array | Float32Array | Int32Array, shape?: readonly number[]): tf.Tensor {
  if (typeof values === 'number') return shape === undefined ? scalar64(values) : rememberFloat64(tf.fill([...shape], values), new Float64Array(shape.reduce((a, b) => a * b, 1)).fill(values));
  // tfjs takes no Float64Array: it gets the float32 rounding, and the doubles are remembered
  const t = values instanceof Float64Array ? tf.tensor(Float32Array.from(values), shape === undefined ? [values.length] : [...shape]) : tf.tensor(values as number[], shape as number[] | undefined);
  if (values instanceof Float32Array || values instanceof Int32Array || t.dtype !== 'float32') return t;
  let flat: Float64Array;
  if (values instanceof Float64Array) flat = values;
  else {
    const out: number[] = [];
    flatten(values, out);
    if (out.some((v) => typeof v !== 'number')) return t;
    flat = Float64Array.from(out);
  }
  return flat.length === t.size ? rememberFloat64(t, flat) : t;
}
