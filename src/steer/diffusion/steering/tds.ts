/**
 * The twisted diffusion sampler (Wu et al., "Practical and Asymptotically
 * Exact Conditional Sampling in Diffusion Models") on the particle core.
 *
 * Target: p(x_0) p(y | x_0), i.e. p(x_0 | y), for a differentiable
 * log-likelihood log p(y | x) (a classifier's log-probability of a class, or
 * a Gaussian observation model such as inpainting a masked region). The twist
 * at time t is ψ_t(x_t) = p(y | x̂0(x_t)); the proposal shifts the base
 * sampler's Gaussian transition N(m, s² I) to N(m + s² ∇ log ψ_t(x_t), s² I);
 * the weight of a step is p(x_s | x_t) ψ_s(x_s) / (q(x_s | x_t) ψ_t(x_t)) and
 * the final step's p(y | x_0) / ψ.
 *
 * ψ_s and its gradient are computed at the new point right after the move
 * (and carried to the next step's proposal), so resampling sees the twisted
 * target p(x_s) ψ_s(x_s). (A version that deferred ψ_s to the next step, the
 * twist lagging one step behind the move, was measurably biased after
 * resampling on this test bed.) Each step costs three network evaluations
 * (the base kernel, and the x0-prediction for the twist and its gradient).
 *
 * @module
 */
import { DIFFUSION_SAMPLER_RULES, checkSteerOptions } from '../../run-rules.js';
import { checkIntegerOptions, optionNames } from '../../../core/options.js';
import '../../../backend/gradients.js';
import { gradSync } from '../../../backend/autodiff.js';
import * as tf from '@tensorflow/tfjs-core';
import { ZeroDensityError } from '../../../core/errors.js';
import { type FeynmanKac, runSMCForEntry } from '../../../infer/smc/core.js';
import { type ParticleRunOptions, type ParticleRunResult, type WeightSpread, addIncrementVariance, particleRunResult, smcSettings, weightSpreadWarning } from './particle-run.js';
import type { GaussianMixture } from '../gaussian-mixture.js';
import { type DiffusionModel, checkCondition, predictSync } from '../model.js';
import { type Sampler, ddpm, gaussianNoise, transitionLogDensity } from '../samplers.js';
import { connectedSum } from './rewards.js';
import { type Schedule, checkTime, timeGrid } from '../schedules.js';

/** A differentiable log-likelihood log p(y | x) `[N]` of clean samples `[N, ...eventShape]`. */
export interface LogLikelihood {
  readonly name: string;
  readonly logProb: (x: tf.Tensor) => tf.Tensor;
  /**
   * Optional noise-aware version log p(y | x_t) at time t (a noisy
   * classifier), differentiable in x_t. When present it is the twist (TDS with
   * a noise-conditional classifier); otherwise the twist is log p(y | x̂0(x_t)).
   */
  readonly noisy?: (x: tf.Tensor, t: number) => tf.Tensor;
}

/** Options of {@link tdsModel} and {@link twistedDiffusion}. */
export interface TdsOptions {
  readonly likelihood: LogLikelihood;
  /** A stochastic Gaussian sampler (default DDPM). */
  readonly sampler?: Sampler;
  readonly steps?: number;
  readonly times?: readonly number[];
  readonly cond?: tf.Tensor;
  /** The twist: `noisy` (the likelihood's noise-aware version, when it has one; default) or `x0` (the likelihood on x̂0(x_t)). */
  readonly twist?: 'noisy' | 'x0';
  /** Planted-bug switch for tests: drop log p - log q (default true keeps it). */
  readonly proposalCorrection?: boolean;
}

/** TDS particles: x, log ψ_t(x) and ∇ log ψ_t(x) at the current time. */
export interface TdsState {
  readonly x: tf.Tensor;
  readonly logPsi: Float64Array;
  readonly grad: tf.Tensor;
  /** Each particle's condition (a copy of `cond`, owned by the state), resampled with the particles; absent without `cond`. */
  readonly cond?: tf.Tensor;
}

