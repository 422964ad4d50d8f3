/**
 * Eight schools (Rubin 1981), non-centred: the classic hierarchical model.
 * Default-exports the model and exports its data, so the CLI can run it:
 *
 * ```sh
 * npx tyche run models/eight-schools.ts --method nuts --chains 4 --seed 1
 * ```
 *
 * Written with the polymorphic `ops`, so NUTS runs all chains as one batched
 * computation.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Normal, model, ops } from '../src/index.js';

/** Observed effects and their standard errors. */
export interface SchoolsData {
  readonly y: number[];
  readonly sigma: number[];
}

/** The data of Rubin (1981). */
export const data: SchoolsData = {
  y: [28, 8, -3, 7, -1, 1, 18, 12],
  sigma: [15, 10, 16, 11, 9, 11, 10, 18],
};

export default model(
  async ({ sample, observe, plate }, d: SchoolsData) => {
    const mu = await sample('mu', Normal(0, 5));
    const logTau = await sample('logTau', Normal(0, 1));
    const tau = ops.exp(logTau);
    await plate('school', d.y.length, async (_i, p) => {
      const z = await p.sample('z', Normal(0, 1));
      await p.observe('y', Normal(ops.add(mu, ops.mul(tau, z)), tf.tensor1d(d.sigma)), tf.tensor1d(d.y));
    });
  },
  { name: 'eight-schools' },
);
