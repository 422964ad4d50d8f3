/**
 * Shared statistics of the grouped-unfold tests: the mean and standard error
 * of per-seed estimates, the weighted mean of a function of the draws, and a
 * grouped-against-lean comparison of the posterior mean of the return value
 * over seeds, and a run with the grouped runtime's density checks off.
 */
import { expect } from 'vitest';
import { GroupedPopulation } from '../../src/infer/smc/unfold-group.js';

/** mean and standard error of the mean. */
export function meanSe(xs: number[]): { mean: number; se: number } {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1));
  return { mean, se: sd / Math.sqrt(xs.length) };
}

/** The weighted mean of `f(draw)`. */
export function weighted<D extends { logWeight: number }>(draws: readonly D[], f: (d: D) => number): number {
  const top = Math.max(...draws.map((d) => d.logWeight));
  const w = draws.map((d) => Math.exp(d.logWeight - top));
  return draws.reduce((a, d, i) => a + w[i]! * f(d), 0) / w.reduce((a, b) => a + b, 0);
}

/** What a run hands back that the comparison reads. */
interface Run {
  readonly draws: readonly { logWeight: number; returnValue: unknown }[];
  readonly diagnostics: { runtime?: unknown; notGrouped?: unknown };
  dispose(): void;
}

/**
 * The z-score of the difference between grouped and lean runs' posterior
 * means of the (numeric) return value, `seeds` runs of each: `run(grouped,
 * seed)` runs one; each run must take the runtime asked for, and `inspect`
 * (optional) sees every run before it is disposed.
 */
export async function groupedAgainstLean<P extends Run>(seeds: number, run: (grouped: boolean, seed: number) => Promise<P>, inspect?: (post: P, grouped: boolean) => void): Promise<number> {
  const est = { grouped: [] as number[], lean: [] as number[] };
  for (const grouped of [true, false]) {
    for (let seed = 0; seed < seeds; seed++) {
      const post = await run(grouped, seed);
      expect(post.diagnostics.runtime, String(post.diagnostics.notGrouped)).toBe(grouped ? 'grouped' : 'lean');
      inspect?.(post, grouped);
      est[grouped ? 'grouped' : 'lean'].push(weighted(post.draws, (d) => d.returnValue as number));
      post.dispose();
    }
  }
  const g = meanSe(est.grouped);
  const l = meanSe(est.lean);
  const z = (g.mean - l.mean) / Math.hypot(g.se, l.se);
  expect(Math.abs(z), `z = ${z} (${g.mean} vs ${l.mean})`).toBeLessThan(4);
  return z;
}

/** `run` with the grouped run's density comparisons (early and after the run) switched off: a planted bug must then show in the statistics. */
export async function withoutDensityCheck<T>(run: () => Promise<T>): Promise<T> {
  const pop = GroupedPopulation.prototype;
  const mismatch = pop.densityMismatch;
  pop.densityMismatch = () => undefined;
  try {
    return await run();
  } finally {
    pop.densityMismatch = mismatch;
  }
}
