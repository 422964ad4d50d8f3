/**
 * Two-dimensional target densities with exact samplers, for checking
 * density estimators (flows fitted to samples) and variational guides
 * (flows fitted to a log density):
 *
 * - {@link banana}: a ~ N(0, 1), b ~ N(a^2 - 1, 0.5^2);
 * - {@link twoMoons}: an equal mixture of two interleaved arcs (as in
 *   scikit-learn's `make_moons`, centred), each a ring of radius 1 with
 *   Gaussian radial noise and a von Mises angle;
 * - {@link ringMixture}: equal Gaussians with centres evenly spaced on a
 *   circle (the "8 Gaussians" of the flow literature).
 *
 * Every density here is normalised in closed form (`logZ = 0`); a
 * {@link Target2D} of your own may carry an unnormalised density and its
 * log normaliser, which {@link quadratureLogZ} computes on a grid.
 * {@link histogramChiSquare} tests that draws follow a density (a target's
 * sampler against its log density, or a fitted flow's sampler against its
 * `logProb`); {@link targetDistribution} wraps a target as a distribution, so
 * that `sample('x', targetDistribution(t))` is a model whose posterior is
 * the target; {@link gaussianMle} is the Gaussian baseline a flow should beat.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../core/rng.js';
import { normalCdfNumber } from '../core/special.js';
import { type Value, type ValueLike, logSumExp } from '../core/value.js';
import { realVector } from '../distributions/constraints.js';
import { Distribution, type Typed, valueArg } from '../distributions/distribution.js';
import { eventValue } from '../distributions/event-density.js';
import { MultivariateNormal, type MultivariateNormalDistribution } from '../distributions/multivariate-normal.js';
import { type ChiSquareResult, chiSquareSurvival } from './uniformity.js';

const LOG_2PI = Math.log(2 * Math.PI);

/** A box `[xmin, xmax, ymin, ymax]`. */
export type Box2D = readonly [number, number, number, number];

/** A density on R^2 with an exact sampler. */
export interface Target2D {
  /** A short name, e.g. `twoMoons`. */
  readonly name: string;
  /** log density (unnormalised when {@link logZ} is not 0) of points `[..., 2]`, shape `[...]`; differentiable. */
  logDensity(x: tf.Tensor): tf.Tensor;
  /** log of the integral of exp(logDensity) over R^2 (0 for a normalised density). */
  readonly logZ: number;
  /** `n` independent exact draws, row-major `[x0, y0, x1, y1, ...]`. */
  sample(n: number, rng: Rng): Float64Array;
  /** A box holding all but a negligible mass (below 1e-4) of the target, for quadrature and histograms. */
  readonly box: Box2D;
}

function positiveNumber(where: string, name: string, x: number): void {
  if (!(x > 0) || !Number.isFinite(x)) throw new RangeError(`${where}: ${name} must be a positive finite number, got ${x}`);
}

function checkCount(where: string, n: number): void {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`${where}: the number of draws must be a nonnegative integer, got ${n}`);
}

/** The two coordinates of points `[..., 2]`, each `[...]`, or an error naming `where`. */
function coordinates(where: string, x: tf.Tensor): [tf.Tensor, tf.Tensor] {
  if (x.rank < 1 || x.shape[x.rank - 1] !== 2) throw new Error(`${where}: expected points of shape [..., 2], got shape [${x.shape.join(', ')}]`);
  const [a, b] = tf.unstack(x, x.rank - 1);
  return [a!, b!];
}

/** log sum exp of same-shaped tensors, elementwise. */
function logSumExpOf(terms: tf.Tensor[]): tf.Tensor {
  return tf.logSumExp(tf.stack(terms, -1), -1);
}

/** Options of {@link banana}. */
export interface BananaOptions {
  /** The conditional standard deviation of b given a (default 0.5). */
  readonly noise?: number;
}

/** The banana a ~ N(0, 1), b ~ N(a^2 - 1, noise^2) over points (a, b); normalised. */
export function banana(options: BananaOptions = {}): Target2D {
  const s = options.noise ?? 0.5;
  positiveNumber('banana', 'noise', s);
  return {
    name: 'banana',
    logZ: 0,
    box: [-4.5, 4.5, -1 - 8 * s, 20 + 8 * s],
    logDensity: (x) =>
      tf.tidy(() => {
        const [a, b] = coordinates('banana.logDensity', x);
        const r = tf.div(tf.sub(b, tf.sub(tf.square(a), 1)), s);
        return tf.sub(tf.mul(tf.add(tf.square(a), tf.square(r)), -0.5), LOG_2PI + Math.log(s));
      }),
    sample: (n, rng) => {
      checkCount('banana.sample', n);
      const out = new Float64Array(2 * n);
      for (let i = 0; i < n; i++) {
        const a = rng.normal();
        out[2 * i] = a;
        out[2 * i + 1] = a * a - 1 + s * rng.normal();
      }
      return out;
    },
  };
}

