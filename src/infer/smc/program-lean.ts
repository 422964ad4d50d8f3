/**
 * The lean runtime of per-particle program SMC: each particle is a live
 * execution of the model on a context made for it, in place of the general
 * effect runtime (handler stack, messages, traces).
 *
 * A particle records what it did as a persistent list (newest first) of
 * {@link LeanRecord}s: the address and, at a latent site, the value. Copies
 * made by resampling share their parent's list, so a copy costs nothing
 * until it runs. An async function cannot be forked, so a copy re-runs the
 * model from its start and *replays* the parent's records up to the parent's
 * checkpoint: a replayed site hands back the recorded value (one array read
 * and an address comparison) and takes the parent's record node as its own,
 * so no record is made and no density is computed there. The array of a
 * parent's records in order is built once and shared by all its copies (and
 * from the array built for its lineage at the last resampling, so that the
 * list's nodes, scattered over the heap, are not walked again).
 *
 * The population moves together ({@link LeanRun.advanceAll}): one counter
 * tells when every particle has reached its next checkpoint (no promise per
 * particle and step), up to 256 executions run at once (a model that awaits
 * a language model is asked concurrently), and a copy does not stop at its
 * parent's checkpoint but goes on to its own next one in the same step.
 * Records keep one string per address (so replays compare, and values are
 * keyed by, strings that stay in cache) and a particle's context makes only
 * the effects the model takes from it (a suspended copy is most of what a
 * run holds: smaller copies, less garbage-collector work).
 *
 * Fresh sites cost what they must: a latent site draws from its
 * distribution (its density is not needed: program SMC proposes from the
 * prior, so the latent densities cancel from the weights), an observation or
 * a `factor` computes its log density as a float64 number, adds it to the
 * particle's increment and suspends the execution (a checkpoint).
 *
 * What the lean runtime does not handle — a model with handlers of its own,
 * `plate`, `param`, tensor-valued draws, observations or densities, a NaN
 * density, a replay that does not retrace its parent (the model is not a
 * deterministic function of its choices), an error of the model's own code,
 * a duplicate address — makes it give up ({@link LeanGiveUp}), and the caller
 * runs the whole SMC again on the general runtime, which handles all of
 * these and names every error as before. Observations awaited together
 * (`Promise.all`) are an error on both (`ConcurrentCheckpointsError`).
 *
 * @module
 */
import { awaitedRunAbandoned, tycheModelBody } from '../../core/model-body.js';
import type { Ctx, Model } from '../../core/model.js';
import type { SampleOptions } from '../../core/message.js';
import { rejectsPoint } from '../../core/errors.js';
import type { Rng } from '../../core/rng.js';
import type { Value, ValueLike } from '../../core/value.js';
import { type UnfoldHost, type UnfoldKernel, type UnfoldStepRef, checkUnfold, enterStep, freezeState, leaveStep, runUnfold, stepError, stepResult, wrongContextError } from '../../core/unfold.js';
import { Distribution } from '../../distributions/distribution.js';
import { type Pacer, yieldToEventLoop } from '../pace.js';
import { ConcurrentCheckpointsError } from './suspendable.js';

/** Thrown (rejected) when the lean runtime cannot run the model; the caller uses the general runtime. */
export class LeanGiveUp extends Error {
  constructor(readonly why: string) {
    super(`lean program-SMC runtime cannot run this model: ${why}`);
    this.name = 'LeanGiveUp';
  }
}

/** Thrown into the model to stop an execution the lean runtime gave up on. */
const STOP: unique symbol = Symbol('lean particle stop');

/**
 * The kinds of record: latent, checkpoint (an observation or a factor),
 * deterministic, and the two markers of a top-level `unfold`: the start of a
 * step (its state) and the end (its states).
 */
const Kind = { Latent: 0, Checkpoint: 1, Deterministic: 2, Step: 3, End: 4 } as const;
/** The kind of a recorded site (see `Kind`). */
export type LeanSiteKind = (typeof Kind)[keyof typeof Kind];

/** One recorded site, in a persistent list (newest first) shared by a particle and its copies. */
export interface LeanRecord {
  readonly address: string;
  readonly kind: LeanSiteKind;
  /** The value of a latent or deterministic site; at a checkpoint, the observed value (a number) or undefined (a factor); undefined at an unfold marker. */
  readonly value: Value | undefined;
  readonly prev: LeanRecord | undefined;
}

/**
 * One top-level `unfold` call of one execution, shared by the copies forked
 * inside it: what a copy needs to run the unfold on from a step's state
 * without the execution that called it.
 */
interface LeanUnfold {
  /** The unfold's full address (the scope prefix at the call and its name): its markers' address. */
  readonly address: string;
  readonly prefix: string;
  readonly name: string;
  readonly steps: number;
  readonly kernel: UnfoldKernel<unknown>;
  /** The records before the call, and the checkpoints passed before it. */
  readonly before: LeanRecord | undefined;
  readonly checkpoint: number;
  /** Set on the execution that called it once a copy forks from it (its kernel closes over that execution's context; see `LeanParticle.may`). */
  readonly owner: { lent: boolean };
  /** The records before the call, oldest first: what a copy that finished the unfold replays (built once). */
  prefixRecords?: LeanRecord[];
  /** Each step's address prefix, one string for the run (`LeanRun.stepPrefixes`). */
  readonly prefixes: string[];
}

/**
 * The marker record at the start of step `t` of an unfold (kind `Step`): its
 * input state, the checkpoints passed before it and the marker of the step
 * before (whose states are the outputs of the steps so far). It is also the
 * open step named in messages (`name`, `t`).
 */
export interface StepRecord extends LeanRecord {
  readonly frame: LeanUnfold;
  readonly name: string;
  readonly t: number;
  readonly state: unknown;
  readonly checkpoint: number;
  readonly prevStep: StepRecord | undefined;
}

/** The marker record at the end of an unfold (kind `End`): its states (frozen), the checkpoints passed by then and before the unfold. */
interface EndRecord extends LeanRecord {
  readonly frame: LeanUnfold;
  readonly states: readonly unknown[];
  readonly checkpoint: number;
  readonly before: number;
}

/** How many records make a full chunk of a `ReplaySource`. */
const CHUNK = 64;

