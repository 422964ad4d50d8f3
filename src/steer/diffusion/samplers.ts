/**
 * Samplers: step functions that move a batch of particles from time t to an
 * earlier time s < t (toward the data) and describe the transition they took.
 *
 * Every sampler is a Gaussian kernel x_s ~ N(mean, std^2 I) (std = 0 for the
 * deterministic ODE samplers), computed by {@link Sampler.kernel}, which also
 * returns Tweedie's x0-prediction at (x_t, t). {@link samplerStep} draws the
 * noise (from a seeded stream, or given, for noise search) and reports the
 * transition log-density log N(x_s; mean, std^2 I) per particle, which
 * steering needs; a twisted proposal can shift `mean` itself and reuse
 * {@link transitionLogDensity}.
 *
 * - {@link ddpm}: ancestral sampling from q(x_s | x_t, x0 = x̂0);
 * - {@link ddim}: DDIM with stochasticity eta (0 deterministic, 1 = DDPM);
 * - {@link eulerMaruyama}: Euler–Maruyama on the reverse SDE
 *   dx = [f x - g^2 ∇log p] dt + g dW̄;
 * - {@link probabilityFlow}: the probability-flow ODE dx/dt = f x - ½ g^2 ∇log p
 *   (Euler or Heun);
 * - {@link flowOde}: the flow ODE dx/dt = u(x, t) on the model's velocity
 *   (Euler or Heun; the same vector field as the probability flow, computed
 *   from the velocity);
 * - {@link flowSde}: a flow ODE turned into an SDE with the same marginals
 *   (Kim et al.): dx = [-u + ½ g_t^2 ∇log p] dτ + g_t dW in generation time
 *   τ = -t, the score obtained from the velocity, g_t chosen freely.
 *
 * @module
 */
import { DIFFUSION_SAMPLER_RULES, checkSteerOptions } from '../run-rules.js';
import { checkIntegerOptions, optionNames } from '../../core/options.js';
import * as tf from '@tensorflow/tfjs-core';
import { type Rng, rngFrom, type Seed } from '../../core/rng.js';
import { Pacer } from '../../infer/pace.js';
import { type DiffusionModel, checkState, denoise } from './model.js';
import { type Prediction, convertPrediction } from './parametrisation.js';
import { checkTime, diffusionSquared, driftCoefficient, timeGrid } from './schedules.js';

const LOG_2PI = Math.log(2 * Math.PI);

/** One step's inputs: move `x` (at time `t`) to time `s` < t. */
export interface StepInput {
  readonly model: DiffusionModel;
  /** The particles `[N, ...eventShape]` at time t (not consumed). */
  readonly x: tf.Tensor;
  /** Current time. */
  readonly t: number;
  /** Next time, s < t. */
  readonly s: number;
  /** Conditioning passed to the model. */
  readonly cond?: tf.Tensor;
  /** Step index for error messages. */
  readonly step?: number;
  /** Check network outputs are finite (default true). */
  readonly checkFinite?: boolean;
}

/** A Gaussian transition x_s ~ N(mean, std^2 I) and the x0-prediction at (x_t, t). The caller owns the tensors. */
export interface Kernel {
  readonly mean: tf.Tensor;
  /** Standard deviation of the transition (0: deterministic). */
  readonly std: number;
  /** Tweedie's E[x0 | x_t] at the current point. */
  readonly x0: tf.Tensor;
  /** Network evaluations the kernel used. */
  readonly evaluations: number;
}

/** A sampler: a Gaussian transition kernel per step. */
export interface Sampler {
  /** A name used in reports and errors. */
  readonly name: string;
  /** False for the ODE samplers (std always 0). */
  readonly stochastic: boolean;
  /** The transition from t to s. */
  kernel(input: StepInput): Promise<Kernel>;
}

/** What {@link samplerStep} returns (the caller owns the tensors). */
export interface StepOutput {
  /** The particles at time s. */
  readonly x: tf.Tensor;
  /** Tweedie's x0-prediction at (x_t, t). */
  readonly x0: tf.Tensor;
  /** The transition's mean. */
  readonly mean: tf.Tensor;
  /** The transition's standard deviation. */
  readonly std: number;
  /** log N(x_s; mean, std^2 I) per particle `[N]`; null for a deterministic step. */
  readonly logProb: tf.Tensor | null;
  /** Network evaluations used. */
  readonly evaluations: number;
}

