/**
 * SMC steering of a language model: the token-level Feynman–Kac model
 * ({@link TokenFeynmanKac}) run by the particle core, with its resampling
 * schemes and ESS-adaptive resampling, and the result read back as weighted
 * strings with an estimate of log Z.
 *
 * ```ts
 * const res = await smcSteer({ lm, potential: new AutomatonPotential(lm.vocab, '[^e]*'),
 *   sampler: new LocallyOptimalSampler(), particles: 16, maxTokens: 40, seed: 1 });
 * res.best().text; res.logZ; res.posterior();
 * ```
 *
 * @module
 */
import { checkSteerOptions } from '../../run-rules.js';
import { checkIntegerOptions, optionNames } from '../../../core/options.js';
import { ZeroDensityError } from '../../../core/errors.js';
import { type FeynmanKac, type SMCOptions, type SMCResult, runSMCForEntry } from '../../../infer/smc/core.js';
import { conditionalAncestors } from '../../../infer/smc/csmc.js';
import type { LanguageModelStats } from '../cached.js';
import type { Vocabulary } from '../types.js';
import { type TokenModelOptions, type TokenParticle, TokenFeynmanKac } from './token-fk.js';

/** The steering run found no string the potential allows. */
export class NoSatisfyingStringError extends Error {
  constructor(
    readonly potential: string,
    readonly step: number,
    detail: string,
    /** The critic of the run, if any (its -Infinity kills a particle too). */
    readonly critic?: string,
  ) {
    super(
      `steering: every particle has weight zero by step ${step} under potential "${potential}"${critic === undefined ? '' : ` and critic "${critic}"`} — no generated string satisfies ${critic === undefined ? 'it' : 'them'} (${detail}); the constraint may be unsatisfiable by this language model within maxTokens` +
        (critic === undefined ? '' : `, or the critic is -Infinity on a prefix that an allowed string extends (a critic must be -Infinity only where no allowed string continues)`),
    );
    this.name = 'NoSatisfyingStringError';
  }
}

/** Options of {@link smcSteer}. */
export interface SteerOptions extends TokenModelOptions, Pick<SMCOptions<TokenParticle[]>, 'resampling' | 'essThreshold' | 'seed' | 'rng' | 'signal' | 'onStep' | 'temper' | 'ancestorSampler'> {
  /** Number of particles. */
  readonly particles: number;
  /**
   * When every particle dies: `'throw'` (default) a {@link NoSatisfyingStringError},
   * or `'empty'` return a result with no particles, `logZ = -Infinity` and
   * `empty = true` (what unbiased log Z averaging over runs needs: Ẑ = 0).
   */
  readonly onEmpty?: 'throw' | 'empty';
}

/** One weighted string of a steering result. */
export interface SteeredString {
  readonly tokens: readonly number[];
  readonly text: string;
  /** Normalised log-weight. */
  readonly logWeight: number;
  readonly weight: number;
  /** False when the particle died (weight zero). */
  readonly alive: boolean;
}

/** What a steering run returns. */
export class SteeringResult {
  constructor(
    /** The final particles with their normalised weights. */
    readonly particles: readonly SteeredString[],
    /** Estimate of log Z (exp of it is unbiased for Z). */
    readonly logZ: number,
    /** The core's result (ESS history, genealogy, resampling steps); null for an empty result. */
    readonly smc: Omit<SMCResult<TokenParticle[]>, 'state'> | null,
    /** LM counters over the run (forward passes, tokens evaluated, cache hits). */
    readonly lmStats: LanguageModelStats,
    /** Tokens generated (EOS included) and particle-steps. */
    readonly tokens: number,
    /** Why the result is empty (every particle died), or null. */
    readonly emptyReason: string | null = null,
  ) {}

  /** True when every particle died (Ẑ = 0): `particles` is empty and `logZ` is -Infinity. */
  get empty(): boolean {
    return this.emptyReason !== null;
  }

  /** The posterior over distinct strings: text → summed weight, most probable first. */
  posterior(): Map<string, number> {
    const m = new Map<string, number>();
    for (const p of this.particles) if (p.weight > 0) m.set(p.text, (m.get(p.text) ?? 0) + p.weight);
    return new Map([...m].sort((a, b) => b[1] - a[1]));
  }

  /** The highest-weight string. */
  best(): SteeredString {
    if (this.particles.length === 0) throw new Error(`steering: the result is empty (${this.emptyReason})`);
    return this.particles.reduce((a, b) => (b.weight > a.weight ? b : a));
  }

  /** Forward passes of the LM per generated token. */
  get forwardPassesPerToken(): number {
    return this.lmStats.forwardPasses / Math.max(1, this.tokens);
  }
}

/** Read the final population into weighted strings. */
export function readParticles(state: readonly TokenParticle[], logWeights: Float64Array, vocab: Vocabulary): SteeredString[] {
  return state.map((p, i) => ({
    tokens: p.tokens.slice(),
    text: vocab.decode(p.tokens),
    logWeight: logWeights[i],
    weight: Math.exp(logWeights[i]),
    alive: logWeights[i] > -Infinity,
  }));
}

