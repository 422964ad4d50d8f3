/**
 * Checks of log-normaliser (log marginal likelihood) estimates.
 *
 * Importance sampling, SMC and AIS estimate Z without bias, so
 * E[exp(log Ẑ - log Z)] = 1 (while E[log Ẑ] <= log Z, by Jensen).
 * {@link logZUnbiasedness} tests the first over independent runs when log Z
 * is known.
 *
 * Bidirectional Monte Carlo (Grosse, Ghahramani and Adams 2015, "Sandwiching
 * the marginal likelihood using bidirectional Monte Carlo"): a forward run
 * (SMC/AIS from the prior) gives a stochastic lower bound,
 * E[log Ẑ_fwd] = log Z - KL(q_fwd || p_rev), and a reverse run started from
 * an exact posterior sample (reverse AIS or conditional SMC) a stochastic
 * upper bound, E[log Ẑ_rev] = log Z + KL(p_rev || q_fwd), both KLs between
 * the forward and reverse processes on the extended space. The gap between
 * the bounds is therefore the symmetric KL between them, which bounds the
 * symmetric KL between the engine's output and the posterior.
 * {@link bidirectionalBounds} turns estimates from both directions into
 * bounds with standard errors; the runners that produce them live with the
 * engines.
 *
 * @module
 */
import type { Model } from '../core/model.js';
import { logSumExp } from '../core/value.js';
import { normalQuantile } from '../diagnostics/inverse-cdf.js';
import type { CommonOptions } from '../infer/registry.js';
import { infer } from '../infer/registry.js';

/** Mean and standard error of a sample. */
export interface MeanSe {
  readonly mean: number;
  readonly se: number;
}

function meanSe(x: ArrayLike<number>, what: string): MeanSe {
  const n = x.length;
  if (n < 2) throw new RangeError(`${what}: need at least 2 estimates, got ${n}`);
  let m = 0;
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(x[i])) throw new RangeError(`${what}: estimate ${i} is ${x[i]}`);
    m += x[i];
  }
  m /= n;
  let v = 0;
  for (let i = 0; i < n; i++) v += (x[i] - m) ** 2;
  return { mean: m, se: Math.sqrt(v / (n - 1) / n) };
}

function zFor(alpha: number): number {
  if (!(alpha > 0 && alpha < 1)) throw new RangeError(`alpha must lie in (0, 1), got ${alpha}`);
  return normalQuantile(1 - alpha / 2);
}

/** The result of {@link logZUnbiasedness}. */
export interface UnbiasednessResult {
  /** Mean of exp(log Ẑ - log Z) over runs (1 for an unbiased estimator). */
  readonly meanRatio: number;
  /** Its standard error. */
  readonly se: number;
  /** (meanRatio - 1) / se. */
  readonly z: number;
  /** Mean of log Ẑ - log Z (negative for any unbiased Ẑ with spread; about -var/2). */
  readonly meanLogError: number;
  /** Effective number of runs behind the mean ratio, (sum r)^2 / sum r^2: small values mean a heavy right tail, and an unreliable se. */
  readonly ess: number;
  /** |z| <= the two-sided normal quantile at `alpha`. */
  readonly pass: boolean;
}

/**
 * Test E[Ẑ / Z] = 1 from log Ẑ estimates of independent runs. The ratio's
 * distribution is right-skewed, so the standard error is trustworthy only
 * when `ess` is a sizeable fraction of the runs; check it before reading a
 * pass as evidence.
 *
 * @param estimates - log Ẑ of independent runs
 * @param logZ - the exact log Z
 * @param alpha - level of the two-sided z-test (default 0.01)
 */
export function logZUnbiasedness(estimates: ArrayLike<number>, logZ: number, alpha = 0.01): UnbiasednessResult {
  if (!Number.isFinite(logZ)) throw new RangeError(`logZUnbiasedness: logZ must be finite, got ${logZ}`);
  const ratios = Float64Array.from(estimates, (e) => Math.exp(e - logZ));
  const { mean, se } = meanSe(ratios, 'logZUnbiasedness');
  const logErr = meanSe(Float64Array.from(estimates, (e) => e - logZ), 'logZUnbiasedness').mean;
  let s2 = 0;
  for (const r of ratios) s2 += r * r;
  const ess = s2 > 0 ? (mean * ratios.length) ** 2 / s2 : 0;
  const z = se > 0 ? (mean - 1) / se : mean === 1 ? 0 : Infinity;
  return { meanRatio: mean, se, z, meanLogError: logErr, ess, pass: Math.abs(z) <= zFor(alpha) };
}

