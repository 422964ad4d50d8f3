/**
 * Grouped execution of an `unfold` kernel in per-particle program SMC.
 *
 * Particles of an unfold step run one kernel execution per group: the group's
 * states are a tensor with one row per particle, a continuous site is drawn
 * for the whole group at once (a tensor of one value per particle), and a
 * discrete site splits the group by value: each subgroup runs the kernel
 * again from its start with the site's value a plain number (so `if (jump)`
 * works), the sites before it replayed from the values already drawn. The
 * subgroups' next states are scattered back into one column by particle.
 *
 * Between steps nothing is kept of an execution: every step (and the end)
 * runs the model again on the group, the sites before its unfold replayed
 * from their columns (gathered at each resampling), so a kernel closing over
 * a value drawn before the unfold sees the current particle's. A step's
 * weight is its one observation (or factor) per particle, and the SMC core
 * resamples between steps at the ESS rule of the per-particle runtime: the
 * same target, proposal and weights; the streams of draws differ (one
 * stream for the run, not one a particle).
 *
 * The end runs the model once per particle with plain numbers (the prefix
 * draws and the states unfold returns), so the code after the unfold sees
 * what a particle's run sees (`===`, `typeof`, `Number.isFinite`).
 *
 * It applies to one top-level unfold of numeric states (a number a
 * particle, or a small plain array or object of numbers, one column a leaf:
 * `unfold-group-state.ts`), with no observation before it or after it, exactly one
 * checkpoint a step and no draw after that checkpoint; sites of scalar
 * distributions only. Anything else gives up ({@link GroupGiveUp}) and the
 * runtime falls back to per-particle execution (`program-lean.ts`). A tensor
 * handed to the model refuses to become a number (`+`, `Math.*`, a
 * comparison): a kernel that computes on its state with plain arithmetic
 * gives up rather than compute on a tensor's string.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Ctx, Model } from '../../core/model.js';
import { abandonRun, runMark, tycheModelBody } from '../../core/model-body.js';
import type { Rng } from '../../core/rng.js';
import { type Site, siteLogDensity } from '../../core/trace.js';
import { type Value, isTensor, toNumber } from '../../core/value.js';
import { Distribution } from '../../distributions/distribution.js';
import type { Pacer } from '../pace.js';
import { withLedger } from '../../backend/ledger.js';
import type { ParticleStore } from './store.js';
import { generalSitesBefore } from './unfold-group-check.js';
import { type StateLayout, buildState, layoutOf, leavesOf, sameLayout } from './unfold-group-state.js';

/** Grouped execution does not apply to this model; per-particle execution runs it instead. */
export class GroupGiveUp extends Error {
  constructor(readonly why: string) {
    super(`grouped unfold execution does not apply: ${why}`);
    this.name = 'GroupGiveUp';
  }
}

/** Draw values of one phase: address -> one value per particle of that phase's generation (NaN: not reached). */
interface PhaseColumns {
  /** The generation (resamplings before it) the columns are indexed by. */
  readonly gen: number;
  readonly sites: Map<string, Float64Array>;
  /** Each site's log density (float32 arithmetic) under the distribution the group ran it with, the observation's included. */
  readonly logp: Map<string, Float64Array>;
  /** The states after this step (phases before the end): one column a leaf of the state's layout. */
  state?: Float64Array[];
}

/** How one execution of the model on a group ended. */
type Outcome = { readonly kind: 'stepped' } | { readonly kind: 'split'; readonly by: Float64Array } | { readonly kind: 'returned'; readonly value: unknown };

/** A state column of at most this many distinct values in a group splits the group by value (each subgroup's state a number). */
const STATE_SPLIT = 16;

/** Counts of a grouped run (`diagnostics.grouped`). */
export interface GroupStats {
  /** Executions of the model on a group (each runs at most one kernel step). */
  executions: number;
  /** Groups split by a discrete site's value. */
  splits: number;
}

const never = new Promise<never>(() => {});

