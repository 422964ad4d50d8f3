/**
 * An ODE solver with gradients, as Stan's `ode_rk45`:
 *
 * ```ts
 * // Lotka–Volterra: theta = [alpha, beta, gamma, delta]
 * const lv = (t: number, z: Float64Array, th: Float64Array) => [
 *   (th[0] - th[1] * z[1]) * z[0],
 *   (-th[2] + th[3] * z[0]) * z[1],
 * ];
 * const z = odeSolve(lv, z0, 0, ts, theta);   // [ts.length, 2], differentiable in z0 and theta
 * ```
 *
 * The right-hand side `f(t, y, params)` is a plain float64 function (as a
 * Stan ODE function is plain code), so the solver runs in float64 JavaScript,
 * not tfjs: one tfjs op for the whole solve. Gradients come from **forward
 * sensitivities**: the solver integrates `S = d y(t) / d (y0, params)` along
 * with `y` (`S' = J_y S + [0 | J_params]`, `S(t0) = [I | 0]`), with the same
 * error control over both (as Stan's CVODES-based solvers do), and the
 * gradient of any function of the output is the vector–Jacobian product with
 * the stored `S` at each output time. The Jacobians of `f` come from
 * central differences in float64 (relative error about 1e-9), or from
 * `options.jacobian` when given. Why not differentiate through tfjs ops of
 * the steps: an adaptive solve takes hundreds of steps of six stages each, so
 * a tfjs graph would cost thousands of dispatches per evaluation (and float32
 * accuracy); here an evaluation is microseconds and float64.
 *
 * Methods: `'rk45'` (Dormand–Prince 5(4), adaptive, for non-stiff problems)
 * and `'rosenbrock'` (Shampine's L-stable Rosenbrock 2(3) of MATLAB's ode23s, for
 * stiff problems; the stand-in for Stan's `ode_bdf`).
 *
 * The solve is one custom op (`backend/jit/custom-kernels.ts`): on tfjs a
 * `tf.customGrad` op; in a compiled replay (NUTS/HMC, vectorised chains) one
 * node that solves in float64 and contracts the sensitivities with the
 * upstream gradient, so models using it compile and run their chains
 * vectorised, in float64.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import '../backend/gradients.js';
import { InvalidParameterError } from '../core/errors.js';
import type { CustomOp } from '../backend/jit/custom-kernels.js';
import { customOp } from '../backend/jit/trace.js';
import { broadcastMap } from '../backend/jit/ndarray.js';

/** The right-hand side `dy/dt = f(t, y, params)`, plain float64 code. */
export type OdeRhs = (t: number, y: Float64Array, params: Float64Array) => ArrayLike<number>;

/** Jacobians of the right-hand side: `dy[i][j] = d f_i / d y_j`, `dparams[i][k] = d f_i / d params_k`. */
export type OdeJacobian = (t: number, y: Float64Array, params: Float64Array) => { dy: ArrayLike<ArrayLike<number>>; dparams: ArrayLike<ArrayLike<number>> };

/** Options of {@link odeSolve}. */
export interface OdeOptions {
  /** `'rk45'` (default, non-stiff) or `'rosenbrock'` (stiff). */
  readonly method?: 'rk45' | 'rosenbrock';
  /** Relative tolerance (default 1e-6, Stan's). */
  readonly rtol?: number;
  /** Absolute tolerance (default 1e-6, Stan's). */
  readonly atol?: number;
  /** Most steps between two output times (default 1e6, Stan's); beyond it the point is rejected. */
  readonly maxSteps?: number;
  /** Analytic Jacobians of `f` (default: central differences). */
  readonly jacobian?: OdeJacobian;
  /** Stop a long solve (checked every 100 steps). */
  readonly signal?: AbortSignal;
}

/** A solution with its sensitivities, for one batch member. */
interface Solved {
  /** `[T * n]` states at the output times. */
  readonly y: Float64Array;
  /** `[T * n * m]` sensitivities `d y_i(t) / d w_j`, with w = (y0, params), m = n + p. */
  readonly s: Float64Array;
}

/**
 * Central-difference Jacobians of `f` in y and in the parameters, into
 * buffers reused across calls (`dy` `[n * n]`, `dp` `[n * np]`, row-major):
 * the solver calls this at every stage, so it allocates nothing.
 */
