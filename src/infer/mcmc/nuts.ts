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
 * The trajectory allocates nothing per leapfrog step: the two edges of the
 * trajectory are integrated in place, and each tree depth owns the buffers of
 * the two subtrees it merges (a `NutsWorkspace` per chain, made once).
 * This is where NUTS spends its time outside the gradient, so it is written
 * like Stan's C++ (outputs into caller-owned slots), not with fresh vectors
 * per state.
 *
 * @module
 */
import type { Rng } from '../../core/rng.js';
import { zeros } from './linalg.js';
import type { GradientCoroutine, Position } from './integrator.js';
import { DEFAULT_MAX_ENERGY_ERROR, type HamiltonianKernel, type Transition } from './kernel.js';
import type { EuclideanMetric } from './metric.js';

/** Settings of the NUTS kernel. */
export interface NutsKernelOptions {
  /** Maximum tree depth: at most 2^depth - 1 leapfrog steps per draw; default 10. */
  readonly maxTreeDepth?: number;
  /** Energy error counted as a divergence; default 1000 (Stan). */
  readonly maxEnergyError?: number;
}

/** A phase point held in place: position, momentum, gradient and log density. */
interface Edge {
  readonly q: number[];
  readonly p: number[];
  readonly grad: number[];
  logp: number;
}

/** A finished subtree, written into a caller-owned slot. */
interface Slot {
  /** Momentum at the state nearest the trajectory it extends. */
  readonly pBeg: number[];
  /** Momentum at the far edge. */
  readonly pEnd: number[];
  /** Summed momentum over the subtree's states. */
  readonly rho: number[];
  /** log of the summed weights exp(H0 - H) of the subtree's states. */
  logWeight: number;
  /** The state selected from the subtree: position, gradient, log density, energy. */
  readonly q: number[];
  readonly grad: number[];
  logp: number;
  energy: number;
}

/**
 * One chain's buffers for NUTS trajectories of dimension `dim`: the two
 * edges, the selected state, a leaf, and one pending left half per tree
 * level (grown on demand). Reused by every transition of the chain.
 */
class NutsWorkspace {
  readonly fwd: Edge;
  readonly bck: Edge;
  /** Each edge's newest state seen as a one-state subtree, its arrays those of the edge (valid until the edge moves). */
  readonly fwdLeaf: Slot;
  readonly bckLeaf: Slot;
  readonly sample: Slot;
  readonly rho: number[];
  readonly nearP: number[];
  readonly scratch: number[];
  /** The transition's initial momentum. */
  readonly p0: number[];
  /** `pending[k]`: a finished left half of 2^k states waiting for its right half. */
  readonly pending: Slot[] = [];
  /** Whether `pending[k]` holds a left half (1) or not (0); depth is at most 30. */
  readonly waiting = new Uint8Array(31);

  constructor(readonly dim: number) {
    this.fwd = edge(dim);
    this.bck = edge(dim);
    this.fwdLeaf = leafOf(this.fwd);
    this.bckLeaf = leafOf(this.bck);
    this.sample = slot(dim);
    this.rho = zeros(dim);
    this.nearP = zeros(dim);
    this.scratch = zeros(dim);
    this.p0 = zeros(dim);
  }

  /** Makes room for subtrees of depth `depth` and clears the pending halves. */
  reset(depth: number): void {
    while (this.pending.length < depth) this.pending.push(slot(this.dim));
    this.waiting.fill(0); // in place: emptying a JS array and pushing again allocated a new one per subtree
  }
}

function edge(d: number): Edge {
  return { q: zeros(d), p: zeros(d), grad: zeros(d), logp: 0 };
}

/** A slot over an edge's own arrays: a one-state subtree at no copy (its momentum is its sum and both its ends). */
function leafOf(e: Edge): Slot {
  return { pBeg: e.p, pEnd: e.p, rho: e.p, logWeight: 0, q: e.q, grad: e.grad, logp: 0, energy: 0 };
}

function slot(d: number): Slot {
  return { pBeg: zeros(d), pEnd: zeros(d), rho: zeros(d), logWeight: 0, q: zeros(d), grad: zeros(d), logp: 0, energy: 0 };
}

function copyInto(src: ArrayLike<number>, dst: number[]): void {
  for (let i = 0; i < dst.length; i++) dst[i] = src[i]!;
}

/** `out = a + b` over `out.length` entries; returns `out`. */
function sumInto(a: readonly number[], b: readonly number[], out: number[]): number[] {
  for (let i = 0; i < out.length; i++) out[i] = a[i]! + b[i]!;
  return out;
}

/** Sets an edge to the start of a transition: position `from`, momentum `p0`. */
function startEdge(e: Edge, from: Position, p0: readonly number[]): void {
  copyInto(from.q, e.q);
  copyInto(p0, e.p);
  copyInto(from.grad, e.grad);
  e.logp = from.logp;
}

