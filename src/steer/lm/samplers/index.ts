/**
 * Token samplers: properly weighted proposals for the next token (the LM
 * itself, the locally optimal proposal, AWRS, a proposal LM).
 *
 * @module
 */
export { type TokenSampler, type TokenContext, type WeightedToken, type LocalWeights } from './types.js';
export { DirectSampler } from './direct.js';
export { LocallyOptimalSampler } from './locally-optimal.js';
export { AWRSSampler, type AWRSStats } from './awrs.js';
export { ProposalLMSampler } from './proposal-lm.js';
