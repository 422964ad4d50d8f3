/**
 * NUTS through the model layer (tfjs autodiff over the async model) on the
 * peers' workloads, against Stan and WebPPL on the same data and settings:
 *
 *   - eight schools, non-centered (../shared/peers/eight_schools.json);
 *   - logistic regression, N = 1000, D = 10 (../shared/peers/logreg.json),
 *     written with one matrix product: `Bernoulli({ logits: alpha + X·beta })`;
 *   - linear regression, N = 100 (../shared/peers/linreg.json), against the
 *     exact posterior moments in reference_exact.json, with an extra row for
 *     single-site trace MH, 4 x 10000 draws, as WebPPL's MH row.
 *
 * Each workload runs 4 chains one after another (single-chain gradients), 4
 * chains vectorised (one batched gradient per leapfrog step for all chains)
 * and larger vectorised counts, each chain 1000 warmup + 1000 draws (as the
 * peers). ESS is the minimum rank-normalised bulk ESS over the parameters;
 * ESS/s divides it by the wall time of the whole `infer` call (warmup
 * included, as in the peers' table); ESS/grad divides it by the gradient
 * evaluations (one per chain per leapfrog step). µs/call is the wall (and
 * process CPU) time per gradient call — a batched call serves every chain.
 * ESS/cpu-s divides by the process CPU time instead: on a shared, loaded
 * machine it is the steadier figure (wall time then includes waiting).
 * "compiled" says whether the log density ran as a compiled float64 trace
 * (the `compile: 'auto'` default keeps it only where it is faster than tfjs;
 * the reason is printed otherwise). "max |z|" is the largest |mean - reference| / (sd sqrt(1/ESS_basic + 1/ESS_ref))
 * against the long Stan runs in reference_stan.json (a sanity check).
 *
 * The correlated regressions of posteriordb (earnings ~ height, kidiq, nes2000;
 * data in models/data, reference means and sds in
 * models/data/reference_summaries.json) run with the metric chosen
 * automatically (`massMatrix: 'auto'`, the default; `--metric diag|dense`
 * forces one); the "metric" column says which ran.
 *
 * The larger models (session 12): the hierarchical regression of
 * models/hierarchical-regression.ts (107 parameters; bench/stan/hier_reg.stan
 * on its data, written to bench/stan/hier_reg.json and checked against
 * `hierarchicalData()` here), posteriordb garch11 (a 200-step volatility
 * recursion, a site of dependent support) and arK (AR(5), T = 200). They have
 * no long reference runs: with `--stan`, Stan's first run's means and sds are
 * the reference of "max |z|" (its MCSE from that run's minimum bulk ESS).
 *
 * Stan's own sampler: `--stan run` runs rstan now, in the same sitting
 * (bench/stan/run-stan.R: 4 chains one after another, 1000 + 1000, seeds 1-3),
 * `--stan FILE` reads the lines that script printed. The "vs Stan sampler"
 * column divides tyche's ESS per CPU second of the whole `infer` call by
 * Stan's median ESS per second of its own sampler time (the sum of rstan's
 * get_elapsed_time over the chains, warmup included, what CmdStan reports;
 * rstan 2.21 measures it with the process clock). Without `--stan`, the
 * figures of ../shared/peers/README.md are used where it has them.
 *
 * `--warm` first runs NUTS once on a different, two-site model (not timed), so
 * that the timed calls find the library's own code already optimised by V8
 * (a session's second model, say); without it each workload's first call
 * also pays V8's warm-up of the sampler, the compiler and the completion.
 * The model's own record, fused compile and set-up are paid either way.
 *
 * `--seed N` sets tyche's seed (default 1). `--repeat N` calls each vectorised
 * row N times and adds a row with the median cost of calls 2..N (the same
 * seed, so the same draws): what the model's later calls in a session cost,
 * once V8 has optimised its generated code.
 *
 * Run: `npx tsx bench/mcmc-models.ts [--quick] [--warm] [--seed N] [--repeat N] [--chains 4,16,64] [--only eight|logreg|linreg|earnings|kidiq|nes|hier|garch|ark] [--no-sequential] [--compile auto|true|false] [--metric auto|diag|dense] [--stan run|FILE]`
 *
 * @module
 */
