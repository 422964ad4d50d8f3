/**
 * A proposal LM different from the target: y ~ q_LM(y | x), weighted by
 * p_LM(y | x) / q_LM(y | x) · exp(local(y)) (importance correction). The
 * proposal must cover the target's support where the potential allows.
 *
 * @module
 */
import { CachedLanguageModel, wrapLanguageModel } from '../cached.js';
import { assertSameVocabulary } from '../errors.js';
import { sampleFromLogprobs, shapeRow, type SampleOptions } from '../sampling.js';
import type { LanguageModel, Vocabulary } from '../types.js';
import type { TokenContext, TokenSampler, WeightedToken } from './types.js';

/** Draw from another LM (optionally with temperature / top-k / top-p) and correct by importance weights. */
export class ProposalLMSampler implements TokenSampler {
  readonly name: string;
  private readonly lm: CachedLanguageModel;

  constructor(
    proposal: LanguageModel,
    private readonly options: SampleOptions = {},
  ) {
    this.lm = proposal instanceof CachedLanguageModel ? proposal : wrapLanguageModel(proposal);
    this.name = `proposal(${proposal.name})`;
  }

  /** Check the proposal reads the target's vocabulary (done before generation). */
  checkVocabulary(target: { readonly name: string; readonly vocab: Vocabulary }): void {
    assertSameVocabulary(target, this.lm);
  }

  private async row(ctx: TokenContext): Promise<Float64Array> {
    return shapeRow(await this.lm.logprobs(ctx.context), this.options);
  }

  async sample(ctx: TokenContext): Promise<WeightedToken> {
    const q = await this.row(ctx);
    const token = sampleFromLogprobs(q, ctx.rng);
    return { token, logWeight: await this.weight(ctx, q, token) };
  }

  async logWeightOf(ctx: TokenContext, token: number): Promise<number> {
    return this.weight(ctx, await this.row(ctx), token);
  }

  private async weight(ctx: TokenContext, q: Float64Array, token: number): Promise<number> {
    const p = ctx.lmRow[token];
    if (p === -Infinity) return -Infinity;
    if (q[token] === -Infinity) throw new Error(`${this.name}: the target gives token ${token} probability > 0 but the proposal cannot draw it`);
    const l = await ctx.local.token(token);
    return l === -Infinity ? -Infinity : p - q[token] + l;
  }
}
