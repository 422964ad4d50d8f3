/**
 * PROBE, session 6: the session's new paths driven adversarially, as a newcomer would write models
 * (chain initialisation by ascent, lean program SMC and enumeration, the numbers-versus-tensors
 * pre-inference check). Every statistical check is a fixed-seed comparison with an exact answer at a
 * tolerance from the Monte Carlo standard error, and each runs once more on a planted wrong answer
 * that it must reject.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import { numbersVersusTensors } from '../../src/infer/branch-check.js';
import { layoutOf, logDensityFn } from '../../src/infer/mcmc/potential.js';
import { rngFrom } from '../../src/core/rng.js';
import type { Posterior } from '../../src/infer/posterior.js';
import { Bernoulli, Beta, Dirichlet, HalfNormal, Normal, Poisson, infer, model, ops, tensor64 } from '../../src/index.js';

beforeAll(async () => {
  await initBackend('cpu');
});

/** A summary row of an MCMC posterior (mean, MCSE of the mean, R-hat). */
function row(post: Posterior<never[], unknown>, name: string): { mean: number; mcse: number; rhat: number } {
  const r = post.summary().rows.find((x) => x.name === name);
  if (!r) throw new Error(`no summary row ${name}`);
  return { mean: r.mean, mcse: r['mcse_mean'] as number, rhat: r['r_hat'] as number };
}

/** Distance of an estimate from an answer in MCSE units; the checks accept below 4. */
const zScore = (est: number, mcse: number, exact: number): number => Math.abs(est - exact) / mcse;

/** Posterior mean of a positive scale by quadrature of an unnormalised log density on (0, hi]. */
function quadratureMean(logDensity: (s: number) => number, hi: number, n = 200_000): number {
  let m = -Infinity;
  const lp = new Float64Array(n);
  for (let i = 0; i < n; i++) m = Math.max(m, (lp[i] = logDensity(((i + 0.5) / n) * hi)));
  let z = 0;
  let zs = 0;
  for (let i = 0; i < n; i++) {
    const w = Math.exp(lp[i]! - m);
    z += w;
    zs += w * ((i + 0.5) / n) * hi;
  }
  return zs / z;
}

/** NUTS (defaults, ascent init) on s ~ HalfNormal(1), y ~ N(0, s) for data `ys` near 0: the posterior mean of s equals quadrature within 4 MCSE; a planted doubled Jacobian is rejected. */
async function checkHalfNormalScale(ys: number[]): Promise<void> {
  const m = model(async ({ sample, observe }) => {
    const s = await sample('s', HalfNormal(1));
    await observe('y', Normal(0, s), tf.tensor1d(ys));
  });
  const post = await infer(m, { method: 'nuts', chains: 4, samples: 500, warmup: 500, seed: 1 });
  expect(String(post.diagnostics.init)).toMatch(/^ascent/);
  const logp = (s: number): number => -0.5 * s * s + ys.reduce((a, y) => a - Math.log(s) - (0.5 * y * y) / (s * s), 0);
  const exact = quadratureMean(logp, 0.5);
  const r = row(post as never, 's');
  expect(zScore(r.mean, r.mcse, exact)).toBeLessThan(4);
  // planted: the log transform's Jacobian counted twice (density times s)
  expect(zScore(r.mean, r.mcse, quadratureMean((s) => logp(s) + Math.log(s), 0.5))).toBeGreaterThan(4);
}

