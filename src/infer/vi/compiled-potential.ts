/**
 * The float64 path of VI with autoguides: the model's log density in
 * unconstrained space (the potential NUTS samples, `mcmc/potential.ts`),
 * compiled once from a trace (`backend/jit`) and replayed in float64 for every
 * draw, entered into the tfjs gradient tape as one op whose gradient is the
 * replay's.
 *
 * An autoguide draws z in unconstrained space with density q_u(z). With
 * U(z) = log p(x, T(z)) + log|det J_T(z)|, the objective's log weights are
 * U(z) - log q_u(z), the same as log p - log q over constrained values
 * (the Jacobian cancels), so the objective, its gradient through z's
 * reparameterisation, and the guide's own terms stay on tfjs while U and
 * dU/dz come from the replay, in double precision.
 *
 * Points where the model rejects its parameters (a distribution's check
 * fails: U = -Infinity) are dropped from the step's average, as Stan's ADVI
 * drops draws whose log density throws, instead of stopping the run; a step
 * where every draw is dropped still stops it. Only the ELBO-type objectives
 * (one draw per group) drop draws; grouped objectives (IWAE, Rényi) weigh a
 * rejected draw as zero within its group.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Handler } from '../../core/message.js';
import { type Model, execute } from '../../core/model.js';
import { tidyAsync } from '../../backend/autodiff.js';
import { rngFrom } from '../../core/rng.js';
import { type Layout, replayedChainsLogDensityFn } from '../mcmc/potential.js';
import type { CompileStats } from '../mcmc/compiled-density.js';
import { TycheError } from '../../core/errors.js';

/** The compiled potential of a model and how it is used. */
export class CompiledPotential {
  /** Draws whose point the model rejected, over all evaluations. */
  dropped = 0;

  private constructor(private readonly fn: ReturnType<typeof replayedChainsLogDensityFn>) {}

  /**
   * The compiled potential of `model`, or why there is none: a model with
   * `param` sites (their values change while the guide is fitted, and a
   * record would freeze them), a model the recorder refuses, or a self-check
   * failure (the reason says which). `probe` is where to record the model
   * first (e.g. the guide's location).
   */
  static async create<A extends unknown[], R>(model: Model<A, R>, args: A, layout: Layout, probe: Float64Array): Promise<CompiledPotential | { reason: string }> {
    // a prior run that notes param sites (a float32 run may fail part way, e.g. at a Cholesky: the sites seen so far count)
    let hasParams = false;
    let subsampled: string | undefined;
    const spy: Handler = {
      process(msg) {
        if (msg.type === 'param') hasParams = true;
        const p = msg.plates.find((f) => f.subsampleSize !== f.size);
        if (p) subsampled ??= p.name;
      },
    };
    await tidyAsync(() => execute(model, { rng: rngFrom(0), handlers: [spy] }, ...args).catch(() => undefined), () => []);
    if (hasParams) return { reason: 'the model has param sites (learned with the guide), which a compiled record would freeze' };
    if (subsampled !== undefined) return { reason: `plate "${subsampled}" takes a subsample, which a compiled record would freeze` };
    const fn = replayedChainsLogDensityFn(model, args, layout, 1, { compile: true });
    // the record is made by a float32 run of the model, which may reject a point the float64 replay accepts
    // (a Cholesky with tiny jitter): try the guide's location, then the origin, then points between them
    const tries = [probe, new Float64Array(probe.length), ...[0.5, 0.25, 0.1].map((a) => probe.map((v) => a * v))];
    for (const point of tries) {
      await fn(point);
      if (fn.compileStatus() !== 'not yet') break;
    }
    const status = fn.compileStatus();
    return status === true ? new CompiledPotential(fn) : { reason: status };
  }

  /** How the replay's evaluations went (guard misses count as rejected draws). */
  get stats(): CompileStats {
    return this.fn.compileStats();
  }

  /**
   * dU/dz at `rows` points (row-major `rows x D`), read-only: no draws are
   * counted as dropped, and a row the replay cannot serve (the model rejects
   * the point, or a validity guard changed) is NaN throughout. For checks of
   * a fitted guide (`mean-field-check.ts`).
   */
  gradientRows(q: Float64Array, rows: number): Float64Array {
    const dim = q.length / rows;
    const r = this.fn.replayOnly(q);
    if (!r) return new Float64Array(q.length).fill(NaN);
    const g = Float64Array.from(r.grad);
    for (let i = 0; i < rows; i++) if (!Number.isFinite(r.logp[i]!)) g.fill(NaN, i * dim, (i + 1) * dim);
    return g;
  }

  /**
   * U(z) for z `[S, D]` on the gradient tape: `logP` of shape `[S]`
   * (-Infinity where the model rejects the point, or where a validity guard
   * of the record changed, which the replay cannot follow), and `valid`, the
   * rows where it is finite. Synchronous: no tfjs run of the model, so it can
   * sit inside another gradient computation.
   */
  evaluate(z: tf.Tensor): { logP: tf.Tensor; valid: number[] } {
    const [rows, dim] = z.shape as [number, number];
    const r = this.fn.replayOnly(Float64Array.from(z.dataSync()))!;
    const valid: number[] = [];
    for (let i = 0; i < rows; i++) {
      if (Number.isNaN(r.logp[i]!)) throw new TycheError(`vi: the log density is NaN at a draw from the guide (${Array.from(z.dataSync().subarray(i * dim, (i + 1) * dim), (v) => v.toPrecision(4)).join(', ')} in unconstrained space); NaN is an error, not a rejection`);
      if (Number.isFinite(r.logp[i]!)) valid.push(i);
    }
    this.dropped += rows - valid.length;
    const value = Float32Array.from(r.logp);
    const g = Float32Array.from(r.grad);
    const op = tf.customGrad((...inputs: (tf.Tensor | tf.GradSaveFunc)[]) => {
      void inputs;
      return {
        value: tf.tensor1d(value),
        gradFunc: (dy: tf.Tensor) => tf.mul(tf.reshape(dy, [rows, 1]), tf.tensor2d(g, [rows, dim])),
      };
    });
    return { logP: op(z) as tf.Tensor, valid };
  }
}
