/**
 * The diffusion substrate (fast tier): parametrisation round trips, the
 * analytic mixture's exact score / x0 / velocity, transition log-densities,
 * a sampler and the ODE transport on the mixture, the flow-to-SDE and
 * interpolant-to-VP conversions, guidance, errors, memory over 1000 steps,
 * abort, weights round trip and PNG output. Each statistical check has a
 * planted bug shown to fail. The full sampler x schedule matrix is in
 * diffusion.slow.test.ts.
 */
import { inflateSync } from 'node:zlib';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import '../../../src/backend/gradients.js';
import { initBackend } from '../../../src/backend/select.js';
import { Rng } from '../../../src/core/rng.js';
import { encodePng, imageGrid, scatterImage, crc32 } from '../../../src/io/png.js';
import { imageGridPlot, particleScatterPlot, toSvg } from '../../../src/plots/index.js';
import * as D from '../../../src/steer/diffusion/index.js';
import { checkMixtureSamples } from '../../../src/testing/diffusion.js';
import { runSMC, type FeynmanKac } from '../../../src/infer/smc/index.js';
import { MIX, SCHEDULES, ddpmWrongPosterior, maxAbsDiff } from './fixtures.js';
import { loadClassifier, loadDenoiser, loadDigits, splitDigits } from '../../../src/steer/diffusion/files.js';

beforeAll(async () => {
  await initBackend('cpu');
});

const points = (n: number, seed: string, scale = 2) => tf.tensor2d(Float32Array.from(new Rng(seed).normals(n * 2), (z) => scale * z), [n, 2]);

describe('parametrisations', () => {
  it('every conversion round-trips under every schedule (the v type only on VP)', () => {
    const x = points(8, 'x');
    const p = points(8, 'p', 1);
    for (const sch of Object.values(SCHEDULES)) {
      for (const t of [sch.tMin + 0.01, 0.3, 0.7, Math.min(sch.tMax, 0.99)]) {
        const types = D.PREDICTIONS.filter((q) => q !== 'v' || sch.kind === 'vp');
        for (const a of types) {
          for (const b of types) {
            const q = D.convertPrediction(p, x, a, b, sch, t);
            const back = D.convertPrediction(q, x, b, a, sch, t);
            // float32 rounding of each affine map, scaled by its coefficients
            const [c1x, c1p] = D.conversionCoefficients(a, b, sch, t);
            const [c2x, c2p] = D.conversionCoefficients(b, a, sch, t);
            const tol = 1e-6 * 8 * (1 + Math.abs(c2x) * 8 + Math.abs(c2p) * (Math.abs(c1x) * 8 + Math.abs(c1p) * 4));
            expect(maxAbsDiff(back, p), `${sch.name} ${a}->${b}->${a} at t=${t}`).toBeLessThan(tol);
            tf.dispose([q, back]);
          }
        }
      }
    }
    tf.dispose([x, p]);
  });

  it('conversions agree with the exact mixture quantities (planted bug: a wrong velocity formula fails)', () => {
    const x = points(16, 'xm');
    for (const sch of Object.values(SCHEDULES)) {
      const t = 0.4;
      const eps = MIX.predict(x, sch, t, 'epsilon');
      for (const to of D.PREDICTIONS.filter((q) => q !== 'v' || sch.kind === 'vp')) {
        const exact = MIX.predict(x, sch, t, to);
        const conv = D.convertPrediction(eps, x, 'epsilon', to, sch, t);
        expect(maxAbsDiff(conv, exact), `${sch.name} epsilon->${to}`).toBeLessThan(1e-3 * (1 + Math.abs(sch.dSigma(t))));
        tf.dispose([exact, conv]);
      }
      // planted bug: velocity taken as alpha' x0 - sigma' eps
      const x0 = MIX.predict(x, sch, t, 'x0');
      const wrong = tf.sub(tf.mul(x0, sch.dAlpha(t)), tf.mul(eps, sch.dSigma(t)));
      const exactU = MIX.predict(x, sch, t, 'velocity');
      expect(maxAbsDiff(wrong, exactU)).toBeGreaterThan(1e-2);
      tf.dispose([eps, x0, wrong, exactU]);
    }
    x.dispose();
  });
});

