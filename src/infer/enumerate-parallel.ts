/**
 * Parallel (vectorised) exact enumeration: `infer(model, { method:
 * 'enumerate', strategy: 'parallel' })`.
 *
 * The model runs once. Each latent discrete site gets all of its values at
 * once, as a tensor along a dimension of its own (the k-th site's dimension
 * is the (k+1)-th from the left of the plate dimensions, as in Pyro's
 * parallel enumeration), so every later computation broadcasts over every
 * combination of earlier choices; the sum of the sites' log densities is the
 * log joint of every execution path, in one tensor. Then the paths with
 * positive probability are rescored exactly, in float64, by replaying each of
 * them on the number path (tfjs tensors are float32), so the result is as
 * exact as sequential enumeration.
 *
 * Requirements: the model uses tensor-aware arithmetic on sampled values
 * (`ops.add`, `ops.eq`, `ops.where`, ...; JS operators and `if` on a draw do
 * not work on tensors) and has no latent discrete site inside a plate.
 * Cost: one model run over tensors of (number of paths) elements, plus a
 * sequential run per path with positive probability — a large saving when
 * conditions rule most paths out (e.g. dice conditioned on their sum).
 *
 * @module
 */
import { ModelCodeError, TycheError } from '../core/errors.js';
import * as tf from '@tensorflow/tfjs-core';
import { tidyAsync } from '../backend/autodiff.js';
import type { Handler, Message } from '../core/message.js';
import { type Model, ModelError, execute } from '../core/model.js';
import { rngFrom } from '../core/rng.js';
import { plateNestingOf } from '../core/trace.js';
import { type Value, logSumExp, toTensor, unravelIndex } from '../core/value.js';
import type { Distribution } from '../distributions/distribution.js';
import type { IntervalConstraint } from '../distributions/constraints.js';
import { type Draw, Posterior } from './posterior.js';
import { ChoiceWalker, PathRecorder, runPath } from './enumerate-path.js';
import { LEAN_FALLBACK, LeanEnumerator } from './enumerate-lean.js';
import { Pacer } from './pace.js';
import { assertFiniteLogWeights } from './diagnose.js';

/** The error at a site that a rescored path visits and the vectorised run did not. */
const NOT_IN_VECTORISED_RUN = 'this site did not exist in the vectorised run: the model branches on enumerated values; use strategy sequential';

/** The most dimensions a vectorised run may use (tfjs-wasm's XNNPACK limit). */
const MAX_RANK = 6;

/** Options of the parallel strategy. */
export interface ParallelEnumerateOptions {
  readonly seed?: number | string;
  /** Largest number of paths held in one tensor (default 2^25). */
  readonly maxPaths?: number;
  /** Stops the run (the promise rejects with the signal's reason). */
  readonly signal?: AbortSignal;
  /**
   * Check the vectorised run against exact runs on numbers (what
   * `strategy: 'auto'` does before trusting it): every rescored path must
   * visit the vectorised run's sites in the same order with the same log
   * weight (to float32 rounding), and {@link VERIFY_EXCLUDED} paths the
   * vectorised run ruled out, drawn at random, must have probability zero.
   * A failed check throws {@link ParallelUnverified}.
   */
  readonly verify?: boolean;
}

/** How many excluded paths a verified parallel run rescores to confirm they have probability zero. */
export const VERIFY_EXCLUDED = 64;

/** A vectorised run that disagrees with exact runs on numbers (the model is not tensor-aware). */
export class ParallelUnverified extends TycheError {
  constructor(message: string) {
    super(`enumerate (parallel): ${message}`);
    this.name = 'ParallelUnverified';
  }
}

/** The values of a finite discrete support, the same for every batch member, or undefined. */
export function supportValues(dist: Distribution): number[] | undefined {
  const listed = dist.enumerateSupport();
  if (listed) return listed.map((v) => (typeof v === 'number' ? v : NaN)).filter((v) => !Number.isNaN(v));
  const c = dist.support as Partial<IntervalConstraint>;
  if (!dist.isDiscrete || typeof c.lower !== 'number' || typeof c.upper !== 'number') return undefined;
  if (c.upper - c.lower > 1e6) return undefined;
  return Array.from({ length: c.upper - c.lower + 1 }, (_, i) => (c.lower as number) + i);
}

