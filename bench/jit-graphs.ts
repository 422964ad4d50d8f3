/**
 * Cost per call of compiled log densities (src/backend/jit) for successive
 * compilations of the same model in one process: the logistic regression
 * (../shared/peers/logreg.json, 4 chains batched) compiled three times, each
 * timed over 3000 calls at a fixed point, and the first one timed again at
 * the end. V8 specialises the first graph's kernel closures on their
 * captured buffers; later graphs share those closures' code in its generic
 * form, which this measures (it matters when comparing rows of
 * `mcmc-models.ts`, which compile one graph per row).
 *
 * Run: `npx tsx bench/jit-graphs.ts`
 *
 * @module
 */
import { existsSync, readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/backend/select.js';
import { rngFrom } from '../src/core/rng.js';
import { batchedLogDensityFn, layoutOf } from '../src/infer/mcmc/potential.js';
import { logisticRegression } from '../models/logreg.js';
import type { Model } from '../src/core/model.js';

const file = new URL('../../shared/peers/logreg.json', import.meta.url);
if (!existsSync(file)) {
  console.log(`no data: ${file.pathname} is not present`);
  process.exit(0);
}
await initBackend();
const lr = JSON.parse(readFileSync(file, 'utf8')) as { X: number[][]; y: number[] };
const m = logisticRegression as unknown as Model<never[], unknown>;
const args = [{ X: tf.tensor2d(lr.X), y: lr.y, priorSd: 5 }] as unknown as never[];
const { layout } = await layoutOf(m, args, rngFrom(1));
const q = new Float64Array(4 * layout.dim).map((_, i) => 0.3 * Math.sin(i));
const CALLS = 3000;

async function time(f: (q: Float64Array) => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < CALLS; i++) await f(q);
  return ((performance.now() - t0) / CALLS) * 1000;
}

const graphs: ((q: Float64Array) => Promise<unknown>)[] = [];
console.log(`logistic regression, 4 chains batched, compiled; µs per call over ${CALLS} calls (backend ${tf.getBackend()})`);
for (let g = 0; g < 3; g++) {
  const f = batchedLogDensityFn(m, args, layout, 4, { compile: true });
  await f(q);
  graphs.push(f);
  await time(f); // warm-up
  console.log(`graph ${g + 1}: ${(await time(f)).toFixed(0)} µs`);
}
console.log(`graph 1 again: ${(await time(graphs[0]!)).toFixed(0)} µs`);
