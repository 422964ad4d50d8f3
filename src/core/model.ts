/**
 * Models and their execution.
 *
 * A model is an `async` function that receives an effect context `ctx` as its
 * first argument and calls `ctx.sample`, `ctx.observe`, ... The context is
 * passed in rather than global, so many executions (particles, chains) can
 * run concurrently without their handlers interleaving.
 *
 * ```ts
 * const coin = model(async ({ sample, observe }, flips: number[]) => {
 *   const p = await sample('p', Beta(1, 1));
 *   for (let i = 0; i < flips.length; i++) await observe(`flip${i}`, Bernoulli(p), flips[i]);
 *   return p;
 * });
 * ```
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Constraint } from '../distributions/constraints.js';
import { Distribution, type ValueOf, parameterShapeError } from '../distributions/distribution.js';
import type { Handler, Message, PlateFrame, SampleOptions, SiteType } from './message.js';
import { InvalidParameterError, ModelCodeError, ModelError, TycheError, isTycheError } from './errors.js';
import { improperDrawsAllowed } from './improper.js';
import { type RunMark, tycheModelBody } from './model-body.js';
import { Rng, rngFrom } from './rng.js';
import { Trace, siteOf } from './trace.js';
import { type UnfoldHost, type UnfoldKernel, type UnfoldStepRef, guardedContext, runUnfold, wrongContextError } from './unfold.js';
import { type Value, type ValueLike, broadcastShapes, describe, hasNaN, isTensor, shapeOf, toValue } from './value.js';

/** Options of `plate`. */
export interface PlateOptions {
  /** A random subsample of this many indices, or the explicit indices to use. */
  subsample?: number | number[];
  /** The batch dimension (negative, from the right); allocated automatically when omitted. */
  dim?: number;
}

/** The effect context a model receives. Its methods may be destructured. */
export interface Ctx {
  /** Draw (or, under a handler, be given) a value for a latent site. */
  sample<D extends Distribution>(address: string, dist: D, options?: SampleOptions): Promise<ValueOf<D>>;
  /**
   * Condition on an observed value of `dist`. Returns the value. No value
   * (`undefined` or `null`) is an error naming the site under inference, and
   * a draw under `Posterior.predictive` (a regression's `y` at new inputs).
   */
  observe<D extends Distribution>(address: string, dist: D, value: ValueLike | null | undefined, options?: SampleOptions): Promise<ValueOf<D>>;
  /** Add `logWeight` to the log density of the execution (a soft constraint). */
  factor(address: string, logWeight: ValueLike): Promise<void>;
  /** Record a derived value under an address (not random). Returns it. */
  deterministic<V extends Value>(address: string, value: V): V;
  /** A learnable parameter (used by variational inference); returns its current value. */
  param(address: string, init: ValueLike | ((rng: Rng) => Value), constraint?: Constraint): Promise<Value>;
  /**
   * Declare `size` conditionally independent copies: sites inside `fn` get a
   * batch dimension of the plate's size (vectorised), and, with subsampling,
   * their log densities are scaled by size / subsample size.
   */
  plate<T>(name: string, size: number, fn: (indices: number[], plated: PlatedCtx) => Promise<T> | T, options?: PlateOptions): Promise<T>;
  /** Prefix every address inside `fn` with `prefix/` (for recursion and reuse). */
  scope<T>(prefix: string, fn: () => Promise<T> | T): Promise<T>;
  /**
   * A Markov chain of `steps` steps (Gen's Unfold combinator): runs
   * `kernel(ctx, t, state)` for t = 0 .. steps - 1, each step's addresses
   * scoped `name/t/...`, starting from `init`; returns the states after each
   * step, in order. Every engine runs it as the same loop written with a
   * `for` and `scope`; per-particle program SMC uses the stated structure to
   * copy a particle inside the loop from its state instead of re-running the
   * model (linear time in the number of steps, not quadratic).
   *
   * The kernel must take its effects on the context it is given (the
   * model's own `sample`/`observe`, closed over, is an error naming the
   * unfold and step), and must not change its input state: states are
   * shared between copies and deep-frozen (numbers, tensors, plain arrays
   * and objects; typed arrays are refused).
   *
   * ```ts
   * const xs = await unfold('walk', ys.length, 0, async ({ sample, observe }, t, x) => {
   *   const next = (await sample('jump', Bernoulli(0.1))) ? await sample('x', Normal(0, 5)) : await sample('x', Normal(x, 1));
   *   await observe('y', Normal(next, 1), ys[t]);
   *   return next;
   * });
   * ```
   */
  unfold<S>(name: string, steps: number, init: S, kernel: UnfoldKernel<S>): Promise<S[]>;
  /** The random stream of this execution (for user code that needs randomness outside `sample`). */
  readonly rng: Rng;
}

/**
 * The effects as seen inside a plate, typed honestly: draws inside a plate
 * carry the plate's batch dimension, so they are always tensors.
 * (`ctx.sample` works there too, but its static type cannot know it is inside a plate.)
 */
export interface PlatedCtx {
  sample(address: string, dist: Distribution, options?: SampleOptions): Promise<tf.Tensor>;
  observe(address: string, dist: Distribution, value: ValueLike | null | undefined, options?: SampleOptions): Promise<tf.Tensor>;
}

/** A model function: async, context first. */
export type ModelFn<A extends unknown[], R> = (ctx: Ctx, ...args: A) => Promise<R> | R;

