/**
 * The coal-mining switchpoint written as a newcomer writes it (a loop of
 * scalar `observe`s, a JavaScript ternary on the switchpoint: issue 16,
 * `scratch/newuser16/p5.ts`), on a 40-year window of the data. Slow tier
 * (`npm run test:slow`; ~35 s CPU): its Gibbs updates run on the lean runtime
 * (`lean-gibbs.ts`, one run per value on plain numbers), and the posterior
 * means of the switchpoint and both rates under `hmc-gibbs` and under `mh`
 * with Gibbs are within 4 MCSE (bulk ESS) of the exact posterior
 * (`coalExactPosterior`: switchpoint enumerated, rates integrated out).
 *
 * Planted bug: a lean weigher whose weights are those of the neighbouring
 * switchpoint (off by one) fails the same check, and the correct one
 * passes it, on the same Gibbs-within-MH chain. (The default tier pins the
 * lean weights to the general runtime's, bit for bit: `gibbs-lean.test.ts`.)
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import { Rng, rngFrom } from '../../src/core/rng.js';
import type { Value } from '../../src/core/value.js';
import { essBulk } from '../../src/diagnostics/ess.js';
import { Categorical, Exponential, Poisson, infer, model, toNumber } from '../../src/index.js';
import type { HMCGibbsDiagnostics } from '../../src/infer/mcmc/hmc-gibbs.js';
import { LeanGibbs } from '../../src/infer/mcmc/lean-gibbs.js';
import { type TraceState, gibbsStep, mhStep, runWithValues } from '../../src/infer/mcmc/trace-mh.js';
import { coalExactPosterior, loadCoalData } from '../../models/coal.js';

beforeAll(async () => {
  await initBackend('cpu');
});

/** Years 20-59 of the series (the switchpoint, year 40 of 112, falls inside). */
const COUNTS = loadCoalData().counts.slice(20, 60);
const T = COUNTS.length;
/** Exponential(1) rates are Gamma(1, 1), the exact posterior's default prior. */
const exact = coalExactPosterior({ counts: COUNTS });

const scalarCoal = model(async ({ sample, observe }, ys: readonly number[]) => {
  const s = await sample('s', Categorical(new Array<number>(T).fill(1 / T)));
  const early = await sample('early', Exponential(1));
  const late = await sample('late', Exponential(1));
  for (let t = 0; t < ys.length; t++) await observe(`y${t}`, Poisson(t < (s as number) ? early : late), ys[t]!);
});

/** z = |mean - exact| / MCSE (MCSE from the bulk ESS) of the switchpoint, early and late rates, from per-chain rows. */
function zScores(rows: Record<string, number>[][]): number[] {
  const want: Record<string, number> = { s: exact.meanSwitchpoint, early: exact.meanEarly, late: exact.meanLate };
  return Object.keys(want).map((site) => {
    const chains = rows.map((c) => c.map((r) => r[site]!));
    const all = chains.flat();
    const mean = all.reduce((a, b) => a + b, 0) / all.length;
    const sd = Math.sqrt(all.reduce((a, b) => a + (b - mean) ** 2, 0) / (all.length - 1));
    return Math.abs(mean - want[site]!) / (sd / Math.sqrt(essBulk(chains)));
  });
}

/** Per-chain rows of a posterior's draws. */
function rowsOf(post: { readonly draws: readonly { chain?: number; values: Record<string, unknown> }[] }): Record<string, number>[][] {
  const out: Record<string, number>[][] = [];
  for (const d of post.draws) (out[d.chain ?? 0] ??= []).push({ s: toNumber(d.values.s as number), early: toNumber(d.values.early as number), late: toNumber(d.values.late as number) });
  return out;
}

/** A planted bug: each value weighed as its neighbour (the switchpoint off by one). */
class OffByOne<A extends unknown[], R> extends LeanGibbs<A, R> {
  override async logWeights(values: (a: string) => Value | undefined, latent: readonly string[], address: string, support: readonly Value[]): Promise<Float64Array | undefined> {
    const w = await super.logWeights(values, latent, address, support);
    return w && Float64Array.from(w, (_, i) => w[Math.max(0, i - 1)]!);
  }
}

