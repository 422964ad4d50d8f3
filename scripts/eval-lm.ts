/**
 * Held-out figures of the shipped language models (models/lm), from the
 * shipped weights only:
 *   npx tsx scripts/eval-lm.ts [--problems 300]      (or npm run eval:lm)
 * - kjv-char: held-out bits per character (every 50th verse of the KJV, as
 *   in training) and sampled verses;
 * - arith-char: accuracy on held-out problems, greedy and sampled (T = 1),
 *   and majority vote over 8 samples;
 * - arith-prm: step accuracy (threshold 0.5) on held-out procedurally
 *   corrupted solutions, and AUC (with its standard error) and step accuracy
 *   on the arithmetic model's own sampled solutions of the held-out problems,
 *   labelled by the exact checker.
 */
import { initBackend } from '../src/backend/select.js';
import { Rng } from '../src/core/rng.js';
import { arithmeticProblems, checkSolution } from '../src/steer/lm/arithmetic.js';
import { generate } from '../src/steer/lm/generate.js';
import { loadProcessRewardModel, loadTransformerLM, readModelFiles } from '../src/steer/lm/transformer/files.js';
import { CharVocabulary } from '../src/steer/lm/transformer/tokenizer.js';
import { bitsPerToken, prmItem } from './train-lm.js';
import { kjvSplit } from './lm/kjv-corpus.js';
import { auc } from './lm/prm-data.js';
import * as tf from '@tensorflow/tfjs-core';

const args = process.argv.slice(2);
const nProblems = args.includes('--problems') ? Number(args[args.indexOf('--problems') + 1]) : 300;
const prmName = args.includes('--prm') ? args[args.indexOf('--prm') + 1]! : 'arith-prm';
const info = await initBackend();
console.log(`backend ${info.name}`);

// ---- kjv-char
{
  const { header, weights, vocab } = readModelFiles('kjv-char');
  const held = kjvSplit()
    .heldOut.filter((v) => v.length <= header.config.contextLength - 2)
    .map((v) => [vocab.bos, ...vocab.encode(v), vocab.eos]);
  const bpc = await bitsPerToken(header.config, weights, held);
  tf.dispose(Object.values(weights));
  console.log(`kjv-char: ${held.length} held-out verses (<= ${header.config.contextLength - 2} chars): ${bpc.toFixed(3)} bits per character (EOS counted as a character)`);
  const lm = loadTransformerLM('kjv-char');
  const samples = await generate(lm, [[], [], [], lm.vocab.encode('And God said'), lm.vocab.encode('The LORD is')], { maxTokens: 120, temperature: 1, rng: 2026 });
  const prompts = ['', '', '', 'And God said', 'The LORD is'];
  samples.forEach((g, i) => console.log(`  sample ${i + 1}: ${JSON.stringify(prompts[i] + g.text)}`));
  const greedy = await generate(lm, [lm.vocab.encode('In the beginning')], { maxTokens: 100, temperature: 0 });
  console.log(`  greedy: ${JSON.stringify('In the beginning' + greedy[0]!.text)}`);
  lm.dispose();
}

// ---- arith-char
const problems = arithmeticProblems(nProblems, 'arith-heldout');
const arith = loadTransformerLM('arith-char');
const prompts = problems.map((p) => arith.vocab.encode(p.prompt));
const greedy = await generate(arith, prompts, { maxTokens: arith.contextLength - 30, temperature: 0 });
const greedyAcc = greedy.filter((g, i) => checkSolution(problems[i]!.expression, g.text).answerCorrect).length / problems.length;
const K = 8;
const votes = problems.map(() => new Map<number, number>());
let sampledRight = 0;
const sampledTexts: string[][] = problems.map(() => []);
for (let k = 0; k < K; k++) {
  const gens = await generate(arith, prompts, { maxTokens: arith.contextLength - 30, temperature: 1, rng: 100 + k });
  gens.forEach((g, i) => {
    const c = checkSolution(problems[i]!.expression, g.text);
    if (c.answerCorrect) sampledRight += 1;
    if (c.answer !== null) votes[i]!.set(c.answer, (votes[i]!.get(c.answer) ?? 0) + 1);
    sampledTexts[i]!.push(g.text);
  });
}
const majority = problems.filter((p, i) => {
  const best = [...votes[i]!.entries()].sort((a, b) => b[1] - a[1])[0];
  return best !== undefined && best[0] === p.answer;
}).length;
const anyRight = problems.filter((p, i) => sampledTexts[i]!.some((t) => checkSolution(p.expression, t).answerCorrect)).length;
console.log(`arith-char: ${problems.length} held-out problems: greedy accuracy ${(greedyAcc * 100).toFixed(1)}%, sampled (T=1) ${((sampledRight / (K * problems.length)) * 100).toFixed(1)}%, majority of ${K} samples ${((majority / problems.length) * 100).toFixed(1)}%, any of ${K} right (oracle) ${((anyRight / problems.length) * 100).toFixed(1)}%`);
for (let i = 0; i < 3; i++) console.log(`  ${problems[i]!.prompt}${greedy[i]!.text}   (answer ${problems[i]!.answer})`);
arith.dispose();

