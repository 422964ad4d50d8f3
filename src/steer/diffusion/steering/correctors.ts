/**
 * Feynman–Kac correctors (Skreta et al., "Feynman-Kac Correctors in
 * Diffusion: Annealing, Guidance, and Product of Experts"): sample targets
 * built from pretrained models' scores — annealed q^β, products of models,
 * classifier-free guidance as the geometric average q(x|c)^w q(x)^(1-w), and
 * reward tilts q(x) exp(β r(x)) — by simulating a modified reverse SDE and
 * correcting it with importance weights on the particle core.
 *
 * Derivation (Fokker–Planck). Forward SDE dx = f dt + g dW with marginals
 * q_i,t. In reverse time τ each q_i satisfies
 * ∂_τ log q_i = ∇·f + f·s_i - (g²/2)(Δ log q_i + ‖s_i‖²), s_i = ∇ log q_i.
 * Particles that move by dx = u dτ + g dW and carry log-weights with
 * d log w = A dτ have a weighted density μ obeying
 * ∂_τ μ = -∇·(μ u) + (g²/2) Δμ + A μ; it equals the unnormalised target p̃
 * for all τ iff
 * A = ∂_τ log p̃ + ∇·u + u·∇log p̃ - (g²/2)(Δ log p̃ + ‖∇log p̃‖²).
 * For p̃ = Π q_i^{λ_i} · exp(β_τ r), S = Σ λ_i s_i + β ∇r, Λ = Σ λ_i and the
 * drift u = -f + g² S this gives (the Δ log q_i terms cancel)
 *
 *   A = (Λ - 1) ∇·f + (g²/2)(‖S‖² - Σ λ_i ‖s_i‖²) + β' r - β f·∇r + (g²/2) β Δr,
 *
 * which for β = 0 is the paper's product/annealing weight (its Propositions on
 * the product of experts and annealing: (Λ-1)∇·f and the score-norm
 * difference) and for one model is its reward-tilt weight. Here f = f_t x, so
 * ∇·f = D f_t and f·∇r = f_t x·∇r (D the event size). Steps are
 * Euler–Maruyama; the weight increment is A h at the step's start, except the
 * β' r term, taken exactly as (β_s - β_t) r(x_t).
 *
 * The particles start from N(0, (α² + σ²)/Λ · I), the power Λ of the
 * (nearly Gaussian) noise end. Setting `correct: false` drops the weights
 * (the modified SDE alone; biased).
 *
 * Discretisation. The weight is a continuous-time formula: the exact
 * discrete-time weight would need the models' log-densities, which a
 * score network does not give. Taken per Euler–Maruyama step, moves and
 * weights are biased by O(h), and a step too long for the drift's stiffness
 * J (|h·J| ≳ 1) makes the moves overshoot and the weights explode: annealing
 * a Gaussian to q² on vp-linear gives log Z 2413 at 10 steps against the
 * exact 0.255 (1.6 at 50, 0.35 at 200). Each step estimates h·J from the
 * scores it has (Fisher's identity: the mean of ‖S‖²/D is minus the mean
 * divergence of S), and {@link fkCorrector} warns above
 * `CORRECTOR_STIFFNESS_LIMIT`; {@link correctorGridCheck} compares log Z on
 * two grids, the check to rely on.
 *
 * @module
 */
import { DIFFUSION_SAMPLER_RULES, checkSteerOptions } from '../../run-rules.js';
import { checkIntegerOptions, checkOptions, optionNames } from '../../../core/options.js';
import '../../../backend/gradients.js';
import { gradSync } from '../../../backend/autodiff.js';
import * as tf from '@tensorflow/tfjs-core';
import { ZeroDensityError } from '../../../core/errors.js';
import { type FeynmanKac, runSMCForEntry } from '../../../infer/smc/core.js';
import { type ParticleRunOptions, type ParticleRunResult, particleRunResult, smcSettings } from './particle-run.js';
import { type DiffusionModel, checkCondition, denoise, labels } from '../model.js';
import { gaussianNoise } from '../samplers.js';
import { checkTime, diffusionSquared, driftCoefficient, timeGrid } from '../schedules.js';
import { type Reward, connectedSum, evaluateReward } from './rewards.js';

