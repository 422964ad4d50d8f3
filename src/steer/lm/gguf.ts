/**
 * GGUF (version 3) files, Node only: a writer that exports a shipped
 * transformer as a llama-architecture model llama.cpp can load, and a reader
 * of the header and metadata (enough to name a file's architecture and
 * vocabulary before handing it to a runtime).
 *
 * Layout (little-endian): magic `GGUF`, version 3, tensor count (u64),
 * metadata count (u64), the metadata key/values, the tensor infos (name,
 * dims innermost first, ggml type, offset into the data section), padding to
 * `general.alignment` (32), then each tensor's data, each aligned.
 *
 * The character vocabulary is written as a byte-level BPE vocabulary
 * (`tokenizer.ggml.model = "gpt2"`, each character in GPT-2's byte-to-unicode
 * spelling, no merges), BOS `<s>` and EOS `</s>` as control tokens, so
 * llama.cpp tokenizes text one character per token exactly as tyche does.
 *
 * @module
 */
import { closeSync, openSync, readSync, writeFileSync } from 'node:fs';
import type { TransformerConfig, TransformerWeights } from './transformer/model.js';
import { weightShapes } from './transformer/model.js';
import type { CharVocabulary } from './transformer/tokenizer.js';

const GGUF_MAGIC = 0x46554747; // "GGUF" little-endian
const ALIGN = 32;

/** GGUF metadata value types. */
export const GGUFType = { UINT8: 0, INT8: 1, UINT16: 2, INT16: 3, UINT32: 4, INT32: 5, FLOAT32: 6, BOOL: 7, STRING: 8, ARRAY: 9, UINT64: 10, INT64: 11, FLOAT64: 12 } as const;

/** A typed metadata value for the writer. */
export type GGUFValue =
  | { type: 'u32'; value: number }
  | { type: 'i32'; value: number }
  | { type: 'f32'; value: number }
  | { type: 'bool'; value: boolean }
  | { type: 'string'; value: string }
  | { type: 'string[]'; value: readonly string[] }
  | { type: 'i32[]'; value: readonly number[] }
  | { type: 'f32[]'; value: readonly number[] };

