/**
 * Particle filtering for inference-time scaling (Puri et al. 2025) and
 * entropic particle filtering (ePF), on the particle core: {@link stepModel}
 * run by `runSMC`, then the final answer by weighted majority vote or best
 * weight.
 *
 * ```ts
 * const res = await particleFilterSteps(lm, prm, 'Q: 2+3*4 A:', { particles: 16, answerOf: extractAnswer, seed: 1 });
 * res.answer; res.logZ; res.cost; // answer, log E_LM[r(x)] estimate, tokens and PRM calls
 * ```
 *
 * @module
 */
import { checkSteerOptions } from '../../run-rules.js';
import { checkIntegerOptions, optionNames } from '../../../core/options.js';
import { ZeroDensityError } from '../../../core/errors.js';
import { rngFrom } from '../../../core/rng.js';
import { type AncestorSampler, type FeynmanKac, runSMCForEntry } from '../../../infer/smc/core.js';
import { type Resampler, type ResamplingScheme, resolveResampler } from '../../../infer/smc/resampling.js';
import type { LanguageModel } from '../types.js';
import { type AnswerSelection, normalise, selectCandidate } from './aggregate.js';
import { type EntropicAnnealing, annealingSchedule, annealingTemperature } from './epf.js';
import { type ReferencePath, type WeightMode, stepModel } from './fk.js';
import { type LookaheadModulation, withLookahead } from './lookahead.js';
import { type PartialSolution, StepSampler, solutionText } from './steps.js';
import type { Candidate, RewardLink, ScalingResult, StepRewardModel, StepSearchOptions } from './types.js';

/** Options of {@link particleFilterSteps}. */
export interface StepPFOptions extends StepSearchOptions {
  /** Number of particles (the budget). */
  readonly particles: number;
  /** The link of the PRM twist (default `'log'` in ratio mode, `'logit'` in replace mode, as its_hub). */
  readonly link?: RewardLink;
  /** Clip of reward probabilities before the link (default 1e-7 for logit, 0 for log). */
  readonly eps?: number;
  /** `'ratio'` (proper Feynman–Kac, default) or its_hub's `'replace'`. */
  readonly weights?: WeightMode;
  /** Resample when ESS < essThreshold · N (default 1: every step, as Puri et al.); replace mode resamples every step and refuses another value. */
  readonly essThreshold?: number;
  /** Resampling scheme (default `'multinomial'`, as its_hub). */
  readonly resampling?: ResamplingScheme | Resampler;
  /** Entropic annealing (ePF); absent: plain PF. */
  readonly annealing?: EntropicAnnealing;
  /** Final answer by weighted majority vote (default) or best weight. */
  readonly select?: AnswerSelection;
  /** Called with (t, T) each time ePF picks a resampling temperature. */
  readonly onTemperature?: (t: number, temperature: number) => void;
  /** Look-ahead modulation (ratio weights only; `lookahead.ts`): tilt resampling by a sampled successor step's score. */
  readonly lookahead?: LookaheadModulation;
}

/** A step-level PF result: the common result plus the run's diagnostics. */
export interface StepPFResult extends ScalingResult {
  /** ESS after each step. */
  readonly essHistory: readonly number[];
  /** The final particles (partial solutions) and their normalised weights. */
  readonly particles: readonly PartialSolution[];
  readonly weights: Float64Array;
}

/** Build candidates from final particles and log-weights. */
export function candidatesOf(sampler: StepSampler, sols: readonly PartialSolution[], weights: ArrayLike<number>): Candidate[] {
  return sols.map((s, i) => {
    const c = { text: solutionText(s), answer: sampler.answerOf(s), weight: weights[i]!, reward: s.reward, finished: s.ended === 'eos' };
    return c.finished ? c : { ...c, cutBy: s.tokens.length >= sampler.maxTokens ? ('maxTokens' as const) : ('maxSteps' as const) };
  });
}

/**
 * Refuse final candidates that the reward model scored 0 one and all. A score
 * of 0 rules a solution out (weight zero in the particle methods, whatever the
 * link's clip), so a search that ranked zeros would hand back a solution the
 * reward model rejects as if it had won; every step method (particle filter,
 * particle Gibbs, best-of-N, beam search) throws this same error instead.
 */
