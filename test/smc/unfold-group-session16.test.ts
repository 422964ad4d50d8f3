/**
 * Grouped execution of unfold kernels, session 16 (GROUP3).
 *
 * The code after `unfold` sees plain numbers: the end runs per particle, so
 * `===`, `typeof`, `Number.isFinite`, `filter` and `Math.max` on the states
 * unfold returns give a particle's run's answers and the run stays grouped
 * (before, those states were tensors of the group: the check after the run
 * refused it, or arithmetic gave up, and the lean runtime ran after a whole
 * grouped attempt).
 *
 * Structured states run grouped: a local linear trend with its state a
 * `{ level, trend }` object or a `[level, trend]` array, each leaf one
 * grouped column. Z is unbiased over seeds against the Kalman filter's exact
 * value and agrees with the lean runtime's posterior mean; planted (the
 * leaves swapped when the state is rebuilt for the kernel) the check refuses
 * every run, and with that check off Z's test fails.
 *
 * The early check: a kernel guarding its state with `Number.isFinite` is
 * refused after its first step (the lean runtime then runs), not after all
 * of them; a type test reached only late is still refused by the check after
 * the run.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import { model } from '../../src/core/model.js';
import { Bernoulli } from '../../src/distributions/bernoulli.js';
import { Normal } from '../../src/distributions/normal.js';
import { type Value, add } from '../../src/core/value.js';
import { infer } from '../../src/index.js';
import { GroupExecution, GroupedPopulation } from '../../src/infer/smc/unfold-group.js';
import { type Llt, lltArray, lltKalman, lltObject } from './llt.js';
import { groupedAgainstLean, meanSe, weighted, withoutDensityCheck } from './grouped-vs-lean.js';
import * as tf from '@tensorflow/tfjs-core';

beforeAll(async () => {
  await initBackend();
});

// a newcomer's model: a sticky two-regime switch with a continuous drift, counting the steps in regime 1 with ===
const YS = [0.1, 0.3, 2.2, 2.5, 1.9, 0.2, -0.1, 2.4, 2.1, 0.0];
const regime = model(async ({ unfold }) => {
  const zs = await unfold('t', YS.length, 0, async ({ sample, observe }, t, z: number) => {
    const stay = await sample('stay', Bernoulli(0.8));
    const next = stay ? z : 1 - z;
    const drift = await sample('d', Normal(next * 2, 0.3));
    await observe('y', Normal(drift, 0.4), YS[t]!);
    return next;
  });
  return zs.filter((z) => z === 1).length;
});

// a continuous walk whose code after the unfold tests and compares its states as numbers
const WS = [0.3, -0.5, 1.2, 2.0, 4.1, 3.6, 0.4, -0.3];
const walk = model(async ({ sample, unfold }) => {
  const x0 = await sample('x0', Normal(0, 1));
  const xs = await unfold('walk', WS.length, x0, async ({ sample, observe }, t, x) => {
    const next = await sample('x', Normal(x, 0.5));
    await observe('y', Normal(next, 0.7), WS[t]!);
    return next;
  });
  return { finite: xs.every(Number.isFinite), type: typeof xs[0], max: Math.max(...xs), above: xs.filter((x) => x > 1).length, x0Seen: x0 === xs[0] ? 'same' : typeof x0 };
});

describe('grouped unfold: the code after unfold sees plain numbers (session 16)', () => {
  it('=== on the returned states: the regime count stays grouped, is each particle’s own count, and agrees with the lean runtime over seeds', async () => {
    await groupedAgainstLean(
      12,
      (grouped, seed) => infer(regime, { method: 'smc', particles: 300, seed, batched: false, grouped }),
      (post, grouped) => {
        if (!grouped) return;
        // each draw's return is the count a particle's run of its choices gives
        for (const d of post.draws.slice(0, 50)) {
          let z = 0;
          let count = 0;
          for (let t = 0; t < YS.length; t++) {
            z = d.values[`t/${t}/stay`] === 1 ? z : 1 - z;
            if (z === 1) count++;
          }
          expect(d.returnValue).toBe(count);
        }
      },
    );
  }, 120_000);

  it('typeof, Number.isFinite, filter and Math.max on the returned states give each particle’s answers', async () => {
    for (let seed = 0; seed < 3; seed++) {
      const post = await infer(walk, { method: 'smc', particles: 200, seed, batched: false });
      expect(post.diagnostics.runtime, String(post.diagnostics.notGrouped)).toBe('grouped');
      for (const d of post.draws) {
        const xs = WS.map((_, t) => d.values[`walk/${t}/x`] as number);
        expect(d.returnValue).toEqual({ finite: true, type: 'number', max: Math.max(...xs), above: xs.filter((x) => x > 1).length, x0Seen: 'number' });
      }
      post.dispose();
    }
  }, 60_000);
});

// the local linear trend (`llt.ts`) on a short rising series
const LLT: Llt = { s0: 1, sb0: 0.5, ql: 0.4, qb: 0.15, r: 0.6, ys: [0.2, 0.9, 1.1, 2.3, 2.8, 4.1, 4.6, 5.2, 6.9, 7.1, 8.4, 8.8] };
const LY = LLT.ys;
const QL = LLT.ql;
const RL = LLT.r;

/** Z-hat / Z over seeds (z-score against 1), E[level_T] per seed, and the runtimes that ran. */
async function lltRuns(m: typeof lltObject, seeds: number, grouped = true): Promise<{ z: number; levels: number[]; runtimes: Set<string>; why: string }> {
  const exact = lltKalman(LLT);
  const r: number[] = [];
  const levels: number[] = [];
  const runtimes = new Set<string>();
  let why = '';
  for (let seed = 0; seed < seeds; seed++) {
    const post = await infer(m, { method: 'smc', particles: 200, seed, batched: false, grouped }, LLT);
    runtimes.add(String(post.diagnostics.runtime));
    why = String(post.diagnostics.notGrouped);
    r.push(Math.exp(post.logZ - exact.logZ));
    levels.push(weighted(post.draws, (d) => d.returnValue as number));
    post.dispose();
  }
  const { mean, se } = meanSe(r);
  return { z: (mean - 1) / se, levels, runtimes, why };
}

