/**
 * Session 11, steering (STEER), slow tier (TYCHE_SLOW=1): FK steering's log Ẑ
 * at λ = 6 against the exact log Z of the DDPM chain it runs (a 1-D grid), by
 * particle count. Tolerances: 3–4 Monte Carlo standard errors across
 * independent runs; each check has a planted bug that the same check catches.
 * About 1 CPU-minute in all (tens of minutes of wall time on a loaded machine).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import '../../src/backend/gradients.js';
import { initBackend } from '../../src/backend/select.js';
import * as D from '../../src/steer/diffusion/index.js';
import * as St from '../../src/steer/diffusion/steering/index.js';
import { particleCountCheck } from '../../src/steer/index.js';
import { MIXTURE_1D, ddpmTiltLogZ, mixtureTiltLogZ } from './steer-session11-fixtures.js';
import { meanSE } from '../stats.js';

const slow = process.env.TYCHE_SLOW ? describe : describe.skip;

beforeAll(async () => {
  await initBackend('cpu');
});


slow('FK steering at λ = 6: finite-particle bias of log Ẑ, not a defect', () => {
  const STEPS = 100;
  const LAMBDA = 6;
  const runs = async (comps: readonly { weight: number; mean: readonly number[]; covariance: number }[], particles: number, count: number) => {
    const model = new D.GaussianMixture(comps.map((c) => ({ ...c, mean: [...c.mean] }))).model(D.vpLinear(), 'epsilon');
    const out: number[] = [];
    for (let r = 0; r < count; r++) {
      const res = await St.fkSteering(model, { reward: St.linearReward([1]), lambda: LAMBDA, particles, steps: STEPS, seed: `s11-fk6-${particles}-${r}` });
      res.x.dispose();
      out.push(res.logZ);
    }
    return { model, logZ: out };
  };

  it('one Gaussian (the twist λ x̂0 is exact up to a constant): log Ẑ at 1024 particles is the DDPM chain\'s exact log Z within 4 MCSE; planted: the continuous-time log Z as the answer fails', async () => {
    const single = [MIXTURE_1D[1]];
    const { model, logZ } = await runs(single, 1024, 16);
    const exact = await ddpmTiltLogZ(model, D.timeGrid(model.schedule, STEPS), LAMBDA);
    const s = meanSE(logZ);
    const z = (s.mean - exact) / s.se;
    const zPlanted = (s.mean - mixtureTiltLogZ(single, LAMBDA)) / s.se;
    if (process.env.TYCHE_REPORT) console.log(`single: exact (chain) ${exact.toFixed(3)}, continuous ${mixtureTiltLogZ(single, LAMBDA).toFixed(3)}; log Ẑ ${s.mean.toFixed(3)} ± ${s.se.toFixed(3)} (z ${z.toFixed(2)}, planted ${zPlanted.toFixed(1)})`);
    expect(Math.abs(z)).toBeLessThan(4);
    expect(Math.abs(zPlanted)).toBeGreaterThan(4);
  }, 1_800_000);

  it('the mixture: log Ẑ reads low at 16 and 1024 particles (beyond 3 MCSE), less so at 1024 (the bias shrinks with N), and particleCountCheck flags 256 particles', async () => {
    const few = await runs(MIXTURE_1D, 16, 64);
    const many = await runs(MIXTURE_1D, 1024, 32);
    const exact = await ddpmTiltLogZ(few.model, D.timeGrid(few.model.schedule, STEPS), LAMBDA);
    const a = meanSE(few.logZ.map((v) => v - exact));
    const b = meanSE(many.logZ.map((v) => v - exact));
    const check = await particleCountCheck((particles, rng) => St.fkSteering(few.model, { reward: St.linearReward([1]), lambda: LAMBDA, particles, steps: STEPS, rng }), { particles: 256, seed: 's11-check' });
    if (process.env.TYCHE_REPORT) console.log(`mixture: exact (chain) ${exact.toFixed(3)}; error at 16 ${a.mean.toFixed(3)} ± ${a.se.toFixed(3)}, at 1024 ${b.mean.toFixed(3)} ± ${b.se.toFixed(3)}; ${check.message}`);
    expect(a.mean).toBeLessThan(-3 * a.se);
    expect(b.mean).toBeLessThan(-3 * b.se);
    expect(b.mean - a.mean).toBeGreaterThan(3 * Math.hypot(a.se, b.se));
    expect(check.verdict).not.toBe('agree');
  }, 1_800_000);
});
