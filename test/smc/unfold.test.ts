/**
 * `ctx.unfold` (core/unfold.ts): the same answers as the loop written with
 * `for` and `scope` on every engine where they are exact or seeded alike;
 * per-particle program SMC forks copies inside a step from its state
 * (`smc/program-lean.ts`), with Z unbiased against the exact value (a
 * planted fork given the state of the wrong step is caught) and far fewer
 * replayed sites; a kernel that takes effects on the model's own context,
 * one that changes its input state and a typed-array state are errors
 * naming the unfold and step under importance, SMC, enumeration and NUTS;
 * abort and a flat tensor count.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import { type Ctx, model } from '../../src/core/model.js';
import { Bernoulli } from '../../src/distributions/bernoulli.js';
import { Normal } from '../../src/distributions/normal.js';
import { infer } from '../../src/index.js';
import { type LeanRecord, LeanParticle, type StepRecord } from '../../src/infer/smc/program-lean.js';
import { type JumpWalk, jumpLogZ, jumpWalk, jumpWalkUnfold } from './jump-walk.js';

beforeAll(async () => {
  await initBackend();
});

const W: JumpWalk = { m0: 0, s0: 1, q: 0.5, r: 0.7, p: 0.15, sJ: 3, ys: [0.3, -0.5, 1.2, 2.0, 4.1, 3.6, 0.4, -0.3, 0.8, 1.5, 0.9, 3.2] };

/**
 * The jump walk with each step observing first and then moving (the state
 * x_t is the input of step t): a fork at step t's observation draws x_{t+1}
 * from its state, so a fork given the wrong state is seen in Z. It returns
 * nothing, so the check after a run (forks end as a run on their choices
 * does) cannot see such a fork: only Z can (with `returns`, the state).
 */
function observeFirstModel(returns: boolean) {
  return model(async ({ sample, unfold }, w: JumpWalk) => {
    const x0 = await sample('x0', Normal(w.m0, w.s0));
    const xs = await unfold('walk', w.ys.length, x0, async ({ sample, observe }, t, x) => {
      await observe('y', Normal(x, w.r), w.ys[t]);
      if (t === w.ys.length - 1) return x;
      return (await sample('j', Bernoulli(w.p))) === 1 ? sample('x', Normal(0, w.sJ)) : sample('x', Normal(x, w.q));
    });
    return returns ? xs[xs.length - 1] : undefined;
  });
}
const observeFirst = observeFirstModel(false);

/** A small discrete chain (exact by enumeration), written with unfold and with for + scope at the same addresses. */
const DATA = [1, 1, 0, 1];
async function chainStep({ sample, observe }: Pick<Ctx, 'sample' | 'observe'>, t: number, z: number): Promise<number> {
  const flip = await sample('flip', Bernoulli(t === 0 ? 0.5 : 0.2));
  const next = flip === 1 ? 1 - z : z;
  await observe('y', Bernoulli(next === 1 ? 0.8 : 0.3), DATA[t]!);
  return next;
}
const chainUnfold = model(async ({ unfold }) => {
  const zs = await unfold('walk', DATA.length, 0, chainStep);
  return zs[zs.length - 1];
});
const chainLoop = model(async (ctx) => {
  let z = 0;
  await ctx.scope('walk', async () => {
    for (let t = 0; t < DATA.length; t++) z = await ctx.scope(`${t}`, () => chainStep(ctx, t, z));
  });
  return z;
});

/** Z-hat / Z over seeds, and the z-score of its mean against 1 (Monte Carlo standard error of the mean). */
async function zScore(m: typeof observeFirst, seeds: number, skipped = false): Promise<number> {
  const exact = jumpLogZ(W);
  const r: number[] = [];
  for (let seed = 0; seed < seeds; seed++) {
    // (grouped: false: the lean runtime's forks are under test; grouped execution has test/smc/unfold-group.test.ts)
    const post = await infer(m, { method: 'smc', particles: 100, seed, grouped: false }, W);
    expect(post.diagnostics.runtime).toBe('lean');
    expect(post.diagnostics.forks).toBeGreaterThan(0);
    if (skipped) expect(post.diagnostics.skippedForks).toBeGreaterThan(0);
    r.push(Math.exp(post.logZ - exact));
    post.dispose();
  }
  const mean = r.reduce((a, b) => a + b, 0) / r.length;
  const sd = Math.sqrt(r.reduce((a, b) => a + (b - mean) ** 2, 0) / (r.length - 1));
  return (mean - 1) / (sd / Math.sqrt(r.length));
}

