/**
 * One posteriordb toolkit case (test/mcmc/posteriordb-toolkit-cases.ts) under
 * NUTS, 4 chains, with its options: wall and process CPU time, how the chains
 * ran (`diagnostics.chainsPath`, `compiled`, compile stats), step sizes and
 * metrics, each parameter's mean and sd against the reference draws (z in
 * combined MCSE units, R-hat), and per-chain means (to see a chain that
 * stays in another mode). The reference draws are read from
 * ../shared/posteriordb, or from `TYCHE_POSTERIORDB` (a folder).
 *
 * Run: `npx tsx scripts/posteriordb-toolkit.ts <case index> <warmup> <samples> [seed]`
 * (the slow tier uses seed 200 + index); e.g. `3 300 300` for lotka_volterra.
 *
 * @module
 */
import { initBackend } from '../src/backend/select.js';
import { infer } from '../src/index.js';
import { columnsOf, compareWithReference, referenceDraws } from '../test/mcmc/posteriordb-cases.js';
import { TOOLKIT_CASES } from '../test/mcmc/posteriordb-toolkit-cases.js';

async function main(): Promise<void> {
  await initBackend('cpu');
  const [index, warmup, samples, seedArg] = process.argv.slice(2).map(Number);
  const c = TOOLKIT_CASES[index!];
  if (!c || !(warmup! >= 0) || !(samples! > 0)) {
    console.error(`usage: npx tsx scripts/posteriordb-toolkit.ts <case 0-${TOOLKIT_CASES.length - 1}> <warmup> <samples> [seed]`);
    process.exit(1);
  }
  const seed = Number.isFinite(seedArg) ? seedArg! : 200 + index!;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const post = await infer(c.model, { method: 'nuts', chains: 4, warmup: warmup!, samples: samples!, seed, ...(c.options ?? {}) }, ...(c.args() as never[]));
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const d = post.diagnostics as Record<string, unknown>;
  console.log(`${c.name}, ${warmup} + ${samples}, seed ${seed}: wall ${wall.toFixed(1)} s, CPU ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s`);
  console.log(`chains: ${String(d.chainsPath ?? d.vectorized)} | compiled: ${String(d.compiled)} | stats ${JSON.stringify(d.compileStats)}`);
  for (const k of ['divergences', 'stepSize', 'metric']) if (k in d) console.log(`${k}: ${JSON.stringify(d[k])}`);
  const cols = columnsOf(c, post);
  const ref = referenceDraws(c.folder);
  if (ref) {
    const rows = compareWithReference(cols, ref);
    for (const r of rows) console.log(`${r.name}: mean ${r.mean.toFixed(4)} vs ${r.refMean.toFixed(4)} (z ${r.zMean.toFixed(2)}), sd ${r.sd.toFixed(4)} vs ${r.refSd.toFixed(4)} (z ${r.zSd.toFixed(2)}), R-hat ${r.rhat.toFixed(4)}`);
    console.log(`max z: mean ${Math.max(...rows.map((r) => r.zMean)).toFixed(2)}, sd ${Math.max(...rows.map((r) => r.zSd)).toFixed(2)}; max R-hat ${Math.max(...rows.map((r) => r.rhat)).toFixed(4)}`);
  } else console.log(`no reference draws for ${c.folder} (set TYCHE_POSTERIORDB to a folder holding them)`);
  for (const [name, chains] of cols) console.log(`per-chain means ${name}: ${chains.map((ch) => (ch.reduce((a, b) => a + b, 0) / ch.length).toPrecision(4)).join(' ')}`);
}

void main();
