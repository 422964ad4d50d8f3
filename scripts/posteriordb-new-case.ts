/**
 * Run one of the new posteriordb translations (test/mcmc/posteriordb-new-cases.ts) with NUTS, 4 chains,
 * at a chosen length, and print each quantity against the reference (reference draws or summary read from
 * TYCHE_POSTERIORDB), with wall and CPU time and how the chains ran. The slow test runs the same comparison at
 * 1000 + 1000; this script is for shorter runs and for reporting.
 *
 * Run: `TYCHE_POSTERIORDB=<refs> npx tsx scripts/posteriordb-new-case.ts <folder> [iterations]`
 * (e.g. `bball_drive_event_0-hmm_drive_0 300`).
 */
import { initBackend } from '../src/backend/select.js';
import { infer } from '../src/index.js';
import { NEW_CASES, compareCase } from '../test/mcmc/posteriordb-new-cases.js';

await initBackend('cpu');
const folder = process.argv[2] ?? 'bball_drive_event_0-hmm_drive_0';
const i = NEW_CASES.findIndex((c) => c.folder === folder);
if (i < 0) throw new Error(`no case ${folder}; known: ${NEW_CASES.map((c) => c.folder).join(', ')}`);
const c = NEW_CASES[i]!;
const n = Number(process.argv[3] ?? 300);
const t0 = performance.now();
const cpu0 = process.cpuUsage();
const post = await infer(c.model, { method: 'nuts', chains: 4, warmup: n, samples: n, seed: 300 + i, ...(c.options ?? {}) }, ...(c.args() as never[]));
const cpu = process.cpuUsage(cpu0);
const rows = compareCase(c, post);
if (!rows) throw new Error(`no reference for ${folder} under TYCHE_POSTERIORDB`);
const d = post.diagnostics as Record<string, unknown>;
console.log(`${c.name}: ${n} + ${n}, wall ${((performance.now() - t0) / 1000).toFixed(1)} s, CPU ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s; compiled ${String(d.compiled)}; chains ${String(d.chainsPath ?? d.vectorized)}; divergences ${String(d.divergences)}`);
for (const r of rows) console.log(`${r.name}: mean ${r.mean.toFixed(4)} vs ${r.refMean.toFixed(4)} (z ${r.zMean.toFixed(2)}), sd z ${r.zSd.toFixed(2)}, R-hat ${r.rhat.toFixed(4)}`);
console.log(`max z mean ${Math.max(...rows.map((r) => r.zMean)).toFixed(2)}, sd ${Math.max(...rows.map((r) => r.zSd)).toFixed(2)}; max R-hat ${Math.max(...rows.map((r) => r.rhat)).toFixed(4)}`);