describe('unfold', () => {
  it('per-particle SMC forks inside a step: Z unbiased against the exact value; a fork given the state of the wrong step is caught', async () => {
    const z = await zScore(observeFirst, 40);
    expect(Math.abs(z), `z = ${z}`).toBeLessThan(4);
    // planted: a fork starts its step from the state of the step before (s_{t-1} for s_t)
    const copy = LeanParticle.prototype.copy;
    LeanParticle.prototype.copy = function (this: LeanParticle<unknown>, rng) {
      const c = copy.call(this, rng);
      const target = c.replayOf;
      if (target?.mark !== undefined) {
        const mark = target.mark;
        const records: LeanRecord[] = [];
        for (let r = target.head; r !== mark; r = r!.prev) records.push(r!);
        const wrong: StepRecord = { ...mark, state: mark.prevStep?.state ?? mark.state };
        // (next: false, so that every copy forks from the planted marker, also where its parent went on to the next step)
        c.replayOf = { head: target.head, checkpoint: target.checkpoint, mark: wrong, records: records.reverse(), parent: target.parent, next: false };
      }
      return c;
    };
    try {
      const planted = await zScore(observeFirst, 40);
      expect(Math.abs(planted), `planted z = ${planted}`).toBeGreaterThan(4);
      // where the model returns its state, the check after the run sees the planted forks too
      const returning = await infer(observeFirstModel(true), { method: 'smc', particles: 100, seed: 1 }, W);
      expect(returning.diagnostics.runtime).toBe('general');
      expect(String(returning.diagnostics.notLean)).toMatch(/forked inside an unfold step ended otherwise/);
      returning.dispose();
    } finally {
      LeanParticle.prototype.copy = copy;
    }
  });

  it('a copy whose parent went from its checkpoint straight to the next step starts at that step, replaying nothing: Z unbiased; the next step given the wrong state is caught', async () => {
    // the jump walk written with unfold observes last in each step: most forks start at the parent's next marker
    const z = await zScore(jumpWalkUnfold as unknown as typeof observeFirst, 40, true);
    expect(Math.abs(z), `z = ${z}`).toBeLessThan(4);
    // planted: the copies' next marker carries the state of the step before (s_{t-1} for s_t)
    const copy = LeanParticle.prototype.copy;
    const planted = new WeakMap<object, NonNullable<LeanParticle<unknown>['replayOf']>>();
    LeanParticle.prototype.copy = function (this: LeanParticle<unknown>, rng) {
      const c = copy.call(this, rng);
      const target = c.replayOf;
      if (target?.mark === undefined) return c;
      let wrong = planted.get(target);
      if (wrong === undefined) {
        let next: StepRecord | false | undefined;
        wrong = Object.defineProperty({ ...target }, 'next', {
          get() {
            if (next !== undefined) return next;
            let r = target.parent.head;
            while (r !== undefined && r.prev !== target.head) r = r.prev;
            const step = r as StepRecord | undefined;
            next = step !== undefined && step.kind === 3 && step.prevStep !== undefined ? { ...step, state: step.prevStep.state } : false;
            return next;
          },
          set() {},
        });
        planted.set(target, wrong);
      }
      c.replayOf = wrong;
      return c;
    };
    try {
      const bad = await zScore(jumpWalkUnfold as unknown as typeof observeFirst, 40, true);
      expect(Math.abs(bad), `planted z = ${bad}`).toBeGreaterThan(4);
    } finally {
      LeanParticle.prototype.copy = copy;
    }
  });

  it('the jump walk written with unfold gives the loop’s answers bit for bit (lean and general runtimes), with replayed sites O(N·T)', async () => {
    for (const seed of [1, 2]) {
      const loop = await infer(jumpWalk, { method: 'smc', particles: 200, seed }, W);
      const lean = await infer(jumpWalkUnfold, { method: 'smc', particles: 200, seed, grouped: false }, W);
      const general = await infer(jumpWalkUnfold, { method: 'smc', particles: 200, seed, lean: false }, W);
      expect(lean.diagnostics.runtime).toBe('lean');
      expect(general.diagnostics.runtime).toBe('general');
      expect(lean.logZ).toBe(loop.logZ);
      expect(general.logZ).toBe(loop.logZ);
      expect(lean.diagnostics.replays).toBe(loop.diagnostics.replays);
      // every copy forked; copies replayed at most a step's sites each (3), and each particle the site before the unfold once
      expect(lean.diagnostics.forks).toBe(lean.diagnostics.replays);
      expect(lean.diagnostics.replayedSites as number).toBeLessThanOrEqual(3 * (lean.diagnostics.replays as number) + 200);
      expect(loop.diagnostics.replayedSites as number).toBeGreaterThan(5 * (lean.diagnostics.replayedSites as number));
      const mean = (p: typeof lean) => p.moments('x11' in p.draws[0]!.values ? 'x11' : 'walk/11/x').mean;
      expect(mean(lean)).toBeCloseTo(mean(loop), 12);
      for (const p of [loop, lean, general]) p.dispose();
    }
  });

  it('a copy whose parent is stopped by an invalid parameter after its checkpoint forks by replay and is stopped too: the general runtime’s answers bit for bit', async () => {
    // after the observation, a particle far from the data meets an invalid scale (weight zero): no next marker
    const stops = model(async ({ sample, unfold }) => {
      const x0 = await sample('x0', Normal(0, 1));
      const xs = await unfold('walk', W.ys.length, x0, async ({ sample, observe }, t, x) => {
        const next = await sample('x', Normal(x, W.q));
        await observe('y', Normal(next, W.r), W.ys[t]!);
        return Math.abs(next - W.ys[t]!) > 1.6 ? (await sample('bad', Normal(0, -1))) : next;
      });
      return xs[xs.length - 1];
    });
    for (const seed of [5, 6]) {
      const lean = await infer(stops, { method: 'smc', particles: 150, seed, essThreshold: 1 });
      const general = await infer(stops, { method: 'smc', particles: 150, seed, essThreshold: 1, lean: false });
      expect(lean.diagnostics.runtime).toBe('lean');
      expect(lean.diagnostics.skippedForks as number).toBeGreaterThan(0);
      expect(lean.diagnostics.skippedForks as number).toBeLessThan(lean.diagnostics.forks as number);
      expect(lean.logZ).toBe(general.logZ);
      lean.dispose();
      general.dispose();
    }
  });

  it('lean forks give the general runtime’s answers bit for bit on an awkward program: observations before, between and after two unfolds, one in a scope, object states, a nested unfold, steps with 0-2 observations', async () => {
    const ys = [0.4, -0.2, 1.3, 0.8, 2.1, 1.7, 0.2, -0.6];
    const awkward = model(async ({ sample, observe, scope, unfold }) => {
      const mu = await sample('mu', Normal(0, 1));
      await observe('y0', Normal(mu, 1), 0.3);
      const first = await scope('a', () =>
        unfold('walk', 4, { x: mu, n: 0 }, async ({ sample, observe, unfold }, t, s) => {
          const x = await sample('x', Normal(s.x, 0.7));
          // a step observes 0, 1 or 2 times, as a draw says
          const k = (await sample('k', Bernoulli(0.5))) + (t % 2);
          for (let i = 0; i < k; i++) await observe(`y${i}`, Normal(x, 0.8), ys[t]! + i * 0.1);
          const inner = await unfold('sub', 2, 0, async ({ sample }, _u, c) => c + (await sample('b', Bernoulli(0.3))));
          return { x, n: s.n + k + inner[1]! };
        }),
      );
      await observe('mid', Normal(first[3]!.x, 1), 1.0);
      const second = await unfold('walk2', 3, first[3]!.x, async ({ sample, observe }, t, x) => {
        const next = await sample('x', Normal(x, 0.5));
        await observe('y', Normal(next, 0.6), ys[4 + t]!);
        return next;
      });
      await observe('end', Normal(second[2]!, 1), ys[7]!);
      return first[3]!.n;
    });
    for (const seed of [3, 4]) {
      const lean = await infer(awkward, { method: 'smc', particles: 150, seed, essThreshold: 1 });
      const general = await infer(awkward, { method: 'smc', particles: 150, seed, essThreshold: 1, lean: false });
      expect(lean.diagnostics.runtime, String(lean.diagnostics.notLean)).toBe('lean');
      expect(lean.diagnostics.forks).toBeGreaterThan(0);
      expect(lean.logZ).toBe(general.logZ);
      for (const a of ['mu', 'a/walk/3/x', 'a/walk/2/sub/1/b', 'walk2/2/x']) expect(lean.moments(a).mean, a).toBe(general.moments(a).mean);
      expect(lean.draws.map((d) => d.returnValue)).toEqual(general.draws.map((d) => d.returnValue));
      lean.dispose();
      general.dispose();
    }
  });

  it('a kernel that pushes to an array of the model’s (fine in a loop, wrong for forks) is caught: the general runtime runs, saying why', async () => {
    const pushing = model(async ({ sample, unfold }, w: JumpWalk) => {
      const path: number[] = [];
      const x0 = await sample('x0', Normal(w.m0, w.s0));
      await unfold('walk', w.ys.length, x0, async ({ sample, observe }, t, x) => {
        const next = await sample('x', Normal(x, w.q));
        path.push(next);
        await observe('y', Normal(next, w.r), w.ys[t]);
        return next;
      });
      return path;
    });
    const post = await infer(pushing, { method: 'smc', particles: 100, seed: 6, batched: false }, W);
    const general = await infer(pushing, { method: 'smc', particles: 100, seed: 6, batched: false, lean: false }, W);
    expect(post.diagnostics.runtime).toBe('general');
    expect(String(post.diagnostics.notLean)).toMatch(/forked inside an unfold step ended otherwise .*push to an array/);
    expect(post.logZ).toBe(general.logZ);
    for (const d of post.draws) expect(d.returnValue).toEqual(W.ys.map((_, t) => d.values[`walk/${t}/x`]));
    post.dispose();
    general.dispose();
  });

  it('a discrete chain: unfold and for + scope agree under enumeration (exact), importance and SMC (same seeds)', async () => {
    const a = await infer(chainUnfold, { method: 'enumerate' });
    const b = await infer(chainLoop, { method: 'enumerate' });
    expect(a.logZ).toBeCloseTo(b.logZ, 12);
    for (let t = 0; t < DATA.length; t++) expect(a.moments(`walk/${t}/flip`).mean).toBeCloseTo(b.moments(`walk/${t}/flip`).mean, 12);
    for (const method of ['importance', 'smc'] as const) {
      // (grouped: false: the lean runtime's answer is the loop's bit for bit; a grouped run draws on other streams)
      const u = await infer(chainUnfold, { method, particles: 300, seed: 5, ...(method === 'smc' ? { grouped: false } : {}) });
      const l = await infer(chainLoop, { method, particles: 300, seed: 5 });
      expect(u.logZ).toBe(l.logZ);
      expect(u.moments('walk/3/flip').mean).toBe(l.moments('walk/3/flip').mean);
      // and close to the exact value (8 standard errors of a 300-particle estimate is far wider than needed; the point is the same run)
      expect(Math.abs(u.logZ - a.logZ)).toBeLessThan(0.3);
      u.dispose();
      l.dispose();
    }
    a.dispose();
    b.dispose();
  });

  it('batched program SMC runs an unfold (tensor states) as the loop', async () => {
    const ys = [0.5, 1.1, 0.7, -0.2, 0.4];
    const step = async ({ sample, observe }: Pick<Ctx, 'sample' | 'observe'>, t: number, x: number | tf.Tensor) => {
      const next = await sample('x', Normal(x, 1));
      await observe('y', Normal(next, 0.5), ys[t]!);
      return next;
    };
    const u = model(async ({ unfold }) => (await unfold('rw', ys.length, 0 as number | tf.Tensor, step)).length);
    const l = model(async (ctx) => {
      let x: number | tf.Tensor = 0;
      await ctx.scope('rw', async () => {
        for (let t = 0; t < ys.length; t++) x = await ctx.scope(`${t}`, () => step(ctx, t, x));
      });
      return ys.length;
    });
    const pu = await infer(u, { method: 'smc', particles: 400, seed: 2, batched: true });
    const pl = await infer(l, { method: 'smc', particles: 400, seed: 2, batched: true });
    expect(pu.diagnostics.execution).toBe('batched');
    expect(pu.logZ).toBe(pl.logZ);
    expect(pu.moments('rw/4/x').mean).toBe(pl.moments('rw/4/x').mean);
    pu.dispose();
    pl.dispose();
  });

  it('NUTS runs an unfold as the loop (same draws, same seed)', async () => {
    const ys = [0.5, 1.1, 0.7];
    const rwStep = async ({ sample, observe }: Pick<Ctx, 'sample' | 'observe'>, t: number, x: number | tf.Tensor) => {
      const next = await sample('x', Normal(x, 1));
      await observe('y', Normal(next, 0.5), ys[t]!);
      return next;
    };
    const u = model(async ({ unfold }) => (await unfold('rw', ys.length, 0 as number | tf.Tensor, rwStep)).length);
    const l = model(async (ctx) => {
      let x: number | tf.Tensor = 0;
      await ctx.scope('rw', async () => {
        for (let t = 0; t < ys.length; t++) x = await ctx.scope(`${t}`, () => rwStep(ctx, t, x));
      });
      return ys.length;
    });
    const options = { method: 'nuts', chains: 1, warmup: 150, samples: 150, seed: 3 } as const;
    const pu = await infer(u, options);
    const pl = await infer(l, options);
    for (let t = 0; t < ys.length; t++) expect(pu.moments(`rw/${t}/x`).mean).toBe(pl.moments(`rw/${t}/x`).mean);
    pu.dispose();
    pl.dispose();
  });

  describe('errors name the unfold and step on every engine', () => {
    const ys = [0.2, 0.4, 0.1];
    const closure = model(async ({ sample, observe, unfold }) => {
      const x0 = await sample('x0', Normal(0, 1));
      return unfold('walk', ys.length, x0, async (_ctx, t, x) => {
        const next = await sample('x', Normal(x, 1));
        await observe('y', Normal(next, 1), ys[t]!);
        return next;
      });
    });
    const mutating = model(async ({ sample, unfold }) => {
      const x0 = await sample('x0', Normal(0, 1));
      return unfold('walk', ys.length, [x0], async ({ sample, observe }, t, xs) => {
        const next = await sample('x', Normal(xs[xs.length - 1]!, 1));
        await observe('y', Normal(next, 1), ys[t]!);
        xs.push(next);
        return xs;
      });
    });
    const typed = model(async ({ unfold }) => unfold('walk', 2, new Float64Array(2), (_ctx, _t, s) => s));
    const engines = [
      { method: 'importance', particles: 20, seed: 1 },
      { method: 'smc', particles: 20, seed: 1 },
      { method: 'nuts', chains: 1, warmup: 10, samples: 10, seed: 1 },
    ] as const;

    it('a kernel that uses the model’s own sample/observe', async () => {
      for (const options of engines) {
        await expect(infer(closure, options), options.method).rejects.toThrow(/unfold "walk" step 0: the kernel took an effect on a context other than the one it is given.*use the context the kernel is given: unfold\('walk'/);
      }
    });

    it('a kernel that changes its input state, and a typed-array state', async () => {
      for (const options of engines) {
        await expect(infer(mutating, options), options.method).rejects.toThrow(/unfold "walk" step 0: the kernel changed its input state .*return a new state/);
        await expect(infer(typed, options), options.method).rejects.toThrow(/unfold "walk", the initial state: the state holds a Float64Array, which cannot be frozen/);
      }
    });

    it('enumeration says the same of a discrete kernel on the closure’s context', async () => {
      const bad = model(async ({ sample, unfold }) => unfold('walk', 2, 0, async () => sample('z', Bernoulli(0.5))));
      await expect(infer(bad, { method: 'enumerate' })).rejects.toThrow(/unfold "walk" step 0: the kernel took an effect/);
    });
  });

  it('abort is honoured and the tensor count stays flat (lean and grouped execution)', async () => {
    for (const grouped of [false, true]) {
      const before = tf.memory().numTensors;
      const post = await infer(jumpWalkUnfold, { method: 'smc', particles: 300, seed: 4, grouped }, W);
      expect(post.diagnostics.runtime).toBe(grouped ? 'grouped' : 'lean');
      if (!grouped) expect(post.diagnostics.forks).toBeGreaterThan(0);
      post.dispose();
      expect(tf.memory().numTensors).toBe(before);
      const long = { ...W, ys: Array.from({ length: 400 }, (_, i) => Math.sin(i / 5) * 3) };
      const ctl = new AbortController();
      setTimeout(() => ctl.abort(new Error('stop now')), 30);
      await expect(infer(jumpWalkUnfold, { method: 'smc', particles: 2000, seed: 4, signal: ctl.signal, grouped }, long)).rejects.toThrow('stop now');
      expect(tf.memory().numTensors).toBe(before);
    }
  });
});
