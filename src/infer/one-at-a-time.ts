/**
 * Inference calls run one at a time: `infer` queues a call made while
 * another is running and starts it when that one settles (first come, first
 * served).
 *
 * Why: tfjs keeps one engine with one stack of scopes and one gradient tape
 * for the whole process. An engine that holds a scope open across an await
 * (a gradient through an async model, `tidyAsync` around a model run) owns
 * every tensor made meanwhile, so a second inference interleaved with it had
 * its tensors disposed under it ("Cannot read properties of undefined
 * (reading 'backend')", "Tensor is disposed") or, worse, was recorded on the
 * first one's tape and returned a different answer without an error. Queued,
 * each call's answer is the one it gives alone with the same seed.
 *
 * A call made from inside a running inference (a model that runs `infer`
 * itself, as in WebPPL's nested queries) runs at once, as part of the call
 * that contains it: queued, it would wait for itself forever. It is told
 * apart, only when a call arrives while another runs, by its stack: tyche's
 * runtimes call every model through `core/model-body.ts`'s
 * `tycheModelBody`, whose frame V8's async stack traces keep through the
 * model's awaits and the helpers it awaits; the gradient lock's and run
 * ledgers' contexts also mark calls made inside their engines. (An
 * `AsyncLocalStorage` around each call did this too, but while one is
 * enabled Node 20 runs hooks on every promise: sequential enumeration ran
 * at half speed.)
 *
 * Not seen by the stack: an `infer` in a callback the model hands to
 * `.then()` (V8's trace does not follow it), or in a helper whose promise
 * the model awaits by a `.then()` chain. Such a call is queued; if the
 * running call was in fact waiting on it, nothing could ever move again.
 * JavaScript cannot tell, when the call arrives, whether the running model
 * awaits it or something outside (a fetch), so a queued call watches
 * instead: while it waits, if model runs are in flight, no model run starts
 * or ends and no paced loop yields (`core/model-body.ts` `modelRunState`),
 * and the event loop stays idle, for the self-wait bound (30 s), it rejects
 * with a {@link SelfWaitError} saying why, and the running model receives
 * that error where it awaited. A running model that truly waits that long
 * on outside I/O while another call is queued gets the same error (never a
 * silent deadlock and never two calls interleaved). The watch costs one
 * timer while a call waits, and nothing on the runs themselves beyond two
 * counts per model run.
 *
 * Where no async context follows a call (a browser), the gradient lock lets
 * every request in at once (`backend/autodiff.ts`: waiting, a nested call's
 * engine waited for ever on the execution that awaits it), so calls nested
 * in one running call take turns among themselves (`nestedCall`).
 *
 * An aborted signal takes a queued call out of the queue at once, rejecting
 * with the signal's reason; a call that throws frees the queue for the next.
 *
 * @module
 */
import { insideGradientLock } from '../backend/autodiff.js';
import { callerNestedDepth, enterNestedDepth, insideModelCode, modelRunState } from '../core/model-body.js';
import { TycheError } from '../core/errors.js';
import { insideLedger } from '../backend/ledger.js';
import { asyncContext } from '../backend/async-context.js';
import { abortReason } from './pace.js';
import { markRunStart } from './kernel-interrupt.js';

/** A first-come-first-served line of calls. */
interface Line {
  /** Settles when the last call queued so far has finished. */
  tail: Promise<void>;
  /** Calls queued or running. */
  pending: number;
}

/** The entry points' line (calls nested inside a running one are not in it). */
const calls: Line = { tail: Promise.resolve(), pending: 0 };

/**
 * Nested calls' own lines, one per depth (index 1: calls made by the models
 * of a top-level call), used only where no async context follows a call (a
 * browser; see `nestedCall`).
 */
const nestedCalls: Line[] = [];

/** Tells whether this runtime has `AsyncLocalStorage` (null: none, a browser). */
const contextProbe = asyncContext<true>();

/** How many inference calls are queued or running (0 when idle). */
export function inferenceCallsPending(): number {
  return calls.pending;
}

/**
 * Run `fn` once every inference call queued before it has settled (FIFO), or
 * at once when called from inside a running inference. An abort of `signal`
 * while the call waits rejects with the signal's reason and never runs `fn`;
 * an abort while it runs lets the next call start (a call stuck where no
 * abort reaches it, such as a model awaiting a promise that never settles,
 * would otherwise hold every later call for good; engines stop promptly on
 * an abort, so the next call overlaps at most the few ms the running one
 * takes to notice).
 */
export async function oneAtATime<T>(signal: AbortSignal | undefined, fn: () => Promise<T>): Promise<T> {
  if (calls.pending === 0) return await inLine(calls, signal, fn);
  // (read before any await, while the caller's frames are on the stack: the depth of the run that calls, `nestedCall`)
  const depth = callerNestedDepth() + 1;
  if (insideModelCode() || insideRunningCall() || (await insideGradientLock()) || (await insideLedger())) return nestedCall(signal, fn, depth);
  // (`return await`: this frame stays in the async stack of everything the call runs, `insideRunningCall`)
  return await inLine(calls, signal, fn);
}

/**
 * A call made from inside a running inference. Where an async context
 * follows each call (Node), it runs at once, beside any other nested call:
 * the gradient lock and the run ledgers keep their tensors apart. Where none
 * does (a browser), the gradient lock lets every request in at once
 * (`backend/autodiff.ts`), so nested calls take turns among themselves:
 * concurrent particles that each run a query (program SMC over a model with
 * a nested `infer`) run their queries one after another instead of
 * interleaving their tfjs scopes. They take turns by depth: a call's depth
 * is one more than that of the model run that makes it, which the run's
 * frame tells (`core/model-body.ts` `callerNestedDepth`), so a call nested
 * two deep runs at once inside the one it runs in (it waited on it, and got
 * the self-wait error after 30 s), and siblings at each depth take turns.
 */