/** One factor q_i^{λ_i} of the target: a model (with its conditioning) and its power. */
export interface CorrectorTerm {
  readonly model: DiffusionModel;
  /** The power λ_i (any real; the sum must be positive). */
  readonly weight: number;
  /** Conditioning of this factor (`[N]` labels or `[N, c]`), for the whole population. */
  readonly cond?: tf.Tensor | ((n: number) => tf.Tensor);
}

/** A reward tilt exp(β_t r(x)) on top of the product. */
export interface CorrectorTilt {
  /** A reward with a `differentiable` tensor function. */
  readonly reward: Reward;
  /** Final strength λ = β at the data end. */
  readonly lambda: number;
  /** β as a function of t (must be 0 at the first time for an exact start); default λ (tMax - t) / (tMax - tMin). */
  readonly beta?: (t: number) => number;
}

/** Options of {@link correctorModel}. */
export interface CorrectorOptions {
  /** The factors of the target Π q_i^{λ_i} (all on one schedule and event shape). */
  readonly terms: readonly CorrectorTerm[];
  readonly tilt?: CorrectorTilt;
  /** Steps on an even grid (default 100). */
  readonly steps?: number;
  /** Explicit decreasing times (overrides `steps`). */
  readonly times?: readonly number[];
  /** Apply the corrector weights (default true; false = the modified SDE alone). */
  readonly correct?: boolean;
  /** Check network outputs are finite (default true). */
  readonly checkFinite?: boolean;
}

/** The particles of a corrector run. */
export interface CorrectorState {
  readonly x: tf.Tensor;
}

/** Factors for q^β (annealing). */
export function annealedTerms(model: DiffusionModel, beta: number): CorrectorTerm[] {
  if (!(beta > 0) || !Number.isFinite(beta)) throw new RangeError(`annealedTerms(model "${model.name}"): beta must be a positive finite number, got ${beta}`);
  return [{ model, weight: beta }];
}

/** Factors for q_1 q_2 (a product of experts). */
export function productTerms(a: DiffusionModel, b: DiffusionModel): CorrectorTerm[] {
  return [
    { model: a, weight: 1 },
    { model: b, weight: 1 },
  ];
}

/** Factors for classifier-free guidance as the geometric average q(x | label)^w q(x)^(1 - w) of a class model. */
export function guidanceTerms(model: DiffusionModel, label: number, w: number): CorrectorTerm[] {
  const who = `guidanceTerms(model "${model.name}")`;
  if (model.classes === undefined) throw new Error(`${who}: the model is not class-conditional`);
  if (!(Number.isInteger(label) && label >= 0 && label < model.classes)) throw new RangeError(`${who}: label must be an integer in [0, ${model.classes - 1}], got ${label}`);
  if (!Number.isFinite(w)) throw new RangeError(`${who}: the guidance weight must be finite, got ${w}`);
  return [
    { model, weight: w, cond: (n) => labels(n, label) },
    { model, weight: 1 - w, cond: (n) => labels(n, model.classes!) },
  ];
}

interface Resolved {
  readonly terms: readonly CorrectorTerm[];
  readonly tilt?: CorrectorTilt & { beta: (t: number) => number };
  readonly times: number[];
  readonly correct: boolean;
  readonly checkFinite?: boolean;
  readonly power: number;
}

const TERM_KEYS = optionNames<CorrectorTerm>({ model: true, weight: true, cond: true });
const TILT_KEYS = optionNames<CorrectorTilt>({ reward: true, lambda: true, beta: true });

