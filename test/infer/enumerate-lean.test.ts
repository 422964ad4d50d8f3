/**
 * The fast paths of exact enumeration pinned to the general runtime: the
 * lean sequential runtime (`lean: true`, the default) against `lean: false`
 * (the handler stack), path by path — same draws in the same order, same
 * values, return values and log weights, bit for bit — on models with
 * branching, observations, factors, mid-path pruning, recursion, scopes,
 * deterministic sites and invalid parameters; the models it does not handle
 * fall back and say so. A planted bug in the lean runtime (a replayed
 * choice's log mass dropped) is caught by the same comparison.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import { type Model, model } from '../../src/core/model.js';
import * as ops from '../../src/core/value.js';
import { Bernoulli } from '../../src/distributions/bernoulli.js';
import { Binomial } from '../../src/distributions/binomial.js';
import { Categorical, CategoricalDistribution } from '../../src/distributions/categorical.js';
import { Normal } from '../../src/distributions/normal.js';
import { LeanEnumerator } from '../../src/infer/enumerate-lean.js';
import { infer } from '../../src/infer/index.js';
import type { Posterior } from '../../src/infer/posterior.js';
import { geometric } from './fixtures.js';

beforeAll(async () => {
  await initBackend('cpu');
});

const DIE = [1 / 6, 1 / 6, 1 / 6, 1 / 6, 1 / 6, 1 / 6];

/** Dice conditioned on their sum, the condition at the end (every path visited, most pruned at the end). */
const dice = model(async ({ sample, factor }, n: number, total: number) => {
  let sum = 0;
  let first = 0;
  for (let i = 0; i < n; i++) {
    const d = (await sample(`d${i}`, Categorical(DIE))) + 1;
    sum += d;
    if (i === 0) first = d;
  }
  await factor('sum', sum === total ? 0 : -Infinity);
  return first;
});

/** Pearl's burglary network: observations, branching on draws for parameters. */
const burglary = model(async ({ sample, observe }) => {
  const b = await sample('burglary', Bernoulli(0.001));
  const e = await sample('earthquake', Bernoulli(0.002));
  const a = await sample('alarm', Bernoulli(b ? (e ? 0.95 : 0.94) : e ? 0.29 : 0.001));
  await observe('john', Bernoulli(a ? 0.9 : 0.05), true);
  await observe('mary', Bernoulli(a ? 0.7 : 0.01), 1);
  return b;
});

/**
 * Stochastic control flow: different sites on different paths, a condition in
 * the middle (its subtree is skipped), a deterministic site, a factor of a
 * computed weight, a Binomial whose size depends on a draw, and an invalid
 * parameter on some paths (probability zero, not an error).
 */
const branchy = model(async ({ sample, observe, factor, deterministic, scope }, y: number) => {
  const k = await sample('k', Categorical([0.2, 0.3, 0.5]));
  let total = k;
  if (k === 0) {
    const c = await sample('c', Bernoulli(0.3));
    await factor('early', c === 1 ? -Infinity : 0);
    total += await sample('after', Categorical([0.5, 0.25, 0.25]));
  } else {
    const n = await scope('inner', () => sample('n', Binomial(k + 1, 0.4)));
    deterministic('twice', 2 * n);
    total += n;
    // p > 1 when k = 2 and n = 3: that path has probability zero
    const p = await sample('p', Bernoulli(n === 3 ? 1.5 : 0.25 * n));
    total += p;
  }
  await factor('soft', -0.1 * total * total);
  await observe('y', Normal(total, 1.5), y);
  return total;
});

/** Sites with tensor parameters (their log mass read back through a tfjs scope). */
const tensorParams = model(async ({ sample, observe }) => {
  // a tensor parameter types the draw as a tensor; enumeration gives numbers
  const a = (await sample('a', Categorical(tf.tensor1d([0.25, 0.25, 0.5])))) as unknown as number;
  const b = await sample('b', Bernoulli(a === 2 ? 0.9 : 0.2));
  await observe('o', Normal(tf.scalar(a + b), 1), 1.2);
  return a + b;
});

