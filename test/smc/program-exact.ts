/**
 * Linear-Gaussian programs with exact answers (log Z and a posterior mean)
 * that batched program SMC runs by reserving batch dimensions
 * (`smc/program-layout.ts`): vector observations against a scalar latent,
 * plates, a plate of latents, a regression on a data tensor, a latent with a
 * batch shape times a data matrix; the check over seeds, the engine runs,
 * and a planted bug. Shared by program-batched-coverage(.slow).test.ts.
 */
import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'vitest';
import { type Model, execute, model } from '../../src/core/model.js';
import { rngFrom } from '../../src/core/rng.js';
import * as ops from '../../src/core/value.js';
import { Normal } from '../../src/distributions/normal.js';
import { infer } from '../../src/infer/registry.js';
import { runSMC } from '../../src/infer/smc/core.js';
import { BatchedProgram, batchedDraws, batchedProgramStore } from '../../src/infer/smc/program-batched.js';
import { layoutOf } from '../../src/infer/smc/program-layout.js';
import '../../src/infer/smc/program.js';
import { openParticleAxis } from '../../src/infer/smc/reindex.js';
import { meanSE } from '../stats.js';

/** A fixed series (independent of tyche's streams). */
export const series = (n: number): number[] => Array.from({ length: n }, (_, t) => Math.sin(t / 5) + 0.3 * Math.cos(1.7 * t));
const YS = series(12);

/** Exact log Z and posterior mean of y = A theta + e, theta ~ N(0, diag(priorVar)), e ~ N(0, noiseVar I). */
export function gaussianExact(A: number[][], priorVar: number[], noiseVar: number, y: number[]): { logZ: number; mean: number[] } {
  const n = y.length;
  const S = A.map((r, i) => A.map((q, j) => r.reduce((s, a, k) => s + a * q[k] * priorVar[k], 0) + (i === j ? noiseVar : 0)));
  const L = S.map(() => new Array<number>(n).fill(0));
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = S[i][j];
      for (let k = 0; k < j; k++) s -= L[i][k] * L[j][k];
      L[i][j] = i === j ? Math.sqrt(s) : s / L[j][j];
    }
  }
  const z: number[] = [];
  for (let i = 0; i < n; i++) {
    let s = y[i];
    for (let k = 0; k < i; k++) s -= L[i][k] * z[k];
    z.push(s / L[i][i]);
  }
  const alpha = new Array<number>(n).fill(0);
  for (let i = n - 1; i >= 0; i--) {
    let s = z[i];
    for (let k = i + 1; k < n; k++) s -= L[k][i] * alpha[k];
    alpha[i] = s / L[i][i];
  }
  let logZ = -0.5 * n * Math.log(2 * Math.PI);
  for (let i = 0; i < n; i++) logZ -= Math.log(L[i][i]) + 0.5 * z[i] ** 2;
  const mean = priorVar.map((v, k) => v * A.reduce((s, r, i) => s + r[k] * alpha[i], 0));
  return { logZ, mean };
}

/** A program with its exact answers: `stat` reads the posterior quantity from a particle's return value. */
export interface Exact {
  readonly m: Model<unknown[], unknown>;
  readonly args: unknown[];
  readonly exact: { logZ: number; stat: number };
  readonly stat: (returned: unknown) => number;
  /** Observations per checkpoint (the planted bug divides each increment by it). */
  readonly perStep: number;
}

const chunks = (xs: number[], k: number): number[][] => Array.from({ length: Math.ceil(xs.length / k) }, (_, i) => xs.slice(i * k, (i + 1) * k));
const scalar = (r: unknown): number => {
  expect(typeof r).toBe('number');
  return r as number;
};

/** mu ~ N(0, 2^2); three vector observations of four values each, without a plate (a scalar latent against a vector). */
export const vectorObs: Exact = {
  m: model(async ({ sample, observe }, batches: number[][]) => {
    const mu = await sample('mu', Normal(0, 2));
    for (let b = 0; b < batches.length; b++) await observe(`y${b}`, Normal(mu, 1), batches[b]);
    return mu;
  }) as Model<unknown[], unknown>,
  args: [chunks(YS, 4)],
  exact: (() => {
    const e = gaussianExact(YS.map(() => [1]), [4], 1, YS);
    return { logZ: e.logZ, stat: e.mean[0] };
  })(),
  stat: scalar,
  perStep: 4,
};

