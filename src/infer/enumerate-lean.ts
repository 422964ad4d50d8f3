/**
 * The lean runtime of sequential enumeration: a model context made for the
 * depth-first walk over execution paths, in place of the general effect
 * runtime (handler stack, messages, traces).
 *
 * An async function cannot be forked, so every path re-runs the model from
 * its start. The walk changes one choice per path (the last one that can
 * advance); everything the model does before that choice is the same as on
 * the previous path. So the sites before it are *replayed*: the context hands
 * back the recorded value and does nothing else (no support, no log density,
 * no bookkeeping); the log weight, the recorded values and the set of used
 * addresses are restored from marks taken when that choice was first
 * reached. New choice points compute their support and the log mass of every
 * value once (a node of the choice tree), and their siblings reuse it. Log
 * weights are float64 numbers; nothing is allocated per site on replay, and
 * a path's draw is built only when it ends with positive probability.
 *
 * So the cost of a path is the model's own code and one `await` per site,
 * plus the work of the sites after the choice that changed; the work of
 * scoring follows the number of nodes in the choice tree, as in WebPPL.
 *
 * It assumes what enumeration always assumes: the model is a deterministic
 * function of its choices. What it does not handle — a model with its own
 * handlers, `plate`, `param`, tensor-valued draws or observations, a NaN log
 * density, an error in the model's code — makes it give up
 * ({@link LEAN_FALLBACK}) so that the caller re-runs the whole enumeration on
 * the general runtime, which handles everything and names every error the
 * same way as before.
 *
 * @module
 */
import { callbackRunEnded, callbackRunStarted, tycheModelBody } from '../core/model-body.js';
import * as tf from '@tensorflow/tfjs-core';
import { ModelError, TycheError, rejectsPoint } from '../core/errors.js';
import type { Ctx, Model } from '../core/model.js';
import type { SampleOptions } from '../core/message.js';
import type { Rng } from '../core/rng.js';
import { type Value, type ValueLike, isTensor } from '../core/value.js';
import { BernoulliDistribution } from '../distributions/bernoulli.js';
import { BinomialDistribution } from '../distributions/binomial.js';
import { CategoricalDistribution } from '../distributions/categorical.js';
import { Distribution } from '../distributions/distribution.js';
import type { Pacer } from './pace.js';
import type { Draw } from './posterior.js';
import { type UnfoldKernel, guardedContext, runUnfold, wrongContextError } from '../core/unfold.js';

/** The walk's callbacks before it starts. */
function ignore(): void {}

/** Returned when the lean runtime cannot run this model (the caller uses the general runtime). */
export const LEAN_FALLBACK: unique symbol = Symbol('lean enumeration fallback');

/** Thrown into the model to stop a path (zero probability, or giving up); never seen outside. */
const STOP: unique symbol = Symbol('stop path');

/** An already resolved promise of nothing (what every `factor` returns). */
const RESOLVED: Promise<undefined> = Promise.resolve(undefined);

/** Resolved promises of the observations 0 and 1 (true and false), which most discrete models observe. */
const RESOLVED_ZERO: Promise<Value> = Promise.resolve(0);
const RESOLVED_ONE: Promise<Value> = Promise.resolve(1);

/** Resolved promises of the small counts 2..63 (count data: Poisson, Binomial observations), made on first use. */
const RESOLVED_COUNTS: (Promise<Value> | undefined)[] = [];

/** A resolved promise of an observed value, shared for 0, 1 and small counts, else undefined (`after` makes one). */
function resolvedObservation(v: number): Promise<Value> | undefined {
  if (v === 1) return RESOLVED_ONE;
  if (v === 0) return 1 / v > 0 ? RESOLVED_ZERO : undefined;
  // (a shared promise saves one allocation per observed count: 112 a run of the coal switchpoint)
  if (v > 1 && v < 64 && Number.isInteger(v)) return (RESOLVED_COUNTS[v] ??= Promise.resolve(v));
  return undefined;
}

