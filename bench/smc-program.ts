/**
 * SMC over an async program, tyche against WebPPL in the same process.
 *
 * The model is the 1-D random walk of ../shared/peers/hmm.json (x_1 ~ N(m0, s0),
 * x_t ~ N(x_{t-1}, q), y_t ~ N(x_t, r), T = 100) written as an ordinary
 * program with T observations, run by `infer(walk, { method: 'smc' })` and by
 * WebPPL's `Infer({ method: 'SMC' })` on the same program, at 1000 and
 * 10000 particles. Rows:
 *
 * - tyche batched: the default (`batched: 'auto'`): this program runs as
 *   one batched execution with a particle axis (the run's
 *   `diagnostics.execution` is checked); resampling when ESS < N/2 (the
 *   default) and at every observation (`essThreshold: 1`, as WebPPL does);
 * - tyche per-particle (`batched: false`): each particle its own execution
 *   on the lean runtime (`program-lean.ts`), copies by replay of a shared
 *   record (replayed sites hand back recorded values: nothing scored or
 *   allocated), resampling at ESS < N/2 and always; and the same on the
 *   general effect runtime (`lean: false`, the path before the lean one);
 *   the lean rows again at 10000 particles (`--per-particle-runs-10k`);
 * - WebPPL 0.9.15 SMC, timed inside the WebPPL program (compilation
 *   excluded), in this process.
 *
 * A second table runs a program that must run per particle: the walk with
 * jumps (after the first step, with probability 0.1 the state is a fresh
 * N(0, 5) draw instead of N(x_{t-1}, q): a branch on a Bernoulli draw), on
 * tyche's default (`batched: 'auto'`, which refuses to batch it: checked)
 * resampling at ESS < N/2 and at every observation, against WebPPL's SMC on
 * the same program (`flip`, then one of two Gaussians), with log Z error
 * against the exact value (a forward recursion over the time of the last
 * jump, a Kalman filter per case). The jump rows run three times on tyche:
 * the plain program (a `for` loop), the same model written with
 * `ctx.unfold` run grouped (its default: one kernel execution per group of
 * particles on the same branch, `diagnostics.grouped`), and with
 * `grouped: false` (lean: copies fork inside a step from its state,
 * `diagnostics.forks`); WebPPL's program is plain recursion in each
 * comparison. `--jump-runs-10k N` adds the grouped rows, the plain program's and WebPPL's at
 * 10000 particles.
 *
 * A third table runs a program that batched program SMC took per particle
 * before it reserved batch dimensions (`smc/program-layout.ts`): the same
 * walk with K = 10 readings per step, observed as one vector against the
 * scalar state (`observe(`y${t}`, Normal(x, r), ys[t])`, ys[t] of length
 * 10; each reading has sd r * sqrt(10), so the ten carry what the walk's one
 * observation carries and the filter is as well conditioned), at 1000 particles: tyche batched, tyche per particle (`batched:
 * false`, the path this program took before) and WebPPL (one `factor` of
 * the ten readings' scores per step, so that both resample at the same
 * points), with log Z error against the exact value (a Kalman filter on the
 * step means plus each step's constant).
 *
 * Every row prints median wall and CPU seconds per `infer` call (the machine
 * is shared, so CPU time is the steadier figure) and the log Z error
 * against the Kalman filter's exact value. tyche rows are timed after one
 * untimed warm-up call, as is WebPPL at 1000 particles.
 *
 * Run: `npx tsx bench/smc-program.ts [--runs 5] [--webppl-runs 3] [--webppl-runs-10k 1] [--per-particle-runs 3] [--per-particle-runs-10k 1] [--general-runs 1] [--readings-runs 3] [--readings-per-particle-runs 1] [--jump-runs 3] [--jump-runs-10k 0] [--llt-runs 3] [--only-readings] [--only-jumps] [--only-llt] [--peers DIR]`
 * (`--only-jumps`: the jump walk's table alone, tyche and WebPPL; `bench/smc-jump-ab.ts` compares source trees on it; `--only-llt`: the
 * local linear trend's table alone, its `{ level, trend }` state grouped and lean, and WebPPL).
 *
 * @module
 */
