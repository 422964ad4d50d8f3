/**
 * A model's log density in two parts, the second scaled by a number β,
 * compiled once and replayed in float64 for many rows at a time:
 *
 *     f(q, β) = base(q) + β · scaled(q) + log|det J_T(q)|
 *
 * For tempered SMC, base is the log prior and scaled the log-likelihood
 * (observed sites and factors), so f is the log density of the tempered
 * target p(x) p(y | x)^β in unconstrained space. For importance sampling the
 * layout's transforms are identities and f is evaluated at β = 1.
 *
 * β is an input of the record, not a constant baked into it: the model is
 * recorded once at a point `[q, β]` (see `backend/jit`) and every later
 * temperature replays the same record. The replay's gradient with respect to
 * β is the scaled part itself, so one evaluation gives both parts and the
 * gradient of the tempered log density with respect to q.
 *
 * Rows where a validity guard of the record changes run the model on tfjs
 * (float32) for that row alone, as in `CompiledDensity`; where the model does
 * not compile at all, {@link ScaledDensity.create} says why and the caller
 * falls back to running the model.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Model } from '../core/model.js';
import type { Trace } from '../core/trace.js';
import { type Value, add, mul } from '../core/value.js';
import { type CompileStats, CompiledDensity } from './mcmc/compiled-density.js';
import { type Layout, logDensityTensorFn, nanDensityError, singlePointOnTfjs } from './mcmc/potential.js';
import type { Pacer } from './pace.js';
import { insideGradientLock } from '../backend/autodiff.js';
import { insideLedger } from '../backend/ledger.js';

/** The two parts of a model run's log density (see the module notes). */
export interface ScaledParts {
  /** The unscaled part (e.g. the log prior of the latent sites). */
  readonly base: Value;
  /** The part multiplied by β (e.g. the log-likelihood). */
  readonly scaled: Value;
}

/** One evaluation of `rows` points at one β. */
export interface ScaledEvaluation {
  /**
   * The base part plus the log-Jacobian, per row; `-Infinity` where the
   * scaled part is `-Infinity` (the base is then not computed).
   */
  readonly base: Float64Array;
  /** The scaled part, per row. */
  readonly scaled: Float64Array;
  /** The gradient of base + β · scaled with respect to q, rows × dim (row-major). */
  readonly grad: Float64Array;
}

/** Why a record cannot be made here: inside another engine's run (a model that runs inference itself). */
export const NESTED_RUN = "inside another inference run (recording a model needs the tfjs engine's scopes and tape to itself)";

/** Whether the caller runs inside another engine's run, where {@link ScaledDensity.create} must not record. */
export async function insideAnotherRun(): Promise<boolean> {
  return (await insideLedger()) || (await insideGradientLock());
}

/** The parts of tempered SMC: base = log prior of the latent sites, scaled = log-likelihood (observed sites and factors). */
export function priorAndLikelihood(trace: Trace): ScaledParts {
  return { base: trace.logPrior(), scaled: trace.logLikelihood() };
}

/** A compiled two-part log density over rows (see the module notes). */
export class ScaledDensity {
  private buffer: Float64Array;

  private constructor(
    private readonly compiled: CompiledDensity,
    private readonly dim: number,
    private readonly onNaN: (q: Float64Array) => Promise<Error>,
    private rows: number,
  ) {
    this.buffer = new Float64Array(rows * (dim + 1));
  }

