/**
 * Exact answers and the MCSE yardstick of the session-6 newcomer checks
 * (test/trust/newcomer-session6*.test.ts).
 */
import { mcseMean } from '../../src/diagnostics/mcse.js';
import type { Posterior } from '../../src/infer/posterior.js';
import type { Model } from '../../src/core/model.js';
import { Normal, model, ops, toNumber } from '../../src/index.js';

/** An exact posterior mean and sd (and, for the mixed model, P(z = 1)). */
export interface Exact {
  readonly mean: number;
  readonly sd: number;
  readonly pz1?: number;
}

/**
 * |estimate - exact| / MCSE of a posterior's mean of `name`: the MCSE from
 * the chains (`mcseMean`) for MCMC, sd / sqrt(Kish ESS) for weighted draws.
 */
export function zScore(post: Posterior<never[], unknown>, name: string, exact: number): number {
  const chains = post.chainColumns()?.get(name);
  if (chains) {
    let s = 0;
    let n = 0;
    for (const c of chains) for (const x of c) (s += x, n++);
    return Math.abs(s / n - exact) / mcseMean(chains);
  }
  const { mean, sd } = post.moments(name);
  return Math.abs(mean - exact) / (sd / Math.sqrt(post.ess));
}

/** mu ~ N(0, 1), y_i ~ N(mu, 1): mu | y ~ N(sum y / (n + 1), 1 / (n + 1)). */
export function conjugateNormal(ys: readonly number[]): Exact {
  const n = ys.length;
  return { mean: ys.reduce((a, b) => a + b, 0) / (n + 1), sd: 1 / Math.sqrt(n + 1) };
}

/** Posterior mean and sd of mu ~ N(0, 1) with log-likelihood `ll`, by the midpoint rule on [-10, 10] (step 1e-4). */
export function quadrature1d(ll: (mu: number) => number): Exact {
  let z = 0;
  let s = 0;
  let s2 = 0;
  const h = 1e-4;
  for (let mu = -10 + h / 2; mu < 10; mu += h) {
    const w = Math.exp(-0.5 * mu * mu + ll(mu));
    z += w;
    s += w * mu;
    s2 += w * mu * mu;
  }
  const mean = s / z;
  return { mean, sd: Math.sqrt(s2 / z - mean * mean) };
}

/** mu ~ N(0, 1); if mu > 0 (read as a number), a ~ N(0, 1) and y_i ~ N(mu + a, 1), else y_i ~ N(mu, 1): the model {@link quadratureStructure} sums. */
export function structureModel(ys: readonly number[]): Model<never[], unknown> {
  return model(async ({ sample, observe }) => {
    const mu = await sample('mu', Normal(0, 1));
    if (toNumber(mu) > 0) {
      const a = await sample('a', Normal(0, 1));
      await observe('y', Normal(ops.add(mu, a), 1), ys as number[]);
    } else {
      await observe('y', Normal(mu, 1), ys as number[]);
    }
  }) as Model<never[], unknown>;
}

/**
 * mu ~ N(0, 1); if mu > 0 (or always, with `branching` false) a ~ N(0, 1)
 * and y_i ~ N(mu + a, 1), else y_i ~ N(mu, 1). With a, the y_i are jointly
 * normal given mu: mean mu, covariance I + 11' (a summed out in closed form).
 */
export function quadratureStructure(ys: readonly number[], branching: boolean): Exact {
  const n = ys.length;
  const withA = (mu: number): number => {
    const d = ys.map((y) => y - mu);
    const sum = d.reduce((a, b) => a + b, 0);
    return -0.5 * (d.reduce((a, b) => a + b * b, 0) - (sum * sum) / (1 + n)) - 0.5 * Math.log(1 + n);
  };
  const withoutA = (mu: number): number => -0.5 * ys.reduce((a, y) => a + (y - mu) ** 2, 0);
  return quadrature1d((mu) => (!branching || mu > 0 ? withA(mu) : withoutA(mu)));
}

/**
 * z ~ Bernoulli(p); mu ~ N(3z - 1, 1); y_i ~ N(mu, 1): P(z = 1 | y) and
 * E[mu | y], sd, summed by hand over z with mu integrated in closed form.
 */
export function mixedExact(ys: readonly number[], p: number): Exact {
  const n = ys.length;
  const s = ys.reduce((a, b) => a + b, 0);
  const parts = [0, 1].map((z) => {
    const m0 = 3 * z - 1;
    const d = ys.map((y) => y - m0);
    const sum = d.reduce((a, b) => a + b, 0);
    const q = d.reduce((a, b) => a + b * b, 0) - (sum * sum) / (1 + n);
    return { w: (z ? p : 1 - p) * Math.exp(-0.5 * q), mean: (m0 + s) / (n + 1), v: 1 / (n + 1) };
  });
  const total = parts[0]!.w + parts[1]!.w;
  const mean = parts.reduce((a, c) => a + (c.w / total) * c.mean, 0);
  const second = parts.reduce((a, c) => a + (c.w / total) * (c.v + c.mean * c.mean), 0);
  return { mean, sd: Math.sqrt(second - mean * mean), pz1: parts[1]!.w / total };
}
