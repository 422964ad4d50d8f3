/**
 * Token-level baselines at equal compute, on the same Feynman–Kac model:
 *
 * - {@link locallyConstrainedDecode}: mask the tokens that break the
 *   constraint and renormalise (the locally optimal proposal) but **never
 *   reweight**: each string is drawn from Π_t q_t, which is biased towards
 *   strings whose prefixes left many allowed continuations. SMC corrects it.
 * - {@link bestOfN}: N independent samples from the LM scored by the
 *   potential (importance sampling without resampling), best weight wins.
 *
 * @module
 */
import { checkSteerOptions } from '../../run-rules.js';
import { checkIntegerOptions, optionNames } from '../../../core/options.js';
import { LocallyOptimalSampler } from '../samplers/locally-optimal.js';
import { DirectSampler } from '../samplers/direct.js';
import type { TokenContext, TokenSampler, WeightedToken } from '../samplers/types.js';
import { type SteerOptions, SteeringResult, smcSteer } from './steer.js';

/** A sampler that draws like `inner` but reports weight 0 for every live draw (no correction). */
export class UnweightedSampler implements TokenSampler {
  readonly name: string;
  constructor(readonly inner: TokenSampler) {
    this.name = `unweighted(${inner.name})`;
  }
  async sample(ctx: TokenContext): Promise<WeightedToken> {
    const d = await this.inner.sample(ctx);
    return { token: d.token, logWeight: d.logWeight === -Infinity ? -Infinity : 0 };
  }
}

/** Options of the baselines: those of steering without the sampler and resampling choices. */
export type BaselineOptions = Omit<SteerOptions, 'sampler' | 'essThreshold' | 'resampling' | 'temper' | 'ancestorSampler'>;

/** The option names locallyConstrainedDecode accepts (checked against its options type by the compiler). */
const LOCALLY_CONSTRAINED_DECODE_OPTIONS = optionNames<BaselineOptions>({ seed: true, rng: true, signal: true, onStep: true, particles: true, onEmpty: true, lm: true, potential: true, critic: true, maxTokens: true, prompt: true, reference: true });

/**
 * Locally constrained decoding: N independent strings, each token drawn from
 * the LM masked by the potential's next-token weights and renormalised, no
 * weights and no resampling. Returned particles are equally weighted (dead
 * ones, which hit a dead end, get weight zero); `logZ` is not an estimate of
 * anything and is left NaN.
 */
export async function locallyConstrainedDecode(options: BaselineOptions): Promise<SteeringResult> {
  checkSteerOptions('locallyConstrainedDecode', options, LOCALLY_CONSTRAINED_DECODE_OPTIONS);
  checkIntegerOptions('locallyConstrainedDecode', options, { particles: 1, maxTokens: 0 });
  const res = await smcSteer({ ...options, sampler: new UnweightedSampler(new LocallyOptimalSampler()), essThreshold: 0 });
  return new SteeringResult(res.particles, NaN, res.smc, res.lmStats, res.tokens, res.emptyReason);
}

/** The option names bestOfN accepts (checked against its options type by the compiler). */
const BEST_OF_N_OPTIONS = optionNames<BaselineOptions>({ seed: true, rng: true, signal: true, onStep: true, particles: true, onEmpty: true, lm: true, potential: true, critic: true, maxTokens: true, prompt: true, reference: true });

/**
 * Best-of-N: N independent samples from the LM, each weighted by the
 * potential (exp φ.complete), no resampling; `best()` is the highest weight
 * and `logZ` the importance-sampling estimate.
 */
export function bestOfN(options: BaselineOptions): Promise<SteeringResult> {
  checkSteerOptions('bestOfN', options, BEST_OF_N_OPTIONS);
  checkIntegerOptions('bestOfN', options, { particles: 1, maxTokens: 0 });
  return smcSteer({ ...options, sampler: new DirectSampler(), essThreshold: 0 });
}
