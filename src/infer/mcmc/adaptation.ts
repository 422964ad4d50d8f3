/**
 * Stan-style warmup: dual-averaging step-size adaptation and windowed
 * estimation of the inverse mass matrix.
 *
 * Warmup is split like Stan's: an initial fast interval (step size only,
 * `initBuffer` iterations), a series of slow windows that double in length
 * from `baseWindow` (each ends by setting the inverse metric to the
 * regularised sample (co)variance of the window's draws, re-running the
 * initial step-size heuristic and restarting dual averaging), and a terminal
 * fast interval (`termBuffer`) where the step size settles under the final
 * metric. At the end of warmup the step size is fixed at the dual-averaging
 * iterate average.
 *
 * @module
 */
import type { Rng } from '../../core/rng.js';
import { type GradientCoroutine, type PhasePoint, type Position, hamiltonian, leapfrog } from './integrator.js';
import type { EuclideanMetric } from './metric.js';
import { type MassMatrixOption, type MetricChoiceOptions, type MetricDecision, chooseLowRank, chooseMetric } from './metric-choice.js';
import { fitLowRank } from './metric-lowrank-fit.js';
import { packLowRank } from './metric-lowrank.js';
import { WelfordCovariance, WelfordVariance } from './welford.js';
import { cholesky } from './linalg.js';

/** Dual-averaging settings (Hoffman & Gelman 2014, Stan's defaults). */
export interface DualAveragingOptions {
  /** Target mean acceptance statistic; default 0.8. */
  readonly targetAccept?: number;
  /** Regularisation scale; default 0.05. */
  readonly gamma?: number;
  /** Iteration offset that damps early updates; default 10. */
  readonly t0?: number;
  /** Decay exponent of the iterate averaging; default 0.75. */
  readonly kappa?: number;
}

/**
 * Nesterov dual averaging of log(step size), driving the mean acceptance
 * statistic to `targetAccept`. Its shrinkage point mu is log(10 eps0), as in
 * Stan, so early iterations explore larger step sizes.
 */
export class DualAveraging {
  /** Target mean acceptance statistic. */
  readonly targetAccept: number;
  private readonly gamma: number;
  private readonly t0: number;
  private readonly kappa: number;
  private mu = 0;
  private counter = 0;
  private sBar = 0;
  private xBar = 0;

  /** @param options - see {@link DualAveragingOptions}. */
  constructor(options: DualAveragingOptions = {}) {
    const { targetAccept = 0.8, gamma = 0.05, t0 = 10, kappa = 0.75 } = options;
    if (!(targetAccept > 0 && targetAccept < 1)) {
      throw new RangeError(`adaptation: targetAccept must lie in (0, 1), got ${targetAccept}`);
    }
    if (!(gamma > 0)) throw new RangeError(`adaptation: gamma must be positive, got ${gamma}`);
    if (!(t0 >= 0)) throw new RangeError(`adaptation: t0 must be non-negative, got ${t0}`);
    if (!(kappa > 0 && kappa <= 1)) throw new RangeError(`adaptation: kappa must lie in (0, 1], got ${kappa}`);
    this.targetAccept = targetAccept;
    this.gamma = gamma;
    this.t0 = t0;
    this.kappa = kappa;
  }

  /** Restarts the averaging around a new initial step size. */
  restart(stepSize: number): void {
    this.mu = Math.log(10 * stepSize);
    this.counter = 0;
    this.sBar = 0;
    this.xBar = 0;
  }

  /** Feeds one acceptance statistic; returns the next step size to use. */
  update(acceptStat: number): number {
    this.counter += 1;
    const a = Number.isNaN(acceptStat) ? 0 : Math.min(1, acceptStat);
    const eta = 1 / (this.counter + this.t0);
    this.sBar = (1 - eta) * this.sBar + eta * (this.targetAccept - a);
    const x = this.mu - (this.sBar * Math.sqrt(this.counter)) / this.gamma;
    const w = Math.pow(this.counter, -this.kappa);
    this.xBar = (1 - w) * this.xBar + w * x;
    return Math.exp(x);
  }

