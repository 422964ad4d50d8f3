/**
 * Effective draws per gradient of NUTS against Stan's, over many seeds
 * (issue 16): eight schools (non-centred), the linear regression (N = 100)
 * or the logistic regression (N = 1000, D = 10) of ../shared/peers, 4 chains
 * x (1000 + 1000), each seed one `infer` call. Speed aside, this is the other
 * factor of ESS per second.
 *
 * Per seed: the minimum bulk ESS over the parameters (Stan's transformed
 * parameters `theta[j]` left out), gradients (tyche: `gradientEvaluations`,
 * initialisation and step-size searches included; Stan: `n_leapfrog__` of
 * warmup and sampling, which leave those out), the sampling phase's leapfrog
 * steps alone (the transition's own efficiency, free of warmup), the adapted
 * step sizes, mean accept statistic and tree depth. Stan's side comes from
 * `--stan FILE`, the lines of bench/stan/ess-draws.R, whose draws get
 * tyche's ESS estimator here too (and `--draws-out FILE` writes tyche's draws
 * for `Rscript bench/stan/ess-draws.R --ess-of FILE`, posterior's estimator),
 * so a gap is not an estimator's. Prints means with their standard errors
 * over seeds, and the CPU µs per gradient (tyche: the process's CPU over the
 * whole call, median over the seeds after the first, so warm; Stan: its
 * sampler's seconds over its leapfrog steps, median over seeds).
 *
 * `--root DIR` imports another source tree (e.g. /work/base14, the session's
 * start) for a before/after in one sitting; `--metric diag|auto|dense`
 * (default: infer's own); `--max-depth N`; `--init uniform|best-of-uniform|ascent`
 * (default: infer's, the ascent, whose gradients Stan's count has no
 * counterpart of); `--r-ess FILE`: posterior's ESS of tyche's draws, the
 * output of `ess-draws.R --ess-of` on a `--draws-out` file of the same seeds.
 *
 * Run: `npx tsx bench/nuts-ess-gradient.ts --model linreg --seeds 1-20 [--stan FILE] [--root DIR] [--init uniform] [--draws-out FILE] [--r-ess FILE]`
 *
 * @module
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { peerWorkload } from './peer-workloads.js';
import { median, table } from './util.js';

/** One seed's figures, either side. */
interface SeedRow {
  readonly seed: number;
  /** Minimum bulk ESS over the parameters, by tyche's estimator. */
  readonly ess: number;
  /** The same by posterior's (R) where known. */
  readonly essR?: number;
  /** All gradients (warmup and sampling). */
  readonly grads: number;
  /** Leapfrog steps of the sampling phase. */
  readonly sampling: number;
  readonly step: number[];
  readonly accept: number;
  readonly depth: number;
  readonly divergences: number;
  /** CPU µs per gradient: tyche's process CPU over the call, Stan's sampler seconds (where recorded). */
  readonly usPerGradient?: number;
  /** The metric's shape per chain (tyche; Stan's is diagonal). */
  readonly metric?: string;
}

/** A line of bench/stan/ess-draws.R. */
interface StanLine {
  readonly seed: number;
  readonly ess: Record<string, number>;
  readonly leapfrog_warmup: number;
  readonly leapfrog_sampling: number;
  readonly step: number[];
  readonly accept: number[];
  readonly depth: number[];
  readonly divergences: number;
  readonly sampler_s?: number;
  /** Per parameter: chains x draws. */
  readonly draws: Record<string, number[][]>;
}

function opt(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

/** `1-20` or `1,2,5`. */
function seedList(s: string): number[] {
  const m = /^(\d+)-(\d+)$/.exec(s);
  if (m) {
    const out: number[] = [];
    for (let k = Number(m[1]); k <= Number(m[2]); k++) out.push(k);
    return out;
  }
  return s.split(',').map(Number);
}

const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

/** Mean and its standard error over seeds. */
function meanSe(xs: readonly number[], digits = 4): string {
  return `${mean(xs).toFixed(digits)} ± ${stdErr(xs).toFixed(digits)}`;
}

/** The standard error of the mean of `xs` (NaN for one value). */
function stdErr(xs: readonly number[]): number {
  const m = mean(xs);
  return xs.length > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1) / xs.length) : NaN;
}

/** tyche's mean relative to Stan's, in percent, with the standard error of the difference (independent seeds). */
function relative(t: readonly number[], s: readonly number[]): string {
  const base = mean(s);
  const d = ((mean(t) - base) / base) * 100;
  const se = (Math.sqrt(stdErr(t) ** 2 + stdErr(s) ** 2) / base) * 100;
  return `${d >= 0 ? '+' : ''}${d.toFixed(1)}% ± ${se.toFixed(1)}%`;
}


function summarise(label: string, rows: readonly SeedRow[]): string[] {
  return [
    label,
    String(rows.length),
    meanSe(rows.map((r) => r.ess), 0),
    rows.some((r) => r.essR !== undefined) ? meanSe(rows.map((r) => r.essR ?? NaN), 0) : '-',
    meanSe(rows.map((r) => r.grads), 0),
    meanSe(rows.map((r) => r.ess / r.grads)),
    meanSe(rows.map((r) => r.ess / r.sampling)),
    meanSe(rows.map((r) => mean(r.step)), 3),
    meanSe(rows.map((r) => r.accept), 3),
    meanSe(rows.map((r) => r.depth), 3),
    String(rows.reduce((a, r) => a + r.divergences, 0)),
    // the first call of a process is cold (V8 compiles as it runs): the median of the others
    [...new Set(rows.flatMap((r) => (r.metric ?? 'diag').split(',')))].join('/'),
    rows.length > 1 && rows[1]!.usPerGradient !== undefined ? median(rows.slice(label.startsWith('tyche') ? 1 : 0).map((r) => r.usPerGradient!)).toFixed(2) : '-',
  ];
}

