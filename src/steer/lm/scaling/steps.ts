/**
 * Sampling one reasoning step (tokens up to and including the delimiter, or
 * up to EOS) for many partial solutions at once, and scoring partial
 * solutions with a step reward model. Every step-level method (particle
 * filtering, ePF, particle Gibbs, beam search, best-of-N, self-consistency)
 * moves its candidates with these two functions, so they spend compute the
 * same way and their counters compare.
 *
 * Candidates ask the wrapped LM concurrently, so one forward pass serves all
 * of them per token (the wrapper's auto-batching), and clones after
 * resampling are answered from its prefix trie.
 *
 * @module
 */
import { Rng } from '../../../core/rng.js';
import { withKernelInterrupt } from '../../../infer/kernel-interrupt.js';
import { abortReason, untilAborted } from '../../../infer/pace.js';
import { CachedLanguageModel, wrapLanguageModel } from '../cached.js';
import { describeValue } from '../potentials/potential.js';
import { sampleToken, shapeRow } from '../sampling.js';
import type { LanguageModel } from '../types.js';
import { type StepRewardModel, type StepSearchOptions, linkReward, type RewardLink } from './types.js';

/** A partial solution: its tokens after the prompt, its steps, and whether it ended. */
export interface PartialSolution {
  /** Generated tokens after the prompt (EOS not included). */
  readonly tokens: number[];
  /** The text of each step (the last one ends with the delimiter unless the solution ended). */
  readonly steps: string[];
  /** How it ended: EOS, cut by maxTokens/maxSteps, or still open (null). */
  ended: 'eos' | 'length' | null;
  /** The last reward probability (NaN before the first score). */
  reward: number;
  /** link(reward) of the last score (0 before the first: the initial twist). */
  twist: number;
  /** The look-ahead twist held in the weight (look-ahead modulation; 0 or absent otherwise). */
  lookahead?: number;
}

/** A new, empty partial solution. */
export function emptySolution(): PartialSolution {
  return { tokens: [], steps: [], ended: null, reward: Number.NaN, twist: 0 };
}

/** Copy of a partial solution (arrays copied). */
export function cloneSolution(s: PartialSolution): PartialSolution {
  return { tokens: s.tokens.slice(), steps: s.steps.slice(), ended: s.ended, reward: s.reward, twist: s.twist, lookahead: s.lookahead };
}

/** The generated text of a partial solution. */
export function solutionText(s: PartialSolution): string {
  return s.steps.join('');
}

/** The set-up every method shares: the wrapped LM, the encoded prompt, limits, counters. */
export class StepSampler {
  readonly lm: CachedLanguageModel;
  readonly promptTokens: readonly number[];
  readonly delimiter: string;
  readonly maxSteps: number;
  readonly maxTokens: number;
  tokens = 0;
  rewardCalls = 0;
  /** The run's signal, also aborted by a Jupyter kernel interrupt (tslab): read at every token and passed with each LM request. */
  readonly signal: AbortSignal | undefined;

  constructor(
    lm: LanguageModel,
    readonly prompt: string,
    readonly reward: StepRewardModel | null,
    readonly options: StepSearchOptions,
  ) {
    this.lm = lm instanceof CachedLanguageModel ? lm : wrapLanguageModel(lm);
    this.signal = withKernelInterrupt(options.signal);
    // a number or token ids ran as the text "3" (the reward read prompt + solution), with no error
    if (typeof prompt !== 'string') throw new TypeError(`step search: prompt must be a string (the text the solution follows), got ${describeValue(prompt)}`);
    const encode = lm.vocab.encode;
    if (!encode) throw new Error(`step search: the vocabulary of language model "${lm.name}" has no encode(), so the prompt cannot be tokenized`);
    try {
      this.promptTokens = encode.call(lm.vocab, prompt);
    } catch (err) {
      throw new Error(`step search: the prompt cannot be tokenized by language model "${lm.name}": ${(err as Error).message}`);
    }
    this.delimiter = options.delimiter ?? ';';
    if (typeof this.delimiter !== 'string' || this.delimiter.length === 0) throw new Error('step search: delimiter must be a non-empty string');
    this.maxSteps = options.maxSteps ?? 8;
    if (!Number.isInteger(this.maxSteps) || this.maxSteps < 1) throw new Error(`step search: maxSteps must be a positive integer, got ${options.maxSteps}`);
    const room = (Number.isFinite(lm.contextLength) ? lm.contextLength : Infinity) - this.promptTokens.length - (lm.vocab.bos === null ? 0 : 1);
    // an explicit maxTokens that cannot fit is refused, as token steering refuses it (session 14): clamping it
    // silently moved where solutions are cut, so the target changed
    const given = options.maxTokens;
    if (room < 1 || (given !== undefined && given > room)) {
      const bos = lm.vocab.bos === null ? '' : ', plus BOS';
      throw new RangeError(
        `step search: the prompt (${this.promptTokens.length} tokens${bos})${given === undefined ? '' : ` and maxTokens = ${given}`} do${given === undefined ? 'es' : ''} not fit the context of "${lm.name}" (${lm.contextLength} tokens): ${room < 1 ? 'the prompt leaves no room' : `at most maxTokens = ${room} fits`}`,
      );
    }
    this.maxTokens = given ?? room;
  }

