/**
 * The shipped-model format: a JSON header (config, alphabet, tensor table,
 * free-form metadata) beside one little-endian float32 binary. Browser-safe:
 * this module turns bytes into tensors and back; `files.ts` (Node only)
 * reads and writes the files.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { type TransformerConfig, type TransformerWeights, checkConfig, weightShapes } from './model.js';

/** The JSON half of a saved model. */
export interface ModelHeader {
  readonly format: 'tyche-transformer';
  readonly version: 1;
  readonly config: TransformerConfig;
  /** The characters of the model's {@link CharVocabulary} (token i+2 = alphabet[i]). */
  readonly alphabet: string;
  /** Where each tensor lies in the binary (byte offset, float32). */
  readonly tensors: readonly { readonly name: string; readonly shape: readonly number[]; readonly offset: number }[];
  /** Training facts (seed, steps, held-out loss, ...). */
  readonly metadata: Readonly<Record<string, unknown>>;
}

/** Serialise weights: the header and the float32 bytes. */
export function encodeWeights(
  config: TransformerConfig,
  alphabet: string,
  weights: TransformerWeights,
  metadata: Record<string, unknown> = {},
): { header: ModelHeader; data: Uint8Array } {
  checkConfig(config);
  const shapes = weightShapes(config);
  const total = shapes.reduce((n, [, s]) => n + s.reduce((a, b) => a * b, 1), 0);
  const data = new Float32Array(total);
  const tensors: { name: string; shape: number[]; offset: number }[] = [];
  let o = 0;
  for (const [name, shape] of shapes) {
    const t = weights[name];
    if (!t) throw new Error(`encodeWeights: weight ${name} is missing`);
    if (t.shape.join(',') !== shape.join(',')) throw new Error(`encodeWeights: weight ${name} has shape [${t.shape}], expected [${shape}]`);
    data.set(t.dataSync() as Float32Array, o);
    tensors.push({ name, shape, offset: o * 4 });
    o += t.size;
  }
  return {
    header: { format: 'tyche-transformer', version: 1, config, alphabet, tensors, metadata },
    data: new Uint8Array(data.buffer),
  };
}

/** Parse and check a header (an error names the source and what is wrong). */
export function parseHeader(json: unknown, source: string): ModelHeader {
  const h = json as Partial<ModelHeader>;
  if (!h || h.format !== 'tyche-transformer') throw new Error(`${source}: not a tyche transformer header (format field is ${JSON.stringify(h?.format)})`);
  if (h.version !== 1) throw new Error(`${source}: unsupported version ${String(h.version)}`);
  if (!h.config || typeof h.alphabet !== 'string' || !Array.isArray(h.tensors)) throw new Error(`${source}: header lacks config, alphabet or tensors`);
  checkConfig(h.config, `${source} config`);
  return h as ModelHeader;
}

/** Tensors from a header and its binary (the caller owns them). */
export function decodeWeights(header: ModelHeader, bytes: Uint8Array, source: string): TransformerWeights {
  const expected = weightShapes(header.config);
  const byName = new Map(header.tensors.map((t) => [t.name, t]));
  const out: TransformerWeights = {};
  for (const [name, shape] of expected) {
    const t = byName.get(name);
    if (!t) throw new Error(`${source}: tensor ${name} is missing`);
    if (t.shape.join(',') !== shape.join(',')) throw new Error(`${source}: tensor ${name} has shape [${t.shape}], config wants [${shape}]`);
    const n = shape.reduce((a, b) => a * b, 1);
    if (t.offset + 4 * n > bytes.byteLength) throw new Error(`${source}: binary too short for tensor ${name} (${bytes.byteLength} bytes)`);
    const copy = new Float32Array(n);
    new Uint8Array(copy.buffer).set(bytes.subarray(t.offset, t.offset + 4 * n));
    out[name] = tf.tensor(copy, shape);
  }
  return out;
}
