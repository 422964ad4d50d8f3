/**
 * Rational-quadratic neural spline flows (Durkin et al. 2019, "Neural Spline
 * Flows"): the elementwise splines and the coupling form (the
 * autoregressive form is in `spline-autoregressive.ts`).
 *
 * Each transformed coordinate goes through a monotone rational-quadratic
 * spline with K bins on [-B, B] and the identity outside (linear tails, so
 * the boundary derivatives are 1 and the map is C1 at ±B). A spline is set
 * by 3K - 1 unconstrained numbers per coordinate: K bin widths and K bin
 * heights (softmax, each at least a minimum fraction of 2B) and K - 1
 * interior knot derivatives (softplus, at least a minimum). The forward map,
 * the log-derivative and the exact inverse (the root of a quadratic in the
 * bin) are tfjs ops, so gradients reach the network's parameters.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../core/rng.js';
import type { Value } from '../core/value.js';
import { couplingMask } from './coupling.js';
import { FlowBijector, type FlowLayer, type FlowParams, dense, need, smallNormal } from './flow-bijector.js';

/** Shape settings of a rational-quadratic spline. */
export interface SplineShape {
  /** Number of bins K (at least 2). */
  readonly bins: number;
  /** The spline acts on [-bound, bound]; the identity outside. */
  readonly bound: number;
  /** Smallest bin width, as a fraction of 2 bound (K minWidth < 1). */
  readonly minWidth: number;
  /** Smallest bin height, as a fraction of 2 bound (K minHeight < 1). */
  readonly minHeight: number;
  /** Smallest knot derivative (below 1). */
  readonly minDerivative: number;
}

/**
 * The bins of splines, one spline per coordinate: `[..., K]` each. The left
 * edges run from -B; widths and heights sum to 2B.
 */
export interface SplineBins {
  /** Left edges of the bins (from -B). */
  readonly xLeft: tf.Tensor;
  /** Bin widths. */
  readonly widths: tf.Tensor;
  /** Values at the left edges (from -B). */
  readonly yLeft: tf.Tensor;
  /** Bin heights. */
  readonly heights: tf.Tensor;
  /** Derivatives at the left edges (1 for the first bin). */
  readonly dLeft: tf.Tensor;
  /** Derivatives at the right edges (1 for the last bin). */
  readonly dRight: tf.Tensor;
}

/** The bin of each point and where in it the point lies (all tensors of the points' shape). */
export interface SplineBin {
  /** Left knot of the bin. */
  readonly x0: tf.Tensor;
  /** Value at the left knot. */
  readonly y0: tf.Tensor;
  /** Bin width. */
  readonly w: tf.Tensor;
  /** Bin height. */
  readonly h: tf.Tensor;
  /** Derivative at the left knot. */
  readonly d0: tf.Tensor;
  /** Derivative at the right knot. */
  readonly d1: tf.Tensor;
  /** Position in the bin, `(x - x0) / w` in [0, 1]. */
  readonly xi: tf.Tensor;
}

/** Unconstrained spline parameters, per coordinate. */
export interface SplineRaw {
  /** `[..., K]`: bin widths before the softmax. */
  readonly widths: tf.Tensor;
  /** `[..., K]`: bin heights before the softmax. */
  readonly heights: tf.Tensor;
  /** `[..., K - 1]`: interior knot derivatives before the softplus. */
  readonly derivatives: tf.Tensor;
}

/** `[..., K] @ m` for a `[K, J]` matrix m (a matrix product: far faster than slices or cumsum on the CPU backends). */
function lastAxisTimes(t: tf.Tensor, m: tf.Tensor): tf.Tensor {
  const lead = t.shape.slice(0, -1);
  return tf.reshape(tf.matMul(tf.reshape(t, [-1, t.shape[t.rank - 1]!]), m), [...lead, m.shape[1]!]);
}

