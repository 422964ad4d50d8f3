/**
 * Amortised guides: variational parameters computed from the data by a
 * network whose weights are `param` sites (learned by SVI like any other
 * parameter). An encoder maps each data point to the parameters of its local
 * latent's distribution, as in a variational auto-encoder.
 *
 * ```ts
 * const guide = model(async ({ param, plate }, x: tf.Tensor2D) => {
 *   const encoder = await paramNetwork(param, 'enc', [2, 16, 2]);
 *   const out = encoder(x);                      // [N, 2]: loc and raw scale per point
 *   await plate('data', x.shape[0], (_i, p) => p.sample('z', Normal(column(out, 0), tf.softplus(column(out, 1)))));
 * });
 * ```
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Ctx } from '../../core/model.js';
import type { Rng } from '../../core/rng.js';
import { toTensor } from '../../core/value.js';
import { dense } from '../../flows/flow-bijector.js';

/** Hidden-layer activations of {@link paramNetwork}. */
export type Activation = 'tanh' | 'relu' | 'softplus';

const ACTIVATIONS: Record<Activation, (x: tf.Tensor) => tf.Tensor> = { tanh: tf.tanh, relu: tf.relu, softplus: tf.softplus };

/**
 * A multilayer perceptron with layer sizes `sizes` (input first), whose
 * weights and biases are the `param` sites `name.w0`, `name.b0`, ... (weights
 * start as scaled normal draws, biases at zero). Hidden layers use
 * `activation` (default tanh); the output layer is linear. The returned
 * function maps `[..., sizes[0]]` to `[..., sizes[last]]`.
 */
export async function paramNetwork(param: Ctx['param'], name: string, sizes: readonly number[], activation: Activation = 'tanh'): Promise<(x: tf.Tensor) => tf.Tensor> {
  if (sizes.length < 2 || sizes.some((s) => !Number.isInteger(s) || s < 1)) throw new RangeError(`paramNetwork "${name}": sizes must be at least two positive integers, got [${sizes.join(', ')}]`);
  const act = ACTIVATIONS[activation];
  if (!act) throw new Error(`paramNetwork "${name}": unknown activation "${String(activation)}"; use tanh, relu or softplus`);
  const layers: { w: tf.Tensor; b: tf.Tensor }[] = [];
  for (let l = 0; l + 1 < sizes.length; l++) {
    const fanIn = sizes[l]!;
    const fanOut = sizes[l + 1]!;
    const w = toTensor(await param(`${name}.w${l}`, (rng: Rng) => tf.tensor2d(Float32Array.from(rng.normals(fanIn * fanOut), (v) => v / Math.sqrt(fanIn)), [fanIn, fanOut])));
    const b = toTensor(await param(`${name}.b${l}`, () => tf.zeros([fanOut])));
    layers.push({ w, b });
  }
  return (x) => {
    let h = x;
    layers.forEach(({ w, b }, l) => {
      h = dense(h, w, b);
      if (l + 1 < layers.length) h = act(h);
    });
    return h;
  };
}

/** Column `j` of the last axis: `[..., k] -> [...]`. */
export function column(x: tf.Tensor, j: number): tf.Tensor {
  const k = x.shape[x.rank - 1]!;
  if (!Number.isInteger(j) || j < 0 || j >= k) throw new RangeError(`column: index ${j} is outside 0..${k - 1}`);
  return tf.squeeze(tf.slice(x, [...x.shape.slice(0, -1).map(() => 0), j], [...x.shape.slice(0, -1), 1]), [x.rank - 1]);
}
