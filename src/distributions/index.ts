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