interface EnumSite {
  readonly address: string;
  readonly values: number[];
  /** The log mass of each value, when the site's distribution does not depend on earlier enumerated values. */
  readonly lps?: Float64Array;
}

/**
 * Gives each latent discrete site all its values along a new dimension —
 * except the first `sequential` sites, which a {@link ChoiceWalker} sets to
 * one value per run (tensor ranks stay within what every backend handles).
 */
class ParallelChoices implements Handler {
  sites: EnumSite[] = [];
  prefix = new Map<string, Value>();
  private seen = 0;

  constructor(
    private readonly plateNesting: number,
    private readonly sequential: number,
    private readonly walker: ChoiceWalker,
  ) {}

  reset(): void {
    this.sites = [];
    this.prefix = new Map();
    this.seen = 0;
    this.walker.reset();
  }

  process(msg: Message): void {
    if (msg.type !== 'sample' || msg.observed || msg.value !== undefined) return;
    if (msg.plates.length > 0) throw new ModelError(msg.address, "parallel enumeration handles latent sites outside plates only; use strategy 'sequential'");
    if (this.seen++ < this.sequential) {
      this.walker.process(msg);
      this.prefix.set(msg.address, msg.value as unknown as Value);
      return;
    }
    const dist = msg.dist as Distribution;
    const values = supportValues(dist);
    if (!values) throw new ModelError(msg.address, `${dist.name} does not have a finite discrete support to enumerate`);
    const k = this.sites.length;
    // more enumerated dimensions than the probe run had: tfjs-wasm would silently compute wrong values past six
    if (this.plateNesting + k + 1 > MAX_RANK) {
      throw new ModelError(msg.address, `more enumerated sites in one vectorised run than the first run had (at most ${MAX_RANK} dimensions with plates); the model's sites differ between paths: use strategy 'sequential'`);
    }
    const shape = [values.length, ...new Array<number>(this.plateNesting + k).fill(1)];
    msg.value = tf.tensor(values, shape);
    // one scalar distribution (parameters that do not depend on earlier enumerated values): its log
    // density per value on the number path, added to the joint in JS, in place of a tensor logProb
    // (a dozen kernels per site) and a broadcast add over every path
    let lps: Float64Array | undefined;
    if (dist.batchShape.length === 0 && dist.eventShape.length === 0) {
      const ls = values.map((v) => dist.logProb(v));
      if (ls.every((l) => typeof l === 'number')) {
        lps = Float64Array.from(ls as number[]);
        msg.logProb = 0;
      }
    }
    this.sites.push({ address: msg.address, values, lps });
  }
}

/**
 * The sum of the sites' number log masses over every combination of values,
 * laid out as the vectorised run's joint (the first site on the last axis);
 * sites without them add 0 here (their log density is a tensor in the joint).
 */
function outerSum(sites: readonly EnumSite[]): Float64Array {
  let acc = new Float64Array(1);
  for (let k = sites.length - 1; k >= 0; k--) {
    const s = sites[k];
    const n = s.values.length;
    const next = new Float64Array(acc.length * n);
    const lps = s.lps;
    for (let a = 0; a < acc.length; a++) {
      const base = acc[a];
      for (let j = 0; j < n; j++) next[a * n + j] = lps ? base + lps[j] : base;
    }
    acc = next;
  }
  return acc;
}

/** A site's log density with its plate dimensions summed out, keeping the enumeration dimensions. */
function enumLogDensity(logProb: Value, scale: number, mask: boolean | tf.Tensor, plateNesting: number): Value {
  if (mask === false || scale === 0) return 0;
  let lp = toTensor(logProb);
  if (mask !== true) lp = tf.where(tf.broadcastTo(mask, lp.shape), lp, tf.zerosLike(lp));
  const n = Math.min(plateNesting, lp.rank);
  if (n > 0) lp = tf.sum(lp, Array.from({ length: n }, (_, i) => lp.rank - n + i));
  return scale === 1 ? lp : tf.mul(lp, scale);
}

