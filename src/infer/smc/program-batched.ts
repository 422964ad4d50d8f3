/**
 * Batched SMC over an async program: all particles as one execution.
 *
 * The model runs once, batched (`execute` with `batch: { size: N }`): every
 * latent draw is a tensor with a leading particle axis of N rows, and so is
 * every observation's log density. At each checkpoint (an observed `sample`
 * or a `factor`) the execution suspends inside the effect, hands the N log
 * potentials to the particle core (`runSMC`) and waits. Resampling
 * does not copy executions: it starts a new epoch of the execution's
 * `ParticleAxis`, and every tensor the suspended program holds is
 * gathered by the ancestors, lazily and in place, the next time it is used
 * (see `reindex.ts`). The cost of a step is then a few tensor operations on
 * N rows, whatever t is: no replay.
 *
 * Not every program can run this way: control flow that depends on a draw
 * (`if (x > 0)`, a loop bound, an index) needs one value per particle. Such
 * programs fail loudly in a batched run (arithmetic or comparison on a
 * tensor draw throws, as does reading it as one number), and the engine
 * falls back to per-particle execution. Because a branch on a tensor's
 * truthiness would not throw, a batched run is also checked: a few final
 * particles are re-run one by one (per-particle, from their batched values)
 * and must visit the same sites with the same log densities. Those checks
 * see only a few particles, so the whole batched run (and the probe) is also
 * watched for boolean tensors made and never consumed (a JS condition on a
 * tensor comparison, see `backend/condition-watch.ts`); the engine then
 * runs per particle.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { ConditionWatch } from '../../backend/condition-watch.js';
import { branchOnTensorError } from '../../core/errors.js';
import { substituteHandler } from '../../core/handlers.js';
import type { Handler, Message } from '../../core/message.js';
import { type Model, execute, executeMarked } from '../../core/model.js';
import { type Rng, rngFrom } from '../../core/rng.js';
import { type Site, type Trace, siteLogDensity } from '../../core/trace.js';
import { type Value, isTensor } from '../../core/value.js';
import type { Draw } from '../posterior.js';
import { reachableTensors } from '../mcmc/state-tensors.js';
import { NotBatchableError } from './batch-refusal.js';
import { isCheckpoint } from './checkpoint.js';
import { ProbeGate, firstSites, gateSites } from './probe-gate.js';
import { type BatchLayout, type ShapeSkeleton, PLAIN_LAYOUT, childSkeleton, leafShape, rowValue } from './program-layout.js';
import type { OpenAxis } from './reindex.js';
import type { ParticleStore } from './store.js';
import { retention } from './retention.js';
import { SuspendableRun } from './suspendable.js';

export { NotBatchableError };

/**
 * The most `sample`/`factor` sites a batched execution may visit, from the
 * number `reference` that one particle run on its own (with numbers) visited.
 * A program that can run batched visits the same sites whatever its draws,
 * so a batched run far past the reference has changed meaning: typically a
 * recursion or loop that stops on `draw === 1`, never true of a tensor draw.
 */
export function batchedSiteCap(reference: number): number {
  return 10 * reference + 1000;
}

/**
 * A handler that counts one batched execution's `sample`/`factor` sites and
 * throws `NotBatchableError` past `cap` (see `batchedSiteCap`).
 */
function siteCapHandler(cap: number, reference: number): Handler {
  let sites = 0;
  return {
    process: (msg: Message) => {
      if (msg.type !== 'sample' && msg.type !== 'factor') return;
      if (++sites > cap) {
        throw new NotBatchableError(
          `site "${msg.address}": the batched run passed ${cap} sample/factor sites where one particle run on its own visited ${reference} (a recursion or loop that stops on a draw compared with === or !==, e.g. \`(await sample(...)) === 1\`, never stops when draws are tensors of all particles)`,
        );
      }
    },
  };
}