/** A model: a function plus the handlers applied to it (innermost first). */
export class Model<A extends unknown[] = unknown[], R = unknown> {
  /**
   * @param fn - the generative function
   * @param handlers - handlers applied to every execution, innermost first
   * @param name - a name for messages
   */
  constructor(
    readonly fn: ModelFn<A, R>,
    readonly handlers: readonly Handler[] = [],
    readonly name: string = fn.name || 'model',
    numericSites?: Map<string, boolean>,
    /** What a run does with a plate's `subsample` option (see {@link Model.withSubsampling}); undefined: takes the subsample. */
    readonly subsampling?: SubsamplingHook,
  ) {
    this.numericSites = numericSites ?? new Map();
    if (typeof fn !== 'function') throw new TypeError(`model: expected an async function, got ${describe(fn)}`);
  }

  /**
   * Sites whose distribution computed with plain numbers when last run (the
   * runtime then skips the tfjs scope around their sampling and density).
   * A performance cache, shared by the models derived with handlers.
   */
  readonly numericSites: Map<string, boolean>;

  /** The same model with one more handler, outside the existing ones. */
  withHandler(handler: Handler): Model<A, R> {
    return new Model(this.fn, [...this.handlers, handler], this.name, this.numericSites, this.subsampling);
  }

  /**
   * The same model with its plates' subsamples decided by `hook`: called when
   * a plate that asks for a subsample (fewer indices than its size) opens, it
   * returns the subsample to take (`undefined`: the whole plate) or throws
   * (an engine that cannot use a subsample refuses it). Unlike a handler, it
   * leaves the model's lean runtimes available.
   */
  withSubsampling(hook: SubsamplingHook | undefined): Model<A, R> {
    return new Model(this.fn, this.handlers, this.name, this.numericSites, hook);
  }

  /** Run once with extra (outer) handlers; returns the return value. */
  async run(options: ExecuteOptions, ...args: A): Promise<R> {
    return new Execution(this, options).run(args);
  }
}

/**
 * Decides a plate's subsample for {@link Model.withSubsampling}: given the
 * plate's name, size and the `subsample` option the model passed, returns the
 * subsample to take (`undefined`: all indices) or throws.
 */
export type SubsamplingHook = (plate: string, size: number, subsample: number | number[]) => number | number[] | undefined;

/** Wrap an async function as a {@link Model}. */
export function model<A extends unknown[], R>(fn: ModelFn<A, R>, options: { name?: string } = {}): Model<A, R> {
  return new Model(fn, [], options.name ?? (fn.name || 'model'));
}

/**
 * Batched (vectorised) execution: one run of the model stands for `size`
 * particles or chains. Every latent draw gets a leading axis of that size,
 * followed by `plateNesting` dimensions reserved for plates (size 1 where
 * the site is outside them), so that particle-batched values broadcast
 * against plate dimensions. Site log densities are summed per particle, and
 * `Trace.logJoint()` returns a tensor of shape `[size]`.
 *
 * The model must then be written with tensor arithmetic (the polymorphic
 * `add`, `mul`, ... exported by tyche work for both numbers and tensors) and
 * without branching on random values.
 */
export interface BatchOptions {
  /** The number of particles (chains) in the leading axis. */
  readonly size: number;
  /** The maximum number of nested plates in the model (find it with a probe run). */
  readonly plateNesting: number;
  /**
   * Called with a site's address when its draw is converted to a string: an
   * object key or array index (`table[x]`) or a template. Batched, a draw
   * holds every particle, so such a lookup finds nothing; engines use this
   * to say so when the run then fails.
   */
  readonly onDrawString?: (address: string) => void;
}

/** Options for one execution. */
export interface ExecuteOptions {
  /** Random stream for draws not seeded by a handler. */
  rng?: Rng;
  /** Extra handlers, innermost first, outside the model's own. */
  handlers?: readonly Handler[];
  /** Run vectorised over a leading particle axis (see {@link BatchOptions}). */
  batch?: BatchOptions;
  /**
   * Check every site's log density for NaN and name the site (default true).
   * Engines may turn this off in hot loops and check totals instead.
   */
  checkNaN?: boolean;
}

/** The result of {@link execute}: the return value and the trace. */
export interface Executed<R> {
  readonly returnValue: R;
  readonly trace: Trace;
}

/** Run a model once and record its trace. Extra handlers run inside the trace recorder. */
export function execute<A extends unknown[], R>(m: Model<A, R>, options: ExecuteOptions, ...args: A): Promise<Executed<R>> {
  return executeMarked(m, options, undefined, ...args);
}

/**
 * `execute`, with the run of the model's body followed by `mark` (a runtime
 * that may abandon the run suspended: program SMC's `SuspendableRun`; see
 * `core/model-body.ts`). Not public API.
 */
export async function executeMarked<A extends unknown[], R>(m: Model<A, R>, options: ExecuteOptions, mark: RunMark | undefined, ...args: A): Promise<Executed<R>> {
  const trace = new Trace(options.batch?.size);
  const recorder: Handler = { postprocess: (msg) => trace.add(siteOf(msg)) };
  const exec = new Execution(m, { ...options, handlers: [...(options.handlers ?? []), recorder] }, mark);
  const returnValue = await exec.run(args);
  return { returnValue, trace };
}

export { ModelError } from './errors.js';

/** While positive, every execution checks its sites for NaN, whatever its options. */
let forcedNaNChecks = 0;

/**
 * Run `f` with every execution (nested ones too, e.g. a model run inside
 * another model's function) checking each site's log density for NaN,
 * whatever its `checkNaN` option: for re-running a computation whose log
 * density came out NaN to find the site to name.
 */