function resolve(o: CorrectorOptions): Resolved {
  const who = 'fkCorrector';
  if (!o || !Array.isArray(o.terms) || o.terms.length === 0) throw new Error(`${who}: options.terms must list at least one model and its power`);
  const m0 = o.terms[0]!.model;
  o.terms.forEach((term, i) => {
    // a term's misspelt key was not seen ({ model, power: 2 } said "has power undefined"; the power is `weight`)
    if (term === null || typeof term !== 'object' || typeof term.model?.predict !== 'function') throw new TypeError(`${who}: terms[${i}] must be { model, weight } with a DiffusionModel as model, got ${term === null ? 'null' : typeof term === 'object' ? `keys ${Object.keys(term).join(', ') || '(none)'}` : typeof term}`);
    checkOptions(who, term, TERM_KEYS, '', `terms[${i}].`);
    if (typeof term.weight !== 'number' || !Number.isFinite(term.weight)) throw new RangeError(`${who}: terms[${i}].weight (the power of model "${term.model.name}") must be a finite number, got ${String(term.weight)}`);
    if (term.model.schedule !== m0.schedule && term.model.schedule.name !== m0.schedule.name) throw new Error(`${who}: terms[${i}] (model "${term.model.name}") uses schedule ${term.model.schedule.name} but terms[0] uses ${m0.schedule.name}; correctors combine scores at one time`);
    if (term.model.eventShape.join() !== m0.eventShape.join()) throw new Error(`${who}: terms[${i}] (model "${term.model.name}") has event shape [${term.model.eventShape.join(', ')}], terms[0] has [${m0.eventShape.join(', ')}]`);
  });
  const power = o.terms.reduce((s, t) => s + t.weight, 0);
  if (!(power > 0)) throw new RangeError(`${who}: the powers must sum to a positive number (got ${power})`);
  const sch = m0.schedule;
  const times = o.times ? [...o.times] : timeGrid(sch, o.steps ?? 100);
  for (let i = 0; i < times.length; i++) {
    checkTime(sch, times[i]!, `${who}, times[${i}]`);
    if (i > 0 && !(times[i]! < times[i - 1]!)) throw new RangeError(`${who}: times must decrease; times[${i}] = ${times[i]} follows ${times[i - 1]}`);
  }
  let tilt: Resolved['tilt'];
  if (o.tilt) {
    checkOptions(who, o.tilt, TILT_KEYS, '', 'tilt.');
    if (typeof o.tilt.reward?.differentiable !== 'function') throw new TypeError(`${who}: the tilt's reward "${o.tilt.reward?.name}" must have a differentiable tensor function (the corrector needs ∇r and Δr)`);
    const lam = o.tilt.lambda;
    if (!Number.isFinite(lam)) throw new RangeError(`${who}: tilt.lambda must be finite, got ${lam}`);
    const t0 = times[0]!;
    const t1 = times[times.length - 1]!;
    tilt = { ...o.tilt, beta: o.tilt.beta ?? ((t: number) => (lam * (t0 - t)) / (t0 - t1)) };
  }
  return { terms: o.terms, tilt, times, correct: o.correct ?? true, checkFinite: o.checkFinite, power };
}

/**
 * The step stiffness |h·J| above which {@link fkCorrector} warns that its grid
 * is too coarse (measured on a Gaussian annealed to q², vp-linear: |h·J| 0.6
 * at 50 steps biased log Z by 1.5 nats, 0.3 at 100 by about 0.5, 0.15 at 200
 * by about 0.1).
 */
export const CORRECTOR_STIFFNESS_LIMIT = 0.25;

/** What {@link correctorModel} counts while it runs. */
export interface CorrectorCounters {
  /** Network evaluations per particle (one per factor per step). */
  evaluations: number;
  /**
   * The stiffest step so far: `hJ` = h·(−f − g²·mean ‖S‖²/D), the estimated
   * mean contraction of one Euler–Maruyama step of the drift (S the combined
   * score; Fisher's identity makes mean ‖S‖²/D the mean of −∇·S/D).
   */
  stiffest?: { step: number; t: number; hJ: number };
  /** The first step whose |h·J| exceeds `CORRECTOR_STIFFNESS_LIMIT` (later steps may be stiff only because it overshot). */
  firstStiff?: { step: number; t: number; hJ: number };
}

/** Per-particle ‖v‖² `[N]` of a batch. */
function sqNorm(v: tf.Tensor): tf.Tensor {
  const n = v.shape[0]!;
  return tf.sum(tf.square(tf.reshape(v, [n, -1])), 1);
}

/**
 * ∇r `[N, ...]` and Δr `[N]` of a differentiable reward at x, checked: the
 * tensor function must give one value per particle, and ∇r and Δr must be
 * finite (a NaN there moved every particle to NaN with no word of the reward).
 */
