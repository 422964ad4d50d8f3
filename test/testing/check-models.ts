/**
 * The models and engine settings of the correctness matrix
 * (scripts/correctness-matrix.ts) and of the slow SBC tier
 * (engines.slow.test.ts): small models with known answers, and each
 * engine's settings for them.
 */
import * as tf from '@tensorflow/tfjs-core';
import { type Model, model, ops } from '../../src/core/index.js';
import { Rng } from '../../src/core/rng.js';
import { Bernoulli, Categorical, Normal } from '../../src/distributions/index.js';
import { type ConjugateFamily, type EngineSpec, type Simulator, betaBernoulli, gammaPoisson, normalNormal, priorPredictive } from '../../src/testing/index.js';
import { logSumExp } from '../../src/core/value.js';

/** A discrete model: a latent regime and a class drive coin flips. */
export const regimes = model(async ({ sample, observe }, flips: number[]) => {
  const biased = await sample('biased', Bernoulli(0.3));
  const k = await sample('k', Categorical([0.2, 0.5, 0.3]));
  const p = biased ? 0.8 : 0.2 + 0.2 * k;
  for (let i = 0; i < flips.length; i++) await observe(`f${i}`, Bernoulli(p), flips[i]);
});

/** A discrete model with stochastic control flow: the number of latent sites depends on a choice. */
export const branching = model(async ({ sample, observe, deterministic }, ys: number[]) => {
  const long = await sample('long', Bernoulli(0.4));
  let s = await sample('a', Bernoulli(0.5));
  if (long) s += await sample('b', Bernoulli(0.7));
  deterministic('s', s); // present on every path, so SBC can rank it
  for (let i = 0; i < ys.length; i++) await observe(`y${i}`, Bernoulli(0.15 + 0.3 * s), ys[i]);
  return s;
});

/** Linear regression with two coefficients (tensor-polymorphic arithmetic, so gradients work). */
export const regression = model(async ({ sample, observe }, xs: number[], ys: number[]) => {
  const a = await sample('a', Normal(0, 1));
  const b = await sample('b', Normal(0, 1));
  for (let i = 0; i < xs.length; i++) await observe(`y${i}`, Normal(ops.add(a, ops.mul(b, xs[i])), 0.5), ys[i]);
});

/** A discrete and a continuous latent: z ~ Bernoulli(0.4) shifts the mean of y by 2 (hmc-gibbs's kind of model). */
export const mixedShift = model(async ({ sample, observe }, ys: number[]) => {
  const z = await sample('z', Bernoulli(0.4));
  const mu = await sample('mu', Normal(0, 1));
  for (let i = 0; i < ys.length; i++) await observe(`y${i}`, Normal(ops.add(mu, ops.mul(z, 2)), 1), ys[i]);
});

/** normal-normal with the data as one tensor observation (the shape the float64 compiled paths record). */
export const normalTensor = model(async ({ sample, observe }, ys: number[]) => {
  const mu = await sample('mu', Normal(0, 1));
  await observe('y', Normal(mu, 1), tf.tensor1d(ys));
});

/** Exact log evidence of {@link mixedShift}: a two-term mixture of normal-normal evidences. */
function mixedShiftLogZ(ys: readonly number[]): number {
  const nn = normalNormal(0, 1, 1);
  return logSumExp([Math.log(0.6) + nn.logZ(ys), Math.log(0.4) + nn.logZ(ys.map((y) => y - 2))]);
}

/** A check model: how to simulate from it, and what is known about it. */
export interface CheckModel {
  readonly name: string;
  readonly description: string;
  readonly simulator: Simulator<never[], unknown>;
  /** Continuous latents (gradient engines apply) or only discrete ones (enumeration applies). */
  readonly discrete: boolean;
  /** Both discrete and continuous latents (hmc-gibbs and the generic engines apply; no TARP, no oracle). */
  readonly mixed?: boolean;
  /** Observations held as tensors: only the rows of paths that need them run here (float64 importance weights, ...). */
  readonly tensorData?: boolean;
  /** The quantities SBC ranks (default: every latent scalar). */
  readonly params?: readonly string[];
  /**
   * Engines with a known, investigated problem on this model, by engine
   * name: what fails and why (the matrix prints it next to the result), and
   * settings under which the engine does pass (the slow tier runs those;
   * without them it skips the cell).
   */
  readonly knownIssues?: Readonly<Record<string, { readonly note: string; readonly passesWith?: Readonly<Record<string, unknown>> }>>;
  /** For exact-oracle and log Z checks: a model and fixed data. */
  readonly fixed: { readonly model: Model<never[], unknown>; readonly args: unknown[]; readonly logZ?: number };
}

function conjugateCase(name: string, family: ConjugateFamily, data: number[]): CheckModel {
  return {
    name,
    description: family.description,
    simulator: family.simulator(data.length) as unknown as Simulator<never[], unknown>,
    discrete: false,
    fixed: { model: family.model as unknown as Model<never[], unknown>, args: [data], logZ: family.logZ(data) },
  };
}