describe("init: 'ascent' (the NUTS default) on constrained sites at their boundaries", () => {
  it('HalfNormal scale with 20 data near 0: the posterior mean equals quadrature within 4 MCSE; a planted doubled Jacobian is rejected', async () => {
    await checkHalfNormalScale(Array.from({ length: 20 }, (_, i) => 0.02 * Math.sin(1.3 * i + 0.4)));
  });

  // FINDING (reported): with 5 data the posterior of s has a s^-5 tail; init 'ascent' seed 1 gives
  // 0.01612 +- 0.00024 against 0.017158 (4.3 MCSE). Session 7 settled it over 1300 seeds per init
  // (test/trust/stats2-session7.slow.test.ts): no init bias (ascent - uniform +0.52 SE), honest MCSE on
  // average; z is skewed left for both inits, so a 4-MCSE check on this posterior fails ~0.15% of seeds,
  // and seed 1 is one of them. Kept skipped: the check needs more draws or a skew-aware tolerance.
  it.skip('HalfNormal scale with 5 data near 0 (heavy tail): the posterior mean equals quadrature within 4 MCSE; a planted doubled Jacobian is rejected', async () => {
    await checkHalfNormalScale([0.01, -0.02, 0.005, 0.0, 0.015]);
  });

  it('Beta(0.5, 20) and Dirichlet([0.3, 0.3, 5]) with mass piled at 0: means within 4 MCSE of the exact ones; a planted Beta(0.5, 15) is rejected', async () => {
    const m = model(async ({ sample }) => {
      await sample('p', Beta(0.5, 20));
      await sample('w', Dirichlet([0.3, 0.3, 5]));
    });
    const post = await infer(m, { method: 'nuts', chains: 4, samples: 500, warmup: 500, seed: 1 });
    const p = row(post as never, 'p');
    expect(zScore(p.mean, p.mcse, 0.5 / 20.5)).toBeLessThan(4);
    expect(zScore(p.mean, p.mcse, 0.5 / 15.5)).toBeGreaterThan(4);
    for (const [k, a] of [0.3, 0.3, 5].entries()) {
      const w = row(post as never, `w[${k}]`);
      expect(zScore(w.mean, w.mcse, a / 5.6)).toBeLessThan(4);
    }
  });

  it('a symmetric bimodal posterior (y ~ N(theta^2, 0.5), y = 4) still shows in R-hat; the unimodal control does not (the check discriminates)', async () => {
    const bimodal = model(async ({ sample, observe }) => {
      const th = await sample('th', Normal(0, 3));
      await observe('y', Normal(ops.mul(th, th), 0.5), 4);
    });
    const unimodal = model(async ({ sample, observe }) => {
      const th = await sample('th', Normal(0, 3));
      await observe('y', Normal(ops.mul(th, 2), 0.5), 4);
    });
    const b = await infer(bimodal, { method: 'nuts', chains: 4, samples: 500, warmup: 500, seed: 1 });
    const u = await infer(unimodal, { method: 'nuts', chains: 4, samples: 500, warmup: 500, seed: 1 });
    expect(row(b as never, 'th').rhat).toBeGreaterThan(1.01);
    expect(row(u as never, 'th').rhat).toBeLessThan(1.01);
  });

  it('a density that is -Infinity on the whole init box fails with a message that says what to do', async () => {
    const m = model(async ({ sample, observe }) => {
      const x = await sample('x', Normal(0, 1));
      await observe('c', Normal(0, 1), 0); // keeps the model proper
      await observe('u', HalfNormal(1), ops.sub(x, 3)); // only x >= 3 is possible: outside [-2, 2]
    });
    await expect(infer(m, { method: 'nuts', chains: 1, samples: 10, warmup: 10, seed: 1 })).rejects.toThrow(/no point with finite log density .* give init values/);
  });
});

describe("init under hmc-gibbs (discrete + continuous)", () => {
  // Was a bug: hmc-gibbs took any string init without a word ('ascent', 'prior' and 'bogus' gave the
  // same draws bit for bit) and reported none; now strategies run, 'prior' takes the prior draw, others are refused.
  it('an unknown init strategy is an error naming the option; a known one runs and is reported', async () => {
    const m = model(async ({ sample, observe }) => {
      const z = await sample('z', Bernoulli(0.5));
      const mu = await sample('mu', Normal(0, 1));
      await observe('y', Normal(ops.add(mu, z === 1 ? 3 : 0), 1), 2.5);
    });
    await expect(infer(m, { method: 'hmc-gibbs', chains: 1, samples: 10, warmup: 10, seed: 1, init: 'bogus' } as never)).rejects.toThrow(/init must be one of 'uniform', 'best-of-uniform', 'ascent', 'prior'.*got 'bogus'/);
    const inits: string[] = [];
    for (const init of [undefined, 'ascent', 'prior'] as const) {
      const post = await infer(m, { method: 'hmc-gibbs', chains: 1, samples: 10, warmup: 10, seed: 1, ...(init ? { init } : {}) });
      inits.push(String(post.diagnostics.init));
      post.dispose();
    }
    expect(inits[0]).toMatch(/^uniform/);
    expect(inits[1]).toMatch(/^ascent/);
    expect(inits[2]).toMatch(/^prior/);
  });
});

