/**
 * Rewards as potentials: a reward on complete sequences (an outcome reward)
 * and a step-level process reward model (PRM) whose steps are split by a
 * delimiter, on a chosen link (log or logit of the PRM's probability).
 *
 * @module
 */
import { TickBatcher } from '../batcher.js';
import type { Vocabulary } from '../types.js';
import { abortReason } from '../../../infer/pace.js';
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
   * one scorer call per kind (prefix / complete). A requester whose own run
   * is not aborted asks again when the score it shared was cut off by other
   * runs' aborts (it joined after the batch started).
   */
  private scoreText(text: string, complete: boolean, signal: AbortSignal | undefined): Promise<number> {
    const job = this.jobFor(text, complete, signal);
    if (!signal) return job.result; // a run without a signal is never cut off (see `batchSignal`)
    return job.result.catch((err: unknown) => {
      if (job.cut && !signal.aborted) return this.scoreText(text, complete, signal);
      throw err;
    });
  }

  private jobFor(text: string, complete: boolean, signal: AbortSignal | undefined): ScoreJob {
    const key = `${complete ? 1 : 0}${text}`;
    const hit = this.memo.get(key);
    if (hit) {
      if (!hit.started) hit.signals.push(signal);
      return hit;
    }
    this.scored++;
    let resolve!: (v: number) => void;
    let reject!: (e: unknown) => void;
    const result = new Promise<number>((res, rej) => ((resolve = res), (reject = rej)));
    const job: ScoreJob = { text: this.context + text, complete, signals: [signal], started: false, cut: false, result, resolve, reject };
    // a failed or cut-off score is not kept: a later run asks the scorer again
    result.catch(() => {
      if (this.memo.get(key) === job) this.memo.delete(key);
    });
    this.memo.set(key, job);
    if (this.memo.size > 100_000) this.memo.delete(this.memo.keys().next().value!);
    this.batcher.push(job);
    return job;
  }

  private async run(jobs: ScoreJob[]): Promise<void> {
    for (const complete of [false, true]) {
      const asked = jobs.filter((j) => j.complete === complete);
      // texts every requester of which has been aborted are not scored
      const group: ScoreJob[] = [];
      for (const j of asked) {
        const gone = allAborted(j.signals);
        if (gone) {
          j.cut = true;
          j.reject(abortReason(gone, `${this.name} scoring`));
        } else group.push(j);
      }
      if (group.length === 0) continue;
      for (const j of group) j.started = true;
      const batch = batchSignal(group);
      try {
        this.scorerCalls++;
        const r = await this.options.score(
          group.map((j) => j.text),
          batch.signal ? { complete, signal: batch.signal } : { complete },
        );
        if (!r || r.length !== group.length) throw new Error(`the scorer returned ${r?.length} scores for ${group.length} texts`);
        group.forEach((j, i) => j.resolve(applyLink(r[i]!, this.link)));
      } catch (err) {
        const cut = batch.signal?.aborted === true;
        for (const j of group) {
          j.cut = cut;
          j.reject(err);
        }
      } finally {
        batch.release();
      }
    }
  }
}

interface ScoreJob {
  readonly text: string;
  readonly complete: boolean;
  /** The signals of the runs that asked for it (undefined: a run without one). */
  readonly signals: (AbortSignal | undefined)[];
  /** Handed to the scorer (later requesters no longer change its signal). */
  started: boolean;
  /** Rejected because the runs that asked for it were aborted. */
  cut: boolean;
  readonly result: Promise<number>;
  resolve(v: number): void;
  reject(e: unknown): void;
}

/** One of `signals` when every one is present and aborted (the texts' runs are all gone), else null. */
function allAborted(signals: readonly (AbortSignal | undefined)[]): AbortSignal | null {
  for (const s of signals) if (!s?.aborted) return null;
  return signals[0] ?? null;
}

/**
 * The signal a batch is scored under: none when some requester has none; the
 * requesters' signal when they share one; else a signal that aborts once all
 * of theirs are aborted. `release` removes the listeners this added.
 */
function batchSignal(group: readonly ScoreJob[]): { signal?: AbortSignal; release(): void } {
  const distinct = new Set<AbortSignal>();
  for (const j of group) {
    for (const s of j.signals) {
      if (!s) return { release: () => undefined };
      distinct.add(s);
    }
  }
  const all = [...distinct];
  if (all.length === 1) return { signal: all[0], release: () => undefined };
  const ac = new AbortController();
  const check = (): void => {
    const gone = allAborted(all);
    if (gone) ac.abort(gone.reason);
  };
  for (const s of all) s.addEventListener('abort', check);
  check();
  return { signal: ac.signal, release: () => all.forEach((s) => s.removeEventListener('abort', check)) };
}