/** The same in plates, one per batch. */
export const plated: Exact = {
  ...vectorObs,
  m: model(async ({ sample, observe, plate }, batches: number[][]) => {
    const mu = await sample('mu', Normal(0, 2));
    for (let b = 0; b < batches.length; b++) await plate(`d${b}`, batches[b].length, () => observe(`y${b}`, Normal(mu, 1), batches[b]));
    return mu;
  }) as Model<unknown[], unknown>,
};

/** mu ~ N(0, 1); four group effects th_g ~ N(mu, 1) in a plate; two rounds of one observation per group. */
export const groups: Exact = (() => {
  const rounds = [YS.slice(0, 4), YS.slice(4, 8)];
  const A = rounds.flatMap(() => [0, 1, 2, 3].map((g) => [1, ...[0, 1, 2, 3].map((h) => (h === g ? 1 : 0))]));
  const e = gaussianExact(A, [1, 1, 1, 1, 1], 1, rounds.flat());
  return {
    m: model(async ({ sample, observe, plate }, rs: number[][]) => {
      const mu = await sample('mu', Normal(0, 1));
      const th = await plate('g', 4, () => sample('th', Normal(mu, 1)));
      for (let r = 0; r < rs.length; r++) await plate('g', 4, () => observe(`y${r}`, Normal(th, 1), rs[r]));
      return mu;
    }) as Model<unknown[], unknown>,
    args: [rounds],
    exact: { logZ: e.logZ, stat: e.mean[0] },
    stat: scalar,
    perStep: 4,
  };
})();

/** a, b ~ N(0, 2^2); y ~ N(a + b x, 0.5^2) for x a data tensor, in two batches of five. */
export const regression: Exact = (() => {
  const xs = YS.slice(0, 10).map((_, i) => i / 5 - 1);
  const ys = YS.slice(0, 10).map((y, i) => y + 0.8 * xs[i]);
  const e = gaussianExact(xs.map((x) => [1, x]), [4, 4], 0.25, ys);
  return {
    m: model(async ({ sample, observe }, d: { xs: number[][]; ys: number[][] }) => {
      const a = await sample('a', Normal(0, 2));
      const b = await sample('b', Normal(0, 2));
      for (let k = 0; k < d.xs.length; k++) await observe(`y${k}`, Normal(ops.add(a, ops.mul(b, tf.tensor1d(d.xs[k]))), 0.5), d.ys[k]);
      return b;
    }) as Model<unknown[], unknown>,
    args: [{ xs: chunks(xs, 5), ys: chunks(ys, 5) }],
    exact: { logZ: e.logZ, stat: e.mean[1] },
    stat: scalar,
    perStep: 5,
  };
})();

/** w ~ N(0, I) drawn with batch shape [3] (no Independent), y ~ N(sum(w * X row), 1): needs a second reserved dimension. */
export const weights: Exact = (() => {
  const X = [0, 1, 2, 3, 4, 5].map((i) => [1, i / 5, Math.cos(i)]);
  const ys = YS.slice(0, 6);
  const e = gaussianExact(X, [1, 1, 1], 1, ys);
  return {
    m: model(async ({ sample, observe }, d: { X: number[][][]; ys: number[][] }) => {
      const w = await sample('w', Normal(tf.zeros([3]), 1));
      for (let k = 0; k < d.X.length; k++) await observe(`y${k}`, Normal(ops.sumLast(ops.mul(w, tf.tensor2d(d.X[k])), 1), 1), d.ys[k]);
      return w;
    }) as Model<unknown[], unknown>,
    args: [{ X: [X.slice(0, 3), X.slice(3)], ys: chunks(ys, 3) }],
    exact: { logZ: e.logZ, stat: e.mean[1] },
    stat: (r) => {
      expect((r as tf.Tensor).shape).toEqual([3]);
      return (r as tf.Tensor).dataSync()[1];
    },
    perStep: 3,
  };
})();

