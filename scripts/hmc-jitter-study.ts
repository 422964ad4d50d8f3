/**
 * Static HMC with and without integration-time jitter on the posteriors of
 * test/mcmc/hmc-jitter-cases.ts: `method: 'hmc'` at its defaults (4
 * vectorised chains x (1000 + 1000), integration time 2 pi, auto metric), once
 * with `jitter: 0` (the fixed step count of earlier versions) and once with
 * the default jitter, per seed. Prints a markdown table: the smallest bulk ESS
 * and the largest R-hat over the summary's rows, and gradient evaluations (the
 * cost, independent of the machine's load).
 *
 *   npx tsx scripts/hmc-jitter-study.ts [seeds, default 1,2,3] [case names, default all]
 */
import { initBackend } from '../src/backend/select.js';
import { infer } from '../src/index.js';
import { JITTER_CASES, type Mixing, mixingOf } from '../test/mcmc/hmc-jitter-cases.js';

await initBackend('cpu');
const seeds = (process.argv[2] ?? '1,2,3').split(',').map(Number);
const only = process.argv[3]?.split(',');
const cases = JITTER_CASES.filter((c) => !only || only.includes(c.name));

async function run(c: (typeof cases)[number], seed: number, jitter: 0 | undefined): Promise<Mixing> {
  const post = await infer(c.model, { method: 'hmc', seed, ...(jitter === 0 ? { jitter } : {}) }, ...(c.args() as never[]));
  const m = mixingOf(post);
  post.dispose();
  return m;
}

const cell = (m: Mixing): string => `${m.minEssBulk.toFixed(0)} / ${m.maxRhat.toFixed(3)}`;
console.log('| posterior | seed | fixed 2 pi (jitter 0): min ESS bulk / max R-hat | jittered (default): min ESS bulk / max R-hat | gradients fixed / jittered |');
console.log('| --- | --- | --- | --- | --- |');
// console.warn carries the engine's MCMC warnings: the table is what this prints on stdout
for (const c of cases) {
  for (const seed of seeds) {
    const fixed = await run(c, seed, 0);
    const jittered = await run(c, seed, undefined);
    console.log(`| ${c.name} | ${seed} | ${cell(fixed)} | ${cell(jittered)} | ${fixed.gradients} / ${jittered.gradients} |`);
  }
}
