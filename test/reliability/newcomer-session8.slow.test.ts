/**
 * Slow tier of newcomer-session8.test.ts (TYCHE_SLOW=1): SVGD at the found scale (Poisson counts near 1e4)
 * run long enough to settle, 2000 steps at lr 0.01 (~20 s): no warning (the planted side of the
 * still-climbing warning, whose firing the default tier checks).
 */
import { describe, expect, it } from 'vitest';
import { infer } from '../../src/index.js';
import { SVGD_FOUND_COUNTS, svgdCounts } from './newcomer-session8-fixtures.js';

const slow = process.env.TYCHE_SLOW ? describe : describe.skip;

slow('SVGD settled at the found scale (slow)', () => {
  it('planted: a run that has settled (lr 0.01, 2000 steps: lam 10046) does not warn', async () => {
    const long = await infer(svgdCounts, { method: 'svgd', particles: 50, steps: 2000, lr: 0.01, seed: 1 }, SVGD_FOUND_COUNTS);
    expect(long.warnings).toEqual([]);
    expect(Math.abs(long.moments('lam').mean - 10043.39)).toBeLessThan(100);
    long.dispose();
  }, 900_000);
});
