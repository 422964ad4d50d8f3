/**
 * AutoFlow: a normalizing-flow guide over the model's unconstrained latent
 * vector. A standard normal draw passes through the flow layers (IAF layers
 * alternating with reversals by default) and then an elementwise affine map
 * `loc + scale * x`, so with no layers it is AutoNormal.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../../core/rng.js';
import { positive, real } from '../../distributions/constraints.js';
import { iaf } from '../../flows/autoregressive.js';
import { reverse } from '../../flows/coupling.js';
import type { FlowLayer } from '../../flows/flow-bijector.js';
import { buildFlow, createFlowParams, pushForward, standardNormalLogDensity } from '../../flows/flow.js';
import { AutoGuide, type AutoGuideOptions, type LatentDraws, type UnconstrainedMoments } from './autoguide.js';
import type { ParamStore } from './param-store.js';

/** Options of {@link AutoFlow}. */
export interface AutoFlowOptions extends AutoGuideOptions {
  /** The flow layers, base side first (default: iaf, reverse, iaf). */
  readonly layers?: readonly FlowLayer[];
  /** Draws used to estimate {@link AutoFlow.moments} (default 4000). */
  readonly momentDraws?: number;
}

/**
 * A flow guide. Sticking-the-landing is not available for it (its density
 * at fixed parameters would need the flow's inverse), so `detachParams` is
 * ignored.
 */
export class AutoFlow extends AutoGuide {
  readonly name = 'AutoFlow';
  private readonly layers: readonly FlowLayer[];

  constructor(private readonly flowOptions: AutoFlowOptions = {}) {
    super(flowOptions);
    this.layers = flowOptions.layers ?? [iaf(), reverse(), iaf()];
  }

  protected createParams(store: ParamStore, loc: Float64Array, rng: Rng): void {
    createFlowParams(store, this.paramName('flow'), this.layers, loc.length, rng);
    store.create(this.paramName('loc'), tf.tensor1d(Float32Array.from(loc)), real);
    store.create(this.paramName('scale'), tf.fill([loc.length], this.initScale), positive);
  }

  override reparameterize(eps: tf.Tensor, store: ParamStore): { z: tf.Tensor; logDet: tf.Tensor } {
    const { y, logDet } = pushForward(buildFlow(store, this.paramName('flow'), this.layers, this.layout.dim), eps);
    const scale = this.read(store, 'scale');
    return { z: tf.add(this.read(store, 'loc'), tf.mul(scale, y)), logDet: tf.add(logDet, tf.sum(tf.log(scale))) };
  }

  protected sampleLatent(size: number, rng: Rng, store: ParamStore): LatentDraws {
    const eps = this.normals(rng, size, this.layout.dim);
    const { z, logDet } = this.reparameterize(eps, store);
    return { z, logQ: tf.sub(standardNormalLogDensity(eps), logDet) };
  }

  /** Monte Carlo mean and covariance of the flow in unconstrained space. */
  moments(store: ParamStore): UnconstrainedMoments {
    const n = this.flowOptions.momentDraws ?? 4000;
    const d = this.layout.dim;
    const z = tf.tidy(() => this.sampleLatent(n, new Rng(0), store).z);
    const v = z.dataSync();
    z.dispose();
    const loc = new Float64Array(d);
    for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) loc[j]! += v[i * d + j]! / n;
    const covariance = new Float64Array(d * d);
    for (let i = 0; i < n; i++) for (let a = 0; a < d; a++) for (let b = 0; b < d; b++) covariance[a * d + b]! += ((v[i * d + a]! - loc[a]!) * (v[i * d + b]! - loc[b]!)) / (n - 1);
    return { loc, covariance, names: this.layout.names };
  }
}
