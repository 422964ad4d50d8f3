/**
 * Slow tier of `fast-paths-user.test.ts` (TYCHE_SLOW=1): the heavier comparisons of the new fast
 * paths with their slow twins and with exact answers.
 *
 * - batched program SMC and per-particle SMC on the same linear-Gaussian program: both log Z
 *   estimates (10 seeds each) within 4 standard errors of the exact value; the exact value of the
 *   model with its last observation forgotten is rejected (planted);
 * - NUTS on a Truncated(StudentT) prior: posterior mean within 4 MCSE of quadrature; the answer
 *   for the untruncated prior is rejected (planted);
 * - hmc-gibbs with vectorised Gibbs on a discrete offset: E[mu] and E[z] within 4 MCSE of the
 *   exact answer (z enumerated, mu conjugate); E[mu | z = 2] (a sampler stuck in one mode) is
 *   rejected (planted);
 * - VI on the float64 path (PSIS-weighted draws) against NUTS on a model with a positive scale:
 *   means within 4 combined standard errors; a shifted answer is rejected (planted).
 */
import { describe, expect, it } from 'vitest';
import { Categorical, HalfNormal, Normal, StudentT, Truncated, infer, model, ops, toNumber } from '../../src/index.js';
import type { Posterior } from '../../src/infer/posterior.js';

const slow = process.env.TYCHE_SLOW ? describe : describe.skip;

function zOf(post: Pick<Posterior, 'summary'>, name: string, exact: number): number {
  const row = post.summary().rows.find((r) => r.name === name);
  if (!row) throw new Error(`no summary row ${name}`);
  return (row.mean - exact) / Number(row.mcse_mean);
}
const within4 = (z: number): boolean => Number.isFinite(z) && Math.abs(z) <= 4;

