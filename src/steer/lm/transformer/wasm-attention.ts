/**
 * Attention of many rows over their own KV caches as two 128-bit SIMD
 * WebAssembly kernels (scores `q . k` and the weighted sum of values), with
 * the softmax between them in JS (WebAssembly has no `exp`). It computes what
 * `kernels.ts`'s `attendRows` computes, about 3x faster on this machine's
 * wasm engine; the tests hold the two equal.
 *
 * The kernels read keys and values from a mirror in their own memory: per
 * layer and row slot, `[contextLength, dModel]` floats. A slot remembers which
 * KV storage (`owner`) it mirrors and how many positions; since positions of
 * a storage below its frontier never change (`step.ts`'s `KVBuffer`), a row
 * that extends the same storage as last step copies only its new positions,
 * and a row on other storage (after resampling, a sibling) copies its whole
 * prefix once.
 *
 * @module
 */
import { FnBuilder, I32, V128, assemble } from './wasm-asm.js';

// Both kernels take the same parameters (byte addresses and byte strides):
const P = { base: 0, s: 1, out: 2, lens: 3, B: 4, H: 5, hdB: 6, dB: 7, rowB: 8, sRowB: 9, q: 10 } as const;
// locals after the 11 parameters
const b = 11;
const h = 12;
const t = 13;
const i = 14;
const n = 15;
const p1 = 16;
const p2 = 17;
const acc = 18;
const LOCALS = [[7, I32], [1, V128]] as const;

/** `scores[b, h, t] = q[b, h, :] . K[b, t, h, :]` for `t < lens[b]` (`base` = the layer's keys). */
function scoresKernel(): FnBuilder {
  const f = new FnBuilder(11, LOCALS);
  f.loop(b, P.B, 1, () => {
    f.get(P.lens).get(b).i32(4).mul().add().loadI32().set(n);
    f.loop(h, P.H, 1, () => {
      // p1 = keys of (b, h) at t = 0; p2 = score slot of (b, h)
      f.get(P.base).get(b).get(P.rowB).mul().add().get(h).get(P.hdB).mul().add().set(p1);
      f.get(P.s).get(b).get(P.H).mul().get(h).add().get(P.sRowB).mul().add().set(p2);
      f.loop(t, n, 1, () => {
        f.zeroV().set(acc);
        f.loop(i, P.hdB, 16, () => {
          f.get(acc);
          f.get(P.q).get(b).get(P.dB).mul().add().get(h).get(P.hdB).mul().add().get(i).add().loadV();
          f.get(p1).get(i).add().loadV();
          f.mulF32x4().addF32x4().set(acc);
        });
        f.get(p2);
        f.get(acc).laneF32x4(0).get(acc).laneF32x4(1).f32Add().get(acc).laneF32x4(2).get(acc).laneF32x4(3).f32Add().f32Add();
        f.storeF32();
        f.inc(p1, { local: P.dB }).inc(p2, 4);
      });
    });
  });
  return f;
}

/** `out[b, h, :] = sum_t w[b, h, t] V[b, t, h, :]` for `t < lens[b]` (`base` = the layer's values, `s` = the weights). */
function mixKernel(): FnBuilder {
  const f = new FnBuilder(11, LOCALS);
  f.loop(b, P.B, 1, () => {
    f.get(P.lens).get(b).i32(4).mul().add().loadI32().set(n);
    f.loop(h, P.H, 1, () => {
      f.loop(i, P.hdB, 16, () => {
        f.zeroV().set(acc);
        f.get(P.base).get(b).get(P.rowB).mul().add().get(h).get(P.hdB).mul().add().get(i).add().set(p1);
        f.get(P.s).get(b).get(P.H).mul().get(h).add().get(P.sRowB).mul().add().set(p2);
        f.loop(t, n, 1, () => {
          f.get(acc).get(p2).loadF32().splatF32x4().get(p1).loadV().mulF32x4().addF32x4().set(acc);
          f.inc(p1, { local: P.dB }).inc(p2, 4);
        });
        f.get(P.out).get(b).get(P.dB).mul().add().get(h).get(P.hdB).mul().add().get(i).add().get(acc).storeV();
      });
    });
  });
  return f;
}

/** The part of the WebAssembly API used here (the ES2022 library the project compiles against declares none of it). */
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { readonly exports: Record<string, unknown> };
  Memory: new (descriptor: { initial: number }) => WasmMemory;
}
const wasmApi = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;

let compiled: object | null | undefined;

/** The compiled kernels, or null where WebAssembly or its SIMD is missing. */
function kernels(): object | null {
  if (compiled === undefined) {
    compiled = null;
    const bytes = assemble(1, [{ name: 'scores', fn: scoresKernel() }, { name: 'mix', fn: mixKernel() }]);
    try {
      if (wasmApi?.validate(bytes)) compiled = new wasmApi.Module(bytes);
    } catch {
      compiled = null;
    }
  }
  return compiled;
}

type Kernel = (...args: number[]) => void;

/** The shape the mirror needs. */
export interface AttentionShape {
  readonly nHeads: number;
  readonly dModel: number;
  readonly contextLength: number;
  readonly nLayers: number;
}

/** SIMD WebAssembly attention of many rows over mirrored KV caches (see the module notes). */
export class WasmAttention {
  private readonly memory: WasmMemory;
  private readonly scores: Kernel;
  private readonly mix: Kernel;
  private f32!: Float32Array;
  private i32!: Int32Array;
  private slots = 0;
  private slotOwner: (object | null)[] = [];
  /** Positions mirrored per layer and slot (`[nLayers, slots]`). */
  private slotLen = new Int32Array(0);
  // byte offsets
  private lensAt = 0;
  private qAt = 0;
  private outAt = 0;
  private sAt = 0;
  private kvAt = 0;
  private B = 0;

