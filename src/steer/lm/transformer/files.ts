/**
 * Node-only file I/O for the shipped transformers: load a model from
 * `models/lm/NAME.json` + `NAME.bin` (no network), save one, and write/read
 * training checkpoints atomically so a stopped run resumes.
 *
 * @module
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { type TransformerConfig, type TransformerWeights, weightShapes } from './model.js';
import { TransformerLM, type TransformerLMOptions } from './lm.js';
import { ProcessRewardModel } from './prm.js';
import { CharVocabulary } from './tokenizer.js';
import { type ModelHeader, decodeWeights, encodeWeights, parseHeader } from './weights.js';

/** The folder of the shipped language models (`models/lm/` in the repository). */
export const SHIPPED_LM_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../../../models/lm');

/** The shipped models by name. */
export const SHIPPED_MODELS = ['kjv-char', 'arith-char', 'arith-prm'] as const;

function stem(path: string): string {
  return path.replace(/\.(json|bin)$/, '');
}

/** Resolve a shipped model name (e.g. `kjv-char`) or a path to its file stem. */
export function modelPath(nameOrPath: string): string {
  if ((SHIPPED_MODELS as readonly string[]).includes(nameOrPath)) return join(SHIPPED_LM_DIR, nameOrPath);
  return stem(nameOrPath);
}

/** The file stem of a model, after checking both its files exist (the error names the shipped models). */
function existingStem(nameOrPath: string): string {
  const base = modelPath(nameOrPath);
  for (const ext of ['.json', '.bin']) {
    if (!existsSync(base + ext)) throw new Error(`transformer model ${nameOrPath}: file ${base + ext} does not exist (shipped models: ${SHIPPED_MODELS.join(', ')})`);
  }
  return base;
}

/** Read a saved or shipped model's header alone (its config, alphabet and tensor table). */
export function readModelHeader(nameOrPath: string): ModelHeader {
  const base = existingStem(nameOrPath);
  return parseHeader(JSON.parse(readFileSync(base + '.json', 'utf8')), base + '.json');
}

/** Read a saved model's header and tensors (the caller owns the tensors). */
export function readModelFiles(nameOrPath: string): { header: ModelHeader; weights: TransformerWeights; vocab: CharVocabulary } {
  const base = existingStem(nameOrPath);
  const header = readModelHeader(nameOrPath);
  const weights = decodeWeights(header, new Uint8Array(readFileSync(base + '.bin')), base + '.bin');
  return { header, weights, vocab: new CharVocabulary(header.alphabet, nameOrPath) };
}

/** Load a shipped model (`kjv-char`, `arith-char`) or a saved one by path, as a language model. */
export function loadTransformerLM(nameOrPath: string, options: TransformerLMOptions = {}): TransformerLM {
  const name = options.name ?? nameOrPath.split('/').pop()!.replace(/\.(json|bin)$/, '');
  const { header, weights } = readModelFiles(nameOrPath);
  return new TransformerLM(header.config, weights, new CharVocabulary(header.alphabet, name), { ...options, name });
}

function writeAtomic(path: string, data: string | Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path + '.tmp', data);
  renameSync(path + '.tmp', path);
}

/** Save a model as `base.json` + `base.bin`. */
export function saveModelFiles(base: string, config: TransformerConfig, alphabet: string, weights: TransformerWeights, metadata: Record<string, unknown> = {}): void {
  const { header, data } = encodeWeights(config, alphabet, weights, metadata);
  writeAtomic(stem(base) + '.bin', data);
  writeAtomic(stem(base) + '.json', JSON.stringify(header, null, 1) + '\n');
}

/** A training checkpoint: weights, Adam moments, step and free-form state. */
export interface Checkpoint {
  readonly step: number;
  readonly weights: TransformerWeights;
  readonly m: TransformerWeights;
  readonly v: TransformerWeights;
  readonly state: Record<string, unknown>;
}

/** Write a checkpoint into `dir` (bin first, then json, each atomically). */
export function saveCheckpoint(dir: string, config: TransformerConfig, ck: Checkpoint): void {
  const shapes = weightShapes(config);
  const parts: Float32Array[] = [];
  for (const group of [ck.weights, ck.m, ck.v]) for (const [name] of shapes) parts.push(group[name]!.dataSync() as Float32Array);
  const n = parts.reduce((a, p) => a + p.length, 0);
  const all = new Float32Array(n);
  let o = 0;
  for (const p of parts) {
    all.set(p, o);
    o += p.length;
  }
  writeAtomic(join(dir, 'checkpoint.bin'), new Uint8Array(all.buffer));
  writeAtomic(join(dir, 'checkpoint.json'), JSON.stringify({ step: ck.step, config, floats: n, state: ck.state }));
}

/** Read the checkpoint in `dir`, or null when there is none (or it belongs to another config). */
export function loadCheckpoint(dir: string, config: TransformerConfig): Checkpoint | null {
  const jp = join(dir, 'checkpoint.json');
  const bp = join(dir, 'checkpoint.bin');
  if (!existsSync(jp) || !existsSync(bp)) return null;
  const meta = JSON.parse(readFileSync(jp, 'utf8')) as { step: number; config: TransformerConfig; floats: number; state: Record<string, unknown> };
  if (JSON.stringify(meta.config) !== JSON.stringify(config)) return null;
  const buf = readFileSync(bp);
  if (buf.byteLength !== meta.floats * 4) return null;
  const all = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  const shapes = weightShapes(config);
  let o = 0;
  const groups: TransformerWeights[] = [{}, {}, {}];
  for (const g of groups) {
    for (const [name, shape] of shapes) {
      const size = shape.reduce((a, b) => a * b, 1);
      g[name] = tf.tensor(all.slice(o, o + size), shape);
      o += size;
    }
  }
  return { step: meta.step, weights: groups[0]!, m: groups[1]!, v: groups[2]!, state: meta.state };
}

/** Load the shipped process reward model (`arith-prm`) or a saved one by path. */
export function loadProcessRewardModel(nameOrPath = 'arith-prm'): ProcessRewardModel {
  const { header, weights, vocab } = readModelFiles(nameOrPath);
  return new ProcessRewardModel(header.config, weights, vocab, nameOrPath.split('/').pop()!.replace(/\.(json|bin)$/, ''));
}
