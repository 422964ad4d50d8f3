/**
 * Conditional SMC (Andrieu, Doucet & Holenstein 2010) and ancestor sampling
 * (PGAS, Lindsten, Jordan & Schön 2014) for state-space models, on the
 * particle core.
 *
 * Conditional SMC is the ordinary filter with one path held fixed: slot 0
 * carries the reference trajectory (its state is overwritten by the reference
 * after every move, through the filter's `pin` hook) and, at every
 * resampling, the core's {@link AncestorSampler} hook gives slot 0 the
 * ancestor 0 while the other N - 1 ancestors are drawn multinomially from the
 * weights. With ancestor sampling, slot 0's ancestor is instead drawn with
 * probability ∝ w_{t-1}^i f(x*_t | x_{t-1}^i), which lets the reference path
 * break away from its own past and mixes far better for long series.
 *
 * A CSMC sweep returns a new trajectory (one final particle drawn by weight,
 * traced back through the genealogy); the kernel reference -> new trajectory
 * leaves the smoothing distribution invariant, and is the state update of
 * particle Gibbs ({@link particleGibbs} in `particle-gibbs.ts`).
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { Rng, rngFrom, type Seed } from '../../core/rng.js';
import { sizeOf } from '../../core/value.js';
import type { AncestorContext, AncestorSampler } from './core.js';
import { traceLineages } from './genealogy.js';
import { multinomial, sampleLogCategorical } from './resampling.js';
import { type FilterOptions, type FilterResult, type FilterState, type Proposal, type StateSpaceModel, particleFilter } from './statespace.js';

/**
 * A trajectory x_0..x_{T-1}: one entry per time, each the state's values in
 * row-major order (a number is accepted for a scalar state).
 */
export type TrajectoryLike = ReadonlyArray<number | ArrayLike<number>>;

/** A trajectory as CSMC returns it: `T` rows of `size(event)` values. */
export type Trajectory = Float32Array[];

/** Normalise a trajectory and check it against the model's length and event size. */
export function toTrajectory(x: TrajectoryLike, length: number, eventSize: number, who: string): Trajectory {
  if (x.length !== length) throw new Error(`${who}: the reference trajectory has ${x.length} states, the model has length ${length}`);
  return x.map((row, t) => {
    const r = typeof row === 'number' ? Float32Array.of(row) : Float32Array.from(row);
    if (r.length !== eventSize) throw new Error(`${who}: reference state ${t} has ${r.length} values, expected ${eventSize}`);
    for (let k = 0; k < r.length; k++) if (!Number.isFinite(r[k])) throw new Error(`${who}: reference state ${t} holds ${r[k]}`);
    return r;
  });
}

/** The shape of one state of a model (found by drawing one initial particle from a fixed stream). */
export function eventShapeOf(model: StateSpaceModel): number[] {
  const probe = tf.tidy(() => model.initial(1, new Rng('event-shape-probe')));
  const shape = probe.shape.slice(1);
  probe.dispose();
  return shape;
}

/**
 * The conditional resampling of CSMC as an {@link AncestorSampler}: offspring
 * 1..N-1 get multinomial ancestors drawn from the weights; offspring 0 (the
 * reference) keeps ancestor 0, or, when `ancestorLogWeights` is given, gets an
 * ancestor drawn with probability ∝ exp(ancestorLogWeights(ctx)[i]) (the
 * ancestor-sampling weights `log w_{t-1}^i + log f(x*_t | x_{t-1}^i)`).
 * Multinomial draws for the others are what the CSMC invariance argument
 * assumes, so the run's `resampling` scheme is not used.
 */
export function conditionalAncestors<S>(ancestorLogWeights?: (ctx: AncestorContext<S>) => Float64Array): AncestorSampler<S> {
  return (ctx) => {
    const n = ctx.particles;
    const out = new Int32Array(n);
    if (n > 1) out.set(multinomial(ctx.weights, n - 1, ctx.rng), 1);
    out[0] = ancestorLogWeights ? sampleLogCategorical(Float64Array.from(ancestorLogWeights(ctx)), ctx.rng, `conditional SMC ancestor sampling at step ${ctx.t}`) : 0;
    return out;
  };
}

