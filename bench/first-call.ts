/**
 * A model's first NUTS call in a fresh process (issue 16), where V8 has
 * compiled nothing yet: eight schools (non-centred), the linear regression
 * (N = 100) or the logistic regression (N = 1000, D = 10) of ../shared/peers,
 * 4 chains x (1000 + 1000), one `infer` call per child process, `--runs`
 * processes per source tree and model. Prints medians of wall time, process
 * CPU (all threads: V8's background compiler and GC included), the main
 * thread's own CPU (Linux: /proc/thread-self/schedstat), the call's phases
 * from its diagnostics (wall ms: infer's checks and the warnings, set-up,
 * warmup, sampling, completion), min bulk ESS (over the parameters Stan's
 * script counts: its transformed parameters `theta[j]` left out), and ESS
 * per second of wall, of process CPU and of main-thread CPU, each against
 * Stan's ESS per second of its own sampler time (rstan's
 * `get_elapsed_time`: a single-threaded sampler, so its wall time and its
 * CPU time are one figure on a quiet machine).
 *
 * `--stan run` runs rstan in the same sitting, once per round between the
 * rounds' tyche processes (bench/stan/run-stan.R, seeds 1-3; Stan's figure is
 * the median over all its runs), so that both sides meet the same load; `--stan FILE` reads the lines it printed; a
 * number is taken as Stan's ESS per sampler second for every model; without
 * it, the figures of ../shared/peers/README.md.
 *
 * `--seed 1,2,3` gives a row per seed (Stan's figure is its median over
 * seeds 1-3, and tyche's ESS moves by a fifth between seeds).
 *
 * `--roots A,B` alternates fresh processes between source trees (e.g. a copy
 * of the previous commit and the working tree), so that a before/after
 * comparison is made in one sitting on a loaded machine; each tree is
 * imported as `<root>/src/index.js` (its models from `<root>/models`).
 * `--node A,B` alternates node binaries the same way (paths, or names found
 * on PATH; e.g. Node 20 and Node 24), a row per tree, binary and seed; each
 * row names its binary's version. Without it, the children run on the
 * parent's node.
 * `--node-flags "..."` passes flags to the children's node (e.g. `--cpu-prof`).
 *
 * Run: `npx tsx bench/first-call.ts [--model eight,linreg,logreg] [--runs 7] [--seed 1,2,3] [--roots DIR,DIR] [--node BIN,BIN] [--stan run|FILE|N]`
 *
 * @module
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { STAN_OWN, type StanRun, stanEssPerSamplerSecond, stanRuns } from './stan-runs.js';
import { peerWorkload } from './peer-workloads.js';
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

const MODELS = ['eight', 'linreg', 'logreg'] as const;
type ModelKey = (typeof MODELS)[number];

/** This thread's CPU ms (NaN where /proc/thread-self/schedstat is absent). */
function threadCpuMs(): number {
  try {
    return Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]) / 1e6;
  } catch {
    return NaN;
  }
}



async function child(root: string, key: ModelKey, seed: number): Promise<void> {
  const url = (p: string): string => pathToFileURL(resolve(root, p)).href;
  const { infer } = await import(url('src/index.js'));
  const { initBackend } = await import(url('src/backend/select.js'));
  await initBackend();
  const { model, args } = await peerWorkload(root, key);
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const m0 = threadCpuMs();
  const post = await infer(model, { method: 'nuts', chains: 4, warmup: 1000, samples: 1000, seed }, ...args);
  const wall = performance.now() - t0;
  const c = process.cpuUsage(c0);
  const main = threadCpuMs() - m0;
  const d = post.diagnostics as Record<string, number>;
  const phases = d.setupMs! + d.warmupMs! + d.samplingMs! + d.completionMs!;
  // the parameters run-stan.R counts: its transformed parameters theta[j] left out
  const rows = post.summary().rows as { name: string; ess_bulk?: number }[];
  const ess = Math.min(...rows.filter((r) => !r.name.startsWith('theta[')).map((r) => r.ess_bulk ?? Infinity));
  const run: Run = { wall, cpu: (c.user + c.system) / 1e3, main, checks: wall - phases, setup: d.setupMs!, warmup: d.warmupMs!, sampling: d.samplingMs!, completion: d.completionMs!, ess };
  console.log(JSON.stringify(run));
  post.dispose();
}

/** A node binary the children run on, and the version it reports. */
interface NodeBinary {
  readonly path: string;
  readonly version: string;
}

/**
 * The binaries of `--node A,B` (paths, or names looked up on PATH), each
 * asked for its version; the parent's own node without the option.
 */
function nodeBinaries(list: string | undefined): NodeBinary[] {
  if (list === undefined) return [{ path: process.execPath, version: process.version }];
  const paths = list.split(',').filter((p) => p.length > 0);
  if (paths.length === 0) throw new Error('--node: expected a comma-separated list of node binaries');
  return paths.map((path) => {
    let version: string;
    try {
      version = execFileSync(path, ['--version'], { encoding: 'utf8' }).trim();
    } catch (err) {
      throw new Error(`--node: '${path}' did not run as node (${(err as Error).message.split('\n')[0]})`);
    }
    return { path, version };
  });
}

