/**
 * `hmc-gibbs`: NUTS on the continuous sites within Gibbs sweeps over finite
 * discrete sites. Posteriors are checked against exact answers (a Bernoulli
 * switch in front of a conjugate Gaussian) and against plain NUTS on the same
 * mixture with its assignments marginalised (as scalar sites z0, z1, ..., and
 * as one site z in a plate, updated element-wise); also reproducibility,
 * memory, the errors for discrete sites Gibbs cannot enumerate, and for
 * plated sites whose elements are not conditionally independent.
 *
 * Tolerances: |estimate - exact| < 4 MCSE, the MCSE from the chains' bulk ESS
 * (`mcseMean`), once the chains are seen to mix (ESS and R-hat).
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import { essBulk } from '../../src/diagnostics/ess.js';
import { mcseMean } from '../../src/diagnostics/mcse.js';
import { rhatBulk } from '../../src/diagnostics/rhat.js';
import { Bernoulli, Beta, Categorical, Dirichlet, Normal, Poisson, infer, model } from '../../src/index.js';
import type { HMCGibbsDiagnostics } from '../../src/infer/mcmc/hmc-gibbs.js';
import type { Draw } from '../../src/infer/posterior.js';

beforeAll(async () => {
  await initBackend('cpu');
});

/** A function of each draw, split by chain (chains x draws). */
function byChain(post: { readonly draws: readonly Draw[] }, f: (d: Draw) => number): Float64Array[] {
  const chains: number[][] = [];
  for (const d of post.draws) (chains[d.chain!] ??= []).push(f(d));
  return chains.map((c) => Float64Array.from(c));
}

const meanOf = (chains: Float64Array[]): number => {
  let s = 0;
  let n = 0;
  for (const c of chains) for (const x of c) (s += x), n++;
  return s / n;
};

/**
 * |mean - ref| in units of the MCSE, after checking that the chains mixed
 * (bulk ESS > 100, rank-normalised R-hat < 1.05): a stuck chain has a huge
 * MCSE and would otherwise pass.
 */
function zScore(chains: Float64Array[], ref: number, label: string): number {
  expect(essBulk(chains), `${label}: bulk ESS`).toBeGreaterThan(100);
  expect(rhatBulk(chains), `${label}: R-hat`).toBeLessThan(1.05);
  return Math.abs(meanOf(chains) - ref) / mcseMean(chains);
}

const num = (v: unknown): number => (typeof v === 'number' ? v : (v as tf.Tensor).dataSync()[0]!);

// b ~ Bernoulli(0.3); x ~ Normal(b ? 2 : -1, 1); y ~ Normal(x, 0.5) observed
const Y = 0.8;
const PRIOR_B = 0.3;
const MU = [-1, 2];
const switched = model(async ({ sample, observe }) => {
  const b = await sample('b', Bernoulli(PRIOR_B));
  const x = await sample('x', Normal(MU[b === 1 ? 1 : 0]!, 1));
  await observe('y', Normal(x, 0.5), Y);
});

/** Exact P(b = 1 | y) and E[x | y]: y | b ~ Normal(mu_b, sqrt(1 + 0.25)); x | b, y has precision 1 + 4. */
function switchedExact(): { pB: number; meanX: number } {
  const lik = MU.map((m) => Math.exp(-0.5 * (Y - m) ** 2 / 1.25));
  const pB = (PRIOR_B * lik[1]!) / (PRIOR_B * lik[1]! + (1 - PRIOR_B) * lik[0]!);
  const condMean = MU.map((m) => (m + 4 * Y) / 5);
  return { pB, meanX: pB * condMean[1]! + (1 - pB) * condMean[0]! };
}