/**
 * A lineage's records oldest first, as full chunks of `CHUNK` records and a
 * shorter tail. Chunks are never changed, so the source of a copy made at a
 * later resampling on the same lineage shares them and builds only its tail
 * (and the short list of chunks): a source costs O(CHUNK + t / CHUNK), not
 * O(t), which the scavenger would copy and promote for every parent copied.
 */
interface ReplaySource {
  readonly chunks: readonly (readonly LeanRecord[])[];
  readonly tail: readonly LeanRecord[];
}

/** What a copy replays: its parent's records up to the parent's checkpoint. */
interface LeanTarget {
  readonly head: LeanRecord | undefined;
  readonly checkpoint: number;
  /**
   * The marker of the unfold step the parent is in, if any: the copy then
   * runs that unfold on from the step's state, replaying only the step's
   * records (a fork), not the model from its start.
   */
  readonly mark: StepRecord | undefined;
  /** Inside an unfold step (`mark` set): the records after `mark`, oldest first, built by the first copy that replays them and shared with the others. */
  records?: LeanRecord[];
  /** Otherwise: the parent's records from the model's start, built by the first copy that replays them and shared with the others. */
  source?: ReplaySource;
  /** The particle copied (it keeps its live execution: the first child of a resampling). */
  readonly parent: LeanParticle<unknown>;
  /**
   * Where copies of a parent inside an unfold step start when the parent's
   * next record after its checkpoint is the marker of the step after (or
   * the unfold's end): the rest of step t is then the parent's, with
   * nothing to draw, so a copy starts at that marker with no replay (false:
   * not so; looked up once, after the parents moved: `LeanRun.advanceAll`).
   */
  next?: StepRecord | EndRecord | false;
}

/** Whether the lean runtime can try this model at all (no handlers of its own). */
export function leanHandles(m: { readonly handlers: readonly unknown[] }): boolean {
  return m.handlers.length === 0;
}

/**
 * One step of a population: the particles it moves, how many are running
 * and how many have still to arrive at their next checkpoint (or end).
 */
interface LeanStep {
  /** Called once by each particle the step moved: at its next checkpoint, at its end, or when rejected. */
  arrive(): void;
  /** Called once by each copy the step started replaying, when its replay is over (caught up with its parent, or stopped). */
  replayed(): void;
  /** The step fails (the first failure wins; later ones, after it settled, are kept by the particle). */
  fail(err: unknown): void;
  readonly settled: boolean;
}

/**
 * What the particles of one lean run share: the model and its arguments,
 * the pacer (abort signal), the tensor tripwire, and the address layout of
 * the last particle read (so that reading a population's values checks each
 * particle's addresses against it instead of hashing every one).
 */
export class LeanRun<R> {
  /** The addresses (record order) of the last particle whose values were read; free of duplicates. */
  private layout: string[] | undefined;
  /**
   * The replay sources (records oldest first, in shared chunks) built for
   * the copies of the latest resampling and of the one before, by head
   * record: a copy's lineage usually passes through a parent copied last
   * time, so its source is that one's chunks plus the few records since (not
   * a walk of the whole list, whose nodes lie all over the heap). Two
   * generations are kept, so the memory stays that of two resamplings'
   * targets.
   */
  private arrays = new Map<LeanRecord, ReplaySource>();
  private older = new Map<LeanRecord, ReplaySource>();
  /** Records whose list agrees with `layout` up to them, by their index there (see {@link LeanRun.checkValues}). */
  private checked = new Map<LeanRecord, number>();
  /** One string per address (records keep it, not the model's own copy): replays compare, and values are keyed by, strings that stay in cache. */
  private names = new Map<string, string>();
  /** Full addresses by scope prefix and address (`scoped`), and unfold step prefixes by unfold (`stepPrefixes`). */
  private byPrefix = new Map<string, Map<string, string>>();
  private prefixes = new Map<string, string[]>();
  /** Copies that started inside an unfold step from its state (forks), and sites replayed by copies (`diagnostics`). */
  forks = 0;
  replayedSites = 0;
  /** Forks that started at the marker after their parent's checkpoint, replaying nothing (`LeanTarget.next`). */
  skippedForks = 0;
  /**
   * How many copies may replay at once: 1 (a replay is the model re-run on
   * recorded values, microtasks only, and copies replayed one after another
   * cost less than copies interleaved site by site), widened to
   * `concurrency` for the rest of the run once a replay is seen waiting on
   * something outside the run (a timer, I/O, a language model not cached),
   * so that such waits overlap as before.
   */
  private replayWidth = 1;
  /** Executions waiting in the pacer's yield (a replay there is not waiting outside the run). */
  pausing = 0;

  /** A replay waited on something outside the run: copies replay `concurrency` at once from now on (see `replayWidth`). */
  replayStalled(): void {
    this.replayWidth = this.concurrency;
  }

  /**
   * @param model - the model (no handlers of its own: {@link leanHandles})
   * @param args - its arguments
   * @param pace - paces long executions and the population's steps (and carries the abort signal)
   * @param wire - when set, a tensor made anywhere stops the execution at its next site
   * @param concurrency - most executions running at once (the others wait their turn)
   */
  constructor(
    readonly model: Model<unknown[], R>,
    readonly args: unknown[],
    readonly pace: Pacer,
    readonly wire?: { readonly tripped: boolean },
    readonly concurrency = 256,
  ) {}

  /**
   * Move every unfinished particle to its next checkpoint or its end:
   * suspended ones are woken, pending copies replay their parent's records
   * and go on from their parent's checkpoint to their own next one (they do
   * not stop there), new ones start. One counter tells when all have
   * arrived (no promise per particle); at most `concurrency` run at once,
   * and between starts the pacer may yield (abort). Rejects with the first
   * failure ({@link LeanGiveUp} when the lean runtime cannot run the model).
   */
  advanceAll(particles: readonly LeanParticle<R>[]): Promise<void> {
    const todo = particles.filter((p) => p.status !== 'done');
    if (this.arrays.size > 0 && todo.some((p) => p.replayOf !== undefined && p.replayOf.records === undefined && p.replayOf.source === undefined)) {
      this.older = this.arrays;
      this.arrays = new Map();
    }
    // copies made inside an unfold step move after every other particle (their parents among them): a copy
    // whose parent went from its checkpoint straight to the next step then starts there (`LeanTarget.next`)
    let forks = 0;
    for (const p of todo) if (p.replayOf?.mark !== undefined) forks++;
    if (forks === 0 || forks === todo.length) return this.advance(todo);
    const first: LeanParticle<R>[] = [];
    const second: LeanParticle<R>[] = [];
    for (const p of todo) (p.replayOf?.mark !== undefined ? second : first).push(p);
    return this.advance(first).then(() => this.advance(second));
  }

