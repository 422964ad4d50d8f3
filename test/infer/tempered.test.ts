/**
 * The float64 paths of the particle engines (issue 17).
 *
 * Tempered SMC on models with exact answers, on both paths: the compiled
 * float64 rows (default where the model compiles) and the per-particle
 * trace-MH path (`compile: false`). Each statistical check compares a mean
 * over seeds with the exact value within 4 standard errors of that mean (the
 * spread over seeds), and the same check is shown to fail on a planted bug.
 *
 * Importance sampling's float64 weights: each draw's log weight matches the
 * log density computed in float64 by hand at the draw's values (up to the
 * float32 rounding of the record's constants), far closer than the float32
 * weights (`compile: false`, the planted contrast).
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import { float64Of } from '../../src/backend/float64-constants.js';
import { model } from '../../src/core/index.js';
import { rngFrom } from '../../src/core/rng.js';
import { Bernoulli } from '../../src/distributions/bernoulli.js';
import { Normal } from '../../src/distributions/normal.js';
import { infer } from '../../src/infer/index.js';
import type { TemperedTarget } from '../../src/infer/smc/tempered-rows.js';
import { temperedRows } from '../../src/infer/smc/tempered-rows.js';
import { gpPoisRegr, gpPoisRegrData } from '../../models/posteriordb/gp-pois-regr.js';
import { meanAndSe } from './fixtures.js';

beforeAll(async () => {
  await initBackend('cpu');
});

/** Failures of "the mean over seeds of `xs` is `truth` within k standard errors". */
function offBy(label: string, xs: number[], truth: number, k = 4): string[] {
  const m = meanAndSe(xs);
  return Math.abs(m.mean - truth) < k * m.se ? [] : [`${label}: ${m.mean.toPrecision(5)} vs ${truth.toPrecision(5)} (se ${m.se.toPrecision(3)})`];
}

/** Failures of "two sets of runs estimate the same mean" (4 standard errors of the difference). */
function differ(label: string, xs: number[], ys: number[]): string[] {
  const a = meanAndSe(xs);
  const b = meanAndSe(ys);
  const se = Math.hypot(a.se, b.se);
  return Math.abs(a.mean - b.mean) < 4 * se ? [] : [`${label}: ${a.mean.toPrecision(5)} vs ${b.mean.toPrecision(5)} (se of the difference ${se.toPrecision(3)})`];
}

// mu ~ N(0, 1), y_i ~ N(mu, 1): posterior N(sum y / (n + 1), 1 / (n + 1)), Z = N(y; 0, I + 11^T)
const ys = [1.2, 0.8, 1.9, 1.4, 0.3, 1.1, 1.6, 0.9];
const n = ys.length;
const sum = ys.reduce((a, b) => a + b, 0);
const postMean = sum / (n + 1);
const postSd = Math.sqrt(1 / (n + 1));
// log N(y; 0, I + 11^T): det = n + 1, inverse = I - 11^T / (n + 1)
const quad = ys.reduce((a, y) => a + y * y, 0) - (sum * sum) / (n + 1);
const logZ = -0.5 * (n * Math.log(2 * Math.PI) + Math.log(n + 1) + quad);

const conjugate = model(async ({ sample, observe }) => {
  const mu = await sample('mu', Normal(0, 1));
  for (let i = 0; i < n; i++) await observe(`y${i}`, Normal(mu, 1), ys[i]);
});

// Bayesian linear regression: a, b ~ N(0, 1), y_i ~ N(a + b x_i, sigma); exact Z and Gaussian posterior
const N = 20;
const xs = Array.from({ length: N }, (_, i) => -1 + (2 * i) / (N - 1));
const yr = xs.map((x, i) => 0.5 + 1.5 * x + 0.5 * Math.sin(3.1 * i));
const sigma = 0.5;
const regression = model(async ({ sample, observe }, x: tf.Tensor, y: tf.Tensor) => {
  const a = await sample('a', Normal(0, 1));
  const b = await sample('b', Normal(0, 1));
  await observe('y', Normal(tf.add(a, tf.mul(b, x)), sigma), y);
});