/** What `stateOf` returns when it split the group (the execution has ended). */
const SPLIT = Symbol('split');

/**
 * Steps (0-based) after which the early check runs (`earlyCheck`): a
 * kernel's type test on its state shows from its first step with a grouped
 * state; the fourth step catches one that starts a few steps in (the jump
 * walk's `t > 0` branch). The check after the run still covers every step.
 */
const EARLY_CHECKS: readonly number[] = [0, 3];

/**
 * How far a grouped run's log density (float32 arithmetic on float32 values)
 * may lie from the general runtime's (float64 on the same values): a scalar
 * density is a few terms (a log scale, a squared standardised distance, a
 * log normaliser), each rounded at float32's unit roundoff 2^-24 = 6e-8 of
 * its size; 1e-4 of (1 + |log density|) is about 1700 roundoffs, room for
 * ten operations and terms some 100x the result that cancel. A distribution
 * taken on the wrong branch differs by far more (its density is another
 * function of the value); a refusal here only costs the lean run's time.
 */
export const DENSITY_TOL = 1e-4;

/** A number that a tensor handed to the model refuses to become (plain arithmetic on a grouped value). */
function refuseNumber(this: tf.Tensor): never {
  throw new GroupGiveUp('the model computed on a value with plain arithmetic or a comparison (grouped values are tensors)');
}

/**
 * The population of a grouped run: its prefix columns (sites before the
 * unfold, of the current generation), each step's columns and states (of
 * the generation they were drawn in) and the ancestors of each resampling.
 */
export class GroupedPopulation<R> {
  /** Resamplings so far: ancestors[g] maps generation g + 1's particles to generation g's. */
  readonly ancestors: Int32Array[] = [];
  /** Sites before the unfold (current generation). */
  readonly prefix = new Map<string, Float64Array>();
  /** Log densities of the sites before the unfold (current generation). */
  readonly prefixLogp = new Map<string, Float64Array>();
  /** Per step. */
  readonly phases: PhaseColumns[] = [];
  /** The unfold's name and length, fixed by the first execution. */
  unfold: { name: string; steps: number } | undefined;
  /** The current states (after the last step; current generation): one column a leaf. */
  state: Float64Array[] | undefined;
  /** The states' layout (`null`: a number), fixed by the initial state. */
  layout: StateLayout | null | undefined;
  /** Return values (after the end). */
  returns: unknown[] | undefined;
  readonly stats: GroupStats = { executions: 0, splits: 0 };

  constructor(
    readonly n: number,
    readonly model: Model<unknown[], R>,
    readonly args: unknown[],
    readonly rng: Rng,
    readonly pace: Pacer,
  ) {}

  get gen(): number {
    return this.ancestors.length;
  }

  /** The particle store: a resampling gathers the prefix columns and the states, and remembers the ancestors. */
  store(): ParticleStore<GroupedPopulation<R>> {
    return {
      kind: 'grouped program',
      select: (pop, anc, particles) => {
        if (particles !== pop.n) throw new GroupGiveUp('the population size changed');
        pop.ancestors.push(Int32Array.from(anc));
        for (const [k, col] of pop.prefix) pop.prefix.set(k, gather(col, anc));
        for (const [k, col] of pop.prefixLogp) pop.prefixLogp.set(k, gather(col, anc));
        if (pop.state !== undefined) pop.state = pop.state.map((col) => gather(col, anc));
        return pop;
      },
      release: () => {},
      dispose: () => {},
    };
  }

  /** Whether phase `t` (steps, then the end) has been run. */
  done(t: number): boolean {
    return this.unfold !== undefined && t > this.unfold.steps;
  }

