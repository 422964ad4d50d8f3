/**
 * MODEWARN, session 19: NUTS's default `init: 'ascent'` keeps each chain's
 * best start, so every chain may begin in the major mode's basin and a minor
 * mode is missed with clean R-hat. `mode-check.ts` reads the ascent ends the
 * chains discarded and warns where one settled at a mode that no draw went
 * near. Planted (each makes a test here fail; see docs/design.md, "MODEWARN,
 * session 19"): the check disabled (`ascentModeCheck` returning undefined),
 * the basin test always "same" (`SPREAD_FACTOR` Infinity), and every end
 * counted as settled (the centred eight schools' funnel ends then warn).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import { rngFrom } from '../../src/core/rng.js';
import { infer } from '../../src/index.js';
import type { AscentEnd } from '../../src/infer/mcmc/initialise.js';
import { MODE_GAP, checkAscentEnds, unvisitedModeWarning } from '../../src/infer/mcmc/mode-check.js';
import { eightSchoolsCentered, eightSchoolsData, eightSchoolsNoncentered } from '../../models/posteriordb/eight-schools.js';
import { kidiqData, kidscoreMomiq } from '../../models/posteriordb/kidiq.js';
import { CASES } from './posteriordb-cases.js';
import { bimodalFar, funnel, heavy, hier, hmmFwd, linreg, logreg, mix2asym, ridge } from './hidden-mode-session19-models.js';

beforeAll(async () => {
  await initBackend('cpu');
});

describe('checkAscentEnds on draws of a standard normal (4 chains x 300, 2-D)', () => {
  const rng = rngFrom(19);
  const samples = [0, 1, 2, 3].map(() => Float64Array.from({ length: 600 }, () => rng.normal()));
  const logDensity = samples.map((s) => Float64Array.from({ length: 300 }, (_, i) => -0.5 * (s[2 * i]! ** 2 + s[2 * i + 1]! ** 2)));
  const kept: AscentEnd = { q: [0.01, -0.02], logp: 0, converged: true, chosen: true };
  const run = (end: AscentEnd) => checkAscentEnds({ dim: 2, initEnds: [[kept, end], [kept], [kept], [kept]], samples, logDensity });

  it('an end settled far out, 3 below the best: unvisited, and the warning names the farthest coordinate first', () => {
    const check = run({ q: [0.3, 7], logp: -3, converged: true, chosen: false });
    expect(check.unvisited).toHaveLength(1);
    expect(check.unvisited[0]!.chain).toBe(0);
    const w = unvisitedModeWarning(check, ['a', 'b'])!;
    expect(w).toMatch(/^init 'ascent' found a mode that no chain visited: 1 of 5 starting ascents \(in 1 chain\)/);
    expect(w).toMatch(/log density -3\.00 against 0\.00.* at b 7\.00 \(draws .*\), a 0\.300/);
    expect(w).toMatch(/init: 'uniform'/);
  });

  it('no warning where the end had not settled, lies more than MODE_GAP below, or lies inside the draws', () => {
    expect(run({ q: [0.3, 7], logp: -3, converged: false, chosen: false }).unvisited).toHaveLength(0);
    expect(run({ q: [0.3, 7], logp: -MODE_GAP - 0.5, converged: true, chosen: false }).unvisited).toHaveLength(0);
    const inside = run({ q: [1.5, -1], logp: -1.6, converged: true, chosen: false });
    expect(inside.unvisited).toHaveLength(0);
    expect(inside.settled).toBe(5);
    expect(inside.maxSpread).toBeGreaterThan(0);
    expect(inside.maxSpread).toBeLessThan(1);
    expect(unvisitedModeWarning(inside, ['a', 'b'])).toBeUndefined();
  });
});

/** NUTS at the default init, shortened (fewer draws make the basin test stricter: the draws' own spread is narrower). */
const short = { method: 'nuts', warmup: 300, samples: 300 } as const;

describe('multimodal posteriors whose chains all start in one basin warn, and R-hat alone is clean there', () => {
  it("NEWUSER5's two-state HMM (4.6% of the mass in the label-swapped mode) warns, naming mu0 and mu1", async () => {
    const post = await infer(hmmFwd, { ...short, seed: 1 } as never);
    const d = post.diagnostics as { hiddenMode?: string; modeCheck?: { unvisited: number } };
    expect(post.warnings.some((w) => w.startsWith('split R-hat'))).toBe(false);
    expect(d.modeCheck!.unvisited).toBeGreaterThan(0);
    expect(d.hiddenMode).toMatch(/at mu0 3\.4\d .*mu1 0\.4\d/);
    expect(post.warnings).toContain(d.hiddenMode);
    post.dispose();
  });

  it('0.05 N(-6, 1) + 0.95 N(6, 1) warns; a mixture whose priors favour one labelling warns at seed 1', async () => {
    for (const m of [bimodalFar, mix2asym]) {
      const post = await infer(m, { ...short, seed: 1 } as never);
      expect(post.warnings.some((w) => w.startsWith("init 'ascent' found a mode")), m.name).toBe(true);
      post.dispose();
    }
  });

  it("init: 'uniform' runs no ascent: no check, no figures", async () => {
    const post = await infer(bimodalFar, { ...short, seed: 1, init: 'uniform' } as never);
    expect((post.diagnostics as { modeCheck?: unknown }).modeCheck).toBeUndefined();
    post.dispose();
  });
});

describe('unimodal posteriors do not warn (10 models, seeds 1 and 2)', () => {
  const models: [string, unknown, unknown[]][] = [
    ['eight schools centred (funnel: its ascents run down the neck, none settles)', eightSchoolsCentered, [eightSchoolsData]],
    ['eight schools non-centred', eightSchoolsNoncentered, [eightSchoolsData]],
    ['kidiq', kidscoreMomiq, [kidiqData]],
    ['arK (AR(5))', CASES.find((c) => c.name.startsWith('arK'))!.model, CASES.find((c) => c.name.startsWith('arK'))!.args()],
    ['linear regression', linreg, []],
    ['logistic regression', logreg, []],
    ["Neal's funnel (10-D)", funnel, []],
    ['ridge a + b', ridge, []],
    ['student-t likelihood with an outlier', heavy, []],
    ['hierarchical normal', hier, []],
  ];
  it.each(models)('%s', async (_name, m, args) => {
    for (const seed of [1, 2]) {
      const post = await infer(m as typeof linreg, { ...short, seed } as never, ...(args as []));
      const d = post.diagnostics as { hiddenMode?: string; modeCheck?: { ends: number } };
      expect(d.modeCheck!.ends).toBe(16);
      expect(d.hiddenMode).toBeUndefined();
      post.dispose();
    }
  });
});
