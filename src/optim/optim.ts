/**
 * Optimisers for SVI: tfjs optimisers, gradient clipping by global norm, and
 * learning-rate schedules.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { type OptionRule, checkOptionValues } from '../core/options.js';

/** A learning rate as a function of the step (0-based). */
export type Schedule = (step: number) => number;

/** An optimiser by name, with its learning rate (a number or a {@link Schedule}). */
export interface OptimizerSpec {
  /** `'adam'` (default), `'sgd'`, `'momentum'`, `'rmsprop'`, `'adagrad'`, `'adamax'`. */
  readonly name?: 'adam' | 'sgd' | 'momentum' | 'rmsprop' | 'adagrad' | 'adamax';
  /** Learning rate or schedule (default 0.01). */
  readonly lr?: number | Schedule;
  /** Clip the gradient's global norm to this value. */
  readonly clipNorm?: number;
  /** Adam's beta1 / momentum's momentum (defaults 0.9). */
  readonly beta1?: number;
  /** Adam's beta2 (default 0.999). */
  readonly beta2?: number;
}

/** Exponential decay: `lr0 * rate^(step / every)`. */
export function exponentialDecay(lr0: number, rate: number, every = 1): Schedule {
  return (step) => lr0 * rate ** (step / every);
}

/** Cosine decay from `lr0` to `lrMin` over `steps` steps (then `lrMin`). */
export function cosineDecay(lr0: number, steps: number, lrMin = 0): Schedule {
  return (step) => lrMin + 0.5 * (lr0 - lrMin) * (1 + Math.cos((Math.PI * Math.min(step, steps)) / steps));
}

/** Piecewise constant: `values[i]` from `boundaries[i - 1]` on (`values` one longer than `boundaries`). */
export function piecewiseConstant(boundaries: readonly number[], values: readonly number[]): Schedule {
  if (values.length !== boundaries.length + 1) throw new RangeError('piecewiseConstant: values must be one longer than boundaries');
  return (step) => {
    let i = 0;
    while (i < boundaries.length && step >= boundaries[i]) i++;
    return values[i];
  };
}

/**
 * The `optimizer` option's rule (see `checkOptionValues`): a tfjs optimiser,
 * or an {@link OptimizerSpec} with known keys and values, checked before a
 * fit starts.
 */
export const OPTIMIZER_RULE: OptionRule = {
  type: 'object',
  opaque: (v) => isOptimizer(v),
  what: "a tfjs optimiser or a spec { name: 'adam' | 'sgd' | 'momentum' | 'rmsprop' | 'adagrad' | 'adamax', lr, ... }",
  keys: ['name', 'lr', 'clipNorm', 'beta1', 'beta2'],
  rules: {
    name: { type: 'choice', values: ['adam', 'sgd', 'momentum', 'rmsprop', 'adagrad', 'adamax'] },
    lr: { type: 'number', min: 0, openMin: true, orType: ['function'], orElse: 'a schedule (step => learning rate)' },
    clipNorm: { type: 'number', min: 0, openMin: true },
    beta1: { type: 'number', min: 0, max: 1, openMax: true },
    beta2: { type: 'number', min: 0, max: 1, openMax: true },
  },
};

/** True for a tfjs optimiser (checked by shape: `instanceof` across tfjs copies is unreliable). */
function isOptimizer(x: unknown): x is tf.Optimizer {
  return typeof x === 'object' && x !== null && typeof (x as tf.Optimizer).applyGradients === 'function';
}

/** An optimiser ready for the SVI loop. */
export interface SviOptimizer {
  /** Apply one update from gradients keyed by variable name. */
  apply(step: number, grads: Map<tf.Variable, tf.Tensor>): void;
  /** Dispose the optimiser's state (only for optimisers made here). */
  dispose(): void;
}

interface LearningRateSettable {
  learningRate: number;
  setLearningRate?: (lr: number) => void;
}

function makeTfOptimizer(spec: OptimizerSpec, lr0: number): tf.Optimizer {
  const b1 = spec.beta1 ?? 0.9;
  switch (spec.name ?? 'adam') {
    case 'adam':
      return tf.train.adam(lr0, b1, spec.beta2 ?? 0.999);
    case 'sgd':
      return tf.train.sgd(lr0);
    case 'momentum':
      return tf.train.momentum(lr0, b1);
    case 'rmsprop':
      return tf.train.rmsprop(lr0);
    case 'adagrad':
      return tf.train.adagrad(lr0);
    case 'adamax':
      return tf.train.adamax(lr0, b1, spec.beta2 ?? 0.999);
  }
  throw new Error(`vi: unknown optimizer "${String(spec.name)}"; use adam, sgd, momentum, rmsprop, adagrad or adamax`);
}

/** Scale gradients so that their global norm is at most `maxNorm` (in place in the map). */
export function clipByGlobalNorm(grads: Map<tf.Variable, tf.Tensor>, maxNorm: number): number {
  const norm = Math.sqrt(tf.tidy(() => tf.addN([...grads.values()].map((g) => tf.sum(tf.square(g)))).dataSync()[0]));
  if (norm > maxNorm && Number.isFinite(norm)) {
    for (const [v, g] of grads) {
      grads.set(v, tf.mul(g, maxNorm / norm));
      g.dispose();
    }
  }
  return norm;
}

/**
 * An {@link SviOptimizer} from a tfjs optimiser (used as given) or a spec
 * (made here, with its schedule and clipping).
 */
export function sviOptimizer(spec: tf.Optimizer | OptimizerSpec | undefined): SviOptimizer {
  const given = isOptimizer(spec) ? spec : undefined;
  // a misspelt name or key, or a string lr, would otherwise fit silently with the defaults (adam, 0.01)
  if (!given) checkOptionValues('vi', { optimizer: spec }, { optimizer: OPTIMIZER_RULE });
  const s: OptimizerSpec = given || spec === undefined ? {} : (spec as OptimizerSpec);
  if (s.clipNorm !== undefined && !(s.clipNorm > 0)) throw new RangeError(`vi: clipNorm must be a positive number, got ${s.clipNorm}`);
  const schedule: Schedule | undefined = typeof s.lr === 'function' ? s.lr : undefined;
  const lr0 = typeof s.lr === 'number' ? s.lr : schedule ? schedule(0) : 0.01;
  if (!(lr0 > 0) || !Number.isFinite(lr0)) throw new RangeError(`vi: the learning rate must be a positive number, got ${lr0}`);
  const opt = given ?? makeTfOptimizer(s, lr0);
  return {
    apply(step, grads) {
      if (schedule) {
        const lr = schedule(step);
        const o = opt as unknown as LearningRateSettable;
        if (o.setLearningRate) o.setLearningRate(lr);
        else o.learningRate = lr;
      }
      if (s.clipNorm !== undefined) clipByGlobalNorm(grads, s.clipNorm);
      const named: tf.NamedTensorMap = {};
      for (const [v, g] of grads) named[v.name] = g;
      opt.applyGradients(named);
    },
    dispose() {
      if (!given) opt.dispose();
    },
  };
}