function rewardDerivatives(reward: Reward, x: tf.Tensor, needLaplacian: boolean, at: string): { grad: tf.Tensor; lap: tf.Tensor | null } {
  const n = x.shape[0]!;
  let shape: number[] = [];
  const f = (y: tf.Tensor) => {
    const v = reward.differentiable!(y);
    shape = v.shape;
    return v;
  };
  const grad = gradSync((y: tf.Tensor) => connectedSum(f, y), x);
  const bad = (what: string, t: tf.Tensor | null) => {
    if (!t) return null;
    const ok = tf.tidy(() => tf.all(tf.isFinite(t)));
    const finite = ok.dataSync()[0] === 1;
    ok.dispose();
    return finite ? null : `its ${what} is not finite (NaN or ±Infinity) for some particle`;
  };
  let lap: tf.Tensor | null;
  try {
    lap = !needLaplacian ? null : reward.laplacian ? reward.laplacian(x) : laplacian(f, x);
  } catch (err) {
    grad.dispose();
    throw err;
  }
  const problem =
    shape.length !== 1 || shape[0] !== n
      ? `its differentiable tensor function returned shape [${shape.join(', ')}]; expected [${n}] (one value per particle)`
      : lap && (lap.shape.length !== 1 || lap.shape[0] !== n)
        ? `its laplacian returned shape [${lap.shape.join(', ')}]; expected [${n}]`
        : (bad('gradient', grad) ?? bad('Laplacian', lap));
  if (problem) {
    tf.dispose([grad, ...(lap ? [lap] : [])]);
    throw new Error(`reward "${reward.name}" at ${at}: ${problem}; the corrector's drift and weights need a finite ∇r and Δr`);
  }
  return { grad, lap };
}

/** Δr `[N]` by autodiff, one pass per dimension. */
function laplacian(f: (y: tf.Tensor) => tf.Tensor, x: tf.Tensor): tf.Tensor {
  const n = x.shape[0]!;
  const D = x.size / n;
  return tf.tidy(() => {
    let acc: tf.Tensor = tf.zeros([n]);
    for (let k = 0; k < D; k++) {
      const hk = gradSync((y: tf.Tensor) => connectedSum((u) => tf.slice(tf.reshape(tf.grad((z: tf.Tensor) => connectedSum(f, z))(u), [n, D]), [0, k], [n, 1]), y), x);
      acc = tf.add(acc, tf.reshape(tf.slice(tf.reshape(hk, [n, D]), [0, k], [n, 1]), [n]));
    }
    return acc;
  });
}

/**
 * A Feynman–Kac corrector run as a {@link FeynmanKac} model (state `{ x }`).
 * `counters.evaluations` accumulates network evaluations per particle (one per
 * factor per step), `counters.stiffest` the stiffest step (see
 * {@link CorrectorCounters}).
 */
