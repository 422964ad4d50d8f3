/**
 * NUTS chains on worker threads against the same chains one after another,
 * on a model that cannot run batched (it branches on a random draw; see
 * test/fixtures/worker-model.ts): 2 chains x (500 warmup + 500 draws) by
 * default, sequential (`vectorize: false`) and on 2 worker threads, with the
 * draws checked identical. Also times a near-empty worker run (1 draw per
 * chain), which is the cost of starting the threads (tsx and tfjs imports).
 *
 * Run: `npx tsx bench/mcmc-workers.ts [--quick] [--chains N] [--threads N]`
 * from the repository root (`--quick`: 100 + 100 iterations).
 *
 * @module
 */
import { cpus } from 'node:os';
import { initBackend } from '../src/backend/select.js';
import { infer } from '../src/index.js';
import { BRANCHING_DATA, branching } from '../test/fixtures/worker-model.js';
import type { HMCDiagnostics, HMCEngineOptions } from '../src/infer/mcmc/hmc-engine.js';
import { table, timed } from './util.js';

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

const quick = process.argv.includes('--quick');
const chains = flag('--chains', 2);
const threads = flag('--threads', 2);
const iterations = quick ? 100 : 500;
const module = new URL('../test/fixtures/worker-model.ts', import.meta.url);

await initBackend('cpu');
const run = { method: 'nuts', chains, warmup: iterations, samples: iterations, seed: 1 } as const;
const workers = { module, exportName: 'branching', threads };

/** Wall time, CPU time of the process (all threads) and the busiest thread's sampler time. */
async function measure(options: HMCEngineOptions) {
  const cpu0 = process.cpuUsage();
  const r = await timed(() => infer(branching, options, BRANCHING_DATA));
  const cpu = process.cpuUsage(cpu0);
  const d = r.result.diagnostics as unknown as HMCDiagnostics;
  return { ...r, cpuMs: (cpu.user + cpu.system) / 1000, samplerMs: d.warmupMs + d.samplingMs };
}

const startup = await measure({ ...run, warmup: 0, samples: 1, workers });
const parallel = await measure({ ...run, workers });
const sequential = await measure({ ...run, vectorize: false });

const same = ['mu', 'sigma'].every((site) => parallel.result.draws.every((d, i) => d.values[site] === sequential.result.draws[i]!.values[site]));
console.log(`NUTS, ${chains} chains x (${iterations} + ${iterations}), model branching on a draw; ${cpus().length} cores, cpu backend`);
console.log(
  table(
    ['run', 'wall ms', 'cpu ms (all threads)', 'sampler ms (busiest thread)'],
    (
      [
        ['sequential (vectorize: false)', sequential],
        [`${threads} worker threads`, parallel],
        [`${threads} worker threads, 1 draw (startup)`, startup],
      ] as const
    ).map(([name, m]) => [name, m.ms.toFixed(0), m.cpuMs.toFixed(0), m.samplerMs.toFixed(0)]),
  ),
);
console.log(`speed-up ${(sequential.ms / parallel.ms).toFixed(2)}x; draws identical: ${same}`);
if (!same) process.exit(1);
