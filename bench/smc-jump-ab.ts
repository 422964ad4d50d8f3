/**
 * Per-particle program SMC on the jump walk (`test/smc/jump-walk.ts`, the data of bench/smc-program.ts), for an A/B
 * between source trees in alternated fresh processes: each process runs one tree's `infer(..., { method: 'smc',
 * particles: 1000, batched: false })` on the walk written with `unfold` and as a plain `for` loop, resampling at
 * ESS < N/2 and at every observation, and prints the median CPU seconds of its runs and the log Z of seed 0 (which
 * must not change where the draws should not).
 *
 * Run: `npx tsx bench/smc-jump-ab.ts /path/to/treeA /path/to/treeB [--processes 3] [--runs 3] [--plain]` (each tree
 * a checkout with `src/` and `test/smc/jump-walk.ts`; `node_modules` linked). `--plain` adds the plain program's rows.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The walk's data: ../shared/peers/hmm.json as bench/smc-program.ts reads it, with its jump settings. */
function data(): { m0: number; s0: number; q: number; r: number; p: number; sJ: number; ys: number[] } {
  const file = new URL('../../shared/peers/hmm.json', import.meta.url).pathname;
  if (!existsSync(file)) throw new Error(`${file} not found (the walk's data)`);
  const d = JSON.parse(readFileSync(file, 'utf8')) as { m0: number; s0: number; q: number; r: number; y: number[] };
  return { m0: d.m0, s0: d.s0, q: d.q, r: d.r, p: 0.1, sJ: 5, ys: d.y };
}

async function child(root: string, runs: number, plain: boolean): Promise<void> {
  const { infer } = await import(`${root}/src/index.js`);
  const { jumpWalk, jumpWalkUnfold } = await import(`${root}/test/smc/jump-walk.js`);
  const w = data();
  const cells: string[] = [];
  const models: [string, unknown][] = [['unfold', jumpWalkUnfold]];
  if (plain) models.push(['plain', jumpWalk]);
  for (const [label, m] of models) {
    for (const ess of [undefined, 1]) {
      const options = { method: 'smc', particles: 1000, batched: false, ...(ess === undefined ? {} : { essThreshold: ess }) };
      (await infer(m, { ...options, seed: 'warm-up' }, w)).dispose();
      const cpu: number[] = [];
      let logZ = Number.NaN;
      for (let r = 0; r < runs; r++) {
        const c0 = process.cpuUsage();
        const post = await infer(m, { ...options, seed: r }, w);
        const c = process.cpuUsage(c0);
        cpu.push((c.user + c.system) / 1e6);
        if (r === 0) logZ = post.logZ;
        post.dispose();
      }
      cpu.sort((a, b) => a - b);
      cells.push(`${label}${ess === 1 ? '/always' : ''} ${cpu[cpu.length >> 1]!.toFixed(3)} s (logZ ${logZ})`);
    }
  }
  console.log(`${root}: ${cells.join('; ')}`);
}

const args = process.argv.slice(2);
const num = (flag: string, dflt: number): number => (args.includes(flag) ? Number(args[args.indexOf(flag) + 1]) : dflt);
if (args[0] === '--child') {
  await child(args[1]!, Number(args[2]), args[3] === 'plain');
} else {
  const processes = num('--processes', 3);
  const runs = num('--runs', 3);
  const plain = args.includes('--plain');
  const roots = args.filter((a, i) => !a.startsWith('--') && !['--processes', '--runs'].includes(args[i - 1] ?? ''));
  if (roots.length === 0) throw new Error('usage: npx tsx bench/smc-jump-ab.ts TREE [TREE ...] [--processes N] [--runs N] [--plain]');
  const self = fileURLToPath(import.meta.url);
  console.log(`load average ${(await import('node:os')).loadavg()[0]!.toFixed(1)}`);
  for (let p = 0; p < processes; p++) {
    for (const root of roots) process.stdout.write(execFileSync('npx', ['tsx', self, '--child', root, String(runs), plain ? 'plain' : ''], { encoding: 'utf8' }));
  }
}
