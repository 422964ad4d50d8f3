/**
 * Simple Bayesian linear regression (the peers' `linreg` workload):
 * `y_i ~ N(alpha + beta x_i, sigma)`, `alpha, beta ~ N(0, 10)`,
 * `sigma ~ Exponential(1)`. Written with a plate and the polymorphic `ops`,
 * so it runs one chain at a time, vectorised over chains, and under MH.
 *
 * @module
 */
import { Exponential, Normal, model, ops } from '../src/index.js';

/** Linear regression data: inputs `x` and responses `y` of equal length. */
export interface LinregData {
  readonly x: number[];
  readonly y: number[];
  /** Prior standard deviation of alpha and beta (default 10). */
  readonly priorSd?: number;
}

/** Latent sites `alpha`, `beta`, `sigma`. */
export const linearRegression = model(
  async ({ sample, plate }, d: LinregData) => {
    if (d.x.length !== d.y.length) throw new Error(`linearRegression: x has ${d.x.length} values but y has ${d.y.length}`);
    const sd = d.priorSd ?? 10;
    const alpha = await sample('alpha', Normal(0, sd));
    const beta = await sample('beta', Normal(0, sd));
    const sigma = await sample('sigma', Exponential(1));
    await plate('data', d.x.length, async (_i, p) => {
      await p.observe('y', Normal(ops.add(alpha, ops.mul(beta, ops.toValue(d.x))), sigma), d.y);
    });
  },
  { name: 'linear_regression' },
);
