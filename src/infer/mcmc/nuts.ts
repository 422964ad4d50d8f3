/**
 * The No-U-Turn Sampler with multinomial sampling (Hoffman & Gelman 2014;
 * Betancourt 2017), as run by Stan.
 *
 * Each transition draws a momentum and doubles a trajectory forwards or
 * backwards in time, at random, until the generalised no-U-turn criterion
 * fails, the maximum tree depth is reached, or the energy error exceeds the
 * divergence threshold. The draw is selected among all trajectory states in
 * proportion to exp(-H): progressively uniform within each new subtree and
 * biased towards the new subtree when it is merged into the trajectory.
 *
 * The generalised criterion uses the summed momentum rho over a (sub)tree
 * and the velocities M^{-1} p at its two ends: the tree keeps growing while
 * both velocities have a positive projection on rho. As in Stan, it is also
 * checked across every merge of two subtrees, on each subtree extended by the
 * neighbouring state of the other, which catches U-turns that fall between
 * the two halves.
 *
 * @module
 */
import type { Rng } from '../../core/rng.js';
import { addInto, addVec, copyVec, zeros } from './linalg.js';
import { type GradientCoroutine, type PhasePoint, type Position, hamiltonian, leapfrog } from './integrator.js';
import { DEFAULT_MAX_ENERGY_ERROR, type HamiltonianKernel, type Transition } from './kernel.js';
import type { EuclideanMetric } from './metric.js';

/** Settings of the NUTS kernel. */
export interface NutsKernelOptions {
  /** Maximum tree depth: at most 2^depth - 1 leapfrog steps per draw; default 10. */
  readonly maxTreeDepth?: number;
  /** Energy error counted as a divergence; default 1000 (Stan). */
  readonly maxEnergyError?: number;
}

/** A finished subtree: its edges, summed momentum, weight and proposal. */
interface Subtree {
  /** The last state integrated (the subtree's far edge). */
  readonly edge: PhasePoint;
  /** Momentum at the state nearest the trajectory it extends. */
  readonly pBeg: readonly number[];
  /** Momentum at the far edge. */
  readonly pEnd: readonly number[];
  /**
   * Summed momentum over the subtree's states. For a single state this is
   * its momentum itself (shared, read-only); merged subtrees own theirs.
   */
  readonly rho: number[];
  /** log of the summed weights exp(H0 - H) of the subtree's states. */
  readonly logWeight: number;
  /** The state selected from the subtree. */
  readonly proposal: PhasePoint;
  /** H of the proposal. */
  readonly proposalEnergy: number;
}

/** Mutable state of one transition, shared by the tree-building recursion. */
interface TreeContext {
  readonly metric: EuclideanMetric;
  readonly rng: Rng;
  readonly h0: number;
  readonly maxEnergyError: number;
  /** Scratch vector for the extended-subtree momentum sums. */
  readonly scratch: number[];
  /** Signed step size for the subtree being built. */
  eps: number;
  /** The state the next leapfrog starts from. */
  z: PhasePoint;
  nLeapfrog: number;
  sumAcceptProb: number;
  divergent: boolean;
}

/**
 * The generalised no-U-turn criterion on a stretch of trajectory with summed
 * momentum rho and end momenta pA, pB: both end velocities M^{-1} p project
 * positively on rho (computed as p^T M^{-1} rho, M^{-1} being symmetric).
 */
function noUTurn(metric: EuclideanMetric, pA: readonly number[], pB: readonly number[], rho: readonly number[]): boolean {
  return metric.innerProduct(pA, rho) > 0 && metric.innerProduct(pB, rho) > 0;
}

/** log(exp(a) + exp(b)) for weights that may be -Infinity. */
function logAddExp(a: number, b: number): number {
  if (a === -Infinity) return b;
  if (b === -Infinity) return a;
  const m = Math.max(a, b);
  return m + Math.log(Math.exp(a - m) + Math.exp(b - m));
}

/**
 * Builds a subtree of 2^depth states from `ctx.z` in the direction of
 * `ctx.eps`; returns null when it diverges or makes a U-turn inside (the
 * caller then stops the trajectory without using it).
 */
