/**
 * Collects items pushed during one tick and hands them to a runner in
 * batches, one batch at a time: requests from particles that run
 * concurrently become one forward pass, and requests that arrive while a
 * pass is running wait for the next tick after it.
 *
 * @module
 */

/** When a batch is collected. */
export type FlushMode = 'macrotask' | 'microtask';

function scheduler(mode: FlushMode): (fn: () => void) => void {
  if (mode === 'microtask') return (fn) => queueMicrotask(fn);
  const g = globalThis as { setImmediate?: (fn: () => void) => unknown };
  if (typeof g.setImmediate === 'function') return (fn) => void g.setImmediate!(fn);
  return (fn) => void setTimeout(fn, 0);
}

/**
 * A tick batcher. `push` queues an item; the queue is drained on the next
 * tick (a macrotask by default, so that every particle whose continuation is
 * already queued as a microtask gets its request in), at most `maxBatch`
 * items per run, runs never overlapping. The runner must settle every item
 * itself (it should not throw; if it does, the error is rethrown
 * asynchronously by the host).
 */
export class TickBatcher<T> {
  private queue: T[] = [];
  private scheduled = false;
  private running = false;
  private readonly schedule: (fn: () => void) => void;

  constructor(
    private readonly runner: (batch: T[]) => Promise<void>,
    private readonly maxBatch: number,
    mode: FlushMode = 'macrotask',
  ) {
    if (!(Number.isInteger(maxBatch) && maxBatch >= 1)) throw new Error(`TickBatcher: maxBatch must be a positive integer, got ${maxBatch}`);
    this.schedule = scheduler(mode);
  }

  /** Number of items waiting. */
  get pending(): number {
    return this.queue.length;
  }

  /** Queue an item for the next batch. */
  push(item: T): void {
    this.queue.push(item);
    this.arm();
  }

  private arm(): void {
    if (this.scheduled || this.running || this.queue.length === 0) return;
    this.scheduled = true;
    this.schedule(() => {
      this.scheduled = false;
      void this.drainOne();
    });
  }

  private async drainOne(): Promise<void> {
    if (this.running) return;
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
