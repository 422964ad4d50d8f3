/**
 * Exact enumeration, tyche side by side with WebPPL, on the shared peer
 * problems:
 *   - dice.json: n fair dice (n = 4, 6, 8) conditioned on their sum being
 *     5n; query P(d1 = k). Every one of the 6^n executions is visited (the
 *     condition comes at the end, as in the peers' programs).
 *   - burglary.json: the burglary/earthquake/alarm network, conditioned on
 *     John and Mary calling; query P(burglary), P(earthquake).
 * tyche runs the plain-JS dice model with the default sequential strategy
 * (the lean runtime), and a tensor-aware (`ops`) copy with `strategy:
 * 'parallel'` and with `strategy: 'auto'` (which must pick parallel).
 * Both systems run in this process. Each timing is the median over repeats
 * of one complete inference call (`infer(m, { method: 'enumerate' })` for
 * tyche, `Infer({ method: 'enumerate' }, model)` timed inside the WebPPL
 * program, so WebPPL's compile step is excluded). The answers of both are
 * checked against reference_exact.json to 1e-9; a wrong answer aborts.
 *
 * Run: `npx tsx bench/enumerate-webppl.ts [--quick] [--rounds 5] [--cheap-rounds 15] [--peers DIR] [--backend cpu|wasm]`
 * from the repository root (`--quick` skips dice n = 8). Dice n = 8 is
 * measured in `--rounds` rounds (3 at most); the cheap rows (dice n = 4 and 6,
 * burglary: seconds a round) in `--cheap-rounds` (default 3 x `--rounds`).
 * Each round times tyche and WebPPL (tyche first in even rounds, WebPPL first
 * in odd ones, so that load drifting during a row does not lean every round's
 * ratio the same way; no garbage collection is forced between blocks, see
 * docs/design.md, ENUM4). The table gives the median over rounds of each
 * round's median, and the median of the per-round CPU ratios with their
 * quartiles and range. Reads the peer data from ../shared/peers (or `--peers
 * DIR`) and needs the `webppl` devDependency.
 *
 * @module
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { initBackend, parseBackendName } from '../src/backend/select.js';
import { model } from '../src/core/model.js';
import * as ops from '../src/core/value.js';
import { Bernoulli } from '../src/distributions/bernoulli.js';
import { Categorical } from '../src/distributions/categorical.js';
import '../src/infer/enumerate.js';
import type { Posterior } from '../src/infer/posterior.js';
import { infer } from '../src/infer/registry.js';
import { DIE, dice } from './dice-model.js';
import { median, table } from './util.js';
import { loadWebppl, runWebppl } from './webppl.js';

// ---------------------------------------------------------------- peer data

interface DiceCase {
  n: number;
  total: number;
}
interface Burglary {
  p_burglary: number;
  p_earthquake: number;
  p_alarm: { b1e1: number; b1e0: number; b0e1: number; b0e0: number };
  p_john: { a1: number; a0: number };
  p_mary: { a1: number; a0: number };
  evidence: { johnCalls: boolean; maryCalls: boolean };
}
interface Reference {
  dice: { n: number; total: number; p_first_die: number[]; logZ: number; paths: number }[];
  burglary: { p_burglary: number; p_earthquake: number; logZ: number };
}

const TOL = 1e-9;

function argValue(flag: string): string | undefined {
  const i = process.argv.indexOf(flag);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function loadJson<T>(dir: string, file: string): T {
  return JSON.parse(readFileSync(`${dir}/${file}`, 'utf8')) as T;
}

// ---------------------------------------------------------------- tyche models

/**
 * The same dice model written with tensor-aware arithmetic (`ops`), so that
 * `strategy: 'parallel'` can run every path at once.
 */
const diceOps = model(async ({ sample, factor }, n: number, total: number) => {
  const first = ops.add(await sample('d1', Categorical(DIE)), 1);
  let sum = first;
  for (let i = 1; i < n; i++) sum = ops.add(sum, ops.add(await sample(`d${i + 1}`, Categorical(DIE)), 1));
  await factor('sum', ops.where(ops.eq(sum, total), 0, -Infinity));
  return first;
});

/** The burglary network; returns whether there was a burglary. */
const burglary = model(async ({ sample, observe }, net: Burglary) => {
  const b = await sample('burglary', Bernoulli(net.p_burglary));
  const e = await sample('earthquake', Bernoulli(net.p_earthquake));
  const pa = b ? (e ? net.p_alarm.b1e1 : net.p_alarm.b1e0) : e ? net.p_alarm.b0e1 : net.p_alarm.b0e0;
  const a = await sample('alarm', Bernoulli(pa));
  await observe('johnCalls', Bernoulli(a ? net.p_john.a1 : net.p_john.a0), net.evidence.johnCalls ? 1 : 0);
  await observe('maryCalls', Bernoulli(a ? net.p_mary.a1 : net.p_mary.a0), net.evidence.maryCalls ? 1 : 0);
  return b;
});

