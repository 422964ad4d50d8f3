/**
 * Noise schedules of diffusion and flow models.
 *
 * Every schedule describes the Gaussian path x_t = alpha_t x0 + sigma_t eps,
 * eps ~ N(0, I), over times t in [tMin, tMax] with **t = 1 the noise end** and
 * t = 0 the data end. Each gives alpha_t, sigma_t and their time derivatives,
 * the log signal-to-noise ratio, the drift f_t and squared diffusion g_t^2 of
 * the forward SDE dx = f_t x dt + g_t dW with these marginals, and the time at
 * which a given log-SNR is reached (for reparametrising one schedule as
 * another).
 *
 * - {@link vpLinear}: the variance-preserving SDE of DDPM (linear beta);
 * - {@link vpCosine}: the cosine schedule of improved DDPM;
 * - {@link veGeometric}: the variance-exploding SDE (geometric sigma);
 * - {@link linearInterpolant}: flow matching / rectified flow,
 *   x_t = (1 - t) x0 + t eps.
 *
 * @module
 */

/** The family a schedule belongs to; some prediction types need one (`v` needs `vp`). */
export type ScheduleKind = 'vp' | 've' | 'interpolant';

/** A Gaussian noising path x_t = alpha_t x0 + sigma_t eps. */
export interface Schedule {
  /** A short name used in error messages, e.g. `vp-linear`. */
  readonly name: string;
  /** The family. */
  readonly kind: ScheduleKind;
  /** Smallest time where the schedule may be evaluated (sigma > 0 there). */
  readonly tMin: number;
  /** Largest time (the noise end samplers start from). */
  readonly tMax: number;
  /** Signal scale alpha_t. */
  alpha(t: number): number;
  /** Noise scale sigma_t. */
  sigma(t: number): number;
  /** d alpha / dt. */
  dAlpha(t: number): number;
  /** d sigma / dt. */
  dSigma(t: number): number;
}

function finitePositive(who: string, name: string, v: number): void {
  if (!(v > 0) || !Number.isFinite(v)) throw new RangeError(`${who}: ${name} must be a positive finite number, got ${v}`);
}

function checkRange(who: string, tMin: number, tMax: number, lo: number, hi: number): void {
  if (!(tMin >= lo && tMax <= hi && tMin < tMax)) throw new RangeError(`${who}: need ${lo} <= tMin < tMax <= ${hi}, got tMin = ${tMin}, tMax = ${tMax}`);
}

/**
 * Throw a clear error when `t` lies outside the schedule's domain.
 * `who` names the caller (model, sampler and step) for the message.
 */
export function checkTime(schedule: Schedule, t: number, who: string): void {
  const tol = 1e-12;
  if (!Number.isFinite(t) || t < schedule.tMin - tol || t > schedule.tMax + tol) {
    throw new RangeError(`${who}: time t = ${t} is outside the domain [${schedule.tMin}, ${schedule.tMax}] of schedule ${schedule.name}`);
  }
}

/** log SNR_t = 2 log(alpha_t / sigma_t), decreasing in t. */
export function logSnr(schedule: Schedule, t: number): number {
  return 2 * (Math.log(schedule.alpha(t)) - Math.log(schedule.sigma(t)));
}

/** d/dt of {@link logSnr}. */
export function dLogSnr(schedule: Schedule, t: number): number {
  return 2 * (schedule.dAlpha(t) / schedule.alpha(t) - schedule.dSigma(t) / schedule.sigma(t));
}

/** Drift coefficient f_t = alpha_t' / alpha_t of the forward SDE dx = f_t x dt + g_t dW. */
export function driftCoefficient(schedule: Schedule, t: number): number {
  return schedule.dAlpha(t) / schedule.alpha(t);
}

/** Squared diffusion g_t^2 = d(sigma_t^2)/dt - 2 f_t sigma_t^2 of the forward SDE. */
export function diffusionSquared(schedule: Schedule, t: number): number {
  const s = schedule.sigma(t);
  return 2 * s * schedule.dSigma(t) - 2 * driftCoefficient(schedule, t) * s * s;
}