/**
 * The error to throw for a batched run that failed with `err` after the draw
 * of site `address` was turned into a string (`table[x]`: see
 * `BatchOptions.onDrawString`): a `NotBatchableError` that says so; else `err`.
 */
export function drawStringError(err: unknown, address: string | undefined): unknown {
  if (address === undefined || err instanceof NotBatchableError) return err;
  const why = err instanceof Error ? err.message.split('\n')[0] : String(err);
  return new NotBatchableError(
    `site "${address}": its draw was used as an object key or array index (\`table[x]\`) or turned into a string, and the batched run then failed (${why}); batched, a draw is one tensor of every particle's value, so \`table[x]\` finds nothing: look values up with tf.gather(tf.tensor(table), tf.cast(x, 'int32')) to run batched`,
    { cause: err },
  );
}

/**
 * `err` as a `NotBatchableError` that says why, where a batched run of
 * `size` particles failed reading a value of all particles as one number
 * (`ops.toNumber(x)` on a draw); else `err`.
 */
function numberReadError(err: unknown, size: number): unknown {
  if (err instanceof NotBatchableError || !(err instanceof Error) || !/expected a single number, got a tensor/.test(err.message)) return err;
  return new NotBatchableError(
    `${err.message.split('\n')[0]} (batched, a draw holds all ${size} particles' values, so it cannot be read as one number, e.g. by ops.toNumber or dataSync()[0]: keep it a value and use tyche's ops, or run per particle)`,
    { cause: err },
  );
}

/** The one execution that holds every particle of a batched program-SMC run. */
export class BatchedProgram<R> extends SuspendableRun {
  /** Log potentials of the last checkpoint, one per particle. */
  increment: Float64Array | undefined;
  trace?: Trace;
  returnValue?: R;
  /** Checkpoints passed so far. */
  checkpoint = 0;
  /**
   * Each particle's log density summed over the sample and factor sites
   * passed so far (float64; its rows follow resampling): what the final
   * check compares, so that no site's density tensor is held for it.
   */
  readonly densityTotals: Float64Array;
  /** Sample sites scored by the runtime in this execution (their density tensors are freed once read; a handler's own stay). */
  private readonly scored = new WeakSet<Message>();
  /** The first site whose draw was turned into a string (see `drawStringError`). */
  private stringified?: string;

  /**
   * @param watch - watches the run for a branch on a tensor comparison (the
   * caller asks it once the run is over: `ConditionWatch.unconsumed`)
   */
  /**
   * @param maxSites - the most sample/factor sites the execution may visit,
   * and the reference count it came from (see `batchedSiteCap`)
   * @param layout - the batch dimensions to reserve and each value's own shape (`program-layout.ts`)
   */
  constructor(
    readonly open: OpenAxis,
    readonly rng: Rng,
    readonly watch?: ConditionWatch,
    readonly maxSites?: { readonly cap: number; readonly reference: number },
    readonly layout: BatchLayout = PLAIN_LAYOUT,
  ) {
    super();
    this.densityTotals = new Float64Array(open.axis.size);
  }

  /** Resampling: a new epoch of the particle axis (see `reindex.ts`), and the density totals gathered by `ancestors`. */
  resample(ancestors: Int32Array): void {
    this.open.axis.resample(ancestors);
    const before = this.densityTotals.slice();
    for (let i = 0; i < ancestors.length; i++) this.densityTotals[i] = before[ancestors[i]];
  }

  /**
   * A site's per-particle log density, added to the totals; the site's
   * density tensor is then freed where the runtime made it (a run holds no
   * tensor per site beyond the draws), unless the test-only
   * `retention.keepSiteDensities` holds it as before.
   */
  private readDensity(msg: Message): Float64Array {
    const lp = siteLogDensity(msg as Required<Message>, this.size) as tf.Tensor;
    const d = Float64Array.from(lp.dataSync());
    if (lp !== msg.logProb) lp.dispose();
    const totals = this.densityTotals;
    for (let i = 0; i < totals.length; i++) totals[i] += d[i];
    if (!isTensor(msg.logProb)) return d;
    if (retention.keepSiteDensities) this.open.axis.track(msg.logProb);
    else if (this.scored.has(msg) && msg.logProb !== msg.value) msg.logProb.dispose();
    return d;
  }