/** Resolved promises of each value of a support (supports are shared, frozen arrays: made once per support). */
const resolvedCache = new WeakMap<readonly Value[], Promise<Value>[]>();

function resolvedValues(support: readonly Value[]): Promise<Value>[] {
  let out = resolvedCache.get(support);
  if (out === undefined) {
    out = support.map((v) => Promise.resolve(v));
    resolvedCache.set(support, out);
  }
  return out;
}

/**
 * Built-in families whose instances never change after construction (their
 * parameters are numbers, frozen float64 tables or tensors): the log masses of
 * a choice node made from one of them hold for every later node made from the
 * same object. (A user's own `Distribution` subclass may read state that
 * changes, so it is scored afresh at every node.)
 */
const IMMUTABLE_FAMILIES: ReadonlySet<unknown> = new Set([CategoricalDistribution, BernoulliDistribution, BinomialDistribution]);

/** A choice node's support, the log mass of each value, and each value as a resolved promise (never changed once made). */
interface NodeTable {
  readonly support: Value[];
  readonly lps: Float64Array;
  readonly resolved: Promise<Value>[];
}

/**
 * The node table of each immutable built-in distribution object scored on the
 * number path, for every later walk: `Bernoulli(p)` and `Categorical(probs)`
 * return one shared object per parameter, so a small model called in a loop
 * (burglary: four alarm nodes per call) scores each of its nodes once.
 */
const nodeTables = new WeakMap<Distribution, NodeTable>();

/** The finite support of a latent site's distribution, or a `ModelError` naming the site. */
export function enumerableSupport(address: string, dist: Distribution): Value[] {
  const support = dist.enumerateSupport();
  if (support === undefined) {
    const why = !dist.isDiscrete
      ? `${dist.name} is continuous; exact enumeration needs every latent site to be finite and discrete (use importance, smc or mcmc)`
      : dist.eventShape.length > 0
        ? `${dist.name} has vector values (event shape [${dist.eventShape.join(', ')}]), which enumeration does not list; use importance, smc or mcmc`
        : dist.batchShape.length > 0
          ? `${dist.name} with batch shape [${dist.batchShape.join(', ')}] cannot be enumerated as one site (only scalar sites can); give each element a site of its own (\`x\${i}\` in a loop)`
          : `${dist.name} has no finite support to enumerate (its support is ${dist.support.name}); truncate it (Truncated(d, { high })) or use importance, smc or mcmc`;
    throw new ModelError(address, why);
  }
  if (support.length === 0) throw new ModelError(address, `${dist.name} has an empty support`);
  return support;
}

/** Result of a lean walk. */
export interface LeanWalk<R> {
  readonly draws: Draw<R>[];
  readonly executions: number;
  readonly pruned: number;
}

/** Limits of a walk. */
export interface LeanLimits {
  readonly maxExecutions: number;
  readonly maxSites: number;
}

const engineState = (): { numTensors: number } => (tf.engine() as unknown as { state: { numTensors: number } }).state;

/**
 * Depth-first enumeration of a model's paths on the lean runtime
 * (`walk`), or exact float64 scoring of given paths (`score`, used by the
 * parallel strategy to rescore the paths its vectorised run found possible).
 */
