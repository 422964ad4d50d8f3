/**
 * Token samplers: proposals for one next token that return properly weighted
 * draws. Each step's local (unnormalised) target is
 *
 *     π(y) = p_LM(y | x) · exp(local(y))
 *
 * where `local(y)` is the potential's next-token log-weight (plus a critic's
 * twist difference, when there is one). A sampler draws y from some q and
 * returns `logWeight = log π(y) − log q(y)` (or a random weight whose
 * conditional expectation is that), so E[w f(y)] = Σ_y π(y) f(y).
 *
 * @module
 */
import type { Rng } from '../../../core/rng.js';
import type { Vocabulary } from '../types.js';

/** The local log-weights of the step: the whole row (every token, EOS included) or one entry. */
export interface LocalWeights {
  readonly vocab: Vocabulary;
  /** The full next-token row (length `vocab.size`). */
  row(): Promise<Float64Array>;
  /** One entry (cheaper when only a few tokens are asked about). */
  token(y: number): Promise<number>;
  /** A short name for errors (the potential's). */
  readonly name: string;
  /**
   * With a critic: the twist's part of `token(y)`, ψ(x·y) − ψ(x) (−ψ(x) at
   * EOS), so that `token(y)` = `potentialToken(y)` + `twist(y)`. A sampler
   * that needs the potential alone (AWRS: a boolean constraint) draws by
   * `potentialToken` and multiplies `exp(twist(y))` into the drawn token's
   * weight, which keeps it properly weighted. 0 (or absent) without a critic.
   */
  twist?(y: number): Promise<number>;
  /** The potential's part of `token(y)` alone, without the critic (see {@link LocalWeights.twist}); absent: `token`. */
  potentialToken?(y: number): Promise<number>;
}

/** What a sampler sees at one step of one particle. */
export interface TokenContext {
  /** The LM's context: prompt followed by the tokens generated so far. */
  readonly context: readonly number[];
  /** The generated tokens so far (what potentials read). */
  readonly generated: readonly number[];
  /** Target LM next-token log-probabilities after `context`. */
  readonly lmRow: Float32Array;
  /** The local potential factor. */
  readonly local: LocalWeights;
  /** This particle's random stream for this step. */
  readonly rng: Rng;
  /** The run's abort signal, for a sampler's own LM calls (a proposal LM's forward pass that hangs then lets later runs go on). */
  readonly signal?: AbortSignal;
}

/** A draw and its log-weight. */
export interface WeightedToken {
  readonly token: number;
  /** log π(y) − log q(y) (or an unbiased weight's log); -Infinity kills the particle. */
  readonly logWeight: number;
}

/** A proposal for the next token. */
export interface TokenSampler {
  readonly name: string;
  /** Draw a token with its weight. */
  sample(ctx: TokenContext): Promise<WeightedToken>;
  /**
   * The weight this sampler would give when its draw is `token` (needed to
   * hold a reference path fixed in conditional SMC). Random-weight samplers
   * (AWRS) do not have one.
   */
  logWeightOf?(ctx: TokenContext, token: number): Promise<number>;
}
