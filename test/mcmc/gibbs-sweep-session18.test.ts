/**
 * COAL3, session 18: the Gibbs sweep of `hmc-gibbs` on plain numbers outside
 * the gradient lock, and the compiled potentials its chains share.
 *
 * - `LeanGibbs.conditional` (the site's support read from the lean run
 *   itself, no general run) gives the same weights, bit for bit, as
 *   `logWeights` at the support a general run finds, including a support
 *   that depends on another discrete site;
 * - the lean runs of `hmc-gibbs` sweeps and of `mh` Gibbs updates run
 *   outside the gradient lock (a model that asks where it runs);
 * - the chains of one `hmc-gibbs` run share one compiled potential per
 *   configuration, compiled at its first visit where the discrete sites
 *   have few joint values.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import { insideGradientLock } from '../../src/backend/autodiff.js';
import { rngFrom } from '../../src/core/rng.js';
import { Categorical, Exponential, Normal, Poisson, infer, model } from '../../src/index.js';
import type { HMCGibbsDiagnostics } from '../../src/infer/mcmc/hmc-gibbs.js';
import { LeanGibbs } from '../../src/infer/mcmc/lean-gibbs.js';
import { runWithValues } from '../../src/infer/mcmc/trace-mh.js';
import type { Distribution } from '../../src/distributions/distribution.js';
import { loadCoalData } from '../../models/coal.js';

beforeAll(async () => {
  await initBackend('cpu');
});

const COUNTS = loadCoalData().counts;

const scalarCoal = model(async ({ sample, observe }, ys: readonly number[]) => {
  const s = await sample('s', Categorical(new Array<number>(ys.length).fill(1 / ys.length)));
  const early = await sample('early', Exponential(1));
  const late = await sample('late', Exponential(1));
  for (let t = 0; t < ys.length; t++) await observe(`y${t}`, Poisson(t < (s as number) ? early : late), ys[t]!);
});

/** k's support has 2 + j values: it depends on the other discrete site. */
const nested = model(async ({ sample, observe }) => {
  const j = (await sample('j', Categorical([0.5, 0.3, 0.2]))) as number;
  const k = (await sample('k', Categorical(new Array<number>(2 + j).fill(1 / (2 + j))))) as number;
  const x = await sample('x', Normal(k - j, 1));
  await observe('y', Normal(x, 1), 0.3);
});

describe('LeanGibbs.conditional: the support from the lean run, the weights of logWeights', () => {
  it('equals logWeights at the support a general run finds, bit for bit (coal, and a support that moves with another site)', async () => {
    const cases: [typeof scalarCoal | typeof nested, unknown[], Record<string, number>, string][] = [
      [scalarCoal, [COUNTS], { s: 40, early: 3.1, late: 0.9 }, 's'],
      [scalarCoal, [COUNTS], { s: 3, early: 0.2, late: 7.5 }, 's'],
      [nested, [], { j: 0, k: 1, x: 0.4 }, 'k'],
      [nested, [], { j: 2, k: 3, x: -1.2 }, 'k'],
    ];
    for (const [m, args, values, address] of cases) {
      const lean = new LeanGibbs(m as never, args as never);
      const got = await lean.conditional((a) => values[a], Object.keys(values), address);
      const { trace } = await runWithValues(m as never, args as never, (a) => values[a], rngFrom(0));
      const support = (trace.get(address)!.dist as Distribution).enumerateSupport()!;
      const want = await new LeanGibbs(m as never, args as never).logWeights((a) => values[a], Object.keys(values), address, support);
      expect(got).toBeDefined();
      expect(got!.support).toEqual(support);
      expect(Array.from(got!.logW)).toEqual(Array.from(want!));
      // (the weights tell values apart: a support shifted by one would not match)
      expect(Array.from(got!.logW).slice(1)).not.toEqual(Array.from(want!).slice(0, -1));
      expect(lean.runs).toBe(support.length);
    }
  });
});

describe('hmc-gibbs and mh Gibbs: lean runs outside the gradient lock', () => {
  it("every lean run of a sweep (hmc-gibbs) or an update (mh) runs outside the lock; the model's general runs inside", async () => {
    const where = { inside: 0, outside: 0 };
    const probed = model(async ({ sample, observe }) => {
      const k = (await sample('k', Categorical([0.2, 0.3, 0.5]))) as number;
      const x = await sample('x', Normal(k, 1));
      await observe('y', Normal(x, 1), 0.4);
      if (await insideGradientLock()) where.inside++;
      else where.outside++;
    });
    const h = await infer(probed, { method: 'hmc-gibbs', chains: 1, warmup: 15, samples: 15, seed: 1 });
    const hd = h.diagnostics as unknown as HMCGibbsDiagnostics;
    expect(hd.gibbsLean).toBe(true);
    expect(hd.gibbsModelRuns).toBe(0);
    expect(where.outside).toBe(hd.gibbsLeanRuns);
    expect(hd.gibbsLeanRuns).toBeGreaterThan(0);
    where.inside = where.outside = 0;
    const m = await infer(probed, { method: 'mh', gibbs: true, chains: 1, warmup: 30, samples: 30, seed: 1 });
    const md = m.diagnostics as { gibbsLean: true | string; gibbsLeanRuns: number; gibbsModelRuns: number };
    expect(md.gibbsLean).toBe(true);
    expect(where.outside).toBe(md.gibbsLeanRuns);
    expect(md.gibbsLeanRuns).toBeGreaterThan(0);
    expect(where.inside).toBeGreaterThanOrEqual(md.gibbsModelRuns);
  });
});

describe('hmc-gibbs: compiled potentials shared by the chains', () => {
  it('each configuration is compiled once for all chains, at its first visit (3 values, 3 chains)', async () => {
    const threeWay = model(async ({ sample, observe }) => {
      const k = await sample('k', Categorical([0.2, 0.3, 0.5]));
      const x = await sample('x', Normal(k, 1));
      await observe('y', Normal(x, 1), 0.4);
    });
    const post = await infer(threeWay, { method: 'hmc-gibbs', chains: 3, warmup: 30, samples: 30, seed: 2 });
    const d = post.diagnostics as unknown as HMCGibbsDiagnostics;
    expect(new Set(post.draws.map((x) => x.values.k)).size).toBe(3);
    expect(d.compiledConfigurations).toBe(3);
    expect(d.compiledPerChain).toEqual([true, true, true]);
  });
});