describe('lean program SMC and lean enumeration vs exact answers', () => {
  const lnN = (x: number, m: number, v: number): number => -0.5 * Math.log(2 * Math.PI * v) - ((x - m) ** 2) / (2 * v);
  /** c ~ Bernoulli(0.3); c = 1 observes one point, c = 0 draws z and observes two: structure follows the value. */
  const branch = model(async ({ sample, observe }) => {
    const c = await sample('c', Bernoulli(0.3));
    if (c === 1) await observe('a', Normal(1, 1), 0.5);
    else {
      const z = await sample('z', Normal(0, 1));
      await observe('b', Normal(z, 1), 0.5);
      await observe('b2', Normal(z, 1), 0.7);
    }
    return c;
  });
  // [0.5, 0.7] ~ N(0, [[2, 1], [1, 2]]) on the c = 0 branch
  const twoObs = -Math.log(2 * Math.PI) - 0.5 * Math.log(3) - 0.5 * ((2 * 0.25 - 2 * 0.35 + 2 * 0.49) / 3);
  const exactZ = 0.3 * Math.exp(lnN(0.5, 1, 1)) + 0.7 * Math.exp(twoObs);

  it('a value-dependent structure: the mean of Z over 10 seeds is within 4 standard errors of exact, lean = general; a planted missing second observation is rejected', async () => {
    const zs: number[] = [];
    for (let seed = 1; seed <= 10; seed++) {
      const p = await infer(branch, { method: 'smc', particles: 1000, seed, batched: false });
      expect(p.diagnostics.runtime).toBe('lean');
      zs.push(Math.exp(p.logZ));
      if (seed <= 2) expect((await infer(branch, { method: 'smc', particles: 1000, seed, batched: false, lean: false })).logZ).toBe(p.logZ);
    }
    const mean = zs.reduce((a, b) => a + b) / zs.length;
    const se = Math.sqrt(zs.reduce((a, b) => a + (b - mean) ** 2, 0) / (zs.length - 1) / zs.length);
    expect(Math.abs(mean - exactZ) / se).toBeLessThan(4);
    const planted = 0.3 * Math.exp(lnN(0.5, 1, 1)) + 0.7 * Math.exp(lnN(0.5, 0, 2));
    expect(Math.abs(mean - planted) / se).toBeGreaterThan(4);
  });

  it('recursion (a geometric depth capped at 6): enumeration equals the hand sum to 1e-12; factor statements are exact', async () => {
    const geo = model(async ({ sample, observe }) => {
      const rec = async (k: number): Promise<number> => (k >= 6 ? k : (await sample(`f${k}`, Bernoulli(0.5))) === 1 ? k : rec(k + 1));
      const k = await rec(0);
      await observe('y', Poisson(k + 1), 2);
    });
    let z = 0.5 ** 6 * Math.exp(-7) * 49 / 2;
    for (let k = 0; k < 6; k++) z += 0.5 ** (k + 1) * Math.exp(-(k + 1)) * (k + 1) ** 2 / 2;
    const e = await infer(geo, { method: 'enumerate' });
    expect(Math.abs(e.logZ - Math.log(z))).toBeLessThan(1e-12);
    const fac = model(async ({ sample, factor }) => {
      const c = await sample('c', Bernoulli(0.5));
      await factor('f', c === 1 ? Math.log(3) : 0);
    });
    expect(Math.abs((await infer(fac, { method: 'enumerate' })).logZ - Math.log(2))).toBeLessThan(1e-12);
  });

  it('an impossible observation is a clear error naming the site, under SMC and enumeration', async () => {
    const m = model(async ({ sample, observe }) => {
      await sample('c', Bernoulli(0.5));
      await observe('y', Bernoulli(0), 1);
    });
    await expect(infer(m, { method: 'smc', particles: 50, seed: 1 })).rejects.toThrow(/site "y".*impossible.*every particle has zero weight/s);
    await expect(infer(m, { method: 'enumerate' })).rejects.toThrow(/site "y".*impossible.*every execution has probability zero/s);
  });

  // FIXED (was: hung). smc with batched: 'auto' (the default) probes the model batched first; a
  // recursion that stops on `(await sample(...)) === 1` never stops there (a batched draw is a
  // tensor, never === 1). The batched runs are now capped at 10x (+1000) the sites of one particle
  // run on its own first, and the engine falls back to per-particle execution saying why.
  it('unbounded recursion on a draw compared with === answers under smc defaults, log Z within 4 MCSE of exact, says which path ran', async () => {
    const geo = (shift: number) =>
      model(async ({ sample, observe }) => {
        const rec = async (k: number): Promise<number> => ((await sample(`f${k}`, Bernoulli(0.5))) === 1 ? k : rec(k + 1));
        await observe('y', Poisson((await rec(0)) + shift), 2);
      });
    // exact: k ~ Geometric(1/2) on 0, 1, ... (P = 2^-(k+1)), y = 2 ~ Poisson(k + shift)
    const exactLogZ = (shift: number): number => {
      let z = 0;
      for (let k = 0; k < 200; k++) {
        const rate = k + shift;
        z += 0.5 ** (k + 1) * Math.exp(-rate) * (rate * rate) / 2;
      }
      return Math.log(z);
    };
    const n = 2000;
    const p = await infer(geo(1), { method: 'smc', particles: n, seed: 1, signal: AbortSignal.timeout(60_000) });
    expect(p.diagnostics.execution).toBe('per-particle');
    expect(String(p.diagnostics.notBatched)).toMatch(/batched run passed \d+ sample\/factor sites where one particle run on its own visited \d+.*===/);
    // one reweighting step: log Z-hat = log mean(w); by the delta method its MCSE is sqrt((N/ESS - 1)/N)
    const ess = (p.diagnostics.essHistory as number[])[0];
    const mcse = Math.sqrt((n / ess - 1) / n);
    expect(Math.abs(p.logZ - exactLogZ(1)) / mcse).toBeLessThan(4);
    // planted: the answer of a different model (rate k instead of k + 1) is rejected by the same check
    expect(Math.abs(p.logZ - exactLogZ(0.5)) / mcse).toBeGreaterThan(4);
  }, 90_000);
});

