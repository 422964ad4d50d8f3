/**
 * A small llama-style decoder-only transformer in tfjs: RMSNorm, rotary
 * positions (adjacent-pair rotation, llama.cpp's "normal" RoPE), SwiGLU
 * feed-forward, no biases. The tensor names follow GGUF's llama names
 * (`token_embd.weight`, `blk.N.attn_q.weight`, ...) so the weights export to
 * GGUF unchanged except for a transpose; matrices are stored `[in, out]` here.
 *
 * This module holds the pure forward functions (training and inference share
 * them); {@link TransformerLM} in `lm.ts` wraps them as a language model.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';

/** The shape of a transformer. */
export interface TransformerConfig {
  /** Number of tokens. */
  readonly vocabSize: number;
  /** Width of the residual stream. */
  readonly dModel: number;
  /** Number of blocks. */
  readonly nLayers: number;
  /** Number of attention heads (dModel must divide evenly). */
  readonly nHeads: number;
  /** Hidden width of the SwiGLU feed-forward. */
  readonly dFF: number;
  /** Maximum number of positions (BOS included). */
  readonly contextLength: number;
  /** RoPE base frequency (10000 in llama). */
  readonly ropeTheta: number;
  /** RMSNorm epsilon. */
  readonly normEps: number;
  /** `lm`: next-token logits; `scalar`: one logit per position (a reward/value head). */
  readonly head: 'lm' | 'scalar';
}

/** Named weight tensors. */
export type TransformerWeights = Record<string, tf.Tensor>;

/** The names and shapes of every weight of a config, in a fixed order. */
export function weightShapes(c: TransformerConfig): [string, number[]][] {
  const out: [string, number[]][] = [['token_embd.weight', [c.vocabSize, c.dModel]]];
  for (let l = 0; l < c.nLayers; l++) {
    const p = `blk.${l}.`;
    out.push(
      [`${p}attn_norm.weight`, [c.dModel]],
      [`${p}attn_q.weight`, [c.dModel, c.dModel]],
      [`${p}attn_k.weight`, [c.dModel, c.dModel]],
      [`${p}attn_v.weight`, [c.dModel, c.dModel]],
      [`${p}attn_output.weight`, [c.dModel, c.dModel]],
      [`${p}ffn_norm.weight`, [c.dModel]],
      [`${p}ffn_gate.weight`, [c.dModel, c.dFF]],
      [`${p}ffn_up.weight`, [c.dModel, c.dFF]],
      [`${p}ffn_down.weight`, [c.dFF, c.dModel]],
    );
  }
  out.push(['output_norm.weight', [c.dModel]], ['output.weight', [c.dModel, c.head === 'lm' ? c.vocabSize : 1]]);
  return out;
}

/** Check a config's fields, with an error naming the bad one. */
export function checkConfig(c: TransformerConfig, what = 'transformer config'): void {
  for (const k of ['vocabSize', 'dModel', 'nLayers', 'nHeads', 'dFF', 'contextLength'] as const) {
    if (!Number.isInteger(c[k]) || c[k] <= 0) throw new Error(`${what}: ${k} must be a positive integer, got ${c[k]}`);
  }
  if (c.dModel % c.nHeads !== 0) throw new Error(`${what}: dModel ${c.dModel} is not divisible by nHeads ${c.nHeads}`);
  if ((c.dModel / c.nHeads) % 2 !== 0) throw new Error(`${what}: head size ${c.dModel / c.nHeads} must be even for rotary positions`);
  if (c.head !== 'lm' && c.head !== 'scalar') throw new Error(`${what}: head must be "lm" or "scalar", got ${String(c.head)}`);
}

/** Fresh weights: normal(0, 0.02) matrices (output projections scaled by 1/sqrt(2 layers)), unit norms. */
export function initWeights(c: TransformerConfig, seed: number): TransformerWeights {
  checkConfig(c);
  const w: TransformerWeights = {};
  let s = seed >>> 0;
  for (const [name, shape] of weightShapes(c)) {
    s = (s * 1664525 + 1013904223) >>> 0;
    if (shape.length === 1) w[name] = tf.ones(shape);
    else {
      const std = /attn_output|ffn_down/.test(name) ? 0.02 / Math.sqrt(2 * c.nLayers) : 0.02;
      w[name] = tf.randomNormal(shape, 0, std, 'float32', s || 1);
    }
  }
  return w;
}

/** Constant tables for rotary positions: cos/sin per (position, dim) and the pair-rotation matrix. */
export interface Rope {
  readonly cos: tf.Tensor2D; // [ctx, hd]
  readonly sin: tf.Tensor2D; // [ctx, hd]
  readonly rot: tf.Tensor2D; // [hd, hd]: x @ rot = (-x1, x0) per pair
  dispose(): void;
}

