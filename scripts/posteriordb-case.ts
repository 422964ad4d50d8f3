/**
 * Run one of the plain posteriordb translations of the slow tests (test/mcmc/posteriordb-new-cases.ts and
 * posteriordb-session7-cases.ts) with NUTS, 4 chains, at a chosen length, and print each quantity against the
 * reference (reference draws, else summary, read from TYCHE_POSTERIORDB), with wall and CPU time, whether the
 * density compiled and how the chains ran. The default seed is the one that case's slow test uses (300 + i for
 * the first list, 700 + i for the second); the slow tests run the same comparison at 1000 + 1000.
 *
 * Run: `TYCHE_POSTERIORDB=<refs> npx tsx scripts/posteriordb-case.ts <folder> [iterations] [seed]`
 * (e.g. `bball_drive_event_0-hmm_drive_0 300`, `garch-garch11 1000`).
 */
import { initBackend } from '../src/backend/select.js';
import { infer } from '../src/index.js';
import { NEW_CASES, compareCase } from '../test/mcmc/posteriordb-new-cases.js';
import { SESSION7_CASES } from '../test/mcmc/posteriordb-session7-cases.js';

await initBackend('cpu');
/** Each list of cases with the seed base of its slow test. */
const LISTS = [
  { cases: NEW_CASES, seedBase: 300 },
  { cases: SESSION7_CASES, seedBase: 700 },
];
const folder = process.argv[2] ?? 'bball_drive_event_0-hmm_drive_0';
const found = LISTS.map(({ cases, seedBase }) => ({ i: cases.findIndex((c) => c.folder === folder), cases, seedBase })).find((l) => l.i >= 0);
if (!found) throw new Error(`no case ${folder}; known: ${LISTS.flatMap((l) => l.cases.map((c) => c.folder)).join(', ')}`);
const c = found.cases[found.i]!;
const n = Number(process.argv[3] ?? 300);
const seed = Number(process.argv[4] ?? found.seedBase + found.i);
const t0 = performance.now();
const cpu0 = process.cpuUsage();
const post = await infer(c.model, { method: 'nuts', chains: 4, warmup: n, samples: n, seed, ...(c.options ?? {}) }, ...(c.args() as never[]));
const cpu = process.cpuUsage(cpu0);
const rows = compareCase(c, post);
if (!rows) throw new Error(`no reference for ${folder} under TYCHE_POSTERIORDB`);
const d = post.diagnostics as Record<string, unknown>;
console.log(`${c.name}: ${n} + ${n}, seed ${seed}, wall ${((performance.now() - t0) / 1000).toFixed(1)} s, CPU ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s; compiled ${String(d.compiled)}; chains ${String(d.chainsPath ?? d.vectorized)}; divergences ${String(d.divergences)}`);
for (const r of rows) console.log(`${r.name}: mean ${r.mean.toFixed(4)} vs ${r.refMean.toFixed(4)} (z ${r.zMean.toFixed(2)}), sd ${r.sd.toFixed(4)} vs ${r.refSd.toFixed(4)} (z ${r.zSd.toFixed(2)}), R-hat ${r.rhat.toFixed(4)}`);
console.log(`max z mean ${Math.max(...rows.map((r) => r.zMean)).toFixed(2)}, sd ${Math.max(...rows.map((r) => r.zSd)).toFixed(2)}; max R-hat ${Math.max(...rows.map((r) => r.rhat)).toFixed(4)}`);
