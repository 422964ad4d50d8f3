/**
 * PLAIN, session 17: per-particle program SMC on plain programs (no
 * `unfold`), whose copies replay the model from its start. Copies replay one
 * at a time (interleaved site by site they cost more), widened to many at
 * once for the rest of the run when a replay waits on something outside the
 * run; a copy's replay source is a list of shared chunks and a short tail
 * (`ReplaySource`), not one array per parent. Tested: the same answers as the
 * general runtime with lineages longer than several chunks and an unfold
 * between plain parts (planted: a chunk boundary that skips a record); a
 * model that waits on the event loop between sites gives the answers it gives
 * without the waits, and its copies' waits overlap (planted: no widening).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import { model } from '../../src/core/model.js';
import { Bernoulli } from '../../src/distributions/bernoulli.js';
import { Normal } from '../../src/distributions/normal.js';
import { infer } from '../../src/infer/registry.js';
import { LeanParticle, LeanRun } from '../../src/infer/smc/program-lean.js';
import '../../src/infer/smc/program.js';

beforeAll(async () => {
  await initBackend();
});

/** Observations for up to 70 steps. */
const YS = Array.from({ length: 70 }, (_, t) => Math.sin(t / 5) * 2 + (t % 7) * 0.1);

/** A plain jump walk of 40 steps (~120 records: two chunks), an unfold of 10 steps, then 20 plain steps. */
const mixed = model(async ({ sample, observe, unfold }, ys: number[]) => {
  let x = await sample('x0', Normal(0, 1));
  for (let t = 0; t < 40; t++) {
    if (t > 0) x = (await sample(`j${t}`, Bernoulli(0.1))) === 1 ? await sample(`x${t}`, Normal(0, 5)) : await sample(`x${t}`, Normal(x, 0.5));
    await observe(`y${t}`, Normal(x, 1), ys[t]!);
  }
  const xs = await unfold('walk', 10, x, async ({ sample, observe }, t, s) => {
    const n = await sample('x', Normal(s, 0.5));
    await observe('y', Normal(n, 1), ys[40 + t]!);
    return n;
  });
  x = xs[xs.length - 1]!;
  for (let t = 50; t < 70; t++) {
    x = await sample(`x${t}`, Normal(x, 0.5));
    await observe(`y${t}`, Normal(x, 1), ys[t]!);
  }
  return x;
});

/** log Z and every draw (weights, return values, values) as one string. */
async function answers(m: typeof mixed, options: Record<string, unknown>): Promise<{ text: string; runtime: unknown }> {
  const post = await infer(m, { method: 'smc', particles: 60, batched: false, grouped: false, ...options }, YS);
  const text = JSON.stringify([post.logZ, post.draws.map((d) => [d.logWeight, d.returnValue, d.values])]);
  const runtime = post.diagnostics.runtime;
  post.dispose();
  return { text, runtime };
}

describe('PLAIN session 17: plain-program copies', () => {
  it('replay sources in shared chunks give the general runtime\u2019s answers bit for bit across chunk boundaries and an unfold; a planted boundary that skips a record does not', async () => {
    for (const essThreshold of [0.5, 1]) {
      for (const seed of [0, 1]) {
        const lean = await answers(mixed, { seed, essThreshold });
        const general = await answers(mixed, { seed, essThreshold, lean: false });
        expect(lean.runtime).toBe('lean');
        expect(general.runtime).toBe('general');
        expect(lean.text).toBe(general.text);
      }
    }
    // planted: the first record of every chunk after the first is skipped
    const proto = LeanParticle.prototype as unknown as { nextPart(): unknown };
    const nextPart = proto.nextPart;
    proto.nextPart = function (this: { next: number }) {
      nextPart.call(this);
      this.next = 1;
      return (this as unknown as { replay: unknown[] }).replay[0 + 1];
    };
    try {
      const lean = await answers(mixed, { seed: 0, essThreshold: 1 });
      expect(lean.runtime).toBe('general');
    } finally {
      proto.nextPart = nextPart;
    }
  });

  it('a model that waits on the event loop between sites gives the answers it gives without the waits, and its copies\u2019 waits overlap; planted: copies that never replay together', async () => {
    /** The walk with a `setImmediate` wait before each observation when `wait`. */
    const walk = model(async ({ sample, observe }, a: { ys: number[]; wait: boolean }) => {
      let x = await sample('x0', Normal(0, 1));
      for (let t = 0; t < a.ys.length; t++) {
        if (t > 0) x = await sample(`x${t}`, Normal(x, 1));
        if (a.wait) await new Promise((resolve) => setImmediate(resolve));
        await observe(`y${t}`, Normal(x, 1), a.ys[t]!);
      }
      return x;
    });
    const ys = YS.slice(0, 20);
    /** The run's answers and the event-loop turns it took (a self-rescheduling setImmediate counts them). */
    const run = async (wait: boolean): Promise<{ text: string; turns: number; replays: number }> => {
      let turns = 0;
      let on = true;
      const tick = (): void => {
        turns++;
        if (on) setImmediate(tick);
      };
      setImmediate(tick);
      const post = await infer(walk, { method: 'smc', particles: 100, batched: false, essThreshold: 1, seed: 3 }, { ys, wait });
      on = false;
      expect(post.diagnostics.runtime).toBe('lean');
      const text = JSON.stringify([post.logZ, post.draws.map((d) => [d.logWeight, d.returnValue, d.values])]);
      const replays = post.diagnostics.replays as number;
      post.dispose();
      return { text, turns, replays };
    };
    const pure = await run(false);
    const waiting = await run(true);
    expect(waiting.text).toBe(pure.text);
    // each step's copies replay their waits together: about one turn per replayed wait of the longest replay,
    // sum_t t over the 20 steps (269 measured, with the pacer's yields), against one turn per wait of every copy
    // one after another (5401 planted); the bound leaves room for a pacer's yield every 10 ms of a slow machine's wall
    // time (a turn each)
    expect(waiting.replays).toBeGreaterThan(300);
    expect(waiting.turns, `turns ${waiting.turns}, replays ${waiting.replays}`).toBeLessThan(1500);
    const stalled = LeanRun.prototype.replayStalled;
    LeanRun.prototype.replayStalled = function () {};
    try {
      const planted = await run(true);
      expect(planted.text).toBe(pure.text);
      expect(planted.turns).toBeGreaterThan(3000);
    } finally {
      LeanRun.prototype.replayStalled = stalled;
    }
  });
});
