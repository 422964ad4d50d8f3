/**
 * Normalizing flows: log|det J| against the autodiff Jacobian and
 * inverse(forward(x)) = x for every layer on random inputs and parameters
 * (property tests); AutoFlow as a VI guide on a banana target against the
 * mean-field baseline; density estimation by maximum likelihood; an
 * amortised guide (a small VAE); NeuTra (NUTS preconditioned by a fitted guide).
 */
import { fc, test } from '@fast-check/vitest';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import { model, Rng } from '../../src/core/index.js';
import { Normal } from '../../src/distributions/normal.js';
import {
  type FlowBijector, type FlowLayer, affine, affineCoupling, fitFlow, iaf, maf, planar, radial, reverse, smallNormal, splineCoupling, splineIaf, splineMaf,
} from '../../src/flows/index.js';
import { positive } from '../../src/distributions/constraints.js';
import { Independent } from '../../src/distributions/independent.js';
import { infer } from '../../src/infer/index.js';
import { AutoFlow, AutoNormal, SVI, column, cosineDecay, paramNetwork } from '../../src/infer/vi/index.js';

beforeAll(async () => {
  await initBackend('cpu');
});

/** log|det| of a small square matrix (row-major), by Gaussian elimination in float64. */
function logAbsDet(m: number[][]): number {
  const a = m.map((r) => [...r]);
  const n = a.length;
  let ld = 0;
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(a[r]![c]!) > Math.abs(a[p]![c]!)) p = r;
    [a[c], a[p]] = [a[p]!, a[c]!];
    const piv = a[c]![c]!;
    ld += Math.log(Math.abs(piv));
    for (let r = c + 1; r < n; r++) {
      const f = a[r]![c]! / piv;
      for (let j = c; j < n; j++) a[r]![j]! -= f * a[c]![j]!;
    }
  }
  return ld;
}

const D = 3;
/** Every layer, with parameters drawn at random (not the identity initialisation). */
const LAYERS: [string, FlowLayer][] = [
  ['planar', planar()],
  ['radial', radial()],
  ['affineCoupling', affineCoupling({ hidden: 5 })],
  ['affineCoupling(flip)', affineCoupling({ hidden: 5, flip: true })],
  ['iaf', iaf({ hidden: 7 })],
  ['maf', maf({ hidden: 7 })],
  ['reverse', reverse()],
  ['affine', affine()],
  ['splineCoupling', splineCoupling({ bins: 5, bound: 1.5, hidden: 5 })],
  ['splineCoupling(flip)', splineCoupling({ bins: 5, bound: 1.5, hidden: 5, flip: true })],
  ['splineMaf', splineMaf({ bins: 5, bound: 1.5, hidden: 7 })],
  ['splineIaf', splineIaf({ bins: 5, bound: 1.5, hidden: 7 })],
];
function randomBijector(layer: FlowLayer, seed: number): FlowBijector {
  const rng = new Rng(seed);
  const init = layer.init(D, rng);
  const params: Record<string, tf.Tensor> = {};
  for (const [k, v] of Object.entries(init)) params[k] = tf.add(v, smallNormal(rng, v.shape, 0.5));
  return layer.build(D, params);
}

describe('flow bijectors', () => {
  for (const [name, layer] of LAYERS) {
    test.prop([fc.integer({ min: 1, max: 1e6 })], { numRuns: 12, seed: 7 })(`${name}: log|det J| matches the autodiff Jacobian and inverse(forward(x)) = x`, (seed) => {
      tf.tidy(() => {
        const b = randomBijector(layer, seed);
        const x = tf.tensor1d(Float32Array.from(new Rng(seed + 1).normals(D)));
        const y = b.forward(x) as tf.Tensor;
        const jac: number[][] = [];
        for (let k = 0; k < D; k++) jac.push(Array.from(tf.grad((v: tf.Tensor) => tf.slice(b.forward(v) as tf.Tensor, [k], [1]).sum())(x).dataSync()));
        const ld = (b.logDetJacobian(x, y) as tf.Tensor).dataSync()[0]!;
        expect(Math.abs(ld - logAbsDet(jac))).toBeLessThan(2e-3 * (1 + Math.abs(ld)));
        const back = (b.inverse(y) as tf.Tensor).dataSync();
        const xs = x.dataSync();
        for (let i = 0; i < D; i++) expect(Math.abs(back[i]! - xs[i]!)).toBeLessThan(2e-3 * (1 + Math.abs(xs[i]!)));
        // batched inputs give one log-determinant per row
        const xb = tf.stack([x, tf.neg(x)]);
        expect((b.logDetJacobian(xb, b.forward(xb)) as tf.Tensor).shape).toEqual([2]);
      });
    });
  }

  it('rejects vectors of the wrong length, naming the flow', () => {
    const b = randomBijector(planar(), 1);
    expect(() => b.forward(tf.zeros([4]))).toThrow(/Planar: expected vectors of length 3/);
  });
});

