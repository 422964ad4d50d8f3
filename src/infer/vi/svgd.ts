/**
 * Stein variational gradient descent (Liu & Wang 2016) and its
 * learning-rate-free variant by coin betting (Sharrock & Nemeth 2023), on a
 * model's unconstrained latent vector.
 *
 * n particles move along
 * phi(x_i) = 1/n sum_j [k(x_j, x_i) grad log p(x_j) + grad_{x_j} k(x_j, x_i)]
 * with the RBF kernel k(x, y) = exp(-|x - y|^2 / h) and the median heuristic
 * h = med^2 / log(n + 1). The first term pulls particles to high density, the
 * second pushes them apart. Steps use AdaGrad with momentum (as in the
 * original code) or, with `optimizer: 'coin'`, coin betting, which needs no
 * learning rate. Gradients come from the same batched log density as NUTS
 * (one model run for all particles where the model allows).
 *
 * On a subsampled plate every step takes one fresh subsample from the seed's
 * stream, shared by all particles, and AdaGrad's step decays over the second
 * half of the steps ({@link robbinsMonro}); the draws are completed, and the
 * posterior predicts, on the full data (`infer/subsample.ts`).
 *
 * ```ts
 * const post = await infer(m, { method: 'svgd', particles: 100, steps: 500, seed: 1 }, data);
 * ```
 *
 * @module
 */
import { Pacer, pacedAnswers } from '../pace.js';
import { NonFiniteDensityError, TycheError, ZeroDensityError } from '../../core/errors.js';
import * as tf from '@tensorflow/tfjs-core';
import { execute, type Model } from '../../core/model.js';
import { rngFrom } from '../../core/rng.js';
import { batchedLogDensityFn, layoutOnly, logDensityFn, unconstrain, type Layout } from '../mcmc/potential.js';
import { completeDraws } from '../mcmc/complete-draws.js';
import { batchTarget, type BatchedLogDensityTarget } from '../mcmc/target.js';
import { type Draw, Posterior } from '../posterior.js';
import { type CommonOptions, registerEngine } from '../registry.js';
import { constrainDraws } from './autoguide.js';
import { unstackDraws } from './guide.js';
import { UserGradWatch } from './user-grad-watch.js';
import { lossTrend } from './convergence.js';
import { describeUserGradFailure } from '../../backend/jit/gradient-check.js';
import { SharedSubsamples, fullData } from '../subsample.js';
import { kthSmallestPasses } from '../../math/select.js';
import { steinFailures, steinRatios, type SteinRatio } from '../../diagnostics/stein.js';


/**
 * The RBF bandwidth by the median heuristic for n points of dimension d
 * (row-major), at least 1e-8. The median of the n(n-1)/2 squared distances
 * is selected, not sorted for (2000 particles: 2 s a step with a sort).
 */
export function medianBandwidth(x: Float64Array, n: number, d: number): number {
  const dists = new Float64Array((n * (n - 1)) / 2);
  pairDistanceRows(x, n, d, dists, 0, n);
  const passes = bandwidthFromDistances(dists, n);
  for (;;) {
    const pass = passes.next();
    if (pass.done) return pass.value;
  }
}

/** {@link medianBandwidth} a block of rows at a time, pacing between blocks (O(n^2 d): tens of ms at a thousand particles). */
async function medianBandwidthPaced(x: Float64Array, n: number, d: number, pace: Pacer): Promise<number> {
  const dists = new Float64Array((n * (n - 1)) / 2);
  const block = Math.max(1, Math.floor(2 ** 18 / (n * d)));
  for (let i = 0; i < n; i += block) {
    if (pace.due()) await pace.pause();
    pairDistanceRows(x, n, d, dists, i, Math.min(n, i + block));
  }
  // the selection of the median is paced too: at 1500 particles it reads 1.1M distances (~15 ms alone here, a
  // sixth of a step, held without a yield before; abort2-session9's yield test)
  const passes = bandwidthFromDistances(dists, n);
  for (;;) {
    if (pace.due()) await pace.pause();
    const pass = passes.next();
    if (pass.done) return pass.value;
  }
}

/** Squared distances of pairs (i, j > i) for rows i in [from, to), at their place in the row-major upper triangle. */
function pairDistanceRows(x: Float64Array, n: number, d: number, dists: Float64Array, from: number, to: number): void {
  let p = from * n - (from * (from + 1)) / 2; // pairs of the rows before `from`
  for (let i = from; i < to; i++) {
    for (let j = i + 1; j < n; j++) {
      let s = 0;
      for (let k = 0; k < d; k++) s += (x[i * d + k]! - x[j * d + k]!) ** 2;
      dists[p++] = s;
    }
  }
}