// ---------------------------------------------------------------- WebPPL side

interface WebpplResult {
  times: Timing[];
  probs: number[];
}

/** Milliseconds per inference call. */
interface Timing {
  wall: number;
  cpu: number;
}

/** How a problem is timed: `warmup` untimed calls, then `repeats` timed blocks of `inner` calls each. */
interface Plan {
  warmup: number;
  repeats: number;
  inner: number;
}

/**
 * WebPPL program text: after `warmup` untimed Infer calls, time `repeats`
 * blocks of `inner` calls (wall and CPU milliseconds per call) and report
 * the queried probabilities.
 */
function webpplProgram(modelCode: string, plan: Plan, query: string): string {
  return `
var model = ${modelCode};
var infer = function() { return Infer({method: 'enumerate'}, model); };
repeat(${plan.warmup}, infer);
var block = function() {
  var c0 = process.cpuUsage();
  var t0 = performance.now();
  repeat(${plan.inner}, infer);
  var t1 = performance.now();
  var c1 = process.cpuUsage();
  return {wall: (t1 - t0) / ${plan.inner}, cpu: (c1.user + c1.system - c0.user - c0.system) / 1000 / ${plan.inner}};
};
var times = repeat(${plan.repeats}, block);
var d = infer();
({times: times, probs: ${query}})
`;
}

function webpplDice(c: DiceCase): string {
  return `function() {
  var dice = repeat(${c.n}, function() { return randomInteger(6) + 1; });
  condition(sum(dice) == ${c.total});
  return dice[0];
}`;
}

function webpplBurglary(net: Burglary): string {
  const pa = net.p_alarm;
  return `function() {
  var b = flip(${net.p_burglary});
  var e = flip(${net.p_earthquake});
  var a = flip(b ? (e ? ${pa.b1e1} : ${pa.b1e0}) : (e ? ${pa.b0e1} : ${pa.b0e0}));
  observe(Bernoulli({p: a ? ${net.p_john.a1} : ${net.p_john.a0}}), ${net.evidence.johnCalls});
  observe(Bernoulli({p: a ? ${net.p_mary.a1} : ${net.p_mary.a0}}), ${net.evidence.maryCalls});
  return {b: b, e: e};
}`;
}

// ---------------------------------------------------------------- checks and timing

function check(what: string, got: number, want: number): void {
  if (!(Math.abs(got - want) <= TOL)) {
    console.error(`\nWRONG ANSWER: ${what} = ${got}, reference ${want} (|diff| = ${Math.abs(got - want)} > ${TOL})`);
    process.exit(1);
  }
}

async function timeTyche<A extends unknown[], R>(run: () => Promise<Posterior<A, R>>, plan: Plan): Promise<{ times: Timing[]; post: Posterior<A, R> }> {
  for (let i = 0; i < plan.warmup; i++) await run();
  const times: Timing[] = [];
  for (let r = 0; r < plan.repeats; r++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < plan.inner; i++) await run();
    const wall = performance.now() - t0;
    const c = process.cpuUsage(c0);
    times.push({ wall: wall / plan.inner, cpu: (c.user + c.system) / 1000 / plan.inner });
  }
  return { times, post: await run() };
}

/**
 * Time tyche and WebPPL one after the other, tyche first in even rounds and WebPPL first in odd ones: on a
 * shared machine the load drifts over the seconds a row takes, and a fixed order would give every round's
 * ratio the same sign of drift (session 12's burglary rounds read 0.35-0.66 in one run).
 */
async function bothInOrder<T, W>(round: number, tyche: () => Promise<T>, webppl: () => Promise<W>): Promise<[T, W]> {
  if (round % 2 === 0) {
    const t = await tyche();
    return [t, await webppl()];
  }
  const w = await webppl();
  return [await tyche(), w];
}

/** One row's measurements over the rounds: per round, the median wall and CPU ms per call of each side. */
interface RowRounds {
  problem: string;
  executions: number;
  plan: Plan;
  t: Timing[];
  w: Timing[];
}

/**
 * Median of the per-round medians on both sides, the median of the per-round wall ratios, and the median of
 * the per-round CPU ratios with their quartiles and range (the spread says how far one round can be trusted).
 */