import { existsSync, readFileSync } from 'node:fs';
import { initBackend } from '../src/backend/select.js';
import { type Model, model } from '../src/core/model.js';
import { Normal } from '../src/distributions/normal.js';
import '../src/infer/smc/program.js';
import { infer } from '../src/infer/registry.js';
import { kalmanFilter, linearGaussian1D } from '../src/infer/smc/index.js';
import { meanSd, median, numberArg, table } from './util.js';
import { loadWebppl, runWebppl } from './webppl.js';
import { type JumpWalk, jumpLogZ, jumpWalk, jumpWalkUnfold } from '../test/smc/jump-walk.js';
import { type Llt, lltKalman, lltObject } from '../test/smc/llt.js';

const RUNS = numberArg('runs', 5);
const WEBPPL_RUNS = numberArg('webppl-runs', 3);
const WEBPPL_RUNS_10K = numberArg('webppl-runs-10k', 1);
const PER_PARTICLE_RUNS = numberArg('per-particle-runs', 3);
const PER_PARTICLE_RUNS_10K = numberArg('per-particle-runs-10k', 1);
const GENERAL_RUNS = numberArg('general-runs', 1);
const READINGS_RUNS = numberArg('readings-runs', 3);
const READINGS_PER_PARTICLE_RUNS = numberArg('readings-per-particle-runs', 1);
const JUMP_RUNS = numberArg('jump-runs', 3);
const JUMP_RUNS_10K = numberArg('jump-runs-10k', 0);
const ONLY_READINGS = process.argv.includes('--only-readings');
const ONLY_JUMPS = process.argv.includes('--only-jumps');
const LLT_RUNS = numberArg('llt-runs', 3);
const ONLY_LLT = process.argv.includes('--only-llt');
const PEERS = process.argv.includes('--peers') ? process.argv[process.argv.indexOf('--peers') + 1] : new URL('../../shared/peers', import.meta.url).pathname;

interface Walk {
  m0: number;
  s0: number;
  q: number;
  r: number;
  ys: number[];
}

function loadData(): Walk & { source: string } {
  const file = `${PEERS}/hmm.json`;
  if (existsSync(file)) {
    const d = JSON.parse(readFileSync(file, 'utf8')) as { m0: number; s0: number; q: number; r: number; y: number[] };
    return { m0: d.m0, s0: d.s0, q: d.q, r: d.r, ys: d.y, source: file };
  }
  // the same model, a fixed pseudo-random series (LCG + Box-Muller)
  let s = 7;
  const u = () => ((s = (s * 1103515245 + 12345) % 2147483648) + 1) / 2147483649;
  const n = () => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
  const ys: number[] = [];
  let x = n();
  for (let t = 0; t < 100; t++) {
    if (t > 0) x += n();
    ys.push(x + n());
  }
  return { m0: 0, s0: 1, q: 1, r: 1, ys, source: 'simulated (hmm.json not found)' };
}

const walk = model(async ({ sample, observe }, w: Walk) => {
  let x = await sample('x0', Normal(w.m0, w.s0));
  for (let t = 0; t < w.ys.length; t++) {
    if (t > 0) x = await sample(`x${t}`, Normal(x, w.q));
    await observe(`y${t}`, Normal(x, w.r), w.ys[t]);
  }
  return x;
});

/** The walk with K readings of sd `w.r` per step, each step's readings observed as one vector against the scalar state. */
const readings = model(async ({ sample, observe }, w: Walk & { readings: number[][] }) => {
  let x = await sample('x0', Normal(w.m0, w.s0));
  for (let t = 0; t < w.readings.length; t++) {
    if (t > 0) x = await sample(`x${t}`, Normal(x, w.q));
    await observe(`y${t}`, Normal(x, w.r), w.readings[t]);
  }
  return x;
});