/** The check models. */
export const checkModels: CheckModel[] = [
  conjugateCase('normal-normal', normalNormal(0, 1, 1), [0.4, -0.3, 1.2]),
  conjugateCase('beta-bernoulli', betaBernoulli(2, 2), [1, 0, 1, 1, 1]),
  conjugateCase('gamma-poisson', gammaPoisson(3, 1), [2, 5, 3]),
  {
    name: 'regression',
    description: 'a, b ~ Normal(0, 1); y_i ~ Normal(a + b x_i, 0.5), 4 points',
    simulator: priorPredictive(regression, [[-1, 0, 1, 2], [0, 0, 0, 0]]) as unknown as Simulator<never[], unknown>,
    discrete: false,
    knownIssues: {
      importance: {
        note: 'prior proposals leave few effective particles on this 2-D posterior for data in the prior-predictive tails, so the resampled draws are over-confident (U-shaped log-likelihood ranks at some seeds)',
        passesWith: { particles: 5000 },
      },
      smc: {
        note: 'no rejuvenation: with 500 particles the population degenerates (U-shaped or shifted log-likelihood ranks on two seeds); passes with 3000 particles',
        passesWith: { particles: 3000 },
      },
      'smc-batched': {
        note: 'the same run as smc (smc runs batched here by default): same degeneracy with 500 particles and no rejuvenation',
        passesWith: { particles: 3000 },
      },
      'smc-lean': {
        note: 'per particle, the same degeneracy with 500 particles (the general runtime fails alike: band out, var ratio 1.15); the lean runtime passes with 3000 (N=100, min chi² p=0.10)',
        passesWith: { particles: 3000 },
      },
    },
    fixed: { model: regression as unknown as Model<never[], unknown>, args: [[-1, 0, 1, 2], [-0.8, 0.1, 1.1, 1.9]] },
  },
  {
    name: 'regimes',
    description: 'biased ~ Bernoulli(0.3), k ~ Categorical(3); 4 coin flips',
    simulator: priorPredictive(regimes, [[0, 0, 0, 0]]) as unknown as Simulator<never[], unknown>,
    discrete: true,
    fixed: { model: regimes as unknown as Model<never[], unknown>, args: [[1, 1, 0, 1]] },
  },
  {
    name: 'branching',
    description: 'stochastic control flow: an extra Bernoulli site on one branch; 3 observations',
    simulator: priorPredictive(branching, [[0, 0, 0]]) as unknown as Simulator<never[], unknown>,
    discrete: true,
    params: ['long', 'a', 's'],
    knownIssues: {
      'mh+gibbs': { note: 'the Gibbs update refuses a site whose value changes which sites exist ("long" creates "b") and throws; plain MH handles it' },
    },
    fixed: { model: branching as unknown as Model<never[], unknown>, args: [[1, 0, 1]] },
  },
  {
    name: 'normal-tensor',
    description: 'mu ~ Normal(0, 1); y ~ Normal(mu, 1), 3 points observed as one tensor',
    simulator: priorPredictive(normalTensor, [[0, 0, 0]]) as unknown as Simulator<never[], unknown>,
    discrete: false,
    tensorData: true,
    fixed: { model: normalTensor as unknown as Model<never[], unknown>, args: [[0.4, -0.3, 1.2]], logZ: normalNormal(0, 1, 1).logZ([0.4, -0.3, 1.2]) },
  },
  {
    name: 'mixed-shift',
    description: 'z ~ Bernoulli(0.4), mu ~ Normal(0, 1); y_i ~ Normal(mu + 2z, 1), 3 points (discrete and continuous)',
    simulator: priorPredictive(mixedShift, [[0, 0, 0]]) as unknown as Simulator<never[], unknown>,
    discrete: false,
    mixed: true,
    fixed: { model: mixedShift as unknown as Model<never[], unknown>, args: [[1.1, 2.3, 0.9]], logZ: mixedShiftLogZ([1.1, 2.3, 0.9]) },
  },
];

/** An engine of the matrix with its settings; `applies` says which models it can run. */
export interface CheckEngine {
  readonly name: string;
  readonly spec: EngineSpec<never[], unknown>;
  readonly applies: (m: CheckModel) => boolean;
  /** Simulations for SBC/TARP (costly engines get fewer). */
  readonly simulations: number;
  /** Whether the engine estimates log Z. */
  readonly logZ: boolean;
  /**
   * The execution path this row exists to cover, as a pattern the run's
   * diagnostics (in words, see the matrix's path column) must match on each
   * model's fixed data; a mismatch fails the cell (the row did not test what it says).
   */
  readonly path?: RegExp;
  /** Models on which `path` is not expected (e.g. the batched path on a model whose control flow forbids it). */
  readonly pathExempt?: (m: CheckModel) => boolean;
}

const any = (m: CheckModel) => !m.tensorData;
const continuousOnly = (m: CheckModel) => !m.discrete && !m.mixed && !m.tensorData && m.name !== 'branching';
const orTensor = (applies: (m: CheckModel) => boolean) => (m: CheckModel) => applies(m) || m.tensorData === true;

