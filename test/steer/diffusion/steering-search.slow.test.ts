/**
 * Diffusion Tree Sampling, slow tier (TYCHE_SLOW=1), on the analytic 2-D
 * mixture under a linear reward: grown uniformly, the tree law's error
 * shrinks as the budget grows; grown by the paper's Boltzmann selection, the
 * tree law moves from the base law toward the tilted one but under-tilts at
 * these budgets (the counts of children depend on the rewards seen: the
 * negative bias of adaptively collected means, compounded over the levels),
 * which is measured and bounded here, not hidden.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src/backend/select.js';
import * as D from '../../../src/steer/diffusion/index.js';
import * as St from '../../../src/steer/diffusion/steering/index.js';
import { checkWeightedRuns, mixtureStatistics, type WeightedRun } from '../../../src/testing/weighted-runs.js';
import { MIX, weightedMeanRmse } from './fixtures.js';

beforeAll(async () => {
  await initBackend('cpu');
});

const SCH = D.vpLinear();
const MODEL = MIX.model(SCH, 'epsilon');
const A = [0.6, -0.4];
const TARGET = St.linearTilt(MIX.marginal(SCH, SCH.tMin), A, 1);
const RUNS = 10;

async function trees(budget: number, selectionLambda: number | undefined, tag: string): Promise<WeightedRun[]> {
  const out: WeightedRun[] = [];
  for (let r = 0; r < RUNS; r++) {
    const res = await St.diffusionTreeSampling(MODEL, { reward: St.linearReward(A), lambda: 1, selectionLambda, budget, steps: 100, batch: 64, checkFinite: false, seed: `dts-slow-${tag}-${r}` });
    out.push({ x: res.leaves.x, weights: res.leaves.weights });
    res.x.dispose();
  }
  return out;
}


describe('Diffusion Tree Sampling (slow tier)', () => {
  it('grown uniformly (the default for DTS): the tree law passes at 40,000 evaluations and its error shrinks from 5,000', async () => {
    const small = await trees(5_000, 0, 'u5k');
    const large = await trees(40_000, 0, 'u40k');
    const c = checkWeightedRuns(large, 2, mixtureStatistics(TARGET));
    const e5 = weightedMeanRmse(small, TARGET.mean());
    const e40 = weightedMeanRmse(large, TARGET.mean());
    if (process.env.TYCHE_REPORT) console.log(`DTS uniform growth: rms error of the mean ${e5.toFixed(4)} (5k) -> ${e40.toFixed(4)} (40k); ${c.summary}`);
    expect(c.pass, c.summary).toBe(true);
    expect(e40).toBeLessThan(e5 / 2);
  }, 600_000);

  it("grown by the paper's Boltzmann selection: tilted away from the base law but short of the target at 25,000 evaluations", async () => {
    const runs = await trees(25_000, 1, 'b25k');
    const c = checkWeightedRuns(runs, 2, mixtureStatistics(TARGET));
    const mass0 = c.stats.find((s) => s.name === 'mass[0]')!;
    if (process.env.TYCHE_REPORT) console.log(`DTS Boltzmann growth: mass[0] ${mass0.estimate.toFixed(3)} ± ${mass0.mcse.toFixed(3)} (target ${mass0.exact.toFixed(3)}, base 0.5); ${c.summary}`);
    expect(mass0.estimate + 4 * mass0.mcse).toBeLessThan(0.5); // it does tilt
    expect(mass0.estimate - 4 * mass0.mcse).toBeGreaterThan(mass0.exact); // but under-tilts (documented; a change that removes the bias should update this test and the docs)
  }, 600_000);
});
