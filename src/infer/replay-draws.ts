/**
 * Completing posterior draws by running the model at them.
 *
 * Engines that move in unconstrained space or draw from a guide (NUTS, HMC,
 * HMC-within-Gibbs, NeuTra, VI, SVGD) know each draw's latent values but not
 * what the model computes from them: its `deterministic` sites, its return
 * value, and the constrained value of a site whose support depends on other
 * values (`Uniform(0, 1 - a)`), whose bijector exists only once the model
 * has reached the site. {@link replayDraws} runs the model with the latent
 * values substituted and records those.
 *
 * It runs the model once per draw, or, where the caller says the model runs
 * batched, once per chunk of draws with a leading draw axis; the batched
 * answer for the first draw is checked against a per-draw run, and any
 * disagreement or failure falls back to per-draw runs (the reason is
 * reported). A model with no deterministic sites, no return value and
 * nothing else asked for costs one run.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { tidyAsync } from '../backend/autodiff.js';
import type { Handler, Message } from '../core/message.js';
import { type Model, ModelError, execute } from '../core/model.js';
import { rejectsPoint } from '../core/errors.js';
import { type Rng, rngFrom } from '../core/rng.js';
import { Pacer, yieldToEventLoop } from './pace.js';
import { type Value, isTensor } from '../core/value.js';
import { nextTensorId } from './mcmc/state-tensors.js';
import type { Distribution } from '../distributions/distribution.js';
import { bijectTo } from '../transforms/biject-to.js';
import { type DrawColumn, widthOf } from './draw-columns.js';

/** A latent site whose value is given in unconstrained coordinates (its support depends on other values). */
export interface UnconstrainedSite {
  /** Shape of the unconstrained value of one draw. */
  readonly shape: readonly number[];
  /** The unconstrained coordinates of draw i (length = product of `shape`). */
  row(i: number): ArrayLike<number>;
}

/** The draws to complete. */
export interface DrawSource {
  /** Number of draws. */
  readonly size: number;
  /** Latent values of draw i by address (constrained), for the sites not in `unconstrained`. */
  values(i: number): Readonly<Record<string, Value>>;
  /** Sites given unconstrained: mapped by `bijectTo` of the support the model has when it reaches them. */
  readonly unconstrained?: ReadonlyMap<string, UnconstrainedSite>;
  /**
   * For batched runs: the model's plate nesting and each latent site's
   * number of batch axes (plate axes are reserved after the draw axis, as in
   * `execute`'s batched mode). Without it, draws run one at a time.
   */
  readonly batching?: { readonly plateNesting: number; batchRank(address: string): number };
  /**
   * For batched runs, optionally: the values of a site (not one given
   * unconstrained) for draws start..end-1 stacked on a leading axis, shape
   * `[end - start, ...the value's shape]`, where the source holds them that
   * way (e.g. a sampler's matrix of draws); undefined to stack the per-draw
   * values instead.
   */
  stacked?(address: string, start: number, end: number): tf.Tensor | undefined;
}

/** Options of {@link replayDraws}. */
export interface ReplayOptions {
  /** Latent sites whose values (as the model saw them) to record too, e.g. those given unconstrained. */
  readonly latent?: ReadonlySet<string>;
  /** Try batched runs (needs `source.batching`); default false. */
  readonly batched?: boolean;
  /** Draws per batched run; default 1024. */
  readonly chunk?: number;
  /** Handlers to run inside the substitution (e.g. a parameter store for `param` sites). */
  readonly handlers?: readonly Handler[];
  /** Random stream for anything the model draws itself; default seeded with 0. */
  readonly rng?: Rng;
  /** Stops the runs: the promise rejects with the signal's reason. */
  readonly signal?: AbortSignal;
  /**
   * Where the draws run batched, return the recorded sites holding numbers
   * or float32/int32 tensors as columns (`Replayed.columns`, one array over
   * all draws) instead of a value per draw; default false.
   */
  readonly columns?: boolean;
}