export class LeanEnumerator<A extends unknown[], R> {
  // the walk: choice indices and support sizes along the current path
  private readonly path: number[] = [];
  // per choice depth, valid for the current prefix: support, log mass of each value, and marks
  private readonly supports: Value[][] = [];
  private readonly lps: Float64Array[] = [];
  private readonly resolved: Promise<Value>[][] = [];
  /**
   * Per choice depth: the distribution object whose support and log masses
   * `supports`/`lps` hold, when they may be reused for a later node at that
   * depth made from the same object (an immutable built-in scored on the
   * number path; see `IMMUTABLE_FAMILIES`), else undefined. Factories
   * such as `Categorical(probs)` return one shared object per parameter, so
   * in a model like n dice every node below the first reuses one table.
   */
  private readonly nodeDist: (Distribution | undefined)[] = [];
  /** Per choice depth: the resolved promise of the current path's value there (what a replayed site returns). */
  private readonly current: Promise<Value>[] = [];
  private readonly weightBefore: number[] = [];
  private readonly recordBefore: number[] = [];
  private readonly sitesBefore: number[] = [];
  // the recorded latent and deterministic values of the current path, in visit order
  private readonly recAddress: string[] = [];
  private readonly recValue: Value[] = [];
  private recLength = 0;
  // addresses by site ordinal: the current path's first `siteCount`, then the rest of the previous path's
  private readonly siteAddress: string[] = [];
  private siteCount = 0;
  /** Sites of the previous path, each checked for duplicates. */
  private previousCount = 0;
  /**
   * True while every site of this path has had the previous path's address
   * at the same position: the addresses so far are then those of a prefix
   * already checked, and a new site needs no duplicate check.
   */
  private matching = true;
  /** The current path's addresses as a set, built when it first differs from the previous path. */
  private seen: Set<string> | undefined;

  /** Choice index changed by the last advance (sites before it replay); -1: nothing to replay. */
  private replayUntil = -1;
  private depth = 0;
  private sites = 0;
  private weight = 0;
  /** The prefix of every address now (`scope`'s). */
  prefix = '';
  private stopped: 'pruned' | 'fallback' | undefined;
  /**
   * The current path's weight reached zero: it runs on (cheaply, nothing is
   * scored) until its next choice point or its end, where it is dropped. A
   * condition at the end of a model so costs no exception.
   */
  private dead = false;
  private aborted: { reason: unknown } | undefined;
  /** In `score` mode: the value of each latent site by address. */
  private fixed: ReadonlyMap<string, Value> | undefined;
  /** With every latent value given (`score`): the address whose distribution the run keeps in `watched`. */
  watch: string | undefined;
  /** The distribution of the site `watch` names in the last run that reached it (Gibbs reads its support from it). */
  watched: Distribution | undefined;
  private readonly ctx: Ctx;
  /** The model's call arguments: the context, then `args` (one array for every path). */
  private readonly call: unknown[];

  /**
   * @param m - the model (it must have no handlers of its own: see {@link LeanEnumerator.handles})
   * @param args - its arguments
   * @param rng - the random stream the model may read as `ctx.rng`
   * @param pace - paces long walks and long executions, and carries the abort signal
   * @param maxSites - most `sample`/`factor` sites one execution may visit
   */
  constructor(
    private readonly m: Model<A, R>,
    private readonly args: A,
    rng: Rng,
    private readonly pace: Pacer,
    private readonly maxSites: number,
  ) {
    const self = this;
    const numeric = m.numericSites;
    this.call = [undefined, ...args];
    this.numeric = numeric;
    this.rng = rng;
    // the model's own context: each effect checks the unfold level inline (0: no unfold step open), so a
    // walk without an unfold pays one comparison and no extra call; the kernels' contexts wrap the
    // unchecked effects (`raw`, made when an unfold runs: `core/unfold.ts`)
    this.ctx = {
      sample(address: string, dist: Distribution) {
        // the hot case: a replayed site (see `latent`), inline; sites are counted for pacing only,
        // since a replayed prefix visits no more sites than the path that first reached it
        const k = self.depth;
        if (k < self.replayUntil && self.stopped === undefined && self.level === 0 && (++self.sites & 31) !== 0) {
          self.depth = k + 1;
          return self.current[k] as never;
        }
        return (self.level === 0 ? self.latent(address, dist, numeric) : self.wrongContext(address)) as never;
      },
      observe(address: string, dist: Distribution, value: ValueLike, _options?: SampleOptions) {
        return (self.level === 0 ? self.observed(address, dist, value, numeric) : self.wrongContext(address)) as never;
      },
      factor(address: string, logWeight: ValueLike) {
        return self.level === 0 ? self.factorSite(address, logWeight) : self.wrongContext(address);
      },
      deterministic<V extends Value>(address: string, value: V): V {
        if (self.level !== 0) throw wrongContextError(self, address, 0);
        self.deterministicSite(address, value);
        return value;
      },
      param() {
        return self.giveUp();
      },
      plate() {
        return self.giveUp();
      },
      scope<T>(prefix: string, fn: () => Promise<T> | T): Promise<T> {
        return self.level === 0 ? self.scope(prefix, fn) : self.wrongContext(prefix);
      },
      unfold<S>(name: string, steps: number, init: S, kernel: UnfoldKernel<S>): Promise<S[]> {
        return self.level === 0 ? runUnfold(self, name, steps, init, kernel) : self.wrongContext(name);
      },
      rng,
    };
    this.call[0] = this.ctx;
  }