  /**
   * Append one sampled step to `s` in place (no-op when it has ended). Returns
   * the step's importance correction Σ log p_LM(y) − log q(y) over the tokens
   * drawn, q the row reshaped by `options.sampling` (0 without sampling
   * options): what a weighted method adds so its target stays p_LM's.
   */
  async extend(s: PartialSolution, rng: Rng): Promise<number> {
    if (s.ended) return 0;
    let correction = 0;
    const vocab = this.lm.vocab;
    let step = '';
    for (;;) {
      if (this.signal?.aborted) throw abortReason(this.signal, 'step search');
      if (s.tokens.length >= this.maxTokens) {
        s.ended = 'length';
        break;
      }
      const row = await this.lm.logprobs([...this.promptTokens, ...s.tokens], { signal: this.signal });
      const { token, logprob } = sampleToken(row, rng, this.options.sampling);
      if (this.options.sampling) correction += row[token]! - logprob;
      this.tokens++;
      if (token === vocab.eos) {
        s.ended = 'eos';
        break;
      }
      s.tokens.push(token);
      const piece = vocab.tokenText(token);
      step += piece;
      if (piece.includes(this.delimiter)) break;
    }
    s.steps.push(step);
    if (!s.ended && s.steps.length >= this.maxSteps) s.ended = 'length';
    return correction;
  }

  /**
   * The importance correction `extend` would have returned
   * had it drawn `stepTokens` after `prefix` (then EOS when `eos`): the weight
   * of a forced reference step in conditional SMC.
   */
  async correctionOf(prefix: readonly number[], stepTokens: readonly number[], eos: boolean): Promise<number> {
    if (!this.options.sampling) return 0;
    const ctx = [...this.promptTokens, ...prefix];
    let correction = 0;
    for (const y of eos ? [...stepTokens, this.lm.vocab.eos] : stepTokens) {
      const row = await this.lm.logprobs(ctx, { signal: this.signal });
      correction += row[y]! - shapeRow(row, this.options.sampling)[y]!;
      ctx.push(y);
    }
    return correction;
  }

  /** Append a given step (its tokens) to `s` in place: the forced move of a reference path. */
  force(s: PartialSolution, stepTokens: readonly number[], ends: 'eos' | 'length' | null): void {
    const vocab = this.lm.vocab;
    s.tokens.push(...stepTokens);
    s.steps.push(stepTokens.map((t) => vocab.tokenText(t)).join(''));
    s.ended = ends;
  }

  /** The text the reward model reads for a solution. */
  rewardText(s: PartialSolution): string {
    const text = solutionText(s);
    return this.options.rewardText ? this.options.rewardText(this.prompt, text) : this.prompt + text;
  }

