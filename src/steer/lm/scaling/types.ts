/**
 * Shared vocabulary of step-level inference-time scaling: the step reward
 * model a search is guided by, the link that turns its probabilities into log
 * weights, and the options every method shares (how a step is cut from
 * generated text, how an answer is read off a solution).
 *
 * @module
 */
import type { SampleOptions } from '../sampling.js';

/**
 * A process reward model: for each text (prompt plus the steps so far) the
 * probability in [0, 1] that the steps so far are right; with
 * `{ complete: true }` the text is a whole solution and is judged as such
 * (an outcome reward). The shipped `ProcessRewardModel` is one.
 *
 * The step methods pass the run's `signal` (when it has one): a model that
 * scores a large batch in one go may read it to stop early (the shipped one
 * yields between its blocks and stops there). The run rejects on an abort
 * either way; the signal only lets the scoring stop spending the CPU.
 */
export interface StepRewardModel {
  /** A name used in error messages. */
  readonly name?: string;
  score(texts: readonly string[], options?: { complete?: boolean; signal?: AbortSignal }): Promise<Float64Array | readonly number[]>;
}

/**
 * How a reward probability r becomes a log weight: `'log'` (log r, so the
 * final target is p_LM(x) · r(x)) or `'logit'` (log r/(1 - r), its_hub's
 * choice), or a function of r.
 */
export type RewardLink = 'log' | 'logit' | ((r: number) => number);

/** The link applied to one probability; r is clipped to [eps, 1 - eps] first (eps = 0 keeps log 0 = -Infinity). */
export function linkReward(link: RewardLink, r: number, eps: number): number {
  const c = Math.min(1 - eps, Math.max(eps, r));
  if (typeof link === 'function') return link(c);
  return link === 'log' ? Math.log(c) : Math.log(c) - Math.log1p(-c);
}

/** Options shared by every step-level method. */
export interface StepSearchOptions {
  /** The text that ends a step (default `';'`): a step ends with the first token whose text contains it. */
  readonly delimiter?: string;
  /** Most steps per solution (default 8); also the horizon of ePF's progress t / maxSteps. */
  readonly maxSteps?: number;
  /** Most generated tokens per solution (default: what the model's context leaves after the prompt). */
  readonly maxTokens?: number;
  /** Token sampling options (temperature, top-k, top-p) of the LM proposal (default: plain sampling). */
  readonly sampling?: SampleOptions;
  /** Reads the answer off a solution text (null when there is none); used by votes. */
  readonly answerOf?: (solution: string) => string | number | null;
  /** The text the reward model scores for a prompt and a solution so far (default: prompt + solution). */
  readonly rewardText?: (prompt: string, solution: string) => string;
  /** Seed of the run's random stream. */
  readonly seed?: number | string;
  /** Stops the run within one token. */
  readonly signal?: AbortSignal;
}

/** Compute a method spent. */
export interface ScalingCost {
  /** Tokens sampled from the LM. */
  readonly tokens: number;
  /** Texts scored by the reward model. */
  readonly rewardCalls: number;
}

/** One finished (or truncated) candidate solution. */
export interface Candidate {
  /** The generated text after the prompt. */
  readonly text: string;
  /** The answer read from it (null when none). */
  readonly answer: string | number | null;
  /** Normalised weight among the candidates of the result. */
  readonly weight: number;
  /** The last reward probability it got (complete score when it finished). */
  readonly reward: number;
  /** True when it ended with EOS (false: cut by maxSteps/maxTokens). */
  readonly finished: boolean;
  /** The limit that cut it before EOS (absent when it finished). */
  readonly cutBy?: 'maxSteps' | 'maxTokens';
}

/** What every step-level method returns. */
export interface ScalingResult {
  /** The chosen answer (null when no candidate states one). */
  readonly answer: string | number | null;
  /** The chosen candidate's text. */
  readonly text: string;
  /** The final candidates with their weights. */
  readonly candidates: readonly Candidate[];
  readonly cost: ScalingCost;
  /** log Ẑ of the Feynman–Kac target where the method has one (null otherwise). */
  readonly logZ: number | null;
  /**
   * What the caller should know about the answer (empty when nothing): when
   * no candidate finished before `maxSteps` or `maxTokens` cut it (so `answer`
   * is null, or read from an unfinished solution), or when the chosen
   * candidate was cut while others finished. Each names the limit and its value.
   */
  readonly warnings: readonly string[];
}
