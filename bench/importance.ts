/**
 * Importance sampling batched over particles against the per-particle path
 * (its baseline, `batched: false`) and WebPPL, in the same process.
 *
 * Models (exact log Z known for both):
 * - Dirichlet–Categorical: p ~ Dirichlet(1, 1, 1, 1), 20 categorical
 *   observations of p (tensor parameters, one vector observation);
 * - a plain linear regression: a, b ~ N(0, 2^2), y_i ~ N(a + b x_i, 1),
 *   10 points (tensor data; exact log Z from the Gaussian marginal).
 *
 * Rows, at 1000 and 20000 particles:
 * - tyche batched: `infer(m, { method: 'importance', particles })` (the
 *   default `batched: 'auto'`; the run's `diagnostics.execution` is checked
 *   to be `'batched'`); draws weighed by the float64 record;
 * - tyche per particle: `batched: false` (the path before), runs alternated
 *   with the batched ones in one sitting;
 * - WebPPL `Infer({ method: 'forward', samples })`: runs the model from the
 *   prior and sums its factor scores into the importance estimate of log Z
 *   (`normalizationConstant`), the same work as likelihood weighting, but
 *   its distribution ignores the weights (there is no weighted importance
 *   sampler in WebPPL 0.9.15);
 * - WebPPL `Infer({ method: 'SMC', particles })` with the likelihood in one
 *   `factor`: importance weights, then one resampling at that factor
 *   (sampling importance resampling), its log Z the importance estimate.
 *
 * Each row prints the median CPU and wall seconds per call (the machine is
 * shared: CPU time is the steadier figure) and the mean ± sd of the log Z
 * error against the exact value; ratios are of median CPU seconds. tyche
 * rows are timed after one untimed warm-up call, as WebPPL is at 1000.
 *
 * Run: `npx tsx bench/importance.ts [--runs 3] [--per-particle-runs 3] [--per-particle-runs-20k 1] [--webppl-runs 3] [--webppl-runs-20k 1] [--sizes 1000,20000]`
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/backend/select.js';
import { type Model, model } from '../src/core/model.js';
import * as ops from '../src/core/value.js';
import { Categorical } from '../src/distributions/categorical.js';
import { Dirichlet } from '../src/distributions/dirichlet.js';
import { Normal } from '../src/distributions/normal.js';
import '../src/infer/importance.js';
import { infer } from '../src/infer/registry.js';
import { cpuSince, meanSd, median, numberArg, table } from './util.js';
import { loadWebppl, runWebppl } from './webppl.js';

const RUNS = numberArg('runs', 3);
const PER_PARTICLE_RUNS = numberArg('per-particle-runs', 3);
const PER_PARTICLE_RUNS_20K = numberArg('per-particle-runs-20k', 1);
const WEBPPL_RUNS = numberArg('webppl-runs', 3);
const WEBPPL_RUNS_20K = numberArg('webppl-runs-20k', 1);
const SIZES = process.argv.includes('--sizes') ? process.argv[process.argv.indexOf('--sizes') + 1].split(',').map(Number) : [1000, 20000];

const COUNTS = [3, 7, 1, 9];
const CATS = COUNTS.flatMap((c, k) => Array<number>(c).fill(k));
const XS = Array.from({ length: 10 }, (_, i) => i / 5 - 1);
const YS = XS.map((x, i) => 0.5 + 1.5 * x + 0.8 * Math.sin(3 * i));

/** ln((x - 1)!) for integer x. */
function lnFact(x: number): number {
  let s = 0;
  for (let k = 2; k < x; k++) s += Math.log(k);
  return s;
}

interface Problem {
  readonly name: string;
  readonly model: Model<[], unknown>;
  readonly exact: number;
  /** The WebPPL program's model (with the likelihood in one factor). */
  readonly webppl: string;
}

function problems(): Problem[] {
  const K = COUNTS.length;
  const cats = tf.tensor1d(CATS, 'int32');
  const dirCat = model(async ({ sample, observe }) => {
    const p = await sample('p', Dirichlet(tf.ones([K])));
    await observe('y', Categorical(p), cats);
    return p;
  });
  const x = tf.tensor1d(XS);
  const y = tf.tensor1d(YS);
  const regression = model(async ({ sample, observe }) => {
    const a = await sample('a', Normal(0, 2));
    const b = await sample('b', Normal(0, 2));
    await observe('y', Normal(ops.add(a, ops.mul(b, x)), 1), y);
    return b;
  });
  // regression: y ~ N(0, I + 4 X X'), by the determinant lemma and Woodbury on L = X'X + I/4
  const n = XS.length;
  const sx = XS.reduce((s, v) => s + v, 0);
  const sxx = XS.reduce((s, v) => s + v * v, 0);
  const sy = YS.reduce((s, v) => s + v, 0);
  const sxy = XS.reduce((s, v, i) => s + v * YS[i], 0);
  const syy = YS.reduce((s, v) => s + v * v, 0);
  const det = (n + 0.25) * (sxx + 0.25) - sx * sx;
  const ma = ((sxx + 0.25) * sy - sx * sxy) / det;
  const mb = ((n + 0.25) * sxy - sx * sy) / det;
  const regExact = -0.5 * (n * Math.log(2 * Math.PI) + Math.log(16 * det) + syy - (sy * ma + sxy * mb));
  return [
    {
      name: 'Dirichlet–Categorical',
      model: dirCat,
      exact: lnFact(K) - lnFact(K + CATS.length) + COUNTS.reduce((s, c) => s + lnFact(1 + c), 0),
      webppl: `var data = ${JSON.stringify(CATS)};
var model = function() {
  var p = dirichlet({alpha: Vector([1, 1, 1, 1])});
  var d = Categorical({ps: p, vs: [0, 1, 2, 3]});
  factor(sum(map(function(y) { return d.score(y); }, data)));
  return T.get(p, 0);
};`,
    },
    {
      name: 'linear regression',
      model: regression,
      exact: regExact,
      webppl: `var xs = ${JSON.stringify(XS)};
var ys = ${JSON.stringify(YS)};
var model = function() {
  var a = gaussian(0, 2);
  var b = gaussian(0, 2);
  factor(sum(map2(function(x, y) { return Gaussian({mu: a + b * x, sigma: 1}).score(y); }, xs, ys)));
  return b;
};`,
    },
  ];
}