function who(sampler: string, input: StepInput): string {
  return `sampler ${sampler}, model "${input.model.name}"${input.step !== undefined ? `, step ${input.step}` : ''}`;
}

function checkStep(name: string, input: StepInput): void {
  const w = who(name, input);
  checkTime(input.model.schedule, input.t, w);
  checkTime(input.model.schedule, input.s, w);
  if (!(input.s < input.t)) throw new RangeError(`${w}: the next time s = ${input.s} must be below the current time t = ${input.t} (samplers run from noise to data)`);
  checkState(input.model, input.x, w);
}

function finiteCoefficients(name: string, input: StepInput, what: string, values: number[]): void {
  if (!values.every(Number.isFinite)) {
    throw new RangeError(`${who(name, input)}: the ${what} is not finite from t = ${input.t} to s = ${input.s} under schedule ${input.model.schedule.name} (coefficients ${values.join(', ')}); start below its tMax or use another sampler`);
  }
}

/** Evaluate the model once and return its output converted to each requested type. */
async function predictions<K extends Prediction>(name: string, input: StepInput, types: readonly K[], x = input.x, t = input.t): Promise<Record<K, tf.Tensor>> {
  const ctx = { caller: `sampler ${name}`, step: input.step, checkFinite: input.checkFinite };
  const out = await denoise(input.model, x, t, input.cond, undefined, ctx);
  const res = {} as Record<K, tf.Tensor>;
  try {
    for (const k of types) res[k] = convertPrediction(out, x, input.model.prediction, k, input.model.schedule, t, `${ctx.caller}, model "${input.model.name}"`);
  } catch (err) {
    tf.dispose(Object.values(res) as tf.Tensor[]);
    throw err;
  } finally {
    out.dispose();
  }
  return res;
}

function posterior(input: StepInput): { cx: number; c0: number; variance: number } {
  const sch = input.model.schedule;
  const at = sch.alpha(input.t);
  const as = sch.alpha(input.s);
  const st2 = sch.sigma(input.t) ** 2;
  const ss2 = sch.sigma(input.s) ** 2;
  const ats = at / as;
  const sts2 = Math.max(0, st2 - ats * ats * ss2);
  return { cx: (ats * ss2) / st2, c0: (as * sts2) / st2, variance: (sts2 * ss2) / st2 };
}

/** DDPM ancestral sampling: x_s ~ q(x_s | x_t, x0 = x̂0), exact for any Gaussian schedule. */
export function ddpm(): Sampler {
  const name = 'ddpm';
  return {
    name,
    stochastic: true,
    async kernel(input) {
      checkStep(name, input);
      const { cx, c0, variance } = posterior(input);
      finiteCoefficients(name, input, 'posterior q(x_s | x_t, x0)', [cx, c0, variance]);
      const { x0 } = await predictions(name, input, ['x0']);
      const mean = tf.tidy(() => tf.add(tf.mul(input.x, cx), tf.mul(x0, c0)));
      return { mean, std: Math.sqrt(variance), x0, evaluations: 1 };
    },
  };
}

/** Options of {@link ddim}. */
export interface DdimOptions {
  /** Stochasticity eta in [0, 1] (default 0: deterministic DDIM; 1 = DDPM). */
  readonly eta?: number;
}

/** DDIM: x_s = alpha_s x̂0 + sqrt(sigma_s^2 - c^2) ε̂ + c z, c = eta * (DDPM posterior std). */
export function ddim(options: DdimOptions = {}): Sampler {
  const eta = options.eta ?? 0;
  if (!(eta >= 0 && eta <= 1)) throw new RangeError(`ddim: eta must lie in [0, 1], got ${eta}`);
  const name = `ddim(eta=${eta})`;
  return {
    name,
    stochastic: eta > 0,
    async kernel(input) {
      checkStep(name, input);
      const sch = input.model.schedule;
      const c = eta * Math.sqrt(posterior(input).variance);
      const as = sch.alpha(input.s);
      const dir = Math.sqrt(Math.max(0, sch.sigma(input.s) ** 2 - c * c));
      const { x0, epsilon } = await predictions(name, input, ['x0', 'epsilon']);
      const mean = tf.tidy(() => tf.add(tf.mul(x0, as), tf.mul(epsilon, dir)));
      epsilon.dispose();
      return { mean, std: c, x0, evaluations: 1 };
    },
  };
}