async function nestedCall<T>(signal: AbortSignal | undefined, fn: () => Promise<T>, depth: number): Promise<T> {
  if ((await contextProbe()) !== null) return fn();
  const line = (nestedCalls[depth] ??= { tail: Promise.resolve(), pending: 0 });
  return inLine(line, signal, async () => {
    const restore = enterNestedDepth(depth);
    try {
      return await fn();
    } finally {
      restore();
    }
  });
}

/** Run `fn` in its turn in `line` (see {@link oneAtATime}). */
async function inLine<T>(line: Line, signal: AbortSignal | undefined, fn: () => Promise<T>): Promise<T> {
  // checked before the turn is taken: a signal without addEventListener threw inside the turn and again in `finally`, before the turn was released, so every later call hung (fkSteering with signal: {}, STEER session 11)
  if (signal !== undefined && (signal === null || typeof signal.addEventListener !== 'function' || typeof signal.removeEventListener !== 'function')) throw new TypeError(`options.signal must be an AbortSignal (e.g. new AbortController().signal), got ${signal === null ? 'null' : typeof signal}`);
  if (signal?.aborted) throw abortReason(signal, 'inference');
  const prev = line.tail;
  let release!: () => void;
  const mine = new Promise<void>((r) => (release = r));
  line.tail = mine;
  const queued = line.pending++ > 0;
  let started = false;
  // (made only with a signal: under tsx a named closure costs ~0.8 us to make, on every call)
  const onAbort = signal === undefined ? undefined : (): void => release();
  try {
    if (queued) await waitTurn(prev, signal);
    started = true;
    if (line === calls) markRunStart();
    if (onAbort) signal?.addEventListener('abort', onAbort, { once: true });
    return await fn();
  } finally {
    if (onAbort) signal?.removeEventListener('abort', onAbort);
    line.pending--;
    // a call that never started keeps its place until the calls before it are done, so the order holds
    if (started) release();
    else void prev.then(release);
  }
}
// V8 names a stack frame by the function's `name` property: pinned, so that a minified build (the browser
// bundle renames functions) still leaves the frames `insideRunningCall` counts
Object.defineProperty(oneAtATime, 'name', { value: 'oneAtATime' });

/**
 * A frame of {@link oneAtATime}, synchronous or async. The caller's own is
 * one; a second is a running call's (`return await fn()`), which V8's stack
 * trace keeps through everything its engine awaits (or that it calls before
 * any await), so a queued function that the engine itself calls
 * (`runSMC`, `Posterior.predictive`) sees it is part of the running call
 * ({@link insideRunningCall}) and runs at once, with or without a ledger
 * around it. (A queued call's frame awaits its turn: nothing runs beneath
 * it.)
 */
const CALL_FRAME = /\bat (?:async )?oneAtATime\b/g;

/** Whether the caller's stack passes through a running call's {@link oneAtATime} besides its own (see `CALL_FRAME`). */
function insideRunningCall(): boolean {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = Infinity;
  try {
    return ((new Error().stack ?? '').match(CALL_FRAME)?.length ?? 0) > 1;
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/**
 * A queued call that the running call was waiting on: its model started it
 * where the stack check cannot see (a `.then()` callback), or waited that
 * long on outside I/O while this call was queued.
 */
export class SelfWaitError extends TycheError {
  override readonly name = 'SelfWaitError';
}

/** How long a queued call lets the running call's models stand still before {@link SelfWaitError} (ms). */
// 30 s: long enough that a model awaiting a slow outside call (an LLM's generation, an HTTP request) while
// another call is queued is rarely refused, short enough that a real self-wait ends with an error, not never
let selfWaitBoundMs = 30_000;
/** Poll interval of the self-wait watch (ms); a poll this much late means the event loop was busy. */
const WATCH_MS = 50;

/**
 * Set the self-wait bound (tests shorten it); returns a function that
 * restores the previous bound.
 * @internal
 */
export function setSelfWaitBoundMs(ms: number): () => void {
  const before = selfWaitBoundMs;
  selfWaitBoundMs = ms;
  return () => {
    selfWaitBoundMs = before;
  };
}

/**
 * Resolves when `prev` settles; rejects with the signal's reason if it is
 * aborted first, and with a {@link SelfWaitError} if the running call stands
 * still inside its model runs for the self-wait bound (see the module notes).
 */
function waitTurn(prev: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let state = modelRunState();
    let since = Date.now();
    let last = since;
    const watch = setInterval(() => {
      const now = Date.now();
      const next = modelRunState();
      // running engine code, a run started or ended, a paced loop yielded, or the event loop was busy: not standing still
      if (next.inFlight === 0 || next.progress !== state.progress || now - last > 3 * WATCH_MS) since = now;
      state = next;
      last = now;
      if (now - since >= selfWaitBoundMs) {
        done();
        reject(
          new SelfWaitError(
            `infer: this call was queued behind a running inference whose model runs have all stood still for ${now - since} ms, waiting on something outside tyche: ` +
              'most likely this very call. A model that starts `infer` in a `.then()` callback (or in a helper whose promise it awaits through `.then()`) is not seen as nested, and would wait on itself for ever: ' +
              'in the model, `await` the inner call directly (`const post = await infer(...)`). If the running model was instead waiting on slow outside I/O, start this call after that one settles.',
          ),
        );
      }
    }, WATCH_MS);
    const onAbort = (): void => {
      done();
      reject(abortReason(signal!, 'inference'));
    };
    const done = (): void => {
      clearInterval(watch);
      signal?.removeEventListener('abort', onAbort);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    void prev.then(() => {
      done();
      resolve();
    });
  });
}
