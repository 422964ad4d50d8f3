/**
 * One execution path of a discrete model, scored exactly on the number path:
 * the shared piece of sequential and parallel enumeration.
 *
 * @module
 */
import { ModelError, rejectsPoint } from '../core/errors.js';
import type { Handler, Message } from '../core/message.js';
import type { Model } from '../core/model.js';
import type { Rng } from '../core/rng.js';
import { siteLogDensity } from '../core/trace.js';
import { type Value, isTensor, toNumber } from '../core/value.js';
import { enumerableSupport } from './enumerate-lean.js';
import type { Draw } from './posterior.js';

const PRUNED = Symbol('pruned');

/**
 * Records a path's latent values and log weight (float64); stops the run as
 * soon as the weight is zero, so that the rest of a dead path is skipped.
 */
export class PathRecorder implements Handler {
  logWeight = 0;
  values: Record<string, Value> = {};

  reset(): void {
    this.logWeight = 0;
    this.values = {};
  }

  postprocess(msg: Message): void {
    if (msg.type === 'deterministic') {
      this.values[msg.address] = msg.value as Value;
      return;
    }
    if (msg.type !== 'sample' && msg.type !== 'factor') return;
    const lp = siteLogDensity(msg as Required<Pick<Message, 'logProb' | 'scale' | 'mask'>>);
    const n = typeof lp === 'number' ? lp : toNumber(lp);
    if (isTensor(lp)) lp.dispose();
    this.logWeight += n;
    if (msg.type === 'sample' && !msg.observed) this.values[msg.address] = msg.value as Value;
    if (this.logWeight === -Infinity) throw PRUNED;
  }
}

/**
 * Run the model once with `handlers` choosing the values (innermost first)
 * and `recorder` scoring; the draw, or undefined for a zero-probability path.
 * (`handlers` may already end with `recorder`, to save an allocation per path.)
 */
export async function runPath<A extends unknown[], R>(m: Model<A, R>, args: A, rng: Rng, handlers: Handler[], recorder: PathRecorder): Promise<Draw<R> | undefined> {
  recorder.reset();
  if (handlers[handlers.length - 1] !== recorder) handlers = [...handlers, recorder];
  try {
    const returnValue = await m.run({ rng, handlers }, ...args);
    return recorder.logWeight > -Infinity ? { values: recorder.values, returnValue, logWeight: recorder.logWeight } : undefined;
  } catch (err) {
    // a pruned path, or one where a distribution's parameter is invalid, has probability zero (the one rule of every engine)
    if (err !== PRUNED && !rejectsPoint(err)) throw err;
    return undefined;
  }
}

/** Replays a prefix of choice indices and extends it with first choices (depth-first over paths). */
export class ChoiceWalker implements Handler {
  readonly path: number[] = [];
  readonly sizes: number[] = [];
  depth = 0;

  reset(): void {
    this.depth = 0;
  }

  process(msg: Message): void {
    if (msg.type !== 'sample' || msg.observed || msg.value !== undefined) return;
    const dist = msg.dist!;
    const support = enumerableSupport(msg.address, dist);
    const k = this.depth++;
    if (k === this.path.length) {
      this.path.push(0);
      this.sizes.push(support.length);
    }
    msg.value = support[this.path[k]];
  }

  /** Move to the next path; false when the walk is complete. */
  advance(): boolean {
    // a pruned run may have stopped before the end of the stored path
    this.path.length = this.depth;
    this.sizes.length = this.depth;
    while (this.path.length > 0 && this.path[this.path.length - 1] + 1 >= this.sizes[this.sizes.length - 1]) {
      this.path.pop();
      this.sizes.pop();
    }
    if (this.path.length === 0) return false;
    this.path[this.path.length - 1] += 1;
    return true;
  }
}