/**
 * The median heuristic from all pair distances (`dists` is reordered), as a
 * generator that yields between passes over the distances (so the caller can
 * pace them) and returns the bandwidth.
 */
function* bandwidthFromDistances(dists: Float64Array, n: number): Generator<void, number, void> {
  const count = dists.length;
  if (count === 0) return 1;
  const m = count >> 1;
  let med2: number;
  if (count % 2) med2 = yield* kthSmallestPasses(dists, m);
  else {
    const below = yield* kthSmallestPasses(dists, m - 1);
    yield; // the scan below reads the upper half once more
    let next = Infinity; // the m-th smallest: the least of what lies above index m - 1
    for (let i = m; i < count; i++) if (dists[i]! < next) next = dists[i]!;
    med2 = (below + next) / 2;
  }
  return Math.max(med2 / Math.log(n + 1), 1e-8);
}

/**
 * The Stein direction phi at every particle (row-major n x d) from the
 * particles `x` and their log-density gradients `grad`, with bandwidth `h`.
 */
export function steinDirection(x: Float64Array, grad: Float64Array, n: number, d: number, h: number): Float64Array {
  const phi = new Float64Array(n * d);
  steinRows(x, grad, n, d, h, phi, 0, n);
  return phi;
}

/** Rows `from` to `to` of {@link steinDirection}, written into `phi` (each row needs all n particles: O(n d) a row). */
function steinRows(x: Float64Array, grad: Float64Array, n: number, d: number, h: number, phi: Float64Array, from: number, to: number): void {
  for (let i = from; i < to; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < d; k++) s += (x[j * d + k]! - x[i * d + k]!) ** 2;
      const kij = Math.exp(-s / h);
      for (let k = 0; k < d; k++) phi[i * d + k]! += kij * (grad[j * d + k]! + (2 / h) * (x[i * d + k]! - x[j * d + k]!));
    }
    for (let k = 0; k < d; k++) phi[i * d + k]! /= n;
  }
}

/** {@link steinDirection} a block of rows at a time (about 2^18 pair terms), pacing between blocks: O(n^2 d) a step is seconds at thousands of particles. */
async function steinDirectionPaced(x: Float64Array, grad: Float64Array, n: number, d: number, h: number, pace: Pacer): Promise<Float64Array> {
  const phi = new Float64Array(n * d);
  const block = Math.max(1, Math.floor(2 ** 18 / (n * d)));
  for (let i = 0; i < n; i += block) {
    if (pace.due()) await pace.pause();
    steinRows(x, grad, n, d, h, phi, i, Math.min(n, i + block));
  }
  return phi;
}

/** A particle update rule: moves `x` in place along `phi`. */
export interface ParticleStepper {
  /** One step; `decay` (default 1) multiplies the learning rate where the stepper has one. */
  step(x: Float64Array, phi: Float64Array, decay?: number): void;
}

/** AdaGrad with momentum on the squared direction (the original SVGD code's optimiser). */
export function adagradStepper(lr: number, alpha = 0.9, fudge = 1e-6): ParticleStepper {
  let hist: Float64Array | undefined;
  return {
    step(x, phi, decay = 1) {
      if (!hist) hist = Float64Array.from(phi, (p) => p * p);
      else for (let i = 0; i < phi.length; i++) hist[i] = alpha * hist[i]! + (1 - alpha) * phi[i]! ** 2;
      const rate = lr * decay;
      for (let i = 0; i < x.length; i++) x[i]! += (rate * phi[i]!) / (fudge + Math.sqrt(hist[i]!));
    },
  };
}

/**
 * Coin betting per coordinate (Orabona & Tommasi's COCOB, as used by
 * Sharrock & Nemeth's coin sampling): no learning rate. Each coordinate bets
 * a fraction of its accumulated "reward" on the sign of the running sum of
 * directions, scaled by the largest direction seen so far.
 */
export function coinStepper(): ParticleStepper {
  let x0: Float64Array | undefined;
  let sum: Float64Array;
  let absSum: Float64Array;
  let lip: Float64Array;
  let reward: Float64Array;
  return {
    step(x, phi) {
      if (!x0) {
        x0 = Float64Array.from(x);
        sum = new Float64Array(x.length);
        absSum = new Float64Array(x.length);
        lip = new Float64Array(x.length).fill(1e-8);
        reward = new Float64Array(x.length);
      }
      for (let i = 0; i < x.length; i++) {
        const g = phi[i]!;
        lip[i] = Math.max(lip[i]!, Math.abs(g));
        sum[i]! += g;
        absSum[i]! += Math.abs(g);
        reward[i] = Math.max(reward[i]! + (x[i]! - x0[i]!) * g, 0);
        x[i] = x0[i]! + (sum[i]! / (lip[i]! * (absSum[i]! + lip[i]!))) * (lip[i]! + reward[i]!);
      }
    },
  };
}