  /** Moves `todo` (unfinished particles) to their next checkpoints or ends (see {@link LeanRun.advanceAll}). */
  private advance(todo: readonly LeanParticle<R>[]): Promise<void> {
    if (todo.length === 0) return Promise.resolve();
    const { pace, concurrency } = this;
    return new Promise<void>((resolve, reject) => {
      let next = 0;
      let running = 0;
      let remaining = todo.length;
      let pumping = false;
      let waiting = false;
      let replaying = 0;
      let watching = false;
      const step: LeanStep & { settled: boolean } = {
        settled: false,
        replayed() {
          replaying--;
          pump();
        },
        arrive() {
          running--;
          if (--remaining === 0) {
            if (!step.settled) {
              step.settled = true;
              resolve();
            }
          } else pump();
        },
        fail(err) {
          if (step.settled) return;
          step.settled = true;
          reject(err);
        },
      };
      // a replay that has not ended when the microtasks have run out (and that is not in the pacer's yield) waits on
      // something outside the run: from then on copies replay `concurrency` at once, so that such waits overlap
      const watch = (): void => {
        if (watching) return;
        watching = true;
        // (the next macrotask: `setImmediate` in Node, `setTimeout(0)` in a browser, which has no `setImmediate`)
        void yieldToEventLoop().then(() => {
          watching = false;
          if (step.settled || replaying === 0) return;
          if (this.pausing > 0) return watch();
          this.replayStalled();
          pump();
        });
      };
      // (a particle may arrive synchronously inside `go`: the loop, not a nested call, starts the next)
      const pump = (): void => {
        if (pumping || waiting) return;
        pumping = true;
        while (running < concurrency && next < todo.length && !step.settled) {
          const p = todo[next]!;
          // (a copy that replays from the model's start: one at a time, see `replayWidth`)
          const replay = p.status === 'new' && p.replayOf !== undefined && p.replayOf.mark === undefined;
          if (replay && replaying >= this.replayWidth) {
            watch();
            break;
          }
          // (a clock read every 16 starts, not at each: a start is a few microseconds)
          if ((next & 15) === 0 && pace.due()) {
            waiting = true;
            pace.pause().then(
              () => {
                waiting = false;
                pump();
              },
              (err) => step.fail(err),
            );
            break;
          }
          running++;
          next++;
          if (replay) {
            replaying++;
            p.replaying = true;
          }
          p.go(step);
        }
        pumping = false;
      };
      pump();
    });
  }

  /**
   * The values of the latent and deterministic sites of a finished
   * particle, by address; a duplicate address gives up (the general runtime
   * names it). A particle whose addresses are those of the last one read
   * needs no duplicate check and takes that one's keys.
   */
  values(p: LeanParticle<R>): Record<string, Value> {
    const out: Record<string, Value> = {};
    if (p.rejected) return out;
    const records = this.recordsOf(p.head);
    const keys = this.keysOf(records);
    for (let i = 0; i < records.length; i++) {
      const r = records[i]!;
      if (r.kind === Kind.Latent || r.kind === Kind.Deterministic) out[keys[i]!] = r.value as Value;
    }
    return out;
  }

  /**
   * Throws now what {@link LeanRun.values} would throw for a finished
   * particle (a duplicate address gives up), without making its record of
   * values (a dictionary of every site: ~10% of a run of the jump walk),
   * which a draw makes when first read.
   */
  checkValues(p: LeanParticle<R>): void {
    if (p.rejected) return;
    // (the records are walked from the head until one already checked at the same index: final particles share
    // most of their pasts, so most walks stop after the last few steps; a walk that does not agree checks in full)
    const keys = this.layout;
    if (keys !== undefined) {
      const path: LeanRecord[] = [];
      let i = keys.length - 1;
      let r = p.head;
      while (r !== undefined && i >= 0 && r.address === keys[i] && this.checked.get(r) !== i) {
        path.push(r);
        r = r.prev;
        i--;
      }
      if (r === undefined ? i === -1 : this.checked.get(r) === i) {
        for (let k = 0; k < path.length; k++) this.checked.set(path[k]!, keys.length - 1 - k);
        return;
      }
    }
    this.keysOf(this.recordsOf(p.head));
  }

  /** The addresses of `records` (those of the last particle read where they are the same); a duplicate gives up. */
  private keysOf(records: readonly LeanRecord[]): string[] {
    const keys = this.layout;
    if (keys !== undefined && keys.length === records.length && sameAddresses(keys, records)) return keys;
    const seen = new Set<string>();
    for (const r of records) {
      if (r.kind >= Kind.Step) continue;
      if (seen.has(r.address)) throw new LeanGiveUp(`address "${r.address}" is used twice`);
      seen.add(r.address);
    }
    // (records checked against the old layout are not checked against this one)
    if (this.checked.size > 0) this.checked = new Map();
    return (this.layout = records.map((r) => r.address));
  }

  /**
   * The run is over: the replay arrays kept for copies are dropped (draws
   * read later walk their particles' records; a posterior that holds its
   * draws then does not hold the arrays too).
   */
  settle(): void {
    this.arrays = new Map();
    this.older = new Map();
    this.checked = new Map();
  }

  /** The run's one copy of `prefix + address`, found without building the string again (a scope's or an unfold step's sites). */
  scoped(prefix: string, address: string): string {
    let byAddress = this.byPrefix.get(prefix);
    if (byAddress === undefined) this.byPrefix.set(prefix, (byAddress = new Map()));
    let full = byAddress.get(address);
    if (full === undefined) byAddress.set(address, (full = this.name(prefix + address)));
    return full;
  }

  /** The address prefixes of the steps of the unfold at `address` (`address/t/`), one string each for the run. */
  stepPrefixes(address: string): string[] {
    let out = this.prefixes.get(address);
    if (out === undefined) this.prefixes.set(address, (out = []));
    return out;
  }