describe('numbers-versus-tensors pre-inference check: no false alarms on legitimate models', () => {
  it('tf.* on draws, x.mul, tf.where, pushes to an outer array, a console.log never reached, a data-dependent shape: all compared, none flagged, a few ms each', async () => {
    const outer: number[] = [];
    const models = [
      model(async ({ sample, observe }) => {
        const a = await sample('a', Normal(0, 1));
        await observe('y', Normal(tf.mul(tf.add(a as unknown as tf.Tensor, 1), 2), 1), 0.3);
      }),
      model(async ({ sample, observe }) => {
        const a = await sample('a', Normal(0, 1));
        await observe('y', Normal(tf.scalar(2).mul(ops.toTensor(a)), 1), 0.3);
      }),
      model(async ({ sample, observe }) => {
        const at = ops.toTensor(await sample('a', Normal(0, 1)));
        await observe('y', Normal(tf.where(tf.greater(at, 0), at, tf.mul(at, 0.1)), 1), 0.3);
      }),
      model(async ({ sample, observe }) => {
        const a = await sample('a', HalfNormal(1));
        outer.push(1);
        if (outer.length < 0) console.log(a);
        await observe('y', Normal(0, a), 0.3);
      }),
      model(async ({ sample, observe }, ys: number[]) => {
        const a = await sample('a', Normal(0, 1));
        await observe('y', Normal(a, 1), tf.tensor1d(ys.filter((v) => v > 0)));
      }),
    ] as const;
    for (const m of models) {
      const t0 = performance.now();
      const r = await numbersVersusTensors(m as never, [[1, -2, 3]] as never);
      expect(r.compared).toBe(8);
      expect(r.disagreement).toBeUndefined();
      // a cost bound only against hangs: the machine is shared (measured 3-60 ms each here)
      expect(performance.now() - t0).toBeLessThan(5000);
    }
    expect(outer.length).toBe(16); // two runs per point: the run on numbers (which draws the point), then on tensors
  });
});

