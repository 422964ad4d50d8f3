/**
 * Slow Geweke joint-distribution tests (see `geweke-harness.ts`): NUTS and
 * static HMC run end to end through the sampler driver on the model layer's
 * log density — the tyche model theta ~ N(0, 1), sigma ~ Gamma(4, 4),
 * y_i ~ N(theta, sigma), with sigma mapped to the real line by its bijector
 * and autodiff gradients — with a fixed step size, an identity metric and no
 * adaptation (one draw per call, started at the previous state), and fresh
 * data between calls. Also checks that tfjs tensors do not pile up.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import { Rng } from '../../src/core/rng.js';
import { sampleHmc, sampleNuts } from '../../src/infer/mcmc/index.js';
import { layoutOf, logDensityFn } from '../../src/infer/mcmc/potential.js';
import { type TestFunctions, formatGeweke, gewekeCompare } from './geweke-harness.js';
import { type Joint, drawSigma, drawY, marginalDraws, normalModel } from './geweke-normal-model.js';

beforeAll(async () => {
  await initBackend('cpu');
});

const FNS: TestFunctions<Joint> = {
  theta: (s) => s.theta,
  sigma: (s) => s.sigma,
  'theta^2': (s) => s.theta ** 2,
  'sigma^2': (s) => s.sigma ** 2,
  y0: (s) => s.y[0]!,
  'theta*y0': (s) => s.theta * s.y[0]!,
  'y0*y1': (s) => s.y[0]! * s.y[1]!,
};

describe('Geweke tests through the model layer and the sampler driver', () => {
  const iterations = 4000;
  for (const method of ['nuts', 'hmc'] as const) {
    it(`${method}: successive-conditional moments match the joint; tensors stay flat`, async () => {
      const rng = new Rng(method === 'nuts' ? 11 : 12);
      const { layout } = await layoutOf(normalModel, [[0, 0]], new Rng(1));
      expect(layout.names).toEqual(['theta', 'sigma']);
      let theta = rng.normal();
      let sigma = drawSigma(rng);
      let y = drawY(theta, sigma, rng);
      const chain: Joint[] = [];
      let tensors = 0;
      for (let it = 0; it < iterations; it++) {
        if (it === 10) tensors = tf.memory().numTensors;
        const target = logDensityFn(normalModel, [y], layout);
        const common = {
          dim: 2,
          chains: 1,
          warmup: 0,
          draws: 1,
          init: [Float64Array.of(theta, Math.log(sigma))],
          adaptStepSize: false,
          adaptMassMatrix: false,
          massMatrix: 'identity' as const,
          seed: rng.split(),
        };
        const r = method === 'nuts' ? await sampleNuts(target, { ...common, stepSize: 0.4 }) : await sampleHmc(target, { ...common, stepSize: 0.3, integrationTime: 1.25 }); // mean 4 steps, jittered over 1 .. 7 (the default)
        theta = r.samples[0]![0]!;
        sigma = Math.exp(r.samples[0]![1]!);
        y = drawY(theta, sigma, rng);
        chain.push({ theta, sigma, y });
      }
      expect(tf.memory().numTensors).toBe(tensors);
      const result = gewekeCompare(marginalDraws(40000, new Rng(13)), chain, FNS);
      console.log(formatGeweke(`${method} via sampleNuts/sampleHmc on the model layer`, result));
      expect(result.failures).toEqual([]);
    });
  }
});