describe('the analytic Gaussian mixture', () => {
  it('score equals the gradient of the exact noised log density; x0 satisfies Tweedie (planted bug: a mixture with a wrong weight fails)', () => {
    const x = points(32, 'score');
    for (const sch of Object.values(SCHEDULES)) {
      for (const t of [0.05, 0.5, 0.9]) {
        const a = sch.alpha(t);
        const s = sch.sigma(t);
        const g = tf.grad((y: tf.Tensor) => tf.sum(MIX.logDensity(y, a, s)))(x);
        const score = MIX.predict(x, sch, t, 'score');
        expect(maxAbsDiff(score, g), `${sch.name} t=${t}`).toBeLessThan(2e-3 / Math.min(1, s * s));
        const x0 = MIX.predict(x, sch, t, 'x0');
        const tweedie = tf.div(tf.add(x, tf.mul(score, s * s)), a);
        expect(maxAbsDiff(x0, tweedie), `${sch.name} Tweedie t=${t}`).toBeLessThan(5e-3 / a);
        tf.dispose([g, score, x0, tweedie]);
      }
    }
    const bad = new D.GaussianMixture(MIX.means.map((mean, k) => ({ mean, covariance: MIX.covariances[k], weight: k === 0 ? 0.3 : MIX.weights[k]!, label: MIX.labels[k] })));
    const g = tf.grad((y: tf.Tensor) => tf.sum(MIX.logDensity(y, 0.8, 0.6)))(x);
    const wrong = bad.exact(x, 0.8, 0.6);
    expect(maxAbsDiff(wrong.score, g)).toBeGreaterThan(1e-2);
    tf.dispose([x, g, wrong.score, wrong.x0, wrong.logDensity, wrong.responsibilities]);
  });

  it('exact samples match the mixture moments; the check rejects a shifted sample', () => {
    const { x } = MIX.sample(4000, new Rng('exact'));
    expect(checkMixtureSamples(x, MIX).pass).toBe(true);
    const shifted = x.map((v, i) => (i % 2 === 0 ? v + 0.3 : v));
    const c = checkMixtureSamples(shifted, MIX);
    expect(c.pass, c.summary).toBe(false);
  });

  it('predictSync differentiates the x0-prediction (against central finite differences; the shipped-style MLP too)', () => {
    const sch = SCHEDULES.vp;
    const model = MIX.model(sch, 'epsilon');
    const x = points(4, 'grad', 1);
    const f = (y: tf.Tensor) => tf.sum(tf.mul(D.predictSync(model, y, 0.3, undefined, 'x0'), tf.tensor1d([1, -2])));
    const g = tf.grad(f)(x);
    const gv = g.dataSync();
    const xv = x.dataSync();
    const h = 1e-2;
    for (let i = 0; i < 8; i++) {
      const up = Float32Array.from(xv);
      const dn = Float32Array.from(xv);
      up[i]! += h;
      dn[i]! -= h;
      const fd = tf.tidy(() => (f(tf.tensor2d(up, [4, 2])).dataSync()[0]! - f(tf.tensor2d(dn, [4, 2])).dataSync()[0]!) / (2 * h));
      expect(Math.abs(gv[i]! - fd), `coordinate ${i}`).toBeLessThan(2e-2 * (1 + Math.abs(fd)));
    }
    const asyncModel: D.DiffusionModel = { ...model, predict: async (y, t) => model.predict(y, t) };
    expect(() => D.predictSync(asyncModel, x, 0.3, undefined, 'x0')).toThrow(/predict returned a promise/);
    tf.dispose([x, g]);
  });

  it('class-conditional predictions equal the conditional mixture; guidance scale 1 is conditional and 0 unconditional', async () => {
    const sch = SCHEDULES.vp;
    const model = MIX.model(sch, 'epsilon');
    const x = points(10, 'cfg');
    const lab = D.labels(10, 1);
    const cond = MIX.conditional(1).predict(x, sch, 0.5, 'epsilon');
    const viaLabel = await D.denoise(model, x, 0.5, lab);
    expect(maxAbsDiff(viaLabel, cond)).toBeLessThan(1e-5);
    const g1 = await D.denoise(D.classifierFreeGuidance(model, 1), x, 0.5, lab);
    const g0 = await D.denoise(D.classifierFreeGuidance(model, 0), x, 0.5, lab);
    const uncond = MIX.predict(x, sch, 0.5, 'epsilon');
    expect(maxAbsDiff(g1, cond)).toBeLessThan(1e-5);
    expect(maxAbsDiff(g0, uncond)).toBeLessThan(1e-5);
    tf.dispose([x, lab, cond, viaLabel, g1, g0, uncond]);
  });
});