/** Euler–Maruyama on the reverse SDE: x_s = x + h (g^2 ∇log p - f x) + g sqrt(h) z, h = t - s. */
export function eulerMaruyama(): Sampler {
  const name = 'euler-maruyama';
  return {
    name,
    stochastic: true,
    async kernel(input) {
      checkStep(name, input);
      const sch = input.model.schedule;
      const h = input.t - input.s;
      const f = driftCoefficient(sch, input.t);
      const g2 = diffusionSquared(sch, input.t);
      finiteCoefficients(name, input, 'reverse SDE drift', [f, g2]);
      const { x0, score } = await predictions(name, input, ['x0', 'score']);
      const mean = tf.tidy(() => tf.add(tf.mul(input.x, 1 - h * f), tf.mul(score, h * g2)));
      score.dispose();
      return { mean, std: Math.sqrt(Math.max(0, g2) * h), x0, evaluations: 1 };
    },
  };
}

/** ODE integrators. */
export type OdeMethod = 'euler' | 'heun';

/**
 * A deterministic sampler from a vector field dx/dt = v(x, t): Euler, or
 * Heun (the trapezoid corrector of Karras et al.; two evaluations a step).
 */
function odeSampler(name: string, method: OdeMethod, field: (input: StepInput, x: tf.Tensor, t: number, withX0: boolean) => Promise<{ v: tf.Tensor; x0?: tf.Tensor }>): Sampler {
  if (method !== 'euler' && method !== 'heun') throw new RangeError(`${name}: method must be 'euler' or 'heun', got ${String(method)}`);
  const full = `${name}(${method})`;
  return {
    name: full,
    stochastic: false,
    async kernel(input) {
      checkStep(full, input);
      const h = input.t - input.s;
      const { v: v1, x0 } = await field(input, input.x, input.t, true);
      if (method === 'euler') {
        const mean = tf.tidy(() => tf.sub(input.x, tf.mul(v1, h)));
        v1.dispose();
        return { mean, std: 0, x0: x0!, evaluations: 1 };
      }
      const xe = tf.tidy(() => tf.sub(input.x, tf.mul(v1, h)));
      let v2: tf.Tensor;
      try {
        v2 = (await field(input, xe, input.s, false)).v;
      } catch (err) {
        tf.dispose([v1, x0!, xe]);
        throw err;
      }
      const mean = tf.tidy(() => tf.sub(input.x, tf.mul(tf.add(v1, v2), h / 2)));
      tf.dispose([v1, v2, xe]);
      return { mean, std: 0, x0: x0!, evaluations: 2 };
    },
  };
}

/** The probability-flow ODE dx/dt = f_t x - ½ g_t^2 ∇log p_t(x), by Euler or Heun. */
export function probabilityFlow(method: OdeMethod = 'euler'): Sampler {
  const name = 'probability-flow';
  return odeSampler(name, method, async (input, x, t, withX0) => {
    const sch = input.model.schedule;
    const f = driftCoefficient(sch, t);
    const g2 = diffusionSquared(sch, t);
    finiteCoefficients(name, { ...input, t }, 'probability-flow drift', [f, g2]);
    const p = await predictions(name, { ...input, x, t }, withX0 ? (['score', 'x0'] as const) : (['score'] as const), x, t);
    const v = tf.tidy(() => tf.sub(tf.mul(x, f), tf.mul(p.score, g2 / 2)));
    p.score.dispose();
    return { v, x0: (p as { x0?: tf.Tensor }).x0 };
  });
}

/** The flow ODE dx/dt = u(x, t) on the model's velocity, by Euler or Heun. */
export function flowOde(method: OdeMethod = 'euler'): Sampler {
  const name = 'flow-ode';
  return odeSampler(name, method, async (input, x, t, withX0) => {
    const p = await predictions(name, { ...input, x, t }, withX0 ? (['velocity', 'x0'] as const) : (['velocity'] as const), x, t);
    return { v: p.velocity, x0: (p as { x0?: tf.Tensor }).x0 };
  });
}

/** Options of {@link flowSde}. */
export interface FlowSdeOptions {
  /**
   * The diffusion coefficient g_t: a function of t or a constant (default
   * g_t = t). g_t^2 equal to the schedule's forward g^2 recovers the reverse SDE.
   */
  readonly diffusion?: number | ((t: number) => number);
}