/** The exact answers of `regression`: log Z = log N(y; 0, sigma^2 I + X X^T), posterior mean and sds of (a, b). */
function regressionExact(): { logZ: number; mean: [number, number]; sd: [number, number] } {
  const s2 = sigma * sigma;
  let sx = 0;
  let sxx = 0;
  let sy = 0;
  let sxy = 0;
  let syy = 0;
  for (let i = 0; i < N; i++) {
    sx += xs[i]!;
    sxx += xs[i]! ** 2;
    sy += yr[i]!;
    sxy += xs[i]! * yr[i]!;
    syy += yr[i]! ** 2;
  }
  // posterior precision P = I + X^T X / s2, covariance S = P^-1, mean S X^T y / s2
  const p = [1 + N / s2, sx / s2, 1 + sxx / s2];
  const det = p[0]! * p[2]! - p[1]! ** 2;
  const S = [p[2]! / det, -p[1]! / det, p[0]! / det];
  const r = [sy / s2, sxy / s2];
  const mean: [number, number] = [S[0]! * r[0]! + S[1]! * r[1]!, S[1]! * r[0]! + S[2]! * r[1]!];
  // log Z = log N(y | X w) + log N(w) - log N(w | mean, S) at w = mean
  const resid = syy - 2 * (mean[0] * sy + mean[1] * sxy) + N * mean[0] ** 2 + 2 * mean[0] * mean[1] * sx + mean[1] ** 2 * sxx;
  const logLik = -0.5 * N * Math.log(2 * Math.PI * s2) - resid / (2 * s2);
  const logPrior = -Math.log(2 * Math.PI) - 0.5 * (mean[0] ** 2 + mean[1] ** 2);
  const logPost = -Math.log(2 * Math.PI) - 0.5 * Math.log(det ** -1);
  return { logZ: logLik + logPrior - logPost, mean, sd: [Math.sqrt(S[0]!), Math.sqrt(S[2]!)] };
}
const exact = regressionExact();

/** The regression's tempered target in closed form; `planted` forgets to temper the likelihood in what the moves see. */
function regressionTarget(planted = false): TemperedTarget {
  return {
    dim: 2,
    async evaluate(q, beta) {
      const rows = q.length / 2;
      const base = new Float64Array(rows);
      const scaled = new Float64Array(rows);
      const grad = new Float64Array(q.length);
      for (let r = 0; r < rows; r++) {
        const a = q[2 * r]!;
        const b = q[2 * r + 1]!;
        let ll = -0.5 * N * Math.log(2 * Math.PI * sigma * sigma);
        let ga = 0;
        let gb = 0;
        for (let i = 0; i < N; i++) {
          const e = yr[i]! - a - b * xs[i]!;
          ll -= (e * e) / (2 * sigma * sigma);
          ga += e / (sigma * sigma);
          gb += (e * xs[i]!) / (sigma * sigma);
        }
        const lp = -Math.log(2 * Math.PI) - 0.5 * (a * a + b * b);
        const scale = planted ? 1 : beta;
        base[r] = planted ? lp + (1 - beta) * ll : lp;
        scaled[r] = ll;
        grad[2 * r] = -a + scale * ga;
        grad[2 * r + 1] = -b + scale * gb;
      }
      return { base, scaled, grad };
    },
  };
}

/** Prior draws of the regression's (a, b), `rows` of them. */
function priorDraws(rows: number, seed: number): Float64Array {
  return rngFrom(seed).normals(2 * rows);
}

