/**
 * SMCDEGEN, session 18: program SMC warns where a discrete site's final
 * values rest on few ancestral lineages (path degeneracy), which the
 * distinct-value check cannot see (equal values are no sign of copying at a
 * discrete site). A two-state hidden Markov chain over 12 observations at
 * 1000 particles gave P(z0 = 1) 0.007-0.176 over 8 seeds (exact 0.097) with a
 * final `ess` of 1000 and no warning; now each execution (lean, general,
 * grouped `unfold`, batched) warns, naming z0 and its figure (26-40 over those
 * seeds, whose spread, sd 0.063, is that of ~30 draws). Planted (discrete
 * sites skipped, as before): the four warning tests fail.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import { Bernoulli, Categorical, Normal, infer, model, ops } from '../../src/index.js';
import { discreteLineageEss } from '../../src/infer/particle-warnings.js';
import { ancestryOf, finalAncestry, lineageEss } from '../../src/infer/smc/genealogy.js';

beforeAll(async () => {
  await initBackend('cpu');
});

const YS = [0.3, 2.8, 3.4, -0.2, 0.6, 3.1, 2.5, 0.1, -0.5, 2.9, 3.6, 0.4];
const P = [[0.8, 0.2], [0.2, 0.8]];
const MU = [0, 3];

/** The chain written as a loop (runs per particle: the state indexes arrays). */
const loop = (T: number) =>
  model(async ({ sample, observe }) => {
    let prev = -1;
    for (let t = 0; t < T; t++) {
      const z = Number(await sample(`z${t}`, Categorical(prev < 0 ? [0.5, 0.5] : P[prev]!)));
      await observe(`y${t}`, Normal(MU[z]!, 1), YS[t]!);
      prev = z;
    }
  });

/** The same chain with `unfold` (grouped execution). */
const unfolded = model(async ({ unfold }) => {
  await unfold('t', YS.length, -1, async ({ sample, observe }, t, prev: number) => {
    const z = Number(await sample('z', Categorical(prev < 0 ? [0.5, 0.5] : P[prev]!)));
    await observe('y', Normal(MU[z]!, 1), YS[t]!);
    return z;
  });
});

/** The same chain as arithmetic on the draws (runs batched). */
const arithmetic = model(async ({ sample, observe }) => {
  let prev: ops.Value = 0;
  for (let t = 0; t < YS.length; t++) {
    const z: ops.Value = await sample(`z${t}`, Bernoulli(t === 0 ? 0.5 : ops.add(0.2, ops.mul(0.6, prev))));
    await observe(`y${t}`, Normal(ops.mul(3, z), 1), YS[t]!);
    prev = z;
  }
});

const LINEAGE = /discrete sites resting on fewer than 100 ancestral lineages of 1000 particles \((z0|t\/0\/z) (\d+(\.\d)?) from step 0[,:].*enumerate.*more particles.*rejuvenate/;

describe('a discrete site resting on few lineages', () => {
  it('lineageEss reads the earliest step whose ancestors fix the values, and pools the weights by them (hand-built genealogy)', () => {
    const id = Int32Array.from([0, 1, 2, 3]);
    // resampling at steps 1 and 3; step 2 kept the population (the core's shared identity array)
    const ancestry = finalAncestry([id, Int32Array.from([0, 0, 2, 2]), id, Int32Array.from([1, 1, 1, 3])], Int32Array.from([0, 1, 2, 3]));
    expect(ancestry.steps).toEqual([3, 1, 0]);
    expect(ancestry.ids.map((a) => [...a])).toEqual([[0, 1, 2, 3], [1, 1, 1, 3], [0, 0, 0, 2]]);
    const w = [0.1, 0.2, 0.3, 0.4];
    const all = [0, 1, 2, 3];
    // drawn at step 0 and copied: two lineages of mass 0.6 and 0.4
    const early = lineageEss(ancestry, [5, 5, 5, 7], all, w);
    expect(early.step).toBe(0);
    expect(early.ess).toBeCloseTo(1 / (0.36 + 0.16), 12);
    // values that differ within every earlier lineage: the final particles' own Kish ESS
    const late = lineageEss(ancestry, [1, 2, 2, 2], all, w);
    expect(late.step).toBe(3);
    expect(late.ess).toBeCloseTo(1 / (0.01 + 0.04 + 0.09 + 0.16), 12);
    // a site only some particles have: pooled over those
    const some = lineageEss(ancestry, [4, 4], [1, 3], w);
    expect(some.step).toBe(0);
    expect(some.ess).toBeCloseTo((0.2 + 0.4) ** 2 / (0.2 ** 2 + 0.4 ** 2), 12);
  });

  it('the hidden Markov chain as a loop warns with z0 (final ess 1000, no step under 100)', async () => {
    const post = await infer(loop(12), { method: 'smc', particles: 1000, seed: 1 });
    expect(post.ess).toBeCloseTo(1000, 6);
    expect(Math.min(...(post.diagnostics.essHistory as number[]))).toBeGreaterThanOrEqual(100);
    const hit = post.warnings.map((w) => LINEAGE.exec(w)).find((m) => m);
    expect(hit, post.warnings.join('\n')).toBeTruthy();
    expect(Number(hit![2])).toBeLessThan(60);
    // the figure is the function's: z0's lineages
    const z0 = discreteLineageEss(post.draws, post.weights, ancestryOf(post.diagnostics)!).get('z0')!;
    expect(z0.step).toBe(0);
    expect(z0.ess.toFixed(0)).toBe(hit![2]);
    post.dispose();
  });

  it('each execution warns the same way: general runtime, grouped unfold, batched', async () => {
    const runs = [
      ['general', await infer(loop(12), { method: 'smc', particles: 1000, seed: 2, lean: false })],
      ['grouped', await infer(unfolded, { method: 'smc', particles: 1000, seed: 2 })],
      ['batched', await infer(arithmetic, { method: 'smc', particles: 1000, seed: 2 })],
    ] as const;
    for (const [how, post] of runs) {
      expect(post.diagnostics.runtime ?? post.diagnostics.execution, how).toBe(how);
      expect(post.warnings.some((w) => LINEAGE.test(w)), `${how}: ${post.warnings.join('\n')}`).toBe(true);
      post.dispose();
    }
  });

  it('a chain whose first state is well represented (3 observations, 3000 particles) does not warn', async () => {
    const post = await infer(loop(3), { method: 'smc', particles: 3000, seed: 1 });
    const z0 = discreteLineageEss(post.draws, post.weights, ancestryOf(post.diagnostics)!).get('z0')!;
    expect(z0.ess).toBeGreaterThan(200);
    expect(post.warnings).toEqual([]);
    post.dispose();
  });
});