export async function withNaNChecks<T>(f: () => Promise<T>): Promise<T> {
  forcedNaNChecks++;
  try {
    return await f();
  } finally {
    forcedNaNChecks--;
  }
}

function isPromise(x: unknown): x is Promise<unknown> {
  return x !== undefined && x !== null && typeof (x as Promise<unknown>).then === 'function';
}

/** One execution of a model: its handler stack, plates, scope and addresses. */
class Execution<A extends unknown[], R> implements UnfoldHost {
  private readonly stack: Handler[];
  private readonly seen = new Set<string>();
  private plates: PlateFrame[] = [];
  /** The prefix of every address now (`scope`'s). */
  prefix = '';
  private readonly rng: Rng;
  private readonly ctx: Ctx;
  /** The unchecked effects, made when an unfold runs (the contexts handed out check the unfold level first: `core/unfold.ts`). */
  private raw: Ctx | undefined;
  /** The level of the context that may take effects now (0: the model's own; one more per open unfold step). */
  level = 0;
  /** The open unfold steps (for messages). */
  private steps: UnfoldStepRef[] | undefined;
  get openSteps(): UnfoldStepRef[] {
    return (this.steps ??= []);
  }
  /** The contexts handed to unfold kernels, by level. */
  private levels: Ctx[] | undefined;
  private readonly batch: BatchOptions | undefined;
  private readonly checkNaN: boolean;
  /** The last site claimed (for errors raised between sites). */
  private lastSite: string | undefined;
  /** What tyche's effects threw (passed through unchanged by {@link run}). */
  private effectErrors: Set<unknown> | undefined;
  /**
   * Effects that went asynchronous (a handler's hook returned a promise) and
   * have not settled, and the last one's address: a model that returns
   * before they do (an `observe` not awaited) is told so by {@link run},
   * instead of the effect finishing after the run, on freed tensors or into
   * a finished trace.
   */
  private inFlight = 0;
  private lastInFlight: string | undefined;
  /** Failures of effects, in order ({@link failed}): at the model's return, a sign of a call not awaited. */
  private failures: unknown[] | undefined;
  /**
   * Whether the run has settled. An effect that fails after it can only have
   * come from a promise the model dropped (an `array.forEach(async ...)`
   * callback resumed late, on tensors the run has freed): its rejection would
   * end a Node process as unhandled and no one can read it, so it is never
   * settled instead (as the lean runtime abandons a dropped particle).
   */
  private over = false;
  private isOver(): boolean {
    return lateEffects.abandon && (this.over || this.mark?.settled === true || this.mark?.abandoned === true);
  }

  constructor(
    private readonly m: Model<A, R>,
    options: ExecuteOptions,
    private readonly mark?: RunMark,
  ) {
    this.stack = m.handlers.length === 0 ? ((options.handlers ?? []) as Handler[]) : [...m.handlers, ...(options.handlers ?? [])];
    this.batch = options.batch;
    this.checkNaN = forcedNaNChecks > 0 || (options.checkNaN ?? true);
    if (this.batch && (!Number.isInteger(this.batch.size) || this.batch.size <= 0)) {
      throw new RangeError(`batch size must be a positive integer, got ${this.batch.size}`);
    }
    this.rng = options.rng ?? rngFrom();
    // bound methods rather than closures: one context per execution, made cheaply (the model's own context
    // checks the unfold level in its methods, `top*`; the kernels' contexts, made when an unfold runs, wrap `raw`)
    this.ctx = {
      sample: this.topSample.bind(this) as Ctx['sample'],
      observe: this.topObserve.bind(this) as Ctx['observe'],
      factor: this.topFactor.bind(this),
      deterministic: this.topDeterministic.bind(this) as Ctx['deterministic'],
      param: this.topParam.bind(this),
      plate: this.topPlate.bind(this) as Ctx['plate'],
      scope: this.topScope.bind(this) as Ctx['scope'],
      unfold: this.topUnfold.bind(this) as Ctx['unfold'],
      rng: this.rng,
    };
  }

  // the model's own context: each effect runs only at level 0 (no unfold step open), else names the step
  private topSample(address: string, dist: Distribution, options?: SampleOptions): Promise<Value> {
    return this.level === 0 ? this.sampleEffect(address, dist, options) : this.wrongContext(address);
  }
  private topObserve(address: string, dist: Distribution, value: ValueLike, options?: SampleOptions): Promise<Value> {
    return this.level === 0 ? this.observeEffect(address, dist, value, options) : this.wrongContext(address);
  }
  private topFactor(address: string, logWeight: ValueLike): Promise<void> {
    return this.level === 0 ? this.factorEffect(address, logWeight) : this.wrongContext(address);
  }
  private topDeterministic<V extends Value>(address: string, value: V): V {
    if (this.level !== 0) throw wrongContextError(this, address, 0);
    return this.deterministicSite(address, value);
  }
  private topParam(address: string, init: ValueLike | ((rng: Rng) => Value), constraint?: Constraint): Promise<Value> {
    return this.level === 0 ? this.paramSite(address, init, constraint) : this.wrongContext(address);
  }
  private topPlate<T>(name: string, size: number, fn: (indices: number[], plated: PlatedCtx) => Promise<T> | T, options?: PlateOptions): Promise<T> {
    return this.level === 0 ? this.plate(name, size, fn, options) : this.wrongContext(name);
  }
  private topScope<T>(prefix: string, fn: () => Promise<T> | T): Promise<T> {
    return this.level === 0 ? this.scope(prefix, fn) : this.wrongContext(prefix);
  }
  private topUnfold<S>(name: string, steps: number, init: S, kernel: UnfoldKernel<S>): Promise<S[]> {
    return this.level === 0 ? runUnfold(this, name, steps, init, kernel) : this.wrongContext(name);
  }
  private wrongContext(address: unknown): Promise<never> {
    return Promise.reject(wrongContextError(this, address, 0));
  }

