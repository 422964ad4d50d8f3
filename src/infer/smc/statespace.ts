/**
 * Particle filters and smoothers for state-space models written as steps on
 * batched tensors.
 *
 * A {@link StateSpaceModel} gives the initial distribution, the transition and
 * the observation log-density, each acting on all particles at once (tensors
 * with a leading particle axis `[N, ...event]`). The filters are thin layers
 * over the particle core ({@link runSMC}):
 *
 * - bootstrap filter: move with the transition, weight by the observation;
 * - guided filter: move with a user {@link Proposal} q(x_t | x_{t-1}, y_t),
 *   weight by `g_t(x_t) f(x_t | x_{t-1}) / q(x_t | x_{t-1})` (needs the
 *   transition log-density);
 *
 * and two smoothers work on a filter's recorded particles:
 *
 * - {@link genealogySmoother}: trace the surviving particles' ancestry back
 *   (cheap; degenerates for early times);
 * - {@link ffbsi}: forward-filtering backward-simulation, O(M N T), needs the
 *   transition log-density.
 *
 * Time runs t = 0 .. length-1; x_0 is drawn from `initial` and observation
 * t is weighed against x_t.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { type Rng, rngFrom } from '../../core/rng.js';
import { type FeynmanKac, type SMCOptions, type SMCResult, runSMCForEntry } from './core.js';
import { type LagState, windowMoments, withFixedLag } from './fixedlag.js';
import { traceLineages } from './genealogy.js';
import { multinomial, sampleLogCategorical } from './resampling.js';
import { batchedStore } from './store.js';

/** A state-space model on batched tensors (leading particle axis). */
export interface StateSpaceModel {
  /** Number of time steps (observations). */
  readonly length: number;
  /** `n` draws of x_0: a tensor `[n, ...event]`. */
  initial(n: number, rng: Rng): tf.Tensor;
  /** log density of x_0 (`[N]`); needed by guided filters with an initial proposal. */
  initialLogProb?(x: tf.Tensor): tf.Tensor;
  /** Draw x_t given x_{t-1} for every particle (t >= 1). */
  transition(xPrev: tf.Tensor, t: number, rng: Rng): tf.Tensor;
  /** log f(x_t | x_{t-1}) per particle (`[N]`); needed by guided filters and {@link ffbsi}. */
  transitionLogProb?(xNew: tf.Tensor, xPrev: tf.Tensor, t: number): tf.Tensor;
  /** log g_t(y_t | x_t) per particle (`[N]`). */
  logObservation(x: tf.Tensor, t: number): tf.Tensor;
}

/** A proposal for a guided filter. */
export interface Proposal {
  /** Proposal for x_0 (default: the model's initial distribution). */
  readonly initial?: {
    sample(n: number, rng: Rng): tf.Tensor;
    logProb(x: tf.Tensor): tf.Tensor;
  };
  /** Draw x_t given x_{t-1} (t >= 1), typically using y_t. */
  sample(xPrev: tf.Tensor, t: number, rng: Rng): tf.Tensor;
  /** log q(x_t | x_{t-1}) per particle (`[N]`). */
  logProb(xNew: tf.Tensor, xPrev: tf.Tensor, t: number): tf.Tensor;
}

/** The particle state of a filter. */
export type FilterState = {
  /** Current particles, `[N, ...event]`. */
  readonly x: tf.Tensor;
};

function checkParticles(x: tf.Tensor, n: number, what: string): void {
  if (x.rank === 0 || x.shape[0] !== n) {
    throw new Error(`state-space model: ${what} returned shape [${x.shape.join(', ')}], expected a leading particle axis of ${n}`);
  }
}

function requireFn<T>(f: T | undefined, what: string, why: string): T {
  if (f === undefined) throw new Error(`state-space model: ${why} needs the model's ${what}`);
  return f;
}

/**
 * A change applied to each freshly moved population before it is weighed:
 * gets x_t (`[N, ...event]`, owned by the caller) and returns the population
 * to use (a new tensor, or `x` itself). Conditional SMC uses it to put the
 * reference path in slot 0.
 */
export type PinStates = (x: tf.Tensor, t: number) => tf.Tensor;

/**
 * The Feynman–Kac model of a bootstrap filter (no proposal) or a guided
 * filter (with one). Step 0 weighs x_0; step t >= 1 moves to x_t and weighs it.
 * With `pin`, each moved population passes through it before being weighed.
 */