/** What {@link replayDraws} recorded. */
export interface Replayed<R> {
  /** Per draw: the deterministic sites and the `latent` sites asked for, by address. */
  readonly values: Record<string, Value>[];
  /** Per draw: the model's return value. */
  readonly returnValues: R[];
  /** `true` when the draws ran batched, else why not. */
  readonly vectorized: true | string;
  /** With `columns` and a batched run: the sites recorded as columns (left out of `values`). */
  readonly columns?: Map<string, DrawColumn>;
}

/** One run's record: the wanted sites and the return value. */
interface Record1 {
  values: Record<string, Value>;
  returnValue: unknown;
}

/**
 * Runs the model at every draw of `source` and records its deterministic
 * sites, its return value and the `latent` sites asked for; `undefined` when
 * the model has none of these (found by one run at the first draw).
 *
 * @throws ModelError when the model reaches a latent site the draws do not hold
 */
export async function replayDraws<A extends unknown[], R>(m: Model<A, R>, args: A, source: DrawSource, options: ReplayOptions = {}): Promise<Replayed<R> | undefined> {
  const n = source.size;
  if (n === 0) return undefined;
  const rng = options.rng ?? rngFrom(0);
  const latent = options.latent ?? new Set<string>();
  const first = await runOne(m, args, source, 0, latent, options, rng);
  if (Object.keys(first.values).length === 0 && first.returnValue === undefined) {
    disposeRecord(first);
    return undefined;
  }
  let vectorized: true | string = options.batched ? 'no batching information' : 'not requested';
  if (options.batched && source.batching) {
    const columns = options.columns ? columnsLike(first, n) : new Map<string, DrawColumn>();
    const rows = await runBatched(m, args, source, first, latent, options, rng, columns).catch((err: unknown) => (err instanceof Error && err.name === 'AbortError' ? Promise.reject(err) : `batched run failed: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`));
    if (typeof rows !== 'string') {
      // the first run's values of column sites are in their columns now (a tensor the return value also holds stays)
      const returned = new Set(tensorsOf({ values: {}, returnValue: first.returnValue }));
      for (const k of columns.keys()) {
        const v = first.values[k];
        if (isTensor(v) && !returned.has(v)) v.dispose();
        delete first.values[k];
      }
      return { values: rows.map((r) => r.values), returnValues: rows.map((r) => r.returnValue as R), vectorized: true, ...(options.columns ? { columns } : {}) };
    }
    vectorized = rows;
  }
  const rows: Record1[] = [first];
  let nextYield = performance.now() + 10;
  for (let i = 1; i < n; i++) {
    if (performance.now() >= nextYield) {
      await yieldToEventLoop();
      nextYield = performance.now() + 10;
    }
    if (options.signal?.aborted) {
      rows.forEach(disposeRecord);
      options.signal.throwIfAborted();
    }
    rows.push(await runOne(m, args, source, i, latent, options, rng));
  }
  return { values: rows.map((r) => r.values), returnValues: rows.map((r) => r.returnValue as R), vectorized };
}

/** A handler that substitutes latent values: given ones, or unconstrained ones mapped through the current support. */
function substitution(value: (msg: Message) => Value | undefined): Handler & { given: Set<unknown> } {
  return {
    given: new Set<unknown>(),
    process(msg) {
      if (msg.type !== 'sample' || msg.observed) return;
      const v = value(msg);
      if (v === undefined) throw new ModelError(msg.address, 'this latent site is not in the draws being completed (its value is unknown)');
      msg.value = v;
      this.given.add(v);
    },
  };
}

/** Collects the wanted sites of a finished run. */
function recorder(latent: ReadonlySet<string>): Handler & { values: Record<string, Value> } {
  return {
    values: {},
    postprocess(msg) {
      if (msg.type === 'deterministic' || (msg.type === 'sample' && !msg.observed && latent.has(msg.address))) this.values[msg.address] = msg.value as Value;
    },
  };
}

