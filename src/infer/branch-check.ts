/**
 * A run-time check for a model that follows a tensor's truthiness anywhere,
 * including in a helper defined outside the model (which the source check,
 * `core/condition-lint.ts`, cannot read) and where the comparison is also
 * consumed by an op (which the recorder's unconsumed-boolean check,
 * `backend/condition-watch.ts`, cannot see).
 *
 * JavaScript has no hook on an object's truthiness (`if (tensor)` calls no
 * `valueOf`, `toString` or `Symbol.toPrimitive`; every object is true), so
 * the check compares behaviour instead: the model runs at a few draws from
 * its prior twice (the first run draws the point), once with its scalar latent values as numbers (where
 * tyche's comparisons return JS booleans, so every `if` goes the right way)
 * and once with the same values as scalar tensors (as NUTS, HMC and VI run
 * it). A model whose site log densities differ between the two took a
 * different branch: the error names the first site that differs. A
 * difference that float32's rounding explains (data near 1e6 against a noise
 * scale near 1) is not one: the tensor run once more with its kernels
 * computed in float64 (`withFloat64Shadow`) then scores as the numbers did.
 *
 * What it cannot see: a branch that no prior draw reaches (8 draws miss a
 * branch of prior probability p with probability (1 - p)^8), a difference
 * below the tolerance (float32 against float64: 1e-2 + 1e-3 |log density|
 * per site), sites whose values are vectors (tensors in both runs), models
 * with a discrete latent site (which these engines refuse with their own
 * message), and points where either run fails or scores a site non-finite
 * (skipped). Improper priors are drawn from as the engines' layout does.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { tidyAsync } from '../backend/autodiff.js';
import { tensor64 } from '../backend/float64-constants.js';
import { withFloat64Shadow } from '../backend/jit/trace.js';
import { ledgersRecord, withLedger } from '../backend/ledger.js';
import { BRANCH_ON_TENSOR_MESSAGE, ModelError } from '../core/errors.js';
import { withImproperDraws } from '../core/improper.js';
import type { Handler, Message } from '../core/message.js';
import { type Model, execute } from '../core/model.js';
import { type Rng, type Seed, rngFrom } from '../core/rng.js';
import { type Trace, siteLogDensity } from '../core/trace.js';
import { type Value, toNumber } from '../core/value.js';
import type { Distribution } from '../distributions/distribution.js';
import { argsFingerprint } from './args-fingerprint.js';
import { givenValues, siteLogDensityNumber } from './mcmc/trace-mh.js';
import type { ReplayedDensity } from './mcmc/potential.js';
import { bijectTo } from '../transforms/biject-to.js';
import { IdentityBijector } from '../transforms/elementwise.js';

/** Where a model scored differently with its values as numbers and as tensors. */
export interface BranchDisagreement {
  /** The first site (in the number run's order) whose log density differs, or that only one run has. */
  readonly site: string;
  /** The prior draw's scalar latent values (float32-rounded, as both runs used them). */
  readonly point: Readonly<Record<string, number>>;
  /** That site's log density with the values as numbers (undefined: the run had no such site). */
  readonly onNumbers: number | undefined;
  /** ... and as tensors (where `unstable`: as numbers again, in a second run at the same values). */
  readonly onTensors: number | undefined;
  /**
   * True where two runs at the same values, both on numbers, scored the site
   * differently: the model draws randomness outside `sample` (`Math.random`)
   * or reads state that changes between runs, rather than branching on a tensor.
   */
  readonly unstable?: boolean;
}

/** What {@link numbersVersusTensors} found. */
export interface NumbersVersusTensors {
  /** At how many prior draws both runs went through and were compared. */
  readonly compared: number;
  /** The first disagreement (the check stops there), or undefined. */
  readonly disagreement: BranchDisagreement | undefined;
}

/** Options of {@link numbersVersusTensors}. */
export interface NumbersVersusTensorsOptions {
  /** How many prior draws to compare at (default 8). */
  readonly points?: number;
  /** Seed of the check's own random stream (default 0); the engine's stream is not touched. */
  readonly seed?: Seed;
}

