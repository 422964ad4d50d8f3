/**
 * A model as a log density on unconstrained real space, with gradients —
 * what HMC, NUTS, VI and SVGD work on.
 *
 * A probe run finds the model's latent sites; each must be continuous and
 * always present. Each site's support is mapped to real space with
 * `bijectTo(support)`, and the unconstrained coordinates of all sites are
 * laid end to end in one vector q of length `dim`. The log density is
 * log p(T(q), y) + log|det J_T(q)|, evaluated by running the model with the
 * constrained values substituted, and differentiated by tfjs autodiff
 * through the async model (see `backend/autodiff.ts`).
 *
 * Two evaluators share the layout: one for a single q, and one for K chains
 * at once, which runs the model a single time in batched mode (a leading
 * chain axis on every latent value). The batched one needs a model written
 * with tensor arithmetic and no branching on random values; where the model
 * cannot run batched, {@link canRunBatched} says why and engines fall back.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { valueAndGradsAsync } from '../../backend/autodiff.js';
import type { Handler, Message } from '../../core/message.js';
import { type Model, ModelError, execute } from '../../core/model.js';
import { type Rng, rngFrom } from '../../core/rng.js';
import { type Trace, plateNestingOf } from '../../core/trace.js';
import { type Value, sizeOf, toTensor } from '../../core/value.js';
import type { Distribution } from '../../distributions/distribution.js';
import type { Bijector } from '../../transforms/bijector.js';
import { bijectTo } from '../../transforms/biject-to.js';
import { IdentityBijector } from '../../transforms/elementwise.js';
import { type CompileMode, type CompileStatus, CompiledDensity } from './compiled-density.js';
import type { BatchedLogDensityAndGradient, LogDensityAndGradient } from './target.js';

/** Options of the log-density evaluators. */
export interface PotentialOptions {
  /**
   * Replay a compiled trace of the model instead of running it (see
   * `compiled-density.ts`): `true`, `false` (default) or `'auto'` (only when
   * faster). Only for densities that depend on nothing but `q`.
   */
  readonly compile?: CompileMode;
}

/** An evaluator that reports whether it runs compiled (`true`) or why not. */
export type Compiled<F> = F & { readonly compileStatus: () => CompileStatus };

/** Where one latent site lives in the unconstrained vector. */
export interface SiteLayout {
  readonly address: string;
  /** Shape of the constrained value (batch ++ event). */
  readonly shape: number[];
  /** Shape of the unconstrained value. */
  readonly unconstrainedShape: number[];
  /** Offset in q. */
  readonly offset: number;
  /** Number of unconstrained coordinates. */
  readonly size: number;
  /** Maps unconstrained to constrained values. */
  readonly bijector: Bijector;
  /** Number of leading batch axes of the value (before the bijector's event axes). */
  readonly batchRank: number;
}

/** The unconstrained parameterisation of a model's latent sites. */
export interface Layout {
  readonly sites: SiteLayout[];
  readonly dim: number;
  /** Plate nesting of the model (for batched runs). */
  readonly plateNesting: number;
  /** Coordinate names, e.g. `theta[3]` (unconstrained coordinates of each site). */
  readonly names: string[];
}

/** Probe the model once (prior draw) and lay out its continuous latent sites. */
export async function layoutOf<A extends unknown[], R>(m: Model<A, R>, args: A, rng: Rng): Promise<{ layout: Layout; trace: Trace }> {
  const { trace } = await execute(m, { rng }, ...args);
  const sites: SiteLayout[] = [];
  const names: string[] = [];
  let offset = 0;
  for (const s of trace) {
    if (s.type !== 'sample' || s.observed) continue;
    const dist = s.dist as Distribution;
    if (dist.isDiscrete) {
      throw new ModelError(s.address, `${dist.name} is discrete; gradient-based samplers need continuous latent sites (use method 'hmc-gibbs' for finite discrete sites, 'mh' with gibbs, or marginalise the site)`);
    }
    const bijector = bijectTo(dist.support);
    const shape = typeof s.value === 'number' ? [] : [...s.value.shape];
    const unconstrainedShape = bijector.inverseShape(shape);
    const size = sizeOf(unconstrainedShape);
    const batchRank = unconstrainedShape.length - bijector.eventDimIn;
    sites.push({ address: s.address, shape, unconstrainedShape, offset, size, bijector, batchRank });
    for (let i = 0; i < size; i++) names.push(size === 1 && unconstrainedShape.length === 0 ? s.address : `${s.address}[${i}]`);
    offset += size;
  }
  return { layout: { sites, dim: offset, plateNesting: plateNestingOf(trace), names }, trace };
}

