/**
 * The `DiffusionModel` interface: a batched network of (x_t, t, condition)
 * whose output is declared as one {@link Prediction} type under one
 * {@link Schedule}, and {@link denoise}, the checked evaluation every sampler
 * goes through (shapes, time domain, prediction type, finite outputs, with
 * errors naming the model, the step and the shape).
 *
 * State is a tensor with a leading particle axis, `[N, ...eventShape]`, so a
 * population of particles is resampled with one gather.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { type Prediction, checkPrediction, convertPrediction } from './parametrisation.js';
import { type Schedule, checkTime } from './schedules.js';

/**
 * A diffusion or flow model. `predict` may be any (async) function of a batch
 * `x` of shape `[N, ...eventShape]` and a time `t` shared by the batch; it
 * returns a new tensor of the same shape holding the declared `prediction`.
 */
export interface DiffusionModel {
  /** A name used in error messages. */
  readonly name: string;
  /** The schedule the network was trained with (times it accepts, what x_t means). */
  readonly schedule: Schedule;
  /** What the network outputs. */
  readonly prediction: Prediction;
  /** Shape of one particle, e.g. `[2]` or `[64]`. */
  readonly eventShape: readonly number[];
  /**
   * Number of classes of a class-conditional model (labels 0 .. classes-1); the
   * label `classes` itself is the null (unconditional) class used by
   * classifier-free guidance. Absent for unconditional models.
   */
  readonly classes?: number;
  /** Length of a conditioning vector, for vector-conditional models. */
  readonly conditionDim?: number;
  /**
   * The network. `cond` is an int32 tensor of labels `[N]` (class models) or a
   * float tensor `[N, conditionDim]`; undefined means unconditional (the null
   * class). The caller keeps ownership of its inputs.
   */
  predict(x: tf.Tensor, t: number, cond?: tf.Tensor): tf.Tensor | Promise<tf.Tensor>;
}

/** Where an evaluation happens, for error messages. */
export interface EvalContext {
  /** The sampler or routine evaluating the model. */
  readonly caller?: string;
  /** The sampling step (0-based), if any. */
  readonly step?: number;
  /** Check that every output is finite (one read-back per evaluation; default true). */
  readonly checkFinite?: boolean;
}

function where(model: DiffusionModel, ctx: EvalContext): string {
  const parts = [`model "${model.name}"`];
  if (ctx.caller) parts.push(ctx.caller);
  if (ctx.step !== undefined) parts.push(`step ${ctx.step}`);
  return parts.join(', ');
}

