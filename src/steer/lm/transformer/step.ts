/**
 * The transformer's one-token step for many sequences at once, outside the
 * tfjs graph. Per layer: RMSNorm, rotary positions and the KV-cache write
 * run as float32 typed-array kernels (`kernels.ts`); attention of all rows
 * over their own caches runs as one SIMD WebAssembly call
 * (`wasm-attention.ts`), and the dense projections as SIMD WebAssembly
 * matmuls over weights held in the module's memory, the SwiGLU feed-forward
 * in one call (`wasm-dense.ts`; weights fused: q|k|v and gate|up). Where the
 * runtime lacks SIMD WebAssembly (or `wasm: false`), attention runs in typed
 * arrays and the dense layers through tfjs (`tf-dense.ts`). Work arrays are
 * kept between steps and grown with the batch: nothing is allocated per row
 * except the row's output. It is an independent implementation of
 * `model.ts`'s forward pass; the tests hold the two equal on every path.
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
import { attendRows, ropeInto, rmsNormRows } from './kernels.js';
import type { TransformerConfig, TransformerWeights } from './model.js';
import { TfDense } from './tf-dense.js';
import { WasmAttention } from './wasm-attention.js';
import { type DenseMatrix, WasmDense } from './wasm-dense.js';

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

/** Options of the fused one-token step (`FusedStep`): which kernels run it. */
export interface FusedStepOptions {
  /**
   * SIMD WebAssembly kernels for attention (`wasm-attention.ts`) and the
   * dense layers (`wasm-dense.ts`): default true where the runtime has
   * them. False (or no SIMD WebAssembly): typed-array attention
   * (`kernels.ts`) and tfjs matmuls (`tf-dense.ts`).
   */
  readonly wasm?: boolean;
  /**
   * Without the WebAssembly dense layers: batches of at least this many rows
   * run the feed-forward and the head's log-softmax as tfjs chains (default
   * 32; the crossover on the shipped model lies between 16 and 32 rows).
   */
  readonly tfChainMinRows?: number;
}

/** Work arrays of a step, sized for `rows` rows (grown, never shrunk). */
class Workspace {
  readonly x: Float32Array;
  readonly h: Float32Array;
  readonly q: Float32Array;
  readonly att: Float32Array;
  readonly qkv: Float32Array;
  readonly proj: Float32Array;
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
    this.qkv = new Float32Array(rows * 3 * d);
    this.proj = new Float32Array(rows * d);
    this.lengths = new Int32Array(rows);
    this.keys = new Array<Float32Array>(rows);
    this.values = new Array<Float32Array>(rows);
    this.scores = new Float64Array(c.contextLength);
  }
}

/** Dense layers of the step: `wasm-dense.ts` or `tf-dense.ts`. */
type Dense = Pick<WasmDense, 'matmul' | 'swiglu' | 'logprobs' | 'dispose'>;

/** The weights of a transformer prepared for {@link FusedStep.step}. */
export class FusedStep {
  private readonly emb: Float32Array;
  private readonly norms: { attn: Float32Array; ffn: Float32Array }[] = [];
  private readonly outNorm: Float32Array;
  private readonly cos: Float32Array;
  private readonly sin: Float32Array;
  private readonly wasm: WasmAttention | null;
  private readonly dense: Dense;
  private ws: Workspace | null = null;

  /**
   * @param config - the shape (an `lm` head)
   * @param weights - the model's tensors (read, not owned)
   * @param capacity - buffer capacity for a cache that needs `needed` positions
   * @param options - which kernels run the step (the defaults suit the shipped models)
   */
  constructor(
    readonly config: TransformerConfig,
    weights: TransformerWeights,
    readonly capacity: (needed: number) => number,
    options: FusedStepOptions = {},
  ) {
    const c = config;
    const d = c.dModel;
    const read = (name: string): Float32Array => weights[name]!.dataSync() as Float32Array;
    /** `[n, m]` matrices side by side: `[n, sum m]`. */
    const sideBySide = (names: string[]): DenseMatrix => {
      const parts = names.map((nm) => ({ data: read(nm), m: weights[nm]!.shape[1]! }));
      const n = weights[names[0]!]!.shape[0]!;
      const m = parts.reduce((a, p) => a + p.m, 0);
      const data = new Float32Array(n * m);
      for (let i = 0; i < n; i++) {
        let o = i * m;
        for (const p of parts) {
          data.set(p.data.subarray(i * p.m, (i + 1) * p.m), o);
          o += p.m;
        }
      }
      return { data, n, m };
    };
    this.emb = read('token_embd.weight');
    const mats: Record<string, DenseMatrix> = {};
    for (let l = 0; l < c.nLayers; l++) {
      const p = `blk.${l}.`;
      this.norms.push({ attn: read(`${p}attn_norm.weight`), ffn: read(`${p}ffn_norm.weight`) });
      mats[`${p}qkv`] = sideBySide([`${p}attn_q.weight`, `${p}attn_k.weight`, `${p}attn_v.weight`]);
      mats[`${p}o`] = sideBySide([`${p}attn_output.weight`]);
      mats[`${p}gate_up`] = sideBySide([`${p}ffn_gate.weight`, `${p}ffn_up.weight`]);
      mats[`${p}down`] = sideBySide([`${p}ffn_down.weight`]);
    }
    mats.output = sideBySide(['output.weight']);
    this.outNorm = read('output_norm.weight');
    const useWasm = options.wasm ?? true;
    this.wasm = useWasm ? WasmAttention.create(c) : null;
    this.dense = (useWasm ? WasmDense.create(mats, c.dFF) : null) ?? new TfDense(mats, c.dFF, options.tfChainMinRows ?? 32);
    const hd = d / c.nHeads;
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

  /** Which kernels run the step: attention (`wasm` or `js`) and dense layers (`wasm` or `tfjs`). */
  get kernels(): { attention: 'wasm' | 'js'; dense: 'wasm' | 'tfjs' } {
    return { attention: this.wasm ? 'wasm' : 'js', dense: this.dense instanceof WasmDense ? 'wasm' : 'tfjs' };
  }

  private workspace(B: number): Workspace {
    if (!this.ws || this.ws.rows < B) this.ws = new Workspace(Math.max(B, 2 * (this.ws?.rows ?? 0)), this.config);
    return this.ws;
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
    const wasmAttention = this.wasm?.begin(buffers, ws.lengths, B) ?? false;
    for (let l = 0; l < c.nLayers; l++) {
      const p = `blk.${l}.`;
      const norms = this.norms[l]!;
      rmsNormRows(x, B, norms.attn, c.normEps, h);
      const qkv = this.dense.matmul(`${p}qkv`, h, B, ws.qkv);
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
      if (wasmAttention) this.wasm!.attend(l, q, ws.keys, ws.values, scale, att);
      else attendRows(q, ws.keys, ws.values, ws.lengths, B, c.nHeads, d, scale, ws.scores, att);
      const o = this.dense.matmul(`${p}o`, att, B, ws.proj);
      for (let i = 0; i < B * d; i++) x[i]! += o[i]!;
      rmsNormRows(x, B, norms.ffn, c.normEps, h);
      const dn = this.dense.swiglu(`${p}gate_up`, `${p}down`, h, B, ws.proj);
      for (let i = 0; i < B * d; i++) x[i]! += dn[i]!;
    }
    rmsNormRows(x, B, this.outNorm, c.normEps, h);
    return { logprobs: this.dense.logprobs('output', h, B), buffers };
  }

  /** Free what the dense layers hold (tfjs weight tensors on the fallback path). */
  dispose(): void {
    this.dense.dispose();
  }
}