function checkFiniteValues(name: string, v: ArrayLike<number>, what: string, step: number, n: number): void {
  // a likelihood of the wrong shape was read as it came (at step 0 silently, later as "the twisted proposal left the particle not finite")
  if (v.length !== n) throw new Error(`likelihood "${name}" returned ${v.length} values (${what}) at step ${step}; expected ${n} (one per particle)`);
  for (let i = 0; i < v.length; i++) {
    if (Number.isNaN(v[i]!) || v[i] === Infinity) throw new Error(`likelihood "${name}" gave ${v[i]} for particle ${i} (${what}) at step ${step}`);
  }
}

/** What {@link tdsModel} counts while it runs: network evaluations per particle and the weights' spread. */
export interface TdsCounters {
  evaluations: number;
  spread?: WeightSpread;
}

/** The twisted diffusion sampler as a {@link FeynmanKac} model (`counters.evaluations` per particle, `counters.spread`). */
export function tdsModel(model: DiffusionModel, options: TdsOptions, counters: TdsCounters = { evaluations: 0 }): FeynmanKac<TdsState> {
  const who = `twistedDiffusion(model "${model.name}")`;
  const lik = options.likelihood;
  if (!lik || typeof lik.logProb !== 'function') throw new TypeError(`${who}: options.likelihood must be { name, logProb(x) }`);
  const sampler = options.sampler ?? ddpm();
  if (!sampler.stochastic) throw new Error(`${who}: the sampler ${sampler.name} is deterministic; the twisted proposal needs a stochastic Gaussian transition`);
  const times = options.times ? [...options.times] : timeGrid(model.schedule, options.steps ?? 100);
  times.forEach((t, i) => checkTime(model.schedule, t, `${who}, times[${i}]`));
  const S = times.length - 1;
  const correct = options.proposalCorrection ?? true;
  const sch = model.schedule;

  /** log ψ_t(x) `[N]` and its gradient, through the x0-prediction (two evaluations). */
  async function twist(x: tf.Tensor, t: number, step: number, cond: tf.Tensor | undefined): Promise<{ logPsi: Float64Array; grad: tf.Tensor }> {
    let values: tf.Tensor | undefined;
    let grad: tf.Tensor;
    try {
      const psi = lik.noisy && options.twist !== 'x0' ? (y: tf.Tensor) => lik.noisy!(y, t) : (y: tf.Tensor) => lik.logProb(predictSync(model, y, t, cond, 'x0'));
      values = tf.tidy(() => psi(x));
      grad = gradSync((y: tf.Tensor) => connectedSum(psi, y), x);
    } catch (err) {
      values?.dispose();
      throw new Error(`${who}: likelihood "${lik.name}" could not be evaluated and differentiated at step ${step} (t = ${t}): ${(err as Error).message}`, { cause: err });
    }
    counters.evaluations += 2;
    const logPsi = Float64Array.from(await values.data());
    values.dispose();
    try {
      checkFiniteValues(lik.name, logPsi, 'the twist on the x0-prediction', step, x.shape[0]!);
    } catch (err) {
      grad.dispose();
      throw err;
    }
    return { logPsi, grad };
  }

  return {
    async init(n, rng) {
      checkCondition(model, options.cond, n, who);
      const t0 = times[0]!;
      const scale = Math.sqrt(sch.alpha(t0) ** 2 + sch.sigma(t0) ** 2);
      const x = tf.tidy(() => tf.mul(gaussianNoise([n, ...model.eventShape], rng), scale));
      // the state's own copy of the condition, so that resampling moves each particle's condition with it
      const cond = options.cond ? tf.clone(options.cond) : undefined;
      try {
        const { logPsi, grad } = await twist(x, t0, 0, cond);
        return { x, logPsi, grad, ...(cond ? { cond } : {}) };
      } catch (err) {
        x.dispose();
        cond?.dispose();
        throw err;
      }
    },
    done: (i) => i >= S,
    async step(state, i, rng) {
      const { x } = state;
      const n = x.shape[0]!;
      const t = times[i]!;
      const s = times[i + 1]!;
      const k = await sampler.kernel({ model, x, t, s, cond: state.cond, step: i });
      counters.evaluations += k.evaluations;
      const std = k.std;
      const twisted = tf.tidy(() => tf.add(k.mean, tf.mul(state.grad, std * std)));
      const z = gaussianNoise(k.mean.shape, rng);
      const xs = tf.tidy(() => tf.add(twisted, tf.mul(z, std)));
      const lpT = transitionLogDensity(xs, k.mean, std);
      const lqT = transitionLogDensity(xs, twisted, std);
      const lp = await lpT.data();
      const lq = await lqT.data();
      tf.dispose([twisted, z, lpT, lqT, k.mean, k.x0]);
      let next: { logPsi: Float64Array; grad: tf.Tensor };
      try {
        if (i === S - 1) {
          // the last twist is the likelihood itself, on the final sample
          let fin: tf.Tensor;
          try {
            fin = tf.tidy(() => lik.logProb(xs));
          } catch (err) {
            throw new Error(`${who}: likelihood "${lik.name}" could not be evaluated on the final sample at step ${i} (t = ${s}): ${(err as Error).message}`, { cause: err });
          }
          const lf = Float64Array.from(await fin.data());
          fin.dispose();
          checkFiniteValues(lik.name, lf, 'the final sample', i, n);
          next = { logPsi: lf, grad: tf.zerosLike(xs) };
        } else {
          next = await twist(xs, s, i + 1, state.cond);
        }
      } catch (err) {
        xs.dispose();
        throw err;
      }
      const inc = new Float64Array(n);
      for (let j = 0; j < n; j++) {
        // the initial particles carry no twist weight (they are drawn from p(x_T), not p ψ_T): step 0 adds log ψ_s only
        const prev = i === 0 ? 0 : state.logPsi[j]!;
        // an intermediate twist of -Infinity keeps the previous one: killing the path would drop particles whose final
        // sample the target allows (test/reliability/steer-session9: mean 1.435 and Z 0.530 against 1.22 and 1.17)
        if (i < S - 1 && next.logPsi[j] === -Infinity) next.logPsi[j] = prev;
        inc[j] = next.logPsi[j]! - prev + (correct ? lp[j]! - lq[j]! : 0);
        if (Number.isNaN(inc[j]!)) {
          xs.dispose();
          next.grad.dispose();
          throw new Error(`${who}: the weight of particle ${j} is NaN at step ${i} (t = ${t}): the twisted proposal left the particle not finite; is the gradient of likelihood "${lik.name}" finite?`);
        }
      }
      if (counters.spread) addIncrementVariance(counters.spread, inc, i, t);
      return { state: { x: xs, logPsi: next.logPsi, grad: next.grad, ...(state.cond ? { cond: state.cond } : {}) }, logPotential: inc };
    },
  };
}

