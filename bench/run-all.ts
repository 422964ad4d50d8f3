/**
 * Runs every benchmark in this folder (each `.ts` file except the shared
 * helpers), one after the other, each in its own Node process. Extra
 * arguments (e.g. `--quick`) are passed to each.
 *
 * Run: `npx tsx bench/run-all.ts [--quick]` (or `npm run bench`)
 *
 * @module
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { nodeArgsFor } from './util.js';

/** Modules in bench/ that are helpers, not benchmarks. */
const HELPERS = new Set(['run-all', 'util', 'webppl']);

// the same extension as this file: .ts under tsx, .js when run from a build
const ext = import.meta.url.endsWith('.js') ? '.js' : '.ts';
const dir = fileURLToPath(new URL('.', import.meta.url));
const benches = readdirSync(dir)
  .filter((f) => f.endsWith(ext) && !f.endsWith(`.d${ext}`) && !HELPERS.has(f.slice(0, -ext.length)))
  .sort();

let failed = 0;
for (const b of benches) {
  console.log(`\n=== bench/${b}\n`);
  const r = spawnSync(process.execPath, [...nodeArgsFor(dir + b), ...process.argv.slice(2)], { stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`bench/${b} failed (exit ${r.status ?? r.signal})`);
    failed++;
  }
}
process.exit(failed ? 1 : 0);