async function runOne<A extends unknown[], R>(m: Model<A, R>, args: A, source: DrawSource, i: number, latent: ReadonlySet<string>, options: ReplayOptions, rng: Rng): Promise<Record1> {
  const given = source.values(i);
  const sub = substitution((msg) => {
    const site = source.unconstrained?.get(msg.address);
    if (site === undefined) return given[msg.address];
    const bijector = bijectTo((msg.dist as Distribution).support);
    const u = site.row(i);
    return site.shape.length === 0 ? bijector.forward(u[0]!) : bijector.forward(tf.tensor(Float32Array.from(u), [...site.shape]));
  });
  const rec = recorder(latent);
  return tidyAsync(
    async () => {
      const since = nextTensorId();
      let returnValue: unknown;
      try {
        ({ returnValue } = await execute(m, { rng: rng.split(), checkNaN: false, handlers: [...(options.handlers ?? []), sub, rec] }, ...args));
      } catch (err) {
        // a draw the float64 compiled density accepted may be rejected by this float32 run (e.g. a Cholesky with
        // tiny jitter): it keeps its sampled values and gets no return value, instead of failing the whole run
        if (!rejectsPoint(err)) throw err;
        return { values: {}, returnValue: undefined };
      }
      // a record owns its tensors: any made before this run (the draws' own values, the user's
      // constants) is cloned, so that disposing the posterior frees only what the run made
      const own = (x: unknown): unknown => mapTensors(x, (t) => (t.id < since || sub.given.has(t) ? tf.clone(t) : t));
      const values: Record<string, Value> = {};
      for (const [k, v] of Object.entries(rec.values)) values[k] = isTensor(v) && v.rank === 0 ? v.dataSync()[0]! : (own(v) as Value);
      return { values, returnValue: own(returnValue) };
    },
    (r) => tensorsOf(r),
  );
}

/** Empty columns for the sites of `first` that hold numbers or float32/int32 tensors, `n` draws each. */
function columnsLike(first: Record1, n: number): Map<string, DrawColumn> {
  const out = new Map<string, DrawColumn>();
  for (const [k, v] of Object.entries(first.values)) {
    if (typeof v === 'number') out.set(k, { shape: [], data: new Float64Array(n) });
    else if (isTensor(v) && (v.dtype === 'float32' || v.dtype === 'int32')) out.set(k, { shape: v.shape, data: new Float64Array(n * v.size), dtype: v.dtype });
  }
  return out;
}

/**
 * Batched runs over chunks of draws, unbatched into per-draw records shaped
 * like `first` except for the sites in `columns`, whose values are written
 * there; a string says why not.
 */
async function runBatched<A extends unknown[], R>(m: Model<A, R>, args: A, source: DrawSource, first: Record1, latent: ReadonlySet<string>, options: ReplayOptions, rng: Rng, columns: ReadonlyMap<string, DrawColumn>): Promise<Record1[] | string> {
  const chunk = options.chunk ?? 1024;
  const out: Record1[] = [];
  const fail = (why: string): string => {
    out.forEach((r) => r !== first && disposeRecord(r));
    return why;
  };
  const pace = new Pacer(options.signal);
  for (let start = 0; start < source.size; start += chunk) {
    let rows: Record1[] | string;
    try {
      // yield between chunks (all of a chunk's awaits are microtasks, so a timer that aborts could not fire)
      if (pace.due()) await pace.pause();
      rows = await runChunk(m, args, source, first, latent, options, rng, start, Math.min(source.size, start + chunk), columns);
    } catch (err) {
      fail('');
      throw err;
    }
    if (typeof rows === 'string') return fail(rows);
    if (start === 0) {
      // the first draw, batched, must agree with its per-draw run; the per-draw record is kept
      const row0 = rows[0]!;
      const agree =
        Object.keys(first.values).every((k) => (columns.has(k) ? columnRowClose(columns.get(k)!, first.values[k]) : close(row0.values[k], first.values[k]))) &&
        close(row0.returnValue, first.returnValue);
      disposeRecord(row0);
      rows[0] = first;
      out.push(...rows);
      if (!agree) return fail('the batched run disagrees with a per-draw run at the first draw');
    } else out.push(...rows);
  }
  return out;
}

/** Whether draw 0 of a column equals a per-draw value (float32 rounding allowed, as {@link close}). */
function columnRowClose(col: DrawColumn, v: Value | undefined): boolean {
  const w = widthOf(col);
  const x = typeof v === 'number' ? [v] : isTensor(v) ? Array.from(v.dataSync(), Number) : undefined;
  if (x === undefined || x.length !== w) return false;
  return x.every((y, j) => col.data[j] === y || Math.abs(col.data[j]! - y) <= 1e-4 * (1 + Math.abs(y)));
}