slow('fast paths against their slow twins and exact answers (slow)', () => {
  it('batched and per-particle program SMC: log Z within 4 s.e. of the exact value', async () => {
    const y = [0.8, 2.1, 3.5];
    const m = model(async ({ sample, observe }) => {
      const x1 = await sample('x1', Normal(0, 1));
      const a = ops.mul(x1, 0.9);
      await observe('y1', Normal(x1, 1), y[0]!);
      const x2 = await sample('x2', Normal(a, 1));
      await observe('y2', Normal(x2, 1), y[1]!);
      await observe('y3', Normal(ops.add(a, x2), 1), y[2]!);
    });
    // y = A (x1, e2) + noise, A rows [1, 0], [0.9, 1], [1.8, 1]
    const exactLogZ = (n: number): number => {
      const A = [[1, 0], [0.9, 1], [1.8, 1]].slice(0, n);
      const S = A.map((r, i) => A.map((q, j) => r[0]! * q[0]! + r[1]! * q[1]! + (i === j ? 1 : 0)));
      const L = S.map(() => new Array<number>(n).fill(0));
      for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) {
        let s = S[i]![j]!;
        for (let k = 0; k < j; k++) s -= L[i]![k]! * L[j]![k]!;
        L[i]![j] = i === j ? Math.sqrt(s) : s / L[j]![j]!;
      }
      let lz = -0.5 * n * Math.log(2 * Math.PI);
      const z: number[] = [];
      for (let i = 0; i < n; i++) {
        let s = y[i]!;
        for (let k = 0; k < i; k++) s -= L[i]![k]! * z[k]!;
        z.push(s / L[i]![i]!);
        lz -= Math.log(L[i]![i]!) + 0.5 * z[i]! ** 2;
      }
      return lz;
    };
    for (const batched of [true, false]) {
      const lz: number[] = [];
      for (let seed = 1; seed <= 10; seed++) {
        const p = await infer(m, { method: 'smc', particles: 500, seed, essThreshold: 1, batched });
        expect(p.diagnostics.execution).toBe(batched ? 'batched' : 'per-particle');
        lz.push(p.logZ);
        p.dispose();
      }
      const mean = lz.reduce((a, b) => a + b, 0) / lz.length;
      const se = Math.sqrt(lz.reduce((a, b) => a + (b - mean) ** 2, 0) / (lz.length - 1) / lz.length);
      expect(Math.abs(mean - exactLogZ(3)), `batched ${batched}`).toBeLessThanOrEqual(4 * se);
      expect(Math.abs(mean - exactLogZ(2))).toBeGreaterThan(4 * se);
    }
  }, 300_000);

  it('NUTS with a Truncated(StudentT) prior: mean within 4 MCSE of quadrature', async () => {
    const prior = Truncated(StudentT(3, 0.5, 2), { low: 0 });
    const m = model(async ({ sample, observe }) => {
      const t = await sample('t', prior);
      await observe('y', Normal(t, 1), 0.2);
    });
    const mean = (logPrior: (x: number) => number, lo: number): number => {
      let z = 0; let s = 0;
      for (let k = 0; k < 200_000; k++) {
        const x = lo + (40 - lo) * (k + 0.5) / 200_000;
        const w = Math.exp(logPrior(x) - 0.5 * (0.2 - x) ** 2);
        z += w; s += w * x;
      }
      return s / z;
    };
    const post = await infer(m, { method: 'nuts', chains: 4, warmup: 400, samples: 1000, seed: 2 });
    expect(within4(zOf(post, 't', mean((x) => toNumber(prior.logProb(x) as number), 0)))).toBe(true);
    const untruncated = StudentT(3, 0.5, 2);
    expect(within4(zOf(post, 't', mean((x) => toNumber(untruncated.logProb(x) as number), -40)))).toBe(false);
    post.dispose();
  }, 300_000);

  it('hmc-gibbs with vectorised Gibbs: E[mu] and E[z] within 4 MCSE of the exact posterior', async () => {
    const offs = [-2, 0, 3]; const pz = [0.3, 0.3, 0.4]; const ys = [1.0, 1.8];
    const m = model(async ({ sample, observe }) => {
      const mu = await sample('mu', Normal(0, 2));
      const z = await sample('z', Categorical(pz));
      const off = ops.where(ops.eq(z, 0), offs[0]!, ops.where(ops.eq(z, 1), offs[1]!, offs[2]!));
      for (let i = 0; i < ys.length; i++) await observe(`y${i}`, Normal(ops.add(mu, off), 1), ys[i]!);
    });
    // given z, mu ~ N(0, 4) and y_i - off ~ N(mu, 1): conjugate; y | z has covariance I + 4 J (det 9)
    const w: number[] = []; const mus: number[] = [];
    offs.forEach((o, k) => {
      const r = ys.map((v) => v - o); const s1 = r[0]! + r[1]!; const s2 = r[0]! ** 2 + r[1]! ** 2; const prec = 2.25;
      w.push(pz[k]! * Math.exp(-0.5 * (s2 - s1 * s1 / prec))); mus.push(s1 / prec);
    });
    const Z = w.reduce((a, b) => a + b, 0);
    const emu = w.reduce((s, v, k) => s + v * mus[k]!, 0) / Z;
    const ez = w.reduce((s, v, k) => s + v * k, 0) / Z;
    const post = await infer(m, { method: 'hmc-gibbs', chains: 4, warmup: 300, samples: 1000, seed: 7 });
    expect(post.diagnostics.gibbsVectorized).toEqual({ z: true });
    expect(within4(zOf(post, 'mu', emu)) && within4(zOf(post, 'z', ez))).toBe(true);
    expect(within4(zOf(post, 'mu', mus[2]!))).toBe(false); // planted: a sampler stuck at the most probable z
    post.dispose();
  }, 300_000);

  it('VI on the float64 path (PSIS draws) agrees with NUTS on a model with a positive scale', async () => {
    const ys = [0.3, 1.1, -0.4, 0.9, 2.0, 1.4];
    const m = model(async ({ sample, observe }) => {
      const s = await sample('s', HalfNormal(1));
      const mu = await sample('mu', Normal(0, 2));
      for (let i = 0; i < ys.length; i++) await observe(`y${i}`, Normal(mu, s), ys[i]!);
    });
    const nuts = await infer(m, { method: 'nuts', chains: 4, warmup: 500, samples: 1500, seed: 3 });
    const vi = await infer(m, { method: 'vi', guide: 'mvn', steps: 1500, particles: 8, samples: 4000, importanceWeights: 'psis', seed: 3 });
    expect(vi.diagnostics.compiled).toBe(true);
    for (const site of ['mu', 's']) {
      const row = nuts.summary().rows.find((r) => r.name === site)!;
      const mv = vi.moments(site);
      const se = Math.hypot(mv.sd / Math.sqrt(vi.ess), Number(row.mcse_mean));
      expect(Math.abs(mv.mean - row.mean), site).toBeLessThanOrEqual(4 * se);
      expect(Math.abs(mv.mean + 0.1 - row.mean)).toBeGreaterThan(4 * se); // planted shift
    }
    nuts.dispose();
    vi.dispose();
  }, 300_000);
});
