/**
 * The guide interface: a variational family q(z) that the SVI loop draws
 * from, and the evaluation of the model's log joint at those draws.
 *
 * A guide returns S draws at once. Autoguides produce them batched (one
 * tensor per site with a leading draw axis), so the model can run once for all
 * draws when it is written with tensor arithmetic; custom guides produce one
 * set of values per draw and the model runs once per draw.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Handler, Message } from '../../core/message.js';
import { type Model, ModelError, type SubsamplingHook, execute } from '../../core/model.js';
import type { Rng } from '../../core/rng.js';
import { type Value, add, toTensor } from '../../core/value.js';
import type { Distribution } from '../../distributions/distribution.js';
import { bijectTo } from '../../transforms/biject-to.js';
import type { ParamStore } from './param-store.js';
import { type SiteTerm, siteTermsOf } from './rao-blackwell.js';

/**
 * A guide's value for a site whose support depends on other values of the
 * model (`Uniform(0, 1 - a)`): unconstrained coordinates, mapped by the
 * bijector of the distribution the model builds at the site, whose
 * log-Jacobian is added to the site's log density (so log p - log q stays
 * right with log q taken in unconstrained space), as NUTS does.
 */
export class Unconstrained {
  /** @param u - the unconstrained value (with the draw axis and reserved plate axes when batched) */
  constructor(readonly u: tf.Tensor) {}
}

/** A latent value a guide hands to the model: constrained, or {@link Unconstrained}. */
export type GuideValue = Value | Unconstrained;

/** S draws from a guide, with their log densities on the gradient tape. */
export interface GuideDraws {
  /** Number of draws S. */
  readonly size: number;
  /** log q of each draw over the model's latent sites, shape `[S]`. */
  readonly logQ: tf.Tensor;
  /** The part of `logQ` from non-reparameterised sites, `[S]`; absent when there are none. */
  readonly scoreLogQ?: tf.Tensor;
  /**
   * Latent values with a leading draw axis and the model's reserved plate
   * axes (see `BatchOptions`), for one batched run of the model; absent when
   * the guide cannot provide them.
   */
  readonly batched?: Readonly<Record<string, tf.Tensor | Unconstrained>>;
  /** Latent values with a leading draw axis and no reserved plate axes (`[S, ...site shape]`), when available. */
  readonly stacked?: Readonly<Record<string, tf.Tensor>>;
  /** The plate nesting the batched values are laid out for. */
  readonly plateNesting?: number;
  /** Per draw, the guide's latent site terms in execution order (for per-site score functions), when the guide records them. */
  readonly siteTerms?: readonly (readonly SiteTerm[])[];
  /**
   * Unconstrained values `[S, ...]` of the sites whose support depends on
   * other values (absent from `stacked`: their constrained values need a
   * model run, see `replayDraws`).
   */
  readonly unconstrained?: Readonly<Record<string, tf.Tensor>>;
  /** The latent values of draw `i`. */
  particle(i: number): Readonly<Record<string, GuideValue>>;
}

/** Options of {@link Guide.draw}. */
export interface DrawOptions {
  /** Compute `logQ` with the variational parameters held fixed (sticking the landing). */
  readonly detachParams?: boolean;
  /** For guides that run a model: what its subsampled plates take (the model's subsample, shared; see `subsample.ts`). */
  readonly subsampling?: SubsamplingHook;
}

/** A variational family. */
export interface Guide {
  /** Name for messages and diagnostics. */
  readonly name: string;
  /** Inspect the model and create the guide's parameters in `store` (called once, before training). */
  setup<A extends unknown[], R>(model: Model<A, R>, args: A, store: ParamStore, rng: Rng): Promise<void>;
  /** Draw S values (differentiably where the family allows). */
  draw<A extends unknown[]>(size: number, rng: Rng, store: ParamStore, args: A, options?: DrawOptions): Promise<GuideDraws>;
}

