/**
 * A terminal progress bar with rate and ETA, and adapters that turn it into
 * the progress callbacks the engines take (`onProgress`, `onStep`).
 *
 * ```ts
 * const bar = progressBar('nuts');
 * const post = await infer(m, { method: 'nuts', onProgress: bar.onProgress }, data);
 * bar.done();
 * ```
 *
 * @module
 */
import { formatDuration, formatRate, renderBar } from './format.js';

/** Where a progress bar writes: a stream with `write`, a TTY flag and optionally a width. */
export interface ProgressStream {
  /** Write text. */
  write(chunk: string): unknown;
  /** True for a terminal. */
  readonly isTTY?: boolean;
  /** Terminal width in characters. */
  readonly columns?: number;
}

/** Options of {@link ProgressBar} and {@link progressBar}. */
export interface ProgressBarOptions {
  /** Output stream (default `process.stderr`). */
  readonly stream?: ProgressStream;
  /**
   * Draw at all: default true when the stream is a TTY, so that logs and CI
   * output stay clean. `false` silences the bar whatever the stream.
   */
  readonly enabled?: boolean;
  /** Cells in the bar (default 24). */
  readonly width?: number;
  /** Minimum milliseconds between redraws (default 100). */
  readonly minIntervalMs?: number;
  /** Unit of the rate, e.g. `it`, `draws`, `steps` (default `it`). */
  readonly unit?: string;
  /** Total steps of an SMC run when known in advance (e.g. the number of observations), for its ETA. */
  readonly total?: number;
  /** Clock in milliseconds (default `performance.now`); for tests. */
  readonly now?: () => number;
}

/** Extra details of one {@link ProgressBar.update}. */
export interface UpdateInfo {
  /** Phase shown after the label, e.g. `warmup`. */
  readonly phase?: string;
  /** Text shown after the rate, e.g. `ESS 512`. */
  readonly extra?: string;
  /** Elapsed time as the engine measured it (default: since the first update). */
  readonly elapsedMs?: number;
  /** Show the rate (default true). */
  readonly showRate?: boolean;
  /** Show `done/total` (default true). */
  readonly showCount?: boolean;
}

/** A progress line redrawn in place with `\r`. */
export class ProgressBar {
  /** Whether anything is drawn. */
  readonly enabled: boolean;
  private readonly stream: ProgressStream;
  private readonly width: number;
  private readonly minInterval: number;
  private readonly unit: string;
  private readonly now: () => number;
  private start: number | undefined;
  private lastDraw = -Infinity;
  private lastLength = 0;
  private finished = false;

  /**
   * @param label - shown at the start of the line, e.g. the engine's name
   * @param options - stream, enabling and formatting
   */
  constructor(readonly label: string, options: ProgressBarOptions = {}) {
    this.stream = options.stream ?? process.stderr;
    this.enabled = options.enabled ?? this.stream.isTTY === true;
    this.width = options.width ?? 24;
    if (!(Number.isInteger(this.width) && this.width > 0)) throw new RangeError(`progressBar: width must be a positive integer, got ${options.width}`);
    this.minInterval = options.minIntervalMs ?? 100;
    this.unit = options.unit ?? 'it';
    this.now = options.now ?? (() => performance.now());
  }

  /**
   * Report `done` of `total` units (total NaN or 0 when unknown).
   * Redraws at most every `minIntervalMs`, and always at completion.
   */
  update(done: number, total: number, info: UpdateInfo = {}): void {
    const { phase, extra, elapsedMs } = info;
    if (!this.enabled || this.finished) return;
    const t = this.now();
    this.start ??= elapsedMs !== undefined ? t - elapsedMs : t;
    const complete = total > 0 && done >= total;
    if (!complete && t - this.lastDraw < this.minInterval) return;
    this.lastDraw = t;
    const elapsed = elapsedMs ?? t - this.start;
    const rate = elapsed > 0 ? (done * 1000) / elapsed : NaN;
    const parts = [phase ? `${this.label} [${phase}]` : this.label];
    if (total > 0) {
      const f = done / total;
      parts.push(renderBar(f, this.width), `${(f * 100).toFixed(0).padStart(3)}%`);
      if (info.showCount !== false) parts.push(`${done}/${total}`);
    } else parts.push(`${done}`);
    if (info.showRate !== false) parts.push(formatRate(rate, this.unit));
    if (extra) parts.push(extra);
    parts.push(total > 0 && !complete ? `ETA ${formatDuration(rate > 0 ? ((total - done) * 1000) / rate : NaN)}` : `${formatDuration(elapsed)}`);
    this.draw(parts.join('  '));
    if (complete) this.done();
  }