export function correctorModel(options: CorrectorOptions, counters: CorrectorCounters = { evaluations: 0 }): FeynmanKac<CorrectorState> & { release(): void } {
  const r = resolve(options);
  const model0 = r.terms[0]!.model;
  const sch = model0.schedule;
  const S = r.times.length - 1;
  const conds = new Map<number, (tf.Tensor | undefined)[]>();
  const condFor = (n: number) => {
    let c = conds.get(n);
    if (!c) {
      c = r.terms.map((term) => (typeof term.cond === 'function' ? term.cond(n) : term.cond));
      c.forEach((v, i) => checkCondition(r.terms[i]!.model, v, n, `fkCorrector, terms[${i}]`));
      conds.set(n, c);
    }
    return c;
  };
  return {
    /** Dispose the conditions made by `cond` functions (e.g. {@link guidanceTerms}'; two tensors a run were left). */
    release() {
      for (const c of conds.values()) c.forEach((v, i) => typeof r.terms[i]!.cond === 'function' && v?.dispose());
      conds.clear();
    },
    init(n, rng) {
      condFor(n);
      const t0 = r.times[0]!;
      const scale = Math.sqrt((sch.alpha(t0) ** 2 + sch.sigma(t0) ** 2) / r.power);
      return { x: tf.tidy(() => tf.mul(gaussianNoise([n, ...model0.eventShape], rng), scale)) };
    },
    done: (t) => t >= S,
    async step(state, i, rng) {
      const x = state.x;
      const n = x.shape[0]!;
      const t = r.times[i]!;
      const s = r.times[i + 1]!;
      const h = t - s;
      const f = driftCoefficient(sch, t);
      const g2 = diffusionSquared(sch, t);
      if (!Number.isFinite(f) || !Number.isFinite(g2)) throw new RangeError(`fkCorrector step ${i}: the SDE coefficients are not finite at t = ${t} under schedule ${sch.name}; start below its tMax`);
      const cs = condFor(n);
      const scores: tf.Tensor[] = [];
      const keep: tf.Tensor[] = [];
      try {
        for (let k = 0; k < r.terms.length; k++) {
          scores.push(await denoise(r.terms[k]!.model, x, t, cs[k], 'score', { caller: `fkCorrector terms[${k}]`, step: i, checkFinite: r.checkFinite }));
          counters.evaluations += 1;
        }
        let rewardNow: Float64Array | null = null;
        let grad: tf.Tensor | null = null;
        let lap: tf.Tensor | null = null;
        const beta = r.tilt ? r.tilt.beta(t) : 0;
        const betaNext = r.tilt ? r.tilt.beta(s) : 0;
        if (r.tilt) {
          if (r.correct && betaNext !== beta) rewardNow = await evaluateReward(r.tilt.reward, x, { step: i, t });
          let d: { grad: tf.Tensor; lap: tf.Tensor | null };
          try {
            d = rewardDerivatives(r.tilt.reward, x, r.correct && beta !== 0, `step ${i} (t = ${t})`);
          } catch (err) {
            if ((err as Error).message.startsWith(`reward "${r.tilt.reward.name}" at step`)) throw err;
            throw new Error(`reward "${r.tilt.reward.name}" could not be differentiated at step ${i} (t = ${t}): ${(err as Error).message}`, { cause: err });
          }
          grad = d.grad;
          lap = d.lap;
          keep.push(grad, ...(lap ? [lap] : []));
        }
        const D = x.size / n;
        const [mean, logInc, meanSq] = tf.tidy(() => {
          let Sq: tf.Tensor = tf.zeros(x.shape);
          let sumSq: tf.Tensor = tf.zeros([n]);
          r.terms.forEach((term, k) => {
            Sq = tf.add(Sq, tf.mul(scores[k]!, term.weight));
            sumSq = tf.add(sumSq, tf.mul(sqNorm(scores[k]!), term.weight));
          });
          const St = grad && beta !== 0 ? tf.add(Sq, tf.mul(grad, beta)) : Sq;
          const m = tf.add(tf.mul(x, 1 - h * f), tf.mul(St, h * g2));
          const ms = tf.mean(sqNorm(St));
          if (!r.correct) return [m, tf.zeros([n]), ms];
          let A: tf.Tensor = tf.add(tf.mul(tf.sub(sqNorm(St), sumSq), g2 / 2), (r.power - 1) * D * f);
          if (grad && beta !== 0) {
            const xg = tf.sum(tf.reshape(tf.mul(x, grad), [n, D]), 1);
            A = tf.sub(A, tf.mul(xg, beta * f));
            if (lap) A = tf.add(A, tf.mul(lap, (g2 / 2) * beta));
          }
          let inc = tf.mul(A, h);
          if (rewardNow) inc = tf.add(inc, tf.mul(tf.tensor1d(Float32Array.from(rewardNow, (v) => v)), betaNext - beta));
          return [m, inc, ms];
        });
        keep.push(mean);
        const hJ = h * (-f - (g2 * meanSq.dataSync()[0]!) / D);
        meanSq.dispose();
        if (Number.isFinite(hJ) && (counters.stiffest === undefined || Math.abs(hJ) > Math.abs(counters.stiffest.hJ))) counters.stiffest = { step: i, t, hJ };
        if (counters.firstStiff === undefined && Math.abs(hJ) > CORRECTOR_STIFFNESS_LIMIT) counters.firstStiff = { step: i, t, hJ };
        const z = gaussianNoise(x.shape, rng);
        const xs = tf.tidy(() => tf.add(mean, tf.mul(z, Math.sqrt(Math.max(0, g2) * h))));
        z.dispose();
        return { state: { x: xs }, logPotential: logInc };
      } finally {
        tf.dispose([...scores, ...keep]);
      }
    },
  };
}

/** Options of {@link fkCorrector}. */
export interface CorrectorRunOptions extends CorrectorOptions, ParticleRunOptions {
  readonly onStep?: (info: { step: number; ess: number; logZ: number; x: tf.Tensor }) => void | Promise<void>;
}

/** The outcome of {@link fkCorrector}. */
export interface CorrectorResult extends ParticleRunResult {
  /** The stiffest step's |h·J| (see {@link CorrectorCounters}); above `CORRECTOR_STIFFNESS_LIMIT` the grid is too coarse. */
  readonly stiffness: number;
  /** Problems with the run (a grid too coarse for the target); empty when none was seen. */
  readonly warnings: readonly string[];
}

