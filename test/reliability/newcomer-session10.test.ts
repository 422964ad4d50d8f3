/**
 * NEWPPL, session 10: models and calls written as a newcomer would, on ground
 * the earlier sessions had not covered, checked against exact answers
 * (conjugacy, sums by hand) with Monte Carlo standard-error tolerances. Each
 * test fails on the code before its fix (the old figures are in the titles);
 * each statistical check rejects a planted wrong answer.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import { Normal, iwae, model } from '../../src/index.js';
import { SVI } from '../../src/infer/vi/svi.js';

beforeAll(async () => {
  await initBackend('cpu');
});

describe('SVI.evaluate after a fit on a subsampled plate (found: it scored a fresh subsample, so the bound moved by tens of nats between calls with a stderr of hundredths)', () => {
  // y_i ~ N(mu, 1) for 200 points, mu ~ N(0, 10): log Z exact by conjugacy
  const N = 200;
  const ys = Array.from({ length: N }, (_, i) => 1.5 + Math.sin(i * 12.9898));
  const m = model(async ({ sample, plate }, size?: number) => {
    const mu = await sample('mu', Normal(0, 10));
    await plate('data', N, (idx, p) => p.observe('y', Normal(mu, 1), idx.map((i) => ys[i]!)), { subsample: size });
  });
  const s = ys.reduce((a, b) => a + b, 0);
  const ss = ys.reduce((a, b) => a + b * b, 0);
  const prec = N + 1 / 100;
  const logZ = -0.5 * N * Math.log(2 * Math.PI) - 0.5 * ss + (0.5 * s * s) / prec - 0.5 * Math.log(100 * prec);

  it('three IWAE bounds on the full data: each at most log Z (a lower bound) and within 4 stderr of the others (was -245.69, -236.93, -219.93 +- 0.02-0.04 against log Z -238.77); planted: a bound 1 nat off is rejected', async () => {
    const svi = new SVI(m, 'normal', { particles: 4, optimizer: { lr: 0.05 }, seed: 0 });
    for (let k = 0; k < 800; k++) await svi.step([20]);
    const runs: { bound: number; stderr: number }[] = [];
    for (let r = 0; r < 3; r++) runs.push(await svi.evaluate([20], 1000, iwae(10)));
    svi.dispose();
    const agree = (a: { bound: number; stderr: number }, b: { bound: number; stderr: number }) => Math.abs(a.bound - b.bound) <= 4 * Math.hypot(a.stderr, b.stderr);
    for (const r of runs) expect(r.bound).toBeLessThanOrEqual(logZ + 4 * r.stderr);
    expect(agree(runs[0]!, runs[1]!) && agree(runs[1]!, runs[2]!) && agree(runs[0]!, runs[2]!)).toBe(true);
    // the bound is tight for this conjugate fit: within 4 stderr plus 0.05 nats of log Z
    for (const r of runs) expect(logZ - r.bound).toBeLessThanOrEqual(4 * r.stderr + 0.05);
    // planted: the same agreement check rejects a bound 1 nat off
    expect(agree(runs[0]!, { bound: runs[0]!.bound - 1, stderr: runs[0]!.stderr })).toBe(false);
  });
});