describe('hmc-gibbs on a Bernoulli switch (exact posterior)', () => {
  it('P(b = 1 | y) and E[x | y] within 4 MCSE of the exact values; diagnostics as for NUTS', async () => {
    const post = await infer(switched, { method: 'hmc-gibbs', chains: 4, warmup: 300, samples: 1500, seed: 3 });
    const exact = switchedExact();
    const zB = zScore(byChain(post, (d) => num(d.values.b)), exact.pB, 'b');
    const zX = zScore(byChain(post, (d) => num(d.values.x)), exact.meanX, 'x');
    console.log(`switch: P(b=1) exact ${exact.pB.toFixed(4)} z=${zB.toFixed(2)}; E[x] exact ${exact.meanX.toFixed(4)} z=${zX.toFixed(2)}`);
    expect(zB).toBeLessThan(4);
    expect(zX).toBeLessThan(4);
    const diag = post.diagnostics as unknown as HMCGibbsDiagnostics;
    expect(diag.discreteSites).toEqual(['b']);
    expect(diag.names).toEqual(['x']);
    expect(diag.divergences).toBe(0);
    expect(diag.stepSize).toHaveLength(4);
    // b has two values, so each configuration is compiled at its first visit, once for all four chains (session 18)
    expect(diag.compiledConfigurations).toBe(2);
    expect(diag.compiledPerChain).toEqual([true, true, true, true]);
    // per iteration, and once more per chain at its starting point (COAL5, session 19): one lean run per value of b
    // and no general run (session 18: the sweep on plain numbers reads b's support from the lean run), or none where
    // both configurations' compiled potentials weigh the update (session 11)
    expect(diag.gibbsLean).toBe(true);
    expect(diag.gibbsModelRuns).toBe(0);
    expect(diag.gibbsLeanRuns).toBe(2 * (4 * 1801 - diag.gibbsReplayed));
    expect(diag.gibbsReplayed).toBeGreaterThan(4 * 1700);
    expect(post.summary().rows.map((r) => r.name)).toEqual(['b', 'x']);
  });

  it('is reproducible with a seed, differs with another, and keeps tf memory flat (a 3-way Categorical)', async () => {
    const threeWay = model(async ({ sample, observe }) => {
      const k = await sample('k', Categorical([0.2, 0.3, 0.5]));
      const x = await sample('x', Normal(k, 1));
      await observe('y', Normal(x, 1), 0.4);
    });
    const opts = { method: 'hmc-gibbs', chains: 2, warmup: 30, samples: 30 } as const;
    const a = await infer(threeWay, { ...opts, seed: 5 });
    const before = tf.memory().numTensors;
    const b = await infer(threeWay, { ...opts, seed: 5 });
    const long = await infer(threeWay, { ...opts, seed: 5, samples: 300 });
    expect(tf.memory().numTensors).toBe(before);
    // per sweep (one per iteration and one at each chain's start, COAL5 session 19)
    // one lean run per value of k on plain numbers and no general run (sessions 17 and 18: tried before a vectorised
    // run, which is then never needed) (or none where the three configurations' compiled potentials weigh the update,
    // session 11)
    const longDiag = long.diagnostics as unknown as HMCGibbsDiagnostics;
    expect(longDiag.gibbsModelRuns).toBe(0);
    expect(longDiag.gibbsLeanRuns).toBe(3 * (2 * 331 - longDiag.gibbsReplayed));
    expect(longDiag.gibbsReplayed).toBeGreaterThan(2 * 300);
    expect(longDiag.gibbsLean).toBe(true);
    expect(longDiag.gibbsVectorized).toEqual({});
    const c = await infer(threeWay, { ...opts, seed: 6 });
    const values = (p: { readonly draws: readonly Draw[] }) => p.draws.map((d) => [d.chain, d.values.k, d.values.x]);
    expect(values(b)).toEqual(values(a));
    expect(values(c)).not.toEqual(values(a));
    expect(new Set(a.draws.map((d) => d.values.k)).size).toBeGreaterThan(1);
  });

  it('keeps tf memory flat over iterations with tensor-valued sites (Dirichlet weights of a Categorical)', async () => {
    const simplex = model(async ({ sample, observe }) => {
      const p = await sample('p', Dirichlet([1, 1, 1]));
      const k = await sample('k', Categorical(p));
      await observe('y', Normal(num(k), 1), 1.2);
    });
    const opts = { method: 'hmc-gibbs', chains: 1, warmup: 10, seed: 2 } as const;
    await infer(simplex, { ...opts, samples: 10 });
    const n0 = tf.memory().numTensors;
    const short = await infer(simplex, { ...opts, samples: 10 });
    const n1 = tf.memory().numTensors;
    const long = await infer(simplex, { ...opts, samples: 40 });
    const n2 = tf.memory().numTensors;
    // each kept draw holds its simplex as a tensor; nothing else may grow with the number of iterations
    expect(long.draws.length - short.draws.length).toBe(30);
    expect(n2 - n1 - (n1 - n0)).toBe(30);
  });

  it('without discrete sites is exactly sequential NUTS (same seed, same draws)', async () => {
    const continuous = model(async ({ sample, observe }) => {
      const x = await sample('x', Normal(0, 1));
      await observe('y', Normal(x, 0.5), Y);
    });
    const opts = { chains: 2, warmup: 30, samples: 30, seed: 9 };
    const a = await infer(continuous, { method: 'hmc-gibbs', ...opts });
    // hmc-gibbs starts its chains as Stan does (uniform); nuts defaults to 'ascent'
    const b = await infer(continuous, { method: 'nuts', vectorize: false, compile: false, init: 'uniform', ...opts });
    expect(a.draws.map((d) => d.values.x)).toEqual(b.draws.map((d) => d.values.x));
    expect((a.diagnostics as unknown as HMCGibbsDiagnostics).gibbsModelRuns).toBe(0);
  });

  it('reports progress and stops on an AbortSignal', async () => {
    const seen: number[] = [];
    await infer(switched, { method: 'hmc-gibbs', chains: 2, warmup: 20, samples: 20, seed: 1, onProgress: (p: { completed: number; total: number }) => seen.push(p.completed / p.total) });
    expect(seen.at(-1)).toBe(1);
    // abort from inside the run after a fixed number of model executions (progress is reported at most
    // every 200 ms, and a compiled run can finish sooner than that; the whole run makes 20 model executions since
    // COAL5 session 19 compiles both configurations before the first transition, so abort at the 10th)
    const controller = new AbortController();
    let runs = 0;
    const aborting = model(async (ctx) => {
      if (++runs === 10) controller.abort(new Error('stop here'));
      await switched.fn(ctx);
    });
    const run = infer(aborting, { method: 'hmc-gibbs', chains: 2, warmup: 1000, samples: 1000, seed: 1, signal: controller.signal });
    await expect(run).rejects.toThrow('stop here');
  });

  it('names a discrete site that Gibbs cannot enumerate (infinite or batched); nuts points to hmc-gibbs; static HMC kernel', async () => {
    const counts = model(async ({ sample, observe }) => {
      const rate = await sample('rate', Normal(2, 1));
      const n = await sample('n', Poisson(3));
      await observe('y', Normal(rate, 1), n);
    });
    await expect(infer(counts, { method: 'hmc-gibbs', seed: 1 })).rejects.toThrow(/site "n": hmc-gibbs: Poisson does not have a finite support/);
    await expect(infer(switched, { method: 'nuts', seed: 1 })).rejects.toThrow(/site "b".*'hmc-gibbs'/);
    const onlyDiscrete = model(async ({ sample }) => {
      await sample('b', Bernoulli(0.5));
    });
    await expect(infer(onlyDiscrete, { method: 'hmc-gibbs', seed: 1 })).rejects.toThrow(/no continuous latent sites/);
    await expect(infer(switched, { method: 'hmc-gibbs', kernel: 'mala', seed: 1 })).rejects.toThrow(/kernel must be 'nuts' or 'hmc'/);
    // a discrete site in one plate is supported (below); nested plates are not
    const nested = model(async ({ sample, plate }) => {
      await sample('x', Normal(0, 1));
      await plate('rows', 2, () => plate('points', 3, async (_j, p) => p.sample('z', Bernoulli(0.5))));
    });
    await expect(infer(nested, { method: 'hmc-gibbs', seed: 1 })).rejects.toThrow(/site "z": hmc-gibbs: Bernoulli has batch shape \[3, 2\]; .*one plate only/);
    const hmc = await infer(switched, { method: 'hmc-gibbs', kernel: 'hmc', numSteps: 4, init: 'prior', chains: 1, warmup: 10, samples: 10, seed: 1 });
    expect((hmc.diagnostics as unknown as HMCGibbsDiagnostics).stats[0]!.nLeapfrog.every((n) => n === 4)).toBe(true);
  });
});

