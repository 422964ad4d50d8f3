/**
 * Gibbs weights on the lean runtime (`lean-gibbs.ts`), pinned to the general
 * runtime they replace, on the coal-mining switchpoint written as a newcomer
 * writes it (a loop of 112 scalar `observe`s with a JavaScript ternary on the
 * switchpoint, issue 16):
 *
 * - the weights of all 112 values equal one general run per value bit for
 *   bit, and the analytic full conditional to float64 rounding; weights off by
 *   one value (planted bug) are told apart;
 * - `hmc-gibbs` and `mh` with Gibbs weigh every update lean (they say so) and
 *   make the same draws as the general runtime (the model given a handler,
 *   which the lean runtime does not run, says why);
 * - a model the lean runtime cannot run (a plate) falls back and says why;
 * - `Categorical` of a fresh array equal to one seen returns the same object
 *   (the newcomer's `new Array(n).fill(1 / n)` on every run).
 *
 * The posterior against the exact one is the slow tier's
 * (`gibbs-scalar-coal.slow.test.ts`).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import { rngFrom } from '../../src/core/rng.js';
import { Categorical, Exponential, Normal, Poisson, infer, model, toNumber } from '../../src/index.js';
import type { HMCGibbsDiagnostics } from '../../src/infer/mcmc/hmc-gibbs.js';
import { LeanGibbs } from '../../src/infer/mcmc/lean-gibbs.js';
import { runWithValues } from '../../src/infer/mcmc/trace-mh.js';
import { loadCoalData } from '../../models/coal.js';

beforeAll(async () => {
  await initBackend('cpu');
});

const COUNTS = loadCoalData().counts;
const T = COUNTS.length;
const SUPPORT = Array.from({ length: T }, (_, i) => i);
const LATENT = ['s', 'early', 'late'];

const scalarCoal = model(async ({ sample, observe }, ys: readonly number[]) => {
  const s = await sample('s', Categorical(new Array<number>(ys.length).fill(1 / ys.length)));
  const early = await sample('early', Exponential(1));
  const late = await sample('late', Exponential(1));
  for (let t = 0; t < ys.length; t++) await observe(`y${t}`, Poisson(t < (s as number) ? early : late), ys[t]!);
});

/** log p(s | early, late, y) up to a constant, by hand. */
function analytic(early: number, late: number): Float64Array {
  return Float64Array.from(SUPPORT, (s) => {
    let l = 0;
    for (let t = 0; t < T; t++) l += COUNTS[t]! * Math.log(t < s ? early : late) - (t < s ? early : late);
    return l;
  });
}

/** Log weights shifted to their maximum (what a draw reads). */
function centred(w: ArrayLike<number>): number[] {
  const max = Math.max(...Array.from(w));
  return Array.from(w, (x) => x - max);
}

describe('Gibbs weights on the lean runtime (scalar coal switchpoint)', () => {
  it('equal one general run per value bit for bit and the analytic conditional; off by one is told apart (planted bug)', async () => {
    const lean = new LeanGibbs(scalarCoal, [COUNTS]);
    for (const [early, late] of [
      [3, 1],
      [2.2, 0.7],
    ] as const) {
      const values: Record<string, number> = { s: 40, early, late };
      const w = (await lean.logWeights((a) => values[a], LATENT, 's', SUPPORT))!;
      expect(lean.off).toBeUndefined();
      const general = new Float64Array(T);
      for (const s of SUPPORT) {
        const st = await runWithValues(scalarCoal, [COUNTS], (a) => (a === 's' ? s : values[a]), rngFrom(0));
        general[s] = st.logJoint;
        st.trace.disposeLogProbs();
      }
      expect(Array.from(w)).toEqual(Array.from(general));
      const want = centred(analytic(early, late));
      centred(w).forEach((x, s) => expect(Math.abs(x - want[s]!)).toBeLessThan(1e-9 * (1 + Math.abs(want[s]!))));
      // planted bug: each value weighed as its neighbour
      const shifted = centred(Float64Array.from(w, (_, i) => w[Math.max(0, i - 1)]!));
      expect(shifted.some((x, s) => Math.abs(x - want[s]!) > 1e-6)).toBe(true);
    }
    expect(lean.updates).toBe(2);
    expect(lean.runs).toBe(2 * T);
  });

  it('hmc-gibbs and mh weigh every update lean and draw as the general runtime does (years 20-59)', async () => {
    const window = COUNTS.slice(20, 60);
    // a handler of the model's own keeps it off the lean runtime (the general one runs every update)
    const general = scalarCoal.withHandler({ process() {} });
    const values = (p: { readonly draws: readonly { values: Record<string, unknown> }[] }) => p.draws.map((d) => LATENT.map((a) => toNumber(d.values[a] as number)));
    const opts = { method: 'hmc-gibbs', chains: 1, warmup: 5, samples: 5, seed: 2, init: { s: 20, early: 3, late: 1 } } as const;
    const a = await infer(scalarCoal, opts, window);
    const b = await infer(general, opts, window);
    const da = a.diagnostics as unknown as HMCGibbsDiagnostics;
    expect(da.gibbsLean).toBe(true);
    // 10 iterations' sweeps and one at the chain's starting point (COAL5, session 19)
    expect(da.gibbsLeanRuns).toBe(window.length * (11 - da.gibbsReplayed));
    expect((b.diagnostics as unknown as HMCGibbsDiagnostics).gibbsLean).toMatch(/handlers/);
    expect(values(a)).toEqual(values(b));
    const m = { method: 'mh', gibbs: true, chains: 1, warmup: 15, samples: 15, seed: 2 } as const;
    const c = await infer(scalarCoal, m, window);
    const d = await infer(general, m, window);
    expect((c.diagnostics as { gibbsLean: unknown }).gibbsLean).toBe(true);
    expect((c.diagnostics as { gibbsLeanRuns: number }).gibbsLeanRuns).toBeGreaterThan(0);
    expect(values(c)).toEqual(values(d));
  });

  it('a Categorical built from a fresh array with the same numbers is the one already made (content-keyed), a different one is not', () => {
    const a = Categorical(new Array<number>(T).fill(1 / T));
    expect(Categorical(new Array<number>(T).fill(1 / T))).toBe(a);
    const skewed = new Array<number>(T).fill(1 / T);
    skewed[0] = 0.5 / T;
    skewed[1] = 1.5 / T;
    const b = Categorical([...skewed]);
    expect(b).not.toBe(a);
    expect(b.logProb(1) as number).toBeCloseTo(Math.log(1.5 / T), 12);
    expect(a.logProb(1) as number).toBeCloseTo(Math.log(1 / T), 12);
    // an invalid vector is refused on every call (nothing is remembered from a throw)
    expect(() => Categorical([0.5, 0.6])).toThrow(/sum|probs/);
    expect(() => Categorical([0.5, 0.6])).toThrow(/sum|probs/);
  });

  it('falls back where the lean runtime cannot run the model, saying why', async () => {
    const plated = model(async ({ sample, observe, plate }) => {
      const k = await sample('k', Categorical([0.2, 0.3, 0.5]));
      const x = await sample('x', Normal(k, 1));
      await plate('data', 2, async (_i, p) => p.observe('y', Normal(x, 1), [0.1, 0.4]));
    });
    const post = await infer(plated, { method: 'hmc-gibbs', chains: 1, warmup: 5, samples: 5, seed: 1 });
    const diag = post.diagnostics as unknown as HMCGibbsDiagnostics;
    expect(diag.gibbsLean).toMatch(/lean runtime cannot run the model/);
    expect(diag.gibbsModelRuns).toBeGreaterThan(0);
  });
});