  /** The run's one copy of an address. */
  name(address: string): string {
    const known = this.names.get(address);
    if (known !== undefined) return known;
    this.names.set(address, address);
    return address;
  }

  /** The records of a list up to the nearest one whose source is kept (newest first), and that source. */
  private since(head: LeanRecord | undefined): { fresh: LeanRecord[]; base: ReplaySource | undefined } {
    const fresh: LeanRecord[] = [];
    let base: ReplaySource | undefined;
    // (no sources kept, e.g. a run whose copies all fork: no lookup per record)
    const kept = this.arrays.size + this.older.size > 0;
    for (let r = head; r !== undefined; r = r.prev) {
      if (kept && (base = this.arrays.get(r) ?? this.older.get(r)) !== undefined) break;
      fresh.push(r);
    }
    return { fresh, base };
  }

  /** The records of a list oldest first, as a new array (from the nearest source kept for a node of the list). */
  recordsOf(head: LeanRecord | undefined): LeanRecord[] {
    const { fresh, base } = this.since(head);
    const out: LeanRecord[] = [];
    if (base !== undefined) {
      for (const chunk of base.chunks) for (const r of chunk) out.push(r);
      for (const r of base.tail) out.push(r);
    }
    for (let i = fresh.length - 1; i >= 0; i--) out.push(fresh[i]!);
    return out;
  }

  /** What copies of a parent whose records end at `head` replay (kept for the copies of the next resamplings: `ReplaySource`). */
  sourceOf(head: LeanRecord | undefined): ReplaySource {
    const { fresh, base } = this.since(head);
    let chunks = (base?.chunks ?? []) as (readonly LeanRecord[])[];
    let tail = base === undefined ? [] : base.tail.slice();
    let shared = true;
    for (let i = fresh.length - 1; i >= 0; i--) {
      tail.push(fresh[i]!);
      if (tail.length === CHUNK) {
        if (shared) {
          chunks = chunks.slice();
          shared = false;
        }
        chunks.push(tail);
        tail = [];
      }
    }
    const out: ReplaySource = { chunks, tail };
    if (head !== undefined) this.arrays.set(head, out);
    return out;
  }
}

/** Whether the records' addresses are `keys`, in order (same length). */
function sameAddresses(keys: readonly string[], records: readonly LeanRecord[]): boolean {
  for (let i = 0; i < keys.length; i++) if (keys[i] !== records[i]!.address) return false;
  return true;
}

/**
 * One particle on the lean runtime: a (possibly suspended) execution of the
 * model, or a pending copy. Its run moves it ({@link LeanRun.advanceAll}).
 */
export class LeanParticle<R> implements UnfoldHost {
  status: 'new' | 'suspended' | 'done' = 'new';
  /** Sites recorded so far. */
  head: LeanRecord | undefined = undefined;
  /** Observations (checkpoints) passed so far. */
  checkpoint = 0;
  /** Log weight gathered since the last read. */
  increment = 0;
  returnValue?: R = undefined;
  /** Set when an invalid parameter stopped the execution (weight zero). */
  rejected = false;
  /** Replay target: copy another particle's records up to its checkpoint. */
  replayOf?: LeanTarget = undefined;
  /** Set while this copy replays in a step that counts it (`LeanStep.replayed`). */
  replaying = false;
  /** The records being replayed (the current part of a source) and the next one expected (set when the replay starts). */
  private replay: readonly LeanRecord[] | undefined = undefined;
  private next = 0;
  /** A source replayed from the model's start: its part after the current one (`chunks.length`: the tail), and the records replayed in parts before. */
  private source: ReplaySource | undefined = undefined;
  private part = 0;
  private done = 0;
  /** The prefix of every address now (`scope`'s). */
  prefix = '';
  private sites = 0;
  private gaveUp: LeanGiveUp | undefined = undefined;
  /** The step this particle reports to. */
  private step: LeanStep | undefined = undefined;
  /** A suspended checkpoint's value and wake-up (a dropped particle is abandoned, never woken: `kill`). */
  private held: Value | undefined = undefined;
  private wake: ((value: Value | undefined) => void) | undefined = undefined;
  /** What copies of this particle at its current checkpoint replay (shared by them). */
  private target: LeanTarget | undefined = undefined;
  /** A failure after this particle's step had settled (the next step fails with it). */
  private late: { readonly err: unknown } | undefined = undefined;
  /** The level of the context that may take effects now (0: the model's own; one more per open unfold step). */
  level = 0;
  private open_: UnfoldStepRef[] | undefined = undefined;
  /** The marker of the top-level unfold step this particle is in (what a copy forks from). */
  private open: StepRecord | undefined = undefined;
  /** After a fork finished its unfold: the end marker the unfold call hands back when the model re-runs to it, and the checkpoints passed. */
  private resumeEnd: EndRecord | undefined = undefined;
  private resumeCheckpoint = 0;
  /** Set once copies run an unfold kernel of this execution (which closes over its context): its top-level context then refuses effects while it waits. */
  private owns: { lent: boolean } | undefined = undefined;
  private killed = false;
  /** The first failure of an effect of this execution (see `effectFailed`). */
  private unsettled: { readonly err: unknown } | undefined = undefined;
  /** Whether this particle's execution runs inside `tycheModelBody` (counted there until it settles or is abandoned). */
  private inBody = false;

  /**
   * @param rng - this particle's random stream
   * @param run - what the particles of the run share
   */
  constructor(
    readonly rng: Rng,
    readonly run: LeanRun<R>,
  ) {}