/** The jump walk's jump probability and post-jump sd (`test/smc/jump-walk.ts`). */
const JUMPS = { p: 0.1, sJ: 5 };

/** The jump walk in WebPPL: {@link webpplProgram} with a `flip()` choosing the step's Gaussian. */
function webpplJumps(w: JumpWalk, n: number, runs: number): string {
  return webpplProgram(w, n, runs, `flip(${w.p}) ? sample(Gaussian({mu: 0, sigma: ${w.sJ}})) : sample(Gaussian({mu: xPrev, sigma: ${w.q}}))`);
}

/**
 * Times the jump walk on tyche's default (`batched: 'auto'`, which must run it per particle) and resampling at every
 * observation; with `unfold`, the same model written with `ctx.unfold`: by default run grouped (`unfold-group.ts`: one
 * kernel execution per group of particles on the same branch), and with `grouped: false` on the lean runtime (copies
 * fork inside a step from its state).
 */
async function timeJumps(w: JumpWalk, n: number, runs: number, essThreshold?: number, unfold = false, grouped = true): Promise<Row> {
  const options = { method: 'smc' as const, particles: n, ...(essThreshold === undefined ? {} : { essThreshold }), ...(grouped ? {} : { grouped }) };
  const m = unfold ? jumpWalkUnfold : jumpWalk;
  (await infer(m, { ...options, seed: 'warm-up' }, w)).dispose();
  const runtime = unfold && grouped ? 'grouped' : 'lean';
  const noteOf = (d: Record<string, unknown>) =>
    runtime === 'grouped'
      ? `batched: 'auto' fell back to per particle; grouped: ${JSON.stringify(d.grouped)}`
      : `batched: 'auto' fell back to per particle; ${String(d.replays)} copies, ${String(d.forks)} forked at a step, ${String(d.replayedSites)} replayed sites`;
  const { out, note } = await timeRuns(m, w, options, runs, noteOf, runtime);
  const how = unfold ? (grouped ? ', written with unfold (grouped)' : ', written with unfold, grouped: false') : '';
  return { impl: `tyche per-particle (default)${how}${essThreshold === 1 ? ', resample always' : ''}`, n, runs: out, note };
}

/** The walk with K readings of sd r sqrt(K) per step around its observations (a fixed LCG + Box-Muller stream). */
function readingsWalk(w: Walk, k: number): Walk & { readings: number[][] } {
  let s = 13;
  const u = () => ((s = (s * 1103515245 + 12345) % 2147483648) + 1) / 2147483649;
  const n = () => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
  const r = w.r * Math.sqrt(k);
  return { ...w, r, readings: w.ys.map((y) => Array.from({ length: k }, () => y + r * n())) };
}

/** Exact log Z of the readings walk (reading sd `w.r`): a Kalman filter on the step means (variance r^2 / K) plus each step's constant. */
function readingsLogZ(w: Walk, rs: number[][]): number {
  let m = w.m0;
  let P = w.s0 * w.s0;
  let logZ = 0;
  for (let t = 0; t < rs.length; t++) {
    const k = rs[t].length;
    const mean = rs[t].reduce((a, b) => a + b, 0) / k;
    const within = rs[t].reduce((a, b) => a + (b - mean) ** 2, 0);
    const r2 = w.r * w.r;
    logZ += -0.5 * k * Math.log(2 * Math.PI * r2) + 0.5 * Math.log((2 * Math.PI * r2) / k) - within / (2 * r2);
    if (t > 0) P += w.q * w.q;
    const S = P + r2 / k;
    logZ += -0.5 * (Math.log(2 * Math.PI * S) + (mean - m) ** 2 / S);
    const K = P / S;
    m += K * (mean - m);
    P *= 1 - K;
  }
  return logZ;
}