/** Parallel enumeration with exact float64 rescoring of the paths with positive probability. */
export async function enumerateParallel<A extends unknown[], R>(m: Model<A, R>, options: ParallelEnumerateOptions, args: A): Promise<Posterior<A, R>> {
  const rng = rngFrom(options.seed ?? 0);
  const maxPaths = options.maxPaths ?? 2 ** 25;
  // rescoring on the lean runtime (no handler stack); a model it cannot run is rescored on the general one
  const pace = new Pacer(options.signal);
  let lean = LeanEnumerator.handles(m) ? new LeanEnumerator(m, args, rng, pace, Infinity) : undefined;
  // the probe: how many latent sites, inside how many plates (the lean runtime's first path when it
  // completes: no plates there; else one run on the general runtime)
  let latent = lean ? await lean.firstPath() : undefined;
  let plateNesting = 0;
  if (latent === undefined) {
    const { trace: probe } = await execute(m, { rng: rng.split() }, ...args);
    plateNesting = plateNestingOf(probe);
    probe.disposeLogProbs();
    latent = 0;
    for (const site of probe) if (site.type === 'sample' && !site.observed) latent++;
  }
  // tfjs-wasm (XNNPACK) broadcasts at most 6 dimensions: keep enumeration + plate dims within that
  const sequential = Math.max(0, latent - Math.max(1, MAX_RANK - plateNesting));
  const walker = new ChoiceWalker();
  const choices = new ParallelChoices(plateNesting, sequential, walker);
  const recorder = new PathRecorder();
  const verify = options.verify === true;
  if (verify && !lean) throw new ParallelUnverified('a model with handlers of its own cannot be checked');
  const draws: Draw<R>[] = [];
  let paths = 0;
  do {
    // one vectorised run per prefix: the log joint of every completion, and which are possible
    choices.reset();
    let dims: number[] = [];
    let order: string[] = [];
    const possible = await tidyAsync(
      async () => {
        const { trace } = await execute(m, { rng: rng.split(), handlers: [choices], checkNaN: false }, ...args).catch((e: unknown) => {
          throw withSequentialHint(e);
        });
        if (verify) order = [...trace].map((s) => s.address);
        dims = choices.sites.map((s) => s.values.length).reverse();
        const count = dims.reduce((a, b) => a * b, 1);
        if (count > maxPaths) throw new TycheError(`enumerate (parallel): ${count} paths in one vectorised run exceed maxPaths = ${maxPaths}`);
        let joint: tf.Tensor | undefined;
        const inJs = new Set(choices.sites.filter((c) => c.lps !== undefined).map((c) => c.address));
        for (const s of trace) {
          if ((s.type !== 'sample' && s.type !== 'factor') || inJs.has(s.address)) continue;
          const lp = enumLogDensity(s.logProb, s.scale, s.mask, plateNesting);
          joint = joint === undefined ? toTensor(lp) : tf.add(joint, toTensor(lp));
        }
        const out = outerSum(choices.sites);
        if (joint !== undefined) {
          const t = joint.shape.length === dims.length && joint.shape.every((d, i) => d === dims[i]) ? joint : tf.broadcastTo(joint, dims);
          const d = t.dataSync();
          for (let i = 0; i < out.length; i++) out[i] += d[i];
        }
        return out;
      },
      () => [],
    );
    paths += possible.length;
    const sites = choices.sites;
    const prefix = choices.prefix;
    const valuesAt = (i: number): Map<string, Value> => {
      const coords = unravelIndex(i, dims);
      const byAddress = new Map<string, Value>(prefix);
      sites.forEach((s, k) => byAddress.set(s.address, s.values[coords[dims.length - 1 - k]]));
      return byAddress;
    };
    // exact rescoring of the possible paths on the number path (float64)
    const excluded: number[] = [];
    for (let i = 0; i < possible.length; i++) {
      if (possible[i] === -Infinity || Number.isNaN(possible[i])) {
        if (verify) excluded.push(i);
        continue;
      }
      if (pace.due()) await pace.pause();
      const byAddress = valuesAt(i);
      if (lean) {
        const draw = await lean.score(byAddress, NOT_IN_VECTORISED_RUN);
        if (verify) checkPath(draw, lean.addresses(), order, possible[i]);
        if (draw !== LEAN_FALLBACK) {
          if (draw) draws.push(draw);
          continue;
        }
        lean = undefined;
      }
      const fix: Handler = {
        process(msg) {
          if (msg.type !== 'sample' || msg.observed || msg.value !== undefined) return;
          const v = byAddress.get(msg.address);
          if (v === undefined) throw new ModelError(msg.address, NOT_IN_VECTORISED_RUN);
          msg.value = v;
        },
      };
      const draw = await runPath(m, args, rng, [fix], recorder);
      if (draw) draws.push(draw);
    }
    // paths ruled out by the vectorised run, drawn at random, must have probability zero
    for (let t = 0; t < Math.min(VERIFY_EXCLUDED, excluded.length); t++) {
      const i = excluded.length <= VERIFY_EXCLUDED ? excluded[t] : excluded[rng.int(excluded.length)];
      const draw = await (lean as LeanEnumerator<A, R>).score(valuesAt(i), NOT_IN_VECTORISED_RUN);
      if (draw === LEAN_FALLBACK) throw new ParallelUnverified('a path the vectorised run ruled out could not be rescored');
      if (draw !== undefined) throw new ParallelUnverified(`the vectorised run ruled out a path of log weight ${draw.logWeight} (${describePath(valuesAt(i))}): the model decides with JS operators on draws`);
    }
  } while (walker.advance());
  if (draws.length === 0) {
    throw new TycheError(
      "enumerate (parallel): every path has probability zero. With strategy 'parallel' the model must use tensor-aware arithmetic on sampled values (ops.add, ops.eq, ops.where); JS operators and `if` on draws do not work on tensors",
    );
  }
  assertFiniteLogWeights('enumerate', draws);
  const logZ = logSumExp(draws.map((d) => d.logWeight));
  return new Posterior({ method: 'enumerate', draws, logZ, exact: true, diagnostics: { strategy: 'parallel', paths, rescored: draws.length }, model: m, args });
}

