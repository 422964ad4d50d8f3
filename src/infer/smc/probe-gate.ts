/**
 * A batched probe checked part-way: the first part of the probe run before
 * a batched program-SMC or importance run (`probeBatched` in
 * `program-batched.ts`) is compared row by row with each particle run on its
 * own while the probe waits at a gate, so that a program whose control flow
 * depends on a random value is refused after a few steps instead of after a
 * whole batched run of its probe particles.
 *
 * The gate does not change the probe: the batched execution only waits
 * there (its draws, and so everything after it, are the same), and it goes
 * on unless the first part shows a particle that the whole probe's check
 * would refuse at the same site (a different log density, or a value of
 * another size). The check of the whole probe still runs after it.
 *
 * @module
 */
import type { Handler, Message } from '../../core/message.js';
import { Trace, siteOf } from '../../core/trace.js';

/** Thrown by a gate or a first-part run to end an execution early (never seen outside this module). */
const STOP = { stop: 'probe gate' };

/** Probes whose reference run visits fewer `sample`/`factor` sites than this are not gated (little to save). */
const MIN_GATED_SITES = 64;
/** The gate stands after this fraction of the reference run's `sample`/`factor` sites. */
const GATE_FRACTION = 1 / 8;

/**
 * Where a probe's gate stands, in `sample`/`factor` sites, for a program
 * whose run on its own visited `reference` of them; undefined where the
 * probe is not gated.
 */
export function gateSites(reference: number): number | undefined {
  return reference >= MIN_GATED_SITES ? Math.ceil(reference * GATE_FRACTION) : undefined;
}

/** Whether a message is a `sample` or `factor` site (the sites a probe's check compares). */
function scored(msg: Message): boolean {
  return msg.type === 'sample' || msg.type === 'factor';
}

/**
 * A handler that records a batched execution's sites up to its `at`-th
 * `sample`/`factor` site and holds the execution there until
 * {@link ProbeGate.through} has checked them.
 */
export class ProbeGate implements Handler {
  /** The sites recorded before the gate (every type), in order. */
  readonly trace: Trace;
  private count = 0;
  private arrive!: () => void;
  private readonly arrived = new Promise<void>((resolve) => (this.arrive = resolve));
  private release?: { go: () => void; stop: () => void };

  /**
   * @param at - the `sample`/`factor` site the execution waits after
   * @param size - the execution's particle axis
   */
  constructor(
    readonly at: number,
    size: number,
  ) {
    this.trace = new Trace(size);
  }

  postprocess(msg: Message): void | Promise<void> {
    if (this.count >= this.at) return;
    this.trace.add(siteOf(msg));
    if (!scored(msg) || ++this.count < this.at) return;
    return new Promise<void>((resolve, reject) => {
      this.release = { go: resolve, stop: () => reject(STOP) };
      this.arrive();
    });
  }

  /**
   * The result of `execution` (started with this gate among its handlers),
   * with `check` run on the sites before the gate once it arrives there;
   * where `check` throws, the execution is stopped (and awaited) and the
   * error thrown. An execution that ends before the gate is not checked.
   */
  async through<T>(execution: Promise<T>, check: (prefix: Trace) => Promise<void>): Promise<T> {
    const ended = execution.then(
      () => false,
      () => false,
    );
    if (!(await Promise.race([this.arrived.then(() => true), ended]))) return execution;
    try {
      await check(this.trace);
    } catch (err) {
      this.release!.stop();
      await ended;
      throw err;
    }
    this.release!.go();
    return execution;
  }
}

/**
 * The first `at` `sample`/`factor` sites of one run (the rest is not run):
 * `run` starts the execution with the handler it is given among its own.
 * A run that ends sooner gives fewer.
 */
export async function firstSites(at: number, size: number | undefined, run: (stopper: Handler) => Promise<unknown>): Promise<Trace> {
  const trace = new Trace(size);
  let count = 0;
  const stopper: Handler = {
    process: (msg) => {
      if (scored(msg) && count >= at) throw STOP;
    },
    postprocess: (msg) => {
      if (!scored(msg)) return;
      count++;
      trace.add(siteOf(msg));
    },
  };
  try {
    await run(stopper);
  } catch (err) {
    if (err !== STOP) throw err;
  }
  return trace;
}
