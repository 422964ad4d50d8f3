/**
 * Probability distributions, constraints and the distribution base class.
 * @module
 */
export * from './distribution.js';
export * as constraints from './constraints.js';
export type { Constraint } from './constraints.js';
export { Normal, NormalDistribution } from './normal.js';
export { Bernoulli, BernoulliDistribution } from './bernoulli.js';
export { Beta, BetaDistribution } from './beta.js';
export { Categorical, CategoricalDistribution } from './categorical.js';
export { Binomial, BinomialDistribution } from './binomial.js';
export { Poisson, PoissonDistribution } from './poisson.js';
export { Geometric, GeometricDistribution } from './geometric.js';
export { NegativeBinomial, NegativeBinomialDistribution } from './negative-binomial.js';
export { Multinomial, MultinomialDistribution, multinomialSupport } from './multinomial.js';
export { Delta, DeltaDistribution, type DeltaOptions } from './delta.js';
export type { ProbsArg, ProbsSpec } from './probs.js';
export { TransformedDistribution, Transformed } from './transformed.js';
export { MultivariateNormal, MultivariateNormalDistribution, type MvnScale } from './multivariate-normal.js';
export { Dirichlet, DirichletDistribution } from './dirichlet.js';
export { LKJCholesky, LKJCholeskyDistribution, lkjLogNormalizer } from './lkj.js';
export { Independent, IndependentDistribution } from './independent.js';
export { Mixture, MixtureDistribution, MixtureSameFamily, MixtureSameFamilyDistribution } from './mixture.js';
export { Truncated, TruncatedDistribution, type TruncationBounds, type TruncatedOptions } from './truncated.js';
export { Gamma, GammaDistribution, sampleGamma } from './gamma.js';
export { InverseGamma, InverseGammaDistribution } from './inverse-gamma.js';
export { Exponential, ExponentialDistribution } from './exponential.js';
export { LogNormal, LogNormalDistribution } from './lognormal.js';
export { HalfNormal, HalfNormalDistribution } from './half-normal.js';
export { Cauchy, CauchyDistribution, HalfCauchy, HalfCauchyDistribution } from './cauchy.js';
export { StudentT, StudentTDistribution, HalfStudentT, HalfStudentTDistribution } from './student-t.js';
export { Laplace, LaplaceDistribution } from './laplace.js';
export { Logistic, LogisticDistribution } from './logistic.js';
export { Uniform, UniformDistribution } from './uniform.js';
export { Flat, FlatDistribution, type FlatOptions } from './improper.js';
export { PoissonLog, PoissonLogDistribution, BernoulliLogit, BinomialLogit, NormalIdGlm, NormalIdGlmDistribution } from './glm.js';