  /** Start, resume or replay this particle in `step` (see {@link LeanRun.advanceAll}); never throws. */
  go(step: LeanStep): void {
    this.step = step;
    if (this.late !== undefined) {
      step.fail(this.late.err);
      return;
    }
    if (this.status === 'suspended') {
      const wake = this.wake as (value: Value | undefined) => void;
      const value = this.held;
      this.wake = this.held = undefined;
      wake(value);
      return;
    }
    const target = this.replayOf;
    if (target?.mark !== undefined) {
      const next = (target.next ??= nextMarker(target, target.mark));
      if (next !== false) {
        // the parent went from its checkpoint to the next step (or the end) with nothing in between: start there
        this.replayOf = undefined;
        this.head = next;
        this.checkpoint = next.checkpoint;
        this.run.forks++;
        this.run.skippedForks++;
        (next.kind === Kind.Step ? this.fork(next as StepRecord) : this.resume(next as EndRecord)).then(
          (value) => this.finished(value),
          (err) => this.failed(err),
        );
        return;
      }
      // a fork: run the unfold on from the parent's step, replaying only that step's records
      const mark = target.mark;
      target.records ??= recordsAfter(target.head, mark);
      this.replay = target.records;
      this.next = 0;
      this.head = mark;
      this.checkpoint = mark.checkpoint;
      this.run.forks++;
      this.fork(mark).then(
        (value) => this.finished(value),
        (err) => this.failed(err),
      );
      return;
    }
    if (target !== undefined) {
      const source = (target.source ??= this.run.sourceOf(target.head));
      this.next = 0;
      this.done = 0;
      if (source.chunks.length === 0) this.replay = source.tail;
      else {
        this.source = source;
        this.replay = source.chunks[0];
        this.part = 1;
      }
    }
    try {
      // (through tycheModelBody: a model that starts an inference is seen to, `core/model-body.ts`)
      this.inBody = true;
      tycheModelBody(this.run.model.fn, this.context(), this.run.args).then(
        (value) => this.finished(value),
        (err) => this.failed(err),
      );
    } catch (err) {
      step.fail(err);
    }
  }

  /** This copy's replay is over (caught up, or stopped): its step may start another. */
  private replayEnded(): void {
    if (!this.replaying) return;
    this.replaying = false;
    this.step?.replayed();
  }

  /** The execution returned. */
  private finished(value: R): void {
    this.inBody = false;
    this.replayEnded();
    if (this.gaveUp) return this.fail(this.gaveUp);
    if (this.unsettled !== undefined) return this.fail(new LeanGiveUp(`an effect failed and the model returned anyway (was the call awaited?): ${describeError(this.unsettled.err)}`));
    if (this.wake !== undefined) return this.fail(new LeanGiveUp('the model returned while an observation of its was pending (was the call awaited?)'));
    if (this.replay !== undefined) return this.fail(new LeanGiveUp('a copy ended before reaching its parent\u2019s checkpoint (is the model a deterministic function of its choices?)'));
    this.returnValue = value;
    this.status = 'done';
    this.step?.arrive();
  }

  /** The execution threw. */
  private failed(err: unknown): void {
    this.inBody = false;
    this.replayEnded();
    if (this.gaveUp) return this.fail(this.gaveUp);
    // an invalid distribution parameter: this particle has weight zero (the one rule of every engine)
    if (err !== STOP && rejectsPoint(err)) {
      this.rejected = true;
      this.increment = -Infinity;
      this.status = 'done';
      this.step?.arrive();
      return;
    }
    // the model's own error (or an abort): the general runtime reports it as before
    if (this.run.pace.signal?.aborted || err instanceof ConcurrentCheckpointsError) return this.fail(err);
    this.fail(new LeanGiveUp(`the model threw (${err instanceof Error ? err.message.split('\n')[0] : String(err)})`));
  }

  private fail(err: unknown): void {
    const step = this.step;
    if (step !== undefined && !step.settled) step.fail(err);
    else this.late ??= { err };
  }

  /** A copy at the same point: finished particles are copied, live ones replayed (sharing the recorded list). */
  copy(rng: Rng): LeanParticle<R> {
    const c = new LeanParticle<R>(rng, this.run);
    if (this.status === 'done') {
      c.status = 'done';
      c.returnValue = this.returnValue;
      c.rejected = this.rejected;
      c.head = this.head;
      c.checkpoint = this.checkpoint;
    } else if (this.replayOf !== undefined) c.replayOf = this.replayOf;
    else {
      // (one target per parent and checkpoint: its copies share the records array built from it)
      if (this.target?.checkpoint !== this.checkpoint) this.target = { head: this.head, checkpoint: this.checkpoint, mark: this.open, parent: this };
      c.replayOf = this.target;
    }
    return c;
  }

  /**
   * Drop this particle. A suspended execution is abandoned, not unwound: its
   * pending checkpoint is never settled, so the whole suspended chain (the
   * model's frames, the kernel's, the unfold driver's) becomes garbage
   * without a rejection travelling through each of its async frames (~12% of
   * a run that resamples often); the model's own `finally` blocks do not run
   * for it (the general runtime still unwinds).
   */
  kill(): void {
    this.killed = true;
    if (this.wake === undefined) return;
    this.wake = this.held = undefined;
    if (this.inBody) {
      this.inBody = false;
      awaitedRunAbandoned();
    }
  }

  /** The values of the latent and deterministic sites of a finished particle, by address (see {@link LeanRun.values}). */
  values(): Record<string, Value> {
    return this.run.values(this);
  }

  /** Throws now what {@link LeanParticle.values} would throw (see {@link LeanRun.checkValues}). */
  checkValues(): void {
    this.run.checkValues(this);
  }

  /**
   * The rejected promise of an effect that failed. It is marked handled (a
   * model that did not await the effect must not end the process with an
   * unhandled rejection) and the failure is kept until the execution
   * settles: an execution that returns normally after one (the effect was
   * not awaited, or its error caught) gives up, and the general runtime,
   * which names an effect that was not awaited, runs instead.
   */
  private effectFailed(err: unknown): Promise<never> {
    this.unsettled ??= { err };
    const p = Promise.reject(err);
    p.catch(ignore);
    return p;
  }

  private giveUp(why: string): never {
    this.gaveUp ??= new LeanGiveUp(why);
    throw STOP;
  }

  /**
   * A checkpoint: the execution suspends (the step counts it as arrived)
   * until its run wakes it with `value`. A second checkpoint reached while
   * one is pending (observations awaited together, e.g. in `Promise.all`)
   * is an error: the first would never be woken.
   */
  private suspend<V extends Value | undefined>(site: string, value: V): Promise<V> {
    if (this.wake !== undefined) {
      // (the run fails with it; this promise never settles: a rejection would reach the model's un-awaited
      // promise, the callback of an `array.forEach(async ...)`, and end the process as an unhandled rejection)
      this.fail(new ConcurrentCheckpointsError(site));
      return new Promise<V>(() => {});
    }
    const p = new Promise<V>((resolve) => {
      this.wake = resolve as (value: Value | undefined) => void;
    });
    this.held = value;
    this.status = 'suspended';
    this.step?.arrive();
    return p;
  }