function fdJacobian(f: OdeRhs, n: number, np: number): (t: number, y: Float64Array, p: Float64Array) => { dy: Float64Array; dp: Float64Array } {
  const dy = new Float64Array(n * n);
  const dp = new Float64Array(n * np);
  const up = new Float64Array(n);
  const yv = new Float64Array(n);
  return (t, y, p) => {
    yv.set(y);
    // column j of `out` (`cols` columns) from the step in v[j], v being yv or p
    const column = (v: Float64Array, j: number, out: Float64Array, cols: number): void => {
      const x = v[j]!;
      const h = 1e-6 * Math.max(1, Math.abs(x));
      v[j] = x + h;
      up.set(f(t, yv, p));
      v[j] = x - h;
      const dn = f(t, yv, p);
      v[j] = x;
      for (let i = 0; i < n; i++) out[i * cols + j] = (up[i]! - dn[i]!) / (2 * h);
    };
    for (let j = 0; j < n; j++) column(yv, j, dy, n);
    for (let k = 0; k < np; k++) column(p, k, dp, np);
    return { dy, dp };
  };
}

/** Copy a Jacobian given as rows (`rows x cols`) into a row-major buffer. */
function copyRows(rows: ArrayLike<ArrayLike<number>>, out: Float64Array, cols: number): Float64Array {
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    for (let k = 0; k < cols; k++) out[i * cols + k] = r[k]!;
  }
  return out;
}

/** The augmented right-hand side of (y, S): y' = f, S' = J_y S + [0 | J_p]. */
function augmented(f: OdeRhs, jac: OdeJacobian | undefined, n: number, p: Float64Array): (t: number, z: Float64Array, out: Float64Array) => void {
  const np = p.length;
  const m = n + np;
  const fd = fdJacobian(f, n, np);
  const dyBuf = new Float64Array(n * n);
  const dpBuf = new Float64Array(n * np);
  return (t, z, out) => {
    const y = z.subarray(0, n);
    const fy = f(t, y, p);
    for (let i = 0; i < n; i++) out[i] = fy[i]!;
    let dy: Float64Array;
    let dp: Float64Array;
    if (jac) {
      const j = jac(t, y, p);
      dy = copyRows(j.dy, dyBuf, n);
      dp = copyRows(j.dparams, dpBuf, np);
    } else ({ dy, dp } = fd(t, y, p));
    const s = z.subarray(n);
    for (let i = 0; i < n; i++) {
      for (let c = 0; c < m; c++) {
        let v = c >= n ? dp[i * np + (c - n)]! : 0;
        for (let k = 0; k < n; k++) v += dy[i * n + k]! * s[k * m + c]!;
        out[n + i * m + c] = v;
      }
    }
  };
}

// Dormand–Prince 5(4) tableau
const C = [0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1, 1];
const A: number[][] = [
  [],
  [1 / 5],
  [3 / 40, 9 / 40],
  [44 / 45, -56 / 15, 32 / 9],
  [19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729],
  [9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656],
  [35 / 384, 0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84],
];
const B5 = [35 / 384, 0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84, 0];
const B4 = [5179 / 57600, 0, 7571 / 16695, 393 / 640, -92097 / 339200, 187 / 2100, 1 / 40];

function errorNorm(e: Float64Array, z0: Float64Array, z1: Float64Array, rtol: number, atol: number): number {
  let s = 0;
  for (let i = 0; i < e.length; i++) {
    const sc = atol + rtol * Math.max(Math.abs(z0[i]!), Math.abs(z1[i]!));
    s += (e[i]! / sc) ** 2;
  }
  return Math.sqrt(s / e.length);
}

/** One step of a method: the new state and its error estimate. */
type Stepper = (t: number, z: Float64Array, h: number, znew: Float64Array, err: Float64Array) => void;

