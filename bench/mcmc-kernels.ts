/**
 * NUTS kernel throughput on hand-written Float64Array targets (no model, no
 * tensors): what the sampler itself costs, and the ceiling the model layer
 * can approach.
 *
 *   - a correlated 10-D Gaussian (diag and dense metrics);
 *   - eight schools, non-centered (../shared/peers/eight_schools.json), the
 *     peers' setting: 4 chains x (1000 warmup + 1000 draws). Stan: 3602 ESS/s.
 *
 * Each run is timed as one sampling call, sequential chains (single-point
 * target) and vectorised chains (batched target, here a plain loop over the
 * rows). ESS is the minimum rank-normalised bulk ESS over the coordinates;
 * ESS/s divides by the wall time of the whole call (warmup included, as in
 * the peers' table); ESS/grad divides by the gradient evaluations.
 *
 * Run: `npx tsx bench/mcmc-kernels.ts [--seeds N]` from the repository root.
 *
 * @module
 */
import { essBulk } from '../src/diagnostics/ess.js';
import {
  type LogDensityTarget,
  type McmcSamples,
  batchTarget,
  parameterDraws,
  sampleNuts,
  sampleNutsBatched,
  samplerDigest,
} from '../src/infer/mcmc/index.js';
import { eightSchoolsNonCentered, gaussian, randomCovariance } from '../test/mcmc/targets.js';
import { median, table } from './util.js';

const seedsArg = process.argv.indexOf('--seeds');
const seeds = seedsArg >= 0 ? Number(process.argv[seedsArg + 1]) : 3;

interface Row {
  readonly ms: number;
  readonly ess: number;
  readonly grads: number;
  readonly divergences: number;
}

function measure(r: McmcSamples): Row {
  let ess = Infinity;
  for (let j = 0; j < r.dim; j++) ess = Math.min(ess, essBulk(parameterDraws(r, j)));
  return {
    ms: r.timing.totalMs,
    ess,
    grads: r.gradientEvaluations.reduce((a, b) => a + b, 0),
    divergences: samplerDigest(r).totalDivergences,
  };
}

async function bench(
  name: string,
  target: LogDensityTarget,
  dim: number,
  massMatrix: 'diag' | 'dense',
): Promise<string[][]> {
  const rows: string[][] = [];
  for (const vectorised of [false, true]) {
    const runs: Row[] = [];
    for (let s = 0; s < seeds; s++) {
      const options = { dim, chains: 4, warmup: 1000, draws: 1000, seed: 1000 + s, massMatrix } as const;
      const r = vectorised
        ? await sampleNutsBatched(batchTarget(target, dim), options)
        : await sampleNuts(target, options);
      runs.push(measure(r));
    }
    const ms = median(runs.map((r) => r.ms));
    const ess = median(runs.map((r) => r.ess));
    const essPerS = median(runs.map((r) => (1000 * r.ess) / r.ms));
    const essPerGrad = median(runs.map((r) => r.ess / r.grads));
    const usPerGrad = median(runs.map((r) => (1000 * r.ms) / r.grads));
    rows.push([
      `${name} ${massMatrix}${vectorised ? ' vectorised' : ''}`,
      ms.toFixed(0),
      ess.toFixed(0),
      essPerS.toFixed(0),
      essPerGrad.toFixed(3),
      usPerGrad.toFixed(2),
      runs.map((r) => r.divergences).join('/'),
    ]);
  }
  return rows;
}

const cov10 = randomCovariance(10, 42, [0.3, 5]);
const mean10 = Float64Array.from({ length: 10 }, (_, i) => i - 4.5);
const rows = [
  ...(await bench('gaussian-10', gaussian(mean10, cov10).target, 10, 'diag')),
  ...(await bench('gaussian-10', gaussian(mean10, cov10).target, 10, 'dense')),
  ...(await bench('eight-schools-nc', eightSchoolsNonCentered(), 10, 'diag')),
];
console.log(`NUTS, 4 chains x (1000 + 1000), median of ${seeds} seeds; hand-written gradients\n`);
console.log(table(['run', 'ms', 'min ESS', 'ESS/s', 'ESS/grad', 'us/grad', 'divergences'], rows));
console.log('\nStan (peers README), eight schools NC: 0.60 s, ESS/s 3602. WebPPL HMC: ESS/s 140.');
