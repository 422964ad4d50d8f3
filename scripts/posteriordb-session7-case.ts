/**
 * Run one of the session-7 posteriordb translations (test/mcmc/posteriordb-session7-cases.ts) with NUTS at its
 * defaults (4 chains) at a chosen length and print each quantity against the reference draws (read from
 * TYCHE_POSTERIORDB), with wall and CPU time, whether the density compiled and how the chains ran.
 *
 * Run: `TYCHE_POSTERIORDB=<refs> npx tsx scripts/posteriordb-session7-case.ts <folder> [iterations] [seed]`
 */
import { initBackend } from '../src/backend/select.js';
import { infer } from '../src/index.js';
import { compareWithReference, columnsOf, referenceDraws } from '../test/mcmc/posteriordb-cases.js';
import { SESSION7_CASES } from '../test/mcmc/posteriordb-session7-cases.js';

await initBackend('cpu');
const folder = process.argv[2] ?? 'garch-garch11';
const i = SESSION7_CASES.findIndex((c) => c.folder === folder);
if (i < 0) throw new Error(`no case ${folder}; known: ${SESSION7_CASES.map((c) => c.folder).join(', ')}`);
const c = SESSION7_CASES[i]!;
const n = Number(process.argv[3] ?? 1000);
const seed = Number(process.argv[4] ?? 700 + i);
const ref = referenceDraws(c.folder);
if (!ref) throw new Error(`no reference draws for ${folder} under TYCHE_POSTERIORDB`);
const t0 = performance.now();
const cpu0 = process.cpuUsage();
const post = await infer(c.model, { method: 'nuts', chains: 4, warmup: n, samples: n, seed, ...(c.options ?? {}) }, ...(c.args() as never[]));
const cpu = process.cpuUsage(cpu0);
const rows = compareWithReference(columnsOf(c, post), ref);
const d = post.diagnostics as Record<string, unknown>;
console.log(`${c.name}: ${n} + ${n}, seed ${seed}, wall ${((performance.now() - t0) / 1000).toFixed(1)} s, CPU ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s; compiled ${String(d.compiled)}; chains ${String(d.chainsPath ?? d.vectorized)}; divergences ${String(d.divergences)}`);
for (const r of rows) console.log(`${r.name}: mean ${r.mean.toFixed(4)} vs ${r.refMean.toFixed(4)} (z ${r.zMean.toFixed(2)}), sd ${r.sd.toFixed(4)} vs ${r.refSd.toFixed(4)} (z ${r.zSd.toFixed(2)}), R-hat ${r.rhat.toFixed(4)}`);
console.log(`max z mean ${Math.max(...rows.map((r) => r.zMean)).toFixed(2)}, sd ${Math.max(...rows.map((r) => r.zSd)).toFixed(2)}; max R-hat ${Math.max(...rows.map((r) => r.rhat)).toFixed(4)}`);