/** Options of `infer(model, { method: 'svgd', ... })`. */
export interface SVGDOptions extends CommonOptions {
  readonly method: 'svgd';
  /** Number of particles (default 100). */
  readonly particles?: number;
  /** Steps (default 500). */
  readonly steps?: number;
  /** `'adagrad'` (default, with `lr`) or `'coin'` (learning-rate free). */
  readonly optimizer?: 'adagrad' | 'coin';
  /**
   * AdaGrad step size (default 0.05). The normalised step does not shrink as
   * the particles settle, so it also sets their final jitter: lower it for
   * precise moments, or use `'coin'`. On a subsampled plate it decays over the
   * second half of the steps (`robbinsMonro`), so the subsample's gradient
   * noise averages out.
   */
  readonly lr?: number;
  /** Kernel bandwidth h, or `'median'` (default: the median heuristic, recomputed each step). */
  readonly bandwidth?: number | 'median';
  /** Initial particles: `'uniform'` in [-2, 2] unconstrained (default) or `'prior'` draws. */
  readonly init?: 'uniform' | 'prior';
  /** Evaluate all particles with one batched model run: true, false, or `'auto'` (default). */
  readonly vectorize?: boolean | 'auto';
  /**
   * Allow a user `tf.customGrad` op whose gradient is not its value's
   * derivative (checked at the first evaluation, as VI does): the particles
   * move along the gradient they are given, so by default (`false`) such an
   * op is an error naming it; `true` runs anyway and the posterior warns.
   */
  readonly surrogateGradients?: boolean;
  /** Called after each step. */
  readonly onStep?: (p: { step: number; steps: number; meanLogDensity: number }) => void;
  /** Stops the run: the promise rejects with the signal's reason. */
  readonly signal?: AbortSignal;
}

async function initialParticles<A extends unknown[], R>(m: Model<A, R>, args: A, layout: Layout, n: number, init: 'uniform' | 'prior', seed: string | number, pace: Pacer): Promise<Float64Array> {
  const rng = rngFrom(`${seed}/init`);
  const x = new Float64Array(n * layout.dim);
  for (let i = 0; i < n; i++) {
    if (init === 'prior') {
      if (pace.due()) await pace.pause(); // one model run per particle: no run starts after an abort
      const { trace } = await execute(m, { rng: rng.split() }, ...args);
      x.set(unconstrain(layout, trace), i * layout.dim);
    } else for (let k = 0; k < layout.dim; k++) x[i * layout.dim + k] = 4 * rng.uniform() - 2;
  }
  return x;
}

/**
 * The particles' log densities and gradients: one batched model run, else
 * one run per particle, paced (`pacedAnswers`), so a step of n runs yields to
 * the event loop between them and no run starts after an abort.
 */
async function particleTarget<A extends unknown[], R>(m: Model<A, R>, args: A, layout: Layout, n: number, x: Float64Array, vectorize: boolean | 'auto', pace: Pacer): Promise<{ target: BatchedLogDensityTarget; vectorized: true | string }> {
  const perParticle = (): BatchedLogDensityTarget => batchTarget(pacedAnswers(logDensityFn(m, args, layout), pace), layout.dim);
  if (vectorize !== false) {
    const batched = batchedLogDensityFn(m, args, layout, n);
    try {
      await batched(x);
      return { target: batched, vectorized: true };
    } catch (err) {
      if (vectorize === true) throw err;
      return { target: perParticle(), vectorized: `runs the model once per particle: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}` };
    }
  }
  return { target: perParticle(), vectorized: 'not requested' };
}

