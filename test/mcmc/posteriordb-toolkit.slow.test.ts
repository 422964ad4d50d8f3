/**
 * Slow tier (TYCHE_SLOW=1): NUTS on the posteriordb posteriors translated
 * with the Stan user's toolkit (flat priors, NormalIdGlm, a GP with a
 * Cholesky factor, ODEs with sensitivities), each model written for one
 * chain: every parameter's mean and sd within 4 combined MCSE of the
 * reference draws, R-hat < 1.01. Reference draws are read from
 * ../shared/posteriordb when present.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import { infer } from '../../src/index.js';
import { columnsOf, compareWithReference, failures, referenceDraws } from './posteriordb-cases.js';
import { TOOLKIT_CASES } from './posteriordb-toolkit-cases.js';

const SLOW = process.env.TYCHE_SLOW === '1';
const Z = 4;

beforeAll(async () => {
  await initBackend('cpu');
});

describe.skipIf(!SLOW)('posteriordb toolkit translations (slow tier)', () => {
  TOOLKIT_CASES.forEach((c, i) => {
    const ref = referenceDraws(c.folder);
    it.skipIf(!ref)(`${c.name}: 4 chains x (1000 + 1000), means and sds within 4 MCSE of the reference, R-hat < 1.01`, async () => {
      const post = await infer(c.model, { method: 'nuts', chains: 4, warmup: 1000, samples: 1000, seed: 200 + i, ...(c.options ?? {}) }, ...(c.args() as never[]));
      if (c.replay) expect(String(post.diagnostics.chainsPath)).toMatch(/^replay/);
      const rows = compareWithReference(columnsOf(c, post), ref!);
      const d = post.diagnostics as { gradientEvaluations?: number; init?: string };
      console.log(`${c.name}: max R-hat ${Math.max(...rows.map((r) => r.rhat)).toFixed(4)}, max z ${Math.max(...rows.map((r) => Math.max(r.zMean, r.zSd))).toFixed(2)}, ${d.gradientEvaluations} gradients, init ${d.init}`);
      expect(failures(rows, Z)).toEqual([]);
    }, 3_600_000);
  });
});
