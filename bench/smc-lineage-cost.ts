/**
 * What SMC's discrete-site lineage check (`discreteLineageEss`, SMCDEGEN session 18) costs against the
 * distinct-value check beside it, on the plain jump walk (`test/smc/jump-walk.ts`, 1000 particles, 100 steps, 100
 * discrete jump indicators): per run, the whole `infer` call's CPU, then each check alone on the run's posterior
 * (each builds the site columns, which the warnings share, so the difference is the lineage part).
 *
 * Run: `npx tsx bench/smc-lineage-cost.ts [--runs 4]` (needs ../shared/peers/hmm.json, the walk's data).
 */
import { existsSync, readFileSync } from 'node:fs';
import { infer } from '../src/index.js';
import { discreteLineageEss, distinctValueEss } from '../src/infer/particle-warnings.js';
import { ancestryOf } from '../src/infer/smc/genealogy.js';
import { jumpWalk } from '../test/smc/jump-walk.js';

const file = new URL('../../shared/peers/hmm.json', import.meta.url).pathname;
if (!existsSync(file)) throw new Error(`${file} not found (the walk's data)`);
const d = JSON.parse(readFileSync(file, 'utf8')) as { m0: number; s0: number; q: number; r: number; y: number[] };
const data = { m0: d.m0, s0: d.s0, q: d.q, r: d.r, p: 0.1, sJ: 5, ys: d.y };
const at = process.argv.indexOf('--runs');
const runs = at > 0 ? Number(process.argv[at + 1]) : 4;

const cpuMs = (f: () => unknown): number => {
  const c0 = process.cpuUsage();
  f();
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1e3;
};
const print = console.log;
console.warn = () => {}; // (the runs' own path-degeneracy warnings)
for (const ess of [undefined, 1]) {
  const whole: number[] = [];
  const lineage: number[] = [];
  const distinct: number[] = [];
  for (let r = 0; r < runs; r++) {
    const c0 = process.cpuUsage();
    const post = await infer(jumpWalk, { method: 'smc', particles: 1000, batched: false, seed: r, ...(ess === undefined ? {} : { essThreshold: ess }) }, data);
    const c = process.cpuUsage(c0);
    whole.push((c.user + c.system) / 1e3);
    const ancestry = ancestryOf(post.diagnostics);
    if (!ancestry) throw new Error('no ancestry kept beside the diagnostics');
    lineage.push(cpuMs(() => discreteLineageEss(post.draws, post.weights, ancestry, 100)));
    distinct.push(cpuMs(() => distinctValueEss(post.draws, post.weights, 100)));
    post.dispose();
  }
  const f = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(' ');
  print(`resampling ${ess === undefined ? 'at ESS < N/2' : 'always'}: whole call ms ${f(whole)}; discreteLineageEss ms ${f(lineage)}; distinctValueEss ms ${f(distinct)}`);
}