/** The value after `--name`, if given. */
function opt(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function main(): void {
  const runs = numberArg('runs', 7);
  const seeds = (opt('seed') ?? '1').split(',').map(Number);
  const keys = (opt('model') ?? 'eight').split(',') as ModelKey[];
  for (const k of keys) if (!MODELS.includes(k)) throw new Error(`--model: unknown model '${k}' (one of ${MODELS.join(', ')})`);
  const stanOpt = opt('stan');
  const stanFixed = stanOpt !== undefined && stanOpt !== 'run' && Number.isFinite(Number(stanOpt)) ? Number(stanOpt) : undefined;
  // `--stan run`: rstan runs once per round, between the rounds' tyche processes (the load on a shared machine moves)
  const interleaved = stanOpt === 'run';
  const stan: Map<string, StanRun[]> = stanFixed === undefined && !interleaved ? stanRuns(stanOpt, keys, 3) : new Map();
  const stanOf = (k: ModelKey): number => stanFixed ?? (stan.has(k) ? stanEssPerSamplerSecond(stan.get(k)!) : STAN_OWN[k]!);
  const roots = (opt('roots') ?? resolve(fileURLToPath(import.meta.url), '../..')).split(',');
  const nodeFlags = (opt('node-flags') ?? '').split(' ').filter((f) => f.length > 0);
  const nodes = nodeBinaries(opt('node'));
  const self = fileURLToPath(import.meta.url);
  // a row's name: its tree, and its node's version where more than one node runs
  const nameOf = (root: string, node: NodeBinary): string => (nodes.length > 1 ? `${root} (node ${node.version})` : root);
  for (const key of keys) {
    // one row per tree, node and seed; processes alternate between them round by round
    const rowsOf = roots.flatMap((root) => nodes.flatMap((node) => seeds.map((seed) => ({ root, node, name: nameOf(root, node), seed, runs: [] as Run[] }))));
    for (let k = 0; k < runs; k++) {
      if (interleaved) stan.set(key, [...(stan.get(key) ?? []), ...(stanRuns('run', [key], 3).get(key) ?? [])]);
      for (const seed of seeds) {
        for (const row of rowsOf.filter((r) => r.seed === seed)) {
          let out: string;
          try {
            out = execFileSync(row.node.path, [...nodeFlags, ...nodeArgsFor(self), '--child', row.root, '--model', key, '--seed', String(seed)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
          } catch (err) {
            // a child that fails is reported and left out of its row (n says how many ran)
            const e = err as { status?: number; stderr?: string };
            console.error(`${row.name} ${key} seed ${seed}: the child process failed (status ${e.status}): ${(e.stderr ?? String(err)).trim().split('\n').slice(-5).join('\n')}`);
            continue;
          }
          const line = out.trim().split('\n').filter((l) => l.startsWith('{')).pop();
          if (line) row.runs.push(JSON.parse(line) as Run);
        }
      }
    }
    const s = stanOf(key);
    const med = (rs: Run[], k: keyof Run): number => median(rs.map((r) => r[k]));
    const vs = (ess: number, ms: number): string => `${((ess / ms) * 1e3 / s).toFixed(2)}x`;
    const ratio = (ess: number, ms: number): number => ((ess / ms) * 1e3) / s;
    const summaries = [...new Set(rowsOf.map((r) => r.name))].map((root) => {
      // per tree and node, the median over seeds of each seed's ratio (Stan's figure is its median over seeds 1-3)
      const mine = rowsOf.filter((r) => r.name === root && r.runs.length > 0);
      const over = (k: 'wall' | 'cpu' | 'main'): string => mine.length === 0 ? '-' : `${median(mine.map(({ runs: rs }) => ratio(med(rs, 'ess'), med(rs, k)))).toFixed(2)}x`;
      return [root, 'median', '', '', '', '', '', '', '', '', '', '', over('wall'), over('cpu'), over('main')];
    });
    const rows = rowsOf.map(({ name: root, seed, runs: rs }) => {
      if (rs.length === 0) return [root, String(seed), '0', ...new Array<string>(12).fill('-')];
      const ess = med(rs, 'ess');
      const [wall, cpu, mainCpu] = [med(rs, 'wall'), med(rs, 'cpu'), med(rs, 'main')];
      return [root, String(seed), String(rs.length), wall.toFixed(0), cpu.toFixed(0), mainCpu.toFixed(0), med(rs, 'checks').toFixed(0), med(rs, 'setup').toFixed(0), med(rs, 'warmup').toFixed(0), med(rs, 'sampling').toFixed(0), med(rs, 'completion').toFixed(0), ess.toFixed(0), vs(ess, wall), vs(ess, cpu), vs(ess, mainCpu)];
    });
    console.log(`\n${key}: NUTS 4 chains x (1000 + 1000): the first call in a fresh process, medians over ${runs} processes per tree (alternated); ms; Stan's sampler ${s.toFixed(0)} ESS/s${stan.has(key) ? ` (rstan${interleaved ? ` in each round, median of ${stan.get(key)!.length} runs` : ''}, seeds ${stan.get(key)!.map((r) => r.seed).join(', ')}: ${stan.get(key)!.map((r) => (r.ess / r.sampler_s).toFixed(0)).join(' / ')})` : stanFixed === undefined ? ' (../shared/peers)' : ''}`);
    console.log(table(['tree', 'seed', 'n', 'wall', 'cpu', 'main cpu', 'checks+warnings', 'set-up', 'warmup', 'sampling', 'completion', 'min ESS', 'vs Stan (wall)', 'vs Stan (cpu)', 'vs Stan (main cpu)'], seeds.length > 1 ? [...rows, ...summaries] : rows));
  }
}

if (process.argv.includes('--child')) await child(process.argv[process.argv.indexOf('--child') + 1]!, (opt('model') ?? 'eight') as ModelKey, numberArg('seed', 1));
else main();
