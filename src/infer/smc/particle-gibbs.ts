/**
 * Particle Gibbs (Andrieu, Doucet & Holenstein 2010) for state-space models
 * with static parameters: alternate a conditional SMC sweep for the states
 * given the parameters ({@link conditionalSMC}, with ancestor sampling by
 * default) with an update of the parameters given the states, either a
 * user-supplied Gibbs step or random-walk Metropolis–Hastings on the complete-
 * data density p(θ) p(x_{0:T-1}, y_{0:T-1} | θ).
 *
 * @module
 */
import { Pacer } from '../pace.js';
import * as tf from '@tensorflow/tfjs-core';
import { type Rng, rngFrom, type Seed } from '../../core/rng.js';
import { sizeOf } from '../../core/value.js';
import { type Trajectory, type TrajectoryLike, conditionalSMC, drawTrajectory, eventShapeOf, toTrajectory } from './csmc.js';
import { type Proposal, type StateSpaceModel, particleFilter } from './statespace.js';

/**
 * log p(x_{0:T-1}, y_{0:T-1}) of one trajectory under a state-space model
 * (needs `initialLogProb` and `transitionLogProb`).
 */
export function trajectoryLogJoint(model: StateSpaceModel, trajectory: TrajectoryLike): number {
  const initialLogProb = model.initialLogProb;
  const transitionLogProb = model.transitionLogProb;
  if (!initialLogProb || !transitionLogProb) throw new Error("trajectoryLogJoint: the model needs initialLogProb and transitionLogProb");
  const eventShape = eventShapeOf(model);
  const x = toTrajectory(trajectory, model.length, sizeOf(eventShape), 'trajectoryLogJoint');
  if (x.length === 0) return 0;
  const row = (t: number): tf.Tensor => tf.tensor(x[t], [1, ...eventShape], 'float32');
  const total = tf.tidy(() => {
    let acc = tf.add(initialLogProb(row(0)), model.logObservation(row(0), 0));
    for (let t = 1; t < x.length; t++) {
      const cur = row(t);
      acc = tf.add(acc, tf.add(transitionLogProb(cur, row(t - 1), t), model.logObservation(cur, t)));
    }
    return tf.sum(acc);
  });
  const v = total.dataSync()[0];
  total.dispose();
  return Number.isNaN(v) ? -Infinity : v;
}

/** A random-walk MH update of the parameters given the states. */
export interface ParameterMH<P> {
  /** log p(θ) (up to a constant); -Infinity outside the support. */
  logPrior(params: P): number;
  /** A symmetric proposal θ' ~ q(· | θ). */
  propose(params: P, rng: Rng): P;
  /** MH steps per iteration (default 1). */
  readonly steps?: number;
}

/** Options of {@link particleGibbs}. */
export interface ParticleGibbsOptions<P> {
  /** Number of iterations (each: one CSMC sweep and one parameter update). */
  readonly iterations: number;
  /** Particles per CSMC sweep. */
  readonly particles: number;
  /** The starting parameters. */
  readonly initialParams: P;
  /** A Gibbs update θ ~ p(θ | x, y) given the current trajectory (takes precedence over `mh`). */
  readonly update?: (trajectory: Trajectory, params: P, rng: Rng) => P | Promise<P>;
  /** Random-walk MH on the parameters, scored by {@link trajectoryLogJoint}. */
  readonly mh?: ParameterMH<P>;
  /** Ancestor sampling in the CSMC sweeps (default true). */
  readonly ancestorSampling?: boolean;
  /** Starting trajectory (default: drawn from a bootstrap filter run at the initial parameters). */
  readonly initialTrajectory?: TrajectoryLike;
  /** A guided proposal for the given parameters. */
  readonly proposal?: (params: P) => Proposal;
  /** Iterations dropped from the returned draws (default 0). */
  readonly burnin?: number;
  /** Keep each iteration's trajectory (default true). */
  readonly keepTrajectories?: boolean;
  /** Seed (ignored when `rng` is given). */
  readonly seed?: Seed;
  /** Random stream. */
  readonly rng?: Rng;
  /** Called after each iteration. */
  readonly onIteration?: (info: { iteration: number; params: P; logZ: number }) => void | Promise<void>;
  /** Stops the run. */
  readonly signal?: AbortSignal;
}

