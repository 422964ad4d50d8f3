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
 * per state, and for identity and diagonal metrics (the default) each
 * per-dimension pass is one loop: the momentum kick, gradient copy, finite
 * check and kinetic energy of a step; the sum and all six products of the
 * three U-turn checks across a merge. A merge of two one-state subtrees (half
 * of all merges) needs one check, its three being the same arithmetic; a
 * finished subtree moves up a level, and a chosen proposal into the merged
 * slot, by swapping buffers instead of copying them.
 *
 * @module
 */
import type { Rng } from '../../core/rng.js';
import type { GradientCoroutine, Position } from './integrator.js';
import { DEFAULT_MAX_ENERGY_ERROR, type HamiltonianKernel, type Transition } from './kernel.js';
import { EuclideanMetric } from './metric.js';

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

/**
 * A finished subtree, written into a caller-owned slot. Its proposal arrays
 * `q` and `grad` move between slots by swapping (see `swapProposal`).
 */
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
  q: number[];
  grad: number[];
  logp: number;
  energy: number;
}

/**
 * A plain array of `n` zeros held as doubles from the start (V8 never moves
 * an array back from double to small-integer elements, so every buffer the
 * hot loops read has the same elements kind, and their property accesses
 * stay monomorphic).
 */
function doubles(n: number): number[] {
  const out = [0.5];
  for (let i = 1; i < n; i++) out.push(0.5);
  out.fill(0);
  return out;
}

/**
 * One chain's buffers for NUTS trajectories of dimension `dim`: the two
 * edges, the selected state, and one pending left half per tree level
 * (grown on demand). Reused by every transition of the chain.
 */
class NutsWorkspace {
  readonly fwd: Edge;
  readonly bck: Edge;
  /** Each edge's newest state seen as a one-state subtree, its arrays those of the edge (valid until the edge moves). */
  readonly fwdLeaf: Slot;
  readonly bckLeaf: Slot;
  /** The transition's proposal (only `q`, `grad`, `logp` and `energy` are used). */
  sample: Slot;
  readonly rho: number[];
  readonly nearP: number[];
  readonly scratch: number[];
  /** The transition's initial momentum. */
  readonly p0: number[];
  /**
   * `pending[k]`: a finished left half of 2^k states waiting for its right
   * half. A waiting one-state half (`pending[0]`) holds its momentum in
   * `pBeg` only (its `pEnd` and `rho` are the same vector).
   */
  readonly pending: Slot[] = [];
  /** Whether `pending[k]` holds a left half (1) or not (0); depth is at most 30. */
  readonly waiting = new Uint8Array(31);

  constructor(readonly dim: number) {
    this.fwd = edge(dim);
    this.bck = edge(dim);
    this.fwdLeaf = leafOf(this.fwd);
    this.bckLeaf = leafOf(this.bck);
    this.sample = slot(dim);
    this.rho = doubles(dim);
    this.nearP = doubles(dim);
    this.scratch = doubles(dim);
    this.p0 = doubles(dim);
  }

  /** Makes room for subtrees of depth `depth` and clears the pending halves. */
  reset(depth: number): void {
    while (this.pending.length < depth) this.pending.push(slot(this.dim));
    // in place, and only the levels a subtree of this depth uses (a builtin fill cost more than these few stores)
    for (let k = 0; k < depth; k++) this.waiting[k] = 0;
  }
}

function edge(d: number): Edge {
  return { q: doubles(d), p: doubles(d), grad: doubles(d), logp: 0 };
}

/** A slot over an edge's own arrays: a one-state subtree at no copy (its momentum is its sum and both its ends). */
function leafOf(e: Edge): Slot {
  return { pBeg: e.p, pEnd: e.p, rho: e.p, logWeight: 0, q: e.q, grad: e.grad, logp: 0, energy: 0 };
}

