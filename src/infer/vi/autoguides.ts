/**
 * The autoguide families over the unconstrained latent vector z in R^D:
 *
 * | guide | q(z) | parameters |
 * | --- | --- | --- |
 * | {@link AutoDelta} | point mass at `loc` (MAP in the model's own space) | `loc` |
 * | {@link AutoNormal} | N(loc, diag(scale^2)), mean field | `loc`, `scale` |
 * | {@link AutoMultivariateNormal} | N(loc, L L^T), full rank | `loc`, `scaleTrilOffDiag`, `scaleDiag` |
 * | {@link AutoLowRankMultivariateNormal} | N(loc, W W^T + diag(d)) | `loc`, `covFactor`, `covDiag` |
 *
 * Parameter names are `prefix.name` (`auto.loc`, ...).
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../../core/rng.js';
import { positive, real } from '../../distributions/constraints.js';
import { cholesky, diagPart, solveLower } from '../../distributions/linalg.js';
import { AutoGuide, type AutoGuideOptions, type LatentDraws, type UnconstrainedMoments } from './autoguide.js';
import { AutoFlow } from './auto-flow.js';
import type { ParamStore } from './param-store.js';

const LOG_2PI = Math.log(2 * Math.PI);

/** log N(z; loc, diag(scale^2)) summed over the last axis of z `[S, D]`. */
function diagNormalLogDensity(z: tf.Tensor, loc: tf.Tensor, scale: tf.Tensor): tf.Tensor {
  const w = tf.div(tf.sub(z, loc), scale);
  const d = z.shape[1]!;
  return tf.sub(tf.mul(tf.sum(tf.square(w), 1), -0.5), tf.add(tf.sum(tf.log(scale)), 0.5 * d * LOG_2PI));
}

/** log N(w; 0, I) of draws w `[S, D]`. */
function standardLogDensity(w: tf.Tensor): tf.Tensor {
  const d = w.shape[1]!;
  return tf.sub(tf.mul(tf.sum(tf.square(w), 1), -0.5), 0.5 * d * LOG_2PI);
}

/** Row-major D x D covariance from a factor F `[D, k]`: F F^T (plus a diagonal). */
function covarianceOf(factor: tf.Tensor, diag?: tf.Tensor): Float64Array {
  const c = tf.tidy(() => {
    const ff = tf.matMul(factor, factor, false, true);
    return diag ? tf.add(ff, diagMatrix(diag)) : ff;
  });
  const out = Float64Array.from(c.dataSync());
  c.dispose();
  return out;
}

/**
 * A point mass at `loc` (MAP estimation). The guide's density is taken as 0
 * in the model's constrained space, so maximising the ELBO maximises the
 * model's log joint there, as Pyro's and NumPyro's AutoDelta do.
 */
export class AutoDelta extends AutoGuide {
  readonly name = 'AutoDelta';
  protected override readonly jacobian = false;

  protected createParams(store: ParamStore, loc: Float64Array): void {
    store.create(this.paramName('loc'), tf.tensor1d(Float32Array.from(loc)), real);
  }

  protected sampleLatent(size: number, _rng: Rng, store: ParamStore): LatentDraws {
    const loc = this.read(store, 'loc');
    return { z: tf.tile(tf.expandDims(loc, 0), [size, 1]), logQ: tf.zeros([size]) };
  }

  moments(store: ParamStore): UnconstrainedMoments {
    const loc = this.paramArray(store, 'loc');
    return { loc, covariance: new Float64Array(loc.length * loc.length), names: this.layout.names };
  }
}

/** Mean-field Gaussian: independent normals over the unconstrained coordinates. */
export class AutoNormal extends AutoGuide {
  readonly name = 'AutoNormal';

  protected createParams(store: ParamStore, loc: Float64Array): void {
    store.create(this.paramName('loc'), tf.tensor1d(Float32Array.from(loc)), real);
    store.create(this.paramName('scale'), tf.fill([loc.length], this.initScale), positive);
  }

  override reparameterize(eps: tf.Tensor, store: ParamStore): { z: tf.Tensor; logDet: tf.Tensor } {
    const scale = this.read(store, 'scale');
    return { z: tf.add(this.read(store, 'loc'), tf.mul(scale, eps)), logDet: tf.broadcastTo(tf.sum(tf.log(scale)), [eps.shape[0]!]) };
  }