  get size(): number {
    return this.open.axis.size;
  }

  /** Stamps draws with the particle axis and suspends at checkpoints. */
  private handler(): Handler {
    const axis = this.open.axis;
    const watch = this.watch;
    return {
      process: (msg: Message) => {
        watch?.mark(msg.address, 'enter');
        // (this handler is the last before the runtime scores the site: a density set by now is a handler's own)
        if (msg.type === 'sample' && msg.logProb === undefined) this.scored.add(msg);
      },
      postprocess: (msg: Message) => {
        watch?.mark(msg.address, 'leave');
        if (msg.type === 'sample' && !msg.observed) {
          // the draw starts the lineage
          if (isTensor(msg.value)) axis.track(msg.value);
          // a scale or mask handler on a draw changes the weights: the per-particle runtime adds that (priorDrawCorrection)
          if (msg.scale !== 1 || msg.mask !== true) throw new NotBatchableError(`site "${msg.address}": a scale or mask on a latent site is weighed per particle`);
          this.readDensity(msg);
          return;
        }
        if (!isCheckpoint(msg)) return;
        this.increment = this.readDensity(msg);
        this.checkpoint++;
        return this.suspend();
      },
    };
  }

  /** Run (or resume) the population until its next checkpoint or the end. */
  advance(model: Model<unknown[], R>, args: unknown[]): Promise<void> {
    this.increment = undefined;
    const run = () =>
      this.open.enter(() =>
        executeMarked(model, { rng: this.rng, handlers: this.maxSites ? [siteCapHandler(this.maxSites.cap, this.maxSites.reference), this.handler()] : [this.handler()], batch: { size: this.size, plateNesting: this.layout.nesting, onDrawString: (a) => (this.stringified ??= a) } }, this.mark, ...args).then(
          ({ trace, returnValue }) => {
            this.trace = trace;
            this.returnValue = returnValue;
          },
          (err: unknown) => {
            throw drawStringError(err, this.stringified);
          },
        ),
      );
    return this.resume(() => (this.watch ? this.watch.run(run) : run()));
  }
}

/** The store of a batched program: resampling is a new epoch of the particle axis (no copies). */
export function batchedProgramStore<R>(): ParticleStore<BatchedProgram<R>> {
  return {
    kind: 'batched-program',
    select(state, ancestors) {
      state.resample(ancestors);
      return state;
    },
    release() {},
    dispose(state) {
      state.kill();
    },
  };
}

/** How to read one particle's rows out of a batched run's tensors. */
interface RowView {
  /** Number of particles. */
  readonly size: number;
  /** True when `t` has the particle axis. */
  has(t: tf.Tensor): boolean;
  /** Row i now is row `map[i]` of the stored data (undefined: the identity). */
  rowMap(t: tf.Tensor): Int32Array | undefined;
}

/** The view of a run followed by a particle axis (rows gathered since by resampling). */
function axisView(open: OpenAxis): RowView {
  const axis = open.axis;
  return { size: axis.size, has: (t) => axis.has(t), rowMap: (t) => axis.rowMap(t) };
}

/** The view of a batched run of `size` particles that was never resampled. */
function plainView(size: number): RowView {
  return { size, has: (t) => t.rank > 0 && t.shape[0] === size, rowMap: () => undefined };
}

/** One particle's rows of the particle-axis tensors in a value (numbers where a row is a scalar). */
class Unbatcher {
  private readonly rows = new Map<tf.Tensor, Value[]>();

  /** @param layout - each value's shape in a run on its own: rows are handed back in that shape (reserved dimensions dropped) */
  constructor(
    private readonly view: RowView,
    private readonly layout: BatchLayout = PLAIN_LAYOUT,
  ) {}

