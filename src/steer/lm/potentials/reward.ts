/**
 * Rewards as potentials: a reward on complete sequences (an outcome reward)
 * and a step-level process reward model (PRM) whose steps are split by a
 * delimiter, on a chosen link (log or logit of the PRM's probability).
 *
 * @module
 */
import type { Vocabulary } from '../types.js';
import type { Potential } from './potential.js';

/** A log-reward of a complete text. */
export type RewardFunction = (text: string, tokens: readonly number[]) => number | Promise<number>;

/**
 * An outcome reward: `complete(x) = reward(text)` (a log-weight), `prefix(x) = 0`.
 * With an upper bound `prefixBound` the prefix weight is that constant instead.
 */
export class RewardPotential implements Potential {
  constructor(
    readonly vocab: Vocabulary,
    private readonly reward: RewardFunction,
    readonly name = 'reward',
  ) {}

  prefix(): number {
    return 0;
  }

  complete(x: readonly number[]): number | Promise<number> {
    return this.reward(this.vocab.decode(x), x);
  }
}

/** How a PRM probability becomes a log-weight: `log p` or `logit p = log p − log(1 − p)`. */
export type PrmLink = 'log' | 'logit';

/** Apply a {@link PrmLink} to a probability. */
export function applyLink(p: number, link: PrmLink): number {
  if (!(p >= 0 && p <= 1)) return NaN;
  return link === 'log' ? Math.log(p) : Math.log(p) - Math.log1p(-p);
}

/** Scores partial solutions: for each text (context + steps so far) the probability that every step is correct. */
export type StepScorer = (texts: readonly string[], options: { complete: boolean }) => Promise<ArrayLike<number>>;

/** Options of {@link ProcessRewardPotential}. */
export interface ProcessRewardOptions {
  /** The scorer (e.g. `(t, o) => prm.score(t, o)` of the shipped arithmetic PRM). */
  readonly score: StepScorer;
  /** The step delimiter (default `';'`): a step is complete when its delimiter has been generated. */
  readonly delimiter?: string;
  /** The link (default `'log'`). */
  readonly link?: PrmLink;
  /** Text the generation continues (the prompt), prepended before scoring. */
  readonly context?: string;
}

/**
 * A step-level process reward model as a potential: `prefix(x)` is the link
 * of the PRM's score of the context plus the complete steps of `x` (text up
 * to and including the last delimiter; 0 before the first step ends), and
 * `complete(x)` the link of the score of the whole text judged complete. So
 * `logwNext` is 0 inside a step and the twist ratio `link(r_t) − link(r_{t−1})`
 * when a step ends: proper Feynman–Kac form, telescoping to `link(r_final)`.
 * Scores are memoised by text.
 */
export class ProcessRewardPotential implements Potential {
  private readonly delimiter: string;
  private readonly link: PrmLink;
  private readonly context: string;
  private readonly memo = new Map<string, Promise<number>>();
  /** PRM texts scored (memo misses). */
  scored = 0;

  constructor(
    readonly vocab: Vocabulary,
    private readonly options: ProcessRewardOptions,
    readonly name = 'prm',
  ) {
    this.delimiter = options.delimiter ?? ';';
    if (this.delimiter.length === 0) throw new Error(`ProcessRewardPotential "${name}": the delimiter must be a non-empty string`);
    this.link = options.link ?? 'log';
    this.context = options.context ?? '';
  }

  /** The text of the complete steps of `x` (up to and including the last delimiter), or null before the first ends. */
  completedSteps(x: readonly number[]): string | null {
    const text = this.vocab.decode(x);
    const k = text.lastIndexOf(this.delimiter);
    return k < 0 ? null : text.slice(0, k + this.delimiter.length);
  }

  prefix(x: readonly number[]): number | Promise<number> {
    const steps = this.completedSteps(x);
    return steps === null ? 0 : this.scoreText(steps, false);
  }

  complete(x: readonly number[]): Promise<number> {
    return this.scoreText(this.vocab.decode(x), true);
  }

  private scoreText(text: string, complete: boolean): Promise<number> {
    const key = `${complete ? 1 : 0}${text}`;
    let hit = this.memo.get(key);
    if (!hit) {
      this.scored++;
      hit = this.options.score([this.context + text], { complete }).then((r) => applyLink(r[0], this.link));
      this.memo.set(key, hit);
      if (this.memo.size > 100_000) this.memo.delete(this.memo.keys().next().value!);
    }
    return hit;
  }
}
