/**
 * Attention of many rows over their own KV caches as one 128-bit SIMD
 * WebAssembly kernel (scores `q . k`, softmax with a vectorised `exp`, the
 * weighted sum of values). It computes what `kernels.ts`'s `attendRows`
 * computes, 5-8x faster at 64 rows on this machine's wasm engine; the tests
 * hold the two equal.
 *
 * The kernel reads keys and values from a mirror in their own memory: per
 * layer and row slot, `[contextLength, dModel]` floats. A slot remembers which
 * KV storage (`owner`) it mirrors and how many positions; since positions of
 * a storage below its frontier never change (`step.ts`'s `KVBuffer`), a row
 * that extends the same storage as last step copies only its new positions,
 * and a row on other storage (after resampling, a sibling) copies its whole
 * prefix once.
 *
 * @module
 */
import { F32, FnBuilder, I32, type Kernel, V128, type WasmMemory, assemble, compileModule, instantiate } from './wasm-asm.js';

// Parameters (byte addresses and byte strides; `scale` a float)
const P = { keys: 0, values: 1, s: 2, out: 3, lens: 4, B: 5, H: 6, hdB: 7, dB: 8, rowB: 9, sRowB: 10, q: 11, scale: 12 } as const;
const PARAMS = [...new Array<number>(12).fill(I32), F32];
// locals after the parameters: 9 i32, 3 f32, then v128s
const [b, h, t, i, n, p1, p2, qp, n4] = [13, 14, 15, 16, 17, 18, 19, 20, 21];
const [m, z, sc] = [22, 23, 24];
const [acc, x, e1, e2] = [25, 26, 27, 28];

/**
 * For every row `b` and head `h`: scores `q[b, h, :] . K[b, t, h, :] * scale`
 * for `t < lens[b]` into the pair's score slots, their softmax (a vectorised
 * `exp`), and `out[b, h, :] = sum_t w_t V[b, t, h, :]`. Specialised to the
 * head size `hd` (a multiple of 4): the head's query and its output
 * accumulators live in `hd / 4` vector locals each, so a position costs one
 * pass over its `hd / 4` key (value) vectors.
 */
function attendKernel(hd: number): FnBuilder {
  const k = hd / 4;
  const qv = (j: number): number => 29 + j;
  const av = (j: number): number => 29 + k + j;
  const f = new FnBuilder(PARAMS, [[9, I32], [3, F32], [4 + 2 * k, V128]]);
  const scoreRow = (): FnBuilder => f.get(P.s).get(b).get(P.H).mul().get(h).add().get(P.sRowB).mul().add();
  f.loop(b, P.B, 1, () => {
    f.get(P.lens).get(b).i32(4).mul().add().loadI32().set(n);
    f.get(n).i32(3).add().i32(-4).and().i32(4).mul().set(n4); // n rounded up to whole vectors, in bytes
    f.loop(h, P.H, 1, () => {
      // the head's query in registers; scores and their maximum
      f.get(P.q).get(b).get(P.dB).mul().add().get(h).get(P.hdB).mul().add().set(qp);
      for (let j = 0; j < k; j++) f.get(qp).loadV(16 * j).set(qv(j));
      f.get(P.keys).get(b).get(P.rowB).mul().add().get(h).get(P.hdB).mul().add().set(p1);
      scoreRow().set(p2);
      f.f32(-Infinity).set(m);
      f.loop(t, n, 1, () => {
        f.get(p1).loadV(0).get(qv(0)).mulF32x4();
        for (let j = 1; j < k; j++) f.get(p1).loadV(16 * j).get(qv(j)).mulF32x4().addF32x4();
        f.set(acc);
        f.get(acc).laneF32x4(0).get(acc).laneF32x4(1).f32Add().get(acc).laneF32x4(2).get(acc).laneF32x4(3).f32Add().f32Add();
        f.get(P.scale).f32Mul().set(sc);
        f.get(p2).get(sc).storeF32();
        f.get(m).get(sc).f32Max().set(m);
        f.inc(p1, { local: P.dB }).inc(p2, 4);
      });
      // w_t = exp(s_t - m), four at a time (lanes past n are computed and never read), and their sum
      scoreRow().set(p2);
      f.loop(i, n4, 16, () => {
        f.get(p2).get(i).add().loadV().get(m).splatF32x4().subF32x4().set(x);
        f.get(p2).get(i).add();
        f.expF32x4(x, e1, e2).storeV();
      });
      f.f32(0).set(z);
      f.loop(t, n, 1, () => {
        f.get(z).get(p2).loadF32().f32Add().set(z);
        f.inc(p2, 4);
      });
      // weighted values, over the sum
      for (let j = 0; j < k; j++) f.zeroV().set(av(j));
      f.get(P.values).get(b).get(P.rowB).mul().add().get(h).get(P.hdB).mul().add().set(p1);
      scoreRow().set(p2);
      f.loop(t, n, 1, () => {
        f.get(p2).loadF32().splatF32x4().set(x);
        for (let j = 0; j < k; j++) f.get(av(j)).get(p1).loadV(16 * j).get(x).mulF32x4().addF32x4().set(av(j));
        f.inc(p1, { local: P.dB }).inc(p2, 4);
      });
      f.f32(1).get(z).f32Div().splatF32x4().set(x);
      f.get(P.out).get(b).get(P.dB).mul().add().get(h).get(P.hdB).mul().add().set(p1);
      for (let j = 0; j < k; j++) f.get(p1).get(av(j)).get(x).mulF32x4().storeV(16 * j);
    });
  });
  return f;
}