  /** The context at unfold level `level` (0: the model's own). */
  contextAt(level: number): Ctx {
    if (level === 0) return this.ctx;
    // the unchecked effects, wrapped by each level's context (`core/unfold.ts`)
    this.raw ??= {
      sample: this.sampleEffect.bind(this) as Ctx['sample'],
      observe: this.observeEffect.bind(this) as Ctx['observe'],
      factor: this.factorEffect.bind(this),
      deterministic: this.deterministicSite.bind(this),
      param: this.paramSite.bind(this),
      plate: this.plate.bind(this),
      scope: this.scope.bind(this),
      unfold: ((name: string, steps: number, init: unknown, kernel: UnfoldKernel<unknown>) => runUnfold(this, name, steps, init, kernel)) as Ctx['unfold'],
      rng: this.rng,
    };
    const levels = (this.levels ??= []);
    return (levels[level] ??= guardedContext(this.raw, this, level));
  }

  private sampleEffect(address: string, dist: Distribution, options?: SampleOptions): Promise<Value> {
    return this.sampleSite(address, dist, undefined, options);
  }

  private observeEffect(address: string, dist: Distribution, value: ValueLike | null | undefined, options?: SampleOptions): Promise<Value> {
    const full = this.fullAddress(address);
    if (value === undefined || value === null) return this.missingObservation(address, full, dist, value, options);
    if (isPromise(value)) return Promise.reject(this.effectError(new ModelError(full, 'the observed value is a Promise — did you forget `await` (e.g. on a `sample` call)?')));
    let v: Value;
    try {
      v = toValue(value, `site "${full}"`);
    } catch (err) {
      return Promise.reject(this.effectError(err));
    }
    return this.sampleSite(address, dist, v, options);
  }

  /**
   * An `observe` with no value: a draw where a handler redraws the site
   * anyway (`uncondition`, under `Posterior.predictive`), so that predicting
   * at new inputs needs no invented data; else an error naming the site.
   */
  private missingObservation(address: string, full: string, dist: Distribution, value: null | undefined, options?: SampleOptions): Promise<Value> {
    const probe = this.newMessage('sample', full, undefined, true, options);
    probe.dist = dist;
    if (this.stack.some((h) => h.drawsObserved?.(probe) === true)) return this.sampleSite(address, dist, undefined, options);
    return Promise.reject(
      this.effectError(
        new ModelError(
          full,
          `observe needs a value, got ${value === null ? 'null' : 'undefined'}: inference conditions on every observed site's data. (To predict at new inputs, leave it out only there: posterior.predictive(n, { args: [xNew] }) draws an observed site given no value.)`,
        ),
      ),
    );
  }

  private async factorEffect(address: string, logWeight: ValueLike): Promise<void> {
    try {
      const full = this.fullAddress(address);
      if (isPromise(logWeight)) throw new ModelError(full, 'the log-weight is a Promise — did you forget `await`?');
      await this.factorSite(address, toValue(logWeight, `factor "${full}"`));
    } catch (err) {
      throw this.effectError(err);
    }
  }

  /**
   * Run the model. Errors from tyche's effects pass through unchanged; an
   * invalid distribution parameter says where it was raised; anything else
   * the model's code throws becomes a {@link ModelCodeError} naming the model
   * and the last site reached (the original is its `cause`).
   */
  run(args: A): Promise<R> {
    // (through tycheModelBody: a model that starts an inference is seen to, `model-body.ts`)
    const out = tycheModelBody(this.m.fn, this.ctx, args, this.mark);
    const finish = (r: R): R => {
      this.over = true;
      this.checkSettled();
      for (const h of this.stack) h.finish?.(this.seen);
      return r;
    };
    return out.then(finish, (err: unknown) => {
      this.over = true;
      return Promise.reject(this.userError(err));
    });
  }

  /**
   * At the model's return: an effect still running, or one that failed
   * while the model went on, means a call that was not awaited (a failure
   * the model awaited would have ended it); either is an error naming the
   * site, the same whichever handlers made the effect asynchronous.
   */
  private checkSettled(): void {
    const notAwaited = 'the model returned while this site was still being evaluated: an `observe` or `sample` that was not awaited. Write `await observe(...)` (in a loop, `for ... of` with `await`, not `forEach(async ...)`; several at once: `await Promise.all([...])`)';
    if (this.inFlight > 0) throw new ModelError(this.lastInFlight!, notAwaited);
    if (this.failures && this.failures.length > 0) {
      const err = this.failures[0];
      if (err instanceof Error) err.message += ' (the model went on after this site failed and returned normally: was the call awaited?)';
      throw err;
    }
  }

  /** Remember an error raised by one of tyche's effects (it passes through {@link run} unchanged); returns it. */
  private effectError(err: unknown): unknown {
    (this.effectErrors ??= new Set()).add(err);
    if (err instanceof InvalidParameterError && this.lastSite !== undefined) err.locate(this.m.name, undefined, this.lastSite);
    return err;
  }