export function stateSpaceFK(model: StateSpaceModel, proposal?: Proposal, pin?: PinStates): FeynmanKac<FilterState> {
  if (!(Number.isInteger(model.length) && model.length >= 0)) throw new Error(`state-space model: length must be a non-negative integer, got ${model.length}`);
  const guided = proposal !== undefined;
  const transitionLogProb = guided ? requireFn(model.transitionLogProb, 'transitionLogProb', 'a guided filter') : undefined;
  const initialProposal = proposal?.initial;
  const initialLogProb = initialProposal ? requireFn(model.initialLogProb, 'initialLogProb', 'an initial proposal') : undefined;
  return {
    store: batchedStore<FilterState>(),
    init(particles, rng) {
      const x = tf.tidy(() => (initialProposal ? initialProposal.sample(particles, rng) : model.initial(particles, rng)));
      checkParticles(x, particles, initialProposal ? 'proposal.initial.sample' : 'initial');
      if (!pin) return { x };
      const pinned = tf.tidy(() => pin(x, 0));
      if (pinned !== x) x.dispose();
      return { x: pinned };
    },
    step(state, t, rng) {
      return tf.tidy(() => {
        if (t === 0) {
          let lp = model.logObservation(state.x, 0);
          if (initialProposal && initialLogProb) lp = tf.add(lp, tf.sub(initialLogProb(state.x), initialProposal.logProb(state.x)));
          return { state, logPotential: lp };
        }
        const xPrev = state.x;
        const moved = proposal ? proposal.sample(xPrev, t, rng) : model.transition(xPrev, t, rng);
        checkParticles(moved, xPrev.shape[0], proposal ? 'proposal.sample' : 'transition');
        const x = pin ? pin(moved, t) : moved;
        let lp = model.logObservation(x, t);
        if (proposal && transitionLogProb) lp = tf.add(lp, tf.sub(transitionLogProb(x, xPrev, t), proposal.logProb(x, xPrev, t)));
        return { state: { x }, logPotential: lp };
      });
    },
    done(t) {
      return t >= model.length;
    },
  };
}

/** Particles recorded by a filter run with `keepParticles`. */
export interface ParticleHistory {
  /** Number of particles. */
  readonly particles: number;
  /** Shape of one particle's state. */
  readonly eventShape: readonly number[];
  /** Particle values after each step, `particles * size(eventShape)` numbers each (row-major). */
  readonly values: Float32Array[];
  /** Normalised log-weights after each step. */
  readonly logWeights: Float64Array[];
  /** Genealogy (see {@link traceLineages}). */
  readonly ancestors: Int32Array[];
}

/** Options of {@link particleFilter}. */
export interface FilterOptions extends Omit<SMCOptions<FilterState, FilterSnapshot>, 'keepHistory' | 'store' | 'genealogy'> {
  /** A proposal: gives a guided filter (default: bootstrap). */
  readonly proposal?: Proposal;
  /** Record the weighted mean of the particles after each step (default true). */
  readonly filteringMeans?: boolean;
  /** Record every step's particles and weights, for smoothing (default false). */
  readonly keepParticles?: boolean;
  /** Applied to each moved population before it is weighed (see {@link PinStates}; used by conditional SMC). */
  readonly pin?: PinStates;
  /**
   * Fixed-lag smoothing with this lag L: each particle carries its last L + 1
   * states, resampled with it, and the result's `fixedLag` holds
   * E[x_s | y_0..y_{min(s+L, T-1)}] and the variances (see `fixedlag.ts`).
   */
  readonly fixedLag?: number;
}

/** Fixed-lag smoothing estimates (a filter run with `fixedLag`). */
export interface FixedLagEstimate {
  /** The lag L. */
  readonly lag: number;
  /** `means[s]`: estimate of E[x_s | y_0..y_{min(s+L, T-1)}] (one entry per state dimension). */
  readonly means: Float64Array[];
  /** `variances[s]`: the matching variances. */
  readonly variances: Float64Array[];
}

/** What a filter records per step (the particle core's `history`). */
export interface FilterSnapshot {
  /** Weighted particle mean (with `filteringMeans`). */
  readonly mean?: Float64Array;
  /** Copy of the particle values (with `keepParticles`). */
  readonly values?: Float32Array;
  /** Copy of the normalised log-weights (with `keepParticles`). */
  readonly logWeights?: Float64Array;
  /** Shape of one particle's state. */
  readonly eventShape: readonly number[];
  /** Fixed-lag moments of the states that became final at this step (with `fixedLag`). */
  readonly lagged?: { mean: Float64Array; variance: Float64Array }[];
}

