/**
 * Train (or resume training) a shipped transformer:
 *   npx tsx scripts/train-lm.ts kjv-char|arith-char|arith-prm [--minutes 20] [--fresh] [--export-now]
 * Checkpoints go to .checkpoints/NAME (resumed automatically); the finished
 * model is written to models/lm/NAME.json + .bin. Seeded: a rerun reproduces
 * the shipped weights on the same backend.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../src/core/rng.js';
import { ARITH_ALPHABET, arithmeticProblems, checkSolution, corruptedSolution, randomProblem } from '../src/steer/lm/arithmetic.js';
import { generate } from '../src/steer/lm/generate.js';
import { type TransformerConfig, type TransformerWeights, makeRope } from '../src/steer/lm/transformer/model.js';
import { TransformerLM } from '../src/steer/lm/transformer/lm.js';
import { CharVocabulary } from '../src/steer/lm/transformer/tokenizer.js';
import { labelBatch, lmBatch, lmLoss, scalarProbs } from '../src/steer/lm/transformer/train.js';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadCheckpoint, readModelFiles } from '../src/steer/lm/transformer/files.js';
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

/**
 * The PRM fine-tuned from the arithmetic LM: the LM's blocks (from its checkpoint, else the shipped
 * model) with a fresh scalar head, trained on the same labelled steps as `arith-prm`.
 */
function prmFromLMTask(): TrainTask {
  const config: TransformerConfig = { ...ARITH_CONFIG, head: 'scalar' };
  const base = prmTask(config);
  return {
    ...base,
    name: 'arith-prm-lm',
    config,
    steps: Number(process.env.PRM_STEPS ?? 300),
    lr: 2e-3,
    init() {
      const ck = loadCheckpoint(join(fileURLToPath(new URL('../.checkpoints/', import.meta.url)), 'arith-char'), ARITH_CONFIG);
      const w = ck ? ck.weights : readModelFiles('arith-char').weights;
      if (ck) tf.dispose([...Object.values(ck.m), ...Object.values(ck.v)]);
      w['output.weight']!.dispose();
      w['output.weight'] = tf.randomNormal([config.dModel, 1], 0, 0.02, 'float32', 99);
      console.log(`[arith-prm-lm] blocks from the arith-char ${ck ? `checkpoint at step ${ck.step}` : 'shipped model'}`);
      return w;
    },
    async evaluate(w) {
      return { ...(await base.evaluate(w)), initialisedFrom: 'arith-char blocks' };
    },
    metadata: { ...base.metadata, note: 'blocks initialised from the arith-char language model, fresh scalar head; score = P(all steps so far correct), read at each ";" and at EOS' },
  };
}

const TASKS: Record<string, () => TrainTask> = { 'kjv-char': kjvTask, 'arith-char': arithTask, 'arith-prm': prmTask, 'arith-prm-lm': prmFromLMTask };

const isMain = process.argv[1]?.endsWith('train-lm.ts');
if (isMain) {
  const args = process.argv.slice(2);
  const name = args[0] ?? '';
  if (!TASKS[name]) {
    console.error(`usage: train-lm.ts ${Object.keys(TASKS).join('|')} [--minutes N] [--fresh] [--export-now]`);
    process.exit(2);
  }
  const mi = args.indexOf('--minutes');
  await train(TASKS[name]!(), { minutes: mi >= 0 ? Number(args[mi + 1]) : 20, fresh: args.includes('--fresh'), exportNow: args.includes('--export-now') });
}
