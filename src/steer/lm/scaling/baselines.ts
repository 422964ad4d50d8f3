/**
 * The baselines of inference-time scaling, at equal compute (budget N =
 * number of solutions the LM generates):
 * - best-of-N: N independent solutions, the one the outcome reward (the
 *   reward model on the complete solution) scores highest;
 * - self-consistency: N independent solutions, majority vote of their answers;
 * - beam search with the PRM: `beamWidth` beams, each expanded into
 *   N / beamWidth candidate next steps; the `beamWidth` best-scored
 *   candidates survive; finished beams wait; the best finished beam wins.
 *
 * @module
 */
import { checkSteerOptions } from '../../run-rules.js';
import { checkIntegerOptions, optionNames } from '../../../core/options.js';
import { rngFrom } from '../../../core/rng.js';
import type { LanguageModel } from '../types.js';
import { type AnswerSelection, normalise } from './aggregate.js';
import { candidatesOf, resultOf } from './pf.js';
import { type PartialSolution, StepSampler, cloneSolution, completeAll, emptySolution, extendAll } from './steps.js';
import type { ScalingResult, StepRewardModel, StepSearchOptions } from './types.js';

function checkBudget(who: string, n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new Error(`${who}: the budget must be a positive integer, got ${n}`);
}

/** N independent solutions from the LM. */
async function independent(sampler: StepSampler, n: number, seed: StepSearchOptions['seed']): Promise<PartialSolution[]> {
  const sols = Array.from({ length: n }, emptySolution);
  await completeAll(sampler, sols, rngFrom(seed));
  return sols;
}

/** The option names bestOfNSteps accepts (checked against its options type by the compiler). */
const BEST_OF_N_STEPS_OPTIONS = optionNames<StepSearchOptions & { readonly budget: number }>({ delimiter: true, maxSteps: true, maxTokens: true, sampling: true, answerOf: true, rewardText: true, seed: true, signal: true, budget: true });

/** Best-of-N with an outcome reward: the complete solution the reward model scores highest. */
export async function bestOfNSteps(lm: LanguageModel, orm: StepRewardModel, prompt: string, options: StepSearchOptions & { readonly budget: number }): Promise<ScalingResult> {
  checkSteerOptions('bestOfNSteps', options, BEST_OF_N_STEPS_OPTIONS);
  checkIntegerOptions('bestOfNSteps', options, { budget: 1, maxSteps: 1, maxTokens: 1 });
  checkBudget('best-of-N', options.budget);
  const sampler = new StepSampler(lm, prompt, orm, options);
  const sols = await independent(sampler, options.budget, options.seed);
  const r = await sampler.score(sols);
  sols.forEach((s, i) => (s.reward = r[i]!));
  // weights: the share of reward (for display); the choice is the best reward
  const w = normalise(Float64Array.from(r, (x) => Math.log(x)));
  return resultOf(sampler, candidatesOf(sampler, sols, w), 'best', null, 'best-of-N');
}

/** The option names selfConsistencySteps accepts (checked against its options type by the compiler). */
const SELF_CONSISTENCY_STEPS_OPTIONS = optionNames<StepSearchOptions & { readonly budget: number }>({ delimiter: true, maxSteps: true, maxTokens: true, sampling: true, answerOf: true, rewardText: true, seed: true, signal: true, budget: true });

/** Self-consistency: N independent solutions, majority vote of their answers (needs `answerOf`). */
export async function selfConsistencySteps(lm: LanguageModel, prompt: string, options: StepSearchOptions & { readonly budget: number }): Promise<ScalingResult> {
  checkSteerOptions('selfConsistencySteps', options, SELF_CONSISTENCY_STEPS_OPTIONS);
  checkIntegerOptions('selfConsistencySteps', options, { budget: 1, maxSteps: 1, maxTokens: 1 });
  checkBudget('self-consistency', options.budget);
  if (!options.answerOf) throw new Error('self-consistency: answerOf is needed to read the answers to vote on');
  const sampler = new StepSampler(lm, prompt, null, options);
  const sols = await independent(sampler, options.budget, options.seed);
  const w = new Float64Array(sols.length).fill(1 / sols.length);
  return resultOf(sampler, candidatesOf(sampler, sols, w), 'vote', null, 'self-consistency');
}

/** Options of {@link beamSearchSteps}. */
export interface BeamSearchStepsOptions extends StepSearchOptions {
  /** Total candidates per step (the budget N). */
  readonly budget: number;
  /** Beams kept (default: the largest of 4, 2, 1 that divides the budget and is at most it). */
  readonly beamWidth?: number;
  /** Final choice among finished beams (default best reward). */
  readonly select?: AnswerSelection;
}

/** The option names beamSearchSteps accepts (checked against its options type by the compiler). */
const BEAM_SEARCH_STEPS_OPTIONS = optionNames<BeamSearchStepsOptions>({ budget: true, beamWidth: true, select: true, delimiter: true, maxSteps: true, maxTokens: true, sampling: true, answerOf: true, rewardText: true, seed: true, signal: true });

/** Beam search over steps guided by the process reward model. */
export async function beamSearchSteps(lm: LanguageModel, prm: StepRewardModel, prompt: string, options: BeamSearchStepsOptions): Promise<ScalingResult> {
  checkSteerOptions('beamSearchSteps', options, BEAM_SEARCH_STEPS_OPTIONS);
  checkIntegerOptions('beamSearchSteps', options, { budget: 1, beamWidth: 1, maxSteps: 1, maxTokens: 1 });
  const N = options.budget;
  checkBudget('beam search', N);
  const width = options.beamWidth ?? ([4, 2, 1].find((k) => k <= N && N % k === 0) ?? 1);
  if (!Number.isInteger(width) || width < 1 || N % width !== 0) throw new Error(`beam search: beamWidth (${width}) must be a positive divisor of the budget (${N})`);
  const sampler = new StepSampler(lm, prompt, prm, options);
  const rng = rngFrom(options.seed);
  const expand = N / width;
  let beams: PartialSolution[] = Array.from({ length: width }, emptySolution);
  for (let t = 0; t < sampler.maxSteps && beams.some((b) => !b.ended); t++) {
    const cands: PartialSolution[] = [];
    const fresh: PartialSolution[] = [];
    for (const b of beams) {
      if (b.ended) cands.push(b);
      else
        for (let k = 0; k < expand; k++) {
          const c = cloneSolution(b);
          cands.push(c);
          fresh.push(c);
        }
    }
    await extendAll(sampler, fresh, rng.splitN(fresh.length));
    const r = await sampler.score(fresh);
    fresh.forEach((c, i) => (c.reward = r[i]!));
    beams = cands
      .map((c, i) => ({ c, i }))
      .sort((a, b) => b.c.reward - a.c.reward || a.i - b.i)
      .slice(0, width)
      .map((x) => x.c);
  }
  const w = normalise(beams.map((b) => Math.log(b.reward)));
  return resultOf(sampler, candidatesOf(sampler, beams, w), options.select ?? 'best', null, 'beam search');
}