/** `chains` chains of Gibbs on s (weighed by `weigher`) and `mh` moves of the rates, `n` kept of 2n sweeps each. */
async function gibbsWithin(weigher: (ys: readonly number[]) => LeanGibbs<[readonly number[]], void>, n: number, chains: number, rng: Rng): Promise<Record<string, number>[][]> {
  const out: Record<string, number>[][] = [];
  for (let c = 0; c < chains; c++) {
    const lean = weigher(COUNTS);
    const start: Record<string, number> = { s: 20, early: 3, late: 1 };
    let state: TraceState<void> = await runWithValues(scalarCoal, [COUNTS], (a) => start[a], rngFrom(c));
    const rows: Record<string, number>[] = [];
    for (let it = 0; it < 2 * n; it++) {
      state = await gibbsStep(scalarCoal, [COUNTS], state, 's', rng, { lean });
      for (let k = 0; k < 4; k++) state = (await mhStep(scalarCoal, [COUNTS], state, rng, { sites: (a) => a !== 's' })).state;
      if (it >= n) rows.push({ s: state.trace.get('s')!.value as number, early: state.trace.get('early')!.value as number, late: state.trace.get('late')!.value as number });
    }
    expect(lean.off).toBeUndefined();
    expect(lean.updates).toBe(2 * n);
    state.trace.disposeLogProbs();
    out.push(rows);
  }
  return out;
}

const SLOW = 600_000;

describe('Gibbs on the scalar coal switchpoint (the newcomer form), on the lean runtime', () => {
  it('hmc-gibbs: every update lean, means within 4 MCSE of the exact posterior', async () => {
    const post = await infer(scalarCoal, { method: 'hmc-gibbs', chains: 2, warmup: 100, samples: 200, seed: 4 }, COUNTS);
    const diag = post.diagnostics as unknown as HMCGibbsDiagnostics;
    expect(diag.gibbsLean).toBe(true);
    // no general run (session 18: the sweep on plain numbers reads the support from a lean run), T lean runs a
    // sweep (or none where compiled potentials weighed the update); a sweep per iteration and one at each chain's
    // starting point (COAL5, session 19)
    expect(diag.gibbsModelRuns).toBe(0);
    expect(diag.gibbsLeanRuns).toBe(T * (2 * 301 - diag.gibbsReplayed));
    const z = zScores(rowsOf(post));
    console.log(`scalar coal hmc-gibbs: z = ${z.map((x) => x.toFixed(2)).join(' / ')} (s / early / late)`);
    for (const x of z) expect(x).toBeLessThan(4);
  }, SLOW);

  it('mh with gibbs: lean updates, means within 4 MCSE of the exact posterior', async () => {
    const post = await infer(scalarCoal, { method: 'mh', gibbs: true, chains: 2, warmup: 1000, samples: 2000, seed: 4 }, COUNTS);
    const diag = post.diagnostics as { gibbsLean: true | string; gibbsLeanRuns: number };
    expect(diag.gibbsLean).toBe(true);
    expect(diag.gibbsLeanRuns).toBeGreaterThan(0);
    const z = zScores(rowsOf(post));
    console.log(`scalar coal mh+gibbs: z = ${z.map((x) => x.toFixed(2)).join(' / ')} (s / early / late)`);
    for (const x of z) expect(x).toBeLessThan(4);
  }, SLOW);

  it('the same check passes lean Gibbs within MH and rejects an off-by-one weigher (planted bug)', async () => {
    const good = zScores(await gibbsWithin((ys) => new LeanGibbs(scalarCoal, [ys]), 300, 2, new Rng(9)));
    const bad = zScores(await gibbsWithin((ys) => new OffByOne(scalarCoal, [ys]), 300, 2, new Rng(9)));
    console.log(`lean Gibbs within MH: z = ${good.map((x) => x.toFixed(2)).join(' / ')}; off by one [planted bug]: ${bad.map((x) => x.toFixed(2)).join(' / ')}`);
    for (const x of good) expect(x).toBeLessThan(4);
    expect(bad[0]).toBeGreaterThan(4);
  }, SLOW);
});