  /** The adapted step size: exp of the weighted average of the log iterates. */
  finalStepSize(): number {
    return Math.exp(this.xBar);
  }
}

/** Window settings of the mass-matrix adaptation (Stan's defaults). */
export interface WindowOptions {
  /** Fast iterations before the first slow window; default 75. */
  readonly initBuffer?: number;
  /** Fast iterations after the last slow window; default 50. */
  readonly termBuffer?: number;
  /** Length of the first slow window (later ones double); default 25. */
  readonly baseWindow?: number;
}

/** Where the slow windows fall in a warmup of a given length. */
export interface WindowSchedule {
  /** First warmup iteration (0-based) whose draw is used for the metric. */
  readonly firstSample: number;
  /** Last warmup iteration whose draw is used. */
  readonly lastSample: number;
  /** The iterations (0-based) at which a window ends and the metric is updated. */
  readonly ends: readonly number[];
}

/**
 * Stan's slow-window schedule for `warmup` iterations. When the buffers and
 * the first window do not fit, they shrink to 15% / 75% / 10% of warmup; with
 * fewer than 20 warmup iterations there are no windows (step size only). The
 * last window absorbs the remainder when doubling would overrun it.
 */
export function windowSchedule(warmup: number, options: WindowOptions = {}): WindowSchedule {
  let { initBuffer = 75, termBuffer = 50, baseWindow = 25 } = options;
  for (const [name, v] of [
    ['initBuffer', initBuffer],
    ['termBuffer', termBuffer],
    ['baseWindow', baseWindow],
  ] as const) {
    if (!(Number.isInteger(v) && v >= 0)) throw new RangeError(`adaptation: ${name} must be a non-negative integer, got ${v}`);
  }
  if (baseWindow < 1) throw new RangeError(`adaptation: baseWindow must be at least 1, got ${baseWindow}`);
  if (warmup < 20) return { firstSample: 0, lastSample: -1, ends: [] };
  if (initBuffer + baseWindow + termBuffer > warmup) {
    initBuffer = Math.floor(0.15 * warmup);
    termBuffer = Math.floor(0.1 * warmup);
    baseWindow = warmup - (initBuffer + termBuffer);
  }
  const last = warmup - termBuffer - 1;
  const ends: number[] = [];
  let size = baseWindow;
  let next = initBuffer + baseWindow - 1;
  for (;;) {
    ends.push(next);
    if (next >= last) break;
    size *= 2;
    next += size;
    if (next + 2 * size > last) next = last;
  }
  return { firstSample: initBuffer, lastSample: last, ends };
}

/**
 * Estimates the inverse metric over the slow windows: accumulates the
 * window's draws and, at its end, returns the regularised estimate
 * (n / (n + 5)) * S + 1e-3 * (5 / (n + 5)) * I, shrinking the sample
 * (co)variance S towards a small multiple of the identity as in Stan.
 *
 * With `'auto'`, the full covariance is accumulated and each window's end
 * also chooses the metric's shape ({@link chooseMetric}): `kind` and
 * `decision` then say which shape the returned inverse metric has. Above
 * the dense cap, `'auto'` (and `'lowrank'` always) keeps the window's draws
 * and gradients and fits a low-rank-plus-diagonal metric to them
 * (`metric-lowrank-fit.ts`), which `'auto'` keeps when
 * `chooseLowRank` says it pays.
 */
export class MetricAdapter {
  private readonly acc: WelfordVariance | WelfordCovariance;
  private endIndex = 0;
  private current: 'diag' | 'dense' | 'lowrank';
  private lastDecision: MetricDecision | undefined;
  /** The window's draws and gradients (row-major), kept for a low-rank fit; null when none is made. */
  private readonly window: { draws: number[]; grads: number[] } | null;

