/**
 * Models written for ONE chain run with vectorised chains (`vectorised-chains.ts`):
 * the single-chain record is replayed in float64 per chain, with the same
 * draws as sequential chains; validation checks become guards instead of
 * blocking compilation; a refusal names the site; mixtures compile.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import { Categorical, Dirichlet, HalfNormal, Mixture, MultivariateNormal, Normal, Uniform, infer, model } from '../../src/index.js';
import { layoutOf, logDensityFn, replayedChainsLogDensityFn } from '../../src/infer/mcmc/potential.js';
import { rngFrom } from '../../src/core/rng.js';
import { vectorisedChains } from '../../src/infer/mcmc/vectorised-chains.js';

beforeAll(async () => {
  await initBackend('cpu');
});

/** GARCH(1,1) volatilities written the plain way: one chain's scalars, a loop and a stack (no batch helpers). */
const garchY = [0.3, -1.2, 0.8, 2.1, -0.4, 0.1, -1.7, 0.9, 0.2, -0.6, 1.4, -0.3];
const garch = model(async ({ sample, observe }, y: number[]) => {
  const mu = await sample('mu', Normal(0, 1));
  const a0 = await sample('a0', HalfNormal(1));
  const a1 = await sample('a1', Uniform(0, 1));
  const b1 = await sample('b1', Uniform(0, 1));
  let s2: tf.Tensor = tf.scalar(1);
  const sigma: tf.Tensor[] = [];
  for (const yt of y) {
    sigma.push(tf.sqrt(s2));
    s2 = tf.add(a0, tf.add(tf.mul(a1, tf.square(tf.sub(yt, mu))), tf.mul(b1, s2)));
  }
  await observe('y', Normal(mu, tf.stack(sigma)), tf.tensor1d(y));
});

function column(p: { draws: { values: Record<string, unknown> }[] }, name: string): number[] {
  return p.draws.map((d) => {
    const v = d.values[name];
    return typeof v === 'number' ? v : (v as tf.Tensor).dataSync()[0]!;
  });
}

describe('vectorised chains from a single-chain model', () => {
  it('replays the single-chain record for every chain, with the draws of sequential chains', async () => {
    const opts = { method: 'nuts' as const, chains: 3, warmup: 120, samples: 80, seed: 7 };
    const vec = await infer(garch, opts, garchY);
    expect(vec.diagnostics.vectorized).toBe(true);
    expect(String(vec.diagnostics.chainsPath)).toMatch(/^replay/);
    expect(vec.diagnostics.compiled).toBe(true);
    const seq = await infer(garch, { ...opts, vectorize: false, compile: true }, garchY);
    expect(seq.diagnostics.vectorized).toBe('not requested');
    for (const name of ['mu', 'a0', 'a1', 'b1']) {
      const a = column(vec, name);
      const b = column(seq, name);
      expect(a.length).toBe(240);
      for (let i = 0; i < a.length; i++) expect(Math.abs(a[i]! - b[i]!)).toBeLessThan(1e-9);
    }
    // the model cannot run batched on tfjs (its shapes do not broadcast over a chain axis): float32 is sequential
    const { layout } = await layoutOf(garch, [garchY], rngFrom(1));
    const f32 = await vectorisedChains(garch, [garchY], layout, 3, false, new Float64Array(3 * layout.dim));
    expect(f32.target).toBeUndefined();
    expect(f32.vectorized).toMatch(/fell back to sequential chains: .*compile: false.*did not run batched/);
  }, 120_000);

  it('replays each row as the model run on tfjs computes it (to float32 rounding)', async () => {
    const { layout } = await layoutOf(garch, [garchY], rngFrom(1));
    const replay = replayedChainsLogDensityFn(garch, [garchY], layout, 2);
    const single = logDensityFn(garch, [garchY], layout, { compile: false });
    const q = Float64Array.from([0.1, -0.5, 0.2, 0.3, -0.2, 0.4, -1, 0.5]);
    const r = await replay(q);
    expect(replay.compileStatus()).toBe(true);
    for (let c = 0; c < 2; c++) {
      const s = await single(q.slice(c * 4, c * 4 + 4));
      expect(Math.abs(r.logp[c]! - s.logp)).toBeLessThan(1e-3 * (1 + Math.abs(s.logp)));
    }
  }, 60_000);
});

