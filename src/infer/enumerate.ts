/**
 * Exact enumeration of discrete models.
 *
 * An async function cannot be forked, so every execution path is found by
 * re-execution: a depth-first walk over the tree of discrete choices, where
 * each run replays a prefix of choice indices and takes the first value at
 * each new site. A run that meets a zero-probability `observe` or `factor` is
 * cut short (its subtree is skipped). Paths with stochastic control flow
 * (different sites on different paths) are handled naturally.
 *
 * Cost: (number of paths) x (sites per path) site visits; memory: only the
 * paths with positive probability are kept.
 *
 * @module
 */
import { ZeroDensityError, TycheError } from '../core/errors.js';
import { assertFiniteLogWeights } from './diagnose.js';
import type { Model } from '../core/model.js';
import { rngFrom } from '../core/rng.js';
import { logSumExp } from '../core/value.js';
import { ChoiceWalker, PathRecorder, runPath } from './enumerate-path.js';
import { LEAN_FALLBACK, LeanEnumerator } from './enumerate-lean.js';
import { enumerateParallel } from './enumerate-parallel.js';
import { PacingHandler, Pacer, throwIfAborted } from './pace.js';
import { Posterior, type Draw } from './posterior.js';
import { type CommonOptions, registerEngine } from './registry.js';

/** Options of `infer(model, { method: 'enumerate', ... })`. */
export interface EnumerateOptions extends CommonOptions {
  readonly method: 'enumerate';
  /** Stop with an error after this many executions (default 10,000,000). */
  readonly maxExecutions?: number;
  /**
   * `'sequential'` (default): depth-first over execution paths by
   * re-execution; any model. `'parallel'`: one vectorised run over all paths,
   * then exact rescoring of the possible ones; needs tensor-aware model code
   * (see `enumerate-parallel.ts`). `'auto'`: parallel, checked against exact
   * runs on numbers (every possible path rescored must visit the same sites
   * with the same weight, and 64 ruled-out paths drawn at random must have
   * probability zero), else sequential; `diagnostics.strategy` says which
   * ran and `diagnostics.autoReason` why not parallel. The checks catch a
   * model that decides with JS operators on draws (`if (x)`, `x === 1`),
   * which a vectorised run cannot see, with high probability but not
   * certainty: sequential stays the default.
   */
  readonly strategy?: 'sequential' | 'parallel' | 'auto';
  /**
   * Stop with an error naming the site when one execution visits more than
   * this many `sample`/`factor` sites (default 100,000): a path that never
   * ends (e.g. a geometric draw by recursion on coin flips, whose first path
   * recurses forever) becomes an error instead of a hang.
   */
  readonly maxSites?: number;
  /** Stops the run (the promise rejects with the signal's reason), also inside one long execution. */
  readonly signal?: AbortSignal;
  /**
   * Sequential strategy: run the model on the lean enumeration runtime
   * (`enumerate-lean.ts`, default true), which replays the unchanged prefix of
   * each path without scoring it; false uses the general effect runtime
   * (handler stack) for every path. Both give the same draws and weights.
   * `diagnostics.runtime` says which ran.
   */
  readonly lean?: boolean;
}

/** Default {@link EnumerateOptions.maxSites}. */
export const ENUMERATE_MAX_SITES = 100_000;

export { ChoiceWalker };