/** Copies a selected state (and its energy) from one slot to another. */
function takeProposal(from: Slot, to: Slot): void {
  copyInto(from.q, to.q);
  copyInto(from.grad, to.grad);
  to.logp = from.logp;
  to.energy = from.energy;
}

/**
 * The generalised no-U-turn criterion on a stretch of trajectory with summed
 * momentum rho and end momenta pA, pB: both end velocities M^{-1} p project
 * positively on rho (computed as p^T M^{-1} rho, M^{-1} being symmetric).
 */
/**
 * {@link noUTurn} on the summed momentum `x + y` (written to `scratch` where
 * the metric is not diagonal): for a diagonal metric one loop forms the sum
 * and both products, the same arithmetic as summing first.
 */
function noUTurnOnSum(metric: EuclideanMetric, pA: readonly number[], pB: readonly number[], x: readonly number[], y: readonly number[], scratch: number[]): boolean {
  const inv = metric.diagonalInverse;
  if (inv === null) return noUTurn(metric, pA, pB, sumInto(x, y, scratch));
  let sA = 0;
  let sB = 0;
  for (let i = 0; i < inv.length; i++) {
    const r = x[i]! + y[i]!;
    sA += pA[i]! * inv[i]! * r;
    sB += pB[i]! * inv[i]! * r;
  }
  return sA > 0 && sB > 0;
}

function noUTurn(metric: EuclideanMetric, pA: readonly number[], pB: readonly number[], rho: readonly number[]): boolean {
  const inv = metric.diagonalInverse;
  if (inv !== null) return dotInv(pA, rho, inv) > 0 && dotInv(pB, rho, inv) > 0;
  return metric.innerProduct(pA, rho) > 0 && metric.innerProduct(pB, rho) > 0;
}

/**
 * `a^T diag(inv) b`, summed in the order of `EuclideanMetric.innerProduct`
 * (so bit for bit the same): small enough for V8 to inline into its callers,
 * so the sum stays an unboxed double (the metric's general method, not
 * inlined, returned a fresh heap number per call).
 */
function dotInv(a: readonly number[], b: readonly number[], inv: Float64Array): number {
  let s = 0;
  for (let i = 0; i < inv.length; i++) s += a[i]! * inv[i]! * b[i]!;
  return s;
}

/** log(exp(a) + exp(b)) for weights that may be -Infinity. */
function logAddExp(a: number, b: number): number {
  if (a === -Infinity) return b;
  if (b === -Infinity) return a;
  const m = Math.max(a, b);
  return m + Math.log(Math.exp(a - m) + Math.exp(b - m));
}

/** H = -log p + K(p), or `Infinity` where not finite. */
function energyOf(z: Edge, metric: EuclideanMetric): number {
  const inv = metric.diagonalInverse;
  const h = -z.logp + (inv !== null ? 0.5 * dotInv(z.p, z.p, inv) : metric.kinetic(z.p));
  return Number.isFinite(h) ? h : Infinity;
}

/**
 * Merges the subtree `right` (integrated after `left`) into `left`, in place:
 * the multinomial choice between their proposals, the summed momentum, and
 * the no-U-turn checks across the merge (each half extended by the
 * neighbouring state of the other) and over the whole. Returns false on a
 * U-turn (the caller then abandons the subtree).
 */
function mergeInto(left: Slot, right: Slot, metric: EuclideanMetric, rng: Rng, scratch: number[]): boolean {
  const logWeight = logAddExp(left.logWeight, right.logWeight);
  // Uniform progressive sampling: the second half wins with its share of the weight.
  const takeSecond = right.logWeight >= logWeight || rng.uniform() < Math.exp(right.logWeight - logWeight);
  let ok =
    noUTurnOnSum(metric, left.pBeg, right.pBeg, left.rho, right.pBeg, scratch) &&
    noUTurnOnSum(metric, left.pEnd, right.pEnd, right.rho, left.pEnd, scratch);
  sumInto(left.rho, right.rho, left.rho);
  ok = ok && noUTurn(metric, left.pBeg, right.pEnd, left.rho);
  if (!ok) return false;
  copyInto(right.pEnd, left.pEnd);
  left.logWeight = logWeight;
  if (takeSecond) takeProposal(right, left);
  return true;
}

/** Copies a whole subtree summary (edges, sum, weight, proposal). */
function copySlot(from: Slot, to: Slot): void {
  copyInto(from.pBeg, to.pBeg);
  copyInto(from.pEnd, to.pEnd);
  copyInto(from.rho, to.rho);
  to.logWeight = from.logWeight;
  takeProposal(from, to);
}