// A two-component Gaussian mixture, z_i the component of point i (a Bernoulli: a two-category
// Categorical whose draws run numerically in the Gibbs sweeps). Asymmetric priors keep the labels apart.
const DATA = [-1.5, -0.5, 0.4, 1.6];
const mixtureZ = model(async ({ sample, observe }) => {
  const w = await sample('w', Beta(2, 2));
  const mu0 = await sample('mu0', Normal(-2, 1));
  const mu1 = await sample('mu1', Normal(2, 1));
  for (let i = 0; i < DATA.length; i++) {
    const z = await sample(`z${i}`, Bernoulli(w));
    await observe(`y${i}`, Normal(z === 1 ? mu1 : mu0, 1), DATA[i]!);
  }
});

/**
 * The same model with z marginalised, integrated on a grid (midpoint rule
 * over w in (0, 1) and both means over +-6 posterior-ish sds): posterior
 * means of w, mu0, mu1 and of P(z_i = 1 | w, mu, y_i). The grid error is far
 * below the MCSE (halving the spacing changes nothing in the 4th decimal).
 */
function mixtureByQuadrature(n = 120, data: readonly number[] = DATA): Record<string, number> {
  const DATA = data;
  const ws = Array.from({ length: n }, (_, k) => (k + 0.5) / n);
  const mus = (centre: number) => Array.from({ length: n }, (_, k) => centre - 6 + (12 * (k + 0.5)) / n);
  const [m0s, m1s] = [mus(-1.5), mus(1.5)];
  const dens = (y: number, m: number) => Math.exp(-0.5 * (y - m) ** 2);
  const acc: Record<string, number> = { w: 0, mu0: 0, mu1: 0, Z: 0 };
  DATA.forEach((_, i) => (acc[`z${i}`] = 0));
  const l0 = new Float64Array(DATA.length);
  const l1 = new Float64Array(DATA.length);
  for (const w of ws) {
    for (const m0 of m0s) {
      for (const m1 of m1s) {
        let p = w * (1 - w) * Math.exp(-0.5 * (m0 + 2) ** 2 - 0.5 * (m1 - 2) ** 2);
        DATA.forEach((y, i) => {
          l0[i] = (1 - w) * dens(y, m0);
          l1[i] = w * dens(y, m1);
          p *= l0[i]! + l1[i]!;
        });
        acc.Z! += p;
        acc.w! += p * w;
        acc.mu0! += p * m0;
        acc.mu1! += p * m1;
        DATA.forEach((_, i) => (acc[`z${i}`]! += (p * l1[i]!) / (l0[i]! + l1[i]!)));
      }
    }
  }
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(acc)) if (k !== 'Z') out[k] = v / acc.Z!;
  return out;
}