async function timeReadings(w: Walk & { readings: number[][] }, n: number, batched: boolean, runs: number): Promise<Row> {
  const options = { method: 'smc' as const, particles: n, batched };
  // (no warm-up per particle: one run takes minutes, and the batched rows ran the same model first)
  if (batched) (await infer(readings, { ...options, seed: 'warm-up' }, w)).dispose();
  const { out, note } = await timeRuns(readings, w, options, runs, (d) =>
    batched ? `resampled ${(d.resampledAt as number[]).length}x` : `${String(d.runtime)} runtime${d.notLean ? ` (${String(d.notLean)})` : ''}`,
  );
  return { impl: batched ? 'tyche batched' : 'tyche per-particle (batched: false; the path before)', n, runs: out, note };
}

/**
 * Times `runs` seeded SMC runs of `m` (seeds 0, 1, ...): wall and process CPU
 * seconds and log Z of each; checks each ran the execution `options.batched`
 * asks for (per particle where it is not true: `batched: 'auto'` must fall
 * back on a model it cannot batch) and, where given, the per-particle
 * `runtime`; `noteOf`
 * describes the last run from its diagnostics.
 */
async function timeRuns<W>(
  m: Model<[W], unknown>,
  w: W,
  options: { method: 'smc'; particles: number; batched?: boolean; essThreshold?: number },
  runs: number,
  noteOf: (d: Record<string, unknown>) => string,
  runtime?: 'lean' | 'general' | 'grouped',
): Promise<{ out: Run[]; note: string }> {
  const out: Run[] = [];
  let note = '';
  for (let r = 0; r < runs; r++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const post = await infer(m, { ...options, seed: r }, w);
    const wall = (performance.now() - t0) / 1000;
    const c = process.cpuUsage(c0);
    out.push({ wall, cpu: (c.user + c.system) / 1e6, logZ: post.logZ });
    const d = post.diagnostics as Record<string, unknown>;
    const { batched } = options;
    if (d.execution !== (batched ? 'batched' : 'per-particle')) throw new Error(`expected ${batched ? 'batched' : 'per-particle'} execution, got ${String(d.execution)} (${String(d.notBatched)})`);
    if (runtime !== undefined && d.runtime !== runtime) throw new Error(`expected the ${runtime} runtime, got ${String(d.runtime)} (${String(d.notLean ?? d.notGrouped)})`);
    note = noteOf(d);
    post.dispose();
  }
  return { out, note };
}

function webpplReadings(w: Walk, rs: number[][], n: number, runs: number): string {
  return `
var rs = ${JSON.stringify(rs)};
var T = rs.length;
var model = function() {
  var loop = function(t, xPrev) {
    if (t === T) { return xPrev; }
    var x = t === 0 ? sample(Gaussian({mu: ${w.m0}, sigma: ${w.s0}})) : sample(Gaussian({mu: xPrev, sigma: ${w.q}}));
    var g = Gaussian({mu: x, sigma: ${w.r}});
    factor(sum(map(function(y) { return g.score(y); }, rs[t])));
    return loop(t + 1, x);
  };
  return loop(0, 0);
};
${webpplTimedSmc(n, runs, true)}
`;
}

/**
 * The WebPPL lines that time `runs` SMC runs of the program's `model` with
 * `n` particles (after one untimed run when `warmUp`), returning each run's
 * wall and CPU seconds and log Z.
 */
