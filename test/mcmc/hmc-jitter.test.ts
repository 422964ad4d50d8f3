/**
 * Static HMC's integration-time jitter: the step count of each transition is
 * uniform on L - m ... L + m around its mean L (hmc.ts), drawn from the
 * chain's stream; `jitter: 0` keeps the fixed-length kernel draw for draw.
 * On kidiq (a posteriordb regression), the fixed 2 pi trajectory nearly
 * returns to its start once the metric adapts (R-hat 1.3, bulk ESS 10 at
 * seed 1); the default jitter mixes. The slow tier compares jittered HMC with
 * posteriordb's reference draws (hmc-jitter.slow.test.ts); the invariance of
 * the jittered kernel is checked in geweke.test.ts and components.test.ts.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import { Rng } from '../../src/core/rng.js';
import { Bernoulli, Normal, infer, model } from '../../src/index.js';
import type { HMCDiagnostics } from '../../src/infer/mcmc/hmc-engine.js';
import { HmcKernel } from '../../src/infer/mcmc/index.js';
import { BRANCHING_DATA, branching } from '../fixtures/worker-model.js';
import { JITTER_CASES, mixingOf } from './hmc-jitter-cases.js';

beforeAll(async () => {
  await initBackend('cpu');
});

/** Counts of `n` step counts drawn by `kernel` at `stepSize`, by count. */
function stepCounts(kernel: HmcKernel, stepSize: number, n: number, seed: number): Map<number, number> {
  const rng = new Rng(seed);
  const out = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const s = kernel.drawSteps(stepSize, rng);
    out.set(s, (out.get(s) ?? 0) + 1);
  }
  return out;
}

/** Pearson's chi-square of `counts` against the uniform law on lo..hi (counts outside the range make it infinite). */
function chiSquareUniform(counts: Map<number, number>, lo: number, hi: number): number {
  const n = [...counts.values()].reduce((a, b) => a + b, 0);
  const expected = n / (hi - lo + 1);
  let chi = 0;
  for (const k of counts.keys()) if (k < lo || k > hi) return Infinity;
  for (let k = lo; k <= hi; k++) chi += ((counts.get(k) ?? 0) - expected) ** 2 / expected;
  return chi;
}

// the 0.999 quantile of chi-square with 18 degrees of freedom (19 cells: 1..19)
const CHI2_18_999 = 42.31;

describe('the step count of a jittered transition', () => {
  it('is uniform on 1 .. 2L - 1 at jitter 1 (chi-square over 20000 draws, p > 0.001), and a narrower law fails the check', () => {
    const n = 20000;
    expect(chiSquareUniform(stepCounts(new HmcKernel({ numSteps: 10, jitter: 1 }), 0.1, n, 5), 1, 19)).toBeLessThan(CHI2_18_999);
    // planted: half the spread (5 .. 15) is not uniform on 1 .. 19
    expect(chiSquareUniform(stepCounts(new HmcKernel({ numSteps: 10, jitter: 0.5 }), 0.1, n, 5), 1, 19)).toBeGreaterThan(CHI2_18_999);
    const half = stepCounts(new HmcKernel({ numSteps: 10, jitter: 0.5 }), 0.1, 2000, 6);
    expect([Math.min(...half.keys()), Math.max(...half.keys())]).toEqual([6, 14]);
  });

  it('centres on floor(integrationTime / stepSize) by default, capped at maxSteps, and keeps exactly numSteps when given alone', () => {
    // 2 pi / 0.5 = 12.57: L = 12, counts 1 .. 23
    const byTime = stepCounts(new HmcKernel(), 0.5, 5000, 7);
    expect([Math.min(...byTime.keys()), Math.max(...byTime.keys())]).toEqual([1, 23]);
    const capped = stepCounts(new HmcKernel({ maxSteps: 8 }), 0.5, 2000, 7);
    expect(Math.max(...capped.keys())).toBe(8);
    expect([...stepCounts(new HmcKernel({ numSteps: 7 }), 0.5, 100, 7).keys()]).toEqual([7]);
    expect([...stepCounts(new HmcKernel({ jitter: 0 }), 0.5, 100, 7).keys()]).toEqual([12]);
  });

  it('takes no random number at jitter 0 (the fixed-length kernel keeps its stream)', () => {
    const a = new Rng(9);
    const b = new Rng(9);
    new HmcKernel({ jitter: 0 }).drawSteps(0.5, a);
    expect(a.uniform()).toBe(b.uniform());
  });

  it('refuses a jitter outside [0, 1], naming the option', async () => {
    for (const bad of [-0.1, 1.5, Number.NaN, '1' as unknown as number]) {
      expect(() => new HmcKernel({ jitter: bad })).toThrow(/hmc: jitter must be a number in \[0, 1\]/);
    }
    const c = JITTER_CASES[0]!;
    await expect(infer(c.model, { method: 'hmc', jitter: 2, chains: 1, warmup: 10, samples: 10 }, ...(c.args() as never[]))).rejects.toThrow(/jitter must be a number in \[0, 1\].*got 2/);
  });
});