  /** Row `i` of `v` (recursively through arrays and plain records, whose own shapes `own` gives); values without the particle axis are shared. */
  row(v: unknown, i: number, own: ShapeSkeleton = undefined): unknown {
    if (isTensor(v)) return this.view.has(v) ? this.rowsOf(v, leafShape(own))[i] : v;
    if (Array.isArray(v)) return v.map((x, k) => this.row(x, i, childSkeleton(own, k)));
    if (v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) out[k] = this.row(x, i, childSkeleton(own, k));
      return out;
    }
    return v;
  }

  /** Row `i` of the return value. */
  returned(v: unknown, i: number): unknown {
    return this.row(v, i, this.layout.returned);
  }

  /** The columns of a trace's values: each address with its rows (or its shared value). */
  columns(trace: Trace): (readonly [string, Value[] | undefined, Value])[] {
    return Object.entries(trace.values()).map(([address, v]) => [address, isTensor(v) && this.view.has(v) ? this.rowsOf(v, this.layout.shapes.get(address)) : undefined, v] as const);
  }

  /**
   * Every row of a particle-axis tensor, as of now (read on the host through
   * the row map, without a gather), in the shape `own` a run on its own gives
   * (see `rowValue`).
   */
  rowsOf(t: tf.Tensor, own?: readonly number[]): Value[] {
    let out = this.rows.get(t);
    if (out) return out;
    const map = this.view.rowMap(t);
    // read outside the execution's async context: the stored rows, not refreshed
    const data = t.dataSync();
    const n = t.shape[0];
    const rest = t.shape.slice(1);
    const k = data.length / n;
    out = new Array<Value>(n);
    if (rest.length === 0) for (let i = 0; i < n; i++) out[i] = data[map ? map[i] : i];
    else for (let i = 0; i < n; i++) out[i] = rowValue(data, (map ? map[i] : i) * k, k, rest, t.dtype, own);
    this.rows.set(t, out);
    return out;
  }
}

function recordOf(columns: (readonly [string, Value[] | undefined, Value])[], i: number): Record<string, Value> {
  const rec: Record<string, Value> = {};
  for (const [address, rows, shared] of columns) rec[address] = rows ? rows[i] : shared;
  return rec;
}

/** Per-particle draws of a finished batched run (particles of weight zero left out), and the row each came from. */
export function batchedDraws<R>(state: BatchedProgram<R>, logWeights: Float64Array): { draws: Draw<R>[]; rows: number[] } {
  const un = new Unbatcher(axisView(state.open), state.layout);
  const columns = un.columns(state.trace as Trace);
  const draws: Draw<R>[] = [];
  const rows: number[] = [];
  for (let i = 0; i < logWeights.length; i++) {
    if (!(logWeights[i] > -Infinity)) continue;
    rows.push(i);
    draws.push({ values: recordOf(columns, i), returnValue: un.returned(state.returnValue, i) as R, logWeight: logWeights[i] });
  }
  return { draws, rows };
}

/** Each site's log density per particle (as of now): summed per stored row, then mapped to the current rows. */
function siteDensities(view: RowView, site: Site): Float64Array {
  const map = isTensor(site.logProb) ? view.rowMap(site.logProb) : undefined;
  const lp = siteLogDensity(site, view.size) as tf.Tensor;
  const stored = lp.dataSync();
  if (lp !== site.logProb) lp.dispose();
  const out = new Float64Array(view.size);
  for (let i = 0; i < out.length; i++) out[i] = stored[map ? map[i] : i];
  return out;
}

/** Whether two lists of sites hold the same addresses, in any order. */
function sameAddresses(a: readonly Site[], b: readonly Site[]): boolean {
  const x = a.map((s) => s.address).sort();
  const y = b.map((s) => s.address).sort();
  return x.every((v, i) => v === y[i]);
}

