/**
 * MODEWORKERS, session 19: the hidden-mode check (`mode-check.ts`) also runs
 * where the chains ran on worker threads (`infer(..., { workers })`). Each
 * worker's chain result carries its ascent ends back (`worker-protocol.ts`),
 * so the run with workers gives the same `diagnostics.modeCheck` and the same
 * warning as the sequential run (`vectorize: false`) with the same seed, whose
 * draws it equals. Planted (makes this test fail; see docs/design.md,
 * "MODEWARN, session 19"): the ends dropped in transit (`worker-entry.ts`
 * posting no `initEnds`): no check, no warning.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import { infer } from '../../src/index.js';
import { bimodalFar } from './hidden-mode-session19-models.js';

beforeAll(async () => {
  await initBackend('cpu');
});

const MODULE = new URL('./hidden-mode-session19-models.ts', import.meta.url);
/** 0.05 N(-6, 1) + 0.95 N(6, 1): every chain's ascent keeps a start at +6, and the -6 mode is never visited. */
const RUN = { method: 'nuts', chains: 2, warmup: 150, samples: 150, seed: 1 } as const;

type ModeDiagnostics = { hiddenMode?: string; modeCheck?: { ends: number; settled: number; unvisited: number; maxSpread: number } };

describe('the hidden-mode check with workers', () => {
  it('a far bimodal target warns with workers as without, with the same figures and draws', async () => {
    const sequential = await infer(bimodalFar, { ...RUN, vectorize: false } as never);
    const parallel = await infer(bimodalFar, { ...RUN, workers: { module: MODULE, exportName: 'bimodalFar', threads: 1 } } as never);
    const s = sequential.diagnostics as ModeDiagnostics;
    const p = parallel.diagnostics as ModeDiagnostics;
    // the same draws, so the same check must give the same answer
    expect([...parallel.chainColumns()!]).toEqual([...sequential.chainColumns()!]);
    expect(s.modeCheck!.unvisited).toBeGreaterThan(0);
    expect(s.hiddenMode).toMatch(/^init 'ascent' found a mode that no chain visited/);
    expect(p.modeCheck).toEqual(s.modeCheck);
    expect(p.hiddenMode).toBe(s.hiddenMode);
    expect(parallel.warnings).toContain(s.hiddenMode);
    sequential.dispose();
    parallel.dispose();
  }, 60_000);
});
