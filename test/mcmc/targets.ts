/**
 * Test targets with hand-written gradients (plain Float64Array math) and a
 * moment checker based on the Monte Carlo standard error.
 */
import { Rng } from '../../src/core/rng.js';
import { mcseMean } from '../../src/diagnostics/mcse.js';
import { cholesky } from '../../src/infer/mcmc/linalg.js';
import type { BatchedLogDensityTarget, LogDensityTarget } from '../../src/infer/mcmc/target.js';
import { type McmcSamples, parameterDraws } from '../../src/infer/mcmc/index.js';

/** Inverse of a symmetric positive-definite n x n matrix (via Cholesky). */
export function spdInverse(a: Float64Array, n: number): Float64Array {
  const l = cholesky(a, n);
  // inverse of L by forward substitution, then (L^-1)^T L^-1
  const li = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    for (let i = 0; i < n; i++) {
      let s = i === j ? 1 : 0;
      for (let k = 0; k < i; k++) s -= l[i * n + k]! * li[k * n + j]!;
      li[i * n + j] = s / l[i * n + i]!;
    }
  }
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += li[k * n + i]! * li[k * n + j]!;
      out[i * n + j] = s;
    }
  }
  return out;
}

/** A multivariate normal target N(mean, cov) with its single and batched forms. */
export function gaussian(mean: Float64Array, cov: Float64Array): {
  target: LogDensityTarget;
  batched: BatchedLogDensityTarget;
  calls: () => number;
} {
  const d = mean.length;
  const prec = spdInverse(cov, d);
  let calls = 0;
  const gradBuffer = new Float64Array(d);
  const into = (q: Float64Array, off: number, grad: Float64Array): number => {
    let logp = 0;
    for (let i = 0; i < d; i++) {
      let g = 0;
      for (let j = 0; j < d; j++) g -= prec[i * d + j]! * (q[off + j]! - mean[j]!);
      grad[off + i] = g;
      logp += 0.5 * g * (q[off + i]! - mean[i]!);
    }
    return logp;
  };
  return {
    // the sampler copies each answer, so one gradient buffer serves every call
    target: (q) => {
      calls += 1;
      return { logp: into(q, 0, gradBuffer), grad: gradBuffer };
    },
    batched: (q) => {
      calls += 1;
      const k = q.length / d;
      const logp = new Float64Array(k);
      const grad = new Float64Array(q.length);
      for (let c = 0; c < k; c++) logp[c] = into(q, c * d, grad);
      return { logp, grad };
    },
    calls: () => calls,
  };
}

/** A random covariance with correlations and scales spread over `scaleRange`. */
export function randomCovariance(d: number, seed: number, scaleRange: [number, number]): Float64Array {
  const rng = new Rng(seed);
  const a = rng.normals(d * d);
  const c = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < d; j++) {
      let s = i === j ? 0.5 : 0;
      for (let k = 0; k < d; k++) s += (a[i * d + k]! * a[j * d + k]!) / d;
      c[i * d + j] = s;
    }
  }
  const scale = Float64Array.from({ length: d }, (_, i) => {
    const t = d === 1 ? 0 : i / (d - 1);
    return scaleRange[0] * Math.pow(scaleRange[1] / scaleRange[0], t);
  });
  const out = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < d; j++) {
      const corr = c[i * d + j]! / Math.sqrt(c[i * d + i]! * c[j * d + j]!);
      out[i * d + j] = corr * scale[i]! * scale[j]!;
    }
  }
  return out;
}

/** One moment check that failed. */
export interface MomentFailure {
  readonly what: string;
  readonly estimate: number;
  readonly truth: number;
  readonly mcse: number;
}

/**
 * Compares every mean and covariance entry of the draws with the truth;
 * returns the checks whose error exceeds `k` Monte Carlo standard errors
 * (MCSE from the ESS of the quantity, via diagnostics/mcseMean).
 */
