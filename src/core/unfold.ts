/**
 * `ctx.unfold`: a loop whose Markov structure the model states (Gen's
 * Unfold combinator). `unfold(name, steps, init, kernel)` runs
 * `kernel(ctx, t, state)` for t = 0 .. steps - 1, each with its addresses
 * scoped `name/t/...`, and returns the states it returned, in order.
 *
 * Every runtime runs it as the plain loop below ({@link runUnfold}); what
 * the loop promises is what lets a forking runtime (per-particle program SMC,
 * `infer/smc/program-lean.ts`) copy a state instead of re-running a program:
 *
 * - the kernel takes effects only on the context it is given: an effect on
 *   another context of the same execution (the model's own `sample`, closed
 *   over) while the kernel runs is an error naming the unfold and the step,
 *   in every runtime;
 * - states are shared between copies, so they are deep-frozen (plain arrays
 *   and objects; tensors are immutable; typed arrays, maps and class
 *   instances are refused), and the TypeError of a kernel that changes its
 *   input state becomes an error naming the unfold and the step.
 *
 * @module
 */
import { ModelError, TycheError } from './errors.js';
import type { Ctx } from './model.js';
import { describe, isTensor } from './value.js';

/** One step of an unfold: given its context, the step index and the state before it, returns the state after it. */
export type UnfoldKernel<S> = (ctx: Ctx, t: number, state: S) => Promise<S> | S;

/**
 * What a runtime gives the unfold loop: the level of the context allowed to
 * take effects now (0: the model's own; each open unfold step adds one), the
 * open steps (for messages), its contexts by level and its `scope`.
 */
export interface UnfoldHost {
  /** The level of the context that may take effects now. */
  level: number;
  /** The open unfold steps, outermost first (for messages). */
  readonly openSteps: UnfoldStepRef[];
  /** The context handed to a kernel at `level` (its effects refuse to run unless `level` is the host's). */
  contextAt(level: number): Ctx;
  /** The prefix of every address now (`scope`'s: ends with `/` unless empty). */
  prefix: string;
}

/**
 * The error of an effect taken on a context that may not take effects now:
 * inside an unfold step, the model's own context (or an outer step's), the
 * natural mistake of a kernel that uses the `sample`/`observe` of its
 * closure. Names the innermost open step and the site.
 */
export function wrongContextError(host: Pick<UnfoldHost, 'openSteps'>, address: unknown, level: number): ModelError {
  const open = host.openSteps[host.openSteps.length - 1];
  const site = typeof address === 'string' ? address : describe(address);
  if (open === undefined) {
    return new ModelError(site, `this effect was taken on the context of an unfold step (level ${level}) after that step ended; a kernel's context is for its own step only`);
  }
  return new ModelError(
    site,
    `unfold "${open.name}" step ${open.t}: the kernel took an effect on a context other than the one it is given (the model's own \`sample\`/\`observe\`, closed over?); ` +
      `use the context the kernel is given: unfold('${open.name}', T, x0, async ({ sample, observe }, t, x) => ...)`,
  );
}

/** What a guarded context's effects are bound to (see {@link guardedContext}). */
interface Guard {
  readonly raw: Ctx;
  readonly host: UnfoldHost;
  readonly level: number;
}