  /**
   * @param mode - `diag`, `dense` or `auto` (an identity metric is not adapted).
   * @param dim - the dimension D.
   * @param schedule - from {@link windowSchedule}.
   * @param choice - settings of the automatic choice (for `auto`).
   */
  constructor(
    readonly mode: Exclude<MassMatrixOption, 'identity'>,
    readonly dim: number,
    readonly schedule: WindowSchedule,
    private readonly choice: MetricChoiceOptions = {},
  ) {
    const { maxRank = 6, cutoff = 2, lowRankFactor = 3 } = choice;
    if (!(Number.isInteger(maxRank) && maxRank >= 0)) throw new RangeError(`adaptation: metricChoice.maxRank must be a non-negative integer, got ${maxRank}`);
    if (!(cutoff >= 1)) throw new RangeError(`adaptation: metricChoice.cutoff must be at least 1, got ${cutoff}`);
    if (!(lowRankFactor >= 1)) throw new RangeError(`adaptation: metricChoice.lowRankFactor must be at least 1, got ${lowRankFactor}`);
    const full = mode === 'dense' || (mode === 'auto' && dim >= 2 && dim <= (choice.maxDenseDim ?? 100));
    this.acc = full ? new WelfordCovariance(dim) : new WelfordVariance(dim);
    this.current = mode === 'dense' ? 'dense' : mode === 'lowrank' ? 'lowrank' : 'diag';
    const lowRank = mode === 'lowrank' || (mode === 'auto' && dim >= 2 && dim > (choice.maxDenseDim ?? 100));
    this.window = lowRank ? { draws: [], grads: [] } : null;
  }

  /** The shape of the latest inverse metric (for `auto`, the latest choice; `diag` before the first window ends). */
  get kind(): 'diag' | 'dense' | 'lowrank' {
    return this.current;
  }

  /**
   * The latest automatic choice and its evidence (`auto` only; undefined before the first window ends). Before the
   * last window has ended, a diagonal choice certified by a bound reports the first bound that certified it (not
   * tightened: see {@link chooseMetric}'s `tighten`).
   */
  get decision(): MetricDecision | undefined {
    return this.lastDecision;
  }

  /**
   * Feeds the draw of warmup iteration `iteration` (0-based) and the log
   * density's gradient there (needed by a low-rank fit); returns the new
   * inverse metric when that iteration ends a window, else null (length D
   * for a diagonal metric, D*D row-major for a dense one, packed for a
   * low-rank one: see `kind`).
   *
   * @throws RangeError when a low-rank fit is made and `grad` is missing.
   */
  observe(iteration: number, q: ArrayLike<number>, grad?: ArrayLike<number>): Float64Array | null {
    const { firstSample, lastSample, ends } = this.schedule;
    if (iteration < firstSample || iteration > lastSample) return null;
    this.acc.add(q);
    if (this.window !== null) {
      if (grad === undefined) throw new RangeError(`adaptation: the ${this.mode} metric fit needs the gradient of every warmup draw`);
      for (let i = 0; i < this.dim; i++) {
        this.window.draws.push(q[i]!);
        this.window.grads.push(grad[i]!);
      }
    }
    if (iteration !== ends[this.endIndex]) return null;
    this.endIndex += 1;
    const n = this.acc.count;
    const shrink = n / (n + 5);
    const ridge = 1e-3 * (5 / (n + 5));
    const d = this.dim;
    let out: Float64Array;
    const lowRank = this.window !== null ? this.fitWindow(n) : null;
    if (lowRank !== null) {
      out = lowRank;
    } else if (this.acc instanceof WelfordCovariance) {
      const cov = this.acc.sampleCovariance();
      if (this.mode === 'auto') {
        // only the last window's decision is reported (`decision` after warmup): an earlier one's certified bound is
        // not tightened, which changes its number, never its kind (FIRST6, session 19)
        this.lastDecision = chooseMetric(cov, d, n, this.choice, this.endIndex === ends.length);
        this.current = this.lastDecision.kind;
      }
      if (this.current === 'dense') {
        out = cov;
        for (let i = 0; i < d * d; i++) out[i] = shrink * out[i]!;
        for (let i = 0; i < d; i++) out[i * d + i] = out[i * d + i]! + ridge;
        // a covariance that rounding left indefinite (draws that drift without bound along a ridge, as in an
        // improper or unidentified posterior: variances of 1e10 with a difference of order 1): its diagonal
        // alone, so that the chain runs on and the diagnostics, not a Cholesky pivot, report the drift
        if (!positiveDefinite(out, d)) for (let i = 0; i < d * d; i++) if (i % (d + 1) !== 0) out[i] = 0;
      } else {
        out = new Float64Array(d);
        for (let i = 0; i < d; i++) out[i] = shrink * cov[i * d + i]! + ridge;
      }
    } else {
      out = this.acc.sampleVariance();
      for (let i = 0; i < d; i++) out[i] = shrink * out[i]! + ridge;
      // a forced low-rank metric with too few draws to fit stays low-rank, of rank 0
      if (this.mode === 'lowrank') out = packLowRank(out, [], []);
    }
    this.acc.restart();
    return out;
  }