/** log I0(k), the modified Bessel function of the first kind of order 0, by its power series. */
export function logBesselI0(k: number): number {
  if (!(k >= 0) || !Number.isFinite(k)) throw new RangeError(`logBesselI0: the argument must be a nonnegative finite number, got ${k}`);
  if (k > 500) throw new RangeError(`logBesselI0: the argument ${k} is too large for the series (at most 500)`);
  // I0(k) = sum_j ((k/2)^j / j!)^2: the terms grow up to j ~ k/2, then fall faster than geometrically
  const logTerms = [0];
  let lt = 0;
  let top = 0;
  for (let j = 1; j <= 100000; j++) {
    lt += 2 * (Math.log(k / 2) - Math.log(j));
    logTerms.push(lt);
    top = Math.max(top, lt);
    if (j > k && lt < top - 40) break;
  }
  return logSumExp(logTerms);
}

/** Options of {@link twoMoons}. */
export interface TwoMoonsOptions {
  /** Standard deviation of the radial noise about each unit arc (default 0.1). */
  readonly noise?: number;
  /** Concentration of each moon's von Mises angle about its midpoint (default 2). */
  readonly concentration?: number;
}

/**
 * Two moons: an equal mixture of two arcs, one opening downwards around
 * (-0.5, -0.25) and one opening upwards around (0.5, 0.25). Each arc is
 * x = c + r (cos phi, sin phi) with phi von Mises about its midpoint (pi/2
 * and -pi/2, concentration k) and radial density proportional to
 * r exp(-(r - 1)^2 / (2 s^2)) on r > 0, so that the planar density is
 *
 *     p(x) = exp(-(|x - c| - 1)^2 / (2 s^2)) exp(k cos(phi - mu)) / (Z_r 2 pi I0(k)),
 *     Z_r = s^2 exp(-1 / (2 s^2)) + s sqrt(2 pi) Phi(1 / s),
 *
 * closed form and normalised. Draws are exact (rejection: the angle from a
 * uniform proposal, the radius from N(1 + s^2, s^2), accepted with
 * probability r exp(1 - r)). The density is smooth except at the two arc
 * centres, where it is about exp(-1 / (2 s^2)) (its gradient there is NaN).
 */
export function twoMoons(options: TwoMoonsOptions = {}): Target2D {
  const s = options.noise ?? 0.1;
  const k = options.concentration ?? 2;
  positiveNumber('twoMoons', 'noise', s);
  if (s > 0.5) throw new RangeError(`twoMoons: noise must be at most 0.5 (the arcs have radius 1), got ${s}`);
  if (!(k >= 0) || !Number.isFinite(k) || k > 50) throw new RangeError(`twoMoons: concentration must be a number in [0, 50], got ${k}`);
  const logZr = Math.log(s * s * Math.exp(-1 / (2 * s * s)) + s * Math.sqrt(2 * Math.PI) * normalCdfNumber(1 / s));
  const logNorm = logZr + LOG_2PI + logBesselI0(k) + Math.log(2); // the last term: mixture weight 1/2
  const moons = [
    { cx: -0.5, cy: -0.25, mu: Math.PI / 2 },
    { cx: 0.5, cy: 0.25, mu: -Math.PI / 2 },
  ];
  return {
    name: 'twoMoons',
    logZ: 0,
    box: [-1.5 - 5 * s, 1.5 + 5 * s, -1.25 - 5 * s, 1.25 + 5 * s],
    logDensity: (x) =>
      tf.tidy(() => {
        const [a, b] = coordinates('twoMoons.logDensity', x);
        const terms = moons.map(({ cx, cy, mu }) => {
          const dx = tf.sub(a, cx);
          const dy = tf.sub(b, cy);
          const r = tf.sqrt(tf.add(tf.square(dx), tf.square(dy)));
          // cos(phi - mu) = (dx cos mu + dy sin mu) / r; 0 / 0 at the centre is read as 0
          const cosine = tf.div(tf.add(tf.mul(dx, Math.cos(mu)), tf.mul(dy, Math.sin(mu))), tf.maximum(r, 1e-30));
          return tf.sub(tf.add(tf.mul(tf.square(tf.sub(r, 1)), -0.5 / (s * s)), tf.mul(cosine, k)), logNorm);
        });
        return logSumExpOf(terms);
      }),
    sample: (n, rng) => {
      checkCount('twoMoons.sample', n);
      const out = new Float64Array(2 * n);
      for (let i = 0; i < n; i++) {
        const { cx, cy, mu } = moons[rng.uniform() < 0.5 ? 0 : 1]!;
        let phi: number;
        do phi = mu + Math.PI * (2 * rng.uniform() - 1);
        while (rng.uniform() >= Math.exp(k * (Math.cos(phi - mu) - 1)));
        let r: number;
        do r = 1 + s * s + s * rng.normal();
        while (r <= 0 || rng.uniform() >= r * Math.exp(1 - r));
        out[2 * i] = cx + r * Math.cos(phi);
        out[2 * i + 1] = cy + r * Math.sin(phi);
      }
      return out;
    },
  };
}