// The guarded effects: module functions bound to a `Guard` (a bound function is made natively; a closure per
// effect and context would cost ~0.8 us each under a transpiler that keeps function names, per execution).
function guardFail(g: Guard, address: unknown): Promise<never> {
  return Promise.reject(wrongContextError(g.host, address, g.level));
}
function gSample(this: Guard, address: string, dist: never, options?: never): Promise<unknown> {
  return this.host.level === this.level ? this.raw.sample(address, dist, options) : guardFail(this, address);
}
function gObserve(this: Guard, address: string, dist: never, value: never, options?: never): Promise<unknown> {
  return this.host.level === this.level ? this.raw.observe(address, dist, value, options) : guardFail(this, address);
}
function gFactor(this: Guard, address: string, logWeight: never): Promise<void> {
  return this.host.level === this.level ? this.raw.factor(address, logWeight) : guardFail(this, address);
}
function gDeterministic(this: Guard, address: string, value: never): unknown {
  if (this.host.level !== this.level) throw wrongContextError(this.host, address, this.level);
  return this.raw.deterministic(address, value);
}
function gParam(this: Guard, address: string, init: never, constraint?: never): Promise<unknown> {
  return this.host.level === this.level ? this.raw.param(address, init, constraint) : guardFail(this, address);
}
function gPlate(this: Guard, name: string, size: number, fn: never, options?: never): Promise<unknown> {
  return this.host.level === this.level ? this.raw.plate(name, size, fn, options) : guardFail(this, name);
}
function gScope(this: Guard, prefix: string, fn: never): Promise<unknown> {
  return this.host.level === this.level ? this.raw.scope(prefix, fn) : guardFail(this, prefix);
}
function gUnfold(this: Guard, name: string, steps: number, init: unknown, kernel: UnfoldKernel<unknown>): Promise<unknown[]> {
  return this.host.level === this.level ? runUnfold(this.host, name, steps, init, kernel) : guardFail(this, name);
}

/**
 * A context at `level` over the unchecked effects `raw`: each effect first
 * checks that the host is at that level (else {@link wrongContextError}).
 * `unfold` opens a nested unfold on the host.
 */
export function guardedContext(raw: Ctx, host: UnfoldHost, level: number): Ctx {
  const g: Guard = { raw, host, level };
  return {
    sample: gSample.bind(g) as unknown as Ctx['sample'],
    observe: gObserve.bind(g) as unknown as Ctx['observe'],
    factor: gFactor.bind(g) as unknown as Ctx['factor'],
    deterministic: gDeterministic.bind(g) as unknown as Ctx['deterministic'],
    param: gParam.bind(g) as unknown as Ctx['param'],
    plate: gPlate.bind(g) as unknown as Ctx['plate'],
    scope: gScope.bind(g) as unknown as Ctx['scope'],
    unfold: gUnfold.bind(g) as unknown as Ctx['unfold'],
    rng: raw.rng,
  };
}

/** Throws a clear error where an unfold's name, length or kernel is wrong. */
export function checkUnfold(name: unknown, steps: unknown, kernel: unknown): void {
  if (typeof name !== 'string' || name.length === 0) throw new TypeError(`unfold: the name must be a non-empty string, got ${describe(name)}`);
  if (typeof steps !== 'number' || !Number.isInteger(steps) || steps < 0) throw new RangeError(`unfold "${name}": steps must be a non-negative integer, got ${describe(steps)}`);
  if (typeof kernel !== 'function') throw new TypeError(`unfold "${name}": the kernel must be a function (ctx, t, state) => next state, got ${describe(kernel)}`);
}

/** Objects known to be deep-frozen (so a state that keeps most of the last one is not walked again). */
const deepFrozen = new WeakSet<object>();

/**
 * Deep-freeze a state (plain arrays and objects, recursively; numbers,
 * strings, booleans, null, undefined and tensors as they are) and return it.
 * Anything that cannot be frozen is an error naming the unfold and the step
 * (`t` -1: the initial state).
 */
export function freezeState<S>(name: string, t: number, state: S): S {
  freezeValue(name, t, state, 'the state');
  return state;
}

function freezeValue(name: string, t: number, v: unknown, where: string): void {
  if (v === null || v === undefined) return;
  const kind = typeof v;
  if (kind === 'number' || kind === 'string' || kind === 'boolean' || kind === 'bigint') return;
  const at = t < 0 ? 'the initial state' : `step ${t}`;
  if (kind !== 'object') throw new TycheError(`unfold "${name}", ${at}: ${where} holds a ${kind}; states must be numbers, tensors, or plain arrays and objects of them (they are shared between particles and frozen)`);
  const o = v as object;
  if (deepFrozen.has(o) || isTensor(o)) return;
  if (ArrayBuffer.isView(o)) {
    throw new TycheError(`unfold "${name}", ${at}: ${where} holds a ${o.constructor.name}, which cannot be frozen (states are shared between particles); use a plain array (Array.from(x)) or a tensor`);
  }
  const proto = Object.getPrototypeOf(o) as unknown;
  if (!Array.isArray(o) && proto !== Object.prototype && proto !== null) {
    const what = (o as { constructor?: { name?: string } }).constructor?.name ?? 'object';
    throw new TycheError(`unfold "${name}", ${at}: ${where} holds a ${what}, which cannot be frozen (states are shared between particles); use numbers, tensors, or plain arrays and objects of them`);
  }
  for (const k of Object.keys(o)) freezeValue(name, t, (o as Record<string, unknown>)[k], where);
  Object.freeze(o);
  deepFrozen.add(o);
}