function row(r: RowRounds): string[] {
  const med = (xs: Timing[], k: keyof Timing) => median(xs.map((x) => x[k]));
  const ratios = (k: keyof Timing) => r.t.map((x, i) => x[k] / r.w[i][k]);
  const cpu = ratios('cpu').sort((a, b) => a - b);
  const f = (x: number) => x.toFixed(2);
  const spread = cpu.length > 1 ? [`${f(quartile(cpu, 0.25))}-${f(quartile(cpu, 0.75))}`, `${f(cpu[0])}-${f(cpu[cpu.length - 1])}`] : ['', ''];
  return [r.problem, String(r.executions), `${r.t.length}x${r.plan.repeats}x${r.plan.inner}`, fmtMs(med(r.t, 'wall')), fmtMs(med(r.w, 'wall')), f(median(ratios('wall'))), fmtMs(med(r.t, 'cpu')), fmtMs(med(r.w, 'cpu')), f(median(cpu)), ...spread];
}

/** The `q` quantile of sorted numbers (linear between order statistics). */
function quartile(sorted: readonly number[], q: number): number {
  const h = (sorted.length - 1) * q;
  const lo = Math.floor(h);
  return sorted[lo] + (h - lo) * ((sorted[Math.min(lo + 1, sorted.length - 1)] ?? sorted[lo]) - sorted[lo]);
}

/** The median wall and CPU time of one round's timed blocks. */
function roundMedian(times: Timing[]): Timing {
  return { wall: median(times.map((x) => x.wall)), cpu: median(times.map((x) => x.cpu)) };
}

