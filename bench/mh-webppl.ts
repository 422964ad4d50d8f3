/**
 * Single-site Metropolis–Hastings with prior proposals on the peers' linear
 * regression (../shared/peers/linreg.json: N = 100, alpha, beta ~ N(0, 10),
 * sigma ~ Exponential(1)), tyche against WebPPL in this process: 4 chains,
 * each 1000 burn-in + 10000 kept steps (`--quick`: 2500), one after another.
 *
 * Both run the same algorithm (pick one of the 3 latent sites uniformly,
 * propose from its prior, accept by the MH ratio), so they make about the
 * same number of proposals per ESS; what differs is the cost per step.
 * tyche runs twice: with the compiled MH kernel (`compile: true`, the
 * default: a proposal is scored by the compiled float64 log density and the
 * model runs only on acceptance) and with `compile: false` (the model runs
 * for every proposal, the kernel before this change). WebPPL runs
 * `Infer({ method: 'MCMC', kernel: 'MH', samples, burn })`, timed inside the
 * WebPPL program (compilation excluded), its samples read back in order.
 *
 * Printed per system: wall and CPU seconds of the 4 chains, steps per CPU
 * second, min bulk ESS over alpha, beta, sigma, ESS per wall second and per
 * CPU second, R-hat, the posterior means against the exact ones
 * (reference_exact.json), and ratios against WebPPL. The machine is shared:
 * CPU time is the steadier figure. ESS of prior-proposal MH on this
 * posterior is small (tens), so ESS/s moves by ±30% between seeds; steps
 * per CPU second is the cost figure.
 *
 * Run: `npx tsx bench/mh-webppl.ts [--quick] [--repeats 3]`
 *
 * @module
 */
import { existsSync, readFileSync } from 'node:fs';
import { initBackend } from '../src/backend/select.js';
import { essBulk } from '../src/diagnostics/ess.js';
import { rhatBulk as rhat } from '../src/diagnostics/rhat.js';
import { infer } from '../src/index.js';
import { linearRegression } from '../models/linreg.js';
import { median, numberArg, table } from './util.js';
import { loadWebppl, runWebppl } from './webppl.js';

const PEERS = new URL('../../shared/peers/', import.meta.url);
const quick = process.argv.includes('--quick');
const repeats = numberArg('repeats', quick ? 1 : 3);
const SAMPLES = quick ? 2500 : 10000;
const BURN = 1000;
const CHAINS = 4;
const SITES = ['alpha', 'beta', 'sigma'] as const;

interface Run {
  wall: number;
  cpu: number;
  /** chains[site][chain] = draws */
  draws: Record<string, number[][]>;
}

function summarise(name: string, runs: Run[], exact: Record<string, number>, sd: Record<string, number>, base?: { cpuPerStep: number; essPerCpu: number; essPerWall: number }): { row: string[]; cpuPerStep: number; essPerCpu: number; essPerWall: number } {
  const steps = CHAINS * (BURN + SAMPLES);
  const wall = median(runs.map((r) => r.wall));
  const cpu = median(runs.map((r) => r.cpu));
  const ess = median(runs.map((r) => Math.min(...SITES.map((s) => essBulk(r.draws[s]!)))));
  const rh = Math.max(...runs.flatMap((r) => SITES.map((s) => rhat(r.draws[s]!))));
  const z = Math.max(
    ...runs.flatMap((r) =>
      SITES.map((s) => {
        const all = r.draws[s]!.flat();
        const mean = all.reduce((a, b) => a + b, 0) / all.length;
        return Math.abs(mean - exact[s]!) / (sd[s]! / Math.sqrt(Math.max(1, essBulk(r.draws[s]!))));
      }),
    ),
  );
  const cpuPerStep = (cpu * 1e6) / steps;
  const essPerCpu = ess / cpu;
  const essPerWall = ess / wall;
  const ratio = (x: number, y: number | undefined) => (y === undefined ? '—' : `${(x / y).toFixed(2)}x`);
  return {
    row: [
      name,
      wall.toFixed(2),
      cpu.toFixed(2),
      cpuPerStep.toFixed(1),
      ratio(base?.cpuPerStep ?? NaN, cpuPerStep).replace('NaNx', '—'),
      ess.toFixed(0),
      essPerWall.toFixed(1),
      essPerCpu.toFixed(1),
      ratio(essPerCpu, base?.essPerCpu),
      rh.toFixed(2),
      z.toFixed(1),
    ],
    cpuPerStep,
    essPerCpu,
    essPerWall,
  };
}