function dormandPrince(rhs: (t: number, z: Float64Array, out: Float64Array) => void, dim: number): Stepper {
  const k = Array.from({ length: 7 }, () => new Float64Array(dim));
  const tmp = new Float64Array(dim);
  // first same as last: the seventh stage is f(t + h, znew), the next step's first stage when that step
  // starts from this one's result (an accepted step); kept with the point it was evaluated at
  const lastZ = new Float64Array(dim);
  let lastT = NaN;
  const sameAsLast = (t: number, z: Float64Array): boolean => {
    if (t !== lastT) return false;
    for (let i = 0; i < dim; i++) if (z[i] !== lastZ[i]) return false;
    return true;
  };
  return (t, z, h, znew, err) => {
    if (sameAsLast(t, z)) k[0]!.set(k[6]!);
    else rhs(t, z, k[0]!);
    for (let s = 1; s < 7; s++) {
      for (let i = 0; i < dim; i++) {
        let v = z[i]!;
        for (let j = 0; j < s; j++) v += h * A[s]![j]! * k[j]![i]!;
        tmp[i] = v;
      }
      rhs(t + C[s]! * h, tmp, k[s]!);
    }
    lastT = t + C[6]! * h;
    lastZ.set(tmp);
    for (let i = 0; i < dim; i++) {
      let y5 = z[i]!;
      let e = 0;
      for (let s = 0; s < 7; s++) {
        y5 += h * B5[s]! * k[s]![i]!;
        e += h * (B5[s]! - B4[s]!) * k[s]![i]!;
      }
      znew[i] = y5;
      err[i] = e;
    }
  };
}

/** Solve the dense system W x = b in place (Gaussian elimination with partial pivoting); W is `[d * d]`, destroyed. */
function solveDense(w: Float64Array, b: Float64Array, d: number): void {
  for (let c = 0; c < d; c++) {
    let piv = c;
    for (let r = c + 1; r < d; r++) if (Math.abs(w[r * d + c]!) > Math.abs(w[piv * d + c]!)) piv = r;
    if (piv !== c) {
      for (let k = 0; k < d; k++) [w[c * d + k], w[piv * d + k]] = [w[piv * d + k]!, w[c * d + k]!];
      [b[c], b[piv]] = [b[piv]!, b[c]!];
    }
    const diag = w[c * d + c]!;
    for (let r = c + 1; r < d; r++) {
      const f = w[r * d + c]! / diag;
      if (f === 0) continue;
      for (let k = c; k < d; k++) w[r * d + k]! -= f * w[c * d + k]!;
      b[r]! -= f * b[c]!;
    }
  }
  for (let r = d - 1; r >= 0; r--) {
    let v = b[r]!;
    for (let k = r + 1; k < d; k++) v -= w[r * d + k]! * b[k]!;
    b[r] = v / w[r * d + r]!;
  }
}

/**
 * Shampine's Rosenbrock 2(3) (MATLAB's ode23s, Wolfbrandt's modified
 * Rosenbrock formula: second order for any approximation W of the Jacobian)
 * on the augmented system. W uses the block-diagonal Jacobian `I (x) J_y` of
 * the augmented system (the sensitivities' dependence on y through J_y is left
 * out), with `J_y` from `stateJacobian`; the time derivative comes from
 * central differences of the augmented right-hand side.
 */