/** What a trajectory does next (see {@link NutsTrajectory.advance}). */
const enum Phase {
  /** Waiting for the gradient at the moving edge's new position. */
  Leapfrog,
  /** The transition is over: read {@link NutsTrajectory.result}. */
  Done,
}

/**
 * One chain's NUTS transition as a resumable state machine over
 * preallocated buffers: {@link NutsTrajectory.begin} starts a transition and
 * returns the first position whose log density and gradient it needs;
 * {@link NutsTrajectory.advance} takes that answer and returns the next
 * position, or null when the transition is over
 * ({@link NutsTrajectory.result}). No generator, promise, closure or
 * allocation per leapfrog step, so a driver advancing many chains calls it
 * directly in its loop (the vectorised-chain driver in `sampler.ts`);
 * {@link NutsKernel.transition} wraps the same machine as a coroutine, so
 * both run the same algorithm with the same random numbers.
 */
export class NutsTrajectory {
  private readonly ws: NutsWorkspace;
  private phase = Phase.Done;
  private from!: Position;
  private metric!: EuclideanMetric;
  private rng!: Rng;
  private stepSize = 0;
  private h0 = 0;
  private logWeight = 0;
  private moved = false;
  private depth = 0;
  private nLeapfrog = 0;
  private sumAcceptProb = 0;
  private divergent = false;
  /** The edge that moves in the current subtree, and the other one. */
  private z!: Edge;
  private far!: Edge;
  private eps = 0;
  /** Leapfrog steps left in the current subtree. */
  private left = 0;

  /**
   * @param dim - the dimension D.
   * @param maxTreeDepth - at most 2^depth - 1 leapfrog steps per transition.
   * @param maxEnergyError - energy error counted as a divergence.
   */
  constructor(
    readonly dim: number,
    private readonly maxTreeDepth: number,
    private readonly maxEnergyError: number,
  ) {
    this.ws = new NutsWorkspace(dim);
  }

  /**
   * Starts a transition from `from` (momentum drawn from `rng`); returns the
   * first position to evaluate (a buffer of the trajectory: read it before
   * calling {@link NutsTrajectory.advance}).
   */
  begin(from: Position, stepSize: number, metric: EuclideanMetric, rng: Rng): readonly number[] {
    const { fwd, bck, sample, rho } = this.ws;
    this.from = from;
    this.metric = metric;
    this.rng = rng;
    this.stepSize = stepSize;
    const p0 = metric.sampleMomentum(rng, this.ws.p0);
    startEdge(fwd, from, p0);
    startEdge(bck, from, p0);
    const h0 = energyOf(fwd, metric);
    this.h0 = h0;
    copyInto(p0, rho);
    copyInto(from.q, sample.q);
    copyInto(from.grad, sample.grad);
    sample.logp = from.logp;
    sample.energy = h0;
    this.logWeight = 0; // the initial state has weight exp(H0 - H0) = 1
    this.moved = false;
    this.depth = 0;
    this.nLeapfrog = 0;
    this.sumAcceptProb = 0;
    this.divergent = false;
    this.startSubtree();
    return this.stepPosition();
  }

  /** A new subtree of 2^depth leapfrog steps in a random direction. */
  private startSubtree(): void {
    const forward = this.rng.uniform() > 0.5;
    this.z = forward ? this.ws.fwd : this.ws.bck; // the edge that moves, integrated in place
    this.far = forward ? this.ws.bck : this.ws.fwd;
    copyInto(this.z.p, this.ws.nearP);
    this.eps = forward ? this.stepSize : -this.stepSize;
    this.left = 1 << this.depth;
    this.ws.reset(this.depth);
    this.phase = Phase.Leapfrog;
  }

  /** Half a momentum step and a full position step of the moving edge; returns its position. */
  private stepPosition(): readonly number[] {
    const z = this.z;
    const half = 0.5 * this.eps;
    for (let i = 0; i < this.dim; i++) z.p[i] = z.p[i]! + half * z.grad[i]!;
    this.metric.driftInPlace(z.q, z.p, this.eps);
    return z.q;
  }

