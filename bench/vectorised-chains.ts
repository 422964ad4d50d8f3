/**
 * Models written for one chain, run with several chains: the cost of one
 * log-density gradient per chain on each path, and whole NUTS runs.
 *
 * - gradient µs per chain (median of 5 timings of `--calls` calls, CPU time):
 *   the model run on tfjs (float32, once per chain: what sequential chains
 *   paid for a model that cannot run batched) against the float64 replay of
 *   its single-chain record (`replayedChainsLogDensityFn`, the vectorised
 *   path); models: GARCH(1,1) (a recursion of scalars), gp_pois_regr (a GP
 *   with a Cholesky, N = 11) and diamonds (a regression with N = 5000, K = 24);
 * - NUTS, 4 chains, on GARCH: vectorised replay (the default now) against
 *   sequential chains on tfjs (`vectorize: false, compile: false`, what the
 *   plain model got before), wall and CPU seconds and the ratio.
 *
 * The machine is shared with other jobs: CPU time is the fairer figure.
 * Run: `npx tsx bench/vectorised-chains.ts [--calls 200] [--iters 100]` (NUTS warmup = draws = iters)
 *
 * @module
 */
import { initBackend } from '../src/backend/select.js';
import { rngFrom } from '../src/core/rng.js';
import type { Model } from '../src/core/model.js';
import { infer } from '../src/index.js';
import { layoutOf, logDensityFn, replayedChainsLogDensityFn } from '../src/infer/mcmc/potential.js';
import { gpPoisRegr, gpPoisRegrData } from '../models/posteriordb/gp-pois-regr.js';
import { diamonds, diamondsData, diamondsInputs } from '../models/posteriordb/diamonds.js';
import { cpuMicrosPerCall, cpuSince, median, numberArg, table } from './util.js';
import { garch } from '../models/garch.js';

await initBackend((process.env.TYCHE_BACKEND ?? 'cpu') as 'cpu' | 'wasm');
const CALLS = numberArg('calls', 200);

const garchY = Array.from({ length: 100 }, (_, t) => Math.sin(0.7 * t) * (1 + 0.5 * Math.cos(0.13 * t)));

const perCall = (f: () => unknown, calls: number): Promise<number> => cpuMicrosPerCall(f, calls);

async function gradientRow(name: string, m: Model<unknown[], unknown>, args: unknown[], calls: number): Promise<string[]> {
  const { layout } = await layoutOf(m, args, rngFrom(1));
  const q = new Float64Array(layout.dim).map((_, i) => 0.1 * Math.sin(i + 1));
  const tfjs = logDensityFn(m, args, layout, { compile: false });
  const replay = replayedChainsLogDensityFn(m, args, layout, 1, { compile: true });
  await replay(q);
  if (replay.compileStatus() !== true) return [name, String(layout.dim), '-', '-', `not compiled: ${replay.compileStatus()}`];
  const tTfjs = await perCall(() => tfjs(q), Math.max(5, Math.round(calls / 10)));
  const tReplay = await perCall(() => replay.replayOnly(q), calls);
  const w = replay.work()!;
  return [name, String(layout.dim), tTfjs.toFixed(0), tReplay.toFixed(1), `${(tTfjs / tReplay).toFixed(1)}x (${w.elements} element ops, ${w.kernels} kernels)`];
}

const rows = [
  await gradientRow('garch T=100', garch as unknown as Model<unknown[], unknown>, [garchY], CALLS),
  await gradientRow('gp_pois_regr', gpPoisRegr as unknown as Model<unknown[], unknown>, [gpPoisRegrData], CALLS),
  await gradientRow('diamonds N=5000', diamonds as unknown as Model<unknown[], unknown>, [diamondsInputs(diamondsData())], Math.max(10, Math.round(CALLS / 10))),
];
console.log('gradient per chain, µs of CPU time (median of 5):');
console.log(table(['model', 'dim', 'tfjs f32', 'replay f64', 'ratio'], rows));

const ITERS = numberArg('iters', 100);
const opts = { method: 'nuts' as const, chains: 4, warmup: ITERS, samples: ITERS, seed: 1 };
async function nutsRun(extra: Record<string, unknown>): Promise<{ wall: number; cpu: number; path: string }> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const p = await infer(garch, { ...opts, ...extra }, garchY);
  return { wall: (performance.now() - t0) / 1000, cpu: cpuSince(c0), path: String(p.diagnostics.chainsPath ?? p.diagnostics.vectorized).slice(0, 40) };
}
const vec = await nutsRun({});
const seq = await nutsRun({ vectorize: false, compile: false });
console.log(`\nNUTS on garch T=100, 4 x (${ITERS} + ${ITERS}):`);
console.log(
  table(
    ['path', 'wall s', 'cpu s'],
    [
      [`vectorised (${vec.path})`, vec.wall.toFixed(2), vec.cpu.toFixed(2)],
      ['sequential chains on tfjs (before)', seq.wall.toFixed(2), seq.cpu.toFixed(2)],
      ['ratio (before / now)', (seq.wall / vec.wall).toFixed(1), (seq.cpu / vec.cpu).toFixed(1)],
    ],
  ),
);