function* buildTree(ctx: TreeContext, depth: number): GradientCoroutine<Subtree | null> {
  if (depth === 0) {
    const z = yield* leapfrog(ctx.z, ctx.eps, ctx.metric);
    ctx.z = z;
    ctx.nLeapfrog += 1;
    const h = hamiltonian(z, ctx.metric);
    const logW = ctx.h0 - h;
    ctx.sumAcceptProb += logW > 0 ? 1 : Math.exp(logW);
    if (-logW > ctx.maxEnergyError) {
      ctx.divergent = true;
      return null;
    }
    return { edge: z, pBeg: z.p, pEnd: z.p, rho: z.p as number[], logWeight: logW, proposal: z, proposalEnergy: h };
  }
  const first = yield* buildTree(ctx, depth - 1);
  if (first === null) return null;
  const second = yield* buildTree(ctx, depth - 1);
  if (second === null) return null;

  const logWeight = logAddExp(first.logWeight, second.logWeight);
  // Uniform progressive sampling: the second half wins with its share of the weight.
  const takeSecond = second.logWeight >= logWeight || ctx.rng.uniform() < Math.exp(second.logWeight - logWeight);
  const m = ctx.metric;
  // Across the merge: each half extended by the neighbouring state of the other.
  let ok =
    noUTurn(m, first.pBeg, second.pBeg, addInto(first.rho, second.pBeg, ctx.scratch)) &&
    noUTurn(m, first.pEnd, second.pEnd, addInto(second.rho, first.pEnd, ctx.scratch));
  // A single state's rho is its momentum: copy before summing in place.
  const rho = depth === 1 ? addVec(first.rho, second.rho) : addInto(first.rho, second.rho, first.rho);
  ok = ok && noUTurn(m, first.pBeg, second.pEnd, rho);
  if (!ok) return null;
  return {
    edge: second.edge,
    pBeg: first.pBeg,
    pEnd: second.pEnd,
    rho,
    logWeight,
    proposal: takeSecond ? second.proposal : first.proposal,
    proposalEnergy: takeSecond ? second.proposalEnergy : first.proposalEnergy,
  };
}

/** Multinomial NUTS with the generalised no-U-turn criterion. */
export class NutsKernel implements HamiltonianKernel {
  readonly name = 'nuts';
  /** Maximum tree depth. */
  readonly maxTreeDepth: number;
  /** Energy error counted as a divergence. */
  readonly maxEnergyError: number;

  /** @param options - see {@link NutsKernelOptions}. */
  constructor(options: NutsKernelOptions = {}) {
    const { maxTreeDepth = 10, maxEnergyError = DEFAULT_MAX_ENERGY_ERROR } = options;
    if (!(Number.isInteger(maxTreeDepth) && maxTreeDepth >= 1 && maxTreeDepth <= 30)) {
      throw new RangeError(`nuts: maxTreeDepth must be an integer in [1, 30], got ${maxTreeDepth}`);
    }
    if (!(maxEnergyError > 0)) throw new RangeError(`nuts: maxEnergyError must be positive, got ${maxEnergyError}`);
    this.maxTreeDepth = maxTreeDepth;
    this.maxEnergyError = maxEnergyError;
  }

  /** {@inheritDoc HamiltonianKernel.transition} */
  *transition(from: Position, stepSize: number, metric: EuclideanMetric, rng: Rng): GradientCoroutine<Transition> {
    const z0: PhasePoint = { q: from.q, logp: from.logp, grad: from.grad, p: metric.sampleMomentum(rng) };
    const h0 = hamiltonian(z0, metric);
    const ctx: TreeContext = {
      metric,
      rng,
      h0,
      maxEnergyError: this.maxEnergyError,
      scratch: zeros(metric.dim),
      eps: stepSize,
      z: z0,
      nLeapfrog: 0,
      sumAcceptProb: 0,
      divergent: false,
    };
    let fwd = z0; // forward-most state of the trajectory
    let bck = z0; // backward-most state
    const rho = copyVec(z0.p);
    let logWeight = 0; // the initial state has weight exp(H0 - H0) = 1
    let sample: PhasePoint = z0;
    let sampleEnergy = h0;
    let depth = 0;

    while (depth < this.maxTreeDepth) {
      const forward = rng.uniform() > 0.5;
      const near = forward ? fwd : bck;
      const far = forward ? bck : fwd;
      ctx.eps = forward ? stepSize : -stepSize;
      ctx.z = near;
      const sub = yield* buildTree(ctx, depth);
      if (sub === null) break;
      depth += 1;

      // Biased progressive sampling: move to the new subtree with probability
      // min(1, w_new / w_old), favouring states far from the start.
      if (sub.logWeight > logWeight || rng.uniform() < Math.exp(sub.logWeight - logWeight)) {
        sample = sub.proposal;
        sampleEnergy = sub.proposalEnergy;
      }
      logWeight = logAddExp(logWeight, sub.logWeight);

      // The old trajectory extended by the new subtree's first state, the new
      // subtree extended by the old trajectory's adjacent state, and the whole.
      let ok =
        noUTurn(metric, far.p, sub.pBeg, addInto(rho, sub.pBeg, ctx.scratch)) &&
        noUTurn(metric, near.p, sub.pEnd, addInto(sub.rho, near.p, ctx.scratch));
      addInto(rho, sub.rho, rho);
      ok = ok && noUTurn(metric, far.p, sub.pEnd, rho);
      if (forward) fwd = sub.edge;
      else bck = sub.edge;
      if (!ok) break;
    }

    return {
      position: { q: sample.q, logp: sample.logp, grad: sample.grad },
      acceptStat: ctx.nLeapfrog > 0 ? ctx.sumAcceptProb / ctx.nLeapfrog : 0,
      treeDepth: depth,
      nLeapfrog: ctx.nLeapfrog,
      divergent: ctx.divergent,
      energy: sampleEnergy,
    };
  }
}