function shapeText(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/** Throw unless `x` is `[N, ...eventShape]` with N >= 1. */
export function checkState(model: DiffusionModel, x: tf.Tensor, who: string): void {
  const ev = model.eventShape;
  const ok = x.rank === ev.length + 1 && x.shape[0]! >= 1 && ev.every((d, i) => x.shape[i + 1] === d);
  if (!ok) throw new Error(`${who}: the state has shape ${shapeText(x.shape)} but the model expects [N, ${ev.join(', ')}] (a leading particle axis, then the event shape)`);
}

/** Throw unless `cond` suits the model and a batch of `n` particles. */
export function checkCondition(model: DiffusionModel, cond: tf.Tensor | undefined, n: number, who: string): void {
  if (cond === undefined) return;
  if (model.classes !== undefined) {
    if (cond.rank !== 1 || cond.shape[0] !== n || cond.dtype !== 'int32') {
      throw new Error(`${who}: class labels must be an int32 tensor of shape [${n}], got ${cond.dtype} ${shapeText(cond.shape)}`);
    }
    return;
  }
  if (model.conditionDim !== undefined) {
    if (cond.rank !== 2 || cond.shape[0] !== n || cond.shape[1] !== model.conditionDim) {
      throw new Error(`${who}: the condition must have shape [${n}, ${model.conditionDim}], got ${shapeText(cond.shape)}`);
    }
    return;
  }
  throw new Error(`${who}: a condition was given but the model is unconditional`);
}

/**
 * Evaluate the network at (x, t) and return its output converted to `want`
 * (default: the model's own type), after checking the time domain, the
 * prediction type, the state and output shapes and (unless disabled) that the
 * output is finite. Errors name the model, the caller, the step and the shape.
 */
export async function denoise(model: DiffusionModel, x: tf.Tensor, t: number, cond?: tf.Tensor, want?: Prediction, ctx: EvalContext = {}): Promise<tf.Tensor> {
  const who = where(model, ctx);
  checkPrediction(model.prediction, model.schedule, who);
  if (want !== undefined) checkPrediction(want, model.schedule, who);
  checkTime(model.schedule, t, who);
  checkState(model, x, who);
  checkCondition(model, cond, x.shape[0]!, who);
  const out = await model.predict(x, t, cond);
  if (!(out instanceof tf.Tensor)) throw new TypeError(`${who}: predict must return a tensor, got ${typeof out}`);
  if (out.shape.length !== x.shape.length || out.shape.some((d, i) => d !== x.shape[i])) {
    const shape = out.shape;
    out.dispose();
    throw new Error(`${who}: the network returned shape ${shapeText(shape)} for a state of shape ${shapeText(x.shape)} at t = ${t}; they must match`);
  }
  if (ctx.checkFinite !== false) {
    const bad = tf.tidy(() => tf.logicalNot(tf.all(tf.isFinite(out))));
    const isBad = (await bad.data())[0] === 1;
    bad.dispose();
    if (isBad) {
      out.dispose();
      throw new Error(`${who}: the network returned non-finite values (NaN or ±Infinity) at t = ${t} for a state of shape ${shapeText(x.shape)}`);
    }
  }
  if (want === undefined || want === model.prediction) return out;
  try {
    return convertPrediction(out, x, model.prediction, want, model.schedule, t, who);
  } finally {
    out.dispose();
  }
}

/**
 * Classifier-free guidance: a model whose prediction is
 * `(1 - w) f(x, t, null) + w f(x, t, c)` (w = `scale`; 1 is plain
 * conditional sampling, 0 unconditional), evaluated as one batch of 2N.
 * For the noise and score this is the score of q(x | c)^w q(x)^(1 - w).
 */
export function classifierFreeGuidance(model: DiffusionModel, scale: number): DiffusionModel {
  const who = `classifierFreeGuidance(${model.name})`;
  if (model.classes === undefined) throw new Error(`${who}: the model is not class-conditional (it has no null class)`);
  if (!Number.isFinite(scale)) throw new RangeError(`${who}: scale must be finite, got ${scale}`);
  const nullLabel = model.classes;
  return {
    name: `${model.name} (guidance ${scale})`,
    schedule: model.schedule,
    prediction: model.prediction,
    eventShape: model.eventShape,
    classes: model.classes,
    async predict(x, t, cond) {
      if (cond === undefined) return model.predict(x, t);
      const n = x.shape[0]!;
      const [xx, cc] = tf.tidy(() => [tf.concat([x, x], 0), tf.concat([cond, tf.fill([n], nullLabel, 'int32')], 0)]);
      const out = await model.predict(xx!, t, cc);
      xx!.dispose();
      cc!.dispose();
      return tf.tidy(() => {
        const [c, u] = tf.split(out, 2, 0);
        out.dispose();
        return tf.add(tf.mul(u!, 1 - scale), tf.mul(c!, scale));
      });
    },
  };
}

/** Labels `[n]` all equal to `label` (int32), e.g. a class or the null class. */
export function labels(n: number, label: number): tf.Tensor {
  return tf.fill([n], label, 'int32');
}

/**
 * The model's prediction at (x, t) converted to `want`, computed
 * synchronously so that `tf.grad` can differentiate it with respect to x
 * (twisted proposals need ∇_x of a function of the x0-prediction). Works for
 * models whose `predict` returns a tensor (the Gaussian mixture and the
 * shipped MLPs); throws for an async network. No shape or finiteness checks:
 * use {@link denoise} outside gradients.
 */
export function predictSync(model: DiffusionModel, x: tf.Tensor, t: number, cond: tf.Tensor | undefined, want: Prediction): tf.Tensor {
  const who = `predictSync(model "${model.name}")`;
  checkTime(model.schedule, t, who);
  const out = model.predict(x, t, cond);
  if (!(out instanceof tf.Tensor)) {
    void Promise.resolve(out).then((v) => v.dispose(), () => undefined);
    throw new TypeError(`${who}: predict returned a promise; differentiate only models whose network is synchronous`);
  }
  if (want === model.prediction) return out;
  try {
    return convertPrediction(out, x, model.prediction, want, model.schedule, t, who);
  } finally {
    out.dispose();
  }
}