/** The engines of the matrix (HMC/NUTS, VI, SVGD and NeuTra need continuous latents; enumeration discrete ones). */
export const checkEngines: CheckEngine[] = [
  { name: 'enumerate', spec: { method: 'enumerate' }, applies: (m) => m.discrete, simulations: 200, logZ: true },
  { name: 'importance', spec: { method: 'importance', particles: 1000 }, applies: any, simulations: 100, logZ: true },
  { name: 'smc', spec: { method: 'smc', particles: 500 }, applies: any, simulations: 100, logZ: true },
  { name: 'tempered', spec: { method: 'tempered', particles: 200 }, applies: any, simulations: 60, logZ: true },
  { name: 'mh', spec: { method: 'mh', samples: 1000, warmup: 300 }, applies: any, simulations: 60, logZ: false },
  { name: 'mh+gibbs', spec: { method: 'mh', gibbs: true, samples: 1000, warmup: 300 }, applies: (m) => m.discrete || m.mixed === true, simulations: 60, logZ: false },
  { name: 'nuts', spec: { method: 'nuts', chains: 1, warmup: 150, samples: 150, vectorize: false }, applies: continuousOnly, simulations: 30, logZ: false },
  { name: 'hmc', spec: { method: 'hmc', chains: 1, warmup: 150, samples: 150, vectorize: false }, applies: continuousOnly, simulations: 15, logZ: false },
  // Approximate engines: VI is exact only where the guide family contains the posterior
  // (AutoNormal: normal-normal; AutoMultivariateNormal: normal-normal and regression, a
  // Gaussian posterior with correlated coefficients). On Beta and Gamma posteriors the
  // Gaussian-in-unconstrained-space guide is an approximation SBC may or may not resolve.
  { name: 'vi-normal', spec: { method: 'vi', guide: 'normal', steps: 500, particles: 16, samples: 200, optimizer: { name: 'adam', lr: 0.05 } }, applies: continuousOnly, simulations: 40, logZ: false },
  { name: 'vi-mvn', spec: { method: 'vi', guide: 'mvn', steps: 500, particles: 16, samples: 200, optimizer: { name: 'adam', lr: 0.05 } }, applies: continuousOnly, simulations: 40, logZ: false },
  { name: 'svgd', spec: { method: 'svgd', particles: 60, steps: 300 }, applies: continuousOnly, simulations: 40, logZ: false },
  { name: 'neutra', spec: { method: 'neutra', guide: 'mvn', viSteps: 300, chains: 1, warmup: 100, samples: 100, vectorize: false }, applies: continuousOnly, simulations: 15, logZ: false },
  // Paths users get by default or added recently (STATS2, session 7). Each names the path it covers;
  // the matrix checks the run's diagnostics say that path ran (the path column).
  { name: 'nuts-default', spec: { method: 'nuts' }, applies: orTensor(continuousOnly), simulations: 200, logZ: false, path: /vectorized.*compiled.*metric (diag|dense).*init ascent/ },
  { name: 'nuts-uniform', spec: { method: 'nuts', init: 'uniform' }, applies: continuousOnly, simulations: 100, logZ: false, path: /vectorized.*init uniform/ },
  { name: 'nuts-dense', spec: { method: 'nuts', massMatrix: 'dense' }, applies: continuousOnly, simulations: 100, logZ: false, path: /metric dense/ },
  { name: 'nuts-lowrank', spec: { method: 'nuts', massMatrix: 'lowrank' }, applies: continuousOnly, simulations: 100, logZ: false, path: /metric lowrank/ },
  { name: 'hmc-default', spec: { method: 'hmc' }, applies: continuousOnly, simulations: 100, logZ: false, path: /vectorized.*compiled/ },
  { name: 'hmc-gibbs', spec: { method: 'hmc-gibbs', warmup: 500, samples: 500 }, applies: (m) => m.mixed === true, simulations: 100, logZ: false },
  { name: 'smc-batched', spec: { method: 'smc', particles: 500, batched: true }, applies: (m) => any(m) && !m.discrete, simulations: 100, logZ: true, path: /execution batched/ },
  { name: 'smc-lean', spec: { method: 'smc', particles: 500, batched: false }, applies: any, simulations: 100, logZ: true, path: /per-particle.*runtime lean/ },
  { name: 'importance-f64', spec: { method: 'importance', particles: 1000, compile: true }, applies: (m) => m.tensorData === true, simulations: 200, logZ: true, path: /weights float64/ },
];

/** The linear-Gaussian state-space model of the bidirectional log Z check: an AR(1) state seen through noise. */
export const linearGaussianCheck = { params: { m0: 0, s0: 1, a: 0.9, q: 0.7, h: 1.2, r: 0.5 }, length: 25, particles: [4, 16, 64], runs: 60 } as const;

/** Observations simulated from {@link linearGaussianCheck} with a fixed seed. */
export function linearGaussianData(length: number = linearGaussianCheck.length, seed = 7): number[] {
  const { m0, s0, a, q, h, r } = linearGaussianCheck.params;
  const rng = new Rng(seed);
  const ys: number[] = [];
  let x = m0 + s0 * rng.normal();
  for (let t = 0; t < length; t++) {
    if (t > 0) x = a * x + q * rng.normal();
    ys.push(h * x + r * rng.normal());
  }
  return ys;
}
