/**
 * Steps per second of stochastic variational inference on Bayesian logistic
 * regression (N = 1000 observations, D = 10 covariates plus an intercept),
 * for each autoguide (AutoFlow: IAF, reverse, IAF), with the particles of a step evaluated by one batched
 * run of the model (vectorised) and, for comparison, one run per particle.
 *
 * ```sh
 * npx tsx bench/vi-logistic.ts                 # cpu backend
 * npx tsx bench/vi-logistic.ts --backend wasm  # --steps 200
 * ```
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { type BackendName, initBackend } from '../src/backend/select.js';
import { Rng, model } from '../src/core/index.js';
import { Bernoulli } from '../src/distributions/bernoulli.js';
import { Normal } from '../src/distributions/normal.js';
import { SVI } from '../src/infer/vi/index.js';
import { table } from './util.js';

const arg = (name: string, dflt: string): string => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? (process.argv[i + 1] ?? dflt) : dflt;
};
const backend = arg('--backend', 'cpu') as BackendName;
const steps = Number(arg('--steps', '200'));
await initBackend(backend);

const N = 1000;
const D = 10;
const rng = new Rng(1);
const wTrue = Array.from({ length: D }, () => rng.normal());
const X = Array.from({ length: N }, () => Array.from({ length: D }, () => rng.normal()));
const y = X.map((r) => (rng.uniform() < 1 / (1 + Math.exp(-(0.3 + r.reduce((s, x, j) => s + x * wTrue[j]!, 0)))) ? 1 : 0));
const data = { X: tf.tensor2d(X), y: tf.tensor1d(y) };

/** w ~ N(0, I), b ~ N(0, 5), y_n ~ Bernoulli(logit = x_n . w + b); runs per draw and batched. */
const logistic = model(async ({ sample, plate }, d: typeof data) => {
  const w = await sample('w', Normal(tf.zeros([D]), tf.ones([D])));
  const b = await sample('b', Normal(0, 5));
  const logits = tf.add(tf.sum(tf.mul(d.X, tf.expandDims(w, -2)), -1), b);
  await plate('data', N, (_i, p) => p.observe('y', Bernoulli({ logits }), d.y));
});

const rows: string[][] = [];
for (const guide of ['delta', 'normal', 'lowrank', 'mvn', 'flow'] as const) {
  for (const [particles, vectorize] of [[1, true], [8, true], [8, false]] as const) {
    const svi = new SVI(logistic, guide, { particles, vectorize, seed: 1, optimizer: { lr: 0.05 } });
    const label = [guide, String(particles), vectorize ? 'batched' : 'per draw'];
    try {
      await svi.init([data]);
      for (let i = 0; i < 5; i++) await svi.step([data]); // warm up
      const t0 = performance.now();
      const n = vectorize ? steps : Math.max(20, steps / 8);
      for (let i = 0; i < n; i++) await svi.step([data]);
      const s = (performance.now() - t0) / 1000;
      rows.push([...label, (n / s).toFixed(1), ((n * particles) / s).toFixed(0), svi.lossHistory.at(-1)!.toFixed(1)]);
    } catch (err) {
      rows.push([...label, 'failed', '', String(err instanceof Error ? err.message : err).slice(0, 70)]);
    } finally {
      svi.dispose();
    }
  }
}
console.log(`SVI on logistic regression (N=${N}, D=${D}+1), backend ${tf.getBackend()}, ${steps} steps`);
console.log(table(['guide', 'particles', 'model runs', 'steps/s', 'draws/s', 'last loss'], rows));