  /**
   * Record `m` (its latent sites laid out by `layout`) split into `parts`,
   * trying each of `probes` (points of `layout.dim`) until one records and
   * passes the self-check against tfjs: a float32 run may reject a point
   * the float64 replay accepts, or compute it inaccurately. Returns the
   * density, or why it does not compile (the caller runs the model instead).
   * `rows` is the number of points each {@link evaluate} takes.
   */
  static async create<A extends unknown[], R>(
    m: Model<A, R>,
    args: A,
    layout: Layout,
    parts: (trace: Trace) => ScaledParts,
    rows: number,
    probes: readonly Float64Array[],
  ): Promise<ScaledDensity | { reason: string }> {
    const dim = layout.dim;
    // the β of the run being recorded or evaluated on tfjs: set by `density` just before the model runs
    let beta: tf.Tensor | undefined;
    const inner = logDensityTensorFn(m, args, layout, undefined, false, (trace) => {
      const p = parts(trace);
      return add(p.base, mul(p.scaled, beta!));
    });
    const density = async (input: tf.Tensor): Promise<tf.Tensor> => {
      beta = tf.reshape(tf.slice(input, [dim], [1]), []);
      return inner(tf.slice(input, [0], [dim]));
    };
    const viaTfjs = singlePointOnTfjs(density, dim + 1);
    const fresh = (): CompiledDensity =>
      new CompiledDensity(
        density,
        [dim + 1],
        async (q) => {
          const r = await viaTfjs(q);
          return { logp: Float64Array.of(r.logp), grad: r.grad };
        },
        true,
        1,
      );
    const onNaN = (q: Float64Array): Promise<Error> => nanDensityError(m, args, layout, q);
    let self = new ScaledDensity(fresh(), dim, onNaN, 1);
    let reason = 'the model rejected every point tried for its recording';
    for (const p of probes) {
      if (p.length !== dim) throw new Error(`scaled density: a probe has ${p.length} values, expected ${dim}`);
      try {
        await self.evaluate(p, 1);
      } catch (err) {
        // the record was refused and the tfjs run of the point failed too (e.g. JS arithmetic on a draw that is a tensor here)
        const status = self.compiled.status;
        return { reason: status !== true && status !== 'not yet' ? status : err instanceof Error ? err.message.split('\n')[0]! : String(err) };
      }
      const status = self.compiled.status;
      if (status === true) {
        self.resize(rows);
        return self;
      }
      if (status === 'not yet') continue; // the model rejected this point: record at the next
      reason = status;
      // the self-check compares with a float32 tfjs run, which can be the inaccurate one at an ill-conditioned
      // point (a Cholesky with tiny jitter): record afresh at the next probe; any other refusal is final
      if (!status.startsWith('self-check failed')) break;
      self = new ScaledDensity(fresh(), dim, onNaN, 1);
    }
    return { reason };
  }

  /** Change the number of rows each {@link evaluate} takes. */
  resize(rows: number): void {
    if (!Number.isInteger(rows) || rows < 1) throw new RangeError(`scaled density: rows must be a positive integer, got ${rows}`);
    this.rows = rows;
    this.buffer = new Float64Array(rows * (this.dim + 1));
  }

  /** How evaluations were served (replayed, or on tfjs and why). */
  get stats(): CompileStats {
    return this.compiled.stats;
  }

  /**
   * Both parts and the gradient of base + β · scaled at each row of `q`
   * (`rows` × dim). β must be positive (the base part is recovered as
   * f - β · scaled). A NaN log density is an error naming the site. With
   * `pace`, the loop over rows yields to the event loop every few ms and
   * stops when its signal aborts.
   */
  async evaluate(q: Float64Array, beta: number, pace?: Pacer): Promise<ScaledEvaluation> {
    const { dim, rows } = this;
    if (q.length !== rows * dim) throw new Error(`scaled density: expected ${rows} rows of ${dim} values, got ${q.length} values`);
    if (!(beta > 0 && Number.isFinite(beta))) throw new RangeError(`scaled density: beta must be a positive number, got ${beta}`);
    const buf = this.buffer;
    for (let r = 0; r < rows; r++) {
      buf.set(q.subarray(r * dim, (r + 1) * dim), r * (dim + 1));
      buf[r * (dim + 1) + dim] = beta;
    }
    const base = new Float64Array(rows);
    const scaled = new Float64Array(rows);
    const grad = new Float64Array(rows * dim);
    for (let r = 0; r < rows; r++) {
      if (pace?.due()) await pace.pause();
      const one = await this.compiled.evaluate(buf.subarray(r * (dim + 1), (r + 1) * (dim + 1)));
      const f = one.logp[0]!;
      if (Number.isNaN(f)) throw await this.onNaN(q.slice(r * dim, (r + 1) * dim));
      const s = one.grad[dim]!;
      scaled[r] = s;
      // -Infinity where either part is; a rejected point (f = -Infinity, zero gradient) counts as a zero-density likelihood
      base[r] = f === -Infinity || !Number.isFinite(s) ? -Infinity : f - beta * s;
      if (f === -Infinity && s === 0) scaled[r] = -Infinity;
      grad.set(one.grad.subarray(0, dim), r * dim);
    }
    return { base, scaled, grad };
  }
}