/**
 * Check a batched run against per-particle execution: the particles in
 * `rows` are re-run one at a time with their batched values substituted;
 * each must visit the same sites, in the same order, with the same log
 * densities (to float32 precision). Throws `NotBatchableError` naming the
 * first difference. With `totals` (a run that freed its sites' densities as
 * it went: `BatchedProgram.densityTotals`), each particle's densities are
 * compared summed over its sites.
 */
async function checkRows(
  m: Model<unknown[], unknown>,
  args: unknown[],
  trace: Trace,
  view: RowView,
  rows: readonly number[],
  values: (i: number) => Record<string, Value>,
  rng: Rng,
  totals?: Float64Array,
  returned?: (i: number) => unknown,
): Promise<void> {
  const batched = [...trace].filter((s) => s.type === 'sample' || s.type === 'factor');
  const densityOf = siteDensityCache(view);
  for (const i of rows) {
    const v = values(i);
    const { trace: own, returnValue } = await execute(m, { rng: rng.split(), handlers: [substituteOf(v)] }, ...args);
    const sites = [...own].filter((s) => s.type === 'sample' || s.type === 'factor');
    // against `totals`: the densities summed over the sites, within the sum of the per-site tolerances
    try {
      const { sum, tolerance } = compareSites(i, batched, sites, view, densityOf, totals !== undefined);
      // values made from draws (deterministic sites, the return value) must be each particle's own
      for (const s of own) {
        if (s.type !== 'deterministic') continue;
        const differs = differingLeaf(s.value, v[s.address]);
        if (differs !== undefined) throw new NotBatchableError(`deterministic site "${s.address}": particle ${i} run on its own has ${differs.own}${differs.path} where its row of the batched run holds ${differs.batched} (${MIXED})`);
      }
      const differs = returned ? differingLeaf(returnValue, returned(i)) : undefined;
      if (differs !== undefined) throw new NotBatchableError(`particle ${i} run on its own returns ${differs.own}${differs.path} where its row of the batched run holds ${differs.batched} (${MIXED})`);
      const total = totals?.[i];
      if (total !== undefined && !(total === sum || (Number.isFinite(sum) && Math.abs(total - sum) <= tolerance))) {
        // the batched run's per-site densities are gone by now (only their totals kept): the sum is judged
        throw new NotBatchableError(`particle ${i} run on its own has log density ${sum} summed over its ${sites.length} sites, the batched run ${total} (${densityMismatchReason(undefined, sum, total)})`);
      }
    } finally {
      own.disposeLogProbs();
    }
  }
}

/**
 * The first part of a batched probe (`prefix`: its sites up to its gate,
 * see `probe-gate.ts`) checked as `checkRows` checks the whole: each row
 * re-run on its own up to as many `sample`/`factor` sites. Throws the
 * `NotBatchableError` the whole check would throw for that row at that site
 * (a log density or a value size that differs); sites in another order are
 * left to the whole check (effects awaited together may straddle the gate).
 */
async function checkRowPrefixes(m: Model<unknown[], unknown>, args: unknown[], prefix: Trace, view: RowView, rows: readonly number[], values: (i: number) => Record<string, Value>, rng: Rng): Promise<void> {
  const batched = [...prefix].filter((s) => s.type === 'sample' || s.type === 'factor');
  const densityOf = siteDensityCache(view);
  for (const i of rows) {
    const own = await firstSites(batched.length, undefined, (stopper) => execute(m, { rng: rng.split(), handlers: [substituteOf(values(i)), stopper] }, ...args));
    try {
      const sites = [...own];
      const k = sites.findIndex((s, j) => s.address !== batched[j]?.address);
      const agree = k < 0 ? sites.length : k;
      compareSites(i, batched.slice(0, agree), sites.slice(0, agree), view, densityOf, false);
    } finally {
      own.disposeLogProbs();
    }
  }
}