// ---- arith-prm
const prm = loadProcessRewardModel(prmName);
const vocab = new CharVocabulary(prm.vocab.chars.join(''), 'arith-prm');
{
  const rng = new Rng('prm-heldout');
  const items = Array.from({ length: 400 }, () => prmItem(vocab, rng));
  let right = 0;
  let n = 0;
  for (const it of items) {
    const texts: string[] = [];
    const labels: number[] = [];
    for (const [pos, y] of it.labels) {
      const ids = it.tokens.slice(1, pos + 1).filter((t) => t !== vocab.eos);
      texts.push(vocab.decode(ids));
      labels.push(y);
    }
    // the last label is at EOS: score the complete solution
    const scores = await prm.score(texts.slice(0, -1));
    const full = await prm.score([texts.at(-1)!], { complete: true });
    [...scores, ...full].forEach((s, j) => {
      n += 1;
      if ((s > 0.5 ? 1 : 0) === labels[j]) right += 1;
    });
  }
  console.log(`${prmName}: step accuracy ${((right / n) * 100).toFixed(1)}% on ${n} held-out labelled steps of corrupted/correct solutions (35% correct)`);
}
{
  // On the arithmetic model's own samples (held-out problems, the first T=1 sample of each): each `;`-terminated step prefix labelled by the checker.
  let right = 0;
  const scored: [number, number][] = [];
  for (let i = 0; i < problems.length; i++) {
    const p = problems[i]!;
    const text = sampledTexts[i]![0]!;
    const check = checkSolution(p.expression, text);
    const cut: string[] = [];
    let k = -1;
    while ((k = text.indexOf(';', k + 1)) >= 0) cut.push(p.prompt + text.slice(0, k + 1));
    if (cut.length === 0) continue;
    const scores = await prm.score(cut);
    scores.forEach((s, j) => {
      const y = check.correct[j] ? 1 : 0;
      scored.push([s, y]);
      if ((s > 0.5 ? 1 : 0) === y) right += 1;
    });
  }
  const n = scored.length;
  const a = auc(scored);
  console.log(`${prmName}: on ${n} steps of arith-char's own samples of ${problems.length} held-out problems (${((a.positives / n) * 100).toFixed(1)}% of them correct): AUC ${a.auc.toFixed(3)} ± ${a.se.toFixed(3)} (Hanley-McNeil se; chance 0.5), step accuracy ${((right / n) * 100).toFixed(1)}% at threshold 0.5`);
}
{
  // Complete solutions (all 8 samples that state an answer), judged as complete: pooled AUC, and the
  // within-problem AUC (a right and a wrong solution of the same problem), which is what best-of-N needs:
  // a pooled AUC also rewards knowing which problems are hard.
  const items: { i: number; text: string; ok: boolean }[] = [];
  problems.forEach((p, i) => {
    for (const text of sampledTexts[i]!) {
      const c = checkSolution(p.expression, text);
      if (c.answer !== null) items.push({ i, text, ok: c.answerCorrect });
    }
  });
  const s = await prm.score(
    items.map((x) => problems[x.i]!.prompt + x.text),
    { complete: true },
  );
  const pooled = auc(items.map((x, k) => [s[k]!, x.ok ? 1 : 0]));
  let wins = 0;
  let pairs = 0;
  const byProblem = new Map<number, number[]>();
  items.forEach((x, k) => byProblem.set(x.i, [...(byProblem.get(x.i) ?? []), k]));
  for (const ks of byProblem.values()) {
    for (const a of ks) {
      for (const b of ks) {
        if (!items[a]!.ok || items[b]!.ok) continue;
        pairs++;
        wins += s[a]! > s[b]! ? 1 : s[a]! === s[b]! ? 0.5 : 0;
      }
    }
  }
  console.log(`${prmName}: on ${items.length} complete own samples (${pooled.positives} right): pooled AUC ${pooled.auc.toFixed(3)} ± ${pooled.se.toFixed(3)}; within-problem AUC ${(wins / Math.max(1, pairs)).toFixed(3)} over ${pairs} (right, wrong) pairs of the same problem`);
}
prm.dispose();