export function refuseAllZero(sampler: StepSampler, candidates: readonly Candidate[], who: string): void {
  const rm = sampler.reward;
  if (!rm || candidates.length === 0 || !candidates.every((c) => c.reward === 0)) return;
  const n = candidates.length;
  throw new ZeroDensityError(
    `${who}: ${n === 1 ? 'the only final candidate' : `all ${n} final candidates`} scored 0 under the reward model "${rm.name ?? '(unnamed)'}"; a score of 0 rules a solution out (weight zero, as in the step particle filter), so no answer is returned (to rank zero scores as a search would, have the reward model return scores in (0, 1], e.g. Math.max(r, 1e-9))`,
  );
}

/** The ScalingResult of final candidates (`who` names the method in the error of `refuseAllZero`). */
export function resultOf(sampler: StepSampler, candidates: Candidate[], select: AnswerSelection, logZ: number | null, who: string): ScalingResult {
  refuseAllZero(sampler, candidates, who);
  const k = selectCandidate(candidates, select);
  const c = k >= 0 ? candidates[k]! : null;
  const answer = c?.answer ?? null;
  return { answer, text: c?.text ?? '', candidates, cost: sampler.cost(), logZ, warnings: limitWarnings(sampler, candidates, c, answer, who) };
}

/**
 * Warnings about limits that cut solutions before EOS (see
 * `ScalingResult.warnings`): a search cut off by `maxSteps` before any
 * solution finished returned `answer: null` with nothing to say why.
 */
function limitWarnings(sampler: Pick<StepSampler, 'maxSteps' | 'maxTokens'>, candidates: readonly Candidate[], chosen: Candidate | null, answer: Candidate['answer'], who: string): string[] {
  if (candidates.length === 0) return [];
  const finished = candidates.filter((c) => c.finished).length;
  if (finished > 0 && (chosen === null || chosen.finished)) return [];
  const limit = (l: 'maxSteps' | 'maxTokens'): string => `${l} = ${l === 'maxSteps' ? sampler.maxSteps : sampler.maxTokens}`;
  const raise = (cut: readonly Candidate[]): string => {
    const by = new Set(cut.map((x) => x.cutBy ?? 'maxSteps'));
    return [...by].sort().map((l) => `${l} (${limit(l)})`).join(' or ');
  };
  const read = answer === null ? 'so there is no answer' : `so the answer ${JSON.stringify(answer)} is read from an unfinished solution`;
  if (finished === 0) {
    const counts = (['maxSteps', 'maxTokens'] as const).flatMap((l) => {
      const k = candidates.filter((x) => (x.cutBy ?? 'maxSteps') === l).length;
      return k ? [`${k} by ${limit(l)}`] : [];
    });
    const n = candidates.length;
    return [`${who}: no solution finished: ${n === 1 ? 'the only candidate was' : `all ${n} candidates were`} cut before EOS (${counts.join(', ')}), ${read}; raise ${raise(candidates)}`];
  }
  return [`${who}: the chosen candidate was cut by ${limit(chosen!.cutBy ?? 'maxSteps')} before EOS while ${finished} of ${candidates.length} finished, ${read}`];
}

/** its_hub's resampling for replace mode: ancestors from softmax(lw / T), weights reset. */
function replaceAncestors(resampler: Resampler, annealing: EntropicAnnealing | undefined, maxSteps: number, onT?: (t: number, T: number) => void): AncestorSampler<PartialSolution[]> {
  return (ctx) => {
    if (!annealing) return resampler(ctx.weights, ctx.particles, ctx.rng);
    const T = annealingTemperature(annealing, ctx.weights, ctx.t, maxSteps);
    onT?.(ctx.t, T);
    const w = normalise(Float64Array.from(ctx.logWeights, (x) => x / T));
    return resampler(w, ctx.particles, ctx.rng);
  };
}

