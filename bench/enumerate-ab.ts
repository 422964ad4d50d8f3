/**
 * The lean enumerator's cost per `infer` call on the burglary network, for an A/B between source trees in
 * alternated fresh processes (per-call costs of ~10-30 µs are bimodal between processes, so compare several).
 *
 * Run: `npx tsx bench/enumerate-ab.ts /path/to/treeA /path/to/treeB [--processes 3]` (each tree a checkout with
 * `src/` and `models/`; `node_modules` linked). Prints each process's median and minimum CPU µs per call over 7
 * blocks of 3000 calls, after 3000 warm-up calls.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const CALLS = 3000;
const BLOCKS = 7;

async function child(root: string): Promise<void> {
  const { infer } = await import(`${root}/src/index.js`);
  const { burglary } = await import(`${root}/models/burglary.js`);
  for (let i = 0; i < CALLS; i++) await infer(burglary, { method: 'enumerate' });
  const per: number[] = [];
  for (let b = 0; b < BLOCKS; b++) {
    const c0 = process.cpuUsage();
    for (let i = 0; i < CALLS; i++) await infer(burglary, { method: 'enumerate' });
    const c = process.cpuUsage(c0);
    per.push((c.user + c.system) / CALLS);
  }
  per.sort((a, b) => a - b);
  console.log(`${root}: median ${per[BLOCKS >> 1]!.toFixed(1)} µs a call, min ${per[0]!.toFixed(1)}`);
}

const args = process.argv.slice(2);
if (args[0] === '--child') {
  await child(args[1]!);
} else {
  const pi = args.indexOf('--processes');
  const processes = pi >= 0 ? Number(args[pi + 1]) : 3;
  const roots = args.filter((a, i) => !a.startsWith('--') && (pi < 0 || i !== pi + 1));
  if (roots.length === 0) throw new Error('usage: npx tsx bench/enumerate-ab.ts TREE [TREE ...] [--processes N]');
  const self = fileURLToPath(import.meta.url);
  for (let p = 0; p < processes; p++) {
    for (const root of roots) process.stdout.write(execFileSync('npx', ['tsx', self, '--child', root], { encoding: 'utf8' }));
  }
}