describe('flows as guides and density estimators', () => {
  // a normalised banana: a ~ N(0, 1), b ~ N(a^2 - 1, 0.5); log Z = 0, so KL(q || p) = -ELBO
  const banana = model(async ({ sample }) => {
    const a = await sample('a', Normal(0, 1));
    await sample('b', Normal(tf.sub(tf.square(tf.add(a, 0)), 1), 0.5));
  });

  it('AutoFlow fits the banana better than the mean-field baseline (KL reported)', async () => {
    const steps = 300;
    const kl: Record<string, { bound: number; stderr: number }> = {};
    for (const [name, guide] of [['mean-field', new AutoNormal({ init: 'zero', initScale: 1 })], ['flow', new AutoFlow({ init: 'zero', initScale: 1, layers: [affineCoupling({ hidden: 16, flip: true }), affineCoupling({ hidden: 16 }), affineCoupling({ hidden: 16, flip: true })] })]] as const) {
      const svi = new SVI(banana, guide, { particles: 16, seed: 2, optimizer: { lr: cosineDecay(0.03, steps, 1e-3) } });
      for (let k = 0; k < steps; k++) await svi.step([]);
      const e = await svi.evaluate([], 4000);
      kl[name] = { bound: -e.bound, stderr: e.stderr };
      svi.dispose();
    }
    console.log(`banana KL(q || p): mean-field ${kl['mean-field']!.bound.toFixed(3)} ± ${kl['mean-field']!.stderr.toFixed(3)}, flow ${kl.flow!.bound.toFixed(3)} ± ${kl.flow!.stderr.toFixed(3)}`);
    expect(kl.flow!.bound).toBeGreaterThan(-4.5 * kl.flow!.stderr); // a KL is nonnegative
    expect(kl.flow!.bound).toBeLessThan(kl['mean-field']!.bound - 4.5 * Math.hypot(kl.flow!.stderr, kl['mean-field']!.stderr));
  });

  it('a MAF fitted by maximum likelihood beats a Gaussian on held-out banana samples', () => {
    const rng = new Rng(5);
    const draw = (n: number) => {
      const a = Float32Array.from(rng.normals(n));
      const b = Float32Array.from(a, (x) => x * x - 1 + 0.5 * rng.normal());
      return tf.stack([tf.tensor1d(a), tf.tensor1d(b)], 1);
    };
    const train = draw(1000);
    const test = draw(1000);
    const fitted = fitFlow(train, [maf({ hidden: 12 }), reverse(), maf({ hidden: 12 })], { steps: 150, optimizer: { name: 'adam', lr: 0.02 }, batchSize: 200, seed: 1 });
    const flowLL = tf.tidy(() => tf.mean(fitted.logProb(test)).dataSync()[0]!);
    // the Gaussian maximum-likelihood fit, scored in closed form
    const gaussLL = tf.tidy(() => {
      const mean = tf.mean(train, 0);
      const c = tf.sub(train, mean);
      const cov = tf.div(tf.matMul(c, c, true, false), 1000).arraySync() as number[][];
      const det = cov[0]![0]! * cov[1]![1]! - cov[0]![1]! ** 2;
      const inv = [[cov[1]![1]! / det, -cov[0]![1]! / det], [-cov[0]![1]! / det, cov[0]![0]! / det]];
      const t = (tf.sub(test, mean).arraySync() as number[][]).map(([x, y]) => -0.5 * (x! * x! * inv[0]![0]! + 2 * x! * y! * inv[0]![1]! + y! * y! * inv[1]![1]!) - 0.5 * Math.log(det) - Math.log(2 * Math.PI));
      return t.reduce((s, v) => s + v, 0) / t.length;
    });
    console.log(`banana held-out log-likelihood per point: MAF ${flowLL.toFixed(3)}, Gaussian ${gaussLL.toFixed(3)}`);
    expect(flowLL).toBeGreaterThan(gaussLL + 0.1);
    const s = fitted.sample(5, new Rng(1));
    expect(s.shape).toEqual([5, 2]);
    s.dispose();
    fitted.dispose();
    train.dispose();
    test.dispose();
  });
});

