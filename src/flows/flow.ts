/**
 * Stacks of flow layers: building them from a ParamStore, pushing a standard
 * normal through them, and fitting them to samples by maximum likelihood
 * (density estimation).
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { type Rng, type Seed, rngFrom } from '../core/rng.js';
import { real } from '../distributions/constraints.js';
import { ParamStore } from '../optim/param-store.js';
import { type OptimizerSpec, sviOptimizer } from '../optim/optim.js';
import type { FlowBijector, FlowLayer } from './flow-bijector.js';
import { flowLogProb } from './flow-density.js';
import { FlowDistribution } from './flow-distribution.js';

/** Create every layer's parameters in `store` under `prefix.i.name`. */
export function createFlowParams(store: ParamStore, prefix: string, layers: readonly FlowLayer[], dim: number, rng: Rng): void {
  layers.forEach((layer, i) => {
    const init = layer.init(dim, rng);
    for (const [name, value] of Object.entries(init)) {
      store.create(`${prefix}.${i}.${name}`, value, real);
      value.dispose();
    }
  });
}

/** The layers' bijectors from the current parameter values (on the tape), base side first. */
export function buildFlow(store: ParamStore, prefix: string, layers: readonly FlowLayer[], dim: number): FlowBijector[] {
  return layers.map((layer, i) => {
    const params: Record<string, tf.Tensor> = {};
    const head = `${prefix}.${i}.`;
    for (const a of store.addresses()) if (a.startsWith(head)) params[a.slice(head.length)] = store.read(a);
    return layer.build(dim, params);
  });
}

export { flowLogProb, pushForward, standardNormalLogDensity } from './flow-density.js';

/** Options of {@link fitFlow}. */
export interface FitFlowOptions {
  /** Optimisation steps (default 1000). */
  readonly steps?: number;
  /** Minibatch size (default: all samples). */
  readonly batchSize?: number;
  /** Optimiser (default Adam, lr 0.01). */
  readonly optimizer?: OptimizerSpec;
  /** Seed of initialisation and minibatches. */
  readonly seed?: Seed;
}

/** A flow fitted to samples. */
export interface FittedFlow {
  /** The vector length. */
  readonly dim: number;
  /** Mean negative log-likelihood per sample at each step. */
  readonly lossHistory: Float64Array;
  /** The fitted parameters. */
  readonly store: ParamStore;
  /** log density of points `[n, D]`, shape `[n]`. */
  logProb(x: tf.Tensor): tf.Tensor;
  /** `n` draws, `[n, D]`. */
  sample(n: number, rng: Rng): tf.Tensor;
  /** The fitted flow as a distribution over `[D]` vectors, for `sample` / `observe` sites (valid until {@link FittedFlow.dispose}). */
  distribution(): FlowDistribution;
  /** Dispose the parameters. */
  dispose(): void;
}

/**
 * Fit a flow with a standard normal base to samples `[n, D]` by maximum
 * likelihood (Adam on minibatches). Every layer needs an inverse (the planar
 * and radial inverses are iterative; MAF and coupling layers are one pass).
 */
export function fitFlow(samples: tf.Tensor, layers: readonly FlowLayer[], options: FitFlowOptions = {}): FittedFlow {
  if (samples.rank !== 2) throw new Error(`fitFlow: samples must be a matrix [n, D], got shape [${samples.shape.join(', ')}]`);
  const [n, dim] = samples.shape as [number, number];
  const steps = options.steps ?? 1000;
  const batch = Math.min(options.batchSize ?? n, n);
  const rng = rngFrom(options.seed ?? 0);
  const store = new ParamStore();
  createFlowParams(store, 'flow', layers, dim, rng);
  const opt = sviOptimizer(options.optimizer ?? { name: 'adam', lr: 0.01 });
  const losses = new Float64Array(steps);
  try {
    for (let k = 0; k < steps; k++) {
      const idx = batch === n ? undefined : tf.tensor1d(Array.from({ length: batch }, () => rng.int(n)), 'int32');
      const x = idx ? tf.gather(samples, idx) : samples;
      const vars = store.variables();
      const { value, grads } = tf.variableGrads(() => tf.neg(tf.mean(flowLogProb(buildFlow(store, 'flow', layers, dim), x))) as tf.Scalar, vars);
      losses[k] = value.dataSync()[0]!;
      value.dispose();
      if (idx) {
        idx.dispose();
        x.dispose();
      }
      if (!Number.isFinite(losses[k])) {
        for (const g of Object.values(grads)) g.dispose();
        throw new Error(`fitFlow: the loss is ${losses[k]} at step ${k}; try a smaller learning rate`);
      }
      const map = new Map<tf.Variable, tf.Tensor>();
      for (const v of vars) map.set(v, grads[v.name]!);
      opt.apply(k, map);
      for (const g of Object.values(grads)) g.dispose();
    }
  } catch (err) {
    store.dispose(); // the caller never sees the parameters of a fit that failed
    throw err;
  } finally {
    opt.dispose();
  }
  const dist = new FlowDistribution(dim, () => buildFlow(store, 'flow', layers, dim));
  return {
    dim,
    lossHistory: losses,
    store,
    logProb: (x) => dist.logProb(x) as tf.Tensor,
    sample: (m, r) => dist.sample(r, [m]) as tf.Tensor,
    distribution: () => dist,
    dispose: () => store.dispose(),
  };
}
