/**
 * The analytic test bed: a Gaussian mixture in any dimension, whose noised
 * law at every time of every schedule is again a Gaussian mixture, so the
 * score, the x0-prediction (Tweedie), the noise and the velocity are exact,
 * and exact samples exist at every t.
 *
 * Component k is N(mu_k, Sigma_k) with weight pi_k and an optional class
 * label. Under x_t = alpha x0 + sigma eps it becomes
 * N(alpha mu_k, C_k), C_k = alpha^2 Sigma_k + sigma^2 I; with responsibilities
 * r_k(x) ∝ pi_k N(x; alpha mu_k, C_k):
 *
 * - score(x) = -Σ_k r_k C_k⁻¹ (x - alpha mu_k);
 * - E[x0 | x] = Σ_k r_k (mu_k + alpha Sigma_k C_k⁻¹ (x - alpha mu_k)).
 *
 * Each covariance is diagonalised once (Jacobi), so C_k⁻¹ and log|C_k| are
 * exact and cheap at every t, including sigma = 0 for full-rank Sigma_k.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../../core/rng.js';
import type { DiffusionModel } from './model.js';
import { type Prediction, checkPrediction } from './parametrisation.js';
import { type Schedule, checkTime } from './schedules.js';

const LOG_2PI = Math.log(2 * Math.PI);

/** Eigen-decomposition of a symmetric matrix: values and column eigenvectors (row-major d x d). */
export function symmetricEigen(a: readonly (readonly number[])[]): { values: number[]; vectors: number[][] } {
  const d = a.length;
  const m = a.map((r) => [...r]);
  const v: number[][] = Array.from({ length: d }, (_, i) => Array.from({ length: d }, (_, j) => (i === j ? 1 : 0)));
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < d; p++) for (let q = p + 1; q < d; q++) off += m[p]![q]! ** 2;
    if (off < 1e-30) break;
    for (let p = 0; p < d; p++) {
      for (let q = p + 1; q < d; q++) {
        const apq = m[p]![q]!;
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (m[q]![q]! - m[p]![p]!) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < d; k++) {
          const mkp = m[k]![p]!;
          const mkq = m[k]![q]!;
          m[k]![p] = c * mkp - s * mkq;
          m[k]![q] = s * mkp + c * mkq;
        }
        for (let k = 0; k < d; k++) {
          const mpk = m[p]![k]!;
          const mqk = m[q]![k]!;
          m[p]![k] = c * mpk - s * mqk;
          m[q]![k] = s * mpk + c * mqk;
        }
        for (let k = 0; k < d; k++) {
          const vkp = v[k]![p]!;
          const vkq = v[k]![q]!;
          v[k]![p] = c * vkp - s * vkq;
          v[k]![q] = s * vkp + c * vkq;
        }
      }
    }
  }
  return { values: m.map((r, i) => r[i]!), vectors: v };
}

/** A mixture component. */
export interface MixtureComponent {
  /** Mixture weight (normalised over the components). */
  readonly weight: number;
  /** Mean, length d. */
  readonly mean: readonly number[];
  /**
   * Covariance: a d x d symmetric positive-definite matrix, a length-d
   * diagonal, or a number (isotropic variance). Default 1 (identity).
   */
  readonly covariance?: number | readonly number[] | readonly (readonly number[])[];
  /** Class label (0-based) for class-conditional use. */
  readonly label?: number;
}

interface Comp {
  weight: number;
  mean: number[];
  cov: number[][];
  values: number[];
  vectors: number[][];
  label: number | undefined;
}

/** A Gaussian mixture with exact diffusion quantities under every schedule. */
export class GaussianMixture {
  /** Dimension. */
  readonly dim: number;
  /** Number of components. */
  readonly size: number;
  /** Number of classes (1 + the largest label), when every component is labelled. */
  readonly classes: number | undefined;
  private readonly comps: Comp[];

