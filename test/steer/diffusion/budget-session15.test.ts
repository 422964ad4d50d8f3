/**
 * Session 15 (STEERUSER): `steerAtBudget` (and `tyche diffuse --compare`) compared methods "at the same budget"
 * of network evaluations, but three of them spent well under it: zero-order search ran only whole rounds of 4
 * neighbours (8 samples' worth of budget: 5 samples), the search over paths sized a square beam from a rough cost
 * (128 of 160), and rollover budget forcing stopped drawing children once one improved and spread part of its
 * allowance over the last step, whose children cost no evaluation (about a third of the budget). Now every method
 * spends the budget, short only by less than one unit of its own cost (a sample, a TDS particle, a path branch, a
 * DTS rollout), which `budgetNote` states; reward calls are counted beside. Planted bugs: the old sizing of
 * zero-order (whole rounds only), of path search (square beam) and rollover's early stop at its last costed step
 * each fail the first test. Also found: a reward that throws on plain's or TDS's returned population leaked it.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src/backend/select.js';
import * as D from '../../../src/steer/diffusion/index.js';
import * as St from '../../../src/steer/diffusion/steering/index.js';
import { MIX } from './fixtures.js';

beforeAll(async () => {
  await initBackend('cpu');
});

const SCH = D.vpLinear();
const MODEL = MIX.model(SCH, 'epsilon');
const reward = St.linearReward([0.6, -0.4]);
const likelihood = St.mixtureClassLikelihood(MIX, 1, SCH);

describe('every steering method spends the budget it is given (session 15)', () => {
  it('at 160 evaluations of 20 steps: every method spends 160, but TDS (2 particles of 60) and DTS (short by less than a rollout), which say why', async () => {
    const before = tf.memory().numTensors;
    const spent: Record<string, number> = {};
    for (const method of St.STEER_METHODS) {
      const run = await St.steerAtBudget(MODEL, method, { reward, likelihood, budget: 160, steps: 20, seed: 3 });
      run.x.dispose();
      spent[method] = run.evaluations;
      if (method === 'tds') {
        expect(run.evaluations).toBe(120);
        expect(run.budgetNote).toBe('40 of 160 evaluations unspent: a TDS particle costs 60 (3 a step: the network and its gradient)');
      } else if (method === 'dts' || method === 'dts-star') {
        expect(160 - run.evaluations, method).toBeLessThan(20);
        expect(run.evaluations, method).toBeLessThanOrEqual(160);
        if (run.evaluations < 160) expect(run.budgetNote, method).toMatch(/unspent: the tree stops when the next rollout/);
      } else {
        expect(run.budgetNote, method).toBeNull();
      }
      if (method === 'plain' || method === 'tds') expect(run.rewardCalls, method).toBe(0); // the shown rewards are not the method's calls
      if (method === 'best-of-n' || method === 'zero-order' || method === 'zero-order-path') expect(run.rewardCalls, method).toBe(8);
    }
    expect(spent).toMatchObject({ plain: 160, fk: 160, 'best-of-n': 160, 'zero-order': 160, 'zero-order-path': 160, path: 160, rollover: 160 });
    expect(tf.memory().numTensors).toBe(before);
  });

  it('a budget that is not a whole number of samples: the sample methods say what is left and why', async () => {
    for (const method of ['plain', 'zero-order'] as const) {
      const run = await St.steerAtBudget(MODEL, method, { reward, budget: 170, steps: 20, seed: 3 });
      run.x.dispose();
      expect(run.evaluations).toBe(160);
      expect(run.budgetNote).toBe('10 of 170 evaluations unspent: a sample costs 20 (one a step)');
    }
    // path search under one branch's cost runs one branch and says it is over
    const path = await St.steerAtBudget(MODEL, 'path', { reward, budget: 20, steps: 20, seed: 3 });
    path.x.dispose();
    expect(path.evaluations).toBe(St.pathBranchCost(20));
    expect(path.budgetNote).toBe(`${St.pathBranchCost(20) - 20} evaluations over the budget of 20: a branch through every round costs 32 (1 x 1 branches)`);
  });

  it('pathBranchCost is what the search spends; zero-order search draws lastNeighbours in its last round', async () => {
    expect(St.pathBranchCost(20)).toBe(7 + 7 + 7 + 7 + 4); // rounds 0→6, 4→10, 8→14, 12→18 (each scored), 16→20
    for (const [width, branches, start] of [
      [2, 3, 0],
      [1, 2, 5],
    ] as const) {
      const r = await St.pathSearch(MODEL, { reward, width, branches, start, steps: 20, seed: 4 });
      r.x.dispose();
      expect(r.evaluations).toBe(width * start + width * branches * St.pathBranchCost(20, { start }));
    }
    const z = await St.zeroOrderSearch(MODEL, { reward, rounds: 3, neighbours: 4, lastNeighbours: 2, steps: 10, seed: 5 });
    z.x.dispose();
    expect(z.evaluations).toBe((1 + 4 + 4 + 2) * 10);
    expect(z.trace).toHaveLength(3);
    await expect(St.zeroOrderSearch(MODEL, { reward, rounds: 1, neighbours: 4, lastNeighbours: 0 })).rejects.toThrow(/zeroOrderSearch: lastNeighbours must be a positive integer, got 0/);
  });

  it('a reward that throws on the returned population (plain, TDS) is named and frees it (it leaked one tensor a run)', async () => {
    const throws: St.Reward = { name: 'service', evaluate: () => Promise.reject(new Error('down')) };
    const before = tf.memory().numTensors;
    for (const method of ['plain', 'tds'] as const) {
      await expect(St.steerAtBudget(MODEL, method, { reward: throws, likelihood, budget: 60, steps: 10, seed: 1 })).rejects.toThrow(/^reward "service" threw at the final sample: down$/);
      expect(tf.memory().numTensors, method).toBe(before);
    }
  });
});
