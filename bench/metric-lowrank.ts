/**
 * The low-rank-plus-diagonal metric against the diagonal and the dense one:
 * min ESS per CPU second of NUTS, 4 chains x (iters warmup + iters draws).
 *
 * - `gaussian`: a 200-d Gaussian with 3 strong directions (extra variances
 *   400, 100, 25 over scales in [0.5, 2]; test/mcmc/lowrank-gaussian.ts),
 *   hand-written O(D k) gradient, the sampler API with vectorised chains
 *   (`sampleNutsBatched`). Min bulk ESS over the 200 coordinates and the 3
 *   strong directions.
 * - `model`: the hierarchical regression of models/hierarchical-regression.ts
 *   (J = 100 groups, K = 4 uncentred predictors: 107 parameters) through
 *   `infer` with default options except `massMatrix` (the compiled float64
 *   replay, vectorised chains). Min bulk ESS over every parameter.
 *
 * Metrics: `diag`, `lowrank` (forced), `auto` (the default: lowrank or diag
 * chosen per window above the dense cap), `dense` (O(D^2) per leapfrog step,
 * affordable at these sizes). Printed per run and as medians over the seeds
 * (`--seeds 1,2,3`), with the ratio of each median min-ESS per CPU second to
 * the diagonal's. CPU time of this process (the machine is shared with other
 * jobs, so wall time mostly measures them).
 *
 * Run: `npx tsx bench/metric-lowrank.ts [--seeds 1,2,3] [--iters 1000] [--only gaussian|model] [--metrics diag,lowrank,auto,dense]`
 *
 * @module
 */
import { initBackend } from '../src/backend/select.js';
import { essBulk } from '../src/diagnostics/ess.js';
import type { HMCDiagnostics } from '../src/infer/mcmc/hmc-engine.js';
import { type McmcSamples, sampleNutsBatched } from '../src/infer/mcmc/index.js';
import { describeMetricChoice } from '../src/infer/mcmc/metric-choice.js';
import type { MassMatrixOption } from '../src/infer/mcmc/metric-choice.js';
import { infer } from '../src/index.js';
import { hierarchicalData, hierarchicalRegression } from '../models/hierarchical-regression.js';
import { lowRankGaussian } from '../test/mcmc/lowrank-gaussian.js';
import { cpuSince, median, numberArg, table } from './util.js';

function listArg(name: string, fallback: string): string[] {
  const i = process.argv.indexOf(`--${name}`);
  return (i >= 0 ? process.argv[i + 1]! : fallback).split(',');
}

const SEEDS = listArg('seeds', '1,2,3').map(Number);
const ITERS = numberArg('iters', 1000);
const ONLY = listArg('only', 'gaussian,model');
const METRICS = listArg('metrics', 'diag,lowrank,auto,dense') as MassMatrixOption[];

/** One run's figures. */
interface Run {
  readonly cpu: number;
  readonly grads: number;
  readonly essMin: number;
  readonly metric: string;
  readonly divergences: number;
  readonly depthHits: number;
}

/** Bulk ESS of each chain-split column `(chains x draws)` given as a projection of the flat draws. */
function essOfProjection(r: McmcSamples, f: (row: Float64Array) => number): number {
  const d = r.dim;
  return essBulk(r.samples.map((s) => Float64Array.from({ length: r.draws }, (_, t) => f(s.subarray(t * d, t * d + d)))));
}

const gauss = lowRankGaussian(200, [400, 100, 25], 12);

