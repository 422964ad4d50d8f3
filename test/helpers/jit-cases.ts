/**
 * Functions of x (shape [2, 3]) for the trace compiler's tests
 * (test/backend/jit*.test.ts): together they use every kernel with a rule,
 * with broadcasting, reductions, matrix products and data movement; each
 * ends in a scalar.
 */
import * as tf from '@tensorflow/tfjs-core';

export const c23 = (): tf.Tensor => tf.tensor2d([[0.5, -1.2, 2.0], [1.5, 0.3, -0.7]]);
const pos = (x: tf.Tensor): tf.Tensor => tf.add(tf.square(x), 0.5);

/** Functions of x (shape [2, 3]) that together use every kernel with a rule; each ends in a scalar. */
export const CASES: Record<string, (x: tf.Tensor) => tf.Tensor> = {
  arithmetic: (x) => tf.sum(tf.div(tf.sub(tf.mul(x, c23()), tf.neg(x)), tf.add(pos(x), tf.tensor1d([1, 2, 3])))),
  'broadcast both ways': (x) => tf.sum(tf.mul(tf.reshape(tf.slice(x, [0, 0], [2, 1]), [2, 1]), tf.tensor2d([[1, 2, 3, 4]]))),
  'exp log family': (x) => tf.sum(tf.addN([tf.exp(x), tf.log(pos(x)), tf.log1p(pos(x)), tf.expm1(x), tf.sqrt(pos(x)), tf.rsqrt(pos(x)), tf.reciprocal(pos(x))])),
  'smooth maps': (x) => tf.sum(tf.addN([tf.tanh(x), tf.sigmoid(x), tf.softplus(x), tf.sin(x), tf.cos(x), tf.atan(x), tf.asinh(x), tf.erf(x)])),
  kinks: (x) => tf.sum(tf.addN([tf.abs(x), tf.relu(x), tf.maximum(x, 0.2), tf.minimum(x, c23()), tf.mul(tf.floor(tf.mul(x, 3)), x), tf.mul(tf.sign(x), x), tf.mul(tf.round(x), x), tf.mul(tf.ceil(x), x)])),
  clipByValue: (x) => tf.sum(tf.mul(tf.addN([tf.clipByValue(x, -1, 1.6), tf.clipByValue(tf.mul(x, 3), -Infinity, 0.5)]), c23())),
  'pow atan2 squared difference mod': (x) => tf.sum(tf.addN([tf.pow(pos(x), tf.add(x, 2)), tf.atan2(x, c23()), tf.squaredDifference(x, c23()), tf.mod(tf.add(x, 5), 1.5)])),
  floorDiv: (x) => tf.sum(tf.mul(tf.cast(tf.floorDiv(tf.add(x, 5), tf.scalar(0.7)), 'float32'), c23())),
  stridedSlice: (x) => tf.sum(tf.mul(tf.stridedSlice(x, [0, 2], [2, 0], [1, -1]), tf.tensor2d([[1, 2], [3, 4]]))),
  'select and comparisons': (x) => {
    const cond = tf.logicalOr(tf.logicalAnd(tf.greater(x, 0), tf.lessEqual(x, 1.6)), tf.logicalNot(tf.greaterEqual(x, -1)));
    const flags = tf.addN([tf.cast(tf.less(x, 0), 'float32'), tf.cast(tf.equal(x, x), 'float32'), tf.cast(tf.notEqual(x, 0), 'float32'), tf.cast(tf.isNaN(x), 'float32'), tf.cast(tf.isFinite(x), 'float32'), tf.cast(tf.isInf(x), 'float32')]);
    return tf.sum(tf.add(tf.where(cond, tf.square(x), tf.mul(x, 3)), tf.mul(flags, x)));
  },
  reductions: (x) =>
    tf.addN([tf.sum(tf.max(x, 1)), tf.sum(tf.min(x, 0)), tf.mean(tf.square(x)), tf.sum(tf.prod(pos(x), 1)), tf.sum(tf.sum(x, -1, true)), tf.mul(tf.cast(tf.all(tf.greater(pos(x), 0)), 'float32'), tf.sum(x)), tf.mul(tf.cast(tf.any(tf.greater(x, 10)), 'float32'), tf.sum(x))]),
  'cumsum softmax': (x) => tf.addN([tf.sum(tf.mul(tf.cumsum(x, 1), c23())), tf.sum(tf.mul(tf.cumsum(x, 0, true, true), c23())), tf.sum(tf.mul(tf.softmax(x), c23()))]),
  matmul: (x) => tf.addN([tf.sum(tf.matMul(x, tf.tensor2d([[1, 2], [0.5, -1], [3, 1]]))), tf.sum(tf.matMul(x, x, false, true)), tf.sum(tf.matMul(x, x, true, false)), tf.sum(tf.square(tf.matMul(tf.reshape(x, [1, 2, 3]), tf.ones([4, 3, 2]))))]),
  // arrays past OWN_FUNCTION_WORK elements take the other code path of compileLoop
  'large arrays': (x) => {
    const big = tf.tile(x, [150, 1]); // [300, 3]
    const w = tf.linspace(-1, 1, 900).reshape([300, 3]);
    return tf.addN([tf.sum(tf.mul(tf.softplus(big), w)), tf.sum(tf.square(tf.matMul(x, tf.linspace(0, 1, 900).reshape([3, 300]))))]);
  },
  layout: (x) => {
    const [a, b] = tf.split(x, [1, 2], 1);
    const [r0, r1] = tf.unstack(x);
    const parts = [
      tf.sum(tf.mul(tf.transpose(x), tf.tensor2d([[1], [2], [3]]))),
      tf.sum(tf.mul(tf.concat([a!, b!, x], 1), tf.linspace(0, 1, 12).reshape([2, 6]))),
      tf.sum(tf.mul(tf.stack([r0!, r1!], 1), tf.tensor2d([[1, 2], [3, 4], [5, 6]]))),
      tf.sum(tf.mul(tf.tile(x, [2, 1]), tf.linspace(-1, 1, 12).reshape([4, 3]))),
      tf.sum(tf.mul(tf.broadcastTo(tf.reshape(r0!, [1, 3]), [4, 3]), tf.linspace(0, 2, 12).reshape([4, 3]))),
      tf.sum(tf.mul(tf.reverse(x, 1), c23())),
      tf.sum(tf.mul(tf.gather(x, tf.tensor1d([2, 0, 2], 'int32'), 1), tf.ones([2, 3]))),
      tf.sum(tf.squeeze(tf.expandDims(x, 0))),
      tf.sum(tf.mul(tf.clone(x), tf.add(tf.zerosLike(x), 1))),
    ];
    return tf.addN(parts);
  },
};

/** A `CompiledDensity`'s tfjs evaluator for a scalar function of a vector: log density and gradient at q. */
export const viaTfjs = (f: (q: tf.Tensor) => tf.Tensor) => async (q: Float64Array): Promise<{ logp: Float64Array; grad: Float64Array }> => {
  const qT = tf.tensor1d(Float32Array.from(q));
  const g = tf.grad(f)(qT);
  const v = f(qT);
  const out = { logp: Float64Array.of(v.dataSync()[0]!), grad: Float64Array.from(g.dataSync()) };
  tf.dispose([qT, g, v]);
  return out;
};
