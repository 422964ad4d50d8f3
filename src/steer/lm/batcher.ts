/**
 * Collects items pushed during one tick and hands them to a runner in
 * batches, one batch at a time: requests from particles that run
 * concurrently become one forward pass, and requests that arrive while a
 * pass is running wait for the next tick after it.
 *
 * @module
 */

/** When a batch is collected: at the next macrotask or microtask, or after a delay in milliseconds. */
export type FlushMode = 'macrotask' | 'microtask' | { readonly delayMs: number };

function scheduler(mode: FlushMode): (fn: () => void) => void {
  if (typeof mode === 'object') {
    if (!(mode.delayMs >= 0)) throw new Error(`TickBatcher: delayMs must be >= 0, got ${mode.delayMs}`);
    return (fn) => void setTimeout(fn, mode.delayMs);
  }
  if (mode === 'microtask') return (fn) => queueMicrotask(fn);
  const g = globalThis as { setImmediate?: (fn: () => void) => unknown };
  if (typeof g.setImmediate === 'function') return (fn) => void g.setImmediate!(fn);
  // browsers: a MessageChannel message is a macrotask without the >= 4 ms clamp that nested setTimeout(0) gets
  if (typeof MessageChannel === 'function') return messageChannelScheduler();
  return (fn) => void setTimeout(fn, 0);
}

/** Macrotasks through one MessageChannel: each posted message runs the next queued function. */
function messageChannelScheduler(): (fn: () => void) => void {
  const queue: (() => void)[] = [];
  const channel = new MessageChannel();
  // the DOM's MessagePort (Node's typings describe worker_threads' port, which has no onmessage)
  (channel.port1 as unknown as { onmessage: (() => void) | null }).onmessage = () => queue.shift()?.();
  return (fn) => {
    queue.push(fn);
    channel.port2.postMessage(undefined);
  };
}

/**
 * A tick batcher. `push` queues an item; the queue is drained on the next
 * tick (a macrotask by default, so that every particle whose continuation is
 * already queued as a microtask gets its request in; or after `delayMs`, a
 * timeout trigger for requests that arrive from independent sources), at
 * most `maxBatch` items per run, runs never overlapping. A full batch is run
 * without waiting for the delay. The runner must settle every item
 * itself (it should not throw; if it does, the error is rethrown
 * asynchronously by the host).
 */
export class TickBatcher<T> {
  private queue: T[] = [];
  private scheduled = false;
  private running = false;
  private fullArmed = false;
  private readonly delayed: boolean;
  private readonly schedule: (fn: () => void) => void;

  constructor(
    private readonly runner: (batch: T[]) => Promise<void>,
    private readonly maxBatch: number,
    mode: FlushMode = 'macrotask',
  ) {
    if (!(Number.isInteger(maxBatch) && maxBatch >= 1)) throw new Error(`TickBatcher: maxBatch must be a positive integer, got ${maxBatch}`);
    this.schedule = scheduler(mode);
    this.delayed = typeof mode === 'object';
  }

  /** Number of items waiting. */
  get pending(): number {
    return this.queue.length;
  }

  /** Queue an item for the next batch. */
  push(item: T): void {
    this.queue.push(item);
    if (this.queue.length >= this.maxBatch && this.delayed && !this.running && !this.fullArmed) {
      // size trigger: a full batch does not wait for the delay
      this.fullArmed = true;
      queueMicrotask(() => {
        this.fullArmed = false;
        void this.drainOne();
      });
    }
    this.arm();
  }

  private arm(): void {
    if (this.scheduled || this.running || this.queue.length === 0) return;
    this.scheduled = true;
    this.schedule(() => {
      this.scheduled = false;
      if (this.running) return; // a size-triggered run took the queue; it re-arms when done
      void this.drainOne();
    });
  }

  private async drainOne(): Promise<void> {
    if (this.running || this.queue.length === 0) return;
    this.running = true;
    const batch = this.queue.splice(0, this.maxBatch);
    try {
      await this.runner(batch);
    } finally {
      this.running = false;
      // Continuations of the answered requests run before the next tick, so their new requests join the next batch.
      this.arm();
    }
  }
}