/** Values of a path, for messages. */
function describePath(values: ReadonlyMap<string, Value>): string {
  return [...values].map(([a, v]) => `${a} = ${String(v)}`).join(', ');
}

/**
 * A rescored path must agree with the vectorised run: rescored at all, the
 * same sites in the same order, and the same log weight up to float32
 * rounding of the tensor parts.
 */
function checkPath(draw: Draw<unknown> | undefined | typeof LEAN_FALLBACK, visited: readonly string[], order: readonly string[], vectorised: number): void {
  if (draw === LEAN_FALLBACK) throw new ParallelUnverified('a path could not be rescored on the lean runtime');
  if (visited.length !== order.length || visited.some((a, i) => a !== order[i])) {
    throw new ParallelUnverified(`a path visits sites [${visited.join(', ')}], the vectorised run [${order.join(', ')}]: the model branches on draws`);
  }
  const exact = draw === undefined ? -Infinity : draw.logWeight;
  const ok = exact === -Infinity ? false : Math.abs(exact - vectorised) <= 1e-4 * Math.max(1, Math.abs(exact));
  if (!ok) throw new ParallelUnverified(`a path has log weight ${exact} on numbers and ${vectorised} in the vectorised run: the model decides with JS operators on draws`);
}

/**
 * The error of a model that reads an enumerated value as a number (`toNumber`)
 * in a vectorised run, where the value is a tensor of every choice: the same
 * error, with the way out added to its message.
 */
function withSequentialHint(e: unknown): unknown {
  if (e instanceof ModelCodeError && e.cause instanceof Error && /expected a single number, got a tensor/.test(e.cause.message)) {
    e.message += "; with strategy 'parallel' an enumerated site's value is a tensor of all its values, so toNumber(...) on it cannot work: use strategy: 'sequential' for a model that reads draws as numbers";
  }
  return e;
}
