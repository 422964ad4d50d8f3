/**
 * Adaptive weighted rejection sampling (AWRS) for boolean local potentials
 * (each token allowed, log-weight 0, or forbidden, -Infinity), in the spirit
 * of Lipkin et al. (2025). It asks the constraint about a few tokens instead
 * of masking the whole vocabulary, and its weights are unbiased.
 *
 * Draw tokens from the LM **without replacement** (each rejected token is
 * removed and the rest renormalised) until one is allowed: that token is an
 * exact draw from the LM restricted to the allowed tokens. Then draw **one
 * more** token from what is left and ask about it. With P the LM mass of all
 * tokens drawn so far, A = p(accepted) and c ∈ {0, 1} the answer for the
 * extra token, the weight is
 *
 *     Ẑ = A + (1 − P) · c
 *
 * the Des Raj estimator of Z = Σ_{y allowed} p(y) at the draw after the
 * first acceptance. Each Des Raj term D_j satisfies E[D_j | draws before j] =
 * Z, and "stop one draw after the first acceptance" is decided before that
 * draw is seen, so E[Ẑ | accepted token] = Z: the pair (token, Ẑ) is
 * properly weighted. (This derivation is ours; the paper's estimator may
 * differ in detail.) Cost: k + 1 constraint calls when the k-th draw is the
 * first allowed one, against `vocab.size` for full masking.
 *
 * @module
 */
import { PotentialError } from '../potentials/potential.js';
import type { TokenContext, TokenSampler, WeightedToken } from './types.js';

/** Counters of an {@link AWRSSampler}. */
export interface AWRSStats {
  /** Steps sampled. */
  draws: number;
  /** Constraint evaluations (`local.token` calls). */
  constraintCalls: number;
  /** What full masking would have cost: vocabulary size per step. */
  maskingCalls: number;
}

/** AWRS: exact constrained draws with unbiased weights from few constraint calls. */
export class AWRSSampler implements TokenSampler {
  readonly name = 'awrs';
  readonly stats: AWRSStats = { draws: 0, constraintCalls: 0, maskingCalls: 0 };

  async sample(ctx: TokenContext): Promise<WeightedToken> {
    const { lmRow, local, rng } = ctx;
    const n = lmRow.length;
    const p = new Float64Array(n);
    for (let i = 0; i < n; i++) p[i] = Math.exp(lmRow[i]);
    this.stats.draws++;
    this.stats.maskingCalls += n;
    let removed = 0; // P: mass drawn so far
    let accepted = -1;
    let acceptedMass = 0;
    const allowed = async (y: number): Promise<boolean> => {
      this.stats.constraintCalls++;
      // the constraint alone: a critic's twist is not part of what AWRS accepts or rejects
      const v = local.potentialToken ? await local.potentialToken(y) : await local.token(y);
      if (v === 0) return true;
      if (v === -Infinity) return false;
      throw new PotentialError(local.name, `AWRS needs a boolean potential (log-weights 0 or -Infinity); token ${y} got ${v}`);
    };
    // a critic's twist for the drawn token, times AWRS's weight for the constraint: still properly weighted
    const twistOf = async (y: number): Promise<number> => (local.twist ? local.twist(y) : 0);
    const draw = (): number => {
      // inverse CDF over the tokens not yet drawn (p zeroed as they are drawn)
      const u = rng.uniform() * Math.max(0, 1 - removed);
      let c = 0;
      let last = -1;
      for (let i = 0; i < n; i++) {
        if (p[i] === 0) continue;
        c += p[i];
        last = i;
        if (u < c) return i;
      }
      return last;
    };
    for (;;) {
      // mass left is recomputed from the remaining entries near the end, where 1 - removed loses precision
      if (1 - removed < 1e-9) removed = 1 - p.reduce((a, b) => a + b, 0);
      const y = draw();
      if (y < 0) break;
      const py = p[y];
      p[y] = 0;
      const ok = await allowed(y);
      if (accepted < 0) {
        removed += py;
        if (ok) {
          accepted = y;
          acceptedMass = py;
        }
        continue;
      }
      // the extra draw after the first acceptance
      return { token: accepted, logWeight: Math.log(acceptedMass + (ok ? (1 - removed) : 0)) + (await twistOf(accepted)) };
    }
    if (accepted < 0) return { token: local.vocab.eos, logWeight: -Infinity };
    // every token was drawn: the estimate is exact
    return { token: accepted, logWeight: Math.log(acceptedMass) + (await twistOf(accepted)) };
  }
}
