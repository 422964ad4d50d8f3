/**
 * Composable effect handlers, after NumPyro's `handlers.py`.
 *
 * Each function takes a model and returns a new model with one more handler
 * outside the existing ones, so they compose by nesting:
 * `condition(substitute(m, values), data)`. Engines are built from them.
 *
 * @module
 */
import type { Handler, Message } from './message.js';
import { ModelError, TycheError } from './errors.js';
import { Model, execute } from './model.js';
import type { Rng, Seed } from './rng.js';
import { rngFrom } from './rng.js';
import type { Trace } from './trace.js';
import { type Value, type ValueLike, isTensor, toValue } from './value.js';
import * as tf from '@tensorflow/tfjs-core';

/** Which sites a handler applies to: a list of addresses or a predicate on the message. */
export type SiteFilter = readonly string[] | ((msg: Message) => boolean);

function matches(filter: SiteFilter | undefined, msg: Message): boolean {
  if (filter === undefined) return true;
  return typeof filter === 'function' ? filter(msg) : filter.includes(msg.address);
}

/** Record every site: `const { trace } = await traceOf(m, rng, ...args)`. */
export async function traceOf<A extends unknown[], R>(m: Model<A, R>, rng: Rng | Seed | undefined, ...args: A): Promise<{ trace: Trace; returnValue: R }> {
  return execute(m, { rng: rngFrom(rng) }, ...args);
}

/**
 * Replay latent sample sites from a trace: each unobserved sample site whose
 * address is in `trace` takes the recorded value (its log density is
 * recomputed under the new model).
 */
export function replay<A extends unknown[], R>(m: Model<A, R>, trace: Trace): Model<A, R> {
  return m.withHandler(replayHandler(trace));
}
/** The handler behind {@link replay}. */
export function replayHandler(trace: Trace): Handler {
  return {
    process(msg) {
      if (msg.type !== 'sample' || msg.observed) return;
      const site = trace.get(msg.address);
      if (site !== undefined) msg.value = site.value;
    },
  };
}

/**
 * Substitute values at latent sample sites and param sites (by address).
 * `values` may be a record or a function returning a value or `undefined`.
 */
export function substitute<A extends unknown[], R>(m: Model<A, R>, values: Record<string, ValueLike> | ((msg: Message) => Value | undefined)): Model<A, R> {
  return m.withHandler(substituteHandler(values));
}
/** The handler behind {@link substitute}. */
export function substituteHandler(values: Record<string, ValueLike> | ((msg: Message) => Value | undefined)): Handler {
  return {
    process(msg) {
      if ((msg.type !== 'sample' || msg.observed) && msg.type !== 'param') return;
      const v = typeof values === 'function' ? values(msg) : values[msg.address];
      if (v !== undefined) msg.value = toValue(v as ValueLike, `substitute "${msg.address}"`);
    },
  };
}

/**
 * Condition sample sites on data: each listed site becomes observed with the
 * given value. A run that does not reach a listed site (a site on a branch
 * this run did not take) is simply not conditioned there, as in Pyro. But
 * an address that no run of an `infer` call reached is an error naming it
 * (a typo such as `{ yy: data }` for site `y`, or a dead site), not data
 * silently left out: see {@link assertConditionsVisited}.
 */
export function condition<A extends unknown[], R>(m: Model<A, R>, data: Record<string, ValueLike>): Model<A, R> {
  return m.withHandler(conditionHandler(data));
}
/** What a condition handler saw of the runs of its model (see {@link assertConditionsVisited}). */
interface ConditionVisits {
  /** The data given, by address. */
  readonly data: Record<string, ValueLike>;
  /** Bumped by each {@link conditionCheckpoint}: a visit is stamped with the epoch it happened in. */
  epoch: number;
  /** Per conditioned address, the epoch of the last run that reached a site there. */
  readonly lastVisit: Map<string, number>;
  /** The sites of the last run that returned, for the message. */
  lastSites: ReadonlySet<string> | undefined;
}

const conditionVisits = new WeakMap<Handler, ConditionVisits>();

