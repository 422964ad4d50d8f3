/**
 * fast-check arbitraries for property-testing inference: distributions with
 * valid parameters, small enumerable programs (see `programs.ts`) and
 * conjugate models with known posteriors.
 *
 * ```ts
 * import fc from 'fast-check';
 * import { arbDistribution } from 'tyche/testing';
 * fc.assert(fc.property(arbDistribution(), fc.integer(), ({ dist }, seed) => {
 *   const x = dist.sample(new Rng(seed));
 *   return Number.isFinite(dist.logProb(x) as number);
 * }));
 * ```
 *
 * @module
 */
import fc from 'fast-check';
import { Bernoulli } from '../distributions/bernoulli.js';
import { Beta } from '../distributions/beta.js';
import { Binomial } from '../distributions/binomial.js';
import { Categorical } from '../distributions/categorical.js';
import { Cauchy } from '../distributions/cauchy.js';
import type { Distribution } from '../distributions/distribution.js';
import { Exponential } from '../distributions/exponential.js';
import { Gamma } from '../distributions/gamma.js';
import { Geometric } from '../distributions/geometric.js';
import { HalfNormal } from '../distributions/half-normal.js';
import { Laplace } from '../distributions/laplace.js';
import { LogNormal } from '../distributions/lognormal.js';
import { Normal } from '../distributions/normal.js';
import { Poisson } from '../distributions/poisson.js';
import { StudentT } from '../distributions/student-t.js';
import { Uniform } from '../distributions/uniform.js';
import { type ConjugateFamily, betaBernoulli, gammaPoisson, normalNormal } from './conjugate.js';

export { arbProgram, buildProgram, type ArbProgramOptions, type GeneratedProgram, type ProgramStmt } from './programs.js';

/** A generated distribution with its family name and parameters. */
export interface GeneratedDistribution {
  readonly family: string;
  readonly params: Readonly<Record<string, number | readonly number[]>>;
  readonly dist: Distribution;
  /** True when the support is finite (enumerable). */
  readonly finite: boolean;
  readonly continuous: boolean;
  [fc.toStringMethod](): string;
}

/** Options of {@link arbDistribution}. */
export interface ArbDistributionOptions {
  /** `'continuous'`, `'discrete'` or `'any'` (default). */
  readonly kind?: 'continuous' | 'discrete' | 'any';
  /** Only families with a finite support (default false). */
  readonly finite?: boolean;
}

/** A positive double in [lo, hi], never NaN. */
const pos = (lo = 0.1, hi = 10) => fc.double({ min: lo, max: hi, noNaN: true, noDefaultInfinity: true });
const real = (r = 10) => fc.double({ min: -r, max: r, noNaN: true, noDefaultInfinity: true });
const prob = fc.double({ min: 0.02, max: 0.98, noNaN: true });

interface Family {
  readonly continuous: boolean;
  readonly finite: boolean;
  readonly arb: fc.Arbitrary<Record<string, number | number[]>>;
  readonly make: (p: Record<string, number | number[]>) => Distribution;
}

const n = (p: Record<string, number | number[]>, k: string) => p[k] as number;

const FAMILIES: Record<string, Family> = {
  Normal: { continuous: true, finite: false, arb: fc.record({ loc: real(), scale: pos() }), make: (p) => Normal(n(p, 'loc'), n(p, 'scale')) },
  Laplace: { continuous: true, finite: false, arb: fc.record({ loc: real(), scale: pos() }), make: (p) => Laplace(n(p, 'loc'), n(p, 'scale')) },
  Cauchy: { continuous: true, finite: false, arb: fc.record({ loc: real(), scale: pos() }), make: (p) => Cauchy(n(p, 'loc'), n(p, 'scale')) },
  StudentT: { continuous: true, finite: false, arb: fc.record({ df: pos(0.5, 30), loc: real(), scale: pos() }), make: (p) => StudentT(n(p, 'df'), n(p, 'loc'), n(p, 'scale')) },
  LogNormal: { continuous: true, finite: false, arb: fc.record({ loc: real(2), scale: pos(0.1, 2) }), make: (p) => LogNormal(n(p, 'loc'), n(p, 'scale')) },
  Gamma: { continuous: true, finite: false, arb: fc.record({ concentration: pos(0.2, 20), rate: pos() }), make: (p) => Gamma(n(p, 'concentration'), n(p, 'rate')) },
  Beta: { continuous: true, finite: false, arb: fc.record({ a: pos(0.2, 20), b: pos(0.2, 20) }), make: (p) => Beta(n(p, 'a'), n(p, 'b')) },
  Exponential: { continuous: true, finite: false, arb: fc.record({ rate: pos() }), make: (p) => Exponential(n(p, 'rate')) },
  HalfNormal: { continuous: true, finite: false, arb: fc.record({ scale: pos() }), make: (p) => HalfNormal(n(p, 'scale')) },
  Uniform: {
    continuous: true,
    finite: false,
    arb: fc.record({ low: real(), width: pos(0.01, 20) }),
    make: (p) => Uniform(n(p, 'low'), n(p, 'low') + n(p, 'width')),
  },
  Bernoulli: { continuous: false, finite: true, arb: fc.record({ probs: prob }), make: (p) => Bernoulli(n(p, 'probs')) },
  Binomial: { continuous: false, finite: true, arb: fc.record({ totalCount: fc.integer({ min: 1, max: 20 }), probs: prob }), make: (p) => Binomial(n(p, 'totalCount'), n(p, 'probs')) },
  Categorical: {
    continuous: false,
    finite: true,
    arb: fc.record({ weights: fc.array(fc.integer({ min: 1, max: 20 }), { minLength: 2, maxLength: 6 }) }),
    make: (p) => {
      const w = p.weights as number[];
      const total = w.reduce((a, b) => a + b, 0);
      return Categorical(w.map((x) => x / total));
    },
  },
  Poisson: { continuous: false, finite: false, arb: fc.record({ rate: pos(0.1, 30) }), make: (p) => Poisson(n(p, 'rate')) },
  Geometric: { continuous: false, finite: false, arb: fc.record({ probs: prob }), make: (p) => Geometric(n(p, 'probs')) },
};

