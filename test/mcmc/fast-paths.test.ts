/**
 * The fast paths of trace MCMC, pinned to the kernels they replace:
 *
 * - vectorised Gibbs (`vector-gibbs.ts`): the weights of all 112 values of
 *   the coal-mining switchpoint from ONE model run equal those of one run
 *   per value and the analytic full conditional; a model that does not
 *   broadcast over the values (a JavaScript branch on the draw) is caught by
 *   the once-per-site check and falls back; the coal posterior under `mh`
 *   with Gibbs matches the exact posterior (switchpoint enumerated, rates
 *   integrated out) within 4 MCSE, and the same check rejects a sampler with
 *   an off-by-one switchpoint (planted bug);
 * - compiled MH (`compiled-mh.ts`): the same seeded moves as the
 *   model-running kernel (which the Geweke tests verify), step for step, and
 *   a planted bug (the log-Jacobian change dropped) departs from them; the
 *   engine falls back, saying why, where it cannot compile; tensors stay flat.
 *
 * Tolerances: weights to float32 rounding (1e-3 of the largest log weight,
 * as the vectorised check); posterior means within 4 MCSE (bulk ESS).
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import { Rng, rngFrom } from '../../src/core/rng.js';
import { essBulk } from '../../src/diagnostics/ess.js';
import { Categorical, Gamma, Normal, Poisson, infer, model, ops, sampleGamma } from '../../src/index.js';
import { CompiledMH } from '../../src/infer/mcmc/compiled-mh.js';
import type { SiteLayout } from '../../src/infer/mcmc/potential.js';
import { type TraceState, gibbsStep, mhStep, runWithValues } from '../../src/infer/mcmc/trace-mh.js';
import { VectorizedGibbs, sameLogWeights, vectorizedLogWeights } from '../../src/infer/mcmc/vector-gibbs.js';
import { type CoalData, coalExactPosterior, coalSwitchpoint, loadCoalData } from '../../models/coal.js';
import { linearRegression } from '../../models/linreg.js';

beforeAll(async () => {
  await initBackend('cpu');
});

const coal = loadCoalData();
const exact = coalExactPosterior(coal);
const N = coal.counts.length;
const SUPPORT = Array.from({ length: N }, (_, i) => i);
const LATENT = ['switchpoint', 'early', 'late'];

/** log p(s | early, late, y) up to a constant, by hand. */
function analyticConditional(early: number, late: number): Float64Array {
  const out = new Float64Array(N);
  for (let s = 0; s < N; s++) {
    let l = 0;
    for (let t = 0; t < N; t++) {
      const rate = t < s ? early : late;
      l += coal.counts[t]! * Math.log(rate) - rate;
    }
    out[s] = l;
  }
  return out;
}

/** The coal model with a JavaScript branch on the switchpoint (cannot broadcast over its values). */
const coalBranching = model(async ({ sample, observe }, d: CoalData) => {
  const s = await sample('switchpoint', Categorical(new Array<number>(N).fill(1 / N)));
  const early = await sample('early', Gamma(1, 1));
  const late = await sample('late', Gamma(1, 1));
  const rates = d.counts.map((_, t) => (t < (s as unknown as number) ? early : late));
  await observe('disasters', Poisson(rates), d.counts as number[]);
});