describe('samplers', () => {
  it('transition log-densities equal the Gaussian the step describes, and the step draws from it (planted bug: a variance-for-std density fails)', async () => {
    const model = MIX.model(SCHEDULES.vp, 'epsilon');
    const x = points(3000, 'tl', 1);
    for (const sampler of [D.ddpm(), D.ddim({ eta: 0.7 }), D.eulerMaruyama(), D.flowSde()]) {
      const out = await D.samplerStep(sampler, { model, x, t: 0.5, s: 0.45 }, new Rng(sampler.name));
      const [xs, mean, lp] = [out.x.dataSync(), out.mean.dataSync(), out.logProb!.dataSync()];
      const sd = out.std;
      let zsum = 0;
      let z2 = 0;
      for (let i = 0; i < 3000; i++) {
        let q = 0;
        for (let j = 0; j < 2; j++) {
          const z = (xs[2 * i + j]! - mean[2 * i + j]!) / sd;
          q += z * z;
          zsum += z;
          z2 += z * z;
        }
        const want = -0.5 * q - 2 * Math.log(sd) - Math.log(2 * Math.PI);
        expect(Math.abs(lp[i]! - want)).toBeLessThan(1e-3 * (1 + Math.abs(want)));
      }
      // standardised noise: mean 0 (se 1/sqrt(6000)), variance 1 (se sqrt(2/6000))
      expect(Math.abs(zsum / 6000) / Math.sqrt(1 / 6000)).toBeLessThan(4);
      expect(Math.abs(z2 / 6000 - 1) / Math.sqrt(2 / 6000)).toBeLessThan(4);
      // a given noise (noise search) is used exactly: x = mean + std z
      const z = D.gaussianNoise([3000, 2], new Rng('z'));
      const again = await D.samplerStep(sampler, { model, x, t: 0.5, s: 0.45 }, new Rng('unused'), z);
      const want = tf.tidy(() => tf.add(again.mean, tf.mul(z, again.std)));
      expect(maxAbsDiff(again.x, want)).toBeLessThan(1e-6);
      tf.dispose([z, again.x, again.x0, again.mean, again.logProb!, want]);
      const wrong = D.transitionLogDensity(out.x, out.mean, sd * sd);
      expect(maxAbsDiff(wrong, out.logProb!)).toBeGreaterThan(0.1);
      tf.dispose([out.x, out.x0, out.mean, out.logProb!, wrong]);
    }
    x.dispose();
  });

  it('DDPM draws the mixture from exact prior samples (planted bug: a wrong posterior coefficient fails)', async () => {
    const sch = SCHEDULES.vp;
    const model = MIX.model(sch, 'epsilon');
    const target = MIX.marginal(sch, sch.tMin);
    for (const [sampler, ok] of [
      [D.ddpm(), true],
      [ddpmWrongPosterior(), false],
    ] as const) {
      const rng = new Rng(`ddpm-${ok}`);
      const x = MIX.sampleAt(2000, sch, sch.tMax, rng);
      const r = await D.sampleDiffusion(model, { sampler, steps: 100, x, rng });
      const c = checkMixtureSamples(r.x, target);
      expect(c.pass, c.summary).toBe(ok);
      tf.dispose([x, r.x]);
    }
  });

  it('the flow ODE (Heun) transports exact prior samples of a flow model to the mixture (planted bug: a 10% slow velocity fails)', async () => {
    const sch = SCHEDULES.interpolant;
    const model = MIX.model(sch, 'velocity');
    const slow: D.DiffusionModel = { ...model, name: 'slow', predict: (y, t) => tf.tidy(() => tf.mul(model.predict(y, t) as tf.Tensor, 0.9)) };
    const rng = new Rng('heun');
    const x = MIX.sampleAt(2000, sch, sch.tMax, rng);
    for (const [m, ok] of [
      [model, true],
      [slow, false],
    ] as const) {
      const r = await D.sampleDiffusion(m, { sampler: D.flowOde('heun'), steps: 40, x, rng });
      const c = checkMixtureSamples(r.x, MIX.marginal(sch, sch.tMin));
      expect(c.pass, `${m.name}: ${c.summary}`).toBe(ok);
      expect(r.evaluations).toBe(80);
      r.x.dispose();
    }
    x.dispose();
  });

  it('flow ODE -> SDE keeps the marginals at intermediate times (planted bug: dropping the score term fails)', async () => {
    const sch = SCHEDULES.interpolant;
    const model = MIX.model(sch, 'velocity');
    const rng = new Rng('fsde');
    const x = MIX.sampleAt(2000, sch, sch.tMax, rng);
    const times = D.timeGrid(sch, 60, 1, 0.4);
    for (const [sampler, ok] of [
      [D.flowSde({ diffusion: 1 }), true],
      [noScoreSde(), false],
    ] as const) {
      const r = await D.sampleDiffusion(model, { sampler, times, x, rng: rng.split() });
      const c = checkMixtureSamples(r.x, MIX.marginal(sch, 0.4));
      expect(c.pass, `${sampler.name}: ${c.summary}`).toBe(ok);
      r.x.dispose();
    }
    x.dispose();
  });

  it('interpolant -> VP: the converted velocity gives the exact VP score at every time (planted bug: no SNR matching fails)', async () => {
    const flow = MIX.model(SCHEDULES.interpolant, 'velocity');
    const vp = D.vpLinear();
    const conv = D.interpolantToVp(flow, vp);
    const x = points(64, 'i2vp', 1.5);
    for (const s of [vp.tMin, 0.05, 0.2, 0.5, 0.8, vp.tMax]) {
      const got = await D.denoise(conv, x, s, undefined, 'score');
      const exact = MIX.predict(x, vp, s, 'score');
      const scale = 1 / vp.sigma(s);
      expect(maxAbsDiff(got, exact) / scale, `s=${s}`).toBeLessThan(2e-3);
      tf.dispose([got, exact]);
    }
    // planted bug: use the flow at the same clock time, unscaled
    const naive: D.DiffusionModel = { ...flow, schedule: vp, predict: (y, s) => MIX.predict(y, SCHEDULES.interpolant, Math.min(1, Math.max(1e-3, s)), 'velocity') };
    const bad = await D.denoise(naive, x, 0.5, undefined, 'score');
    const exact = MIX.predict(x, vp, 0.5, 'score');
    expect(maxAbsDiff(bad, exact)).toBeGreaterThan(0.1);
    tf.dispose([x, bad, exact]);
  });
});

