/**
 * Variational objectives as small programs over model and guide densities.
 *
 * Every objective here is built from the same few pieces, in the spirit of
 * programmable variational inference: S draws from the guide give, per draw,
 * the model's log joint `logP`, the guide's log density `logQ`, and
 * `scoreLogQ`, the part of `logQ` from sites that cannot be reparameterised.
 * An objective groups the log weights `logP - logQ` into groups of K draws
 * and reduces each group to one number (the ELBO takes K = 1 and the log
 * weight itself; IWAE the log of the mean weight; Rényi-alpha a tempered
 * version). Its gradient is then the pathwise (reparameterised) gradient of
 * that reduction plus, for non-reparameterisable sites, a score-function
 * (REINFORCE) term `(f - b) * grad log q` with a moving-average baseline `b`
 * for variance reduction.
 *
 * The ELBO can instead Rao–Blackwellise its score-function terms per site
 * (`elbo({ raoBlackwellize: true })`, the default; see `rao-blackwell.ts`):
 * each non-reparameterised guide site is multiplied only by the cost terms
 * that may depend on it, with a baseline per site.
 *
 * Write a new objective with {@link groupObjective} and a reduction of the
 * `[groups, K]` log weights, or from scratch as an {@link Objective}.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { logSumExp } from '../../core/value.js';
import { type ParticleSites, type SiteBaselines, raoBlackwellScore } from './rao-blackwell.js';

/** Per-draw densities of S guide draws (tensors of shape `[S]`, on the gradient tape). */
export interface Particles {
  /** log p(x, z) of the model at each draw (including the log-Jacobian where the guide works in unconstrained space). */
  readonly logP: tf.Tensor;
  /** log q(z) of the guide at each draw. */
  readonly logQ: tf.Tensor;
  /** The part of `logQ` from non-reparameterised sites (score-function terms); absent when every site is reparameterised. */
  readonly scoreLogQ?: tf.Tensor;
  /** Per draw, the guide's and the model's site terms (given when the objective asks for them with `siteTerms` and the guide records them). */
  readonly sites?: readonly ParticleSites[];
}

/** What an objective returns: an estimate of the bound and a surrogate whose gradient estimates the bound's gradient. */
export interface ObjectiveValue {
  /** Scalar estimate of the bound (to maximise). */
  readonly bound: tf.Tensor;
  /** Scalar surrogate: its gradient is an unbiased estimate of the gradient of the bound. */
  readonly surrogate: tf.Tensor;
  /** The independent per-group values whose mean is `bound` (for standard errors), when the objective has them. */
  readonly values?: tf.Tensor;
}

/** Mutable state an objective keeps across steps (the score-function baseline). */
export interface ObjectiveState {
  /** Moving average of the per-group values, or undefined before the first step. */
  baseline?: number;
  /** Per-site baselines of the Rao–Blackwellised score terms, by address. */
  siteBaselines?: SiteBaselines;
}

/** A variational objective (maximised). */
export interface Objective {
  /** Name for messages and diagnostics. */
  readonly name: string;
  /** Draws per group: the number of particles per step must be a multiple of it. */
  readonly groupSize: number;
  /**
   * "Sticking the landing" (Roeder et al. 2017): ask autoguides for `logQ`
   * with the variational parameters held fixed, dropping the zero-mean score
   * term of the reparameterised gradient. The gradient is then exactly zero
   * when the guide equals the posterior. Custom guides ignore it.
   */
  readonly stickingTheLanding?: boolean;
  /** Ask for per-site terms (`Particles.sites`) when the guide has non-reparameterised sites. */
  readonly siteTerms?: boolean;
  /** Evaluate on S draws (S a multiple of `groupSize`); may update `state`. */
  evaluate(p: Particles, state: ObjectiveState): ObjectiveValue;
}

/** Log weights `logP - logQ` of each draw, shape `[S]`. */
export function logWeights(p: Particles): tf.Tensor {
  return tf.sub(p.logP, p.logQ);
}

/** Reshape `[S]` into `[S / k, k]` groups (an error names the sizes when S is not a multiple of k). */
export function grouped(x: tf.Tensor, k: number): tf.Tensor {
  const s = x.shape[0];
  if (!Number.isInteger(k) || k < 1 || s % k !== 0) throw new RangeError(`objective: ${s} particles cannot be split into groups of ${k} (particles must be a multiple of K)`);
  return tf.reshape(x, [s / k, k]);
}

/** `log(mean(exp(x)))` along `axis`, computed stably: -Infinity with gradient 0 where every term is -Infinity (tf.logSumExp gives NaN there). */
export function logMeanExp(x: tf.Tensor, axis = -1): tf.Tensor {
  const n = x.shape[axis < 0 ? x.rank + axis : axis];
  return tf.sub(logSumExp(x, axis), Math.log(n));
}

/** A tensor with the same values and no gradient path (tfjs has no stop-gradient op). */
export function stopGradient(x: tf.Tensor): tf.Tensor {
  return tf.tensor(x.dataSync(), x.shape, x.dtype);
}

/** Decay of the moving-average baseline. */
export const BASELINE_DECAY = 0.9;

/**
 * The surrogate of a Monte Carlo objective `mean(values)` whose draws may
 * include non-reparameterised sites: `mean(values + sg(values - b) * score)`,
 * where `score` (per group) is the summed `log q` of those sites and `b` the
 * moving-average baseline from earlier steps (independent of the current
 * draws, so the estimator stays unbiased). Updates the baseline.
 */
