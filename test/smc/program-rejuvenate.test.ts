/**
 * Resample-move for SMC over programs: MH rejuvenation on partial traces
 * (run up to the current checkpoint) keeps a static latent diverse and
 * targets the right posterior; the checkpoint executor stops where it should.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import { model } from '../../src/core/index.js';
import { Rng } from '../../src/core/rng.js';
import { Bernoulli } from '../../src/distributions/bernoulli.js';
import { Normal } from '../../src/distributions/normal.js';
import { infer } from '../../src/infer/index.js';
import { mhStepWith } from '../../src/infer/mcmc/trace-mh.js';
import { checkpointExecutor } from '../../src/infer/smc/checkpoint.js';
import '../../src/infer/smc/program.js';
import { meanAndSe } from '../../src/diagnostics/empirical.js';

beforeAll(async () => {
  await initBackend('cpu');
});

/** mu ~ N(0, 1), y_i ~ N(mu, 1), observed one at a time. */
const normalMean = model(async ({ sample, observe }, ys: number[]) => {
  const mu = await sample('mu', Normal(0, 1));
  for (let i = 0; i < ys.length; i++) await observe(`y${i}`, Normal(mu, 1), ys[i]);
  return mu;
});

const dataRng = new Rng(3);
const YS = Array.from({ length: 20 }, () => 1.3 + dataRng.normal());
// conjugate posterior: precision 1 + n, mean sum(y) / (1 + n)
const POST_MEAN = YS.reduce((a, b) => a + b, 0) / (1 + YS.length);
const POST_SD = 1 / Math.sqrt(1 + YS.length);


describe('checkpoint executor', () => {
  it('stops right after the k-th observation and keeps it in the partial trace', async () => {
    const run = checkpointExecutor(normalMean, [YS], 3);
    const s = await run((a) => (a === 'mu' ? 0.5 : undefined), new Rng(1));
    expect(s.complete).toBe(false);
    expect(s.checkpoints).toBe(3);
    expect([...s.trace].map((x) => x.address)).toEqual(['mu', 'y0', 'y1', 'y2']);
    const ln = (x: number, m: number) => -0.5 * (x - m) ** 2 - 0.5 * Math.log(2 * Math.PI);
    expect(s.logJoint).toBeCloseTo(ln(0.5, 0) + ln(YS[0], 0.5) + ln(YS[1], 0.5) + ln(YS[2], 0.5), 10);
    const full = await checkpointExecutor(normalMean, [YS.slice(0, 2)], 3)((a) => (a === 'mu' ? 0.5 : undefined), new Rng(1));
    expect(full.complete).toBe(true);
    expect(full.returnValue).toBe(0.5);
    expect(full.checkpoints).toBe(2);
  });

  it('MH on partial traces targets the partial posterior (prior x first k likelihoods)', async () => {
    // k = 5: posterior N(sum(y_0..4) / 6, 1 / 6); one long chain, batch-means MCSE
    const k = 5;
    const run = checkpointExecutor(normalMean, [YS], k);
    const rng = new Rng(9);
    let s = await run(() => undefined, rng.split());
    const xs: number[] = [];
    for (let i = 0; i < 6000; i++) {
      s = (await mhStepWith(run, s, rng)).state;
      xs.push(s.trace.get('mu')?.value as number);
    }
    const B = 30;
    const size = xs.length / B;
    const bm = Array.from({ length: B }, (_, b) => xs.slice(b * size, (b + 1) * size).reduce((a, c) => a + c, 0) / size);
    const { mean, se } = meanAndSe(bm);
    const want = YS.slice(0, k).reduce((a, b) => a + b, 0) / (k + 1);
    expect(Math.abs(mean - want)).toBeLessThan(4.5 * se);
  });
});

describe('SMC over programs with rejuvenation', () => {
  it('keeps many more distinct values of a static latent and matches the conjugate posterior', async () => {
    const particles = 100;
    const seeds = 10;
    const distinct = { plain: [] as number[], moved: [] as number[] };
    const means: number[] = [];
    const sds: number[] = [];
    const acceptance: number[] = [];
    for (let s = 0; s < seeds; s++) {
      const plain = await infer(normalMean, { method: 'smc', particles, seed: s, batched: false }, YS);
      distinct.plain.push(new Set(plain.draws.map((d) => d.values.mu as number)).size);
      const moved = await infer(normalMean, { method: 'smc', particles, seed: s, rejuvenate: { steps: 2 } }, YS);
      distinct.moved.push(new Set(moved.draws.map((d) => d.values.mu as number)).size);
      const m = moved.moments('mu');
      means.push(m.mean);
      sds.push(m.sd);
      acceptance.push((moved.diagnostics.rejuvenation as { acceptance: number }).acceptance);
    }
    const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    console.log(
      `normal mean, 20 sequential observations, ${particles} particles, ${seeds} seeds: distinct mu without rejuvenation ${avg(distinct.plain).toFixed(1)} (min ${Math.min(...distinct.plain)}, max ${Math.max(...distinct.plain)}), with 2 MH steps ${avg(distinct.moved).toFixed(1)} (min ${Math.min(...distinct.moved)}); acceptance ${avg(acceptance).toFixed(2)}`,
    );
    for (let s = 0; s < seeds; s++) expect(distinct.moved[s]).toBeGreaterThan(2 * distinct.plain[s]);
    const m = meanAndSe(means);
    const sd = meanAndSe(sds);
    console.log(`posterior mean ${m.mean.toFixed(4)} ± ${m.se.toFixed(4)} (exact ${POST_MEAN.toFixed(4)}), sd ${sd.mean.toFixed(4)} ± ${sd.se.toFixed(4)} (exact ${POST_SD.toFixed(4)})`);
    expect(Math.abs(m.mean - POST_MEAN)).toBeLessThan(4.5 * m.se);
    expect(Math.abs(sd.mean - POST_SD)).toBeLessThan(4.5 * sd.se);
  });

  it('agrees with enumeration on a model with stochastic control flow', async () => {
    // a coin decides whether one or two observations follow; rejuvenation may change the path
    const branchy = model(async ({ sample, observe }) => {
      const c = await sample('c', Bernoulli(0.4));
      const z = await sample('z', Bernoulli(c ? 0.8 : 0.3));
      await observe('y0', Bernoulli(z ? 0.9 : 0.2), 1);
      if (c) await observe('y1', Bernoulli(z ? 0.7 : 0.4), 0);
      else {
        const w = await sample('w', Bernoulli(0.5));
        await observe('y1', Bernoulli(w ? 0.6 : 0.1), 1);
        await observe('y2', Bernoulli(z ? 0.5 : 0.9), 1);
      }
      return c;
    });
    const exact = (await infer(branchy, { method: 'enumerate' })).marginal((d) => d.returnValue).prob(1);
    const ps: number[] = [];
    for (let s = 0; s < 10; s++) {
      const post = await infer(branchy, { method: 'smc', particles: 200, seed: s, essThreshold: 1, rejuvenate: { steps: 2 } });
      ps.push(post.marginal((d) => d.returnValue).prob(1));
    }
    const { mean, se } = meanAndSe(ps);
    expect(Math.abs(mean - exact)).toBeLessThan(4.5 * se);
  });

  it('rejects a bad step count', async () => {
    await expect(infer(normalMean, { method: 'smc', particles: 10, seed: 1, rejuvenate: { steps: -1 } }, YS)).rejects.toThrow(/rejuvenate.steps must be a non-negative integer/);
  });
});