describe('validation off the compiled path', () => {
  const xs = [-1.5, -0.5, 0.5, 1.5, 2.5];
  const fObs = [0.3, 0.8, 0.2, -0.4, -0.1];
  const gp = model(async ({ sample, observe }) => {
    const rho = await sample('rho', HalfNormal(2));
    const alpha = await sample('alpha', HalfNormal(2));
    const x = tf.tensor1d(xs);
    const d2 = tf.squaredDifference(tf.reshape(x, [-1, 1]), tf.reshape(x, [1, -1]));
    const k = tf.add(tf.mul(tf.square(alpha), tf.exp(tf.div(d2, tf.mul(-2, tf.square(rho))))), tf.mul(tf.eye(xs.length), 1e-6));
    await observe('f', MultivariateNormal(tf.zeros([xs.length]), { covariance: k }), tf.tensor1d(fObs));
  });

  it('MultivariateNormal with covariance and validation on compiles (the PD check is a guard)', async () => {
    const p = await infer(gp, { method: 'nuts', chains: 2, warmup: 60, samples: 30, seed: 3 });
    expect(p.diagnostics.compiled).toBe(true);
    expect(p.diagnostics.vectorized).toBe(true);
  }, 60_000);

  it('a refusal names the site and the cause', async () => {
    const reads = model(async ({ sample, observe }) => {
      const a = await sample('a', Normal(0, 1));
      const b = await sample('b', Normal(0, 1));
      const scale = tf.exp(b).dataSync()[0]! > 1 ? 2 : 1; // control flow on a parameter
      await observe('y', Normal(a, scale), 0.5);
    });
    const p = await infer(reads, { method: 'nuts', chains: 2, warmup: 20, samples: 5, seed: 1 });
    expect(String(p.diagnostics.compiled)).toMatch(/reads a float32 value.*before site "y"/);
  }, 60_000);
});

describe('mixtures on the compiled path', () => {
  const ys = [-2.1, -1.9, 2.2, 1.8, 2.1, -2.3, 1.7, 2.4];
  const mix = model(async ({ sample, observe }) => {
    const w = await sample('w', Dirichlet([1, 1]));
    const mu1 = await sample('mu1', Normal(-2, 1));
    const mu2 = await sample('mu2', Normal(2, 1));
    await observe('y', Mixture(Categorical(w), [Normal(mu1, 0.5), Normal(mu2, 0.5)]), tf.tensor1d(ys));
  });

  it('Mixture(Categorical(tensor)) compiles, and its replay matches tfjs', async () => {
    const { layout } = await layoutOf(mix, [], rngFrom(2));
    const replay = replayedChainsLogDensityFn(mix, [], layout, 1);
    const single = logDensityFn(mix, [], layout, { compile: false });
    for (const q of [Float64Array.of(0.3, -1.8, 2.2), Float64Array.of(-1.1, -1.5, 1.1)]) {
      const r = await replay(q);
      const s = await single(q);
      expect(Math.abs(r.logp[0]! - s.logp)).toBeLessThan(1e-4 * (1 + Math.abs(s.logp)));
      for (let i = 0; i < 3; i++) expect(Math.abs(r.grad[i]! - s.grad[i]!)).toBeLessThan(1e-3 * (1 + Math.abs(s.grad[i]!)));
    }
    expect(replay.compileStatus()).toBe(true);
    const p = await infer(mix, { method: 'nuts', chains: 2, warmup: 60, samples: 30, seed: 5 });
    expect(p.diagnostics.compiled).toBe(true);
  }, 60_000);
});