  protected sampleLatent(size: number, rng: Rng, store: ParamStore, detach: boolean): LatentDraws {
    const eps = this.normals(rng, size, this.layout.dim);
    const { z, logDet } = this.reparameterize(eps, store);
    const logQ = detach ? diagNormalLogDensity(z, this.read(store, 'loc', true), this.read(store, 'scale', true)) : tf.sub(standardLogDensity(eps), logDet);
    return { z, logQ };
  }

  moments(store: ParamStore): UnconstrainedMoments {
    const loc = this.paramArray(store, 'loc');
    const scale = this.paramArray(store, 'scale');
    const d = loc.length;
    const covariance = new Float64Array(d * d);
    for (let i = 0; i < d; i++) covariance[i * d + i] = scale[i] * scale[i];
    return { loc, covariance, names: this.layout.names };
  }

  /** The unconstrained location and scale vectors (no dense covariance: cheap to read during a fit). */
  locScale(store: ParamStore): { loc: Float64Array; scale: Float64Array } {
    return { loc: this.paramArray(store, 'loc'), scale: this.paramArray(store, 'scale') };
  }
}

/** diag(v) as a matrix, by a broadcast product (tfjs registers no gradient for `tf.diag`). */
function diagMatrix(v: tf.Tensor): tf.Tensor {
  return tf.mul(tf.eye(v.shape[0]!), tf.expandDims(v, 0));
}

/** The strictly lower triangle of a square matrix (a mask product: differentiable on every backend). */
function strictLower(m: tf.Tensor): tf.Tensor {
  const d = m.shape[0]!;
  const mask = tf.tensor2d(Float32Array.from({ length: d * d }, (_, k) => (Math.floor(k / d) > k % d ? 1 : 0)), [d, d]);
  return tf.mul(m, mask);
}

/**
 * Full-rank Gaussian N(loc, L L^T). The Cholesky factor is
 * L = strictlyLower(`scaleTrilOffDiag`) + diag(`scaleDiag`), with a positive
 * diagonal: the same family as a `lowerCholesky` parameter, built from
 * elementwise ops only (no gathers, so it differentiates on every backend).
 */
export class AutoMultivariateNormal extends AutoGuide {
  readonly name = 'AutoMultivariateNormal';

  protected createParams(store: ParamStore, loc: Float64Array): void {
    const d = loc.length;
    store.create(this.paramName('loc'), tf.tensor1d(Float32Array.from(loc)), real);
    store.create(this.paramName('scaleTrilOffDiag'), tf.zeros([d, d]), real);
    store.create(this.paramName('scaleDiag'), tf.fill([d], this.initScale), positive);
  }

  /** The Cholesky factor L. */
  private scaleTril(store: ParamStore, detach = false): tf.Tensor {
    return tf.add(strictLower(this.read(store, 'scaleTrilOffDiag', detach)), diagMatrix(this.read(store, 'scaleDiag', detach)));
  }

  override reparameterize(eps: tf.Tensor, store: ParamStore): { z: tf.Tensor; logDet: tf.Tensor } {
    const z = tf.add(this.read(store, 'loc'), tf.matMul(eps, this.scaleTril(store), false, true));
    return { z, logDet: tf.broadcastTo(tf.sum(tf.log(this.read(store, 'scaleDiag'))), [eps.shape[0]!]) };
  }

  protected sampleLatent(size: number, rng: Rng, store: ParamStore, detach: boolean): LatentDraws {
    const eps = this.normals(rng, size, this.layout.dim);
    const { z, logDet } = this.reparameterize(eps, store);
    if (!detach) return { z, logQ: tf.sub(standardLogDensity(eps), logDet) };
    const w = solveLower(this.scaleTril(store, true), tf.sub(z, this.read(store, 'loc', true)));
    return { z, logQ: tf.sub(standardLogDensity(w), tf.sum(tf.log(this.read(store, 'scaleDiag', true)))) };
  }

  moments(store: ParamStore): UnconstrainedMoments {
    const l = tf.tidy(() => this.scaleTril(store));
    const covariance = covarianceOf(l);
    l.dispose();
    return { loc: this.paramArray(store, 'loc'), covariance, names: this.layout.names };
  }
}

/** Options of {@link AutoLowRankMultivariateNormal}. */
export interface AutoLowRankOptions extends AutoGuideOptions {
  /** Rank of the covariance factor (default ceil(sqrt(D))). */
  readonly rank?: number;
}

/**
 * Gaussian with low-rank-plus-diagonal covariance W W^T + diag(d): O(D r)
 * parameters, log density by the Woodbury identity and the matrix
 * determinant lemma (an r x r Cholesky per step).
 */
