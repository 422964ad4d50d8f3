/**
 * posteriordb `hudson_lynx_hare-lotka_volterra`: the Lotka–Volterra
 * predator–prey ODE fitted to the Hudson's Bay Company hare and lynx pelts,
 * 1900–1920 (Carpenter's Stan case study), written as the Stan model is:
 *
 * ```stan
 * z = integrate_ode_rk45(dz_dt, z_init, 0, ts, theta, ..., 1e-5, 1e-3, 5e2);
 * theta[{1, 3}] ~ normal(1, 0.5);  theta[{2, 4}] ~ normal(0.05, 0.05);   // theta >= 0
 * sigma ~ lognormal(-1, 1);  z_init ~ lognormal(log(10), 1);
 * y_init[k] ~ lognormal(log(z_init[k]), sigma[k]);  y[:, k] ~ lognormal(log(z[:, k]), sigma[k]);
 * ```
 *
 * The lower bound on theta makes its normal priors truncated at 0
 * (`Truncated(Normal(...), { low: 0 })`).
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { LogNormal, Normal, Truncated, model, odeSolve } from '../../src/index.js';
import { loadData } from '../data.js';

/** The hudson_lynx_hare data. */
export interface LynxHareData {
  readonly N: number;
  readonly ts: number[];
  readonly y_init: number[];
  readonly y: number[][];
}

/** The data (posteriordb `hudson_lynx_hare`). */
export const lynxHareData: LynxHareData = loadData<LynxHareData>('hudson_lynx_hare');

/** `dz/dt` for z = (prey u, predator v), theta = (alpha, beta, gamma, delta). */
export function lotkaVolterraRhs(_t: number, z: Float64Array, th: Float64Array): number[] {
  const u = z[0]!;
  const v = z[1]!;
  return [(th[0]! - th[1]! * v) * u, (-th[2]! + th[3]! * u) * v];
}

/** Latent `theta` (4), `z_init` (2), `sigma` (2). */
export const lotkaVolterra = model(
  async ({ sample, observe }, d: LynxHareData) => {
    const theta = await sample('theta', Truncated(Normal([1, 0.05, 1, 0.05], [0.5, 0.05, 0.5, 0.05]), { low: 0 }));
    const zInit = await sample('z_init', LogNormal(Math.log(10), 1).expand([2]));
    const sigma = await sample('sigma', LogNormal(-1, 1).expand([2]));
    const z = odeSolve(lotkaVolterraRhs, zInit as tf.Tensor, 0, d.ts, theta, { rtol: 1e-5, atol: 1e-3, maxSteps: 500 });
    await observe('y_init', LogNormal(tf.log(zInit as tf.Tensor), sigma), d.y_init);
    await observe('y', LogNormal(tf.log(z), sigma), d.y);
  },
  { name: 'lotka_volterra' },
);