interface Run {
  wall: number;
  cpu: number;
  logZ: number;
}

/** One timed tyche call (after checking which path ran). */
async function tycheRun(p: Problem, n: number, batched: boolean, seed: number): Promise<Run> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const post = await infer(p.model, { method: 'importance', particles: n, seed, batched: batched ? 'auto' : false });
  const run = { wall: (performance.now() - t0) / 1000, cpu: cpuSince(c0), logZ: post.logZ };
  const want = batched ? 'batched' : 'per-particle';
  if (post.diagnostics.execution !== want) throw new Error(`${p.name}: expected the ${want} path, got ${String(post.diagnostics.execution)} (${String(post.diagnostics.notBatched)})`);
  post.dispose();
  return run;
}

function webpplProgram(p: Problem, method: 'forward' | 'SMC', n: number, runs: number, warmUp: boolean): string {
  const opts = method === 'forward' ? `{method: 'forward', samples: ${n}}` : `{method: 'SMC', particles: ${n}}`;
  return `${p.webppl}
${warmUp ? `Infer(${opts}, model); // warm-up, untimed` : ''}
repeat(${runs}, function() {
  var c0 = process.cpuUsage();
  var t0 = performance.now();
  var d = Infer(${opts}, model);
  var c1 = process.cpuUsage();
  return {wall: (performance.now() - t0) / 1000, cpu: (c1.user + c1.system - c0.user - c0.system) / 1e6, logZ: d.normalizationConstant};
});`;
}

async function main(): Promise<void> {
  const info = await initBackend();
  const webppl = loadWebppl();
  const os = await import('node:os');
  console.log(`importance sampling: tyche batched vs per particle vs WebPPL; backend ${info.name}; Node ${process.version}; WebPPL ${webppl ? webppl.version : 'not installed'}`);
  console.log(`the machine is shared (load average ${os.loadavg()[0].toFixed(1)}): compare CPU seconds`);
  const rows: string[][] = [];
  for (const p of problems()) {
    for (const n of SIZES) {
      // warm-up, untimed (both paths)
      await tycheRun(p, Math.min(n, 1000), true, 999);
      await tycheRun(p, Math.min(n, 200), false, 999);
      const batched: Run[] = [];
      const single: Run[] = [];
      const singleRuns = n >= 20000 ? PER_PARTICLE_RUNS_20K : PER_PARTICLE_RUNS;
      // alternated in one sitting: batched, per particle, batched, ...
      for (let r = 0; r < Math.max(RUNS, singleRuns); r++) {
        if (r < RUNS) batched.push(await tycheRun(p, n, true, r + 1));
        if (r < singleRuns) single.push(await tycheRun(p, n, false, r + 1));
      }
      const row = (impl: string, runs: Run[]) => ({ impl, runs, cpu: median(runs.map((x) => x.cpu)) });
      const out = [row('tyche batched', batched), ...(single.length ? [row('tyche per particle (batched: false)', single)] : [])];
      if (webppl) {
        const wr = n >= 20000 ? WEBPPL_RUNS_20K : WEBPPL_RUNS;
        for (const method of ['forward', 'SMC'] as const) {
          if (wr <= 0) continue;
          const runs = await runWebppl<Run[]>(webppl.wp, webpplProgram(p, method, n, wr, n < 20000));
          out.push(row(`WebPPL ${method === 'forward' ? "'forward' (log Z only)" : "'SMC', one factor (SIR)"}`, runs));
        }
      }
      const base = out[0].cpu;
      const perParticle = single.length ? median(single.map((x) => x.cpu)) : NaN;
      for (const o of out) {
        rows.push([
          p.name,
          String(n),
          o.impl,
          String(o.runs.length),
          median(o.runs.map((x) => x.wall)).toFixed(3),
          o.cpu.toFixed(3),
          meanSd(o.runs.map((x) => x.logZ - p.exact)),
          o === out[0] ? '1' : (o.cpu / base).toFixed(1),
          Number.isNaN(perParticle) ? '-' : (perParticle / o.cpu).toFixed(1),
        ]);
      }
    }
  }
  console.log(table(['problem', 'N', 'implementation', 'runs', 'wall s', 'CPU s', 'log Z err', 'CPU / batched', 'per-particle CPU / this'], rows));
}

await main();
