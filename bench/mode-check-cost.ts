/**
 * CPU of the hidden-mode check (`src/infer/mcmc/mode-check.ts`) on 4 chains x 1000 draws of D coordinates with
 * 4 ascent ends per chain: the median of 21 calls (process.cpuUsage), after 5 to warm up.
 *
 *   npx tsx bench/mode-check-cost.ts
 */
import { rngFrom } from '../src/core/rng.js';
import { checkAscentEnds } from '../src/infer/mcmc/mode-check.js';

for (const dim of [2, 10, 100]) {
  const rng = rngFrom(dim);
  const samples = [0, 1, 2, 3].map(() => rng.normals(1000 * dim));
  const logDensity = samples.map(() => rng.normals(1000));
  const initEnds = [0, 1, 2, 3].map(() => [0, 1, 2, 3].map((k) => ({ q: Array.from(rng.normals(dim)), logp: -k, converged: true, chosen: k === 0 })));
  const times: number[] = [];
  for (let r = 0; r < 26; r++) {
    const t0 = process.cpuUsage();
    checkAscentEnds({ dim, initEnds, samples, logDensity });
    const t = process.cpuUsage(t0);
    if (r >= 5) times.push((t.user + t.system) / 1000);
  }
  times.sort((a, b) => a - b);
  console.log(`D ${dim}: median ${times[10]!.toFixed(2)} ms CPU (min ${times[0]!.toFixed(2)}, max ${times[20]!.toFixed(2)})`);
}