  /** The model's numeric sites and the walk's random stream (for the unchecked effects, made when an unfold runs). */
  private readonly numeric: Map<string, boolean>;
  private readonly rng: Rng;
  /** The unchecked effects of this walk's context (made when an unfold runs). */
  private raw: Ctx | undefined;

  private wrongContext(address: unknown): Promise<never> {
    return Promise.reject(wrongContextError(this, address, 0));
  }

  /** The unchecked effects, wrapped by each unfold level's context. */
  private rawEffects(): Ctx {
    const self = this;
    const numeric = this.numeric;
    return (this.raw ??= {
      sample(address: string, dist: Distribution) {
        return self.latent(address, dist, numeric) as never;
      },
      observe(address: string, dist: Distribution, value: ValueLike, _options?: SampleOptions) {
        return self.observed(address, dist, value, numeric) as never;
      },
      factor(address: string, logWeight: ValueLike) {
        return self.factorSite(address, logWeight);
      },
      deterministic<V extends Value>(address: string, value: V): V {
        self.deterministicSite(address, value);
        return value;
      },
      param() {
        return self.giveUp();
      },
      plate() {
        return self.giveUp();
      },
      scope<T>(prefix: string, fn: () => Promise<T> | T): Promise<T> {
        return self.scope(prefix, fn);
      },
      unfold<S>(name: string, steps: number, init: S, kernel: UnfoldKernel<S>): Promise<S[]> {
        return runUnfold(self, name, steps, init, kernel);
      },
      rng: this.rng,
    });
  }
  /** The level of the context that may take effects now (0: the model's own; one more per open unfold step). */
  level = 0;
  /** The open unfold steps (for messages). */
  readonly openSteps: { readonly name: string; readonly t: number }[] = [];
  /** The contexts handed to unfold kernels, by level. */
  private levels: Ctx[] = [];

  /** The context at unfold level `level` (0: the model's own). */
  contextAt(level: number): Ctx {
    if (level === 0) return this.ctx;
    return (this.levels[level] ??= guardedContext(this.rawEffects(), this, level));
  }

  /** Whether the lean runtime can try this model at all (no handlers of its own). */
  static handles(m: { readonly handlers: readonly unknown[] }): boolean {
    return m.handlers.length === 0;
  }

  /**
   * Enumerate every path depth-first; the draws with positive probability, or {@link LEAN_FALLBACK}.
   * Driven by callbacks on each path's promise rather than an `await` in a loop: no async frame is
   * resumed per path (~5-8% of dice n = 6). The callbacks are this object's methods, bound once
   * (`onDone`, `onFail`, `runPath`), not closures made per call: under a transpiler that keeps
   * function names (tsx, esbuild's `keepNames`), each named closure costs ~0.8 us to make, which was
   * a third of a small model's whole call (burglary).
   */
  walk(limits: LeanLimits): Promise<LeanWalk<R> | typeof LEAN_FALLBACK> {
    return new Promise((resolve, reject) => {
      this.limits = limits;
      this.resolveWalk = resolve;
      this.rejectWalk = reject;
      this.next();
    });
  }