  /** Run phase `t` on every particle: a step's log potentials (0 at the end). */
  async phase(t: number): Promise<Float64Array> {
    const steps = this.unfold?.steps;
    const final = steps !== undefined && t === steps;
    if (!final) this.phases.push({ gen: this.gen, sites: new Map(), logp: new Map() });
    const potentials = new Float64Array(this.n);
    const next: Float64Array[] | undefined = final ? undefined : [];
    if (final) this.returns = new Array<unknown>(this.n);
    const all = new Int32Array(this.n);
    for (let i = 0; i < this.n; i++) all[i] = i;
    const ancestry = final ? this.ancestryByGeneration() : undefined;
    // (the phase's tensors, the model's included, are freed when it ends: a ledger of its own)
    await withLedger(async () => {
      // the end runs per particle (groups of one, values plain numbers): the code after the unfold sees
      // what a particle's run sees (`===`, `typeof`, `Number.isFinite` on the states it returns)
      const queue: Int32Array[] = final ? Array.from(all, (i) => Int32Array.of(i)) : [all];
      while (queue.length > 0) {
        const idx = queue.pop()!;
        this.stats.executions++;
        const exec = new GroupExecution(this, idx, t, potentials, next, ancestry);
        const out = await exec.run();
        if (out.kind === 'split') {
          this.stats.splits++;
          const col = out.by;
          const byValue = new Map<number, number[]>();
          for (const i of idx) {
            const v = col[i]!;
            let list = byValue.get(v);
            if (list === undefined) byValue.set(v, (list = []));
            list.push(i);
          }
          for (const list of byValue.values()) queue.push(Int32Array.from(list));
        } else if (out.kind === 'returned') {
          if (!final) throw new GroupGiveUp(this.unfold === undefined ? 'the model returned without an unfold' : 'the model returned before its unfold');
          if (holdsTensor(out.value, 0)) throw new GroupGiveUp('the return value holds a tensor');
          this.returns![idx[0]!] = out.value;
        }
        if (this.pace.due()) await this.pace.pause();
      }
    }, () => []);
    if (next !== undefined) {
      this.phases[this.phases.length - 1]!.state = next;
      this.state = next;
      if (EARLY_CHECKS.includes(t) && t < this.unfold!.steps - 1) await this.earlyCheck(t);
    }
    return potentials;
  }

  /**
   * The early check after step `t`: a few particles' paths so far (prefix
   * and steps 0..t) run again on the general runtime with their choices,
   * stopped at step t + 1; a site whose log density differs from the grouped
   * run's refuses the run now ({@link GroupGiveUp}) rather than after all its
   * steps (see `densityMismatch`).
   */
  private async earlyCheck(t: number): Promise<void> {
    const ancestry = this.ancestryByGeneration();
    for (const i of new Set([0, this.n >> 1, this.n - 1])) {
      const why = await withLedger(async () => {
        const sites = await generalSitesBefore(this.model as Model<unknown[], unknown>, this.args, this.values(i, ancestry), this.unfold!.name, t + 1);
        if (typeof sites === 'string') return `a particle\u2019s run of the same choices failed (${sites})`;
        return this.densityMismatch(i, ancestry, sites);
      }, () => []);
      if (why !== undefined) throw new GroupGiveUp(why);
    }
  }

  /** For each generation g, the index in generation g of each final particle. */
  ancestryByGeneration(): Int32Array[] {
    const out: Int32Array[] = new Array<Int32Array>(this.gen + 1);
    let idx = new Int32Array(this.n);
    for (let i = 0; i < this.n; i++) idx[i] = i;
    out[this.gen] = idx;
    for (let g = this.gen - 1; g >= 0; g--) {
      const a = this.ancestors[g]!;
      const prev = new Int32Array(this.n);
      for (let i = 0; i < this.n; i++) prev[i] = a[idx[i]!]!;
      out[g] = idx = prev;
    }
    return out;
  }

  /** The latent values of final particle `i` by address (prefix sites, then each step's). */
  values(i: number, ancestry: Int32Array[]): Record<string, Value> {
    const out: Record<string, Value> = {};
    for (const [k, col] of this.prefix) if (!Number.isNaN(col[i]!)) out[k] = col[i]!;
    for (const ph of this.phases) {
      const j = ancestry[ph.gen]![i]!;
      for (const [k, col] of ph.sites) if (!Number.isNaN(col[j]!)) out[k] = col[j]!;
    }
    return out;
  }