  /** The low-rank fit of the window just ended when it is to be used (else null: diagonal), and clears the window. */
  private fitWindow(n: number): Float64Array | null {
    const w = this.window!;
    const draws = Float64Array.from(w.draws);
    const grads = Float64Array.from(w.grads);
    w.draws.length = 0;
    w.grads.length = 0;
    if (n < 3) {
      if (this.mode === 'auto') this.current = 'diag';
      return null;
    }
    const fit = fitLowRank(draws, grads, n, this.dim, this.choice);
    if (this.mode === 'auto') {
      this.lastDecision = chooseLowRank(fit, n, this.choice);
      this.current = this.lastDecision.kind;
      if (this.current !== 'lowrank') return null;
    }
    return fit.inverse;
  }
}

/**
 * Stan's heuristic for a starting step size: from `eps`, double (or halve)
 * until a single leapfrog step from `from` with a fresh momentum crosses an
 * acceptance probability of 0.8.
 *
 * @throws Error when the step size runs off to 0 or beyond 1e7 (an improper
 *   target, a posterior on a scale of 1e7 or more, or a wrong gradient).
 */
export function* initialStepSize(
  from: Position,
  eps: number,
  metric: EuclideanMetric,
  rng: Rng,
): GradientCoroutine<number> {
  const logTarget = Math.log(0.8);
  const trial = function* (e: number): GradientCoroutine<number> {
    const z: PhasePoint = { ...from, p: metric.sampleMomentum(rng) };
    const h0 = hamiltonian(z, metric);
    const h = hamiltonian(yield* leapfrog(z, e, metric), metric);
    return h0 - h;
  };
  const direction = (yield* trial(eps)) > logTarget ? 1 : -1;
  for (;;) {
    const dH = yield* trial(eps);
    if (direction === 1 ? !(dH > logTarget) : !(dH < logTarget)) return eps;
    eps = direction === 1 ? 2 * eps : 0.5 * eps;
    if (eps > 1e7) {
      // (Stan's bound: a proper posterior whose sds are near 1e7 or more reaches it too, so say both)
      throw new Error(
        'mcmc: the step size grew beyond 1e7 while searching for a start: the target is improper (flat in some direction), ' +
          'or its posterior sds are of order 1e7 or more on the unconstrained scale; put such parameters on a scale of order 1 ' +
          '(e.g. z ~ Normal(0, 1) and mu = 1e9 * z) or check the model',
      );
    }
    if (eps < 1e-300) {
      throw new Error('mcmc: the step size fell to 0 while searching for a start; is the gradient correct?');
    }
  }
}

/** Whether the symmetric `d` x `d` matrix `a` has a Cholesky factor. */
function positiveDefinite(a: Float64Array, d: number): boolean {
  try {
    cholesky(a, d);
    return true;
  } catch {
    return false;
  }
}