/** The unconstrained coordinates of a trace's latent values (e.g. for initialisation from the prior). */
export function unconstrain(layout: Layout, trace: Trace): Float64Array {
  const q = new Float64Array(layout.dim);
  for (const s of layout.sites) {
    const v = trace.get(s.address)?.value;
    if (v === undefined) throw new ModelError(s.address, 'missing from the trace');
    const u = tf.tidy(() => toTensor(s.bijector.inverse(v)).dataSync());
    q.set(Array.from(u, Number), s.offset);
  }
  return q;
}

/** Constrained values from an unconstrained vector (no gradient), by address. */
export function constrain(layout: Layout, q: Float64Array): Record<string, Value> {
  const out: Record<string, Value> = {};
  for (const s of layout.sites) {
    const slice = q.subarray(s.offset, s.offset + s.size);
    if (s.unconstrainedShape.length === 0 && s.bijector.eventDimIn === 0) {
      const v = s.bijector.forward(slice[0]);
      out[s.address] = typeof v === 'number' ? v : tf.keep(v);
    } else {
      out[s.address] = tf.tidy(() => s.bijector.forward(tf.tensor(Float32Array.from(slice), s.unconstrainedShape)) as tf.Tensor);
    }
  }
  return out;
}

/** A handler that substitutes latent values (set before each run) and rejects sites outside the layout. */
function substituteLayout(layout: Layout): Handler & { values: Record<string, Value> } {
  const known = new Set(layout.sites.map((s) => s.address));
  return {
    values: {},
    process(msg: Message) {
      if (msg.type !== 'sample' || msg.observed) return;
      if (!known.has(msg.address)) {
        throw new ModelError(msg.address, 'this latent site was not present in the probe run; gradient-based samplers need a fixed set of continuous latent sites');
      }
      msg.value = this.values[msg.address];
    },
  };
}

/** Sum of all but the leading `keep` axes (nothing to do for rank <= keep). */
function sumTrailing(x: tf.Tensor, keep: number): tf.Tensor {
  if (x.rank <= keep) return x;
  return tf.sum(x, Array.from({ length: x.rank - keep }, (_, i) => i + keep));
}

/**
 * Constrained values of every site from the unconstrained tensor `qT`
 * (`[dim]`, or `[chains, dim]` when batched) and the summed log-Jacobian.
 * One split op unpacks all sites (its gradient is one concat); identity
 * bijectors add no log-Jacobian terms.
 */