/** Enumerate every execution of a discrete model: exact posterior and log Z. */
export async function enumerate<A extends unknown[], R>(m: Model<A, R>, options: Omit<EnumerateOptions, 'method'>, args: A): Promise<Posterior<A, R>> {
  const max = options.maxExecutions ?? 10_000_000;
  const maxSites = options.maxSites ?? ENUMERATE_MAX_SITES;
  positiveInteger('maxExecutions', max);
  positiveInteger('maxSites', maxSites);
  const pace = new Pacer(options.signal);
  const rng = rngFrom(options.seed ?? 0);
  if (options.lean !== false && LeanEnumerator.handles(m)) {
    const lean = await new LeanEnumerator(m, args, rng, pace, maxSites).walk({ maxExecutions: max, maxSites });
    if (lean !== LEAN_FALLBACK) return finish(m, args, lean.draws, { executions: lean.executions, pruned: lean.pruned, runtime: 'lean' });
  }
  const walker = new ChoiceWalker();
  const recorder = new PathRecorder();
  const guard = new PacingHandler(pace, maxSites, 'enumerate maxSites');
  const draws: Draw<R>[] = [];
  let executions = 0;
  let pruned = 0;
  // the guard sees each site first: it counts sites and yields to the event loop inside long executions
  const handlers = [guard, walker, recorder];
  do {
    if (++executions > max) throw new TycheError(`enumerate: more than ${max} executions; raise maxExecutions or use an approximate engine`);
    if (pace.due()) await pace.pause();
    walker.reset();
    guard.reset();
    const draw = await runPath(m, args, rng, handlers, recorder);
    if (draw) draws.push(draw);
    else pruned++;
  } while (walker.advance());
  return finish(m, args, draws, { executions, pruned, runtime: 'general' });
}

/**
 * `strategy: 'auto'`: the parallel strategy with its checks, else
 * sequential. Any failure of the vectorised run (JS arithmetic on a draw, a
 * latent site in a plate, too many paths, a failed check) falls back; an
 * abort does not.
 */
async function enumerateAuto<A extends unknown[], R>(m: Model<A, R>, options: Omit<EnumerateOptions, 'method'>, args: A): Promise<Posterior<A, R>> {
  let reason: string;
  try {
    const post = await enumerateParallel(m, { seed: options.seed, maxPaths: options.maxExecutions, signal: options.signal, verify: true }, args);
    post.diagnostics.auto = true;
    return post;
  } catch (err) {
    if (options.signal?.aborted) throw err;
    reason = err instanceof Error ? err.message : String(err);
  }
  const post = await enumerate(m, options, args);
  post.diagnostics.strategy = 'sequential';
  post.diagnostics.auto = true;
  post.diagnostics.autoReason = reason;
  return post;
}

/** A limit option must be a positive integer (a RangeError naming it otherwise). */
function positiveInteger(name: string, v: number): void {
  if (!(Number.isInteger(v) && v > 0)) throw new RangeError(`enumerate: ${name} must be a positive integer, got ${v}`);
}

/** The exact posterior of the enumerated draws. */
function finish<A extends unknown[], R>(m: Model<A, R>, args: A, draws: Draw<R>[], diagnostics: Record<string, unknown>): Posterior<A, R> {
  if (draws.length === 0) throw new ZeroDensityError('enumerate: every execution has probability zero (the conditions cannot all hold)');
  assertFiniteLogWeights('enumerate', draws);
  const logZ = logSumExp(draws.map((d) => d.logWeight));
  return new Posterior({ method: 'enumerate', draws, logZ, exact: true, diagnostics, model: m, args });
}

registerEngine<EnumerateOptions>({
  name: 'enumerate',
  options: ['maxExecutions', 'strategy', 'maxSites', 'signal', 'lean'],
  description: 'exact enumeration of every execution of a discrete model (depth-first, by re-execution)',
  run: (m, options, args) => {
    if (options.strategy === 'parallel') {
      if (options.maxSites !== undefined) throw new Error("enumerate: maxSites applies to strategy 'sequential' (or 'auto') only");
      return enumerateParallel(m, { seed: options.seed, maxPaths: options.maxExecutions, signal: options.signal }, args);
    }
    if (options.strategy === 'auto') return enumerateAuto(m, options, args);
    if (options.strategy !== undefined && options.strategy !== 'sequential') throw new Error(`enumerate: strategy must be 'sequential', 'parallel' or 'auto', got "${String(options.strategy)}"`);
    return enumerate(m, options, args);
  },
});

