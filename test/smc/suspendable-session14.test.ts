/**
 * TIDY, session 14: how program SMC drops an execution (`suspendable.ts`,
 * the general and batched runtimes). A healthy dropped particle is still
 * unwound (its `finally` blocks run); one whose execution failed, whose body
 * returned, or that was killed while it ran is abandoned: no rejection lands
 * in a promise the model dropped (an `array.forEach(async ...)` callback,
 * which would end a Node process as an unhandled rejection) and no model run
 * is left counted in flight (the nested-infer queue reads that count). Each
 * case fails on the session-start code (its figures are in the titles), and
 * a planted kill that always rejects, as before, fails the first.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import { Normal, infer, model } from '../../src/index.js';
import { modelRunState } from '../../src/core/model-body.js';
import { type Model, executeMarked, lateEffects } from '../../src/core/model.js';
import { KILLED, SuspendableRun } from '../../src/infer/smc/suspendable.js';
import { countUnhandled } from '../helpers/unhandled.js';

beforeAll(async () => {
  await initBackend('cpu');
});

const ys = [1.2, 0.4, 2.1, 1.5, 0.9];

/** Observations in dropped `forEach` callbacks, then one the body awaits: the body waits for good on a checkpoint beside the first. */
const forEachThenAwait = model(async ({ sample, observe }) => {
  const mu = await sample('mu', Normal(0, 1));
  ys.forEach(async (y, i) => {
    await observe(`y${i}`, Normal(mu, 1), y);
  });
  await observe('z', Normal(mu, 1), 0.5);
  return mu;
});

/** The kill of the session-start code, planted: the pending checkpoint always rejects with `KILLED`. */
function sessionStartKill(this: SuspendableRun): void {
  const self = this as unknown as { wake?: (kill: boolean) => void };
  const wake = self.wake;
  self.wake = undefined;
  wake?.(true);
}

const runtimes = [{ name: 'lean', opts: {} }, { name: 'general', opts: { lean: false } }, { name: 'batched', opts: { batched: true } }] as const;

/** Each runtime's unhandled rejections and change in the count of runs in flight for `forEachThenAwait` (each run refused by name). */
async function refusals(): Promise<{ name: string; unhandled: number; inFlight: number }[]> {
  const out = [];
  for (const { name, opts } of runtimes) {
    const before = modelRunState().inFlight;
    const unhandled = await countUnhandled(async () => {
      await expect(infer(forEachThenAwait, { method: 'smc', particles: 300, seed: 1, ...opts }), name).rejects.toThrow(/forEach\(async \.\.\.\)/);
    });
    out.push({ name, unhandled, inFlight: modelRunState().inFlight - before });
  }
  return out;
}

