/**
 * Rewards as potentials: a reward on complete sequences (an outcome reward)
 * and a step-level process reward model (PRM) whose steps are split by a
 * delimiter, on a chosen link (log or logit of the PRM's probability).
 *
 * @module
 */
import { TickBatcher } from '../batcher.js';
import { abortReason } from '../../../infer/pace.js';
import { AbortWatch, SharedBatch, SharedJob } from '../shared-abort.js';
import type { Vocabulary } from '../types.js';
import type { Potential, PotentialCallOptions } from './potential.js';

/**
 * A log-reward of a complete text. The third argument carries the steering
 * run's abort signal (when the run has one), for a reward that does long work.
 */
export type RewardFunction = (text: string, tokens: readonly number[], options: PotentialCallOptions) => number | Promise<number>;

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

  /** The reward of the decoded text; the run's signal is passed on (an empty options object without one). */
  complete(x: readonly number[], options: PotentialCallOptions = {}): number | Promise<number> {
    return this.reward(this.vocab.decode(x), x, options);
  }
}

/** How a PRM probability becomes a log-weight: `log p` or `logit p = log p − log(1 − p)`. */
export type PrmLink = 'log' | 'logit';

/** Apply a {@link PrmLink} to a probability. */
export function applyLink(p: number, link: PrmLink): number {
  if (!(p >= 0 && p <= 1)) return NaN;
  return link === 'log' ? Math.log(p) : Math.log(p) - Math.log1p(-p);
}

/**
 * Scores partial solutions: for each text (context + steps so far) the
 * probability that every step is correct. `signal` is present when every run
 * waiting on the batch has one; it aborts once all of them are aborted (the
 * shipped PRM's `score` then runs its pass in pieces and stops at the next one).
 */
export type StepScorer = (texts: readonly string[], options: { complete: boolean; signal?: AbortSignal }) => Promise<ArrayLike<number>>;

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
 *
 * A steering run's signal reaches the scorer: a batch whose every text was
 * asked for under a signal is scored with a signal that aborts once all of
 * those are aborted (the shipped PRM then stops at its next piece, and yields
 * to the event loop between pieces meanwhile), and texts whose runs are all
 * aborted before their batch starts are not scored. A score cut off by an
 * abort is not memoised.
 */
export class ProcessRewardPotential implements Potential {
  private readonly delimiter: string;
  private readonly link: PrmLink;
  private readonly context: string;
  private readonly memo = new Map<string, ScoreJob>();
  /** One abort listener per signal for all the texts waiting with it. */
  private readonly watch = new AbortWatch();
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

  prefix(x: readonly number[], options?: PotentialCallOptions): number | Promise<number> {
    const steps = this.completedSteps(x);
    return steps === null ? 0 : this.scoreText(steps, false, options?.signal);
  }

  /** Every prefix's weight, the texts not yet scored going to the scorer in one call. */
  async batchPrefix(xs: readonly (readonly number[])[], options?: PotentialCallOptions): Promise<number[]> {
    return Promise.all(xs.map((x) => this.prefix(x, options)));
  }

  complete(x: readonly number[], options?: PotentialCallOptions): Promise<number> {
    return this.scoreText(this.vocab.decode(x), true, options?.signal);
  }

  /**
   * The link of one text's score, memoised. Misses are queued: texts asked
   * for in the same tick (many particles, or one `batchPrefix`) are scored in
   * one scorer call per kind (prefix / complete). A run that asks for a text
   * being scored joins its job, so it keeps that scorer call from being cut.
   */
  private scoreText(text: string, complete: boolean, signal: AbortSignal | undefined): Promise<number> {
    const key = `${complete ? 1 : 0}${text}`;
    let job = this.memo.get(key);
    if (!job) {
      this.scored++;
      job = new ScoreJob(this.memo, key, this.context + text, complete);
      this.memo.set(key, job);
      if (this.memo.size > 100_000) this.memo.delete(this.memo.keys().next().value!);
      this.batcher.push(job);
    }
    if (job.value !== undefined) return Promise.resolve(job.value);
    const j = job;
    // an aborted run still takes the score if the job finishes (others may keep it going); the job is cut only when all have left
    return new Promise<number>((resolve, reject) => j.join(this.watch, signal, resolve, reject, false));
  }

  private async run(jobs: ScoreJob[]): Promise<void> {
    for (const complete of [false, true]) {
      // texts every requester of which has been aborted are not scored
      const group: ScoreJob[] = [];
      for (const j of jobs) {
        if (j.complete !== complete) continue;
        if (j.isAbandoned) j.fail(abortReason(j.abandonedBy!, `${this.name} scoring`));
        else group.push(j);
      }
      if (group.length === 0) continue;
      const batch = new SharedBatch(group);
      try {
        this.scorerCalls++;
        const r = await this.options.score(
          group.map((j) => j.text),
          batch.signal ? { complete, signal: batch.signal } : { complete },
        );
        if (!r || r.length !== group.length) throw new Error(`the scorer returned ${r?.length} scores for ${group.length} texts`);
        for (let i = 0; i < group.length; i++) checkProbability(r[i], group[i]!.text);
        group.forEach((j, i) => j.settle(applyLink(r[i]!, this.link)));
      } catch (err) {
        for (const j of group) j.fail(err);
      } finally {
        batch.close();
      }
    }
  }
}

/**
 * A PRM score must be a probability: a logit or log-probability given by
 * mistake became NaN under the link, and the error then said the potential
 * "returned NaN" (session 19), naming neither the scorer nor the value.
 */
function checkProbability(p: unknown, text: string): void {
  if (typeof p === 'number' && p >= 0 && p <= 1) return;
  const shown = typeof p === 'number' ? String(p) : `${typeof p} ${JSON.stringify(p)}`;
  const tail = text.length > 60 ? `...${text.slice(-60)}` : text;
  throw new Error(
    `the scorer returned ${shown} for the text ${JSON.stringify(tail)}: a score is the probability (a number in [0, 1]) that every step so far is correct; map a logit through a sigmoid, or a log-probability through exp, first`,
  );
}

/**
 * One text to score and the runs waiting for it. A failed score, or one cut
 * off because every run that asked for it was aborted, is not kept in the memo:
 * a later run asks the scorer again.
 */
class ScoreJob extends SharedJob<number> {
  /** The score once known (a memo hit then answers without waiting). */
  value: number | undefined = undefined;
  constructor(
    private readonly memo: Map<string, ScoreJob>,
    private readonly key: string,
    readonly text: string,
    readonly complete: boolean,
  ) {
    super();
  }

  settle(v: number): void {
    this.value = v;
    this.resolve(v);
  }

  fail(err: unknown): void {
    this.forget();
    this.reject(err);
  }

  /**
   * Every run left before its score came. Queued, it stays in the memo (a run
   * asking in the same tick revives it; else it is rejected when its batch
   * starts); being scored, no later run may join it (its call may be cut).
   */
  protected override abandoned(): void {
    if (this.batch) this.forget();
  }

  private forget(): void {
    if (this.memo.get(this.key) === this) this.memo.delete(this.key);
  }
}