/** Options of {@link conditionalSMC}. */
export interface CSMCOptions extends Omit<FilterOptions, 'pin' | 'keepParticles' | 'ancestorSampler' | 'resampling' | 'temper'> {
  /** The reference trajectory x*_0..x*_{T-1} (kept in slot 0). */
  readonly reference: TrajectoryLike;
  /** Draw the reference's ancestors (PGAS; needs `transitionLogProb`) (default false). */
  readonly ancestorSampling?: boolean;
}

/** What {@link conditionalSMC} returns. */
export interface CSMCResult {
  /** The new trajectory: a final particle drawn by weight, traced back. */
  readonly trajectory: Trajectory;
  /** The CSMC estimate of log Z (with an exact posterior reference, an upper bound in expectation). */
  readonly logZ: number;
  /** The underlying filter run, with its recorded particles (its final tensor is already freed). */
  readonly filter: FilterResult;
}

/** A row-0 overwrite of x_t with the reference's state at t. */
function pinReference(ref: Trajectory): (x: tf.Tensor, t: number) => tf.Tensor {
  return (x, t) => {
    const vals = Float32Array.from(x.dataSync() as ArrayLike<number>);
    vals.set(ref[t], 0);
    return tf.tensor(vals, x.shape, 'float32');
  };
}

/**
 * One conditional SMC sweep for a state-space model: slot 0 follows
 * `reference`; returns a new trajectory drawn from the particle
 * approximation and the CSMC log Z. Resamples (multinomially, conditionally)
 * whenever the weights are uneven (`essThreshold` 1 by default).
 *
 * @example
 * ```ts
 * let x = initialTrajectory;
 * for (let i = 0; i < 100; i++) x = (await conditionalSMC(model, { particles: 20, reference: x, ancestorSampling: true, seed: i })).trajectory;
 * ```
 */
export async function conditionalSMC(model: StateSpaceModel, options: CSMCOptions): Promise<CSMCResult> {
  const { reference, ancestorSampling = false, ...rest } = options;
  const rng = options.rng ?? rngFrom(options.seed as Seed | undefined);
  const eventShape = eventShapeOf(model);
  const ref = toTrajectory(reference, model.length, sizeOf(eventShape), 'conditionalSMC');
  const logf = ancestorSampling ? model.transitionLogProb : undefined;
  if (ancestorSampling && !logf) throw new Error("conditionalSMC: ancestor sampling needs the model's transitionLogProb");
  const asWeights = logf
    ? (ctx: AncestorContext<FilterState>): Float64Array => {
        const x = ctx.state.x;
        const n = ctx.particles;
        const lp = tf.tidy(() => {
          const row = tf.tensor(ref[ctx.t], [1, ...eventShape], 'float32');
          const xr = tf.tile(row, [n, ...eventShape.map(() => 1)]);
          return logf(xr, x, ctx.t);
        });
        const v = lp.dataSync();
        lp.dispose();
        if (v.length !== n) throw new Error(`conditionalSMC: transitionLogProb returned ${v.length} values, expected ${n}`);
        const out = new Float64Array(n);
        for (let i = 0; i < n; i++) out[i] = ctx.logWeights[i] + v[i];
        return out;
      }
    : undefined;
  const filter = await particleFilter(model, {
    essThreshold: 1,
    ...rest,
    rng: rng.split(),
    filteringMeans: rest.filteringMeans ?? false,
    keepParticles: true,
    pin: pinReference(ref),
    ancestorSampler: conditionalAncestors<FilterState>(asWeights),
  });
  filter.dispose();
  const trajectory = drawTrajectory(filter, rng);
  return { trajectory, logZ: filter.logZ, filter };
}

