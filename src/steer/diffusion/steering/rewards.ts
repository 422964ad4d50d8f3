/**
 * Rewards for steering diffusion models, and their checked evaluation.
 *
 * A {@link Reward} scores a batch of (predicted or final) clean samples
 * `[N, ...eventShape]` with one number per particle. {@link evaluateReward}
 * is the one place a reward is called: it checks the shape, and a reward that
 * throws or returns NaN is named in the error with the step and the particle.
 * A reward that is also differentiable (a synchronous tensor function) can
 * drive gradient-based guidance and the reward-tilt corrector.
 *
 * Test-bed helpers: {@link linearReward} r(x) = a·x and {@link linearTilt},
 * the closed-form tilted target of a Gaussian mixture under it.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { ZeroDensityError } from '../../../core/errors.js';
import { GaussianMixture } from '../gaussian-mixture.js';

/** Where a reward is evaluated, for its callback and for error messages. */
export interface RewardContext {
  /** The sampling step (0-based), or -1 for the final sample. */
  readonly step: number;
  /** The diffusion time of the state the prediction came from. */
  readonly t: number;
}

/** A reward on clean samples: one number per particle (a tensor `[N]` or N numbers). */
export interface Reward {
  /** Used in error messages and reports. */
  readonly name: string;
  /** Score a batch `[N, ...eventShape]` (the caller keeps ownership of `x`). */
  evaluate(x: tf.Tensor, ctx: RewardContext): tf.Tensor | ArrayLike<number> | Promise<tf.Tensor | ArrayLike<number>>;
  /**
   * The same reward as a synchronous tensor function, so that `tf.grad` can
   * differentiate it (needed by gradient guidance and the reward-tilt
   * corrector). Returns `[N]`.
   */
  readonly differentiable?: (x: tf.Tensor) => tf.Tensor;
  /** Optional exact Laplacian Δr `[N]` (else computed by autodiff, one pass per dimension). */
  readonly laplacian?: (x: tf.Tensor) => tf.Tensor;
}

