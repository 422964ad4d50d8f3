/**
 * Session 17 (STEERUSER3): look-ahead modulation (`particleFilterSteps(..., { lookahead })`) with a reward model that
 * scores some partial solutions 0 (a rule-based verifier) gave E[Ẑ/Z] 0.744 ± 0.011 over 2000 runs (z −22.5) and
 * returned log Ẑ = −∞ in 39 of them, with clean output: a look-ahead successor scored 0 made the particle's twist
 * −∞ and killed a particle whose other continuations the target allows. Plain PF on the same bed is unbiased (a zero
 * partial score keeps the previous twist: 0.985 ± 0.016). A successor scored 0 now modulates nothing (ψ = 0): 0.996 ±
 * 0.013. The test bed is step-solutions' seven solutions; Z = E_LM[r(x)] exactly. Fails on the old code (one of the
 * 400 runs throws "every particle has weight zero" at step 0, blaming a complete score of 0; the rest read low).
 * Positive partial scores give the same draws as before (their ψ is unchanged).
 */
import { describe, expect, it } from 'vitest';
import { particleFilterSteps } from '../../../src/steer/lm/scaling/pf.js';
import type { StepRewardModel } from '../../../src/steer/lm/scaling/types.js';
import { completeScore, lm, members, total } from './step-solutions.js';

const Z = members.reduce((a, m) => a + (m.weight / total) * completeScore(m.value), 0);
/** Partial scores 0 for any prefix with a 'b' step; complete solutions by their exact score. */
const verifier: StepRewardModel = { name: 'verifier', score: async (ts, o) => ts.map((t) => (o?.complete ? completeScore(t) : t.includes('b') ? 0 : 0.3)) };

describe('look-ahead modulation with zero partial scores (session 17)', () => {
  it('E[Ẑ/Z] = 1 within 4 standard errors, and no run loses every particle', async () => {
    const RUNS = 400;
    const ratios: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const res = await particleFilterSteps(lm, verifier, '', { particles: 3, lookahead: { strength: 1 }, seed: `lookahead17/${i}` });
      ratios.push(Math.exp(res.logZ!) / Z);
    }
    const mean = ratios.reduce((a, b) => a + b, 0) / RUNS;
    const se = Math.sqrt(ratios.reduce((a, b) => a + (b - mean) ** 2, 0) / (RUNS - 1) / RUNS);
    expect(ratios.filter((r) => r === 0)).toEqual([]);
    expect(Math.abs(mean - 1) / se).toBeLessThan(4);
  }, 60_000);
});
