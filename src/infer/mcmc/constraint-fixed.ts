/**
 * Elements of a site's value that its support fixes: the 1 and the zeros
 * above the diagonal of a correlation matrix's Cholesky factor (`LKJCholesky`),
 * the zeros above the diagonal of any lower-triangular factor. They hold one
 * value in every draw by construction, so "the sampler never moved it" must
 * not be said of them.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Layout } from './potential.js';

/**
 * For each site of `layout` (sites with a dependent support left out), the
 * flat indices of its constrained value that the bijector maps to one value
 * from two unconstrained points that differ in every coordinate; sites with
 * none are absent. Only sites whose value has more elements than unconstrained
 * coordinates are asked (an elementwise bijector: every interval, half-line and
 * the identity, has none).
 */
export function fixedByConstraint(layout: Layout): Map<string, Set<number>> {
  const out = new Map<string, Set<number>>();
  for (const s of layout.sites) {
    // only a map onto more coordinates than it takes can hold some of them fixed; an elementwise one (whose
    // float32 image of two points may round to one value on a narrow interval) is never asked
    const width = s.shape.reduce((a, b) => a * b, 1);
    if (s.dependentSupport || s.size === 0 || width <= s.size) continue;
    // two points that differ in every coordinate: 0.37 k - 0.53 and 0.61 k + 1.06
    const points = new Float32Array(2 * s.size);
    for (let k = 0; k < s.size; k++) {
      points[k] = 0.37 * k - 0.53;
      points[s.size + k] = 0.61 * k + 1.06;
    }
    const values = tf.tidy(() => (s.bijector.forward(tf.tensor(points, [2, ...s.unconstrainedShape])) as tf.Tensor).dataSync().slice());
    const fixed = new Set<number>();
    for (let j = 0; j < width; j++) if (values[j] === values[width + j]) fixed.add(j);
    if (fixed.size > 0) out.set(s.address, fixed);
  }
  return out;
}
