/**
 * One chain as a driver sees it: the chain's state (`Chain`, `chain.ts`)
 * and, for NUTS, the chain's own trajectory machine. A driver asks
 * {@link ChainDriver.pending} for the position to evaluate and hands the log
 * density and gradient back with {@link ChainDriver.answer}; the sequential
 * driver does so for one chain at a time, the vectorised one for all chains
 * in one batched call (`sampler.ts`).
 *
 * The chain's loop is run here by plain methods, not by a coroutine resumed
 * once per iteration: a NUTS transition advances the chain's `NutsTrajectory`
 * once per leapfrog step, and its result goes to `Chain.record`. Only the
 * rare parts are coroutines, run one at a time: the chain's start, the
 * step-size search after a metric window, a `beforeTransition` hook and a
 * static HMC transition. The algorithm and its random numbers are those of
 * `NutsKernel.transition`, which wraps the same machine.
 *
 * @module
 */
import { type Chain, type ChainConfig, type ChainOutput, startChain } from './chain.js';
import type { GradientCoroutine, Position } from './integrator.js';
import type { Transition } from './kernel.js';
import { NutsKernel, type NutsTrajectory } from './nuts.js';
import type { GradientAnswer } from './target.js';

/** What the coroutine under way computes (see {@link ChainDriver}). */
const enum Part {
  /** `startChain`: the initial point and step size. */
  Start,
  /** `beforeTransition`: the position to move from. */
  Before,
  /** A static HMC (or other non-NUTS) transition. */
  Transition,
  /** The step-size search after a metric window. */
  Search,
}

/** One chain under a driver (see the module notes). */
export class ChainDriver {
  /** The position whose log density and gradient the chain needs next (read it before answering), or null once the chain has finished. */
  pending: readonly number[] | null = null;
  /** The last position the chain asked for (a fixed batch repeats it once the chain has finished). */
  last: readonly number[] = [];
  /** The chain's output, once finished. */
  output: ChainOutput | undefined = undefined;
  /**
   * Whether a metric window ended at the last transition and the step-size
   * search is yet to start: {@link ChainDriver.pending} is then null until the
   * driver calls {@link ChainDriver.startDueSearch} (outside its hot loop).
   */
  searchDue = false;
  private readonly cfg: ChainConfig;
  /** The chain's NUTS machine; null for other kernels. */
  private readonly trajectory: NutsTrajectory | null;
  /** Whether a NUTS transition is under way on {@link ChainDriver.trajectory}. */
  private inTransition = false;
  /** The chain's state, once started. */
  private chain: Chain | null = null;
  /** The coroutine under way, if any, and what it computes. */
  private part: GradientCoroutine<unknown> | null = null;
  private partKind: Part = Part.Start;

  /** The chain's dimension D. */
  private readonly dim: number;

  /** Starts the chain up to its first request. */
  constructor(cfg: ChainConfig) {
    this.cfg = cfg;
    this.dim = cfg.dim;
    this.trajectory = cfg.kernel instanceof NutsKernel ? cfg.kernel.trajectory(cfg.dim) : null;
    this.run(startChain(cfg), Part.Start);
  }

  /**
   * Takes the log density `logps[row]` and gradient `grad[offset .. offset + D)`
   * (by default `offset = row * D`) at {@link ChainDriver.pending}; moves
   * `pending` on. (The row, not the number: a double passed to a call V8
   * does not inline is boxed.)
   */
  answer(logps: ArrayLike<number>, grad: ArrayLike<number>, row: number, offset: number = row * this.dim): void {
    if (this.inTransition) {
      const next = this.trajectory!.advanceRow(logps, row, grad, offset);
      if (next !== null) {
        this.pending = this.last = next;
        return;
      }
      this.inTransition = false;
      this.transitioned(this.trajectory!.result());
    } else this.resume({ logp: logps[row]!, grad, offset });
  }

  /** Starts a coroutine `part` of kind `kind` up to its first request (or its end). */
  private run(part: GradientCoroutine<unknown>, kind: Part): void {
    this.part = part;
    this.partKind = kind;
    this.resume(undefined);
  }