/**
 * One batched run over draws start..end-1, split into per-draw records
 * shaped like `first`, the sites in `columns` written there instead; a
 * string says why not.
 */
async function runChunk<A extends unknown[], R>(m: Model<A, R>, args: A, source: DrawSource, first: Record1, latent: ReadonlySet<string>, options: ReplayOptions, rng: Rng, start: number, end: number, columns: ReadonlyMap<string, DrawColumn>): Promise<Record1[] | string> {
  const batching = source.batching!;
  const size = end - start;
  const sub = substitution((msg) => stacked(source, batching, msg, start, end));
  const rec = recorder(latent);
  return tidyAsync(
    async () => {
      const batch = { size, plateNesting: batching.plateNesting };
      const { returnValue } = await execute(m, { rng: rng.split(), checkNaN: false, batch, handlers: [...(options.handlers ?? []), sub, rec] }, ...args);
      const perDraw: Record1[] = Array.from({ length: size }, () => ({ values: {}, returnValue: undefined }));
      for (const [k, template] of Object.entries(first.values)) {
        const col = columns.get(k);
        if (col) {
          const v = rec.values[k];
          const w = widthOf(col);
          if (typeof v === 'number') col.data.fill(v, start * w, end * w);
          else if (isTensor(v) && v.size === size * w) col.data.set(v.dataSync(), start * w);
          else return `site "${k}" has no leading draw axis in the batched run`;
          continue;
        }
        const split = unbatch(rec.values[k], template, size);
        if (split === undefined) return `site "${k}" has no leading draw axis in the batched run`;
        split.forEach((v, j) => (perDraw[j]!.values[k] = v as Value));
      }
      const ret = unbatch(returnValue, first.returnValue, size);
      if (ret === undefined) return 'the return value has no leading draw axis in the batched run';
      ret.forEach((v, j) => (perDraw[j]!.returnValue = v));
      return perDraw;
    },
    (r) => (typeof r === 'string' ? [] : r.flatMap(tensorsOf)),
  );
}

/** The values of a latent site for draws start..end-1 on a leading axis, with the plate axes the batched run reserves. */
function stacked(source: DrawSource, batching: NonNullable<DrawSource['batching']>, msg: Message, start: number, end: number): Value | undefined {
  const size = end - start;
  const pad = new Array<number>(Math.max(0, batching.plateNesting - batching.batchRank(msg.address))).fill(1);
  const site = source.unconstrained?.get(msg.address);
  if (site !== undefined) {
    const width = site.shape.reduce((a, b) => a * b, 1);
    const flat = new Float32Array(size * width);
    for (let i = start; i < end; i++) flat.set(Array.from(site.row(i)), (i - start) * width);
    return bijectTo((msg.dist as Distribution).support).forward(tf.tensor(flat, [size, ...pad, ...site.shape]));
  }
  const direct = source.stacked?.(msg.address, start, end);
  if (direct !== undefined) return tf.reshape(direct, [size, ...pad, ...direct.shape.slice(1)]);
  const values: Value[] = [];
  for (let i = start; i < end; i++) {
    const v = source.values(i)[msg.address];
    if (v === undefined) return undefined;
    values.push(v);
  }
  const v0 = values[0]!;
  if (typeof v0 === 'number') return tf.reshape(tf.tensor1d(values as number[]), [size, ...pad]);
  // one buffer filled from each draw's values: much cheaper than tf.stack over thousands of small tensors
  const first = v0.dataSync();
  const width = first.length;
  const flat = new (first.constructor as new (n: number) => typeof first)(size * width);
  for (let i = 0; i < size; i++) {
    const t = values[i] as tf.Tensor;
    if (typeof (values[i] as unknown) === 'number' || t.size !== width || t.dtype !== v0.dtype) return tf.reshape(tf.stack(values.map((v) => tf.cast(v as tf.Tensor, v0.dtype))), [size, ...pad, ...v0.shape]);
    flat.set(i === 0 ? first : t.dataSync(), i * width);
  }
  return tf.tensor(flat, [size, ...pad, ...v0.shape], v0.dtype);
}

