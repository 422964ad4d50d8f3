/**
 * Custom ops on the compiled path (backend/jit/custom-kernels.ts): `odeSolve`
 * and the incomplete-beta cdfs (Truncated(StudentT)) are recorded as one node
 * each and replayed by their own float64 code, so such models compile and run
 * their chains vectorised; the replay equals tfjs to float32 rounding, its
 * float64 gradient matches central differences, a planted wrong
 * vector–Jacobian product is caught by the self-check, and a failed solve
 * rejects the point on the replay path as on tfjs.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import { elementwiseCustomOp } from '../../src/backend/jit/custom-kernels.js';
import { customOp } from '../../src/backend/jit/trace.js';
import { rngFrom } from '../../src/core/rng.js';
import { xlog1py, xlogy } from '../../src/core/special.js';
import { layoutOf, logDensityFn, replayedChainsLogDensityFn } from '../../src/infer/mcmc/potential.js';
import { Beta, Gamma, LogNormal, Normal, StudentT, Truncated, infer, model, odeSolve } from '../../src/index.js';

beforeAll(async () => {
  await initBackend('cpu');
});

const decay = (_t: number, y: Float64Array, k: Float64Array): number[] => [-k[0]! * y[0]!];
const ts = [0.5, 1, 2, 3];
const yObs = [1.55, 1.2, 0.75, 0.44];
/** Exponential decay observed at four times: latent rate k and initial value y0; tight solver tolerances. */
const decayModel = model(async ({ sample, observe }) => {
  const k = await sample('k', LogNormal(-1, 0.5));
  const y0 = await sample('y0', LogNormal(0.5, 0.5));
  const y = odeSolve(decay, [y0], 0, ts, [k], { rtol: 1e-10, atol: 1e-10 });
  await observe('y', Normal(tf.reshape(y, [-1]), 0.1), yObs);
});

/** A truncated Student-t prior and likelihood, with the degrees of freedom a parameter (its cdf's derivative in df). */
const truncatedT = model(async ({ sample, observe }) => {
  const mu = await sample('mu', Normal(0, 5));
  const s = await sample('s', Truncated(StudentT(3, 0, 10), { low: 0 }));
  const nu = await sample('nu', Gamma(4, 0.5));
  await observe('y', Truncated(StudentT(nu, mu, s), { low: -1 }), [0.5, 1.2, -0.3, 2.2, 0.1]);
});

/** Truncated Gamma and Beta likelihoods with latent shape parameters (the incomplete gamma and beta functions' derivatives in them). */
const truncatedGammaBeta = model(async ({ sample, observe }) => {
  const a = await sample('a', LogNormal(0.5, 0.5));
  const b = await sample('b', LogNormal(0.5, 0.5));
  await observe('g', Truncated(Gamma(a, 1), { high: 5 }), [0.8, 2.1, 1.3, 3.9]);
  await observe('x', Truncated(Beta(a, b), { high: 0.9 }), [0.2, 0.55, 0.71, 0.34]);
});

/** Central differences of the replay's float64 log density, coordinate by coordinate (step h). */
function centralDifferences(f: (q: Float64Array) => number, q: Float64Array, h: number): Float64Array {
  return q.map((x, i) => {
    const up = Float64Array.from(q);
    const down = Float64Array.from(q);
    up[i] = x + h;
    down[i] = x - h;
    return (f(up) - f(down)) / (2 * h);
  });
}