/** `[K, K]` with ones strictly above the diagonal: `t @ it` is the exclusive cumulative sum. */
function exclusiveCumsumMatrix(bins: number): tf.Tensor {
  return tf.tensor2d(Float32Array.from({ length: bins * bins }, (_, i) => (Math.floor(i / bins) < i % bins ? 1 : 0)), [bins, bins]);
}

/** Bin sizes `[..., K]` from raw values (a softmax floored at `min`, scaled to 2B) and their left edges from -B. */
function binSizes(raw: tf.Tensor, shape: SplineShape, min: number): { left: tf.Tensor; size: tf.Tensor } {
  const size = tf.mul(tf.add(min, tf.mul(1 - min * shape.bins, tf.softmax(raw))), 2 * shape.bound);
  return { size, left: tf.sub(lastAxisTimes(size, exclusiveCumsumMatrix(shape.bins)), shape.bound) };
}

/**
 * `[..., K]` from the interior derivatives `[..., K - 1]` placed from
 * position `offset` (1: after a leading 1, 0: before a trailing 1), by a
 * matrix product (the gradient of a concat is slow on the CPU backends).
 */
function withEndOne(inner: tf.Tensor, bins: number, offset: number): tf.Tensor {
  const place = tf.tensor2d(Float32Array.from({ length: (bins - 1) * bins }, (_, i) => (i % bins === Math.floor(i / bins) + offset ? 1 : 0)), [bins - 1, bins]);
  const end = tf.tensor1d(Float32Array.from({ length: bins }, (_, i) => (i === (offset === 1 ? 0 : bins - 1) ? 1 : 0)));
  return tf.add(lastAxisTimes(inner, place), end);
}

/**
 * The bins of the splines from raw parameters. All-zero raw parameters give
 * the identity: equal bins and unit derivatives.
 */
export function splineBins(raw: SplineRaw, shape: SplineShape): SplineBins {
  const k = shape.bins;
  const last = (t: tf.Tensor) => t.shape[t.rank - 1];
  if (last(raw.widths) !== k || last(raw.heights) !== k || last(raw.derivatives) !== k - 1) {
    throw new Error(`splineBins: expected raw widths and heights [..., ${k}] and derivatives [..., ${k - 1}] for ${k} bins, got [${raw.widths.shape.join(', ')}], [${raw.heights.shape.join(', ')}], [${raw.derivatives.shape.join(', ')}]`);
  }
  // softplus shifted so that a raw 0 gives derivative 1
  const shift = Math.log(Math.expm1(1 - shape.minDerivative));
  const inner = tf.add(shape.minDerivative, tf.softplus(tf.add(raw.derivatives, shift)));
  const x = binSizes(raw.widths, shape, shape.minWidth);
  const y = binSizes(raw.heights, shape, shape.minHeight);
  return { xLeft: x.left, widths: x.size, yLeft: y.left, heights: y.size, dLeft: withEndOne(inner, k, 1), dRight: withEndOne(inner, k, 0) };
}

/** The bin of each of `v` (clipped to [-B, B]) given the bins' left edges `[..., K]`, as one-hot weights `[..., K]`. */
function binOneHot(v: tf.Tensor, left: tf.Tensor, bins: number): tf.Tensor {
  // v >= left[0] = -B always: the bin is the count of left edges at or below v, less one
  const count = tf.sum(tf.cast(tf.greaterEqual(tf.expandDims(v, -1), left), 'int32'), -1);
  const idx = tf.cast(tf.clipByValue(tf.sub(count, 1), 0, bins - 1), 'int32');
  return tf.reshape(tf.oneHot(tf.reshape(idx, [-1]), bins), [...v.shape, bins]);
}

/** Pick each point's bin quantities; `xi` is left to the caller. */
function pick(bins: SplineBins, hot: tf.Tensor): Omit<SplineBin, 'xi'> {
  const at = (t: tf.Tensor) => tf.sum(tf.mul(t, hot), -1);
  return { x0: at(bins.xLeft), y0: at(bins.yLeft), w: at(bins.widths), h: at(bins.heights), d0: at(bins.dLeft), d1: at(bins.dRight) };
}

