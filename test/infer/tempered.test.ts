import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import { model } from '../../src/core/index.js';
import { Normal } from '../../src/distributions/normal.js';
import { infer } from '../../src/infer/index.js';
import { meanAndSe } from './fixtures.js';

beforeAll(async () => {
  await initBackend('cpu');
});

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

describe('tempered SMC', () => {
  it('estimates log Z without bias and recovers the posterior moments (over seeds)', async () => {
    const seeds = 8;
    const zs: number[] = [];
    const means: number[] = [];
    const sds: number[] = [];
    for (let s = 0; s < seeds; s++) {
      const post = await infer(conjugate, { method: 'tempered', particles: 200, moves: 5, seed: s });
      zs.push(Math.exp(post.logZ - logZ));
      const m = post.moments('mu');
      means.push(m.mean);
      sds.push(m.sd);
      const betas = post.diagnostics.betas as number[];
      expect(betas[betas.length - 1]).toBe(1);
      expect(betas.length).toBeGreaterThan(2);
    }
    const z = meanAndSe(zs);
    expect(Math.abs(z.mean - 1)).toBeLessThan(4 * z.se);
    const mu = meanAndSe(means);
    expect(Math.abs(mu.mean - postMean)).toBeLessThan(4 * mu.se);
    const sd = meanAndSe(sds);
    expect(Math.abs(sd.mean - postSd)).toBeLessThan(4 * sd.se);
  });
});