describe('grouped unfold: structured states (session 16)', () => {
  it('a { level, trend } and a [level, trend] state run grouped: Z unbiased against the Kalman filter; E[level_T] agrees with the lean runtime; leaves swapped are caught', async () => {
    const exact = lltKalman(LLT);
    for (const m of [lltObject, lltArray]) {
      const g = await lltRuns(m, 30);
      expect([...g.runtimes], g.why).toEqual(['grouped']);
      expect(Math.abs(g.z), `z = ${g.z}`).toBeLessThan(4);
      const l = await lltRuns(m, 30, false);
      expect([...l.runtimes]).toEqual(['lean']);
      const a = meanSe(g.levels);
      const b = meanSe(l.levels);
      const z = (a.mean - b.mean) / Math.hypot(a.se, b.se);
      expect(Math.abs(z), `grouped ${a.mean} vs lean ${b.mean} (Kalman ${exact.level})`).toBeLessThan(4);
    }
    // planted: the state rebuilt for the kernel with its two leaves swapped
    const proto = GroupExecution.prototype as unknown as { stateOf(cur: Float64Array[], layout: unknown): unknown };
    const stateOf = proto.stateOf;
    proto.stateOf = function (this: unknown, cur, layout) {
      return stateOf.call(this, cur.length === 2 ? [cur[1]!, cur[0]!] : cur, layout);
    };
    try {
      const refused = await lltRuns(lltObject, 3);
      expect([...refused.runtimes]).toEqual(['lean']);
      expect(refused.why).toMatch(/the log density at "llt\/\d+\/[bl]"/);
      const planted = await withoutDensityCheck(() => lltRuns(lltObject, 30));
      expect([...planted.runtimes]).toEqual(['grouped']);
      expect(Math.abs(planted.z), `planted z = ${planted.z}`).toBeGreaterThan(4);
    } finally {
      proto.stateOf = stateOf;
    }
  }, 300_000);

  it('a { z, d } state of a discrete regime and a continuous drift splits the group by z (the kernel branches on a number) and agrees with the lean runtime', async () => {
    const mixed = model(async ({ sample, unfold }) => {
      const d0 = await sample('d0', Normal(0, 1));
      const xs = await unfold('t', YS.length, { z: 0, d: d0 }, async ({ sample, observe }, t, s: { z: number; d: Value }) => {
        const stay = await sample('stay', Bernoulli(0.8));
        const z = stay ? s.z : 1 - s.z;
        const d = await sample('d', Normal(add(s.d, z === 1 ? 0.5 : -0.5), 0.4));
        await observe('y', Normal(d, 0.5), YS[t]!);
        return { z, d };
      });
      return xs.filter((s) => s.z === 1).length;
    });
    await groupedAgainstLean(
      12,
      (grouped, seed) => infer(mixed, { method: 'smc', particles: 300, seed, batched: false, grouped }),
      (post, grouped) => {
        if (grouped) expect((post.diagnostics.grouped as { splits: number }).splits).toBeGreaterThan(YS.length);
      },
    );
  }, 120_000);

  it('each draw’s returned states are plain frozen objects of its own values; the tensor count stays flat; other layouts fall back, saying why', async () => {
    const states = model(async ({ sample, unfold }) => {
      const l0 = await sample('l0', Normal(0, 1));
      return unfold('llt', 4, { level: l0 as Value, trend: 0 as Value }, async ({ sample, observe }, t, s: { level: Value; trend: Value }) => {
        const level = await sample('l', Normal(add(s.level, s.trend), QL));
        await observe('y', Normal(level, RL), LY[t]!);
        return { level, trend: s.trend };
      });
    });
    const before = tf.memory().numTensors;
    const post = await infer(states, { method: 'smc', particles: 100, seed: 2, batched: false });
    expect(post.diagnostics.runtime, String(post.diagnostics.notGrouped)).toBe('grouped');
    for (const d of post.draws) {
      const xs = d.returnValue as unknown as { level: number; trend: number }[];
      expect(Object.isFrozen(xs[0])).toBe(true);
      expect(xs).toEqual([0, 1, 2, 3].map((t) => ({ level: d.values[`llt/${t}/l`], trend: 0 })));
    }
    post.dispose();
    expect(tf.memory().numTensors).toBe(before);
    // a nested state, and a kernel that changes its state's keys
    const nested = model(async ({ unfold }) =>
      unfold('n', 2, { a: { b: 0 } }, async ({ sample, observe }, t, s) => {
        await observe('y', Normal(await sample('x', Normal(0, 1)), 1), t);
        return s;
      }),
    );
    const rekeyed = model(async ({ unfold }) =>
      unfold('r', 2, { a: 0 } as Record<string, unknown>, async ({ sample, observe }, t) => {
        const x = await sample('x', Normal(0, 1));
        await observe('y', Normal(x, 1), t);
        return { b: x };
      }),
    );
    for (const [m, why] of [
      [nested, /not a number, or a small array or object of numbers/],
      [rekeyed, /not of the initial state’s layout/],
    ] as const) {
      const p = await infer(m as typeof states, { method: 'smc', particles: 50, seed: 1, batched: false });
      expect(p.diagnostics.runtime).toBe('lean');
      expect(String(p.diagnostics.notGrouped)).toMatch(why);
      p.dispose();
    }
  }, 60_000);
});

