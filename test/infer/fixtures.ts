/**
 * Models with known answers and a Monte Carlo helper shared by the engine tests.
 */
import { model } from '../../src/core/index.js';

export { meanAndSe } from '../../src/diagnostics/empirical.js';
import { Bernoulli } from '../../src/distributions/bernoulli.js';
import { Normal } from '../../src/distributions/normal.js';

/** A geometric number of flips, truncated at depth 6 (recursion, stochastic control flow, varying addresses). */
export const geometric = model(async ({ sample, observe, scope }) => {
  const flip = async (depth: number): Promise<number> => {
    if (depth === 6) return depth;
    const heads = await scope(`f${depth}`, () => sample('coin', Bernoulli(0.5)));
    return heads ? depth : flip(depth + 1);
  };
  const n = await flip(0);
  await observe('noisy', Normal(n, 2), 3);
  return n;
});

/** The exact posterior of {@link geometric}'s return value, by direct summation. */
export function geometricExact(): number[] {
  const N = (x: number, m: number, s: number) => Math.exp(-0.5 * ((x - m) / s) ** 2) / (s * Math.sqrt(2 * Math.PI));
  const w = Array.from({ length: 7 }, (_, n) => (n < 6 ? 0.5 ** (n + 1) : 0.5 ** 6) * N(3, n, 2));
  const z = w.reduce((a, b) => a + b, 0);
  return w.map((x) => x / z);
}

/** A two-state HMM with binary observations; returns the last state. */
export const discreteHmm = model(async ({ sample, observe }) => {
  const ys = [1, 1, 0, 1, 0, 0];
  let z = await sample('z0', Bernoulli(0.5));
  for (let t = 0; t < ys.length; t++) {
    if (t > 0) z = await sample(`z${t}`, Bernoulli(z ? 0.8 : 0.3));
    await observe(`y${t}`, Bernoulli(z ? 0.9 : 0.2), ys[t]);
  }
  return z;
});