describe('vectorised Gibbs', () => {
  it('weighs all 112 switchpoints in one run as one run per value and the analytic conditional do', async () => {
    for (const [early, late] of [
      [3, 1],
      [2.5, 0.7],
    ] as const) {
      const values = (a: string) => (a === 'early' ? early : a === 'late' ? late : a === 'switchpoint' ? 40 : undefined);
      await vectorizedLogWeights(coalSwitchpoint, [coal], values, 'switchpoint', SUPPORT, LATENT, 1, rngFrom(1));
      const before = tf.memory().numTensors;
      const w = await vectorizedLogWeights(coalSwitchpoint, [coal], values, 'switchpoint', SUPPORT, LATENT, 1, rngFrom(1));
      expect(tf.memory().numTensors).toBe(before);
      expect(typeof w).not.toBe('string');
      const per = new Float64Array(N);
      for (const s of SUPPORT) {
        const st = await runWithValues(coalSwitchpoint, [coal], (a) => (a === 'switchpoint' ? s : values(a)), rngFrom(1));
        per[s] = st.logJoint;
        st.trace.disposeLogProbs();
      }
      expect(sameLogWeights(w as Float64Array, per)).toBe(true);
      expect(sameLogWeights(w as Float64Array, analyticConditional(early, late))).toBe(true);
      // planted bug: weights of the neighbouring switchpoint (off by one) are told apart
      expect(sameLogWeights(Float64Array.from(w as Float64Array, (_, i) => (w as Float64Array)[Math.max(0, i - 1)]!), per)).toBe(false);
    }
  });

  it('a model that branches on the draw fails the check, falls back with a reason, and still draws from the conditional', async () => {
    const vec = new VectorizedGibbs();
    const values: Record<string, number> = { switchpoint: 40, early: 3, late: 1 };
    let state: TraceState<void> = await runWithValues(coalBranching, [coal], (a) => values[a], rngFrom(2));
    const w = await vectorizedLogWeights(coalBranching, [coal], (a) => values[a], 'switchpoint', SUPPORT, LATENT, 1, rngFrom(1));
    // unchecked, the vectorised weights would be wrong (or the run fails)
    expect(!(w instanceof Float64Array) || !sameLogWeights(w, analyticConditional(3, 1))).toBe(true);
    const rng = new Rng(3);
    const counts = new Float64Array(N);
    for (let i = 0; i < 4; i++) {
      state = await gibbsStep(coalBranching, [coal], state, 'switchpoint', rng, { vectorized: vec });
      counts[state.trace.get('switchpoint')!.value as number]++;
    }
    expect(vec.enabled('switchpoint')).toBe(false);
    expect(vec.report().switchpoint).toMatch(/vectorised|broadcast|differ|failed/);
    // the fallback draws from the conditional: the switchpoints drawn have non-negligible weight
    const cond = analyticConditional(3, 1);
    const max = Math.max(...cond);
    for (let s = 0; s < N; s++) if (counts[s]! > 0) expect(cond[s]! - max).toBeGreaterThan(-20);
    state.trace.disposeLogProbs();
  });
});

/** Per-chain draws of a site. */
function chainsOf(draws: readonly { values: Record<string, unknown>; chain?: number }[], site: string): number[][] {
  const out: number[][] = [];
  for (const d of draws) (out[d.chain ?? 0] ??= []).push(Number(d.values[site]));
  return out;
}

/** |mean - want| in MCSEs (bulk ESS). */
function zScore(chains: number[][], want: number): number {
  const all = chains.flat();
  const mean = all.reduce((a, b) => a + b, 0) / all.length;
  const sd = Math.sqrt(all.reduce((a, b) => a + (b - mean) ** 2, 0) / (all.length - 1));
  return Math.abs(mean - want) / (sd / Math.sqrt(essBulk(chains)));
}

/** The check: switchpoint and rate means within 4 MCSE of the exact posterior. */
function matchesExact(draws: readonly { values: Record<string, unknown>; chain?: number }[]): number[] {
  return [zScore(chainsOf(draws, 'switchpoint'), exact.meanSwitchpoint), zScore(chainsOf(draws, 'early'), exact.meanEarly), zScore(chainsOf(draws, 'late'), exact.meanLate)];
}