/** A flow SDE without the ½ g² score correction: adds noise without compensating, so the marginals spread. */
function noScoreSde(): D.Sampler {
  return {
    name: 'flow-sde-without-score',
    stochastic: true,
    async kernel(input) {
      const u = await D.denoise(input.model, input.x, input.t, undefined, 'velocity');
      const x0 = await D.denoise(input.model, input.x, input.t, undefined, 'x0');
      const h = input.t - input.s;
      const mean = tf.tidy(() => tf.sub(input.x, tf.mul(u, h)));
      u.dispose();
      return { mean, std: Math.sqrt(h), x0, evaluations: 1 };
    },
  };
}

describe('errors, memory and abort', () => {
  const sch = SCHEDULES.vp;
  const base = MIX.model(sch, 'epsilon', 'mix');
  const x = () => points(4, 'err');

  it('wrong prediction type for a schedule, time outside the schedule, shape mismatches and non-finite outputs name the model, step and shape', async () => {
    const xs = x();
    expect(() => MIX.model(SCHEDULES.interpolant, 'v')).toThrow(/"v".*variance-preserving.*linear-interpolant/);
    await expect(D.denoise(base, xs, 1.5, undefined, undefined, { caller: 'test', step: 3 })).rejects.toThrow(/model "mix", test, step 3: time t = 1.5 is outside the domain \[0.001, 1\] of schedule vp-linear/);
    const wrongShape: D.DiffusionModel = { ...base, name: 'net', predict: (y) => tf.zeros([y.shape[0]!, 3]) };
    await expect(D.sampleDiffusion(wrongShape, { particles: 4, steps: 5 })).rejects.toThrow(/model "net", sampler ddpm, step 0: the network returned shape \[4, 3\] for a state of shape \[4, 2\]/);
    const nan: D.DiffusionModel = { ...base, name: 'nan-net', predict: (y, t) => (t < 0.55 ? tf.fill(y.shape, NaN) : tf.zerosLike(y)) };
    await expect(D.sampleDiffusion(nan, { particles: 4, steps: 10 })).rejects.toThrow(/model "nan-net", sampler ddpm, step 5: the network returned non-finite values.*\[4, 2\]/);
    await expect(D.sampleDiffusion(base, { x: tf.zeros([4, 3]), steps: 3 })).rejects.toThrow(/state has shape \[4, 3\] but the model expects \[N, 2\]/);
    await expect(D.denoise(base, xs, 0.5, tf.zeros([4, 2]))).rejects.toThrow(/class labels must be an int32 tensor of shape \[4\]/);
    const vec: D.DiffusionModel = { ...base, name: 'vec', classes: undefined, conditionDim: 3, predict: (y) => tf.zerosLike(y) };
    await expect(D.denoise(vec, xs, 0.5, tf.zeros([4, 2]))).rejects.toThrow(/model "vec": the condition must have shape \[4, 3\], got \[4, 2\]/);
    await expect(D.denoise({ ...base, classes: undefined }, xs, 0.5, tf.zeros([4, 3]))).rejects.toThrow(/a condition was given but the model is unconditional/);
    const eps = tf.zeros([4, 2]);
    expect(() => D.convertPrediction(eps, xs, 'epsilon', 'x0', SCHEDULES.interpolant, 1)).toThrow(/cannot recover x0 from a epsilon prediction where alpha_t = 0/);
    await expect(D.sampleDiffusion(MIX.model(SCHEDULES.interpolant, 'velocity'), { particles: 4, steps: 4, sampler: D.eulerMaruyama() })).rejects.toThrow(/euler-maruyama.*step 0: the reverse SDE drift is not finite/);
    tf.dispose([xs, eps]);
  });

  it('a 1000-step sampling run keeps tf.memory().numTensors flat; an AbortSignal stops it and frees the state', async () => {
    const before = tf.memory().numTensors;
    const counts: number[] = [];
    const r = await D.sampleDiffusion(base, { particles: 8, steps: 1000, sampler: D.ddim({ eta: 0.5 }), onStep: () => void counts.push(tf.memory().numTensors) });
    expect(counts.length).toBe(1000);
    expect(Math.max(...counts)).toBe(Math.min(...counts));
    r.x.dispose();
    expect(tf.memory().numTensors).toBe(before);
    const ctl = new AbortController();
    let seen = 0;
    await expect(
      D.sampleDiffusion(base, {
        particles: 8,
        steps: 100,
        signal: ctl.signal,
        onStep: ({ step }) => {
          seen = step;
          if (step === 4) ctl.abort(new Error('stop here'));
        },
      }),
    ).rejects.toThrow('stop here');
    expect(seen).toBe(4);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('the particle core', () => {
  it('runSMC moves a diffusion state { x: [N, d] } with a sampler and resamples it by gather, memory flat', async () => {
    const model = MIX.model(SCHEDULES.vp, 'epsilon');
    const times = D.timeGrid(model.schedule, 30);
    const sampler = D.ddpm();
    const fk: FeynmanKac<{ x: tf.Tensor }> = {
      init: (n, rng) => ({ x: D.gaussianNoise([n, 2], rng) }),
      done: (t) => t >= times.length - 1,
      async step(state, t, rng) {
        const out = await D.samplerStep(sampler, { model, x: state.x, t: times[t]!, s: times[t + 1]!, step: t }, rng);
        // a potential on the x0-prediction (favour x0[0] > 0), enough to force resampling
        const lp = tf.tidy(() => tf.mul(tf.squeeze(tf.slice(out.x0, [0, 0], [-1, 1]), [1]), 0.3));
        tf.dispose([out.x0, out.mean, out.logProb!]);
        return { state: { x: out.x }, logPotential: lp };
      },
    };
    const before = tf.memory().numTensors;
    const counts: number[] = [];
    const res = await runSMC(fk, { particles: 64, seed: 3, onStep: () => void counts.push(tf.memory().numTensors) });
    expect(res.state.x.shape).toEqual([64, 2]);
    expect(res.resampledAt.length).toBeGreaterThan(0);
    expect(Math.max(...counts.slice(1)) - Math.min(...counts.slice(1))).toBe(0);
    res.state.x.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('networks and pictures', () => {
  it('an Mlp survives serialise -> fromBuffer exactly and its denoiser obeys the interface', async () => {
    const mlp = D.Mlp.init({ inputDim: 2, outputDim: 2, hidden: [16, 16], timeFrequencies: 4, classInputs: 4 }, new Rng('mlp'));
    const { manifest, data } = await mlp.serialise({ role: 'denoiser' });
    const back = D.Mlp.fromBuffer(JSON.parse(JSON.stringify(manifest)), data.slice());
    const xs = x2();
    const lab = D.labels(5, 2);
    const a = mlp.apply(xs, 0.3, lab);
    const b = back.apply(xs, 0.3, lab);
    expect(maxAbsDiff(a, b)).toBe(0);
    const model = D.mlpDenoiser(back, { name: 'tiny', schedule: SCHEDULES.interpolant, prediction: 'velocity', eventShape: [2] });
    expect(model.classes).toBe(3);
    const r = await D.sampleDiffusion(model, { particles: 5, steps: 3, sampler: D.flowOde(), cond: lab });
    expect(r.x.shape).toEqual([5, 2]);
    tf.dispose([xs, lab, a, b, r.x]);
    mlp.dispose();
    back.dispose();
  });

  it('the shipped networks load offline and keep their held-out figures (classifier accuracy, denoising loss)', async () => {
    const { test } = splitDigits(loadDigits(), 0);
    expect(test.n).toBe(359);
    const x = tf.tensor2d(test.images, [test.n, 64]);
    const clean = loadClassifier('digits-classifier');
    const pred = tf.tidy(() => tf.argMax(clean.logProbs(x), 1)).dataSync();
    let hits = 0;
    for (let i = 0; i < test.n; i++) hits += pred[i] === test.labels[i] ? 1 : 0;
    const acc = hits / test.n;
    expect(acc).toBeGreaterThan(0.95); // 0.975 when trained (models/diffusion/README.md)
    const noisy = loadClassifier('digits-noisy-classifier');
    expect(() => noisy.logProbs(x)).toThrow(/needs the time t/);
    const digits = loadDenoiser('digits');
    expect([digits.prediction, digits.schedule.name, digits.classes]).toEqual(['epsilon', 'vp-linear', 10]);
    // held-out epsilon MSE at t = 0.3 with seeded noise: a regression guard (the training report's 0.117 averages over t)
    const eps = tf.tensor2d(Float32Array.from(new Rng('shipped').normals(test.n * 64)), [test.n, 64]);
    const sch = digits.schedule;
    const xt = tf.tidy(() => tf.add(tf.mul(x, sch.alpha(0.3)), tf.mul(eps, sch.sigma(0.3))));
    const lab = tf.tensor1d(test.labels, 'int32');
    const out = await D.denoise(digits, xt, 0.3, lab);
    const mse = tf.tidy(() => tf.mean(tf.square(tf.sub(out, eps)))).dataSync()[0]!;
    expect(mse).toBeLessThan(0.3);
    const toy = loadDenoiser('toy2d');
    expect([toy.prediction, toy.schedule.name, toy.classes]).toEqual(['velocity', 'linear-interpolant', 3]);
    tf.dispose([x, eps, xt, lab, out]);
  });

  it('PNG: valid signature, chunk CRCs and pixels that inflate back', () => {
    const img = imageGrid(Float32Array.from({ length: 2 * 64 }, (_, i) => (i % 64) / 32 - 1), 2, 8, 8, { columns: 2, scale: 2, gap: 1 });
    const png = encodePng(img);
    expect([...png.subarray(0, 8)]).toEqual([137, 80, 78, 71, 13, 10, 26, 10]);
    let off = 8;
    const types: string[] = [];
    let idat: Buffer = Buffer.alloc(0);
    while (off < png.length) {
      const len = png.readUInt32BE(off);
      const type = png.toString('ascii', off + 4, off + 8);
      types.push(type);
      expect(png.readUInt32BE(off + 8 + len)).toBe(crc32(png.subarray(off + 4, off + 8 + len)));
      if (type === 'IDAT') idat = png.subarray(off + 8, off + 8 + len);
      off += 12 + len;
    }
    expect(types).toEqual(['IHDR', 'IDAT', 'IEND']);
    const raw = inflateSync(idat);
    expect(raw.length).toBe(img.height * (img.width + 1));
    for (let y = 0; y < img.height; y++) expect(raw.subarray(y * (img.width + 1) + 1, (y + 1) * (img.width + 1))).toEqual(Buffer.from(img.data.subarray(y * img.width, (y + 1) * img.width)));
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
    const sc = scatterImage([0, 0, 1, 1], { size: 32, groups: [0, 1] });
    expect(sc.data.length).toBe(32 * 32 * 3);
  });
});

describe('plots', () => {
  it('particle scatter over time and image grids render to SVG', async () => {
    const model = MIX.model(SCHEDULES.vp, 'epsilon');
    const r = await D.sampleDiffusion(model, { particles: 50, steps: 10, keep: [0, 5, 10], seed: 1 });
    const scatter = particleScatterPlot(r.trajectory, { columns: 3 });
    const svg = await toSvg(scatter);
    expect(svg).toContain('<svg');
    expect(svg).toContain('t = 1.000');
    const grid = imageGridPlot(Float32Array.from({ length: 4 * 64 }, (_, i) => Math.sin(i)), 4, 8, 8, { captions: ['a', 'b', 'c', 'd'] });
    const svg2 = await toSvg(grid);
    expect(svg2).toContain('<svg');
    expect(() => imageGridPlot([1, 2, 3], 1, 8, 8)).toThrow(/expected 1x8x8 = 64 values, got 3/);
    r.x.dispose();
  });
});

function x2(): tf.Tensor {
  return points(5, 'x2');
}