/** Options of {@link twistedDiffusion}. */
export interface TdsRunOptions extends TdsOptions, ParticleRunOptions {
  /** Called after each step with the particles at the new time (before any resampling; freed after the call). */
  readonly onStep?: (info: { step: number; t: number; x: tf.Tensor }) => void | Promise<void>;
}

/** The outcome of {@link twistedDiffusion}. */
export interface TdsResult extends ParticleRunResult {
  /** With `cond`: the final particles' conditions, row i that of `x` row i (resampling moves them; the caller owns it). */
  readonly cond?: tf.Tensor;
  /** The log-weight variance the run accumulated (see `WeightSpread`); above `WEIGHT_VARIANCE_LIMIT` a warning says the twist misleads. */
  readonly logWeightVariance: number;
  /** Problems with the run (a twist far from the optimal one); empty when none was seen. */
  readonly warnings: readonly string[];
}

/** The option names twistedDiffusion accepts (checked against its options type by the compiler). */
const TWISTED_DIFFUSION_OPTIONS = optionNames<TdsRunOptions>({ onStep: true, likelihood: true, sampler: true, steps: true, times: true, cond: true, twist: true, proposalCorrection: true, particles: true, essThreshold: true, resampling: true, seed: true, rng: true, signal: true });

/** Run the twisted diffusion sampler. */
export async function twistedDiffusion(model: DiffusionModel, options: TdsRunOptions): Promise<TdsResult> {
  checkSteerOptions('twistedDiffusion', options, TWISTED_DIFFUSION_OPTIONS, DIFFUSION_SAMPLER_RULES);
  checkIntegerOptions('twistedDiffusion', options, { particles: 1, steps: 1 });
  const counters: TdsCounters = { evaluations: 0, spread: { logWeightVariance: 0 } };
  const times = options.times ? [...options.times] : timeGrid(model.schedule, options.steps ?? 100);
  const res = await runSMCForEntry(tdsModel(model, options, counters), {
    ...smcSettings(options),
    onStep: options.onStep ? (info) => options.onStep!({ step: info.t, t: times[info.t + 1]!, x: info.state.x }) : undefined,
  }).catch((err: unknown) => {
    // name the function and the likelihood, as fkSteering does (was only "SMC step 5: every particle has zero weight")
    if (err instanceof ZeroDensityError) throw new ZeroDensityError(`twistedDiffusion(model "${model.name}"): likelihood "${options.likelihood.name}" gives every particle weight zero (${err.message}); no particle has positive density under p(x0)·p(y | x0) — is the likelihood -Infinity everywhere the model samples?`);
    throw err;
  });
  res.state.grad.dispose();
  const spread = counters.spread!;
  const warnings = weightSpreadWarning(`twistedDiffusion(model "${model.name}")`, `the twist of likelihood "${options.likelihood.name}"`, spread, options.particles);
  return { ...particleRunResult(res, counters.evaluations), ...(res.state.cond ? { cond: res.state.cond } : {}), logWeightVariance: spread.logWeightVariance, warnings };
}

