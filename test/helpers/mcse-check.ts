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

/** One parameter of a posteriordb reference: its name there, posterior mean and sd. */
export interface ReferenceRow {
  readonly name: string;
  readonly mean: number;
  readonly sd: number;
}

/**
 * A regression's reference parameters whose summary mean or sd lies more than
 * 4 combined standard errors away (the engine's MCSE and the reference's, from
 * its `draws` independent draws: sd / sqrt(draws) for the mean, that over
 * sqrt(2) for the sd). The reference's `sigma` is read from the summary row
 * `sigma`, its j-th row otherwise from `beta[j]`; figures print with `digits`
 * decimals. Empty when every parameter agrees.
 */
export function referenceMisses(post: { summary(): { rows: readonly unknown[] } }, reference: readonly ReferenceRow[], draws: number, digits: number): string[] {
  const within = (estimate: number, exact: number, se: number): boolean => Math.abs(estimate - exact) <= 4 * se;
  const rows = post.summary().rows as readonly { name: string; mean: number; sd: number; mcse_mean: number; mcse_sd: number }[];
  return reference.flatMap(({ name, mean, sd }, j) => {
    const row = rows.find((r) => r.name === (name === 'sigma' ? 'sigma' : `beta[${j}]`))!;
    const refSe = sd / Math.sqrt(draws);
    const okMean = within(row.mean, mean, Math.hypot(row.mcse_mean, refSe));
    const okSd = within(row.sd, sd, Math.hypot(row.mcse_sd, refSe / Math.SQRT2));
    return okMean && okSd ? [] : [`${name}: ${row.mean.toFixed(digits)} (sd ${row.sd.toFixed(digits)}) against ${mean} (${sd})`];
  });
}
