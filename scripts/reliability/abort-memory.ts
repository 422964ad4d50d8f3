/**
 * Prints the reliability tier's abort and memory table: for every
 * long-running engine, how long after `abort()` its run rejects (CPU and
 * wall milliseconds), the live
 * tensor count after the first and the tenth small run (posteriors
 * disposed), RSS after each, and whether two runs with one seed agree.
 * The cases are test/reliability/abort-memory-cases.ts.
 *
 *   node --expose-gc --import tsx scripts/reliability/abort-memory.ts [engine ...]
 *
 * (`--expose-gc` lets it collect garbage before reading RSS; `npx tsx` works too, with RSS
 * figures that include garbage not yet collected.)
 */
import { initBackend } from '../../src/index.js';
import { CASES, measureAbort, measureMemory, measureSeed } from '../../test/reliability/abort-memory-cases.js';

const info = await initBackend();
const only = process.argv.slice(2);
const cases = only.length > 0 ? CASES.filter((c) => only.includes(c.engine)) : CASES;
console.log(`backend ${info.name}; abort 300 ms into a long run; memory over 10 small runs, each posterior disposed`);
const cols = ['engine', 'abort CPU ms', 'wall ms', 'abort outcome', 'tensors run1', 'run10', 'RSS MB run1', 'run10', 'same seed'];
const rows: string[][] = [];
let bad = 0;
for (const c of cases) {
  const a = await measureAbort(c);
  const m = await measureMemory(c);
  const [s1, s2] = await measureSeed(c);
  const ok = a.aborted && a.cpuLatencyMs <= 100 && a.latencyMs <= 2000 && m.tensorsAfter1 === m.tensorsAfterN && s1 === s2;
  if (!ok) bad++;
  rows.push([c.engine, a.cpuLatencyMs.toFixed(1), a.latencyMs.toFixed(1), a.outcome.slice(0, 60), String(m.tensorsAfter1), String(m.tensorsAfterN), m.rssMbAfter1.toFixed(0), m.rssMbAfterN.toFixed(0), s1 === s2 ? 'yes' : `NO (${s1} vs ${s2})`]);
  console.error(`  done ${c.engine}`);
}
const widths = cols.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (cells: string[]) => cells.map((x, i) => (i === 0 || i === 3 ? x.padEnd(widths[i]) : x.padStart(widths[i]))).join('  ');
console.log(line(cols));
for (const r of rows) console.log(line(r));
console.log(`${bad} engine(s) failing (abort > 100 ms of CPU or 2 s of wall time, or not an AbortError, tensors not flat, or seeds differing)`);
