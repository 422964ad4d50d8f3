/**
 * A minimal WebAssembly assembler: enough to write small numeric kernels
 * (i32 address arithmetic, counted loops, f32 and 128-bit SIMD `f32x4`
 * loads, stores and arithmetic) as a module that imports its memory. Used by
 * `wasm-attention.ts`; no toolchain is needed at build or run time, and the
 * engine validates the bytes when it compiles them.
 *
 * @module
 */

/** Value types. */
export const I32 = 0x7f;
/** 32-bit float type. */
export const F32 = 0x7d;
/** 128-bit vector type. */
export const V128 = 0x7b;

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

/** Little-endian bytes of 32-bit values (WebAssembly's byte order whatever the host's). */
function le32(values: readonly number[], float: boolean): number[] {
  const v = new DataView(new ArrayBuffer(4 * values.length));
  values.forEach((x, k) => (float ? v.setFloat32(4 * k, x, true) : v.setInt32(4 * k, x, true)));
  return [...new Uint8Array(v.buffer)];
}

function name(s: string): number[] {
  const b = [...new TextEncoder().encode(s)];
  return [...uleb(b.length), ...b];
}

function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}

function vec(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

/** A function body under construction: each method appends one instruction (stack machine order). */
export class FnBuilder {
  readonly code: number[] = [];
  /**
   * @param params - parameter types (`I32`, `F32`)
   * @param locals - extra locals as `[count, type]` groups, numbered after the parameters
   */
  constructor(
    readonly params: readonly number[],
    readonly locals: readonly (readonly [number, number])[],
  ) {}
  private op(...b: number[]): this {
    this.code.push(...b);
    return this;
  }
  private simd(opcode: number, ...imm: number[]): this {
    return this.op(0xfd, ...uleb(opcode), ...imm);
  }
  get(i: number): this {
    return this.op(0x20, ...uleb(i));
  }
  set(i: number): this {
    return this.op(0x21, ...uleb(i));
  }
  f32(x: number): this {
    return this.op(0x43, ...le32([x], true));
  }
  i32(n: number): this {
    return this.op(0x41, ...sleb(n));
  }
  add(): this {
    return this.op(0x6a);
  }
  mul(): this {
    return this.op(0x6c);
  }
  and(): this {
    return this.op(0x71);
  }
  /** `i32.load` at the address on the stack. */
  loadI32(): this {
    return this.op(0x28, 2, 0);
  }
  loadF32(): this {
    return this.op(0x2a, 2, 0);
  }
  storeF32(): this {
    return this.op(0x38, 2, 0);
  }
  f32Add(): this {
    return this.op(0x92);
  }
  f32Mul(): this {
    return this.op(0x94);
  }
  f32Div(): this {
    return this.op(0x95);
  }
  f32Max(): this {
    return this.op(0x97);
  }
  /** `v128.load` at the address on the stack plus `offset` bytes. */
  loadV(offset = 0): this {
    return this.simd(0x00, 0, ...uleb(offset));
  }
  /** `v128.store` at the address below the value plus `offset` bytes. */
  storeV(offset = 0): this {
    return this.simd(0x0b, 0, ...uleb(offset));
  }
  zeroV(): this {
    return this.simd(0x0c, ...new Array<number>(16).fill(0));
  }
  /** `v128.const` with four equal f32 lanes. */
  constF32x4(x: number): this {
    return this.simd(0x0c, ...le32([x, x, x, x], true));
  }
  splatF32x4(): this {
    return this.simd(0x13);
  }
  laneF32x4(lane: number): this {
    return this.simd(0x1f, lane);
  }
  addF32x4(): this {
    return this.simd(0xe4);
  }
  subF32x4(): this {
    return this.simd(0xe5);
  }
  mulF32x4(): this {
    return this.simd(0xe6);
  }
  divF32x4(): this {
    return this.simd(0xe7);
  }
  minF32x4(): this {
    return this.simd(0xe8);
  }
  maxF32x4(): this {
    return this.simd(0xe9);
  }
  nearestF32x4(): this {
    return this.simd(0x6a);
  }
  /** `i32x4.trunc_sat_f32x4_s`. */
  truncF32x4(): this {
    return this.simd(0xf8);
  }
  addI32x4(): this {
    return this.simd(0xae);
  }
  /** `i32x4.shl` by the i32 on the stack. */
  shlI32x4(): this {
    return this.simd(0xab);
  }
  /**
   * `exp` of the four lanes of local `x` (a v128), left on the stack; clobbers
   * the v128 locals `n` and `r`. Cephes' `expf`: x = n ln 2 + r with n an
   * integer and |r| <= ln 2 / 2, a degree-7 polynomial for e^r, 2^n from the
   * exponent bits; relative error about 1e-7 over [-87, 88] (clamped there).
   */
  expF32x4(x: number, n: number, r: number): this {
    this.get(x).constF32x4(88.3762626647949).minF32x4().constF32x4(-87.3365447504019).maxF32x4().set(x);
    this.get(x).constF32x4(1.44269504088896341).mulF32x4().nearestF32x4().set(n);
    this.get(x).get(n).constF32x4(0.693359375).mulF32x4().subF32x4().get(n).constF32x4(-2.12194440e-4).mulF32x4().subF32x4().set(r);
    this.constF32x4(1.9875691500e-4);
    for (const c of [1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1]) this.get(r).mulF32x4().constF32x4(c).addF32x4();
    this.get(r).mulF32x4().get(r).mulF32x4().get(r).addF32x4().constF32x4(1).addF32x4();
    // 2^n: (n + 127) << 23 as float bits
    this.get(n).truncF32x4().constI32x4(127).addI32x4().i32(23).shlI32x4();
    return this.mulF32x4();
  }
  /** `v128.const` with four equal i32 lanes. */
  constI32x4(k: number): this {
    return this.simd(0x0c, ...le32([k, k, k, k], false));
  }
  /** `local[i] += step` (i32). */
  inc(i: number, step: number | { local: number }): this {
    this.get(i);
    if (typeof step === 'number') this.i32(step);
    else this.get(step.local);
    return this.add().set(i);
  }
  /**
   * `for (local[i] = from ?? 0; local[i] < local[end]; local[i] += step) body()`
   * (signed compare; `step` a constant or another local; `from` a local).
   */
  loop(i: number, end: number, step: number | { local: number }, body: () => void, from?: number): this {
    if (from === undefined) this.i32(0);
    else this.get(from);
    this.set(i);
    this.op(0x02, 0x40, 0x03, 0x40); // block, loop
    this.get(i).get(end).op(0x4e).op(0x0d, 1); // i >= end: br_if out of the block
    body();
    this.inc(i, step);
    return this.op(0x0c, 0, 0x0b, 0x0b); // br to the loop head; end loop; end block
  }
  /** The encoded body (locals, code, `end`). */
  encode(): number[] {
    const body = [...vec(this.locals.map(([n, t]) => [...uleb(n), t])), ...this.code, 0x0b];
    return [...uleb(body.length), ...body];
  }
}

/**
 * A module that imports its memory as `env.mem` (at least `minPages` pages
 * of 64 KiB) and exports each function under its name; functions return nothing.
 */
export function assemble(minPages: number, fns: readonly { name: string; fn: FnBuilder }[]): Uint8Array {
  const types = fns.map(({ fn }) => [0x60, ...uleb(fn.params.length), ...fn.params, 0]);
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec(types)),
    ...section(2, vec([[...name('env'), ...name('mem'), 0x02, 0x00, ...uleb(minPages)]])),
    ...section(3, vec(fns.map((_, i) => uleb(i)))),
    ...section(7, vec(fns.map(({ name: n }, i) => [...name(n), 0x00, ...uleb(i)]))),
    ...section(10, vec(fns.map(({ fn }) => fn.encode()))),
  ];
  return Uint8Array.from(bytes);
}

/** The part of the WebAssembly API used here (the ES2022 library the project compiles against declares none of it). */
export interface WasmMemory {
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

/** An exported kernel: numbers in, nothing out. */
export type Kernel = (...args: number[]) => void;

/** Compile assembled bytes, or null where WebAssembly (or an instruction the module uses, such as SIMD) is missing. */
export function compileModule(bytes: Uint8Array): object | null {
  try {
    return wasmApi?.validate(bytes) ? new wasmApi.Module(bytes) : null;
  } catch {
    return null;
  }
}

/** An instance of a compiled module with a fresh memory of one page (grow it with `memory.grow`). */
export function instantiate(module: object): { memory: WasmMemory; exports: Record<string, unknown> } {
  const memory = new wasmApi!.Memory({ initial: 1 });
  return { memory, exports: new wasmApi!.Instance(module, { env: { mem: memory } }).exports };
}
