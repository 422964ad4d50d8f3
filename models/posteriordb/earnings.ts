/**
 * posteriordb `earnings-earn_height`: earnings (dollars) regressed on height
 * (inches), Gelman and Hill ch. 4, N = 1192. The Stan model is
 * `earn ~ normal(beta[1] + beta[2] * height, sigma)` with flat priors on
 * `beta` and `sigma` (no prior statements): the flat Gaussian GLM of
 * `glm-regressions.ts` on the design `[1, height]`. Height is not centred,
 * so intercept and slope are correlated at about -0.999: the case for a
 * dense metric.
 *
 * ```ts
 * const post = await infer(flatGaussianGlm, { method: 'nuts' }, earningsDesign(earningsData));
 * ```
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { loadData } from '../data.js';
import type { Design } from './glm-regressions.js';

/** The earnings data (posteriordb `earnings`; `male` is not used by this posterior). */
export interface EarningsData {
  readonly N: number;
  readonly earn: number[];
  readonly height: number[];
}

/** The earnings data (posteriordb `earnings`). */
export const earningsData: EarningsData = loadData<EarningsData>('earnings');

/** Rows `[1, height]` and the response `earn`. */
export function earningsDesign(d: EarningsData): Design {
  return { x: tf.tensor2d(d.height.map((h) => [1, h])), y: tf.tensor1d(d.earn) };
}
