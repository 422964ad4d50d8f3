/**
 * Training pieces for the small transformers: padded batches, the
 * next-token and per-position binary losses, and Adam with its state held
 * in plain tensors (so a checkpoint is weights + moments + step).
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import '../../../backend/gradients.js';
import { type Rope, type TransformerConfig, type TransformerWeights, attentionMask, forward, head } from './model.js';

/** A padded batch: inputs `[B, T]`, targets `[B, T]` (token ids, or 0/1 labels), per-position loss weights `[B, T]`. */
export interface Batch {
  readonly B: number;
  readonly T: number;
  readonly inputs: Int32Array;
  readonly targets: Float32Array;
  readonly weights: Float32Array;
}

/**
 * A next-token batch from full sequences (each starting with BOS): input
 * `seq[0..n-2]`, target `seq[1..n-1]`, padded on the right with weight 0.
 */
export function lmBatch(seqs: readonly (readonly number[])[]): Batch {
  const B = seqs.length;
  const T = Math.max(...seqs.map((s) => s.length - 1));
  const inputs = new Int32Array(B * T);
  const targets = new Float32Array(B * T);
  const weights = new Float32Array(B * T);
  seqs.forEach((s, b) => {
    for (let t = 0; t + 1 < s.length; t++) {
      inputs[b * T + t] = s[t]!;
      targets[b * T + t] = s[t + 1]!;
      weights[b * T + t] = 1;
    }
  });
  return { B, T, inputs, targets, weights };
}

/**
 * A labelled batch for a scalar head: each sequence with labels at chosen
 * positions (position → 0/1); other positions carry weight 0.
 */
export function labelBatch(items: readonly { tokens: readonly number[]; labels: ReadonlyMap<number, number> }[]): Batch {
  const B = items.length;
  const T = Math.max(...items.map((s) => s.tokens.length));
  const inputs = new Int32Array(B * T);
  const targets = new Float32Array(B * T);
  const weights = new Float32Array(B * T);
  items.forEach((s, b) => {
    s.tokens.forEach((tok, t) => (inputs[b * T + t] = tok));
    for (const [t, y] of s.labels) {
      targets[b * T + t] = y;
      weights[b * T + t] = 1;
    }
  });
  return { B, T, inputs, targets, weights };
}

function logits(c: TransformerConfig, w: TransformerWeights, rope: Rope, batch: Batch): tf.Tensor2D {
  const { B, T } = batch;
  const pos = new Int32Array(B * T);
  for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) pos[b * T + t] = t;
  const { hidden } = forward(c, w, rope, {
    tokens: tf.tensor2d(batch.inputs, [B, T], 'int32'),
    positions: tf.tensor2d(pos, [B, T], 'int32'),
    mask: attentionMask(new Array<number>(B).fill(0), 0, new Array<number>(B).fill(T), T),
    past: null,
  });
  return head(c, w, tf.reshape(hidden, [B * T, c.dModel]) as tf.Tensor2D);
}

/** Mean next-token negative log-likelihood (nats per weighted position). Call inside a tidy. */
export function lmLoss(c: TransformerConfig, w: TransformerWeights, rope: Rope, batch: Batch): tf.Scalar {
  const logp = tf.logSoftmax(logits(c, w, rope, batch));
  const target = tf.oneHot(tf.tensor1d(Int32Array.from(batch.targets), 'int32'), c.vocabSize);
  const nll = tf.neg(tf.sum(tf.mul(logp, target), 1));
  const wt = tf.tensor1d(batch.weights);
  return tf.div(tf.sum(tf.mul(nll, wt)), Math.max(1, batch.weights.reduce((a, b) => a + b, 0))) as tf.Scalar;
}

