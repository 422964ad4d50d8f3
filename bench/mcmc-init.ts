/**
 * What chain initialisation costs (`init` of NUTS/HMC; see
 * src/infer/mcmc/initialise.ts): for each strategy, the gradient evaluations
 * per chain and the CPU time of starting 4 vectorised chains on the target
 * `infer` builds (the compiled float64 replay), against `'uniform'` (Stan's
 * default) measured in the same run.
 *
 * Each timing is one `sampleNutsBatched` call with no warmup, one draw and
 * tree depth 1 (initialisation plus at most two leapfrog steps), median over
 * `--reps` seeds (the same seeds for every strategy). Models: eight schools
 * (10 dimensions) and lotka_volterra (8 dimensions, an ODE solve with
 * sensitivities per evaluation).
 *
 * The machine is shared with other jobs: CPU time is the figure to read.
 * Run: `npx tsx bench/mcmc-init.ts [--reps 41]`
 *
 * @module
 */
import { initBackend } from '../src/backend/select.js';
import { rngFrom } from '../src/core/rng.js';
import type { Model } from '../src/core/model.js';
import { INIT_STRATEGIES, type InitStrategy } from '../src/infer/mcmc/initialise.js';
import { layoutOnly } from '../src/infer/mcmc/potential.js';
import { sampleNutsBatched } from '../src/infer/mcmc/sampler.js';
import { vectorisedChains } from '../src/infer/mcmc/vectorised-chains.js';
import eightSchools, { data as schoolsData } from '../models/eight-schools.js';
import { lotkaVolterra, lynxHareData } from '../models/posteriordb/lotka-volterra.js';
import { median, numberArg, table } from './util.js';

await initBackend((process.env.TYCHE_BACKEND ?? 'cpu') as 'cpu' | 'wasm');
const REPS = numberArg('reps', 41);
const CHAINS = 4;

async function rows(name: string, m: Model<unknown[], unknown>, args: unknown[], reps: number): Promise<string[][]> {
  const layout = await layoutOnly(m, args, rngFrom(1));
  const chosen = await vectorisedChains(m, args, layout, CHAINS, 'auto', new Float64Array(CHAINS * layout.dim));
  if (!chosen.target) throw new Error(`${name}: ${chosen.vectorized}`);
  const target = chosen.target;
  const cost = new Map<InitStrategy, { ms: number[]; evals: number[] }>();
  for (const s of INIT_STRATEGIES) cost.set(s, { ms: [], evals: [] });
  for (let r = 0; r < reps; r++) {
    // strategies interleaved, so a burst of load from other jobs falls on all of them
    for (const init of INIT_STRATEGIES) {
      const c0 = process.cpuUsage();
      const run = await sampleNutsBatched(target, { dim: layout.dim, chains: CHAINS, warmup: 0, draws: 1, maxTreeDepth: 1, seed: `init-bench/${r}`, init });
      const c = process.cpuUsage(c0);
      cost.get(init)!.ms.push((c.user + c.system) / 1e3);
      cost.get(init)!.evals.push(run.gradientEvaluations.reduce((a, b) => a + b, 0) / CHAINS);
    }
  }
  const base = median(cost.get('uniform')!.ms);
  return INIT_STRATEGIES.map((s) => {
    const ms = median(cost.get(s)!.ms);
    return [`${name} ${s}`, median(cost.get(s)!.evals).toFixed(0), ms.toFixed(2), (ms - base).toFixed(2), `${(ms / base).toFixed(1)}x`];
  });
}

const out = [
  ...(await rows('eight schools', eightSchools as unknown as Model<unknown[], unknown>, [schoolsData], REPS)),
  ...(await rows('lotka_volterra', lotkaVolterra as unknown as Model<unknown[], unknown>, [lynxHareData], Math.max(3, Math.round(REPS / 8)))),
];
console.log(`starting ${CHAINS} vectorised chains (init + <= 2 leapfrog steps), CPU ms, median over seeds (machine shared: CPU time):`);
console.log(table(['model / init', 'evals per chain', 'CPU ms', 'extra ms vs uniform', 'ratio'], out));
