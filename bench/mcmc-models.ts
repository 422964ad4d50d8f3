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
 * the reason is printed otherwise). "max |z|" is the largest |mean - reference| / (sd sqrt(1/ESS + 1/ESS_ref))
 * against the long Stan runs in reference_stan.json (a sanity check).
 *
 * Run: `npx tsx bench/mcmc-models.ts [--quick] [--chains 4,16,64] [--only eight|logreg|linreg] [--no-sequential] [--compile auto|true|false]`
 *
 * @module
 */
import { existsSync, readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/backend/select.js';
import { essBulk } from '../src/diagnostics/ess.js';
import { infer } from '../src/index.js';
import type { Model } from '../src/core/model.js';
import type { HMCDiagnostics } from '../src/infer/mcmc/hmc-engine.js';
import { linearRegression } from '../models/linreg.js';
import { logisticRegression } from '../models/logreg.js';
import { eightSchoolsNoncentered } from '../models/posteriordb/eight-schools.js';
import { table } from './util.js';

const PEERS = new URL('../../shared/peers/', import.meta.url);
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

/** The peers' figures (../shared/peers/README.md): ESS/s on the same data and settings, one core. */
const PEER_FIGURES: Record<string, { stan: number; webppl?: number; webpplWhat?: string; webpplNote?: string }> = {
  eight: { stan: 3602, webppl: 140, webpplWhat: 'HMC' },
  logreg: { stan: 819, webpplNote: 'no WebPPL figure (its HMC did not converge on linreg)' },
  linreg: { stan: 5883, webppl: 11, webpplWhat: 'MH 4 x 10000', webpplNote: 'WebPPL HMC did not converge (R-hat 1.55-3.43)' },
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
  return out;
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
}

async function run(w: Workload, chains: number, vectorize: boolean | 'mh'): Promise<Result> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const post =
    vectorize === 'mh'
      ? await infer(w.model, { method: 'mh', chains, warmup: iterations, samples: w.mhDraws ?? iterations, seed: 1 }, ...(w.args as never[]))
      : await infer(w.model, { method: 'nuts', chains, warmup: iterations, samples: iterations, seed: 1, vectorize, compile }, ...(w.args as never[]));
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const d = post.diagnostics as unknown as Partial<HMCDiagnostics>;
  if (vectorize === true && d.vectorized !== true) throw new Error(`${w.title}: did not run vectorised (${d.vectorized})`);
  const cols = post.chainColumns()!;
  let ess = Infinity;
  let maxZ = 0;
  for (const [name, chainsOf] of cols) {
    const e = essBulk(chainsOf);
    ess = Math.min(ess, e);
    const ref = w.reference;
    const key = w.rename(name);
    if (ref && ref.mean[key] !== undefined) {
      const m = post.moments(name).mean;
      // the reference's own Monte Carlo error counts too (its note gives its minimum bulk ESS)
      const refEss = ref.ess ?? Infinity;
      maxZ = Math.max(maxZ, Math.abs(m - ref.mean[key]!) / (ref.sd[key]! * Math.sqrt(1 / e + 1 / refEss)));
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
  };
}

async function main(): Promise<void> {
  await initBackend();
  const ws = workloads().filter((w) => !only || w.key === only);
  if (ws.length === 0) {
    console.log(`no workloads: the peers' data (${PEERS.pathname}) is not present`);
    return;
  }
  console.log(`NUTS via the model layer, each chain ${iterations} warmup + ${iterations} draws${quick ? ' (--quick)' : ''}; backend ${tf.getBackend()}\n`);
  for (const w of ws) {
    const results: Result[] = [];
    if (sequential) results.push(await run(w, 4, false));
    for (const k of chainCounts) results.push(await run(w, k, true));
    if (w.mhDraws) results.push(await run(w, 4, 'mh'));
    const peers = PEER_FIGURES[w.key]!;
    console.log(`${w.title}`);
    console.log(
      table(
        ['run', 'wall s', 'cpu s', 'min ESS', 'ESS/s', 'ESS/cpu-s', 'ESS/grad', 'µs/call (cpu)', 'div', 'R-hat<1.01', 'max |z|', 'compiled', 'vs Stan', peers.webppl ? 'vs WebPPL' : ''],
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
            `${(essPerS / peers.stan).toFixed(2)}x`,
            peers.webppl ? `${(essPerS / peers.webppl).toFixed(2)}x` : '',
          ];
        }),
      ),
    );
    for (const r of results) if (r.compiledWhy) console.log(`${r.label}: not compiled: ${r.compiledWhy}`);
    console.log(`peers: Stan NUTS ${peers.stan} ESS/s${peers.webppl ? `, WebPPL ${peers.webpplWhat} ${peers.webppl} ESS/s` : ''}${peers.webpplNote ? `; ${peers.webpplNote}` : ''}\n`);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