/** A handler that draws each unset latent value from its prior with `rng`, scalars rounded to float32. */
function drawRounded(rng: Rng): Handler {
  return {
    process(msg: Message) {
      if (msg.type !== 'sample' || msg.observed || msg.value !== undefined) return;
      const dist = msg.dist as Distribution;
      const v = tf.tidy(() => dist.sample(msg.rng ?? rng));
      msg.value = typeof v === 'number' ? Math.fround(v) : v;
    },
  };
}

/** Site log densities by address, as numbers (NaN where not finite). */
function siteScores(trace: Trace): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of trace) if (s.type === 'sample' || s.type === 'factor') out.set(s.address, siteLogDensityNumber(s));
  return out;
}

/** The first site whose scores differ beyond float32's reach, or that one run lacks; undefined where they agree. */
function firstDifference(a: Map<string, number>, b: Map<string, number>): { site: string; onNumbers: number | undefined; onTensors: number | undefined } | 'not comparable' | undefined {
  for (const v of [...a.values(), ...b.values()]) if (!Number.isFinite(v)) return 'not comparable';
  for (const [site, x] of a) {
    const y = b.get(site);
    if (y === undefined || Math.abs(x - y) > 1e-2 + 1e-3 * Math.max(Math.abs(x), Math.abs(y))) return { site, onNumbers: x, onTensors: y };
  }
  for (const site of b.keys()) if (!a.has(site)) return { site, onNumbers: undefined, onTensors: b.get(site) };
  return undefined;
}

/**
 * Site log densities by address from a tensor run whose kernels are computed
 * again in float64 (`withFloat64Shadow`), or undefined where a site's doubles
 * are unknown (a kernel without a float64 rule, a tensor the user built) or
 * the run fails.
 */
async function float64Scores<A extends unknown[], R>(m: Model<A, R>, args: A, own: string, values: (address: string) => Value | undefined): Promise<Map<string, number> | undefined> {
  try {
    return await withFloat64Shadow(async (read) => {
      const { trace } = await execute(m, { rng: rngFrom(own), handlers: [givenValues(values)] }, ...args);
      const out = new Map<string, number>();
      for (const s of trace) {
        if (s.type !== 'sample' && s.type !== 'factor') continue;
        const lp = siteLogDensity(s);
        const v = typeof lp === 'number' ? lp : read(lp)?.[0];
        if (v === undefined) return undefined;
        out.set(s.address, v);
      }
      return out;
    });
  } catch {
    return undefined;
  }
}

/** The same sites with the same scores to float64's reach (1e-8 relative): two runs of one path. */
function sameScores(a: Map<string, number>, b: Map<string, number>): boolean {
  if (a.size !== b.size) return false;
  for (const [site, x] of a) {
    const y = b.get(site);
    if (y === undefined || !(Math.abs(x - y) <= 1e-8 * Math.max(1, Math.abs(x), Math.abs(y)))) return false;
  }
  return true;
}

/**
 * How far the replay's total may be from the number run's and still agree:
 * float64 rounding of both sides (1e-6 relative to the summed magnitudes of
 * the terms), and never more than 1e-3, a tenth of the smallest difference
 * the per-site comparison reports (1e-2), so that a site's difference which
 * the tensor run would show is not hidden in a large total.
 */
function replayTolerance(scale: number): number {
  return Math.min(1e-3, 1e-6 * (1 + scale));
}

/**
 * Whether the compiled record's replay at the number run's point scores what
 * the number run scored: the same scored sites, and the same total of site
 * log densities plus the transforms' log-Jacobians (the record's output) to
 * within {@link replayTolerance}. False (run the tensor run) wherever that
 * cannot be said: a latent value the layout does not fit, a non-finite
 * total, a validity guard of every record changed.
 */