  /**
   * Each site's log density along final particle `i`'s path, as the grouped
   * run computed it (float32, under the distribution the group's kernel gave):
   * the check after a run compares them with the general runtime's (a kernel
   * that branched on a tensor's type, e.g. `Number.isFinite(x)`, drew from
   * another distribution than a particle's run would).
   */
  logDensities(i: number, ancestry: Int32Array[]): Map<string, number> {
    const out = new Map<string, number>();
    for (const [k, col] of this.prefixLogp) if (!Number.isNaN(col[i]!)) out.set(k, col[i]!);
    for (const ph of this.phases) {
      const j = ancestry[ph.gen]![i]!;
      for (const [k, col] of ph.logp) if (!Number.isNaN(col[j]!)) out.set(k, col[j]!);
    }
    return out;
  }

  /**
   * Why the log densities along final particle `i`'s path are not those of
   * `trace` (a run of the model on its choices on the general runtime), or
   * undefined: each site's within `DENSITY_TOL` (relative) float32 rounding.
   * The early check passes the sites of a run stopped after the steps run
   * so far (the grouped path has no others yet).
   */
  densityMismatch(i: number, ancestry: Int32Array[], trace: Iterable<Site>): string | undefined {
    const grouped = this.logDensities(i, ancestry);
    let seen = 0;
    for (const site of trace) {
      if (site.type !== 'sample' && site.type !== 'factor') continue;
      const general = toNumber(siteLogDensity(site));
      const mine = grouped.get(site.address);
      seen++;
      if (mine === undefined || !(Object.is(mine, general) || Math.abs(mine - general) <= DENSITY_TOL * (1 + Math.abs(general)))) {
        return `the log density at "${site.address}" was ${mine === undefined ? 'not computed' : mine.toPrecision(6)} in the grouped run and ${general.toPrecision(6)} on a particle\u2019s run of the same choices: the kernel took another branch on a grouped value (a tensor in the group) than on a number (e.g. Number.isFinite(x), typeof x, x === 0 on its state)`;
      }
    }
    if (seen !== grouped.size) return 'the grouped run computed log densities at sites a particle\u2019s run of the same choices does not reach';
    return undefined;
  }
}

/** col gathered by `anc`. */
function gather(col: Float64Array, anc: Int32Array): Float64Array {
  const out = new Float64Array(anc.length);
  for (let i = 0; i < anc.length; i++) out[i] = col[anc[i]!]!;
  return out;
}

/** Whether `v` is or holds (in arrays and plain objects, a few levels deep) a tensor; true past that depth. */
function holdsTensor(v: unknown, depth: number): boolean {
  if (v === null || typeof v !== 'object') return false;
  if (isTensor(v) || depth > 8) return true;
  for (const k of Object.keys(v)) if (holdsTensor((v as Record<string, unknown>)[k], depth + 1)) return true;
  return false;
}

/** A group's value (a number for all, or a tensor of one row each) written per particle into `into`. */
function spread(value: unknown, idx: Int32Array, into: unknown[] | Float64Array): void {
  if (typeof value === 'number' || value === undefined) {
    for (const i of idx) into[i] = value as number;
    return;
  }
  if (isTensor(value) && value.rank === 1 && value.shape[0] === idx.length) {
    const d = value.dataSync();
    for (let k = 0; k < idx.length; k++) into[idx[k]!] = d[k]!;
    return;
  }
  throw new GroupGiveUp('a state or return value is not a number (or one per particle)');
}

/** One execution of the model on a group of particles in one phase (exported for the tests' planted bugs). */
export class GroupExecution<R> {
  private settle!: (o: Outcome) => void;
  private fail!: (e: unknown) => void;
  private ended = false;
  private inKernel = false;
  private checkpoints = 0;
  private kernelCtx: Ctx | undefined;
  private prefix = '';
  /** Sites drawn before the unfold whose densities are computed when it is reached (a plain program gives up before: none computed). */
  private readonly pendingPrefix: { full: string; dist: Distribution; vals: Float64Array }[] = [];
  private readonly g: number;
  /** The end phase: one particle an execution, its values plain numbers (what the code after the unfold sees). */
  private readonly plain: boolean;