function slot(d: number): Slot {
  return { pBeg: doubles(d), pEnd: doubles(d), rho: doubles(d), logWeight: 0, q: doubles(d), grad: doubles(d), logp: 0, energy: 0 };
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
 * Moves the selected state of `from` into `to` by swapping their proposal
 * arrays: `from`'s proposal is left meaningless, so only for a slot that is
 * read no more (never an edge's leaf, whose arrays are the edge's).
 */
function swapProposal(from: Slot, to: Slot): void {
  const q = to.q;
  const grad = to.grad;
  to.q = from.q;
  to.grad = from.grad;
  from.q = q;
  from.grad = grad;
  to.logp = from.logp;
  to.energy = from.energy;
}

/**
 * The generalised no-U-turn criterion on a stretch of trajectory with summed
 * momentum rho and end momenta pA, pB: both end velocities M^{-1} p project
 * positively on rho (computed as p^T M^{-1} rho, M^{-1} being symmetric).
 */
function noUTurn(metric: EuclideanMetric, pA: readonly number[], pB: readonly number[], rho: readonly number[]): boolean {
  return metric.innerProduct(pA, rho) > 0 && metric.innerProduct(pB, rho) > 0;
}

/**
 * The three U-turn checks of a merge of a left stretch (momenta `lBeg` at its
 * start, `lEnd` at its end, summed `lRho`) with the right stretch that follows
 * it (`rBeg`, `rEnd`, `rRho`): the left extended by the right's first state,
 * the right extended by the left's last state, and the whole, whose summed
 * momentum it writes to `lRho`. True when none U-turns. Products are
 * `a^T M^{-1} b` summed in the order of `EuclideanMetric.innerProduct`, so
 * bit for bit the general path's; `inv` is the diagonal of M^{-1} or null for
 * other metrics (then `scratch` holds the partial sums).
 */
function mergeChecks(
  metric: EuclideanMetric,
  inv: Float64Array | null,
  lBeg: readonly number[],
  lEnd: readonly number[],
  lRho: number[],
  rBeg: readonly number[],
  rEnd: readonly number[],
  rRho: readonly number[],
  scratch: number[],
): boolean {
  if (inv === null) {
    let ok = noUTurn(metric, lBeg, rBeg, sumInto(lRho, rBeg, scratch)) && noUTurn(metric, lEnd, rEnd, sumInto(rRho, lEnd, scratch));
    sumInto(lRho, rRho, lRho);
    ok = ok && noUTurn(metric, lBeg, rEnd, lRho);
    return ok;
  }
  let a1 = 0;
  let b1 = 0;
  let a2 = 0;
  let b2 = 0;
  let a3 = 0;
  let b3 = 0;
  for (let i = 0; i < inv.length; i++) {
    const w = inv[i]!;
    const lb = lBeg[i]!;
    const re = rEnd[i]!;
    const lr = lRho[i]!;
    const rr = rRho[i]!;
    const r1 = lr + rBeg[i]!;
    a1 += lb * w * r1;
    b1 += rBeg[i]! * w * r1;
    const le = lEnd[i]!;
    const r2 = rr + le;
    a2 += le * w * r2;
    b2 += re * w * r2;
    const r3 = lr + rr;
    a3 += lb * w * r3;
    b3 += re * w * r3;
    lRho[i] = r3;
  }
  return a1 > 0 && b1 > 0 && a2 > 0 && b2 > 0 && a3 > 0 && b3 > 0;
}

/**
 * log(exp(a) + exp(b)) for weights that may be -Infinity, as
 * `m + log(exp(a - m) + exp(b - m))` with `m = max(a, b)`: the larger
 * argument's term is exp(0) = 1 exactly, so it is not computed (the same
 * number, one exp fewer), except where the maximum is not finite.
 */
function logAddExp(a: number, b: number): number {
  if (a === -Infinity) return b;
  if (b === -Infinity) return a;
  if (a >= b && a !== Infinity) return a + Math.log(1 + Math.exp(b - a));
  if (b > a && b !== Infinity) return b + Math.log(Math.exp(a - b) + 1);
  const m = Math.max(a, b); // an infinite maximum, or NaN
  return m + Math.log(Math.exp(a - m) + Math.exp(b - m));
}

/**
 * Merges the subtree `right` (integrated after `left`, both of at least two
 * states; `right` read no more afterwards) into `left`, in place: the
 * multinomial choice between their proposals, the summed momentum, and the
 * no-U-turn checks across the merge (each half extended by the neighbouring
 * state of the other) and over the whole. Returns false on a U-turn (the
 * caller then abandons the subtree).
 */
function mergeInto(left: Slot, right: Slot, metric: EuclideanMetric, inv: Float64Array | null, rng: Rng, scratch: number[]): boolean {
  const logWeight = logAddExp(left.logWeight, right.logWeight);
  // Uniform progressive sampling: the second half wins with its share of the weight.
  const takeSecond = right.logWeight >= logWeight || rng.uniform() < Math.exp(right.logWeight - logWeight);
  if (!mergeChecks(metric, inv, left.pBeg, left.pEnd, left.rho, right.pBeg, right.pEnd, right.rho, scratch)) return false;
  copyInto(right.pEnd, left.pEnd);
  left.logWeight = logWeight;
  if (takeSecond) swapProposal(right, left);
  return true;
}

/**
 * Merges the edge's newest state (`leaf`) into the one-state subtree waiting
 * before it (`left`, its momentum in `pBeg`), in place: `left` becomes the
 * two-state subtree. Its three U-turn checks are one (both ends and the sum
 * of the two states are the same vectors in each), computed as
 * {@link mergeChecks} computes its first. Returns false on a U-turn.
 */
function mergeLeaf(left: Slot, leaf: Slot, metric: EuclideanMetric, inv: Float64Array | null, rng: Rng): boolean {
  const logWeight = logAddExp(left.logWeight, leaf.logWeight);
  const takeSecond = leaf.logWeight >= logWeight || rng.uniform() < Math.exp(leaf.logWeight - logWeight);
  const pL = left.pBeg;
  const pR = leaf.pBeg;
  const rho = left.rho;
  const pEnd = left.pEnd;
  let ok: boolean;
  if (inv === null) {
    sumInto(pL, pR, rho);
    copyInto(pR, pEnd);
    ok = noUTurn(metric, pL, pR, rho);
  } else {
    let a = 0;
    let b = 0;
    for (let i = 0; i < inv.length; i++) {
      const w = inv[i]!;
      const l = pL[i]!;
      const r = pR[i]!;
      const s = l + r;
      a += l * w * s;
      b += r * w * s;
      rho[i] = s;
      pEnd[i] = r;
    }
    ok = a > 0 && b > 0;
  }
  if (!ok) return false;
  left.logWeight = logWeight;
  if (takeSecond) takeProposal(leaf, left);
  return true;
}

/** Stores the edge's newest state (`leaf`) as the one-state subtree `to` waiting for its right half. */
function holdLeaf(leaf: Slot, to: Slot): void {
  copyInto(leaf.pBeg, to.pBeg);
  to.logWeight = leaf.logWeight;
  takeProposal(leaf, to);
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
  /** The diagonal of M^{-1} for identity and diagonal metrics (this transition's), else null. */
  private inv: Float64Array | null = null;
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
  /** The moving edge's newest state as a one-state subtree. */
  private leaf!: Slot;
  private eps = 0;
  /** Leapfrog steps left in the current subtree. */
  private left = 0;
  /** Holds the log density given to {@link NutsTrajectory.advance}. */
  private readonly one = new Float64Array(1);

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
    // The products, drift and momentum draw of identity and diagonal metrics are computed here (the metric's own
    // arithmetic, in one pass per loop), fixed during a transition (adaptation changes the metric between
    // transitions); a subclass may override those methods (a test plants a wrong momentum draw so), so its run.
    const own = Object.getPrototypeOf(metric) === EuclideanMetric.prototype;
    this.inv = own ? metric.diagonalInverse : null;
    this.rng = rng;
    this.stepSize = stepSize;
    const scale = own ? metric.diagonalMomentumScale : null;
    if (scale !== null) {
      // the momentum drawn and the trajectory's start written in one pass (sampleMomentum's arithmetic and draw order)
      const { q, grad } = from;
      for (let i = 0; i < scale.length; i++) {
        const p = rng.normal() * scale[i]!;
        const qi = q[i]!;
        const gi = grad[i]!;
        fwd.q[i] = qi;
        fwd.p[i] = p;
        fwd.grad[i] = gi;
        bck.q[i] = qi;
        bck.p[i] = p;
        bck.grad[i] = gi;
        rho[i] = p;
        sample.q[i] = qi;
        sample.grad[i] = gi;
      }
      fwd.logp = from.logp;
      bck.logp = from.logp;
    } else {
      const p0 = metric.sampleMomentum(rng, this.ws.p0);
      startEdge(fwd, from, p0);
      startEdge(bck, from, p0);
      copyInto(p0, rho);
      copyInto(from.q, sample.q);
      copyInto(from.grad, sample.grad);
    }
    const h0 = this.energy(fwd);
    this.h0 = h0;
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

  /** H = -log p + K(p) at an edge, or `Infinity` where not finite. */
  private energy(z: Edge): number {
    const inv = this.inv;
    let k: number;
    if (inv !== null) {
      k = 0;
      for (let i = 0; i < inv.length; i++) k += z.p[i]! * inv[i]! * z.p[i]!;
      k *= 0.5;
    } else k = this.metric.kinetic(z.p);
    const h = -z.logp + k;
    return Number.isFinite(h) ? h : Infinity;
  }

  /** A new subtree of 2^depth leapfrog steps in a random direction. */
  private startSubtree(): void {
    const forward = this.rng.uniform() > 0.5;
    const ws = this.ws;
    this.z = forward ? ws.fwd : ws.bck; // the edge that moves, integrated in place
    this.far = forward ? ws.bck : ws.fwd;
    this.leaf = forward ? ws.fwdLeaf : ws.bckLeaf;
    copyInto(this.z.p, ws.nearP);
    this.eps = forward ? this.stepSize : -this.stepSize;
    this.left = 1 << this.depth;
    ws.reset(this.depth);
    this.phase = Phase.Leapfrog;
  }

  /** Half a momentum step and a full position step of the moving edge; returns its position. */
  private stepPosition(): readonly number[] {
    const { z, inv, eps } = this;
    const { p, q, grad } = z;
    const half = 0.5 * eps;
    if (inv !== null) {
      // the kick and the drift q += eps M^{-1} p in one pass (the metric's driftInPlace arithmetic)
      for (let i = 0; i < inv.length; i++) {
        const pi = p[i]! + half * grad[i]!;
        p[i] = pi;
        q[i] = q[i]! + eps * inv[i]! * pi;
      }
    } else {
      for (let i = 0; i < this.dim; i++) p[i] = p[i]! + half * grad[i]!;
      this.metric.driftInPlace(q, p, eps);
    }
    return q;
  }

  /**
   * Takes the log density and gradient (`grad[offset .. offset + D)`) at the
   * position last returned; returns the next position to evaluate, or null
   * when the transition is over.
   */
  advance(logp: number, grad: ArrayLike<number>, offset: number): readonly number[] | null {
    this.one[0] = logp;
    return this.advanceRow(this.one, 0, grad, offset);
  }

  /**
   * {@link NutsTrajectory.advance} with the log density read from
   * `logps[row]` (for drivers holding a batch of them: a double passed to a
   * call V8 does not inline is boxed, one heap number per step).
   */
  advanceRow(logps: ArrayLike<number>, row: number, grad: ArrayLike<number>, offset: number): readonly number[] | null {
    if (this.phase !== Phase.Leapfrog) throw new Error('nuts: advance() called with no transition under way');
    this.closeStep(logps, row, grad, offset);
    const leaf = this.leaf;
    const h = leaf.energy;
    this.nLeapfrog += 1;
    const logW = this.h0 - h;
    this.sumAcceptProb += logW > 0 ? 1 : Math.exp(logW);
    if (-logW > this.maxEnergyError) {
      this.divergent = true;
      return this.finish();
    }
    leaf.logWeight = logW;
    leaf.logp = this.z.logp;
    const sub = this.climb(leaf);
    if (sub === null) return this.finish(); // a U-turn inside the subtree
    this.left -= 1;
    if (sub === undefined) return this.stepPosition(); // the subtree is not complete yet
    if (this.left > 0) throw new Error('nuts: internal error: a subtree completed early');
    return this.extend(sub) ? this.stepPosition() : this.finish();
  }

  /**
   * Stores the log density (`logps[row]`) and gradient at the moving edge and kicks its
   * momentum by the second half step; writes the edge's energy to its
   * leaf's `energy` (not returned: a double returned by a call V8 does not
   * inline is boxed, one heap number per step). A non-finite log density or
   * gradient leaves the support (log density -Infinity): a divergence,
   * never NaN arithmetic.
   */
  private closeStep(logps: ArrayLike<number>, row: number, grad: ArrayLike<number>, offset: number): void {
    const { z, inv } = this;
    const logp = logps[row]!;
    const zg = z.grad;
    const zp = z.p;
    const half = 0.5 * this.eps;
    // one finite check on the sum (finite unless some entry is not, or it overflows: then entry by entry)
    let sum = 0;
    if (inv !== null) {
      let k = 0;
      for (let i = 0; i < inv.length; i++) {
        const g = grad[offset + i]!;
        zg[i] = g;
        sum += g;
        const pi = zp[i]! + half * g;
        zp[i] = pi;
        k += pi * inv[i]! * pi;
      }
      z.logp = Number.isFinite(logp) && (Number.isFinite(sum) || allFinite(zg)) ? logp : -Infinity;
      const h = -z.logp + 0.5 * k;
      this.leaf.energy = Number.isFinite(h) ? h : Infinity;
      return;
    }
    for (let i = 0; i < this.dim; i++) {
      const g = grad[offset + i]!;
      zg[i] = g;
      sum += g;
      zp[i] = zp[i]! + half * g;
    }
    z.logp = Number.isFinite(logp) && (Number.isFinite(sum) || allFinite(zg)) ? logp : -Infinity;
    this.leaf.energy = this.energy(z);
  }

  /**
   * Puts the new one-state subtree `leaf` into the current subtree: merged
   * level by level as a binary counter runs (the order of the textbook
   * recursion, without its nested calls). Returns the completed subtree,
   * undefined while it is not complete, or null on a U-turn inside it.
   */
  private climb(leaf: Slot): Slot | null | undefined {
    const depth = this.depth;
    if (depth === 0) return leaf;
    const { pending, waiting } = this.ws;
    // level 0: the leaf is read through the edge's arrays, copied only where it waits for a right half
    if (waiting[0] === 0) {
      holdLeaf(leaf, pending[0]!);
      waiting[0] = 1;
      return undefined;
    }
    waiting[0] = 0;
    let cur = pending[0]!;
    if (!mergeLeaf(cur, leaf, this.metric, this.inv, this.rng)) return null;
    for (let level = 1; level < depth; level++) {
      const held = pending[level]!;
      if (waiting[level] === 0) {
        // the finished half moves up by a swap of slots (the level below is free)
        pending[level] = cur;
        pending[level - 1] = held;
        waiting[level] = 1;
        return undefined;
      }
      waiting[level] = 0;
      if (!mergeInto(held, cur, this.metric, this.inv, this.rng, this.ws.scratch)) return null;
      cur = held;
    }
    return cur;
  }

  /**
   * Extends the trajectory by its completed new subtree `sub`; returns false
   * when the transition ends (a U-turn across the extension, or the maximum
   * depth reached).
   */
  private extend(sub: Slot): boolean {
    const ws = this.ws;
    this.depth += 1;
    // Biased progressive sampling: move to the new subtree with probability
    // min(1, w_new / w_old), favouring states far from the start.
    if (sub.logWeight > this.logWeight || this.rng.uniform() < Math.exp(sub.logWeight - this.logWeight)) {
      if (sub === this.leaf) takeProposal(sub, ws.sample);
      else swapProposal(sub, ws.sample); // sub's proposal is read no more
      this.moved = true;
    }
    this.logWeight = logAddExp(this.logWeight, sub.logWeight);

    // The old trajectory extended by the new subtree's first state, the new
    // subtree extended by the old trajectory's adjacent state, and the whole.
    const ok = mergeChecks(this.metric, this.inv, this.far.p, ws.nearP, ws.rho, sub.pBeg, sub.pEnd, sub.rho, ws.scratch);
    if (!ok || this.depth >= this.maxTreeDepth) return false;
    this.startSubtree();
    return true;
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

/** Whether every entry is finite. */
function allFinite(x: readonly number[]): boolean {
  for (let i = 0; i < x.length; i++) if (!Number.isFinite(x[i])) return false;
  return true;
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
