/**
 * The playground's steering tab, free of the DOM: load the shipped models
 * from the page's own server (fetch, no file system) and steer them with
 * tyche/steer, reporting the particles after each step.
 *
 * - the KJV character transformer (models/lm/kjv-char) under a regular
 *   expression constraint: SMC steering with the locally optimal proposal;
 * - the digit diffusion model (models/diffusion/digits) toward a class: FK
 *   steering with the shipped classifier's log-probability as the reward.
 */
import * as tf from '@tensorflow/tfjs-core';
// the modules themselves, not tyche/steer's index: the index also holds the OpenAI client, whose
// AbortSignal.any is missing from TypeScript 5.9's DOM types (this folder is type-checked with them)
import type { DiffusionModel } from '../src/steer/diffusion/model.js';
import { Mlp, type MlpManifest } from '../src/steer/diffusion/mlp.js';
import { type Classifier, mlpClassifier, mlpDenoiser, scheduleFromSpec, shippedMeta } from '../src/steer/diffusion/networks.js';
import { fkSteering } from '../src/steer/diffusion/steering/fk-steering.js';
import { classifierReward } from '../src/steer/diffusion/steering/rewards.js';
import { wrapLanguageModel } from '../src/steer/lm/cached.js';
import { AutomatonPotential } from '../src/steer/lm/potentials/automaton.js';
import { LocallyOptimalSampler } from '../src/steer/lm/samplers/locally-optimal.js';
import { readParticles, smcSteer } from '../src/steer/lm/smc/steer.js';
import { TransformerLM } from '../src/steer/lm/transformer/lm.js';
import { CharVocabulary } from '../src/steer/lm/transformer/tokenizer.js';
import { decodeWeights, parseHeader } from '../src/steer/lm/transformer/weights.js';

async function fetchOk(url: string): Promise<Response> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`cannot load ${url}: HTTP ${res.status}`);
  return res;
}

/** A shipped network's manifest and weights, fetched from `base` (e.g. `./models/diffusion/`). */
async function fetchMlp(base: string, name: string): Promise<{ mlp: Mlp; manifest: MlpManifest }> {
  const manifest = (await (await fetchOk(`${base}${name}.json`)).json()) as MlpManifest;
  const data = new Uint8Array(await (await fetchOk(`${base}${name}.bin`)).arrayBuffer());
  return { mlp: Mlp.fromBuffer(manifest, data, `fetchMlp(${name})`), manifest };
}

let digits: Promise<{ model: DiffusionModel; classifier: Classifier }> | undefined;

/** The digit denoiser and its (clean-image) classifier, fetched once. */
export function digitModels(base = './models/diffusion/'): Promise<{ model: DiffusionModel; classifier: Classifier }> {
  digits ??= (async () => {
    const den = await fetchMlp(base, 'digits');
    const meta = shippedMeta(den.manifest, 'digits');
    if (!meta.schedule || !meta.prediction) throw new Error('digits: the manifest has no schedule or prediction type');
    const model = mlpDenoiser(den.mlp, { name: 'digits', schedule: scheduleFromSpec(meta.schedule), prediction: meta.prediction, eventShape: meta.eventShape });
    const cls = await fetchMlp(base, 'digits-classifier');
    const classifier = mlpClassifier(cls.mlp, { name: 'digits-classifier', eventShape: shippedMeta(cls.manifest, 'digits-classifier').eventShape });
    return { model, classifier };
  })();
  return digits;
}

/** One frame of a diffusion steering run: the particles' pixels `[k * 64]` in [-1, 1] and their weights. */
export interface DigitFrame {
  readonly step: number;
  readonly steps: number;
  readonly pixels: Float32Array;
  readonly weights: Float64Array;
  readonly ess: number;
}

/** Steer the digit model toward `label` with FK steering; `onFrame` sees the particles every `every` steps. Returns the final frame and how many particles the classifier assigns to `label`. */
export async function steerDigits(options: { label: number; particles: number; steps: number; lambda: number; seed: number; every?: number; signal?: AbortSignal; onFrame?: (f: DigitFrame) => void | Promise<void> }): Promise<DigitFrame & { hits: number }> {
  const { model, classifier } = await digitModels();
  if (!Number.isInteger(options.label) || options.label < 0 || options.label > 9) throw new Error(`label must be a digit 0..9, got ${options.label}`);
  const every = options.every ?? 5;
  const res = await fkSteering(model, {
    reward: classifierReward(classifier, options.label),
    lambda: options.lambda,
    particles: options.particles,
    steps: options.steps,
    seed: options.seed,
    ...(options.signal ? { signal: options.signal } : {}),
    onStep: async (info) => {
      if (options.onFrame && (info.step % every === 0 || info.step === options.steps - 1)) {
        await options.onFrame({ step: info.step + 1, steps: options.steps, pixels: Float32Array.from(await info.x.data()), weights: new Float64Array(0), ess: info.ess });
      }
    },
  });
  try {
    const pixels = Float32Array.from(await res.x.data());
    const predicted = tf.tidy(() => classifier.logProbs(res.x).argMax(-1).dataSync());
    let hits = 0;
    for (const p of predicted) if (p === options.label) hits++;
    return { step: options.steps, steps: options.steps, pixels, weights: Float64Array.from(res.weights), ess: res.essHistory.at(-1) ?? NaN, hits };
  } finally {
    res.x.dispose();
  }
}

let kjv: Promise<TransformerLM> | undefined;

/** The shipped KJV character transformer, fetched once. */
export function kjvModel(base = './models/lm/'): Promise<TransformerLM> {
  kjv ??= (async () => {
    const header = parseHeader(await (await fetchOk(`${base}kjv-char.json`)).json(), 'kjv-char.json');
    const weights = decodeWeights(header, new Uint8Array(await (await fetchOk(`${base}kjv-char.bin`)).arrayBuffer()), 'kjv-char.bin');
    return new TransformerLM(header.config, weights, new CharVocabulary(header.alphabet, 'kjv-char'), { name: 'kjv-char' });
  })();
  return kjv;
}

/** The particles' texts and weights after a step. */
export interface TextFrame {
  readonly step: number;
  readonly texts: readonly { readonly text: string; readonly weight: number; readonly alive: boolean }[];
}

/** Steer the KJV model so that every sampled string matches `pattern` (a regular expression over characters). */
export async function steerText(options: { pattern: string; particles: number; maxTokens: number; seed: number; signal?: AbortSignal; onFrame?: (f: TextFrame) => void }): Promise<TextFrame & { logZ: number }> {
  const lm = await kjvModel();
  const potential = new AutomatonPotential(lm.vocab, options.pattern);
  const res = await smcSteer({
    lm: wrapLanguageModel(lm, { maxBatchSize: Math.max(64, options.particles) }),
    potential,
    sampler: new LocallyOptimalSampler(),
    particles: options.particles,
    maxTokens: options.maxTokens,
    seed: options.seed,
    ...(options.signal ? { signal: options.signal } : {}),
    onStep: (info) => options.onFrame?.({ step: info.t + 1, texts: readParticles(info.state, info.logWeights, lm.vocab).map((p) => ({ text: p.text, weight: p.weight, alive: p.alive })) }),
  });
  return { step: options.maxTokens, texts: res.particles.map((p) => ({ text: p.text, weight: p.weight, alive: p.alive })), logZ: res.logZ };
}
