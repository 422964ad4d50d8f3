/**
 * One mechanism for every long-running loop: yield to the event loop every
 * few milliseconds of wall time (so timers, abort signals and progress
 * output get through), and stop with the signal's reason once aborted.
 *
 * ```ts
 * const pace = new Pacer(options.signal);
 * for (let i = 0; i < n; i++) {
 *   if (pace.due()) await pace.pause();
 *   ...one unit of work...
 * }
 * ```
 *
 * `due()` costs one clock read and one flag read, so it can be called on
 * every iteration of a hot loop; `pause()` yields with `setImmediate` (a
 * macrotask, so pending timers and I/O run) at most once per
 * {@link PACE_INTERVAL_MS}.
 *
 * @module
 */
import type { Handler, Message } from '../core/message.js';
import { ModelError } from '../core/model.js';
import { noteProgress } from '../core/model-body.js';
import { kernelInterruptError, kernelInterrupts } from './kernel-interrupt.js';

/** Wall-clock milliseconds between yields to the event loop. */
export const PACE_INTERVAL_MS = 10;

const now: () => number = typeof performance !== 'undefined' ? () => performance.now() : () => Date.now();

/** The error an aborted run rejects with: the signal's reason, else an `AbortError`. */
export function abortReason(signal: AbortSignal, what = 'run'): unknown {
  return signal.reason ?? new DOMException(`The ${what} was aborted.`, 'AbortError');
}

/**
 * `work`, or the signal's reason (see {@link abortReason}) as soon as `signal` is aborted, whichever comes
 * first. `work` is not cancelled (a user callback cannot be); its later settling is ignored.
 */
export function untilAborted<T>(work: Promise<T>, signal: AbortSignal | undefined, what?: string): Promise<T> {
  if (!signal) return work;
  if (signal.aborted) {
    work.catch(() => undefined);
    return Promise.reject(abortReason(signal, what));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(abortReason(signal, what));
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (v) => (signal.removeEventListener('abort', onAbort), resolve(v)),
      (e: unknown) => (signal.removeEventListener('abort', onAbort), reject(e)),
    );
  });
}

/** Throws the signal's reason (see {@link abortReason}) when it has been aborted. */
export function throwIfAborted(signal: AbortSignal | undefined, what?: string): void {
  if (signal?.aborted) throw abortReason(signal, what);
}

/** Resolves on the next macrotask (`setImmediate` in Node, else `setTimeout(0)`). */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => {
    if (typeof setImmediate === 'function') setImmediate(resolve);
    else setTimeout(resolve, 0);
  });
}

/** Paces a long loop: yields to the event loop when due and honours an abort signal. */
export class Pacer {
  private next: number;
  /** Kernel interrupts seen when the loop began (`kernel-interrupt.ts`): a later one stops it as an abort does. */
  private readonly interrupts = kernelInterrupts;

  /**
   * @param signal - aborting it makes {@link Pacer.pause} throw its reason
   * @param intervalMs - wall time between yields (default {@link PACE_INTERVAL_MS})
   */
  constructor(
    readonly signal?: AbortSignal,
    readonly intervalMs: number = PACE_INTERVAL_MS,
  ) {
    throwIfAborted(signal);
    this.next = now() + intervalMs;
  }

  /** True when the loop should call {@link Pacer.pause}: time to yield, or aborted. */
  due(): boolean {
    return this.signal?.aborted === true || kernelInterrupts !== this.interrupts || now() >= this.next;
  }

  /** Yields to the event loop if the interval has passed, then throws if aborted. */
  async pause(): Promise<void> {
    this.throwIfStopped();
    if (now() >= this.next) {
      // (a loop that yields is moving: the infer queue's self-wait watch reads this, core/model-body.ts)
      noteProgress();
      await yieldToEventLoop();
      this.next = now() + this.intervalMs;
    }
    this.throwIfStopped();
  }

  /** Throws the signal's reason once aborted, or an `AbortError` after a kernel interrupt. */
  private throwIfStopped(): void {
    throwIfAborted(this.signal);
    if (kernelInterrupts !== this.interrupts) throw kernelInterruptError();
  }

  /** `if (due()) await pause()` in one call (costs a microtask when not due). */
  async tick(): Promise<void> {
    if (this.due()) await this.pause();
  }
}

/**
 * `fn` with its promised answers paced: after each answer that comes as a
 * promise (a model run on tfjs, milliseconds each, and far more under load),
 * yield to the event loop when the pacer is due and throw the signal's reason
 * once aborted; a synchronous answer (a compiled replay, microseconds) passes
 * through untouched. For a caller whose own loop reads the clock only every
 * few calls (the MCMC samplers read it every 8th evaluation): with slow
 * answers, 8 evaluations were seconds without a look at the signal.
 */
export function pacedAnswers<T>(fn: (q: Float64Array) => T | Promise<T>, pacer: Pacer): (q: Float64Array) => T | Promise<T> {
  return (q) => {
    const answer = fn(q);
    if (!(answer instanceof Promise)) return answer;
    return answer.then(async (value) => {
      if (pacer.due()) await pacer.pause();
      return value;
    });
  };
}

/**
 * A handler that paces one model execution from inside: at `sample` and
 * `factor` sites it yields to the event loop when the `Pacer` is due
 * (so a single long or runaway execution can still be aborted), and it
 * stops an execution that visits more than `maxSites` sites with an error
 * naming the site where the limit was passed.
 */
export class PacingHandler implements Handler {
  private sites = 0;

  /**
   * @param pacer - the run's pacer
   * @param maxSites - most `sample`/`factor` sites one execution may visit
   * @param what - the engine and option named in the error, e.g. `enumerate: maxSites`
   */
  constructor(
    readonly pacer: Pacer,
    readonly maxSites = Infinity,
    readonly what = 'maxSites',
  ) {}

  /** Start counting a new execution. */
  reset(): this {
    this.sites = 0;
    return this;
  }

  process(msg: Message): void | Promise<void> {
    if (msg.type !== 'sample' && msg.type !== 'factor') return;
    if (++this.sites > this.maxSites) {
      throw new ModelError(msg.address, `one execution passed ${this.maxSites} sample/factor sites here (${this.what} = ${this.maxSites}); a path that never ends (unbounded recursion or loop)? Bound it, or raise the limit`);
    }
    // the clock is read every 32 sites (executions are also paced between them by their engines)
    if ((this.sites & 31) === 0 || this.pacer.signal?.aborted) {
      if (this.pacer.due()) return this.pacer.pause();
    }
  }
}

/**
 * `Promise.all(items.map(fn))`, a chunk of `chunk` items at a time (the
 * items of a chunk run concurrently), yielding to the event loop between
 * chunks when the pacer is due: a population step that can be aborted.
 */
export async function mapPaced<T, U>(items: readonly T[], fn: (item: T, index: number) => Promise<U>, pace: Pacer, chunk = 16): Promise<U[]> {
  const out: U[] = [];
  for (let i = 0; i < items.length; i += chunk) {
    if (pace.due()) await pace.pause();
    const part = await Promise.all(items.slice(i, i + chunk).map((x, j) => fn(x, i + j)));
    for (const u of part) out.push(u);
  }
  return out;
}
