/**
 * The step-level scaling tests' exact test bed (scaling.test.ts, and
 * reliability/steer-session9.test.ts): a weighted set of seven solutions,
 * steps ending in ';' and an answer '#1' or '#2', over a six-character
 * vocabulary, with the complete score an exact "PRM" gives each answer.
 */
import { TokenVocabulary } from '../../../src/steer/lm/vocab.js';
import { WeightedSetLM } from '../../../src/steer/lm/weighted-set.js';

export const vocab = TokenVocabulary.characters('ab;#12');
export const members = [
  { value: 'a;#1', weight: 3 },
  { value: 'a;#2', weight: 1 },
  { value: 'b;#1', weight: 2 },
  { value: 'b;#2', weight: 2 },
  { value: 'a;a;#1', weight: 1 },
  { value: 'a;b;#2', weight: 2 },
  { value: 'b;a;#1', weight: 1 },
];
/** The language model that draws a whole solution with probability weight / total. */
export const lm = new WeightedSetLM(vocab, members);
export const total = members.reduce((s, m) => s + m.weight, 0);
/** The complete score of a solution: answer '#1' is better, and a 'b' step halves it (inside (0, 1)). */
export const completeScore = (t: string): number => (t.endsWith('#1') ? 0.9 : 0.2) * (t.includes('b') ? 0.5 : 1);
