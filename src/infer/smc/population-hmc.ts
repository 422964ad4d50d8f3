/**
 * HMC moves for a whole particle population at once, in float64: every
 * particle is a row of one matrix, every leapfrog step is one batched
 * evaluation of the target over all rows.
 *
 * The metric comes from the population itself, as in PyMC's and TFP's SMC:
 * the particles' covariance Σ (regularised towards a small multiple of the
 * identity, as Stan regularises its adapted metric) with Cholesky factor
 * L. Moves run in whitened coordinates (x = L y), where the tempered target
 * is close to a standard normal whatever the scales and correlations of the
 * model's parameters, so one step size serves every coordinate. The step
 * size is adapted between transitions from the population's mean acceptance
 * probability (target 0.65); the number of leapfrog steps keeps the
 * trajectory about 1.5 whitened units long.
 *
 * Each transition leaves the target invariant for any fixed (L, step size,
 * leapfrog count); they are chosen from the population before the
 * transition, the usual adaptive-SMC practice.
 *
 * @module
 */
import type { Rng } from '../../core/rng.js';
import { cholesky } from '../mcmc/linalg.js';
import type { Pacer } from '../pace.js';

/** A target evaluated at every row of `q` (rows × dim): log density and its gradient. */
export type RowsTarget = (q: Float64Array) => Promise<{ readonly logp: Float64Array; readonly grad: Float64Array }>;

/** A population: `rows` points of `dim`, with the target's log density and gradient at each. */
export interface Population {
  readonly q: Float64Array;
  readonly logp: Float64Array;
  readonly grad: Float64Array;
}

/** The step-size controller's state, carried from one transition (and temperature) to the next. */
export interface HmcTuning {
  stepSize: number;
}

/** What {@link populationMoves} did. */
export interface MovesReport {
  /** Transitions made. */
  readonly transitions: number;
  /** Mean acceptance probability over particles and transitions. */
  readonly acceptance: number;
  /** Leapfrog steps of each transition. */
  readonly leapfrog: number;
  /** The largest correlation, over coordinates, between the particles before and after the moves. */
  readonly correlation: number;
}

/** Options of {@link populationMoves}. */
export interface MovesOptions {
  /** A fixed number of transitions; default: until the particles decorrelate (see `correlation`). */
  readonly transitions?: number;
  /** With adaptive transitions: stop once every coordinate's correlation with the start is below this (default 0.1). */
  readonly correlation?: number;
  /** With adaptive transitions: at least this many (default 2) and at most `maxTransitions` (default 25). */
  readonly minTransitions?: number;
  readonly maxTransitions?: number;
  /** Target mean acceptance probability (default 0.65). */
  readonly targetAcceptance?: number;
  /** Paces the loop (yields to the event loop, honours the abort signal). */
  readonly pace?: Pacer;
}

/** Trajectory length in whitened units and the cap on leapfrog steps. */
const TRAJECTORY = 1.5;
const MAX_LEAPFROG = 20;

/**
 * The lower Cholesky factor of the population's covariance (rows of `q`),
 * regularised as Stan regularises its adapted metric:
 * (n / (n + 5)) Σ + 1e-3 (5 / (n + 5)) I. Falls back to the diagonal of
 * that matrix when it is not positive definite.
 */
export function populationScale(q: Float64Array, rows: number, dim: number): Float64Array {
  const mean = new Float64Array(dim);
  for (let r = 0; r < rows; r++) for (let j = 0; j < dim; j++) mean[j] += q[r * dim + j]! / rows;
  const cov = new Float64Array(dim * dim);
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < dim; i++) {
      const di = q[r * dim + i]! - mean[i]!;
      for (let j = 0; j <= i; j++) cov[i * dim + j] += (di * (q[r * dim + j]! - mean[j]!)) / Math.max(1, rows - 1);
    }
  }
  const w = rows / (rows + 5);
  const ridge = 1e-3 * (5 / (rows + 5));
  for (let i = 0; i < dim; i++) {
    for (let j = 0; j < i; j++) cov[j * dim + i] = cov[i * dim + j] = w * cov[i * dim + j]!;
    cov[i * dim + i] = w * cov[i * dim + i]! + ridge;
  }
  try {
    return cholesky(cov, dim, 'the population covariance');
  } catch {
    const l = new Float64Array(dim * dim);
    for (let i = 0; i < dim; i++) l[i * dim + i] = Math.sqrt(Math.max(cov[i * dim + i]!, ridge));
    return l;
  }
}

/** The largest, over coordinates, Pearson correlation between the rows of `a` and `b`. */
export function maxCorrelation(a: Float64Array, b: Float64Array, rows: number, dim: number): number {
  let worst = 0;
  for (let j = 0; j < dim; j++) {
    let ma = 0;
    let mb = 0;
    for (let r = 0; r < rows; r++) (ma += a[r * dim + j]!), (mb += b[r * dim + j]!);
    ma /= rows;
    mb /= rows;
    let sab = 0;
    let saa = 0;
    let sbb = 0;
    for (let r = 0; r < rows; r++) {
      const x = a[r * dim + j]! - ma;
      const y = b[r * dim + j]! - mb;
      sab += x * y;
      saa += x * x;
      sbb += y * y;
    }
    // a coordinate that does not vary (all particles equal) has not decorrelated
    const c = saa > 0 && sbb > 0 ? sab / Math.sqrt(saa * sbb) : 1;
    worst = Math.max(worst, c);
  }
  return worst;
}

