/**
 * SURFACES, session 12: `infer` calls nested two and three deep where the
 * runtime has no `AsyncLocalStorage` (a browser), simulated in Node as
 * surfaces-session11 does, by an async context module that answers "none".
 *
 * Before: the nested calls of a page took turns in one line, so a call nested
 * two deep waited on the call it ran inside, and failed with a SelfWaitError
 * after 30 s (here, with the bound shortened to 5 s, under every engine).
 */
import { beforeAll, describe, expect, test, vi } from 'vitest';

vi.mock('../../src/backend/async-context.js', () => ({ asyncContext: () => async () => null }));

import { initBackend } from '../../src/backend/select.js';
import { type Model, Normal, infer, model } from '../../src/index.js';
import { inferenceCallsPending, setSelfWaitBoundMs } from '../../src/infer/one-at-a-time.js';

beforeAll(async () => {
  await initBackend('cpu');
});

const OPTIONS: Record<string, object> = {
  importance: { method: 'importance', particles: 3, seed: 1 },
  mh: { method: 'mh', samples: 3, seed: 1 },
  nuts: { method: 'nuts', samples: 3, warmup: 3, chains: 1, seed: 1 },
  smc: { method: 'smc', particles: 3, seed: 1 },
  vi: { method: 'vi', steps: 2, seed: 1 },
};

const leaf = model(async ({ sample, observe }) => {
  const p = await sample('p', Normal(0, 1));
  await observe('y', Normal(p, 1), 0.5);
}, { name: 'leaf' });

/** The posterior mean of `p` under `m`'s importance query (the level below runs inside each of its executions). */
async function query(m: Model<[], unknown>): Promise<number> {
  const post = await infer(m, { method: 'importance', particles: 4, seed: 3 });
  const mean = post.moments(post.addresses()[0]).mean;
  post.dispose();
  return mean;
}

/** A model that samples `p` and runs `below`'s query in each execution, recording its answers. */
function level(below: Model<[], unknown>, seen: number[], name: string): Model<[], unknown> {
  return model(async ({ sample, observe }) => {
    const p = await sample('p', Normal(0, 1));
    await observe('y', Normal(p, 1), 0.5);
    seen.push(await query(below));
  }, { name });
}

describe('a nested infer two and three deep where no async context follows it (a browser)', () => {
  test.each(Object.keys(OPTIONS))('under %s, every level runs and gives the answers it gives alone', async (method) => {
    const restore = setSelfWaitBoundMs(5_000);
    try {
      // alone: the two-level query's answers (its inner answers are the leaf's, alone)
      const leafAlone = await query(leaf);
      const seenAlone: number[] = [];
      const midAlone = await query(level(leaf, seenAlone, 'mid'));
      expect(seenAlone.every((m) => m === leafAlone)).toBe(true);
      // nested under the engine: top -> mid (depth 1) -> leaf (depth 2)
      const seenLeaf: number[] = [];
      const seenMid: number[] = [];
      const mid = level(leaf, seenLeaf, 'mid');
      const top = level(mid, seenMid, 'top');
      const post = await infer(top, OPTIONS[method] as never);
      post.dispose();
      expect(seenMid.length).toBeGreaterThan(0);
      for (const m of seenMid) expect(m).toBe(midAlone);
      for (const m of seenLeaf) expect(m).toBe(leafAlone);
      expect(inferenceCallsPending()).toBe(0);
    } finally {
      restore();
    }
  }, 120_000);

  test('three deep under smc (particles that each run a query run them in turn at each depth)', async () => {
    const restore = setSelfWaitBoundMs(5_000);
    try {
      const seen: number[][] = [[], [], []];
      const d3 = level(leaf, seen[2], 'd3');
      const d2 = level(d3, seen[1], 'd2');
      const d1 = level(d2, seen[0], 'd1');
      const alone = await query(d1);
      const again: number[][] = [[], [], []];
      const post = await infer(level(level(level(level(leaf, again[2], 'd3'), again[1], 'd2'), again[0], 'd1'), [], 'top'), OPTIONS.smc as never);
      post.dispose();
      expect(again[0].length).toBeGreaterThan(0);
      expect(again[0].every((m) => m === alone)).toBe(true);
      expect(again[2].every((m) => m === seen[2][0])).toBe(true);
      expect(inferenceCallsPending()).toBe(0);
    } finally {
      restore();
    }
  }, 120_000);
});