export function scoreFunctionSurrogate(values: tf.Tensor, score: tf.Tensor | undefined, state: ObjectiveState): tf.Tensor {
  const pathwise = tf.mean(values);
  if (score === undefined) return pathwise;
  const b = state.baseline ?? 0;
  const centred = tf.sub(stopGradient(values), b);
  const m = tf.mean(values).dataSync()[0];
  if (Number.isFinite(m)) state.baseline = state.baseline === undefined ? m : BASELINE_DECAY * state.baseline + (1 - BASELINE_DECAY) * m;
  return tf.add(pathwise, tf.mean(tf.mul(centred, score)));
}

/**
 * An objective from a reduction of grouped log weights: `reduce` maps the
 * `[groups, K]` log weights to `[groups]` values; the bound is their mean,
 * and non-reparameterised sites get score-function terms per group.
 */
export function groupObjective(name: string, groupSize: number, reduce: (logW: tf.Tensor) => tf.Tensor, options: { stickingTheLanding?: boolean } = {}): Objective {
  if (!Number.isInteger(groupSize) || groupSize < 1) throw new RangeError(`${name}: K must be a positive integer, got ${groupSize}`);
  return {
    name,
    groupSize,
    stickingTheLanding: options.stickingTheLanding ?? false,
    evaluate(p, state) {
      const values = reduce(grouped(logWeights(p), groupSize));
      const score = p.scoreLogQ === undefined ? undefined : tf.sum(grouped(p.scoreLogQ, groupSize), 1);
      return { bound: tf.mean(values), surrogate: scoreFunctionSurrogate(values, score, state), values };
    },
  };
}

/** Options of {@link elbo}. */
export interface ElboOptions {
  /** Use the sticking-the-landing gradient estimator with autoguides (default false). */
  readonly stickingTheLanding?: boolean;
  /**
   * Rao–Blackwellise the score-function terms of non-reparameterised guide
   * sites per site, with per-site baselines (default true; applies to guides
   * that record site terms, i.e. guide models). With false, every such site
   * is multiplied by the whole log weight minus one baseline.
   */
  readonly raoBlackwellize?: boolean;
}

/**
 * The evidence lower bound E_q[log p(x, z) - log q(z)], estimated by the mean
 * over the particles; reparameterised gradients where the guide allows,
 * score-function terms elsewhere (Rao–Blackwellised per site by default).
 */
export function elbo(options: ElboOptions = {}): Objective {
  const plain = groupObjective('elbo', 1, (w) => tf.squeeze(w, [1]), options);
  if (options.raoBlackwellize === false) return plain;
  return {
    ...plain,
    siteTerms: true,
    evaluate(p, state) {
      if (p.sites === undefined || p.scoreLogQ === undefined) return plain.evaluate(p, state);
      const values = logWeights(p);
      state.siteBaselines ??= new Map();
      const surrogate = tf.add(tf.mean(values), raoBlackwellScore(p.sites, state.siteBaselines, BASELINE_DECAY));
      return { bound: tf.mean(values), surrogate, values };
    },
  };
}

/**
 * The importance-weighted bound (Burda et al. 2016)
 * E[log (1/K) sum_k p(x, z_k) / q(z_k)]: tighter than the ELBO, increasing in
 * K and tending to log p(x). Each step uses particles / K independent groups.
 */
export function iwae(k: number): Objective {
  return groupObjective(`iwae(K=${k})`, k, (w) => logMeanExp(w, 1));
}

/**
 * The Rényi-alpha bound (Li & Turner 2016) with K samples,
 * 1/(1-alpha) log (1/K) sum_k (p/q)^(1-alpha): alpha = 0 is IWAE, alpha -> 1
 * the ELBO (returned for alpha = 1); alpha < 0 gives upper-bound-like
 * (mass-covering) estimates.
 */
export function renyi(alpha: number, k: number): Objective {
  if (!Number.isFinite(alpha)) throw new RangeError(`renyi: alpha must be a finite number, got ${alpha}`);
  if (alpha === 1) return groupObjective(`renyi(alpha=1, K=${k})`, k, (w) => tf.mean(w, 1));
  return groupObjective(`renyi(alpha=${alpha}, K=${k})`, k, (w) => tf.div(logMeanExp(tf.mul(w, 1 - alpha), 1), 1 - alpha));
}

/** Objective names accepted by `infer(..., { objective })`. */
export type ObjectiveName = 'elbo' | 'elbo-stl' | 'iwae' | 'renyi';

/** The objective for a name (IWAE and Rényi take K = `k`, Rényi alpha = 0.5), or the objective given. */
export function objectiveFrom(spec: ObjectiveName | Objective | undefined, k = 8): Objective {
  if (spec === undefined || spec === 'elbo') return elbo();
  if (typeof spec === 'object') return spec;
  switch (spec) {
    case 'elbo-stl':
      return elbo({ stickingTheLanding: true });
    case 'iwae':
      return iwae(k);
    case 'renyi':
      return renyi(0.5, k);
  }
  throw new Error(`vi: unknown objective "${String(spec)}"; use 'elbo', 'elbo-stl', 'iwae', 'renyi' or an Objective (elbo(), iwae(K), renyi(alpha, K), groupObjective(...))`);
}
