/**
 * Leaner gradients for the elementwise arithmetic ops that dominate model
 * log densities (Add, Sub, Multiply, RealDiv, Neg), registered over tfjs's
 * own (a side-effect module, imported by `gradients.ts`).
 *
 * tfjs's versions launch a Cast kernel on every Multiply input, and a Reshape
 * on every Add / Sub input even when no broadcasting happened; in a small
 * model those no-op kernels are a third of the backward pass. These give the
 * same values (tested against finite differences and tf.grad) and launch a
 * kernel only where there is arithmetic or a reduction to do.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';

interface EngineAliasing {
  makeTensorFromDataId(dataId: object, shape: number[], dtype: tf.DataType, backend?: unknown): tf.Tensor;
  state: { tensorInfo: Map<object, { backend: { incRef?(dataId: object): void } }> };
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * A new handle on the same data (a reference count increment, no kernel),
 * so that two gradients never share one tensor object (the tape disposes
 * accumulated gradients); a Reshape where the backend cannot alias.
 */
function alias(x: tf.Tensor): tf.Tensor {
  const engine = tf.engine() as unknown as EngineAliasing;
  const backend = engine.state.tensorInfo.get(x.dataId)?.backend;
  if (!backend?.incRef) return tf.reshape(x, x.shape);
  backend.incRef(x.dataId);
  return engine.makeTensorFromDataId(x.dataId, x.shape, x.dtype, backend);
}

/** `g` (of the broadcast output shape) summed down to an input's shape. */
function reduceTo(g: tf.Tensor, shape: number[]): tf.Tensor {
  if (sameShape(g.shape, shape)) return g;
  const axes = tf.backend_util.getReductionAxes(shape, g.shape);
  const s = axes.length > 0 ? tf.sum(g, axes) : g;
  return sameShape(s.shape, shape) ? s : tf.reshape(s, shape);
}

/** The gradient `d` passed to an input of shape `shape` unchanged (a new handle) or summed down to it. */
function passTo(d: tf.Tensor, shape: number[]): tf.Tensor {
  return sameShape(shape, d.shape) ? alias(d) : reduceTo(d, shape);
}

function float(x: tf.Tensor): tf.Tensor {
  return x.dtype === 'float32' ? x : tf.cast(x, 'float32');
}

tf.registerGradient({
  kernelName: 'Add',
  inputsToSave: ['a', 'b'],
  gradFunc: (dy, saved) => {
    const [a, b] = saved as tf.Tensor[];
    const d = dy as tf.Tensor;
    return { a: () => passTo(d, a!.shape), b: () => passTo(d, b!.shape) };
  },
});

tf.registerGradient({
  kernelName: 'Sub',
  inputsToSave: ['a', 'b'],
  gradFunc: (dy, saved) => {
    const [a, b] = saved as tf.Tensor[];
    const d = dy as tf.Tensor;
    return { a: () => passTo(d, a!.shape), b: () => tf.neg(reduceTo(d, b!.shape)) };
  },
});

tf.registerGradient({
  kernelName: 'Multiply',
  inputsToSave: ['a', 'b'],
  gradFunc: (dy, saved) => {
    const [a, b] = saved as tf.Tensor[];
    const d = dy as tf.Tensor;
    return { a: () => reduceTo(tf.mul(d, float(b!)), a!.shape), b: () => reduceTo(tf.mul(d, float(a!)), b!.shape) };
  },
});

tf.registerGradient({
  kernelName: 'RealDiv',
  inputsToSave: ['a', 'b'],
  gradFunc: (dy, saved) => {
    const [a, b] = saved as tf.Tensor[];
    const d = dy as tf.Tensor;
    return {
      a: () => reduceTo(tf.div(d, float(b!)), a!.shape),
      b: () => tf.neg(reduceTo(tf.div(tf.mul(d, float(a!)), tf.square(float(b!))), b!.shape)),
    };
  },
});

tf.registerGradient({
  kernelName: 'Neg',
  gradFunc: (dy) => ({ x: () => tf.neg(dy as tf.Tensor) }),
});

tf.registerGradient({
  kernelName: 'Square',
  inputsToSave: ['x'],
  gradFunc: (dy, saved) => {
    const x = float((saved as tf.Tensor[])[0]!);
    return { x: () => tf.mul(dy as tf.Tensor, tf.add(x, x)) };
  },
});

/**
 * Maximum and Minimum: tfjs's own gradients (4.22) do not sum the gradient
 * down to an input that was broadcast, so `tf.maximum(x, scalar)` fails under
 * `tf.grad` with "The gradient of input 'b' has shape ...". Same tie
 * convention as tfjs's: on a tie Maximum's gradient goes to `a`, Minimum's
 * to `a`.
 */
function extremumGradient(kernelName: 'Maximum' | 'Minimum'): void {
  tf.registerGradient({
    kernelName,
    inputsToSave: ['a', 'b'],
    gradFunc: (dy, saved) => {
      const [a, b] = saved as tf.Tensor[];
      const d = dy as tf.Tensor;
      const toA = () => (kernelName === 'Maximum' ? tf.greaterEqual(a!, b!) : tf.lessEqual(a!, b!));
      return {
        a: () => reduceTo(tf.mul(d, tf.cast(toA(), 'float32')), a!.shape),
        b: () => reduceTo(tf.mul(d, tf.cast(tf.logicalNot(toA()), 'float32')), b!.shape),
      };
    },
  });
}
extremumGradient('Maximum');
extremumGradient('Minimum');
