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
 * Then the fused whole-graph compiler (src/backend/jit/fused.ts) against
 * the per-kernel program on the single-chain records NUTS replays per
 * chain (eight schools, the linear regression N = 100, the logistic
 * regression N = 1000): µs of process CPU time per value-and-gradient
 * (`CompiledGraph.runRow`), median of 5 timings of 20000 calls (2000 for
 * the logistic regression), both compiled from the same record in the same
 * process.
 *
 * Run: `npx tsx bench/jit-graphs.ts`
 *
 * @module
 */
import { existsSync, readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/backend/select.js';
import { rngFrom } from '../src/core/rng.js';
import { batchedLogDensityFn, layoutOf, logDensityTensorFn } from '../src/infer/mcmc/potential.js';
import { CompiledGraph } from '../src/backend/jit/program.js';
import { traceTensorFunction } from '../src/backend/jit/trace.js';
import { logisticRegression } from '../models/logreg.js';
import { linearRegression } from '../models/linreg.js';
import { eightSchoolsData, eightSchoolsNoncentered } from '../models/posteriordb/eight-schools.js';
import type { Model } from '../src/core/model.js';
import { cpuSince, median, table } from './util.js';

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

/** µs of CPU per value-and-gradient of `m`'s single-chain record, fused and per-kernel. */
async function fusedVersusPerKernel(m: Model<never[], unknown>, a: unknown[], calls: number): Promise<{ fused: number; perKernel: number; kernels: number }> {
  const { layout } = await layoutOf(m, a as never[], rngFrom(1));
  const density = logDensityTensorFn(m, a as never[], layout, undefined);
  const x = tf.tensor1d(new Float32Array(layout.dim).fill(0.1));
  const traced = await traceTensorFunction(density, x);
  x.dispose();
  if (!traced.graph) throw new Error(`not traced: ${traced.reason}`);
  const q = Float64Array.from({ length: layout.dim }, (_, i) => 0.5 * Math.sin(1.7 * i));
  const out = new Float64Array(1);
  const grad = new Float64Array(layout.dim);
  const time = (fuse: boolean): number => {
    const c = CompiledGraph.compile(traced.graph!, { fuse }) as CompiledGraph;
    if (fuse && c.fused !== true) throw new Error(`not fused: ${c.fused}`);
    for (let i = 0; i < calls; i++) c.runRow(q, 0, out, 0, grad, 0); // warm-up
    const reps: number[] = [];
    for (let r = 0; r < 5; r++) {
      const c0 = process.cpuUsage();
      for (let i = 0; i < calls; i++) c.runRow(q, 0, out, 0, grad, 0);
      reps.push((cpuSince(c0) * 1e6) / calls);
    }
    return median(reps);
  };
  return { perKernel: time(false), fused: time(true), kernels: traced.graph.nodes.length };
}

const li = JSON.parse(readFileSync(new URL('../../shared/peers/linreg.json', import.meta.url), 'utf8')) as { x: number[]; y: number[]; prior: { alpha_sd: number } };
const rows: string[][] = [];
for (const [name, model, a, calls] of [
  ['eight schools NC', eightSchoolsNoncentered, [eightSchoolsData], 20000],
  ['linear regression N=100', linearRegression, [{ x: li.x, y: li.y, priorSd: li.prior.alpha_sd }], 20000],
  ['logistic regression N=1000', m, args, 2000],
] as const) {
  const r = await fusedVersusPerKernel(model as unknown as Model<never[], unknown>, a as unknown[], calls);
  rows.push([name, String(r.kernels), r.perKernel.toFixed(2), r.fused.toFixed(2), `${(r.perKernel / r.fused).toFixed(1)}x`]);
}
console.log('\nfused whole-graph function against the per-kernel program (single-chain record; µs of CPU per value and gradient, median of 5)');
console.log(table(['model', 'kernels', 'per-kernel µs', 'fused µs', 'speed-up'], rows));