import { existsSync, readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/backend/select.js';
import { essBasic, essBulk } from '../src/diagnostics/ess.js';
import { Normal, infer, model } from '../src/index.js';
import type { Model } from '../src/core/model.js';
import type { HMCDiagnostics } from '../src/infer/mcmc/hmc-engine.js';
import { linearRegression } from '../models/linreg.js';
import { logisticRegression } from '../models/logreg.js';
import { eightSchoolsNoncentered } from '../models/posteriordb/eight-schools.js';
import { earningsData, earningsDesign } from '../models/posteriordb/earnings.js';
import { kidiqData, kidscoreMomiq } from '../models/posteriordb/kidiq.js';
import { flatGaussianGlm, nesData, nesDesign } from '../models/posteriordb/glm-regressions.js';
import { loadData } from '../models/data.js';
import { hierarchicalData, hierarchicalRegression } from '../models/hierarchical-regression.js';
import { garch11, garchData } from '../models/posteriordb/garch11.js';
import { arK, arKData, arKDesign } from '../models/posteriordb/ark.js';
import { PEERS, STAN_OWN, stanRuns } from './stan-runs.js';
import { table } from './util.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const opt = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const chainCounts = (opt('--chains') ?? (quick ? '4,16' : '4,16,64')).split(',').map(Number);
const only = opt('--only');
const sequential = !args.includes('--no-sequential');
const iterations = quick ? 300 : 1000;
const compileOpt = opt('--compile');
const compile = compileOpt === undefined ? 'auto' : compileOpt === 'true' ? true : compileOpt === 'false' ? false : 'auto';
const metricOpt = opt('--metric') as 'auto' | 'diag' | 'dense' | undefined;
const stanOpt = opt('--stan');
const warm = args.includes('--warm');
/** `--repeat N`: each vectorised row is called N times in all; a second row gives the median of calls 2..N. */
const repeat = Number(opt('--repeat') ?? 1);
/** tyche's seed (`--seed N`, default 1): Stan's figure is its median over seeds 1-3, so run 1, 2, 3 to compare like with like. */
const tycheSeed = Number(opt('--seed') ?? 1);

/** One untimed NUTS run on a two-site model unlike the workloads (see `--warm`). */
async function warmUp(): Promise<void> {
  const tiny = model(async ({ sample, observe }) => {
    const a = await sample('a', Normal(0, 1));
    const b = await sample('b', Normal(a, 1));
    await observe('y', Normal(b, 1), 0.5);
  });
  (await infer(tiny, { method: 'nuts', chains: 4, warmup: 300, samples: 300, seed: 99 })).dispose();
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** The peers' figures (../shared/peers/README.md): ESS/s on the same data and settings, one core. */
const PEER_FIGURES: Record<string, { stan: number; webppl?: number; webpplWhat?: string; webpplNote?: string }> = {
  eight: { stan: 3602, webppl: 140, webpplWhat: 'HMC' },
  logreg: { stan: 819, webpplNote: 'no WebPPL figure (its HMC did not converge on linreg)' },
  linreg: { stan: 5883, webppl: 11, webpplWhat: 'MH 4 x 10000', webpplNote: 'WebPPL HMC did not converge (R-hat 1.55-3.43)' },
  earnings: { stan: NaN },
  kidiq: { stan: NaN },
  nes: { stan: NaN },
  hier: { stan: NaN },
  garch: { stan: NaN },
  ark: { stan: NaN },
};

interface Workload {
  readonly key: string;
  readonly title: string;
  readonly model: Model<never[], unknown>;
  readonly args: unknown[];
  /** Stan reference means and sds by name (`beta[1]` style). */
  readonly reference?: { mean: Record<string, number>; sd: Record<string, number>; ess?: number };
  /** Also run single-site trace MH, 4 chains x this many draws (as WebPPL's MH row). */
  readonly mhDraws?: number;
  /** Our column name to the reference's. */
  readonly rename: (name: string) => string;
  /** Vectorised runs only (the correlated regressions: the metric is the point, not sequential chains). */
  readonly vectorisedOnly?: boolean;
}

function readJson<T>(file: string): T | undefined {
  const url = new URL(file, PEERS);
  return existsSync(url) ? (JSON.parse(readFileSync(url, 'utf8')) as T) : undefined;
}

const stanNames = (n: string): string => n.replace(/\[(\d+)\]$/, (_m, i: string) => `[${Number(i) + 1}]`);

/** The minimum bulk ESS stated in a reference's note ("... min ess_bulk 54928 ..."), if any. */
function essOfNote(note: string | undefined): number | undefined {
  const m = note?.match(/min ess_bulk (\d+)/);
  return m ? Number(m[1]) : undefined;
}

function workloads(): Workload[] {
  const out: Workload[] = [];
  const raw = readJson<Record<string, { mean: Record<string, number>; sd: Record<string, number>; note?: string }>>('reference_stan.json');
  const ref = raw && Object.fromEntries(Object.entries(raw).map(([k, r]) => [k, { ...r, ess: essOfNote(r.note) }]));
  const es = readJson<{ J: number; y: number[]; sigma: number[] }>('eight_schools.json');
  if (es) {
    out.push({
      key: 'eight',
      title: 'eight schools, non-centered',
      model: eightSchoolsNoncentered as unknown as Model<never[], unknown>,
      args: [{ J: es.J, y: es.y, sigma: es.sigma }],
      ...(ref?.eight_schools ? { reference: ref.eight_schools } : {}),
      rename: (n) => stanNames(n).replace('theta_trans', 'theta_tilde'),
    });
  }
  const lr = readJson<{ N: number; D: number; X: number[][]; y: number[]; prior: { alpha_sd: number } }>('logreg.json');
  if (lr) {
    out.push({
      key: 'logreg',
      title: `logistic regression, N=${lr.N}, D=${lr.D}`,
      model: logisticRegression as unknown as Model<never[], unknown>,
      args: [{ X: tf.tensor2d(lr.X), y: lr.y, priorSd: lr.prior.alpha_sd }],
      ...(ref?.logreg ? { reference: ref.logreg } : {}),
      rename: stanNames,
    });
  }
  const li = readJson<{ N: number; x: number[]; y: number[]; prior: { alpha_sd: number } }>('linreg.json');
  const exact = readJson<{ linreg?: { mean: Record<string, number>; sd: Record<string, number> } }>('reference_exact.json');
  if (li) {
    out.push({
      key: 'linreg',
      title: `linear regression, N=${li.N}`,
      model: linearRegression as unknown as Model<never[], unknown>,
      args: [{ x: li.x, y: li.y, priorSd: li.prior.alpha_sd }],
      // exact by quadrature: no Monte Carlo error on the reference side
      ...(exact?.linreg ? { reference: { ...exact.linreg, ess: Infinity } } : {}),
      mhDraws: quick ? 2500 : 10000,
      rename: (n) => n,
    });
  }
  // the correlated regressions (posteriordb), data shipped in models/data
  const summaries = loadData<Record<string, { mean: Record<string, number>; sd: Record<string, number>; draws: number }>>('reference_summaries');
  const asRef = (k: string) => ({ mean: summaries[k]!.mean, sd: summaries[k]!.sd, ess: summaries[k]!.draws });
  out.push({ key: 'earnings', title: `earnings ~ height (posteriordb earnings-earn_height), N=${earningsData.N}`, model: flatGaussianGlm as unknown as Model<never[], unknown>, args: [earningsDesign(earningsData)], reference: asRef('earnings-earn_height'), rename: stanNames, vectorisedOnly: true });
  out.push({ key: 'kidiq', title: `kid_score ~ mom_iq (posteriordb kidiq-kidscore_momiq), N=${kidiqData.N}`, model: kidscoreMomiq as unknown as Model<never[], unknown>, args: [kidiqData], reference: asRef('kidiq-kidscore_momiq'), rename: stanNames, vectorisedOnly: true });
  out.push({ key: 'nes', title: `partyid7 ~ 8 predictors (posteriordb nes2000-nes), N=${nesData.N}`, model: flatGaussianGlm as unknown as Model<never[], unknown>, args: [nesDesign(nesData)], reference: asRef('nes2000-nes'), rename: stanNames, vectorisedOnly: true });
  // the larger models (session 12)
  const hd = hierarchicalData();
  checkHierarchicalExport(hd);
  out.push({ key: 'hier', title: `hierarchical regression, ${hd.J} groups x 4 rows, K=${hd.K} (models/hierarchical-regression.ts, 107 parameters)`, model: hierarchicalRegression as unknown as Model<never[], unknown>, args: [hd], rename: stanNames, vectorisedOnly: true });
  out.push({ key: 'garch', title: `GARCH(1,1), T=${garchData.T} (posteriordb garch-garch11)`, model: garch11 as unknown as Model<never[], unknown>, args: [garchData], rename: (n) => n, vectorisedOnly: true });
  const design = arKDesign(arKData);
  out.push({ key: 'ark', title: `AR(${arKData.K}), T=${arKData.T} (posteriordb arK-arK)`, model: arK as unknown as Model<never[], unknown>, args: [arKData, { lags: tf.tensor2d(design.lags), response: design.response }], rename: stanNames, vectorisedOnly: true });
  return out;
}

/** bench/stan/hier_reg.json (Stan's data) must be `hierarchicalData()` (the same float32 values). */
function checkHierarchicalExport(d: ReturnType<typeof hierarchicalData>): void {
  const file = new URL('./stan/hier_reg.json', import.meta.url);
  const e = JSON.parse(readFileSync(file, 'utf8')) as { J: number; K: number; x: number[][]; g: number[]; y: number[] };
  const x = d.x.dataSync();
  const y = d.y.dataSync();
  const groups = d.groups.arraySync();
  const same = e.J === d.J && e.K === d.K && e.y.every((v, i) => v === y[i]) && e.x.flat().every((v, i) => v === x[i]) && e.g.every((g, i) => groups[i]![g - 1] === 1);
  if (!same) throw new Error(`${file.pathname} is not models/hierarchical-regression.ts's hierarchicalData(): write it again`);
}

interface Result {
  readonly label: string;
  readonly seconds: number;
  readonly cpuSeconds: number;
  readonly ess: number;
  readonly grads: number;
  readonly calls: number;
  readonly divergences: number;
  readonly rhatOk: boolean;
  readonly maxZ: number;
  readonly compiled: string;
  readonly compiledWhy?: string;
  readonly metric: string;
  /** Wall ms by phase of the call: infer's checks before the engine, set-up, warmup, sampling, completion. */
  readonly phases?: string;
}

async function run(w: Workload, chains: number, vectorize: boolean | 'mh'): Promise<Result> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const post =
    vectorize === 'mh'
      ? await infer(w.model, { method: 'mh', chains, warmup: iterations, samples: w.mhDraws ?? iterations, seed: tycheSeed }, ...(w.args as never[]))
      : await infer(w.model, { method: 'nuts', chains, warmup: iterations, samples: iterations, seed: tycheSeed, vectorize, compile, ...(metricOpt ? { massMatrix: metricOpt } : {}) }, ...(w.args as never[]));
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const d = post.diagnostics as unknown as Partial<HMCDiagnostics>;
  if (vectorize === true && d.vectorized !== true) throw new Error(`${w.title}: did not run vectorised (${d.vectorized})`);
  const cols = post.chainColumns()!;
  let ess = Infinity;
  let maxZ = 0;
  for (const [name, chainsOf] of cols) {
    const e = essBulk(chainsOf);
    // the parameters bench/stan/run-stan.R counts: Stan's transformed parameters theta[j] left out
    if (!name.startsWith('theta[')) ess = Math.min(ess, e);
    const ref = w.reference;
    const key = w.rename(name);
    if (ref && ref.mean[key] !== undefined) {
      const m = post.moments(name).mean;
      // the MCSE of a mean takes the basic ESS (the bulk ESS is of ranks); the reference's own Monte Carlo
      // error counts too (its note gives its minimum bulk ESS)
      const refEss = ref.ess ?? Infinity;
      maxZ = Math.max(maxZ, Math.abs(m - ref.mean[key]!) / (ref.sd[key]! * Math.sqrt(1 / essBasic(chainsOf) + 1 / refEss)));
    }
  }
  const rows = post.summary().rows;
  // MH has no gradients: count its model executions per chain instead (one per site proposal)
  const grads = d.gradientEvaluations ?? NaN;
  const calls = d.gradientCalls ?? NaN;
  return {
    label: vectorize === 'mh' ? `MH ${chains} x ${w.mhDraws}` : vectorize ? `${chains} chains, vectorised` : `${chains} chains, sequential`,
    seconds,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    ess,
    grads,
    calls,
    divergences: d.divergences ?? 0,
    rhatOk: rows.every((r) => typeof r.r_hat !== 'number' || r.r_hat < 1.01),
    maxZ,
    compiled: d.compiled === undefined ? '-' : d.compiled === true ? 'yes' : 'no',
    ...(typeof d.compiled === 'string' ? { compiledWhy: d.compiled } : {}),
    metric: d.metricChoice ?? '-',
    ...(d.setupMs !== undefined && d.completionMs !== undefined
      ? { phases: phaseLine(seconds * 1000, [d.setupMs, d.warmupMs ?? 0, d.samplingMs ?? 0, d.completionMs]) }
      : {}),
  };
}

/** `checks 12, set-up 20, warmup 80, sampling 70, completion 9` (wall ms; checks: the rest of the call, before the engine). */
function phaseLine(totalMs: number, [setup, warmupMs, samplingMs, completion]: number[]): string {
  const checks = totalMs - setup! - warmupMs! - samplingMs! - completion!;
  return [['checks', checks], ['set-up', setup!], ['warmup', warmupMs!], ['sampling', samplingMs!], ['completion', completion!]].map(([k, v]) => `${k} ${(v as number).toFixed(0)}`).join(', ');
}

async function main(): Promise<void> {
  await initBackend();
  const ws = workloads().filter((w) => !only || w.key === only);
  const stan = stanRuns(stanOpt, ws.map((w) => w.key), quick ? 1 : 3);
  if (ws.length === 0) {
    console.log(`no workloads: the peers' data (${PEERS.pathname}) is not present`);
    return;
  }
  if (warm) await warmUp();
  console.log(`NUTS via the model layer, each chain ${iterations} warmup + ${iterations} draws${quick ? ' (--quick)' : ''}${warm ? ', library warmed up on another model (--warm)' : ', first call in the process'}, seed ${tycheSeed}; backend ${tf.getBackend()}\n`);
  for (const w0 of ws) {
    // no long reference run: Stan's first run of this sitting, where there is one
    const first = stan.get(w0.key)?.[0];
    const w: Workload = !w0.reference && first?.mean && first.sd ? { ...w0, reference: { mean: first.mean, sd: first.sd, ess: first.ess } } : w0;
    const results: Result[] = [];
    if (sequential && !w.vectorisedOnly) results.push(await run(w, 4, false));
    for (const k of w.vectorisedOnly ? [4] : chainCounts) {
      results.push(await run(w, k, true));
      if (repeat > 1) {
        // the same call again (same seed, so the same draws): what a session's later calls of this model cost
        const again: Result[] = [];
        for (let r = 1; r < repeat; r++) again.push(await run(w, k, true));
        results.push({ ...again[0]!, label: `${k} chains, vectorised, calls 2-${repeat} (median)`, seconds: median(again.map((r) => r.seconds)), cpuSeconds: median(again.map((r) => r.cpuSeconds)) });
      }
    }
    const own = stan.get(w.key);
    const stanOwn = own ? median(own.map((r) => r.ess / r.sampler_s)) : STAN_OWN[w.key];
    if (w.mhDraws) results.push(await run(w, 4, 'mh'));
    const peers = PEER_FIGURES[w.key]!;
    console.log(`${w.title}`);
    console.log(
      table(
        ['run', 'wall s', 'cpu s', 'min ESS', 'ESS/s', 'ESS/cpu-s', 'ESS/grad', 'µs/call (cpu)', 'div', 'R-hat<1.01', 'max |z|', 'compiled', 'metric', 'vs Stan sampler', 'vs Stan', peers.webppl ? 'vs WebPPL' : ''],
        results.map((r) => {
          const essPerS = r.ess / r.seconds;
          return [
            r.label,
            r.seconds.toFixed(1),
            r.cpuSeconds.toFixed(1),
            r.ess.toFixed(0),
            essPerS.toFixed(0),
            (r.ess / r.cpuSeconds).toFixed(0),
            Number.isNaN(r.grads) ? '-' : (r.ess / r.grads).toFixed(3),
            Number.isNaN(r.calls) ? '-' : `${((r.seconds * 1e6) / r.calls).toFixed(0)} (${((r.cpuSeconds * 1e6) / r.calls).toFixed(0)})`,
            String(r.divergences),
            r.rhatOk ? 'yes' : 'NO',
            w.reference ? r.maxZ.toFixed(1) : '-',
            r.compiled,
            r.metric.split(' ')[0]!,
            stanOwn === undefined ? '-' : `${(r.ess / r.cpuSeconds / stanOwn).toFixed(2)}x`,
            Number.isNaN(peers.stan) ? '-' : `${(essPerS / peers.stan).toFixed(2)}x`,
            peers.webppl ? `${(essPerS / peers.webppl).toFixed(2)}x` : '',
          ];
        }),
      ),
    );
    for (const r of results) if (r.compiledWhy) console.log(`${r.label}: not compiled: ${r.compiledWhy}`);
    for (const r of results) console.log(`${r.label}: metric ${r.metric}${r.phases ? `; wall ms: ${r.phases}` : ''}`);
    if (own) {
      const f = (xs: number[], digits: number): string => xs.map((x) => x.toFixed(digits)).join(' / ');
      console.log(`Stan's own sampler (rstan, seeds ${own.map((r) => r.seed).join(', ')}): sampler s ${f(own.map((r) => r.sampler_s), 3)}, min ESS ${f(own.map((r) => r.ess), 0)}, ESS per sampler s ${f(own.map((r) => r.ess / r.sampler_s), 0)} (median ${stanOwn!.toFixed(0)}), leapfrog steps ${own.map((r) => r.leapfrog).join(' / ')}`);
    } else if (stanOwn !== undefined) console.log(`Stan's own sampler: ${stanOwn} ESS per sampler second (../shared/peers/README.md)`);
    if (!Number.isNaN(peers.stan)) console.log(`peers: Stan NUTS ${peers.stan} ESS/s${peers.webppl ? `, WebPPL ${peers.webpplWhat} ${peers.webppl} ESS/s` : ''}${peers.webpplNote ? `; ${peers.webpplNote}` : ''}\n`);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