describe('custom ops on the compiled path', () => {
  it('an ODE model and Truncated(StudentT), Truncated(Gamma) and Truncated(Beta) models compile and run NUTS with vectorised chains (replay)', async () => {
    for (const m of [decayModel, truncatedT, truncatedGammaBeta]) {
      const p = await infer(m, { method: 'nuts', chains: 2, warmup: 40, samples: 20, seed: 5 });
      expect(p.diagnostics.compiled).toBe(true);
      expect(p.diagnostics.vectorized).toBe(true);
      expect(String(p.diagnostics.chainsPath)).toMatch(/^replay/);
    }
  }, 60_000);

  it('replays what tfjs computes (float32 rounding), in float64: the ODE against its closed form, gradients against central differences', async () => {
    for (const [m, points] of [
      [decayModel, [[-1.2, 0.4], [-0.8, 0.7], [-1.6, 0.2]]],
      [truncatedT, [[0.3, 1.1, 1.5], [-0.4, 0.6, 2.2], [1.0, 1.8, 0.9]]],
      [truncatedGammaBeta, [[0.3, 0.6], [1.1, -0.2]]],
    ] as const) {
      const { layout } = await layoutOf(m, [], rngFrom(1));
      const replay = replayedChainsLogDensityFn(m, [], layout, 1);
      const tfjs = logDensityFn(m, [], layout, { compile: false });
      await replay(Float64Array.from(points[0]));
      expect(replay.compileStatus()).toBe(true);
      const f64 = (q: Float64Array): number => replay.replayOnly(q)!.logp[0]!;
      for (const pt of points) {
        const q = Float64Array.from(pt);
        const r = replay.replayOnly(q)!;
        const t = await tfjs(q);
        // float32 rounding of a few dozen kernels: relative 1e-5 of the log density's terms is a wide margin over 6e-8 per operation
        expect(Math.abs(r.logp[0]! - t.logp)).toBeLessThan(1e-5 * (1 + Math.abs(t.logp)));
        const gmax = Math.max(...Array.from(t.grad, Math.abs));
        for (let i = 0; i < q.length; i++) expect(Math.abs(r.grad[i]! - t.grad[i]!)).toBeLessThan(1e-4 * (1 + gmax));
        // float64: central differences with h = 1e-5 have truncation error ~1e-10 and rounding ~1e-11 here;
        // the ODE solve at tolerance 1e-10 moves the log density by < 1e-8 where its step sequence changes
        const fd = centralDifferences(f64, q, 1e-5);
        for (let i = 0; i < q.length; i++) expect(Math.abs(fd[i]! - r.grad[i]!)).toBeLessThan(1e-6 * (1 + Math.abs(r.grad[i]!)));
      }
    }
    // the replayed solve is float64: y(t) = y0 exp(-k t) to 1e-9 (float32 would be ~1e-7 off)
    const y = odeSolve(decay, [1.7], 0, ts, [0.35], { rtol: 1e-10, atol: 1e-10 });
    expect(Math.max(...ts.map((t, i) => Math.abs(y.dataSync()[i]! - 1.7 * Math.exp(-0.35 * t))))).toBeLessThan(2e-7); // tfjs path: float32 output
    const { layout } = await layoutOf(decayModel, [], rngFrom(1));
    const replay = replayedChainsLogDensityFn(decayModel, [], layout, 1);
    await replay(Float64Array.of(-1, 0.5));
    // the change of the log density between two rates, from the exact solution in float64 (the data and the
    // noise scale as the doubles the record holds, backend/float64-constants.ts; additive constants cancel): the replay matches to 1e-9
    const y0 = 1.7;
    const logp = (k: number) =>
      ts.reduce((s, t, i) => s - 0.5 * ((yObs[i]! - y0 * Math.exp(-k * t)) / 0.1) ** 2, 0) - 0.5 * ((Math.log(k) + 1) / 0.5) ** 2;
    const at = (k: number) => replay.replayOnly(Float64Array.of(Math.log(k), Math.log(y0)))!.logp[0]!;
    expect(Math.abs(at(0.35) - at(0.3) - (logp(0.35) - logp(0.3)))).toBeLessThan(1e-9);
  }, 60_000);

  it('a planted wrong vector–Jacobian product is caught by the self-check (tfjs runs the same gradient code, so only central differences can)', async () => {
    const withPartial = (d: (x: number) => number) =>
      model(async ({ sample, observe }) => {
        const mu = await sample('mu', Normal(0, 1));
        const sq = customOp(elementwiseCustomOp('square', { f: (x) => x * x, partials: [d] }), [typeof mu === 'number' ? tf.scalar(mu) : mu]);
        await observe('y', Normal(sq, 1), 0.7);
      });
    const right = withPartial((x) => 2 * x);
    const wrong = withPartial((x) => 3 * x); // the planted bug
    for (const [m, ok] of [[right, true], [wrong, false]] as const) {
      const { layout } = await layoutOf(m, [], rngFrom(1));
      const replay = replayedChainsLogDensityFn(m, [], layout, 1);
      await replay(Float64Array.of(0.8));
      if (ok) expect(replay.compileStatus()).toBe(true);
      else expect(String(replay.compileStatus())).toMatch(/self-check failed \(a custom op's gradient disagrees with central differences/);
    }
  }, 30_000);

  it('xlogy and xlog1py differentiate in x at x = 0 (log y, log1p y; the check above found them 0 at a Beta shape of exactly 1)', () => {
    const [gx] = tf.grads((x: tf.Tensor, y: tf.Tensor) => xlogy(x, y) as tf.Tensor)([tf.scalar(0), tf.scalar(2)]);
    expect(gx!.dataSync()[0]).toBeCloseTo(Math.log(2), 6);
    const [g1] = tf.grads((x: tf.Tensor, y: tf.Tensor) => xlog1py(x, y) as tf.Tensor)([tf.scalar(0), tf.scalar(-0.5)]);
    expect(g1!.dataSync()[0]).toBeCloseTo(Math.log1p(-0.5), 6);
    // where y is at the edge the value and derivative stay 0, not NaN
    const [g0] = tf.grads((x: tf.Tensor, y: tf.Tensor) => xlogy(x, y) as tf.Tensor)([tf.scalar(0), tf.scalar(0)]);
    expect(g0!.dataSync()[0]).toBe(0);
    expect((xlogy(tf.scalar(0), tf.scalar(0)) as tf.Tensor).dataSync()[0]).toBe(0);
  });

  it("a stiff system on the Rosenbrock solver (Stan's ode_bdf stand-in) compiles too, gradient matching central differences", async () => {
    const rhs = (t: number, y: Float64Array, p: Float64Array): number[] => [-p[0]! * y[0]! + y[1]!, -1000 * (y[1]! - Math.cos(t))];
    const stiff = model(async ({ sample, observe }) => {
      const k = await sample('k', LogNormal(0, 0.5));
      const y = odeSolve(rhs, [1, 1], 0, [0.5, 1, 2], [k], { method: 'rosenbrock' });
      await observe('y', Normal(tf.reshape(tf.slice(y, [0, 0], [3, 1]), [-1]), 0.05), [1.1, 0.9, 0.6]);
    });
    const { layout } = await layoutOf(stiff, [], rngFrom(1));
    const replay = replayedChainsLogDensityFn(stiff, [], layout, 1);
    const r = await replay(Float64Array.of(0.1));
    expect(replay.compileStatus()).toBe(true);
    // at the default tolerance 1e-6 the sensitivities and the difference quotient of the solution differ by about
    // the tolerance (measured 1.3e-6 relative here); 1e-4 leaves room for the step sequence, not for a wrong gradient
    const fd = centralDifferences((q) => replay.replayOnly(q)!.logp[0]!, Float64Array.of(0.1), 1e-5);
    expect(Math.abs(fd[0]! - r.grad[0]!)).toBeLessThan(1e-4 * (1 + Math.abs(r.grad[0]!)));
  }, 30_000);

  it('a solve that fails rejects the point on the replay path as on tfjs (handed back, log density -Infinity)', async () => {
    const stiff = model(async ({ sample, observe }) => {
      const k = await sample('k', LogNormal(0, 3));
      const y = odeSolve(decay, [1], 0, [1, 2], [k], { maxSteps: 60 });
      await observe('y', Normal(tf.reshape(y, [-1]), 0.1), [0.4, 0.2]);
    });
    const { layout } = await layoutOf(stiff, [], rngFrom(1));
    const replay = replayedChainsLogDensityFn(stiff, [], layout, 2);
    const r = await replay(Float64Array.of(0, 9)); // k = 1 solves; k = e^9 needs thousands of steps
    expect(replay.compileStatus()).toBe(true);
    expect(Number.isFinite(r.logp[0])).toBe(true);
    expect(r.logp[1]).toBe(-Infinity);
    expect(replay.compileStats().viaTfjs).toBe(1);
  }, 30_000);
});