  /** The first record of the next part of the source replayed, now the part replayed (undefined: none left). */
  private nextPart(): LeanRecord | undefined {
    const source = this.source;
    if (source === undefined) return undefined;
    this.done += this.next;
    this.next = 0;
    const part = this.part++;
    if (part === source.chunks.length) this.source = undefined;
    return (this.replay = part < source.chunks.length ? source.chunks[part] : source.tail)[0];
  }

  /** Records replayed so far. */
  private replayedCount(): number {
    return this.done + this.next;
  }

  /** The rest of a chunked replay as one array (what `skipUnfold` scans). */
  private flattenReplay(): void {
    const source = this.source;
    if (source === undefined) return;
    const rest = (this.replay as LeanRecord[]).slice(this.next);
    for (let k = this.part; k < source.chunks.length; k++) for (const r of source.chunks[k]!) rest.push(r);
    for (const r of source.tail) rest.push(r);
    this.done += this.next;
    this.next = 0;
    this.replay = rest;
    this.source = undefined;
  }

  /** The record expected at this site of a replay (it must retrace the parent), taken as this execution's own. */
  private replayed(full: string, kind: LeanSiteKind): LeanRecord {
    const replay = this.replay as LeanRecord[];
    const rec = replay[this.next] ?? this.nextPart();
    if (rec === undefined || rec.address !== full || rec.kind !== kind) {
      return this.giveUp(`a copy did not retrace its parent at "${full}" (is the model a deterministic function of its choices?)`);
    }
    this.next++;
    this.head = rec;
    return rec;
  }

  /** Counts a site; every 32 sites, yields to the event loop when due (a long execution stays abortable). */
  private paced<V>(value: V): Promise<V> {
    if ((++this.sites & 31) === 0 && this.run.pace.due()) {
      const run = this.run;
      run.pausing++;
      return run.pace.pause().then(
        () => {
          run.pausing--;
          return value;
        },
        (err) => {
          run.pausing--;
          throw err;
        },
      );
    }
    // (a new promise, not one kept on the record: young garbage costs less than a promise per record held for the run)
    return Promise.resolve(value);
  }

  private fullAddress(address: string): string {
    if (this.gaveUp) throw STOP;
    if (this.run.wire?.tripped) this.giveUp('the model makes tensors');
    if (typeof address !== 'string' || address.length === 0) this.giveUp('an address is not a non-empty string');
    return this.prefix === '' ? address : this.run.scoped(this.prefix, address);
  }

  private latent(address: string, dist: Distribution): Promise<Value> {
    try {
      const full = this.fullAddress(address);
      if (this.replay !== undefined) {
        const rec = this.replayed(full, Kind.Latent);
        return this.paced(rec.value as Value);
      }
      if (!(dist instanceof Distribution)) this.giveUp(`"${full}" has no distribution`);
      if ((dist as { improper?: boolean }).improper === true) this.giveUp(`"${full}" has an improper prior`);
      const v = dist.sample(this.rng);
      if (typeof v !== 'number') {
        v.dispose();
        this.giveUp(`"${full}" draws a tensor`);
      }
      this.head = { address: this.run.name(full), kind: Kind.Latent, value: v, prev: this.head };
      return this.paced(v);
    } catch (err) {
      return this.effectFailed(err);
    }
  }

  /** A replayed checkpoint: counted; at its parent's checkpoint the copy goes on with values of its own (it does not stop there). */
  private replayedCheckpoint<V extends Value | undefined>(full: string, value: V): Promise<V> {
    const rec = this.replayed(full, Kind.Checkpoint);
    this.checkpoint += 1;
    // (no target: a fork that finished its unfold, replaying the records before it)
    const target = this.replayOf;
    if (target !== undefined && this.checkpoint >= target.checkpoint) {
      this.run.replayedSites += this.replayedCount();
      // caught up with the parent: from here on this copy draws its own values
      this.replay = undefined;
      this.source = undefined;
      this.replayOf = undefined;
      this.increment = 0;
      this.replayEnded();
    }
    return this.paced(value);
  }

  /** A fresh checkpoint of log density `lp`: recorded, added to the increment; the execution suspends. */
  private freshCheckpoint<V extends Value | undefined>(full: string, value: V, lp: number): Promise<V> {
    if (Number.isNaN(lp)) this.giveUp(`the log density at "${full}" is NaN`);
    this.head = { address: this.run.name(full), kind: Kind.Checkpoint, value, prev: this.head };
    this.increment += lp;
    this.checkpoint += 1;
    return this.suspend(full, value);
  }
  private observed(address: string, dist: Distribution, value: ValueLike): Promise<Value> {
    try {
      const full = this.fullAddress(address);
      const v = typeof value === 'boolean' ? (value ? 1 : 0) : value;
      if (typeof v !== 'number') this.giveUp(`"${full}" observes a tensor`);
      if (this.replay !== undefined) return this.replayedCheckpoint(full, v);
      if (!(dist instanceof Distribution) || dist.batchShape.length !== 0 || dist.eventShape.length !== 0) this.giveUp(`"${full}" is not a scalar distribution`);
      const lp = dist.logProb(v);
      if (typeof lp !== 'number') {
        lp.dispose();
        this.giveUp(`the log density at "${full}" is a tensor`);
      }
      return this.freshCheckpoint(full, v, lp);
    } catch (err) {
      return this.effectFailed(err);
    }
  }

  private factorSite(address: string, logWeight: ValueLike): Promise<void> {
    try {
      const full = this.fullAddress(address);
      if (typeof logWeight !== 'number') this.giveUp(`"${full}" factors a tensor or a boolean`);
      if (this.replay !== undefined) return this.replayedCheckpoint(full, undefined);
      return this.freshCheckpoint(full, undefined, logWeight);
    } catch (err) {
      return this.effectFailed(err);
    }
  }

  private deterministicSite<V extends Value>(address: string, value: V): V {
    const full = this.fullAddress(address);
    if (this.replay !== undefined) this.replayed(full, Kind.Deterministic);
    else this.head = { address: this.run.name(full), kind: Kind.Deterministic, value, prev: this.head };
    return value;
  }

