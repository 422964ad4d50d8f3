/**
 * Where a chain starts: initialisation strategies for HMC/NUTS, written as
 * gradient coroutines (see `integrator.ts`) so that one implementation runs
 * under the sequential driver and, in lockstep over chains, under the
 * vectorised one, on whatever target the chain uses (the compiled float64
 * replay where the model compiles).
 *
 * Every strategy draws only from the chain's own random stream and never
 * looks at another chain, so chains stay independent and over-dispersed: a
 * posterior with several modes of similar mass still shows them to R-hat.
 *
 * - `uniform` (Stan's default): the first draw in [-r, r]^D with a finite log
 *   density and gradient.
 * - `best-of-uniform`: `candidates` such draws; the one with the highest log
 *   density.
 * - `ascent` (the default of `infer`): `candidates` uniform draws, each
 *   moved uphill by `ascentSteps` L-BFGS steps (as Pathfinder and nutpie
 *   start from an optimisation path) and judged by the log density that
 *   `lookahead` further steps reach; the chain starts at the best one's
 *   `ascentSteps` point. The judging run tells which basin a start leads to
 *   (a start far out in a poor basin is the usual reason for a chain that
 *   stays apart, e.g. posteriordb's lotka_volterra); the kept point is short
 *   of the mode on purpose, so chains stay over-dispersed and do not run
 *   down the neck of a funnel whose density is unbounded. See
 *   docs/engines/mcmc.md, "Where chains start".
 *
 * @module
 */
import { TycheError, ZeroDensityError } from '../../core/errors.js';
import type { Rng } from '../../core/rng.js';
import { type GradientCoroutine, type Position, evaluate } from './integrator.js';

/** The initialisation strategies a chain can run (`init` values that name one). */
export const INIT_STRATEGIES = ['uniform', 'best-of-uniform', 'ascent'] as const;

/** A named initialisation strategy. */
export type InitStrategy = (typeof INIT_STRATEGIES)[number];

/** The strategy `infer` runs when `init` is not given. */
export const DEFAULT_INIT: InitStrategy = 'ascent';

/** The error for an `init` option of `infer` that is neither a strategy, `'prior'`, nor values by address (`got`: the value or its kind, as shown). */
export function unknownInitError(engine: string, got: string): TycheError {
  return new TycheError(`${engine}: init must be one of ${[...INIT_STRATEGIES, 'prior'].map((x) => `'${x}'`).join(', ')} or values by address, got ${got}`);
}

/** Settings of an initialisation strategy. */
export interface InitSettings {
  /** Half-width of the uniform box, in unconstrained space (default 2, as Stan). */
  readonly radius: number;
  /** Uniform draws tried before giving up on a finite log density (default 100). */
  readonly maxAttempts: number;
  /** Starting points compared by `best-of-uniform` and `ascent` (default 4). */
  readonly candidates: number;
  /** L-BFGS iterations from each start for `ascent` (default 8): the chain starts where they end. */
  readonly ascentSteps: number;
  /** Further L-BFGS iterations that only judge a start: candidates are ranked by the log density they reach (default 40). */
  readonly lookahead: number;
}

/** Default settings (see {@link InitSettings}). */
export const DEFAULT_INIT_SETTINGS: InitSettings = { radius: 2, maxAttempts: 100, candidates: 4, ascentSteps: 8, lookahead: 40 };

/** A strategy and its settings in words, for a posterior's diagnostics. */
export function describeInit(strategy: InitStrategy, s: InitSettings = DEFAULT_INIT_SETTINGS): string {
  const box = `[-${s.radius}, ${s.radius}]`;
  if (strategy === 'uniform') return `uniform (the first finite draw in ${box} per chain)`;
  if (strategy === 'best-of-uniform') return `best-of-uniform (the highest of ${s.candidates} draws in ${box} per chain)`;
  const judged = s.lookahead > 0 ? `, ranked by the density reached after ${s.lookahead} more` : '';
  return `ascent (${s.candidates} draws in ${box} per chain, each moved by ${s.ascentSteps} L-BFGS steps uphill${judged}; the best kept)`;
}

/**
 * Where one `ascent` candidate's judging run ended (`ascentSteps + lookahead`
 * steps from its uniform draw): the point, its log density, whether the
 * ascent had stopped climbing there (at a mode, not part way up a slope or
 * down a funnel's neck), and whether the chain started from this candidate.
 * The hidden-mode check after a run (`mode-check.ts`) reads them.
 */