  /** End the line (idempotent); later updates are ignored. */
  done(): void {
    if (!this.enabled || this.finished) return;
    this.finished = true;
    if (this.lastLength > 0) this.stream.write('\n');
  }

  private draw(line: string): void {
    const max = this.stream.columns ? this.stream.columns - 1 : Infinity;
    const text = line.length > max ? line.slice(0, max) : line;
    const pad = this.lastLength > text.length ? ' '.repeat(this.lastLength - text.length) : '';
    this.stream.write(`\r${text}${pad}`);
    this.lastLength = text.length;
  }
}

/** What MCMC engines pass to `onProgress` (NUTS/HMC). */
export interface McmcProgressLike {
  /** Iterations done over all chains, warmup included. */
  readonly completed: number;
  /** Iterations in all. */
  readonly total: number;
  /** Milliseconds since the run started. */
  readonly elapsedMs?: number;
  /** Each chain's phase (`warmup`, `sampling`, ...). */
  readonly chains?: readonly { readonly phase?: string }[];
}

/** What SMC engines (and `vi`) pass to `onStep`. */
export interface SMCStepLike {
  /** Step index: from 0 for SMC; the number of optimisation steps done for `vi`. */
  readonly step: number;
  /** `vi`: the total number of optimisation steps. */
  readonly steps?: number;
  /** `vi`: the current loss (negative objective). */
  readonly loss?: number;
  /** Effective sample size after the step. */
  readonly ess?: number;
  /** Running log marginal likelihood estimate. */
  readonly logZ?: number;
  /** Temperature of a tempered run, in [0, 1]: its progress. */
  readonly beta?: number;
}

/** Callbacks for the engines, all drawing one {@link ProgressBar}. */
export interface ProgressCallbacks {
  /**
   * For `onProgress` of `nuts`/`hmc` (`{ completed, total, elapsedMs }`)
   * and of `mh`/`importance` (`(done, total)`).
   */
  readonly onProgress: (progress: number | McmcProgressLike, total?: number) => void;
  /** For `onStep` of `smc`, `tempered` and `vi`. */
  readonly onStep: (info: SMCStepLike) => void;
  /** End the line; call it when the engine returns. */
  done(): void;
  /** The bar itself. */
  readonly bar: ProgressBar;
}

function mcmcPhase(p: McmcProgressLike): string | undefined {
  const phases = new Set((p.chains ?? []).map((c) => c.phase).filter((x) => x === 'warmup' || x === 'sampling'));
  if (phases.size === 0) return undefined;
  return phases.has('warmup') ? 'warmup' : 'sampling';
}

/**
 * A progress bar with callbacks that fit every engine: pass `onProgress` to
 * MCMC engines and importance sampling, `onStep` to SMC and VI, then call `done()`.
 * Draws to stderr only when it is a terminal, unless `enabled` says
 * otherwise.
 *
 * ```ts
 * const p = progressBar('smc', { total: data.length, unit: 'steps' });
 * const post = await infer(m, { method: 'smc', particles: 1000, onStep: p.onStep }, data);
 * p.done();
 * ```
 */
export function progressBar(label: string, options: ProgressBarOptions = {}): ProgressCallbacks {
  const bar = new ProgressBar(label, options);
  const smcTotal = options.total ?? NaN;
  if (options.total !== undefined && !(Number.isInteger(options.total) && options.total > 0)) {
    throw new RangeError(`progressBar: total must be a positive integer, got ${options.total}`);
  }
  return {
    bar,
    onProgress(progress, total) {
      if (typeof progress === 'number') bar.update(progress, total ?? NaN);
      else bar.update(progress.completed, progress.total, { phase: mcmcPhase(progress), elapsedMs: progress.elapsedMs });
    },
    onStep(info) {
      if (info.steps !== undefined) {
        // vi: steps done out of steps, with the loss
        bar.update(info.step, info.steps, { extra: info.loss !== undefined && Number.isFinite(info.loss) ? `loss ${info.loss.toFixed(3)}` : '' });
        return;
      }
      const extra = [info.ess !== undefined ? `ESS ${info.ess.toFixed(1)}` : '', info.logZ !== undefined && Number.isFinite(info.logZ) ? `log Z ${info.logZ.toFixed(3)}` : '']
        .filter((s) => s !== '')
        .join('  ');
      if (info.beta !== undefined) {
        // tempered: the temperature is the progress, in permille
        bar.update(Math.round(info.beta * 1000), 1000, { phase: `step ${info.step + 1}`, extra: `beta ${info.beta.toFixed(3)}  ${extra}`, showRate: false, showCount: false });
      } else bar.update(info.step + 1, smcTotal, { extra });
    },
    done: () => bar.done(),
  };
}
