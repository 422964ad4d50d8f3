/**
 * Tempered SMC, compiled float64 rows against the per-particle path, at equal
 * particles.
 *
 * Two models with an exact log Z:
 *
 * - normal-normal: mu ~ N(0, 1), eight scalar observations y_i ~ N(mu, 1)
 *   (numbers throughout: the per-particle path's cheapest case);
 * - Bayesian linear regression: a, b ~ N(0, 1), y ~ N(a + b x, 0.5) with
 *   N = 20 points held in tensors.
 *
 * Rows: `infer(model, { method: 'tempered', particles })` with the default
 * compiled path (all particles rows of one recorded log density, HMC moves
 * of the whole population, adaptive number of moves) and with
 * `compile: false` (each particle a trace, single-site MH moves that re-run
 * the model, 10 per latent site per temperature). Each row prints the median
 * wall and CPU seconds per run (the machine is shared by other engineers, so
 * CPU time is the steadier figure), the median |log Z - exact| over the runs,
 * and the per-particle / compiled ratio of median CPU time. One untimed
 * warm-up run per row.
 *
 * Run: `npx tsx bench/tempered.ts [--particles 200] [--runs 3] [--per-particle-runs 2]`
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/backend/select.js';
import { model } from '../src/core/model.js';
import { Normal } from '../src/distributions/normal.js';
import { infer } from '../src/infer/index.js';
import { cpuSince, median, numberArg, table } from './util.js';

const PARTICLES = numberArg('particles', 200);
const RUNS = numberArg('runs', 3);
const PP_RUNS = numberArg('per-particle-runs', 2);

const ys = [1.2, 0.8, 1.9, 1.4, 0.3, 1.1, 1.6, 0.9];
const sumY = ys.reduce((a, b) => a + b, 0);
const normalNormal = model(async ({ sample, observe }) => {
  const mu = await sample('mu', Normal(0, 1));
  for (let i = 0; i < ys.length; i++) await observe(`y${i}`, Normal(mu, 1), ys[i]);
});
const nnLogZ = -0.5 * (ys.length * Math.log(2 * Math.PI) + Math.log(ys.length + 1) + ys.reduce((a, y) => a + y * y, 0) - (sumY * sumY) / (ys.length + 1));

const N = 20;
const xs = Array.from({ length: N }, (_, i) => -1 + (2 * i) / (N - 1));
const yr = xs.map((x, i) => 0.5 + 1.5 * x + 0.5 * Math.sin(3.1 * i));
const SIGMA = 0.5;
const regression = model(async ({ sample, observe }, x: tf.Tensor, y: tf.Tensor) => {
  const a = await sample('a', Normal(0, 1));
  const b = await sample('b', Normal(0, 1));
  await observe('y', Normal(tf.add(a, tf.mul(b, x)), SIGMA), y);
});

/** log N(y; 0, SIGMA^2 I + X X^T) with X = [1, x], by Cholesky in float64. */
function regressionLogZ(): number {
  const c = xs.map((xi, i) => xs.map((xj, j) => 1 + xi * xj + (i === j ? SIGMA * SIGMA : 0)));
  const l = c.map(() => new Array<number>(N).fill(0));
  for (let i = 0; i < N; i++) {
    for (let j = 0; j <= i; j++) {
      let s = c[i]![j]!;
      for (let k = 0; k < j; k++) s -= l[i]![k]! * l[j]![k]!;
      l[i]![j] = i === j ? Math.sqrt(s) : s / l[j]![j]!;
    }
  }
  const z = new Array<number>(N).fill(0);
  let logDet = 0;
  for (let i = 0; i < N; i++) {
    let s = yr[i]!;
    for (let k = 0; k < i; k++) s -= l[i]![k]! * z[k]!;
    z[i] = s / l[i]![i]!;
    logDet += 2 * Math.log(l[i]![i]!);
  }
  return -0.5 * (N * Math.log(2 * Math.PI) + logDet + z.reduce((a, v) => a + v * v, 0));
}

interface Row {
  wall: number;
  cpu: number;
  err: number;
}

async function measure(run: (seed: number) => Promise<{ logZ: number; path: unknown }>, exact: number, runs: number, path: string): Promise<Row> {
  await run(999); // warm-up
  const wall: number[] = [];
  const cpu: number[] = [];
  const err: number[] = [];
  for (let s = 0; s < runs; s++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const r = await run(s);
    wall.push((performance.now() - t0) / 1000);
    cpu.push(cpuSince(c0));
    err.push(Math.abs(r.logZ - exact));
    if (r.path !== path) throw new Error(`expected the ${path} path, got ${String(r.path)}`);
  }
  return { wall: median(wall), cpu: median(cpu), err: median(err) };
}

await initBackend('cpu');
const x = tf.tensor1d(xs);
const y = tf.tensor1d(yr);
const cases = [
  { name: 'normal-normal (8 scalar obs)', exact: nnLogZ, run: (compile: boolean | 'auto', seed: number) => infer(normalNormal, { method: 'tempered', particles: PARTICLES, seed, compile }) },
  { name: 'linear regression (N = 20)', exact: regressionLogZ(), run: (compile: boolean | 'auto', seed: number) => infer(regression, { method: 'tempered', particles: PARTICLES, seed, compile }, x, y) },
];
const rows: string[][] = [];
for (const c of cases) {
  const go = (compile: boolean | 'auto') => async (seed: number) => {
    const post = await c.run(compile, seed);
    const out = { logZ: post.logZ, path: post.diagnostics.path };
    post.dispose();
    return out;
  };
  const compiled = await measure(go('auto'), c.exact, RUNS, 'compiled');
  const perParticle = await measure(go(false), c.exact, PP_RUNS, 'per-particle');
  for (const [label, r] of [['compiled float64', compiled], ['per-particle (compile: false)', perParticle]] as const) {
    rows.push([c.name, label, r.wall.toFixed(3), r.cpu.toFixed(3), r.err.toFixed(3), label.startsWith('compiled') ? `${(perParticle.cpu / compiled.cpu).toFixed(1)}x faster (CPU)` : '1x']);
  }
}
console.log(`tempered SMC, ${PARTICLES} particles, cpu backend (median of ${RUNS} compiled / ${PP_RUNS} per-particle runs; shared machine)`);
console.log(table(['model', 'path', 'wall s', 'CPU s', '|log Z err|', 'ratio'], rows));
x.dispose();
y.dispose();
