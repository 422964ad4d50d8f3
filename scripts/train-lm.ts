/**
 * Train (or resume training) a shipped transformer:
 *   npx tsx scripts/train-lm.ts kjv-char|arith-char|arith-prm|arith-prm-synthetic [--minutes 20] [--fresh] [--export-now]
 * Checkpoints go to .checkpoints/NAME (resumed automatically); the finished
 * model is written to models/lm/NAME.json + .bin. Seeded: a rerun reproduces
 * the shipped weights on the same backend.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../src/core/rng.js';
import { ARITH_ALPHABET, type ArithProblem, arithmeticProblems, checkSolution, corruptedSolution, randomProblem } from '../src/steer/lm/arithmetic.js';
import { initBackend } from '../src/backend/select.js';
import { generate } from '../src/steer/lm/generate.js';
import { type TransformerConfig, type TransformerWeights, makeRope } from '../src/steer/lm/transformer/model.js';
import { TransformerLM } from '../src/steer/lm/transformer/lm.js';
import { CharVocabulary } from '../src/steer/lm/transformer/tokenizer.js';
import { labelBatch, lmBatch, lmLoss, scalarProbs } from '../src/steer/lm/transformer/train.js';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadTransformerLM, readModelFiles } from '../src/steer/lm/transformer/files.js';
import { type LabelledItem, auc, loadItems, ownSamples, saveItems } from './lm/prm-data.js';
import { kjvSplit } from './lm/kjv-corpus.js';
import { type TrainTask, train } from './lm/train-loop.js';

const LN2 = Math.log(2);

/** Held-out bits per token of an LM head over token sequences (each with BOS and EOS). */
export async function bitsPerToken(c: TransformerConfig, w: TransformerWeights, seqs: number[][], batch = 32): Promise<number> {
  const rope = makeRope(c);
  const sorted = [...seqs].sort((a, b) => a.length - b.length);
  let nats = 0;
  let count = 0;
  for (let i = 0; i < sorted.length; i += batch) {
    const b = lmBatch(sorted.slice(i, i + batch));
    const n = b.weights.reduce((a, x) => a + x, 0);
    nats += tf.tidy(() => lmLoss(c, w, rope, b).dataSync()[0]!) * n;
    count += n;
  }
  rope.dispose();
  return nats / count / LN2;
}

/** A view of training weights as a language model (not owning them). */
function viewLM(c: TransformerConfig, w: TransformerWeights, alphabet: string, name: string): TransformerLM {
  return new TransformerLM(c, w, new CharVocabulary(alphabet, name), { name });
}

export function kjvTask(): TrainTask {
  const { train: trainV, heldOut } = kjvSplit();
  const alphabet = [...new Set(trainV.join('') + heldOut.join(''))].sort().join('');
  const vocab = new CharVocabulary(alphabet, 'kjv-char');
  const config: TransformerConfig = { vocabSize: vocab.size, dModel: 64, nLayers: 3, nHeads: 2, dFF: 192, contextLength: 128, ropeTheta: 10000, normEps: 1e-5, head: 'lm' };
  const maxChars = config.contextLength - 2;
  const seqs = trainV.filter((v) => v.length <= maxChars).map((v) => [vocab.bos, ...vocab.encode(v), vocab.eos]);
  seqs.sort((a, b) => a.length - b.length);
  const held = heldOut.filter((v) => v.length <= maxChars).map((v) => [vocab.bos, ...vocab.encode(v), vocab.eos]);
  const seed = 12;
  const tokensPerBatch = 1024;
  return {
    name: 'kjv-char',
    config,
    alphabet,
    seed,
    steps: Number(process.env.KJV_STEPS ?? 450),
    lr: 5e-3,
    warmup: 30,
    batch(step) {
      const rng = new Rng(`kjv/${seed}/${step}`);
      const start = rng.int(seqs.length);
      const len = seqs[start]!.length;
      const B = Math.max(4, Math.min(64, Math.floor(tokensPerBatch / len)));
      const s0 = Math.min(start, seqs.length - B);
      return lmBatch(seqs.slice(s0, s0 + B));
    },
    async evaluate(w) {
      return { heldOutBitsPerChar: Number((await bitsPerToken(config, w, held)).toFixed(4)), heldOutVerses: held.length };
    },
    metadata: {
      corpus: "King James Bible (1611), Debian package bible-kjv-text 4.38, one verse per sequence (BOS verse EOS); verses over 126 characters skipped (about half); every 50th verse held out",
      licence: 'public domain text',
    },
  };
}

