/**
 * Choosing the final answer from weighted candidates: weighted majority vote
 * (sum the normalised weights of the candidates stating each answer; the
 * particle estimate of the posterior probability of that answer) or the
 * single best-weighted candidate.
 *
 * @module
 */
import type { Candidate } from './types.js';

/**
 * How the final answer is chosen: `'vote'` (weighted majority), `'best'`
 * (the heaviest candidate) or `'reward'` (the highest last reward-model
 * score). With proper ratio weights a weight is an importance weight, not a
 * score: after a resampling it holds only the last reward ratios, so `'best'`
 * favours the biggest last jump in reward; `'reward'` is its_hub's argmax.
 */
export type AnswerSelection = 'vote' | 'best' | 'reward';

/** Total weight behind each answer (candidates without an answer left out), largest first. */
export function answerWeights(candidates: readonly Candidate[]): { answer: string | number; weight: number }[] {
  const m = new Map<string | number, number>();
  for (const c of candidates) {
    if (c.answer === null || !(c.weight > 0)) continue;
    m.set(c.answer, (m.get(c.answer) ?? 0) + c.weight);
  }
  return [...m.entries()].map(([answer, weight]) => ({ answer, weight })).sort((a, b) => b.weight - a.weight);
}

/**
 * The chosen candidate index: `'best'` takes the largest weight; `'vote'`
 * takes the answer with the most weight and, among its candidates, the
 * heaviest; `'reward'` the highest last reward. Ties go to the earlier
 * candidate. -1 when there are none.
 */
export function selectCandidate(candidates: readonly Candidate[], how: AnswerSelection): number {
  if (candidates.length === 0) return -1;
  let best = 0;
  if (how === 'best') {
    for (let i = 1; i < candidates.length; i++) if (candidates[i]!.weight > candidates[best]!.weight) best = i;
    return best;
  }
  if (how === 'reward') {
    for (let i = 1; i < candidates.length; i++) if (candidates[i]!.reward > candidates[best]!.reward || !(candidates[best]!.reward >= 0)) best = i;
    return best;
  }
  if (how !== 'vote') throw new Error(`answer selection must be 'vote', 'best' or 'reward', got ${String(how)}`);
  const top = answerWeights(candidates)[0];
  if (!top) return selectCandidate(candidates, 'best');
  best = -1;
  candidates.forEach((c, i) => {
    if (c.answer === top.answer && (best < 0 || c.weight > candidates[best]!.weight)) best = i;
  });
  return best;
}

/** Normalise log-weights to weights (all -Infinity gives all zeros). */
export function normalise(logWeights: ArrayLike<number>): Float64Array {
  let m = -Infinity;
  for (let i = 0; i < logWeights.length; i++) m = Math.max(m, logWeights[i]!);
  const w = new Float64Array(logWeights.length);
  if (m === -Infinity) return w;
  let s = 0;
  for (let i = 0; i < w.length; i++) s += w[i] = Math.exp(logWeights[i]! - m);
  for (let i = 0; i < w.length; i++) w[i]! /= s;
  return w;
}
