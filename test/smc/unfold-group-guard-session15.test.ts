/**
 * A kernel that tests its state's type (GROUP2, session 15): in a grouped
 * run the state is a tensor, so `Number.isFinite(x)` or `typeof x ===
 * 'number'` is false without any hook firing, and the group draws from
 * another distribution than a particle's run would (same choices, same
 * return value). The check after a grouped run compares each site's log
 * density along three final particles' paths with the general runtime's;
 * a mismatch refuses the grouped run and the lean runtime answers. Z is
 * checked against the exact (Kalman) value over seeds; planted: the
 * density comparison disabled, the grouped run's wrong answer comes back.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import { model } from '../../src/core/model.js';
import { Bernoulli } from '../../src/distributions/bernoulli.js';
import { Normal } from '../../src/distributions/normal.js';
import { infer } from '../../src/index.js';
import { withoutDensityCheck } from './grouped-vs-lean.js';

beforeAll(async () => {
  await initBackend();
});

const ys = [0.3, -0.5, 1.2, 2.0, 4.1, 3.6, 0.4, -0.3, 0.8, 1.5, 0.9, 3.2];
const Q = 0.5;
const R = 0.7;

/** A random walk x_t ~ N(x_{t-1}, Q) from x0 ~ N(0, 1), y_t ~ N(x_t, R), whose kernel guards its state with `guard`. */
function guardedWalk(guard: (x: unknown) => number) {
  return model(async ({ sample, unfold }) => {
    const x0 = await sample('x0', Normal(0, 1));
    const xs = await unfold('walk', ys.length, x0, async ({ sample, observe }, t, x) => {
      const next = await sample('x', Normal(guard(x), Q));
      await observe('y', Normal(next, R), ys[t]);
      return next;
    });
    return xs[xs.length - 1];
  });
}

// a newcomer's guards: a non-finite (or non-number) state restarts at 0; on numbers neither guard ever fires
const finiteGuard = guardedWalk((x) => (Number.isFinite(x) ? (x as number) : 0));
const typeofGuard = guardedWalk((x) => (typeof x === 'number' ? x : 0));

/** The exact log Z of the walk (a Kalman filter). */
function kalmanLogZ(): number {
  let m = 0;
  let p = 1;
  let logZ = 0;
  for (const y of ys) {
    p += Q * Q;
    const s = p + R * R;
    logZ += -0.5 * Math.log(2 * Math.PI * s) - (0.5 * (y - m) ** 2) / s;
    const k = p / s;
    m += k * (y - m);
    p *= 1 - k;
  }
  return logZ;
}

/** Z-hat / Z over seeds: its z-score against 1, and the runtimes that ran. */
async function zScore(m: ReturnType<typeof guardedWalk>, seeds: number): Promise<{ z: number; runtimes: Set<string>; why: string }> {
  const exact = kalmanLogZ();
  const r: number[] = [];
  const runtimes = new Set<string>();
  let why = '';
  for (let seed = 0; seed < seeds; seed++) {
    const post = await infer(m, { method: 'smc', particles: 500, seed, batched: false });
    runtimes.add(String(post.diagnostics.runtime));
    why = String(post.diagnostics.notGrouped);
    r.push(Math.exp(post.logZ - exact));
    post.dispose();
  }
  const mean = r.reduce((a, b) => a + b, 0) / r.length;
  const sd = Math.sqrt(r.reduce((a, b) => a + (b - mean) ** 2, 0) / (r.length - 1));
  return { z: (mean - 1) / (sd / Math.sqrt(r.length)), runtimes, why };
}

describe('grouped unfold execution: a kernel that tests its state’s type', () => {
  for (const [name, m] of [['Number.isFinite(x)', finiteGuard], ["typeof x === 'number'", typeofGuard]] as const) {
    it(`${name}: the grouped run is refused (naming the site), the lean runtime's Z is unbiased; the density comparison disabled is caught`, async () => {
      const ok = await zScore(m, 15);
      expect([...ok.runtimes]).toEqual(['lean']);
      expect(ok.why).toMatch(/the log density at "walk\/0\/x" was .* in the grouped run/);
      expect(Math.abs(ok.z), `z = ${ok.z}`).toBeLessThan(4);
      // planted: the check after a grouped run compares no log densities
      const planted = await withoutDensityCheck(() => zScore(m, 15));
      expect([...planted.runtimes]).toEqual(['grouped']);
      expect(Math.abs(planted.z), `planted z = ${planted.z}`).toBeGreaterThan(4);
    }, 120_000);
  }

  it('a kernel that guards nothing still runs grouped, also after a discrete site before its unfold splits the group (its density is computed in each subgroup)', async () => {
    const split = model(async ({ sample, unfold }) => {
      const k = await sample('k', Bernoulli(0.5));
      const x0 = await sample('x0', Normal(k, 1));
      const xs = await unfold('walk', ys.length, x0, async ({ sample, observe }, t, x) => {
        const next = await sample('x', Normal(x, Q));
        await observe('y', Normal(next, R), ys[t]);
        return next;
      });
      return xs[xs.length - 1];
    });
    for (let seed = 0; seed < 3; seed++) {
      const post = await infer(split, { method: 'smc', particles: 200, seed, batched: false });
      expect(post.diagnostics.runtime, String(post.diagnostics.notGrouped)).toBe('grouped');
      post.dispose();
    }
  });
});