/** Options of {@link ringMixture}. */
export interface RingMixtureOptions {
  /** Number of components (default 8). */
  readonly components?: number;
  /** Radius of the circle of centres (default 2). */
  readonly radius?: number;
  /** Standard deviation of each isotropic component (default 0.25). */
  readonly sd?: number;
}

/** An equal mixture of isotropic Gaussians centred at radius * (cos 2 pi j / m, sin 2 pi j / m); normalised. */
export function ringMixture(options: RingMixtureOptions = {}): Target2D {
  const m = options.components ?? 8;
  const R = options.radius ?? 2;
  const sd = options.sd ?? 0.25;
  if (!Number.isInteger(m) || m < 1 || m > 64) throw new RangeError(`ringMixture: components must be an integer in 1..64, got ${m}`);
  if (!(R >= 0) || !Number.isFinite(R)) throw new RangeError(`ringMixture: radius must be a nonnegative finite number, got ${R}`);
  positiveNumber('ringMixture', 'sd', sd);
  const centres = Array.from({ length: m }, (_, j) => [R * Math.cos((2 * Math.PI * j) / m), R * Math.sin((2 * Math.PI * j) / m)] as const);
  const c = Math.log(m) + LOG_2PI + 2 * Math.log(sd);
  const half = R + 6 * sd;
  return {
    name: 'ringMixture',
    logZ: 0,
    box: [-half, half, -half, half],
    logDensity: (x) =>
      tf.tidy(() => {
        const [a, b] = coordinates('ringMixture.logDensity', x);
        const terms = centres.map(([u, v]) => tf.sub(tf.mul(tf.add(tf.square(tf.sub(a, u)), tf.square(tf.sub(b, v))), -0.5 / (sd * sd)), c));
        return logSumExpOf(terms);
      }),
    sample: (n, rng) => {
      checkCount('ringMixture.sample', n);
      const out = new Float64Array(2 * n);
      for (let i = 0; i < n; i++) {
        const [u, v] = centres[rng.int(m)]!;
        out[2 * i] = u + sd * rng.normal();
        out[2 * i + 1] = v + sd * rng.normal();
      }
      return out;
    },
  };
}

function checkBox(where: string, box: Box2D): void {
  const [x0, x1, y0, y1] = box;
  if (![x0, x1, y0, y1].every(Number.isFinite) || !(x1 > x0) || !(y1 > y0)) throw new RangeError(`${where}: box must be [xmin, xmax, ymin, ymax] with xmin < xmax and ymin < ymax, got [${box.join(', ')}]`);
}

/**
 * log density at the midpoints of an `nx` by `ny` grid over `box`, row-major
 * by y then x (index `j * nx + i` for x cell i and y cell j), in float64.
 */