/** z ~ Bernoulli(0.3), x ~ N(2z, 1), y ~ N(x, 1): a discrete and a continuous site, for hmc-gibbs. */
const mixed = model(async ({ sample, observe }) => {
  const z = (await sample('z', Bernoulli(0.3))) as number;
  const x = await sample('x', Normal(2 * z, 1));
  await observe('y', Normal(x, 1), 1.5);
});

describe('the jitter option reaches the kernel on every path', () => {
  const run = { method: 'hmc', chains: 2, warmup: 5, samples: 20, seed: 3, numSteps: 4 } as const;
  /** The leapfrog counts of the kept draws, chain after chain. */
  const steps = (p: { diagnostics: unknown }): number[] => (p.diagnostics as HMCDiagnostics).stats.flatMap((s) => [...s.nLeapfrog]);
  /** Whether counts spread over 1 .. 7 (at least 3 distinct values, none outside). */
  const spread = (n: number[]): boolean => new Set(n).size > 2 && Math.min(...n) >= 1 && Math.max(...n) <= 7;
  const kidiq = JITTER_CASES[0]!;
  const paths: [string, (extra: { jitter?: number }) => Promise<{ diagnostics: unknown }>][] = [
    ['vectorised chains', (extra) => infer(kidiq.model, { ...run, ...extra }, ...(kidiq.args() as never[]))],
    ['hmc-gibbs', (extra) => infer(mixed, { ...run, ...extra, method: 'hmc-gibbs', kernel: 'hmc' })],
  ];
  for (const [name, infer1] of paths) {
    it(`${name}: numSteps 4 with jitter 1 takes 1 to 7 steps; numSteps 4 alone takes 4`, async () => {
      expect(spread(steps(await infer1({ jitter: 1 })))).toBe(true);
      expect(new Set(steps(await infer1({})))).toEqual(new Set([4]));
    });
  }

  it('sequential chains and worker threads: the same spread counts, draw for draw', async () => {
    const sequential = await infer(branching, { ...run, jitter: 1, vectorize: false }, BRANCHING_DATA);
    const workers = await infer(branching, { ...run, jitter: 1, workers: { module: new URL('../fixtures/worker-model.ts', import.meta.url), exportName: 'branching', threads: 1 } }, BRANCHING_DATA);
    expect(spread(steps(sequential))).toBe(true);
    expect(steps(workers)).toEqual(steps(sequential));
  });
});

describe('static HMC at its defaults on kidiq (posteriordb kidiq-kidscore_momiq)', () => {
  // Stan's thresholds for trusting a run: R-hat below 1.01, bulk ESS above 100 per chain
  it('mixes with the default jitter: max R-hat < 1.01, min bulk ESS > 400; the fixed 2 pi length (jitter 0) does not', async () => {
    const c = JITTER_CASES[0]!;
    const jittered = await infer(c.model, { method: 'hmc', seed: 1 }, ...(c.args() as never[]));
    const fixed = await infer(c.model, { method: 'hmc', seed: 1, jitter: 0 }, ...(c.args() as never[]));
    const j = mixingOf(jittered);
    const f = mixingOf(fixed);
    console.log(`kidiq, seed 1: jittered min ESS bulk ${j.minEssBulk.toFixed(0)}, max R-hat ${j.maxRhat.toFixed(3)}; fixed ${f.minEssBulk.toFixed(0)}, ${f.maxRhat.toFixed(3)}`);
    expect(j.maxRhat).toBeLessThan(1.01);
    expect(j.minEssBulk).toBeGreaterThan(400);
    expect(jittered.warnings).toEqual([]);
    // planted: the fixed length is the bug this guards against
    expect(f.maxRhat > 1.01 || f.minEssBulk < 400).toBe(true);
    jittered.dispose();
    fixed.dispose();
  });
});