/**
 * A flow ODE converted to an SDE with the same marginals (Kim et al.,
 * "Inference-Time Scaling for Flow Models via Stochastic Generation"):
 * x_s = x + h (-u + ½ g_t^2 s) + g_t sqrt(h) z, with the velocity u and the
 * score s = -ε̂ / sigma_t both from the model's one evaluation.
 */
export function flowSde(options: FlowSdeOptions = {}): Sampler {
  const d = options.diffusion ?? ((t: number) => t);
  const g = typeof d === 'number' ? () => d : d;
  const name = 'flow-sde';
  return {
    name,
    stochastic: true,
    async kernel(input) {
      checkStep(name, input);
      const h = input.t - input.s;
      const gt = g(input.t);
      if (!(gt >= 0) || !Number.isFinite(gt)) throw new RangeError(`${who(name, input)}: the diffusion coefficient g(${input.t}) must be a nonnegative finite number, got ${gt}`);
      const { velocity, score, x0 } = await predictions(name, input, ['velocity', 'score', 'x0']);
      const mean = tf.tidy(() => tf.add(input.x, tf.mul(tf.sub(tf.mul(score, 0.5 * gt * gt), velocity), h)));
      tf.dispose([velocity, score]);
      return { mean, std: gt * Math.sqrt(h), x0, evaluations: 1 };
    },
  };
}

/** log N(x; mean, std^2 I) per particle `[N]` (summed over the event axes); std must be positive. */
export function transitionLogDensity(x: tf.Tensor, mean: tf.Tensor, std: number): tf.Tensor {
  if (!(std > 0)) throw new RangeError(`transitionLogDensity: std must be positive (a deterministic step has no density), got ${std}`);
  if (x.shape.join() !== mean.shape.join()) throw new Error(`transitionLogDensity: x [${x.shape.join(', ')}] and mean [${mean.shape.join(', ')}] differ in shape`);
  const n = x.shape[0]!;
  const dim = x.size / n;
  return tf.tidy(() => {
    const z = tf.reshape(tf.div(tf.sub(x, mean), std), [n, dim]);
    return tf.sub(tf.mul(tf.sum(tf.square(z), 1), -0.5), dim * (Math.log(std) + 0.5 * LOG_2PI));
  });
}

/** Standard normal noise shaped like `x`, drawn from a seeded stream. */
export function gaussianNoise(shape: readonly number[], rng: Rng): tf.Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(Float32Array.from(rng.normals(size)), [...shape]);
}

/**
 * Take one step: the kernel, then x_s = mean + std z with z from `noise`
 * (given, e.g. by a noise search; not consumed) or drawn from `rng`.
 */
export async function samplerStep(sampler: Sampler, input: StepInput, rng: Rng, noise?: tf.Tensor): Promise<StepOutput> {
  const k = await sampler.kernel(input);
  if (k.std === 0) return { x: tf.clone(k.mean), x0: k.x0, mean: k.mean, std: 0, logProb: null, evaluations: k.evaluations };
  if (noise !== undefined && noise.shape.join() !== k.mean.shape.join()) {
    tf.dispose([k.mean, k.x0]);
    throw new Error(`${who(sampler.name, input)}: noise of shape [${noise.shape.join(', ')}] given for particles of shape [${k.mean.shape.join(', ')}]`);
  }
  const z = noise ?? gaussianNoise(k.mean.shape, rng);
  const x = tf.tidy(() => tf.add(k.mean, tf.mul(z, k.std)));
  if (noise === undefined) z.dispose();
  return { x, x0: k.x0, mean: k.mean, std: k.std, logProb: transitionLogDensity(x, k.mean, k.std), evaluations: k.evaluations };
}

/** What {@link sampleDiffusion}'s `onStep` sees (tensors are freed after the callback returns). */
export interface DiffusionStepInfo {
  readonly step: number;
  readonly t: number;
  readonly s: number;
  readonly x: tf.Tensor;
  readonly x0: tf.Tensor;
  readonly logProb: tf.Tensor | null;
}