  private async scope<T>(prefix: string, fn: () => Promise<T> | T): Promise<T> {
    const saved = this.prefix;
    this.prefix = `${saved}${prefix}/`;
    try {
      return await fn();
    } finally {
      this.prefix = saved;
    }
  }

  /** The open unfold steps (for messages). */
  get openSteps(): UnfoldStepRef[] {
    return (this.open_ ??= []);
  }

  /** The context at unfold level `level` (0: the model's own; see `LeanContext`). */
  contextAt(level: number): Ctx {
    return new LeanContext(this, level) as unknown as Ctx;
  }

  /** Whether the context at `level` may take an effect now (see `UnfoldHost`, and `lent`: the owner of a forked kernel waiting at a checkpoint, done or dropped takes none). */
  private may(level: number): boolean {
    return this.level === level && (level !== 0 || this.owns === undefined || !this.owns.lent || (this.wake === undefined && this.status !== 'done' && !this.killed));
  }

  /** The effect on the context at `level` that may not take effects now: an error naming the unfold and step. */
  private wrongContext(address: unknown, level: number): Promise<never> {
    return this.effectFailed(wrongContextError(this, address, level));
  }

  /**
   * A top-level `unfold`: fresh, the execution runs the steps itself,
   * recording a marker at each step's start (what copies fork from) and one
   * at the end; replaying, it hands back the states its parent's (or its own
   * fork's) records hold at once.
   */
  private unfoldTop(name: string, steps: number, init: unknown, kernel: UnfoldKernel<unknown>): Promise<unknown[]> {
    try {
      checkUnfold(name, steps, kernel);
      const full = this.fullAddress(name);
      if (this.replay !== undefined) return Promise.resolve(this.skipUnfold(full) as unknown[]);
      const frame: LeanUnfold = { address: this.run.name(full), prefix: this.prefix, name, steps, kernel, before: this.head, checkpoint: this.checkpoint, owner: (this.owns ??= { lent: false }), prefixes: this.run.stepPrefixes(this.run.name(full)) };
      return this.drive(frame, 0, freezeState(name, -1, init), undefined);
    } catch (err) {
      return this.effectFailed(err);
    }
  }

  /** A replayed top-level unfold: its states from the end marker (the fork's own, or the next one in the parent's records). */
  private skipUnfold(full: string): readonly unknown[] {
    this.flattenReplay();
    const replay = this.replay as LeanRecord[];
    const end = this.resumeEnd;
    // (a fork that finished its unfold: the records before it end here; an earlier unfold is skipped below)
    if (end !== undefined && this.next === replay.length) {
      if (end.address !== full || this.checkpoint !== end.before) {
        this.giveUp(`a copy did not retrace the model before unfold "${full}" (is the model a deterministic function of its choices?)`);
      }
      this.resumeEnd = undefined;
      this.run.replayedSites += this.replayedCount();
      this.replay = undefined;
      this.head = end;
      this.checkpoint = this.resumeCheckpoint;
      return end.states;
    }
    const first = replay[this.next];
    if (first === undefined || first.kind !== Kind.Step || first.address !== full) this.giveUp(`a copy did not retrace its parent at unfold "${full}" (is the model a deterministic function of its choices?)`);
    for (let j = this.next + 1; j < replay.length; j++) {
      const r = replay[j]!;
      if (r.kind !== Kind.End || r.address !== full) continue;
      // (the unfold's records are skipped, not replayed)
      this.run.replayedSites -= j + 1 - this.next;
      this.next = j + 1;
      this.head = r;
      this.checkpoint = (r as EndRecord).checkpoint;
      return (r as EndRecord).states;
    }
    return this.giveUp(`a copy replayed into unfold "${full}", which its parent had not finished`);
  }

  /**
   * Steps `from` .. of `frame` from `state`, each marked at its start (but
   * the first when `forked` is given: the parent's marker, already this
   * particle's head); records the end marker and returns the states.
   */
  private async drive(frame: LeanUnfold, from: number, state: unknown, forked: StepRecord | undefined): Promise<unknown[]> {
    const ctx = this.contextAt(1);
    const { name, kernel, steps } = frame;
    this.prefix = frame.prefix;
    let mark = forked;
    for (let t = from; t < steps; t++) {
      if (t !== from || forked === undefined) {
        const step: StepRecord = { address: frame.address, kind: Kind.Step, value: undefined, prev: this.head, frame, name, t, state, checkpoint: this.checkpoint, prevStep: mark };
        this.head = mark = step;
      }
      this.open = mark;
      // (the steps of `core/unfold.ts`'s `unfoldStep`, with one async frame fewer and each step's prefix made once)
      const open = mark as StepRecord;
      const saved = enterStep(this, open, (frame.prefixes[t] ??= `${frame.address}/${t}/`));
      let next: unknown;
      try {
        next = await kernel(ctx, t, state);
      } catch (err) {
        throw stepError(err, open, state);
      } finally {
        leaveStep(this, saved);
      }
      state = stepResult(open, next);
      if (this.replay !== undefined) this.giveUp(`a copy did not reach its parent\u2019s checkpoint in step ${t} of unfold "${frame.address}" (is the model a deterministic function of its choices?)`);
    }
    this.open = undefined;
    // the states: the input of each step after the first, then the last step's output
    const out = new Array<unknown>(steps);
    if (steps > 0) out[steps - 1] = state;
    for (let m = mark; m !== undefined && m.t > 0; m = m.prevStep) out[m.t - 1] = m.state;
    Object.freeze(out);
    const end: EndRecord = { address: frame.address, kind: Kind.End, value: undefined, prev: this.head, frame, states: out, checkpoint: this.checkpoint, before: frame.checkpoint };
    this.head = end;
    return out;
  }

  /**
   * A fork: this copy runs its parent's unfold on from the step marked
   * `mark`; once the unfold is done it has no execution of the model around
   * it, so the model runs again from its start, replaying the records
   * before the unfold (built once per unfold), and the unfold call hands
   * back this copy's states at once (`skipUnfold`).
   */
  private async fork(mark: StepRecord): Promise<R> {
    const frame = mark.frame;
    frame.owner.lent = true;
    await this.drive(frame, mark.t, mark.state, mark);
    return this.resume(this.head as EndRecord);
  }

