/**
 * The one place tyche's runtimes call a model's function: `tycheModelBody`
 * awaits it, so that V8's async stack trace of anything the model's code
 * calls (after any number of awaits, through helpers it awaits) passes
 * through this frame. `infer` reads that ({@link insideModelCode}) to tell an
 * inference started by a running model (a nested query: it runs at once)
 * from one started beside the running one (it waits its turn; see
 * `infer/one-at-a-time.ts`). A stack is captured only when a call arrives
 * while another runs, so the common case costs one async frame per model run
 * and nothing else (an `AsyncLocalStorage` around each call made Node run
 * hooks on every promise: sequential enumeration ran at half speed).
 *
 * @module
 */

/** Model runs started through {@link tycheModelBody} and not yet settled. */
let awaitedRunsInFlight = 0;

/**
 * A count that moves whenever tyche's runtimes start or finish a model run
 * or a paced loop yields ({@link noteProgress}): while it stands still and
 * model runs are in flight, every running model is suspended on something
 * outside tyche. Read by the `infer` queue to tell a call that waits on
 * itself (`infer/one-at-a-time.ts`).
 */
let progress = 0;

/**
 * Runs a model's function on its context and arguments; see the module notes.
 * `mark`, where given, follows this run for a runtime that may abandon it
 * ({@link abandonRun}): the run leaves the count of runs in flight once,
 * when it settles or when it is abandoned, whichever comes first.
 */
export async function tycheModelBody<C, A extends unknown[], R>(fn: (ctx: C, ...args: A) => Promise<R> | R, ctx: C, args: A, mark?: RunMark): Promise<R> {
  awaitedRunsInFlight++;
  progress++;
  if (mark !== undefined) mark.started = true;
  try {
    return await (nestedDepth === 0 ? fn(ctx, ...args) : atDepth(nestedDepth)(fn, ctx, args));
  } finally {
    if (mark === undefined) awaitedRunsInFlight--;
    else {
      mark.settled = true;
      if (!mark.abandoned) awaitedRunsInFlight--;
    }
    progress++;
  }
}

/**
 * What a runtime that may abandon a model run knows of it (pass one to
 * {@link tycheModelBody}, or to `executeMarked`): whether its body has
 * started, whether it has settled (set as it settles, before any code
 * awaiting the run sees it) and whether it was abandoned.
 */
export interface RunMark {
  started: boolean;
  settled: boolean;
  abandoned: boolean;
}

/** A fresh {@link RunMark}: not started. */
export function runMark(): RunMark {
  return { started: false, settled: false, abandoned: false };
}

/**
 * The run `mark` follows will not be woken again (its runtime left it
 * suspended for good): it leaves the count of runs in flight now, unless it
 * has not started, has settled or was abandoned already; its own settling, if it ever comes,
 * does not count it out again.
 */
export function abandonRun(mark: RunMark): void {
  if (!mark.started || mark.settled || mark.abandoned) return;
  mark.abandoned = true;
  awaitedRunsInFlight--;
  progress++;
}
// V8 names a stack frame by the function's `name` property: pinned, so that a minified build (the browser
// bundle renames functions) still leaves the frame {@link insideModelCode} looks for
Object.defineProperty(tycheModelBody, 'name', { value: 'tycheModelBody' });

/**
 * The depth of the innermost nested `infer` call running where no async
 * context follows a call (a browser; 0: none), set by `infer/one-at-a-time.ts`
 * ({@link enterNestedDepth}). A model run started while it is `d` is taken to
 * be that call's engine's (the engines around it are suspended awaiting it)
 * and runs through a frame named `tycheRunAtDepth<d>`, so that an `infer` its
 * model starts reads its own depth, `d + 1`, from its stack
 * ({@link callerNestedDepth}): a call nested two deep is told from a sibling
 * of the call it runs inside. Always 0 in Node, where the async context
 * tells nested calls apart: no extra frame there.
 */
let nestedDepth = 0;

/** Sets the innermost running nested call's depth (see `nestedDepth`); returns a function that restores the previous one. */
export function enterNestedDepth(depth: number): () => void {
  const before = nestedDepth;
  nestedDepth = depth;
  return () => {
    nestedDepth = before;
  };
}

type Body = (fn: (ctx: never, ...args: never[]) => unknown, ctx: unknown, args: unknown[]) => Promise<unknown>;
const depthBodies: Body[] = [];

/** The frame a run started at nested depth `d` passes through (made once per depth, its name pinned). */
function atDepth(d: number): <C, A extends unknown[], R>(fn: (ctx: C, ...args: A) => Promise<R> | R, ctx: C, args: A) => Promise<R> {
  let body = depthBodies[d];
  if (body === undefined) {
    body = async (fn, ctx, args) => await fn(ctx as never, ...(args as never[]));
    Object.defineProperty(body, 'name', { value: `tycheRunAtDepth${d}` });
    depthBodies[d] = body;
  }
  return body as never;
}

const DEPTH_FRAME = /\bat (?:async )?tycheRunAtDepth(\d+)\b/g;

/**
 * The nested depth of the model run the caller's code belongs to (the
 * deepest `tycheRunAtDepth<d>` frame in its stack; 0 for a run of a top-level
 * call, or where no such frame shows).
 */
export function callerNestedDepth(): number {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = Infinity;
  let stack: string;
  try {
    stack = new Error().stack ?? '';
  } finally {
    Error.stackTraceLimit = limit;
  }
  let d = 0;
  for (const m of stack.matchAll(DEPTH_FRAME)) d = Math.max(d, Number(m[1]));
  return d;
}

