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
 * bounds with standard errors; {@link stateSpaceLogZBounds} runs SMC and
 * conditional SMC (`logZBounds` of the particle engine) at increasing
 * particle counts and checks that the gap closes, and
 * {@link linearGaussianLogZBounds} does so on a linear-Gaussian model, whose
 * exact log Z (Kalman filter) and exact posterior paths (forward filtering,
 * backward sampling) are known.
 *
 * @module
 */
import { meanAndSe } from '../diagnostics/empirical.js';
import type { Model } from '../core/model.js';
import { checkSeed } from '../core/options.js';
import { type Rng, type Seed, rngFrom } from '../core/rng.js';
import { logSumExp } from '../core/value.js';
import { normalQuantile } from '../diagnostics/inverse-cdf.js';
import type { CommonOptions } from '../infer/registry.js';
import { infer } from '../infer/registry.js';
import { type TrajectoryLike, logZBounds } from '../infer/smc/csmc.js';
import { type LinearGaussian1D, kalmanFilter, linearGaussian1D } from '../infer/smc/kalman.js';
import { linearGaussianStateSpace } from '../infer/smc/lineargaussian.js';
import type { Proposal, StateSpaceModel } from '../infer/smc/statespace.js';

/** Mean and standard error of a sample. */
export interface MeanSe {
  readonly mean: number;
  readonly se: number;
}