  constructor(
    private readonly pop: GroupedPopulation<R>,
    private readonly idx: Int32Array,
    private readonly t: number,
    private readonly potentials: Float64Array,
    private readonly next: Float64Array[] | undefined,
    private readonly ancestry: Int32Array[] | undefined,
  ) {
    this.g = idx.length;
    this.plain = next === undefined;
  }

  run(): Promise<Outcome> {
    const out = new Promise<Outcome>((resolve, reject) => {
      this.settle = resolve;
      this.fail = reject;
    });
    const mark = runMark();
    tycheModelBody(this.pop.model.fn, this.context(false), this.pop.args, mark).then(
      (value) => this.end({ kind: 'returned', value }),
      (err) => this.abort(err),
    );
    return out.finally(() => abandonRun(mark));
  }

  private end(o: Outcome): void {
    if (this.ended) return;
    this.ended = true;
    this.settle(o);
  }

  private abort(err: unknown): void {
    if (this.ended) return;
    this.ended = true;
    this.fail(err instanceof GroupGiveUp ? err : new GroupGiveUp(`the model threw on a group (${err instanceof Error ? err.message : String(err)})`));
  }

  /** Stop this execution for good with `why`. */
  private giveUp(why: string): Promise<never> {
    this.abort(new GroupGiveUp(why));
    return never;
  }

  /** A tensor of the group's values handed to the model (it refuses to become a number). */
  private handOut(values: ArrayLike<number>): tf.Tensor {
    const x = tf.tensor1d(Float32Array.from(values), 'float32');
    (x as unknown as Record<symbol, unknown>)[Symbol.toPrimitive] = refuseNumber;
    return x;
  }

  private context(kernel: boolean): Ctx {
    const unsupported = (what: string) => () => this.giveUp(`the model uses ${what}`);
    return {
      sample: ((address: string, dist: Distribution) => this.sample(kernel, address, dist)) as Ctx['sample'],
      observe: ((address: string, dist: Distribution, value: unknown) => this.observe(kernel, address, dist, value)) as Ctx['observe'],
      factor: (address: string, lw: unknown) => this.factor(kernel, address, lw),
      deterministic: (() => {
        this.abort(new GroupGiveUp('the model uses deterministic'));
        throw new GroupGiveUp('the model uses deterministic');
      }) as Ctx['deterministic'],
      param: unsupported('param') as Ctx['param'],
      plate: unsupported('plate') as Ctx['plate'],
      scope: unsupported('scope') as Ctx['scope'],
      unfold: ((name: string, steps: number, init: unknown, k: (c: Ctx, t: number, s: unknown) => unknown) =>
        kernel ? this.giveUp('an unfold inside a kernel') : this.unfold(name, steps, init, k)) as Ctx['unfold'],
      rng: this.pop.rng,
    };
  }

  /** Whether an effect from a context of `kernel` may run now (else the execution gives up). */
  private usable(kernel: boolean): boolean {
    return !this.ended && kernel === this.inKernel;
  }