/** What {@link particleFilter} returns. */
export interface FilterResult {
  /** Estimate of log p(y_0..y_{T-1}). */
  readonly logZ: number;
  /** Weighted particle mean after each step (one entry per state dimension); empty when disabled. */
  readonly filteringMeans: Float64Array[];
  /** Final particles `[N, ...event]` (owned by the caller; see `dispose`). */
  readonly x: tf.Tensor;
  /** Final normalised log-weights. */
  readonly logWeights: Float64Array;
  /** Final normalised weights. */
  readonly weights: Float64Array;
  /** ESS after each step. */
  readonly essHistory: number[];
  /** Steps before which the particles were resampled. */
  readonly resampledAt: number[];
  /** Recorded particles, with `keepParticles`. */
  readonly history?: ParticleHistory;
  /** Fixed-lag smoothing estimates, with `fixedLag`. */
  readonly fixedLag?: FixedLagEstimate;
  /** The underlying particle-core result. */
  readonly smc: SMCResult<FilterState, FilterSnapshot>;
  /** Free the final particles. */
  dispose(): void;
}

function weightedMean(values: ArrayLike<number>, w: Float64Array, d: number): Float64Array {
  const out = new Float64Array(d);
  if (d === 1) {
    let s = 0;
    for (let i = 0; i < w.length; i++) s += w[i] * values[i];
    out[0] = s;
    return out;
  }
  for (let i = 0; i < w.length; i++) {
    const wi = w[i];
    for (let k = 0; k < d; k++) out[k] += wi * values[i * d + k];
  }
  return out;
}

/**
 * Run a bootstrap filter, or a guided filter when `options.proposal` is given.
 *
 * @example
 * ```ts
 * const res = await particleFilter(model, { particles: 1000, seed: 1 });
 * console.log(res.logZ, res.filteringMeans[res.filteringMeans.length - 1][0]);
 * res.dispose();
 * ```
 */
export async function particleFilter(model: StateSpaceModel, options: FilterOptions): Promise<FilterResult> {
  const { proposal, pin, fixedLag: lag, filteringMeans: wantMeans = true, keepParticles = false, ...smcOptions } = options;
  const base = stateSpaceFK(model, proposal, pin);
  const fk: FeynmanKac<FilterState> = lag === undefined ? base : withFixedLag(base, lag);
  const wantSnapshot = wantMeans || keepParticles || lag !== undefined;
  // with a lag, the window slots that hold states becoming final after step t
  const finalSlots = (t: number): number[] => {
    if (lag === undefined) return [];
    const last = t === model.length - 1;
    const slots: number[] = [];
    for (let j = 0; j <= lag; j++) {
      const s = t - lag + j;
      if (s >= 0 && (j === 0 || last)) slots.push(j);
    }
    return slots;
  };
  const smc = await runSMCForEntry<FilterState, FilterSnapshot>(fk, {
    ...smcOptions,
    genealogy: keepParticles,
    keepHistory: wantSnapshot
      ? (info) => {
          const x = info.state.x;
          const eventShape = x.shape.slice(1);
          const values = x.dataSync() as Float32Array;
          const d = values.length / x.shape[0];
          const window = (info.state as Partial<LagState>).window;
          return {
            eventShape,
            mean: wantMeans ? weightedMean(values, info.weights, d) : undefined,
            values: keepParticles ? Float32Array.from(values) : undefined,
            logWeights: keepParticles ? Float64Array.from(info.logWeights) : undefined,
            lagged: window && lag !== undefined ? finalSlots(info.t).map((j) => windowMoments(window, info.weights, lag, j)) : undefined,
          };
        }
      : undefined,
  });
  const snaps = smc.history;
  const history: ParticleHistory | undefined = keepParticles
    ? {
        particles: options.particles,
        eventShape: snaps[0]?.eventShape ?? [],
        values: snaps.map((s) => s.values as Float32Array),
        logWeights: snaps.map((s) => s.logWeights as Float64Array),
        ancestors: smc.ancestors,
      }
    : undefined;
  return {
    logZ: smc.logZ,
    filteringMeans: wantMeans ? snaps.map((s) => s.mean as Float64Array) : [],
    x: smc.state.x,
    logWeights: smc.logWeights,
    weights: smc.weights,
    essHistory: smc.essHistory,
    resampledAt: smc.resampledAt,
    history,
    fixedLag:
      lag === undefined
        ? undefined
        : {
            lag,
            means: snaps.flatMap((s) => (s.lagged ?? []).map((m) => m.mean)),
            variances: snaps.flatMap((s) => (s.lagged ?? []).map((m) => m.variance)),
          },
    smc,
    dispose: () => smc.state.x.dispose(),
  };
}

function historyOf(res: FilterResult, who: string): ParticleHistory {
  if (!res.history) throw new Error(`${who}: the filter did not record its particles; run it with keepParticles: true`);
  return res.history;
}