/** The bin's slope `s = h / w`, `t = xi (1 - xi)` and the denominator `s + (d0 + d1 - 2 s) t` shared by value and derivative. */
function binTerms(b: SplineBin): { s: tf.Tensor; t: tf.Tensor; den: tf.Tensor } {
  const s = tf.div(b.h, b.w);
  const t = tf.mul(b.xi, tf.sub(1, b.xi));
  return { s, t, den: tf.add(s, tf.mul(tf.sub(tf.add(b.d0, b.d1), tf.mul(2, s)), t)) };
}

/** The spline's value in the bin: `y0 + h (s xi^2 + d0 xi (1 - xi)) / den`. */
function binValue(b: SplineBin): tf.Tensor {
  const { s, t, den } = binTerms(b);
  const num = tf.add(tf.mul(s, tf.square(b.xi)), tf.mul(b.d0, t));
  return tf.add(b.y0, tf.div(tf.mul(b.h, num), den));
}

/**
 * log of the spline's derivative in the bin:
 * `2 log s + log(d1 xi^2 + 2 s xi (1 - xi) + d0 (1 - xi)^2) - 2 log(s + (d0 + d1 - 2 s) xi (1 - xi))`
 * with `s = h / w`.
 */
export function splineLogSlope(b: SplineBin): tf.Tensor {
  const { s, t, den } = binTerms(b);
  const num = tf.add(tf.add(tf.mul(b.d1, tf.square(b.xi)), tf.mul(tf.mul(2, s), t)), tf.mul(b.d0, tf.square(tf.sub(1, b.xi))));
  return tf.sub(tf.add(tf.mul(2, tf.log(s)), tf.log(num)), tf.mul(2, tf.log(den)));
}

/** Where each input falls: its bin, and whether it is inside [-B, B] (else the identity applies). */
export function splineBinForward(x: tf.Tensor, bins: SplineBins, shape: SplineShape): { bin: SplineBin; inside: tf.Tensor } {
  const xc = tf.clipByValue(x, -shape.bound, shape.bound);
  const p = pick(bins, binOneHot(xc, bins.xLeft, shape.bins));
  const xi = tf.clipByValue(tf.div(tf.sub(xc, p.x0), p.w), 0, 1);
  return { bin: { ...p, xi }, inside: tf.less(tf.abs(x), shape.bound) };
}

/**
 * The bin of the preimage of each `y`, with `xi` solved exactly from the
 * quadratic `a xi^2 + b xi + c = 0` (the numerically stable root
 * `2c / (-b - sqrt(b^2 - 4ac))`).
 */
export function splineBinInverse(y: tf.Tensor, bins: SplineBins, shape: SplineShape): { bin: SplineBin; inside: tf.Tensor } {
  const yc = tf.clipByValue(y, -shape.bound, shape.bound);
  const p = pick(bins, binOneHot(yc, bins.yLeft, shape.bins));
  const s = tf.div(p.h, p.w);
  const dy = tf.sub(yc, p.y0);
  const c2 = tf.sub(tf.add(p.d0, p.d1), tf.mul(2, s));
  const a = tf.add(tf.mul(p.h, tf.sub(s, p.d0)), tf.mul(dy, c2));
  const b = tf.sub(tf.mul(p.h, p.d0), tf.mul(dy, c2));
  const c = tf.neg(tf.mul(s, dy));
  const disc = tf.relu(tf.sub(tf.square(b), tf.mul(4, tf.mul(a, c))));
  const xi = tf.clipByValue(tf.div(tf.mul(2, c), tf.sub(tf.neg(b), tf.sqrt(disc))), 0, 1);
  return { bin: { ...p, xi }, inside: tf.less(tf.abs(y), shape.bound) };
}

/** The splines applied to each coordinate of `v [..., D]` (bins `[..., D, K]`), the identity outside [-B, B]. */
export function splineForward(v: tf.Tensor, bins: SplineBins, shape: SplineShape): tf.Tensor {
  const { bin, inside } = splineBinForward(v, bins, shape);
  return tf.where(inside, binValue(bin), v);
}

