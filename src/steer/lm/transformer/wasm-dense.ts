/**
 * The dense layers of the one-token step in 128-bit SIMD WebAssembly:
 * `x [B, n] @ W [n, m]` for weight matrices held in the module's memory, and
 * the SwiGLU feed-forward (`x -> [gate | up] -> silu(gate) * up -> down`)
 * without leaving that memory. A call costs a copy of its input rows in and
 * its output rows out, and no tfjs dispatch, so one row pays for its
 * arithmetic only. The matmul works on tiles of 4 rows x 8 columns (8 vector
 * accumulators; a row at a time for the last `B mod 4` rows); weight rows are
 * padded to whole tiles with zeros.
 *
 * @module
 */
import { logSoftmaxRows } from './kernels.js';
import { FnBuilder, I32, type Kernel, V128, type WasmMemory, assemble, compileModule, instantiate } from './wasm-asm.js';

// gemm(x, w, y, B, n, mB, nB): y[B, mPad] = x[B, n] @ w[n, mPad]; mB = mPad * 4, nB = n * 4 (byte strides)
const G = { x: 0, w: 1, y: 2, B: 3, n: 4, mB: 5, nB: 6 } as const;

function gemmKernel(): FnBuilder {
  const [r0, j, kk, B4, pw, py] = [7, 8, 9, 10, 11, 12];
  const xr = [13, 14, 15, 16];
  const [w0, w1] = [17, 18];
  const xs = 19;
  const acc = (k: number): number => 20 + k;
  const f = new FnBuilder(new Array<number>(7).fill(I32), [[10, I32], [11, V128]]);
  f.get(G.B).i32(-4).and().set(B4);
  /** One tile of `rows` rows starting at row r0 and 8 columns starting at byte j. */
  const tile = (rows: number): void => {
    for (let k = 0; k < 2 * rows; k++) f.zeroV().set(acc(k));
    f.get(G.x).get(r0).get(G.nB).mul().add().set(xr[0]!);
    for (let r = 1; r < rows; r++) f.get(xr[r - 1]!).get(G.nB).add().set(xr[r]!);
    f.get(G.w).get(j).add().set(pw);
    f.loop(kk, G.n, 1, () => {
      f.get(pw).loadV(0).set(w0);
      f.get(pw).loadV(16).set(w1);
      for (let r = 0; r < rows; r++) {
        f.get(xr[r]!).loadF32().splatF32x4().set(xs);
        f.get(acc(2 * r)).get(xs).get(w0).mulF32x4().addF32x4().set(acc(2 * r));
        f.get(acc(2 * r + 1)).get(xs).get(w1).mulF32x4().addF32x4().set(acc(2 * r + 1));
        f.inc(xr[r]!, 4);
      }
      f.inc(pw, { local: G.mB });
    });
    f.get(G.y).get(r0).get(G.mB).mul().add().get(j).add().set(py);
    for (let r = 0; r < rows; r++) {
      f.get(py).get(acc(2 * r)).storeV(0);
      f.get(py).get(acc(2 * r + 1)).storeV(16);
      if (r + 1 < rows) f.inc(py, { local: G.mB });
    }
  };
  f.loop(r0, B4, 4, () => f.loop(j, G.mB, 32, () => tile(4)));
  f.loop(r0, G.B, 1, () => f.loop(j, G.mB, 32, () => tile(1)), B4);
  return f;
}

// swiglu(gu, out, B, FB, mB): out[B, F] = silu(gu[:, :F]) * gu[:, F:2F]; gu rows mB bytes apart, FB = F * 4
function siluKernel(): FnBuilder {
  const S = { gu: 0, out: 1, B: 2, FB: 3, mB: 4 } as const;
  const [r, c, pg, po] = [5, 6, 7, 8];
  const [g, x, e1, e2] = [9, 10, 11, 12];
  const f = new FnBuilder(new Array<number>(5).fill(I32), [[4, I32], [4, V128]]);
  f.loop(r, S.B, 1, () => {
    f.get(S.gu).get(r).get(S.mB).mul().add().set(pg);
    f.get(S.out).get(r).get(S.FB).mul().add().set(po);
    f.loop(c, S.FB, 16, () => {
      f.get(pg).get(c).add().loadV().set(g);
      f.zeroV().get(g).subF32x4().set(x);
      f.get(po).get(c).add();
      f.get(g).get(pg).get(c).add().get(S.FB).add().loadV().mulF32x4();
      f.constF32x4(1).expF32x4(x, e1, e2).addF32x4().divF32x4();
      f.storeV();
    });
  });
  return f;
}

let compiled: object | null | undefined;

/** A weight matrix `[n, m]`, row-major. */
export interface DenseMatrix {
  readonly data: Float32Array;
  readonly n: number;
  readonly m: number;
}

const pad8 = (m: number): number => Math.ceil(m / 8) * 8;

/** Most weight memory the kernels take (1 GiB, a quarter of 32-bit WebAssembly's reach); larger models use tfjs. */
export const WEIGHT_BUDGET_BYTES = 2 ** 30;

/** Dense layers in SIMD WebAssembly over weights copied into the module's memory (see the module notes). */
export class WasmDense {
  private readonly memory: WasmMemory;
  private readonly gemm: Kernel;
  private readonly silu: Kernel;
  private readonly at = new Map<string, { offset: number; n: number; m: number }>();
  private f32!: Float32Array;
  private rows = 0;
  private xAt = 0;
  private yAt = 0;
  private actAt = 0;
  private readonly weightBytes: number;
  private readonly maxN: number;
  private readonly maxM: number;