describe('amortised guides', () => {
  it('a small VAE (encoder guide, decoder model) learns a 1-D latent for points on an arc', async () => {
    // the data set: 100 noisy points on an arc of the unit circle (noise sd 0.05)
    const N = 100;
    const rng = new Rng(3);
    const theta = Array.from({ length: N }, () => Math.PI * (1.5 * rng.uniform() - 0.75));
    const X = tf.tensor2d(theta.map((t) => [Math.cos(t) + 0.05 * rng.normal(), Math.sin(t) + 0.05 * rng.normal()]));
    const vae = model(async ({ sample, observe, param, plate }, x: tf.Tensor2D) => {
      const decoder = await paramNetwork(param, 'dec', [1, 16, 2]);
      const noise = await param('noise', 0.3, positive);
      await plate('data', N, async (_i, p) => {
        const z = await p.sample('z', Normal(tf.zeros([N]), 1));
        await p.observe('x', Independent(Normal(decoder(tf.expandDims(z, -1)), noise), 1), x);
      });
    });
    const encoderGuide = model(async ({ param, plate }, x: tf.Tensor2D) => {
      const out = (await paramNetwork(param, 'enc', [2, 16, 2]))(x);
      await plate('data', N, (_i, p) => p.sample('z', Normal(column(out, 0), tf.add(tf.softplus(column(out, 1)), 1e-3))));
    });
    const svi = new SVI(vae, encoderGuide, { particles: 1, seed: 1, optimizer: { lr: 0.02 } });
    const before = await svi.evaluate([X], 20);
    for (let k = 0; k < 400; k++) await svi.step([X]);
    const after = await svi.evaluate([X], 20);
    expect(after.bound - before.bound).toBeGreaterThan(4.5 * Math.hypot(before.stderr, after.stderr));
    // without using z the decoder could only explain the data with noise sd near the data's spread (~0.5)
    expect(svi.store.values().noise as number).toBeLessThan(0.15);
    svi.dispose();
    X.dispose();
  });
});

describe('NeuTra', () => {
  it('NUTS on a fitted full-rank guide\'s standard-normal coordinates recovers a correlated Gaussian', async () => {
    // a ~ N(0, 1), b ~ N(3 a + 1, 0.3): means (0, 1), sds (1, sqrt(9.09)), correlation 3 / sqrt(9.09)
    const corr = model(async ({ sample }) => {
      const a = await sample('a', Normal(0, 1));
      await sample('b', Normal(tf.add(tf.mul(a, 3), 1), 0.3));
    });
    const post = await infer(corr, { method: 'neutra', guide: 'mvn', viSteps: 300, vi: { optimizer: { lr: 0.05 } }, chains: 2, warmup: 150, samples: 200, seed: 1 });
    const d = post.diagnostics as { stepSize: number[]; divergences: number; vectorized: unknown };
    expect(d.vectorized).toBe(true);
    expect(d.divergences).toBe(0);
    // in the guide's coordinates the target is close to N(0, I), so the adapted step sizes are near 1
    for (const h of d.stepSize) expect(h).toBeGreaterThan(0.5);
    const exact: Record<string, { mean: number; sd: number }> = { a: { mean: 0, sd: 1 }, b: { mean: 1, sd: Math.sqrt(9.09) } };
    for (const row of post.summary().rows) {
      const e = exact[row.name]!;
      expect(Math.abs(row.mean - e.mean)).toBeLessThan(4.5 * (row.mcse_mean as number));
      expect(Math.abs(row.sd - e.sd)).toBeLessThan(4.5 * (row.mcse_sd as number));
    }
  });
});