/** The inverse of {@link splineForward} (exact: the root of each bin's quadratic). */
export function splineInverse(v: tf.Tensor, bins: SplineBins, shape: SplineShape): tf.Tensor {
  const { bin, inside } = splineBinInverse(v, bins, shape);
  return tf.where(inside, tf.add(bin.x0, tf.mul(bin.xi, bin.w)), v);
}

/** The log-derivative of each coordinate's spline at `x [..., D]`: {@link splineLogSlope} inside [-B, B], 0 in the tails. */
export function splineLogSlopes(x: tf.Tensor, bins: SplineBins, shape: SplineShape, logSlope: (bin: SplineBin) => tf.Tensor = splineLogSlope): tf.Tensor {
  const { bin, inside } = splineBinForward(x, bins, shape);
  return tf.where(inside, logSlope(bin), tf.zerosLike(x));
}

/** Names of the output heads of a spline conditioner: widths, heights, derivatives (weights and biases). */
const HEADS = [
  ['ww', 'bw'],
  ['wh', 'bh'],
  ['wd', 'bd'],
] as const;

/** Raw parameters per coordinate of each head: K, K, K - 1. */
function headSizes(bins: number): [number, number, number] {
  return [bins, bins, bins - 1];
}

/** Zero output heads `[H, D P]` and `[D P]` for a new spline conditioner (so a new layer is the identity). */
export function splineHeadInit(hidden: number, dim: number, bins: number): Record<string, tf.Tensor> {
  const out: Record<string, tf.Tensor> = {};
  headSizes(bins).forEach((per, i) => {
    const [w, b] = HEADS[i]!;
    out[w] = tf.zeros([hidden, dim * per]);
    out[b] = tf.zeros([dim * per]);
  });
  return out;
}

/**
 * The bins `[..., D, K]` from hidden activations `h [..., H]` through the
 * output heads (`ww`, `bw`, `wh`, `bh`, `wd`, `bd`); `headMask` masks each
 * head's weights `[H, D P]` (MADE), given P.
 */
export function splineHeads(who: string, h: tf.Tensor, params: FlowParams, dim: number, shape: SplineShape, headMask?: (per: number) => tf.Tensor): SplineBins {
  const lead = h.shape.slice(0, -1);
  // one output head per kind of raw parameter (splitting one output is slow on the CPU backends)
  const [widths, heights, derivatives] = headSizes(shape.bins).map((per, i) => {
    const [wName, bName] = HEADS[i]!;
    const w = need(who, params, wName);
    return tf.reshape(dense(h, headMask ? tf.mul(w, headMask(per)) : w, need(who, params, bName)), [...lead, dim, per]);
  }) as [tf.Tensor, tf.Tensor, tf.Tensor];
  return splineBins({ widths, heights, derivatives }, shape);
}

/**
 * Rational-quadratic spline coupling: with a binary mask m, the masked
 * coordinates pass through and, via a one-hidden-layer tanh network, set
 * the splines of the others. `log|det J|` is the sum of the transformed
 * coordinates' log-derivatives. The output layer starts at zero, so a new
 * layer is the identity. For D = 1 nothing conditions: the spline is a free
 * elementwise one (set by the network's biases).
 */
export class SplineCouplingBijector extends FlowBijector {
  readonly name = 'SplineCoupling';

  /**
   * @param mask - `[D]` of 0/1: 1 for the conditioning coordinates
   * @param params - `w1 [D, H]`, `b1 [H]`; output heads `ww [H, D K]`, `bw [D K]` (widths),
   *   `wh`, `bh` (heights, the same shapes), `wd [H, D (K - 1)]`, `bd [D (K - 1)]` (derivatives)
   * @param shape - bins, bound and minimum sizes
   */
  constructor(readonly mask: tf.Tensor, private readonly params: FlowParams, readonly shape: SplineShape) {
    super(mask.shape[0]!);
  }

