/**
 * posteriordb `one_comp_mm_elim_abs-one_comp_mm_elim_abs`: a one-compartment
 * pharmacokinetic model with first-order absorption and Michaelis–Menten
 * elimination (Stan benchmark `pkpd`), a stiff-capable ODE solve
 * (`integrate_ode_bdf` in Stan; the system is not stiff for plausible parameters, and
 * the order-5 Dormand–Prince solver takes about a fifth of the right-hand-side
 * evaluations of the order-2 Rosenbrock method at Stan's tolerance 1e-6, so rk45 here):
 *
 * ```stan
 * dC/dt = [t > 0] exp(-k_a t) D k_a / V - (V_m / V) C / (K_m + C),   C(t0) = 0
 * k_a, K_m, V_m, sigma ~ cauchy(0, 1)  (all >= 0);   C_hat[n] ~ lognormal(log(C[n]), sigma)
 * ```
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { HalfCauchy, LogNormal, model, odeSolve } from '../../src/index.js';
import { loadData } from '../data.js';

/** The one_comp_mm_elim_abs data. */
export interface OneCompData {
  readonly t0: number;
  readonly D: number;
  readonly V: number;
  readonly N_t: number;
  readonly times: number[];
  readonly C_hat: number[];
}

/** The data (posteriordb `one_comp_mm_elim_abs`). */
export const oneCompData: OneCompData = loadData<OneCompData>('one_comp_mm_elim_abs');

/** The right-hand side for dose D and volume V; theta = (k_a, K_m, V_m). */
export function oneCompRhs(D: number, V: number): (t: number, y: Float64Array, th: Float64Array) => number[] {
  return (t, y, th) => {
    const [ka, Km, Vm] = [th[0]!, th[1]!, th[2]!];
    const dose = t > 0 ? (Math.exp(-ka * t) * D * ka) / V : 0;
    return [dose - ((Vm / V) * y[0]!) / (Km + y[0]!)];
  };
}

/** Latent `k_a`, `K_m`, `V_m`, `sigma`. */
export const oneCompMmElimAbs = model(
  async ({ sample, observe }, d: OneCompData) => {
    const ka = await sample('k_a', HalfCauchy(1));
    const Km = await sample('K_m', HalfCauchy(1));
    const Vm = await sample('V_m', HalfCauchy(1));
    const sigma = await sample('sigma', HalfCauchy(1));
    const C = odeSolve(oneCompRhs(d.D, d.V), [0], d.t0, d.times, [ka, Km, Vm]);
    await observe('C_hat', LogNormal(tf.log(tf.reshape(C, [d.N_t])), sigma), d.C_hat);
  },
  { name: 'one_comp_mm_elim_abs' },
);
