/**
 * NEWCOMER, session 5: the session's new fast paths driven by models written as a newcomer would
 * (top-level tensors, JS numbers mixed with tensors, [1] vs scalar shapes, closures over data
 * arrays, Math.* on data, impossible data, discrete and continuous sites mixed), checked against
 * the per-kernel program, tfjs, or hand-computed exact answers.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import { lintConditions } from '../../src/core/condition-lint.js';
import { valueAndGradsAsync } from '../../src/backend/autodiff.js';
import { CompiledGraph } from '../../src/backend/jit/program.js';
import { traceTensorFunction } from '../../src/backend/jit/trace.js';
import { layoutOf, logDensityTensorFn } from '../../src/infer/mcmc/potential.js';
import { rngFrom } from '../../src/core/rng.js';
import type { Model } from '../../src/core/model.js';
import type { Posterior } from '../../src/infer/posterior.js';
import {
  Bernoulli, Beta, Categorical, Gamma, HalfNormal, Normal, Poisson, StudentT, Truncated, Uniform,
  infer, model, odeSolve, ops, toNumber,
} from '../../src/index.js';

beforeAll(async () => {
  await initBackend('cpu');
});

type AnyModel = Model<never[], unknown>;

/** Fused replay, per-kernel replay and tfjs (value + gradient) of a model's log density at points. */
async function threeWays(m: AnyModel, args: unknown[], points: number[][], plant = 0): Promise<{ fusedVsKernel: number; fusedVsTf: number; served: number; finite?: number; fused: boolean; reason?: string }> {
  const { layout } = await layoutOf(m, args as never[], rngFrom(1));
  const density = logDensityTensorFn(m, args as never[], layout, undefined);
  const tr = await traceTensorFunction(density, tf.tensor1d(new Float32Array(layout.dim).fill(0.1)));
  if (!tr.graph) return { fusedVsKernel: NaN, fusedVsTf: NaN, served: 0, fused: false, reason: tr.reason };
  const f = CompiledGraph.compile(tr.graph, { fuse: true });
  const k = CompiledGraph.compile(tr.graph, { fuse: false });
  if (!(f instanceof CompiledGraph) || !(k instanceof CompiledGraph)) return { fusedVsKernel: NaN, fusedVsTf: NaN, served: 0, fused: false, reason: `not compiled: ${'reason' in f ? f.reason : ''} / ${'reason' in k ? k.reason : ''}` };
  let a = 0; let b = 0; let served = 0; let finite = 0;
  const d = (x: number, y: number): number => (Object.is(x, y) ? 0 : Math.abs(x - y) / (1 + Math.abs(y)));
  for (const p of points) {
    const rf = f.run(p, true); const fv = rf && Float64Array.from(rf.value); const fg = rf && Float64Array.from(rf.grad!);
    const rk = k.run(p, true);
    if ((rf === undefined) !== (rk === undefined)) return { fusedVsKernel: Infinity, fusedVsTf: NaN, served, fused: f.fused === true };
    const x = tf.variable(tf.tensor1d(p));
    const { value, grads } = await valueAndGradsAsync(async () => tf.add(await density(x), tf.mul(plant, tf.sum(tf.square(x)))), [x]);
    const tv = value.dataSync()[0]!; const tg = Array.from(grads[0]!.dataSync());
    value.dispose(); grads.forEach((g) => g.dispose()); x.dispose();
    if (!rf || !rk) continue; // a guard declined the point (tfjs answers it; the sampler rejects)
    served++;
    if (Number.isFinite(fv![0]!)) finite++;
    a = Math.max(a, d(fv![0]!, rk.value[0]!)); rk.grad!.forEach((g, i) => (a = Math.max(a, d(fg![i]!, g))));
    b = Math.max(b, d(fv![0]!, tv)); tg.forEach((g, i) => (b = Math.max(b, d(fg![i]!, g))));
  }
  return { fusedVsKernel: a, fusedVsTf: b, served, finite, fused: f.fused === true };
}

const pts = (dim: number, n: number, s = 1.3): number[][] => Array.from({ length: n }, (_, t) => Array.from({ length: dim }, (_, i) => s * Math.sin(1.7 * i + 2.3 * t + 0.4)));

