/**
 * posteriordb Gaussian regressions written with `NormalIdGlm` (Stan's
 * `normal_id_glm`) and flat priors (`Flat`), the plain way: one chain's
 * shapes, the design matrix built once from the data.
 *
 * - `kidiq_with_mom_work-kidscore_mom_work`: a child's test score on the
 *   mother's work pattern (4 levels as an intercept and 3 indicators), N = 434.
 * - `nes2000-nes`: party identification on ideology, race, age group (3
 *   indicators), education, gender and income, N = 476.
 *
 * Both Stan models give `beta` and `sigma` no prior: flat on R^K and on (0, inf).
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { Flat, NormalIdGlm, model } from '../../src/index.js';
import { loadData } from '../data.js';

/** The kidiq_with_mom_work data (the columns the model uses). */
export interface KidiqMomWorkData {
  readonly N: number;
  readonly kid_score: number[];
  readonly mom_work: number[];
}

/** The nes2000 data (the columns the model uses). */
export interface NesData {
  readonly N: number;
  readonly partyid7: number[];
  readonly real_ideo: number[];
  readonly race_adj: number[];
  readonly educ1: number[];
  readonly gender: number[];
  readonly income: number[];
  readonly age_discrete: number[];
}

/** The kidiq_with_mom_work data (posteriordb `kidiq_with_mom_work`). */
export const kidiqMomWorkData: KidiqMomWorkData = loadData<KidiqMomWorkData>('kidiq_with_mom_work');
/** The nes2000 data (posteriordb `nes2000`). */
export const nesData: NesData = loadData<NesData>('nes2000');

/** A regression's design matrix and response, as tensors (Stan's transformed data). */
export interface Design {
  readonly x: tf.Tensor2D;
  readonly y: tf.Tensor1D;
}

/** Rows `[1, work == 2, work == 3, work == 4]`. */
export function kidiqMomWorkDesign(d: KidiqMomWorkData): Design {
  return { x: tf.tensor2d(d.mom_work.map((w) => [1, +(w === 2), +(w === 3), +(w === 4)])), y: tf.tensor1d(d.kid_score) };
}

/** Rows `[1, ideo, race, age30_44, age45_64, age65up, educ, gender, income]`. */
export function nesDesign(d: NesData): Design {
  const rows = d.partyid7.map((_, i) => {
    const a = d.age_discrete[i]!;
    return [1, d.real_ideo[i]!, d.race_adj[i]!, +(a === 2), +(a === 3), +(a === 4), d.educ1[i]!, d.gender[i]!, d.income[i]!];
  });
  return { x: tf.tensor2d(rows), y: tf.tensor1d(d.partyid7) };
}

/** `y ~ normal_id_glm(X, 0, beta, sigma)` with flat priors; latent `beta` (one per column of X) and `sigma`. */
export const flatGaussianGlm = model(
  async ({ sample, observe }, d: Design) => {
    const beta = await sample('beta', Flat({ shape: [d.x.shape[1]] }));
    const sigma = await sample('sigma', Flat({ low: 0 }));
    await observe('y', NormalIdGlm(d.x, 0, beta, sigma), d.y);
  },
  { name: 'flat_gaussian_glm' },
);