/**
 * A run started through {@link tycheModelBody} that will never settle: its
 * runtime dropped it while it was suspended and will not wake it again (the
 * lean program-SMC runtime abandons a dropped particle instead of unwinding
 * it), so its `finally` never runs and it leaves the count here.
 */
export function awaitedRunAbandoned(): void {
  awaitedRunsInFlight--;
  progress++;
}

/** A long loop yielded to the event loop: it is making progress (see `progress`). */
export function noteProgress(): void {
  progress++;
}

/** Model runs in flight (awaited and callback-driven) and the progress count; see `progress`. */
export function modelRunState(): { readonly inFlight: number; readonly progress: number } {
  return { inFlight: awaitedRunsInFlight + callbackRunsInFlight, progress };
}

/**
 * Model runs started by a runtime that drives them by callbacks, with no
 * frame awaiting the model (sequential enumeration's walk, one path at a
 * time: an awaiting frame per path cost 5-8% there), and not yet finished.
 * Such a runtime yields to the event loop only between runs, so while one is
 * in flight the code that runs is the model's own.
 */
let callbackRunsInFlight = 0;

/** A callback-driven run of a model starts (see `callbackRunsInFlight`); pair with {@link callbackRunEnded}. */
export function callbackRunStarted(): void {
  callbackRunsInFlight++;
  progress++;
}

/** The run {@link callbackRunStarted} marked has settled. */
export function callbackRunEnded(): void {
  callbackRunsInFlight--;
}

/** What `awaitedByModelBody` reads of a V8 stack frame. */
interface Frame {
  getFunctionName(): string | null;
  isAsync?(): boolean;
}

/**
 * The caller's stack as V8's frames, every one, read through a
 * `prepareStackTrace` of its own for the moment (a user's or a test
 * runner's formatter, e.g. source-map support, may write async frames
 * without the word `async`); `undefined` on an engine that hands none.
 */
function framesOf(): Frame[] | undefined {
  const E = Error as ErrorConstructor & { prepareStackTrace?: unknown };
  const prepare = E.prepareStackTrace;
  const limit = Error.stackTraceLimit;
  E.prepareStackTrace = (_err: unknown, frames: Frame[]) => frames;
  Error.stackTraceLimit = Infinity;
  try {
    const frames = (new Error() as { stack?: unknown }).stack;
    return Array.isArray(frames) ? (frames as Frame[]) : undefined;
  } catch {
    return undefined;
  } finally {
    E.prepareStackTrace = prepare;
    Error.stackTraceLimit = limit;
  }
}

/** Whether `frames` hold an async frame of the function named `name`. */
function hasAsyncFrame(frames: Frame[], name: string): boolean {
  for (const f of frames) if (f.isAsync?.() === true && f.getFunctionName() === name) return true;
  return false;
}

/**
 * Whether this runtime's stack traces follow a chain of awaits (V8's async
 * stack traces): found by one probe when this module loads, `undefined`
 * until the probe has settled (a few microtasks).
 */
let asyncStacks: boolean | undefined;
async function tycheAsyncStackInner(): Promise<boolean> {
  await null;
  const frames = framesOf();
  return frames !== undefined && hasAsyncFrame(frames, 'tycheAsyncStackProbe');
}
async function tycheAsyncStackProbe(): Promise<boolean> {
  return await tycheAsyncStackInner();
}
// pinned names, as for tycheModelBody (a minified build renames functions)
Object.defineProperty(tycheAsyncStackInner, 'name', { value: 'tycheAsyncStackInner' });
Object.defineProperty(tycheAsyncStackProbe, 'name', { value: 'tycheAsyncStackProbe' });
void tycheAsyncStackProbe().then(
  (ok) => {
    asyncStacks = ok;
  },
  () => {
    asyncStacks = false;
  },
);

/** The caller's stack trace as text, every frame (the user's `Error.stackTraceLimit` left as it was). */
function stackOf(): string {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = Infinity;
  try {
    return new Error().stack ?? '';
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/**
 * Called in the continuation of an async function: whether its chain of
 * awaiters reaches a model's body ({@link tycheModelBody}), i.e. whether
 * the model's own code is suspended on it, rather than a promise the model
 * dropped (an `array.forEach(async ...)` callback's, which no one awaits).
 * `undefined` where the runtime cannot tell (no async stack traces: not
 * V8). Only awaits are followed, and V8 stops at a promise with two
 * reactions: the chain from the caller to the model must be plain `await`s,
 * each promise awaited once (`Execution`'s effects are written so;
 * `infer/smc/suspendable.ts` reads this when it drops a particle). A model
 * that reaches the caller through a `.then()` of its own reads `false`.
 */
export function awaitedByModelBody(): boolean | undefined {
  if (asyncStacks !== true) return undefined;
  const frames = framesOf();
  return frames === undefined ? undefined : hasAsyncFrame(frames, 'tycheModelBody');
}

/** The frame {@link tycheModelBody} leaves in a stack trace, synchronous or async. */
const MODEL_FRAME = /\bat (?:async )?tycheModelBody\b/;

/**
 * Whether the caller runs inside a model's code: a callback-driven run is
 * in flight, or its synchronous or async stack passes through
 * {@link tycheModelBody}. It sees calls made after
 * `await`s, in helpers the model calls or awaits and in `Promise.all`; not
 * in a callback the model hands to a timer or to a `.then()` inside a
 * `.then()` callback, nor in a helper that settles the model's promise from
 * an async function it does not await (V8 does not follow those; the
 * queue's self-wait watch answers them, `infer/one-at-a-time.ts`), nor where
 * the runtime's stack traces name functions otherwise (a minified browser
 * build).
 */
export function insideModelCode(): boolean {
  if (callbackRunsInFlight > 0) return true;
  return MODEL_FRAME.test(stackOf());
}