function unpackSites(layout: Layout, qT: tf.Tensor, chains: number | undefined): { values: Record<string, Value>; logDet: tf.Tensor | undefined } {
  const values: Record<string, Value> = {};
  const axis = chains === undefined ? 0 : 1;
  const parts = layout.sites.length === 1 ? [qT] : tf.split(qT, layout.sites.map((s) => s.size), axis);
  let logDet: tf.Tensor | undefined;
  layout.sites.forEach((s, k) => {
    // batched: [K, pad..., batch..., event...] — chain axis, reserved plate axes, then the site's own shape
    const shape = chains === undefined ? s.unconstrainedShape : [chains, ...new Array<number>(Math.max(0, layout.plateNesting - s.batchRank)).fill(1), ...s.unconstrainedShape];
    const part = parts[k]!;
    const u = sameShape(part.shape, shape) ? part : tf.reshape(part, shape);
    const v = s.bijector.forward(u);
    values[s.address] = v;
    if (s.bijector instanceof IdentityBijector) return;
    const ld = s.bijector.logDetJacobian(u, v);
    const term = typeof ld === 'number' ? (ld === 0 ? undefined : tf.scalar(ld)) : sumTrailing(ld, chains === undefined ? 0 : 1);
    if (term) logDet = logDet ? tf.add(logDet, term) : term;
  });
  return { values, logDet };
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/**
 * Whether an error thrown while evaluating the model at a point rejects that
 * point (log density -Infinity) rather than the run: a distribution's
 * parameter check (a RangeError, e.g. a scale that underflowed to 0 far out
 * in the tails), as Stan rejects such proposals.
 */
function rejectsPoint(err: unknown): boolean {
  return err instanceof RangeError;
}

/**
 * The log density as a tensor function of the unconstrained tensor `qT`
 * (`[dim]`, or `[chains, dim]` giving `[chains]` log densities): unpack the
 * sites, run the model with them substituted, add the log-Jacobian.
 */
export function logDensityTensorFn<A extends unknown[], R>(m: Model<A, R>, args: A, layout: Layout, chains: number | undefined): (qT: tf.Tensor) => Promise<tf.Tensor> {
  const rng = rngFrom(0);
  const batch = chains === undefined ? undefined : { size: chains, plateNesting: layout.plateNesting };
  const handler = substituteLayout(layout);
  return async (qT) => {
    const { values, logDet } = unpackSites(layout, qT, chains);
    handler.values = values;
    const { trace } = await execute(m, { rng, ...(batch ? { batch } : {}), handlers: [handler], checkNaN: false }, ...args);
    const lj = toTensor(trace.logJoint());
    return logDet ? tf.add(lj, logDet) : lj;
  };
}

/**
 * log density and gradient at one point q (a tfjs computation; the model runs
 * once per call). Points where a distribution rejects its parameters get log
 * density -Infinity (see {@link rejectsPoint}).
 */
export function logDensityFn<A extends unknown[], R>(m: Model<A, R>, args: A, layout: Layout, options: PotentialOptions = {}): Compiled<(q: Float64Array) => Promise<LogDensityAndGradient>> {
  const density = logDensityTensorFn(m, args, layout, undefined);
  const viaTfjs = async (q: Float64Array): Promise<LogDensityAndGradient> => {
    const qT = tf.tensor1d(Float32Array.from(q));
    try {
      const { value, grads } = await valueAndGradsAsync(() => density(qT), [qT]);
      const logp = value.dataSync()[0];
      const grad = Float64Array.from(grads[0].dataSync());
      value.dispose();
      grads.forEach((g) => g.dispose());
      return { logp, grad };
    } catch (err) {
      if (rejectsPoint(err)) return { logp: -Infinity, grad: new Float64Array(layout.dim) };
      throw err;
    } finally {
      qT.dispose();
    }
  };
  const compiled = new CompiledDensity(density, [layout.dim], async (q) => {
    const r = await viaTfjs(q);
    return { logp: Float64Array.of(r.logp), grad: r.grad };
  }, options.compile ?? false);
  const f = async (q: Float64Array): Promise<LogDensityAndGradient> => {
    const r = await compiled.evaluate(q);
    return { logp: r.logp[0]!, grad: r.grad };
  };
  return Object.assign(f, { compileStatus: () => compiled.status });
}

/**
 * log density and gradient for K chains at once: q holds K rows of `dim`
 * coordinates; the model runs once, batched over a leading chain axis. When a
 * distribution rejects its parameters somewhere in the batch, the rows are
 * evaluated one at a time so that only the offending rows get -Infinity.
 */
export function batchedLogDensityFn<A extends unknown[], R>(m: Model<A, R>, args: A, layout: Layout, chains: number, options: PotentialOptions = {}): Compiled<(q: Float64Array) => Promise<BatchedLogDensityAndGradient>> {
  const density = logDensityTensorFn(m, args, layout, chains);
  let single: ((q: Float64Array) => Promise<LogDensityAndGradient>) | undefined;
  const viaTfjs = async (q: Float64Array): Promise<BatchedLogDensityAndGradient> => {
    const qT = tf.tensor2d(Float32Array.from(q), [chains, layout.dim]);
    let logp = new Float64Array(chains);
    try {
      const { value, grads } = await valueAndGradsAsync(async () => {
        const lj = await density(qT);
        logp = Float64Array.from(lj.dataSync());
        return tf.sum(lj);
      }, [qT]);
      value.dispose();
      const grad = Float64Array.from(grads[0].dataSync());
      grads.forEach((g) => g.dispose());
      return { logp, grad };
    } catch (err) {
      if (!rejectsPoint(err)) throw err;
      single ??= logDensityFn(m, args, layout);
      const grad = new Float64Array(chains * layout.dim);
      logp = new Float64Array(chains);
      for (let c = 0; c < chains; c++) {
        const r = await single(q.subarray(c * layout.dim, (c + 1) * layout.dim));
        logp[c] = r.logp;
        grad.set(r.grad, c * layout.dim);
      }
      return { logp, grad };
    } finally {
      qT.dispose();
    }
  };
  const compiled = new CompiledDensity(density, [chains, layout.dim], viaTfjs, options.compile ?? false);
  return Object.assign((q: Float64Array) => compiled.evaluate(q), { compileStatus: () => compiled.status });
}