/** Whether `err` is the TypeError of a write to a frozen object. */
function isFrozenWrite(err: unknown): boolean {
  return err instanceof TypeError && /read only property|not extensible|Cannot delete property|Cannot redefine property|Cannot assign to read only|object is frozen/i.test(err.message);
}

/** An open unfold step: its unfold's name and its index. */
export interface UnfoldStepRef {
  readonly name: string;
  readonly t: number;
}

/**
 * Open step `open` on `host` (addresses scoped `name/t/`, or `scoped` when
 * given: the same prefix, made once by the caller; one level up; the open
 * step named in messages). Returns the prefix {@link leaveStep} restores.
 */
export function enterStep(host: UnfoldHost, open: UnfoldStepRef, scoped?: string): string {
  const saved = host.prefix;
  host.prefix = scoped ?? `${saved}${open.name}/${open.t}/`;
  host.level += 1;
  host.openSteps.push(open);
  return saved;
}

/** Close the step {@link enterStep} opened (`saved`: the prefix it returned). */
export function leaveStep(host: UnfoldHost, saved: string): void {
  host.prefix = saved;
  host.level -= 1;
  host.openSteps.pop();
}

/** What to throw for an error of step `open`'s kernel: a write to its (frozen) input state is named. */
export function stepError(err: unknown, open: UnfoldStepRef, state: unknown): unknown {
  if (isFrozenWrite(err) && state !== null && typeof state === 'object') {
    return new TycheError(`unfold "${open.name}" step ${open.t}: the kernel changed its input state (${(err as Error).message}); states are shared between particles, so return a new state instead (e.g. [...s, x] or { ...s, x })`, { cause: err });
  }
  return err;
}

/** The state step `open`'s kernel returned, checked and deep-frozen. */
export function stepResult<S>(open: UnfoldStepRef, next: S): S {
  if (next !== null && typeof next === 'object' && typeof (next as { then?: unknown }).then === 'function') {
    throw new TycheError(`unfold "${open.name}" step ${open.t}: the kernel's state is a Promise (return the state, or await it)`);
  }
  return freezeState(open.name, open.t, next);
}

/**
 * Run step `open.t` of unfold `open.name` on `host`: the kernel with `ctx`
 * (at the host's next level), its addresses scoped `name/t/`, and its
 * result frozen; `open` is the host's open step meanwhile (for messages).
 * A write to the (frozen) input state is an error naming the unfold and step.
 */
export async function unfoldStep<S>(host: UnfoldHost, open: UnfoldStepRef, state: S, kernel: UnfoldKernel<S>, ctx: Ctx): Promise<S> {
  const saved = enterStep(host, open);
  let next: S;
  try {
    next = await kernel(ctx, open.t, state);
  } catch (err) {
    throw stepError(err, open, state);
  } finally {
    leaveStep(host, saved);
  }
  return stepResult(open, next);
}

/**
 * The plain unfold loop (every runtime that does not fork at an unfold):
 * steps 0 .. steps - 1 in order, each a scoped kernel call on the context at
 * the host's next level; returns the states (a frozen array).
 */
export async function runUnfold<S>(host: UnfoldHost, name: string, steps: number, init: S, kernel: UnfoldKernel<S>): Promise<S[]> {
  checkUnfold(name, steps, kernel);
  let state = freezeState(name, -1, init);
  const ctx = host.contextAt(host.level + 1);
  const out: S[] = [];
  for (let t = 0; t < steps; t++) {
    state = await unfoldStep(host, { name, t }, state, kernel, ctx);
    out.push(state);
  }
  return Object.freeze(out) as S[];
}
