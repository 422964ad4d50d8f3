/**
 * The continuous model both Geweke test files use: theta ~ N(0, 1),
 * sigma ~ Gamma(A, B), y_i ~ N(theta, sigma) for i < N_Y — as a tyche model,
 * and as exact simulators of the prior, the data and the joint.
 */
import { model } from '../../src/core/index.js';
import type { Rng } from '../../src/core/rng.js';
import { Gamma, logStandardGamma } from '../../src/distributions/gamma.js';
import { Normal } from '../../src/distributions/normal.js';

/** Gamma shape and rate of sigma's prior. */
export const A = 4;
export const B = 4;
/** Observations per data set. */
export const N_Y = 2;

/** A joint state: latents and data. */
export interface Joint {
  readonly theta: number;
  readonly sigma: number;
  readonly y: readonly number[];
}

/** The model, with the data as its argument. */
export const normalModel = model(async ({ sample, observe }, y: readonly number[]) => {
  const theta = await sample('theta', Normal(0, 1));
  const sigma = await sample('sigma', Gamma(A, B));
  for (let i = 0; i < y.length; i++) await observe(`y${i}`, Normal(theta, sigma), y[i]!);
});

/** A prior draw of sigma. */
export const drawSigma = (rng: Rng): number => Math.exp(logStandardGamma(rng, A)) / B;

/** A data set given the latents. */
export const drawY = (theta: number, sigma: number, rng: Rng): number[] => Array.from({ length: N_Y }, () => theta + sigma * rng.normal());

/** n independent joint draws (the marginal-conditional simulator). */
export function marginalDraws(n: number, rng: Rng): Joint[] {
  return Array.from({ length: n }, () => {
    const theta = rng.normal();
    const sigma = drawSigma(rng);
    return { theta, sigma, y: drawY(theta, sigma, rng) };
  });
}
