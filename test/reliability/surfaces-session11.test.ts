/**
 * SURFACES, session 11: the `infer` queue's nested calls where the runtime
 * has no `AsyncLocalStorage` (a browser), simulated in Node by an async
 * context module that answers "none", as `backend/async-context.ts` does in
 * a page.
 *
 * Each test names what it did on the code before.
 */
import { beforeAll, describe, expect, test, vi } from 'vitest';

vi.mock('../../src/backend/async-context.js', () => ({ asyncContext: () => async () => null }));

import { initBackend } from '../../src/backend/select.js';
import { tidyAsync } from '../../src/backend/autodiff.js';
import { Bernoulli, Normal, type Posterior, infer, model } from '../../src/index.js';
import { inferenceCallsPending, setSelfWaitBoundMs } from '../../src/infer/one-at-a-time.js';

beforeAll(async () => {
  await initBackend('cpu');
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyPosterior = Posterior<any, any>;

/** `p`, or 'still waiting' after `ms`: a deadlock fails the test instead of hanging the suite. */
function bounded<T>(p: Promise<T>, ms: number): Promise<T | 'still waiting'> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<'still waiting'>((r) => (timer = setTimeout(() => r('still waiting'), ms)));
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

// On the old code (every lock request waited its turn) each outer call waited for good: 'still waiting'
// under importance, and the queue stayed held for the rest; the nesting holders below waited on themselves.
describe('a nested infer where no async context follows it (a browser)', () => {
  const inner = model(async ({ sample, observe }) => {
    const p = await sample('p', Normal(0, 1));
    await observe('y', Normal(p, 1), 0.5);
  }, { name: 'inner' });
  const innerMean = async (): Promise<number> => {
    const post = await infer(inner, { method: 'importance', particles: 20, seed: 3 });
    const m = post.moments('p').mean;
    post.dispose();
    return m;
  };
  const outer = (seen: number[]) =>
    model(async ({ sample }) => {
      await sample('a', Normal(0, 1));
      seen.push(await innerMean());
    }, { name: 'outer' });
  const OPTIONS: Record<string, object> = {
    importance: { method: 'importance', particles: 3, seed: 1 },
    mh: { method: 'mh', samples: 5, seed: 1 },
    nuts: { method: 'nuts', samples: 5, warmup: 5, chains: 1, seed: 1 },
    smc: { method: 'smc', particles: 3, seed: 1 },
    vi: { method: 'vi', steps: 3, seed: 1 },
  };
  test.each(Object.keys(OPTIONS))('under %s, the inner call runs at once and gives its answer alone', async (method) => {
    const alone = await innerMean();
    const seen: number[] = [];
    const restore = setSelfWaitBoundMs(60_000);
    try {
      const out = await bounded(infer(outer(seen), { ...OPTIONS[method] } as never), 20_000);
      expect(out, 'the outer call').not.toBe('still waiting');
      (out as AnyPosterior).dispose();
    } finally {
      restore();
    }
    expect(seen.length).toBeGreaterThan(0);
    for (const m of seen) expect(m).toBe(alone);
    expect(inferenceCallsPending()).toBe(0);
  }, 60_000);
});

describe('the gradient lock without an async context', () => {
  // holders enter at once there; two that run side by side (their tfjs scopes interleave) must not pass silently
  test('two holders that end out of order fail with an error that says so', async () => {
    let releaseFirst!: () => void;
    const first = tidyAsync(async () => {
      await new Promise<void>((r) => (releaseFirst = r));
      return 1;
    }, () => []);
    const second = tidyAsync(async () => {
      await new Promise((r) => setTimeout(r, 50));
      return 2;
    }, () => []);
    await new Promise((r) => setTimeout(r, 10));
    releaseFirst();
    await expect(first).rejects.toThrow(/ran side by side and ended out of order \(1 begun inside this one still running\)/);
    await expect(second).resolves.toBe(2);
  });

  test('holders that nest (one inside the other, as an engine step records under its own lock) pass', async () => {
    const out = await tidyAsync(async () => 1 + (await tidyAsync(async () => 1, () => [])), () => []);
    expect(out).toBe(2);
  });
});