/** Run a token Feynman–Kac model on the core, turning "every particle dead" into a {@link NoSatisfyingStringError}. */
export async function runTokenModel(
  fk: TokenFeynmanKac,
  options: Omit<SMCOptions<TokenParticle[]>, 'store'>,
  onEmpty: 'throw' | 'empty' = 'throw',
  /** A Feynman–Kac model over the same particles to run instead of `fk` (e.g. SMC-steer's), `fk` still giving the LM and counters. */
  runner: FeynmanKac<TokenParticle[]> = fk,
): Promise<SteeringResult> {
  if (onEmpty !== 'throw' && onEmpty !== 'empty') throw new Error(`steering: onEmpty must be 'throw' or 'empty', got ${JSON.stringify(onEmpty)}`);
  const before = fk.lm.stats();
  fk.paceWith(options.signal);
  let res: SMCResult<TokenParticle[]>;
  try {
    res = await runSMCForEntry(runner, { ...options, maxSteps: fk.maxTokens + 2 });
  } catch (err) {
    if (err instanceof ZeroDensityError) {
      const step = Number(/step (\d+)/.exec(err.message)?.[1] ?? NaN);
      // the last step forces EOS: dying there is the LM's EOS probability (or the potential's EOS weight) being 0, which the bare message blamed on a constraint, "none" when there was no potential
      const forced = step === fk.maxTokens ? `; every particle left reached maxTokens = ${fk.maxTokens}, where EOS is forced, and got weight zero there: the LM gives EOS probability 0 after those prefixes${fk.options.potential ? ' or the potential rules out ending there' : ''} (a larger maxTokens may help)` : '';
      const e = new NoSatisfyingStringError(fk.options.potential?.name ?? 'none', step, err.message + forced, fk.options.critic?.name);
      if (onEmpty === 'throw') throw e;
      return new SteeringResult([], -Infinity, null, statsSince(fk, before), fk.stats.tokens, e.message);
    }
    throw err;
  }
  const { state, ...rest } = res;
  return new SteeringResult(readParticles(state, res.logWeights, fk.lm.vocab), res.logZ, rest, statsSince(fk, before), fk.stats.tokens);
}

/** LM counters since `before`. */
function statsSince(fk: TokenFeynmanKac, before: LanguageModelStats): LanguageModelStats {
  const after = fk.lm.stats();
  return {
    ...after,
    requests: after.requests - before.requests,
    hits: after.hits - before.hits,
    merged: after.merged - before.merged,
    misses: after.misses - before.misses,
    forwardPasses: after.forwardPasses - before.forwardPasses,
    tokensEvaluated: after.tokensEvaluated - before.tokensEvaluated,
    kvReuses: after.kvReuses - before.kvReuses,
  };
}

/** The option names smcSteer accepts (checked against its options type by the compiler). */
const SMC_STEER_OPTIONS = optionNames<SteerOptions>({ particles: true, onEmpty: true, lm: true, potential: true, critic: true, sampler: true, maxTokens: true, prompt: true, reference: true, resampling: true, essThreshold: true, seed: true, rng: true, signal: true, onStep: true, temper: true, ancestorSampler: true });

/**
 * SMC steering (LLaMPPL / genlm-control): N particles, one token per step,
 * weighted by the sampler against `p_LM · exp(potential)`, resampled when the
 * ESS falls below `essThreshold · N`.
 */
export async function smcSteer(options: SteerOptions): Promise<SteeringResult> {
  checkSteerOptions('smcSteer', options, SMC_STEER_OPTIONS);
  checkIntegerOptions('smcSteer', options, { particles: 1, maxTokens: 0 });
  const { particles, resampling, essThreshold, seed, rng, signal, onStep, temper, ancestorSampler, onEmpty, ...model } = options;
  const fk = new TokenFeynmanKac(model);
  return runTokenModel(fk, { particles, resampling, essThreshold, seed, rng, signal, onStep, temper, ancestorSampler }, onEmpty);
}

/** The option names conditionalSteer accepts (checked against its options type by the compiler). */
const CONDITIONAL_STEER_OPTIONS = optionNames<Omit<SteerOptions, 'ancestorSampler' | 'essThreshold' | 'temper'> & { readonly reference: readonly number[] }>({ resampling: true, seed: true, rng: true, signal: true, onStep: true, particles: true, onEmpty: true, lm: true, potential: true, critic: true, sampler: true, maxTokens: true, prompt: true, reference: true });

/**
 * Conditional SMC with `reference` held in slot 0 (resampling every step,
 * the reference keeping its own ancestor, the others drawn multinomially).
 * Its log Ẑ has expectation ≥ log Z when the reference is an exact draw from
 * the target: the upper half of the bidirectional bounds.
 */
export async function conditionalSteer(options: Omit<SteerOptions, 'ancestorSampler' | 'essThreshold' | 'temper'> & { readonly reference: readonly number[] }): Promise<SteeringResult> {
  checkSteerOptions('conditionalSteer', options, CONDITIONAL_STEER_OPTIONS);
  checkIntegerOptions('conditionalSteer', options, { particles: 1, maxTokens: 0 });
  return smcSteer({ ...options, essThreshold: 1, ancestorSampler: conditionalAncestors<TokenParticle[]>() });
}