function rosenbrock(rhs: (t: number, z: Float64Array, out: Float64Array) => void, dim: number, n: number, stateJacobian: (t: number, y: Float64Array) => Float64Array): Stepper {
  const d = 1 / (2 + Math.SQRT2);
  const e32 = 6 + Math.SQRT2;
  const f0 = new Float64Array(dim);
  const f1 = new Float64Array(dim);
  const f2 = new Float64Array(dim);
  const up = new Float64Array(dim);
  const dn = new Float64Array(dim);
  const jac = new Float64Array(dim * dim);
  const dt = new Float64Array(dim);
  const tmp = new Float64Array(dim);
  const solveW = (h: number, b: Float64Array, out: Float64Array) => {
    const w = new Float64Array(dim * dim);
    for (let i = 0; i < dim * dim; i++) w[i] = -h * d * jac[i]!;
    for (let i = 0; i < dim; i++) w[i * dim + i]! += 1;
    out.set(b);
    solveDense(w, out, dim);
  };
  const k1 = new Float64Array(dim);
  const k2 = new Float64Array(dim);
  const k3 = new Float64Array(dim);
  return (t, z, h, znew, err) => {
    rhs(t, z, f0);
    const jy = stateJacobian(t, Float64Array.from(z.subarray(0, n)));
    jac.fill(0);
    // the state block, then one block per sensitivity column c (entries n + i m + c, stride m)
    const m = (dim - n) / n;
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) jac[i * dim + j] = jy[i * n + j]!;
    for (let c = 0; c < m; c++) for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) jac[(n + i * m + c) * dim + n + j * m + c] = jy[i * n + j]!;
    const ht = 1e-6 * Math.max(1, Math.abs(t));
    rhs(t + ht, z, up);
    rhs(t - ht, z, dn);
    for (let i = 0; i < dim; i++) dt[i] = (up[i]! - dn[i]!) / (2 * ht);
    for (let i = 0; i < dim; i++) tmp[i] = f0[i]! + h * d * dt[i]!;
    solveW(h, tmp, k1);
    for (let i = 0; i < dim; i++) tmp[i] = z[i]! + 0.5 * h * k1[i]!;
    rhs(t + 0.5 * h, tmp, f1);
    for (let i = 0; i < dim; i++) tmp[i] = f1[i]! - k1[i]!;
    solveW(h, tmp, k2);
    for (let i = 0; i < dim; i++) {
      k2[i]! += k1[i]!;
      znew[i] = z[i]! + h * k2[i]!;
    }
    rhs(t + h, znew, f2);
    for (let i = 0; i < dim; i++) tmp[i] = f2[i]! - e32 * (k2[i]! - f1[i]!) - 2 * (k1[i]! - f0[i]!) + h * d * dt[i]!;
    solveW(h, tmp, k3);
    for (let i = 0; i < dim; i++) err[i] = (h / 6) * (k1[i]! - 2 * k2[i]! + k3[i]!);
  };
}

class AbortedError extends Error {
  constructor() {
    super('odeSolve: aborted');
    this.name = 'AbortError';
  }
}

/** What an aborted solve throws: the signal's reason, as every engine does (else an `AbortError`). */
function aborted(signal: AbortSignal): unknown {
  return signal.reason ?? new AbortedError();
}

/**
 * Tolerance of the solves the compiled path's gradient check runs (`CustomOp.precise`): tight enough
 * that the solver's discretisation (about its tolerance, relative) is far below the check's 1e-3.
 */
const PRECISE_TOL = 1e-8;

/** The options a solve runs with (defaults filled in). */
type SolveOptions = Required<Omit<OdeOptions, 'jacobian' | 'signal'>> & OdeOptions;

