/**
 * Slow tier (TYCHE_SLOW=1): NUTS with default options (4 chains, 1000 + 1000;
 * a case's own options where the reference run needed them)
 * on two posteriordb posteriors a newcomer translated plainly, one chain's
 * shapes and no batch helpers (test/mcmc/posteriordb-new-cases.ts):
 * `bball_drive_event_0-hmm_drive_0` (HMM, forward algorithm) and
 * `mcycle_gp-accel_gp` (GP on basis functions). Every parameter's mean and
 * sd within 4 combined MCSE of the reference, R-hat < 1.01. The reference is
 * read from `TYCHE_POSTERIORDB` (or ../shared/posteriordb); each case skips
 * when its reference is absent. Prints wall and CPU time, how the chains
 * ran, max z and max R-hat.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import { infer } from '../../src/index.js';
import { failures } from './posteriordb-cases.js';
import { NEW_CASES, NEW_CASE_BUGS, compareCase, hasReference } from './posteriordb-new-cases.js';

const SLOW = process.env.TYCHE_SLOW === '1';
const Z = 4;

beforeAll(async () => {
  await initBackend('cpu');
});

describe.skipIf(!SLOW)('posteriordb, new plain translations (slow tier)', () => {
  NEW_CASES.forEach((c, i) => {
    // a case with a known bug (NEW_CASE_BUGS) is skipped, its title naming the bug
    it.skipIf(!hasReference(c) || c.folder in NEW_CASE_BUGS)(`${NEW_CASE_BUGS[c.folder] ? `KNOWN BUG (${NEW_CASE_BUGS[c.folder]}): ` : ''}` + `${c.name}: NUTS ${JSON.stringify(c.options ?? 'defaults')}, 4 chains x (1000 + 1000), means and sds within ${Z} MCSE of the reference, R-hat < 1.01`, async () => {
      const t0 = performance.now();
      const cpu0 = process.cpuUsage();
      const post = await infer(c.model, { method: 'nuts', chains: 4, warmup: 1000, samples: 1000, seed: 300 + i, ...(c.options ?? {}) }, ...(c.args() as never[]));
      const cpu = process.cpuUsage(cpu0);
      const rows = compareCase(c, post)!;
      const d = post.diagnostics as Record<string, unknown>;
      console.log(
        `${c.name}: wall ${((performance.now() - t0) / 1000).toFixed(1)} s, CPU ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s; ` +
          `compiled ${String(d.compiled)}; chains ${String(d.chainsPath ?? d.vectorized)}; divergences ${String(d.divergences)}; ` +
          `max z mean ${Math.max(...rows.map((r) => r.zMean)).toFixed(2)}, sd ${Math.max(...rows.map((r) => r.zSd)).toFixed(2)}; max R-hat ${Math.max(...rows.map((r) => r.rhat)).toFixed(4)}`,
      );
      expect(failures(rows, Z)).toEqual([]);
    }, 7_200_000);
  });
});
