/**
 * An execution of a model that suspends at its checkpoints: the live part
 * of a program-SMC particle (per-particle mode) or of the whole population
 * (batched mode).
 *
 * The execution's handler calls `suspend` at each
 * checkpoint and awaits it; `resume` starts the
 * execution or wakes it, and resolves when it reaches its next checkpoint or
 * its end; `kill` unwinds a suspended execution (its
 * pending checkpoint rejects with `KILLED` where the model's body awaits it),
 * or abandons it where a rejection could land in a promise the model dropped
 * (see `kill`).
 *
 * @module
 */
import { TycheError } from '../../core/errors.js';
import { type RunMark, abandonRun, awaitedByModelBody, runMark } from '../../core/model-body.js';

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
  /** Wakes the pending checkpoint: it resolves, or (`kill`) rejects with `KILLED` whoever awaits it. */
  private wake?: (kill: boolean) => void;
  /** Wakes the pending checkpoint to unwind its execution where the model's body awaits it (see `woken`). */
  private unwind?: () => void;
  private arrived?: () => void;
  private failed?: (err: unknown) => void;
  /** Whether the current `resume` has not settled yet. */
  private pending = false;
  /** A failure of the execution after its `resume` had settled (thrown by the next one). */
  private late: { err: unknown } | undefined;
  /** Whether a checkpoint reached from now on is never woken (the execution settled, or was dropped; see `park`). */
  private parked = false;
  /** Whether the execution failed (a second checkpoint beside the first, or its own error): it cannot go on. */
  private broken = false;
  /** Whether `kill` was called. */
  private killed = false;
  /**
   * Follows the run of the model's body (subclasses pass it to
   * `executeMarked`): whether the body has settled, as soon as it has, and
   * its count of runs in flight given back where the execution is abandoned.
   */
  protected readonly mark: RunMark = runMark();

  /**
   * Called by the execution's handler at a checkpoint (`site`, for
   * messages); the execution awaits the result. A second checkpoint reached
   * while one is pending (observations awaited together, e.g. in
   * `Promise.all`) is an error: the first would never be woken. That
   * error fails the run (at once, or at the next `resume`); the second
   * checkpoint's promise never settles, since a rejection would reach the
   * model's own promises, and one the model does not await (the callback of
   * an `array.forEach(async ...)`) would end the process as an unhandled
   * rejection. A checkpoint reached after the execution settled is never
   * settled either; one reached after it was killed unwinds it (see `kill`).
   */
  protected suspend(site?: string): Promise<void> {
    if (this.parked) return NEVER();
    if (this.wake !== undefined) {
      this.failLater(new ConcurrentCheckpointsError(site));
      return NEVER();
    }
    // killed while it ran (e.g. beside a particle whose failure ended the run), or unwound where a dropped
    // callback awaited the checkpoint: no one will resume it; unwound here if the body awaits this one
    if (this.killed) return this.woken(Promise.resolve(true));
    this.status = 'suspended';
    const arrived = this.arrived;
    const p = new Promise<boolean>((resolve, reject) => {
      this.wake = (kill) => (kill ? reject(KILLED) : resolve(false));
      this.unwind = () => resolve(true);
    });
    arrived?.();
    return this.woken(p);
  }

  /**
   * A checkpoint's continuation, in the chain of awaits of the code that
   * reached it. Woken to go on (`false`), it returns. Woken to unwind a
   * dropped execution (`true`), it throws `KILLED` where the model's body
   * awaits this checkpoint (read from the async stack trace,
   * `awaitedByModelBody`: the rejection travels up the model's awaits, its
   * `finally` blocks run, and is swallowed by `resume`), and never settles
   * where it does not: a callback the model dropped (an
   * `array.forEach(async ...)`) awaits it, and a rejection there would be
   * unhandled. The body itself is then unwound at its next checkpoint
   * (`suspend` after `kill`), or settles on its own. Where the runtime
   * cannot tell (no async stack traces) it throws, as before.
   */
  private async woken(p: Promise<boolean>): Promise<void> {
    if (!(await p)) return;
    if (awaitedByModelBody() === false) return NEVER();
    throw KILLED;
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
          this.park();
          this.arrived?.();
        },
        (err) => {
          if (err === KILLED) return;
          this.park();
          this.failLater(err);
        },
      );
    } else if (this.status === 'suspended') {
      const wake = this.wake;
      this.wake = this.unwind = undefined;
      wake?.(false);
    } else this.arrived?.();
    return arrival;
  }

  /**
   * From now on no checkpoint of this execution is woken: one still pending,
   * or reached later, belongs to a call the model did not await (an
   * `array.forEach(async ...)`) or to an execution no one will resume, and is
   * abandoned, never settled, as a rejection would reach the model's
   * un-awaited promise unhandled. A body that has not settled is then
   * suspended for good: it leaves the count of model runs in flight
   * (`abandonRun`; nothing where it has settled).
   */
  private park(): void {
    this.parked = true;
    this.wake = undefined;
    this.unwind = undefined;
    abandonRun(this.mark);
  }

  /** A failure of the execution: the pending `resume` rejects with it, or (after it arrived, e.g. a second checkpoint reached beside the first) the next one; the first failure wins. */
  private failLater(err: unknown): void {
    this.broken = true;
    if (this.pending) this.failed?.(err);
    else this.late ??= { err };
  }

  /**
   * Drop this execution. A healthy suspended one is unwound where its body
   * awaits the pending checkpoint: `KILLED` travels up the model's awaits
   * (its `finally` blocks run) and is swallowed here. Where a callback the
   * model dropped awaits it (an `array.forEach(async ...)` callback, whose
   * promise nobody holds: a rejection would end the process as unhandled)
   * the checkpoint never settles, and the body, waiting on something else
   * (a timer), is unwound at its next checkpoint (`woken`). One that failed,
   * or whose body has settled, is abandoned instead (`park`): the body may
   * wait for good on a second checkpoint that is never settled (`suspend`),
   * which no unwinding reaches. The body's settling is read from `mark`, set
   * as it settles, not when `resume`'s chain hears of it: a kill between the
   * two abandons. One killed while it runs is unwound (or, in a dropped
   * callback, left unsettled) at its next checkpoint.
   */
  kill(): void {
    this.killed = true;
    const unwind = this.unwind;
    if (this.wake === undefined || unwind === undefined) return;
    this.wake = this.unwind = undefined;
    if (this.broken || this.mark.settled) this.park();
    else unwind();
  }
}

/** A promise that never settles (a checkpoint that is never woken). */
const NEVER = (): Promise<void> => new Promise<void>(() => {});