/** Options of {@link sampleDiffusion}. */
export interface DiffusionSampleOptions {
  /** The sampler (default DDPM). */
  readonly sampler?: Sampler;
  /** Number of steps on an even grid from tMax to tMin (default 100). */
  readonly steps?: number;
  /** Explicit decreasing times (overrides `steps`). */
  readonly times?: readonly number[];
  /** Number of particles when `x` is not given. */
  readonly particles?: number;
  /** Initial particles at times[0] (not consumed); default: N(0, (alpha^2 + sigma^2) I) at tMax. */
  readonly x?: tf.Tensor;
  /** Conditioning for the model. */
  readonly cond?: tf.Tensor;
  /** Seed of the noise stream (ignored when `rng` is given). */
  readonly seed?: Seed;
  readonly rng?: Rng;
  /** Stops sampling before the next step; the reason is thrown. */
  readonly signal?: AbortSignal;
  /** Called after each step. */
  readonly onStep?: (info: DiffusionStepInfo) => void | Promise<void>;
  /** Keep a copy of the particles (as numbers) at these step indices (0 = initial, steps = final). */
  readonly keep?: readonly number[];
  /** Check network outputs are finite (default true). */
  readonly checkFinite?: boolean;
}

/** The result of {@link sampleDiffusion}. */
export interface DiffusionSampleResult {
  /** Final particles (the caller owns them). */
  readonly x: tf.Tensor;
  /** The times visited. */
  readonly times: readonly number[];
  /** Sum over steps of each particle's transition log-density (zeros for deterministic samplers). */
  readonly logProb: Float64Array;
  /** Network evaluations per particle. */
  readonly evaluations: number;
  /** Kept snapshots. */
  readonly trajectory: { step: number; t: number; x: Float32Array; shape: number[] }[];
}

/** The option names sampleDiffusion accepts (checked against its options type by the compiler). */
const SAMPLE_DIFFUSION_OPTIONS = optionNames<DiffusionSampleOptions>({ sampler: true, steps: true, times: true, particles: true, x: true, cond: true, seed: true, rng: true, signal: true, onStep: true, keep: true, checkFinite: true });

/** Run a sampler from noise to data. */
export async function sampleDiffusion(model: DiffusionModel, options: DiffusionSampleOptions = {}): Promise<DiffusionSampleResult> {
  checkSteerOptions('sampleDiffusion', options, SAMPLE_DIFFUSION_OPTIONS, DIFFUSION_SAMPLER_RULES);
  checkIntegerOptions('sampleDiffusion', options, { particles: 1, steps: 1 });
  const sampler = options.sampler ?? ddpm();
  // yields to the event loop every few ms (a step on the cpu backend never does) and rejects with the signal's reason
  const pace = new Pacer(options.signal);
  const times = options.times ? [...options.times] : timeGrid(model.schedule, options.steps ?? 100);
  const rng = options.rng ?? rngFrom(options.seed ?? 0);
  const sch = model.schedule;
  const caller = `sample(${sampler.name})`;
  for (const t of times) checkTime(sch, t, `${caller}, model "${model.name}"`);
  let x: tf.Tensor;
  if (options.x) {
    checkState(model, options.x, `${caller}, model "${model.name}"`);
    x = tf.clone(options.x);
  } else {
    const n = options.particles ?? 1;
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`${caller}: particles must be a positive integer, got ${n}`);
    const scale = Math.sqrt(sch.alpha(times[0]!) ** 2 + sch.sigma(times[0]!) ** 2);
    x = tf.tidy(() => tf.mul(gaussianNoise([n, ...model.eventShape], rng), scale));
  }
  const keep = new Set(options.keep ?? []);
  const trajectory: DiffusionSampleResult['trajectory'] = [];
  const snap = async (step: number) => {
    if (keep.has(step)) trajectory.push({ step, t: times[step]!, x: Float32Array.from(await x.data()), shape: x.shape });
  };
  const logProb = new Float64Array(x.shape[0]!);
  let evaluations = 0;
  try {
    await snap(0);
    for (let i = 0; i + 1 < times.length; i++) {
      await pace.tick();
      const out = await samplerStep(sampler, { model, x, t: times[i]!, s: times[i + 1]!, cond: options.cond, step: i, checkFinite: options.checkFinite }, rng);
      evaluations += out.evaluations;
      try {
        if (out.logProb) {
          const lp = await out.logProb.data();
          for (let j = 0; j < lp.length; j++) logProb[j]! += lp[j]!;
        }
        x.dispose();
        x = out.x;
        if (options.onStep) await options.onStep({ step: i, t: times[i]!, s: times[i + 1]!, x: out.x, x0: out.x0, logProb: out.logProb });
      } finally {
        tf.dispose([out.x0, out.mean, ...(out.logProb ? [out.logProb] : [])]);
      }
      await snap(i + 1);
    }
  } catch (err) {
    x.dispose();
    throw err;
  }
  return { x, times, logProb, evaluations, trajectory };
}
