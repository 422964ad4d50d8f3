/**
 * The hidden-mode check (`src/infer/mcmc/mode-check.ts`, MODEWARN session 19) on the models the MCMC tests use
 * (unimodal: it must not warn) and on multimodal ones (it should warn where every chain kept a start in one basin):
 * one line per model and seed with the check's figures, whether it warned, whether R-hat warned, and the call's CPU.
 *
 *   npx tsx bench/mode-check.ts [uni|multi|all] [seeds, e.g. 1,2] [name filter]
 */
import { initBackend } from '../src/backend/select.js';
import { infer } from '../src/index.js';
import { bimodal1, bimodalFar, heavy, hier, hmmFwd, linreg, logreg, mix2, mix2asym, funnel, ridge } from '../test/mcmc/hidden-mode-session19-models.js';
import { CASES } from '../test/mcmc/posteriordb-cases.js';
import { SESSION7_CASES } from '../test/mcmc/posteriordb-session7-cases.js';
import { TOOLKIT_CASES } from '../test/mcmc/posteriordb-toolkit-cases.js';
import { eightSchoolsCentered, eightSchoolsData } from '../models/posteriordb/eight-schools.js';

type Spec = { name: string; m: any; args: unknown[]; opts?: Record<string, unknown>; multimodal?: boolean };
const UNIMODAL: Spec[] = [
  { name: 'eight schools centred', m: eightSchoolsCentered, args: [eightSchoolsData] },
  ...[...CASES, ...SESSION7_CASES, ...TOOLKIT_CASES.filter((c) => !/lotka|one_comp/.test(c.name))].map((c) => ({ name: c.name, m: c.model, args: c.args(), opts: c.options })),
  { name: 'linear regression (10 points)', m: linreg, args: [] },
  { name: 'logistic regression', m: logreg, args: [] },
  { name: "Neal's funnel (10-D)", m: funnel, args: [] },
  { name: 'ridge a+b', m: ridge, args: [] },
  { name: 'student-t heavy tail', m: heavy, args: [] },
  { name: 'hierarchical normal (6 groups)', m: hier, args: [] },
];
const MULTIMODAL: Spec[] = [
  { name: 'HMM two states (labels swap, 4.6%)', m: hmmFwd, args: [], multimodal: true },
  { name: 'bimodal 1-D 5%/95%', m: bimodal1, args: [], multimodal: true },
  { name: 'mixture of two normals (label switching)', m: mix2, args: [], multimodal: true },
  { name: 'bimodal 1-D 5%/95% at -6/6', m: bimodalFar, args: [], multimodal: true },
  { name: 'mixture, priors N(-1,1.5)/N(1,1.5)', m: mix2asym, args: [], multimodal: true },
];
await initBackend('cpu');
const which = process.argv[2] ?? 'all';
const seeds = (process.argv[3] ?? '1').split(',').map(Number);
const list = which === 'uni' ? UNIMODAL : which === 'multi' ? MULTIMODAL : [...UNIMODAL, ...MULTIMODAL];
const filter = process.argv[4];
for (const s of list) {
  if (filter && !s.name.includes(filter)) continue;
  for (const seed of seeds) {
    const t0 = process.cpuUsage();
    try {
      const post = await infer(s.m, { method: 'nuts', seed, ...(s.opts ?? {}) } as never, ...(s.args as never[]));
      const d = post.diagnostics as Record<string, any>;
      const mc = d.modeCheck;
      const rhat = post.warnings.some((w) => w.startsWith('split R-hat'));
      console.log(`${s.name} seed ${seed}: ends ${mc?.ends} settled ${mc?.settled} unvisited ${mc?.unvisited} maxSpread ${mc?.maxSpread?.toFixed(3)} warn ${d.hiddenMode ? 'YES' : 'no'} rhatWarn ${rhat} cpu ${((process.cpuUsage(t0).user + process.cpuUsage(t0).system) / 1e6).toFixed(1)}s`);
      if (d.hiddenMode) console.log('   ', d.hiddenMode.slice(0, 400));
      post.dispose();
    } catch (e) {
      console.log(`${s.name} seed ${seed}: ERROR ${(e as Error).message.slice(0, 200)}`);
    }
  }
}
