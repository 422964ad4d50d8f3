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
 * at half speed.) Not seen: an `infer` in a callback the model hands to
 * `.then()` (V8's trace does not follow it), which would wait forever;
 * await it instead.
 *
 * An aborted signal takes a queued call out of the queue at once, rejecting
 * with the signal's reason; a call that throws frees the queue for the next.
 *
 * @module
 */
import { insideGradientLock } from '../backend/autodiff.js';
import { insideModelCode } from '../core/model-body.js';
import { insideLedger } from '../backend/ledger.js';
import { abortReason } from './pace.js';

/** The tail of the queue: settles when the last call queued so far has finished. */
let tail: Promise<void> = Promise.resolve();
/** Calls queued or running (not counting calls nested inside them). */
let pending = 0;

/** How many inference calls are queued or running (0 when idle). */
export function inferenceCallsPending(): number {
  return pending;
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
  if (pending > 0 && (insideModelCode() || (await insideGradientLock()) || (await insideLedger()))) return fn();
  if (signal?.aborted) throw abortReason(signal, 'inference');
  const prev = tail;
  let release!: () => void;
  const mine = new Promise<void>((r) => (release = r));
  tail = mine;
  const queued = pending++ > 0;
  let started = false;
  const onAbort = (): void => release();
  try {
    if (queued) await waitOrAbort(prev, signal);
    started = true;
    signal?.addEventListener('abort', onAbort, { once: true });
    return await fn();
  } finally {
    signal?.removeEventListener('abort', onAbort);
    pending--;
    // a call that never started keeps its place until the calls before it are done, so the order holds
    if (started) release();
    else void prev.then(release);
  }
}

/** Resolves when `prev` settles; rejects with the signal's reason if it is aborted first. */
function waitOrAbort(prev: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  if (!signal) return prev;
  return new Promise<void>((resolve, reject) => {
    const onAbort = (): void => reject(abortReason(signal, 'inference'));
    signal.addEventListener('abort', onAbort, { once: true });
    void prev.then(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    });
  });
}
