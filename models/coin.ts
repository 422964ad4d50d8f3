/**
 * A coin of unknown bias: Beta(2, 2) prior, Bernoulli flips. The posterior is
 * Beta(2 + heads, 2 + tails), so every engine can be checked against it.
 */
import { Bernoulli, Beta, model } from '../src/index.js';

export const coin = model(
  async ({ sample, observe }, flips: number[]) => {
    const p = await sample('p', Beta(2, 2));
    for (let i = 0; i < flips.length; i++) await observe(`flip${i}`, Bernoulli(p), flips[i]);
    return p;
  },
  { name: 'coin' },
);

/** Ten flips, seven heads. */
export const flips = [1, 0, 1, 1, 1, 0, 1, 1, 0, 1];

/** The exact posterior mean and sd of p. */
export function coinExact(data: number[]): { mean: number; sd: number } {
  const a = 2 + data.filter((x) => x === 1).length;
  const b = 2 + data.filter((x) => x === 0).length;
  return { mean: a / (a + b), sd: Math.sqrt((a * b) / ((a + b) ** 2 * (a + b + 1))) };
}