  /** The kernels for a shape, or null where SIMD WebAssembly is missing or the head size is not a multiple of 4. */
  static create(shape: AttentionShape): WasmAttention | null {
    const m = kernels();
    if (!m || (shape.dModel / shape.nHeads) % 4 !== 0) return null;
    return new WasmAttention(shape, m);
  }

  private constructor(
    readonly shape: AttentionShape,
    module: object,
  ) {
    this.memory = new wasmApi!.Memory({ initial: 1 });
    const exports = new wasmApi!.Instance(module, { env: { mem: this.memory } }).exports;
    this.scores = exports.scores as Kernel;
    this.mix = exports.mix as Kernel;
  }

  /** Lay the memory out for `slots` rows (grown; every slot forgets what it mirrored). */
  private layout(slots: number): void {
    const { nHeads: H, dModel: d, contextLength: ctx, nLayers } = this.shape;
    const round = (x: number): number => Math.ceil(x / 16) * 16;
    this.lensAt = 0;
    this.qAt = round(slots * 4);
    this.outAt = this.qAt + slots * d * 4;
    this.sAt = this.outAt + slots * d * 4;
    this.kvAt = this.sAt + slots * H * ctx * 4;
    const bytes = this.kvAt + 2 * nLayers * slots * ctx * d * 4;
    const need = Math.ceil(bytes / 65536) - this.memory.buffer.byteLength / 65536;
    if (need > 0) this.memory.grow(need);
    this.f32 = new Float32Array(this.memory.buffer);
    this.i32 = new Int32Array(this.memory.buffer);
    this.slots = slots;
    this.slotOwner = new Array<object | null>(slots).fill(null);
    this.slotLen = new Int32Array(nLayers * slots);
  }

  /** Byte offset of layer `l`'s keys (`part` 0) or values (`part` 1). */
  private kvBase(l: number, part: 0 | 1): number {
    const { dModel: d, contextLength: ctx } = this.shape;
    return this.kvAt + (2 * l + part) * this.slots * ctx * d * 4;
  }

  /**
   * Start a step of `B` rows: row `b` attends to `lengths[b]` positions of the
   * KV storage `owners[b]` (an object whose positions below its frontier never
   * change).
   */
  begin(owners: readonly object[], lengths: ArrayLike<number>, B: number): void {
    if (B > this.slots) this.layout(Math.max(B, 2 * this.slots));
    const nL = this.shape.nLayers;
    for (let r = 0; r < B; r++) {
      if (this.slotOwner[r] !== owners[r]) {
        this.slotOwner[r] = owners[r]!;
        for (let l = 0; l < nL; l++) this.slotLen[l * this.slots + r] = 0;
      }
      this.i32[(this.lensAt >> 2) + r] = lengths[r]!;
    }
    this.B = B;
  }

  /**
   * Layer `l` of the step begun last: mirror the rows' new positions of
   * `keys[b]` and `values[b]` (`[capacity, d]` each), then attention of
   * queries `q` (`[B, d]`) into `out` (`[B, d]`), scores scaled by `scale`.
   */
  attend(l: number, q: Float32Array, keys: readonly Float32Array[], values: readonly Float32Array[], scale: number, out: Float32Array): void {
    const { nHeads: H, dModel: d, contextLength: ctx } = this.shape;
    const B = this.B;
    const f32 = this.f32;
    const kAt = this.kvBase(l, 0);
    const vAt = this.kvBase(l, 1);
    for (let r = 0; r < B; r++) {
      const n = this.i32[(this.lensAt >> 2) + r]!;
      const j = l * this.slots + r;
      const from = Math.min(this.slotLen[j]!, n);
      if (from < n) {
        const at = r * ctx * d + from * d;
        f32.set(keys[r]!.subarray(from * d, n * d), (kAt >> 2) + at);
        f32.set(values[r]!.subarray(from * d, n * d), (vAt >> 2) + at);
      }
      this.slotLen[j] = n;
    }
    f32.set(q.subarray(0, B * d), this.qAt >> 2);
    const hdB = (d / H) * 4;
    const rowB = ctx * d * 4;
    const sRowB = ctx * 4;
    this.scores(kAt, this.sAt, this.outAt, this.lensAt, B, H, hdB, d * 4, rowB, sRowB, this.qAt);
    // softmax of each (row, head)'s scores, in place
    for (let r = 0; r < B; r++) {
      const n = this.i32[(this.lensAt >> 2) + r]!;
      for (let hh = 0; hh < H; hh++) {
        const o = (this.sAt >> 2) + (r * H + hh) * ctx;
        let m = -Infinity;
        for (let k = 0; k < n; k++) if (f32[o + k]! > m) m = f32[o + k]!;
        let z = 0;
        for (let k = 0; k < n; k++) {
          const e = Math.exp((f32[o + k]! - m) * scale);
          f32[o + k] = e;
          z += e;
        }
        const iz = 1 / z;
        for (let k = 0; k < n; k++) f32[o + k]! *= iz;
      }
    }
    this.mix(vAt, this.sAt, this.outAt, this.lensAt, B, H, hdB, d * 4, rowB, sRowB, this.qAt);
    out.set(f32.subarray(this.outAt >> 2, (this.outAt >> 2) + B * d));
  }
}
