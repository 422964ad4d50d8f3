/**
 * A model's first NUTS call in a fresh process (issue 16), where V8 has
 * compiled nothing yet: eight schools (non-centred, 4 chains x (1000 +
 * 1000), seed 1), one `infer` call per child process, `--runs` processes per
 * source tree. Prints medians of wall time, process CPU (all threads: V8's
 * background compiler and GC included), the main thread's own CPU (Linux:
 * /proc/thread-self/schedstat), the call's phases from its diagnostics
 * (wall ms: infer's checks and the warnings, set-up, warmup, sampling,
 * completion), min bulk ESS and ESS per CPU second, against Stan's ESS per
 * second of its own sampler (`--stan`, default 13072: ../shared/peers).
 *
 * `--roots A,B` alternates fresh processes between source trees (e.g. a copy
 * of the previous commit and the working tree), so that a before/after
 * comparison is made in one sitting on a loaded machine; each tree is
 * imported as `<root>/src/index.js`. The ratio column is ESS per process-CPU
 * second against Stan's.
 *
 * Run: `npx tsx bench/first-call.ts [--runs 7] [--roots DIR,DIR] [--stan 13072]`
 *
 * @module
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { median, nodeArgsFor, numberArg, table } from './util.js';

/** What a child reports of its one call. */
interface Run {
  readonly wall: number;
  readonly cpu: number;
  readonly main: number;
  readonly checks: number;
  readonly setup: number;
  readonly warmup: number;
  readonly sampling: number;
  readonly completion: number;
  readonly ess: number;
}

/** This thread's CPU ms (NaN where /proc/thread-self/schedstat is absent). */
function threadCpuMs(): number {
  try {
    return Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]) / 1e6;
  } catch {
    return NaN;
  }
}

async function child(root: string): Promise<void> {
  const url = (p: string): string => pathToFileURL(resolve(root, p)).href;
  const { infer } = await import(url('src/index.js'));
  const { initBackend } = await import(url('src/backend/select.js'));
  const { eightSchoolsNoncentered, eightSchoolsData } = await import(url('models/posteriordb/eight-schools.js'));
  await initBackend();
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const m0 = threadCpuMs();
  const post = await infer(eightSchoolsNoncentered, { method: 'nuts', chains: 4, warmup: 1000, samples: 1000, seed: 1 }, eightSchoolsData);
  const wall = performance.now() - t0;
  const c = process.cpuUsage(c0);
  const main = threadCpuMs() - m0;
  const d = post.diagnostics as Record<string, number>;
  const phases = d.setupMs! + d.warmupMs! + d.samplingMs! + d.completionMs!;
  const ess = Math.min(...post.summary().rows.map((r: { ess_bulk?: number }) => r.ess_bulk ?? Infinity));
  const run: Run = { wall, cpu: (c.user + c.system) / 1e3, main, checks: wall - phases, setup: d.setupMs!, warmup: d.warmupMs!, sampling: d.samplingMs!, completion: d.completionMs!, ess };
  console.log(JSON.stringify(run));
  post.dispose();
}

function main(): void {
  const runs = numberArg('runs', 7);
  const stan = numberArg('stan', 13072);
  const i = process.argv.indexOf('--roots');
  const roots = i >= 0 ? process.argv[i + 1]!.split(',') : [resolve(fileURLToPath(import.meta.url), '../..')];
  const self = fileURLToPath(import.meta.url);
  const results = new Map<string, Run[]>(roots.map((r) => [r, []]));
  for (let k = 0; k < runs; k++) {
    for (const root of roots) {
      const out = execFileSync(process.execPath, [...nodeArgsFor(self), '--child', root], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      const line = out.trim().split('\n').filter((l) => l.startsWith('{')).pop();
      if (line) results.get(root)!.push(JSON.parse(line) as Run);
    }
  }
  const med = (rs: Run[], k: keyof Run): number => median(rs.map((r) => r[k]));
  const rows = [...results].map(([root, rs]) => {
    const cpu = med(rs, 'cpu');
    const ess = med(rs, 'ess');
    return [root, String(rs.length), med(rs, 'wall').toFixed(0), cpu.toFixed(0), med(rs, 'main').toFixed(0), med(rs, 'checks').toFixed(0), med(rs, 'setup').toFixed(0), med(rs, 'warmup').toFixed(0), med(rs, 'sampling').toFixed(0), med(rs, 'completion').toFixed(0), ess.toFixed(0), ((ess / cpu) * 1e3).toFixed(0), `${(((ess / cpu) * 1e3) / stan).toFixed(2)}x`];
  });
  console.log(`eight schools NC, NUTS 4 chains x (1000 + 1000), seed 1: the first call in a fresh process, medians over ${runs} processes per tree (alternated); ms; Stan's sampler ${stan} ESS/s`);
  console.log(table(['tree', 'n', 'wall', 'cpu', 'main-thread cpu', 'checks+warnings', 'set-up', 'warmup', 'sampling', 'completion', 'min ESS', 'ESS/cpu-s', 'vs Stan sampler'], rows));
}

if (process.argv.includes('--child')) await child(process.argv[process.argv.indexOf('--child') + 1]!);
else main();
