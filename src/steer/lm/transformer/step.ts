/**
 * The transformer's one-token step in plain typed arrays: extending a KV
 * cache by one token costs a few matrix-vector products, far below the
 * dispatch cost of the ~100 tfjs ops a forward pass takes on a model this
 * small (see bench/lm.ts). It is a second, independent implementation of
 * `model.ts`'s forward pass; the tests hold the two equal.
 *
 * KV layout: per layer, keys and values `[length, dModel]` (position-major,
 * heads side by side; keys rotated).
 *
 * @module
 */
import type { TransformerConfig, TransformerWeights } from './model.js';

/** Per-layer keys and values of a prefix, `[length, dModel]` each. */
export interface TypedKV {
  readonly k: Float32Array;
  readonly v: Float32Array;
}

/** The weights as typed arrays, with rotary tables. */
export class TypedTransformer {
  private readonly w: Record<string, Float32Array>;
  private readonly cos: Float32Array;
  private readonly sin: Float32Array;

  constructor(
    readonly config: TransformerConfig,
    weights: TransformerWeights,
  ) {
    this.w = {};
    for (const [k, t] of Object.entries(weights)) this.w[k] = t.dataSync() as Float32Array;
    const hd = config.dModel / config.nHeads;
    this.cos = new Float32Array(config.contextLength * hd);
    this.sin = new Float32Array(config.contextLength * hd);
    for (let p = 0; p < config.contextLength; p++) {
      for (let i = 0; i < hd / 2; i++) {
        const a = p * Math.pow(config.ropeTheta, (-2 * i) / hd);
        this.cos[p * hd + 2 * i] = this.cos[p * hd + 2 * i + 1] = Math.cos(a);
        this.sin[p * hd + 2 * i] = this.sin[p * hd + 2 * i + 1] = Math.sin(a);
      }
    }
  }

  private matvec(x: Float32Array, name: string, out: Float32Array): Float32Array {
    const W = this.w[name]!;
    const n = out.length;
    out.fill(0);
    for (let i = 0; i < x.length; i++) {
      const xi = x[i]!;
      if (xi === 0) continue;
      const row = i * n;
      for (let j = 0; j < n; j++) out[j]! += xi * W[row + j]!;
    }
    return out;
  }

  private rms(x: Float32Array, name: string, out: Float32Array): Float32Array {
    const g = this.w[name]!;
    let s = 0;
    for (let i = 0; i < x.length; i++) s += x[i]! * x[i]!;
    const r = 1 / Math.sqrt(s / x.length + this.config.normEps);
    for (let i = 0; i < x.length; i++) out[i] = x[i]! * r * g[i]!;
    return out;
  }

  private rope(x: Float32Array, pos: number): void {
    const c = this.config;
    const hd = c.dModel / c.nHeads;
    for (let h = 0; h < c.nHeads; h++) {
      for (let i = 0; i < hd; i += 2) {
        const o = h * hd + i;
        const cs = this.cos[pos * hd + i]!;
        const sn = this.sin[pos * hd + i]!;
        const x0 = x[o]!;
        const x1 = x[o + 1]!;
        x[o] = x0 * cs - x1 * sn;
        x[o + 1] = x1 * cs + x0 * sn;
      }
    }
  }

  /**
   * Run `token` at position `past[0].k.length / dModel` on top of `past`;
   * returns the next-token log-probabilities and the extended keys/values.
   */
  step(past: readonly TypedKV[], token: number): { logprobs: Float32Array; kv: TypedKV[] } {
    const c = this.config;
    const d = c.dModel;
    const hd = d / c.nHeads;
    const L = past.length ? past[0]!.k.length / d : 0;
    const x = Float32Array.from(this.w['token_embd.weight']!.subarray(token * d, (token + 1) * d));
    const h = new Float32Array(d);
    const q = new Float32Array(d);
    const att = new Float32Array(d);
    const o = new Float32Array(d);
    const gate = new Float32Array(c.dFF);
    const up = new Float32Array(c.dFF);
    const scores = new Float32Array(L + 1);
    const scale = 1 / Math.sqrt(hd);
    const kv: TypedKV[] = [];
    for (let l = 0; l < c.nLayers; l++) {
      const p = `blk.${l}.`;
      this.rms(x, `${p}attn_norm.weight`, h);
      this.matvec(h, `${p}attn_q.weight`, q);
      const K = new Float32Array((L + 1) * d);
      const V = new Float32Array((L + 1) * d);
      if (L > 0) {
        K.set(past[l]!.k);
        V.set(past[l]!.v);
      }
      const kNew = K.subarray(L * d);
      this.matvec(h, `${p}attn_k.weight`, kNew);
      this.matvec(h, `${p}attn_v.weight`, V.subarray(L * d));
      this.rope(q, L);
      this.rope(kNew, L);
      kv.push({ k: K, v: V });
      att.fill(0);
      for (let hh = 0; hh < c.nHeads; hh++) {
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
        for (let t = 0; t <= L; t++) {
          const wgt = scores[t]! / z;
          const vr = t * d + off;
          for (let i = 0; i < hd; i++) att[off + i]! += wgt * V[vr + i]!;
        }
      }
      this.matvec(att, `${p}attn_output.weight`, o);
      for (let i = 0; i < d; i++) x[i]! += o[i]!;
      this.rms(x, `${p}ffn_norm.weight`, h);
      this.matvec(h, `${p}ffn_gate.weight`, gate);
      this.matvec(h, `${p}ffn_up.weight`, up);
      for (let j = 0; j < c.dFF; j++) {
        const g = gate[j]!;
        gate[j] = (g / (1 + Math.exp(-g))) * up[j]!;
      }
      this.matvec(gate, `${p}ffn_down.weight`, o);
      for (let i = 0; i < d; i++) x[i]! += o[i]!;
    }
    this.rms(x, 'output_norm.weight', h);
    const logits = this.matvec(h, 'output.weight', new Float32Array(c.vocabSize));
    let m = -Infinity;
    for (const v of logits) if (v > m) m = v;
    let z = 0;
    for (const v of logits) z += Math.exp(v - m);
    const lz = m + Math.log(z);
    for (let i = 0; i < logits.length; i++) logits[i] = logits[i]! - lz;
    return { logprobs: logits, kv };
  }
}