/** A Gibbs sampler of the coal posterior from its exact conditionals, with the switchpoint drawn one too late (the planted bug). */
function offByOneGibbs(iterations: number, chains: number, rng: Rng): { values: Record<string, number>; chain: number }[] {
  const out: { values: Record<string, number>; chain: number }[] = [];
  const prefix = [0];
  for (const c of coal.counts) prefix.push(prefix[prefix.length - 1]! + c);
  for (let c = 0; c < chains; c++) {
    let s = 40;
    for (let it = 0; it < iterations; it++) {
      const early = (sampleGamma(rng, 1 + prefix[s]!, []) as number) / (1 + s);
      const late = (sampleGamma(rng, 1 + prefix[N]! - prefix[s]!, []) as number) / (1 + N - s);
      const w = analyticConditional(early, late);
      const max = Math.max(...w);
      let u = rng.uniform() * w.reduce((a, x) => a + Math.exp(x - max), 0);
      let k = 0;
      for (; k < N - 1; k++) if ((u -= Math.exp(w[k]! - max)) <= 0) break;
      s = Math.min(N - 1, k + 1);
      out.push({ values: { switchpoint: s, early, late }, chain: c });
    }
  }
  return out;
}

describe('the coal-mining switchpoint under mh with vectorised Gibbs', () => {
  it('matches the exact posterior within 4 MCSE, using one vectorised run per switchpoint update', async () => {
    const post = await infer(coalSwitchpoint, { method: 'mh', gibbs: true, chains: 2, warmup: 100, samples: 450, seed: 7 }, coal);
    const diag = post.diagnostics as { gibbsVectorized: Record<string, true | string>; gibbsModelRuns: number };
    expect(diag.gibbsVectorized).toEqual({ switchpoint: true });
    const z = matchesExact(post.draws);
    console.log(`coal mh+gibbs: z = ${z.map((x) => x.toFixed(2)).join(' / ')}, Gibbs model runs ${diag.gibbsModelRuns}`);
    for (const x of z) expect(x).toBeLessThan(4);
  });

  it('the same check rejects a sampler whose switchpoint is off by one (planted bug)', () => {
    const z = matchesExact(offByOneGibbs(600, 2, new Rng(8)));
    expect(z[0]).toBeGreaterThan(4);
  });
});

/** A planted bug: the proposed site's log-Jacobian change is dropped. */
class NoJacobian<A extends unknown[], R> extends CompiledMH<A, R> {
  protected override logDetChange(_b: SiteLayout, _n: Float64Array, _o: Float64Array): number {
    return 0;
  }
}