  private sample(kernel: boolean, address: string, dist: Distribution): Promise<unknown> {
    if (!this.usable(kernel)) return this.giveUp('an effect on a context not in use (the model\u2019s own, closed over?)');
    if (typeof address !== 'string' || address.length === 0) return this.giveUp('an address is not a non-empty string');
    if (this.inKernel && this.checkpoints > 0) return this.giveUp('a draw after the step\u2019s observation');
    const full = this.prefix + address;
    let col = this.inKernel ? this.pop.phases[this.t]!.sites.get(full) : this.pop.prefix.get(full);
    const g = this.g;
    const idx = this.idx;
    const vals = new Float64Array(g);
    let handed: tf.Tensor | undefined;
    if (col !== undefined && !Number.isNaN(col[idx[0]!]!)) {
      for (let k = 0; k < g; k++) vals[k] = col[idx[k]!]!;
      if (vals.some(Number.isNaN)) return this.giveUp(`"${full}" was reached by some particles of a group only`);
      // (a site before the unfold that split the group on its first run: its density is computed in the subgroups)
      if (!this.inKernel && this.t === 0 && Number.isNaN(this.pop.prefixLogp.get(full)?.[idx[0]!] ?? Number.NaN)) this.pendingPrefix.push({ full, dist, vals });
    } else {
      if (!this.inKernel && this.t > 0) return this.giveUp(`"${full}" is a new site before the unfold after its first step`);
      if (!(dist instanceof Distribution)) return this.giveUp(`"${full}" has no distribution`);
      if ((dist as { improper?: boolean }).improper === true || dist.eventShape.length !== 0) return this.giveUp(`"${full}" is not a scalar proper distribution`);
      if (dist.batchShape.length === 0) {
        for (let k = 0; k < g; k++) {
          const v = dist.sample(this.pop.rng);
          if (typeof v !== 'number') {
            v.dispose();
            return this.giveUp(`"${full}" draws a tensor`);
          }
          vals[k] = Math.fround(v);
        }
      } else if (dist.batchShape.length === 1 && dist.batchShape[0] === g) {
        const v = dist.sample(this.pop.rng);
        if (typeof v === 'number') return this.giveUp(`"${full}" drew a number for a group`);
        vals.set(v.dataSync());
      } else return this.giveUp(`"${full}" is not one scalar distribution a particle`);
      if (col === undefined) {
        col = new Float64Array(this.pop.n).fill(Number.NaN);
        (this.inKernel ? this.pop.phases[this.t]!.sites : this.pop.prefix).set(full, col);
      }
      for (let k = 0; k < g; k++) col[idx[k]!] = vals[k]!;
      if (!this.inKernel) this.pendingPrefix.push({ full, dist, vals });
      else if (!this.recordNumbers(this.pop.phases[this.t]!.logp, full, dist, vals)) {
        // (a continuous site's tensor is the one handed to the model below)
        handed = this.handOut(vals);
        this.record(this.pop.phases[this.t]!.logp, full, dist.logProb(handed));
      }
    }
    if (dist.isDiscrete) {
      const v = vals[0]!;
      for (let k = 1; k < g; k++) {
        if (vals[k] !== v) {
          this.end({ kind: 'split', by: col! });
          return never;
        }
      }
      return Promise.resolve(v);
    }
    return Promise.resolve(handed ?? (this.plain ? vals[0]! : this.handOut(vals)));
  }

  /**
   * A distribution of number parameters whose density of a number is a
   * number (its float64 arithmetic, as on a particle's run): each particle's
   * density written into the column of `full` in `into`, and true; else
   * false (nothing written: the caller computes them on a tensor, one op for
   * the group rather than one a particle).
   */
  private recordNumbers(into: Map<string, Float64Array>, full: string, dist: Distribution, vals: Float64Array): boolean {
    if (dist.batchShape.length !== 0) return false;
    const first = dist.logProb(vals[0]!);
    if (typeof first !== 'number') {
      first.dispose();
      return false;
    }
    let col = into.get(full);
    if (col === undefined) into.set(full, (col = new Float64Array(this.pop.n).fill(Number.NaN)));
    const idx = this.idx;
    col[idx[0]!] = first;
    for (let k = 1; k < idx.length; k++) col[idx[k]!] = dist.logProb(vals[k]!) as number;
    return true;
  }

  /** A site's log densities (a number for the group or one a particle) written by particle into the column of `full` in `into`. */
  private record(into: Map<string, Float64Array>, full: string, lp: Value): void {
    let col = into.get(full);
    if (col === undefined) into.set(full, (col = new Float64Array(this.pop.n).fill(Number.NaN)));
    const idx = this.idx;
    if (typeof lp === 'number') for (const i of idx) col[i] = lp;
    else {
      const d = lp.dataSync();
      for (let k = 0; k < idx.length; k++) col[idx[k]!] = d.length === 1 ? d[0]! : d[k]!;
    }
  }