function meanSe(x: ArrayLike<number>, what: string): MeanSe {
  const n = x.length;
  if (n < 2) throw new RangeError(`${what}: need at least 2 estimates, got ${n}`);
  for (let i = 0; i < n; i++) if (!Number.isFinite(x[i])) throw new RangeError(`${what}: estimate ${i} is ${x[i]}`);
  return meanAndSe(x);
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
  checkSeed('checkLogZUnbiased', options.seed);
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

/** One particle count of {@link stateSpaceLogZBounds}: the bounds, and the KL estimates they give. */
export interface LogZBoundsLevel extends BidirectionalBounds {
  /** Particles per run at this level. */
  readonly particles: number;
  /**
   * The gap clipped at 0: an estimate of the symmetric KL between the
   * forward (SMC) and reverse (CSMC) processes, which bounds the symmetric
   * KL between the SMC output and the posterior.
   */
  readonly symmetricKL: number;
}

/** The result of {@link stateSpaceLogZBounds}. */
export interface LogZBoundsSweep {
  /** One entry per particle count, in the order given (increasing). */
  readonly levels: LogZBoundsLevel[];
  /** The exact log Z, when known. */
  readonly logZ?: number;
  /** {@link gapDecreases} over the levels. */
  readonly gapDecreases: boolean;
  /** Every level's bounds are consistent (they do not cross, and bracket a known log Z, up to their error). */
  readonly consistent: boolean;
  /** `gapDecreases && consistent`. */
  readonly pass: boolean;
}

/** Options of {@link stateSpaceLogZBounds}. */
export interface LogZBoundsSweepOptions {
  /** Increasing particle counts, e.g. `[4, 16, 64]`. */
  readonly particles: readonly number[];
  /** Independent runs of each direction per level. */
  readonly runs: number;
  /** Exact posterior draws of the latent path for the CSMC runs (see `logZBounds`). */
  readonly references: readonly TrajectoryLike[] | ((run: number, rng: Rng) => TrajectoryLike);
  /** The exact log Z, when known (adds `klForward`/`klReverse` and a bracketing check). */
  readonly logZ?: number;
  /** Proposal for both directions (default: the model's transition). */
  readonly proposal?: Proposal;
  /** Ancestor sampling in the CSMC runs (default false). */
  readonly ancestorSampling?: boolean;
  /** Level of the consistency checks (default 0.01). */
  readonly alpha?: number;
  /** Standard errors of slack in {@link gapDecreases} (default 3). */
  readonly z?: number;
  /** Seed (default 0); each level draws from its own split stream. */
  readonly seed?: Seed;
}

/**
 * Bidirectional log Z bounds for a state-space model at increasing particle
 * counts: at each count, `runs` forward SMC runs (lower bound) and `runs`
 * conditional SMC runs from exact posterior references (upper bound), both
 * through the particle engine's `logZBounds`; then {@link bidirectionalBounds}
 * per level and {@link gapDecreases} across levels. A gap that does not close
 * as particles grow, or bounds that cross, point at a bug in the filter, the
 * conditional filter or the references.
 */
export async function stateSpaceLogZBounds(model: StateSpaceModel, options: LogZBoundsSweepOptions): Promise<LogZBoundsSweep> {
  const counts = options.particles;
  if (counts.length < 2) throw new RangeError(`stateSpaceLogZBounds: need two or more particle counts, got ${counts.length}`);
  for (let i = 0; i < counts.length; i++) {
    if (!Number.isInteger(counts[i]) || counts[i] < 2) throw new RangeError(`stateSpaceLogZBounds: particles[${i}] must be an integer >= 2, got ${counts[i]}`);
    if (i > 0 && counts[i] <= counts[i - 1]) throw new RangeError(`stateSpaceLogZBounds: particle counts must increase, got ${counts.join(', ')}`);
  }
  checkSeed('stateSpaceLogZBounds', options.seed);
  const rng = rngFrom(options.seed ?? 0);
  const levels: LogZBoundsLevel[] = [];
  for (const particles of counts) {
    const b = await logZBounds(model, { particles, runs: options.runs, references: options.references, proposal: options.proposal, ancestorSampling: options.ancestorSampling, rng: rng.split() });
    const bounds = bidirectionalBounds(b.lower.values, b.upper.values, { logZ: options.logZ, alpha: options.alpha });
    levels.push({ ...bounds, particles, symmetricKL: Math.max(0, bounds.gap) });
  }
  const decreases = gapDecreases(levels, options.z);
  const consistent = levels.every((l) => l.consistent);
  return { levels, ...(options.logZ !== undefined ? { logZ: options.logZ } : {}), gapDecreases: decreases, consistent, pass: decreases && consistent };
}

/**
 * An exact draw of the latent path x_0..x_{T-1} given `ys` of a 1-D
 * linear-Gaussian model (forward filtering, backward sampling): the
 * reference that makes conditional SMC an upper bound on log Z.
 */
export function linearGaussianSmoothingDraw(params: LinearGaussian1D, ys: readonly number[], rng: Rng): number[] {
  const T = ys.length;
  if (T === 0) return [];
  const kf = kalmanFilter(linearGaussian1D(params), ys);
  const a = params.a ?? 1;
  const x = new Array<number>(T);
  x[T - 1] = kf.means[T - 1][0] + Math.sqrt(kf.covariances[T - 1][0][0]) * rng.normal();
  for (let t = T - 2; t >= 0; t--) {
    // x_t | x_{t+1}, y_0..y_t: the filtering law conditioned on the next state
    const pf = kf.covariances[t][0][0];
    const pp = kf.predictedCovariances[t + 1][0][0];
    const gain = (pf * a) / pp;
    const mean = kf.means[t][0] + gain * (x[t + 1] - kf.predictedMeans[t + 1][0]);
    x[t] = mean + Math.sqrt(Math.max(0, pf - gain * gain * pp)) * rng.normal();
  }
  return x;
}

/**
 * {@link stateSpaceLogZBounds} on a 1-D linear-Gaussian state-space model
 * with observations `ys`: the exact log Z comes from the Kalman filter and
 * the CSMC references are exact posterior paths
 * ({@link linearGaussianSmoothingDraw}). With a correct particle engine the
 * bounds bracket log Z at every particle count and the gap shrinks.
 */
export async function linearGaussianLogZBounds(params: LinearGaussian1D, ys: readonly number[], options: Omit<LogZBoundsSweepOptions, 'references' | 'logZ'>): Promise<LogZBoundsSweep> {
  const model = linearGaussianStateSpace(params, ys);
  const logZ = kalmanFilter(linearGaussian1D(params), ys).logLikelihood;
  return stateSpaceLogZBounds(model, { ...options, logZ, references: (_run, rng) => linearGaussianSmoothingDraw(params, ys, rng) });
}