describe('tempered SMC', () => {
  it('both paths estimate log Z without bias, recover the posterior and agree with each other (normal-normal)', async () => {
    const seeds = 10;
    const runs = { compiled: { z: [] as number[], mean: [] as number[], sd: [] as number[] }, perParticle: { z: [] as number[], mean: [] as number[], sd: [] as number[] } };
    for (let s = 0; s < seeds; s++) {
      for (const [key, compile] of [['compiled', 'auto'], ['perParticle', false]] as const) {
        const post = await infer(conjugate, { method: 'tempered', particles: 200, moves: 5, seed: s, compile });
        expect(post.diagnostics.path).toBe(key === 'compiled' ? 'compiled' : 'per-particle');
        const r = runs[key];
        r.z.push(Math.exp(post.logZ - logZ));
        const m = post.moments('mu');
        r.mean.push(m.mean);
        r.sd.push(m.sd);
        const betas = post.diagnostics.betas as number[];
        expect(betas[betas.length - 1]).toBe(1);
        expect(betas.length).toBeGreaterThan(2);
      }
    }
    const failures: string[] = [];
    for (const [key, r] of Object.entries(runs)) {
      failures.push(...offBy(`${key} Z/Zhat`, r.z, 1), ...offBy(`${key} mean`, r.mean, postMean), ...offBy(`${key} sd`, r.sd, postSd));
    }
    failures.push(...differ('Z/Zhat between paths', runs.compiled.z, runs.perParticle.z), ...differ('mean between paths', runs.compiled.mean, runs.perParticle.mean));
    expect(failures).toEqual([]);
  });

  it('compiled: Bayesian linear regression over 20 seeds gives Z unbiased and the posterior moments', async () => {
    const x = tf.tensor1d(xs);
    const y = tf.tensor1d(yr);
    const before = tf.memory().numTensors;
    const z: number[] = [];
    const cols = { aMean: [] as number[], bMean: [] as number[], aSd: [] as number[], bSd: [] as number[] };
    for (let s = 0; s < 20; s++) {
      const post = await infer(regression, { method: 'tempered', particles: 200, seed: 100 + s }, x, y);
      expect(post.diagnostics.path).toBe('compiled');
      z.push(Math.exp(post.logZ - exact.logZ));
      const a = post.moments('a');
      const b = post.moments('b');
      cols.aMean.push(a.mean);
      cols.bMean.push(b.mean);
      cols.aSd.push(a.sd);
      cols.bSd.push(b.sd);
      post.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
    y.dispose();
    const failures = [
      ...offBy('Z/Zhat', z, 1),
      ...offBy('a mean', cols.aMean, exact.mean[0]),
      ...offBy('b mean', cols.bMean, exact.mean[1]),
      ...offBy('a sd', cols.aSd, exact.sd[0]),
      ...offBy('b sd', cols.bSd, exact.sd[1]),
    ];
    expect(failures).toEqual([]);
  });

  it('the rows algorithm passes the same check on the closed-form target and fails it with the likelihood left untempered in the moves (planted bug)', async () => {
    const check = async (planted: boolean): Promise<string[]> => {
      const z: number[] = [];
      const bMean: number[] = [];
      for (let s = 0; s < 20; s++) {
        const r = await temperedRows(regressionTarget(planted), priorDraws(200, s), { targetEss: 0.5, rng: rngFrom(1000 + s) });
        z.push(Math.exp(r.logZ - exact.logZ));
        let m = 0;
        r.logWeights.forEach((lw, i) => (m += Math.exp(lw) * r.q[2 * i + 1]!));
        bMean.push(m);
      }
      return [...offBy('Z/Zhat', z, 1), ...offBy('b mean', bMean, exact.mean[1])];
    };
    expect(await check(false)).toEqual([]);
    const planted = await check(true);
    console.log(`tempered rows, planted bug (likelihood untempered in the moves): ${planted.join('; ')}`);
    expect(planted.some((f) => f.startsWith('Z/Zhat'))).toBe(true);
  });

  it('gp_pois_regr with its 1e-10 jitter runs compiled in float64 without NaN weights', async () => {
    const post = await infer(gpPoisRegr, { method: 'tempered', particles: 32, moves: 2, seed: 3 }, gpPoisRegrData);
    expect(post.diagnostics.path).toBe('compiled');
    expect(Number.isFinite(post.logZ)).toBe(true);
    expect(post.draws.every((d) => !Number.isNaN(d.logWeight))).toBe(true);
    expect(post.draws.some((d) => Number.isFinite(d.logWeight))).toBe(true);
    post.dispose();
  });

  it('falls back to the per-particle path for a discrete site and says why; compile: true then throws the reason', async () => {
    const mixed = model(async ({ sample, observe }) => {
      const z = await sample('z', Bernoulli(0.3));
      const mu = await sample('mu', Normal(z ? 1 : -1, 1));
      await observe('y', Normal(mu, 1), 0.5);
    });
    const post = await infer(mixed, { method: 'tempered', particles: 20, moves: 1, seed: 1 });
    expect(post.diagnostics.path).toBe('per-particle');
    expect(String(post.diagnostics.notCompiled)).toMatch(/"z".*discrete/);
    await expect(infer(mixed, { method: 'tempered', particles: 20, seed: 1, compile: true })).rejects.toThrow(/compile: true.*"z"/);
  });

  it('the compiled path stops on an abort', async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error('stop here')), 50);
    await expect(infer(conjugate, { method: 'tempered', particles: 20_000, seed: 1, signal: ac.signal })).rejects.toThrow(/stop here/);
  });
});