/** The handler behind {@link condition}. */
export function conditionHandler(data: Record<string, ValueLike>): Handler {
  const visits: ConditionVisits = { data, epoch: 0, lastVisit: new Map(), lastSites: undefined };
  const handler: Handler = {
    process(msg) {
      const v = data[msg.address];
      if (v === undefined) return;
      if (msg.type !== 'sample') throw new ModelError(msg.address, `condition was given data for this address, but it is a ${msg.type} site, not a sample site: its value is not drawn, so data cannot condition it (observe the sample sites it is computed from)`);
      visits.lastVisit.set(msg.address, visits.epoch);
      msg.value = subsampleOf(toValue(v, `condition "${msg.address}"`), msg);
      (msg as { observed: boolean }).observed = true;
    },
    finish(addresses) {
      visits.lastSites = addresses;
    },
  };
  conditionVisits.set(handler, visits);
  return handler;
}

/**
 * Data given at a subsampled plate's full size, cut to the plate's subsample
 * (its indices along its dimension), as Pyro's plate cuts its data; data
 * already of the subsample's size passes unchanged.
 */
function subsampleOf(v: Value, msg: Message): Value {
  if (!isTensor(v)) return v;
  const eventRank = (msg.dist as { eventShape?: readonly number[] } | undefined)?.eventShape?.length ?? 0;
  let out = v;
  for (const p of msg.plates) {
    const axis = out.rank - eventRank + p.dim;
    if (p.subsampleSize === p.size || axis < 0 || out.shape[axis] !== p.size) continue;
    const from = out;
    out = tf.tidy(() => tf.gather(from, tf.tensor1d(p.indices, 'int32'), axis));
  }
  return out;
}

/** A point in the runs of a model, taken before an inference (see {@link assertConditionsVisited}). */
export type ConditionCheckpoint = ReadonlyMap<Handler, number>;

/** Mark the runs of `m` from now on: its condition handlers start a new epoch of visits. */
export function conditionCheckpoint(m: { readonly handlers: readonly Handler[] }): ConditionCheckpoint {
  const out = new Map<Handler, number>();
  for (const h of m.handlers) {
    const v = conditionVisits.get(h);
    if (v) out.set(h, ++v.epoch);
  }
  return out;
}

/**
 * The addresses each condition handler of `m` was given data for (in the
 * order of `m.handlers`, each list sorted): what a copy of the model that
 * runs elsewhere (a chain worker thread) must match, or it conditions on
 * other data than the model passed to `infer`.
 */
export function conditionedAddresses(m: { readonly handlers: readonly Handler[] }): string[][] {
  const out: string[][] = [];
  for (const h of m.handlers) {
    const v = conditionVisits.get(h);
    if (v) out.push(Object.keys(v.data).filter((a) => v.data[a] !== undefined).sort());
  }
  return out;
}

/**
 * The conditioned addresses that runs of `m` reached since `checkpoint`, one
 * list per condition handler of `m` (in the order of `m.handlers`): what a
 * copy of the model that ran elsewhere (a chain worker thread) hands back to
 * {@link recordConditionVisits}, so that a site its runs reached counts as
 * reached.
 */
export function conditionVisitsSince(m: { readonly handlers: readonly Handler[] }, checkpoint: ConditionCheckpoint): string[][] {
  const out: string[][] = [];
  for (const h of m.handlers) {
    const v = conditionVisits.get(h);
    if (!v) continue;
    const epoch = checkpoint.get(h) ?? 0;
    out.push([...v.lastVisit].filter(([, e]) => e >= epoch).map(([address]) => address));
  }
  return out;
}

/**
 * Counts the visits of runs made elsewhere (see {@link conditionVisitsSince})
 * as visits of `m`'s own condition handlers in the current epoch: list i
 * belongs to `m`'s i-th condition handler. A model whose condition handlers
 * do not line up with the lists (not the same model) is a `TycheError`, not a
 * visit given to the wrong handler.
 */
export function recordConditionVisits(m: { readonly handlers: readonly Handler[] }, visited: readonly (readonly string[])[]): void {
  const own = m.handlers.map((h) => conditionVisits.get(h)).filter((v): v is ConditionVisits => v !== undefined);
  if (own.length !== visited.length) {
    throw new TycheError(`condition: the model that ran elsewhere has ${visited.length} condition handler(s), this one ${own.length}: not the same model`);
  }
  own.forEach((v, i) => {
    for (const address of visited[i]!) if (v.data[address] !== undefined) v.lastVisit.set(address, v.epoch);
  });
}

/**
 * Throws a `ModelError` naming a conditioned address that no run of the model
 * since `checkpoint` (see {@link conditionCheckpoint}) reached (a typo, or a site on a branch no run took): its data
 * conditioned nothing. Addresses that some runs reached and others skipped
 * are fine. `infer` calls it when an engine returns.
 */