  /** Resumes the coroutine under way (with an answer) up to its next request, or goes on from its result. */
  private resume(input: GradientAnswer | undefined): void {
    const step = this.part!.next(input as GradientAnswer);
    if (step.done !== true) {
      this.pending = this.last = step.value;
      return;
    }
    this.part = null;
    const value: unknown = step.value;
    switch (this.partKind) {
      case Part.Start: {
        const chain = value as Chain;
        this.chain = chain;
        this.proceed(chain.adaptStep);
        break;
      }
      case Part.Before:
        this.chain!.position = value as Position;
        this.transition();
        break;
      case Part.Transition:
        this.transitioned(value as Transition);
        break;
      case Part.Search:
        this.chain!.stepSizeFound(value as number);
        this.next();
        break;
    }
  }

  /**
   * Searches the step size (`search`), or starts the next iteration. (The
   * search is first started here at the chain's start, so that V8 has seen
   * this code run before the first metric window ends: code first reached
   * in an optimised function throws that code away, with the drivers it is
   * inlined in.)
   */
  private proceed(search: boolean): void {
    if (search) this.run(this.chain!.searchStepSize(), Part.Search);
    else this.next();
  }

  /** Starts the next iteration, or ends the chain. */
  private next(): void {
    const chain = this.chain!;
    const running = chain.running();
    // the chain's end goes through the same stores as every other iteration (see `proceed`)
    const output = chain.output;
    this.output = running ? undefined : output;
    this.pending = null;
    if (running) {
      const before = this.cfg.beforeTransition;
      if (before !== undefined) this.run(before(chain.position, chain.iteration), Part.Before);
      else this.transition();
    }
  }

  /** Starts the iteration's transition from the chain's position. */
  private transition(): void {
    const chain = this.chain!;
    if (this.trajectory !== null) {
      this.inTransition = true;
      this.pending = this.last = this.trajectory.begin(chain.position, chain.stepSize, chain.metric, this.cfg.rng);
    } else this.run(this.cfg.kernel.transition(chain.position, chain.stepSize, chain.metric, this.cfg.rng), Part.Transition);
  }

  /**
   * Records a finished transition and starts the next iteration; where a
   * metric window ended, leaves {@link ChainDriver.pending} null and
   * {@link ChainDriver.searchDue} set instead, for the driver to call
   * {@link ChainDriver.startDueSearch}. (The search's code is first reached
   * at the first window's end, iteration ~100: started from here, inside the
   * batched driver's `take` that V8 has optimised by then with this method
   * inlined, it threw that code away for want of feedback, and `take` was
   * compiled twice. The store and the skipped call run every iteration.)
   */
  private transitioned(t: Transition): void {
    const search = this.chain!.record(t);
    this.searchDue = search;
    this.pending = null;
    if (!search) this.next();
  }

  /**
   * Starts the step-size search that a metric window's end left due (see
   * {@link ChainDriver.searchDue}); returns {@link ChainDriver.pending}, null
   * once the chain has finished. Call it wherever `pending` is null.
   */
  startDueSearch(): readonly number[] | null {
    if (this.searchDue) {
      this.searchDue = false;
      this.run(this.chain!.searchStepSize(), Part.Search);
    }
    return this.pending;
  }
}

/**
 * Runs one chain (initialisation, warmup with adaptation, and sampling) as
 * a gradient coroutine: it yields each position whose log density and
 * gradient it needs and returns the chain's output. The same steps as the
 * samplers' drivers (`ChainDriver`, which it wraps).
 */
export function* runChain(cfg: ChainConfig): GradientCoroutine<ChainOutput> {
  const driver = new ChainDriver(cfg);
  const logp = new Float64Array(1);
  for (let at = driver.pending; at !== null; at = driver.pending ?? driver.startDueSearch()) {
    const a = yield at;
    logp[0] = a.logp;
    driver.answer(logp, a.grad, 0, a.offset);
  }
  return driver.output!;
}
