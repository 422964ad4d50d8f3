/**
 * Node-only loaders: the shipped diffusion networks under `models/diffusion/`
 * and the 8x8 UCI digits under `models/data/` (no network access needed).
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import type { DiffusionModel } from './model.js';
import { Mlp, type MlpManifest } from './mlp.js';
import { type Classifier, mlpClassifier, mlpDenoiser, scheduleFromSpec, shippedMeta } from './networks.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/** The folder holding the shipped diffusion weights. */
export const SHIPPED_DIFFUSION_DIR = join(ROOT, 'models', 'diffusion');

/** The shipped networks. */
export const SHIPPED_DIFFUSION = ['toy2d', 'digits', 'digits-noisy-classifier', 'digits-classifier'] as const;
/** A shipped network's name. */
export type ShippedDiffusionName = (typeof SHIPPED_DIFFUSION)[number];

/** Read `<dir>/<name>.json` and `<dir>/<name>.bin` as an {@link Mlp} and its manifest. */
export function loadMlp(name: string, dir: string = SHIPPED_DIFFUSION_DIR): { mlp: Mlp; manifest: MlpManifest } {
  const who = `loadMlp(${name})`;
  let manifest: MlpManifest;
  let data: Uint8Array;
  try {
    manifest = JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8')) as MlpManifest;
    data = readFileSync(join(dir, `${name}.bin`));
  } catch (err) {
    throw new Error(`${who}: cannot read ${join(dir, name)}.{json,bin} (${(err as Error).message}); train it with \`npm run train:diffusion\``);
  }
  return { mlp: Mlp.fromBuffer(manifest, data, who), manifest };
}

/** A shipped denoiser (`toy2d` or `digits`) as a {@link DiffusionModel}. */
export function loadDenoiser(name: 'toy2d' | 'digits' | string, dir?: string): DiffusionModel {
  const { mlp, manifest } = loadMlp(name, dir);
  const meta = shippedMeta(manifest, `loadDenoiser(${name})`);
  if (meta.role !== 'denoiser' || !meta.schedule || !meta.prediction) throw new Error(`loadDenoiser(${name}): the weights are a ${meta.role}, not a denoiser`);
  return mlpDenoiser(mlp, { name, schedule: scheduleFromSpec(meta.schedule), prediction: meta.prediction, eventShape: meta.eventShape });
}

/** A shipped classifier (`digits-classifier`, or `digits-noisy-classifier` taking a time). */
export function loadClassifier(name: 'digits-classifier' | 'digits-noisy-classifier' | string, dir?: string): Classifier {
  const { mlp, manifest } = loadMlp(name, dir);
  const meta = shippedMeta(manifest, `loadClassifier(${name})`);
  if (meta.role === 'denoiser') throw new Error(`loadClassifier(${name}): the weights are a denoiser`);
  return mlpClassifier(mlp, { name, eventShape: meta.eventShape, schedule: meta.role === 'noisy-classifier' && meta.schedule ? scheduleFromSpec(meta.schedule) : undefined });
}

/** The 8x8 digits: pixels scaled from 0..16 to [-1, 1], row-major `[n * 64]`, and labels. */
export interface DigitsData {
  readonly n: number;
  readonly images: Float32Array;
  readonly labels: Int32Array;
}

/** Map raw digit pixels (0..16) to the model's scale [-1, 1]. */
export const digitPixelToModel = (v: number): number => v / 8 - 1;

/** The 1797 UCI digits shipped as `models/data/digits.csv.gz` (CC BY 4.0; see models/diffusion/README.md). */
export function loadDigits(path: string = join(ROOT, 'models', 'data', 'digits.csv.gz')): DigitsData {
  const text = gunzipSync(readFileSync(path)).toString('utf8');
  const rows = text.split('\n').filter((l) => l.trim() !== '');
  const n = rows.length;
  const images = new Float32Array(n * 64);
  const labels = new Int32Array(n);
  rows.forEach((line, i) => {
    const v = line.split(',').map(Number);
    if (v.length !== 65 || v.some((x) => !Number.isFinite(x))) throw new Error(`loadDigits: row ${i + 1} of ${path} is not 64 pixels and a label`);
    for (let j = 0; j < 64; j++) images[i * 64 + j] = digitPixelToModel(v[j]!);
    labels[i] = v[64]!;
  });
  return { n, images, labels };
}

/** A seeded train/held-out split of the digits (held-out = `fraction` of them, default 0.2). */
export function splitDigits(data: DigitsData, seed = 0, fraction = 0.2): { train: DigitsData; test: DigitsData } {
  // a fixed permutation from a small LCG, so the split is the same everywhere
  const idx = Array.from({ length: data.n }, (_, i) => i);
  let s = (seed * 2654435761 + 12345) >>> 0;
  for (let i = idx.length - 1; i > 0; i--) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const j = s % (i + 1);
    [idx[i], idx[j]] = [idx[j]!, idx[i]!];
  }
  const nTest = Math.round(data.n * fraction);
  const take = (ids: number[]): DigitsData => {
    const images = new Float32Array(ids.length * 64);
    const labels = new Int32Array(ids.length);
    ids.forEach((id, k) => {
      images.set(data.images.subarray(id * 64, id * 64 + 64), k * 64);
      labels[k] = data.labels[id]!;
    });
    return { n: ids.length, images, labels };
  };
  return { test: take(idx.slice(0, nTest)), train: take(idx.slice(nTest)) };
}