  private checkpoint(kernel: boolean, full: string, lp: unknown): boolean {
    if (!this.inKernel) {
      this.giveUp(`"${full}" is an observation outside the unfold kernel`);
      return false;
    }
    if (++this.checkpoints > 1) {
      this.giveUp('a step with more than one observation');
      return false;
    }
    const idx = this.idx;
    if (typeof lp === 'number') {
      if (Number.isNaN(lp)) return !this.giveUp(`the log density at "${full}" is NaN`);
      for (const i of idx) this.potentials[i] = lp;
      this.record(this.pop.phases[this.t]!.logp, full, lp);
    } else if (isTensor(lp) && lp.rank === 1 && lp.shape[0] === idx.length) {
      const d = lp.dataSync();
      for (let k = 0; k < idx.length; k++) {
        if (Number.isNaN(d[k]!)) return !this.giveUp(`the log density at "${full}" is NaN`);
        this.potentials[idx[k]!] = d[k]!;
      }
      this.record(this.pop.phases[this.t]!.logp, full, lp as tf.Tensor);
    } else {
      this.giveUp(`"${full}" is not one log density a particle`);
      return false;
    }
    void kernel;
    return true;
  }

  private observe(kernel: boolean, address: string, dist: Distribution, value: unknown): Promise<unknown> {
    if (!this.usable(kernel)) return this.giveUp('an effect on a context not in use (the model\u2019s own, closed over?)');
    const full = this.prefix + address;
    const v = typeof value === 'boolean' ? (value ? 1 : 0) : value;
    if (typeof v !== 'number') return this.giveUp(`"${full}" observes a non-number`);
    if (!(dist instanceof Distribution) || dist.eventShape.length !== 0) return this.giveUp(`"${full}" is not a scalar distribution`);
    // (outside the kernel: given up before any density is computed)
    if (!this.inKernel) return this.giveUp(`"${full}" is an observation outside the unfold kernel`);
    if (!this.checkpoint(kernel, full, dist.logProb(v))) return never;
    return Promise.resolve(v);
  }

  private factor(kernel: boolean, address: string, lw: unknown): Promise<void> {
    if (!this.usable(kernel)) return this.giveUp('an effect on a context not in use (the model\u2019s own, closed over?)');
    const full = this.prefix + address;
    if (!this.checkpoint(kernel, full, lw)) return never;
    return Promise.resolve();
  }

  /**
   * The state the kernel gets at a step after the first, from the group's
   * columns: a leaf of one value in the group is that number; leaves of few
   * values (at most `STATE_SPLIT` in the group, a discrete chain's) that vary
   * split the group by their values (`SPLIT`: each subgroup runs again and
   * gets numbers); other leaves are tensors of one row a particle.
   */
  private stateOf(cur: Float64Array[], layout: StateLayout | null): unknown {
    const idx = this.idx;
    const leaves: unknown[] = [];
    const varying: number[] = [];
    for (let c = 0; c < cur.length; c++) {
      const col = cur[c]!;
      const v = new Float64Array(idx.length);
      const distinct = new Set<number>();
      for (let k = 0; k < idx.length; k++) {
        v[k] = col[idx[k]!]!;
        if (distinct.size <= STATE_SPLIT) distinct.add(v[k]!);
      }
      if (distinct.size === 1) leaves.push(v[0]);
      else if (distinct.size <= STATE_SPLIT) {
        varying.push(c);
        leaves.push(v);
      } else leaves.push(v);
    }
    if (varying.length === 1) {
      this.end({ kind: 'split', by: cur[varying[0]!]! });
      return SPLIT;
    }
    if (varying.length > 1) {
      // the leaves of few values split the group by their joint value (while that has few values too)
      const by = new Float64Array(this.pop.n);
      const codes = new Map<string, number>();
      for (const i of idx) {
        const key = varying.map((c) => cur[c]![i]).join(',');
        let code = codes.get(key);
        if (code === undefined) codes.set(key, (code = codes.size));
        by[i] = code;
      }
      if (codes.size <= STATE_SPLIT) {
        this.end({ kind: 'split', by });
        return SPLIT;
      }
    }
    return buildState(
      layout,
      leaves.map((leaf) => (typeof leaf === 'number' ? leaf : this.handOut(leaf as Float64Array))),
    );
  }

