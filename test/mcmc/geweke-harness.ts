/**
 * Joint-distribution tests of MCMC kernels ("Getting it right", Geweke 2004).
 *
 * For a model p(x, y) = p(x) p(y | x) whose prior and likelihood can be
 * simulated directly, two simulators of the joint must agree:
 *
 * - marginal-conditional: x ~ p(x), then y ~ p(y | x), independent draws;
 * - successive-conditional: a Markov chain that alternates kernel transitions
 *   on x targeting p(x | y) with a fresh y ~ p(y | x).
 *
 * The second has p(x, y) as its stationary law exactly when the kernel leaves
 * p(x | y) invariant, so the means of test functions g(x, y) must agree. Each
 * comparison is a z-test: the difference of the two means over the root sum
 * of their squared standard errors (the sample sd / sqrt(N) for independent
 * draws; `mcseMean`, i.e. sd / sqrt(ESS), for the chain). The threshold is
 * Bonferroni-corrected for the number of functions at a family-wise level of
 * 1e-3 per test, so a correct kernel fails with probability < 0.1% per seed.
 *
 * Also the test-side driver for the Hamiltonian kernels' gradient coroutines.
 *
 * @module
 */
import { mcseMean } from '../../src/diagnostics/mcse.js';
import { normalQuantile } from '../../src/diagnostics/inverse-cdf.js';
import { type GradientCoroutine, type LogDensityAndGradient, type Position, evaluate } from '../../src/infer/mcmc/index.js';

/** Family-wise false-alarm level of one Geweke comparison. */
export const FAMILY_ALPHA = 1e-3;

/** One test function's comparison. */
export interface GewekeRow {
  readonly name: string;
  readonly marginalMean: number;
  readonly successiveMean: number;
  readonly z: number;
}

/** The comparison of all test functions. */
export interface GewekeResult {
  readonly rows: GewekeRow[];
  /** Bonferroni threshold on |z|. */
  readonly threshold: number;
  /** Names of the functions whose |z| exceeds the threshold. */
  readonly failures: string[];
  /** The largest |z|. */
  readonly maxAbsZ: number;
}

/** Named test functions of a joint draw. */
export type TestFunctions<S> = Readonly<Record<string, (s: S) => number>>;

function meanAndVar(x: readonly number[]): { mean: number; variance: number } {
  let m = 0;
  for (const v of x) m += v;
  m /= x.length;
  let ss = 0;
  for (const v of x) ss += (v - m) ** 2;
  return { mean: m, variance: ss / (x.length - 1) };
}

/**
 * Compares independent joint draws with the states of a successive-conditional
 * chain on every test function.
 */
export function gewekeCompare<S>(marginal: readonly S[], successive: readonly S[], fns: TestFunctions<S>): GewekeResult {
  const names = Object.keys(fns);
  const threshold = normalQuantile(1 - FAMILY_ALPHA / (2 * names.length));
  const rows = names.map((name) => {
    const g = fns[name]!;
    const a = meanAndVar(marginal.map(g));
    const b = successive.map(g);
    const bm = meanAndVar(b).mean;
    const se = Math.sqrt(a.variance / marginal.length + mcseMean([Float64Array.from(b)]) ** 2);
    return { name, marginalMean: a.mean, successiveMean: bm, z: (bm - a.mean) / se };
  });
  const failures = rows.filter((r) => !(Math.abs(r.z) <= threshold)).map((r) => r.name);
  const maxAbsZ = Math.max(...rows.map((r) => Math.abs(r.z)));
  return { rows, threshold, failures, maxAbsZ };
}

/** One line per function, for the test log. */
export function formatGeweke(label: string, r: GewekeResult): string {
  const cells = r.rows.map((row) => `${row.name} ${row.marginalMean.toFixed(3)}/${row.successiveMean.toFixed(3)} z=${row.z.toFixed(2)}`);
  return `${label}: max|z| ${r.maxAbsZ.toFixed(2)} (threshold ${r.threshold.toFixed(2)}); ${cells.join('; ')}`;
}

/** A synchronous log density with gradient on R^D. */
export type SyncTarget = (q: readonly number[]) => LogDensityAndGradient;

/** Runs a gradient coroutine to its end, answering every request from `target`. */
export function drive<T>(co: GradientCoroutine<T>, target: SyncTarget): T {
  let step = co.next();
  while (!step.done) {
    const a = target(step.value);
    step = co.next({ logp: a.logp, grad: a.grad, offset: 0 });
  }
  return step.value;
}

/** The position at `q` under `target` (log density and gradient evaluated). */
export function positionAt(q: readonly number[], target: SyncTarget): Position {
  return drive(evaluate(q), target);
}