/** A handler that gives each latent `sample` site its value in `v` (a row of a batched run). */
function substituteOf(v: Record<string, Value>): Handler {
  return substituteHandler((msg) => (msg.type === 'sample' && !msg.observed ? v[msg.address] : undefined));
}

/** Each batched site's per-particle log densities, read once (see `siteDensities`). */
function siteDensityCache(view: RowView): (s: Site) => Float64Array {
  const dens = new Map<string, Float64Array>();
  return (s) => {
    let d = dens.get(s.address);
    if (!d) dens.set(s.address, (d = siteDensities(view, s)));
    return d;
  };
}

/**
 * Particle `i`'s own `sample`/`factor` sites against the batched run's, in
 * order: the same addresses, value sizes and (unless `summed`) log densities,
 * else `NotBatchableError`; with `summed`, its densities summed and the sum of
 * their tolerances (for `checkRows`'s `totals`).
 */
function compareSites(i: number, batched: readonly Site[], sites: readonly Site[], view: RowView, densityOf: (s: Site) => Float64Array, summed: boolean): { sum: number; tolerance: number } {
  let sum = 0;
  let tolerance = 0;
  for (let k = 0; k < Math.max(sites.length, batched.length); k++) {
    const a = batched[k];
    const b = sites[k];
    if (a?.address !== b?.address) {
      // the same sites in another order: effects awaited together (their order is the event loop's), not a branch
      const reordered = sites.length === batched.length && sameAddresses(sites, batched);
      const why = reordered
        ? 'the same sites in another order: observations or samples awaited together (e.g. in Promise.all or array.forEach(async ...)) finish in no fixed order, ' +
          'and program SMC runs them one after the other: await each in turn (`for ... of` with `await`); or the order depends on a random value'
        : 'control flow depends on a random value';
      throw new NotBatchableError(`particle ${i} run on its own visits ${b ? `"${b.address}"` : 'no site'} where the batched run visits ${a ? `"${a.address}"` : 'no site'} (${why})`);
    }
    if (a.type === 'sample' && !a.observed) checkRowSize(view, a, b);
    const lpB = siteLogDensity(b) as Value;
    const nb = typeof lpB === 'number' ? lpB : (lpB as tf.Tensor).dataSync()[0];
    if (summed) {
      sum += nb;
      if (Number.isFinite(nb)) tolerance += 1e-4 * (1 + Math.abs(nb));
      continue;
    }
    const lpA = densityOf(a)[i];
    if (!(lpA === nb || Math.abs(lpA - nb) <= 1e-4 * (1 + Math.abs(nb)))) {
      throw new NotBatchableError(`particle ${i} run on its own has log density ${nb} at "${a.address}", the batched run ${lpA} (${densityMismatchReason(a.address, nb, lpA)})`);
    }
  }
  return { sum, tolerance };
}

const BRANCH = 'control flow depends on a random value, e.g. a branch on a tensor, or the program mixes particles';

/** Relative differences of a site's log density below this may be float32 rounding (a cancelling density), not a branch. */
const ROUNDING_SUSPECT = 1e-2;

/**
 * Why one site's log density (or, without `address`, their sum) differs
 * between a particle run on its own (float64 numbers) and its row of the
 * batched run (float32 tensors): a small
 * relative difference names float32 rounding of that density as a likely cause
 * (a density whose terms cancel, e.g. a large-shape lgamma difference), and the
 * float64 way out; a large one a branch on a random value.
 */
function densityMismatchReason(address: string | undefined, own: number, batched: number): string {
  const rel = Math.abs(own - batched) / (1 + Math.abs(own));
  if (!(rel < ROUNDING_SUSPECT)) return BRANCH;
  const where = address === undefined ? 'of a site\'s log density (the sum over the sites differs)' : `of the log density at "${address}"`;
  return (
    `float32 rounding ${where} may be the cause (${own} run on its own in float64, ${batched} batched in float32, ` +
    `a relative difference of ${rel.toPrecision(2)}): \`batched: false\` runs it in float64 (the default 'auto' falls back to that); otherwise ${BRANCH}`
  );
}

