/**
 * Targets for the gradient-based MCMC kernels.
 *
 * The kernels in this folder know nothing about models: they move a point
 * `q` in an unconstrained space R^D and need only the log density and its
 * gradient there. The model layer (bijectors to the unconstrained space, the
 * log-Jacobian, autodiff) wraps a model as one of the two target forms below.
 *
 * - {@link LogDensityTarget}: one point at a time (one chain).
 * - {@link BatchedLogDensityTarget}: K points at once, row-major in one
 *   `Float64Array` of length K*D. This is the form to implement with a single
 *   batched tfjs computation, where tensors pay; the vectorised samplers call
 *   it once per leapfrog step for every chain still moving.
 *
 * Either form may answer synchronously or with a promise (async models).
 * The sampler reuses its `q` buffers between calls and copies the answer
 * before the next call, so a target must not keep `q`, and may return the
 * same `grad` buffer every time (no allocation per call).
 *
 * @module
 */

/** A value or a promise of it. */
export type MaybePromise<T> = T | Promise<T>;

/** The log density at one point and its gradient with respect to the point. */
export interface LogDensityAndGradient {
  /** log density (up to a constant); `-Infinity` outside the support. */
  readonly logp: number;
  /** d logp / dq, length D. */
  readonly grad: Float64Array;
}

/** The log densities and gradients at K points. */
export interface BatchedLogDensityAndGradient {
  /** log densities, length K. */
  readonly logp: Float64Array;
  /** gradients, row-major K x D. */
  readonly grad: Float64Array;
}

/**
 * A single-point target: `q` (length D) to its log density and gradient.
 * `q` is only valid during the call (the sampler reuses it).
 */
export type LogDensityTarget = (q: Float64Array) => MaybePromise<LogDensityAndGradient>;

/**
 * A batched target: `q` holds K points row-major (length K*D) and the answer
 * holds K log densities and K gradients. K is the number of chains, unless
 * the sampler runs with `fixedBatch: false`, where only the chains still
 * running are sent (then read K as `q.length / D`). `q` is only valid during
 * the call (the sampler reuses it).
 */
export type BatchedLogDensityTarget = (q: Float64Array) => MaybePromise<BatchedLogDensityAndGradient>;

/**
 * What a driver hands back to a kernel coroutine: a log density and the
 * gradient found at `grad[offset .. offset + D)` (a row of a batched answer,
 * or a whole single answer with offset 0). Read once, then copied.
 */
export interface GradientAnswer {
  readonly logp: number;
  readonly grad: ArrayLike<number>;
  readonly offset: number;
}

/**
 * Checks the shape of a single-point target's answer.
 *
 * @throws TypeError when the answer has the wrong type or gradient length.
 */
export function checkLogDensityAndGradient(r: LogDensityAndGradient, dim: number): LogDensityAndGradient {
  if (r === null || typeof r !== 'object' || typeof r.logp !== 'number' || !(r.grad instanceof Float64Array)) {
    throw new TypeError('mcmc target: expected { logp: number, grad: Float64Array } from the log-density function');
  }
  if (r.grad.length !== dim) {
    throw new TypeError(`mcmc target: gradient has length ${r.grad.length}, expected dim = ${dim}`);
  }
  return r;
}

/**
 * Checks the shape of a batched target's answer for `k` points.
 *
 * @throws TypeError when the answer has the wrong type or lengths.
 */
export function checkBatchedLogDensityAndGradient(
  r: BatchedLogDensityAndGradient,
  k: number,
  dim: number,
): BatchedLogDensityAndGradient {
  if (
    r === null ||
    typeof r !== 'object' ||
    !(r.logp instanceof Float64Array) ||
    !(r.grad instanceof Float64Array)
  ) {
    throw new TypeError('mcmc batched target: expected { logp: Float64Array, grad: Float64Array }');
  }
  if (r.logp.length !== k || r.grad.length !== k * dim) {
    throw new TypeError(
      `mcmc batched target: for ${k} points of dim ${dim} expected logp of length ${k} and grad of length ${k * dim}, ` +
        `got ${r.logp.length} and ${r.grad.length}`,
    );
  }
  return r;
}

/**
 * Wraps a single-point target as a batched one: a loop over the rows,
 * synchronous while the target answers synchronously.
 */
export function batchTarget(target: LogDensityTarget, dim: number): BatchedLogDensityTarget {
  const row = new Float64Array(dim);
  return (q) => {
    const k = q.length / dim;
    const logp = new Float64Array(k);
    const grad = new Float64Array(q.length);
    const store = (i: number, answer: LogDensityAndGradient): void => {
      const r = checkLogDensityAndGradient(answer, dim);
      logp[i] = r.logp;
      grad.set(r.grad, i * dim);
    };
    const ask = (i: number): MaybePromise<LogDensityAndGradient> => {
      for (let j = 0; j < dim; j++) row[j] = q[i * dim + j]!;
      return target(row);
    };
    for (let i = 0; i < k; i++) {
      const answer = ask(i);
      if (answer instanceof Promise) {
        // an async target: finish the remaining rows one after the other
        return (async () => {
          store(i, await answer);
          for (let m = i + 1; m < k; m++) store(m, await ask(m));
          return { logp, grad };
        })();
      }
      store(i, answer);
    }
    return { logp, grad };
  };
}