describe('fused whole-graph JIT: newcomer models equal per-kernel and tfjs', () => {
  const N = 12;
  const xs = Array.from({ length: N }, (_, i) => Math.cos(i * 0.7) * 2);
  const ys = xs.map((x, i) => 0.5 + 1.5 * x + Math.sin(i));
  const X = tf.tensor1d(xs); // top-level tensor closed over
  const Y = tf.tensor1d(ys);
  const cases: Record<string, { m: AnyModel; args?: unknown[]; dim: number }> = {
    'top-level tensors, JS numbers mixed in, Math.* on data': {
      m: model(async ({ sample, observe }) => {
        const a = await sample('a', Normal(0, Math.sqrt(10)));
        const b = await sample('b', Normal(0, 2 * 5));
        const s = await sample('s', HalfNormal(1));
        await observe('y', Normal(ops.add(a, ops.mul(b, X)), ops.add(s, 0.1)), Y);
      }) as AnyModel, dim: 3,
    },
    '[1]-shaped latent against scalar data and [N] data (broadcast)': {
      m: model(async ({ sample, observe }) => {
        const mu = await sample('mu', Normal(tf.tensor1d([0]), 1));
        await observe('y0', Normal(mu, 1), 0.3);
        await observe('y', Normal(mu, tf.fill([N], 2)), Y);
      }) as AnyModel, dim: 1,
    },
    'matrix latent reduced over each axis, softmax/logSumExp, where, clip': {
      m: model(async ({ sample, factor }) => {
        const w = await sample('w', Normal(tf.zeros([3, 4]), 1));
        const r0 = tf.sum(w as tf.Tensor, 0); const r1 = tf.sum(w as tf.Tensor, 1);
        const lse = tf.logSumExp(r0); // ops.logSumExp is for number arrays (a tensor throws)
        const sm = tf.softmax(r1);
        const clipped = tf.minimum(tf.maximum(w as tf.Tensor, -0.5), 0.7); // clipByValue has no rule (falls back)
        const sel = tf.where(tf.greater(w as tf.Tensor, 0), tf.exp(w as tf.Tensor), tf.neg(w as tf.Tensor));
        await factor('f', ops.add(ops.add(lse, tf.sum(tf.log(sm))), ops.add(tf.sum(clipped), ops.mul(-0.1, tf.sum(sel)))));
      }) as AnyModel, dim: 12,
    },
    'matmul of data matrix and latent vector, mean over axis, max': {
      m: model(async ({ sample, observe }) => {
        const beta = await sample('beta', Normal(tf.zeros([3]), 1));
        const D = tf.tensor2d(xs.flatMap((x) => [1, x, x * x]), [N, 3]);
        const eta = tf.squeeze(tf.matMul(D, tf.reshape(beta as tf.Tensor, [3, 1])), [1]);
        await observe('y', Normal(eta, 1), Y);
        await observe('m', Normal(tf.mean(tf.reshape(tf.tile(beta as tf.Tensor, [2]), [2, 3]), 0), 1), tf.tensor1d([0.1, 0.2, 0.3]));
      }) as AnyModel, dim: 3,
    },
    'integer and boolean data tensors (int32 counts, bool mask cast)': {
      m: model(async ({ sample, observe }) => {
        const lam = await sample('lam', Gamma(2, 1));
        const k = tf.tensor1d([0, 3, 1, 7, 2], 'int32');
        const mask = tf.cast(tf.tensor1d([true, false, true, true, false], 'bool'), 'float32');
        await observe('k', Poisson(ops.mul(lam, ops.add(mask, 1))), k);
      }) as AnyModel, dim: 1,
    },
    'very large and very small values (exp overflow guarded, far-out observations)': {
      m: model(async ({ sample, observe }) => {
        const z = await sample('z', Normal(0, 1));
        await observe('far', Normal(z, 1e-3), 40);
        await observe('big', Normal(ops.mul(tf.exp(ops.mul(z, 30) as tf.Tensor), 1e-20), 1), 0.5);
      }) as AnyModel, dim: 1,
    },
    'Beta and StudentT with constrained parameters (guards)': {
      m: model(async ({ sample, observe }) => {
        const p = await sample('p', Beta(2, 3));
        const nu = await sample('nu', Gamma(2, 0.1));
        await observe('x', StudentT(nu, ops.mul(p, 3), 1), Y);
      }) as AnyModel, dim: 2,
    },
    'hierarchical indexing: gather by a group array, concat/stack/slice/transpose/cumsum/reverse': {
      m: model(async ({ sample, observe }) => {
        const theta = await sample('theta', Normal(tf.zeros([4]), 1));
        const group = tf.tensor1d(Array.from({ length: N }, (_, i) => i % 4), 'int32');
        const t = theta as unknown as tf.Tensor;
        await observe('y', Normal(tf.gather(t, group), 1), Y);
        const both = tf.concat([t, tf.reverse(tf.cumsum(t))]);
        const st = tf.transpose(tf.stack([tf.slice(both, [1], [3]), tf.slice(both, [4], [3])]));
        await observe('z', Normal(tf.sum(st, 1), 2), tf.tensor1d([0.1, -0.2, 0.3]));
      }) as AnyModel, dim: 4,
    },
    'broadcast [3,1] against [1,4] and [4]; keepDims, negative axes, max/min/prod over axes; squaredDifference, atan2, ops.logSigmoid (tf.logSigmoid is a customGrad: falls back), softplus of large values': {
      m: model(async ({ sample, factor }) => {
        const a = await sample('a', Normal(tf.zeros([3, 1]), 1));
        const b = await sample('b', Normal(tf.zeros([1, 4]), 1));
        const A = a as unknown as tf.Tensor; const B = b as unknown as tf.Tensor;
        const grid = tf.add(tf.mul(A, B), tf.tensor1d([0.1, 0.2, 0.3, 0.4]));
        const parts = [
          tf.sum(tf.mean(grid, -1, true)), tf.sum(tf.max(grid, 0)), tf.sum(tf.min(grid, 1)), tf.prod(tf.add(tf.sum(grid, 0), 3)),
          tf.sum(tf.squaredDifference(grid, 0.5)), tf.sum(tf.atan2(A, 2)), tf.sum(ops.logSigmoid(tf.mul(B, 40)) as tf.Tensor), tf.sum(tf.softplus(tf.mul(B, 60))),
        ];
        await factor('f', tf.mul(-0.01, tf.addN(parts)));
      }) as AnyModel, dim: 7,
    },
    'parameter-dependent support: Uniform(0, theta) observations (the guard flips between points)': {
      m: model(async ({ sample, observe }) => {
        const theta = await sample('theta', Gamma(2, 1));
        await observe('x', Uniform(0, theta), tf.tensor1d([0.5, 0.9])); // valid at the recording point theta = e^0.1
      }) as AnyModel, dim: 1,
    },
    'impossible observation (-Infinity log density) and NaN-free gradient elsewhere': {
      m: model(async ({ sample, observe }) => {
        const p = await sample('p', Beta(2, 2));
        await observe('ok', Bernoulli(p), 1);
        await observe('x', Beta(p, 1), tf.tensor1d([0.3, 1.5])); // 1.5 is outside (0, 1)
      }) as AnyModel, dim: 1,
    },
    'Truncated Normal/StudentT/Gamma/Beta observations with latent parameters (custom ops)': {
      m: model(async ({ sample, observe }) => {
        const mu = await sample('mu', Normal(0, 1));
        const a = await sample('a', Gamma(3, 1));
        await observe('n', Truncated(Normal(mu, 1), { low: 0 }), tf.tensor1d([0.2, 1.3, 0.05]));
        await observe('t', Truncated(StudentT(3, mu, 1), { low: -1, high: 2 }), tf.tensor1d([0.4, -0.9, 1.9]));
        await observe('g', Truncated(Gamma(a, 1), { high: 3 }), tf.tensor1d([0.5, 2.9]));
        await observe('b', Truncated(Beta(a, 2), { low: 0.2, high: 0.9 }), 0.6);
      }) as AnyModel, dim: 2,
    },
    'Truncated far in the tails: Normal above 30, StudentT above 1e3, Gamma below 1e-3 (log-space normalisers)': {
      m: model(async ({ sample, observe }) => {
        const mu = await sample('mu', Normal(0, 1));
        const a = await sample('a', Gamma(3, 1));
        await observe('n', Truncated(Normal(mu, 1), { low: 30 }), tf.tensor1d([30.1, 30.5]));
        await observe('t', Truncated(StudentT(3, mu, 1), { low: 1000 }), 1000.5);
        await observe('g', Truncated(Gamma(a, 1), { high: 1e-3 }), 5e-4);
      }) as AnyModel, dim: 2,
    },
    'odeSolve (exponential decay, rhs closes over a data array and uses Math.*)': {
      m: model(async ({ sample, observe }) => {
        const k = await sample('k', Gamma(2, 2));
        const drive = [0, 0.1];
        const rhs = (t: number, y: Float64Array, th: Float64Array): number[] => [-th[0]! * y[0]! + drive[1]! * Math.cos(t) * 0];
        const z = odeSolve(rhs, [2], 0, [0.5, 1, 2], tf.reshape(k as unknown as tf.Tensor, [1]));
        await observe('y', Normal(tf.reshape(z, [3]), 0.1), tf.tensor1d([1.2, 0.75, 0.27]));
      }) as AnyModel, dim: 1,
    },
  };
  for (const [name, c] of Object.entries(cases)) {
    it(name, async () => {
      const r = await threeWays(c.m, c.args ?? [], pts(c.dim, 6));
      console.log(name, JSON.stringify(r));
      expect(r.fused).toBe(true);
      expect(r.served).toBeGreaterThan(0);
      // every served value finite, but where an observation is impossible: -Infinity at every point
      expect(r.finite).toBe(name.startsWith('impossible') ? 0 : r.served);
      expect(r.fusedVsKernel).toBeLessThan(1e-12);
      expect(r.fusedVsTf).toBeLessThan(1e-3);
    });
  }
  // Found: on Uniform(0, theta) data NUTS reports compiled: true but sends 99.8% of evaluations to tfjs
  // ('validity guard changed': 22249 of 22284, 4 chains x 800; 22 s instead of ~1 s). The record keeps
  // the guard state of its recording point; nothing re-records when the chains live where the guard
  // differs. The correctness check is in newcomer-session5.slow.test.ts.
  it('a parameter-dependent support guard: each side is recorded once, so the replay serves most points (was: found by NEWCOMER, 22249 of 22284 on tfjs)', async () => {
    const m = model(async ({ sample, observe }) => {
      const theta = await sample('theta', Gamma(2, 1));
      await observe('x', Uniform(0, theta), tf.tensor1d([0.5, 1.2, 0.9, 1.6]));
    });
    const post = await infer(m, { method: 'nuts', chains: 4, warmup: 300, samples: 500, seed: 8 });
    const st = post.diagnostics.compileStats as { evaluations: number; viaTfjs: number };
    if (process.env.TYCHE_REPORT) console.log('support guard: via tfjs', st.viaTfjs, 'of', st.evaluations);
    expect(st.viaTfjs / st.evaluations).toBeLessThan(0.01);
    // posterior p(theta) ∝ theta^-3 e^-theta on theta > 1.6 (Gamma(2, 1) prior, four Uniform(0, theta) points): mean by quadrature
    let z = 0;
    let m1 = 0;
    for (let i = 0; i < 200000; i++) {
      const t = 1.6 + (i + 0.5) * 1e-4;
      const w = t ** -3 * Math.exp(-t);
      z += w;
      m1 += w * t;
    }
    const exact = m1 / z;
    expect(Math.abs(zOf(post, 'theta', exact))).toBeLessThan(4);
    if (process.env.TYCHE_REPORT) console.log('theta', exact, zOf(post, 'theta', exact));
    expect(Math.abs(zOf(post, 'theta', exact + 0.3))).toBeGreaterThan(4); // planted: a mean 0.3 off (about half a posterior sd) fails
    post.dispose();
  });
  it('planted: a tfjs density off by 0.01 |x|^2 is caught by the same comparison', async () => {
    const c = cases['Truncated Normal/StudentT/Gamma/Beta observations with latent parameters (custom ops)']!;
    const r = await threeWays(c.m, [], pts(c.dim, 6), 0.01);
    expect(r.fusedVsKernel).toBeLessThan(1e-12);
    expect(r.fusedVsTf).toBeGreaterThan(1e-3);
  });
  it('clipByValue compiles (it had no rule: NUTS fell back to tfjs) and NUTS is still right (conjugate mean within 4 MCSE)', async () => {
    const m = model(async ({ sample, observe }) => {
      const mu = await sample('mu', Normal(0, 1));
      await observe('y', Normal(tf.clipByValue(mu as unknown as tf.Tensor, -50, 50), 0.5), tf.tensor1d([0.9, 1.4, 0.2]));
    });
    const post = await infer(m, { method: 'nuts', chains: 2, warmup: 200, samples: 400, seed: 4 });
    expect(post.diagnostics.compiled).toBe(true);
    const exact = (2.5 / 0.25) / (1 + 3 / 0.25);
    expect(Math.abs(zOf(post, 'mu', exact))).toBeLessThan(4);
    expect(Math.abs(zOf(post, 'mu', exact + 0.25))).toBeGreaterThan(4); // planted: a wrong exact mean (~1 sd) fails
    post.dispose();
  });
});

