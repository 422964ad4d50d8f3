/**
 * Whether an importance proposal is lighter-tailed than its target, read
 * from the draws' log weights log w = log p - log q against the proposal's
 * own log density log q.
 *
 * Where the weights grow in the proposal's tails as a power of its density,
 * w ~ q^(-b), the weights under q have a Pareto tail of shape k = b
 * (P(w > t) = P(q < t^(-1/b)), about t^(-1/b) for a proposal of Gaussian or
 * exponential tails), so b is the tail index that Pareto k-hat estimates, and
 * b >= 1/2 means E_q[w^2] is infinite. Unlike k-hat, which fits a
 * generalized Pareto to the few largest weights S draws happened to reach,
 * b is a slope over the draws deepest in the proposal's tail, where log w
 * and log q are both known functions of the draw: in one dimension it has
 * almost no sampling noise. A Normal(0, s) proposal for a Normal(0, 1)
 * target has b = 1 - s^2 exactly (infinite variance for s <= 1/sqrt 2, as
 * theory says); a Normal(0, 1) proposal for a StudentT(3) target read
 * b = 0.61-0.63 over six seeds at 10000 draws, where k-hat read 0.50-0.72.
 *
 * @module
 */
import { PSIS_MIN_TAIL, psisTailLength } from './psis.js';

/** The slope b of log w on -log q at or above which {@link guideTailSlope} says the weights have infinite variance. */
export const GUIDE_TAIL_SLOPE_THRESHOLD = 0.5;

/** Log weights this far below the largest (a weight under 4.5e-5 of it) are negligible: {@link guideTailSlope} raises them to that floor. */
const FLOOR_NATS = 10;

/** What {@link guideTailSlope} found. */
export interface GuideTailSlope {
  /** The least-squares slope of log w on -log q over the tail draws (NaN when it cannot be read). */
  readonly slope: number;
  /** How many draws (those of smallest proposal density, with finite log w) it was read from. */
  readonly tail: number;
}

/**
 * The slope of the log weights on the proposal's negative log density over
 * the M = ceil(min(0.2 S, 3 sqrt S)) draws of smallest proposal density
 * (the tail size PSIS fits), among draws with a finite log weight (a draw
 * outside the target's support, weight 0, says nothing of its tail), with
 * log weights more than 10 nats below the largest raised to that floor:
 * only large weights make a heavy tail, and without the floor a Normal(3.5, 2)
 * guide, much wider than its Gamma(25, 7) posterior, read slopes of 2.4-7.7
 * (-1.2 to -0.9 with it) from the draws near 0, where log w falls towards
 * -Infinity. NaN with fewer than 5 such draws or when their log q are all
 * equal.
 *
 * @param logWeights - log w of each draw (log p - log q)
 * @param logQ - the proposal's log density at each draw, in the same order
 * @throws RangeError when the two differ in length
 */
export function guideTailSlope(logWeights: ArrayLike<number>, logQ: ArrayLike<number>): GuideTailSlope {
  if (logWeights.length !== logQ.length) throw new RangeError(`guideTailSlope: ${logWeights.length} log weights but ${logQ.length} log densities`);
  const finite: number[] = [];
  for (let i = 0; i < logQ.length; i++) if (Number.isFinite(logWeights[i]!) && Number.isFinite(logQ[i]!)) finite.push(i);
  const s = finite.length;
  const m = psisTailLength(s);
  if (m < PSIS_MIN_TAIL) return { slope: NaN, tail: m };
  // log weights more than FLOOR_NATS below the largest are raised to that floor: only large weights
  // make a heavy tail, and a tail where w falls towards 0 (the edge of the target's support) would
  // otherwise steer the fit
  let top = -Infinity;
  for (const i of finite) if (logWeights[i]! > top) top = logWeights[i]!;
  const floor = top - FLOOR_NATS;
  finite.sort((a, b) => logQ[a]! - logQ[b]!);
  const y = (j: number) => Math.max(logWeights[finite[j]!]!, floor);
  let mx = 0;
  let my = 0;
  for (let j = 0; j < m; j++) {
    mx -= logQ[finite[j]!]!;
    my += y(j);
  }
  mx /= m;
  my /= m;
  let sxy = 0;
  let sxx = 0;
  for (let j = 0; j < m; j++) {
    const dx = -logQ[finite[j]!]! - mx;
    sxy += dx * (y(j) - my);
    sxx += dx * dx;
  }
  return { slope: sxx > 0 ? sxy / sxx : NaN, tail: m };
}