/** Accuracy of an arithmetic LM on problems: greedy and sampled (temperature 1). */
export async function arithAccuracy(lm: TransformerLM, problems: ReturnType<typeof arithmeticProblems>, seed = 1): Promise<{ greedy: number; sampled: number }> {
  const prompts = problems.map((p) => lm.vocab.encode(p.prompt));
  const out: Record<string, number> = {};
  for (const [k, temperature] of [['greedy', 0], ['sampled', 1]] as const) {
    const gens = await generate(lm, prompts, { maxTokens: lm.contextLength - 40, temperature, rng: seed });
    out[k] = gens.filter((g, i) => checkSolution(problems[i]!.expression, g.text).answerCorrect).length / problems.length;
  }
  return { greedy: out.greedy!, sampled: out.sampled! };
}

const ARITH_CONFIG: TransformerConfig = { vocabSize: ARITH_ALPHABET.length + 2, dModel: 64, nLayers: 3, nHeads: 2, dFF: 192, contextLength: 96, ropeTheta: 10000, normEps: 1e-5, head: 'lm' };

function arithTask(): TrainTask {
  const vocab = new CharVocabulary(ARITH_ALPHABET, 'arith-char');
  const seed = 7;
  const held = arithmeticProblems(Number(process.env.ARITH_EVAL ?? 300), 'arith-heldout');
  return {
    name: 'arith-char',
    config: ARITH_CONFIG,
    alphabet: ARITH_ALPHABET,
    seed,
    steps: Number(process.env.ARITH_STEPS ?? 900),
    lr: 5e-3,
    warmup: 30,
    batch(step) {
      const rng = new Rng(`arith/${seed}/${step}`);
      // Curriculum: operands up to 50 for the first 450 steps, then up to 9 (the shipped task).
      const maxOperand = step < 450 ? 50 : 9;
      const items = Array.from({ length: 24 }, () => {
        const p = randomProblem(rng, 2, 3, maxOperand);
        const promptIds = [vocab.bos, ...vocab.encode(p.prompt)];
        return { seq: [...promptIds, ...vocab.encode(p.solution), vocab.eos], from: promptIds.length - 1 };
      });
      const b = lmBatch(items.map((x) => x.seq));
      // Loss on the solution only: the problems themselves are random.
      items.forEach((x, i) => {
        for (let t = 0; t < x.from; t++) b.weights[i * b.T + t] = 0;
      });
      return b;
    },
    async evaluate(w) {
      const lm = viewLM(ARITH_CONFIG, w, ARITH_ALPHABET, 'arith-char');
      const acc = await arithAccuracy(lm, held);
      return { heldOutProblems: held.length, greedyAccuracy: acc.greedy, sampledAccuracy: acc.sampled };
    },
    metadata: { corpus: 'procedurally generated arithmetic problems (src/steer/lm/arithmetic.ts, seeded)', licence: 'generated' },
  };
}

/** PRM training items: a problem with a correct or corrupted solution, labelled after each step and at EOS. */
export function prmItem(vocab: CharVocabulary, rng: Rng): { tokens: number[]; labels: Map<number, number> } {
  const p = randomProblem(rng);
  const sol = rng.uniform() < 0.35 ? p.solution : corruptedSolution(p, rng).solution;
  const text = p.prompt + sol;
  const tokens = [vocab.bos, ...vocab.encode(text), vocab.eos];
  const check = checkSolution(p.expression, sol);
  const labels = new Map<number, number>();
  let k = 0;
  const offset = 1 + p.prompt.length;
  for (let i = 0; i < sol.length; i++) if (sol[i] === ';') labels.set(offset + i, check.correct[k++] ? 1 : 0);
  labels.set(tokens.length - 1, check.answerCorrect ? 1 : 0);
  return { tokens, labels };
}

