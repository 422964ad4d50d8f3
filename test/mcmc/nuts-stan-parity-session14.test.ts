/**
 * NUTS's transition against Stan 2.21's `base_nuts` (issue 16, ADAPT session 14). With adaptation off (unit
 * metric, a fixed step size) the trajectory lengths are the kernel's alone, so their mean and the share of each
 * tree depth must match what rstan 2.21.7 drew on the same targets: 10-D Gaussians with sds 1 (step size 0.8) and
 * sds 0.5, 1, ..., 5 (step size 0.4), init 0, 4 chains x (100 + 2000), seeds 1-20
 * (`Rscript bench/stan/fixed-kernel.R`, on bench/stan/gauss10.stan; its summary lines are the constants below).
 * Tolerance: 4 standard errors of the difference (tyche's from the ESS of its leapfrog counts and a binomial error
 * for a share; Stan's over its seeds).
 *
 * Planted: checking only the whole trajectory's ends at each merge (no checks across the boundary between the two
 * halves, Stan before 2.21) misses the U-turns of the isotropic Gaussian at step size 0.8: mean leapfrog steps 5.74
 * become 55.9, a third of the trees reaching depth 7.
 */
import { describe, expect, it } from 'vitest';
import { essBasic } from '../../src/diagnostics/ess.js';
import { sampleNuts } from '../../src/infer/mcmc/index.js';

const D = 10;

/** A case: the Gaussian's sds, the step size, and Stan's figures (mean over 20 seeds x 8000 transitions and its s.e.; each depth's share and its s.e.). */
interface Case {
  readonly name: string;
  readonly sd: Float64Array;
  readonly stepSize: number;
  readonly stan: { readonly meanLeapfrog: number; readonly se: number; readonly share: Record<string, number>; readonly shareSe: Record<string, number> };
}

const CASES: readonly Case[] = [
  {
    name: '10-D standard normal, step size 0.8',
    sd: Float64Array.from({ length: D }, () => 1),
    stepSize: 0.8,
    stan: { meanLeapfrog: 5.779825, se: 0.00503, share: { 1: 6.25e-05, 2: 0.361106, 3: 0.638831 }, shareSe: { 1: 1.7e-05, 2: 0.00113, 3: 0.00113 } },
  },
  {
    name: '10-D Gaussian with sds 0.5-5, step size 0.4',
    sd: Float64Array.from({ length: D }, (_, i) => (i + 1) / 2),
    stepSize: 0.4,
    stan: { meanLeapfrog: 32.57532, se: 0.0273, share: { 2: 0.0004, 3: 0.010075, 4: 0.236656, 5: 0.726956, 6: 0.0258875, 7: 2.5e-05 }, shareSe: { 2: 4.93e-05, 3: 0.000196, 4: 0.00119, 5: 0.00146, 6: 0.000481, 7: 1.15e-05 } },
  },
];

/** log N(x | 0, diag(sd^2)) up to a constant, and its gradient. */
function gaussian(sd: Float64Array): (q: Float64Array) => { logp: number; grad: Float64Array } {
  return (q) => {
    const grad = new Float64Array(D);
    let logp = 0;
    for (let i = 0; i < D; i++) {
      const z = q[i]! / sd[i]!;
      logp -= 0.5 * z * z;
      grad[i] = -z / sd[i]!;
    }
    return { logp, grad };
  };
}

describe("NUTS's transition against Stan 2.21's (adaptation off)", () => {
  for (const c of CASES) {
    it(`${c.name}: Stan's trajectory lengths and tree depths`, async () => {
      const chains = 4;
      const r = await sampleNuts(gaussian(c.sd), {
        dim: D,
        chains,
        warmup: 100,
        draws: 2000,
        seed: 14,
        massMatrix: 'identity',
        adaptStepSize: false,
        adaptMassMatrix: false,
        stepSize: c.stepSize,
        init: Array.from({ length: chains }, () => new Float64Array(D)),
      });
      const counts = r.stats.map((s) => Float64Array.from(s.nLeapfrog));
      const all = counts.flatMap((x) => [...x]);
      const n = all.length;
      const mean = all.reduce((a, b) => a + b, 0) / n;
      const sd = Math.sqrt(all.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1));
      const se = Math.sqrt((sd * sd) / essBasic(counts) + c.stan.se ** 2);
      expect(Math.abs(mean - c.stan.meanLeapfrog), `mean leapfrog steps ${mean.toFixed(3)} against Stan's ${c.stan.meanLeapfrog}`).toBeLessThan(4 * se);
      // the depths Stan reaches in at least 1 transition of 200 (rarer ones count in the mean)
      for (const [depth, share] of Object.entries(c.stan.share).filter(([, s]) => s >= 0.005)) {
        const ours = r.stats.reduce((a, s) => a + s.treeDepth.filter((t) => t === Number(depth)).length, 0) / n;
        const err = Math.sqrt((share * (1 - share)) / n + c.stan.shareSe[depth]! ** 2);
        expect(Math.abs(ours - share), `share of depth ${depth}: ${ours.toFixed(4)} against Stan's ${share}`).toBeLessThan(4 * err);
      }
    });
  }
});
