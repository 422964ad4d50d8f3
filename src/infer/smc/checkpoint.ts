/**
 * Running a program only up to a checkpoint: the partial traces that SMC
 * over programs targets at each step.
 *
 * A checkpoint is an observation: an observed `sample` or a `factor` (the
 * points where program SMC reweights). The k-th partial target of a model is
 * the law of its execution stopped right after its k-th checkpoint (or at
 * its end, if it has fewer), weighted by the likelihood of the observations
 * seen so far: prior × likelihood of the first k observations. MCMC moves on
 * a suspended particle must leave that target invariant, so they run the
 * model with {@link checkpointExecutor}.
 *
 * @module
 */
import type { Handler, Message } from '../../core/message.js';
import type { Model } from '../../core/model.js';
import { Trace, siteOf } from '../../core/trace.js';
import { type TraceExecutor, type TraceState, traceLogJoint } from '../mcmc/trace-mh.js';

/** True for the effects at which program SMC reweights: observed samples and factors. */
export function isCheckpoint(msg: Pick<Message, 'type' | 'observed'>): boolean {
  return msg.type === 'factor' || (msg.type === 'sample' && msg.observed);
}

/** A (possibly partial) execution: its trace up to the stopping point. */
export interface PartialTraceState<R> extends TraceState<R | undefined> {
  /** Checkpoints passed (the last one included in the trace). */
  readonly checkpoints: number;
  /** True when the model returned before reaching the stopping checkpoint. */
  readonly complete: boolean;
}

/** Thrown (privately) to stop an execution at its checkpoint. */
const STOP = Symbol('checkpoint reached');

/**
 * An executor (for {@link mhStepWith}) that runs `m` with the given latent
 * values until just after its `checkpoint`-th observation, or to its end.
 * The trace recorder sits inside the stopping handler, so the stopping
 * observation is part of the trace and of its log joint. The model must not
 * swallow exceptions thrown from `observe`/`factor`.
 */
export function checkpointExecutor<A extends unknown[], R>(m: Model<A, R>, args: A, checkpoint: number): TraceExecutor<PartialTraceState<R>> {
  if (!(checkpoint >= 1)) throw new Error(`checkpointExecutor: checkpoint must be >= 1 (or Infinity), got ${checkpoint}`);
  return async (values, rng) => {
    const trace = new Trace();
    let seen = 0;
    const fill: Handler = {
      process(msg) {
        if (msg.type !== 'sample' || msg.observed || msg.value !== undefined) return;
        const v = values(msg.address);
        if (v !== undefined) msg.value = v;
      },
    };
    const recorder: Handler = { postprocess: (msg) => trace.add(siteOf(msg)) };
    const stopper: Handler = {
      postprocess(msg) {
        if (!isCheckpoint(msg)) return;
        seen += 1;
        if (seen >= checkpoint) throw STOP;
      },
    };
    let returnValue: R | undefined;
    let complete = true;
    try {
      returnValue = await m.run({ rng, handlers: [fill, recorder, stopper] }, ...args);
    } catch (err) {
      if (err !== STOP) throw err;
      complete = false;
    }
    return { trace, returnValue, logJoint: traceLogJoint(trace), checkpoints: seen, complete };
  };
}