function solveOne(f: OdeRhs, y0: Float64Array, t0: number, ts: readonly number[], p: Float64Array, o: SolveOptions): Solved {
  const n = y0.length;
  const m = n + p.length;
  const dim = n + n * m;
  const rhs = augmented(f, o.jacobian, n, p);
  const fd = fdJacobian(f, n, p.length);
  const stateJacobian = (t: number, y: Float64Array): Float64Array => (o.jacobian ? copyRows(o.jacobian(t, y, p).dy, new Float64Array(n * n), n) : fd(t, y, p).dy);
  const step = o.method === 'rosenbrock' ? rosenbrock(rhs, dim, n, stateJacobian) : dormandPrince(rhs, dim);
  const order = o.method === 'rosenbrock' ? 2 : 4;
  let z = new Float64Array(dim);
  z.set(y0);
  for (let i = 0; i < n; i++) z[n + i * m + i] = 1;
  let znew = new Float64Array(dim);
  const err = new Float64Array(dim);
  const yOut = new Float64Array(ts.length * n);
  const sOut = new Float64Array(ts.length * n * m);
  let t = t0;
  // starting step: a fraction of the first interval scaled by the derivative (Hairer's heuristic, simplified)
  const f0 = new Float64Array(dim);
  rhs(t, z, f0);
  let d0 = 0;
  let d1 = 0;
  for (let i = 0; i < n; i++) {
    const sc = o.atol + o.rtol * Math.abs(z[i]!);
    d0 += (z[i]! / sc) ** 2;
    d1 += (f0[i]! / sc) ** 2;
  }
  let h = d0 < 1e-10 || d1 < 1e-10 ? 1e-6 : 0.01 * Math.sqrt(d0 / d1);
  h = Math.min(h, ts[0]! - t0);
  let steps = 0;
  for (let k = 0; k < ts.length; k++) {
    const target = ts[k]!;
    let stepsHere = 0;
    while (t < target) {
      if (++stepsHere > o.maxSteps) {
        throw new InvalidParameterError('odeSolve', 'maxSteps', `odeSolve: more than maxSteps = ${o.maxSteps} steps between t = ${t} and ${target} (a stiff system? try method 'rosenbrock'; or raise maxSteps)`);
      }
      if (++steps % 100 === 0 && o.signal?.aborted) throw aborted(o.signal);
      const last = t + h >= target * (1 - 1e-15) - 1e-300;
      const hh = last ? target - t : h;
      step(t, z, hh, znew, err);
      const e = errorNorm(err, z, znew, o.rtol, o.atol);
      if (!Number.isFinite(e)) {
        h = hh / 10;
        if (h < 1e-14 * Math.max(1, Math.abs(t))) throw new InvalidParameterError('odeSolve', 'params', `odeSolve: the solution is not finite near t = ${t}`);
        continue;
      }
      if (e <= 1) {
        t = last ? target : t + hh;
        [z, znew] = [znew, z];
      }
      const factor = Math.min(5, Math.max(0.2, 0.9 * (e === 0 ? 5 : e ** (-1 / (order + 1)))));
      h = hh * factor;
      if (h < 1e-14 * Math.max(1, Math.abs(t))) throw new InvalidParameterError('odeSolve', 'params', `odeSolve: the step size underflowed near t = ${t}`);
    }
    if (o.signal?.aborted) throw aborted(o.signal);
    yOut.set(z.subarray(0, n), k * n);
    sOut.set(z.subarray(n), k * n * m);
  }
  return { y: yOut, s: sOut };
}

/** Values given as a tensor `[..., k]` or as an array of numbers or scalar tensors. */
export type OdeVector = tf.Tensor | readonly (number | tf.Tensor)[];

function asTensor(v: OdeVector): tf.Tensor {
  if (v instanceof tf.Tensor) return v;
  return tf.stack(v.map((x) => (typeof x === 'number' ? tf.scalar(x) : x)), -1);
}

/**
 * Solve `dy/dt = f(t, y, params)` from `y(t0) = y0` and return `y` at the
 * output times `ts` (increasing, after `t0`), shape `[..., ts.length, n]`
 * (Stan's `ode_rk45(f, y0, t0, ts, ...)`). Differentiable in `y0` and
 * `params` (forward sensitivities; see the module notes). `y0` (`[..., n]`)
 * and `params` (`[..., p]`) may carry batch dimensions, which broadcast:
 * each batch member is solved on its own.
 *
 * @throws `InvalidParameterError` (samplers reject the point, as Stan does)
 *   when the solve needs more than `maxSteps` steps or the solution is not finite.
 */
export function odeSolve(f: OdeRhs, y0: OdeVector, t0: number, ts: readonly number[], params: OdeVector = [], options: OdeOptions = {}): tf.Tensor {
  if (typeof f !== 'function') throw new TypeError('odeSolve: f must be a function (t, y, params) => dy/dt');
  if (!Number.isFinite(t0)) throw new RangeError(`odeSolve: t0 must be finite, got ${t0}`);
  if (ts.length === 0 || !ts.every((t, i) => Number.isFinite(t) && t > (i === 0 ? t0 : ts[i - 1]!))) {
    throw new RangeError(`odeSolve: ts must be finite, strictly increasing and after t0 = ${t0}, got [${ts.slice(0, 8).join(', ')}${ts.length > 8 ? ', ...' : ''}]`);
  }
  const o = { method: options.method ?? 'rk45', rtol: options.rtol ?? 1e-6, atol: options.atol ?? 1e-6, maxSteps: options.maxSteps ?? 1e6, jacobian: options.jacobian, signal: options.signal };
  if (o.method !== 'rk45' && o.method !== 'rosenbrock') throw new RangeError(`odeSolve: unknown method '${String(o.method)}'; use 'rk45' or 'rosenbrock'`);
  for (const [k, v] of [['rtol', o.rtol], ['atol', o.atol]] as const) if (!(v > 0 && Number.isFinite(v))) throw new RangeError(`odeSolve: ${k} must be positive, got ${v}`);
  if (!(Number.isInteger(o.maxSteps) && o.maxSteps >= 1)) throw new RangeError(`odeSolve: maxSteps must be a positive integer, got ${o.maxSteps}`);
  if (o.signal?.aborted) throw aborted(o.signal);
  return tf.tidy(() => {
    const yT = tf.cast(asTensor(y0), 'float32');
    const pT = params instanceof tf.Tensor || params.length > 0 ? tf.cast(asTensor(params), 'float32') : tf.zeros([0]);
    if (yT.rank < 1) throw new TypeError(`odeSolve: y0 must be a vector [..., n], got shape [${yT.shape.join(', ')}]`);
    return customOp(odeOp(f, t0, ts, o), [yT, pT]);
  });
}

