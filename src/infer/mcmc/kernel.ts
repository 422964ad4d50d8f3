/**
 * The interface shared by the Hamiltonian kernels (static HMC and NUTS).
 *
 * @module
 */
import type { Rng } from '../../core/rng.js';
import type { GradientCoroutine, Position } from './integrator.js';
import type { EuclideanMetric } from './metric.js';

/** The result of one kernel transition, with the per-draw sampler statistics. */
export interface Transition {
  /** The new state (the old one when the move was rejected). */
  readonly position: Position;
  /**
   * Acceptance statistic in [0, 1]: the Metropolis acceptance probability
   * for static HMC; for NUTS the mean of min(1, exp(H0 - H)) over every
   * leapfrog state of the trajectory (Stan's `accept_stat__`). Step-size
   * adaptation drives its average to the target acceptance.
   */
  readonly acceptStat: number;
  /** Depth of the NUTS tree (0 for static HMC). */
  readonly treeDepth: number;
  /** Number of leapfrog steps (gradient evaluations) taken. */
  readonly nLeapfrog: number;
  /** True when the energy error exceeded the divergence threshold. */
  readonly divergent: boolean;
  /** The Hamiltonian at the returned state (Stan's `energy__`, for E-BFMI). */
  readonly energy: number;
}

/** A Hamiltonian transition kernel: one move from a position, as a coroutine. */
export interface HamiltonianKernel {
  /** Short name, e.g. `nuts` or `hmc`. */
  readonly name: string;
  /**
   * One transition from `from` with step size `stepSize` under `metric`,
   * drawing its randomness (momentum, directions, selection) from `rng`.
   */
  transition(from: Position, stepSize: number, metric: EuclideanMetric, rng: Rng): GradientCoroutine<Transition>;
}

/** Energy error above which a trajectory is declared divergent (Stan's default). */
export const DEFAULT_MAX_ENERGY_ERROR = 1000;
