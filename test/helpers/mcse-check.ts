/**
 * Compare MCMC draws with known posterior moments: the mean and the variance
 * of each named column must lie within k Monte Carlo standard errors.
 */
import { mcseMean } from '../../src/diagnostics/mcse.js';

/** A known posterior mean and standard deviation. */
export interface Moments {
  readonly mean: number;
  readonly sd: number;
}

/** Names of the checks that fail (empty when the draws agree within `k` MCSE). */
export function momentFailures(post: { chainColumns(): Map<string, Float64Array[]> | undefined }, exact: Record<string, Moments>, k = 4): string[] {
  const cols = post.chainColumns();
  if (!cols) throw new Error('posterior has no chain columns');
  const out: string[] = [];
  for (const [name, e] of Object.entries(exact)) {
    const chains = cols.get(name);
    if (!chains) throw new Error(`no column ${name}; have ${[...cols.keys()].join(', ')}`);
    const test = (what: string, draws: Float64Array[], truth: number): void => {
      let s = 0;
      let n = 0;
      for (const c of draws) for (const x of c) (s += x), (n += 1);
      const est = s / n;
      const mcse = mcseMean(draws);
      if (!(Math.abs(est - truth) < k * mcse)) out.push(`${name} ${what}: ${est.toPrecision(5)} vs exact ${truth.toPrecision(5)} (mcse ${mcse.toPrecision(3)})`);
    };
    test('mean', chains, e.mean);
    test('variance', chains.map((c) => c.map((x) => (x - e.mean) ** 2)), e.sd ** 2);
  }
  return out;
}