/**
 * The time t in [tMin, tMax] at which the schedule's log-SNR equals `lambda`
 * (bisection; the log-SNR is strictly decreasing). Throws when `lambda` is not
 * reached inside the domain.
 */
export function timeOfLogSnr(schedule: Schedule, lambda: number, who = 'timeOfLogSnr'): number {
  let lo = schedule.tMin;
  let hi = schedule.tMax;
  const lLo = logSnr(schedule, lo);
  const lHi = logSnr(schedule, hi);
  const tol = 1e-9 * Math.max(1, Math.abs(lambda));
  if (lambda > lLo + tol || lambda < lHi - tol) {
    throw new RangeError(`${who}: log-SNR ${lambda} is outside the range [${lHi}, ${lLo}] that schedule ${schedule.name} covers on [${schedule.tMin}, ${schedule.tMax}]`);
  }
  if (lambda >= lLo) return lo;
  if (lambda <= lHi) return hi;
  for (let i = 0; i < 200 && hi - lo > 1e-15; i++) {
    const mid = 0.5 * (lo + hi);
    if (logSnr(schedule, mid) > lambda) lo = mid;
    else hi = mid;
  }
  return 0.5 * (lo + hi);
}

/** Options of {@link vpLinear}. */
export interface VpLinearOptions {
  /** beta at t = 0 (default 0.1, Song et al.'s continuous DDPM). */
  readonly betaMin?: number;
  /** beta at t = 1 (default 20). */
  readonly betaMax?: number;
  /** Smallest time (default 1e-3). */
  readonly tMin?: number;
  /** Largest time (default 1). */
  readonly tMax?: number;
}

/**
 * The variance-preserving SDE with linear beta(t) = betaMin + t (betaMax - betaMin)
 * (continuous-time DDPM): alpha_t = exp(-½ ∫₀ᵗ beta), sigma_t = sqrt(1 - alpha_t^2).
 */
export function vpLinear(options: VpLinearOptions = {}): Schedule {
  const who = 'vpLinear';
  const b0 = options.betaMin ?? 0.1;
  const b1 = options.betaMax ?? 20;
  finitePositive(who, 'betaMin', b0);
  finitePositive(who, 'betaMax', b1);
  const tMin = options.tMin ?? 1e-3;
  const tMax = options.tMax ?? 1;
  checkRange(who, tMin, tMax, Number.MIN_VALUE, Infinity);
  const logAlpha = (t: number) => -0.5 * (b0 * t + 0.5 * (b1 - b0) * t * t);
  const alpha = (t: number) => Math.exp(logAlpha(t));
  const sigma = (t: number) => Math.sqrt(-Math.expm1(2 * logAlpha(t)));
  const dAlpha = (t: number) => -0.5 * (b0 + (b1 - b0) * t) * alpha(t);
  return {
    name: 'vp-linear',
    kind: 'vp',
    tMin,
    tMax,
    alpha,
    sigma,
    dAlpha,
    dSigma: (t) => (-alpha(t) * dAlpha(t)) / sigma(t),
  };
}

/** Options of {@link vpCosine}. */
export interface VpCosineOptions {
  /** Offset s of Nichol & Dhariwal (default 0.008). */
  readonly offset?: number;
  /** Smallest time (default 1e-3). */
  readonly tMin?: number;
  /** Largest time (default 0.999; alpha vanishes at 1). */
  readonly tMax?: number;
}