function gridLogDensity(logDensity: (x: tf.Tensor) => tf.Tensor, box: Box2D, nx: number, ny: number): Float64Array {
  const [x0, x1, y0, y1] = box;
  const hx = (x1 - x0) / nx;
  const hy = (y1 - y0) / ny;
  const out = new Float64Array(nx * ny);
  const rowsPerChunk = Math.max(1, Math.floor(65536 / nx));
  for (let j0 = 0; j0 < ny; j0 += rowsPerChunk) {
    const rows = Math.min(rowsPerChunk, ny - j0);
    const pts = new Float32Array(2 * rows * nx);
    for (let j = 0; j < rows; j++) {
      for (let i = 0; i < nx; i++) {
        pts[2 * (j * nx + i)] = x0 + (i + 0.5) * hx;
        pts[2 * (j * nx + i) + 1] = y0 + (j0 + j + 0.5) * hy;
      }
    }
    const lp = tf.tidy(() => logDensity(tf.tensor2d(pts, [rows * nx, 2])));
    if (lp.size !== rows * nx) {
      lp.dispose();
      throw new Error(`gridLogDensity: logDensity of ${rows * nx} points returned shape [${lp.shape.join(', ')}]`);
    }
    out.set(lp.dataSync(), j0 * nx);
    lp.dispose();
  }
  for (let i = 0; i < out.length; i++) if (Number.isNaN(out[i])) throw new Error(`quadrature: the log density is NaN at grid point ${i} of box [${box.join(', ')}]`);
  return out;
}

/**
 * log of the integral of exp(logDensity) over `box` by the midpoint rule on
 * an `n` by `n` grid (default 512): the log normaliser of a 2-D density whose
 * mass outside the box is negligible.
 */
export function quadratureLogZ(logDensity: (x: tf.Tensor) => tf.Tensor, box: Box2D, n = 512): number {
  checkBox('quadratureLogZ', box);
  if (!Number.isInteger(n) || n < 2) throw new RangeError(`quadratureLogZ: n must be an integer >= 2, got ${n}`);
  const lp = gridLogDensity(logDensity, box, n, n);
  return logSumExp(lp) + Math.log(((box[1] - box[0]) / n) * ((box[3] - box[2]) / n));
}

/** Options of {@link histogramChiSquare}. */
export interface HistogramChiSquareOptions {
  /** Cells per axis over the box (default 20). */
  readonly bins?: number;
  /** Quadrature points per cell and axis (default 8). */
  readonly sub?: number;
  /** Cells expecting fewer draws than this are pooled into one cell, together with the outside of the box (default 5). */
  readonly minExpected?: number;
  /** log normaliser of the density (default 0: normalised). */
  readonly logZ?: number;
}

/**
 * Pearson's chi-square test that 2-D draws (`[n, 2]` tensor or row-major
 * numbers) follow a density: the box is cut into `bins` by `bins` cells whose
 * probabilities come from quadrature of exp(logDensity - logZ); the outside
 * of the box gets the remaining probability (so a wrong normaliser fails
 * too), and cells expecting fewer than `minExpected` draws are pooled. The
 * quadrature error must be small against the sampling noise: refine `sub`
 * for sharp densities.
 */