/**
 * One HMC transition of every row: momenta r ~ N(0, I) in whitened
 * coordinates, `leapfrog` steps of `eps` (x += eps L r, r += eps/2 Lᵀ ∇),
 * then a Metropolis accept/reject per row. Updates `pop` in place and
 * returns the acceptance probability of each row.
 */
async function transition(target: RowsTarget, pop: Population, rows: number, dim: number, l: Float64Array, eps: number, leapfrog: number, rng: Rng): Promise<Float64Array> {
  const r = rng.normals(rows * dim);
  const kinetic0 = new Float64Array(rows);
  for (let k = 0; k < rows; k++) {
    let s = 0;
    for (let j = 0; j < dim; j++) s += r[k * dim + j]! ** 2;
    kinetic0[k] = 0.5 * s;
  }
  const x = Float64Array.from(pop.q);
  let grad = pop.grad;
  let logp = pop.logp;
  // half kick, then (drift, kick) pairs with full kicks in between and a half kick at the end
  const kick = (g: Float64Array, h: number): void => {
    for (let k = 0; k < rows; k++) {
      for (let i = 0; i < dim; i++) {
        // (Lᵀ g)_i = sum_j L[j][i] g_j, j >= i
        let s = 0;
        for (let j = i; j < dim; j++) s += l[j * dim + i]! * g[k * dim + j]!;
        if (Number.isFinite(s)) r[k * dim + i] += h * s;
      }
    }
  };
  kick(grad, eps / 2);
  for (let step = 0; step < leapfrog; step++) {
    for (let k = 0; k < rows; k++) {
      for (let i = 0; i < dim; i++) {
        let s = 0;
        for (let j = 0; j <= i; j++) s += l[i * dim + j]! * r[k * dim + j]!;
        x[k * dim + i] += eps * s;
      }
    }
    const at = await target(x);
    grad = at.grad;
    logp = at.logp;
    kick(grad, step === leapfrog - 1 ? eps / 2 : eps);
  }
  const prob = new Float64Array(rows);
  const u = rng.uniforms(rows);
  for (let k = 0; k < rows; k++) {
    let s = 0;
    for (let j = 0; j < dim; j++) s += r[k * dim + j]! ** 2;
    const logRatio = logp[k]! - 0.5 * s - (pop.logp[k]! - kinetic0[k]!);
    const a = Number.isNaN(logRatio) ? 0 : Math.min(1, Math.exp(logRatio));
    prob[k] = a;
    if (u[k]! < a) {
      pop.q.set(x.subarray(k * dim, (k + 1) * dim), k * dim);
      pop.grad.set(grad.subarray(k * dim, (k + 1) * dim), k * dim);
      pop.logp[k] = logp[k]!;
    }
  }
  return prob;
}

/**
 * HMC transitions of every particle of `pop` (updated in place) under
 * `target`, with the metric from the population (see the module notes) and
 * the step size in `tuning` adapted between transitions.
 */
export async function populationMoves(target: RowsTarget, pop: Population, rows: number, dim: number, tuning: HmcTuning, rng: Rng, options: MovesOptions = {}): Promise<MovesReport> {
  const l = populationScale(pop.q, rows, dim);
  const start = Float64Array.from(pop.q);
  const goal = options.targetAcceptance ?? 0.65;
  const fixed = options.transitions;
  const maxT = fixed ?? options.maxTransitions ?? 25;
  const minT = fixed ?? options.minTransitions ?? 2;
  const threshold = options.correlation ?? 0.1;
  let accSum = 0;
  let t = 0;
  let leapfrog = 1;
  let correlation = 1;
  while (t < maxT) {
    if (options.pace?.due()) await options.pace.pause();
    leapfrog = Math.min(MAX_LEAPFROG, Math.max(1, Math.round(TRAJECTORY / tuning.stepSize)));
    const prob = await transition(target, pop, rows, dim, l, tuning.stepSize, leapfrog, rng);
    let mean = 0;
    for (const p of prob) mean += p / rows;
    accSum += mean;
    t++;
    // dual-averaging-free controller: a multiplicative step towards the target acceptance
    tuning.stepSize = Math.min(4, Math.max(1e-4, tuning.stepSize * Math.exp(2 * (mean - goal))));
    if (fixed === undefined && t >= minT) {
      correlation = maxCorrelation(start, pop.q, rows, dim);
      if (correlation < threshold) break;
    }
  }
  if (fixed !== undefined) correlation = maxCorrelation(start, pop.q, rows, dim);
  return { transitions: t, acceptance: accSum / t, leapfrog, correlation };
}
