/**
 * Sampling from the LM itself: q(y) = p_LM(y | x), weight = exp(local(y)).
 * One potential call per step.
 *
 * @module
 */
import { sampleFromLogprobs } from '../sampling.js';
import type { TokenContext, TokenSampler, WeightedToken } from './types.js';

/** The bootstrap proposal: draw from the LM, weight by the potential's next-token log-weight. */
export class DirectSampler implements TokenSampler {
  readonly name = 'direct';

  async sample(ctx: TokenContext): Promise<WeightedToken> {
    const token = sampleFromLogprobs(ctx.lmRow, ctx.rng);
    return { token, logWeight: await ctx.local.token(token) };
  }

  async logWeightOf(ctx: TokenContext, token: number): Promise<number> {
    return ctx.lmRow[token] === -Infinity ? -Infinity : ctx.local.token(token);
  }
}