export interface AscentEnd {
  /** The end, in unconstrained coordinates. */
  readonly q: readonly number[];
  /** The log density there. */
  readonly logp: number;
  /** Whether the ascent had settled there (its last step gained under 0.001; see `ascend`). */
  readonly converged: boolean;
  /** Whether the chain started from this candidate (from its `ascentSteps` point). */
  readonly chosen: boolean;
}

/**
 * Where the chain named `chain` starts, by `strategy`, drawing from `rng` only.
 * With `ascent`, each candidate's end is pushed to `ends` where given (nothing else changes: the same draws).
 */
export function* initialise(strategy: InitStrategy, dim: number, rng: Rng, chain: number, settings: InitSettings = DEFAULT_INIT_SETTINGS, ends?: AscentEnd[]): GradientCoroutine<Position> {
  if (strategy === 'uniform') return yield* finiteUniform(dim, rng, chain, settings);
  let best: Position | undefined;
  let bestScore = -Infinity;
  let chosen = -1;
  const found: { q: readonly number[]; logp: number; converged: boolean }[] = [];
  for (let k = 0; k < settings.candidates; k++) {
    const at = yield* finiteUniform(dim, rng, chain, settings);
    const path = strategy === 'ascent' ? yield* ascend(at, settings.ascentSteps, settings.lookahead) : { kept: at, end: at, converged: false };
    if (strategy === 'ascent') found.push({ q: path.end.q, logp: path.end.logp, converged: path.converged });
    if (best === undefined || path.end.logp > bestScore) (best = path.kept), (bestScore = path.end.logp), (chosen = k);
  }
  if (ends !== undefined) for (let k = 0; k < found.length; k++) ends.push({ ...found[k]!, chosen: k === chosen });
  return best!;
}

/** The first uniform draw in [-r, r]^D with a finite log density and gradient. */
function* finiteUniform(dim: number, rng: Rng, chain: number, s: InitSettings): GradientCoroutine<Position> {
  for (let attempt = 0; attempt < s.maxAttempts; attempt++) {
    const q: number[] = [];
    for (let i = 0; i < dim; i++) q.push((2 * rng.uniform() - 1) * s.radius);
    const at = yield* evaluate(q);
    if (Number.isFinite(at.logp)) return at;
  }
  throw new ZeroDensityError(
    `mcmc: chain ${chain}: no point with finite log density and gradient in ${s.maxAttempts} ` +
      `uniform draws on [-${s.radius}, ${s.radius}]^${dim}; give init values`,
  );
}

/** History kept by L-BFGS (pairs of steps and gradient changes). */
const MEMORY = 5;
/** Longest step of one iteration, in unconstrained units (a start far out must not leap across the space). */
const MAX_STEP = 2;
/** Armijo sufficient-increase constant. */
const ARMIJO = 1e-4;
/** Halvings of a step before the line search gives up. */
const MAX_HALVINGS = 12;
/** The ascent has converged when a step gains less than this, relative to 1 + |log p|. */
const GAIN_TOL = 1e-8;
/** A step that gains less than this (log units) leaves the ascent at a mode for `converged` (a last step, or the last of the run). */
const SETTLED_GAIN = 1e-3;

/**
 * L-BFGS steps uphill from `start`, each with a backtracking (Armijo) line
 * search that also backs off non-finite points; stops early where no step
 * increases the log density or a step gains almost nothing (converged). Returns the point after `iterations` steps
 * (`kept`) and after `lookahead` more (`end`; the same point when 0), and whether the ascent had settled at a mode
 * there (`converged`: its last step gained under 0.001, or it stopped at a zero gradient; not where the run ran out
 * still climbing, e.g. down a funnel's neck).
 */
export function* ascend(start: Position, iterations: number, lookahead = 0): GradientCoroutine<{ kept: Position; end: Position; converged: boolean }> {
  // The loops over coordinates live in small functions (direction, stepAlong, remember, dot) and the gradient is
  // copied to a Float64Array, so that every dot product sees one kind of array. V8 optimises a function once the
  // bytecode it ran passes a budget; this generator's own loops over coordinates spent that budget within the
  // ~100 evaluations of each chain's ascent on eight schools, and TurboFan then compiled the generator with all of
  // them inlined (the largest single compilation of a first call: `ascend` 21-128 ms and `direction` 9-62 ms on
  // one thread, `--no-concurrent-recompilation --trace-opt`, load ~12). With the loops outside, the generator stays
  // in the interpreter (a few hundred bytecodes per evaluation) and only the small functions are compiled.
  const ss: Float64Array[] = [];
  const ys: Float64Array[] = [];
  let at = start;
  let kept = start;
  let settled = false;
  for (let it = 0; it < iterations + lookahead; it++) {
    if (it === iterations) kept = at;
    const grad = new Float64Array(at.grad);
    const dir = direction(grad, ss, ys, ss.length);
    const slope = dot(dir, grad);
    if (!(slope > 0)) {
      settled = slope === 0; // at a stationary point (or a useless direction)
      break;
    }
    const len = Math.sqrt(dot(dir, dir));
    let alpha = len > MAX_STEP ? MAX_STEP / len : 1;
    let next: Position | undefined;
    for (let h = 0; h < MAX_HALVINGS; h++, alpha /= 2) {
      const cand = yield* evaluate(stepAlong(at.q, alpha, dir));
      if (Number.isFinite(cand.logp) && cand.logp >= at.logp + ARMIJO * alpha * slope) {
        next = cand;
        break;
      }
    }
    if (next === undefined) break; // no step gains: settled where the last step gained almost nothing (round-off at a mode)
    if (it < iterations) kept = next;
    const gain = next.logp - at.logp;
    const converged = gain <= GAIN_TOL * (1 + Math.abs(next.logp));
    settled = gain < SETTLED_GAIN;
    remember(ss, ys, at, next);
    at = next;
    if (converged) break;
  }
  return { kept, end: at, converged: settled };
}