describe('float64 constants in the record: data as a newcomer passes it', () => {
  it('number[], ops.toValue and tensor64 data replay to ~1e-15 of a hand float64 sum; a plain tf.tensor1d keeps only float32 data (~5e-7, the planted case)', async () => {
    const ys = Array.from({ length: 50 }, (_, i) => 1000 + 0.1 * i + 1e-7 * i);
    const mu = 1002.4;
    const hand = ys.reduce((a, y) => a - 0.5 * Math.log(2 * Math.PI) - 0.5 * (y - mu) ** 2, 0) - 0.5 * Math.log(2 * Math.PI * 1e6) - (0.5 * mu * mu) / 1e6;
    const relErr = async (data: unknown): Promise<number> => {
      const m = model(async ({ sample, observe }) => {
        const x = await sample('mu', Normal(0, 1000));
        await observe('y', Normal(x, 1), data as never);
      });
      const { layout } = await layoutOf(m, [], rngFrom(1));
      const f = logDensityFn(m, [], layout, { compile: true });
      const r = await f(Float64Array.of(mu));
      expect(f.compileStatus()).toBe(true);
      return Math.abs(r.logp - hand) / Math.abs(hand);
    };
    for (const data of [ys, ops.toValue(ys), tensor64(ys)]) expect(await relErr(data)).toBeLessThan(1e-13);
    // a plain tf.tensor carries no doubles (by design, docs/modelling.md): float32 data, ~5e-7 relative here
    expect(await relErr(tf.tensor1d(ys))).toBeGreaterThan(1e-8);
  });
});

describe('a NaN log density where float32 puts a latent value on its support boundary (tfjs path)', () => {
  // NEWCOMER's hmm_drive_0 run died after 72 min with 'site "forward": factor log-weight is NaN': far out, a
  // stick-breaking simplex has an exact 0 component in float32, log(0) = -Infinity, and tf.logSumExp over
  // -Infinity terms is NaN (Stan's log_sum_exp gives -Infinity and rejects). Such a point is now rejected
  // (log density -Infinity); a NaN the model makes at an ordinary point is still an error naming the site.
  const forward = model(async ({ sample, factor }) => {
    const theta = (await sample('theta', Dirichlet([1, 1]))) as tf.Tensor;
    const logTheta = tf.log(theta);
    await factor('forward', tf.logSumExp(tf.stack([tf.gather(logTheta, 1), tf.gather(logTheta, 1)])));
  });
  it('far out the point is rejected, not an error; inside it is finite', async () => {
    const { layout } = await layoutOf(forward, [], rngFrom(1));
    const f = logDensityFn(forward, [], layout);
    const values: number[] = [];
    for (const q of [0.3, 120, -120]) values.push((await f(Float64Array.of(q))).logp);
    expect(Number.isFinite(values[0])).toBe(true);
    expect(values.slice(1).some((v) => v === -Infinity)).toBe(true);
    expect(values.slice(1).every((v) => v === -Infinity || Number.isFinite(v))).toBe(true);
  });
  it('a NaN from the model at an ordinary point is still an error naming the site', async () => {
    const broken = model(async ({ sample, factor }) => {
      const x = await sample('x', Normal(0, 1));
      await factor('bad', tf.sqrt(tf.sub(4, tf.square(x as unknown as tf.Tensor)))); // NaN where |x| > 2
    });
    const { layout } = await layoutOf(broken, [], rngFrom(1));
    await expect(logDensityFn(broken, [], layout)(Float64Array.of(3))).rejects.toThrow(/site "bad"/);
  });
});
