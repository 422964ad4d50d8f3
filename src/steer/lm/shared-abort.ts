/**
 * Aborts of work that several runs share. A `TickBatcher` merges what
 * concurrent runs ask for (language-model rows, process-reward scores) into
 * shared jobs and runs them in batches; each run may carry its own abort
 * signal. The rule both the LM wrapper (`cached.ts`) and the PRM potential
 * (`potentials/reward.ts`) follow lives here once: a job is abandoned when
 * every run that asked for it has aborted (a run without a signal never
 * leaves), and a batch is cut (its signal aborts, so the model or scorer can
 * stop) only when every job in it is abandoned. A job a run joins while its
 * batch is in flight counts as well: that run keeps the batch alive.
 *
 * @module
 */
import { abortReason } from '../../infer/pace.js';

/** Something told when a signal it waits with aborts. */
interface AbortListener {
  aborted(signal: AbortSignal): void;
}

/**
 * The abort listeners of one owner (a wrapper, a potential): one listener per
 * signal, however many requests wait with it. A listener per request put one
 * on the user's signal per particle (35 at once for 32 particles), and Node
 * then printed "MaxListenersExceededWarning" on every steering run given a
 * signal (session 16).
 */
export class AbortWatch {
  private readonly bySignal = new Map<AbortSignal, SignalListeners>();

  /** Tell `l` when `signal` aborts (once). */
  add(signal: AbortSignal, l: AbortListener): void {
    let set = this.bySignal.get(signal);
    if (!set) {
      set = new SignalListeners(this, signal);
      this.bySignal.set(signal, set);
      signal.addEventListener('abort', set, { once: true });
    }
    set.listeners.add(l);
  }

  /** Stop telling `l`; the signal's listener goes with its last request. */
  remove(signal: AbortSignal, l: AbortListener): void {
    const set = this.bySignal.get(signal);
    if (!set || !set.listeners.delete(l) || set.listeners.size > 0) return;
    this.bySignal.delete(signal);
    signal.removeEventListener('abort', set);
  }

  /** @internal the signal fired: forget it (its listener was `once`). */
  fired(signal: AbortSignal): void {
    this.bySignal.delete(signal);
  }
}

/** The requests waiting with one signal, and that signal's one listener. */
class SignalListeners {
  readonly listeners = new Set<AbortListener>();
  constructor(
    private readonly watch: AbortWatch,
    private readonly signal: AbortSignal,
  ) {}

  handleEvent(): void {
    this.watch.fired(this.signal);
    for (const l of [...this.listeners]) l.aborted(this.signal);
  }
}

/**
 * One piece of shared work (a prefix's row, a text's score) and the runs
 * waiting for it. Settle it once with `SharedJob.resolve` or
 * `SharedJob.reject`; `SharedJob.abandoned` is called when its last
 * run leaves (override it to detach the job from a cache).
 */
export class SharedJob<T> {
  private readonly waiters = new Set<Waiter<T>>();
  /** @internal runs that have not left */
  liveCount = 0;
  /** Runs waiting without a signal: the job can never be abandoned. */
  private unsignalled = false;
  /** Every run that asked for it has aborted: its result is not wanted (and should not be cached). */
  isAbandoned = false;
  /** The signal of the last run to leave, once abandoned. */
  abandonedBy: AbortSignal | null = null;
  /** The batch running it, while one does. */
  batch: SharedBatch | null = null;

  /**
   * A run waits for the result. `onValue`/`onError` get it. With a signal, the
   * run leaves when that aborts: with `rejectOnAbort` its promise rejects at
   * once with the signal's reason, otherwise it still gets the result if the
   * job finishes. The last run to leave abandons the job.
   */
  join(
    watch: AbortWatch,
    signal: AbortSignal | undefined,
    onValue: (v: T) => void,
    onError: (e: unknown) => void,
    rejectOnAbort: boolean,
  ): void {
    if (!signal) this.unsignalled = true;
    if (this.isAbandoned && this.batch === null) this.isAbandoned = false; // a queued job an owner kept findable: asked for again
    const w = new Waiter(this, watch, onValue, onError, signal, rejectOnAbort);
    this.waiters.add(w);
    if (!signal) return;
    if (signal.aborted) w.aborted(signal); // its run is already gone: it leaves at once
    else watch.add(signal, w);
  }