function describeError(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Evaluate `reward` on `x` and return N finite-or-(-Infinity) numbers.
 * A reward that throws, returns the wrong count, NaN or +Infinity is named in
 * the error with the step and the first bad particle. `-Infinity` (an
 * impossible sample) is allowed.
 */
export async function evaluateReward(reward: Reward, x: tf.Tensor, ctx: RewardContext): Promise<Float64Array> {
  const n = x.shape[0]!;
  const at = ctx.step < 0 ? 'the final sample' : `step ${ctx.step} (t = ${ctx.t})`;
  let raw: tf.Tensor | ArrayLike<number>;
  try {
    raw = await reward.evaluate(x, ctx);
  } catch (err) {
    throw new Error(`reward "${reward.name}" threw at ${at}: ${describeError(err)}`, { cause: err });
  }
  let values: ArrayLike<number>;
  if (raw instanceof tf.Tensor) {
    try {
      if (raw.size !== n) throw new Error(`reward "${reward.name}" returned shape [${raw.shape.join(', ')}] at ${at}; expected ${n} values (one per particle)`);
      values = await raw.data();
    } finally {
      raw.dispose();
    }
  } else {
    if (raw === null || typeof raw !== 'object' || typeof raw.length !== 'number') throw new Error(`reward "${reward.name}" returned ${typeof raw} at ${at}; expected a tensor or ${n} numbers`);
    values = raw;
  }
  if (values.length !== n) throw new Error(`reward "${reward.name}" returned ${values.length} values at ${at}; expected ${n} (one per particle)`);
  const out = Float64Array.from(values);
  for (let i = 0; i < n; i++) {
    const v = out[i]!;
    if (Number.isNaN(v) || v === Infinity) throw new Error(`reward "${reward.name}" returned ${v} for particle ${i} at ${at} (rewards must be finite or -Infinity)`);
  }
  return out;
}

/**
 * The error of a search (best-of-N, zero-order, path search, rollover) whose
 * every final sample has reward -Infinity: none satisfies the reward, so
 * there is no best sample to return (it returned one with reward -Infinity
 * before session 10). The same words as FK steering's and DTS's.
 */
export function noFiniteRewardError(who: string, reward: Reward, samples: string): ZeroDensityError {
  return new ZeroDensityError(`${who}: reward "${reward.name}" is -Infinity on ${samples}; no sample satisfies it, so there is no best sample to return — is the reward -Infinity everywhere the model samples?`);
}

/**
 * Σ f(y) plus 0·Σ y: the same value, and a graph that always reaches y, so that
 * `tf.grad` of a reward or likelihood constant in x (or of a linear reward's
 * constant gradient) is zero instead of tfjs's "Cannot compute gradient of
 * y=f(x)" (the corrector's tilt and TDS's twist refused a constant before
 * session 10).
 */
export function connectedSum(f: (y: tf.Tensor) => tf.Tensor, y: tf.Tensor): tf.Tensor {
  return tf.add(tf.sum(f(y)), tf.mul(tf.sum(y), 0));
}

/** A reward from a synchronous tensor function (differentiable). */
export function tensorReward(name: string, fn: (x: tf.Tensor) => tf.Tensor, laplacian?: (x: tf.Tensor) => tf.Tensor): Reward {
  return { name, evaluate: (x) => tf.tidy(() => fn(x)), differentiable: fn, laplacian };
}

/** The log-probability of class `label` under a classifier (`logProbs(x)` → `[N, classes]`), e.g. a shipped digit classifier. */
export function classifierReward(classifier: { readonly name: string; readonly classes: number; logProbs(x: tf.Tensor): tf.Tensor }, label: number): Reward {
  if (!(Number.isInteger(label) && label >= 0 && label < classifier.classes)) throw new RangeError(`classifierReward(${classifier.name}): label must be an integer in [0, ${classifier.classes - 1}], got ${label}`);
  const fn = (x: tf.Tensor) => tf.tidy(() => tf.reshape(tf.slice(classifier.logProbs(x), [0, label], [-1, 1]), [-1]));
  return tensorReward(`${classifier.name} class ${label}`, fn);
}

/** The linear reward r(x) = a·x on flat samples `[N, d]` (its Laplacian is 0). */
export function linearReward(a: readonly number[], name = 'linear'): Reward {
  if (a.length === 0 || !a.every(Number.isFinite)) throw new RangeError(`linearReward: the direction a must be a non-empty list of finite numbers, got [${a.join(', ')}]`);
  const fn = (x: tf.Tensor) =>
    tf.tidy(() => {
      const n = x.shape[0]!;
      if (x.size !== n * a.length) throw new Error(`linearReward "${name}": samples of shape [${x.shape.join(', ')}] do not have ${a.length} entries per particle`);
      return tf.reshape(tf.matMul(tf.reshape(x, [n, a.length]), tf.tensor2d([...a], [a.length, 1])), [n]);
    });
  return tensorReward(name, fn, (x) => tf.zeros([x.shape[0]!]));
}

/**
 * The mixture tilted by exp(λ a·x), in closed form: component k becomes
 * N(μ_k + λ Σ_k a, Σ_k) with weight ∝ π_k exp(λ a·μ_k + λ² aᵀΣ_k a / 2).
 */
export function linearTilt(mixture: GaussianMixture, a: readonly number[], lambda: number): GaussianMixture {
  const d = mixture.dim;
  if (a.length !== d) throw new Error(`linearTilt: a has ${a.length} entries but the mixture has dimension ${d}`);
  if (!Number.isFinite(lambda)) throw new RangeError(`linearTilt: lambda must be finite, got ${lambda}`);
  const covs = mixture.covariances;
  const logw = mixture.means.map((mu, k) => {
    const sa = covs[k]!.map((row) => row.reduce((s, v, j) => s + v * a[j]!, 0));
    const quad = sa.reduce((s, v, i) => s + v * a[i]!, 0);
    const lin = mu.reduce((s, v, i) => s + v * a[i]!, 0);
    return Math.log(mixture.weights[k]!) + lambda * lin + 0.5 * lambda * lambda * quad;
  });
  const top = Math.max(...logw);
  return new GaussianMixture(
    mixture.means.map((mu, k) => {
      const sa = covs[k]!.map((row) => row.reduce((s, v, j) => s + v * a[j]!, 0));
      return { weight: Math.exp(logw[k]! - top), mean: mu.map((v, i) => v + lambda * sa[i]!), covariance: covs[k]!, label: mixture.labels[k] };
    }),
  );
}