  // the walk's state and callbacks (see `walk`)
  private limits: LeanLimits = { maxExecutions: 0, maxSites: 0 };
  private readonly draws: Draw<R>[] = [];
  private executions = 0;
  private pruned = 0;
  private resolveWalk: (outcome: LeanWalk<R> | typeof LEAN_FALLBACK) => void = ignore;
  private rejectWalk: (err: unknown) => void = ignore;
  private readonly onDone = this.pathReturned.bind(this);
  private readonly onFail = this.pathThrew.bind(this);
  private readonly runPath = this.run.bind(this);

  /** A path ended: keep its draw (or count it pruned), then run the next one or finish. */
  private handle(outcome: Draw<R> | undefined | typeof LEAN_FALLBACK): void {
    if (outcome === LEAN_FALLBACK) return this.resolveWalk(LEAN_FALLBACK);
    if (outcome === undefined) this.pruned++;
    else this.draws.push(outcome);
    if (!this.advance()) return this.resolveWalk({ draws: this.draws, executions: this.executions, pruned: this.pruned });
    this.next();
  }

  private pathReturned(value: R): void {
    callbackRunEnded();
    try {
      this.handle(this.completed(value));
    } catch (err) {
      this.rejectWalk(err);
    }
  }

  private pathThrew(err: unknown): void {
    callbackRunEnded();
    try {
      if (err === this.aborted?.reason) throw err;
      this.handle(this.failed(err));
    } catch (e) {
      this.rejectWalk(e);
    }
  }

  /** Start the next path, after a pause when one is due. */
  private next(): void {
    const limits = this.limits;
    if (++this.executions > limits.maxExecutions) return this.rejectWalk(new TycheError(`enumerate: more than ${limits.maxExecutions} executions; raise maxExecutions or use an approximate engine`));
    if ((this.executions & 63) === 0 && this.pace.due()) this.pace.pause().then(this.runPath, this.rejectWalk);
    else this.run();
  }

  /** Run the model once along the current path; its promise settles into `onDone` or `onFail`. */
  private run(): void {
    this.begin();
    let p: Promise<R> | R;
    // (an inference the model starts runs at once, not queued behind this one: core/model-body.ts)
    callbackRunStarted();
    try {
      p = (this.m.fn as (...a: unknown[]) => Promise<R> | R).apply(undefined, this.call);
    } catch (err) {
      this.onFail(err);
      return;
    }
    (p instanceof Promise ? p : Promise.resolve(p)).then(this.onDone, this.onFail);
  }

  /**
   * Score one path exactly on the number path: each latent site takes its
   * value from `values` (by address). The draw, undefined for a
   * zero-probability path, or {@link LEAN_FALLBACK}. A latent site missing
   * from `values` is an error naming it (`missing` says why).
   */
  async score(values: ReadonlyMap<string, Value>, missing: string): Promise<Draw<R> | undefined | typeof LEAN_FALLBACK> {
    this.fixed = values;
    this.missing = missing;
    this.replayUntil = -1;
    this.path.length = 0;
    try {
      return await this.runOnce();
    } finally {
      this.fixed = undefined;
    }
  }
  private missing = '';

  /** The addresses the last execution visited, in order. */
  addresses(): string[] {
    return this.siteAddress.slice(0, this.siteCount);
  }

  /**
   * Run the first path (every choice at its first value) to its end: the
   * number of latent sites it visited, or undefined when it stopped early
   * (zero probability before a later choice, an error) or the lean runtime
   * cannot run the model. (A probe: a model that runs here has no plates.)
   */
  async firstPath(): Promise<number | undefined> {
    this.replayUntil = -1;
    this.path.length = 0;
    this.begin();
    let returned = false;
    try {
      await tycheModelBody(this.m.fn, this.ctx, this.args);
      returned = true;
    } catch {
      // stopped early, or an error the general runtime will report
    }
    this.previousCount = this.siteCount;
    if (this.aborted) throw this.aborted.reason;
    return returned && this.stopped === undefined ? this.depth : undefined;
  }