/**
 * Random distributions with valid parameters, scalar batch shape, over the
 * common families (parameters kept in ranges where sampling and densities
 * are numerically sound).
 */
export function arbDistribution(options: ArbDistributionOptions = {}): fc.Arbitrary<GeneratedDistribution> {
  const kind = options.kind ?? 'any';
  const names = Object.keys(FAMILIES).filter((k) => {
    const f = FAMILIES[k];
    if (kind === 'continuous' && !f.continuous) return false;
    if (kind === 'discrete' && f.continuous) return false;
    return !options.finite || f.finite;
  });
  if (names.length === 0) throw new Error(`arbDistribution: no family is ${kind}${options.finite ? ' and finite' : ''}`);
  return fc.oneof(
    ...names.map((family) =>
      FAMILIES[family].arb.map((params): GeneratedDistribution => {
        const f = FAMILIES[family];
        const text = `${family}(${Object.entries(params).map(([k, v]) => `${k}=${Array.isArray(v) ? `[${v.join(', ')}]` : v}`).join(', ')})`;
        return { family, params, dist: f.make(params), finite: f.finite, continuous: f.continuous, [fc.toStringMethod]: () => text };
      }),
    ),
  );
}

/** A generated conjugate model with data, its exact posterior moments and log Z. */
export interface GeneratedConjugate {
  readonly family: ConjugateFamily;
  readonly data: number[];
  /** Exact posterior mean and sd of `family.param`. */
  readonly posterior: { readonly mean: number; readonly sd: number };
  /** Exact log p(data). */
  readonly logZ: number;
  [fc.toStringMethod](): string;
}

/** Options of {@link arbConjugate}. */
export interface ArbConjugateOptions {
  /** Which families (default all three). */
  readonly kinds?: readonly ('normal-normal' | 'beta-bernoulli' | 'gamma-poisson')[];
  /** Most data points (default 8; at least 1). */
  readonly maxData?: number;
}

/**
 * Random conjugate models (Normal-Normal, Beta-Bernoulli, Gamma-Poisson)
 * with random hyperparameters and data, and their exact posterior moments
 * and log marginal likelihood.
 */
export function arbConjugate(options: ArbConjugateOptions = {}): fc.Arbitrary<GeneratedConjugate> {
  const kinds = options.kinds ?? ['normal-normal', 'beta-bernoulli', 'gamma-poisson'];
  const maxLength = Math.max(1, options.maxData ?? 8);
  const data = (item: fc.Arbitrary<number>) => fc.array(item, { minLength: 1, maxLength });
  const make = (family: ConjugateFamily, ys: number[]): GeneratedConjugate => ({
    family,
    data: ys,
    posterior: family.moments(ys),
    logZ: family.logZ(ys),
    [fc.toStringMethod]: () => `${family.description}; data [${ys.join(', ')}]`,
  });
  const arbs: Record<string, fc.Arbitrary<GeneratedConjugate>> = {
    'normal-normal': fc
      .tuple(real(5), pos(0.2, 5), pos(0.2, 5), data(real(10)))
      .map(([mu0, tau0, sigma, ys]) => make(normalNormal(mu0, tau0, sigma), ys)),
    'beta-bernoulli': fc
      .tuple(pos(0.5, 10), pos(0.5, 10), data(fc.integer({ min: 0, max: 1 })))
      .map(([a, b, ys]) => make(betaBernoulli(a, b), ys)),
    'gamma-poisson': fc
      .tuple(pos(0.5, 10), pos(0.2, 5), data(fc.integer({ min: 0, max: 15 })))
      .map(([a, b, ys]) => make(gammaPoisson(a, b), ys)),
  };
  return fc.oneof(...kinds.map((k) => arbs[k]));
}
