/**
 * Models written for ONE chain run with vectorised chains (`vectorised-chains.ts`):
 * the single-chain record is replayed in float64 per chain, with the same
 * draws as sequential chains; validation checks become guards instead of
 * blocking compilation; a refusal names the site; mixtures compile; the
 * float64 path (NUTS and VI) on a GP with Stan's 1e-10 jitter.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import { Categorical, Dirichlet, HalfNormal, Mixture, MultivariateNormal, Normal, Poisson, infer, model } from '../../src/index.js';
import { gpPoisRegr, gpPoisRegrData } from '../../models/posteriordb/gp-pois-regr.js';
import { layoutOf, logDensityFn, replayedChainsLogDensityFn } from '../../src/infer/mcmc/potential.js';
import { rngFrom } from '../../src/core/rng.js';
import { vectorisedChains } from '../../src/infer/mcmc/vectorised-chains.js';
import { SVI } from '../../src/infer/vi/svi.js';
import { garch } from '../../models/garch.js';
import { accelGp, mcycleGpData } from '../../models/posteriordb/mcycle-gp.js';

beforeAll(async () => {
  await initBackend('cpu');
});

/** A short series for the GARCH(1,1) model of models/garch.ts (written for one chain). */
const garchY = [0.3, -1.2, 0.8, 2.1, -0.4, 0.1, -1.7, 0.9, 0.2, -0.6, 1.4, -0.3];

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

  it('a probe where the gradient is singular (accel_gp at the origin) does not keep the chains sequential', async () => {
    // posteriordb's accel_gp takes the sqrt of a spectral density, exp(-l^2 lambda / 2), which float32 underflows
    // at the origin of the unconstrained space (l = 1), where the record is first made: tfjs's gradient there is
    // 0 * Infinity, the float64 replay's is finite, so the self-check failed for the point, not for the model,
    // and the chains ran sequentially; other fixed probes are now tried
    const { layout } = await layoutOf(accelGp, [mcycleGpData], rngFrom(3));
    const atOrigin = replayedChainsLogDensityFn(accelGp, [mcycleGpData], layout, 2, { compile: true });
    await atOrigin(new Float64Array(2 * layout.dim));
    expect(String(atOrigin.compileStatus())).toMatch(/self-check failed/);
    const chosen = await vectorisedChains(accelGp, [mcycleGpData], layout, 2, true, new Float64Array(2 * layout.dim));
    expect(chosen.vectorized).toBe(true);
    expect(chosen.path).toBe('replay');
  }, 60_000);

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
    // the replay writes every answer into the same two arrays (no allocation per call): each call
    // overwrites all of them, so a second point's answer is its own, whatever the first call left
    // (the first call above recorded the model; from here on the replay answers)
    const r1 = await replay(q);
    const first = { logp: Float64Array.from(r1.logp), grad: Float64Array.from(r1.grad) };
    const q2 = q.map((v, i) => v + 0.05 * ((i % 3) - 1));
    const r2 = await replay(q2);
    expect(r2.logp).toBe(r1.logp);
    expect(r2.grad).toBe(r1.grad);
    const fresh = replayedChainsLogDensityFn(garch, [garchY], layout, 2);
    const f2 = await fresh(q2);
    expect(Array.from(r2.logp)).toEqual(Array.from(f2.logp));
    expect(Array.from(r2.grad)).toEqual(Array.from(f2.grad));
    expect(Array.from(r2.logp)).not.toEqual(Array.from(first.logp));
    const r3 = await replay(q);
    expect(Array.from(r3.logp)).toEqual(Array.from(first.logp));
    expect(Array.from(r3.grad)).toEqual(Array.from(first.grad));
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

/** log U(q) of gp_pois_regr in plain float64 JavaScript: the reference the replay must match. */
function gpPoisRegrReference(q: Float64Array): number {
  const { x, k, N } = gpPoisRegrData;
  const rho = Math.exp(q[0]!);
  const alpha = Math.exp(q[1]!);
  const ft = q.subarray(2);
  const lfact = (n: number): number => {
    let s = 0;
    for (let i = 2; i <= n; i++) s += Math.log(i);
    return s;
  };
  let lp = 25 * Math.log(4) - lfact(24) + 24 * Math.log(rho) - 4 * rho + q[0]!; // Gamma(25, 4) + log-Jacobian
  lp += 0.5 * Math.log(2 / Math.PI) - Math.log(2) - (alpha * alpha) / 8 + q[1]!; // HalfNormal(2) + log-Jacobian
  for (const v of ft) lp += -0.5 * Math.log(2 * Math.PI) - (v * v) / 2;
  const K = Array.from({ length: N }, (_, i) => Array.from({ length: N }, (_, j) => alpha * alpha * Math.exp(-((x[i]! - x[j]!) ** 2) / (2 * rho * rho)) + (i === j ? 1e-10 : 0)));
  const L = K.map(() => new Array<number>(N).fill(0));
  for (let j = 0; j < N; j++) {
    for (let i = j; i < N; i++) {
      let s = K[i]![j]!;
      for (let m = 0; m < j; m++) s -= L[i]![m]! * L[j]![m]!;
      L[i]![j] = i === j ? Math.sqrt(s) : s / L[j]![j]!;
    }
  }
  for (let i = 0; i < N; i++) {
    let f = 0;
    for (let j = 0; j <= i; j++) f += L[i]![j]! * ft[j]!;
    lp += k[i]! * f - Math.exp(f) - lfact(k[i]!);
  }
  return lp;
}

