/**
 * The locally optimal proposal: q(y) ∝ p_LM(y | x) · exp(local(y)), the LM
 * times the potential renormalised over the vocabulary; the weight is the
 * log of the normaliser, the same whatever token is drawn.
 *
 * @module
 */
import { logSumExpRow, sampleFromLogprobs } from '../sampling.js';
import type { TokenContext, TokenSampler, WeightedToken } from './types.js';

/** The product row `lmRow + local` (float64). */
async function productRow(ctx: TokenContext): Promise<Float64Array> {
  const local = await ctx.local.row();
  const r = new Float64Array(local.length);
  for (let i = 0; i < r.length; i++) r[i] = ctx.lmRow[i] === -Infinity || local[i] === -Infinity ? -Infinity : ctx.lmRow[i] + local[i];
  return r;
}

/** The locally optimal (a.k.a. "token-masking with reweighting") proposal. */
export class LocallyOptimalSampler implements TokenSampler {
  readonly name = 'locally-optimal';

  async sample(ctx: TokenContext): Promise<WeightedToken> {
    const r = await productRow(ctx);
    const z = logSumExpRow(r);
    // Nothing possible: the particle dies (any token; its weight is -Infinity)
    if (z === -Infinity) return { token: ctx.local.vocab.eos, logWeight: -Infinity };
    for (let i = 0; i < r.length; i++) r[i] -= z;
    return { token: sampleFromLogprobs(r, ctx.rng), logWeight: z };
  }

  /** log Σ π, the weight of any token the proposal can draw; -Infinity for a token with π(y) = 0 (q(y) = 0 too). */
  async logWeightOf(ctx: TokenContext, token: number): Promise<number> {
    const r = await productRow(ctx);
    return r[token] === -Infinity ? -Infinity : logSumExpRow(r);
  }
}
