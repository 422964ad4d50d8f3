/**
 * An execution of a model that suspends at its checkpoints: the live part
 * of a program-SMC particle (per-particle mode) or of the whole population
 * (batched mode).
 *
 * The execution's handler calls `suspend` at each
 * checkpoint and awaits it; `resume` starts the
 * execution or wakes it, and resolves when it reaches its next checkpoint or
 * its end; `kill` unwinds a suspended execution (its
 * pending checkpoint rejects with `KILLED`).
 *
 * @module
 */
import { TycheError } from '../../core/errors.js';

/** A checkpoint reached while another of the same execution is pending (observations awaited together). */
export class ConcurrentCheckpointsError extends TycheError {
  constructor(site: string | undefined) {
    super(`smc: ${site === undefined ? 'an observation' : `"${site}"`} was reached while another observation of the same execution waits: program SMC runs the observations and factors of one execution one after the other; await each in turn (not together, as in Promise.all or array.forEach(async ...): in a loop, \`for ... of\` with \`await\`)`);
    this.name = 'ConcurrentCheckpointsError';
  }
}

/** The rejection that unwinds a killed execution (swallowed by `SuspendableRun`). */
export const KILLED = Symbol('particle killed');

/** A suspendable execution; subclasses supply the handler that calls `suspend`. */
export class SuspendableRun {
  status: 'new' | 'suspended' | 'done' = 'new';
  private wake?: (kill: boolean) => void;
  private arrived?: () => void;
  private failed?: (err: unknown) => void;
  /** Whether the current `resume` has not settled yet. */
  private pending = false;
  /** A failure of the execution after its `resume` had settled (thrown by the next one). */
  private late: { err: unknown } | undefined;
  /** Whether the execution has settled (returned or thrown). */
  private settled = false;

  /**
   * Called by the execution's handler at a checkpoint (`site`, for
   * messages); the execution awaits the result. A second checkpoint reached
   * while one is pending (observations awaited together, e.g. in
   * `Promise.all`) is an error: the first would never be woken. That
   * error fails the run (at once, or at the next `resume`); the second
   * checkpoint's promise never settles, since a rejection would reach the
   * model's own promises, and one the model does not await (the callback of
   * an `array.forEach(async ...)`) would end the process as an unhandled
   * rejection.
   */
  protected suspend(site?: string): Promise<void> {
    // (reached after the execution settled: a call the model did not await; never woken, as a rejection by
    // `kill` would reach the model's un-awaited promise unhandled)
    if (this.settled) return new Promise<void>(() => {});
    if (this.wake !== undefined) {
      this.failLater(new ConcurrentCheckpointsError(site));
      return new Promise<void>(() => {});
    }
    this.status = 'suspended';
    const arrived = this.arrived;
    const p = new Promise<void>((resolve, reject) => {
      this.wake = (kill) => (kill ? reject(KILLED) : resolve());
    });
    arrived?.();
    return p;
  }

  /**
   * Run until the next checkpoint or the end: `start` begins a new execution
   * (it resolves when the execution has finished and its results are stored);
   * a suspended one is woken; a finished one resolves at once.
   */
  protected resume(start: () => Promise<void>): Promise<void> {
    if (this.late !== undefined) return Promise.reject(this.late.err);
    this.pending = true;
    const arrival = new Promise<void>((resolve, reject) => {
      this.arrived = () => {
        this.pending = false;
        resolve();
      };
      this.failed = (err) => {
        this.pending = false;
        reject(err);
      };
    });
    if (this.status === 'new') {
      start().then(
        () => {
          this.status = 'done';
          this.abandonPending();
          this.arrived?.();
        },
        (err) => {
          if (err === KILLED) return;
          this.abandonPending();
          this.failLater(err);
        },
      );
    } else if (this.status === 'suspended') {
      const wake = this.wake;
      this.wake = undefined;
      wake?.(false);
    } else this.arrived?.();
    return arrival;
  }

  /**
   * The execution settled: a checkpoint still pending, or reached from now
   * on, belongs to a call the model did not await (an
   * `array.forEach(async ...)`); it is abandoned, never woken, as a
   * rejection by `kill` would reach the model's un-awaited promise unhandled.
   */
  private abandonPending(): void {
    this.settled = true;
    this.wake = undefined;
  }

  /** A failure of the execution: the pending `resume` rejects with it, or (after it arrived, e.g. a second checkpoint reached beside the first) the next one; the first failure wins. */
  private failLater(err: unknown): void {
    if (this.pending) this.failed?.(err);
    else this.late ??= { err };
  }

  /** Unwind a suspended execution. */
  kill(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.(true);
  }
}
