/**
 * The one entry point: `infer(model, { method, ...options }, ...args)`.
 *
 * Engines register themselves with the options they accept, so an unknown
 * method or option is a clear error that lists what is available.
 *
 * @module
 */
import { type OptionRules, checkOptionValues, checkOptions, nearMiss } from '../core/options.js';
import { assertConditionsVisited, conditionCheckpoint } from '../core/handlers.js';
import { ModelCodeError, NonFiniteDensityError, TycheError, ZeroDensityError } from '../core/errors.js';
import { Model, type ModelFn } from '../core/model.js';
import { describe } from '../core/value.js';
import { argumentFunctions, assertNoTensorConditions } from '../core/condition-lint.js';
import { explainDensity } from './diagnose.js';
import { BRANCH_CHECK, type DeferredBranchCheck, deferredBranchCheck } from './branch-check.js';
import { backendInfo, initBackend } from '../backend/select.js';
import type { Posterior } from './posterior.js';
import { MCMC_METHODS, mcmcWarnings } from './mcmc/warnings.js';
import { modelForEngine } from './subsample.js';
import { PARTICLE_METHODS, particleWarnings } from './particle-warnings.js';
import { ENGINE_OPTION_RULES } from './option-rules.js';
import { oneAtATime } from './one-at-a-time.js';

/** Options every engine accepts. */
export interface CommonOptions {
  /** The engine, e.g. `'enumerate'` or `'importance'`. */
  readonly method: string;
  /** Seed of the random stream; the same seed gives the same result on the same backend. */
  readonly seed?: number | string;
  /**
   * Read the model's source (and a guide's) before running it and refuse a
   * tensor comparison used as a JS condition, e.g. `if (ops.gt(x, 0))`
   * (default true; see docs/getting-started.md, "Branching on a draw"), and
   * before NUTS, HMC and VI, run the model at a few prior draws with its
   * values as numbers and as tensors and refuse it where they disagree
   * (`infer/branch-check.ts`). `false` skips both: the recorder's run-time
   * checks stay.
   */
  readonly checkConditions?: boolean;
}

/**
 * An option key, set by the library's own loops that run `infer` many times
 * (SBC, TARP): the run's warnings go on `post.warnings` without being printed
 * one run at a time; the loop reports them once. A symbol, so no user option
 * can collide with it and the option checks (which read string keys) pass it.
 */
export const QUIET_WARNINGS: unique symbol = Symbol('tyche.quietWarnings');

/** An inference engine as registered with {@link registerEngine}. */
export interface Engine<O extends CommonOptions = CommonOptions> {
  /** The `method` name. */
  readonly name: string;
  /** Option keys accepted besides `method` and `seed`. */
  readonly options: readonly string[];
  /** One line describing the engine, for messages and docs. */
  readonly description: string;
  /**
   * What each option may hold, checked by {@link infer} before anything runs
   * (see `checkOptionValues` in core/options.ts); the built-in engines' rules
   * are in `option-rules.ts`.
   */
  readonly rules?: OptionRules;
  /** Run inference. */
  run<A extends unknown[], R>(model: Model<A, R>, options: O, args: A): Promise<Posterior<A, R>>;
}

const engines = new Map<string, Engine<never>>();
/** Engines that run the model with tensor values (compiled or on tfjs), checked by `assertSameOnNumbersAndTensors` before they run. */
const RUNS_ON_TENSORS = new Set(['nuts', 'hmc', 'vi']);
/** Of those, the engines handed the check to settle with their compiled record (`BRANCH_CHECK`). */
const SETTLED_BY_ENGINE = new Set(['nuts', 'hmc']);

/** Make an engine available to {@link infer}. */
export function registerEngine<O extends CommonOptions>(engine: Engine<O>): void {
  engines.set(engine.name, engine as unknown as Engine<never>);
}

/** The registered engines' names and descriptions. */
export function listEngines(): { name: string; description: string; options: readonly string[] }[] {
  return [...engines.values()].map((e) => ({ name: e.name, description: e.description, options: e.options }));
}