  constructor(components: readonly MixtureComponent[]) {
    const who = 'GaussianMixture';
    if (!Array.isArray(components) || components.length === 0) throw new Error(`${who}: need at least one component`);
    const d = components[0]!.mean.length;
    if (!(d >= 1)) throw new Error(`${who}: component 0 has an empty mean`);
    const total = components.reduce((s, c) => s + c.weight, 0);
    this.comps = components.map((c, k) => {
      if (!(c.weight > 0) || !Number.isFinite(c.weight)) throw new RangeError(`${who}: component ${k} weight must be positive, got ${c.weight}`);
      if (c.mean.length !== d || !c.mean.every(Number.isFinite)) throw new Error(`${who}: component ${k} mean must have ${d} finite entries, got ${c.mean.length}`);
      const cov = covarianceMatrix(c.covariance ?? 1, d, `${who}: component ${k}`);
      const { values, vectors } = symmetricEigen(cov);
      if (!values.every((v) => v > 0)) throw new RangeError(`${who}: component ${k} covariance is not positive definite (eigenvalues ${values.map((v) => v.toPrecision(3)).join(', ')})`);
      if (c.label !== undefined && !(Number.isInteger(c.label) && c.label >= 0)) throw new RangeError(`${who}: component ${k} label must be a nonnegative integer, got ${c.label}`);
      return { weight: c.weight / total, mean: [...c.mean], cov, values, vectors, label: c.label };
    });
    this.dim = d;
    this.size = this.comps.length;
    const labelled = this.comps.every((c) => c.label !== undefined);
    if (!labelled && this.comps.some((c) => c.label !== undefined)) throw new Error(`${who}: label every component or none`);
    this.classes = labelled ? Math.max(...this.comps.map((c) => c.label!)) + 1 : undefined;
  }

  /** The normalised component weights. */
  get weights(): number[] {
    return this.comps.map((c) => c.weight);
  }

  /** The component means. */
  get means(): number[][] {
    return this.comps.map((c) => [...c.mean]);
  }

  /** The component covariances. */
  get covariances(): number[][][] {
    return this.comps.map((c) => c.cov.map((r) => [...r]));
  }

  /** The component labels (undefined when unlabelled). */
  get labels(): (number | undefined)[] {
    return this.comps.map((c) => c.label);
  }

  /** The mixture's mean. */
  mean(): number[] {
    const m = new Array<number>(this.dim).fill(0);
    for (const c of this.comps) for (let i = 0; i < this.dim; i++) m[i]! += c.weight * c.mean[i]!;
    return m;
  }