  /**
   * Takes the log density and gradient (`grad[offset .. offset + D)`) at the
   * position last returned; returns the next position to evaluate, or null
   * when the transition is over.
   */
  advance(logp: number, grad: ArrayLike<number>, offset: number): readonly number[] | null {
    if (this.phase !== Phase.Leapfrog) throw new Error('nuts: advance() called with no transition under way');
    const { ws, z, metric, dim: d } = this;
    const { sample, rho, nearP, scratch, pending, waiting } = ws;
    const depth = this.depth;
    let finite = Number.isFinite(logp);
    for (let i = 0; i < d; i++) {
      const g = grad[offset + i]!;
      if (!Number.isFinite(g)) finite = false;
      z.grad[i] = g;
    }
    // a non-finite log density or gradient leaves the support: a divergence, never NaN arithmetic
    z.logp = finite ? logp : -Infinity;
    const half = 0.5 * this.eps;
    for (let i = 0; i < d; i++) z.p[i] = z.p[i]! + half * z.grad[i]!;
    this.nLeapfrog += 1;
    const h = energyOf(z, metric);
    const logW = this.h0 - h;
    this.sumAcceptProb += logW > 0 ? 1 : Math.exp(logW);
    if (-logW > this.maxEnergyError) {
      this.divergent = true;
      return this.finish();
    }
    // Subtrees are merged as a binary counter runs (the order of the textbook
    // recursion, without its nested calls): the leaf goes straight into the
    // first free level, and every level whose left half is waiting takes the
    // new right half.
    // (the new state is read through the edge's own arrays, copied only where it has to wait for a right half)
    let level = 0;
    let cur = z === ws.fwd ? ws.fwdLeaf : ws.bckLeaf;
    cur.logWeight = logW;
    cur.logp = z.logp;
    cur.energy = h;
    while (level < depth) {
      if (waiting[level] === 0) {
        if (cur !== pending[level]) copySlot(cur, pending[level]!);
        waiting[level] = 1;
        break;
      }
      waiting[level] = 0;
      if (!mergeInto(pending[level]!, cur, metric, this.rng, scratch)) return this.finish();
      cur = pending[level]!;
      level += 1;
    }
    this.left -= 1;
    if (level < depth) return this.stepPosition(); // the subtree is not complete yet
    if (this.left > 0) throw new Error('nuts: internal error: a subtree completed early');
    const sub = cur;
    this.depth = depth + 1;

    // Biased progressive sampling: move to the new subtree with probability
    // min(1, w_new / w_old), favouring states far from the start.
    if (sub.logWeight > this.logWeight || this.rng.uniform() < Math.exp(sub.logWeight - this.logWeight)) {
      takeProposal(sub, sample);
      this.moved = true;
    }
    this.logWeight = logAddExp(this.logWeight, sub.logWeight);

    // The old trajectory extended by the new subtree's first state, the new
    // subtree extended by the old trajectory's adjacent state, and the whole.
    const far = this.far;
    let ok = noUTurnOnSum(metric, far.p, sub.pBeg, rho, sub.pBeg, scratch) && noUTurnOnSum(metric, nearP, sub.pEnd, sub.rho, nearP, scratch);
    sumInto(rho, sub.rho, rho);
    ok = ok && noUTurn(metric, far.p, sub.pEnd, rho);
    if (!ok || this.depth >= this.maxTreeDepth) return this.finish();
    this.startSubtree();
    return this.stepPosition();
  }

  private finish(): null {
    this.phase = Phase.Done;
    return null;
  }

  /** The finished transition (call once {@link NutsTrajectory.advance} has returned null). */
  result(): Transition {
    if (this.phase !== Phase.Done) throw new Error('nuts: result() called before the transition finished');
    const sample = this.ws.sample;
    return {
      // a draw that stays at the start is the start itself
      position: this.moved ? { q: sample.q.slice(), logp: sample.logp, grad: sample.grad.slice() } : this.from,
      acceptStat: this.nLeapfrog > 0 ? this.sumAcceptProb / this.nLeapfrog : 0,
      treeDepth: this.depth,
      nLeapfrog: this.nLeapfrog,
      divergent: this.divergent,
      energy: sample.energy,
    };
  }
}

/** Multinomial NUTS with the generalised no-U-turn criterion. */
export class NutsKernel implements HamiltonianKernel {
  readonly name = 'nuts';
  /** Maximum tree depth. */
  readonly maxTreeDepth: number;
  /** Energy error counted as a divergence. */
  readonly maxEnergyError: number;
  /** Each chain's trajectory, by the chain's metric (one metric per chain). */
  private readonly trajectories = new WeakMap<EuclideanMetric, NutsTrajectory>();

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

  /** A fresh trajectory machine of dimension `dim` with this kernel's settings (one per chain). */
  trajectory(dim: number): NutsTrajectory {
    return new NutsTrajectory(dim, this.maxTreeDepth, this.maxEnergyError);
  }

  /** {@inheritDoc HamiltonianKernel.transition} */
  *transition(from: Position, stepSize: number, metric: EuclideanMetric, rng: Rng): GradientCoroutine<Transition> {
    let t = this.trajectories.get(metric);
    if (t === undefined || t.dim !== metric.dim) this.trajectories.set(metric, (t = this.trajectory(metric.dim)));
    let q: readonly number[] | null = t.begin(from, stepSize, metric, rng);
    while (q !== null) {
      const a = yield q;
      q = t.advance(a.logp, a.grad, a.offset);
    }
    return t.result();
  }
}
