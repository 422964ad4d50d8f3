/**
 * The Kalman filter and Rauch–Tung–Striebel smoother for small
 * linear-Gaussian state-space models: exact log-likelihood, filtering and
 * smoothing moments. The reference against which particle filters are tested,
 * and a model in its own right.
 *
 * Model (time t = 0 .. T-1, state dimension d, observation dimension p):
 *
 *     x_0 ~ N(m0, P0),   x_t = A x_{t-1} + N(0, Q)   (t >= 1)
 *     y_t = H x_t + N(0, R)
 *
 * Matrices are plain `number[][]` (row-major); this is for small d and p,
 * computed in float64.
 *
 * @module
 */

/** A small matrix, row-major. */
export type Matrix = number[][];

/** A linear-Gaussian state-space model (see the module notes for the equations). */
export interface LinearGaussianModel {
  /** Mean of x_0 (length d). */
  readonly m0: readonly number[];
  /** Covariance of x_0 (d x d). */
  readonly P0: Matrix;
  /** Transition matrix (d x d). */
  readonly A: Matrix;
  /** Transition noise covariance (d x d). */
  readonly Q: Matrix;
  /** Observation matrix (p x d). */
  readonly H: Matrix;
  /** Observation noise covariance (p x p). */
  readonly R: Matrix;
}

/** Parameters of a one-dimensional linear-Gaussian model. */
export interface LinearGaussian1D {
  /** Mean of x_0. */
  readonly m0: number;
  /** Standard deviation of x_0. */
  readonly s0: number;
  /** Transition coefficient (default 1: a random walk). */
  readonly a?: number;
  /** Transition noise standard deviation. */
  readonly q: number;
  /** Observation coefficient (default 1). */
  readonly h?: number;
  /** Observation noise standard deviation. */
  readonly r: number;
}

/** The matrix form of a one-dimensional model. */
export function linearGaussian1D(p: LinearGaussian1D): LinearGaussianModel {
  for (const k of ['s0', 'q', 'r'] as const) {
    if (!(p[k] > 0)) throw new Error(`linearGaussian1D: ${k} must be a positive standard deviation, got ${p[k]}`);
  }
  return { m0: [p.m0], P0: [[p.s0 ** 2]], A: [[p.a ?? 1]], Q: [[p.q ** 2]], H: [[p.h ?? 1]], R: [[p.r ** 2]] };
}

/** What {@link kalmanFilter} returns. */
export interface KalmanResult {
  /** Exact log p(y_0, ..., y_{T-1}). */
  readonly logLikelihood: number;
  /** E[x_t | y_0..y_t]. */
  readonly means: number[][];
  /** Cov[x_t | y_0..y_t]. */
  readonly covariances: Matrix[];
  /** E[x_t | y_0..y_{t-1}]. */
  readonly predictedMeans: number[][];
  /** Cov[x_t | y_0..y_{t-1}]. */
  readonly predictedCovariances: Matrix[];
}

function matMul(a: Matrix, b: Matrix): Matrix {
  const n = a.length;
  const k = b.length;
  const m = b[0].length;
  const out: Matrix = [];
  for (let i = 0; i < n; i++) {
    const row = new Array<number>(m).fill(0);
    for (let l = 0; l < k; l++) {
      const ail = a[i][l];
      for (let j = 0; j < m; j++) row[j] += ail * b[l][j];
    }
    out.push(row);
  }
  return out;
}
function transpose(a: Matrix): Matrix {
  return a[0].map((_, j) => a.map((row) => row[j]));
}
function matAdd(a: Matrix, b: Matrix, sign = 1): Matrix {
  return a.map((row, i) => row.map((v, j) => v + sign * b[i][j]));
}
function matVec(a: Matrix, v: readonly number[]): number[] {
  return a.map((row) => row.reduce((s, x, j) => s + x * v[j], 0));
}
function symmetrise(a: Matrix): Matrix {
  return a.map((row, i) => row.map((v, j) => 0.5 * (v + a[j][i])));
}

/** Lower Cholesky factor of a symmetric positive definite matrix (throws naming `what` otherwise). */
export function cholesky(a: Matrix, what = 'matrix'): Matrix {
  const n = a.length;
  const L: Matrix = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i][j];
      for (let k = 0; k < j; k++) s -= L[i][k] * L[j][k];
      if (i === j) {
        if (!(s > 0)) throw new Error(`${what} is not positive definite`);
        L[i][i] = Math.sqrt(s);
      } else L[i][j] = s / L[j][j];
    }
  }
  return L;
}

/** Solve (L L^T) X = B for X, given the lower Cholesky factor L. */
function cholSolve(L: Matrix, B: Matrix): Matrix {
  const n = L.length;
  const m = B[0].length;
  const X = B.map((row) => row.slice());
  for (let c = 0; c < m; c++) {
    for (let i = 0; i < n; i++) {
      let s = X[i][c];
      for (let k = 0; k < i; k++) s -= L[i][k] * X[k][c];
      X[i][c] = s / L[i][i];
    }
    for (let i = n - 1; i >= 0; i--) {
      let s = X[i][c];
      for (let k = i + 1; k < n; k++) s -= L[k][i] * X[k][c];
      X[i][c] = s / L[i][i];
    }
  }
  return X;
}

