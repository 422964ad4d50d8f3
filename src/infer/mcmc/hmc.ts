/**
 * Static Hamiltonian Monte Carlo: a fixed-length leapfrog trajectory and a
 * Metropolis correction (Duane et al. 1987; Neal 2011).
 *
 * @module
 */
import type { Rng } from '../../core/rng.js';
import { type GradientCoroutine, type PhasePoint, type Position, hamiltonian, leapfrog } from './integrator.js';
import { DEFAULT_MAX_ENERGY_ERROR, type HamiltonianKernel, type Transition } from './kernel.js';
import type { EuclideanMetric } from './metric.js';

/** Settings of the static HMC kernel. */
export interface HmcKernelOptions {
  /**
   * Number of leapfrog steps per transition. When omitted it is
   * `max(1, floor(integrationTime / stepSize))`, recomputed as the step size
   * adapts (Stan's static HMC).
   */
  readonly numSteps?: number;
  /** Integration time used when `numSteps` is omitted; default 2 pi (Stan). */
  readonly integrationTime?: number;
  /** Cap on the number of steps derived from `integrationTime`; default 1024. */
  readonly maxSteps?: number;
  /** Energy error counted as a divergence; default 1000. */
  readonly maxEnergyError?: number;
}

/** Static HMC with a fixed number of steps or a fixed integration time. */
export class HmcKernel implements HamiltonianKernel {
  readonly name = 'hmc';
  private readonly numSteps: number | undefined;
  private readonly integrationTime: number;
  private readonly maxSteps: number;
  private readonly maxEnergyError: number;

  /** @param options - see {@link HmcKernelOptions}. */
  constructor(options: HmcKernelOptions = {}) {
    const { numSteps, integrationTime = 2 * Math.PI, maxSteps = 1024, maxEnergyError = DEFAULT_MAX_ENERGY_ERROR } = options;
    if (numSteps !== undefined && !(Number.isInteger(numSteps) && numSteps >= 1)) {
      throw new RangeError(`hmc: numSteps must be a positive integer, got ${numSteps}`);
    }
    if (!(integrationTime > 0) || !Number.isFinite(integrationTime)) {
      throw new RangeError(`hmc: integrationTime must be positive and finite, got ${integrationTime}`);
    }
    if (!(Number.isInteger(maxSteps) && maxSteps >= 1)) {
      throw new RangeError(`hmc: maxSteps must be a positive integer, got ${maxSteps}`);
    }
    if (!(maxEnergyError > 0)) throw new RangeError(`hmc: maxEnergyError must be positive, got ${maxEnergyError}`);
    this.numSteps = numSteps;
    this.integrationTime = integrationTime;
    this.maxSteps = maxSteps;
    this.maxEnergyError = maxEnergyError;
  }

  /** The number of leapfrog steps taken at step size `stepSize`. */
  stepsFor(stepSize: number): number {
    if (this.numSteps !== undefined) return this.numSteps;
    return Math.min(this.maxSteps, Math.max(1, Math.floor(this.integrationTime / stepSize)));
  }

  /** {@inheritDoc HamiltonianKernel.transition} */
  *transition(from: Position, stepSize: number, metric: EuclideanMetric, rng: Rng): GradientCoroutine<Transition> {
    const start: PhasePoint = { ...from, p: metric.sampleMomentum(rng) };
    const h0 = hamiltonian(start, metric);
    const steps = this.stepsFor(stepSize);
    let z = start;
    let h = h0;
    let n = 0;
    let divergent = false;
    while (n < steps) {
      z = yield* leapfrog(z, stepSize, metric);
      n += 1;
      h = hamiltonian(z, metric);
      if (h - h0 > this.maxEnergyError) {
        divergent = true;
        break;
      }
    }
    const acceptStat = divergent ? 0 : Math.min(1, Math.exp(h0 - h));
    const accepted = !divergent && (acceptStat >= 1 || rng.uniform() < acceptStat);
    const position: Position = accepted ? { q: z.q, logp: z.logp, grad: z.grad } : from;
    return { position, acceptStat, treeDepth: 0, nLeapfrog: n, divergent, energy: accepted ? h : h0 };
  }
}