async function gaussianRun(metric: MassMatrixOption, seed: number): Promise<Run> {
  const d = gauss.dim;
  const c0 = process.cpuUsage();
  const r = await sampleNutsBatched(gauss.batched, { dim: d, chains: 4, warmup: ITERS, draws: ITERS, seed, massMatrix: metric });
  const cpu = cpuSince(c0);
  let essMin = Infinity;
  for (let i = 0; i < d; i++) essMin = Math.min(essMin, essOfProjection(r, (row) => row[i]!));
  for (let j = 0; j < gauss.strengths.length; j++) {
    const w = gauss.directions.subarray(j * d, j * d + d);
    essMin = Math.min(essMin, essOfProjection(r, (row) => row.reduce((s, x, i) => s + x * w[i]!, 0)));
  }
  let divergences = 0;
  let depthHits = 0;
  for (const s of r.stats) {
    for (let t = 0; t < r.draws; t++) {
      divergences += s.divergent[t]!;
      if (s.treeDepth[t]! >= 10) depthHits += 1;
    }
  }
  return { cpu, grads: r.gradientEvaluations.reduce((a, b) => a + b, 0), essMin, metric: describeMetricChoice(r.metricKind, r.metricDecision).split(' (')[0]!, divergences, depthHits };
}

let data: ReturnType<typeof hierarchicalData> | undefined;

async function modelRun(metric: MassMatrixOption, seed: number): Promise<Run> {
  const c0 = process.cpuUsage();
  const post = await infer(hierarchicalRegression, { method: 'nuts', chains: 4, warmup: ITERS, samples: ITERS, seed, massMatrix: metric }, (data ??= hierarchicalData()));
  const cpu = cpuSince(c0);
  const diag = post.diagnostics as unknown as Partial<HMCDiagnostics> & { metricChoice?: string };
  let essMin = Infinity;
  for (const [, chains] of post.chainColumns()!) essMin = Math.min(essMin, essBulk(chains));
  return {
    cpu,
    grads: diag.gradientEvaluations ?? NaN,
    essMin,
    metric: String(diag.metricChoice ?? diag.metric?.[0] ?? '-').split(' (')[0]!,
    divergences: diag.divergences ?? 0,
    depthHits: diag.maxTreeDepthHits ?? 0,
  };
}

async function compare(name: string, run: (metric: MassMatrixOption, seed: number) => Promise<Run>): Promise<void> {
  console.log(`\n## ${name}: 4 chains x (${ITERS} + ${ITERS}), seeds ${SEEDS.join(', ')}`);
  const rows: string[][] = [];
  const perMetric = new Map<string, number>();
  const medianRows: string[][] = [];
  for (const metric of METRICS) {
    const runs: Run[] = [];
    for (const seed of SEEDS) {
      const r = await run(metric, seed);
      runs.push(r);
      rows.push([metric, String(seed), r.metric, r.cpu.toFixed(1), String(r.grads), r.essMin.toFixed(0), (r.essMin / r.cpu).toFixed(1), String(r.divergences), String(r.depthHits)]);
      console.log(rows[rows.length - 1]!.join('  '));
    }
    const m = median(runs.map((r) => r.essMin / r.cpu));
    perMetric.set(metric, m);
    medianRows.push([metric, median(runs.map((r) => r.cpu)).toFixed(1), median(runs.map((r) => r.grads)).toFixed(0), median(runs.map((r) => r.essMin)).toFixed(0), m.toFixed(1)]);
  }
  console.log(table(['massMatrix', 'seed', 'metric ran', 'CPU s', 'gradients', 'min ESS', 'min ESS/CPU s', 'divergent', 'depth hits'], rows));
  const base = perMetric.get('diag');
  console.log(`\nmedians over ${SEEDS.length} seeds:`);
  console.log(table(['massMatrix', 'CPU s', 'gradients', 'min ESS', 'min ESS/CPU s', 'vs diag'], medianRows.map((r) => [...r, base ? `${(Number(r[4]) / base).toFixed(2)}x` : '-'])));
}

await initBackend();
if (ONLY.includes('gaussian')) await compare('200-d Gaussian, 3 strong directions (sampleNutsBatched)', gaussianRun);
if (ONLY.includes('model')) await compare('hierarchical regression, 107 parameters (infer, default path)', modelRun);
