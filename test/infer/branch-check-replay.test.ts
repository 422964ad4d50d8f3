/**
 * infer's numbers-versus-tensors check with a compiled record's replay in
 * place of its tensor runs (issue 16, session 12: NUTS's first call). The
 * replay follows the branches a tensor run takes, so where its total (site
 * log densities plus log-Jacobians) equals the run on numbers over the same
 * sites, the point agrees without a tensor run; anything else falls back to
 * the tensor run, which names the site.
 *
 * Planted by hand (not kept): `replayAgrees` returning true whatever the
 * totals makes "a helper's branch is refused through the replay" fail (the
 * check passes the wrong model and the sampler runs).
 */
import { describe, expect, it } from 'vitest';
import { HalfNormal, type Model, Normal, type Value, infer, model, ops } from '../../src/index.js';
import { initBackend } from '../../src/backend/select.js';
import { rngFrom } from '../../src/core/rng.js';
import { deferredBranchCheck } from '../../src/infer/branch-check.js';
import { layoutOnly, replayedChainsLogDensityFn } from '../../src/infer/mcmc/potential.js';

/**
 * The bug, in a helper outside the model (the source lint reads only the
 * model), with the comparison also consumed by an op (so the recorder's
 * unconsumed-boolean check passes it): the tensor run always takes the first branch.
 */
function noiseScale(mu: Value): number {
  const positive = ops.gt(mu, 0);
  void ops.where(positive, 1, 0); // consumed
  return (positive as unknown as boolean) ? 0.5 : 3;
}

let runs = 0;
const branching = model(async ({ sample, observe }, y: number) => {
  runs++;
  const mu = await sample('mu', Normal(0, 1));
  await observe('y', Normal(mu, noiseScale(mu)), y);
}, { name: 'branching' });

/** The same model written right: no branch, a positive scale (a log-Jacobian in the total). */
const right = model(async ({ sample, observe }, y: number) => {
  runs++;
  const mu = await sample('mu', Normal(0, 1));
  const s = await sample('s', HalfNormal(1));
  await observe('y', Normal(mu, ops.add(s, 0.5)), y);
}, { name: 'right' });

const MESSAGE = /site "y": the model branches on a tensor comparison/;

async function compiled<A extends unknown[], R>(m: Model<A, R>, args: A): Promise<ReturnType<typeof replayedChainsLogDensityFn<A, R>>> {
  const layout = await layoutOnly(m, args, rngFrom(0));
  const fn = replayedChainsLogDensityFn(m, args, layout, 1, { compile: true });
  await fn(new Float64Array(layout.dim));
  expect(fn.compileStatus()).toBe(true);
  return fn;
}

describe('the numbers-versus-tensors check on a compiled record', () => {
  it('a right model agrees at all 8 points through the replay: 8 runs on numbers and no tensor run (today: 16)', async () => {
    await initBackend();
    const fn = await compiled(right, [-1.5]);
    const replayed = fn.replayed();
    expect(replayed?.sites).toEqual(new Set(['mu', 's', 'y']));
    runs = 0;
    await deferredBranchCheck(right, [-1.5], 'nuts')!.settle(replayed);
    expect(runs).toBe(8);
    runs = 0;
    await deferredBranchCheck(right, [-1.25], 'nuts')!.settle();
    expect(runs).toBe(16);
  }, 60_000);

  it("a helper's branch is refused through the replay, naming the site (the tensor run names it where the totals differ)", async () => {
    const fn = await compiled(branching, [-1]);
    await expect(deferredBranchCheck(branching, [-1], 'nuts')!.settle(fn.replayed())).rejects.toThrow(MESSAGE);
  }, 60_000);

  it('a record of other sites, or of other data, falls back to the tensor runs (no verdict from another run, no false alarm)', async () => {
    const fn = await compiled(right, [-0.75]);
    const r = fn.replayed()!;
    runs = 0;
    await deferredBranchCheck(right, [-0.75], 'nuts')!.settle({ ...r, sites: new Set(['mu', 's']) });
    expect(runs).toBe(16);
    // the record of y = -0.75 read as that of y = 2: every total differs, the tensor runs agree
    runs = 0;
    await deferredBranchCheck(right, [2], 'nuts')!.settle(r);
    expect(runs).toBe(16);
  }, 60_000);

  it('infer refuses the branching model under nuts and hmc (compiled: the replay), and with compile: false (tensor runs)', async () => {
    for (const options of [{ method: 'nuts' }, { method: 'hmc' }, { method: 'nuts', compile: false }] as const) {
      await expect(infer(branching, { ...options, chains: 2, warmup: 50, samples: 50, seed: 3 }, -0.5)).rejects.toThrow(MESSAGE);
    }
    // and the right model runs (no false alarm), its check kept as a pass
    const post = await infer(right, { method: 'nuts', chains: 2, warmup: 100, samples: 100, seed: 3 }, -0.5);
    expect(post.diagnostics.compiled).toBe(true);
    post.dispose();
  }, 120_000);
});
