/**
 * A data-heavy model against Stan: posteriordb's diamonds (a Gaussian
 * regression of log price on 24 centred predictors, N = 5000; written for
 * one chain in `models/posteriordb/diamonds.ts`) under NUTS with 4 chains,
 * 1000 warmup + 1000 draws each and default options (the metric chosen
 * automatically, the compiled float64 replay where `'auto'` picks it), and
 * the same model and data under rstan (`bench/stan/diamonds.stan`, run by
 * `bench/stan/run-stan.R`: 4 chains one after another, cores = 1) in the
 * same sitting.
 *
 * Printed, per run and as medians over the runs (seeds 1, 2, 3, ...):
 * - tyche: CPU seconds of the whole `infer` call (warmup, sampling and the
 *   draws' completion), gradient evaluations, µs of CPU per gradient over
 *   the run, the minimum and median over the 26 parameters of rank-normalised
 *   bulk ESS, and min ESS per CPU second; the metric and chains path used;
 * - Stan: its own sampler seconds (the sum of `get_elapsed_time` over the
 *   chains, warmup included; rstan 2.21 measures it with the process clock),
 *   leapfrog steps, tree-depth hits, the same ESS figures, and min ESS per
 *   sampler second;
 * - the ratio of tyche's min ESS per CPU second to Stan's per sampler second
 *   (goal: above 1), and the largest |z| between the two posteriors' means
 *   (the standard error from both runs' ESS);
 * - one gradient of the log density alone (the float64 replay, µs of CPU,
 *   median of 5 timings of 50 calls).
 *
 * `--only auto` prints instead the measurements behind the `'auto'` rule
 * (`WORK_PER_KERNEL` in src/infer/mcmc/compiled-density.ts): µs of CPU per
 * gradient of K = 1, 4, 16, 64 chains of a model written to run batched,
 * on tfjs (one batched model run, float32, the default backend) against the
 * float64 replay of one chain's record, with the replay's element operations
 * per kernel; models: logistic regression (generated data, N = 1000 and
 * 5000, D = 10) and the diamonds regression written with `matVec`.
 *
 * The machine is shared with other jobs, so CPU time is the fair figure for
 * both sides (Stan's clock is its process's too).
 *
 * Run: `npx tsx bench/data-heavy.ts [--runs 3 | --seeds 1,2,3] [--iters 1000] [--stan run|FILE|none] [--only nuts|auto]`
 * (`--stan run`, the default, runs rstan now and skips it, saying why, when
 * `Rscript` or rstan is missing; `FILE` reads lines that run-stan.R printed).
 *
 * @module
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/backend/select.js';
import { rngFrom } from '../src/core/rng.js';
import type { Model } from '../src/core/model.js';
import { essBulk } from '../src/diagnostics/ess.js';
import type { HMCDiagnostics } from '../src/infer/mcmc/hmc-engine.js';
import { batchedLogDensityFn, layoutOf, replayedChainsLogDensityFn } from '../src/infer/mcmc/potential.js';
import { HalfStudentT, Independent, Normal, StudentT, infer, model, ops } from '../src/index.js';
import { matVec } from '../models/linear.js';
import { logisticRegression } from '../models/logreg.js';
import { type DiamondsInputs, diamonds, diamondsData, diamondsInputs } from '../models/posteriordb/diamonds.js';
import { cpuMicrosPerCall, cpuSince, median, numberArg, table } from './util.js';

const RUNS = numberArg('runs', 3);
/** tyche's seeds (`--seeds 1,2,3`; default 1 .. --runs). */
const SEEDS = (() => {
  const i = process.argv.indexOf('--seeds');
  return i >= 0 ? process.argv[i + 1]!.split(',').map(Number) : Array.from({ length: RUNS }, (_, k) => k + 1);
})();
const ONLY = (() => {
  const i = process.argv.indexOf('--only');
  return i >= 0 ? process.argv[i + 1]! : 'nuts';
})();
const ITERS = numberArg('iters', 1000);
const stanArg = (() => {
  const i = process.argv.indexOf('--stan');
  return i >= 0 ? process.argv[i + 1]! : 'run';
})();