  /** Bins `[..., D, K]` of every coordinate's spline, from the conditioning coordinates. */
  private bins(v: tf.Tensor): SplineBins {
    const h = tf.tanh(dense(tf.mul(v, this.mask), need(this.name, this.params, 'w1'), need(this.name, this.params, 'b1')));
    return splineHeads(this.name, h, this.params, this.dim, this.shape);
  }

  /** log-derivative of each coordinate's spline in its bin (the one term a wrong Jacobian would get wrong). */
  protected logSlope(bin: SplineBin): tf.Tensor {
    return splineLogSlope(bin);
  }

  /** Keep the conditioning coordinates of `v`, the others from `value`. */
  private merge(v: tf.Tensor, value: tf.Tensor): tf.Tensor {
    return tf.add(tf.mul(this.mask, v), tf.mul(tf.sub(1, this.mask), value));
  }

  forward(x: Value): Value {
    const v = this.vec(x);
    return this.merge(v, splineForward(v, this.bins(v), this.shape));
  }

  inverse(y: Value): Value {
    const v = this.vec(y);
    return this.merge(v, splineInverse(v, this.bins(v), this.shape));
  }

  logDetJacobian(x: Value): Value {
    const v = this.vec(x);
    const ls = splineLogSlopes(v, this.bins(v), this.shape, (bin) => this.logSlope(bin));
    return tf.sum(tf.mul(ls, tf.sub(1, this.mask)), -1);
  }
}

/** Options shared by the spline layers. */
export interface SplineOptions {
  /** Bins K (default 8). */
  readonly bins?: number;
  /** The spline acts on [-bound, bound] (default 3); identity outside. */
  readonly bound?: number;
  /** Smallest bin width and height, as fractions of 2 bound (default 1e-3). */
  readonly minBin?: number;
  /** Smallest knot derivative (default 1e-3). */
  readonly minDerivative?: number;
}

/** Options of {@link splineCoupling}. */
export interface SplineCouplingOptions extends SplineOptions {
  /** Hidden units of the conditioner (default 16). */
  readonly hidden?: number;
  /** Condition on the second half instead of the first (alternate layers). */
  readonly flip?: boolean;
}

/** Validated spline settings from the options, or an error naming the layer and the bad option. */
export function splineShapeOf(who: string, options: SplineOptions): SplineShape {
  const bins = options.bins ?? 8;
  const bound = options.bound ?? 3;
  const minBin = options.minBin ?? 1e-3;
  const minDerivative = options.minDerivative ?? 1e-3;
  if (!Number.isInteger(bins) || bins < 2) throw new RangeError(`${who}: bins must be an integer >= 2, got ${bins}`);
  if (!(bound > 0) || !Number.isFinite(bound)) throw new RangeError(`${who}: bound must be positive and finite, got ${bound}`);
  if (!(minBin > 0) || !(minBin * bins < 1)) throw new RangeError(`${who}: minBin must be in (0, 1/bins), got ${minBin}`);
  if (!(minDerivative > 0) || !(minDerivative < 1)) throw new RangeError(`${who}: minDerivative must be in (0, 1), got ${minDerivative}`);
  return { bins, bound, minWidth: minBin, minHeight: minBin, minDerivative };
}

/** The rational-quadratic spline coupling layer (conditioning half chosen by `flip`). */
export function splineCoupling(options: SplineCouplingOptions = {}): FlowLayer {
  const shape = splineShapeOf('splineCoupling', options);
  const hidden = options.hidden ?? 16;
  if (!Number.isInteger(hidden) || hidden < 1) throw new RangeError(`splineCoupling: hidden must be a positive integer, got ${hidden}`);
  return {
    name: 'splineCoupling',
    init: (dim: number, rng: Rng) => ({
      w1: smallNormal(rng, [dim, hidden], 1 / Math.sqrt(dim)),
      b1: tf.zeros([hidden]),
      ...splineHeadInit(hidden, dim, shape.bins),
    }),
    build: (dim: number, p: FlowParams) => new SplineCouplingBijector(couplingMask(dim, options.flip ?? false), p, shape),
  };
}