  /**
   * A copy past the end of a top-level unfold (`end`, its head) with no
   * execution of the model: the model runs again from its start, replaying
   * the records before the unfold (built once per unfold), and the unfold
   * call hands back `end`'s states at once (`skipUnfold`).
   */
  private async resume(end: EndRecord): Promise<R> {
    const frame = end.frame;
    frame.owner.lent = true;
    this.resumeEnd = end;
    this.resumeCheckpoint = this.checkpoint;
    this.checkpoint = 0;
    this.replay = frame.prefixRecords ??= this.run.recordsOf(frame.before);
    this.next = 0;
    this.done = 0;
    this.prefix = '';
    // (through tycheModelBody: a model that starts an inference is seen to, `core/model-body.ts`)
    this.inBody = true;
    return tycheModelBody(this.run.model.fn, this.context(), this.run.args);
  }

  /** The effect context of this particle's execution (see `LeanContext`). */
  private context(): Ctx {
    return new LeanContext(this, 0) as unknown as Ctx;
  }
}

/** (A handler that marks a rejected promise handled.) */
function ignore(): void {}

/** The first line of an error's message, for a give-up reason. */
function describeError(err: unknown): string {
  return err instanceof Error ? err.message.split('\n')[0]! : err === STOP ? 'the lean runtime stopped it' : String(err);
}

/**
 * The marker a copy of `target`'s parent starts at without replaying: the
 * parent's first record after its checkpoint when that is the marker of the
 * step after `mark` of the same unfold, or that unfold's end marker (the rest
 * of the step recorded nothing, so the copy's would be the parent's); false
 * otherwise (a site after the checkpoint in the step, a parent that did not
 * get past the step, or none).
 */
function nextMarker(target: LeanTarget, mark: StepRecord): StepRecord | EndRecord | false {
  let r = target.parent.head;
  if (r === target.head) return false;
  while (r !== undefined && r.prev !== target.head) r = r.prev;
  if (r === undefined) return false;
  if (r.kind === Kind.Step && (r as StepRecord).frame === mark.frame && (r as StepRecord).t === mark.t + 1) return r as StepRecord;
  if (r.kind === Kind.End && (r as EndRecord).frame === mark.frame && mark.t === mark.frame.steps - 1) return r as EndRecord;
  return false;
}

/** The records after `mark` up to `head`, oldest first. */
function recordsAfter(head: LeanRecord | undefined, mark: LeanRecord): LeanRecord[] {
  const out: LeanRecord[] = [];
  for (let r = head; r !== mark; r = r.prev) {
    if (r === undefined) throw new LeanGiveUp('an unfold marker is missing from its particle\u2019s records');
    out.push(r);
  }
  return out.reverse();
}

/**
 * The effect context of one lean particle. Its effects are accessors that
 * make a function bound to the particle on first use (then kept): a model
 * destructures the two or three it uses, so a particle (and every replayed
 * copy) carries those, not all seven (a suspended copy is what a run holds
 * most of; smaller copies, less garbage-collector work). A model that
 * copies the context's own properties (`{ ...ctx }`) finds none; it fails
 * here and runs on the general runtime.
 */
class LeanContext {
  private s?: Ctx['sample'];
  private o?: Ctx['observe'];
  private f?: Ctx['factor'];
  private d?: Ctx['deterministic'];
  private sc?: Ctx['scope'];
  private u?: Ctx['unfold'];

  /**
   * @param p - the particle
   * @param level - the unfold level of this context: its effects run only while the particle is at that level
   */
  constructor(
    private readonly p: LeanParticle<unknown>,
    private readonly level: number,
  ) {}

  get sample(): Ctx['sample'] {
    const { p, level } = this;
    return (this.s ??= ((address: string, dist: Distribution, _options?: SampleOptions) => ((p.level === level && p['owns'] === undefined) || p['may'](level) ? p['latent'](address, dist) : p['wrongContext'](address, level))) as Ctx['sample']);
  }
  get observe(): Ctx['observe'] {
    const { p, level } = this;
    return (this.o ??= ((address: string, dist: Distribution, value: ValueLike, _options?: SampleOptions) => ((p.level === level && p['owns'] === undefined) || p['may'](level) ? p['observed'](address, dist, value) : p['wrongContext'](address, level))) as Ctx['observe']);
  }
  get factor(): Ctx['factor'] {
    const { p, level } = this;
    return (this.f ??= (address: string, logWeight: ValueLike) => ((p.level === level && p['owns'] === undefined) || p['may'](level) ? p['factorSite'](address, logWeight) : p['wrongContext'](address, level)));
  }
  get deterministic(): Ctx['deterministic'] {
    const { p, level } = this;
    return (this.d ??= (<V extends Value>(address: string, value: V): V => {
      if (!((p.level === level && p['owns'] === undefined) || p['may'](level))) throw wrongContextError(p, address, level);
      return p['deterministicSite'](address, value);
    }) as Ctx['deterministic']);
  }
  get scope(): Ctx['scope'] {
    const { p, level } = this;
    return (this.sc ??= <T>(prefix: string, fn: () => Promise<T> | T): Promise<T> => ((p.level === level && p['owns'] === undefined) || p['may'](level) ? p['scope'](prefix, fn) : p['wrongContext'](prefix, level)));
  }
  get unfold(): Ctx['unfold'] {
    const { p, level } = this;
    // (top level: the particle runs it, forkable; inside a step: a plain loop)
    return (this.u ??= (<S>(name: string, steps: number, init: S, kernel: UnfoldKernel<S>): Promise<S[]> =>
      !((p.level === level && p['owns'] === undefined) || p['may'](level)) ? p['wrongContext'](name, level) : level === 0 ? (p['unfoldTop'](name, steps, init, kernel as UnfoldKernel<unknown>) as Promise<S[]>) : runUnfold(p, name, steps, init, kernel)) as Ctx['unfold']);
  }
  get param(): Ctx['param'] {
    const p = this.p;
    return () => p['giveUp']('param is not supported');
  }
  get plate(): Ctx['plate'] {
    const p = this.p;
    return () => p['giveUp']('plate is not supported');
  }
  get rng(): Rng {
    return this.p.rng;
  }
}