/** One line of bench/stan/run-stan.R. */
interface StanRun {
  readonly seed: number;
  readonly sampler_s: number;
  readonly ess: number;
  readonly ess_median: number;
  readonly leapfrog: number;
  readonly divergences: number;
  readonly treedepth_hits?: number;
  readonly mean?: Record<string, number>;
  readonly sd?: Record<string, number>;
}

/** Stan's runs, or why there are none. */
function stanRuns(): StanRun[] | string {
  if (stanArg === 'none') return 'skipped (--stan none)';
  let text: string;
  if (stanArg === 'run') {
    const r = spawnSync('Rscript', ['-e', 'library(rstan); library(posterior); library(jsonlite)'], { encoding: 'utf8' });
    if (r.error) return 'skipped: Rscript is not installed (see ../shared/peers/README.md for the rstan set-up)';
    if (r.status !== 0) return `skipped: R lacks rstan, posterior or jsonlite (${(r.stderr ?? '').trim().split('\n').pop()})`;
    const script = new URL('./stan/run-stan.R', import.meta.url).pathname;
    const peers = new URL('../../shared/peers/', import.meta.url).pathname;
    console.log(`running rstan (${script} diamonds, ${RUNS} seeds; compiles the model once, ~30 s) ...`);
    text = execFileSync('Rscript', [script, existsSync(peers) ? peers : '.', new URL('../models/data/', import.meta.url).pathname, 'diamonds', '--seeds', String(RUNS)], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    });
  } else text = readFileSync(stanArg, 'utf8');
  const runs = text
    .split('\n')
    .filter((l) => l.trim().startsWith('{'))
    .map((l) => JSON.parse(l) as StanRun & { model: string })
    .filter((r) => r.model === 'diamonds');
  return runs.length > 0 ? runs : `no diamonds lines in ${stanArg}`;
}

/** tyche's parameter names (`b[0]`) as Stan's (`b[1]`). */
const stanName = (n: string): string => n.replace(/\[(\d+)\]$/, (_m, i: string) => `[${Number(i) + 1}]`);

interface TycheRun {
  readonly seed: number;
  readonly cpu: number;
  readonly wall: number;
  readonly grads: number;
  readonly essMin: number;
  readonly essMedian: number;
  readonly mean: Map<string, number>;
  readonly sd: Map<string, number>;
  readonly ess: Map<string, number>;
  readonly divergences: number;
  readonly depthHits: number;
  readonly metric: string;
  readonly path: string;
  readonly compiled: string;
}

async function tycheRun(seed: number): Promise<TycheRun> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const post = await infer(diamonds, { method: 'nuts', chains: 4, warmup: ITERS, samples: ITERS, seed }, data);
  const cpu = cpuSince(c0);
  const wall = (performance.now() - t0) / 1000;
  const d = post.diagnostics as unknown as Partial<HMCDiagnostics> & { chainsPath?: string; metricChoice?: string };
  const mean = new Map<string, number>();
  const sd = new Map<string, number>();
  const ess = new Map<string, number>();
  for (const [name, chains] of post.chainColumns()!) {
    const m = post.moments(name);
    mean.set(stanName(name), m.mean);
    sd.set(stanName(name), m.sd);
    ess.set(stanName(name), essBulk(chains));
  }
  const e = [...ess.values()];
  return {
    seed,
    cpu,
    wall,
    grads: d.gradientEvaluations ?? NaN,
    essMin: Math.min(...e),
    essMedian: median(e),
    mean,
    sd,
    ess,
    divergences: d.divergences ?? 0,
    depthHits: d.maxTreeDepthHits ?? 0,
    metric: (d.metricChoice ?? '-').split(' ')[0]!,
    path: String(d.chainsPath ?? d.vectorized).split(':')[0]!,
    compiled: d.compiled === true ? 'yes' : `no (${String(d.compiled)})`,
  };
}

