/**
 * Training and evaluation data for the process reward model from the
 * arithmetic model's own samples: each sampled solution (temperature 1) is
 * labelled by the exact checker after every `;` (1 while every step so far is
 * right, 0 from the first wrong step on) and at EOS (1 when the stated answer
 * is right). This is the distribution a PRM meets inside particle filtering,
 * unlike planted corruptions, whose mistakes look different from the model's.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { type ArithProblem, checkSolution } from '../../src/steer/lm/arithmetic.js';
import { generate } from '../../src/steer/lm/generate.js';
import type { LanguageModel } from '../../src/steer/lm/types.js';
import type { CharVocabulary } from '../../src/steer/lm/transformer/tokenizer.js';

/** A token sequence (BOS, prompt, solution, EOS when finished) with 0/1 labels at chosen positions. */
export interface LabelledItem {
  readonly tokens: number[];
  readonly labels: Map<number, number>;
}

/**
 * Label one sampled solution `text` of `problem`: positions of each `;` and,
 * when the sample ended with EOS, of the EOS token. `stepsOnly` leaves out the
 * EOS label.
 */
export function labelSample(vocab: CharVocabulary, problem: ArithProblem, text: string, finished: boolean, stepsOnly = false): LabelledItem {
  const tokens = [vocab.bos, ...vocab.encode(problem.prompt + text)];
  const check = checkSolution(problem.expression, text);
  const labels = new Map<number, number>();
  const offset = 1 + problem.prompt.length;
  let k = 0;
  for (let i = 0; i < text.length; i++) if (text[i] === ';') labels.set(offset + i, check.correct[k++] ? 1 : 0);
  if (finished) {
    tokens.push(vocab.eos);
    if (!stepsOnly) labels.set(tokens.length - 1, check.answerCorrect ? 1 : 0);
  }
  return { tokens, labels };
}

/**
 * `samples` temperature-1 solutions of each problem from `lm`, labelled by
 * the checker (seeded: the same seed gives the same samples on the same
 * backend). Generation goes in chunks of `chunk` prompts.
 */
export async function ownSamples(lm: LanguageModel, vocab: CharVocabulary, problems: readonly ArithProblem[], samples: number, seed: number, options: { stepsOnly?: boolean; chunk?: number } = {}): Promise<LabelledItem[]> {
  const out: LabelledItem[] = [];
  const chunk = options.chunk ?? 512;
  for (let s = 0; s < samples; s++) {
    for (let i = 0; i < problems.length; i += chunk) {
      const part = problems.slice(i, i + chunk);
      const gens = await generate(lm, part.map((p) => vocab.encode(p.prompt)), { maxTokens: lm.contextLength - 30, temperature: 1, rng: `${seed}/${s}/${i}` });
      gens.forEach((g, j) => out.push(labelSample(vocab, part[j]!, g.text, g.finish === 'eos', options.stepsOnly)));
    }
  }
  return out;
}

/** Save labelled items as JSON (labels as pairs). */
export function saveItems(file: string, items: readonly LabelledItem[], meta: Record<string, unknown>): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify({ meta, items: items.map((x) => ({ t: x.tokens, l: [...x.labels] })) }));
}

/** Load items saved by {@link saveItems}, or null when the file is missing or its meta differs. */
export function loadItems(file: string, meta: Record<string, unknown>): LabelledItem[] | null {
  if (!existsSync(file)) return null;
  const j = JSON.parse(readFileSync(file, 'utf8')) as { meta: unknown; items: { t: number[]; l: [number, number][] }[] };
  if (JSON.stringify(j.meta) !== JSON.stringify(meta)) return null;
  return j.items.map((x) => ({ tokens: x.t, labels: new Map(x.l) }));
}

/**
 * Area under the ROC curve of scores against 0/1 labels (the probability
 * that a positive outscores a negative, ties half) with the Hanley–McNeil
 * standard error.
 */
export function auc(pairs: readonly (readonly [number, number])[]): { auc: number; se: number; positives: number; negatives: number } {
  const pos = pairs.filter(([, y]) => y === 1).map(([s]) => s);
  const neg = pairs.filter(([, y]) => y === 0).map(([s]) => s);
  // rank-sum form: sort once, average ranks over ties
  const all = [...pairs].map(([s, y]) => ({ s, y })).sort((a, b) => a.s - b.s);
  let rankSumPos = 0;
  for (let i = 0; i < all.length; ) {
    let j = i;
    while (j < all.length && all[j]!.s === all[i]!.s) j++;
    const rank = (i + 1 + j) / 2;
    for (let k = i; k < j; k++) if (all[k]!.y === 1) rankSumPos += rank;
    i = j;
  }
  const n1 = pos.length;
  const n0 = neg.length;
  if (n1 === 0 || n0 === 0) return { auc: NaN, se: NaN, positives: n1, negatives: n0 };
  const a = (rankSumPos - (n1 * (n1 + 1)) / 2) / (n1 * n0);
  const q1 = a / (2 - a);
  const q2 = (2 * a * a) / (1 + a);
  const se = Math.sqrt((a * (1 - a) + (n1 - 1) * (q1 - a * a) + (n0 - 1) * (q2 - a * a)) / (n1 * n0));
  return { auc: a, se, positives: n1, negatives: n0 };
}