/**
 * Run inference on a model.
 *
 * ```ts
 * const post = await infer(coin, { method: 'enumerate' }, data);
 * console.log(post.summary().toString());
 * ```
 *
 * Calls made while another is running wait and run one after another, first
 * come first served, each giving its answer alone with the same seed (tfjs's
 * scopes and tape are global); an abort of a waiting call's `signal` rejects
 * it at once. A model that runs `infer` itself runs the inner call at once.
 *
 * @param m - a {@link Model} (or a bare async model function)
 * @param options - `method` plus that engine's options
 * @param args - the model's arguments
 */
/** Each engine's option names, made on its first call (`infer` is called in loops: a Set per call showed in small models' profiles). */
const allowedOptions = new WeakMap<object, ReadonlySet<string>>();

export async function infer<A extends unknown[], R, O extends CommonOptions>(m: Model<A, R> | ModelFn<A, R>, options: O, ...args: A): Promise<Posterior<A, R>> {
  if (!(m instanceof Model) && typeof m !== 'function') {
    throw new TycheError(`infer: the first argument must be a model (made with model(async (ctx, ...) => ...)) or an async model function, got ${describe(m)}`);
  }
  const modelObj = m instanceof Model ? m : new Model(m);
  if (options === null || typeof options !== 'object') throw new TycheError('infer: options must be an object with a `method`');
  const engine = engines.get(options.method);
  if (!engine && options.method === undefined) {
    // tyche has no default engine: the right one depends on the model (discrete, continuous, both)
    throw new TycheError(`infer: options need a method, e.g. { method: 'nuts' } (continuous latents), 'enumerate' (finite discrete), 'hmc-gibbs' (both); available: ${[...engines.keys()].join(', ')}`);
  }
  if (!engine) {
    const near = typeof options.method === 'string' ? nearMiss(options.method, engines.keys()) : undefined;
    throw new TycheError(`infer: unknown method "${String(options.method)}"${near === undefined ? '' : ` (did you mean "${near}"?)`}; available: ${[...engines.keys()].join(', ')}`);
  }
  let allowed = allowedOptions.get(engine);
  if (allowed === undefined) {
    allowed = new Set(['method', 'seed', 'checkConditions', ...engine.options]);
    allowedOptions.set(engine, allowed);
  }
  checkOptions('infer', options, allowed, ` for method "${engine.name}"`);
  // every option's value, before the source lint, the backend and any model run (option-rules.ts)
  checkOptionValues(engine.name, options, engine.rules ?? ENGINE_OPTION_RULES[engine.name] ?? {});
  if (options.checkConditions !== undefined && typeof options.checkConditions !== 'boolean') {
    throw new TycheError(`infer: checkConditions must be true or false, got ${describe(options.checkConditions)}`);
  }
  if (options.checkConditions !== false) checkSources(modelObj, options, args);
  // one inference at a time: tfjs's scopes and tape are global, so interleaved calls broke each other (one-at-a-time.ts)
  return oneAtATime((options as { signal?: AbortSignal }).signal, () => runChecked(engine as unknown as Engine<O>, modelObj, options, args));
}