export class AutoLowRankMultivariateNormal extends AutoGuide {
  readonly name = 'AutoLowRankMultivariateNormal';
  private rankValue = 0;

  constructor(private readonly lowRankOptions: AutoLowRankOptions = {}) {
    super(lowRankOptions);
    const r = lowRankOptions.rank;
    if (r !== undefined && (!Number.isInteger(r) || r < 1)) throw new RangeError(`AutoLowRankMultivariateNormal: rank must be a positive integer, got ${r}`);
  }

  /** The rank r of the covariance factor (after setup). */
  get rank(): number {
    return this.rankValue;
  }

  protected createParams(store: ParamStore, loc: Float64Array, rng: Rng): void {
    const d = loc.length;
    const r = this.lowRankOptions.rank ?? Math.ceil(Math.sqrt(d));
    this.rankValue = r;
    store.create(this.paramName('loc'), tf.tensor1d(Float32Array.from(loc)), real);
    // a small random factor: W = 0 is a stationary point of the ELBO in W
    const w0 = Float32Array.from(rng.normals(d * r), (x) => (0.1 * this.initScale * x) / Math.sqrt(r));
    store.create(this.paramName('covFactor'), tf.tensor2d(w0, [d, r]), real);
    store.create(this.paramName('covDiag'), tf.fill([d], this.initScale * this.initScale), positive);
  }

  protected sampleLatent(size: number, rng: Rng, store: ParamStore, detach: boolean): LatentDraws {
    const loc = this.read(store, 'loc');
    const w = this.read(store, 'covFactor');
    const diag = this.read(store, 'covDiag');
    const d = loc.shape[0]!;
    const r = w.shape[1]!;
    const z = tf.add(tf.add(loc, tf.matMul(this.normals(rng, size, r), w, false, true)), tf.mul(tf.sqrt(diag), this.normals(rng, size, d)));
    const p = detach ? { loc: this.read(store, 'loc', true), w: this.read(store, 'covFactor', true), diag: this.read(store, 'covDiag', true) } : { loc, w, diag };
    return { z, logQ: lowRankLogDensity(z, p.loc, p.w, p.diag) };
  }

  moments(store: ParamStore): UnconstrainedMoments {
    const w = store.read(this.paramName('covFactor'));
    const diag = store.read(this.paramName('covDiag'));
    const covariance = covarianceOf(w, diag);
    w.dispose();
    diag.dispose();
    return { loc: this.paramArray(store, 'loc'), covariance, names: this.layout.names };
  }
}

/**
 * log N(z; loc, W W^T + diag(d)) for z `[S, D]`: with C = I + W^T D^-1 W = L L^T,
 * the log-determinant is sum log d + 2 sum log diag L and the Mahalanobis term
 * x^T D^-1 x - |L^-1 W^T D^-1 x|^2.
 */
export function lowRankLogDensity(z: tf.Tensor, loc: tf.Tensor, w: tf.Tensor, diag: tf.Tensor): tf.Tensor {
  const x = tf.sub(z, loc);
  const r = w.shape[1]!;
  const dInvW = tf.div(w, tf.expandDims(diag, 1)); // [D, r]
  const c = tf.add(tf.eye(r), tf.matMul(w, dInvW, true, false));
  const lc = cholesky(c);
  const v = solveLower(lc, tf.matMul(x, dInvW)); // [S, r]
  const maha = tf.sub(tf.sum(tf.div(tf.square(x), diag), 1), tf.sum(tf.square(v), 1));
  const logDet = tf.add(tf.sum(tf.log(diag)), tf.mul(2, tf.sum(tf.log(diagPart(lc)))));
  const dim = z.shape[1]!;
  return tf.mul(tf.add(tf.add(maha, logDet), dim * LOG_2PI), -0.5);
}

/** Autoguide names accepted by `infer(..., { guide })`. */
export type AutoGuideName = 'delta' | 'normal' | 'mvn' | 'lowrank' | 'flow';

/** A new autoguide by name. */
export function autoGuide(name: AutoGuideName, options: AutoLowRankOptions = {}): AutoGuide {
  switch (name) {
    case 'delta':
      return new AutoDelta(options);
    case 'normal':
      return new AutoNormal(options);
    case 'mvn':
      return new AutoMultivariateNormal(options);
    case 'lowrank':
      return new AutoLowRankMultivariateNormal(options);
    case 'flow':
      return new AutoFlow(options);
  }
  throw new Error(`vi: unknown guide "${String(name)}"; use 'delta', 'normal', 'mvn', 'lowrank', 'flow', a Guide, or a guide model`);
}