function webpplTimedSmc(n: number, runs: number, warmUp: boolean): string {
  return `${warmUp ? `Infer({method: 'SMC', particles: ${n}}, model); // warm-up, untimed` : `// no warm-up at ${n} particles (one run takes tens of seconds)`}
repeat(${runs}, function() {
  var c0 = process.cpuUsage();
  var t0 = performance.now();
  var d = Infer({method: 'SMC', particles: ${n}}, model);
  var c1 = process.cpuUsage();
  return {wall: (performance.now() - t0) / 1000, cpu: (c1.user + c1.system - c0.user - c0.system) / 1e6, logZ: d.normalizationConstant};
});`;
}

interface Run {
  wall: number;
  cpu: number;
  logZ: number;
}

interface Row {
  impl: string;
  n: number;
  runs: Run[];
  note: string;
}

async function timeTyche(w: Walk, n: number, batched: boolean, runs: number, essThreshold?: number, lean?: boolean, warmUp = true): Promise<Row> {
  const options = { method: 'smc' as const, particles: n, batched, ...(essThreshold === undefined ? {} : { essThreshold }), ...(lean === undefined ? {} : { lean }) };
  if (warmUp) (await infer(walk, { ...options, seed: 'warm-up' }, w)).dispose();
  // per particle, the lean runtime unless `lean: false` asks for the general one
  const { out, note } = await timeRuns(
    walk,
    w,
    options,
    runs,
    (d) => (batched ? `resampled ${(d.resampledAt as number[]).length}x, ${String(d.regathered)} lazy gathers` : `${String(d.replays)} replayed copies`),
    batched ? undefined : lean === false ? 'general' : 'lean',
  );
  const impl = batched ? 'tyche batched' : lean === false ? 'tyche per-particle, general runtime' : 'tyche per-particle (lean)';
  return { impl: `${impl}${essThreshold === 1 ? ', resample always' : ''}`, n, runs: out, note };
}

/** The local linear trend in WebPPL (its state an object passed through the recursion), timed over `runs` SMC runs. */
function webpplLlt(w: Llt, n: number, runs: number): string {
  return `
var ys = ${JSON.stringify(w.ys)};
var T = ys.length;
var loop = function(t, s) {
  if (t === T) { return s.level; }
  var trend = sample(Gaussian({mu: s.trend, sigma: ${w.qb}}));
  var level = sample(Gaussian({mu: s.level + s.trend, sigma: ${w.ql}}));
  observe(Gaussian({mu: level, sigma: ${w.r}}), ys[t]);
  return loop(t + 1, {level: level, trend: trend});
};
var model = function() {
  var l0 = sample(Gaussian({mu: 0, sigma: ${w.s0}}));
  var b0 = sample(Gaussian({mu: 0, sigma: ${w.sb0}}));
  return loop(0, {level: l0, trend: b0});
};
${webpplTimedSmc(n, runs, true)}
`;
}

/** The random walk in WebPPL, timed over `runs` SMC runs; `step` is the expression drawing x after the first step. */
function webpplProgram(w: Walk, n: number, runs: number, step = `sample(Gaussian({mu: xPrev, sigma: ${w.q}}))`): string {
  return `
var ys = ${JSON.stringify(w.ys)};
var T = ys.length;
var model = function() {
  var loop = function(t, xPrev) {
    if (t === T) { return xPrev; }
    var x = t === 0 ? sample(Gaussian({mu: ${w.m0}, sigma: ${w.s0}})) : (${step});
    observe(Gaussian({mu: x, sigma: ${w.r}}), ys[t]);
    return loop(t + 1, x);
  };
  return loop(0, 0);
};
${webpplTimedSmc(n, runs, n < 10000)}
`;
}

async function main(): Promise<void> {
  const info = await initBackend();
  const w = loadData();
  const exact = kalmanFilter(linearGaussian1D({ m0: w.m0, s0: w.s0, q: w.q, r: w.r }), w.ys).logLikelihood;
  const webppl = loadWebppl();
  console.log(`SMC over an async program: the random walk, T = ${w.ys.length} observations; data ${w.source}; exact log Z (Kalman) = ${exact.toFixed(4)}`);
  console.log(`tyche backend ${info.name}; Node ${process.version}; WebPPL ${webppl ? webppl.version : 'not installed'}; the machine is shared (load average ${(await import('node:os')).loadavg()[0].toFixed(1)}), so compare CPU seconds too`);
  const rows: Row[] = [];
  for (const n of ONLY_READINGS || ONLY_JUMPS || ONLY_LLT ? [] : [1000, 10000]) {
    rows.push(await timeTyche(w, n, true, RUNS));
    // WebPPL's SMC resamples at every observation; tyche's default only when ESS < N/2
    rows.push(await timeTyche(w, n, true, RUNS, 1));
    if (n === 1000 && PER_PARTICLE_RUNS > 0) {
      rows.push(await timeTyche(w, n, false, PER_PARTICLE_RUNS));
      rows.push(await timeTyche(w, n, false, PER_PARTICLE_RUNS, 1));
      if (GENERAL_RUNS > 0) rows.push(await timeTyche(w, n, false, GENERAL_RUNS, undefined, false));
    }
    if (n === 10000 && PER_PARTICLE_RUNS_10K > 0) {
      // (no warm-up at 10000: the 1000-particle rows ran the same code)
      rows.push(await timeTyche(w, n, false, PER_PARTICLE_RUNS_10K, undefined, undefined, false));
      rows.push(await timeTyche(w, n, false, PER_PARTICLE_RUNS_10K, 1, undefined, false));
    }
    const wr = n < 10000 ? WEBPPL_RUNS : WEBPPL_RUNS_10K;
    if (webppl && wr > 0) {
      const out = await runWebppl<Run[]>(webppl.wp, webpplProgram(w, n, wr));
      rows.push({ impl: `WebPPL ${webppl.version} SMC`, n, runs: out, note: '' });
    }
  }
  if (rows.length) {
    console.log(rowsTable(rows, exact));
    console.log('Goal (issue 16): at least 2x WebPPL at 1000 and at 10000 particles.');
  }
  // the walk with jumps: control flow on a random value, so per particle whatever `batched` says
  if (JUMP_RUNS > 0 && !ONLY_READINGS && !ONLY_LLT) {
    const jw = { ...w, ...JUMPS };
    const exactJ = jumpLogZ(jw);
    console.log(`\nThe walk with jumps (p = ${JUMPS.p}: x_t ~ N(0, ${JUMPS.sJ}) instead of N(x_t-1, q); a branch on a Bernoulli draw), T = ${w.ys.length}; exact log Z = ${exactJ.toFixed(4)}`);
    const jrows: Row[] = [await timeJumps(jw, 1000, JUMP_RUNS), await timeJumps(jw, 1000, JUMP_RUNS, 1)];
    // the same model written with unfold (WebPPL's program stays plain recursion: its continuations fork anyway)
    jrows.push(await timeJumps(jw, 1000, JUMP_RUNS, undefined, true), await timeJumps(jw, 1000, JUMP_RUNS, 1, true));
    jrows.push(await timeJumps(jw, 1000, JUMP_RUNS, undefined, true, false), await timeJumps(jw, 1000, JUMP_RUNS, 1, true, false));
    if (webppl && WEBPPL_RUNS > 0) jrows.push({ impl: `WebPPL ${webppl.version} SMC`, n: 1000, runs: await runWebppl<Run[]>(webppl.wp, webpplJumps(jw, 1000, WEBPPL_RUNS)), note: 'flip() then one of two Gaussians' });
    // 10000 particles: the grouped rows, the plain program's and WebPPL's (`--jump-runs-10k`)
    if (JUMP_RUNS_10K > 0) {
      jrows.push(await timeJumps(jw, 10000, JUMP_RUNS_10K, undefined, true), await timeJumps(jw, 10000, JUMP_RUNS_10K, 1, true));
      jrows.push(await timeJumps(jw, 10000, JUMP_RUNS_10K));
      if (webppl && WEBPPL_RUNS_10K > 0) jrows.push({ impl: `WebPPL ${webppl.version} SMC`, n: 10000, runs: await runWebppl<Run[]>(webppl.wp, webpplJumps(jw, 10000, WEBPPL_RUNS_10K)), note: 'flip() then one of two Gaussians' });
    }
    console.log(rowsTable(jrows, exactJ));
  }
  // a local linear trend, its state a { level, trend } object (grouped since session 16) on the walk's data
  if (LLT_RUNS > 0 && !ONLY_READINGS && !ONLY_JUMPS) {
    const lw: Llt = { s0: w.s0, sb0: 0.5, ql: w.q, qb: 0.1, r: w.r, ys: w.ys };
    const exactL = lltKalman(lw).logZ;
    console.log(`\nA local linear trend with a { level, trend } state (qb = ${lw.qb}), T = ${w.ys.length}; exact log Z (Kalman) = ${exactL.toFixed(4)}`);
    const lrows: Row[] = [];
    for (const grouped of [true, false]) {
      // (batched: 'auto' would batch this branch-free model: per particle is what is compared here)
      const options = { method: 'smc' as const, particles: 1000, batched: false, ...(grouped ? {} : { grouped }) };
      (await infer(lltObject, { ...options, seed: 'warm-up' }, lw)).dispose();
      const noteOf = (d: Record<string, unknown>) => (grouped ? `grouped: ${JSON.stringify(d.grouped)}` : `${String(d.replays)} copies, ${String(d.forks)} forked at a step`);
      const { out, note } = await timeRuns(lltObject, lw, options, LLT_RUNS, noteOf, grouped ? 'grouped' : 'lean');
      lrows.push({ impl: `tyche per-particle, unfold${grouped ? ' (grouped)' : ', grouped: false'}`, n: 1000, runs: out, note });
    }
    if (webppl && WEBPPL_RUNS > 0) lrows.push({ impl: `WebPPL ${webppl.version} SMC`, n: 1000, runs: await runWebppl<Run[]>(webppl.wp, webpplLlt(lw, 1000, WEBPPL_RUNS)), note: 'an object state through the recursion' });
    console.log(rowsTable(lrows, exactL));
  }
  // the walk with 10 readings per step: per particle before batched runs reserved batch dimensions
  if (ONLY_JUMPS || ONLY_LLT) return;
  const rw = readingsWalk(w, 10);
  const exactR = readingsLogZ(rw, rw.readings);
  console.log(`\nThe walk with 10 readings per step, observed as one vector per step (T = ${w.ys.length}); exact log Z = ${exactR.toFixed(4)}`);
  const rrows: Row[] = [];
  if (READINGS_RUNS > 0) rrows.push(await timeReadings(rw, 1000, true, READINGS_RUNS));
  if (READINGS_PER_PARTICLE_RUNS > 0) rrows.push(await timeReadings(rw, 1000, false, READINGS_PER_PARTICLE_RUNS));
  if (webppl && WEBPPL_RUNS > 0) rrows.push({ impl: `WebPPL ${webppl.version} SMC`, n: 1000, runs: await runWebppl<Run[]>(webppl.wp, webpplReadings(rw, rw.readings, 1000, WEBPPL_RUNS)), note: 'one factor per step' });
  console.log(rowsTable(rrows, exactR));
}

/** The table of a set of rows: medians, log Z error against `exact`, speed against the WebPPL row of the same size. */
function rowsTable(rows: Row[], exact: number): string {
  const cells = rows.map((r) => {
    const wall = median(r.runs.map((x) => x.wall));
    const cpu = median(r.runs.map((x) => x.cpu));
    const wp = rows.find((o) => o.impl.startsWith('WebPPL') && o.n === r.n);
    const vs = wp && wp !== r ? `${(median(wp.runs.map((x) => x.wall)) / wall).toFixed(1)}x / ${(median(wp.runs.map((x) => x.cpu)) / cpu).toFixed(1)}x` : '-';
    return [r.impl, String(r.n), String(r.runs.length), wall.toFixed(3), cpu.toFixed(3), meanSd(r.runs.map((x) => x.logZ - exact)), vs, r.note];
  });
  return table(['implementation', 'particles', 'runs', 'median wall s', 'median CPU s', 'log Z err (mean ± sd)', 'speed vs WebPPL (wall / CPU)', 'notes'], cells);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
