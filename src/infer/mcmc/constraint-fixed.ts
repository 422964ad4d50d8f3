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
import type { Bijector } from '../../transforms/bijector.js';
import { bijectTo } from '../../transforms/biject-to.js';
import type { Distribution } from '../../distributions/distribution.js';
import type { Value } from '../../core/value.js';
import type { Layout } from './potential.js';

/**
 * The flat indices of a value of `shape` that `bijector` maps to one value
 * from two unconstrained points that differ in every coordinate. Only a map
 * onto more elements than it takes coordinates can fix some; an elementwise
 * one (every interval, half-line and the identity, whose float32 image of two
 * points may round to one value on a narrow interval) is not asked: empty.
 */
export function fixedElements(bijector: Bijector, unconstrainedShape: readonly number[], shape: readonly number[]): Set<number> {
  const width = shape.reduce((a, b) => a * b, 1);
  const size = unconstrainedShape.reduce((a, b) => a * b, 1);
  const fixed = new Set<number>();
  if (size === 0 || width <= size) return fixed;
  // two points that differ in every coordinate: 0.37 k - 0.53 and 0.61 k + 1.06
  const points = new Float32Array(2 * size);
  for (let k = 0; k < size; k++) {
    points[k] = 0.37 * k - 0.53;
    points[size + k] = 0.61 * k + 1.06;
  }
  const values = tf.tidy(() => (bijector.forward(tf.tensor(points, [2, ...unconstrainedShape])) as tf.Tensor).dataSync().slice());
  for (let j = 0; j < width; j++) if (values[j] === values[width + j]) fixed.add(j);
  return fixed;
}

/**
 * For each site of `layout` (sites with a dependent support left out), the
 * elements its bijector fixes (`fixedElements`); sites with none are absent.
 */
export function fixedByConstraint(layout: Layout): Map<string, Set<number>> {
  const out = new Map<string, Set<number>>();
  for (const s of layout.sites) {
    if (s.dependentSupport) continue;
    const fixed = fixedElements(s.bijector, s.unconstrainedShape, s.shape);
    if (fixed.size > 0) out.set(s.address, fixed);
  }
  return out;
}

/**
 * The elements of a drawn value that `dist`'s support fixes (for engines
 * without a layout, such as MH); empty where the support has no bijector.
 */
export function fixedBySupport(dist: Distribution, value: Value): Set<number> {
  const shape = typeof value === 'number' ? [] : value.shape;
  let bijector: Bijector;
  try {
    bijector = bijectTo(dist.support);
  } catch {
    return new Set();
  }
  return fixedElements(bijector, bijector.inverseShape(shape), shape);
}