/** A trajectory from a filter run with recorded particles: a final particle drawn by weight, traced back. */
export function drawTrajectory(res: FilterResult, rng: Rng): Trajectory {
  const h = res.history;
  if (!h) throw new Error('drawTrajectory: the filter did not record its particles; run it with keepParticles: true');
  const T = h.values.length;
  if (T === 0) return [];
  const d = h.eventShape.reduce((a, b) => a * b, 1);
  const k = multinomial(res.weights, 1, rng);
  const lines = traceLineages(h.ancestors, k);
  return lines.map((idx, t) => h.values[t].slice(idx[0] * d, idx[0] * d + d));
}

/** One side of {@link logZBounds}: the mean of the per-run estimates and its standard error. */
export interface BoundEstimate {
  /** Mean of the log Z estimates over runs. */
  readonly mean: number;
  /** Standard error of that mean (sd / sqrt(runs)). */
  readonly se: number;
  /** The per-run estimates. */
  readonly values: number[];
}

/** Options of {@link logZBounds}. */
export interface LogZBoundsOptions {
  /** Particles per run (the same for both sides). */
  readonly particles: number;
  /** Independent runs of each kind. */
  readonly runs: number;
  /**
   * Exact posterior draws of the trajectory, one per CSMC run (an array of
   * `runs` trajectories, or a function of the run index), e.g. the latent
   * path of data simulated from the model.
   */
  readonly references: readonly TrajectoryLike[] | ((run: number, rng: Rng) => TrajectoryLike);
  /** Guided proposal used by both sides. */
  readonly proposal?: Proposal;
  /** Ancestor sampling in the CSMC runs (default false). */
  readonly ancestorSampling?: boolean;
  /** Seed (ignored when `rng` is given). */
  readonly seed?: Seed;
  /** Random stream. */
  readonly rng?: Rng;
}

/** What {@link logZBounds} returns. */
export interface LogZBounds {
  /** SMC runs: E[log Z-hat] <= log Z (Jensen, since Z-hat is unbiased). */
  readonly lower: BoundEstimate;
  /** CSMC runs from exact posterior references: E[log Z-hat] >= log Z. */
  readonly upper: BoundEstimate;
}

function summarise(values: number[]): BoundEstimate {
  const n = values.length;
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const v = n > 1 ? values.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1) : NaN;
  return { mean, se: Math.sqrt(v / n), values };
}

/**
 * Bidirectional bounds on log Z for a state-space model (as in bidirectional
 * Monte Carlo, Grosse et al. 2015): the mean log Z of SMC runs is a
 * stochastic lower bound, and the mean log Z of conditional SMC runs whose
 * references are exact posterior draws is a stochastic upper bound (the CSMC
 * estimator is the SMC estimator size-biased by Z-hat / Z, so its expected
 * log is log Z plus a KL divergence). Both sides resample multinomially at
 * every step; the gap shrinks as the particle count grows.
 */
export async function logZBounds(model: StateSpaceModel, options: LogZBoundsOptions): Promise<LogZBounds> {
  const { particles, runs } = options;
  if (!Number.isInteger(runs) || runs < 2) throw new Error(`logZBounds: runs must be an integer >= 2, got ${runs}`);
  const refs = options.references;
  if (typeof refs !== 'function' && refs.length < runs) throw new Error(`logZBounds: ${runs} runs need ${runs} references, got ${refs.length}`);
  const rng = options.rng ?? rngFrom(options.seed);
  const lower: number[] = [];
  const upper: number[] = [];
  for (let r = 0; r < runs; r++) {
    const f = await particleFilter(model, { particles, proposal: options.proposal, resampling: 'multinomial', essThreshold: 1, filteringMeans: false, rng: rng.split() });
    f.dispose();
    lower.push(f.logZ);
    const reference = typeof refs === 'function' ? refs(r, rng.split()) : refs[r];
    const c = await conditionalSMC(model, { particles, proposal: options.proposal, reference, ancestorSampling: options.ancestorSampling, rng: rng.split() });
    upper.push(c.logZ);
  }
  return { lower: summarise(lower), upper: summarise(upper) };
}
