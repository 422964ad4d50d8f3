/**
 * Static HMC at its defaults (`method: 'hmc'`: 4 vectorised chains x (1000 +
 * 1000), mean integration time 2 pi, jittered step counts, auto metric) on the
 * posteriordb posteriors of posteriordb-cases.ts: every parameter's mean and
 * sd within 4 combined MCSE of the reference draws, and R-hat < 1.01, as NUTS
 * is held to in posteriordb.test.ts. Planted: kidiq with the fixed length
 * (`jitter: 0`) fails the same check. Slow tier (TYCHE_SLOW=1); reference
 * draws are read from ../shared/posteriordb only when present.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import { infer } from '../../src/index.js';
import { CASES, columnsOf, compareWithReference, failures, referenceDraws } from './posteriordb-cases.js';

const SLOW = process.env.TYCHE_SLOW === '1';
const haveReferences = referenceDraws(CASES[0]!.folder) !== undefined;

beforeAll(async () => {
  await initBackend('cpu');
});

/** The rows of case `i` outside 4 MCSE of the reference (or at R-hat 1.01 or above) after a default static HMC run. */
async function hmcFailures(i: number, seed: number, extra: Record<string, unknown> = {}): Promise<string[]> {
  const c = CASES[i]!;
  const post = await infer(c.model, { method: 'hmc', seed, ...extra }, ...(c.args() as never[]));
  const rows = compareWithReference(columnsOf(c, post), referenceDraws(c.folder)!);
  console.log(`hmc ${JSON.stringify(extra)} on ${c.name}, seed ${seed}: max z mean ${Math.max(...rows.map((r) => r.zMean)).toFixed(2)}, sd ${Math.max(...rows.map((r) => r.zSd)).toFixed(2)}; max R-hat ${Math.max(...rows.map((r) => r.rhat)).toFixed(4)}`);
  post.dispose();
  return failures(rows, 4);
}

describe.skipIf(!SLOW || !haveReferences)('static HMC at its defaults against posteriordb reference draws (slow tier)', () => {
  CASES.forEach((c, i) => {
    it(`${c.name}: means and sds within 4 MCSE, R-hat < 1.01`, async () => {
      expect(await hmcFailures(i, 200 + i)).toEqual([]);
    }, 600_000);
  });

  it('planted: the fixed 2 pi length (jitter 0) on kidiq fails the same check', async () => {
    const kidiq = CASES.findIndex((c) => c.folder === 'kidiq-kidscore_momiq');
    expect((await hmcFailures(kidiq, 200 + kidiq, { jitter: 0 })).length).toBeGreaterThan(0);
  }, 600_000);
});