  /** An error that reached the top of the model, with the model and position named. */
  private userError(err: unknown): unknown {
    if (this.effectErrors?.has(err) || err instanceof ModelError || err instanceof ModelCodeError) return err;
    if (err instanceof InvalidParameterError) return err.locate(this.m.name, this.lastSite);
    return new ModelCodeError(this.m.name, this.lastSite, err);
  }

  private fullAddress(address: string): string {
    return this.prefix + address;
  }

  private claim(address: string): string {
    if (typeof address !== 'string' || address.length === 0) throw new TypeError(`address must be a non-empty string, got ${describe(address)}`);
    const full = this.prefix + address;
    if (this.seen.has(full)) {
      throw new ModelError(full, 'duplicate address in one execution (make addresses unique inside loops, e.g. `x${i}`, or use scope/plate)');
    }
    this.seen.add(full);
    this.lastSite = full;
    return full;
  }

  private newMessage(type: SiteType, address: string, value: Value | undefined, observed: boolean, options: SampleOptions = {}): Message {
    let scale = 1;
    for (const p of this.plates) if (p.subsampleSize !== p.size) scale *= p.size / p.subsampleSize;
    return { type, address, value, observed, scale, mask: true, plates: this.plates, options, stop: false };
  }

  /**
   * Send a message through the stack; `fill` supplies the default value and
   * log density. Runs synchronously until a hook returns a promise, and only
   * then continues asynchronously (most handlers are synchronous, and an
   * await per site is measurable in enumeration).
   */
  private apply(msg: Message, fill: (msg: Message) => void): void | Promise<void> {
    const stack = this.stack;
    let last = stack.length - 1;
    for (let i = 0; i < stack.length; i++) {
      const h = stack[i];
      if (h.process) {
        const r = h.process(msg);
        if (isPromise(r)) return this.applyAsync(msg, fill, i, r);
      }
      if (msg.stop) {
        last = i;
        break;
      }
    }
    fill(msg);
    for (let i = 0; i <= last; i++) {
      const h = stack[i];
      if (h.postprocess) {
        const r = h.postprocess(msg);
        if (isPromise(r)) return this.postprocessAsync(msg, i, last, r);
      }
    }
  }

  /** The rest of {@link apply} after `process` hook `i` returned `pending`. */
  private async applyAsync(msg: Message, fill: (msg: Message) => void, i: number, pending: Promise<unknown>): Promise<void> {
    await pending;
    const stack = this.stack;
    let last = stack.length - 1;
    if (msg.stop) last = i;
    else {
      for (let j = i + 1; j < stack.length; j++) {
        const h = stack[j];
        if (h.process) {
          const r = h.process(msg);
          if (isPromise(r)) await r;
        }
        if (msg.stop) {
          last = j;
          break;
        }
      }
    }
    fill(msg);
    for (let j = 0; j <= last; j++) {
      const h = stack[j];
      if (h.postprocess) {
        const r = h.postprocess(msg);
        if (isPromise(r)) await r;
      }
    }
  }

  /** The rest of the postprocess phase after hook `i` returned `pending`. */
  private async postprocessAsync(msg: Message, i: number, last: number, pending: Promise<unknown>): Promise<void> {
    await pending;
    for (let j = i + 1; j <= last; j++) {
      const h = this.stack[j];
      if (h.postprocess) {
        const r = h.postprocess(msg);
        if (isPromise(r)) await r;
      }
    }
  }

  private sampleSite(address: string, dist: Distribution, observedValue: Value | undefined, options?: SampleOptions): Promise<Value> {
    try {
      const full = this.claim(address);
      if (!(dist instanceof Distribution)) throw new ModelError(full, `expected a distribution, got ${describe(dist)}`);
      // parameters that do not broadcast (8 thetas, 7 sigmas): the distribution deferred its error to its site
      const shapeError = parameterShapeError(dist);
      if (shapeError) throw new ModelError(full, shapeError.message, { cause: shapeError });
      let d = this.plates.length ? expandToPlates(full, dist, this.plates) : dist;
      const observed = observedValue !== undefined;
      if (observed) d = fitObserved(full, d, observedValue, this.batch !== undefined);
      const msg = this.newMessage('sample', full, observedValue, observed, options);
      msg.dist = d;
      // a site a handler made observed (`condition`) is checked against its data's shape as `observe` checks it
      const pending = this.apply(
        msg,
        observed
          ? (m) => this.fillSample(m)
          : (m) => {
              if (m.observed && m.value !== undefined) fitObserved(full, m.dist as Distribution, m.value);
              this.fillSample(m);
            },
      );
      const onString = this.batch?.onDrawString;
      if (!pending) return Promise.resolve(guardArithmetic(msg.value as Value, full, onString));
      // held until it settles (see checkSettled): an effect still running when the model returns was not awaited
      this.inFlight++;
      this.lastInFlight = full;
      const out: { promise?: Promise<Value> } = {};
      out.promise = this.settleSite(pending, msg, full, onString, out);
      return out.promise;
    } catch (err) {
      return this.isOver() ? abandoned<Value>() : this.failed(Promise.reject(this.effectError(err)));
    }
  }