  /** The mixture's covariance (law of total covariance). */
  covariance(): number[][] {
    const m = this.mean();
    const d = this.dim;
    const out = Array.from({ length: d }, () => new Array<number>(d).fill(0));
    for (const c of this.comps) {
      for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) out[i]![j]! += c.weight * (c.cov[i]![j]! + (c.mean[i]! - m[i]!) * (c.mean[j]! - m[j]!));
    }
    return out;
  }

  /** The law of alpha x0 + sigma eps: the mixture with means alpha mu_k and covariances alpha^2 Sigma_k + sigma^2 I. */
  noised(alpha: number, sigma: number): GaussianMixture {
    return new GaussianMixture(
      this.comps.map((c) => ({
        weight: c.weight,
        mean: c.mean.map((v) => alpha * v),
        covariance: c.cov.map((r, i) => r.map((v, j) => alpha * alpha * v + (i === j ? sigma * sigma : 0))),
        label: c.label,
      })),
    );
  }

  /** The marginal at time t of a schedule. */
  marginal(schedule: Schedule, t: number): GaussianMixture {
    checkTime(schedule, t, `GaussianMixture.marginal(${schedule.name})`);
    return this.noised(schedule.alpha(t), schedule.sigma(t));
  }

  /** The mixture restricted to the components labelled `label` (p(x | class)). */
  conditional(label: number): GaussianMixture {
    const sub = this.comps.filter((c) => c.label === label);
    if (sub.length === 0) throw new Error(`GaussianMixture.conditional: no component has label ${label}`);
    return new GaussianMixture(sub.map((c) => ({ weight: c.weight, mean: c.mean, covariance: c.cov, label: c.label })));
  }

  /** `n` exact draws, row-major `[n * dim]`, and the component of each. */
  sample(n: number, rng: Rng): { x: Float64Array; component: Int32Array } {
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`GaussianMixture.sample: n must be a nonnegative integer, got ${n}`);
    const d = this.dim;
    const x = new Float64Array(n * d);
    const component = new Int32Array(n);
    const cum: number[] = [];
    let acc = 0;
    for (const c of this.comps) cum.push((acc += c.weight));
    const z = new Float64Array(d);
    for (let i = 0; i < n; i++) {
      const u = rng.uniform();
      let k = 0;
      while (k < cum.length - 1 && u > cum[k]!) k++;
      component[i] = k;
      const c = this.comps[k]!;
      for (let j = 0; j < d; j++) z[j] = rng.normal() * Math.sqrt(c.values[j]!);
      for (let r = 0; r < d; r++) {
        let s = c.mean[r]!;
        for (let j = 0; j < d; j++) s += c.vectors[r]![j]! * z[j]!;
        x[i * d + r] = s;
      }
    }
    return { x, component };
  }

  /** `n` exact draws of x_t at time t of a schedule, as a tensor `[n, dim]`. */
  sampleAt(n: number, schedule: Schedule, t: number, rng: Rng): tf.Tensor2D {
    return tf.tensor2d(Float32Array.from(this.marginal(schedule, t).sample(n, rng).x), [n, this.dim]);
  }

  /**
   * Per-component tensors at (alpha, sigma): log weight + log normaliser,
   * C⁻¹ and alpha Sigma C⁻¹, all stacked over components.
   */
  private precisions(alpha: number, sigma: number): { logNorm: tf.Tensor1D; prec: tf.Tensor3D; gain: tf.Tensor3D; means: tf.Tensor2D } {
    const d = this.dim;
    const K = this.size;
    const logNorm = new Float32Array(K);
    const prec = new Float32Array(K * d * d);
    const gain = new Float32Array(K * d * d);
    const means = new Float32Array(K * d);
    this.comps.forEach((c, k) => {
      const lam = c.values.map((v) => alpha * alpha * v + sigma * sigma);
      let logDet = 0;
      for (const l of lam) logDet += Math.log(l);
      logNorm[k] = Math.log(c.weight) - 0.5 * logDet - 0.5 * d * LOG_2PI;
      for (let i = 0; i < d; i++) {
        means[k * d + i] = c.mean[i]!;
        for (let j = 0; j < d; j++) {
          let p = 0;
          let g = 0;
          for (let e = 0; e < d; e++) {
            const vv = c.vectors[i]![e]! * c.vectors[j]![e]!;
            p += vv / lam[e]!;
            g += (vv * alpha * c.values[e]!) / lam[e]!;
          }
          prec[(k * d + i) * d + j] = p;
          gain[(k * d + i) * d + j] = g;
        }
      }
    });
    return { logNorm: tf.tensor1d(logNorm), prec: tf.tensor3d(prec, [K, d, d]), gain: tf.tensor3d(gain, [K, d, d]), means: tf.tensor2d(means, [K, d]) };
  }

  /** Additive log mask `[N, K]` that keeps only components with each particle's label (the null label `classes` keeps all). */
  private labelMask(labels: tf.Tensor, n: number): tf.Tensor {
    const who = 'GaussianMixture';
    if (this.classes === undefined) throw new Error(`${who}: labels given but the components are unlabelled`);
    if (labels.rank !== 1 || labels.shape[0] !== n) throw new Error(`${who}: labels must have shape [${n}], got [${labels.shape.join(', ')}]`);
    const nullClass = this.classes;
    return tf.tidy(() => {
      const compLabels = tf.tensor1d(this.comps.map((c) => c.label!), 'int32'); // inside the tidy (was one leaked tensor per call)
      const l = tf.reshape(labels, [n, 1]);
      const keep = tf.logicalOr(tf.equal(l, tf.reshape(compLabels, [1, this.size])), tf.equal(l, nullClass));
      return tf.where(keep, tf.fill(keep.shape, 0), tf.fill(keep.shape, -Infinity));
    });
  }

  /**
   * Everything at once for points x `[N, dim]` at (alpha, sigma): the log
   * density `[N]`, responsibilities `[N, K]`, score and E[x0 | x] `[N, dim]`.
   * `labels` `[N]` (int32) conditions on classes (label `classes` = none).
   */
  exact(x: tf.Tensor, alpha: number, sigma: number, labels?: tf.Tensor): { logDensity: tf.Tensor; responsibilities: tf.Tensor; score: tf.Tensor; x0: tf.Tensor } {
    const d = this.dim;
    if (x.rank !== 2 || x.shape[1] !== d) throw new Error(`GaussianMixture: points must have shape [N, ${d}], got [${x.shape.join(', ')}]`);
    const n = x.shape[0]!;
    const K = this.size;
    const p = this.precisions(alpha, sigma);
    const mask = labels !== undefined ? this.labelMask(labels, n) : undefined;
    try {
      return tf.tidy(() => {
        const diff = tf.sub(tf.expandDims(x, 0), tf.expandDims(tf.mul(p.means, alpha), 1)); // [K, N, d]
        const sol = tf.matMul(diff, p.prec); // C⁻¹ diff, [K, N, d] (C symmetric)
        const quad = tf.sum(tf.mul(diff, sol), -1); // [K, N]
        let logp = tf.transpose(tf.add(tf.mul(quad, -0.5), tf.reshape(p.logNorm, [K, 1]))); // [N, K]
        if (mask) logp = tf.add(logp, mask);
        const logDensity = tf.logSumExp(logp, 1);
        const r = tf.exp(tf.sub(logp, tf.reshape(logDensity, [n, 1]))); // [N, K]
        const rk = tf.expandDims(tf.transpose(r), 2); // [K, N, 1]
        const score = tf.neg(tf.sum(tf.mul(rk, sol), 0));
        const x0k = tf.add(tf.expandDims(p.means, 1), tf.matMul(diff, p.gain)); // gain symmetric
        const x0 = tf.sum(tf.mul(rk, x0k), 0);
        return { logDensity, responsibilities: r, score, x0 };
      });
    } finally {
      tf.dispose([p.logNorm, p.prec, p.gain, p.means]);
      mask?.dispose();
    }
  }

  /** log density of points `[N, dim]` under the clean mixture (or the noised one at alpha, sigma). */
  logDensity(x: tf.Tensor, alpha = 1, sigma = 0): tf.Tensor {
    const e = this.exact(x, alpha, sigma);
    tf.dispose([e.responsibilities, e.score, e.x0]);
    return e.logDensity;
  }

  /** Component responsibilities `[N, K]` of points under the clean mixture (or the noised one). */
  responsibilities(x: tf.Tensor, alpha = 1, sigma = 0): tf.Tensor {
    const e = this.exact(x, alpha, sigma);
    tf.dispose([e.logDensity, e.score, e.x0]);
    return e.responsibilities;
  }

  /**
   * The exact prediction of type `prediction` at (x_t, t) of `schedule`
   * (score, x0, epsilon, velocity, or v for VP schedules).
   */
  predict(x: tf.Tensor, schedule: Schedule, t: number, prediction: Prediction, labels?: tf.Tensor): tf.Tensor {
    const who = `GaussianMixture.predict(${schedule.name})`;
    checkPrediction(prediction, schedule, who);
    checkTime(schedule, t, who);
    const a = schedule.alpha(t);
    const s = schedule.sigma(t);
    const e = this.exact(x, a, s, labels);
    try {
      if (prediction === 'score') return tf.clone(e.score);
      if (prediction === 'x0') return tf.clone(e.x0);
      return tf.tidy(() => {
        const eps = tf.mul(e.score, -s);
        if (prediction === 'epsilon') return eps;
        if (prediction === 'velocity') return tf.add(tf.mul(e.x0, schedule.dAlpha(t)), tf.mul(eps, schedule.dSigma(t)));
        return tf.sub(tf.mul(eps, a), tf.mul(e.x0, s)); // v
      });
    } finally {
      tf.dispose([e.logDensity, e.responsibilities, e.score, e.x0]);
    }
  }

  /**
   * The mixture as a {@link DiffusionModel} with exact outputs of type
   * `prediction` under `schedule`; class-conditional (null class = `classes`)
   * when the components are labelled.
   */
  model(schedule: Schedule, prediction: Prediction = 'epsilon', name = `gaussian-mixture(${this.dim}d, ${this.size})`): DiffusionModel {
    checkPrediction(prediction, schedule, `GaussianMixture.model(${name})`);
    return {
      name,
      schedule,
      prediction,
      eventShape: [this.dim],
      classes: this.classes,
      predict: (x, t, cond) => this.predict(x, schedule, t, prediction, cond),
    };
  }
}

function covarianceMatrix(c: number | readonly number[] | readonly (readonly number[])[], d: number, who: string): number[][] {
  if (typeof c === 'number') {
    if (!(c > 0)) throw new RangeError(`${who}: isotropic variance must be positive, got ${c}`);
    return Array.from({ length: d }, (_, i) => Array.from({ length: d }, (_, j) => (i === j ? c : 0)));
  }
  if (c.length !== d) throw new Error(`${who}: covariance must be d = ${d} long (diagonal) or d x d, got length ${c.length}`);
  if (typeof c[0] === 'number') return Array.from({ length: d }, (_, i) => Array.from({ length: d }, (_, j) => (i === j ? (c[i] as number) : 0)));
  const m = (c as readonly (readonly number[])[]).map((r) => {
    if (r.length !== d) throw new Error(`${who}: covariance rows must have ${d} entries`);
    return [...r];
  });
  for (let i = 0; i < d; i++) for (let j = 0; j < i; j++) if (Math.abs(m[i]![j]! - m[j]![i]!) > 1e-9 * (1 + Math.abs(m[i]![j]!))) throw new Error(`${who}: covariance is not symmetric at (${i}, ${j})`);
  return m;
}