/** Why a value made from draws differs between a batched run and a run on its own. */
const MIXED =
  "the value mixes particles: batched, a value made from draws holds every particle's row, and a reduction over all of it, e.g. tf.sum(x) or tf.mean(x) without an axis, sums the particles too; reduce over the last axes, e.g. tf.sum(x, -1), to run batched";

/**
 * The first leaf (number or tensor, following arrays and plain records) where
 * `own` (a run on its own) and `batched` (the same particle's row of a
 * batched run) differ beyond float32 rounding, with its path; undefined
 * where they agree. Leaves of other kinds are not compared.
 */
export function differingLeaf(own: unknown, batched: unknown, path = ''): { path: string; own: string; batched: string } | undefined {
  const leaf = (v: unknown): Float64Array | undefined => (typeof v === 'number' ? Float64Array.of(v) : isTensor(v) ? Float64Array.from(v.dataSync() as ArrayLike<number>) : undefined);
  const a = leaf(own);
  if (a) {
    const b = leaf(batched);
    const show = (x: Float64Array | undefined) => (x === undefined ? String(batched) : x.length === 1 ? String(x[0]) : `${x.length} values`);
    if (!b || b.length !== a.length) return { path, own: show(a), batched: show(b) };
    for (let k = 0; k < a.length; k++) {
      const x = a[k];
      const y = b[k];
      if (!(x === y || Math.abs(x - y) <= 1e-4 * (1 + Math.abs(x)) || (Number.isNaN(x) && Number.isNaN(y)))) {
        return { path: a.length === 1 ? path : `${path}[${k}]`, own: String(x), batched: String(y) };
      }
    }
    return undefined;
  }
  if (Array.isArray(own)) {
    if (!Array.isArray(batched) || batched.length !== own.length) return { path, own: `an array of ${own.length}`, batched: Array.isArray(batched) ? `an array of ${batched.length}` : typeof batched };
    for (let k = 0; k < own.length; k++) {
      const d = differingLeaf(own[k], batched[k], `${path}[${k}]`);
      if (d) return d;
    }
    return undefined;
  }
  if (own !== null && typeof own === 'object' && Object.getPrototypeOf(own) === Object.prototype && batched !== null && typeof batched === 'object') {
    for (const [k, x] of Object.entries(own)) {
      const d = differingLeaf(x, (batched as Record<string, unknown>)[k], `${path}.${k}`);
      if (d) return d;
    }
  }
  return undefined;
}

/** The elements of one particle's value of a site in a batched run (a value without the particle axis is shared). */
function rowSize(view: RowView, v: Value): number {
  if (!isTensor(v)) return 1;
  return view.has(v) ? v.size / view.size : v.size;
}

/**
 * A latent site must hold as many elements per particle batched as run on
 * its own; else the batched run drew for a shape it misread (e.g. a value
 * reduced to `[N]` where a dimension was reserved, read as a plate of size
 * N): throws `NotBatchableError` naming the site and both shapes.
 */
function checkRowSize(view: RowView, batched: Site, own: Site): void {
  const k = rowSize(view, batched.value);
  // (the shape of a draw of the distribution the run on its own built: its value is the substituted row)
  const ownShape = own.dist ? own.dist.shape() : isTensor(own.value) ? own.value.shape : [];
  const want = ownShape.reduce((a, b) => a * b, 1);
  if (k === want) return;
  const shape = isTensor(batched.value) ? batched.value.shape : [];
  throw new NotBatchableError(
    `site "${batched.address}": its batched value has shape [${shape.join(', ')}] (${k} elements per particle) where one particle run on its own has shape [${ownShape.join(', ')}]; its parameters lost or gained a dimension in the batched run, where the particle axis leads (a reduction such as ops.sumLast, or a reshape, of a value that holds all particles)`,
  );
}