/** Run SVGD and return the particles as equally weighted draws. */
export async function svgd<A extends unknown[], R>(m: Model<A, R>, options: Omit<SVGDOptions, 'method'>, args: A): Promise<Posterior<A, R>> {
  const n = options.particles ?? 100;
  const steps = options.steps ?? 500;
  if (!Number.isInteger(n) || n < 2) throw new RangeError(`svgd: particles must be an integer >= 2, got ${n}`);
  if (!Number.isInteger(steps) || steps < 0) throw new RangeError(`svgd: steps must be a nonnegative integer, got ${steps}`);
  const bw = options.bandwidth ?? 'median';
  if (bw !== 'median' && !(bw > 0)) throw new RangeError(`svgd: bandwidth must be a positive number or 'median', got ${bw}`);
  const seed = options.seed ?? 0;
  // a subsampled plate takes a fresh subsample at every step, drawn from the seed's stream, the same for every particle (subsample.ts)
  const given = m;
  const subsamples = new SharedSubsamples(rngFrom(`${seed}/subsample`));
  m = given.withSubsampling(subsamples.hook);
  const layout = await layoutOnly(m, args, rngFrom(`${seed}/probe`));
  const subsampled = layout.subsampled;
  if (layout.dim === 0) throw new TycheError('svgd: the model has no latent sites');
  const d = layout.dim;
  const pace = new Pacer(options.signal);
  const x = await initialParticles(m, args, layout, n, options.init ?? 'uniform', seed, pace);
  // the user tf.customGrad ops of the first evaluation are checked after it (user-grad-watch.ts)
  let userGrads: UserGradWatch | undefined = new UserGradWatch();
  let surrogates: string[] = [];
  const settle = (): void => {
    if (!userGrads) return;
    surrogates = userGrads.failures().map(describeUserGradFailure);
    userGrads = undefined;
    if (surrogates.length > 0 && options.surrogateGradients !== true) {
      throw new TycheError(`svgd: ${surrogates[0]}; the particles move along the gradient they are given, so they would be silently biased. Fix gradFunc, or pass surrogateGradients: true to run with it anyway (the posterior then warns)`);
    }
  };
  let probe: Awaited<ReturnType<typeof particleTarget>>;
  try {
    probe = await particleTarget(m, args, layout, n, x, options.vectorize ?? 'auto', pace);
  } catch (err) {
    userGrads.close();
    throw err;
  }
  const { target, vectorized } = probe;
  const stepper = options.optimizer === 'coin' ? coinStepper() : adagradStepper(options.lr ?? 0.05);
  if (options.optimizer !== undefined && options.optimizer !== 'coin' && options.optimizer !== 'adagrad') throw new Error(`svgd: unknown optimizer "${String(options.optimizer)}"; use 'adagrad' or 'coin'`);
  const history = new Float64Array(steps);
  for (let t = 0; t < steps; t++) {
    if (pace.due()) await pace.pause();
    let answer: Awaited<ReturnType<typeof target>>;
    subsamples.next();
    try {
      answer = await target(x);
    } finally {
      userGrads?.close();
    }
    settle();
    const { logp, grad } = answer;
    let mean = 0;
    for (let i = 0; i < n; i++) mean += logp[i]! / n;
    history[t] = mean;
    if (!Number.isFinite(mean)) {
      const message = `svgd: a particle's log density is ${mean} at step ${t}; try a smaller lr or another init`;
      throw t === 0 && mean === -Infinity ? new ZeroDensityError(message) : t === 0 ? new NonFiniteDensityError(message) : new TycheError(message);
    }
    const h = bw === 'median' ? await medianBandwidthPaced(x, n, d, pace) : bw;
    stepper.step(x, await steinDirectionPaced(x, grad, n, d, h, pace), subsampled ? robbinsMonro(t, steps) : 1);
    options.onStep?.({ step: t + 1, steps, meanLogDensity: mean });
  }
  const stacked = tf.tidy(() => ({ ...constrainDraws(layout, tf.tensor2d(Float32Array.from(x), [n, d]), tf.zeros([n]), false).stacked })) as Record<string, tf.Tensor>;
  // sites whose support depends on other values are constrained by running the model (completeDraws)
  const fixed = new Set(layout.sites.filter((s) => !s.dependentSupport).map((s) => s.address));
  const particles: Draw<R>[] = unstackDraws(Object.fromEntries(Object.entries(stacked).filter(([a]) => fixed.has(a))), n).map((values) => ({ values, returnValue: undefined as R, logWeight: 0 }));
  tf.dispose(Object.values(stacked));
  // the draws' deterministic sites and return values, and the posterior's predictive runs, on the full data
  const full = subsampled ? fullData(given) : given;
  const draws = await completeDraws(full, args, layout, (i) => x.subarray(i * d, (i + 1) * d), particles, { batched: vectorized === true, ...(options.signal ? { signal: options.signal } : {}) });
  settle(); // steps: 0
  const warnings = surrogates.map((w) => `${w}: the particles followed this surrogate gradient (surrogateGradients: true), so they are biased towards where that gradient leads`);
  // particles still climbing when the steps ended have not converged (VI's loss trend, on minus the mean log density)
  const trend = lossTrend(Float64Array.from(history, (v) => -v));
  if (trend?.stillImproving) {
    const w = `svgd: the particles' mean log density was still rising when the ${steps} steps ended (by ${trend.decrease.toPrecision(3)} ± ${trend.stderr.toPrecision(2)} nats between the last two windows of ${trend.window} steps): they have not converged, so their mean and spread are not the posterior's; run more steps or raise lr`;
    console.warn(w);
    warnings.push(w);
  }
  if (subsampled && options.optimizer === 'coin') {
    const w = `svgd: plate "${subsampled.plate}" takes a subsample (${subsampled.subsample} of ${subsampled.size}) and optimizer 'coin' has no step size to decay, so the particles end where the last subsamples' noisy gradients pushed them (off by up to about a posterior sd); use optimizer 'adagrad' (the default), whose step size decays on subsampled plates, or the full plate`;
    console.warn(w);
    warnings.push(w);
  }
  // the particles against the Stein identity at their final positions (one more evaluation; a subsample's scaled
  // gradient is too noisy for it, so a subsampled run is not checked)
  const stein = steps > 0 && !subsampled ? steinRatios(x, (await target(x)).grad, n, d) : undefined;
  const steinWarning = stein ? steinReport(stein, layout.names, n) : undefined;
  if (steinWarning) {
    console.warn(steinWarning);
    warnings.push(steinWarning);
  }
  const diagnostics = { meanLogDensity: history, vectorized, names: layout.names, ...(stein ? { steinRatios: Float64Array.from(stein, (r) => r.ratio) } : {}), ...(subsampled ? { subsampled } : {}) };
  return new Posterior({ method: 'svgd', draws, model: full, args, diagnostics, ...(warnings.length > 0 ? { warnings } : {}) });
}