async function main(): Promise<void> {
  const key = opt('model') ?? 'linreg';
  const seeds = seedList(opt('seeds') ?? '1-10');
  const root = opt('root') ?? resolve(fileURLToPath(import.meta.url), '../..');
  const metric = opt('metric');
  const maxDepth = opt('max-depth');
  const init = opt('init');
  const url = (p: string): string => pathToFileURL(resolve(root, p)).href;
  const { infer } = await import(url('src/index.js'));
  const { initBackend } = await import(url('src/backend/select.js'));
  // the same estimator on both sides: this tree's
  const { essBulk } = await import('../src/diagnostics/ess.js');
  await initBackend();
  const { model, args } = await peerWorkload(root, key);
  const tyche: SeedRow[] = [];
  const drawLines: string[] = [];
  for (const seed of seeds) {
    const c0 = process.cpuUsage();
    const post = await infer(model, { method: 'nuts', chains: 4, warmup: 1000, samples: 1000, seed, ...(metric ? { massMatrix: metric } : {}), ...(maxDepth ? { maxTreeDepth: Number(maxDepth) } : {}), ...(init ? { init } : {}) }, ...args);
    const c = process.cpuUsage(c0);
    const d = post.diagnostics as {
      gradientEvaluations: number;
      stepSize: number[];
      divergences: number;
      metric: string[];
      stats: { nLeapfrog: Int32Array; acceptStat: Float64Array; treeDepth: Int32Array }[];
    };
    let ess = Infinity;
    const draws: Record<string, number[][]> = {};
    for (const [name, chains] of post.chainColumns() as Map<string, Float64Array[]>) {
      if (name.startsWith('theta[')) continue;
      ess = Math.min(ess, essBulk(chains));
      draws[name] = chains.map((c) => Array.from(c));
    }
    drawLines.push(JSON.stringify({ seed, draws }));
    const sum = (f: (s: (typeof d.stats)[number]) => ArrayLike<number>): number => d.stats.reduce((a, s) => a + Array.from(f(s)).reduce((x, y) => x + y, 0), 0);
    const n = d.stats.reduce((a, s) => a + s.nLeapfrog.length, 0);
    tyche.push({
      seed,
      ess,
      grads: d.gradientEvaluations,
      sampling: sum((s) => s.nLeapfrog),
      step: d.stepSize,
      accept: sum((s) => s.acceptStat) / n,
      depth: sum((s) => s.treeDepth) / n,
      divergences: d.divergences,
      usPerGradient: (c.user + c.system) / d.gradientEvaluations,
      metric: d.metric.join(','),
    });
    console.log(`tyche seed ${seed}: ess ${ess.toFixed(0)}, gradients ${d.gradientEvaluations}, ess/gradient ${(ess / d.gradientEvaluations).toFixed(4)}`);
    post.dispose();
  }
  const out = opt('draws-out');
  if (out !== undefined) writeFileSync(out, drawLines.join('\n') + '\n');
  const rRows = opt('r-ess'); // the lines of `ess-draws.R --ess-of` on tyche's draws
  if (rRows !== undefined) {
    const bySeed = new Map(readFileSync(rRows, 'utf8').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { seed: number; ess: Record<string, number> }).map((r) => [r.seed, Math.min(...Object.values(r.ess))]));
    for (let i = 0; i < tyche.length; i++) if (bySeed.has(tyche[i]!.seed)) tyche[i] = { ...tyche[i]!, essR: bySeed.get(tyche[i]!.seed)! };
  }
  const rows = [summarise(`tyche (${root})`, tyche)];
  const stanFile = opt('stan');
  if (stanFile !== undefined) {
    const stan: SeedRow[] = readFileSync(stanFile, 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as StanLine)
      .map((s) => ({
        seed: s.seed,
        ess: Math.min(...Object.values(s.draws).map((chains) => essBulk(chains.map((c) => Float64Array.from(c))))),
        essR: Math.min(...Object.values(s.ess)),
        grads: s.leapfrog_warmup + s.leapfrog_sampling,
        sampling: s.leapfrog_sampling,
        step: s.step,
        accept: mean(s.accept),
        depth: mean(s.depth),
        divergences: s.divergences,
        ...(s.sampler_s !== undefined ? { usPerGradient: (s.sampler_s * 1e6) / (s.leapfrog_warmup + s.leapfrog_sampling) } : {}),
      }));
    rows.push(summarise(`Stan 2.21 (${stanFile})`, stan));
    const of = (rs: readonly SeedRow[], f: (r: SeedRow) => number): number[] => rs.map(f);
    console.log(
      `tyche against Stan (difference ± its s.e.): ESS ${relative(of(tyche, (r) => r.ess), of(stan, (r) => r.ess))}, ` +
        `gradients ${relative(of(tyche, (r) => r.grads), of(stan, (r) => r.grads))}, ` +
        `ESS/gradient ${relative(of(tyche, (r) => r.ess / r.grads), of(stan, (r) => r.ess / r.grads))}, ` +
        `ESS/sampling leapfrog ${relative(of(tyche, (r) => r.ess / r.sampling), of(stan, (r) => r.ess / r.sampling))}`,
    );
  }
  console.log(`\n${key}: 4 chains x (1000 + 1000); means ± s.e. over seeds; ESS = min bulk ESS over the parameters`);
  console.log(table(['side', 'seeds', 'ESS (tyche est.)', 'ESS (posterior)', 'gradients', 'ESS/gradient', 'ESS/sampling leapfrog', 'step size', 'accept', 'depth', 'div.', 'metric', 'CPU µs/gradient'], rows));
}

await main();