export function histogramChiSquare(logDensity: (x: tf.Tensor) => tf.Tensor, draws: tf.Tensor | ArrayLike<number>, box: Box2D, options: HistogramChiSquareOptions = {}): ChiSquareResult {
  checkBox('histogramChiSquare', box);
  const bins = options.bins ?? 20;
  const sub = options.sub ?? 8;
  const minExpected = options.minExpected ?? 5;
  const logZ = options.logZ ?? 0;
  if (!Number.isInteger(bins) || bins < 1) throw new RangeError(`histogramChiSquare: bins must be a positive integer, got ${bins}`);
  if (!Number.isInteger(sub) || sub < 1) throw new RangeError(`histogramChiSquare: sub must be a positive integer, got ${sub}`);
  if (!Number.isFinite(logZ)) throw new RangeError(`histogramChiSquare: logZ must be finite, got ${logZ}`);
  let xy: ArrayLike<number>;
  if (draws instanceof tf.Tensor) {
    if (draws.rank !== 2 || draws.shape[1] !== 2) throw new Error(`histogramChiSquare: draws must have shape [n, 2], got [${draws.shape.join(', ')}]`);
    xy = draws.dataSync();
  } else {
    if (draws.length % 2 !== 0) throw new Error(`histogramChiSquare: row-major draws need an even length, got ${draws.length}`);
    xy = draws;
  }
  const n = xy.length / 2;
  if (n < 1) throw new RangeError('histogramChiSquare: no draws');
  const [x0, x1, y0, y1] = box;
  const cells = bins * bins;
  // cell probabilities
  const fine = bins * sub;
  const lp = gridLogDensity(logDensity, box, fine, fine);
  const area = ((x1 - x0) / fine) * ((y1 - y0) / fine);
  const prob = new Float64Array(cells + 1);
  for (let j = 0; j < fine; j++) for (let i = 0; i < fine; i++) prob[Math.floor(j / sub) * bins + Math.floor(i / sub)]! += Math.exp(lp[j * fine + i]! - logZ) * area;
  let inside = 0;
  for (let c = 0; c < cells; c++) inside += prob[c]!;
  prob[cells] = Math.max(0, 1 - inside);
  // observed counts (the last cell: outside the box)
  const counts = new Float64Array(cells + 1);
  for (let t = 0; t < n; t++) {
    const u = xy[2 * t]!;
    const v = xy[2 * t + 1]!;
    if (!Number.isFinite(u) || !Number.isFinite(v)) throw new Error(`histogramChiSquare: draw ${t} is (${u}, ${v})`);
    const i = Math.floor(((u - x0) / (x1 - x0)) * bins);
    const j = Math.floor(((v - y0) / (y1 - y0)) * bins);
    counts[i >= 0 && i < bins && j >= 0 && j < bins ? j * bins + i : cells]! += 1;
  }
  // pool the sparse cells
  const obs: number[] = [];
  const exp: number[] = [];
  let pooledO = 0;
  let pooledE = 0;
  for (let c = 0; c <= cells; c++) {
    const e = n * prob[c]!;
    if (e >= minExpected) {
      obs.push(counts[c]!);
      exp.push(e);
    } else {
      pooledO += counts[c]!;
      pooledE += e;
    }
  }
  if (pooledO > 0 || pooledE > 0) {
    obs.push(pooledO);
    exp.push(Math.max(pooledE, 1e-300));
  }
  if (obs.length < 2) throw new RangeError(`histogramChiSquare: fewer than 2 cells expect ${minExpected} draws; use more draws or fewer bins`);
  let statistic = 0;
  for (let c = 0; c < obs.length; c++) statistic += (obs[c]! - exp[c]!) ** 2 / exp[c]!;
  const df = obs.length - 1;
  return { counts: Int32Array.from(obs), expected: Float64Array.from(exp), statistic, df, pValue: chiSquareSurvival(statistic, df) };
}

/** A {@link Target2D} as a distribution over vectors of length 2 (see {@link targetDistribution}). */
export class Target2DDistribution extends Distribution {
  readonly name: string;
  readonly batchShape: readonly number[] = [];
  override readonly eventShape: readonly number[] = [2];
  readonly support = realVector;

  constructor(readonly target: Target2D) {
    super();
    this.name = `Target2D(${target.name})`;
  }

  sample(rng: Rng, sampleShape: readonly number[] = []): Value {
    const n = sampleShape.reduce((a, b) => a * b, 1);
    return tf.tensor(Float32Array.from(this.target.sample(n, rng)), [...sampleShape, 2]);
  }

  /** The normalised log density, logDensity - logZ. */
  logProb(valueLike: ValueLike): Value {
    const x = eventValue(`${this.name}.logProb`, valueArg(this, 'logProb', valueLike), this.eventShape);
    return tf.tidy(() => tf.sub(this.target.logDensity(x), this.target.logZ));
  }
}

/** The target as a distribution (event shape [2], log density normalised by its `logZ`), for `sample('x', ...)` in a model. */
export function targetDistribution(target: Target2D): Target2DDistribution & Typed<tf.Tensor> {
  return new Target2DDistribution(target);
}

/**
 * The maximum-likelihood Gaussian of points `[n, D]` (covariance divided by
 * n), full or (with `diagonal`) mean-field: the baseline of density
 * estimation.
 */
export function gaussianMle(points: tf.Tensor, options: { diagonal?: boolean } = {}): MultivariateNormalDistribution {
  if (points.rank !== 2 || points.shape[0]! < 2) throw new Error(`gaussianMle: points must have shape [n, D] with n >= 2, got [${points.shape.join(', ')}]`);
  const [n] = points.shape as [number, number];
  let fitted: MultivariateNormalDistribution | undefined;
  tf.tidy(() => {
    const mean = tf.mean(points, 0);
    const c = tf.sub(points, mean);
    const cov = options.diagonal ? tf.diag(tf.div(tf.sum(tf.square(c), 0), n)) : tf.div(tf.matMul(c, c, true, false), n);
    fitted = MultivariateNormal(mean, { covariance: cov });
    tf.keep(fitted.loc);
    tf.keep(fitted.scaleTril);
  });
  return fitted!;
}