  /**
   * Score solutions with the reward model (finished ones as complete
   * solutions), one batched call per kind. Returns probabilities; checks
   * them and names the model in errors.
   */
  async score(sols: readonly PartialSolution[]): Promise<Float64Array> {
    const rm = this.reward;
    if (!rm) throw new Error('step search: this method needs a reward model');
    const out = new Float64Array(sols.length);
    for (const complete of [false, true]) {
      const idx: number[] = [];
      sols.forEach((s, i) => {
        if ((s.ended === 'eos') === complete) idx.push(i);
      });
      if (idx.length === 0) continue;
      const texts = idx.map((i) => this.rewardText(sols[i]!));
      // the step (steps generated so far) of the solutions scored, for the messages: the same words at every step
      const stepsOf = idx.map((i) => sols[i]!.steps.length);
      const lo = Math.min(...stepsOf);
      const hi = Math.max(...stepsOf);
      const at = `at step ${lo === hi ? lo : `${lo}–${hi}`}${complete ? ' (complete solutions)' : ''}`;
      let r: ArrayLike<number>;
      try {
        // raced against the signal: a reward model that never settles must not hold an aborted run
        r = await untilAborted(Promise.resolve(rm.score(texts, this.signal ? { complete, signal: this.signal } : { complete })), this.signal, 'step search');
      } catch (err) {
        if (this.signal?.aborted) throw err; // the abort's own reason, not a reward model failure
        throw new Error(`step search: reward model "${rm.name ?? 'reward'}" failed ${at}: ${(err as Error).message}`, { cause: err });
      }
      if (!r || r.length !== idx.length) throw new Error(`step search: reward model "${rm.name ?? 'reward'}" returned ${r?.length} scores for ${idx.length} texts ${at}`);
      this.rewardCalls += idx.length;
      idx.forEach((i, k) => {
        const v = r[k]!;
        if (typeof v !== 'number' || !(v >= 0 && v <= 1)) throw new Error(`step search: reward model "${rm.name ?? 'reward'}" returned ${typeof v === 'number' ? v : `${typeof v} ${JSON.stringify(v)}`} for ${JSON.stringify(texts[k])} at step ${stepsOf[k]}${complete ? ' (complete)' : ''}; scores must be probabilities in [0, 1]`);
        out[i] = v;
      });
    }
    return out;
  }

  /** Score and set `reward`/`twist`; returns the old twists (for ratio potentials). */
  async scoreAndTwist(sols: readonly PartialSolution[], link: RewardLink, eps: number): Promise<Float64Array> {
    const r = await this.score(sols);
    const old = new Float64Array(sols.length);
    sols.forEach((s, i) => {
      old[i] = s.twist;
      s.reward = r[i]!;
      s.twist = linkReward(link, r[i]!, eps);
      if (Number.isNaN(s.twist)) throw new Error(`step search: the reward link gave NaN for the score ${r[i]}`);
    });
    return old;
  }

  /** The answer of a solution (null without `answerOf`). */
  answerOf(s: PartialSolution): string | number | null {
    const f = this.options.answerOf;
    if (!f) return null;
    const text = solutionText(s);
    let a: unknown;
    try {
      a = f(text);
    } catch (err) {
      throw new Error(`step search: answerOf threw on the solution ${JSON.stringify(text)}: ${(err as Error).message}`, { cause: err });
    }
    // an answer is a string, a finite number or null (votes compare answers by value: NaN never equals itself, and an object is compared by identity)
    if (a !== null && typeof a !== 'string' && !(typeof a === 'number' && Number.isFinite(a))) throw new TypeError(`step search: answerOf returned ${describeValue(a)} for the solution ${JSON.stringify(text)}; an answer must be a string, a finite number or null`);
    return a;
  }

  /** Counters so far. */
  cost(): { tokens: number; rewardCalls: number } {
    return { tokens: this.tokens, rewardCalls: this.rewardCalls };
  }
}

/** Extend many solutions by one step concurrently (one forward pass per token for all of them). */
export async function extendAll(sampler: StepSampler, sols: readonly PartialSolution[], rngs: readonly Rng[]): Promise<void> {
  await Promise.all(sols.map((s, i) => sampler.extend(s, rngs[i]!)));
}

/** Run solutions to the end (EOS or a limit), all concurrently. */
export async function completeAll(sampler: StepSampler, sols: readonly PartialSolution[], rng: Rng): Promise<void> {
  const rngs = rng.splitN(sols.length);
  await Promise.all(
    sols.map(async (s, i) => {
      while (!s.ended) await sampler.extend(s, rngs[i]!);
    }),
  );
}