export function momentFailures(result: McmcSamples, mean: Float64Array, cov: Float64Array, k = 4): MomentFailure[] {
  const d = result.dim;
  const cols = Array.from({ length: d }, (_, j) => parameterDraws(result, j));
  const failures: MomentFailure[] = [];
  const check = (what: string, draws: Float64Array[], truth: number): void => {
    let s = 0;
    let n = 0;
    for (const c of draws) for (const x of c) {
      s += x;
      n += 1;
    }
    const estimate = s / n;
    const mcse = mcseMean(draws);
    if (!(Math.abs(estimate - truth) < k * mcse)) failures.push({ what, estimate, truth, mcse });
  };
  for (let i = 0; i < d; i++) {
    check(`mean[${i}]`, cols[i]!, mean[i]!);
    for (let j = 0; j <= i; j++) {
      const prod = cols[i]!.map((ci, c) => ci.map((x, t) => (x - mean[i]!) * (cols[j]![c]![t]! - mean[j]!)));
      check(`cov[${i},${j}]`, prod, cov[i * d + j]!);
    }
  }
  return failures;
}

const SCHOOLS_Y = [28, 8, -3, 7, -1, 1, 18, 12];
const SCHOOLS_SIGMA = [15, 10, 16, 11, 9, 11, 10, 18];

/**
 * log p(mu) + log p(tau) + log |d tau / d eta| at tau = exp(eta), with mu ~ N(0, 5) and
 * tau ~ HalfCauchy(5), and its gradient: the part both eight-schools targets share.
 */
function hyperprior(mu: number, eta: number): { logp: number; gMu: number; gEta: number; tau: number; tau2: number; eta: number } {
  const tau = Math.exp(eta);
  const tau2 = tau * tau;
  return {
    logp: -(mu * mu) / 50 - Math.log1p(tau2 / 25) + eta,
    gMu: -mu / 25,
    gEta: 1 - (2 * tau2) / 25 / (1 + tau2 / 25),
    tau,
    tau2,
    eta,
  };
}

/**
 * The centered eight-schools model on the unconstrained space
 * q = (mu, log tau, theta_1..theta_8): mu ~ N(0, 5), tau ~ HalfCauchy(5),
 * theta_j ~ N(mu, tau), y_j ~ N(theta_j, sigma_j), with the log-Jacobian of
 * tau = exp(log tau). Its funnel between tau and theta makes NUTS diverge.
 */
export function eightSchoolsCentered(): LogDensityTarget {
  const grad = new Float64Array(10);
  return (q) => {
    const mu = q[0]!;
    let { logp, gMu, gEta, tau, tau2, eta } = hyperprior(mu, q[1]!);
    for (let j = 0; j < 8; j++) {
      const th = q[2 + j]!;
      const dev = th - mu;
      const s2 = SCHOOLS_SIGMA[j]! ** 2;
      logp += -(dev * dev) / (2 * tau2) - eta - (SCHOOLS_Y[j]! - th) ** 2 / (2 * s2);
      gMu += dev / tau2;
      gEta += (dev * dev) / tau2 - 1;
      grad[2 + j] = -dev / tau2 + (SCHOOLS_Y[j]! - th) / s2;
    }
    grad[0] = gMu;
    grad[1] = gEta;
    return { logp, grad };
  };
}

/**
 * The non-centered eight-schools model on q = (mu, log tau, z_1..z_8):
 * theta_j = mu + tau z_j with z_j ~ N(0, 1); otherwise as
 * {@link eightSchoolsCentered}. Its geometry is benign.
 */
export function eightSchoolsNonCentered(): LogDensityTarget {
  const grad = new Float64Array(10);
  return (q) => {
    const mu = q[0]!;
    let { logp, gMu, gEta, tau, tau2, eta } = hyperprior(mu, q[1]!);
    for (let j = 0; j < 8; j++) {
      const z = q[2 + j]!;
      const r = (SCHOOLS_Y[j]! - mu - tau * z) / SCHOOLS_SIGMA[j]! ** 2;
      logp += -0.5 * z * z - 0.5 * r * (SCHOOLS_Y[j]! - mu - tau * z);
      gMu += r;
      gEta += r * tau * z;
      grad[2 + j] = -z + r * tau;
    }
    grad[0] = gMu;
    grad[1] = gEta;
    return { logp, grad };
  };
}

/**
 * Independent log-Gamma coordinates: q_i = log x_i with x_i ~ Gamma(shape_i, 1),
 * so log p(q) = sum shape_i q_i - exp(q_i) (+ const). Skewed, non-Gaussian.
 */
export function logGamma(shapes: readonly number[]): LogDensityTarget {
  const grad = new Float64Array(shapes.length);
  return (q) => {
    let logp = 0;
    shapes.forEach((a, i) => {
      const e = Math.exp(q[i]!);
      logp += a * q[i]! - e;
      grad[i] = a - e;
    });
    return { logp, grad };
  };
}
