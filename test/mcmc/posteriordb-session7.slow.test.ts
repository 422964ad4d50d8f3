/**
 * Slow tier (TYCHE_SLOW=1): NUTS at its defaults (4 chains, 1000 + 1000) on
 * four posteriordb posteriors a newcomer translated plainly in session 7
 * (test/mcmc/posteriordb-session7-cases.ts): garch11, arma11, kilpisjarvi and
 * hmm_example. Every parameter's mean and sd within 4 combined MCSE of the
 * reference draws, R-hat < 1.01, and the log density compiled. The reference is
 * read from `TYCHE_POSTERIORDB` (or ../shared/posteriordb); each case skips
 * when its reference is absent. Prints wall and CPU time, how the chains ran,
 * max z and max R-hat.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import { infer } from '../../src/index.js';
import { columnsOf, compareWithReference, failures, referenceDraws } from './posteriordb-cases.js';
import { SESSION7_CASES } from './posteriordb-session7-cases.js';

const SLOW = process.env.TYCHE_SLOW === '1';
const Z = 4;

beforeAll(async () => {
  await initBackend('cpu');
});

describe.skipIf(!SLOW)('posteriordb, session-7 plain translations (slow tier)', () => {
  SESSION7_CASES.forEach((c, i) => {
    it.skipIf(!referenceDraws(c.folder))(`${c.name}: NUTS defaults, 4 chains x (1000 + 1000), means and sds within ${Z} MCSE of the reference, R-hat < 1.01`, async () => {
      const t0 = performance.now();
      const cpu0 = process.cpuUsage();
      const post = await infer(c.model, { method: 'nuts', chains: 4, warmup: 1000, samples: 1000, seed: 700 + i, ...(c.options ?? {}) }, ...(c.args() as never[]));
      const cpu = process.cpuUsage(cpu0);
      const rows = compareWithReference(columnsOf(c, post), referenceDraws(c.folder)!);
      const d = post.diagnostics as Record<string, unknown>;
      console.log(
        `${c.name}: wall ${((performance.now() - t0) / 1000).toFixed(1)} s, CPU ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s; ` +
          `compiled ${String(d.compiled)}; chains ${String(d.chainsPath ?? d.vectorized)}; divergences ${String(d.divergences)}; ` +
          `max z mean ${Math.max(...rows.map((r) => r.zMean)).toFixed(2)}, sd ${Math.max(...rows.map((r) => r.zSd)).toFixed(2)}; max R-hat ${Math.max(...rows.map((r) => r.rhat)).toFixed(4)}`,
      );
      expect(d.compiled).toBe(true);
      expect(failures(rows, Z)).toEqual([]);
    }, 1_800_000);
  });
});