  private unfold(name: string, steps: number, init: unknown, kernel: (c: Ctx, t: number, s: unknown) => unknown): Promise<unknown> {
    if (!this.usable(false)) return this.giveUp('an effect on a context not in use');
    const pop = this.pop;
    if (pop.unfold === undefined) {
      if (typeof name !== 'string' || !Number.isInteger(steps) || steps < 1 || typeof kernel !== 'function') return this.giveUp('an unfold of no steps (or malformed)');
      pop.unfold = { name, steps };
    } else if (pop.unfold.name !== name || pop.unfold.steps !== steps) return this.giveUp('a second unfold, or one whose name or length changed');
    const t = this.t;
    const idx = this.idx;
    if (t === steps) {
      // the end: the states of every step, along each final particle's ancestry
      // (the end runs per particle: plain numbers)
      const anc = this.ancestry!;
      const i = idx[0]!;
      const layout = pop.layout!;
      const phases = pop.phases;
      const xs = new Array<unknown>(phases.length);
      for (let s = 0; s < phases.length; s++) {
        const ph = phases[s]!;
        const j = anc[ph.gen]![i]!;
        const cols = ph.state!;
        if (layout === null) xs[s] = cols[0]![j]!;
        else {
          const leaves = new Array<number>(cols.length);
          for (let c = 0; c < cols.length; c++) leaves[c] = cols[c]![j]!;
          xs[s] = buildState(layout, leaves);
        }
      }
      return Promise.resolve(Object.freeze(xs));
    }
    let state: unknown;
    if (t === 0) {
      const layout = layoutOf(init);
      if (typeof layout === 'string') return this.giveUp(layout);
      if (pop.layout === undefined) pop.layout = layout;
      else if (!sameLayout(pop.layout, layout)) return this.giveUp('the initial state\u2019s layout differs between groups');
      const leaves = leavesOf(init, layout)!;
      for (const leaf of leaves) {
        if (typeof leaf !== 'number' && !(isTensor(leaf) && leaf.rank === 1 && leaf.shape[0] === idx.length)) {
          return this.giveUp('the initial state is not a number, or a small array or object of numbers (one per particle)');
        }
      }
      state = buildState(layout, leaves);
    } else {
      const s = this.stateOf(pop.state!, pop.layout!);
      if (s === SPLIT) return never;
      state = s;
    }
    for (const { full, dist, vals } of this.pendingPrefix.splice(0)) {
      if (!this.recordNumbers(pop.prefixLogp, full, dist, vals)) this.record(pop.prefixLogp, full, dist.logProb(this.handOut(vals)));
    }
    this.inKernel = true;
    this.prefix = `${name}/${t}/`;
    this.kernelCtx ??= this.context(true);
    Promise.resolve()
      .then(() => kernel(this.kernelCtx!, t, state))
      .then(
        (next) => {
          if (this.ended) return;
          if (this.checkpoints !== 1) return void this.giveUp('a step without an observation');
          try {
            const leaves = leavesOf(next, pop.layout!);
            if (leaves === undefined) throw new GroupGiveUp('a state is not of the initial state\u2019s layout (a number, or an array or object of numbers with the same keys in order)');
            const cols = this.next!;
            leaves.forEach((leaf, k) => spread(leaf, idx, (cols[k] ??= new Float64Array(pop.n).fill(Number.NaN)) as Float64Array));
          } catch (err) {
            return void this.abort(err);
          }
          this.end({ kind: 'stepped' });
        },
        (err) => this.abort(err),
      );
    return never;
  }
}
