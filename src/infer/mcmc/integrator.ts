/**
 * Phase points, the leapfrog integrator and the Hamiltonian.
 *
 * Kernels are written as coroutines (generators) that yield every point at
 * which they need the log density and gradient and are resumed with the
 * answer. This keeps each algorithm written once, independent of how the
 * gradient is computed: a driver can answer one chain's requests one at a
 * time, or gather the pending requests of K chains into one batched call
 * (see `sampler.ts`).
 *
 * @module
 */
import type { GradientAnswer } from './target.js';
import type { EuclideanMetric } from './metric.js';

/**
 * A coroutine that yields positions `q` at which it needs the log density
 * and gradient, is resumed with them, and finally returns a `T`. A yielded
 * `q` stays unchanged until the coroutine is resumed (kernels may integrate
 * in place afterwards), so a driver copies it before resuming.
 */
export type GradientCoroutine<T> = Generator<readonly number[], T, GradientAnswer>;

/** A position with its log density and gradient. */
export interface Position {
  readonly q: readonly number[];
  /** log density at q; `-Infinity` outside the support (or where it or its gradient is not finite). */
  readonly logp: number;
  /** d logp / dq at q. */
  readonly grad: readonly number[];
}

/** A position with a momentum: a point in phase space. */
export interface PhasePoint extends Position {
  readonly p: readonly number[];
}

/**
 * Asks the driver for the log density and gradient at `q` and copies the
 * answer. A non-finite log density (NaN, +-Infinity) or gradient becomes
 * `logp = -Infinity`, which the kernels treat as leaving the support (a
 * divergence), never as NaN arithmetic.
 */
export function* evaluate(q: readonly number[]): GradientCoroutine<Position> {
  const a = yield q;
  const d = q.length;
  const grad: number[] = [];
  let ok = Number.isFinite(a.logp);
  for (let i = 0; i < d; i++) {
    const g = a.grad[a.offset + i]!;
    if (!Number.isFinite(g)) ok = false;
    grad.push(g);
  }
  return { q, logp: ok ? a.logp : -Infinity, grad };
}

/**
 * The Hamiltonian H = -log p(q) + p^T M^{-1} p / 2, or `Infinity` where it
 * is not finite (outside the support, overflow), so that energy errors
 * compare safely.
 */
export function hamiltonian(z: PhasePoint, metric: EuclideanMetric): number {
  const h = -z.logp + metric.kinetic(z.p);
  return Number.isFinite(h) ? h : Infinity;
}

/**
 * One leapfrog (velocity Verlet) step of size `eps` (negative integrates
 * backwards in time): half a momentum step, a full position step along the
 * velocity M^{-1} p, a gradient evaluation, and half a momentum step.
 * Returns a new phase point; `z` is left untouched.
 */
export function* leapfrog(z: PhasePoint, eps: number, metric: EuclideanMetric): GradientCoroutine<PhasePoint> {
  const d = z.q.length;
  const half = 0.5 * eps;
  const p: number[] = [];
  for (let i = 0; i < d; i++) p.push(z.p[i]! + half * z.grad[i]!);
  const at = yield* evaluate(metric.drift(z.q, p, eps));
  for (let i = 0; i < d; i++) p[i] = p[i]! + half * at.grad[i]!;
  return { q: at.q, p, logp: at.logp, grad: at.grad };
}
