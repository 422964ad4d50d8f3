/**
 * The 2-D toy data the shipped `toy2d` flow model was trained on, with exact
 * samplers: two moons, a ring of eight Gaussians and a checkerboard, each
 * spread over roughly [-2, 2]^2. Class k of the model is data set k.
 *
 * @module
 */
import type { Rng } from '../../core/rng.js';

/** The data sets, in class order. */
export const TOY2D_CLASSES = ['moons', 'rings', 'checkerboard'] as const;
/** One of the toy data sets. */
export type Toy2DName = (typeof TOY2D_CLASSES)[number];

/** One exact draw from data set `name`, as [x, y]. */
export function toy2dPoint(name: Toy2DName, rng: Rng): [number, number] {
  switch (name) {
    case 'moons': {
      // two interleaved half circles of radius 1 (as sklearn's make_moons), centred and scaled by 1.5, noise 0.1
      const a = Math.PI * rng.uniform();
      const upper = rng.uniform() < 0.5;
      const x = upper ? Math.cos(a) : 1 - Math.cos(a);
      const y = upper ? Math.sin(a) : 0.5 - Math.sin(a);
      return [1.5 * (x - 0.5) + 0.1 * rng.normal(), 1.5 * (y - 0.25) + 0.1 * rng.normal()];
    }
    case 'rings': {
      const k = rng.int(8);
      const a = (2 * Math.PI * k) / 8;
      return [1.6 * Math.cos(a) + 0.12 * rng.normal(), 1.6 * Math.sin(a) + 0.12 * rng.normal()];
    }
    case 'checkerboard': {
      // 4x4 board on [-2, 2]^2, mass on the squares with (i + j) even
      const i = rng.int(4);
      const j = 2 * rng.int(2) + (i % 2);
      return [-2 + i + rng.uniform(), -2 + j + rng.uniform()];
    }
  }
}

/** `n` labelled draws: each from a data set chosen uniformly (or always `only`). */
export function toy2dSample(n: number, rng: Rng, only?: Toy2DName): { points: Float32Array; labels: Int32Array } {
  const points = new Float32Array(2 * n);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const k = only !== undefined ? TOY2D_CLASSES.indexOf(only) : rng.int(TOY2D_CLASSES.length);
    const [x, y] = toy2dPoint(TOY2D_CLASSES[k]!, rng);
    points[2 * i] = x;
    points[2 * i + 1] = y;
    labels[i] = k;
  }
  return { points, labels };
}
