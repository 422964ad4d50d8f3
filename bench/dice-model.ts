/**
 * The enumeration benches' dice model, shared by `enumerate-webppl.ts` (against WebPPL) and
 * `enumerate-floor.ts` (against a bare walk of the same model function).
 *
 * @module
 */
import { model } from '../src/core/model.js';
import { Categorical } from '../src/distributions/categorical.js';

/** A fair die's probabilities. */
export const DIE = [1 / 6, 1 / 6, 1 / 6, 1 / 6, 1 / 6, 1 / 6];

/** n fair dice (Categorical over 6 outcomes, plus 1), conditioned on their sum; returns the first die. */
export const dice = model(async ({ sample, factor }, n: number, total: number) => {
  let sum = 0;
  let first = 0;
  for (let i = 0; i < n; i++) {
    const d = (await sample(`d${i + 1}`, Categorical(DIE))) + 1;
    sum += d;
    if (i === 0) first = d;
  }
  await factor('sum', sum === total ? 0 : -Infinity);
  return first;
});