export function assertConditionsVisited(checkpoint: ConditionCheckpoint): void {
  for (const [h, epoch] of checkpoint) {
    const v = conditionVisits.get(h)!;
    for (const address of Object.keys(v.data)) {
      if (v.data[address] === undefined || (v.lastVisit.get(address) ?? -1) >= epoch) continue;
      const sites = v.lastSites ? [...v.lastSites] : [];
      const listed = sites.length > 20 ? `${sites.slice(0, 20).join(', ')}, ... (${sites.length} in all)` : sites.join(', ');
      throw new ModelError(address, `condition was given data for this address, but no run of the model reached a site there (the sites of its last run: ${listed}); a typo, or a site on a branch no run took?`);
    }
  }
}

/**
 * Hide sites from handlers outside this one (for example, to keep a
 * sub-model's sites out of an outer trace). By default every site is hidden;
 * `hide` selects some, `expose` keeps some visible.
 */
export function block<A extends unknown[], R>(m: Model<A, R>, options: { hide?: SiteFilter; expose?: SiteFilter } = {}): Model<A, R> {
  return m.withHandler(blockHandler(options));
}
/** The handler behind {@link block}. */
export function blockHandler(options: { hide?: SiteFilter; expose?: SiteFilter } = {}): Handler {
  return {
    process(msg) {
      if (options.expose !== undefined && matches(options.expose, msg)) return;
      if (matches(options.hide, msg)) msg.stop = true;
    },
  };
}

/** Multiply the log density of every site by `factor` (e.g. tempering, subsampling). */
export function scale<A extends unknown[], R>(m: Model<A, R>, factor: number): Model<A, R> {
  return m.withHandler(scaleHandler(factor));
}
/** The handler behind {@link scale}. */
export function scaleHandler(factor: number, filter?: SiteFilter): Handler {
  if (!(factor >= 0)) throw new RangeError(`scale: factor must be a nonnegative number, got ${factor}`);
  return {
    process(msg) {
      if (matches(filter, msg)) msg.scale *= factor;
    },
  };
}

/**
 * Mask log densities: `false` (or a boolean tensor, elementwise) removes them.
 * A tensor mask must fit into the shape of each site it reaches (it removes
 * elements, never repeats a site): give `filter` (addresses, or a predicate)
 * to mask only the observations it is meant for, e.g. `mask(m, observedMask, ['y'])`.
 */
export function mask<A extends unknown[], R>(m: Model<A, R>, maskValue: boolean | tf.Tensor, filter?: SiteFilter): Model<A, R> {
  return m.withHandler(maskHandler(maskValue, filter));
}
/** The handler behind {@link mask}. */
export function maskHandler(maskValue: boolean | tf.Tensor, filter?: SiteFilter): Handler {
  return {
    process(msg) {
      if (!matches(filter, msg)) return;
      if (msg.mask === true) msg.mask = maskValue;
      else if (maskValue === false || msg.mask === false) msg.mask = false;
      else if (maskValue !== true) {
        throw new Error(`mask: nested tensor masks at site "${msg.address}" are not supported; combine them first`);
      }
    },
  };
}

/** Draw every value inside the model from `seed`'s stream (splitting it per site). */
export function seed<A extends unknown[], R>(m: Model<A, R>, s: Seed | Rng): Model<A, R> {
  return m.withHandler(seedHandler(rngFrom(s)));
}
/** The handler behind {@link seed}. */
export function seedHandler(rng: Rng): Handler {
  return {
    process(msg) {
      if (msg.rng === undefined) msg.rng = rng;
    },
  };
}

/**
 * Turn observed sample sites into latent draws (for posterior and prior
 * predictive simulation): observed values are ignored and redrawn, and an
 * `observe` given no value (`undefined` or `null`, as for `y` at new inputs)
 * is drawn too, where without this handler it is an error.
 */
export function uncondition<A extends unknown[], R>(m: Model<A, R>, filter?: SiteFilter): Model<A, R> {
  return m.withHandler(unconditionHandler(filter));
}
/** The handler behind {@link uncondition}. It must be the innermost handler that sees observed sites. */
export function unconditionHandler(filter?: SiteFilter): Handler {
  return {
    drawsObserved: (msg) => matches(filter, msg),
    process(msg) {
      if (msg.type !== 'sample' || !msg.observed || !matches(filter, msg)) return;
      msg.value = undefined;
      (msg as { observed: boolean }).observed = false;
    },
  };
}
