/**
 * Slow tier (TYCHE_SLOW=1): posteriordb gp_pois_regr written the plain way
 * (one chain's shapes, Stan's 1e-10 jitter, no compile options) runs NUTS
 * with vectorised chains on the float64 replay and recovers the reference
 * posterior means of rho and alpha within Monte Carlo error. The check is
 * shown to fail on a posterior shifted by one posterior sd.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import { infer } from '../../src/index.js';
import { gpPoisRegr, gpPoisRegrData } from '../../models/posteriordb/gp-pois-regr.js';

beforeAll(async () => {
  await initBackend('cpu');
});

/** posteriordb reference (10 chains x 10000 draws): mean and its MCSE. */
const REFERENCE: Record<string, { mean: number; mcse: number }> = {
  rho: { mean: 5.66652941021132, mcse: 0.00677167972009557 },
  alpha: { mean: 2.92134418379513, mcse: 0.00791888007451612 },
};

/** Mean within 4 combined MCSEs of the reference (ours from the run's own ESS). */
function recovers(mean: number, mcse: number, name: string): boolean {
  const ref = REFERENCE[name]!;
  return Math.abs(mean - ref.mean) < 4 * Math.hypot(mcse, ref.mcse);
}

describe('gp_pois_regr under NUTS, float64 replay, no options', () => {
  it('recovers rho and alpha within MCSE (and the check fails on a shifted posterior)', async () => {
    const p = await infer(gpPoisRegr, { method: 'nuts', chains: 4, warmup: 1000, samples: 1000, seed: 11 }, gpPoisRegrData);
    expect(p.diagnostics.compiled).toBe(true);
    expect(String(p.diagnostics.chainsPath)).toMatch(/^replay/);
    const summary = p.summary();
    for (const name of ['rho', 'alpha']) {
      const row = summary.rows.find((r) => r.name === name) as unknown as { mean: number; sd: number; mcse_mean: number; r_hat: number };
      if (process.env.TYCHE_REPORT) console.log(name, row.mean, row.mcse_mean, row.sd, row.r_hat);
      expect(row.r_hat).toBeLessThan(1.02);
      expect(recovers(row.mean, row.mcse_mean, name)).toBe(true);
      // planted: the same posterior one sd off must be caught
      expect(recovers(row.mean + row.sd, row.mcse_mean, name)).toBe(false);
    }
  }, 1_800_000);
});
