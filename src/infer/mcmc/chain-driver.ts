/**
 * One chain as a driver sees it: the chain's coroutine (`runChain`) and,
 * for NUTS, the chain's own trajectory machine. A driver asks
 * {@link ChainDriver.pending} for the position to evaluate and hands the log
 * density and gradient back with {@link ChainDriver.answer}; the sequential
 * driver does so for one chain at a time, the vectorised one for all chains
 * in one batched call (`sampler.ts`).
 *
 * NUTS transitions are run here rather than inside the coroutine: the chain
 * yields one request per transition, and the driver advances the chain's
 * `NutsTrajectory` once per leapfrog step directly (no generator resumed per
 * step). The algorithm and its random numbers are those of
 * `NutsKernel.transition`, which wraps the same machine.
 *
 * @module
 */
import type { Rng } from '../../core/rng.js';
import { type ChainConfig, type ChainOutput, runChain } from './chain.js';
import type { GradientCoroutine, Position } from './integrator.js';
import type { HamiltonianKernel, Transition } from './kernel.js';
import type { EuclideanMetric } from './metric.js';
import { NutsKernel, type NutsTrajectory } from './nuts.js';
import type { GradientAnswer } from './target.js';

/** A NUTS transition the driver runs itself (see {@link DELEGATED_NUTS}). */
class TransitionRequest {
  constructor(
    readonly from: Position,
    readonly stepSize: number,
    readonly metric: EuclideanMetric,
    readonly rng: Rng,
  ) {}
}

/**
 * The kernel a driven NUTS chain runs with: a transition yields one
 * {@link TransitionRequest} instead of a position, and is resumed with the
 * finished {@link Transition} the driver computed on the chain's
 * `NutsTrajectory`.
 */
const DELEGATED_NUTS: HamiltonianKernel = {
  name: 'nuts',
  *transition(from, stepSize, metric, rng): GradientCoroutine<Transition> {
    const done: unknown = yield new TransitionRequest(from, stepSize, metric, rng) as unknown as readonly number[];
    return done as Transition;
  },
};

/** One chain under a driver (see the module notes). */
export class ChainDriver {
  /** The position whose log density and gradient the chain needs next (read it before answering), or null once the chain has finished. */
  pending: readonly number[] | null = null;
  /** The last position the chain asked for (a fixed batch repeats it once the chain has finished). */
  last: readonly number[] = [];
  /** The chain's output, once finished. */
  output: ChainOutput | undefined = undefined;
  private readonly coroutine: GradientCoroutine<ChainOutput>;
  /** The chain's NUTS machine; null for other kernels. */
  private readonly trajectory: NutsTrajectory | null;
  /** Whether a NUTS transition is under way on {@link ChainDriver.trajectory}. */
  private inTransition = false;

  /** The chain's dimension D. */
  private readonly dim: number;

  /** Starts the chain up to its first request. */
  constructor(cfg: ChainConfig) {
    this.dim = cfg.dim;
    const nuts = cfg.kernel instanceof NutsKernel ? cfg.kernel : null;
    this.trajectory = nuts === null ? null : nuts.trajectory(cfg.dim);
    this.coroutine = runChain(nuts === null ? cfg : { ...cfg, kernel: DELEGATED_NUTS });
    this.resume(undefined);
  }

  /**
   * Takes the log density `logps[row]` and gradient `grad[row * D .. (row + 1) * D)`
   * at {@link ChainDriver.pending}; moves `pending` on. (The row, not the
   * number: a double passed to a call V8 does not inline is boxed.)
   */
  answer(logps: ArrayLike<number>, grad: ArrayLike<number>, row: number): void {
    const offset = row * this.dim;
    if (this.inTransition) {
      const next = this.trajectory!.advanceRow(logps, row, grad, offset);
      if (next !== null) {
        this.pending = this.last = next;
        return;
      }
      this.inTransition = false;
      this.resume(this.trajectory!.result());
    } else this.resume({ logp: logps[row]!, grad, offset });
  }

  /** Resumes the coroutine (with an answer or a finished transition) up to its next request. */
  private resume(input: GradientAnswer | Transition | undefined): void {
    const step = this.coroutine.next(input as GradientAnswer);
    // the chain's end goes through the same stores as every other resume (V8 recompiles a hot function, and the
    // drivers it is inlined in, at the first run of code it had not reached)
    const done = step.done === true;
    const request = step.value as unknown;
    let next: readonly number[] | null = null;
    if (!done) {
      if (request instanceof TransitionRequest) {
        next = this.trajectory!.begin(request.from, request.stepSize, request.metric, request.rng);
        this.inTransition = true;
      } else next = request as readonly number[];
    }
    this.output = done ? (request as ChainOutput) : undefined;
    this.pending = next;
    if (next !== null) this.last = next;
  }
}