/** The cosine variance-preserving schedule: alpha_t = cos(φ(t)) / cos(φ(0)), φ(t) = (π/2)(t + s)/(1 + s). */
export function vpCosine(options: VpCosineOptions = {}): Schedule {
  const who = 'vpCosine';
  const s = options.offset ?? 0.008;
  finitePositive(who, 'offset', s);
  const tMin = options.tMin ?? 1e-3;
  const tMax = options.tMax ?? 0.999;
  checkRange(who, tMin, tMax, Number.MIN_VALUE, 1);
  const k = Math.PI / 2 / (1 + s);
  const c0 = Math.cos(k * s);
  const alpha = (t: number) => Math.cos(k * (t + s)) / c0;
  const dAlpha = (t: number) => (-k * Math.sin(k * (t + s))) / c0;
  const sigma = (t: number) => Math.sqrt(Math.max(0, 1 - alpha(t) ** 2));
  return { name: 'vp-cosine', kind: 'vp', tMin, tMax, alpha, sigma, dAlpha, dSigma: (t) => (-alpha(t) * dAlpha(t)) / sigma(t) };
}

/** Options of {@link veGeometric}. */
export interface VeOptions {
  /** sigma at t = 0 (default 0.01). */
  readonly sigmaMin?: number;
  /** sigma at t = 1 (default 20). */
  readonly sigmaMax?: number;
  /** Smallest time (default 0). */
  readonly tMin?: number;
  /** Largest time (default 1). */
  readonly tMax?: number;
}

/** The variance-exploding SDE of score-based models: alpha_t = 1, sigma_t = sigmaMin (sigmaMax / sigmaMin)^t. */
export function veGeometric(options: VeOptions = {}): Schedule {
  const who = 'veGeometric';
  const lo = options.sigmaMin ?? 0.01;
  const hi = options.sigmaMax ?? 20;
  finitePositive(who, 'sigmaMin', lo);
  finitePositive(who, 'sigmaMax', hi);
  if (!(hi > lo)) throw new RangeError(`${who}: sigmaMax (${hi}) must exceed sigmaMin (${lo})`);
  const tMin = options.tMin ?? 0;
  const tMax = options.tMax ?? 1;
  checkRange(who, tMin, tMax, 0, Infinity);
  const r = Math.log(hi / lo);
  const sigma = (t: number) => lo * Math.exp(r * t);
  return { name: 've', kind: 've', tMin, tMax, alpha: () => 1, dAlpha: () => 0, sigma, dSigma: (t) => r * sigma(t) };
}

/** Options of {@link linearInterpolant}. */
export interface InterpolantOptions {
  /** Smallest time (default 1e-3). */
  readonly tMin?: number;
  /** Largest time (default 1: pure noise, where alpha = 0). */
  readonly tMax?: number;
}

/**
 * The linear interpolant of flow matching and rectified flow:
 * x_t = (1 - t) x0 + t eps, so the velocity dx/dt is eps - x0.
 */
export function linearInterpolant(options: InterpolantOptions = {}): Schedule {
  const tMin = options.tMin ?? 1e-3;
  const tMax = options.tMax ?? 1;
  checkRange('linearInterpolant', tMin, tMax, Number.MIN_VALUE, 1);
  return { name: 'linear-interpolant', kind: 'interpolant', tMin, tMax, alpha: (t) => 1 - t, sigma: (t) => t, dAlpha: () => -1, dSigma: () => 1 };
}

/**
 * An evenly spaced grid of `steps + 1` times from `from` (default tMax) down
 * to `to` (default tMin), the times a sampler visits.
 */
export function timeGrid(schedule: Schedule, steps: number, from = schedule.tMax, to = schedule.tMin): number[] {
  if (!Number.isInteger(steps) || steps < 1) throw new RangeError(`timeGrid: steps must be a positive integer, got ${steps}`);
  checkTime(schedule, from, 'timeGrid(from)');
  checkTime(schedule, to, 'timeGrid(to)');
  if (!(from > to)) throw new RangeError(`timeGrid: from (${from}) must exceed to (${to}); samplers run from noise (large t) to data`);
  const out: number[] = [];
  for (let i = 0; i <= steps; i++) out.push(i === steps ? to : from + ((to - from) * i) / steps);
  return out;
}