  /**
   * The kernels over `mats` (copied), or null where SIMD WebAssembly is
   * missing, the feed-forward width `dFF` is not a multiple of 4 or the
   * weights exceed {@link WEIGHT_BUDGET_BYTES}.
   */
  static create(mats: Record<string, DenseMatrix>, dFF: number): WasmDense | null {
    if (dFF % 4 !== 0) return null;
    const bytes = Object.values(mats).reduce((a, { n, m }) => a + n * pad8(m) * 4, 0);
    if (bytes > WEIGHT_BUDGET_BYTES) return null;
    if (compiled === undefined) {
      compiled = compileModule(assemble(1, [{ name: 'gemm', fn: gemmKernel() }, { name: 'silu', fn: siluKernel() }]));
    }
    return compiled ? new WasmDense(compiled, mats, dFF) : null;
  }

  private constructor(
    module: object,
    mats: Record<string, DenseMatrix>,
    readonly dFF: number,
  ) {
    const { memory, exports } = instantiate(module);
    this.memory = memory;
    this.gemm = exports.gemm as Kernel;
    this.silu = exports.silu as Kernel;
    let offset = 0;
    for (const [name, { n, m }] of Object.entries(mats)) {
      this.at.set(name, { offset, n, m });
      offset += n * pad8(m) * 4;
    }
    this.weightBytes = offset;
    this.maxN = Math.max(...[...this.at.values()].map((w) => w.n));
    this.maxM = Math.max(...[...this.at.values()].map((w) => pad8(w.m)));
    this.layout(1);
    for (const [name, { data, n, m }] of Object.entries(mats)) {
      const { offset: o } = this.at.get(name)!;
      const mp = pad8(m);
      for (let i = 0; i < n; i++) this.f32.set(data.subarray(i * m, (i + 1) * m), (o >> 2) + i * mp);
    }
  }

  /** Room for `rows` rows of input, output and SwiGLU activations after the weights. */
  private layout(rows: number): void {
    this.xAt = this.weightBytes;
    this.yAt = this.xAt + rows * this.maxN * 4;
    this.actAt = this.yAt + rows * this.maxM * 4;
    const bytes = this.actAt + rows * this.dFF * 4;
    const need = Math.ceil(bytes / 65536) - this.memory.buffer.byteLength / 65536;
    if (need > 0) this.memory.grow(need);
    this.f32 = new Float32Array(this.memory.buffer);
    this.rows = rows;
  }

  private weight(name: string): { offset: number; n: number; m: number } {
    const w = this.at.get(name);
    if (!w) throw new Error(`WasmDense: no weight matrix named ${name}`);
    return w;
  }

  private input(x: Float32Array, B: number, n: number): void {
    if (B > this.rows) this.layout(Math.max(B, 2 * this.rows));
    this.f32.set(x.subarray(0, B * n), this.xAt >> 2);
  }

  /** Copy `B` output rows of width `m` (stored `pad8(m)` apart) from `at` into `out`. */
  private output(at: number, B: number, m: number, out: Float32Array): Float32Array {
    const mp = pad8(m);
    const base = at >> 2;
    if (mp === m) out.set(this.f32.subarray(base, base + B * m));
    else for (let r = 0; r < B; r++) out.set(this.f32.subarray(base + r * mp, base + r * mp + m), r * m);
    return out;
  }

  /** `x[B, n] @ W` for the weight matrix `name`, into `out` (a fresh array if absent); returns it. */
  matmul(name: string, x: Float32Array, B: number, out?: Float32Array): Float32Array {
    const { offset, n, m } = this.weight(name);
    this.input(x, B, n);
    this.gemm(this.xAt, offset, this.yAt, B, n, pad8(m) * 4, n * 4);
    return this.output(this.yAt, B, m, out ?? new Float32Array(B * m));
  }

  /**
   * The SwiGLU feed-forward: `out[B, d] = (silu(x Wg) * (x Wu)) Wd` with
   * `gateUp` the concatenated `[Wg | Wu]` (`[d, 2 dFF]`) and `down` `[dFF, d]`,
   * into `out` (a fresh array if absent).
   */
  swiglu(gateUp: string, down: string, x: Float32Array, B: number, out?: Float32Array): Float32Array {
    const gu = this.weight(gateUp);
    const dn = this.weight(down);
    this.input(x, B, gu.n);
    const guB = pad8(gu.m) * 4;
    this.gemm(this.xAt, gu.offset, this.yAt, B, gu.n, guB, gu.n * 4);
    this.silu(this.yAt, this.actAt, B, this.dFF * 4, guB);
    this.gemm(this.actAt, dn.offset, this.yAt, B, dn.n, pad8(dn.m) * 4, dn.n * 4);
    return this.output(this.yAt, B, dn.m, out ?? new Float32Array(B * dn.m));
  }

  /** Log-softmax of `x [B, n] @ W` per row (a fresh array). */
  logprobs(name: string, x: Float32Array, B: number): Float32Array {
    const out = this.matmul(name, x, B);
    logSoftmaxRows(out, B, this.weight(name).m);
    return out;
  }

  /** Nothing to free (the memory goes with the object); here for symmetry with the tfjs layers. */
  dispose(): void {}
}
