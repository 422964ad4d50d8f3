/**
 * Static Hamiltonian Monte Carlo: a leapfrog trajectory of a set mean length
 * and a Metropolis correction (Duane et al. 1987; Neal 2011).
 *
 * By default the number of leapfrog steps of each transition is drawn
 * uniformly around its mean (Neal 2011, section 5.4; the spread of
 * BlackJAX's dynamic HMC): with a fixed integration time, an adapted metric
 * that whitens a near-Gaussian posterior turns every coordinate into an
 * oscillator of period about 2 pi, and a trajectory of Stan's default length
 * 2 pi then ends near where it began. The count is drawn from the chain's
 * stream before the trajectory, never from the state, so each transition is
 * a mixture of reversible kernels and detailed balance holds.
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
   * Number of leapfrog steps per transition (the mean, when `jitter` is
   * given too). When omitted the mean is `max(1, floor(integrationTime /
   * stepSize))`, recomputed as the step size adapts (Stan's static HMC).
   */
  readonly numSteps?: number;
  /** Mean integration time used when `numSteps` is omitted; default 2 pi (Stan). */
  readonly integrationTime?: number;
  /**
   * Spread of the number of leapfrog steps, as a fraction `j` in [0, 1] of
   * its mean `L`: each transition takes `L - m, ..., L + m` steps with equal
   * chance, `m = floor(j (L - 1))`, drawn from the chain's own stream (never
   * from the state). The mean integration time and cost stay those of `L`.
   * Default 1 (1 to 2L - 1 steps) when the steps come from
   * `integrationTime`; 0 (exactly `numSteps`) when `numSteps` is given.
   * `jitter: 0` is the fixed-length kernel, draw for draw.
   */
  readonly jitter?: number;
  /** Cap on the number of steps of a transition derived from `integrationTime` (mean and drawn); default 1024. */
  readonly maxSteps?: number;
  /** Energy error counted as a divergence; default 1000. */
  readonly maxEnergyError?: number;
}

/** Static HMC with a set mean number of steps or mean integration time, jittered per transition. */
export class HmcKernel implements HamiltonianKernel {
  readonly name = 'hmc';
  private readonly numSteps: number | undefined;
  private readonly integrationTime: number;
  private readonly jitter: number;
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
    const jitter = options.jitter ?? (numSteps === undefined ? 1 : 0);
    if (!(typeof jitter === 'number' && jitter >= 0 && jitter <= 1)) {
      throw new RangeError(`hmc: jitter must be a number in [0, 1] (the spread of the step count as a fraction of its mean), got ${String(jitter)}`);
    }
    if (!(Number.isInteger(maxSteps) && maxSteps >= 1)) {
      throw new RangeError(`hmc: maxSteps must be a positive integer, got ${maxSteps}`);
    }
    if (!(maxEnergyError > 0)) throw new RangeError(`hmc: maxEnergyError must be positive, got ${maxEnergyError}`);
    this.numSteps = numSteps;
    this.integrationTime = integrationTime;
    this.jitter = jitter;
    this.maxSteps = maxSteps;
    this.maxEnergyError = maxEnergyError;
  }

  /** The mean number of leapfrog steps of a transition at step size `stepSize`. */
  stepsFor(stepSize: number): number {
    if (this.numSteps !== undefined) return this.numSteps;
    return Math.min(this.maxSteps, Math.max(1, Math.floor(this.integrationTime / stepSize)));
  }

  /**
   * The steps of one transition: uniform on `L - m, ..., L + m` around the
   * mean `L` (see {@link HmcKernelOptions.jitter}), capped at `maxSteps` when
   * derived from the integration time. Takes a uniform from `rng` only when
   * `m > 0`, so `jitter: 0` keeps the fixed-length kernel's stream.
   */
  drawSteps(stepSize: number, rng: Rng): number {
    const mean = this.stepsFor(stepSize);
    const m = Math.floor(this.jitter * (mean - 1));
    if (m === 0) return mean;
    const n = mean - m + Math.floor(rng.uniform() * (2 * m + 1));
    return this.numSteps === undefined ? Math.min(this.maxSteps, n) : n;
  }

  /** {@inheritDoc HamiltonianKernel.transition} */
  *transition(from: Position, stepSize: number, metric: EuclideanMetric, rng: Rng): GradientCoroutine<Transition> {
    const steps = this.drawSteps(stepSize, rng);
    const start: PhasePoint = { ...from, p: metric.sampleMomentum(rng) };
    const h0 = hamiltonian(start, metric);
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
