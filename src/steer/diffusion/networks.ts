/**
 * Trained networks as diffusion models and classifiers: an {@link Mlp} with
 * its schedule and prediction type becomes a {@link DiffusionModel}; an Mlp
 * with class outputs becomes a {@link Classifier} on clean or noisy states
 * (the rewards and twists of steering). Schedules are stored in weight
 * manifests as a {@link ScheduleSpec}.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { DiffusionModel } from './model.js';
import type { Mlp, MlpManifest } from './mlp.js';
import type { Prediction } from './parametrisation.js';
import { type Schedule, linearInterpolant, vpCosine, veGeometric, vpLinear } from './schedules.js';

/** A schedule written down as data (in weight manifests). */
export type ScheduleSpec =
  | { readonly kind: 'vp-linear'; readonly betaMin?: number; readonly betaMax?: number; readonly tMin?: number; readonly tMax?: number }
  | { readonly kind: 'vp-cosine'; readonly offset?: number; readonly tMin?: number; readonly tMax?: number }
  | { readonly kind: 've'; readonly sigmaMin?: number; readonly sigmaMax?: number; readonly tMin?: number; readonly tMax?: number }
  | { readonly kind: 'linear-interpolant'; readonly tMin?: number; readonly tMax?: number };

/** The schedule a {@link ScheduleSpec} describes. */
export function scheduleFromSpec(spec: ScheduleSpec): Schedule {
  switch (spec.kind) {
    case 'vp-linear':
      return vpLinear(spec);
    case 'vp-cosine':
      return vpCosine(spec);
    case 've':
      return veGeometric(spec);
    case 'linear-interpolant':
      return linearInterpolant(spec);
    default:
      throw new Error(`scheduleFromSpec: unknown schedule kind ${JSON.stringify((spec as { kind?: unknown }).kind)}`);
  }
}

/** How an Mlp becomes a denoiser. */
export interface MlpDenoiserOptions {
  /** Name used in error messages. */
  readonly name: string;
  /** The schedule it was trained under. */
  readonly schedule: Schedule;
  /** What it outputs. */
  readonly prediction: Prediction;
  /** Shape of one particle (its size must match the network's input and output). */
  readonly eventShape: readonly number[];
}

/** A {@link DiffusionModel} computed by an {@link Mlp} (class-conditional when the Mlp has class inputs). */
export function mlpDenoiser(mlp: Mlp, options: MlpDenoiserOptions): DiffusionModel {
  const size = options.eventShape.reduce((a, b) => a * b, 1);
  if (mlp.config.inputDim !== size || mlp.config.outputDim !== size) {
    throw new Error(`mlpDenoiser(${options.name}): the network maps ${mlp.config.inputDim} -> ${mlp.config.outputDim} values but the event shape [${options.eventShape.join(', ')}] has ${size}`);
  }
  const classes = mlp.config.classInputs > 0 ? mlp.config.classInputs - 1 : undefined;
  return {
    ...options,
    classes,
    predict(x, t, cond) {
      return tf.tidy(() => tf.reshape(mlp.apply(tf.reshape(x, [x.shape[0]!, size]), t, cond), x.shape));
    },
  };
}

/** A classifier p(class | x) of clean states, or p(class | x_t, t) of noisy ones. */
export interface Classifier {
  /** A name used in error messages. */
  readonly name: string;
  /** Number of classes. */
  readonly classes: number;
  /** Shape of one input. */
  readonly eventShape: readonly number[];
  /** Whether the classifier takes a time (a noisy classifier) and under which schedule. */
  readonly schedule?: Schedule;
  /** Log class probabilities `[N, classes]` of a batch `[N, ...eventShape]` (at time t for a noisy classifier). */
  logProbs(x: tf.Tensor, t?: number): tf.Tensor;
}

/** A {@link Classifier} computed by an {@link Mlp}; give `schedule` for a noisy classifier. */
export function mlpClassifier(mlp: Mlp, options: { name: string; eventShape: readonly number[]; schedule?: Schedule }): Classifier {
  const size = options.eventShape.reduce((a, b) => a * b, 1);
  const who = `classifier "${options.name}"`;
  if (mlp.config.inputDim !== size) throw new Error(`${who}: the network takes ${mlp.config.inputDim} values but the event shape has ${size}`);
  if ((mlp.config.timeFrequencies > 0) !== (options.schedule !== undefined)) throw new Error(`${who}: give a schedule exactly when the network takes a time`);
  return {
    name: options.name,
    classes: mlp.config.outputDim,
    eventShape: options.eventShape,
    schedule: options.schedule,
    logProbs(x, t) {
      if (x.rank !== options.eventShape.length + 1 || x.size !== x.shape[0]! * size) {
        throw new Error(`${who}: expected a batch of shape [N, ${options.eventShape.join(', ')}], got [${x.shape.join(', ')}]`);
      }
      if (options.schedule !== undefined && t === undefined) throw new Error(`${who}: a noisy classifier needs the time t`);
      return tf.tidy(() => tf.logSoftmax(mlp.apply(tf.reshape(x, [x.shape[0]!, size]), options.schedule ? t : undefined)));
    },
  };
}

/** What a shipped network's manifest records beyond its weights. */
export interface ShippedMeta {
  readonly role: 'denoiser' | 'classifier' | 'noisy-classifier';
  readonly eventShape: readonly number[];
  readonly schedule?: ScheduleSpec;
  readonly prediction?: Prediction;
  readonly report?: Record<string, unknown>;
}

/** The meta block of a manifest, checked. */
export function shippedMeta(manifest: MlpManifest, who: string): ShippedMeta {
  const m = manifest.meta as Partial<ShippedMeta>;
  if (!m || !m.role || !Array.isArray(m.eventShape)) throw new Error(`${who}: the manifest has no role/eventShape in its meta block`);
  return m as ShippedMeta;
}
