/**
 * posteriordb `kidiq-kidscore_momiq`: a child's test score regressed on the
 * mother's IQ (Gelman and Hill, ch. 3), N = 434.
 *
 * `kid_score ~ N(beta_1 + beta_2 mom_iq, sigma)`, a flat prior on `beta` (as
 * in the Stan model) and `sigma ~ HalfCauchy(2.5)`.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { Flat, HalfCauchy, Normal, model, ops } from '../../src/index.js';
import { loadData } from '../data.js';
import { components } from '../linear.js';

/** The kidiq data. */
export interface KidiqData {
  readonly N: number;
  readonly kid_score: number[];
  readonly mom_iq: number[];
}

/** The kidiq data (posteriordb `kidiq`). */
export const kidiqData: KidiqData = loadData<KidiqData>('kidiq');

/** Latent sites `beta` (length 2) and `sigma`. */
export const kidscoreMomiq = model(
  async ({ sample, plate }, d: KidiqData) => {
    const beta = (await sample('beta', Flat({ shape: [2] }))) as tf.Tensor;
    const sigma = await sample('sigma', HalfCauchy(2.5));
    const [b1, b2] = components(beta);
    await plate('kids', d.N, async (_i, p) => {
      await p.observe('kid_score', Normal(ops.add(b1, ops.mul(b2, ops.toValue(d.mom_iq))), sigma), d.kid_score);
    });
  },
  { name: 'kidscore_momiq' },
);