  /** One execution of the model; its draw, undefined when pruned, or the fallback. */
  private async runOnce(): Promise<Draw<R> | undefined | typeof LEAN_FALLBACK> {
    this.begin();
    let returnValue: R;
    try {
      returnValue = await tycheModelBody(this.m.fn, this.ctx, this.args);
    } catch (err) {
      return this.failed(err);
    }
    return this.completed(returnValue);
  }

  /** Reset the per-execution state (what a replay restores is kept). */
  private begin(): void {
    this.level = 0;
    // (setting an array's length calls a builtin even when it is already 0: ~35 ns a path on dice n = 6)
    if (this.openSteps.length !== 0) this.openSteps.length = 0;
    this.depth = 0;
    this.sites = 0;
    this.prefix = '';
    this.stopped = undefined;
    this.dead = false;
    if (this.replayUntil < 0) {
      this.weight = 0;
      this.recLength = 0;
      this.siteCount = 0;
      this.matching = true;
      this.seen = undefined;
    }
  }

  /** The execution threw: pruned (zero probability) or the fallback. */
  private failed(err: unknown): undefined | typeof LEAN_FALLBACK {
    this.previousCount = this.siteCount;
    if (this.aborted) throw this.aborted.reason;
    if (this.stopped === 'fallback') return LEAN_FALLBACK;
    // (an error after the path died is not seen by the general runtime, which stops there)
    if (this.stopped === 'pruned' || this.dead || rejectsPoint(err)) return this.prune();
    // an error of the model's own (or one of ours worth naming the general way): the general runtime reports it
    return LEAN_FALLBACK;
  }

  /** The execution returned: its draw, or undefined when it died. */
  private completed(returnValue: R): Draw<R> | undefined | typeof LEAN_FALLBACK {
    this.previousCount = this.siteCount;
    if (this.aborted) throw this.aborted.reason;
    if (this.stopped === 'fallback') return LEAN_FALLBACK;
    // a model that caught the stop and returned anyway: the path is still dead
    if (this.stopped === 'pruned' || this.dead) return this.prune();
    const values: Record<string, Value> = {};
    for (let i = 0; i < this.recLength; i++) values[this.recAddress[i]] = this.recValue[i];
    this.replayUntil = -1;
    return { values, returnValue, logWeight: this.weight };
  }

  private prune(): undefined {
    this.replayUntil = -1;
    return undefined;
  }

  /** Move to the next path; false when the walk is complete. */
  private advance(): boolean {
    const path = this.path;
    // a pruned run may have stopped before the end of the stored path
    if (path.length !== this.depth) path.length = this.depth;
    while (path.length > 0 && path[path.length - 1] + 1 >= this.supports[path.length - 1].length) path.pop();
    if (path.length === 0) return false;
    path[path.length - 1] += 1;
    this.replayUntil = path.length - 1;
    return true;
  }

  /** Stop the current path: it has probability zero. */
  private pruneHere(): never {
    this.stopped = 'pruned';
    throw STOP;
  }

  /** Stop the walk: the general runtime must run this model. */
  private giveUp(): never {
    this.stopped ??= 'fallback';
    throw STOP;
  }

  /** Claim a new site's address (duplicates are errors) and count it; returns the full address. */
  private claim(address: string, counts: boolean): string {
    if (this.stopped !== undefined) throw STOP;
    if (typeof address !== 'string' || address.length === 0) this.giveUp();
    const full = this.prefix === '' ? address : this.prefix + address;
    const o = this.siteCount++;
    if (!(this.matching && o < this.previousCount && this.siteAddress[o] === full)) {
      this.matching = false;
      if (this.seen === undefined) this.seen = new Set(this.siteAddress.slice(0, o));
      if (this.seen.has(full)) this.giveUp();
      this.seen.add(full);
      this.siteAddress[o] = full;
    }
    if (counts) this.countSite();
    // the string first seen at this position (equal to `full`): a draw's record is keyed by it, and V8 makes a
    // string used as a key an alias of its interned copy, so later records skip the interning (a template
    // literal's address is a fresh string on every run)
    return this.siteAddress[o];
  }

  private countSite(): void {
    if (++this.sites > this.maxSites) this.giveUp();
  }