export const PRM_CONFIG: TransformerConfig = { vocabSize: ARITH_ALPHABET.length + 2, dModel: 48, nLayers: 2, nHeads: 2, dFF: 128, contextLength: 96, ropeTheta: 10000, normEps: 1e-5, head: 'scalar' };

function prmTask(config: TransformerConfig = PRM_CONFIG): TrainTask {
  const vocab = new CharVocabulary(ARITH_ALPHABET, 'arith-prm');
  const seed = 5;
  const heldRng = new Rng('prm-heldout');
  const held = Array.from({ length: 400 }, () => prmItem(vocab, heldRng));
  return {
    name: 'arith-prm',
    config: config,
    alphabet: ARITH_ALPHABET,
    seed,
    steps: Number(process.env.PRM_STEPS ?? 400),
    lr: 3e-3,
    warmup: 40,
    batch(step) {
      const rng = new Rng(`prm/${seed}/${step}`);
      return labelBatch(Array.from({ length: 24 }, () => prmItem(vocab, rng)));
    },
    async evaluate(w) {
      const rope = makeRope(config);
      let right = 0;
      let n = 0;
      for (let i = 0; i < held.length; i += 50) {
        const b = labelBatch(held.slice(i, i + 50));
        const p = tf.tidy(() => scalarProbs(config, w, rope, b).dataSync());
        for (let j = 0; j < b.weights.length; j++) {
          if (b.weights[j] === 0) continue;
          n += 1;
          if ((p[j]! > 0.5 ? 1 : 0) === b.targets[j]) right += 1;
        }
      }
      rope.dispose();
      return { heldOutStepLabels: n, stepAccuracy: Number((right / n).toFixed(4)) };
    },
    metadata: {
      corpus: 'procedurally generated arithmetic solutions, 35% correct and 65% with one planted mistake, steps labelled by the exact checker (src/steer/lm/arithmetic.ts)',
      licence: 'generated',
      note: 'score = P(all steps so far correct), read at each ";" and at EOS',
    },
  };
}

/** Expressions of the held-out problem sets (eval-lm and the scaling experiment): PRM training problems avoid them. */
function heldOutExpressions(): Set<string> {
  return new Set([...arithmeticProblems(1000, 'arith-heldout'), ...arithmeticProblems(200, 'scaling-heldout')].map((p) => p.expression));
}

const PRM_OWN_DIR = fileURLToPath(new URL('../.checkpoints/arith-prm/', import.meta.url));