  /**
   * The rest of a sample site whose handlers went asynchronous: its value
   * once `pending` settles. An async function that awaits `pending` (not
   * `pending.then`), and its promise (`out.promise`) gets no reaction of
   * tyche's own until it fails: the model's `await` is its only one, so
   * V8's async stack trace of a handler's continuation runs through the
   * model's code to `tycheModelBody` (program SMC reads that when it drops a
   * particle, `awaitedByModelBody`; V8 follows no `.then` and stops at a
   * promise with two reactions). A failure is recorded and its promise
   * watched as {@link failed} does.
   */
  private async settleSite(pending: Promise<void>, msg: Message, full: string, onString: ((address: string) => void) | undefined, out: { promise?: Promise<Value> }): Promise<Value> {
    try {
      await pending;
    } catch (err) {
      this.inFlight--;
      if (this.isOver()) return abandoned<Value>();
      throw this.watched(this.effectError(err), out.promise);
    }
    this.inFlight--;
    try {
      return guardArithmetic(msg.value as Value, full, onString);
    } catch (err) {
      throw this.watched(err, out.promise);
    }
  }

  /** `err`, recorded as {@link failed} records it, with `promise` (which will reject with it) watched. */
  private watched(err: unknown, promise: Promise<unknown> | undefined): unknown {
    (this.failures ??= []).push(err);
    promise?.catch(() => undefined);
    return err;
  }

  /**
   * A failed effect's promise, watched: if the model does not await it, the
   * failure is not an unhandled rejection (which ends a Node process) but
   * is raised by {@link run} when the model returns.
   */
  private failed<T>(p: Promise<T>): Promise<T> {
    p.catch((err: unknown) => {
      (this.failures ??= []).push(err);
    });
    return p;
  }

  /** Draw (if no handler gave a value) and score a sample site; a raw error from the distribution's code is named by site and distribution. */
  private fillSample(msg: Message): void {
    try {
      this.drawAndScore(msg);
    } catch (err) {
      if (isTycheError(err) || !(err instanceof Error)) throw err;
      throw new ModelError(msg.address, `${(msg.dist as Distribution).name} failed to ${msg.value === undefined ? 'draw a value' : 'score the value'}: ${err.name}: ${err.message}`, { cause: err });
    }
  }

  private drawAndScore(msg: Message): void {
    const dist = msg.dist as Distribution;
    const numeric = this.m.numericSites;
    const wasNumeric = numeric.get(msg.address) === true;
    if (msg.value === undefined) {
      if ((dist as { improper?: boolean }).improper === true && !improperDrawsAllowed()) {
        throw new ModelError(msg.address, `improper prior at site "${msg.address}" cannot be sampled (${dist.name} has no normalised density): use an engine that needs only the log density (nuts, hmc, vi), condition the site, or give it a proper prior`);
      }
      const rng = msg.rng ?? this.rng;
      msg.value = this.batch ? this.drawBatched(msg.address, dist, rng) : wasNumeric ? untidied(msg.address, numeric, () => dist.sample(rng)) : tidyValue(() => dist.sample(rng));
    }
    if (msg.logProb === undefined) {
      const value = msg.value;
      // (never untidied in a batched run: its parameters are particle-axis tensors, whatever a run with numbers saw)
      const lp = wasNumeric && typeof value === 'number' && !this.batch ? untidied(msg.address, numeric, () => dist.logProb(value)) : tidyValue(() => dist.logProb(value));
      if (!wasNumeric && typeof value === 'number' && typeof lp === 'number') numeric.set(msg.address, true);
      msg.logProb = lp;
      if (this.checkNaN && hasNaN(lp)) {
        throw new ModelError(msg.address, `log density of ${dist.name} is NaN at value ${fmtValue(msg.value)} (${msg.observed ? nanHint(msg.value) : 'check the parameters for NaN'})`);
      }
    }
  }

  /**
   * A batched draw: `size` independent draws in a leading axis, with the
   * reserved plate dimensions inserted between it and the distribution's batch.
   * A distribution whose batch already leads with the particle axis (its
   * parameters are batched values) is drawn once.
   */
  private drawBatched(address: string, dist: Distribution, rng: Rng): Value {
    const { size, plateNesting } = this.batch as BatchOptions;
    const b = dist.batchShape;
    if (b.length === plateNesting + 1 && b[0] === size) return tf.tidy(() => dist.sample(rng) as tf.Tensor);
    if (b.length > plateNesting) {
      throw new ModelError(address, `batch shape [${b.join(', ')}] of ${dist.name} has more dimensions than the ${plateNesting} reserved for plates; raise plateNesting`);
    }
    const draw = tf.tidy(() => dist.sample(rng, [size]) as tf.Tensor);
    const pad = new Array<number>(plateNesting - b.length).fill(1);
    const shape = [size, ...pad, ...b, ...dist.eventShape];
    if (pad.length === 0) return draw;
    const out = tfReshape(draw, shape);
    draw.dispose();
    return out;
  }

  private async factorSite(address: string, logWeight: Value): Promise<void> {
    const full = this.claim(address);
    if (this.checkNaN && hasNaN(logWeight)) throw new ModelError(full, 'factor log-weight is NaN (a tf.logSumExp whose terms are all -Infinity gives NaN in tfjs: use ops.logSumExp, which gives -Infinity there)');
    const msg = this.newMessage('factor', full, logWeight, true);
    msg.logProb = logWeight;
    await this.apply(msg, () => {});
  }

  private deterministicSite<V extends Value>(address: string, value: V): V {
    try {
      return this.recordDeterministic(address, value);
    } catch (err) {
      throw this.effectError(err);
    }
  }

  private recordDeterministic<V extends Value>(address: string, value: V): V {
    const full = this.claim(address);
    const msg = this.newMessage('deterministic', full, value, false);
    msg.logProb = 0;
    // deterministic sites are recorded synchronously: handlers' hooks must not be async here
    for (const h of this.stack) {
      if (h.process) h.process(msg);
      if (msg.stop) break;
    }
    for (const h of this.stack) {
      if (h.postprocess) h.postprocess(msg);
      if (msg.stop) break;
    }
    return msg.value as V;
  }