registerEngine<SVGDOptions>({
  name: 'svgd',
  options: ['particles', 'steps', 'optimizer', 'lr', 'bandwidth', 'init', 'vectorize', 'surrogateGradients', 'onStep', 'signal'],
  description: 'Stein variational gradient descent (RBF kernel, median bandwidth), with AdaGrad or learning-rate-free coin betting',
  run: (m, options, args) => svgd(m, options, args),
});

/**
 * The learning-rate factor at step `t` of `steps` on subsampled plates: 1 for
 * the first half (the particles travel), then (1 + k)^-0.6 for the k-th step
 * of the second half, a Robbins–Monro schedule (the factors sum to infinity,
 * their squares do not), so the subsample's gradient noise averages out
 * instead of leaving the particles where the last few subsamples pushed them.
 */
export function robbinsMonro(t: number, steps: number): number {
  const k = t - Math.floor(steps / 2);
  return k < 0 ? 1 : (1 + k) ** -0.6;
}

/**
 * The warning for particles that fail the coordinate-wise Stein identity
 * (`diagnostics/stein.ts`), or undefined when they pass: SVGD's particles in
 * many dimensions for their number collapse towards the mode, with no sign in
 * their log densities.
 */
function steinReport(ratios: readonly SteinRatio[], names: readonly string[], n: number): string | undefined {
  const failed = steinFailures(ratios);
  if (failed.length === 0) return undefined;
  const shown = failed.slice(0, 3).map((r) => `${names[r.index] ?? `coordinate ${r.index}`} ${r.ratio.toFixed(2)} ± ${r.se.toFixed(2)}`).join(', ');
  const narrow = failed.filter((r) => r.ratio < 1).length;
  const d = ratios.length;
  return (
    `svgd: the particles fail the Stein identity E[(x - mean) * d/dx log p] = -1 on ${failed.length} of ${d} unconstrained coordinate${d === 1 ? '' : 's'} ` +
    `(ratio -E[...], 1 for posterior draws; for a Gaussian posterior the particles' variance over the posterior's: ${shown}${failed.length > 3 ? ', ...' : ''}): ` +
    (narrow > 0
      ? `the particles are narrower than the posterior${narrow < failed.length ? ' on some coordinates and wider on others' : ''} (SVGD's variance collapse: ${n} particles in ${d} dimensions), so their sds and intervals are too small; use more particles, nuts, or vi with an 'mvn' guide`
      : "the particles are wider than the posterior (not converged, or a step size too large keeps them jittering: AdaGrad's lr sets their final spread), so their sds and intervals are too large; lower lr, or run more steps")
  );
}