describe('compiled MH', () => {
  const x = [-1, -0.3, 0.4, 1.2];
  const data = { x, y: x.map((v, i) => 1 + 2 * v + 0.5 * Math.sin(3 * i)) };

  /** `steps` moves of a kernel from the same start and seed: the values after each. */
  async function moves(step: (s: TraceState<void>, rng: Rng) => Promise<{ state: TraceState<void> }>, steps: number): Promise<number[][]> {
    const start = { alpha: 0.5, beta: 1.5, sigma: 1 } as Record<string, number>;
    let state: TraceState<void> = await runWithValues(linearRegression, [data], (a) => start[a], rngFrom(0));
    const rng = new Rng(11);
    const out: number[][] = [];
    for (let i = 0; i < steps; i++) {
      state = (await step(state, rng)).state;
      out.push(['alpha', 'beta', 'sigma'].map((a) => state.trace.get(a)!.value as number));
    }
    return out;
  }

  it('makes the same seeded moves as the model-running kernel, without a model run per rejection', async () => {
    const start = await runWithValues(linearRegression, [data], () => undefined, rngFrom(0));
    const kernel = await CompiledMH.build(linearRegression, [data], start, 0);
    expect(typeof kernel).not.toBe('string');
    const k = kernel as CompiledMH<[typeof data], void>;
    const ref = await moves((s, r) => mhStep(linearRegression, [data], s, r), 400);
    const fast = await moves((s, r) => k.step(s, r), 400);
    expect(fast).toEqual(ref);
    const accepted = ref.filter((v, i) => i === 0 || v.some((x, j) => x !== ref[i - 1]![j])).length;
    expect(k.runs).toBeLessThanOrEqual(accepted);
    expect(k.evaluations).toBeGreaterThanOrEqual(400);

    // planted bug: without the log-Jacobian change of sigma (Exp bijector) the moves depart
    const bad = (await NoJacobian.build(linearRegression, [data], start, 0)) as CompiledMH<[typeof data], void>;
    expect(bad).toBeInstanceOf(NoJacobian);
    expect(await moves((s, r) => bad.step(s, r), 400)).not.toEqual(ref);
  });

  it('the same moves with a user proposal and with a vector-valued site in a plate (tensor values, Exp bijector)', async () => {
    const plated = model(async ({ sample, observe, plate }, y: number[]) => {
      const tau = await sample('tau', Gamma(2, 2));
      const theta = await plate('g', 3, () => sample('theta', Normal(0, tau)));
      await plate('g', 3, (_i, p) => p.observe('y', Normal(theta, 1), y));
    });
    const y = [0.4, -1.1, 2.0];
    const walk = { sample: (v: unknown, rng: Rng) => (v as number) + 0.5 * rng.normal(), logProb: () => 0 };
    for (const proposals of [undefined, { tau: walk }]) {
      const start = await runWithValues(plated, [y], () => undefined, rngFrom(5));
      const kernel = (await CompiledMH.build(plated, [y], start, 0)) as CompiledMH<[number[]], void>;
      expect(kernel).toBeInstanceOf(CompiledMH);
      const run = async (step: (s: TraceState<void>, r: Rng) => Promise<{ state: TraceState<void> }>) => {
        let state = await runWithValues(plated, [y], (a) => start.trace.get(a)!.value, rngFrom(0));
        const r = new Rng(21);
        const out: number[][] = [];
        for (let i = 0; i < 300; i++) {
          state = (await step(state, r)).state;
          out.push([state.trace.get('tau')!.value as number, ...(await (state.trace.get('theta')!.value as tf.Tensor).data())]);
        }
        return out;
      };
      const ref = await run((st, r) => mhStep(plated, [y], st, r, proposals ? { proposals } : {}));
      const fast = await run((st, r) => kernel.step(st, r, proposals ? { proposals } : {}));
      // float32 (tfjs) and float64 (replay) log densities: the same decisions except at near-ties
      const same = ref.filter((v, i) => v.every((x, j) => Math.abs(x - fast[i]![j]!) < 1e-6)).length;
      expect(same).toBeGreaterThan(290);
    }
  });

  it('the mh engine uses it by default, says so, falls back with a reason, and holds tensors flat', async () => {
    const run = () => infer(linearRegression, { method: 'mh', chains: 2, warmup: 100, samples: 300, seed: 4 }, data);
    await run();
    const before = tf.memory().numTensors;
    const post = await run();
    expect(post.diagnostics.compiled).toBe(true);
    const off = await infer(linearRegression, { method: 'mh', chains: 2, warmup: 100, samples: 300, seed: 4, compile: false }, data);
    expect(off.diagnostics.compiled).toBe('compile: false');
    // same moves as the model-running kernel through the engine too
    expect(post.draws.map((d) => d.values.alpha)).toEqual(off.draws.map((d) => d.values.alpha));
    const discrete = model(async ({ sample, observe }) => {
      const z = await sample('z', Categorical([0.5, 0.5]));
      await observe('y', Normal(ops.toValue(z), 1), 0.3);
    });
    const d = await infer(discrete, { method: 'mh', samples: 50, seed: 1 });
    expect(d.diagnostics.compiled).toMatch(/"z" is discrete/);
    // JavaScript arithmetic on a draw cannot run on tensors: the model-running kernel serves it
    const jsArithmetic = model(async ({ sample, observe }) => {
      const mu = (await sample('mu', Normal(0, 1))) as number;
      await observe('y', Normal(mu + 1, 1), 0.3);
    });
    const j = await infer(jsArithmetic, { method: 'mh', samples: 50, seed: 1 });
    expect(j.diagnostics.compiled).toMatch(/could not be evaluated at the start/);
    j.dispose?.();
    post.dispose?.();
    off.dispose?.();
    d.dispose?.();
    expect(tf.memory().numTensors).toBeLessThanOrEqual(before + 0);
  });
});