export const N = 200;
export const SEEDS = 12;

export interface Estimate {
  logZ: number;
  stat: number;
}

/**
 * Over `SEEDS` seeds: exp(log Z) unbiased for Z (ratio to the exact Z within
 * 4 standard errors of 1) and the posterior statistic within 4 standard
 * errors of the exact one.
 */
export async function checkExact(c: Exact, run: (seed: number) => Promise<Estimate>): Promise<{ ok: boolean; detail: string; logZs: number[] }> {
  const outs: Estimate[] = [];
  for (let s = 0; s < SEEDS; s++) outs.push(await run(s));
  const z = meanSE(outs.map((o) => Math.exp(o.logZ - c.exact.logZ)));
  const x = meanSE(outs.map((o) => o.stat));
  const ok = Math.abs(z.mean - 1) < 4 * z.se && Math.abs(x.mean - c.exact.stat) < 4 * x.se;
  return { ok, detail: `Z/Z* = ${z.mean.toFixed(3)} ± ${z.se.toFixed(3)}; stat ${x.mean.toFixed(4)} ± ${x.se.toFixed(4)} (exact ${c.exact.stat.toFixed(4)})`, logZs: outs.map((o) => o.logZ) };
}

export function engine(c: Exact, batched: boolean): (seed: number) => Promise<Estimate> {
  return async (seed) => {
    const post = await infer(c.m, { method: 'smc', particles: N, seed, batched }, ...c.args);
    expect(post.diagnostics.execution).toBe(batched ? 'batched' : 'per-particle');
    const out = { logZ: post.logZ, stat: post.expectation((d) => c.stat(d.returnValue)) };
    post.dispose();
    return out;
  };
}

/**
 * A planted bug in the batched engine's pieces: each checkpoint's increment
 * is the mean of a particle's observations instead of their sum (a reserved
 * dimension reduced by a mean).
 */
export async function averagingBatched(c: Exact, seed: number): Promise<Estimate> {
  const ref = await execute(c.m, { rng: rngFrom(`${seed}/ref`) }, ...c.args);
  const layout = layoutOf(ref.trace, ref.returnValue);
  const open = await openParticleAxis(N);
  if (!open) throw new Error('no AsyncLocalStorage');
  try {
    const res = await runSMC<BatchedProgram<unknown>>(
      {
        init: (_n, r) => new BatchedProgram<unknown>(open, r.split(), undefined, undefined, layout),
        async step(state) {
          await state.advance(c.m, c.args);
          return { state, logPotential: (state.increment ?? new Float64Array(N)).map((v) => v / c.perStep) };
        },
        done: (_t, state) => state.status === 'done',
        store: batchedProgramStore<unknown>(),
      },
      { particles: N, rng: rngFrom(seed), genealogy: false },
    );
    // (rows read through the engine's own row map: the return value's tensor is gathered lazily)
    const { draws, rows } = batchedDraws(res.state, res.logWeights);
    let stat = 0;
    draws.forEach((d, k) => (stat += res.weights[rows[k]] * c.stat(d.returnValue)));
    return { logZ: res.logZ, stat };
  } finally {
    open.close();
  }
}


/**
 * The test of a program moved to the batched path: batched and per-particle
 * program SMC each pass `checkExact`, and their mean log Z agree within 4
 * standard errors.
 */
export async function checkBothPaths(name: string, c: Exact): Promise<void> {
  const batched = await checkExact(c, engine(c, true));
  expect(batched.ok, `batched: ${batched.detail}`).toBe(true);
  const perParticle = await checkExact(c, engine(c, false));
  expect(perParticle.ok, `per-particle: ${perParticle.detail}`).toBe(true);
  const a = meanSE(batched.logZs);
  const b = meanSE(perParticle.logZs);
  expect(Math.abs(a.mean - b.mean), `mean log Z batched ${a.mean} ± ${a.se}, per-particle ${b.mean} ± ${b.se}`).toBeLessThan(4 * Math.hypot(a.se, b.se));
  if (process.env.TYCHE_REPORT) console.log(`${name}\n  batched ${batched.detail}\n  per-particle ${perParticle.detail}`);
}