/** One gradient of the log density alone (the replay of one chain's record), µs of CPU. */
async function gradientMicros(): Promise<{ us: number; status: string }> {
  const m = diamonds as unknown as Model<unknown[], unknown>;
  const { layout } = await layoutOf(m, [data], rngFrom(1));
  const q = new Float64Array(layout.dim).map((_, i) => 0.1 * Math.sin(i + 1));
  const f = replayedChainsLogDensityFn(m, [data], layout, 1, { compile: true });
  await f(q);
  if (f.compileStatus() !== true) return { us: NaN, status: String(f.compileStatus()) };
  for (let i = 0; i < 50; i++) f.replayOnly(q);
  const times: number[] = [];
  for (let r = 0; r < 5; r++) {
    const c0 = process.cpuUsage();
    for (let i = 0; i < 50; i++) f.replayOnly(q);
    times.push((cpuSince(c0) / 50) * 1e6);
  }
  return { us: median(times), status: 'compiled' };
}

/** The diamonds regression written to run batched too (a chain axis on b, Intercept and sigma broadcasts through `matVec` and the plate). */
const diamondsBatchable = model(async ({ sample, plate }, d: DiamondsInputs) => {
  const [n, k] = d.Xc.shape;
  const b = (await sample('b', Independent(Normal(0, 1).expand([k]), 1))) as tf.Tensor;
  const intercept = await sample('Intercept', StudentT(3, 8, 10));
  const sigma = await sample('sigma', HalfStudentT(3, 10));
  await plate('data', n, async (_i, p) => {
    await p.observe('Y', Normal(ops.add(intercept, matVec(d.Xc, b)), sigma), d.Y);
  });
});

/** Logistic-regression data, generated: N rows of D standard-normal-ish predictors, y from fixed coefficients. */
function logregData(n: number, dim: number): { X: tf.Tensor2D; y: number[] } {
  const rng = rngFrom(7);
  const x = new Float32Array(n * dim).map(() => rng.normal());
  const y = Array.from({ length: n }, (_, i) => {
    let eta = 0.3;
    for (let j = 0; j < dim; j++) eta += x[i * dim + j]! * (j % 2 ? 0.5 : -0.4);
    return rng.uniform() < 1 / (1 + Math.exp(-eta)) ? 1 : 0;
  });
  return { X: tf.tensor2d(x, [n, dim]), y };
}

/** µs of CPU per call (median of 5 timings, after 3 warm-up calls). */
const perCall = (f: () => unknown, calls: number): Promise<number> => cpuMicrosPerCall(f, calls, 3);

/** The `'auto'` rule's measurements: batched tfjs model run against the replay, per gradient of K chains. */
async function autoRule(): Promise<void> {
  console.log(`'auto' rule: µs of CPU per gradient of K chains, a batched model run on tfjs (${tf.getBackend()}, float32) against the float64 replay of one chain's record (compile: true)\n`);
  const rows: string[][] = [];
  const cases: [string, Model<unknown[], unknown>, unknown[]][] = [
    ['logreg N=1000 D=10', logisticRegression as unknown as Model<unknown[], unknown>, [logregData(1000, 10)]],
    ['logreg N=5000 D=10', logisticRegression as unknown as Model<unknown[], unknown>, [logregData(5000, 10)]],
    ['diamonds N=5000 K=24 (batchable)', diamondsBatchable as unknown as Model<unknown[], unknown>, [diamondsInputs(diamondsData())]],
  ];
  for (const [name, m, args] of cases) {
    const { layout } = await layoutOf(m, args, rngFrom(1));
    for (const K of [1, 4, 16, 64]) {
      const q = new Float64Array(K * layout.dim).map((_, i) => 0.05 * Math.sin(i + 1));
      const onTfjs = batchedLogDensityFn(m, args, layout, K, { compile: false });
      const replay = replayedChainsLogDensityFn(m, args, layout, K, { compile: true });
      await replay(q);
      if (replay.compileStatus() !== true) throw new Error(`${name}: not compiled (${String(replay.compileStatus())})`);
      const w = replay.work()!;
      const tT = await perCall(() => onTfjs(q), 10);
      const tR = await perCall(() => replay(q), Math.max(3, Math.round(40 / K)));
      rows.push([name, String(K), (w.elements / w.kernels).toFixed(0), tT.toFixed(0), tR.toFixed(0), `${(tT / tR).toFixed(2)}x`]);
    }
  }
  console.log(table(['model', 'chains', 'element ops per kernel', 'tfjs µs', 'replay µs', 'tfjs / replay'], rows));
}