/**
 * Run an engine `runs` times with seeds `seed`, `seed + 1`, ... and test its
 * log Z estimates with {@link logZUnbiasedness}.
 */
export async function checkLogZUnbiased<A extends unknown[], R>(m: Model<A, R>, args: A, engine: CommonOptions & Readonly<Record<string, unknown>>, options: { runs: number; logZ: number; seed?: number; alpha?: number }): Promise<UnbiasednessResult & { estimates: Float64Array }> {
  const seed0 = options.seed ?? 0;
  const estimates = new Float64Array(options.runs);
  for (let i = 0; i < options.runs; i++) {
    const post = await infer(m, { ...engine, seed: seed0 + i }, ...args);
    if (Number.isNaN(post.logZ)) throw new Error(`checkLogZUnbiased: engine "${engine.method}" does not estimate log Z`);
    estimates[i] = post.logZ;
  }
  return { ...logZUnbiasedness(estimates, options.logZ, options.alpha), estimates };
}

/** The result of {@link bidirectionalBounds}. */
export interface BidirectionalBounds {
  /** Mean of the forward estimates: a stochastic lower bound on log Z. */
  readonly lower: MeanSe;
  /** Mean of the reverse estimates: a stochastic upper bound on log Z. */
  readonly upper: MeanSe;
  /** upper - lower: an estimate of the symmetric KL between forward and reverse processes (>= 0 in expectation). */
  readonly gap: number;
  readonly gapSe: number;
  /** A conservative interval for log Z: [lower - z se, upper + z se]. */
  readonly interval: readonly [number, number];
  /** The log of the mean of exp(forward estimates): the unbiased-Z pooled estimate of log Z. */
  readonly pooledLogZ: number;
  /** With a known log Z: KL(q_fwd || p_rev) <= log Z - lower and KL(p_rev || q_fwd) <= upper - log Z. */
  readonly klForward?: number;
  readonly klReverse?: number;
  /** False when the bounds cross by more than their error (a bug in one of the runners), or miss a known log Z. */
  readonly consistent: boolean;
}

/**
 * Sandwich log Z between forward (lower) and reverse (upper) estimates and
 * estimate the symmetric KL from the gap.
 *
 * @param forward - log Ẑ of forward runs (SMC/AIS from the prior)
 * @param reverse - log Ẑ of reverse runs (conditional SMC / reverse AIS from an exact posterior sample)
 * @param options.logZ - the exact value, when known
 * @param options.alpha - level of the consistency checks (default 0.01)
 */
export function bidirectionalBounds(forward: ArrayLike<number>, reverse: ArrayLike<number>, options: { logZ?: number; alpha?: number } = {}): BidirectionalBounds {
  const lower = meanSe(forward, 'bidirectionalBounds (forward)');
  const upper = meanSe(reverse, 'bidirectionalBounds (reverse)');
  const z = zFor(options.alpha ?? 0.01);
  const gap = upper.mean - lower.mean;
  const gapSe = Math.hypot(lower.se, upper.se);
  const interval = [lower.mean - z * lower.se, upper.mean + z * upper.se] as const;
  let consistent = gap >= -z * gapSe;
  let klForward: number | undefined;
  let klReverse: number | undefined;
  if (options.logZ !== undefined) {
    klForward = options.logZ - lower.mean;
    klReverse = upper.mean - options.logZ;
    consistent = consistent && klForward >= -z * lower.se && klReverse >= -z * upper.se;
  }
  const pooledLogZ = logSumExp(Array.from(forward)) - Math.log(forward.length);
  return { lower, upper, gap, gapSe, interval, pooledLogZ, ...(klForward !== undefined ? { klForward, klReverse } : {}), consistent };
}

/**
 * Whether bidirectional gaps shrink as compute grows: given bounds at
 * increasing compute (particles, temperatures), true when each gap is no
 * larger than the previous one up to `z` standard errors, and the last is
 * smaller than the first by more than that.
 */
export function gapDecreases(bounds: readonly Pick<BidirectionalBounds, 'gap' | 'gapSe'>[], z = 3): boolean {
  if (bounds.length < 2) throw new RangeError('gapDecreases: need bounds at two or more compute levels');
  for (let i = 1; i < bounds.length; i++) {
    if (bounds[i].gap > bounds[i - 1].gap + z * Math.hypot(bounds[i].gapSe, bounds[i - 1].gapSe)) return false;
  }
  const first = bounds[0];
  const last = bounds[bounds.length - 1];
  return first.gap - last.gap > z * Math.hypot(first.gapSe, last.gapSe);
}
