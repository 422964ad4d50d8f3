/**
 * The transformer's one-token step for many sequences at once, outside the
 * tfjs graph. Per layer: RMSNorm, rotary positions and the KV-cache write
 * run as float32 typed-array kernels (`kernels.ts`), the attention of all
 * rows over their own caches as one SIMD WebAssembly pass
 * (`wasm-attention.ts`; `kernels.ts`'s typed-array pass where WebAssembly
 * SIMD is missing); the dense projections run
 * as one tfjs matmul for all rows each (weights fused: q|k|v and gate|up;
 * typed-array dot products lose to one tfjs dispatch even for a single row
 * of the shipped model: 258 vs 207 us a step, measured). From a batch of
 * {@link FusedStepOptions.tfChainMinRows} rows on, the SwiGLU feed-forward
 * (gate, up, sigmoid, products, down) and the output head with its
 * vocabulary log-softmax each run as one chain of tfjs ops with a single
 * upload and download, since the backend's vectorised sigmoid and exp beat
 * `Math.exp` per element. Work arrays are kept between steps and grown with
 * the batch: nothing is allocated per row except the row's output.
 * It is an independent implementation of `model.ts`'s forward pass; the
 * tests hold the two equal on every path.
 *
 * KV buffers: per layer, keys and values `[capacity, dModel]` (position-major,
 * heads side by side; keys rotated). A buffer is shared by a chain of caches:
 * positions below `used` never change, so a cache of length L reads
 * `[0, L)`, and extending the cache whose length equals `used` writes position
 * L in place (no copy). Extending any other cache (a second child of the same
 * prefix) copies its L positions into a fresh buffer first.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { attendRows, logSoftmaxRows, ropeInto, rmsNormRows, siluMulRows } from './kernels.js';
import type { TransformerConfig, TransformerWeights } from './model.js';
import { WasmAttention } from './wasm-attention.js';

/** Per-layer keys and values of a prefix, `[length, dModel]` each. */
export interface TypedKV {
  readonly k: Float32Array;
  readonly v: Float32Array;
}

/** Growable per-layer key/value storage shared by a chain of caches (see the module notes). */
export class KVBuffer {
  /** Keys per layer, `[capacity, dModel]`. */
  readonly k: Float32Array[];
  /** Values per layer, `[capacity, dModel]`. */
  readonly v: Float32Array[];
  /** Positions written so far; positions below it are immutable. */
  used = 0;

  constructor(
    nLayers: number,
    readonly capacity: number,
    readonly dModel: number,
  ) {
    this.k = Array.from({ length: nLayers }, () => new Float32Array(capacity * dModel));
    this.v = Array.from({ length: nLayers }, () => new Float32Array(capacity * dModel));
  }

  /** Views of the first `length` positions per layer. */
  views(length: number): TypedKV[] {
    const n = length * this.dModel;
    return this.k.map((k, l) => ({ k: k.subarray(0, n), v: this.v[l]!.subarray(0, n) }));
  }

  /**
   * A buffer whose positions `[length, length + count)` may be written: this
   * one when `length` is its frontier and it has room (the positions are
   * claimed), else a fresh buffer of capacity `capacity(length + count)`
   * holding a copy of `[0, length)`.
   */
  claim(length: number, capacity: (needed: number) => number, count = 1): KVBuffer {
    if (this.used === length && length + count <= this.capacity) {
      this.used = length + count;
      return this;
    }
    const out = new KVBuffer(this.k.length, capacity(length + count), this.dModel);
    const n = length * this.dModel;
    for (let l = 0; l < this.k.length; l++) {
      out.k[l]!.set(this.k[l]!.subarray(0, n));
      out.v[l]!.set(this.v[l]!.subarray(0, n));
    }
    out.used = length + count;
    return out;
  }
}

/** One row of a {@link FusedStep}: the cache to extend (a buffer and its length) and the token. */
export interface StepRow {
  readonly buffer: KVBuffer;
  readonly length: number;
  readonly token: number;
}

/** Options of {@link FusedStep}: where the step switches between typed-array and tfjs code. */
export interface FusedStepOptions {
  /**
   * Batches of at least this many rows run the feed-forward and the output
   * head as tfjs chains (default 32; below it, typed arrays between the
   * matmuls: the crossover on the shipped model lies between 16 and 32 rows).
   */
  readonly tfChainMinRows?: number;
  /**
   * Attention kernel: `wasm` (default where WebAssembly SIMD is present and
   * the head size is a multiple of 4: `wasm-attention.ts`) or `js`
   * (`kernels.ts`'s `attendRows`, the fallback).
   */
  readonly attention?: 'wasm' | 'js';
}

