/**
 * Runs every benchmark in this folder, one after the other, each in its own
 * Node process. Extra arguments (e.g. `--quick`) are passed to each.
 *
 * Run: `npx tsx bench/run-all.ts [--quick]` (or `npm run bench`)
 *
 * @module
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { nodeArgsFor } from './util.js';

// the same extension as this file: .ts under tsx, .js when run from a build
const ext = import.meta.url.endsWith('.js') ? '.js' : '.ts';
const BENCHES = ['scalar-vs-tensor', 'enumerate-webppl'].map((b) => b + ext);

let failed = 0;
for (const b of BENCHES) {
  console.log(`\n=== bench/${b}\n`);
  const file = fileURLToPath(new URL(b, import.meta.url));
  const r = spawnSync(process.execPath, [...nodeArgsFor(file), ...process.argv.slice(2)], { stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`bench/${b} failed (exit ${r.status ?? r.signal})`);
    failed++;
  }
}
process.exit(failed ? 1 : 0);
