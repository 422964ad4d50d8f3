/**
 * A 3-D Gaussian target with mean 1 and a fixed correlated precision, for
 * tests that drive the samplers' chain loops on a density given as plain
 * float64 code (no model, no tfjs).
 */

/** Dimension of the target. */
export const D = 3;

/** The target's precision matrix (symmetric positive definite). */
export const PRECISION: readonly (readonly number[])[] = [
  [2, 0.9, 0.3],
  [0.9, 1, 0.2],
  [0.3, 0.2, 0.5],
];

/** Log density (up to a constant) at row `off` of `q`; writes its gradient into `grad` at the same offset. */
export function gaussianRow(q: ArrayLike<number>, off: number, grad: Float64Array): number {
  let logp = 0;
  for (let i = 0; i < D; i++) {
    let s = 0;
    for (let j = 0; j < D; j++) s += PRECISION[i]![j]! * (q[off + j]! - 1);
    grad[off + i] = -s;
    logp -= 0.5 * (q[off + i]! - 1) * s;
  }
  return logp;
}

/** Log density and gradient at one point. */
export function gaussian(q: ArrayLike<number>): { logp: number; grad: Float64Array } {
  const grad = new Float64Array(D);
  return { logp: gaussianRow(q, 0, grad), grad };
}