/** Own samples of the shipped arith-char model, labelled by the checker; cached in .checkpoints/arith-prm (seeded, so a rebuild gives the same pool). */
async function ownPool(file: string, problems: ArithProblem[], samples: number, seed: number, stepsOnly: boolean): Promise<LabelledItem[]> {
  const lmMeta = readModelFiles('arith-char').header.metadata ?? {};
  const meta = { lm: 'arith-char', lmSteps: (lmMeta as { steps?: number }).steps, problems: problems.length, first: problems[0]?.expression, samples, seed, stepsOnly };
  const cached = loadItems(join(PRM_OWN_DIR, file), meta);
  if (cached) return cached;
  const t0 = Date.now();
  const lm = loadTransformerLM('arith-char');
  const vocab = new CharVocabulary(ARITH_ALPHABET, 'arith-prm');
  const items = await ownSamples(lm, vocab, problems, samples, seed, { stepsOnly });
  lm.dispose();
  saveItems(join(PRM_OWN_DIR, file), items, meta);
  console.log(`[arith-prm] sampled ${items.length} solutions of arith-char for ${file} in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  return items;
}

/**
 * The shipped PRM: the arith-char language model's blocks with a fresh
 * scalar head, trained on the arithmetic model's own sampled solutions
 * (75% of each batch) labelled by the exact checker, plus planted
 * corruptions (25%). Reported: AUC on held-out own samples.
 */
async function prmOwnTask(): Promise<TrainTask> {
  const config: TransformerConfig = { ...ARITH_CONFIG, head: 'scalar' };
  const base = prmTask(config);
  const vocab = new CharVocabulary(ARITH_ALPHABET, 'arith-prm');
  const exclude = heldOutExpressions();
  const nProblems = Number(process.env.PRM_OWN_PROBLEMS ?? 4000);
  const trainRng = new Rng('prm-own/train-problems');
  const trainProblems: ArithProblem[] = [];
  while (trainProblems.length < nProblems) {
    const p = randomProblem(trainRng);
    if (!exclude.has(p.expression)) trainProblems.push(p);
  }
  const pool = await ownPool('own-train.json', trainProblems, 2, 31, false);
  const heldOwn = await ownPool('own-heldout.json', arithmeticProblems(300, 'arith-heldout'), 1, 32, true);
  const ownFraction = 0.75;
  return {
    ...base,
    name: 'arith-prm',
    config,
    steps: Number(process.env.PRM_STEPS ?? 600),
    lr: 2e-3,
    warmup: 40,
    batch(step) {
      const rng = new Rng(`prm-own/${base.seed}/${step}`);
      return labelBatch(Array.from({ length: 24 }, () => (rng.uniform() < ownFraction ? pool[rng.int(pool.length)]! : prmItem(vocab, rng))));
    },
    init() {
      const w = readModelFiles('arith-char').weights;
      w['output.weight']!.dispose();
      w['output.weight'] = tf.randomNormal([config.dModel, 1], 0, 0.02, 'float32', 99);
      return w;
    },
    async evaluate(w) {
      const rope = makeRope(config);
      const pairs: [number, number][] = [];
      for (let i = 0; i < heldOwn.length; i += 50) {
        const b = labelBatch(heldOwn.slice(i, i + 50));
        const p = tf.tidy(() => scalarProbs(config, w, rope, b).dataSync());
        for (let j = 0; j < b.weights.length; j++) if (b.weights[j] !== 0) pairs.push([p[j]!, b.targets[j]!]);
      }
      rope.dispose();
      const a = auc(pairs);
      return { ...(await base.evaluate(w)), ownSampleSteps: pairs.length, ownSampleAUC: Number(a.auc.toFixed(4)), ownSampleAUCse: Number(a.se.toFixed(4)) };
    },
    metadata: {
      corpus: `arith-char's own temperature-1 solutions of ${nProblems} generated problems (2 each; held-out problem expressions excluded), every ";" and EOS labelled by the exact checker (75% of each batch), and generated solutions with one planted mistake (25%)`,
      licence: 'generated',
      note: 'score = P(all steps so far correct), read at each ";" and at EOS; blocks initialised from arith-char',
    },
  };
}

const TASKS: Record<string, () => TrainTask | Promise<TrainTask>> = { 'kjv-char': kjvTask, 'arith-char': arithTask, 'arith-prm': prmOwnTask, 'arith-prm-synthetic': prmTask };

const isMain = process.argv[1]?.endsWith('train-lm.ts');
if (isMain) {
  const args = process.argv.slice(2);
  const name = args[0] ?? '';
  if (!TASKS[name]) {
    console.error(`usage: train-lm.ts ${Object.keys(TASKS).join('|')} [--minutes N] [--fresh] [--export-now]`);
    process.exit(2);
  }
  const mi = args.indexOf('--minutes');
  await initBackend();
  await train(await TASKS[name]!(), { minutes: mi >= 0 ? Number(args[mi + 1]) : 20, fresh: args.includes('--fresh'), exportNow: args.includes('--export-now') });
}