/** Mean binary cross-entropy of a scalar head against 0/1 labels (nats per labelled position). Call inside a tidy. */
export function scalarLoss(c: TransformerConfig, w: TransformerWeights, rope: Rope, batch: Batch): tf.Scalar {
  const z = tf.reshape(logits(c, w, rope, batch), [-1]);
  const y = tf.tensor1d(batch.targets);
  // log(1 + e^z) - y z, stably
  const bce = tf.sub(tf.add(tf.relu(z), tf.log1p(tf.exp(tf.neg(tf.abs(z))))), tf.mul(y, z));
  return tf.div(tf.sum(tf.mul(bce, tf.tensor1d(batch.weights))), Math.max(1, batch.weights.reduce((a, b) => a + b, 0))) as tf.Scalar;
}

/** Per-position probabilities of a scalar head `[B, T]` (sigmoid of its logit). Call inside a tidy. */
export function scalarProbs(c: TransformerConfig, w: TransformerWeights, rope: Rope, batch: Batch): tf.Tensor2D {
  return tf.reshape(tf.sigmoid(logits(c, w, rope, batch)), [batch.B, batch.T]) as tf.Tensor2D;
}

/** Adam (with decoupled weight decay on matrices) over named variables; its state is plain tensors for checkpoints. */
export class Adam {
  readonly m: TransformerWeights = {};
  readonly v: TransformerWeights = {};
  step = 0;

  constructor(
    readonly vars: Record<string, tf.Variable>,
    readonly beta1 = 0.9,
    readonly beta2 = 0.99,
    readonly eps = 1e-8,
    readonly weightDecay = 0.01,
  ) {
    for (const [k, x] of Object.entries(vars)) {
      this.m[k] = tf.zerosLike(x);
      this.v[k] = tf.zerosLike(x);
    }
  }

  /**
   * Apply one update with learning rate `lr`, clipping the global gradient
   * norm to `clip`; returns that norm. `grads` is keyed like `vars` or by the
   * variables' names (as `tf.variableGrads` returns them); a variable with no
   * gradient is an error, so a mismatch cannot silently freeze training.
   */
  apply(grads: Record<string, tf.Tensor>, lr: number, clip = 1): number {
    for (const [k, x] of Object.entries(this.vars)) {
      if (!grads[k] && !grads[x.name]) throw new Error(`Adam: no gradient for variable ${k} (name ${x.name})`);
    }
    this.step += 1;
    const t = this.step;
    const norm = tf.tidy(() => tf.sqrt(tf.addN(Object.values(grads).map((g) => tf.sum(tf.square(g))))).dataSync()[0]!);
    const scale = norm > clip ? clip / norm : 1;
    const bc1 = 1 - Math.pow(this.beta1, t);
    const bc2 = 1 - Math.pow(this.beta2, t);
    for (const [k, x] of Object.entries(this.vars)) {
      const g0 = (grads[k] ?? grads[x.name])!;
      const [m, v] = tf.tidy(() => {
        const g = tf.mul(g0, scale);
        return [tf.add(tf.mul(this.m[k]!, this.beta1), tf.mul(g, 1 - this.beta1)), tf.add(tf.mul(this.v[k]!, this.beta2), tf.mul(tf.square(g), 1 - this.beta2))];
      });
      tf.dispose([this.m[k]!, this.v[k]!]);
      this.m[k] = m!;
      this.v[k] = v!;
      tf.tidy(() => {
        const upd = tf.div(tf.div(m!, bc1), tf.add(tf.sqrt(tf.div(v!, bc2)), this.eps));
        const decay = x.rank > 1 ? tf.mul(x, lr * this.weightDecay) : tf.zerosLike(x);
        x.assign(tf.sub(tf.sub(x, tf.mul(upd, lr)), decay));
      });
    }
    return norm;
  }
}

/** Cosine learning rate with linear warm-up. */
export function cosineLR(step: number, total: number, peak: number, warmup: number, floor = 0.1): number {
  if (step < warmup) return (peak * (step + 1)) / warmup;
  const p = Math.min(1, (step - warmup) / Math.max(1, total - warmup));
  return peak * (floor + (1 - floor) * 0.5 * (1 + Math.cos(Math.PI * p)));
}