  /** After a site: yield to the event loop every 32 sites when due (a long execution stays abortable). */
  private after<V>(value: V, resolved?: Promise<V>): Promise<V> {
    if ((this.sites & 31) === 0 && this.pace.due()) {
      return this.pace.pause().then(
        () => value,
        (reason: unknown) => {
          this.aborted = { reason };
          this.stopped = 'fallback';
          throw STOP;
        },
      );
    }
    return resolved ?? Promise.resolve(value);
  }

  private latent(address: string, dist: Distribution, numeric: Map<string, boolean>): Promise<Value> {
    try {
      if (this.stopped !== undefined) throw STOP;
      // a dead path stops at its next choice (its subtree is skipped)
      if (this.dead) this.pruneHere();
      const k = this.depth++;
      if (this.fixed !== undefined) return this.fixedLatent(address, dist, numeric);
      if (k < this.replayUntil) {
        // replayed: the same site, with the same value, as on the previous path (the context's
        // `sample` returns here only every 32nd site, already counted, so that `after` may pause)
        const j = this.path[k];
        return this.after(this.supports[k][j], this.current[k]);
      }
      if (k === this.replayUntil) {
        // the choice that changed: restore the state before it, then take its next value
        this.replayUntil = -1;
        this.weight = this.weightBefore[k];
        this.recLength = this.recordBefore[k];
        this.siteCount = this.sitesBefore[k];
        this.matching = true;
        this.seen = undefined;
        const full = this.claim(address, true);
        const j = this.path[k];
        const resolved = this.resolved[k][j];
        this.current[k] = resolved;
        return this.choose(full, this.supports[k][j], this.lps[k][j], resolved);
      }
      // a new node of the choice tree
      const mark = this.siteCount;
      const full = this.claim(address, true);
      if (dist !== this.nodeDist[k]) this.scoreNode(k, full, dist, numeric);
      this.path[k] = 0;
      this.weightBefore[k] = this.weight;
      this.recordBefore[k] = this.recLength;
      this.sitesBefore[k] = mark;
      const resolved = this.resolved[k];
      this.current[k] = resolved[0];
      return this.choose(full, this.supports[k][0], this.lps[k][0], resolved[0]);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Score a new node at choice depth `k`: its support and the log mass of
   * each value into `supports`/`lps`/`resolved` (from `nodeTables` when this
   * object was scored before), and whether a later node made from the same
   * distribution object may reuse them (`nodeDist`).
   */
  private scoreNode(k: number, full: string, dist: Distribution, numeric: Map<string, boolean>): void {
    this.nodeDist[k] = undefined;
    if (!(dist instanceof Distribution)) this.giveUp();
    const known = nodeTables.get(dist);
    if (known !== undefined) {
      this.supports[k] = known.support;
      this.lps[k] = known.lps;
      this.resolved[k] = known.resolved;
      this.nodeDist[k] = dist;
      return;
    }
    const support = enumerableSupport(full, dist);
    const lps = new Float64Array(support.length);
    let plain = true;
    for (let i = 0; i < support.length; i++) {
      const v = support[i];
      if (typeof v !== 'number') this.giveUp();
      lps[i] = this.logMass(full, dist, v, numeric);
      plain &&= numeric.get(full) === true;
    }
    const resolved = resolvedValues(support);
    this.supports[k] = support;
    this.lps[k] = lps;
    this.resolved[k] = resolved;
    // (scored without tensors: a tensor parameter is read afresh each time, in case it was disposed)
    if (plain && IMMUTABLE_FAMILIES.has(dist.constructor)) {
      this.nodeDist[k] = dist;
      nodeTables.set(dist, { support, lps, resolved });
    }
  }

  /** Take value `v` (log mass `lp`) at a latent site. */
  private choose(full: string, v: Value, lp: number, resolved?: Promise<Value>): Promise<Value> {
    this.weight += lp;
    this.record(full, v);
    if (this.weight === -Infinity) this.dead = true;
    return this.after(v, resolved);
  }

  private fixedLatent(address: string, dist: Distribution, numeric: Map<string, boolean>): Promise<Value> {
    const full = this.claim(address, true);
    if (!(dist instanceof Distribution)) this.giveUp();
    if (full === this.watch) this.watched = dist;
    const v = (this.fixed as ReadonlyMap<string, Value>).get(full);
    if (v === undefined) throw new ModelError(full, this.missing);
    if (typeof v !== 'number') this.giveUp();
    return this.choose(full, v, this.logMass(full, dist, v, numeric));
  }

  private record(full: string, v: Value): void {
    const i = this.recLength++;
    this.recAddress[i] = full;
    this.recValue[i] = v;
  }

  /**
   * log p(v) as a float64 number. A site whose distribution computed with
   * numbers before runs without a tfjs scope; otherwise the log density is
   * computed in one and read back (parameters given as tensors). NaN gives up
   * (the general runtime names the site).
   */
  private logMass(full: string, dist: Distribution, v: number, numeric: Map<string, boolean>): number {
    let lp = NaN;
    let known = false;
    if (numeric.get(full) === true) {
      const state = engineState();
      const before = state.numTensors;
      const r = dist.logProb(v);
      if (typeof r === 'number' && state.numTensors === before) {
        lp = r;
        known = true;
      } else {
        // its parameters became tensors: use a tfjs scope from now on
        numeric.set(full, false);
        if (isTensor(r)) r.dispose();
      }
    }
    if (!known) {
      let plain = false;
      const t = tf.tidy(() => {
        const r = dist.logProb(v);
        if (typeof r !== 'number') return r;
        lp = r;
        plain = true;
        return undefined;
      }) as tf.Tensor | undefined;
      if (t !== undefined) {
        const one = t.size === 1;
        if (one) lp = t.dataSync()[0];
        t.dispose();
        if (!one) this.giveUp();
      }
      if (plain) numeric.set(full, true);
    }
    if (Number.isNaN(lp)) this.giveUp();
    return lp;
  }

  private observed(address: string, dist: Distribution, value: ValueLike, numeric: Map<string, boolean>): Promise<Value> {
    try {
      if (this.stopped !== undefined) throw STOP;
      const v = typeof value === 'boolean' ? (value ? 1 : 0) : value;
      if (typeof v !== 'number') this.giveUp();
      if (this.replayUntil >= 0 && this.depth <= this.replayUntil) {
        this.countSite();
        return this.after(v, resolvedObservation(v));
      }
      const full = this.claim(address, true);
      if (!(dist instanceof Distribution) || dist.batchShape.length !== 0 || dist.eventShape.length !== 0) this.giveUp();
      if (!this.dead) {
        this.weight += this.logMass(full, dist, v, numeric);
        if (this.weight === -Infinity) this.dead = true;
      }
      return this.after(v, resolvedObservation(v));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  private factorSite(address: string, logWeight: ValueLike): Promise<void> {
    try {
      if (this.stopped !== undefined) throw STOP;
      let w: Value | ValueLike = typeof logWeight === 'boolean' ? (logWeight ? 1 : 0) : logWeight;
      // a one-element tensor (made by the model's own code) is read as its number
      if (isTensor(w) && w.size === 1) w = w.dataSync()[0];
      if (typeof w !== 'number' || Number.isNaN(w)) this.giveUp();
      if (this.replayUntil >= 0 && this.depth <= this.replayUntil) {
        this.countSite();
        return this.after(undefined, RESOLVED);
      }
      this.claim(address, true);
      if (!this.dead) {
        this.weight += w;
        if (this.weight === -Infinity) this.dead = true;
      }
      return this.after(undefined, RESOLVED);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  private deterministicSite(address: string, value: Value): void {
    if (this.stopped !== undefined) throw STOP;
    if (typeof value !== 'number') this.giveUp();
    if (this.replayUntil >= 0 && this.depth <= this.replayUntil) return;
    this.record(this.claim(address, false), value);
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