/** A walk whose kernel, from step `from` on, restarts a state that is not a finite number at 0 (a tensor in a group). */
function guardedFrom(from: number) {
  return model(async ({ sample, unfold }) => {
    const x0 = await sample('x0', Normal(0, 1));
    const xs = await unfold('walk', WS.length + 4, x0, async ({ sample, observe }, t, x) => {
      const next = await sample('x', Normal(t >= from && !Number.isFinite(x) ? 0 : x, 0.5));
      await observe('y', Normal(next, 0.7), WS[t % WS.length]!);
      return next;
    });
    return xs[xs.length - 1];
  });
}

/** The runtime that ran `m`, why not grouped, and how many grouped phases ran before. */
async function phasesRun(m: ReturnType<typeof guardedFrom>): Promise<{ runtime: string; why: string; phases: number }> {
  const proto = GroupedPopulation.prototype;
  const phase = proto.phase;
  let phases = 0;
  proto.phase = function (this: GroupedPopulation<unknown>, t: number) {
    phases++;
    return phase.call(this, t);
  };
  try {
    const post = await infer(m, { method: 'smc', particles: 200, seed: 4, batched: false });
    const out = { runtime: String(post.diagnostics.runtime), why: String(post.diagnostics.notGrouped), phases };
    post.dispose();
    return out;
  } finally {
    proto.phase = phase;
  }
}

describe('grouped unfold: the early check (session 16)', () => {
  it('a kernel testing its state’s type from its first step is refused after that step; one testing it from step 6 on is refused by the check after the run', async () => {
    const early = await phasesRun(guardedFrom(0));
    expect(early.runtime).toBe('lean');
    expect(early.why).toMatch(/the log density at "walk\/0\/x"/);
    expect(early.phases).toBe(1);
    const late = await phasesRun(guardedFrom(6));
    expect(late.runtime).toBe('lean');
    expect(late.why).toMatch(/the log density at "walk\/\d+\/x"/);
    expect(late.phases).toBe(WS.length + 4 + 1);
    // a kernel without a type test passes the early checks (after steps 1 and 4) and runs grouped
    const none = await phasesRun(guardedFrom(1000));
    expect(none.runtime, none.why).toBe('grouped');
  }, 60_000);
});
