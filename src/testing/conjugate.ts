/**
 * Conjugate models with known posteriors and marginal likelihoods: the
 * exact answers engines are checked against (moments, log Z, SBC with an
 * exact sampler).
 *
 * Each family gives a model that reads its data from its argument, the
 * exact posterior of its one parameter for any data (as a tyche
 * distribution, so it can be sampled), and log Z.
 *
 * @module
 */
import { type Model, model } from '../core/model.js';
import { Rng } from '../core/rng.js';
import { lgammaNumber } from '../core/special.js';
import { Bernoulli } from '../distributions/bernoulli.js';
import { Beta } from '../distributions/beta.js';
import type { Distribution } from '../distributions/distribution.js';
import { Gamma } from '../distributions/gamma.js';
import { Normal } from '../distributions/normal.js';
import { Poisson } from '../distributions/poisson.js';
import type { Posterior } from '../infer/posterior.js';
import { type Simulator, posteriorFromSamples } from './simulate.js';

/** A conjugate family: model, prior, exact posterior and evidence for any data. */
export interface ConjugateFamily {
  /** `'normal-normal'`, `'beta-bernoulli'` or `'gamma-poisson'`. */
  readonly kind: string;
  /** The latent site. */
  readonly param: string;
  /** The model; its argument is the data array (one `observe` per datum, `y0`, `y1`, ...). */
  readonly model: Model<[number[]], number>;
  /** The prior of the parameter. */
  readonly prior: Distribution;
  /** The exact posterior of the parameter given data. */
  posterior(data: readonly number[]): Distribution;
  /** Exact posterior mean and sd given data. */
  moments(data: readonly number[]): { mean: number; sd: number };
  /** Exact log marginal likelihood log p(data). */
  logZ(data: readonly number[]): number;
  /** A readable description. */
  readonly description: string;
  /**
   * A simulator for SBC/TARP: the parameter from the prior and `n` data
   * points from the likelihood, passed in the model's argument (so exact
   * engines can read them).
   */
  simulator(n: number): Simulator<[number[]], number>;
}

/** The simulator shared by the families: prior draw, then `n` data points given it. */
function argumentSimulator(param: string, m: Model<[number[]], number>, prior: Distribution, likelihood: (theta: number) => Distribution): (n: number) => Simulator<[number[]], number> {
  return (n) => (rng) => {
    const theta = prior.sample(rng) as number;
    const lik = likelihood(theta);
    const ys = Array.from({ length: n }, () => lik.sample(rng) as number);
    return { params: { [param]: theta }, model: m, args: [ys] };
  };
}

/** Normal(mu0, tau0) prior on the mean of Normal(mu, sigma) data. */
export function normalNormal(mu0: number, tau0: number, sigma: number): ConjugateFamily {
  const post = (data: readonly number[]) => {
    const prec = 1 / tau0 ** 2 + data.length / sigma ** 2;
    const mean = (mu0 / tau0 ** 2 + data.reduce((a, b) => a + b, 0) / sigma ** 2) / prec;
    return { mean, sd: Math.sqrt(1 / prec) };
  };
  const m = model(async ({ sample, observe }, ys: number[]) => {
    const mu = await sample('mu', Normal(mu0, tau0));
    for (let i = 0; i < ys.length; i++) await observe(`y${i}`, Normal(mu, sigma), ys[i]);
    return mu;
  }, { name: 'normalNormal' });
  return {
    kind: 'normal-normal',
    param: 'mu',
    model: m,
    prior: Normal(mu0, tau0),
    posterior: (data) => {
      const { mean, sd } = post(data);
      return Normal(mean, sd);
    },
    moments: post,
    logZ: (data) => {
      // sequential predictive densities: y_i | y_<i ~ Normal(m, sqrt(sigma^2 + s^2))
      let m = mu0;
      let v = tau0 ** 2;
      let lz = 0;
      for (const y of data) {
        const pv = v + sigma ** 2;
        lz += -0.5 * Math.log(2 * Math.PI * pv) - (y - m) ** 2 / (2 * pv);
        const k = v / pv;
        m += k * (y - m);
        v *= 1 - k;
      }
      return lz;
    },
    description: `mu ~ Normal(${mu0}, ${tau0}); y_i ~ Normal(mu, ${sigma})`,
    simulator: argumentSimulator('mu', m, Normal(mu0, tau0), (mu) => Normal(mu, sigma)),
  };
}