/**
 * Check a finished batched run on some of its final particles (rows `which`
 * with their draws): see `checkRows`.
 */
export function checkFinalParticles<R>(m: Model<unknown[], R>, args: unknown[], state: BatchedProgram<R>, which: readonly { row: number; draw: Draw<R> }[], rng: Rng): Promise<void> {
  const byRow = new Map(which.map((w) => [w.row, w.draw]));
  return checkRows(m as Model<unknown[], unknown>, args, state.trace as Trace, axisView(state.open), [...byRow.keys()], (i) => byRow.get(i)!.values as Record<string, Value>, rng, state.densityTotals, (i) => byRow.get(i)!.returnValue);
}

/**
 * A probe before the batched run: `size` particles drawn from the prior in
 * one batched execution (no resampling) and every one of them re-run on its
 * own (see `checkRows`). Prior draws are diverse, so a branch on a tensor's
 * truthiness is caught unless every probe particle takes the same side
 * (for a side of prior probability p, with chance p^size). With `watch`,
 * the probe's batched run is watched too (see `BatchedProgram`): a boolean
 * tensor it made and never consumed throws `NotBatchableError` with the
 * shared message. With `maxSites`, a probe that passes `cap` sites throws
 * `NotBatchableError` (see `batchedSiteCap`). `layout` gives the batch
 * dimensions to reserve and each value's own shape (see `program-layout.ts`).
 * With `maxSites` and a long enough program, the batched execution waits
 * after its first part and those sites are checked row by row first
 * (`probe-gate.ts`): a difference there throws at once, without running
 * the rest of the probe.
 */
export async function probeBatched(m: Model<unknown[], unknown>, args: unknown[], size: number, rng: Rng, watch?: ConditionWatch, maxSites?: { readonly cap: number; readonly reference: number }, layout: BatchLayout = PLAIN_LAYOUT): Promise<void> {
  const handlers: Handler[] = watch ? [{ process: (msg) => watch.mark(msg.address, 'enter'), postprocess: (msg) => watch.mark(msg.address, 'leave') }] : [];
  if (maxSites) handlers.unshift(siteCapHandler(maxSites.cap, maxSites.reference));
  // a gate after the first part: its rows are checked there, and a branch on a draw seen in them stops the probe (probe-gate.ts)
  const at = maxSites && gateSites(maxSites.reference);
  const gate = at === undefined ? undefined : new ProbeGate(at, size);
  if (gate) handlers.push(gate);
  let stringified: string | undefined;
  const go = () => execute(m, { rng: rng.split(), handlers, batch: { size, plateNesting: layout.nesting, onDrawString: (a) => (stringified ??= a) } }, ...args);
  const view = plainView(size);
  const rows = Array.from({ length: size }, (_, i) => i);
  const running = watch ? watch.run(go) : go();
  const checked = gate
    ? gate.through(running, (prefix) => {
        const columns = new Unbatcher(view, layout).columns(prefix);
        return checkRowPrefixes(m, args, prefix, view, rows, (i) => recordOf(columns, i), rngFrom(PREFIX_STREAM));
      })
    : running;
  const { trace, returnValue } = await checked.catch((err: unknown) => {
    throw numberReadError(drawStringError(err, stringified), size);
  });
  const branched = watch?.unconsumed(reachableTensors([trace.values(), returnValue]));
  if (branched !== undefined) throw new NotBatchableError(branchOnTensorError(branched).message);
  const un = new Unbatcher(view, layout);
  const columns = un.columns(trace);
  await checkRows(m, args, trace, view, rows, (i) => recordOf(columns, i), rng, undefined, (i) => un.returned(returnValue, i));
}

/** The stream of the first part's re-runs (a stream of their own: the probe's draws and checks are those of a probe without a gate). */
const PREFIX_STREAM = 'batched-probe-first-part';
