/**
 * Rewards as potentials: a reward on complete sequences (an outcome reward)
 * and a step-level process reward model (PRM) whose steps are split by a
 * delimiter, on a chosen link (log or logit of the PRM's probability).
 *
 * @module
 */
import { TickBatcher } from '../batcher.js';
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

  /** Zeros (an outcome reward has no prefix weight). */
  async batchPrefix(xs: readonly (readonly number[])[]): Promise<number[]> {
    return xs.map(() => 0);
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
  /** Most texts in one scorer call (default 256). */
  readonly maxBatch?: number;
}

/**
 * A step-level process reward model as a potential: `prefix(x)` is the link
 * of the PRM's score of the context plus the complete steps of `x` (text up
 * to and including the last delimiter; 0 before the first step ends), and
 * `complete(x)` the link of the score of the whole text judged complete. So
 * `logwNext` is 0 inside a step and the twist ratio `link(r_t) − link(r_{t−1})`
 * when a step ends: proper Feynman–Kac form, telescoping to `link(r_final)`.
 * Scores are memoised by text, and texts asked for in the same tick (by many
 * particles, or one `batchPrefix`) go to the scorer in one call.
 */
export class ProcessRewardPotential implements Potential {
  private readonly delimiter: string;
  private readonly link: PrmLink;
  private readonly context: string;
  private readonly memo = new Map<string, Promise<number>>();
  private readonly batcher: TickBatcher<ScoreJob>;
  /** PRM texts scored (memo misses). */
  scored = 0;
  /** Calls into the scorer (each scores a batch of texts). */
  scorerCalls = 0;

  constructor(
    readonly vocab: Vocabulary,
    private readonly options: ProcessRewardOptions,
    readonly name = 'prm',
  ) {
    this.delimiter = options.delimiter ?? ';';
    if (this.delimiter.length === 0) throw new Error(`ProcessRewardPotential "${name}": the delimiter must be a non-empty string`);
    this.link = options.link ?? 'log';
    this.context = options.context ?? '';
    this.batcher = new TickBatcher((jobs) => this.run(jobs), options.maxBatch ?? 256, 'macrotask');
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

  /** Every prefix's weight, the texts not yet scored going to the scorer in one call. */
  async batchPrefix(xs: readonly (readonly number[])[]): Promise<number[]> {
    return Promise.all(xs.map((x) => this.prefix(x)));
  }

  complete(x: readonly number[]): Promise<number> {
    return this.scoreText(this.vocab.decode(x), true);
  }

  /**
   * The link of one text's score, memoised. Misses are queued: texts asked
   * for in the same tick (many particles, or one `batchPrefix`) are scored in
   * one scorer call per kind (prefix / complete).
   */
  private scoreText(text: string, complete: boolean): Promise<number> {
    const key = `${complete ? 1 : 0}${text}`;
    let hit = this.memo.get(key);
    if (!hit) {
      this.scored++;
      hit = new Promise<number>((resolve, reject) => this.batcher.push({ text: this.context + text, complete, resolve, reject }));
      this.memo.set(key, hit);
      if (this.memo.size > 100_000) this.memo.delete(this.memo.keys().next().value!);
    }
    return hit;
  }

  private async run(jobs: ScoreJob[]): Promise<void> {
    for (const complete of [false, true]) {
      const group = jobs.filter((j) => j.complete === complete);
      if (group.length === 0) continue;
      try {
        this.scorerCalls++;
        const r = await this.options.score(
          group.map((j) => j.text),
          { complete },
        );
        if (!r || r.length !== group.length) throw new Error(`the scorer returned ${r?.length} scores for ${group.length} texts`);
        group.forEach((j, i) => j.resolve(applyLink(r[i]!, this.link)));
      } catch (err) {
        for (const j of group) j.reject(err);
      }
    }
  }
}

interface ScoreJob {
  readonly text: string;
  readonly complete: boolean;
  resolve(v: number): void;
  reject(e: unknown): void;
}
