/**
 * Eight schools (non-centred) with NUTS, 4 chains x (1000 + 1000), over several seeds and initialisations:
 * the largest |z| of a posterior mean against the long Stan reference (../shared/peers/reference_stan.json),
 * with z = |mean - ref| / (ref sd * sqrt(1 / ESS_bulk + 1 / ESS_ref)), as bench/mcmc-models.ts computes it.
 * Needs ../shared/peers.
 *
 * Run: `npx tsx scripts/eight-schools-z.ts [inits, e.g. ascent,uniform] [seeds, e.g. 1,2,3]`
 */
import { readFileSync } from 'node:fs';
import { initBackend } from '../src/backend/select.js';
import { essBulk } from '../src/diagnostics/ess.js';
import { infer } from '../src/index.js';
import { eightSchoolsNoncentered } from '../models/posteriordb/eight-schools.js';

await initBackend();
const es = JSON.parse(readFileSync('../shared/peers/eight_schools.json', 'utf8')) as { J: number; y: number[]; sigma: number[] };
const ref = (JSON.parse(readFileSync('../shared/peers/reference_stan.json', 'utf8')) as Record<string, { mean: Record<string, number>; sd: Record<string, number>; ess?: number }>).eight_schools!;
const refEss = ref.ess ?? Infinity;
const inits = (process.argv[2] ?? 'ascent,uniform').split(',') as ('ascent' | 'uniform')[];
const seeds = (process.argv[3] ?? '1,2,3,4,5,6').split(',').map(Number);
for (const init of inits) {
  for (const seed of seeds) {
    const post = await infer(eightSchoolsNoncentered, { method: 'nuts', chains: 4, warmup: 1000, samples: 1000, seed, init }, { J: es.J, y: es.y, sigma: es.sigma });
    let worst = 0;
    let at = '';
    for (const [name, chains] of post.chainColumns()!) {
      const key = name.replace('theta_trans', 'theta_tilde').replace(/\[(\d+)\]/, (_, k: string) => `[${Number(k) + 1}]`);
      if (ref.mean[key] === undefined) continue;
      const z = Math.abs(post.moments(name).mean - ref.mean[key]!) / (ref.sd[key]! * Math.sqrt(1 / essBulk(chains) + 1 / refEss));
      if (z > worst) [worst, at] = [z, name];
    }
    console.log(`${init} seed ${seed}: max |z| ${worst.toFixed(2)} (${at})`);
    post.dispose();
  }
}