/** z-score of a posterior mean (summary row) against an exact value, using the row's MCSE. */
function zOf(post: Posterior, name: string, exact: number): number {
  const row = post.summary().rows.find((r) => r.name === name);
  if (!row) throw new Error(`no summary row ${name}`);
  return (row.mean - exact) / Number(row.mcse_mean);
}

describe('Categorical({ logits }) observations compile (found: tf.logSoftmax, a custom-gradient op, kept softmax regressions on tfjs)', () => {
  it('a softmax regression compiles, and its log density equals the normalised-logits formula', async () => {
    const X = tf.tensor2d([[1, 0.5], [0.2, -1], [-0.3, 0.8], [1.5, 1.1], [-1, -0.4], [0.4, 0.3]]);
    const y = tf.tensor1d([0, 1, 2, 0, 1, 2], 'int32');
    const m = model(async ({ sample, observe }) => {
      const W = await sample('W', Normal(tf.zeros([2, 3]), 1));
      await observe('y', Categorical({ logits: tf.matMul(X, W as tf.Tensor) }), y);
    });
    const post = await infer(m, { method: 'nuts', chains: 2, warmup: 100, samples: 100, seed: 3 });
    expect(post.diagnostics.compiled).toBe(true);
    post.dispose();
    // the log-probabilities themselves: logits - logSumExp(logits), checked against float64 by hand
    const logits = [[2, -1, 0.5], [-30, 10, 9.5]];
    const lp = Categorical({ logits: tf.tensor2d(logits) }).logProb(tf.tensor1d([2, 1], 'int32')) as tf.Tensor;
    const got = Array.from(lp.dataSync());
    const want = logits.map((row, i) => row[[2, 1][i]!]! - Math.log(row.reduce((a, v) => a + Math.exp(v), 0)));
    for (let i = 0; i < 2; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThan(1e-5);
    expect(Math.abs(got[0]! - (want[0]! + 0.01))).toBeGreaterThan(1e-5); // planted: an offset of 0.01 is seen
    tf.dispose([X, y, lp]);
  });
});

describe('ops.logSumExp on a tensor (found: it returned -Infinity silently)', () => {
  it('reduces the tensor (session 11: a tensor path; it threw before); number arrays unchanged; other inputs throw', () => {
    expect(ops.logSumExp(tf.tensor1d([1, 2])).dataSync()[0]).toBeCloseTo(Math.log(Math.exp(1) + Math.exp(2)), 5);
    expect(() => ops.logSumExp({} as unknown as number[])).toThrow(/ops\.logSumExp: expected an array of numbers or a tensor, got/);
    expect(ops.logSumExp([Math.log(2), Math.log(3)])).toBeCloseTo(Math.log(5), 14);
  });
});

describe('enumeration (lean sequential, general, auto, parallel) against Bayes\' rule by hand', () => {
  // recursion (a geometric count), structure from earlier choices, a memo closure, an impossible
  // observation on one branch, a factor and a Poisson observation, JS numbers throughout
  const branchy = model(async ({ sample, observe, factor }, yObs: number, penalty: number) => {
    const geom = async (i: number): Promise<number> => {
      if (i >= 3) return 3;
      const f = await sample(`g${i}`, Bernoulli(0.5));
      return toNumber(f) === 1 ? i : geom(i + 1);
    };
    const n = await geom(0);
    const memo = new Map<number, number>();
    const flip = async (k: number): Promise<number> => {
      if (!memo.has(k)) memo.set(k, toNumber(await sample(`c${k}`, Bernoulli(0.3))));
      return memo.get(k)!;
    };
    let x = 0;
    for (let j = 0; j < n; j++) x += await flip(j % 2);
    if (n === 0) await observe('o', Bernoulli(0), 1); // impossible on this branch
    await factor('f', -penalty * x);
    await observe('y', Poisson(x + 1), yObs);
    return n;
  });
  /** log Z and P(n | y) by summing the joint over every (n, c0, c1) by hand. */
  function exact(yObs: number, penalty: number): { logZ: number; pn: number[] } {
    const fact = [1, 1, 2, 6, 24, 120, 720];
    const pois = (l: number, k: number): number => Math.exp(-l) * l ** k / fact[k]!;
    const pn = [0, 0, 0, 0];
    let Z = 0;
    for (let n = 0; n <= 3; n++) {
      const prn = n < 3 ? 0.5 ** (n + 1) : 0.125;
      for (const c0 of n >= 1 ? [0, 1] : [0]) {
        for (const c1 of n >= 2 ? [0, 1] : [0]) {
          const pc = (n >= 1 ? (c0 ? 0.3 : 0.7) : 1) * (n >= 2 ? (c1 ? 0.3 : 0.7) : 1);
          let x = 0;
          for (let j = 0; j < n; j++) x += j % 2 === 0 ? c0 : c1;
          const w = n === 0 ? 0 : prn * pc * Math.exp(-penalty * x) * pois(x + 1, yObs);
          pn[n]! += w;
          Z += w;
        }
      }
    }
    return { logZ: Math.log(Z), pn: pn.map((v) => v / Z) };
  }
  const agrees = (post: Posterior<[number, number], number>, ex: { logZ: number; pn: number[] }): boolean =>
    Math.abs(post.logZ - ex.logZ) < 1e-9 && [0, 1, 2, 3].every((k) => Math.abs(post.expectation((d) => (d.returnValue === k ? 1 : 0)) - ex.pn[k]!) < 1e-9);

  it('every runtime equals the hand sum to 1e-9; auto falls back to sequential (toNumber on draws); a wrong hand sum fails', async () => {
    const ex = exact(2, 0.5);
    for (const o of [{}, { lean: false }, { strategy: 'auto' as const }]) {
      const post = await infer(branchy, { method: 'enumerate', ...o }, 2, 0.5);
      expect(agrees(post, ex)).toBe(true);
      if ('strategy' in o) expect(post.diagnostics.strategy).toBe('sequential');
    }
    const post = await infer(branchy, { method: 'enumerate' }, 2, 0.5);
    expect(agrees(post, exact(2, -0.5))).toBe(false); // planted: the factor's sign flipped
    expect(agrees(post, exact(3, 0.5))).toBe(false); // planted: other data
    await expect(infer(branchy, { method: 'enumerate', strategy: 'parallel' }, 2, 0.5)).rejects.toThrow(/after site "g0"[\s\S]*strategy: 'sequential'/);
  });

  it("auto is exact when a newcomer branches on draws with JS (===, truthiness, >, array index, Math.max)", async () => {
    const mk = (kind: string) => model(async ({ sample, observe }) => {
      const a = await sample('a', Bernoulli(0.3));
      const b = await sample('b', Bernoulli(0.6));
      const u = a as unknown as number;
      let p: number;
      if (kind === 'eq') p = u === 1 ? 0.9 : 0.2;
      else if (kind === 'truthy') p = u ? 0.9 : 0.2;
      else if (kind === 'gt') p = u > 0.5 ? 0.9 : 0.2;
      else if (kind === 'index') p = [0.2, 0.9][u]!;
      else p = Math.max(u, 0.2);
      await observe('y', Bernoulli(ops.mul(p, ops.add(0.5, ops.mul(b, 0.5)))), 1);
    });
    for (const kind of ['eq', 'truthy', 'gt', 'index', 'max']) {
      // by hand: sum over a, b of P(a) P(b) p(a) (0.5 + 0.5 b)
      const pa = kind === 'max' ? [0.2, 1] : [0.2, 0.9];
      const Z = [0, 1].reduce((s, a) => s + [0, 1].reduce((t, b) => t + (a ? 0.3 : 0.7) * (b ? 0.6 : 0.4) * pa[a]! * (0.5 + 0.5 * b), 0), 0);
      const auto = await infer(mk(kind), { method: 'enumerate', strategy: 'auto' });
      expect(auto.diagnostics.strategy).toBe('sequential');
      expect(Math.abs(auto.logZ - Math.log(Z))).toBeLessThan(1e-9);
    }
  });

  it('discrete truncation in a model: Truncated(Poisson) prior and a zero-truncated Poisson observation, exact under auto', async () => {
    const m = model(async ({ sample, observe }) => {
      const lam = await sample('lam', Truncated(Poisson(4), { low: 1, high: 5 }));
      await observe('y', Truncated(Poisson(lam), { low: 1 }), 2);
      return lam;
    });
    const fact = [1, 1, 2, 6, 24, 120];
    const pois = (l: number, k: number): number => Math.exp(-l) * l ** k / fact[k]!;
    const norm = [1, 2, 3, 4, 5].reduce((a, k) => a + pois(4, k), 0);
    let Z = 0; let E = 0;
    for (let l = 1; l <= 5; l++) { const w = (pois(4, l) / norm) * pois(l, 2) / (1 - Math.exp(-l)); Z += w; E += l * w; }
    for (const strategy of ['sequential', 'auto'] as const) {
      const post = await infer(m, { method: 'enumerate', strategy });
      expect(Math.abs(post.logZ - Math.log(Z))).toBeLessThan(1e-9);
      expect(Math.abs(post.expectation((d) => d.returnValue as number) - E / Z)).toBeLessThan(1e-9);
    }
  });
});

describe('Truncated in log space and its errors, as a newcomer calls it', () => {
  it('far tail: Truncated(Normal(0,1), low 10) at 10.5 equals a Simpson integral of the tail to 1e-9; a naive log(1 - cdf) would be infinite', () => {
    let tail = 0; // integral of exp(-(x^2 - 100)/2) over [10, 30]
    const h = 1e-4;
    const f = (u: number): number => Math.exp(-(u * u - 100) / 2);
    for (let x = 10; x < 30; x += h) tail += (h * (f(x) + 4 * f(x + h / 2) + f(x + h))) / 6;
    const exactLp = -0.5 * 10.5 * 10.5 - (Math.log(tail) - 50);
    const lp = Truncated(Normal(0, 1), { low: 10 }).logProb(10.5) as number;
    expect(Math.abs(lp - exactLp)).toBeLessThan(1e-9);
    expect(Math.abs(lp - (exactLp + 0.01))).toBeGreaterThan(1e-9); // planted: a wrong normaliser fails
  });
  it('discrete bounds inclusive, exact; outside is -Infinity; bad bounds name low/high', () => {
    const fact = [1, 1, 2, 6, 24, 120, 720];
    const pois = (k: number): number => Math.exp(-3) * 3 ** k / fact[k]!;
    const exactLp = Math.log(pois(4) / [2, 3, 4, 5, 6].reduce((a, k) => a + pois(k), 0));
    expect(Math.abs((Truncated(Poisson(3), { low: 2, high: 6 }).logProb(4) as number) - exactLp)).toBeLessThan(1e-12);
    expect(Truncated(Poisson(3), { low: 2, high: 6 }).logProb(7)).toBe(-Infinity);
    expect(Math.abs((Truncated(Poisson(3), { low: -5, high: 1 }).logProb(0) as number) - Math.log(1 / 4))).toBeLessThan(1e-12);
    expect(() => Truncated(Normal(0, 1), { low: 2, high: 1 })).toThrow(/Truncated\(Normal\): parameter low must be below high, got low = 2 and high = 1/);
    expect(() => Truncated(Poisson(3), { low: 2.5, high: 6 })).toThrow(/parameter low must be an integer/);
    expect(() => Truncated(Normal(0, 1), { low: NaN })).toThrow(/parameter low is NaN/);
    expect(() => Truncated(Normal(0, 1), { low: '0' as unknown as number })).toThrow(/parameter low: expected a number/);
  });
});

describe('impossible data: every engine says which site, none answers', () => {
  it('Beta observation of 1.5 under nuts, importance, tempered, mh', async () => {
    const m = model(async ({ sample, observe }) => {
      const p = await sample('p', Beta(2, 2));
      await observe('ok', Bernoulli(p), 1);
      await observe('x', Beta(p, 1), tf.tensor1d([0.3, 1.5]));
    });
    for (const o of [{ method: 'nuts', chains: 1, warmup: 20, samples: 20 }, { method: 'importance', particles: 50 }, { method: 'tempered', particles: 50 }, { method: 'mh', samples: 50 }]) {
      await expect(infer(m, { ...o, seed: 1 } as never)).rejects.toThrow(/site "x": the observed value \[0\.3\d*, 1\.5\] is outside the support of Beta/);
    }
  });
});

describe('condition lint: legitimate newcomer code passes, tensor conditions are found', () => {
  const lint = (body: string): string[] => lintConditions(`async ({ sample, observe }) => { ${body} }`).map((f) => f.use);
  it('no false alarm on plain JS comparisons, local helpers named gt/lt, toNumber/all/dataSync reads, where, strings, arrays', () => {
    const legit = [
      "const mu = await sample('mu', N); if (toNumber(ops.gt(mu, 0)) === 1) return 1;",
      "const mu = await sample('mu', N); if (toNumber(ops.gt(mu, 0))) return 1;",
      'const gt = (a, b) => a > b; if (gt(data.n, 3)) return 1;',
      'function lt(a, b) { return a < b; } if (lt(1, 2)) return 1;',
      "const mu = await sample('mu', N); if (ops.all(ops.gt(mu, 0))) return 1;",
      "const mu = await sample('mu', N); if (ops.gt(mu, 0).dataSync()[0]) return 1;",
      "const mu = await sample('mu', N); if ((await ops.gt(mu, 0).data())[0]) return 1;",
      "const mu = await sample('mu', N); const pos = ops.gt(mu, 0); await observe('y', Bernoulli(ops.where(pos, 0.9, 0.1)), 1); if (data.n > 0) return 1;",
      'for (let i = 0; i < data.length; i++) { if (data[i] > 0 && data[i] < 5) continue; }',
      'const f = async (gt) => { if (gt(1, 2)) return 1; };',
      "const s = `if (ops.gt(mu, 0))`; return s;",
      "const mu = await sample('mu', N); const flags = [ops.gt(mu, 0)]; return flags.length > 0 ? 1 : 0;",
      // `=== true` is the lint's deliberate negative: right on numbers; NUTS refuses it at run time
      "const mu = await sample('mu', N); if (ops.gt(mu, 0) === true) return 1;",
    ];
    for (const body of legit) expect([body, lint(body)]).toEqual([body, []]);
  });
  it('finds comparisons held in variables, reassigned, negated, parenthesised, awaited, combined, nested ?:', () => {
    const bad: [string, string][] = [
      ["const mu = await sample('mu', N); const c = ops.gt(mu, 0); const d = c; if (d) return 1;", 'if'],
      ["const mu = await sample('mu', N); if (tf.greater(mu, 0)) return 1;", 'if'],
      ["let x = await sample('mu', N); while (!ops.lt(x, 1)) x = ops.sub(x, 1);", '!'],
      ["const a = await sample('a', N); if (ops.and(ops.gt(a, 0), ops.lt(a, 1))) return 1;", 'if'],
      ["const a = await sample('a', N); if (await ops.gt(a, 0)) return 1;", 'if'],
      ["const a = await sample('a', N); let c; c = ops.gt(a, 0); if (c) return 1;", 'if'],
      ["const a = await sample('a', N); if ((ops.gt(a, 0))) return 1;", 'if'],
      ["const a = await sample('a', N); return (ops.gt(a, 0)) ? (ops.lt(a, 1) ? 1 : 2) : 3;", '?:'],
    ];
    for (const [body, use] of bad) expect([body, lint(body)[0]]).toEqual([body, use]);
  });
  // Found by this session (not fixed: the lint's owner decides; each is one line of a newcomer's model).
  it('FIXED since: ops.lt on a value read by toNumber is a JS boolean and is accepted; a property of the data may be a tensor and stays refused', () => {
    expect(lint("const k = toNumber(await sample('k', Poisson(3))); if (ops.lt(k, 2)) return 1;")).toEqual([]);
    expect(lint('if (!ops.isInteger(data.k)) throw new Error(\'k must be an integer\');')).toEqual(['!']);
  });
  // low severity: NUTS's run-time check still refuses both (checked: "site \"y\": the model branches on a tensor comparison")
  it('FOUND since (were missed): a comparison returned by a local helper, or switched on', () => {
    expect(lint("const a = await sample('a', N); const pos = (v) => ops.gt(v, 0); if (pos(a)) return 1;")).toEqual(['if']);
    expect(lint("const a = await sample('a', N); switch (ops.gt(a, 0)) { case true: return 1; }")).toHaveLength(1);
  });
});