/**
 * A handler giving each latent sample site the guide's value; a latent site
 * the guide has no value for is an error naming it.
 */
export function guideValuesHandler(values: Readonly<Record<string, GuideValue>>, guideName: string): Handler {
  return {
    process(msg: Message) {
      if (msg.type !== 'sample' || msg.observed) return;
      const v = values[msg.address];
      if (v === undefined) {
        const which = /^guide\b/i.test(guideName) ? `the ${guideName}` : `the guide ${guideName}`; // not "the guide guide model"
        throw new ModelError(msg.address, `latent site has no value in ${which} (give the guide a site with the same address)`);
      }
      if (!(v instanceof Unconstrained)) {
        msg.value = v;
        return;
      }
      const dist = msg.dist as Distribution;
      const bijector = bijectTo(dist.support);
      const value = bijector.forward(v.u);
      msg.value = value;
      msg.logProb = add(dist.logProb(value), bijector.logDetJacobian(v.u, value));
    },
  };
}

/** Options of {@link modelLogJoint}. */
export interface ModelRunOptions {
  /** Run the model once for all draws (needs `draws.batched`); otherwise once per draw. */
  readonly batched: boolean;
  /** Random stream for anything the model draws itself (plate subsampling). */
  readonly rng: Rng;
  /** Check site log densities for NaN (default false in the batched run, true per draw). */
  readonly checkNaN?: boolean;
  /** When given (and not batched), receives each draw's model site terms, in order (for per-site score functions). */
  readonly siteTerms?: SiteTerm[][];
  /** Extra effect handlers for the model runs (after the parameter and guide-value handlers). */
  readonly handlers?: readonly Handler[];
}

/**
 * The model's log joint at each of the guide's draws, shape `[S]`
 * (differentiable with respect to the draws and to `param` sites of the model).
 */
export async function modelLogJoint<A extends unknown[], R>(model: Model<A, R>, args: A, draws: GuideDraws, store: ParamStore, guideName: string, options: ModelRunOptions): Promise<tf.Tensor> {
  if (options.batched) {
    if (!draws.batched) throw new Error(`vi: the guide ${guideName} gives no batched draws; run the model per draw (vectorize: false)`);
    const batch = { size: draws.size, plateNesting: draws.plateNesting ?? 0 };
    const { trace } = await execute(model, { rng: options.rng, batch, checkNaN: options.checkNaN ?? false, handlers: [store.handler(), guideValuesHandler(draws.batched, guideName), ...(options.handlers ?? [])] }, ...args);
    const lp = toTensor(trace.logJoint());
    if (lp.rank !== 1 || lp.shape[0] !== draws.size) {
      throw new Error(`vi: the batched model's log joint has shape [${lp.shape.join(', ')}], expected [${draws.size}]`);
    }
    return lp;
  }
  const out: tf.Tensor[] = [];
  for (let i = 0; i < draws.size; i++) {
    const { trace } = await execute(model, { rng: options.rng.split(), checkNaN: options.checkNaN ?? true, handlers: [store.handler(), guideValuesHandler(draws.particle(i), guideName), ...(options.handlers ?? [])] }, ...args);
    out.push(tf.reshape(toTensor(trace.logJoint()), []));
    options.siteTerms?.push(siteTermsOf(trace));
  }
  return tf.stack(out);
}

/** Split values with a leading draw axis into per-draw values (numbers for scalar sites), reading each tensor once. */
export function unstackDraws(stacked: Readonly<Record<string, tf.Tensor>>, n: number): Record<string, Value>[] {
  const out: Record<string, Value>[] = Array.from({ length: n }, () => ({}));
  for (const [k, t] of Object.entries(stacked)) {
    const data = t.dataSync();
    const shape = t.shape.slice(1);
    const size = data.length / n;
    for (let i = 0; i < n; i++) out[i]![k] = shape.length === 0 ? data[i]! : tf.tensor(data.slice(i * size, (i + 1) * size), shape, t.dtype);
  }
  return out;
}