describe('hmc-gibbs on a Gaussian mixture with discrete assignments', () => {
  it('means, weight and P(z_i = 1) agree with the z-marginalised model (quadrature) within 4 MCSE', async () => {
    const post = await infer(mixtureZ, { method: 'hmc-gibbs', chains: 4, warmup: 300, samples: 1500, seed: 11 });
    const exact = mixtureByQuadrature();
    const report: string[] = [];
    for (const name of Object.keys(exact)) {
      const chains = byChain(post, (d) => num(d.values[name]));
      const z = zScore(chains, exact[name]!, name);
      report.push(`${name} ${meanOf(chains).toFixed(3)} vs ${exact[name]!.toFixed(3)} (z=${z.toFixed(2)})`);
      expect(z, name).toBeLessThan(4);
    }
    console.log(`mixture: ${report.join('; ')}`);
    const diag = post.diagnostics as unknown as HMCGibbsDiagnostics;
    expect(diag.discreteSites).toEqual(DATA.map((_, i) => `z${i}`));
    expect(diag.divergences).toBe(0);
  });
});

// The same mixture with the assignments as one site `z` in a plate over 8 points: plated Gibbs draws
// all z_i at once. The reference is the quadrature above on these data (z[i] named as the Posterior does).
const DATA8 = [-2.2, -1.5, -0.9, -0.4, 0.3, 0.9, 1.6, 2.5];
const mixturePlated = model(async ({ sample, plate }) => {
  const w = await sample('w', Beta(2, 2));
  const mu0 = await sample('mu0', Normal(-2, 1));
  const mu1 = await sample('mu1', Normal(2, 1));
  await plate('data', DATA8.length, async (_i, p) => {
    const z = await p.sample('z', Bernoulli(w));
    await p.observe('y', Normal(tf.add(tf.mul(z, mu1), tf.mul(tf.sub(1, z), mu0)), 1), tf.tensor1d(DATA8));
  });
});
const column = (name: string) => (d: Draw): number => {
  const m = /^z\[(\d+)\]$/.exec(name);
  return m ? (d.values.z as tf.Tensor).dataSync()[Number(m[1])]! : num(d.values[name]);
};

