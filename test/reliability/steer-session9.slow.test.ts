/**
 * Session 9 (NEWSTEER), slow tier: twistedDiffusion with per-particle
 * conditions (three network evaluations and a gradient per step make it too
 * slow for the default tier), and with a likelihood of -Infinity on part of
 * the space; the FK-steering twins are in steer-session9.test.ts.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import '../../src/backend/gradients.js';
import { initBackend } from '../../src/backend/select.js';
import { hardConstraint, labelledConditions } from './steer-session9-fixtures.js';

beforeAll(async () => {
  await initBackend('cpu');
});

const slow = process.env.TYCHE_SLOW ? describe : describe.skip;

slow('per-particle conditions travel with their particles when TDS resamples', () => {
  // the test bed of steer-session9.test.ts's FK twin, run by TDS here
  const { target, means: both } = labelledConditions();
  const means = (planted: boolean) => both('tds', planted);

  it('E[x0] matches the tilted mixture within 4 MCSE; conditions left in their slots fail', async () => {
    const good = await means(false);
    const bad = await means(true);
    if (process.env.TYCHE_REPORT) console.log(`tds: exact ${target.toFixed(4)}, ${good.mean.toFixed(4)} ± ${good.se.toFixed(4)}; planted ${bad.mean.toFixed(4)} ± ${bad.se.toFixed(4)}`);
    expect(Math.abs(good.mean - target) / good.se).toBeLessThan(4);
    expect(Math.abs(bad.mean - target) / bad.se).toBeGreaterThan(4);
  }, 600_000);
});

slow('twisted diffusion: an intermediate twist of -Infinity does not kill the path', () => {
  const { runs, importance, zDiff } = hardConstraint();
  it('mean and Z within 4 MCSE of importance sampling of the same DDPM grid; the killing planted bug fails', async () => {
    const ref = await importance();
    const good = await runs('tds');
    const bad = await runs('tds-planted');
    const z = { mean: zDiff(good.mean, ref.mean), Z: zDiff(good.Z, ref.Z), badMean: zDiff(bad.mean, ref.mean), badZ: zDiff(bad.Z, ref.Z) };
    if (process.env.TYCHE_REPORT) console.log(`tds: mean ${good.mean.mean.toFixed(4)} ± ${good.mean.se.toFixed(4)}, Z ${good.Z.mean.toFixed(4)}; planted: mean ${bad.mean.mean.toFixed(4)}, Z ${bad.Z.mean.toFixed(4)}; z ${JSON.stringify(z)}`);
    expect(Math.abs(z.mean)).toBeLessThan(4);
    expect(Math.abs(z.Z)).toBeLessThan(4);
    expect(Math.max(Math.abs(z.badMean), Math.abs(z.badZ))).toBeGreaterThan(4);
  }, 600_000);
});