  private async paramSite(address: string, init: ValueLike | ((rng: Rng) => Value), constraint?: Constraint): Promise<Value> {
    try {
      const full = this.claim(address);
      const msg = this.newMessage('param', full, undefined, false);
      msg.constraint = constraint;
      msg.logProb = 0;
      await this.apply(msg, (m) => {
        if (m.value === undefined) m.value = typeof init === 'function' ? init(m.rng ?? this.rng) : toValue(init, `param "${full}"`);
      });
      return msg.value as Value;
    } catch (err) {
      throw this.effectError(err);
    }
  }

  private async plate<T>(name: string, size: number, fn: (indices: number[], plated: PlatedCtx) => Promise<T> | T, options: PlateOptions = {}): Promise<T> {
    if (!Number.isInteger(size) || size <= 0) throw new RangeError(`plate "${name}": size must be a positive integer, got ${size}`);
    if (this.plates.some((p) => p.name === name)) throw new TycheError(`plate "${name}" is already open`);
    let requested = options.subsample;
    const hook = this.m.subsampling;
    if (hook && requested !== undefined && (Array.isArray(requested) ? requested.length : requested) !== size) {
      try {
        // a bad option is its own error, before an engine's hook decides (a refusal would quote it as a subsample)
        checkSubsample(name, size, requested);
        requested = hook(name, size, requested);
      } catch (err) {
        throw this.effectError(err);
      }
    }
    const indices = subsampleIndices(name, size, requested, this.rng);
    const used = new Set(this.plates.map((p) => p.dim));
    let dim = options.dim ?? -1;
    if (options.dim === undefined) while (used.has(dim)) dim -= 1;
    else if (used.has(dim)) throw new TycheError(`plate "${name}": dim ${dim} is already used by another plate`);
    const frame: PlateFrame = { name, size, subsampleSize: indices.length, dim, indices };
    const saved = this.plates;
    this.plates = [...saved, frame];
    try {
      return await fn(indices, this.contextAt(this.level) as unknown as PlatedCtx);
    } finally {
      this.plates = saved;
    }
  }

  private async scope<T>(prefix: string, fn: () => Promise<T> | T): Promise<T> {
    const saved = this.prefix;
    this.prefix = `${saved}${prefix}/`;
    try {
      return await fn();
    } finally {
      this.prefix = saved;
    }
  }
}

/** Run a distribution method, freeing its intermediate tensors (numbers pass through untouched). */
/**
 * Run a distribution method without a tfjs scope, for a site that computed
 * with plain numbers last time. If it creates tensors after all (its
 * parameters became tensors), the site is marked so that later calls are
 * tidied again; the intermediate tensors of this one call are not freed.
 */
function untidied(address: string, numeric: Map<string, boolean>, f: () => Value): Value {
  const state = (tf.engine() as unknown as { state: { numTensors: number } }).state;
  const before = state.numTensors;
  const out = f();
  if (typeof out !== 'number' || state.numTensors !== before) numeric.set(address, false);
  return out;
}

function tidyValue(f: () => Value): Value {
  let out: Value = 0;
  const t = tf.tidy(() => {
    out = f();
    return typeof out === 'number' ? undefined : out;
  });
  return t ?? out;
}

function tfReshape(x: tf.Tensor, shape: number[]): tf.Tensor {
  return tf.reshape(x, shape);
}

/**
 * The indices a plate takes: all of them, the explicit ones given (checked),
 * or a uniformly random subset of `subsample` of them drawn from `rng`.
 */
export function subsampleIndices(name: string, size: number, subsample: number | number[] | undefined, rng: Rng): number[] {
  if (subsample === undefined) return Array.from({ length: size }, (_, i) => i);
  checkSubsample(name, size, subsample);
  if (Array.isArray(subsample)) return subsample;
  // partial Fisher-Yates: a uniformly random subset, in random order
  const idx = Array.from({ length: size }, (_, i) => i);
  for (let i = 0; i < subsample; i++) {
    const j = i + rng.int(size - i);
    [idx[i], idx[j]] = [idx[j], idx[i]];
  }
  return idx.slice(0, subsample);
}

/** Throws a RangeError naming the plate where a `subsample` option is not a size in 1..size or indices in 0..size-1. */
function checkSubsample(name: string, size: number, subsample: number | number[]): void {
  if (Array.isArray(subsample)) {
    for (const i of subsample) if (!Number.isInteger(i) || i < 0 || i >= size) throw new RangeError(`plate "${name}": subsample index ${i} is outside 0..${size - 1}`);
  } else if (!Number.isInteger(subsample) || subsample <= 0 || subsample > size) {
    throw new RangeError(`plate "${name}": subsample size must be an integer in 1..${size}, got ${subsample}`);
  }
}

/** Expand a distribution's batch so that each enclosing plate's dimension has the plate's size. */
function expandToPlates(address: string, dist: Distribution, plates: readonly PlateFrame[]): Distribution {
  const batch = [...dist.batchShape];
  const need = Math.max(batch.length, ...plates.map((p) => -p.dim));
  while (batch.length < need) batch.unshift(1);
  for (const p of plates) {
    const i = batch.length + p.dim;
    if (batch[i] !== 1 && batch[i] !== p.subsampleSize) {
      throw new ModelError(address, `batch shape [${dist.batchShape.join(', ')}] of ${dist.name} does not fit plate "${p.name}" of size ${p.subsampleSize} at dim ${p.dim}`);
    }
    batch[i] = p.subsampleSize;
  }
  if (batch.length === dist.batchShape.length && batch.every((d, i) => d === dist.batchShape[i])) return dist;
  // size-1 dimensions of the batch broadcast to the plate's size (e.g. a batched latent of shape [chains, 1])
  return dist.expand(batch);
}