describe('a dropped execution is abandoned where unwinding could reach a promise the model dropped', () => {
  it('the forced-batched case reduced to one execution: a kill that lands after the body returned, before resume hears of it, leaves nothing unhandled (was 1 every time: the pending checkpoint rejected inside the dropped forEach callback)', async () => {
    /** One execution suspended at its observations, killed from the reaction to its first arrival (`delay` ticks later). */
    class Run extends SuspendableRun {
      go(m: Model<[], number>): Promise<void> {
        const handler = { postprocess: (msg: { type: string; observed: boolean; address: string }) => (msg.type === 'sample' && msg.observed ? this.suspend(msg.address) : undefined) };
        return this.resume(() => executeMarked(m, { handlers: [handler] }, this.mark).then(() => undefined));
      }
    }
    const dropped = model(async ({ observe }) => {
      [0.3].forEach(async (y) => {
        await observe('y', Normal(0, 1), y);
      });
      return 0;
    });
    const killedAfter = (delay: number) =>
      countUnhandled(async () => {
        const r = new Run();
        await new Promise<void>((done) => {
          r.go(dropped).then(
            async () => {
              for (let k = 0; k < delay; k++) await null;
              r.kill();
              done();
            },
            () => done(),
          );
        });
      }, 20);
    const before = modelRunState().inFlight;
    for (const delay of [0, 1, 3]) expect(await killedAfter(delay), `delay ${delay}`).toBe(0);
    expect(modelRunState().inFlight).toBe(before);
    // planted: the session-start kill, with the execution's own guard (session 15: an effect that fails after its
    // run settled is left unsettled) switched off too; either one alone keeps the count at 0
    const kill = SuspendableRun.prototype.kill;
    SuspendableRun.prototype.kill = sessionStartKill;
    try {
      expect(await killedAfter(0)).toBe(0);
      lateEffects.abandon = false;
      expect(await killedAfter(0)).toBe(1);
    } finally {
      SuspendableRun.prototype.kill = kill;
      lateEffects.abandon = true;
    }
  });

  it('forEach(async observe) then an awaited observe: refused on every runtime with nothing unhandled and no run left in flight (was, general runtime: 300 unhandled "particle killed" rejections and 300-303 runs left in flight; batched: 1 and 1 in some runs); planted: a kill that always rejects leaves rejections unhandled', async () => {
    for (const r of await refusals()) {
      expect(r.unhandled, r.name).toBe(0);
      expect(r.inFlight, r.name).toBe(0);
    }
    // planted: the session-start kill (the pending checkpoint always rejects with KILLED)
    const kill = SuspendableRun.prototype.kill;
    SuspendableRun.prototype.kill = sessionStartKill;
    try {
      const general = (await refusals()).find((r) => r.name === 'general')!;
      expect(general.unhandled).toBeGreaterThan(0);
    } finally {
      SuspendableRun.prototype.kill = kill;
    }
    expect(KILLED.description).toBe('particle killed');
  });

  it('a healthy particle that resampling drops is still unwound on the general runtime: every execution started runs its finally block, and none is left in flight; planted: a kill that abandons every particle fails it', async () => {
    let started = 0;
    let finished = 0;
    const walk = model(async ({ sample, observe }) => {
      started++;
      try {
        let x = await sample('x0', Normal(0, 1));
        for (const [t, y] of ys.entries()) {
          x = await sample(`x${t + 1}`, Normal(x, 1));
          await observe(`y${t}`, Normal(x, 0.5), y);
        }
        return x;
      } finally {
        finished++;
      }
    });
    const run = async () => {
      started = finished = 0;
      const before = modelRunState().inFlight;
      const post = await infer(walk, { method: 'smc', particles: 200, seed: 2, essThreshold: 1, batched: false, lean: false });
      expect(post.diagnostics.runtime).toBe('general');
      post.dispose();
      await new Promise((r) => setTimeout(r, 20));
      return { started, finished, inFlight: modelRunState().inFlight - before };
    };
    const r = await run();
    // (copies replay their parent's prefix: more executions start than particles; each one dropped unwinds)
    expect(r.started).toBeGreaterThan(200);
    expect(r.finished).toBe(r.started);
    expect(r.inFlight).toBe(0);
    // planted: every dropped particle abandoned (its pending checkpoint never settled), as the lean runtime does
    const kill = SuspendableRun.prototype.kill;
    SuspendableRun.prototype.kill = function (this: SuspendableRun) {
      (this as unknown as { wake?: unknown }).wake = undefined;
    };
    try {
      const planted = await run();
      expect(planted.finished).toBeLessThan(planted.started);
    } finally {
      SuspendableRun.prototype.kill = kill;
    }
  });

  it('particles killed while they run (a particle beside them failed; the general runtime advances 16 at once) leave no run in flight (was: each left counted for good, 12 in a run here)', async () => {
    // each step waits on a timer (the model's own async work), so the failing particle's chunk is mid-step when the run ends
    const tick = () => new Promise((r) => setTimeout(r, 1));
    const walk = model(async ({ sample, observe }) => {
      let x = await sample('x0', Normal(0, 1));
      for (let t = 0; t < 5; t++) {
        await tick();
        if (t === 2 && x > 1) throw new Error('the model fails here');
        x = await sample(`x${t + 1}`, Normal(x, 1));
        await observe(`y${t}`, Normal(x, 0.5), ys[t]!);
      }
      return x;
    });
    const before = modelRunState().inFlight;
    const unhandled = await countUnhandled(async () => {
      await expect(infer(walk, { method: 'smc', particles: 64, seed: 3, batched: false, lean: false })).rejects.toThrow(/the model fails here/);
      await new Promise((r) => setTimeout(r, 30));
    });
    expect(unhandled).toBe(0);
    expect(modelRunState().inFlight - before).toBe(0);
  });
});
