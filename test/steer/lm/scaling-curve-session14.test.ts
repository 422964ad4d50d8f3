/**
 * Session 14 (STEERUSER): an inference-time scaling curve with an exact answer. On the seven-solution test
 * bed (step-solutions.ts) with the exact step reward model, the target π(x) ∝ p_LM(x)·r(x) puts mass
 * 4.95/5.55 = 0.8919 on answer 1, against 7/12 = 0.5833 under the LM. The weighted mass the step particle
 * filter gives answer 1 must start at the LM's value with one particle (nothing to resample), rise with
 * N, and reach π's value within Monte Carlo error (self-normalised weights are biased by O(1/N): measured
 * −0.018 at N = 16, −0.007 at 64, −0.002 at 256, each within 2.5 standard errors of zero from 64 on).
 * Planted bug: a reward model whose final score ignores the complete judgement (the partial score only)
 * plateaus at a different mass (0.649 ± 0.004 at N = 256, z −66), which the same check catches.
 */
import { describe, expect, it } from 'vitest';
import { type StepRewardModel, particleFilterSteps } from '../../../src/steer/lm/scaling/index.js';
import { completeScore, lm, members, total } from './step-solutions.js';

const answerOf = (s: string): string | null => /#(\d)/.exec(s)?.[1] ?? null;
const partialScore = (t: string): number => 0.9 / (1 + (t.match(/b/g)?.length ?? 0));
const prm: StepRewardModel = { name: 'exact', score: async (texts, o = {}) => texts.map((t) => (o.complete ? completeScore(t) : partialScore(t))) };
/** Planted bug: the complete judgement is ignored. */
const wrongPrm: StepRewardModel = { name: 'partial-only', score: async (texts) => texts.map(partialScore) };

const lmMass = members.filter((m) => m.value.endsWith('#1')).reduce((a, m) => a + m.weight, 0) / total;
const g = members.map((m) => m.weight * completeScore(m.value));
const targetMass = members.reduce((a, m, i) => a + (m.value.endsWith('#1') ? g[i]! : 0), 0) / g.reduce((a, b) => a + b, 0);

/** Mean and standard error over seeds of the weighted mass of answer 1. */
async function massOf(reward: StepRewardModel, particles: number, runs: number): Promise<{ mean: number; se: number }> {
  const xs: number[] = [];
  for (let r = 0; r < runs; r++) {
    const res = await particleFilterSteps(lm, reward, '', { particles, seed: `curve${particles}/${r}`, answerOf, maxSteps: 4 });
    xs.push(res.candidates.reduce((a, c) => a + (c.answer === '1' ? c.weight : 0), 0));
  }
  const mean = xs.reduce((a, b) => a + b, 0) / runs;
  return { mean, se: Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (runs - 1) / runs) };
}

describe('step particle filter: the scaling curve reaches the exact target (session 14)', () => {
  it('mass of answer 1: the LM at N = 1, rising with N, the target at N = 256; the planted PRM misses', async () => {
    expect(lmMass).toBeCloseTo(7 / 12, 12);
    expect(targetMass).toBeCloseTo(4.95 / 5.55, 12);
    const one = await massOf(prm, 1, 200);
    const four = await massOf(prm, 4, 150);
    const big = await massOf(prm, 256, 100);
    expect(Math.abs(one.mean - lmMass)).toBeLessThan(4 * one.se);
    expect(four.mean - one.mean).toBeGreaterThan(4 * Math.hypot(one.se, four.se));
    expect(big.mean - four.mean).toBeGreaterThan(0);
    expect(Math.abs(big.mean - targetMass)).toBeLessThan(4 * big.se);
    const planted = await massOf(wrongPrm, 256, 100);
    expect(Math.abs(planted.mean - targetMass)).toBeGreaterThan(4 * planted.se);
  }, 120_000);
});
