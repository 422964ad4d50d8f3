/**
 * NeuTra (Hoffman et al. 2019): precondition NUTS with a fitted guide.
 *
 * A guide that is a bijection of standard normal draws, z = T(eps)
 * (AutoNormal, AutoMultivariateNormal, AutoFlow), is first fitted by SVI.
 * NUTS then samples eps, whose target p(T(eps)) |det dT/deps| is close to a
 * standard normal when the guide fits well, so one step size and a unit
 * metric suit every direction (funnels and strong correlations are flattened).
 * The draws are mapped back through T and the layout's bijectors.
 *
 * ```ts
 * const post = await infer(m, { method: 'neutra', guide: 'flow', viSteps: 2000, chains: 4, seed: 1 }, data);
 * ```
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { type Model, execute, model } from '../../core/model.js';
import { type Value, isTensor, toTensor } from '../../core/value.js';
import { Independent } from '../../distributions/independent.js';
import { Normal } from '../../distributions/normal.js';
import { type HMCDiagnostics, type HMCEngineOptions, hmcEngine } from '../mcmc/hmc-engine.js';
import { type Draw, Posterior } from '../posterior.js';
import { Pacer } from '../pace.js';
import { type CommonOptions, registerEngine } from '../registry.js';
import { AutoGuide } from './autoguide.js';
import { constrainDraws } from './autoguide.js';
import { guideValuesHandler, unstackDraws } from './guide.js';
import type { ParamStore } from './param-store.js';
import { SVI, type SVIOptions, unconstrainedRows, withModelValues } from './svi.js';

/** The address of the standard normal latent of a NeuTra model. */
export const NEUTRA_SITE = 'neutra.eps';

/**
 * The model reparameterised by a fitted autoguide: its one latent site
 * `neutra.eps` ~ N(0, I_D), and a factor with the original model's log joint
 * at T(eps) plus both log-Jacobians. Runs per draw and batched (a leading
 * chain axis on eps).
 */
export function neutraModel<A extends unknown[], R>(m: Model<A, R>, guide: AutoGuide, store: ParamStore): Model<A, void> {
  const layout = guide.layout;
  const d = layout.dim;
  return model(async (ctx, ...args: A) => {
    // the site only declares the coordinates (any real-supported density would do): its own log
    // density is cancelled in the factor below, so the target is p(T(eps)) |det J| alone
    const base = Independent(Normal(tf.zeros([d]), tf.ones([d])), 1);
    const eps = toTensor(await ctx.sample(NEUTRA_SITE, base));
    const batched = eps.rank === 2;
    const k = batched ? eps.shape[0]! : 1;
    const { z, logDet } = guide.reparameterize(batched ? eps : tf.expandDims(eps, 0), store);
    // constrainDraws returns logQ - log|det J_layout|: with logQ = 0, minus the layout's log-Jacobian
    const c = constrainDraws(layout, z, tf.zeros([k]), true);
    const { trace } = await execute(m, {
      rng: ctx.rng,
      checkNaN: false,
      ...(batched ? { batch: { size: k, plateNesting: layout.plateNesting } } : {}),
      handlers: [store.handler(), guideValuesHandler(batched ? (c.batched as Record<string, tf.Tensor>) : c.particle(0), 'NeuTra')],
    }, ...args);
    const total = tf.sub(tf.sub(tf.add(toTensor(trace.logJoint()), logDet), c.logQ), toTensor(base.logProb(batched ? eps : tf.expandDims(eps, 0))));
    await ctx.factor('neutra.logDensity', batched ? total : tf.reshape(total, []));
  }, { name: `neutra(${m.name})` });
}

/** Options of `infer(model, { method: 'neutra', ... })`. */
export interface NeuTraOptions extends CommonOptions, Omit<HMCEngineOptions, 'method' | 'init' | 'massMatrix'> {
  readonly method: 'neutra';
  /** The guide: `'flow'` (default), `'mvn'`, `'normal'`, or an AutoGuide with `reparameterize`. */
  readonly guide?: 'flow' | 'mvn' | 'normal' | AutoGuide;
  /** SVI steps fitting the guide (default 1000). */
  readonly viSteps?: number;
  /** SVI options: objective, particles, optimizer. */
  readonly vi?: Omit<SVIOptions, 'seed'>;
}

/** Fit the guide by SVI, run NUTS on the reparameterised model, map the draws back. */
export async function neutra<A extends unknown[], R>(m: Model<A, R>, options: Omit<NeuTraOptions, 'method'>, args: A): Promise<Posterior<A, R>> {
  const seed = options.seed ?? 0;
  const svi = new SVI(m, options.guide ?? 'flow', { particles: 8, ...options.vi, seed: `${seed}/vi` });
  try {
    if (!(svi.guide instanceof AutoGuide)) throw new Error('neutra: the guide must be an autoguide');
    const guide = svi.guide;
    await svi.init(args);
    const viSteps = options.viSteps ?? 1000;
    const pace = new Pacer(options.signal);
    for (let k = 0; k < viSteps; k++) {
      if (pace.due()) await pace.pause();
      await svi.step(args);
    }
    const { guide: _g, viSteps: _v, vi: _o, ...nutsOptions } = options;
    const warped = neutraModel(m, guide, svi.store);
    const inner = await hmcEngine(warped, { ...nutsOptions, method: 'nuts', massMatrix: 'identity', seed }, args);
    const eps = inner.draws.map((dr) => dr.values[NEUTRA_SITE] as tf.Tensor);
    const { stacked, unconstrained } = tf.tidy(() => {
      const { z } = guide.reparameterize(tf.stack(eps), svi.store);
      const c = constrainDraws(guide.layout, z, tf.zeros([eps.length]), true);
      return { stacked: { ...c.stacked }, unconstrained: { ...c.unconstrained } };
    }) as { stacked: Record<string, tf.Tensor>; unconstrained: Record<string, tf.Tensor> };
    const values = unstackDraws(stacked, eps.length);
    const dependent = Object.keys(unconstrained).length > 0 ? unconstrainedRows(unconstrained) : undefined;
    tf.dispose([...Object.values(stacked), ...Object.values(unconstrained), ...eps.filter(isTensor)]);
    const mapped: Draw<R>[] = inner.draws.map((dr, i) => ({ values: values[i] as Record<string, Value>, returnValue: undefined as R, logWeight: 0, ...(dr.chain !== undefined ? { chain: dr.chain } : {}) }));
    const draws = await withModelValues(m, args, svi, mapped, options.signal, dependent);
    const nuts = inner.diagnostics as unknown as HMCDiagnostics;
    return new Posterior({ method: 'neutra', draws, model: m, args, diagnostics: { ...nuts, names: guide.layout.names, guide: guide.name, lossHistory: Float64Array.from(svi.lossHistory) } });
  } finally {
    svi.dispose();
  }
}

registerEngine<NeuTraOptions>({
  name: 'neutra',
  options: ['guide', 'viSteps', 'vi', 'chains', 'warmup', 'samples', 'vectorize', 'targetAccept', 'maxTreeDepth', 'onProgress', 'signal'],
  description: 'NeuTra: NUTS preconditioned by a fitted autoguide (flow, full-rank or mean-field Gaussian)',
  run: (m, options, args) => neutra(m, options, args),
});