/** What {@link particleGibbs} returns (after burn-in). */
export interface ParticleGibbsResult<P> {
  /** Parameter draws, one per kept iteration. */
  readonly params: P[];
  /** Trajectory draws (empty without `keepTrajectories`). */
  readonly trajectories: Trajectory[];
  /** The CSMC log Z of each kept iteration. */
  readonly logZ: number[];
  /** Acceptance rate of the parameter MH steps (NaN with a Gibbs `update`). */
  readonly acceptance: number;
}

/**
 * Particle Gibbs: alternate conditional SMC for the states and an update of
 * the static parameters. `model(θ)` builds the state-space model at
 * parameters θ.
 *
 * @example
 * ```ts
 * const res = await particleGibbs((p: { q: number }) => linearGaussianStateSpace({ m0: 0, s0: 1, q: p.q, r: 1 }, ys), {
 *   iterations: 1000, particles: 20, initialParams: { q: 1 },
 *   mh: { logPrior: (p) => (p.q > 0 ? -p.q : -Infinity), propose: (p, rng) => ({ q: p.q + 0.2 * rng.normal() }) },
 * });
 * ```
 */
export async function particleGibbs<P>(model: (params: P) => StateSpaceModel, options: ParticleGibbsOptions<P>): Promise<ParticleGibbsResult<P>> {
  const { iterations, particles } = options;
  const burnin = options.burnin ?? 0;
  if (!Number.isInteger(iterations) || iterations < 1) throw new Error(`particleGibbs: iterations must be a positive integer, got ${iterations}`);
  if (!Number.isInteger(burnin) || burnin < 0 || burnin >= iterations) throw new Error(`particleGibbs: burnin must be an integer in 0..${iterations - 1}, got ${burnin}`);
  if (!options.update && !options.mh) throw new Error('particleGibbs: give a parameter update (`update`, a Gibbs step) or `mh` (logPrior and propose)');
  const mhSteps = options.mh?.steps ?? 1;
  if (!Number.isInteger(mhSteps) || mhSteps < 1) throw new Error(`particleGibbs: mh.steps must be a positive integer, got ${mhSteps}`);
  const rng = options.rng ?? rngFrom(options.seed);
  const keep = options.keepTrajectories ?? true;
  let params = options.initialParams;
  let m = model(params);
  let trajectory: Trajectory;
  if (options.initialTrajectory) {
    trajectory = toTrajectory(options.initialTrajectory, m.length, sizeOf(eventShapeOf(m)), 'particleGibbs');
  } else {
    const f = await particleFilter(m, { particles, proposal: options.proposal?.(params), keepParticles: true, filteringMeans: false, rng: rng.split() });
    f.dispose();
    trajectory = drawTrajectory(f, rng);
  }
  const out: ParticleGibbsResult<P> = { params: [], trajectories: [], logZ: [], acceptance: NaN };
  let accepted = 0;
  let proposed = 0;
  const pace = new Pacer(options.signal);
  for (let it = 0; it < iterations; it++) {
    if (pace.due()) await pace.pause();
    const sweep = await conditionalSMC(m, {
      particles,
      ...(options.signal ? { signal: options.signal } : {}),
      reference: trajectory,
      ancestorSampling: options.ancestorSampling ?? true,
      proposal: options.proposal?.(params),
      rng: rng.split(),
    });
    trajectory = sweep.trajectory;
    if (options.update) {
      params = await options.update(trajectory, params, rng);
      m = model(params);
    } else {
      const mh = options.mh as ParameterMH<P>;
      let cur = mh.logPrior(params) + trajectoryLogJoint(m, trajectory);
      for (let s = 0; s < mhSteps; s++) {
        const cand = mh.propose(params, rng);
        const lp = mh.logPrior(cand);
        const candModel = lp === -Infinity ? undefined : model(cand);
        const next = candModel ? lp + trajectoryLogJoint(candModel, trajectory) : -Infinity;
        proposed++;
        if (Math.log(rng.uniform()) < next - cur) {
          params = cand;
          m = candModel as StateSpaceModel;
          cur = next;
          accepted++;
        }
      }
    }
    if (it >= burnin) {
      out.params.push(params);
      out.logZ.push(sweep.logZ);
      if (keep) out.trajectories.push(trajectory);
    }
    await options.onIteration?.({ iteration: it, params, logZ: sweep.logZ });
  }
  return { ...out, acceptance: proposed ? accepted / proposed : NaN };
}
