/**
 * Custom guides: a guide written as a model.
 *
 * The guide is an async model with the same arguments as the model, with a
 * `sample` site for each latent site of the model (same address), whose
 * distributions take their parameters from `param` sites:
 *
 * ```ts
 * const guide = model(async ({ sample, param }, data: number[]) => {
 *   const m = await param('q.mu', 0);
 *   const s = await param('q.sigma', 1, positive);
 *   await sample('mu', Normal(m, s));
 * });
 * ```
 *
 * Sites whose distribution has a reparameterised sampler (`hasRsample`) are
 * differentiated through their draws; the others (discrete sites, say) are
 * drawn off the tape and contribute score-function terms. A scalar draw of a
 * non-reparameterised site is handed to the model as a plain number, so the
 * model may branch on it.
 *
 * @module
 */
import { TycheError } from '../../core/errors.js';
import * as tf from '@tensorflow/tfjs-core';
import type { Handler, Message } from '../../core/message.js';
import { type Model, execute } from '../../core/model.js';
import type { Rng } from '../../core/rng.js';
import { type Value, isTensor, toTensor } from '../../core/value.js';
import type { Distribution } from '../../distributions/distribution.js';
import type { DrawOptions, Guide, GuideDraws } from './guide.js';
import { stopGradient } from './objectives.js';
import type { ParamStore } from './param-store.js';
import { type SiteTerm, siteTermsOf } from './rao-blackwell.js';

/** A draw off the gradient tape: numbers for scalars, detached tensors otherwise. */
function detachedDraw(dist: Distribution, rng: Rng): Value {
  const v = dist.sample(rng);
  if (!isTensor(v)) return v;
  if (v.rank === 0) {
    const x = v.dataSync()[0];
    v.dispose();
    return x;
  }
  const d = stopGradient(v);
  v.dispose();
  return d;
}

/** Draws non-reparameterised latent sites of the guide off the tape. */
function scoreSiteHandler(rng: Rng): Handler {
  return {
    process(msg: Message) {
      if (msg.type !== 'sample' || msg.observed || msg.value !== undefined) return;
      const dist = msg.dist as Distribution;
      if (!dist.hasRsample) msg.value = detachedDraw(dist, msg.rng ?? rng);
    },
  };
}

/** A guide given as a model (see the module documentation). */
export class ModelGuide<A extends unknown[]> implements Guide {
  readonly name: string;

  /** @param guide - the guide model; it receives the model's arguments */
  constructor(readonly guide: Model<A, unknown>) {
    this.name = `guide model "${guide.name}"`;
  }

  async setup<B extends unknown[], R>(_model: Model<B, R>, args: B, store: ParamStore, rng: Rng): Promise<void> {
    // one run creates the parameters from their initial values
    const { trace } = await execute(this.guide, { rng, handlers: [store.handler(), scoreSiteHandler(rng)] }, ...(args as unknown as A));
    if (trace.latentSites().length === 0) throw new TycheError(`vi: the ${this.name} has no latent sample sites`);
  }

  async draw<B extends unknown[]>(size: number, rng: Rng, store: ParamStore, args: B, options: DrawOptions = {}): Promise<GuideDraws> {
    const guide = options.subsampling ? this.guide.withSubsampling(options.subsampling) : this.guide;
    const values: Record<string, Value>[] = [];
    const logQ: tf.Tensor[] = [];
    const score: tf.Tensor[] = [];
    const siteTerms: SiteTerm[][] = [];
    let anyScore = false;
    for (let i = 0; i < size; i++) {
      const r = rng.split();
      const { trace } = await execute(guide, { rng: r, handlers: [store.handler(), scoreSiteHandler(r)] }, ...(args as unknown as A));
      values.push(trace.values());
      let lq: Value = 0;
      let sc: Value = 0;
      const terms = siteTermsOf(trace, true);
      for (const s of terms) {
        const lp = tf.sum(s.logDensity);
        lq = tf.add(lq, lp);
        if (!s.reparameterised) {
          sc = tf.add(sc, lp);
          anyScore = true;
        }
      }
      siteTerms.push(terms);
      logQ.push(tf.reshape(toTensor(lq), []));
      score.push(tf.reshape(toTensor(sc), []));
    }
    return {
      size,
      logQ: tf.stack(logQ),
      ...(anyScore ? { scoreLogQ: tf.stack(score), siteTerms } : {}),
      particle: (i) => values[i],
    };
  }
}