describe('hmc-gibbs on a plated discrete site (per-datum assignments in a plate)', () => {
  it('means, weight and P(z_i = 1) agree with the z-marginalised model (quadrature) within 4 MCSE', async () => {
    const post = await infer(mixturePlated, { method: 'hmc-gibbs', chains: 4, warmup: 200, samples: 600, seed: 12 });
    const exact = mixtureByQuadrature(120, DATA8);
    const report: string[] = [];
    for (const key of Object.keys(exact)) {
      const name = key.startsWith('z') ? `z[${key.slice(1)}]` : key;
      const chains = byChain(post, column(name));
      const z = zScore(chains, exact[key]!, name);
      report.push(`${name} ${meanOf(chains).toFixed(3)} vs ${exact[key]!.toFixed(3)} (z=${z.toFixed(2)})`);
      expect(z, name).toBeLessThan(4);
    }
    console.log(`plated mixture: ${report.join('; ')}`);
    const diag = post.diagnostics as unknown as HMCGibbsDiagnostics;
    expect(diag.discreteSites).toEqual(['z']);
    expect(diag.divergences).toBe(0);
    // per sweep one run per value of z; the first sweep of each chain adds one run for the independence check
    expect(diag.gibbsModelRuns).toBe(4 * (800 * 2 + 1));
    const names = post.summary().rows.map((r) => r.name);
    expect(names).toEqual(['w', 'mu0', 'mu1', ...DATA8.map((_, i) => `z[${i}]`)]);
  });

  it('is reproducible with a seed and keeps tf memory flat (a 3-way Categorical in a plate)', async () => {
    const ys = tf.keep(tf.tensor1d([-1, 0.2, 1.4, 2.1, 0.5]));
    const centres = tf.keep(tf.tensor1d([-1, 0.5, 2]));
    const threeWay = model(async ({ sample, plate }) => {
      const s = await sample('s', Normal(1, 0.5));
      await plate('data', 5, async (_i, p) => {
        const k = await p.sample('k', Categorical([0.2, 0.3, 0.5]));
        await p.observe('y', Normal(tf.gather(centres, tf.cast(k, 'int32')), tf.exp(s)), ys);
      });
    });
    const opts = { method: 'hmc-gibbs', chains: 1, warmup: 10, seed: 4 } as const;
    const a = await infer(threeWay, { ...opts, samples: 10 });
    const n0 = tf.memory().numTensors;
    const b = await infer(threeWay, { ...opts, samples: 10 });
    const n1 = tf.memory().numTensors;
    const long = await infer(threeWay, { ...opts, samples: 40 });
    const n2 = tf.memory().numTensors;
    // each kept draw holds its k as one tensor; nothing else may grow with the number of iterations
    // (including the copies of k that the compiled potentials of recurring configurations hold)
    expect(n2 - n1 - (n1 - n0)).toBe(30);
    expect((long.diagnostics as unknown as HMCGibbsDiagnostics).compiledConfigurations).toBeGreaterThan(0);
    const values = (p: { readonly draws: readonly Draw[] }) => p.draws.map((d) => [num(d.values.s), Array.from((d.values.k as tf.Tensor).dataSync())]);
    expect(values(b)).toEqual(values(a));
    expect((a.draws[0]!.values.k as tf.Tensor).shape).toEqual([5]);
    expect(new Set(a.draws.flatMap((d) => Array.from((d.values.k as tf.Tensor).dataSync()))).size).toBe(3);
  });

  it('names a site outside the plate that depends on the plated site, and a cross-element dependence, suggesting mh', async () => {
    const ys = [0.3, -0.2, 1.1, 0.8, -0.5];
    // `total` reads sum(z): the elements of z are not conditionally independent
    const bySum = model(async ({ sample, observe, plate }) => {
      const mu = await sample('mu', Normal(0, 1));
      const z = await plate('data', 5, async (_i, p) => {
        const z = await p.sample('z', Bernoulli(0.5));
        await p.observe('y', Normal(tf.add(mu, z), 1), tf.tensor1d(ys));
        return z;
      });
      await observe('total', Normal(tf.sum(z), 1), 2);
    });
    await expect(infer(bySum, { method: 'hmc-gibbs', chains: 1, warmup: 5, samples: 5, seed: 1 })).rejects.toThrow(
      /site "total": hmc-gibbs: the log density of this site changes with the plated discrete site "z".*method 'mh'/,
    );
    // y_i reads z of its neighbour: invisible when all elements are equal, caught by the single-element check
    const shifted = model(async ({ sample, plate }) => {
      const mu = await sample('mu', Normal(0, 1));
      await plate('data', 5, async (_i, p) => {
        const z = await p.sample('z', Bernoulli(0.5));
        await p.observe('y', Normal(tf.add(mu, tf.reverse(z)), 1), tf.tensor1d(ys));
      });
    });
    await expect(infer(shifted, { method: 'hmc-gibbs', chains: 1, warmup: 5, samples: 5, seed: 1 })).rejects.toThrow(
      /site "z": hmc-gibbs: the log density of element \d of plate "data" changes with element \d of this site.*method 'mh'/,
    );
  });
});