const compiled = new Map<number, object | null>();

/** The kernel compiled for head size `hd`, or null where WebAssembly or its SIMD is missing. */
function kernel(hd: number): object | null {
  if (!compiled.has(hd)) {
    compiled.set(hd, compileModule(assemble(1, [{ name: 'attend', fn: attendKernel(hd) }])));
  }
  return compiled.get(hd)!;
}

/**
 * Most memory a mirror may take (256 MiB): the mirror holds
 * `2 nLayers contextLength dModel` floats a row, so a large model or batch
 * attends in typed arrays instead of reserving gigabytes.
 */
export const MIRROR_BUDGET_BYTES = 256 * 2 ** 20;

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
  private readonly kernel: Kernel;
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
  /** Score slots per (row, head): the context rounded up to whole vectors. */
  private readonly sRow: number;

  /** The kernel for a shape, or null where SIMD WebAssembly is missing or the head size is not a multiple of 4 (or over 256). */
  static create(shape: AttentionShape): WasmAttention | null {
    const hd = shape.dModel / shape.nHeads;
    if (!Number.isInteger(hd) || hd % 4 !== 0 || hd > 256) return null;
    const module = kernel(hd);
    return module ? new WasmAttention(shape, module) : null;
  }

  private constructor(
    readonly shape: AttentionShape,
    module: object,
  ) {
    this.sRow = Math.ceil(shape.contextLength / 4) * 4;
    const { memory, exports } = instantiate(module);
    this.memory = memory;
    this.kernel = exports.attend as Kernel;
  }

  /** Bytes of memory `slots` rows need. */
  private bytesFor(slots: number): number {
    const { nHeads: H, dModel: d, contextLength: ctx, nLayers } = this.shape;
    return Math.ceil((slots * 4) / 16) * 16 + slots * (2 * d + H * this.sRow + 2 * nLayers * ctx * d) * 4;
  }

  /** Lay the memory out for `slots` rows (grown; every slot forgets what it mirrored). */
  private layout(slots: number): void {
    const { nHeads: H, dModel: d } = this.shape;
    this.lensAt = 0;
    this.qAt = Math.ceil((slots * 4) / 16) * 16;
    this.outAt = this.qAt + slots * d * 4;
    this.sAt = this.outAt + slots * d * 4;
    this.kvAt = this.sAt + slots * H * this.sRow * 4;
    const need = Math.ceil(this.bytesFor(slots) / 65536) - this.memory.buffer.byteLength / 65536;
    if (need > 0) this.memory.grow(need);
    this.f32 = new Float32Array(this.memory.buffer);
    this.i32 = new Int32Array(this.memory.buffer);
    this.slots = slots;
    this.slotOwner = new Array<object | null>(slots).fill(null);
    this.slotLen = new Int32Array(this.shape.nLayers * slots);
  }

  /** Byte offset of layer `l`'s keys (`part` 0) or values (`part` 1). */
  private kvBase(l: number, part: 0 | 1): number {
    const { dModel: d, contextLength: ctx } = this.shape;
    return this.kvAt + (2 * l + part) * this.slots * ctx * d * 4;
  }

  /**
   * Start a step of `B` rows: row `b` attends to `lengths[b]` positions of the
   * KV storage `owners[b]` (an object whose positions below its frontier never
   * change). Returns false, doing nothing, when the mirror for `B` rows would
   * outgrow {@link MIRROR_BUDGET_BYTES} (the caller attends in typed arrays).
   */
  begin(owners: readonly object[], lengths: ArrayLike<number>, B: number): boolean {
    if (B > this.slots) {
      if (this.bytesFor(B) > MIRROR_BUDGET_BYTES) return false;
      this.layout(this.bytesFor(2 * this.slots) <= MIRROR_BUDGET_BYTES ? Math.max(B, 2 * this.slots) : B);
    }
    const nL = this.shape.nLayers;
    for (let r = 0; r < B; r++) {
      if (this.slotOwner[r] !== owners[r]) {
        this.slotOwner[r] = owners[r]!;
        for (let l = 0; l < nL; l++) this.slotLen[l * this.slots + r] = 0;
      }
      this.i32[(this.lensAt >> 2) + r] = lengths[r]!;
    }
    this.B = B;
    return true;
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
    this.kernel(kAt, vAt, this.sAt, this.outAt, this.lensAt, B, H, (d / H) * 4, d * 4, ctx * d * 4, this.sRow * 4, this.qAt, scale);
    out.set(f32.subarray(this.outAt >> 2, (this.outAt >> 2) + B * d));
  }
}