function fmtMs(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : ms >= 1 ? `${ms.toFixed(1)} ms` : `${(ms * 1000).toFixed(0)} us`;
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const peers = resolve(argValue('--peers') ?? '../shared/peers');
  if (!existsSync(peers)) {
    console.log(`skipped: peer data not found at ${peers} (pass --peers DIR)`);
    return;
  }
  const quick = process.argv.includes('--quick');
  const backend = argValue('--backend');
  const info = await initBackend(backend === undefined ? undefined : parseBackendName(backend, '--backend'));
  const webppl = loadWebppl();
  if (!webppl) {
    console.log('skipped: the webppl devDependency is not installed (npm install)');
    return;
  }
  const { wp } = webppl;

  const diceCases = loadJson<{ cases: DiceCase[] }>(peers, 'dice.json').cases;
  const net = loadJson<Burglary>(peers, 'burglary.json');
  const ref = loadJson<Reference>(peers, 'reference_exact.json');

  console.log(`exact enumeration, tyche (backend ${info.name}) vs WebPPL ${webppl.version}, Node ${process.version}`);
  console.log('median wall and CPU time per inference call (timed: blocks x calls per block); ratio = tyche / WebPPL');
  console.log('answers of both checked against reference_exact.json to 1e-9\n');
  const rounds = Number(argValue('--rounds') ?? 5);
  if (!(Number.isInteger(rounds) && rounds > 0)) throw new Error(`--rounds must be a positive integer, got ${argValue('--rounds')}`);
  const cheapRounds = Number(argValue('--cheap-rounds') ?? 3 * rounds);
  if (!(Number.isInteger(cheapRounds) && cheapRounds > 0)) throw new Error(`--cheap-rounds must be a positive integer, got ${argValue('--cheap-rounds')}`);
  const bigRounds = Math.min(rounds, 3);
  console.log(
    `${cheapRounds} rounds of dice n = 4, 6 and burglary, ${quick ? 'no' : bigRounds} of dice n = 8, each timing both systems (tyche first in even rounds, WebPPL first in odd ones); ` +
      "the table gives the median over rounds of each round's median, and the median CPU ratio with its quartiles (IQR) and range over rounds\n",
  );
  const head = ['problem', 'executions', 'timed (rounds x blocks x calls)', 'tyche wall', 'WebPPL wall', 'ratio', 'tyche cpu', 'WebPPL cpu', 'cpu ratio', 'IQR', 'range'];
  const byProblem = new Map<string, RowRounds>();
  /** Adds one round of a row (printed as it comes). */
  const add = (problem: string, executions: number, plan: Plan, t: Timing[], w: Timing[]) => {
    let r = byProblem.get(problem);
    if (r === undefined) byProblem.set(problem, (r = { problem, executions, plan, t: [], w: [] }));
    r.t.push(roundMedian(t));
    r.w.push(roundMedian(w));
    console.log(`round ${r.t.length}: ${table(head, [row({ ...r, t: [r.t.at(-1)!], w: [r.w.at(-1)!] })]).split('\n')[1]}`);
  };

  for (let round = 0; round < Math.max(cheapRounds, quick ? 0 : bigRounds); round++) {
    for (const c of diceCases) {
      if (quick && c.n > 6) continue;
      if (round >= (c.n >= 8 ? bigRounds : cheapRounds)) continue;
      const r = ref.dice.find((d) => d.n === c.n && d.total === c.total);
      if (!r) throw new Error(`reference_exact.json has no dice case n=${c.n}, total=${c.total}`);
      const plan: Plan = c.n >= 8 ? { warmup: 0, repeats: 3, inner: 1 } : c.n >= 6 ? { warmup: 2, repeats: 7, inner: 1 } : { warmup: 20, repeats: 15, inner: 5 };

      const [t, w] = await bothInOrder(
        round,
        () => timeTyche(() => infer(dice, { method: 'enumerate' }, c.n, c.total), plan),
        () => runWebppl<WebpplResult>(wp, webpplProgram(webpplDice(c), plan, 'map(function(k) { return Math.exp(d.score(k)); }, [1, 2, 3, 4, 5, 6])')),
      );
      const m = t.post.marginal((d) => d.returnValue);
      for (let k = 1; k <= 6; k++) check(`tyche dice n=${c.n} P(d1=${k})`, m.prob(k), r.p_first_die[k - 1]);
      check(`tyche dice n=${c.n} logZ`, t.post.logZ, r.logZ);
      const executions = t.post.diagnostics.executions as number;
      if (executions !== r.paths) throw new Error(`tyche dice n=${c.n}: ${executions} executions, reference says ${r.paths} paths`);
      for (let k = 1; k <= 6; k++) check(`WebPPL dice n=${c.n} P(d1=${k})`, w.probs[k - 1], r.p_first_die[k - 1]);
      add(`dice n=${c.n}, sum=${c.total}`, executions, plan, t.times, w.times);

      const tp = await timeTyche(() => infer(diceOps, { method: 'enumerate', strategy: 'parallel' }, c.n, c.total), plan);
      const mp = tp.post.marginal((d) => d.returnValue);
      for (let k = 1; k <= 6; k++) check(`tyche parallel dice n=${c.n} P(d1=${k})`, mp.prob(k), r.p_first_die[k - 1]);
      check(`tyche parallel dice n=${c.n} logZ`, tp.post.logZ, r.logZ);
      add(`  n=${c.n} parallel (ops model)`, tp.post.diagnostics.paths as number, plan, tp.times, w.times);

      // strategy 'auto' on the ops model: the parallel run plus its checks against exact runs on numbers
      const ta = await timeTyche(() => infer(diceOps, { method: 'enumerate', strategy: 'auto' }, c.n, c.total), plan);
      if (ta.post.diagnostics.strategy !== 'parallel') throw new Error(`tyche auto dice n=${c.n}: chose ${String(ta.post.diagnostics.strategy)} (${String(ta.post.diagnostics.autoReason)})`);
      check(`tyche auto dice n=${c.n} logZ`, ta.post.logZ, r.logZ);
      add(`  n=${c.n} auto -> parallel (ops model)`, ta.post.diagnostics.paths as number, plan, ta.times, w.times);
    }

    if (round < cheapRounds) {
      const plan: Plan = { warmup: 2000, repeats: 15, inner: 200 };
      const query = "[Math.exp(marginalize(d, 'b').score(true)), Math.exp(marginalize(d, 'e').score(true))]";
      const [t, w] = await bothInOrder(
        round,
        () => timeTyche(() => infer(burglary, { method: 'enumerate' }, net), plan),
        () => runWebppl<WebpplResult>(wp, webpplProgram(webpplBurglary(net), plan, query)),
      );
      check('tyche burglary P(burglary)', t.post.marginal('burglary').prob(1), ref.burglary.p_burglary);
      check('tyche burglary P(earthquake)', t.post.marginal('earthquake').prob(1), ref.burglary.p_earthquake);
      check('tyche burglary logZ', t.post.logZ, ref.burglary.logZ);
      check('WebPPL burglary P(burglary)', w.probs[0], ref.burglary.p_burglary);
      check('WebPPL burglary P(earthquake)', w.probs[1], ref.burglary.p_earthquake);
      add('burglary', t.post.diagnostics.executions as number, plan, t.times, w.times);
    }
  }

  console.log(`\n${table(head, [...byProblem.values()].map(row))}`);
  console.log('\nall answers match reference_exact.json to 1e-9 (tyche: marginals and logZ; WebPPL: marginals)');
}

await main();
