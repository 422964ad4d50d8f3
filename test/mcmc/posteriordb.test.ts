/**
 * NUTS on real posteriors (posteriordb): every parameter's mean and sd within
 * 4 combined MCSE of the reference draws, and R-hat < 1.01.
 *
 * The full runs (4 chains x (1000 warmup + 1000 draws) on eight schools,
 * kidiq, arK and low_dim_gauss_mix) are the slow tier: `npm run test:slow`
 * (TYCHE_SLOW=1). The default tier runs one short eight-schools comparison
 * and the centered eight-schools divergence check. Reference draws are read
 * from ../shared/posteriordb only when present.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import { infer } from '../../src/index.js';
import type { HMCDiagnostics } from '../../src/infer/mcmc/hmc-engine.js';
import { eightSchoolsCentered, eightSchoolsData } from '../../models/posteriordb/eight-schools.js';
import { CASES, type Comparison, columnsOf, compareWithReference, referenceDraws } from './posteriordb-cases.js';

const SLOW = process.env.TYCHE_SLOW === '1';
const Z = 4;

beforeAll(async () => {
  await initBackend('cpu');
});

function failures(rows: readonly Comparison[], maxRhat: number): string[] {
  return rows
    .filter((r) => !(r.zMean < Z && r.zSd < Z && r.rhat < maxRhat))
    .map((r) => `${r.name}: mean ${r.mean.toFixed(4)} vs ${r.refMean.toFixed(4)} (z ${r.zMean.toFixed(2)}), sd ${r.sd.toFixed(4)} vs ${r.refSd.toFixed(4)} (z ${r.zSd.toFixed(2)}), R-hat ${r.rhat.toFixed(4)}`);
}

async function run(index: number, warmup: number, samples: number, seed: number): Promise<{ rows: Comparison[]; diagnostics: HMCDiagnostics } | undefined> {
  const c = CASES[index]!;
  const ref = referenceDraws(c.folder);
  if (!ref) return undefined;
  const post = await infer(c.model, { method: 'nuts', chains: 4, warmup, samples, seed, ...(c.options ?? {}) }, ...(c.args() as never[]));
  return { rows: compareWithReference(columnsOf(c, post), ref), diagnostics: post.diagnostics as unknown as HMCDiagnostics };
}

const haveReferences = referenceDraws(CASES[0]!.folder) !== undefined;

describe.skipIf(!haveReferences)('posteriordb, short run (default tier)', () => {
  it('eight schools non-centered, 4 vectorised chains x (300 + 300): means and sds within 4 MCSE, R-hat < 1.02', async () => {
    const r = await run(0, 300, 300, 11);
    expect(r).toBeDefined();
    expect(r!.diagnostics.vectorized).toBe(true);
    expect(failures(r!.rows, 1.02)).toEqual([]);
  });
});

describe.skipIf(!SLOW || !haveReferences)('posteriordb, full runs (slow tier: npm run test:slow)', () => {
  CASES.forEach((c, i) => {
    it(`${c.name}: 4 chains x (1000 + 1000), means and sds within 4 MCSE of the reference, R-hat < 1.01`, async () => {
      const r = await run(i, 1000, 1000, 100 + i);
      expect(failures(r!.rows, 1.01)).toEqual([]);
      expect(r!.diagnostics.divergences).toBeLessThanOrEqual(10);
    }, 600_000);
  });
});

describe('centered eight schools', () => {
  it('reports divergent transitions (the funnel at small tau), per chain and in the summary', async () => {
    // short and with shallow trees (max depth 6) to stay in the fast tier; the funnel still makes NUTS diverge
    const post = await infer(eightSchoolsCentered, { method: 'nuts', chains: 4, warmup: 100, samples: 100, seed: 3, maxTreeDepth: 6 }, eightSchoolsData);
    const d = post.diagnostics as unknown as HMCDiagnostics;
    expect(d.vectorized).toBe(true);
    expect(d.divergences).toBeGreaterThan(0);
    expect(d.divergencesPerChain.reduce((a, b) => a + b, 0)).toBe(d.divergences);
    expect(post.summary().toString()).toContain(`${d.divergences} divergent transitions`);
    // divergences concentrate where tau is small: their mean tau is below the overall mean
    const tau = post.chainColumns()!.get('tau')!;
    let all = 0;
    let divSum = 0;
    let n = 0;
    d.stats.forEach((s, c) =>
      s.divergent.forEach((dv, i) => {
        all += tau[c]![i]!;
        if (dv) (divSum += tau[c]![i]!), n++;
      }),
    );
    expect(divSum / n).toBeLessThan(all / (4 * 100));
  });
});