function replayAgrees(replayed: ReplayedDensity, drawn: Trace, onNumbers: Map<string, number>): boolean {
  const { layout, sites } = replayed;
  if (sites.size !== onNumbers.size) return false;
  let total = 0;
  let scale = 0;
  for (const [address, lp] of onNumbers) {
    if (!sites.has(address)) return false;
    total += lp;
    scale += Math.abs(lp);
  }
  const q = new Float64Array(layout.dim);
  for (const s of layout.sites) {
    const site = drawn.get(s.address);
    if (site === undefined || site.type !== 'sample' || site.observed || site.value === undefined) return false;
    const bijector = s.dependentSupport ? bijectTo((site.dist as Distribution).support) : s.bijector;
    const identity = bijector instanceof IdentityBijector;
    const v = site.value as Value;
    let logDet = 0;
    if (typeof v === 'number') {
      if (s.size !== 1) return false;
      const u = identity ? v : bijector.inverse(v);
      if (typeof u !== 'number') return false;
      q[s.offset] = u;
      if (!identity) logDet = toNumber(bijector.logDetJacobian(u, v));
    } else {
      if (v.size !== s.size || v.shape.length !== s.shape.length || v.shape.some((d, i) => d !== s.shape[i])) return false;
      // (a vector's values are float32 in both runs; an identity keeps them exact, other transforms round u to float32)
      const u = identity ? v : (bijector.inverse(v) as tf.Tensor);
      q.set(u.dataSync(), s.offset);
      if (!identity) logDet = tf.sum(bijector.logDetJacobian(u, v) as tf.Tensor).dataSync()[0]!;
    }
    total += logDet;
    scale += Math.abs(logDet);
  }
  if (!Number.isFinite(total)) return false;
  const replay = replayed.logDensity(q);
  return replay !== undefined && Math.abs(replay - total) <= replayTolerance(scale);
}

/**
 * Run the model at prior draws with its scalar latent values as numbers and
 * as tensors, and say where the two disagree (see the module comment).
 * Tensors the runs make are freed (`backend/ledger.ts`).
 *
 * @param m - the model
 * @param args - its arguments
 * @param options - how many draws, and the check's seed
 * @returns how many draws were compared, and the first disagreement found
 */
export async function numbersVersusTensors<A extends unknown[], R>(m: Model<A, R>, args: A, options: NumbersVersusTensorsOptions = {}): Promise<NumbersVersusTensors> {
  return comparePoints(m, args, options, undefined);
}

/**
 * {@link numbersVersusTensors}, where `replayed` (an engine's compiled record
 * of the model) may stand in for the run on tensors at a point: a record is
 * a trace of a tensor run, so its replay follows the branches a tensor run
 * takes (a tensor is true in any JS condition; a value read is a guard, where
 * the replay declines, or refuses the record). Where the replay's total (log
 * densities plus the transforms' log-Jacobians) is the number run's to within
 * {@link replayTolerance} over the same sites, the point agrees; anything else
 * (another total, another site, a changed guard, a value the replay cannot
 * take) runs the tensor run there as before, which names the site.
 */
