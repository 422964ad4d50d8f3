/**
 * Potentials (genlm-control's prefix / complete / logwNext contract):
 * boolean constraints, automata coerced to tokens, rewards, process reward
 * models, products. See docs/steer/steering.md.
 *
 * @module
 */
export { type Potential, type PotentialCallOptions, PotentialError, prefixOf, completeOf, logwNext, logwNextToken, checkLogWeight, assertPotentialVocabulary } from './potential.js';
export { BooleanPotential, type BooleanPotentialOptions, type TextPredicate } from './boolean.js';
export { AutomatonPotential, VocabularyTrie, type VocabularyTrieNode } from './automaton.js';
export { RewardPotential, ProcessRewardPotential, applyLink, type RewardFunction, type PrmLink, type StepScorer, type ProcessRewardOptions } from './reward.js';
export { ProductPotential, product } from './product.js';