/**
 * Splits a batched run's value into `n` per-draw values shaped like
 * `template` (the first draw's per-draw value): tensors with a leading draw
 * axis (and reserved size-1 plate axes) are reshaped and unstacked, values
 * the same for every draw are repeated, arrays and plain objects are split
 * member by member. `undefined` when the value cannot be split.
 */
function unbatch(v: unknown, template: unknown, n: number): unknown[] | undefined {
  if (template === undefined || template === null || typeof template === 'boolean' || typeof template === 'string') {
    return v === template ? new Array<unknown>(n).fill(template) : undefined;
  }
  if (typeof template === 'number') {
    if (typeof v === 'number') return new Array<number>(n).fill(v);
    if (isTensor(v) && v.size === n) return Array.from(v.dataSync(), Number);
    return undefined;
  }
  if (isTensor(template)) {
    if (!isTensor(v) || v.size !== n * template.size) return undefined;
    // one read-back and a tensor per draw made from it: cheaper than a slice kernel per draw (unstack)
    const data = v.dataSync();
    const size = template.size;
    return Array.from({ length: n }, (_, i) => tf.tensor(data.subarray(i * size, (i + 1) * size), template.shape, v.dtype));
  }
  if (Array.isArray(template)) {
    if (!Array.isArray(v) || v.length !== template.length) return undefined;
    const parts = template.map((t, j) => unbatch(v[j], t, n));
    if (parts.some((p) => p === undefined)) return undefined;
    return Array.from({ length: n }, (_, i) => parts.map((p) => p![i]));
  }
  if (Object.getPrototypeOf(template) === Object.prototype && v !== null && typeof v === 'object') {
    const keys = Object.keys(template);
    const parts = keys.map((k) => unbatch((v as Record<string, unknown>)[k], (template as Record<string, unknown>)[k], n));
    if (parts.some((p) => p === undefined)) return undefined;
    return Array.from({ length: n }, (_, i) => Object.fromEntries(keys.map((k, j) => [k, parts[j]![i]])));
  }
  return undefined;
}

/** Whether a batched run's value for one draw matches its per-draw value (float32 rounding allowed). */
function close(a: unknown, b: unknown): boolean {
  if (typeof b === 'number' || isTensor(b)) {
    if (typeof a !== 'number' && !isTensor(a)) return false;
    const x = typeof a === 'number' ? [a] : Array.from(a.dataSync(), Number);
    const y = typeof b === 'number' ? [b] : Array.from(b.dataSync(), Number);
    if (isTensor(a) && isTensor(b) && (a.rank !== b.rank || a.shape.some((d, i) => d !== b.shape[i]))) return false;
    return x.length === y.length && x.every((v, i) => v === y[i] || Math.abs(v - y[i]!) <= 1e-4 * (1 + Math.abs(y[i]!)));
  }
  if (Array.isArray(b)) return Array.isArray(a) && a.length === b.length && b.every((v, i) => close(a[i], v));
  if (b !== null && typeof b === 'object' && Object.getPrototypeOf(b) === Object.prototype) {
    return a !== null && typeof a === 'object' && Object.keys(b).every((k) => close((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
  }
  return a === b;
}

/** `x` with each tensor (also within arrays and plain objects) replaced by `f` of it. */
function mapTensors(x: unknown, f: (t: tf.Tensor) => tf.Tensor): unknown {
  if (isTensor(x)) return f(x);
  if (Array.isArray(x)) return x.map((v) => mapTensors(v, f));
  if (x !== null && typeof x === 'object' && Object.getPrototypeOf(x) === Object.prototype) {
    return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, mapTensors(v, f)]));
  }
  return x;
}

/** Every tensor in a record (values and, within arrays and plain objects, the return value). */
function tensorsOf(r: Record1): tf.Tensor[] {
  const out: tf.Tensor[] = [];
  mapTensors([r.values, r.returnValue], (t) => (out.push(t), t));
  return out;
}

function disposeRecord(r: Record1): void {
  for (const t of tensorsOf(r)) if (!t.isDisposed) t.dispose();
}