function sizeOfShape(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Smoothed estimates from a smoother. */
export interface SmootherEstimate {
  /** Estimated E[x_t | y_0..y_{T-1}] for each t. */
  readonly means: Float64Array[];
}

/** What {@link genealogySmoother} returns. */
export interface GenealogySmoothing extends SmootherEstimate {
  /** `lineages[t][i]`: index at step t of the ancestor of final particle i. */
  readonly lineages: Int32Array[];
}

/**
 * Smoothing by genealogy: the final particles' ancestral paths, weighted by
 * the final weights, estimate the joint smoothing distribution. Cheap, but
 * early times are represented by few distinct ancestors (path degeneracy).
 */
export function genealogySmoother(res: FilterResult): GenealogySmoothing {
  const h = historyOf(res, 'genealogySmoother');
  const d = sizeOfShape(h.eventShape);
  const lineages = traceLineages(h.ancestors);
  const W = res.weights;
  const means = lineages.map((idx, t) => {
    const v = h.values[t];
    const m = new Float64Array(d);
    for (let i = 0; i < idx.length; i++) {
      const base = idx[i] * d;
      for (let k = 0; k < d; k++) m[k] += W[i] * v[base + k];
    }
    return m;
  });
  return { means, lineages };
}

/** Options of {@link ffbsi}. */
export interface FFBSiOptions {
  /** Number of smoothed trajectories to draw. */
  readonly trajectories: number;
  /** Seed (ignored when `rng` is given). */
  readonly seed?: number | string;
  /** Random stream. */
  readonly rng?: Rng;
}

/** What {@link ffbsi} returns. */
export interface FFBSiResult extends SmootherEstimate {
  /** `trajectories[t]`: the M trajectories' states at t, `M * size(event)` numbers (row-major). */
  readonly trajectories: Float32Array[];
}

/**
 * Forward-filtering backward-simulation (Godsill, Doucet & West 2004): draw
 * M trajectories from the particle approximation of the joint smoothing
 * distribution. At each t (backwards) trajectory j picks particle i with
 * probability ∝ w_t^i f(x_{t+1}^{(j)} | x_t^i). Cost O(M N T); the transition
 * log-density is evaluated in batches of at most ~2^20 pairs.
 */
export function ffbsi(model: StateSpaceModel, res: FilterResult, options: FFBSiOptions): FFBSiResult {
  const h = historyOf(res, 'ffbsi');
  const logf = requireFn(model.transitionLogProb, 'transitionLogProb', 'ffbsi');
  const M = options.trajectories;
  if (!Number.isInteger(M) || M < 1) throw new Error(`ffbsi: trajectories must be a positive integer, got ${M}`);
  const rng = options.rng ?? rngFrom(options.seed);
  const T = h.values.length;
  const N = h.particles;
  const d = sizeOfShape(h.eventShape);
  const trajectories: Float32Array[] = new Array(T);
  if (T === 0) return { trajectories: [], means: [] };

  const pick = (t: number, idx: Int32Array): Float32Array => {
    const out = new Float32Array(M * d);
    for (let j = 0; j < M; j++) out.set(h.values[t].subarray(idx[j] * d, idx[j] * d + d), j * d);
    return out;
  };
  trajectories[T - 1] = pick(T - 1, multinomial(res.weights, M, rng));

  const chunk = Math.max(1, Math.floor(2 ** 20 / N));
  const logits = new Float64Array(N);
  for (let t = T - 2; t >= 0; t--) {
    const idx = new Int32Array(M);
    const cur = h.values[t];
    const next = trajectories[t + 1];
    for (let j0 = 0; j0 < M; j0 += chunk) {
      const rows = Math.min(chunk, M - j0);
      const prev = new Float32Array(rows * N * d);
      const nxt = new Float32Array(rows * N * d);
      for (let r = 0; r < rows; r++) {
        prev.set(cur, r * N * d);
        const src = next.subarray((j0 + r) * d, (j0 + r) * d + d);
        for (let i = 0; i < N; i++) nxt.set(src, (r * N + i) * d);
      }
      const shape = [rows * N, ...h.eventShape];
      // (returning the typed array from tf.tidy would make tidy walk every element)
      const ldTensor = tf.tidy(() => logf(tf.tensor(nxt, shape), tf.tensor(prev, shape), t + 1));
      const ld = ldTensor.dataSync();
      ldTensor.dispose();
      if (ld.length !== rows * N) throw new Error(`ffbsi: transitionLogProb returned ${ld.length} values, expected ${rows * N}`);
      const lw = h.logWeights[t];
      for (let r = 0; r < rows; r++) {
        for (let i = 0; i < N; i++) logits[i] = lw[i] + ld[r * N + i];
        idx[j0 + r] = sampleLogCategorical(logits, rng, 'ffbsi: a backward step');
      }
    }
    trajectories[t] = pick(t, idx);
  }
  const means = trajectories.map((v) => weightedMean(v, new Float64Array(M).fill(1 / M), d));
  return { trajectories, means };
}
