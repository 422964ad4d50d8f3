/**
 * The coal-mining switchpoint (models/coal.ts: a discrete switchpoint over
 * 112 years, two Poisson rates with Gamma priors) under `hmc-gibbs` and under
 * `mh` with `gibbs: true`: wall and CPU time of the whole `infer` call, the
 * time spent in Gibbs updates, model runs, and the posterior mean of the
 * switchpoint and the rates against the exact posterior (switchpoint
 * enumerated, rates integrated out analytically), as z = (mean - exact) / MCSE.
 *
 * Each engine runs twice in this process: with the vectorised Gibbs update
 * (one model run over all 112 values of the switchpoint, the default) and
 * with `vectorizeGibbs: false` (one model run per value, the old way), so
 * the speed-up is measured in the same sitting.
 *
 * `--scalar`: the model as a newcomer writes it instead (a loop of 112 scalar
 * `observe`s with a JavaScript ternary on the switchpoint, issue 16), whose
 * Gibbs updates run one lean run per value on plain numbers
 * (`lean-gibbs.ts`); its baseline is the same model given a handler that
 * does nothing, which keeps it on the general runtime (the path before
 * session 17, same draws).
 *
 * 1600 sweeps: hmc-gibbs 4 chains x (200 warmup + 200 draws); mh 4 chains x
 * (600 + 600) single-site steps over 3 sites (about 1600 updates of the
 * switchpoint). `--quick` quarters the counts.
 *
 * Run: `npx tsx bench/coal-switchpoint.ts [--quick] [--scalar] [--only hmc-gibbs|mh] [--no-baseline]`
 *
 * @module
 */
import { initBackend } from '../src/backend/select.js';
import { essBulk } from '../src/diagnostics/ess.js';
import { Categorical, Gamma, Poisson, infer, model, toNumber } from '../src/index.js';
import type { Posterior } from '../src/infer/posterior.js';
import { type CoalData, coalExactPosterior, coalSwitchpoint, loadCoalData } from '../models/coal.js';
import { table } from './util.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const only = args.includes('--only') ? args[args.indexOf('--only') + 1] : undefined;
const baseline = !args.includes('--no-baseline');
const scalar = args.includes('--scalar');
const div = quick ? 4 : 1;

const data = loadCoalData();
const exact = coalExactPosterior(data);

/** The coal model as a newcomer writes it (scratch/newuser16/p5.ts), same sites and priors as `coalSwitchpoint`. */
const scalarCoal = model(
  async ({ sample, observe }, d: CoalData) => {
    const n = d.counts.length;
    const s = (await sample('switchpoint', Categorical(new Array<number>(n).fill(1 / n)))) as number;
    const early = await sample('early', Gamma(d.a ?? 1, d.b ?? 1));
    const late = await sample('late', Gamma(d.a ?? 1, d.b ?? 1));
    for (let t = 0; t < n; t++) await observe(`y${t}`, Poisson(t < s ? early : late), d.counts[t]!);
  },
  { name: 'coal_scalar' },
);
/** The same, kept on the general runtime by a handler that does nothing (the lean runtime runs plain models only). */
const scalarGeneral = scalarCoal.withHandler({ process() {} });

/** Per-chain draws of one site as numbers. */
function chainsOf(post: Posterior<unknown[], unknown>, site: string): number[][] {
  const out: number[][] = [];
  for (const d of post.draws) {
    const c = d.chain ?? 0;
    (out[c] ??= []).push(toNumber(d.values[site] as number));
  }
  return out;
}

/** z = (mean - exact) / MCSE, MCSE from the bulk ESS. */
function zOf(post: Posterior<unknown[], unknown>, site: string, want: number): { mean: number; z: number; ess: number } {
  const chains = chainsOf(post, site);
  const all = chains.flat();
  const mean = all.reduce((a, b) => a + b, 0) / all.length;
  const sd = Math.sqrt(all.reduce((a, b) => a + (b - mean) ** 2, 0) / (all.length - 1));
  const ess = essBulk(chains);
  return { mean, z: (mean - want) / (sd / Math.sqrt(ess)), ess };
}

async function run(method: 'hmc-gibbs' | 'mh', vectorize: boolean | undefined): Promise<string[]> {
  const extra = vectorize === undefined || scalar ? {} : { vectorizeGibbs: vectorize };
  const m = scalar ? (vectorize === false ? scalarGeneral : scalarCoal) : coalSwitchpoint;
  const options =
    method === 'hmc-gibbs'
      ? { method, chains: 4, warmup: 200 / div, samples: 200 / div, seed: 1, ...extra }
      : { method, gibbs: true, chains: 4, warmup: 600 / div, samples: 600 / div, seed: 1, ...extra };
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const post = (await infer(m as typeof coalSwitchpoint, options as never, data)) as Posterior<unknown[], unknown>;
  const wall = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  const cpu = (c.user + c.system) / 1e6;
  const s = zOf(post, 'switchpoint', exact.meanSwitchpoint);
  const e = zOf(post, 'early', exact.meanEarly);
  const l = zOf(post, 'late', exact.meanLate);
  const diag = post.diagnostics as Record<string, unknown>;
  const gibbs = diag.gibbsMs !== undefined ? `${((diag.gibbsMs as number) / 1000).toFixed(1)} s` : '—';
  const runs = diag.gibbsModelRuns !== undefined ? String(diag.gibbsModelRuns) + (diag.gibbsLeanRuns ? ` + ${String(diag.gibbsLeanRuns)} lean` : '') : '—';
  const how = scalar ? (vectorize === false ? 'scalar, general runtime' : 'scalar, lean') : vectorize === false ? 'per value' : 'vectorised';
  const zs = [s.z, e.z, l.z].map((z) => z.toFixed(1)).join(' / ');
  return [`${method}, ${how}`, wall.toFixed(1), cpu.toFixed(1), gibbs, runs, `${s.mean.toFixed(2)} (${exact.meanSwitchpoint.toFixed(2)})`, zs, s.ess.toFixed(0)];
}

async function main(): Promise<void> {
  const info = await initBackend();
  console.log(`coal switchpoint (112 years, ${data.counts.reduce((a, b) => a + b, 0)} disasters${scalar ? ', the scalar form' : ''}), backend ${info.name}, Node ${process.version}`);
  console.log(`exact: E[switchpoint] = ${exact.meanSwitchpoint.toFixed(3)} (year ${(data.firstYear + exact.meanSwitchpoint).toFixed(1)}), E[early] = ${exact.meanEarly.toFixed(4)}, E[late] = ${exact.meanLate.toFixed(4)}`);
  console.log('(the machine is shared with other engineers: compare CPU seconds; ratios are within this run)\n');
  const head = ['engine', 'wall s', 'cpu s', 'gibbs', 'gibbs runs', 'E[s] (exact)', 'z s / early / late', 'ESS s'];
  const rows: string[][] = [];
  for (const method of ['hmc-gibbs', 'mh'] as const) {
    if (only && only !== method) continue;
    const fast = await run(method, baseline ? true : undefined);
    rows.push(fast);
    console.log(table(head, [fast]).split('\n')[1]);
    if (baseline) {
      const slow = await run(method, false);
      rows.push(slow);
      console.log(table(head, [slow]).split('\n')[1]);
      console.log(`  speed-up ${method}: ${(Number(slow[1]) / Number(fast[1])).toFixed(1)}x wall, ${(Number(slow[2]) / Number(fast[2])).toFixed(1)}x cpu`);
    }
  }
  console.log(`\n${table(head, rows)}`);
}

await main();