/**
 * The exact class log-likelihood log p(label | x) of a labelled Gaussian
 * mixture at the data end (tMin) of `schedule` (the sum of the
 * responsibilities of the components with that label), differentiable, with
 * its exact noisy version log p(label | x_t) under the marginal at t.
 */
export function mixtureClassLikelihood(mixture: GaussianMixture, label: number, schedule: Schedule): LogLikelihood {
  const keep = mixture.labels.map((l) => (l === label ? 1 : 0));
  if (!keep.some((v) => v === 1)) throw new RangeError(`mixtureClassLikelihood: no component has label ${label}`);
  const classLog = (m: GaussianMixture, x: tf.Tensor) =>
    tf.tidy(() => {
      const r = m.responsibilities(x);
      return tf.log(tf.sum(tf.mul(r, tf.tensor1d(keep)), 1));
    });
  const end = mixture.marginal(schedule, schedule.tMin);
  return { name: `class ${label}`, logProb: (x) => classLog(end, x), noisy: (x, t) => classLog(mixture.marginal(schedule, t), x) };
}

/**
 * A Gaussian observation of the entries where `mask` is 1: log N(y; x, σ² I)
 * over the observed entries (inpainting). `y` and `mask` are flat, of the
 * event size.
 */
export function maskedGaussianLikelihood(y: readonly number[], mask: readonly number[], sigma: number, name = 'inpainting'): LogLikelihood {
  if (y.length !== mask.length) throw new Error(`maskedGaussianLikelihood: y has ${y.length} entries but mask has ${mask.length}`);
  if (!(sigma > 0)) throw new RangeError(`maskedGaussianLikelihood: sigma must be positive, got ${sigma}`);
  const m = mask.reduce((s, v) => s + v, 0);
  return {
    name,
    logProb: (x) =>
      tf.tidy(() => {
        const n = x.shape[0]!;
        if (x.size !== n * y.length) throw new Error(`likelihood "${name}": samples [${x.shape.join(', ')}] do not have ${y.length} entries each`);
        const d = tf.mul(tf.sub(tf.reshape(x, [n, y.length]), tf.tensor2d([...y], [1, y.length])), tf.tensor2d([...mask], [1, y.length]));
        return tf.sub(tf.mul(tf.sum(tf.square(d), 1), -0.5 / (sigma * sigma)), m * (Math.log(sigma) + 0.5 * Math.log(2 * Math.PI)));
      }),
  };
}