/** `q + alpha * dir`, a new point (see `ascend` on why the loops over coordinates are functions of their own). */
function stepAlong(q: readonly number[], alpha: number, dir: Float64Array): number[] {
  const out: number[] = [];
  for (let i = 0; i < q.length; i++) out.push(q[i]! + alpha * dir[i]!);
  return out;
}

/** Adds the pair (step, change of the gradient of -logp) from `at` to `next` to the history where its curvature is positive. */
function remember(ss: Float64Array[], ys: Float64Array[], at: Position, next: Position): void {
  const dim = at.q.length;
  const s = new Float64Array(dim);
  const y = new Float64Array(dim);
  // in terms of minimising -logp: s = step, y = change of the gradient of -logp
  for (let i = 0; i < dim; i++) (s[i] = next.q[i]! - at.q[i]!), (y[i] = at.grad[i]! - next.grad[i]!);
  if (dot(s, y) > 1e-12 * Math.sqrt(dot(s, s) * dot(y, y))) {
    ss.push(s);
    ys.push(y);
    if (ss.length > MEMORY) (ss.shift(), ys.shift());
  }
}

/**
 * The L-BFGS ascent direction: the two-loop recursion's inverse-Hessian estimate times the gradient of log p.
 * Plain loops on a copy of `grad` (no spread, no `map` callback): on a process's first call V8 compiled the
 * spread's iteration and the callback into a large optimised function, threw it away on the first path it had
 * not seen, and compiled it again (issue 16); the arithmetic is the same. The copy and the history are
 * `Float64Array`s, and the history's length `m` comes from the caller: an array's map follows its elements, and a
 * new candidate's empty history (`[]`, small-integer elements) met a map the optimised code had not seen (its
 * first calls ran before V8 kept feedback), so V8 compiled `direction` twice on every first call (session 13).
 */
function direction(grad: Float64Array, ss: readonly Float64Array[], ys: readonly Float64Array[], m: number): Float64Array {
  const d = new Float64Array(grad);
  const n = d.length;
  // with no curvature yet (m = 0), a unit-length step along the gradient: the loops below run empty and the scaling
  // divides by |grad|. One path for both cases (x * 1 and x / 1 are exact, so each keeps its arithmetic): m = 0 comes
  // only at a candidate's first step, so a branch of its own had no feedback when V8 compiled this and deopted there
  const g = Math.sqrt(dot(d, d));
  const unit = g > 0;
  const alphas = new Float64Array(m);
  for (let k = m - 1; k >= 0; k--) {
    const y = ys[k]!;
    const sk = ss[k]!;
    const rho = 1 / dot(y, sk);
    const a = rho * dot(sk, d);
    alphas[k] = a;
    for (let i = 0; i < n; i++) d[i] = d[i]! - a * y[i]!;
  }
  const last = m - 1;
  const gamma = m > 0 ? dot(ss[last]!, ys[last]!) / dot(ys[last]!, ys[last]!) : 1;
  const over = m > 0 || !unit ? 1 : g;
  for (let i = 0; i < n; i++) d[i] = (d[i]! * gamma) / over;
  for (let k = 0; k < m; k++) {
    const y = ys[k]!;
    const sk = ss[k]!;
    const rho = 1 / dot(y, sk);
    const b = rho * dot(y, d);
    for (let i = 0; i < n; i++) d[i] = d[i]! + (alphas[k]! - b) * sk[i]!;
  }
  return d;
}

function dot(x: Float64Array, y: Float64Array): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i]! * y[i]!;
  return s;
}