/** The warning of a run with a step whose |h·J| exceeds `CORRECTOR_STIFFNESS_LIMIT` (none otherwise), naming the first such step. */
function stiffnessWarning(counters: CorrectorCounters, steps: number): string[] {
  const first = counters.firstStiff;
  if (!first) return [];
  const a = Math.abs(first.hJ);
  const need = Math.ceil((steps * a) / CORRECTOR_STIFFNESS_LIMIT);
  const worst = counters.stiffest && Math.abs(counters.stiffest.hJ) > a ? ` (the stiffest, step ${counters.stiffest.step}, has ${Math.abs(counters.stiffest.hJ).toPrecision(3)})` : '';
  return [
    `fkCorrector: the time grid is too coarse for this target: from step ${first.step} (t = ${first.t.toPrecision(4)}) one Euler–Maruyama step has |h·J| = ${a.toPrecision(3)}${worst} ` +
      `(the drift's estimated stiffness times the step; above ${CORRECTOR_STIFFNESS_LIMIT} the moves and the continuous-time corrector weights are visibly biased, and above about 1 log Z can be off by orders of magnitude). ` +
      `Use more steps (about ${need} on an even grid) and compare two grids with correctorGridCheck.`,
  ];
}

/** The option names fkCorrector accepts (checked against its options type by the compiler). */
const FK_CORRECTOR_OPTIONS = optionNames<CorrectorRunOptions>({ onStep: true, terms: true, tilt: true, steps: true, times: true, correct: true, checkFinite: true, particles: true, essThreshold: true, resampling: true, seed: true, rng: true, signal: true });

/**
 * Sample Π q_i^{λ_i} (· exp(β r)) with a Feynman–Kac corrector.
 *
 * @example
 * ```ts
 * const res = await fkCorrector({ terms: annealedTerms(model, 2), particles: 256, seed: 1 });
 * ```
 */
export async function fkCorrector(options: CorrectorRunOptions): Promise<CorrectorResult> {
  checkSteerOptions('fkCorrector', options, FK_CORRECTOR_OPTIONS, DIFFUSION_SAMPLER_RULES);
  checkIntegerOptions('fkCorrector', options, { particles: 1, steps: 1 });
  const counters: CorrectorCounters = { evaluations: 0 };
  // a condition that differs between particles would stay in its slot while resampling moves the states (as it did in
  // fkSteering before session 9): refused unless the run never resamples
  if ((options.essThreshold ?? 0.5) > 0) {
    options.terms?.forEach((term, k) => {
      const c = term.cond;
      if (!(c instanceof tf.Tensor) || c.shape[0] === undefined || c.shape[0] < 2) return;
      const v = c.dataSync();
      const w = v.length / c.shape[0];
      for (let i = w; i < v.length; i++) {
        if (v[i] !== v[i % w]) throw new RangeError(`fkCorrector: terms[${k}].cond differs between particles (row ${Math.floor(i / w)} against row 0); resampling would move particles between conditions — give every particle the same condition, or essThreshold: 0`);
      }
    });
  }
  const fk = correctorModel(options, counters);
  try {
    const res = await runSMCForEntry(fk, {
      ...smcSettings(options),
      onStep: options.onStep ? (info) => options.onStep!({ step: info.t, ess: info.ess, logZ: info.logZ, x: info.state.x }) : undefined,
    }).catch((err: unknown) => {
      // name the function and the reward, as fkSteering does (was only "SMC step 3: every particle has zero weight")
      if (err instanceof ZeroDensityError) throw new ZeroDensityError(`fkCorrector: ${options.tilt ? `the tilt's reward "${options.tilt.reward.name}"` : 'the corrector weights'} ${options.tilt ? 'gives' : 'give'} every particle weight zero (${err.message}); no particle has positive density under the target Π q_i^λ_i · exp(β r) — is the reward -Infinity everywhere the particles go?`);
      throw err;
    });
    const steps = res.steps;
    return { ...particleRunResult(res, counters.evaluations), stiffness: Math.abs(counters.stiffest?.hJ ?? 0), warnings: stiffnessWarning(counters, steps) };
  } finally {
    fk.release();
  }
}