interface LayerWeights {
  readonly attnNorm: Float32Array;
  readonly ffnNorm: Float32Array;
  /** `[d, 3d]`: q | k | v. */
  readonly qkv: tf.Tensor2D;
  readonly o: tf.Tensor2D;
  readonly gate: tf.Tensor2D;
  readonly up: tf.Tensor2D;
  /** `[d, 2F]`: gate | up. */
  readonly gu: tf.Tensor2D;
  readonly down: tf.Tensor2D;
}

/** Work arrays of a step, sized for `rows` rows (grown, never shrunk). */
class Workspace {
  readonly x: Float32Array;
  readonly h: Float32Array;
  readonly q: Float32Array;
  readonly att: Float32Array;
  readonly act: Float32Array;
  readonly lengths: Int32Array;
  readonly keys: Float32Array[];
  readonly values: Float32Array[];
  readonly scores: Float64Array;
  constructor(
    readonly rows: number,
    c: TransformerConfig,
  ) {
    const d = c.dModel;
    this.x = new Float32Array(rows * d);
    this.h = new Float32Array(rows * d);
    this.q = new Float32Array(rows * d);
    this.att = new Float32Array(rows * d);
    this.act = new Float32Array(rows * c.dFF);
    this.lengths = new Int32Array(rows);
    this.keys = new Array<Float32Array>(rows);
    this.values = new Array<Float32Array>(rows);
    this.scores = new Float64Array(c.contextLength);
  }
}

/** The weights of a transformer prepared for {@link FusedStep.step}. */
export class FusedStep {
  private readonly emb: Float32Array;
  private readonly layers: LayerWeights[] = [];
  private readonly outNorm: Float32Array;
  private readonly out: tf.Tensor2D;
  private readonly cos: Float32Array;
  private readonly sin: Float32Array;
  private readonly chainMinRows: number;
  private readonly wasm: WasmAttention | null;
  private ws: Workspace | null = null;

  /**
   * @param config - the shape (an `lm` head)
   * @param weights - the model's tensors (read, not owned)
   * @param capacity - buffer capacity for a cache that needs `needed` positions
   * @param options - where the step switches code paths (the defaults suit the shipped models)
   */
  constructor(
    readonly config: TransformerConfig,
    weights: TransformerWeights,
    readonly capacity: (needed: number) => number,
    options: FusedStepOptions = {},
  ) {
    const c = config;
    this.chainMinRows = options.tfChainMinRows ?? 32;
    this.wasm = options.attention === 'js' ? null : WasmAttention.create(c);
    const read = (name: string): Float32Array => weights[name]!.dataSync() as Float32Array;
    const mat = (name: string): tf.Tensor2D => tf.clone(weights[name]!) as tf.Tensor2D;
    this.emb = read('token_embd.weight');
    for (let l = 0; l < c.nLayers; l++) {
      const p = `blk.${l}.`;
      this.layers.push({
        attnNorm: read(`${p}attn_norm.weight`),
        ffnNorm: read(`${p}ffn_norm.weight`),
        qkv: tf.concat([weights[`${p}attn_q.weight`]!, weights[`${p}attn_k.weight`]!, weights[`${p}attn_v.weight`]!], 1) as tf.Tensor2D,
        o: mat(`${p}attn_output.weight`),
        gate: mat(`${p}ffn_gate.weight`),
        up: mat(`${p}ffn_up.weight`),
        gu: tf.concat([weights[`${p}ffn_gate.weight`]!, weights[`${p}ffn_up.weight`]!], 1) as tf.Tensor2D,
        down: mat(`${p}ffn_down.weight`),
      });
    }
    this.outNorm = read('output_norm.weight');
    this.out = mat('output.weight');
    const hd = c.dModel / c.nHeads;
    this.cos = new Float32Array(c.contextLength * hd);
    this.sin = new Float32Array(c.contextLength * hd);
    for (let p = 0; p < c.contextLength; p++) {
      for (let i = 0; i < hd / 2; i++) {
        const a = p * Math.pow(c.ropeTheta, (-2 * i) / hd);
        this.cos[p * hd + 2 * i] = this.cos[p * hd + 2 * i + 1] = Math.cos(a);
        this.sin[p * hd + 2 * i] = this.sin[p * hd + 2 * i + 1] = Math.sin(a);
      }
    }
  }

  private workspace(B: number): Workspace {
    if (!this.ws || this.ws.rows < B) this.ws = new Workspace(Math.max(B, 2 * (this.ws?.rows ?? 0)), this.config);
    return this.ws;
  }