/** log N(y; m, s) in float64. */
function logNormal(y: number, m: number, s: number): number {
  return -0.5 * Math.log(2 * Math.PI * s * s) - ((y - m) * (y - m)) / (2 * s * s);
}

describe('importance sampling weights in float64', () => {
  // the data as the model sees them: float32 tensors
  const x32 = xs.map(Math.fround);
  const y32 = yr.map(Math.fround);
  const handLogLik = (a: number, b: number): number => y32.reduce((t, y, i) => t + logNormal(y, a + b * x32[i]!, sigma), 0);
  const guide = model(async ({ sample }) => {
    await sample('a', Normal(0.5, 0.2));
    await sample('b', Normal(1.5, 0.3));
  });
  const worst = (post: { draws: { values: Record<string, unknown>; logWeight: number }[] }, withGuide: boolean): number => {
    let err = 0;
    for (const d of post.draws) {
      const a = d.values.a as number;
      const b = d.values.b as number;
      let want = handLogLik(a, b);
      if (withGuide) want += logNormal(a, 0, 1) + logNormal(b, 0, 1) - logNormal(a, 0.5, 0.2) - logNormal(b, 1.5, 0.3);
      err = Math.max(err, Math.abs(d.logWeight - want));
    }
    return err;
  };

  it('weighs each draw by its float64 log density (prior and guide proposals); float32 weights miss by far more (planted contrast)', async () => {
    const x = tf.tensor1d(xs);
    const y = tf.tensor1d(yr);
    for (const withGuide of [false, true]) {
      const options = { method: 'importance' as const, particles: 300, seed: 4, ...(withGuide ? { guide } : {}) };
      const f64 = await infer(regression, options, x, y);
      const f32 = await infer(regression, { ...options, compile: false }, x, y);
      expect(f64.diagnostics).toMatchObject({ weights: 'float64', float32Draws: 0 });
      expect(f32.diagnostics).toMatchObject({ weights: 'float32', notCompiled: 'compile: false' });
      // the same draws either way
      expect(f64.draws.map((d) => d.values.a)).toEqual(f32.draws.map((d) => d.values.a));
      const e64 = worst(f64, withGuide);
      const e32 = worst(f32, withGuide);
      console.log(`importance ${withGuide ? 'guide' : 'prior'}: worst |log w - float64 by hand| ${e64.toExponential(2)} (float64 weights) vs ${e32.toExponential(2)} (float32)`);
      // the data are the user's float32 tensors (as the hand computation takes them); distribution parameters given
      // as numbers keep their doubles in the record (backend/float64-constants.ts): float64 rounding, ~1e-14 here
      // (float32-rounded parameters gave ~1e-7), against ~1e-5 in float32
      expect(e64).toBeLessThan(1e-10);
      expect(e32).toBeGreaterThan(10 * e64);
      f64.dispose();
      f32.dispose();
    }
    x.dispose();
    y.dispose();
  });

  it('leaves a model in JS numbers alone (double precision already)', async () => {
    const post = await infer(conjugate, { method: 'importance', particles: 20, seed: 1 });
    expect(post.diagnostics).toMatchObject({ weights: 'float64', notCompiled: expect.stringMatching(/JS numbers/) });
  });

  it('keeps float32 weights for a model that does not compile and says why', async () => {
    // a tensor location: the log densities are float32 tensors, so float64 weights would matter
    const mixed = model(async ({ sample, observe }) => {
      const z = await sample('z', Bernoulli(0.3));
      await observe('y', Normal(tf.scalar(z ? 1 : -1), 1), 0.5);
    });
    const post = await infer(mixed, { method: 'importance', particles: 50, seed: 1 });
    expect(post.diagnostics.weights).toBe('float32');
    expect(String(post.diagnostics.notCompiled)).toMatch(/"z".*discrete/);
    await expect(infer(mixed, { method: 'importance', particles: 5, seed: 1, compile: true })).rejects.toThrow(/compile: true.*"z"/);
  });

  it('draws tensor sites in float64 (a shadow run): the same draws and weights as the scalar path, where float32 rounds x near 1e4 by ~1e-3', async () => {
    const loc = 1e4 + 0.1;
    const obs = loc + 0.7;
    // the same site as a number (JS doubles throughout) and as a [1] tensor (tfjs float32, noise from the same stream)
    const scalar = model(async ({ sample, observe }) => {
      const x = await sample('x', Normal(loc, 1));
      await observe('y', Normal(x, 1), obs);
    });
    const vector = model(async ({ sample, observe }) => {
      const x = await sample('x', Normal([loc], [1]));
      await observe('y', Normal(x, 1), [obs]);
    });
    // (per particle: a batched run's draws are float32, weighed at those values; see the batched check below)
    const options = { method: 'importance' as const, particles: 50, seed: 3, batched: false };
    const a = await infer(scalar, options);
    const b = await infer(vector, options);
    const c = await infer(vector, { ...options, compile: false });
    expect(b.diagnostics).toMatchObject({ weights: 'float64', float32Draws: 0 });
    let dx = 0;
    let dw = 0;
    let dx32 = 0;
    let dw32 = 0;
    a.draws.forEach((d, i) => {
      const x = d.values.x as number;
      const t = b.draws[i]!.values.x as tf.Tensor;
      dx = Math.max(dx, Math.abs(float64Of(t)![0]! - x));
      dw = Math.max(dw, Math.abs(b.draws[i]!.logWeight - d.logWeight));
      dx32 = Math.max(dx32, Math.abs((c.draws[i]!.values.x as tf.Tensor).dataSync()[0]! - x));
      dw32 = Math.max(dw32, Math.abs(c.draws[i]!.logWeight - d.logWeight));
    });
    console.log(`importance draws near 1e4: float64 shadow |dx| ${dx.toExponential(2)}, |d log w| ${dw.toExponential(2)}; float32 |dx| ${dx32.toExponential(2)}, |d log w| ${dw32.toExponential(2)}`);
    // float64 rounding of x ~ 1e4 is ~2e-12, and log w = -(x - y)^2 / 2 + c moves by |x - y| times that
    expect(dx).toBeLessThan(1e-9);
    expect(dw).toBeLessThan(1e-9);
    // planted contrast: the float32 draws (compile: false) miss by float32 spacing at 1e4 (~1e-3)
    expect(dx32).toBeGreaterThan(1e-5);
    expect(dw32).toBeGreaterThan(1e-5);
    // batched: float32 draws, each weighed in float64 at its own value (log w = log N(obs; x, 1) by hand)
    const d = await infer(vector, { method: 'importance', particles: 50, seed: 3 });
    expect(d.diagnostics).toMatchObject({ execution: 'batched', weights: 'float64' });
    let dwb = 0;
    for (const draw of d.draws) dwb = Math.max(dwb, Math.abs(draw.logWeight - logNormal(obs, (draw.values.x as tf.Tensor).dataSync()[0]!, 1)));
    expect(dwb).toBeLessThan(1e-9);
    for (const p of [a, b, c, d]) p.dispose();
  });
});