class Writer {
  private buf = new Uint8Array(1 << 16);
  private view = new DataView(this.buf.buffer);
  length = 0;
  private ensure(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
  u8(x: number): void {
    this.ensure(1);
    this.view.setUint8(this.length, x);
    this.length += 1;
  }
  u32(x: number): void {
    this.ensure(4);
    this.view.setUint32(this.length, x, true);
    this.length += 4;
  }
  i32(x: number): void {
    this.ensure(4);
    this.view.setInt32(this.length, x, true);
    this.length += 4;
  }
  f32(x: number): void {
    this.ensure(4);
    this.view.setFloat32(this.length, x, true);
    this.length += 4;
  }
  u64(x: number): void {
    this.ensure(8);
    this.view.setBigUint64(this.length, BigInt(x), true);
    this.length += 8;
  }
  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }
  str(s: string): void {
    const b = new TextEncoder().encode(s);
    this.u64(b.length);
    this.bytes(b);
  }
  pad(align: number): void {
    while (this.length % align !== 0) this.u8(0);
  }
  result(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
}

function writeValue(w: Writer, v: GGUFValue): void {
  switch (v.type) {
    case 'u32':
      w.u32(GGUFType.UINT32);
      w.u32(v.value);
      break;
    case 'i32':
      w.u32(GGUFType.INT32);
      w.i32(v.value);
      break;
    case 'f32':
      w.u32(GGUFType.FLOAT32);
      w.f32(v.value);
      break;
    case 'bool':
      w.u32(GGUFType.BOOL);
      w.u8(v.value ? 1 : 0);
      break;
    case 'string':
      w.u32(GGUFType.STRING);
      w.str(v.value);
      break;
    case 'string[]':
      w.u32(GGUFType.ARRAY);
      w.u32(GGUFType.STRING);
      w.u64(v.value.length);
      for (const s of v.value) w.str(s);
      break;
    case 'i32[]':
      w.u32(GGUFType.ARRAY);
      w.u32(GGUFType.INT32);
      w.u64(v.value.length);
      for (const x of v.value) w.i32(x);
      break;
    case 'f32[]':
      w.u32(GGUFType.ARRAY);
      w.u32(GGUFType.FLOAT32);
      w.u64(v.value.length);
      for (const x of v.value) w.f32(x);
      break;
  }
}

/** A tensor for the writer: dims innermost first (ggml order), float32 data in that layout. */
export interface GGUFTensor {
  readonly name: string;
  readonly dims: readonly number[];
  readonly data: Float32Array;
}

/** Serialise metadata and float32 tensors as a GGUF v3 file image. */
export function encodeGGUF(metadata: ReadonlyMap<string, GGUFValue>, tensors: readonly GGUFTensor[]): Uint8Array {
  const w = new Writer();
  w.u32(GGUF_MAGIC);
  w.u32(3);
  w.u64(tensors.length);
  w.u64(metadata.size);
  for (const [k, v] of metadata) {
    w.str(k);
    writeValue(w, v);
  }
  let offset = 0;
  for (const t of tensors) {
    const n = t.dims.reduce((a, b) => a * b, 1);
    if (n !== t.data.length) throw new Error(`GGUF writer: tensor ${t.name} has ${t.data.length} values, dims [${t.dims}] need ${n}`);
    w.str(t.name);
    w.u32(t.dims.length);
    for (const d of t.dims) w.u64(d);
    w.u32(0); // GGML_TYPE_F32
    w.u64(offset);
    offset += Math.ceil((n * 4) / ALIGN) * ALIGN;
  }
  w.pad(ALIGN);
  for (const t of tensors) {
    w.bytes(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    w.pad(ALIGN);
  }
  return w.result();
}

/** GPT-2's byte-to-unicode table: printable bytes stand for themselves, the others move to U+0100.. */
export function byteToUnicode(): string[] {
  const keep: number[] = [];
  for (let b = 33; b <= 126; b++) keep.push(b);
  for (let b = 161; b <= 172; b++) keep.push(b);
  for (let b = 174; b <= 255; b++) keep.push(b);
  const out: string[] = new Array(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) out[b] = keep.includes(b) ? String.fromCodePoint(b) : String.fromCodePoint(256 + extra++);
  return out;
}

/** What {@link exportTransformerGGUF} needs of a model. */
export interface ExportableTransformer {
  readonly name: string;
  readonly config: TransformerConfig;
  readonly weights: TransformerWeights;
  readonly vocab: CharVocabulary;
}

/** The GGUF image of a tyche transformer as architecture `llama` (float32 weights, matrices transposed to ggml's layout). */
export function transformerToGGUF(model: ExportableTransformer): Uint8Array {
  const c = model.config;
  if (c.head !== 'lm') throw new Error(`GGUF export of ${model.name}: only language-model heads export (this one is "${c.head}")`);
  const b2u = byteToUnicode();
  const enc = new TextEncoder();
  const tokens: string[] = [];
  const types: number[] = [];
  for (let id = 0; id < model.vocab.size; id++) {
    if (id === model.vocab.bos) {
      tokens.push('<s>');
      types.push(3);
    } else if (id === model.vocab.eos) {
      tokens.push('</s>');
      types.push(3);
    } else {
      tokens.push([...enc.encode(model.vocab.tokenText(id))].map((b) => b2u[b]).join(''));
      types.push(1);
    }
  }
  const md = new Map<string, GGUFValue>([
    ['general.architecture', { type: 'string', value: 'llama' }],
    ['general.name', { type: 'string', value: model.name }],
    ['general.alignment', { type: 'u32', value: ALIGN }],
    ['general.file_type', { type: 'u32', value: 0 }],
    ['llama.context_length', { type: 'u32', value: c.contextLength }],
    ['llama.embedding_length', { type: 'u32', value: c.dModel }],
    ['llama.block_count', { type: 'u32', value: c.nLayers }],
    ['llama.feed_forward_length', { type: 'u32', value: c.dFF }],
    ['llama.attention.head_count', { type: 'u32', value: c.nHeads }],
    ['llama.attention.head_count_kv', { type: 'u32', value: c.nHeads }],
    ['llama.attention.layer_norm_rms_epsilon', { type: 'f32', value: c.normEps }],
    ['llama.rope.freq_base', { type: 'f32', value: c.ropeTheta }],
    ['llama.rope.dimension_count', { type: 'u32', value: c.dModel / c.nHeads }],
    ['llama.vocab_size', { type: 'u32', value: c.vocabSize }],
    ['tokenizer.ggml.model', { type: 'string', value: 'gpt2' }],
    ['tokenizer.ggml.pre', { type: 'string', value: 'default' }],
    ['tokenizer.ggml.tokens', { type: 'string[]', value: tokens }],
    ['tokenizer.ggml.token_type', { type: 'i32[]', value: types }],
    ['tokenizer.ggml.merges', { type: 'string[]', value: [] }],
    ['tokenizer.ggml.bos_token_id', { type: 'u32', value: model.vocab.bos }],
    ['tokenizer.ggml.eos_token_id', { type: 'u32', value: model.vocab.eos }],
    ['tokenizer.ggml.add_bos_token', { type: 'bool', value: true }],
    ['tokenizer.ggml.add_eos_token', { type: 'bool', value: false }],
  ]);
  const tensors: GGUFTensor[] = weightShapes(c).map(([name, shape]) => {
    const data = model.weights[name]!.dataSync() as Float32Array;
    if (shape.length === 1) return { name, dims: shape, data: Float32Array.from(data) };
    const [rows, cols] = shape as [number, number];
    if (name === 'token_embd.weight') return { name, dims: [cols, rows], data: Float32Array.from(data) }; // [V, d] rows already
    // tyche stores [in, out]; ggml wants rows of length `in` (ne0 = in, ne1 = out)
    const t = new Float32Array(rows * cols);
    for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) t[j * rows + i] = data[i * cols + j]!;
    return { name, dims: [rows, cols], data: t };
  });
  return encodeGGUF(md, tensors);
}

/** Write a tyche transformer to `path` as a GGUF file llama.cpp loads (architecture `llama`). */
export function exportTransformerGGUF(model: ExportableTransformer, path: string): void {
  writeFileSync(path, transformerToGGUF(model));
}

/** A GGUF file's version, tensor count and metadata (arrays longer than `maxArray` are cut to their length). */
export interface GGUFInfo {
  readonly version: number;
  readonly tensorCount: number;
  readonly metadata: Record<string, unknown>;
}

/** Read a GGUF file's header and metadata (not its tensors). Errors name the file and what is wrong. */
export function readGGUFInfo(path: string, maxArray = 64): GGUFInfo {
  const fd = openSync(path, 'r');
  try {
    let pos = 0;
    let chunk = Buffer.alloc(0);
    let chunkStart = 0;
    const need = (n: number): Buffer => {
      if (pos + n > chunkStart + chunk.length) {
        const size = Math.max(n, 1 << 20);
        chunk = Buffer.alloc(size);
        chunkStart = pos;
        const got = readSync(fd, chunk, 0, size, pos);
        chunk = chunk.subarray(0, got);
        if (got < n) throw new Error(`GGUF file ${path}: truncated at byte ${pos}`);
      }
      const b = chunk.subarray(pos - chunkStart, pos - chunkStart + n);
      pos += n;
      return b;
    };
    const u32 = (): number => need(4).readUInt32LE(0);
    const u64 = (): number => Number(need(8).readBigUInt64LE(0));
    const str = (): string => need(u64()).toString('utf8');
    const magic = u32();
    if (magic !== GGUF_MAGIC) throw new Error(`GGUF file ${path}: bad magic 0x${magic.toString(16)} (not a GGUF file)`);
    const version = u32();
    if (version < 2 || version > 3) throw new Error(`GGUF file ${path}: unsupported GGUF version ${version}`);
    const tensorCount = u64();
    const kvCount = u64();
    const scalar = (type: number): unknown => {
      switch (type) {
        case GGUFType.UINT8: return need(1).readUInt8(0);
        case GGUFType.INT8: return need(1).readInt8(0);
        case GGUFType.UINT16: return need(2).readUInt16LE(0);
        case GGUFType.INT16: return need(2).readInt16LE(0);
        case GGUFType.UINT32: return u32();
        case GGUFType.INT32: return need(4).readInt32LE(0);
        case GGUFType.FLOAT32: return need(4).readFloatLE(0);
        case GGUFType.BOOL: return need(1).readUInt8(0) !== 0;
        case GGUFType.STRING: return str();
        case GGUFType.UINT64: return u64();
        case GGUFType.INT64: return Number(need(8).readBigInt64LE(0));
        case GGUFType.FLOAT64: return need(8).readDoubleLE(0);
        default: throw new Error(`GGUF file ${path}: unknown value type ${type} at byte ${pos}`);
      }
    };
    const metadata: Record<string, unknown> = {};
    for (let i = 0; i < kvCount; i++) {
      const key = str();
      const type = u32();
      if (type === GGUFType.ARRAY) {
        const et = u32();
        const n = u64();
        const vals: unknown[] = [];
        for (let j = 0; j < n; j++) {
          const v = scalar(et);
          if (j < maxArray) vals.push(v);
        }
        metadata[key] = n > maxArray ? { length: n, head: vals } : vals;
      } else metadata[key] = scalar(type);
    }
    return { version, tensorCount, metadata };
  } finally {
    closeSync(fd);
  }
}