async function comparePoints<A extends unknown[], R>(m: Model<A, R>, args: A, options: NumbersVersusTensorsOptions, replayed: ReplayedDensity | undefined): Promise<NumbersVersusTensors> {
  const rng = rngFrom(`numbers-versus-tensors:${String(options.seed ?? 0)}`);
  const points = options.points ?? 8;
  let compared = 0;
  // a ledger frees what the runs make; where there is none (browsers) an engine scope held across the runs does
  const freeing = (await ledgersRecord()) ? withLedger : tidyAsync;
  for (let k = 0; k < points; k++) {
    // the model's own stream (a plate's random subsample, `ctx.rng`) starts alike in both runs; the prior draws come from `rng`
    const own = `numbers-versus-tensors:${String(options.seed ?? 0)}:${k}`;
    const found = await freeing(async (): Promise<BranchDisagreement | 'agree' | 'skipped' | 'no scalars'> => {
      // the run on numbers draws the point from the prior as it goes, its scalars rounded to float32 (as the
      // tensor run will hold them); a draw from an improper prior is an initial point, as the engines' layout probes draw
      let onNumbers: Map<string, number>;
      let drawn: Trace;
      try {
        drawn = await withImproperDraws(async () => (await execute(m, { rng: rngFrom(own), handlers: [drawRounded(rng)] }, ...args)).trace);
        onNumbers = siteScores(drawn);
      } catch {
        return 'skipped'; // a prior draw the model refuses: try another
      }
      // a discrete latent site: these engines refuse the model themselves, naming the site and what to use instead
      for (const s of drawn) if (s.type === 'sample' && !s.observed && (s.dist as Distribution).isDiscrete) return 'no scalars';
      const point: Record<string, number> = {};
      // (latent values that are tensors already, vectors, are given as they are to the tensor run)
      const others = new Map<string, Value>();
      for (const s of drawn) {
        if (s.type !== 'sample' || s.observed) continue;
        if (typeof s.value === 'number') point[s.address] = s.value;
        else others.set(s.address, s.value as Value);
      }
      if (Object.keys(point).length === 0) return 'no scalars';
      if (replayed !== undefined && replayAgrees(replayed, drawn, onNumbers)) return 'agree';
      const asTensors = (address: string): Value | undefined => {
        const v = point[address];
        return v === undefined ? others.get(address) : tf.scalar(v);
      };
      let onTensors: Map<string, number>;
      try {
        onTensors = siteScores((await execute(m, { rng: rngFrom(own), handlers: [givenValues(asTensors)] }, ...args)).trace);
      } catch {
        return 'skipped'; // the tensor run fails (e.g. the model needs numbers): nothing to compare here
      }
      const d = firstDifference(onNumbers, onTensors);
      if (d === 'not comparable') return 'skipped';
      if (d === undefined) return 'agree';
      // the same values as numbers once more: a model that scores them differently again is not a function of its
      // random choices (Math.random, state that changes between runs), which no branch explains
      let again: Map<string, number> | undefined;
      try {
        again = siteScores((await execute(m, { rng: rngFrom(own), handlers: [givenValues((address) => point[address] ?? others.get(address))] }, ...args)).trace);
      } catch {
        again = undefined;
      }
      const unstable = again === undefined ? undefined : firstDifference(onNumbers, again);
      if (unstable !== undefined && unstable !== 'not comparable') return { site: unstable.site, onNumbers: unstable.onNumbers, onTensors: unstable.onTensors, point, unstable: true };
      // float32's rounding of the data, not a branch: the tensor run with its kernels computed again in float64 scores
      // as the numbers did (data near 1e6 against a noise scale near 1 differ by tenths of a nat in float32)
      const exact = await float64Scores(m, args, own, (address) => (point[address] === undefined ? others.get(address) : tensor64(point[address]!)));
      if (exact !== undefined && sameScores(onNumbers, exact)) return 'agree';
      return { ...d, point };
    }, () => []);
    if (found === 'no scalars') break;
    if (found === 'skipped') continue;
    compared++;
    if (found !== 'agree') return { compared, disagreement: found };
  }
  return { compared, disagreement: undefined };
}

/** The checks each model has passed, by arguments fingerprint and settings. */
const passes = new WeakMap<Model<never, unknown>, Set<string>>();

/**
 * Throw the shared "branches on a tensor comparison" error, naming the site
 * and the draw, where {@link numbersVersusTensors} finds a disagreement.
 * `infer` runs it before NUTS, HMC and VI (`checkConditions: false` skips it). A
 * model that passed once with the same arguments (same values, `args-fingerprint.ts`)
 * and number of points passes again without running, whatever the seed: the check reads only the model and
 * its arguments (data a model reads from outside them, in a closure, is not
 * watched).
 *
 * @param m - the model
 * @param args - its arguments
 * @param method - the engine about to run, for the message
 * @param options - how many draws, and the check's seed
 */
export async function assertSameOnNumbersAndTensors<A extends unknown[], R>(m: Model<A, R>, args: A, method: string, options: NumbersVersusTensorsOptions = {}): Promise<void> {
  await deferredBranchCheck(m, args, method, options)?.settle();
}

/** The key a pass is kept under (undefined: arguments with no fingerprint, checked on every call). */
function passKey(args: readonly unknown[], options: NumbersVersusTensorsOptions): string | undefined {
  // a pass is kept per model, arguments (by value) and number of points, whatever the seed: calling infer again skips the runs
  const fp = argsFingerprint(args);
  return fp === undefined ? undefined : `${fp}/${options.points ?? 8}`;
}

