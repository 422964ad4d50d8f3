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
    super(`smc: ${site === undefined ? 'an observation' : `"${site}"`} was reached while another observation of the same execution waits: program SMC runs the observations and factors of one execution one after the other; await each in turn (not together, e.g. in Promise.all)`);
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

  /**
   * Called by the execution's handler at a checkpoint (`site`, for
   * messages); the execution awaits the result. A second checkpoint reached
   * while one is pending (observations awaited together, e.g. in
   * `Promise.all`) is an error: the first would never be woken.
   */
  protected suspend(site?: string): Promise<void> {
    if (this.wake !== undefined) return Promise.reject(new ConcurrentCheckpointsError(site));
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
          this.arrived?.();
        },
        (err) => {
          if (err === KILLED) return;
          // (failing after it arrived, e.g. a second checkpoint awaited beside the first: the next resume throws)
          if (this.pending) this.failed?.(err);
          else this.late = { err };
        },
      );
    } else if (this.status === 'suspended') {
      const wake = this.wake;
      this.wake = undefined;
      wake?.(false);
    } else this.arrived?.();
    return arrival;
  }

  /** Unwind a suspended execution. */
  kill(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.(true);
  }
}
