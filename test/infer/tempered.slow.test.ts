/**
 * Slow tier (TYCHE_SLOW=1): tempered SMC on posteriordb gp_pois_regr written
 * the plain way (Stan's 1e-10 jitter, no options) takes the compiled float64
 * path and recovers the reference posterior means of rho and alpha: the
 * weighted means of independent runs (different seeds) average to the
 * reference within 4 standard errors of that average (from their spread,
 * combined with the reference's MCSE). The check is shown to fail on the same
 * runs shifted by one posterior sd.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import { infer } from '../../src/index.js';
import { gpPoisRegr, gpPoisRegrData } from '../../models/posteriordb/gp-pois-regr.js';
import { meanAndSe } from './fixtures.js';

const SLOW = process.env.TYCHE_SLOW === '1';
const RUNS = 6;
const PARTICLES = 128;

beforeAll(async () => {
  await initBackend('cpu');
});

/** posteriordb reference (10 chains x 10000 draws): mean and the MCSE of the mean (as in float64.slow.test.ts). */
const REFERENCE: Record<string, { mean: number; mcse: number }> = {
  rho: { mean: 5.66652941021132, mcse: 0.00677167972009557 },
  alpha: { mean: 2.92134418379513, mcse: 0.00791888007451612 },
};

/** Failures of "the runs' means average to the reference within 4 combined standard errors", each shifted by `shift` (per site). */
function failures(means: Record<string, number[]>, shift: Record<string, number>): string[] {
  const out: string[] = [];
  for (const [name, ref] of Object.entries(REFERENCE)) {
    const m = meanAndSe(means[name]!.map((x) => x + shift[name]!));
    const se = Math.hypot(m.se, ref.mcse);
    if (!(Math.abs(m.mean - ref.mean) < 4 * se)) out.push(`${name}: ${m.mean.toFixed(4)} vs ${ref.mean.toFixed(4)} (se ${se.toFixed(4)})`);
  }
  return out;
}

describe.skipIf(!SLOW)('tempered SMC on gp_pois_regr (compiled float64, slow tier)', () => {
  it(`${RUNS} runs x ${PARTICLES} particles recover rho and alpha (and the check fails one sd off)`, async () => {
    const means: Record<string, number[]> = { rho: [], alpha: [] };
    const sds: Record<string, number[]> = { rho: [], alpha: [] };
    for (let s = 0; s < RUNS; s++) {
      const post = await infer(gpPoisRegr, { method: 'tempered', particles: PARTICLES, seed: 40 + s }, gpPoisRegrData);
      expect(post.diagnostics.path).toBe('compiled');
      expect(post.draws.every((d) => !Number.isNaN(d.logWeight))).toBe(true);
      for (const name of Object.keys(means)) {
        const m = post.moments(name);
        means[name]!.push(m.mean);
        sds[name]!.push(m.sd);
      }
      console.log(`gp_pois_regr tempered seed ${40 + s}: log Z ${post.logZ.toFixed(3)}, rho ${means.rho!.at(-1)!.toFixed(3)}, alpha ${means.alpha!.at(-1)!.toFixed(3)}`);
      post.dispose();
    }
    expect(failures(means, { rho: 0, alpha: 0 })).toEqual([]);
    // planted: the same runs one posterior sd (their own average) off must be caught
    const oneSd = { rho: meanAndSe(sds.rho!).mean, alpha: meanAndSe(sds.alpha!).mean };
    expect(failures(means, oneSd).length).toBe(2);
  }, 3_600_000);
});