await initBackend();
if (ONLY === 'auto') {
  await autoRule();
  process.exit(0);
}
// (the data's tensors are made after the backend is chosen)
const data = diamondsInputs(diamondsData());
console.log(`diamonds (posteriordb diamonds-diamonds, N = 5000, K = 24): NUTS, 4 chains x (${ITERS} warmup + ${ITERS} draws), default options; backend ${tf.getBackend()}; seeds ${SEEDS.join(', ')}\n`);
const g = await gradientMicros();
console.log(`one gradient of the log density (float64 replay, one chain): ${g.us.toFixed(0)} µs of CPU (${g.status})\n`);

const runs: TycheRun[] = [];
for (const s of SEEDS) runs.push(await tycheRun(s));
const stan = stanRuns();

const f0 = (x: number): string => (Number.isFinite(x) ? x.toFixed(0) : '-');
console.log(
  table(
    ['tyche run', 'cpu s', 'wall s', 'gradients', 'µs/grad (cpu)', 'min ESS', 'median ESS', 'min ESS/cpu-s', 'div', 'depth hits', 'metric', 'chains', 'compiled'],
    runs.map((r) => [
      `seed ${r.seed}`,
      r.cpu.toFixed(1),
      r.wall.toFixed(1),
      String(r.grads),
      ((r.cpu * 1e6) / r.grads).toFixed(0),
      f0(r.essMin),
      f0(r.essMedian),
      (r.essMin / r.cpu).toFixed(1),
      String(r.divergences),
      String(r.depthHits),
      r.metric,
      r.path,
      r.compiled,
    ]),
  ),
);
const tycheRate = median(runs.map((r) => r.essMin / r.cpu));
console.log(`median min ESS per CPU second: ${tycheRate.toFixed(1)}; median ESS per CPU second: ${median(runs.map((r) => r.essMedian / r.cpu)).toFixed(1)}\n`);

if (typeof stan === 'string') console.log(`Stan: ${stan}`);
else {
  console.log(
    table(
      ['Stan run', 'sampler s', 'leapfrog', 'µs/leapfrog', 'min ESS', 'median ESS', 'min ESS/sampler-s', 'div', 'depth hits'],
      stan.map((r) => [
        `seed ${r.seed}`,
        r.sampler_s.toFixed(1),
        String(r.leapfrog),
        ((r.sampler_s * 1e6) / r.leapfrog).toFixed(1),
        f0(r.ess),
        f0(r.ess_median),
        (r.ess / r.sampler_s).toFixed(1),
        String(r.divergences),
        String(r.treedepth_hits ?? '-'),
      ]),
    ),
  );
  const stanRate = median(stan.map((r) => r.ess / r.sampler_s));
  const stanMedianRate = median(stan.map((r) => r.ess_median / r.sampler_s));
  console.log(`median min ESS per sampler second: ${stanRate.toFixed(1)}; median ESS per sampler second: ${stanMedianRate.toFixed(1)}\n`);
  // the two posteriors should agree: |z| of each mean difference, standard errors from both sides' ESS
  let maxZ = 0;
  let worst = '';
  for (const sr of stan) {
    if (!sr.mean || !sr.sd) continue;
    for (const tr of runs) {
      for (const [name, m] of tr.mean) {
        const ms = sr.mean[name];
        const ss = sr.sd[name];
        if (ms === undefined || ss === undefined) continue;
        const se = Math.sqrt((tr.sd.get(name)! ** 2) / tr.ess.get(name)! + ss ** 2 / sr.ess);
        const z = Math.abs(m - ms) / se;
        if (z > maxZ) [maxZ, worst] = [z, name];
      }
    }
  }
  if (worst) console.log(`posteriors: largest |z| of tyche's mean against Stan's over all run pairs and parameters: ${maxZ.toFixed(1)} (${worst})`);
  console.log(`tyche / Stan, min ESS per second (tyche's whole infer call in CPU s, Stan's sampler s): ${(tycheRate / stanRate).toFixed(2)}x; median ESS per second: ${(median(runs.map((r) => r.essMedian / r.cpu)) / stanMedianRate).toFixed(2)}x`);
}