/** Build the rotary tables of a config (the caller disposes them). */
export function makeRope(c: TransformerConfig): Rope {
  const hd = c.dModel / c.nHeads;
  const cosA = new Float32Array(c.contextLength * hd);
  const sinA = new Float32Array(c.contextLength * hd);
  for (let p = 0; p < c.contextLength; p++) {
    for (let i = 0; i < hd / 2; i++) {
      const a = p * Math.pow(c.ropeTheta, (-2 * i) / hd);
      cosA[p * hd + 2 * i] = cosA[p * hd + 2 * i + 1] = Math.cos(a);
      sinA[p * hd + 2 * i] = sinA[p * hd + 2 * i + 1] = Math.sin(a);
    }
  }
  const rotA = new Float32Array(hd * hd);
  for (let i = 0; i < hd / 2; i++) {
    rotA[(2 * i + 1) * hd + 2 * i] = -1;
    rotA[2 * i * hd + 2 * i + 1] = 1;
  }
  const cos = tf.tensor2d(cosA, [c.contextLength, hd]);
  const sin = tf.tensor2d(sinA, [c.contextLength, hd]);
  const rot = tf.tensor2d(rotA, [hd, hd]);
  return { cos, sin, rot, dispose: () => tf.dispose([cos, sin, rot]) };
}

function rmsNorm(x: tf.Tensor, g: tf.Tensor, eps: number): tf.Tensor {
  const ms = tf.mean(tf.square(x), -1, true);
  return tf.mul(tf.mul(x, tf.rsqrt(tf.add(ms, eps))), g);
}

/** Per-layer keys and values, `[B, H, S, hd]` each (keys already rotated). */
export interface LayerKV {
  readonly k: tf.Tensor4D;
  readonly v: tf.Tensor4D;
}

/** Input of {@link forward}. */
export interface ForwardInput {
  /** Token ids `[B, T]` (int32). */
  readonly tokens: tf.Tensor2D;
  /** Absolute positions `[B, T]` (int32). */
  readonly positions: tf.Tensor2D;
  /** Additive attention mask `[B, 1, T, P + T]` (0 or a large negative number). */
  readonly mask: tf.Tensor4D;
  /** Keys/values of the past `P` positions per layer, or null when P = 0. */
  readonly past: readonly LayerKV[] | null;
}

/** Output of {@link forward}: final hidden states `[B, T, d]` (before the output norm) and this call's keys/values. */
export interface ForwardOutput {
  readonly hidden: tf.Tensor3D;
  readonly kv: LayerKV[];
}

/**
 * The tensors every block of one call reads: the batch's shape, the rotary
 * tables gathered at its positions, its mask and the past keys/values.
 */
export interface BlockInput {
  readonly B: number;
  readonly T: number;
  /** Rotary cosines at the call's positions, `[B, 1, T, hd]`. */
  readonly cos: tf.Tensor;
  /** Rotary sines at the call's positions, `[B, 1, T, hd]`. */
  readonly sin: tf.Tensor;
  readonly mask: tf.Tensor4D;
  readonly past: readonly LayerKV[] | null;
}

/** The rotary tables at a call's positions and the rest of what its blocks read (see `BlockInput`). */
export function blockInput(c: TransformerConfig, rope: Rope, input: ForwardInput): BlockInput {
  const [B, T] = input.tokens.shape;
  const hd = c.dModel / c.nHeads;
  const posFlat = tf.reshape(input.positions, [B * T]);
  const cos = tf.reshape(tf.gather(rope.cos, posFlat), [B, 1, T, hd]);
  const sin = tf.reshape(tf.gather(rope.sin, posFlat), [B, 1, T, hd]);
  return { B, T, cos, sin, mask: input.mask, past: input.past };
}

/** Token embeddings `[B, T, d]` of token ids `[B, T]`. */
export function embed(c: TransformerConfig, w: TransformerWeights, tokens: tf.Tensor2D): tf.Tensor3D {
  const [B, T] = tokens.shape;
  // One-hot matmul rather than gather: its gradient is a plain matmul on every backend.
  const oneHot = tf.oneHot(tf.reshape(tokens, [B * T]), c.vocabSize);
  return tf.reshape(tf.matMul(oneHot, w['token_embd.weight'] as tf.Tensor2D), [B, T, c.dModel]);
}