async function both<A extends unknown[], R>(m: Model<A, R>, ...args: A): Promise<[Posterior<A, R>, Posterior<A, R>]> {
  const lean = await infer(m, { method: 'enumerate' }, ...args);
  const general = await infer(m, { method: 'enumerate', lean: false }, ...args);
  return [lean, general];
}

/** Every draw the same, in the same order, bit for bit; and the same log Z and execution counts. */
function expectSame<A extends unknown[], R>(lean: Posterior<A, R>, general: Posterior<A, R>): void {
  expect(lean.diagnostics.runtime).toBe('lean');
  expect(general.diagnostics.runtime).toBe('general');
  expect(lean.draws.length).toBe(general.draws.length);
  for (let i = 0; i < lean.draws.length; i++) {
    expect(lean.draws[i].values).toEqual(general.draws[i].values);
    expect(lean.draws[i].returnValue).toEqual(general.draws[i].returnValue);
    expect(lean.draws[i].logWeight).toBe(general.draws[i].logWeight);
  }
  expect(lean.logZ).toBe(general.logZ);
  expect(lean.diagnostics.executions).toBe(general.diagnostics.executions);
  expect(lean.diagnostics.pruned).toBe(general.diagnostics.pruned);
}

describe('lean sequential enumeration', () => {
  it('matches the general runtime path by path on dice, burglary, a branching model, recursion and tensor parameters', async () => {
    expectSame(...(await both(dice, 4, 15)));
    expectSame(...(await both(burglary)));
    expectSame(...(await both(branchy, 2.5)));
    expectSame(...(await both(geometric)));
    const before = tf.memory().numTensors;
    expectSame(...(await both(tensorParams)));
    // the model's own parameter tensors stay (as on the general runtime); the runtime's scoring leaves nothing
    const [again] = await both(tensorParams);
    expect(again.diagnostics.runtime).toBe('lean');
    expect(tf.memory().numTensors - before).toBeLessThan(200);
  });

  it('a planted bug (a replayed choice loses its log mass) is caught by the same comparison', async () => {
    const proto = LeanEnumerator.prototype as unknown as { choose: (full: string, v: unknown, lp: number, r?: unknown) => Promise<unknown> };
    const choose = proto.choose;
    proto.choose = function (this: unknown, full, v, lp, r) {
      return choose.call(this, full, v, v === 1 ? 0 : lp, r);
    };
    try {
      const [lean, general] = await both(burglary);
      expect(() => expectSame(lean, general)).toThrow();
    } finally {
      proto.choose = choose;
    }
    expectSame(...(await both(burglary)));
  });

  it('falls back to the general runtime where it must, with the same answers and errors', async () => {
    // a plate: the general runtime runs it
    const plated = model(async ({ sample, observe, plate }) => {
      const z = await sample('z', Bernoulli(0.4));
      await plate('data', 3, () => observe('x', Normal(z, 1), [0.1, 0.9, 1.2]));
      return z;
    });
    const p = await infer(plated, { method: 'enumerate' });
    expect(p.diagnostics.runtime).toBe('general');
    // an observed array, and a NaN log density: general runtime, same answer / same error
    const arrayObs = model(async ({ sample, observe }) => {
      const z = await sample('z', Bernoulli(0.4));
      await observe('x', Normal(z, 1), [0.1, 0.9]);
    });
    expect((await infer(arrayObs, { method: 'enumerate' })).diagnostics.runtime).toBe('general');
    const nan = model(async ({ sample, factor }) => {
      const z = await sample('z', Bernoulli(0.4));
      await factor('f', z ? NaN : 0);
    });
    await expect(infer(nan, { method: 'enumerate' })).rejects.toThrow(/site "f": factor log-weight is NaN/);
    // a duplicate address on some paths only, and a runaway path, are named as before
    const dup = model(async ({ sample }) => {
      const a = await sample('a', Bernoulli(0.5));
      if (a) await sample('b', Bernoulli(0.5));
      await sample(a ? 'b' : 'c', Bernoulli(0.5));
    });
    await expect(infer(dup, { method: 'enumerate' })).rejects.toThrow(/site "b": duplicate address/);
    const runaway = model(async ({ sample }) => {
      for (let i = 0; ; i++) if (await sample(`x${i}`, Bernoulli(0.5))) return i;
    });
    await expect(infer(runaway, { method: 'enumerate', maxSites: 50 })).rejects.toThrow(/site "x50": one execution passed 50/);
    // a bug in the model's code: the general runtime's error, naming the model and site
    const buggy = model(async ({ sample }) => {
      const a = await sample('a', Bernoulli(0.5));
      if (a) (undefined as unknown as { x: number }).x;
    });
    await expect(infer(buggy, { method: 'enumerate' })).rejects.toThrow(/after site "a"/);
  });

  it('shared distribution objects: the factories return one object per parameter, and a node reuses the tables of the same built-in object only', async () => {
    // Categorical(probs) and Bernoulli(p) give the same object for the same contents; a buffer refilled, a new one
    const buf = [0.5, 0.5];
    const c = Categorical(buf);
    expect(Categorical(buf)).toBe(c);
    buf[0] = 0.9;
    buf[1] = 0.1;
    const c2 = Categorical(buf);
    expect(c2).not.toBe(c);
    expect(Math.exp(c2.logProb(0) as number)).toBeCloseTo(0.9, 12);
    expect(Math.exp(c.logProb(0) as number)).toBeCloseTo(0.5, 12);
    expect(Bernoulli(0.3)).toBe(Bernoulli(0.3));
    expect(Bernoulli(0.3)).not.toBe(Bernoulli(0.7));
    // an invalid number is refused every time (never remembered)
    expect(() => Bernoulli(1.5)).toThrow(/\[0, 1\]/);
    expect(() => Bernoulli(1.5)).toThrow(/\[0, 1\]/);
    // a user's own family (here a Categorical subclass) whose masses follow a table the model changes between
    // sites, one object at every site: each node is scored afresh, as on the general runtime
    const table = [0.5, 0.5];
    class Tilted extends CategoricalDistribution {
      override logProb(x: number): number {
        return Math.log(table[x]);
      }
    }
    const tilted = new Tilted([0.5, 0.5]);
    const drift = model(async ({ sample }) => {
      table[0] = 0.5;
      table[1] = 0.5;
      let s = 0;
      for (let i = 0; i < 4; i++) {
        const x = (await sample(`x${i}`, tilted)) as number;
        s += x;
        table[0] = 0.2 + 0.15 * s;
        table[1] = 0.8 - 0.15 * s;
      }
      return s;
    });
    const [lean, general] = await both(drift);
    expectSame(lean, general);
    // the answer itself, by hand: P(s = 4) = 0.5 * 0.65 * 0.5 * 0.35
    expect(lean.marginal((d) => d.returnValue).prob(4)).toBeCloseTo(0.5 * 0.65 * 0.5 * 0.35, 12);
  });

  it('stops on an aborted signal inside a long walk', async () => {
    const ctl = new AbortController();
    const run = infer(dice, { method: 'enumerate', signal: ctl.signal }, 7, 30);
    setTimeout(() => ctl.abort(new Error('stop now')), 20);
    await expect(run).rejects.toThrow(/stop now/);
  });

  it("strategy 'auto' picks parallel for a tensor-aware model and sequential otherwise, exact either way", async () => {
    const diceOps = model(async ({ sample, factor }, n: number, total: number) => {
      let sum: number = 0;
      for (let i = 0; i < n; i++) sum = ops.add(sum, ops.add(await sample(`d${i}`, Categorical(DIE)), 1)) as number;
      await factor('sum', ops.where(ops.eq(sum, total), 0, -Infinity));
    });
    const seq = await infer(dice, { method: 'enumerate' }, 4, 15);
    const auto = await infer(diceOps, { method: 'enumerate', strategy: 'auto' }, 4, 15);
    expect(auto.diagnostics.strategy).toBe('parallel');
    expect(Math.abs(auto.logZ - seq.logZ)).toBeLessThan(1e-9);
    // JS arithmetic on a draw: the vectorised run fails, sequential runs
    const js = await infer(dice, { method: 'enumerate', strategy: 'auto' }, 4, 15);
    expect(js.diagnostics.strategy).toBe('sequential');
    expect(String(js.diagnostics.autoReason)).toMatch(/ops\.add/);
    expectSame(js, await infer(dice, { method: 'enumerate', lean: false }, 4, 15));
    // JS truthiness on draws (burglary): silently constant in a vectorised run; the weight check sends it to sequential
    const b = await infer(burglary, { method: 'enumerate', strategy: 'auto' });
    expect(b.diagnostics.strategy).toBe('sequential');
    expect(String(b.diagnostics.autoReason)).toMatch(/log weight/);
    // an `if` on a draw that skips a site on some paths: the site-order check
    const skips = model(async ({ sample, observe }) => {
      const c = await sample('c', Bernoulli(0.4));
      if (c) await observe('o', Normal(0, 1), 0.3);
      await observe('p', Normal(ops.mul(c, 2), 1), 1.1);
    });
    const sk = await infer(skips, { method: 'enumerate', strategy: 'auto' });
    expect(sk.diagnostics.strategy).toBe('sequential');
    expect(String(sk.diagnostics.autoReason)).toMatch(/visits sites/);
    // more enumerated sites in the vectorised run than on the probe's path: an error, not wrong values past six dimensions
    const deeper = model(async ({ sample, factor }) => {
      const a = await sample('a', Bernoulli(0.5));
      let s: number = a;
      if (a) for (let i = 0; i < 7; i++) s = ops.add(s, await sample(`x${i}`, Bernoulli(0.5))) as number;
      await factor('f', ops.mul(s, 0.1));
    });
    await expect(infer(deeper, { method: 'enumerate', strategy: 'parallel' })).rejects.toThrow(/more enumerated sites in one vectorised run/);
    const dp = await infer(deeper, { method: 'enumerate', strategy: 'auto' });
    expect(dp.diagnostics.strategy).toBe('sequential');
    expect(dp.logZ).toBe((await infer(deeper, { method: 'enumerate' })).logZ);
  });

  it("planted: a JS condition on a draw makes plain 'parallel' wrong; 'auto' catches it by rescoring ruled-out paths", async () => {
    // `c ? ... : 0` is always the first branch when c is a tensor: the vectorised run rules out d != 0 for c = 0 too
    const sneaky = model(async ({ sample, factor }) => {
      const c = await sample('c', Bernoulli(0.5));
      const d = await sample('d', Categorical([0.25, 0.25, 0.25, 0.25]));
      await factor('f', c ? ops.where(ops.eq(d, 0), 0, -Infinity) : 0);
      return c;
    });
    const truth = await infer(sneaky, { method: 'enumerate' });
    const wrong = await infer(sneaky, { method: 'enumerate', strategy: 'parallel' });
    expect(Math.abs(wrong.logZ - truth.logZ)).toBeGreaterThan(0.1);
    const auto = await infer(sneaky, { method: 'enumerate', strategy: 'auto' });
    expect(auto.diagnostics.strategy).toBe('sequential');
    expect(String(auto.diagnostics.autoReason)).toMatch(/ruled out a path/);
    expect(auto.logZ).toBe(truth.logZ);
  });

  it('the parallel strategy rescored on the lean runtime matches sequential to 1e-9', async () => {
    const diceOps = model(async ({ sample, factor }, n: number, total: number) => {
      const first = ops.add(await sample('d0', Categorical(DIE)), 1);
      let sum = first;
      for (let i = 1; i < n; i++) sum = ops.add(sum, ops.add(await sample(`d${i}`, Categorical(DIE)), 1));
      await factor('sum', ops.where(ops.eq(sum, total), 0, -Infinity));
      return first;
    });
    const seq = await infer(dice, { method: 'enumerate' }, 4, 15);
    const par = await infer(diceOps, { method: 'enumerate', strategy: 'parallel' }, 4, 15);
    expect(Math.abs(par.logZ - seq.logZ)).toBeLessThan(1e-9);
    const a = seq.marginal((d) => d.returnValue);
    const b = par.marginal((d) => d.returnValue as number);
    for (let k = 1; k <= 6; k++) expect(Math.abs(a.prob(k) - b.prob(k))).toBeLessThan(1e-9);
  });
});