/**
 * What to check where an observed site's log density is NaN: the value itself
 * where it holds a NaN (a missing entry of the data, e.g. `tf.tensor1d([1, undefined])`
 * or a blank CSV cell), else the parameters.
 */
function nanHint(value: unknown): string {
  if (typeof value === 'number' || isTensor(value)) {
    const d = typeof value === 'number' ? [value] : value.dataSync();
    const i = Array.prototype.findIndex.call(d, (v: number) => Number.isNaN(v));
    if (i >= 0) return `the value itself is NaN${typeof value === 'number' ? '' : ` at flat element ${i}`}: a missing data entry? drop it (with its covariates) or make it a latent site`;
  }
  return 'check the parameters for NaN';
}

/**
 * Check an observed value against a distribution's shape. A value with extra
 * leading dimensions (a vector of i.i.d. observations of a scalar
 * distribution) expands the distribution's batch; any other mismatch is an
 * error naming the site and both shapes. In a batched run (`batched`), the
 * batch's size-1 dimensions (the reserved plate dimensions of a draw
 * `[N, 1]`) also expand to the value's, as they would broadcast.
 */
function fitObserved(address: string, dist: Distribution, value: Value, batched = false): Distribution {
  // the common scalar case, without allocating shapes
  if (typeof value === 'number' && dist.batchShape.length === 0 && dist.eventShape.length === 0) return dist;
  const want = dist.shape();
  const have = shapeOf(value);
  const extra = have.length - want.length;
  if (extra > 0 && want.every((d, i) => d === have[extra + i])) {
    return dist.expand([...have.slice(0, extra), ...dist.batchShape]);
  }
  let ok = true;
  try {
    const b = broadcastShapes(have, want);
    ok = b.length === want.length && b.every((d, i) => d === want[i]);
    const event = dist.eventShape.length;
    if (!ok && batched && b.length === want.length && b.slice(b.length - event).every((d, i) => d === want[want.length - event + i])) {
      return dist.expand(b.slice(0, b.length - event));
    }
  } catch {
    ok = false;
  }
  if (!ok) {
    throw new ModelError(address, `observed value of shape [${have.join(', ')}] does not match ${dist.name} of shape [${want.join(', ')}] (batch [${dist.batchShape.join(', ')}], event [${dist.eventShape.join(', ')}])`);
  }
  // an array with a size-1 axis where the distribution has more (data of length 1 in a plate of 5) would count each
  // value many times over, silently; a plain number (or a 0-d tensor) still broadcasts, on purpose
  const off = want.length - have.length;
  if (!batched && have.some((d, i) => d === 1 && want[off + i]! > 1)) {
    const times = want.reduce((a, d) => a * d, 1) / have.reduce((a, d) => a * d, 1);
    throw new ModelError(
      address,
      `observed value of shape [${have.join(', ')}] would be counted ${times} times against ${dist.name} of shape [${want.join(', ')}] (batch [${dist.batchShape.join(', ')}], event [${dist.eventShape.join(', ')}]): data of the wrong length? Give one value per element, or a plain number to repeat one value on purpose`,
    );
  }
  return dist;
}

function fmtValue(v: Value | undefined): string {
  if (v === undefined) return 'undefined';
  if (typeof v === 'number') return String(v);
  return isTensor(v) && v.size <= 8 ? `[${Array.from(v.dataSync()).join(', ')}]` : describe(v);
}

/**
 * Make JavaScript arithmetic on a tensor draw fail loudly at its site.
 * Under gradient engines (nuts, hmc, hmc-gibbs, vi, svgd, neutra) and in
 * batched runs a draw whose static type is `number` is a tfjs tensor, and
 * `1 - p` or `mu + 1` would silently give NaN or a string. Converting the
 * tensor to a string (templates, `String(t)`) still works, and is reported
 * to `onString` (see `BatchOptions.onDrawString`).
 */
function guardArithmetic(v: Value, address: string, onString?: (address: string) => void): Value {
  if (typeof v === 'number' || Object.prototype.hasOwnProperty.call(v, Symbol.toPrimitive)) return v;
  Object.defineProperty(v, Symbol.toPrimitive, {
    configurable: true,
    value(this: tf.Tensor, hint: string): string {
      if (hint === 'string') {
        onString?.(address);
        return this.toString();
      }
      throw new ModelError(
        address,
        `this draw is a tensor of shape [${this.shape.join(', ')}] here (gradient-based and batched engines run the model on tensors), ` +
          'so JavaScript arithmetic or comparison on it (`1 - x`, `x + 1`, `Math.exp(x)`, `x > 0`) would silently give NaN or a string; ' +
          "use tyche's ops, which take numbers and tensors alike: ops.sub(1, x), ops.add(x, 1), ops.exp(x), ops.gt(x, 0)",
      );
    },
  });
  return v;
}

/**
 * Whether an effect that fails after its run settled or was abandoned is left
 * unsettled (see `Execution.over`). Internal: tests set it false to plant the
 * earlier behaviour.
 */
export const lateEffects = { abandon: true };

/** A promise that never settles (an effect of a run that is over: see `Execution.over`). */
function abandoned<T>(): Promise<T> {
  return new Promise<T>(() => undefined);
}