/** The attention half of block `l`: the residual stream after it, and the block's new keys/values. */
export function attentionHalf(c: TransformerConfig, w: TransformerWeights, rope: Rope, at: BlockInput, l: number, x: tf.Tensor): { x: tf.Tensor3D; kv: LayerKV } {
  const { B, T, cos, sin } = at;
  const d = c.dModel;
  const H = c.nHeads;
  const hd = d / H;
  const applyRope = (t: tf.Tensor4D): tf.Tensor4D => {
    const r = tf.reshape(tf.matMul(tf.reshape(t, [B * H * T, hd]), rope.rot), [B, H, T, hd]);
    return tf.add(tf.mul(t, cos), tf.mul(r, sin)) as tf.Tensor4D;
  };
  const heads = (t: tf.Tensor): tf.Tensor4D => tf.transpose(tf.reshape(t, [B, T, H, hd]), [0, 2, 1, 3]);
  const p = `blk.${l}.`;
  const h = tf.reshape(rmsNorm(x, w[`${p}attn_norm.weight`]!, c.normEps), [B * T, d]);
  const q = applyRope(heads(tf.matMul(h as tf.Tensor2D, w[`${p}attn_q.weight`] as tf.Tensor2D)));
  let k = applyRope(heads(tf.matMul(h as tf.Tensor2D, w[`${p}attn_k.weight`] as tf.Tensor2D)));
  let v = heads(tf.matMul(h as tf.Tensor2D, w[`${p}attn_v.weight`] as tf.Tensor2D));
  const kv = { k, v };
  const past = at.past?.[l];
  if (past) {
    k = tf.concat([past.k, k], 2);
    v = tf.concat([past.v, v], 2);
  }
  const scores = tf.add(tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(hd)), at.mask);
  const att = tf.matMul(tf.softmax(scores), v);
  const merged = tf.reshape(tf.transpose(att, [0, 2, 1, 3]), [B * T, d]);
  return { x: tf.add(x, tf.reshape(tf.matMul(merged as tf.Tensor2D, w[`${p}attn_output.weight`] as tf.Tensor2D), [B, T, d])) as tf.Tensor3D, kv };
}

/** The feed-forward half of block `l`: the residual stream after it. */
export function feedForwardHalf(c: TransformerConfig, w: TransformerWeights, at: BlockInput, l: number, x: tf.Tensor): tf.Tensor3D {
  const { B, T } = at;
  const d = c.dModel;
  const p = `blk.${l}.`;
  const h2 = tf.reshape(rmsNorm(x, w[`${p}ffn_norm.weight`]!, c.normEps), [B * T, d]) as tf.Tensor2D;
  const gate = tf.matMul(h2, w[`${p}ffn_gate.weight`] as tf.Tensor2D);
  const up = tf.matMul(h2, w[`${p}ffn_up.weight`] as tf.Tensor2D);
  const act = tf.mul(tf.mul(gate, tf.sigmoid(gate)), up) as tf.Tensor2D;
  return tf.add(x, tf.reshape(tf.matMul(act, w[`${p}ffn_down.weight`] as tf.Tensor2D), [B, T, d])) as tf.Tensor3D;
}

/**
 * Run the blocks on `[B, T]` tokens on top of optional past keys/values.
 * Call inside `tf.tidy` (or dispose the outputs); gradients flow to the weights.
 * The same ops as `embed`, then `attentionHalf` and
 * `feedForwardHalf` per block, which a caller may run one at a time.
 */
export function forward(c: TransformerConfig, w: TransformerWeights, rope: Rope, input: ForwardInput): ForwardOutput {
  let x: tf.Tensor3D = embed(c, w, input.tokens);
  const at = blockInput(c, rope, input);
  const kvOut: LayerKV[] = [];
  for (let l = 0; l < c.nLayers; l++) {
    const a = attentionHalf(c, w, rope, at, l, x);
    kvOut.push(a.kv);
    x = feedForwardHalf(c, w, at, l, a.x);
  }
  return { hidden: x, kv: kvOut };
}

/** The output head on hidden states `[N, d]`: logits `[N, V]` (or `[N, 1]` for a scalar head). */
export function head(c: TransformerConfig, w: TransformerWeights, hidden: tf.Tensor2D): tf.Tensor2D {
  return tf.matMul(rmsNorm(hidden, w['output_norm.weight']!, c.normEps) as tf.Tensor2D, w['output.weight'] as tf.Tensor2D);
}

/** Large negative number used for masked attention scores. */
export const MASKED = -1e9;

/**
 * The additive attention mask for a batch: row b has `pastLens[b]` valid past
 * positions out of `P` (padded on the right) and `newLens[b]` valid new
 * tokens out of `T`, each new token seeing the valid past and the new tokens
 * up to itself.
 */
export function attentionMask(pastLens: readonly number[], P: number, newLens: readonly number[], T: number): tf.Tensor4D {
  const B = pastLens.length;
  const S = P + T;
  const m = new Float32Array(B * T * S);
  for (let b = 0; b < B; b++) {
    for (let q = 0; q < T; q++) {
      const row = (b * T + q) * S;
      for (let j = 0; j < P; j++) if (j >= pastLens[b]!) m[row + j] = MASKED;
      for (let k = 0; k < T; k++) if (k > q) m[row + P + k] = MASKED;
    }
  }
  void newLens;
  return tf.tensor4d(m, [B, 1, T, S]);
}

/** The number of parameters of a config. */
export function parameterCount(c: TransformerConfig): number {
  return weightShapes(c).reduce((n, [, s]) => n + s.reduce((a, b) => a * b, 1), 0);
}