/**
 * The option key under which `infer` hands an engine the check it has not
 * run yet (a symbol: no user option can collide with it, and the option
 * checks read string keys). NUTS and HMC settle it once their compiled
 * record exists, with the record's replay standing in for the tensor runs
 * (`mcmc/hmc-engine.ts`); `infer` settles it after the engine otherwise.
 */
export const BRANCH_CHECK: unique symbol = Symbol('tyche.branchCheck');

/** The check `infer` handed the engine in its options, if any (see {@link BRANCH_CHECK}). */
export function branchCheckOf(options: object): DeferredBranchCheck | undefined {
  return (options as { [BRANCH_CHECK]?: DeferredBranchCheck })[BRANCH_CHECK];
}

/**
 * infer's numbers-versus-tensors check of one call, run once, when
 * {@link DeferredBranchCheck.settle} is first called: before the engine
 * (today's tensor runs) or by the engine with its compiled record's replay.
 */
export class DeferredBranchCheck {
  private running: Promise<void> | undefined;

  constructor(
    private readonly run: (replayed: ReplayedDensity | undefined) => Promise<void>,
  ) {}

  /** Whether the check has started (it runs once, whoever asks). */
  get started(): boolean {
    return this.running !== undefined;
  }

  /**
   * Run the check (once; later calls return the same promise), with the
   * compiled record's replay in place of the tensor runs where given.
   * Rejects with the shared "branches on a tensor comparison" error.
   */
  settle(replayed?: ReplayedDensity): Promise<void> {
    this.running ??= this.run(replayed);
    return this.running;
  }
}

/**
 * The check {@link assertSameOnNumbersAndTensors} makes, not started yet, or
 * undefined where the model passed it before with the same arguments.
 */
export function deferredBranchCheck<A extends unknown[], R>(m: Model<A, R>, args: A, method: string, options: NumbersVersusTensorsOptions = {}): DeferredBranchCheck | undefined {
  const key = passKey(args, options);
  if (key !== undefined && passes.get(m)?.has(key)) return undefined;
  return new DeferredBranchCheck((replayed) => checkOrThrow(m, args, method, options, key, replayed));
}

async function checkOrThrow<A extends unknown[], R>(m: Model<A, R>, args: A, method: string, options: NumbersVersusTensorsOptions, key: string | undefined, replayed: ReplayedDensity | undefined): Promise<void> {
  let passed = passes.get(m);
  const d = (await comparePoints(m, args, options, replayed)).disagreement;
  if (d === undefined) {
    if (key !== undefined) {
      if (!passed) passes.set(m, (passed = new Set()));
      passed.add(key);
    }
    return;
  }
  const fmt = (x: number | undefined): string => (x === undefined ? 'no such site' : x.toPrecision(6));
  const at = Object.entries(d.point).slice(0, 4).map(([a, v]) => `${a} = ${v.toPrecision(4)}`).join(', ');
  if (d.unstable === true) {
    throw new ModelError(
      d.site,
      `model "${m.name}" is not a function of its random choices: two runs at the same values (${at}${Object.keys(d.point).length > 4 ? ', ...' : ''}) scored this site ${fmt(d.onNumbers)} and ${fmt(d.onTensors)}. ` +
        `It draws randomness outside sample() (Math.random, a random helper) or reads state that changes between runs; ${method} needs the same log density at the same values. ` +
        'Make every random choice a sample site (or use the context\'s rng), and keep data fixed during a run. (checkConditions: false skips this check, not the problem.)',
    );
  }
  throw new ModelError(
    d.site,
    `${BRANCH_ON_TENSOR_MESSAGE}. Found by running model "${m.name}" at a draw from its prior (${at}${Object.keys(d.point).length > 4 ? ', ...' : ''}) ` +
      `with its values as numbers and as tensors (as ${method} runs it): this site's log density is ${fmt(d.onNumbers)} and ${fmt(d.onTensors)}, so a JS condition took another branch on a tensor, ` +
      'in the model or in a function it calls. (If the model is right on tensors, pass checkConditions: false to infer.)',
  );
}