async function tycheRun(data: { x: number[]; y: number[] }, compile: boolean, seed: number): Promise<Run> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const post = await infer(linearRegression, { method: 'mh', chains: CHAINS, warmup: BURN, samples: SAMPLES, seed, compile }, data);
  const wall = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  const draws: Record<string, number[][]> = {};
  for (const s of SITES) draws[s] = Array.from({ length: CHAINS }, () => []);
  for (const d of post.draws) for (const s of SITES) draws[s]![d.chain ?? 0]!.push(d.values[s] as number);
  return { wall, cpu: (c.user + c.system) / 1e6, draws };
}

function webpplProgram(x: number[], y: number[]): string {
  return `
var xs = ${JSON.stringify(x)};
var ys = ${JSON.stringify(y)};
var model = function() {
  var alpha = sample(Gaussian({mu: 0, sigma: 10}));
  var beta = sample(Gaussian({mu: 0, sigma: 10}));
  var sigma = sample(Exponential({a: 1}));
  mapIndexed(function(i, x) { observe(Gaussian({mu: alpha + beta * x, sigma: sigma}), ys[i]); }, xs);
  return [alpha, beta, sigma];
};
var c0 = process.cpuUsage();
var t0 = performance.now();
var chains = repeat(${CHAINS}, function() {
  var d = Infer({method: 'MCMC', kernel: 'MH', samples: ${SAMPLES}, burn: ${BURN}}, model);
  return map(function(s) { return s.value; }, d.samples);
});
var t1 = performance.now();
var c1 = process.cpuUsage();
({wall: (t1 - t0) / 1000, cpu: (c1.user + c1.system - c0.user - c0.system) / 1e6, chains: chains})
`;
}

async function main(): Promise<void> {
  if (!existsSync(PEERS)) {
    console.log(`skipped: peer data not found at ${PEERS.pathname}`);
    return;
  }
  const info = await initBackend();
  const webppl = loadWebppl();
  if (!webppl) {
    console.log('skipped: the webppl devDependency is not installed (npm install)');
    return;
  }
  const d = JSON.parse(readFileSync(new URL('linreg.json', PEERS), 'utf8')) as { x: number[]; y: number[] };
  const ref = (JSON.parse(readFileSync(new URL('reference_exact.json', PEERS), 'utf8')) as { linreg: { mean: Record<string, number>; sd: Record<string, number> } }).linreg;
  const data = { x: d.x, y: d.y };
  console.log(`single-site MH, prior proposals, linreg N=100, ${CHAINS} x (${BURN} + ${SAMPLES}) steps; tyche backend ${info.name}, WebPPL ${webppl.version}, Node ${process.version}`);
  console.log(`median of ${repeats} repeats; the machine is shared with other engineers (CPU time is the steadier figure)\n`);

  const wp: Run[] = [];
  const compiled: Run[] = [];
  const perRun: Run[] = [];
  for (let r = 0; r < repeats; r++) {
    const w = await runWebppl<{ wall: number; cpu: number; chains: number[][][] }>(webppl.wp, webpplProgram(d.x, d.y));
    const draws: Record<string, number[][]> = {};
    SITES.forEach((s, i) => (draws[s] = w.chains.map((c) => c.map((v) => v[i]!))));
    wp.push({ wall: w.wall, cpu: w.cpu, draws });
    compiled.push(await tycheRun(data, true, r + 1));
    perRun.push(await tycheRun(data, false, r + 1));
  }
  const head = ['system', 'wall s', 'cpu s', 'µs/step', 'cost vs WebPPL', 'min ESS', 'ESS/s', 'ESS/cpu-s', 'vs WebPPL', 'R-hat', 'max |z|'];
  const w = summarise('WebPPL MH', wp, ref.mean, ref.sd);
  const rows = [w.row, summarise('tyche mh (compiled)', compiled, ref.mean, ref.sd, w).row, summarise('tyche mh (compile: false)', perRun, ref.mean, ref.sd, w).row];
  console.log(table(head, rows));
  console.log('\ncost vs WebPPL = WebPPL µs/step / tyche µs/step (CPU); vs WebPPL = ESS per CPU second over WebPPL\'s; |z| = |mean - exact| / (sd / sqrt(ESS)) (prior-proposal MH is unconverged at this length: R-hat > 1.01 on both)');
}

await main();
