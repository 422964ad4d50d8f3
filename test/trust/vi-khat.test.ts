/**
 * Issue 11 item 12: VI must say when its answer cannot be trusted. After fitting, the posterior's
 * draws from the guide give log p - log q, whose Pareto k-hat (diagnostics/psis.ts; Yao et al. 2018,
 * "Yes, but did it work?") is reported in `diagnostics.khat` and `summary()`, with a warning above 0.7.
 * - a guide that matches the posterior (mean-field normal on a conjugate normal model, exact
 *   posterior in the family): k-hat < 0.5, no warning;
 * - a mean-field normal on a strongly correlated Gaussian (rho = 0.99: the guide's variance along the
 *   ridge is ~1/100 of the posterior's, so p/q has a tail with k near 1): k-hat > 0.7 and a warning;
 * - the planted bug (log ratios "normalised" to unit sd before PSIS, which scales the tail index by
 *   1/sd) passes the bad fit as good.
 * k-hat only sees where the guide puts mass: a fit stopped far from the posterior can score well
 * (kidiq with 4000 mvn steps: k-hat 0.04, sigma 24 sds off). So VI also warns when the loss was
 * still falling at the end (the last two tenths of the steps differ by > 3 se and > 0.1 nats).
 */
import { afterEach, describe, expect, it, vi as vitest } from 'vitest';
import { Normal, infer, model, ops } from '../../src/index.js';
import { psis } from '../../src/diagnostics/psis.js';
import { lossTrend } from '../../src/infer/vi/convergence.js';
import { Rng } from '../../src/core/rng.js';

// five observations y_i ~ Normal(mu, 1), through their sufficient statistic (mean 0.38)
const conjugate = model(async ({ sample, observe }) => {
  const mu = await sample('mu', Normal(0, 1));
  await observe('ybar', Normal(mu, 1 / Math.sqrt(5)), 0.38);
});

const RHO = 0.99;
const correlated = model(async ({ sample, factor }) => {
  const x = await sample('x', Normal(0, 10));
  const y = await sample('y', Normal(0, 10));
  // a bivariate normal with unit variances and correlation RHO (the wide priors barely matter)
  const q = ops.add(ops.sub(ops.mul(x, x), ops.mul(2 * RHO, ops.mul(x, y))), ops.mul(y, y));
  factor('ridge', ops.mul(-0.5 / (1 - RHO * RHO), q));
});

const fit = { method: 'vi' as const, guide: 'normal' as const, steps: 400, samples: 1000, seed: 1, optimizer: { name: 'adam' as const, lr: 0.05 } };

describe('VI reports the Pareto k-hat of its guide', () => {
  afterEach(() => vitest.restoreAllMocks());

  it("a guide that fits: k-hat < 0.5, a note in the summary, no warning; importanceWeights: 'psis' weights by the smoothed ratios", async () => {
    const warn = vitest.spyOn(console, 'warn').mockImplementation(() => {});
    const post = await infer(conjugate, { ...fit, importanceWeights: 'psis' });
    const khat = post.diagnostics.khat as number;
    expect(khat).toBeLessThan(0.5);
    expect(post.warnings).toEqual([]);
    expect(warn).not.toHaveBeenCalled();
    expect(post.summary().toString()).toContain(`Pareto k-hat of the guide: ${khat.toFixed(2)}`);
    expect(Number.isFinite(post.logZ)).toBe(true);
    expect(post.ess).toBeGreaterThan(fit.samples / 2); // a good guide's weights are nearly even
  });

  it('a mean-field guide on a correlated posterior: k-hat > 0.7, a warning printed and kept on the posterior; planted bug: log ratios normalised to unit sd pass it', async () => {
    const warn = vitest.spyOn(console, 'warn').mockImplementation(() => {});
    const post = await infer(correlated, fit);
    expect(post.diagnostics.khat as number).toBeGreaterThan(0.7);
    // two warnings, each printed once: k-hat's, and (session 18) the mean-field check's, which names the cause (rho 0.99 under Normal(0, 10) priors: factor 7.02)
    expect(warn).toHaveBeenCalledTimes(2);
    expect(post.warnings).toHaveLength(2);
    expect(post.warnings[0]).toMatch(/Pareto k-hat .* > 0\.7: the importance ratios p\/q of the AutoNormal's draws have a heavy upper tail/);
    expect(post.warnings[1]).toMatch(/the AutoNormal is mean-field .* too narrow by about "x" 7\.\d\dx, "y" 7\.\d\dx/);
    expect(post.summary().toString()).toContain(`warning: ${post.warnings[0]}`);
    // the planted bug: "normalising" the log ratios scales the tail index by 1 / sd
    const logRatios = post.diagnostics.logRatios as Float64Array;
    expect(psis(logRatios).khat).toBe(post.diagnostics.khat);
    const mean = logRatios.reduce((a, b) => a + b, 0) / logRatios.length;
    const sd = Math.sqrt(logRatios.reduce((a, b) => a + (b - mean) ** 2, 0) / logRatios.length);
    expect(psis(logRatios.map((v) => (v - mean) / sd)).khat).toBeLessThan(0.7);
  });

  it('warns when the loss was still falling at the end, whatever k-hat says', async () => {
    const warn = vitest.spyOn(console, 'warn').mockImplementation(() => {});
    const far = model(async ({ sample, observe }) => {
      const mu = await sample('mu', Normal(0, 100));
      await observe('y', Normal(mu, 1), 60);
    });
    const post = await infer(far, { ...fit, steps: 100 });
    expect(post.warnings.some((w) => /loss was still falling when the 100 steps ended/.test(w))).toBe(true);
    expect(warn).toHaveBeenCalled();
  });
});

describe('lossTrend', () => {
  const noise = (rng: Rng, n: number, f: (i: number) => number, sd = 3): number[] => Array.from({ length: n }, (_, i) => f(i) + sd * rng.normal());
  it('flags a loss still falling and passes a settled one', () => {
    const rng = new Rng('trend');
    expect(lossTrend(noise(rng, 2000, () => 50))!.stillImproving).toBe(false);
    // windows of 200 steps: a decrease of 2 nats between them against a standard error of 0.3
    expect(lossTrend(noise(rng, 2000, (i) => 50 - 0.01 * i))!.stillImproving).toBe(true);
    // a tiny but real improvement (0.02 nats between windows, 20 standard errors) is not worth a warning
    expect(lossTrend(noise(rng, 200_000, (i) => 50 - 1e-6 * i, 0.1))!.stillImproving).toBe(false);
    expect(lossTrend([1, 2, 3])).toBeUndefined();
  });

  it('planted bug: comparing the windows the wrong way round misses the falling loss', () => {
    const falling = noise(new Rng('trend2'), 2000, (i) => 50 - 0.01 * i);
    expect(lossTrend(falling)!.stillImproving).toBe(true);
    expect(lossTrend([...falling].reverse())!.stillImproving).toBe(false);
  });
});
