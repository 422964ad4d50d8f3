/**
 * Guards around tfjs kernels that give silently wrong results in the tfjs
 * version tyche ships with, installed on each backend tyche activates.
 *
 * `BatchMatMul` (tfjs 4.22, cpu and wasm): when both operands need
 * broadcasting over batch axes (`[3, 1, 4, 5] x [2, 5, 6]`, or
 * `[2, 1, 4, 5] x [3, 5, 6]`), the result has the right shape but only half
 * its elements are written, so a model's log density is garbage with no
 * error. Broadcasting one side only is right. The guard refuses the both-ways
 * case with an error that says how to write it.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';

const guarded = new Set<string>();

/** Whether a product of batch shapes `a` and `b` broadcasts each operand over some axis (the case tfjs gets wrong). */
export function broadcastsBothWays(a: readonly number[], b: readonly number[]): boolean {
  const n = Math.max(a.length, b.length);
  let aGrows = false;
  let bGrows = false;
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da === 1 && db > 1) aGrows = true;
    if (db === 1 && da > 1) bGrows = true;
  }
  return aGrows && bGrows;
}

/** Install the guards on the tfjs backend `tfName` (once per backend). */
export function guardKernels(tfName: string): void {
  if (guarded.has(tfName)) return;
  guarded.add(tfName);
  const config = tf.getKernel('BatchMatMul', tfName);
  if (!config) return;
  const original = config.kernelFunc;
  tf.unregisterKernel('BatchMatMul', tfName);
  tf.registerKernel({
    ...config,
    kernelFunc: (args) => {
      const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
      const batchA = a.shape.slice(0, -2);
      const batchB = b.shape.slice(0, -2);
      if (broadcastsBothWays(batchA, batchB)) {
        throw new Error(
          `matMul of shapes [${a.shape.join(', ')}] and [${b.shape.join(', ')}]: both operands broadcast over batch axes ([${batchA.join(', ')}] against [${batchB.join(', ')}]), which tfjs ${tf.version_core} computes wrongly (half the result is never written); broadcast one operand to the full batch shape first, e.g. tf.matMul(tf.broadcastTo(a, [...batch, rows, cols]), b)`,
        );
      }
      return original(args);
    },
  });
}
