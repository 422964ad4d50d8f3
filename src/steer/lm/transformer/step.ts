/**
 * The transformer's one-token step for many sequences at once, outside the
 * tfjs graph: the dense projections of all rows go through one tfjs matmul
 * each (weights fused: q|k|v and gate|up), everything else (RMSNorm, rotary
 * positions, attention over each row's own cache, SwiGLU, log-softmax) runs in
 * plain typed arrays on the rows' KV buffers. A step costs 4 matmul
 * dispatches per layer plus one for the head, whatever the batch size,
 * instead of the ~100 ops and cache uploads of a padded tfjs forward pass
 * (bench/lm.ts measures both). It is an independent implementation of
 * `model.ts`'s forward pass; the tests hold the two equal.
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
import type { TransformerConfig, TransformerWeights } from './model.js';

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

/** The weights of a transformer prepared for {@link FusedStep.step}. */
export class FusedStep {
  private readonly emb: Float32Array;
  private readonly norms: Record<string, Float32Array> = {};
  private readonly mats: Record<string, tf.Tensor2D> = {};
  private readonly cos: Float32Array;
  private readonly sin: Float32Array;

  /**
   * @param config - the shape (an `lm` head)
   * @param weights - the model's tensors (read, not owned)
   * @param capacity - buffer capacity for a cache that needs `needed` positions
   */
  constructor(
    readonly config: TransformerConfig,
    weights: TransformerWeights,
    readonly capacity: (needed: number) => number,
  ) {
    const c = config;
    this.emb = weights['token_embd.weight']!.dataSync() as Float32Array;
    for (const [k, t] of Object.entries(weights)) if (t.rank === 1) this.norms[k] = t.dataSync() as Float32Array;
    for (let l = 0; l < c.nLayers; l++) {
      const p = `blk.${l}.`;
      this.mats[`${p}qkv`] = tf.concat([weights[`${p}attn_q.weight`]!, weights[`${p}attn_k.weight`]!, weights[`${p}attn_v.weight`]!], 1) as tf.Tensor2D;
      this.mats[`${p}gate_up`] = tf.concat([weights[`${p}ffn_gate.weight`]!, weights[`${p}ffn_up.weight`]!], 1) as tf.Tensor2D;
      this.mats[`${p}attn_output`] = tf.clone(weights[`${p}attn_output.weight`]!) as tf.Tensor2D;
      this.mats[`${p}ffn_down`] = tf.clone(weights[`${p}ffn_down.weight`]!) as tf.Tensor2D;
    }
    this.mats.output = tf.clone(weights['output.weight']!) as tf.Tensor2D;
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

  /** `x [B, in] @ W` through tfjs (one dispatch, whatever B). */
  private mm(x: Float32Array, B: number, name: string): Float32Array {
    const W = this.mats[name]!;
    const xt = tf.tensor2d(x, [B, W.shape[0]]);
    const y = tf.matMul(xt, W);
    // read outside any tidy: a tidy would walk the returned array element by element
    const out = y.dataSync() as Float32Array;
    tf.dispose([xt, y]);
    return out;
  }

  /** RMSNorm of each of B rows of width d, into `out`. */
  private rms(x: Float32Array, B: number, name: string, out: Float32Array): void {
    const g = this.norms[name]!;
    const d = g.length;
    for (let b = 0; b < B; b++) {
      const o = b * d;
      let s = 0;
      for (let i = 0; i < d; i++) s += x[o + i]! * x[o + i]!;
      const r = 1 / Math.sqrt(s / d + this.config.normEps);
      for (let i = 0; i < d; i++) out[o + i] = x[o + i]! * r * g[i]!;
    }
  }

  /** Rotate the d values at `x[off..]` (all heads) for position `pos`, in place, into `out[outOff..]`. */
  private rope(x: Float32Array, off: number, pos: number, out: Float32Array, outOff: number): void {
    const c = this.config;
    const hd = c.dModel / c.nHeads;
    for (let h = 0; h < c.nHeads; h++) {
      for (let i = 0; i < hd; i += 2) {
        const o = h * hd + i;
        const cs = this.cos[pos * hd + i]!;
        const sn = this.sin[pos * hd + i]!;
        const x0 = x[off + o]!;
        const x1 = x[off + o + 1]!;
        out[outOff + o] = x0 * cs - x1 * sn;
        out[outOff + o + 1] = x1 * cs + x0 * sn;
      }
    }
  }

  /**
   * Run one token on top of each row's cache. Returns the next-token
   * log-probabilities `[B, V]` (row-major) and, per row, the buffer now
   * holding its `length + 1` positions (the row's own buffer when it could be
   * extended in place).
   */
  step(rows: readonly StepRow[]): { logprobs: Float32Array; buffers: KVBuffer[] } {
    const c = this.config;
    const B = rows.length;
    const d = c.dModel;
    const H = c.nHeads;
    const hd = d / H;
    const scale = 1 / Math.sqrt(hd);
    const buffers = rows.map((r) => r.buffer.claim(r.length, this.capacity));
    const x = new Float32Array(B * d);
    rows.forEach((r, b) => x.set(this.emb.subarray(r.token * d, (r.token + 1) * d), b * d));
    const h = new Float32Array(B * d);
    const q = new Float32Array(d);
    const att = new Float32Array(B * d);
    const maxLen = Math.max(...rows.map((r) => r.length)) + 1;
    const scores = new Float32Array(maxLen);
    for (let l = 0; l < c.nLayers; l++) {
      const p = `blk.${l}.`;
      this.rms(x, B, `${p}attn_norm.weight`, h);
      const qkv = this.mm(h, B, `${p}qkv`);
      att.fill(0);
      for (let b = 0; b < B; b++) {
        const L = rows[b]!.length;
        const K = buffers[b]!.k[l]!;
        const V = buffers[b]!.v[l]!;
        const row = b * 3 * d;
        this.rope(qkv, row, L, q, 0);
        this.rope(qkv, row + d, L, K, L * d);
        V.set(qkv.subarray(row + 2 * d, row + 3 * d), L * d);
        for (let hh = 0; hh < H; hh++) {
          const off = hh * hd;
          let m = -Infinity;
          for (let t = 0; t <= L; t++) {
            let s = 0;
            const kr = t * d + off;
            for (let i = 0; i < hd; i++) s += q[off + i]! * K[kr + i]!;
            s *= scale;
            scores[t] = s;
            if (s > m) m = s;
          }
          let z = 0;
          for (let t = 0; t <= L; t++) {
            const e = Math.exp(scores[t]! - m);
            scores[t] = e;
            z += e;
          }
          const ao = b * d + off;
          for (let t = 0; t <= L; t++) {
            const wgt = scores[t]! / z;
            const vr = t * d + off;
            for (let i = 0; i < hd; i++) att[ao + i]! += wgt * V[vr + i]!;
          }
        }
      }
      const o = this.mm(att, B, `${p}attn_output`);
      for (let i = 0; i < B * d; i++) x[i]! += o[i]!;
      this.rms(x, B, `${p}ffn_norm.weight`, h);
      const gu = this.mm(h, B, `${p}gate_up`);
      const F = c.dFF;
      const act = new Float32Array(B * F);
      for (let b = 0; b < B; b++) {
        for (let j = 0; j < F; j++) {
          const g = gu[b * 2 * F + j]!;
          act[b * F + j] = (g / (1 + Math.exp(-g))) * gu[b * 2 * F + F + j]!;
        }
      }
      const dn = this.mm(act, B, `${p}ffn_down`);
      for (let i = 0; i < B * d; i++) x[i]! += dn[i]!;
    }
    this.rms(x, B, 'output_norm.weight', h);
    const logits = this.mm(h, B, 'output');
    const Vn = c.vocabSize;
    for (let b = 0; b < B; b++) {
      const o = b * Vn;
      let m = -Infinity;
      for (let i = 0; i < Vn; i++) if (logits[o + i]! > m) m = logits[o + i]!;
      let z = 0;
      for (let i = 0; i < Vn; i++) z += Math.exp(logits[o + i]! - m);
      const lz = m + Math.log(z);
      for (let i = 0; i < Vn; i++) logits[o + i] = logits[o + i]! - lz;
    }
    return { logprobs: logits, buffers };
  }

  /** Free the fused weight tensors. */
  dispose(): void {
    tf.dispose(Object.values(this.mats));
  }
}