describe('float64 where float32 breaks (gp_pois_regr, jitter 1e-10)', () => {
  it('the replay matches a float64 reference where the float32 model run is off by nats', async () => {
    const { layout } = await layoutOf(gpPoisRegr, [gpPoisRegrData], rngFrom(1));
    const f32 = logDensityFn(gpPoisRegr, [gpPoisRegrData], layout, { compile: false });
    const f64 = replayedChainsLogDensityFn(gpPoisRegr, [gpPoisRegrData], layout, 1);
    await f64(new Float64Array(layout.dim));
    expect(f64.compileStatus()).toBe(true);
    // constants the record captures from tfjs (lgamma of the data, normalising terms) carry float32 rounding: a
    // constant offset (1e-7 relative), which cancels in differences between points, as in every use of a log density
    let worst32 = 0;
    let first: { ref: number; mine: number } | undefined;
    for (const [rho, alpha] of [[5.67, 2.92], [6.8, 4.2], [4.6, 1.9]]) {
      const q = new Float64Array(layout.dim).map((_, i) => (i === 0 ? Math.log(rho!) : i === 1 ? Math.log(alpha!) : 0.5 * Math.cos(i)));
      const ref = gpPoisRegrReference(q);
      const mine = f64.replayOnly(q)!.logp[0]!;
      expect(Math.abs(mine - ref)).toBeLessThan(1e-6 * Math.abs(ref));
      first ??= { ref, mine };
      expect(Math.abs(mine - first.mine - (ref - first.ref))).toBeLessThan(1e-9 * Math.abs(ref));
      const theirs = (await f32(q)).logp;
      worst32 = Math.max(worst32, Math.abs(theirs - first.mine - (ref - first.ref)));
    }
    // the reference is sensitive enough to tell: float32 (tfjs) is more than a nat off at plausible points
    expect(worst32).toBeGreaterThan(1);
  }, 60_000);

  it('VI with an autoguide runs on the compiled float64 log density, no compile options', async () => {
    const p = await infer(gpPoisRegr, { method: 'vi', guide: 'normal', steps: 150, particles: 4, samples: 50, optimizer: { name: 'adam', lr: 0.02 }, seed: 2 }, gpPoisRegrData);
    expect(p.diagnostics.compiled).toBe(true);
    expect(Number.isFinite(p.diagnostics.elbo as number)).toBe(true);
  }, 60_000);

  it('a VI step on the compiled path has the gradient of the tfjs path (same draws, float32 rounding)', async () => {
    const xs = [1, 2, 3, 4];
    const reg = model(async ({ sample, observe }) => {
      const a = await sample('a', Normal(0, 5));
      const b = await sample('b', Normal(0, 5));
      const s = await sample('s', HalfNormal(1));
      await observe('y', Normal(tf.add(a, tf.mul(b, tf.tensor1d(xs))), s), tf.tensor1d([2.1, 3.9, 6.2, 7.8]));
    });
    for (const guide of ['normal', 'mvn'] as const) {
      const grads: Float32Array[][] = [];
      for (const compile of [true, false]) {
        const svi = new SVI(reg, guide, { seed: 3, particles: 8, compile });
        await svi.init([]);
        expect(svi.compiled === true).toBe(compile);
        const { grads: g } = await svi.gradients([]);
        grads.push([...g.values()].map((t) => Float32Array.from(t.dataSync())));
        g.forEach((t) => t.dispose());
        svi.dispose();
      }
      grads[0]!.forEach((a, i) => a.forEach((v, j) => expect(Math.abs(v - grads[1]![i]![j]!)).toBeLessThan(1e-5 * (1 + Math.abs(grads[1]![i]![j]!)))));
    }
  }, 60_000);

  it('VI drops draws at points the model rejects (as NUTS rejects them) instead of stopping; float32 stops', async () => {
    const counts = [3, 1, 0, 2, 4];
    const bad = model(async ({ sample, observe }) => {
      const rate = await sample('rate', Normal(0.5, 1)); // no positivity constraint: the guide proposes negative rates
      await observe('k', Poisson(rate), tf.tensor1d(counts));
    });
    const opts = { method: 'vi' as const, guide: 'normal' as const, steps: 60, particles: 8, samples: 20, init: 'zero' as const, optimizer: { name: 'adam' as const, lr: 0.05 }, seed: 3 };
    const p = await infer(bad, opts);
    expect(p.diagnostics.compiled).toBe(true);
    expect(p.diagnostics.droppedDraws as number).toBeGreaterThan(0);
    await expect(infer(bad, { ...opts, compile: false })).rejects.toThrow(/Poisson: parameter rate must be nonnegative/);
  }, 60_000);
});