  /** True when some run waits without a signal (the job is never abandoned). */
  get uncuttable(): boolean {
    return this.unsignalled;
  }

  /** Give every run still waiting its value. */
  resolve(v: T): void {
    for (const w of this.waiters) w.resolve(v);
    this.waiters.clear();
  }

  /** Give every run still waiting the error. */
  reject(e: unknown): void {
    for (const w of this.waiters) w.reject(e);
    this.waiters.clear();
  }

  /**
   * Called when the last run has left (all aborted). An owner that keeps a
   * queued job findable lets a later request revive it; one in a running
   * batch stays abandoned.
   */
  protected abandoned(_signal: AbortSignal): void {}

  /** @internal a waiter's run aborted; `keep`: the waiter still takes the result */
  left(w: Waiter<T>, signal: AbortSignal, keep: boolean): void {
    if (!keep) this.waiters.delete(w);
    this.liveCount--;
    if (this.liveCount > 0 || this.unsignalled || this.isAbandoned) return;
    this.isAbandoned = true;
    this.abandonedBy = signal;
    this.abandoned(signal);
    this.batch?.jobAbandoned(signal);
  }
}

/** One run waiting for a job (a class, not closures: under tsx every named closure costs a `__name` call). */
class Waiter<T> implements AbortListener {
  private left = false;
  constructor(
    private readonly job: SharedJob<T>,
    private readonly watch: AbortWatch,
    private readonly onValue: (v: T) => void,
    private readonly onError: (e: unknown) => void,
    private readonly signal: AbortSignal | undefined,
    private readonly rejectOnAbort: boolean,
  ) {
    job.liveCount++;
  }

  resolve(v: T): void {
    if (this.signal && !this.left) this.watch.remove(this.signal, this);
    this.onValue(v);
  }

  reject(e: unknown): void {
    if (this.signal && !this.left) this.watch.remove(this.signal, this);
    this.onError(e);
  }

  /** The run's signal aborted: leave the job (rejecting now, or still taking the result). */
  aborted(signal: AbortSignal): void {
    this.left = true;
    if (this.rejectOnAbort) this.onError(abortReason(signal));
    this.job.left(this, signal, !this.rejectOnAbort);
  }
}

/** What a `SharedBatch` reads of its jobs (any `SharedJob`). */
interface BatchMember {
  readonly isAbandoned: boolean;
  readonly uncuttable: boolean;
  batch: SharedBatch | null;
}

/**
 * Jobs run together as one call (a forward pass, a scorer call). Its
 * `SharedBatch.signal` is given to that call: it aborts once every job
 * in the batch is abandoned, and is absent when some job has a run waiting
 * without a signal (such a batch is never cut, and the call need not watch).
 */
export class SharedBatch {
  private readonly controller: AbortController | null;

  constructor(
    readonly jobs: readonly BatchMember[],
    private readonly onCut?: () => void,
  ) {
    let cuttable = true;
    for (const j of jobs) {
      j.batch = this;
      if (j.uncuttable) cuttable = false;
    }
    this.controller = cuttable ? new AbortController() : null;
  }

  /** Aborts when every job of the batch is abandoned; absent when that cannot happen. */
  get signal(): AbortSignal | undefined {
    return this.controller?.signal;
  }

  /** True once the batch was cut. */
  get cut(): boolean {
    return this.controller?.signal.aborted === true;
  }

  /** @internal a job of this batch was abandoned */
  jobAbandoned(signal: AbortSignal): void {
    if (this.cut) return;
    for (const j of this.jobs) if (!j.isAbandoned) return;
    this.controller?.abort(signal.reason);
    this.onCut?.();
  }

  /** The call is over: the jobs no longer point at it. */
  close(): void {
    for (const j of this.jobs) if (j.batch === this) j.batch = null;
  }
}