/**
 * Log density of N(mean, cov) at x, through a Cholesky factorisation (exact
 * in float64 for small dimensions).
 */
export function mvnLogDensity(x: readonly number[], mean: readonly number[], cov: Matrix): number {
  const L = cholesky(cov, 'covariance');
  const diff = x.map((v, i) => [v - mean[i]]);
  const sol = cholSolve(L, diff);
  let quad = 0;
  let logDet = 0;
  for (let i = 0; i < x.length; i++) {
    quad += diff[i][0] * sol[i][0];
    logDet += 2 * Math.log(L[i][i]);
  }
  return -0.5 * (quad + logDet + x.length * Math.log(2 * Math.PI));
}

function checkModel(m: LinearGaussianModel): { d: number; p: number } {
  const d = m.m0.length;
  const p = m.H.length;
  const square = (x: Matrix, n: number, name: string): void => {
    if (x.length !== n || x.some((r) => r.length !== n)) throw new Error(`Kalman model: ${name} must be ${n} x ${n}`);
  };
  if (d === 0) throw new Error('Kalman model: m0 is empty');
  square(m.P0, d, 'P0');
  square(m.A, d, 'A');
  square(m.Q, d, 'Q');
  square(m.R, p, 'R');
  if (p === 0 || m.H.some((r) => r.length !== d)) throw new Error(`Kalman model: H must be p x ${d} with p >= 1`);
  return { d, p };
}

function observationRows(ys: readonly (number | readonly number[])[], p: number): number[][] {
  return ys.map((y, t) => {
    const row = typeof y === 'number' ? [y] : Array.from(y);
    if (row.length !== p) throw new Error(`kalmanFilter: observation ${t} has ${row.length} values, expected ${p}`);
    return row;
  });
}

/**
 * Run the Kalman filter on observations `ys` (numbers for p = 1, else arrays
 * of length p). Returns the exact log-likelihood and the filtering and
 * one-step predictive moments.
 */
export function kalmanFilter(model: LinearGaussianModel, ys: readonly (number | readonly number[])[]): KalmanResult {
  const { d } = checkModel(model);
  const obs = observationRows(ys, model.H.length);
  const At = transpose(model.A);
  const Ht = transpose(model.H);
  const I: Matrix = Array.from({ length: d }, (_, i) => Array.from({ length: d }, (_, j) => (i === j ? 1 : 0)));
  const means: number[][] = [];
  const covariances: Matrix[] = [];
  const predictedMeans: number[][] = [];
  const predictedCovariances: Matrix[] = [];
  let logLikelihood = 0;
  let m = Array.from(model.m0);
  let P = model.P0.map((r) => r.slice());
  for (let t = 0; t < obs.length; t++) {
    if (t > 0) {
      m = matVec(model.A, m);
      P = symmetrise(matAdd(matMul(matMul(model.A, P), At), model.Q));
    }
    predictedMeans.push(m);
    predictedCovariances.push(P);
    const yHat = matVec(model.H, m);
    const S = symmetrise(matAdd(matMul(matMul(model.H, P), Ht), model.R));
    logLikelihood += mvnLogDensity(obs[t], yHat, S);
    // gain K = P H^T S^-1, computed as (S^-1 H P)^T since S and P are symmetric
    const L = cholesky(S, `innovation covariance at t = ${t}`);
    const K = transpose(cholSolve(L, matMul(model.H, P)));
    const innov = obs[t].map((v, i) => v - yHat[i]);
    m = m.map((v, i) => v + K[i].reduce((s, k, j) => s + k * innov[j], 0));
    P = symmetrise(matMul(matAdd(I, matMul(K, model.H), -1), P));
    means.push(m);
    covariances.push(P);
  }
  return { logLikelihood, means, covariances, predictedMeans, predictedCovariances };
}

/** Smoothing moments E[x_t | all y] and Cov[x_t | all y]. */
export interface SmootherResult {
  /** E[x_t | y_0..y_{T-1}]. */
  readonly means: number[][];
  /** Cov[x_t | y_0..y_{T-1}]. */
  readonly covariances: Matrix[];
}

/** Rauch–Tung–Striebel smoother over a {@link kalmanFilter} result. */
export function rtsSmoother(model: LinearGaussianModel, filtered: KalmanResult): SmootherResult {
  const T = filtered.means.length;
  if (T === 0) return { means: [], covariances: [] };
  const means = filtered.means.slice();
  const covariances = filtered.covariances.slice();
  for (let t = T - 2; t >= 0; t--) {
    const Pf = filtered.covariances[t];
    const Pp = filtered.predictedCovariances[t + 1];
    // J = Pf A^T Pp^-1 = (Pp^-1 A Pf)^T
    const J = transpose(cholSolve(cholesky(Pp, `predicted covariance at t = ${t + 1}`), matMul(model.A, Pf)));
    const dm = means[t + 1].map((v, i) => v - filtered.predictedMeans[t + 1][i]);
    means[t] = filtered.means[t].map((v, i) => v + J[i].reduce((s, x, j) => s + x * dm[j], 0));
    const dP = matAdd(covariances[t + 1], Pp, -1);
    covariances[t] = symmetrise(matAdd(Pf, matMul(matMul(J, dP), transpose(J))));
  }
  return { means, covariances };
}