/** Shared runner of PF / ePF / one conditional sweep (particle Gibbs). */
export async function runStepSMC(
  sampler: StepSampler,
  options: StepPFOptions,
  extra: {
    reference?: ReferencePath;
    ancestorSampler?: AncestorSampler<PartialSolution[]>;
    wrap?: (fk: FeynmanKac<PartialSolution[]>) => FeynmanKac<PartialSolution[]>;
  } = {},
): Promise<StepPFResult> {
  const N = options.particles;
  if (!Number.isInteger(N) || N < 1) throw new Error(`step particle filter: particles must be a positive integer, got ${N}`);
  const mode = options.weights ?? 'ratio';
  if (mode !== 'ratio' && mode !== 'replace') throw new Error(`step particle filter: weights must be 'ratio' or 'replace', got ${String(mode)}`);
  const cut = options.sampling && ((options.sampling.topK ?? Infinity) < sampler.lm.vocab.size || (options.sampling.topP ?? 1) < 1);
  if (mode === 'ratio' && cut) throw new Error(`step particle filter: sampling.topK / topP cut tokens the LM can draw, and ratio weights cannot correct for a cut support (the target would silently change); use sampling.temperature alone (corrected by importance weights), or weights: 'replace'`);
  // replace mode resets the weights by resampling at every step (its_hub); an explicit adaptive threshold was
  // silently overridden, so a user asking for ESS-adaptive resampling ran another algorithm without a word
  if (mode === 'replace' && options.essThreshold !== undefined && options.essThreshold !== 1) {
    throw new RangeError(`step particle filter: essThreshold ${options.essThreshold} has no meaning with weights: 'replace' (its weights are replaced, not accumulated, so it resamples at every step); leave essThreshold out, or use weights: 'ratio' for ESS-adaptive resampling`);
  }
  const link = options.link ?? (mode === 'ratio' ? 'log' : 'logit');
  const resampler = resolveResampler(options.resampling ?? 'multinomial');
  const eps = options.eps ?? (link === 'logit' ? 1e-7 : 0);
  const plain = stepModel(sampler, { link, eps, mode, reference: extra.reference });
  if (options.lookahead && mode !== 'ratio') throw new Error(`step particle filter: look-ahead modulation needs ratio weights, not '${mode}'`);
  const inner = options.lookahead ? withLookahead(sampler, plain, link, eps, options.lookahead) : plain;
  const fk = extra.wrap ? extra.wrap(inner) : inner;
  const rng = rngFrom(options.seed);
  const res = await runSMCForEntry(fk, {
    particles: N,
    rng,
    resampling: resampler,
    essThreshold: mode === 'replace' ? 1 : (options.essThreshold ?? 1),
    temper: mode === 'ratio' && options.annealing && !extra.ancestorSampler ? annealingSchedule(options.annealing, sampler.maxSteps, options.onTemperature) : undefined,
    ancestorSampler: extra.ancestorSampler ?? (mode === 'replace' ? replaceAncestors(resampler, options.annealing, sampler.maxSteps, options.onTemperature) : undefined),
    signal: options.signal,
    genealogy: false,
  }).catch((err: unknown) => {
    // name the reward model, as token steering names its potential (it said only "SMC step 2: every particle has zero weight")
    if (!(err instanceof ZeroDensityError)) throw err;
    throw new ZeroDensityError(
      `step particle filter: every particle has weight zero under the reward model "${sampler.reward?.name ?? '(none)'}" (${err.message}); a complete solution's score of 0 is weight zero under the ${link} link${link === 'logit' ? ` with eps = ${eps}` : ''}, so no answer is returned`,
    );
  });
  const sols = res.state;
  const candidates = candidatesOf(sampler, sols, res.weights);
  const base = resultOf(sampler, candidates, options.select ?? 'vote', mode === 'ratio' ? res.logZ : null, 'step particle filter');
  return { ...base, essHistory: res.essHistory, particles: sols, weights: res.weights };
}

/** The option names particleFilterSteps accepts (checked against its options type by the compiler). */
const PARTICLE_FILTER_STEPS_OPTIONS = optionNames<StepPFOptions>({ particles: true, link: true, eps: true, weights: true, essThreshold: true, resampling: true, annealing: true, select: true, onTemperature: true, lookahead: true, delimiter: true, maxSteps: true, maxTokens: true, sampling: true, answerOf: true, rewardText: true, seed: true, signal: true });

/**
 * Particle filtering over reasoning steps guided by a process reward model;
 * with `annealing`, entropic particle filtering (tempered resampling in the
 * early phase, untempered final selection).
 */
export async function particleFilterSteps(lm: LanguageModel, prm: StepRewardModel, prompt: string, options: StepPFOptions): Promise<StepPFResult> {
  checkSteerOptions('particleFilterSteps', options, PARTICLE_FILTER_STEPS_OPTIONS);
  checkIntegerOptions('particleFilterSteps', options, { particles: 1, maxSteps: 1, maxTokens: 1 });
  const sampler = new StepSampler(lm, prompt, prm, options);
  return runStepSMC(sampler, options);
}
