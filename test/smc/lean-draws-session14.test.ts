/**
 * Lean program SMC's draws make their values when first read (JUMP, session
 * 14): the run checks each final particle's addresses against the last
 * layout (`LeanRun.checkValues`, walking only up to a record already checked:
 * final particles share most of their pasts) and builds the record of every
 * site only when `draw.values` is read.
 *
 * Checked: every draw's values equal the general runtime's (same seed, both
 * resampling settings, a model whose sites depend on a draw after a shared
 * unfold past); a duplicate address on one branch after that shared past is
 * still found, and named as the general runtime names it; spreading a draw
 * keeps its values.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import { model } from '../../src/core/model.js';
import { Bernoulli } from '../../src/distributions/bernoulli.js';
import { Normal } from '../../src/distributions/normal.js';
import { infer } from '../../src/infer/registry.js';
import '../../src/infer/smc/program.js';

beforeAll(async () => {
  await initBackend();
});

const YS = Array.from({ length: 20 }, (_, t) => Math.cos(t / 3) + ((t * 7) % 5) / 10);

/** A walk written with `unfold`, then a site whose address depends on a draw; with `dup`, one branch reuses "x0". */
function tailed(dup: boolean) {
  return model(async ({ sample, observe, unfold }, ys: number[]) => {
    const x0 = await sample('x0', Normal(0, 1));
    const xs = await unfold('walk', ys.length, x0, async ({ sample, observe }, t, x) => {
      const next = t === 0 ? x : await sample('x', Normal(x, 0.5));
      await observe('y', Normal(next, 1), ys[t]);
      return next;
    });
    const last = xs[xs.length - 1]!;
    const z = await sample('z', Bernoulli(0.5));
    const tail = z === 1 ? await sample(dup ? 'x0' : 'a', Normal(last, 1)) : await sample('b', Normal(last, 2));
    await observe('end', Normal(tail, 1), 0.3);
    return tail;
  });
}

/** The same walk as a plain loop (no forks, so no retrace after the run: the check of the draws is what finds a duplicate). */
function plainTailed(dup: boolean) {
  return model(async ({ sample, observe }, ys: number[]) => {
    let x = await sample('x0', Normal(0, 1));
    for (let t = 0; t < ys.length; t++) {
      if (t > 0) x = await sample(`x${t}`, Normal(x, 0.5));
      await observe(`y${t}`, Normal(x, 1), ys[t]);
    }
    const z = await sample('z', Bernoulli(0.3));
    const tail = z === 1 ? await sample(dup ? 'x0' : 'a', Normal(x, 1)) : await sample('b', Normal(x, 2));
    await observe('end', Normal(tail, 1), 0.3);
    return tail;
  });
}

describe('lean program SMC: draws whose values are made when read', () => {
  it('every draw equals the general runtime\u2019s (values, return value, weight), both resampling settings, seeds 0-2', async () => {
    for (const m of [tailed(false), plainTailed(false)]) for (let seed = 0; seed < 3; seed++) {
      for (const essThreshold of [undefined, 1]) {
        const out = [];
        for (const lean of [true, false]) {
          const post = await infer(m, { method: 'smc', particles: 200, seed, batched: false, lean, ...(essThreshold === undefined ? {} : { essThreshold }) }, YS);
          expect(post.diagnostics.runtime).toBe(lean ? 'lean' : 'general');
          out.push(post.draws.map((d) => ({ values: { ...d.values }, returnValue: d.returnValue, logWeight: d.logWeight })));
          post.dispose();
        }
        const [lean, general] = out;
        // both branches are among the draws (the address that depends on z is checked on both)
        expect(lean!.some((d) => 'a' in d.values) && lean!.some((d) => 'b' in d.values)).toBe(true);
        expect(lean).toEqual(general);
      }
    }
  });

  it('a duplicate address on one branch after a shared past is found and named as the general runtime names it (with unfold and as a plain loop)', async () => {
    // (planted, a walk to a checked record that skips the address comparison: the plain loop's duplicate is missed at seeds 0-2)
    for (const m of [tailed(true), plainTailed(true)]) {
      for (let seed = 0; seed < 3; seed++) {
        for (const lean of [true, false]) {
          await expect(infer(m, { method: 'smc', particles: 200, seed, batched: false, lean }, YS)).rejects.toThrow(/"x0".*(twice|duplicate|already)/i);
        }
      }
    }
  });

  it('a spread draw keeps its values', async () => {
    const post = await infer(tailed(false), { method: 'smc', particles: 50, seed: 4, batched: false }, YS);
    const d = post.draws[0]!;
    const copy = { ...d };
    expect(copy.values).toEqual(d.values);
    expect(Object.keys(copy.values)[0]).toBe('x0');
    post.dispose();
  });
});