function logBetaFn(a: number, b: number): number {
  return lgammaNumber(a) + lgammaNumber(b) - lgammaNumber(a + b);
}

/** Beta(a, b) prior on the probability of Bernoulli data. */
export function betaBernoulli(a: number, b: number): ConjugateFamily {
  const counts = (data: readonly number[]) => {
    const s = data.reduce((x, y) => x + y, 0);
    return { a1: a + s, b1: b + data.length - s };
  };
  const m = model(async ({ sample, observe }, ys: number[]) => {
    const p = await sample('p', Beta(a, b));
    for (let i = 0; i < ys.length; i++) await observe(`y${i}`, Bernoulli(p), ys[i]);
    return p;
  }, { name: 'betaBernoulli' });
  return {
    kind: 'beta-bernoulli',
    param: 'p',
    model: m,
    prior: Beta(a, b),
    posterior: (data) => {
      const { a1, b1 } = counts(data);
      return Beta(a1, b1);
    },
    moments: (data) => {
      const { a1, b1 } = counts(data);
      const n = a1 + b1;
      return { mean: a1 / n, sd: Math.sqrt((a1 * b1) / (n * n * (n + 1))) };
    },
    logZ: (data) => {
      const { a1, b1 } = counts(data);
      return logBetaFn(a1, b1) - logBetaFn(a, b);
    },
    description: `p ~ Beta(${a}, ${b}); y_i ~ Bernoulli(p)`,
    simulator: argumentSimulator('p', m, Beta(a, b), (p) => Bernoulli(p)),
  };
}

/** Gamma(alpha, beta) prior (rate beta) on the rate of Poisson data. */
export function gammaPoisson(alpha: number, beta: number): ConjugateFamily {
  const params = (data: readonly number[]) => ({ a1: alpha + data.reduce((x, y) => x + y, 0), b1: beta + data.length });
  const m = model(async ({ sample, observe }, ys: number[]) => {
    const rate = await sample('rate', Gamma(alpha, beta));
    for (let i = 0; i < ys.length; i++) await observe(`y${i}`, Poisson(rate), ys[i]);
    return rate;
  }, { name: 'gammaPoisson' });
  return {
    kind: 'gamma-poisson',
    param: 'rate',
    model: m,
    prior: Gamma(alpha, beta),
    posterior: (data) => {
      const { a1, b1 } = params(data);
      return Gamma(a1, b1);
    },
    moments: (data) => {
      const { a1, b1 } = params(data);
      return { mean: a1 / b1, sd: Math.sqrt(a1) / b1 };
    },
    logZ: (data) => {
      const { a1, b1 } = params(data);
      let lz = alpha * Math.log(beta) - lgammaNumber(alpha) + lgammaNumber(a1) - a1 * Math.log(b1);
      for (const y of data) lz -= lgammaNumber(y + 1);
      return lz;
    },
    description: `rate ~ Gamma(${alpha}, ${beta}); y_i ~ Poisson(rate)`,
    simulator: argumentSimulator('rate', m, Gamma(alpha, beta), (rate) => Poisson(rate)),
  };
}

/**
 * An exact engine for a conjugate family: `samples` independent draws from
 * the exact posterior given the data in the model's argument. The reference
 * a correct engine is compared with; `transform` maps the exact draws
 * (for planting bugs in tests: shift them, shrink them).
 */
export function exactConjugateEngine(family: ConjugateFamily, samples = 1000, transform?: (draws: Float64Array, data: readonly number[], rng: Rng) => Float64Array): (m: Model<[number[]], number>, args: [number[]], seed: number) => Promise<Posterior<[number[]], number>> {
  return async function exactConjugate(m: Model<[number[]], number>, args: [number[]], seed: number): Promise<Posterior<[number[]], number>> {
    const rng = new Rng(seed);
    const post = family.posterior(args[0]);
    let draws: Float64Array = Float64Array.from({ length: samples }, () => post.sample(rng) as number);
    if (transform) draws = transform(draws, args[0], rng);
    return posteriorFromSamples(m, args, { [family.param]: draws }, 'exact-conjugate');
  };
}