/** The part of {@link infer} that runs tfjs work: the backend, the model checks, the engine and its warnings. */
async function runChecked<A extends unknown[], R, O extends CommonOptions>(engine: Engine<O>, modelObj: Model<A, R>, options: O, args: A): Promise<Posterior<A, R>> {
  // (initialised once; later calls skip the promise round-trip)
  if (backendInfo() === undefined) await initBackend();
  // engines that run the model on tensors: its runs on numbers and on tensors must agree (a helper's `if (ops.gt(x, 0))`)
  const check = options.checkConditions !== false && RUNS_ON_TENSORS.has(engine.name) ? deferredBranchCheck(modelObj, args, engine.name, { seed: options.seed }) : undefined;
  // NUTS and HMC settle it themselves once they have compiled the model, with the record's replay in place of the
  // check's tensor runs (mcmc/hmc-engine.ts); other engines after today's tensor runs, before they start
  if (check !== undefined && !SETTLED_BY_ENGINE.has(engine.name)) await settleCheck(check, modelObj, args);
  try {
    const quiet = (options as { [QUIET_WARNINGS]?: boolean })[QUIET_WARNINGS] === true;
    const visits = conditionCheckpoint(modelObj);
    const engineOptions = check !== undefined && !check.started ? { ...options, [BRANCH_CHECK]: check } : options;
    // engines that need the log density itself refuse a subsampled plate, naming it (subsample.ts)
    const post = await engine.run(modelForEngine(modelObj, engine.name), engineOptions, args);
    // an engine that returned without settling the check (a path with no record): the check's tensor runs now
    if (check !== undefined && !check.started) {
      try {
        await check.settle();
      } catch (err) {
        post.dispose();
        throw err; // (worded by the catch below, as every error of the run)
      }
    }
    // data given by condition() that no run reached conditioned nothing: a typo, or a dead site
    try {
      assertConditionsVisited(visits);
    } catch (err) {
      post.dispose();
      throw err;
    }
    // output that its own diagnostics disown says so: MCMC as Stan does (R-hat, ESS, divergences, tree depth),
    // importance and SMC where their weights rest on a few particles (`particle-warnings.ts`)
    const own = post as unknown as Posterior<never, unknown>;
    const warnings = MCMC_METHODS.has(engine.name) ? mcmcWarnings(own) : PARTICLE_METHODS.has(engine.name) ? particleWarnings(own) : [];
    if (!quiet) for (const w of warnings) console.warn(`${engine.name}: ${w}`);
    post.addWarnings(warnings);
    return post;
  } catch (err) {
    // a model that branches on a tensor is named as such before whatever its wrong branch made an engine throw
    if (check !== undefined && !check.started) await settleCheck(check, modelObj, args);
    // every engine's "nothing has positive density" and "a density is +Infinity or NaN" is explained the same way: by the site to blame
    if (err instanceof ZeroDensityError || err instanceof NonFiniteDensityError) throw await explainDensity(err, modelObj, args, options.seed);
    throw missingArgumentHint(err, modelObj, args);
  }
}

/**
 * Settle the deferred branch check: its tensor runs, and its error with the missing-argument hint. (A
 * module function, not a closure made in each `runChecked`: under tsx, esbuild's `keepNames` names every such
 * closure with a `__name` call, ~1.6 us a call, a tenth of a small enumeration's whole `infer`.)
 */
async function settleCheck<A extends unknown[], R>(check: DeferredBranchCheck, modelObj: Model<A, R>, args: A): Promise<void> {
  try {
    await check.settle();
  } catch (err) {
    throw missingArgumentHint(err, modelObj, args);
  }
}

/**
 * A model that threw while `infer` was given fewer arguments than the model
 * function declares after its context: the usual cause (`data.y` of an
 * undefined `data`), said the same way for every engine.
 */
function missingArgumentHint<A extends unknown[], R>(err: unknown, m: Model<A, R>, args: A): unknown {
  const declared = m.fn.length - 1;
  if (err instanceof ModelCodeError && args.length < declared) {
    err.message += ` (model "${m.name}" declares ${declared} argument(s) after its context and infer was given ${args.length}: pass them after the options, infer(model, options, ...args))`;
  }
  return err;
}

/**
 * The static line of defence against `if (ops.gt(x, 0))` (a tensor is always
 * true): lint the model's source, a guide's where one is given, and the
 * functions handed to the model in its arguments (helpers it calls but does
 * not contain), once per function (`core/condition-lint.ts`).
 */
function checkSources<A extends unknown[], R>(m: Model<A, R>, options: CommonOptions, args: A): void {
  assertNoTensorConditions(m.fn as (...args: never[]) => unknown, m.name);
  for (const [where, fn] of argumentFunctions(args)) assertNoTensorConditions(fn, `${m.name}, ${where}${fn.name ? ` (${fn.name})` : ''}`);
  for (const [key, value] of Object.entries(options)) {
    if (value instanceof Model) assertNoTensorConditions(value.fn as (...args: never[]) => unknown, `${value.name} (option ${key})`);
    else if (key === 'guide' && typeof value === 'function') assertNoTensorConditions(value as (...args: never[]) => unknown, `${value.name || 'guide'} (option guide)`);
  }
}