  /** `f(x [B, n])` through tfjs, read back: one upload, one download (a fresh array). */
  private tfRows(x: Float32Array, B: number, n: number, f: (xt: tf.Tensor2D) => tf.Tensor): Float32Array {
    const xt = tf.tensor2d(x.subarray(0, B * n), [B, n]);
    const y = tf.tidy(() => f(xt));
    // read outside the tidy: a tidy would walk a returned typed array element by element
    const out = y.dataSync() as Float32Array;
    tf.dispose([xt, y]);
    return out;
  }

  /** `x [B, n] @ W [n, m]`: one tfjs matmul whatever B (no tidy: its scope bookkeeping costs more than the op for one row). */
  private mm(x: Float32Array, B: number, W: tf.Tensor2D): Float32Array {
    const xt = tf.tensor2d(x.subarray(0, B * W.shape[0]), [B, W.shape[0]]);
    const y = tf.matMul(xt, W);
    const out = y.dataSync() as Float32Array;
    tf.dispose([xt, y]);
    return out;
  }

  /**
   * Run one token on top of each row's cache. Returns the next-token
   * log-probabilities `[B, V]` (row-major, a fresh array) and, per row, the
   * buffer now holding its `length + 1` positions (the row's own buffer when
   * it could be extended in place).
   */
  step(rows: readonly StepRow[]): { logprobs: Float32Array; buffers: KVBuffer[] } {
    const c = this.config;
    const B = rows.length;
    const d = c.dModel;
    const hd = d / c.nHeads;
    const scale = 1 / Math.sqrt(hd);
    const ws = this.workspace(B);
    const buffers = rows.map((r) => r.buffer.claim(r.length, this.capacity));
    const { x, h, q, att } = ws;
    for (let b = 0; b < B; b++) {
      const r = rows[b]!;
      x.set(this.emb.subarray(r.token * d, (r.token + 1) * d), b * d);
      ws.lengths[b] = r.length + 1;
    }
    const chained = B >= this.chainMinRows;
    this.wasm?.begin(buffers, ws.lengths, B);
    for (let l = 0; l < c.nLayers; l++) {
      const L = this.layers[l]!;
      rmsNormRows(x, B, L.attnNorm, c.normEps, h);
      const qkv = this.mm(h, B, L.qkv);
      for (let b = 0; b < B; b++) {
        const pos = rows[b]!.length;
        const K = buffers[b]!.k[l]!;
        const V = buffers[b]!.v[l]!;
        const row = b * 3 * d;
        ropeInto(qkv, row, d, hd, this.cos, this.sin, pos, q, b * d);
        ropeInto(qkv, row + d, d, hd, this.cos, this.sin, pos, K, pos * d);
        V.set(qkv.subarray(row + 2 * d, row + 3 * d), pos * d);
        ws.keys[b] = K;
        ws.values[b] = V;
      }
      if (this.wasm) this.wasm.attend(l, q, ws.keys, ws.values, scale, att);
      else attendRows(q, ws.keys, ws.values, ws.lengths, B, c.nHeads, d, scale, ws.scores, att);
      const o = this.mm(att, B, L.o);
      for (let i = 0; i < B * d; i++) x[i]! += o[i]!;
      rmsNormRows(x, B, L.ffnNorm, c.normEps, h);
      let dn: Float32Array;
      if (chained) {
        dn = this.tfRows(h, B, d, (ht) => {
          const g = tf.matMul(ht, L.gate);
          return tf.matMul(tf.mul(tf.mul(g, tf.sigmoid(g)), tf.matMul(ht, L.up)) as tf.Tensor2D, L.down);
        });
      } else {
        siluMulRows(this.mm(h, B, L.gu), B, c.dFF, ws.act);
        dn = this.mm(ws.act, B, L.down);
      }
      for (let i = 0; i < B * d; i++) x[i]! += dn[i]!;
    }
    rmsNormRows(x, B, this.outNorm, c.normEps, h);
    if (chained) return { logprobs: this.tfRows(h, B, d, (ht) => tf.logSoftmax(tf.matMul(ht, this.out))), buffers };
    const logits = this.mm(h, B, this.out);
    logSoftmaxRows(logits, B, c.vocabSize);
    return { logprobs: logits, buffers };
  }

  /** Free the weight tensors. */
  dispose(): void {
    tf.dispose(this.layers.flatMap((L) => [L.qkv, L.o, L.gate, L.up, L.gu, L.down]));
    this.out.dispose();
  }
}