/**
 * The solve as a custom op (see `backend/jit/custom-kernels.ts`): one float64
 * implementation, run on tfjs as a `tf.customGrad` op and, in a compiled
 * replay, as one node. Forward solves each batch member with its
 * sensitivities; backward contracts them with the upstream gradient, summing
 * over broadcast batch axes. A solve that fails (`InvalidParameterError`)
 * rejects the point.
 */
function odeOp(f: OdeRhs, t0: number, ts: readonly number[], o: SolveOptions): CustomOp {
  const T = ts.length;
  return {
    name: 'odeSolve',
    outputShape([yShape, pShape]) {
      const n = yShape![yShape!.length - 1]!;
      const yb = yShape!.slice(0, -1);
      const pb = pShape!.length > 0 ? pShape!.slice(0, -1) : [];
      return [...broadcastBatch(yb, pb), T, n];
    },
    declines: (err) => err instanceof InvalidParameterError,
    precise: () => odeOp(f, t0, ts, { ...o, rtol: Math.min(o.rtol, PRECISE_TOL), atol: Math.min(o.atol, PRECISE_TOL), maxSteps: o.maxSteps * 100 }),
    instantiate([yShape, pShape], outShape) {
      const n = yShape![yShape!.length - 1]!;
      const np = pShape![pShape!.length - 1] ?? 0;
      const m = n + np;
      const bshape = outShape.slice(0, -2);
      const B = bshape.reduce((a, b) => a * b, 1);
      const ymap = broadcastMap(yShape!.slice(0, -1), bshape);
      const pmap = np === 0 ? null : broadcastMap(pShape!.slice(0, -1), bshape);
      const sens: Float64Array[] = [];
      return {
        forward([yv, pv], out) {
          for (let b = 0; b < B; b++) {
            const yi = ymap ? ymap[b]! : b;
            const pi = pmap ? pmap[b]! : b;
            const r = solveOne(f, yv!.slice(yi * n, (yi + 1) * n), t0, ts, np === 0 ? new Float64Array(0) : pv!.slice(pi * np, (pi + 1) * np), o);
            out.set(r.y, b * T * n);
            sens[b] = r.s;
          }
        },
        backward(_inputs, _out, g, [gy, gp]) {
          for (let b = 0; b < B; b++) {
            const s = sens[b]!;
            const yo = (ymap ? ymap[b]! : b) * n;
            const po = (pmap ? pmap[b]! : b) * np;
            for (let k = 0; k < T; k++) {
              for (let i = 0; i < n; i++) {
                const w = g[(b * T + k) * n + i]!;
                if (w === 0) continue;
                const row = (k * n + i) * m;
                if (gy) for (let j = 0; j < n; j++) gy[yo + j]! += w * s[row + j]!;
                if (gp) for (let j = 0; j < np; j++) gp[po + j]! += w * s[row + n + j]!;
              }
            }
          }
        },
      };
    },
  };
}

function broadcastBatch(a: readonly number[], b: readonly number[]): number[] {
  const r = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < r; i++) {
    const x = a[a.length - r + i] ?? 1;
    const y = b[b.length - r + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) throw new TypeError(`odeSolve: batch shapes of y0 [${a.join(', ')}] and params [${b.join(', ')}] do not broadcast`);
    out.push(Math.max(x, y));
  }
  return out;
}
