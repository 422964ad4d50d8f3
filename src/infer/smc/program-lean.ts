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
 * so nothing is allocated and no density is computed there. The array of a
 * parent's records in order is built once and shared by all its copies.
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
import { tycheModelBody } from '../../core/model-body.js';
import type { Ctx, Model } from '../../core/model.js';
import type { SampleOptions } from '../../core/message.js';
import { rejectsPoint } from '../../core/errors.js';
import type { Rng } from '../../core/rng.js';
import type { Value, ValueLike } from '../../core/value.js';
import { Distribution } from '../../distributions/distribution.js';
import type { Pacer } from '../pace.js';
import { ConcurrentCheckpointsError, KILLED, SuspendableRun } from './suspendable.js';

/** Thrown (rejected) when the lean runtime cannot run the model; the caller uses the general runtime. */
export class LeanGiveUp extends Error {
  constructor(readonly why: string) {
    super(`lean program-SMC runtime cannot run this model: ${why}`);
    this.name = 'LeanGiveUp';
  }
}

/** Thrown into the model to stop an execution the lean runtime gave up on. */
const STOP: unique symbol = Symbol('lean particle stop');

/** The kinds of recorded site: latent, checkpoint (an observation or a factor), deterministic. */
const Kind = { Latent: 0, Checkpoint: 1, Deterministic: 2 } as const;
/** The kind of a recorded site (see `Kind`). */
export type LeanSiteKind = (typeof Kind)[keyof typeof Kind];

/** One recorded site, in a persistent list (newest first) shared by a particle and its copies. */
export interface LeanRecord {
  readonly address: string;
  readonly kind: LeanSiteKind;
  /** The value of a latent or deterministic site; at a checkpoint, the observed value (a number) or undefined (a factor). */
  readonly value: Value | undefined;
  readonly prev: LeanRecord | undefined;
  /** The value as a resolved promise, made on the first replay (shared by every later one). */
  resolved?: Promise<Value | undefined>;
}

/** What a copy replays: its parent's records up to the parent's checkpoint. */
interface LeanTarget {
  readonly head: LeanRecord | undefined;
  readonly checkpoint: number;
  /** The records oldest first, built by the first copy that replays them and shared with the others. */
  records?: LeanRecord[];
}

/** Whether the lean runtime can try this model at all (no handlers of its own). */
export function leanHandles(m: { readonly handlers: readonly unknown[] }): boolean {
  return m.handlers.length === 0;
}

/** One particle on the lean runtime: a (possibly suspended) execution of the model, or a pending copy. */
export class LeanParticle<R> extends SuspendableRun {
  /** Sites recorded so far. */
  head: LeanRecord | undefined = undefined;
  /** Observations (checkpoints) passed so far. */
  checkpoint = 0;
  /** Log weight gathered since the last read. */
  increment = 0;
  returnValue?: R;
  /** Set when an invalid parameter stopped the execution (weight zero). */
  rejected = false;
  /** Replay target: copy another particle's records up to its checkpoint. */
  replayOf?: LeanTarget;
  /** The records being replayed and the next one expected (set when the replay starts). */
  private replay: LeanRecord[] | undefined;
  private next = 0;
  private prefix = '';
  private sites = 0;
  private gaveUp: LeanGiveUp | undefined;

  /**
   * @param rng - this particle's random stream
   * @param pace - paces long executions (and carries the abort signal)
   * @param wire - when set, a tensor made anywhere stops the execution at its next site
   */
  constructor(
    readonly rng: Rng,
    private readonly pace: Pacer,
    private readonly wire?: { readonly tripped: boolean },
  ) {
    super();
  }

  /** Run (or resume) until the next checkpoint or the end; rejects with {@link LeanGiveUp} when the lean runtime cannot run the model. */
  advance(model: Model<unknown[], R>, args: unknown[]): Promise<void> {
    return this.resume(() => {
      const target = this.replayOf;
      if (target !== undefined) {
        target.records ??= recordsOf(target.head);
        this.replay = target.records;
        this.next = 0;
      }
      // (through tycheModelBody: a model that starts an inference is seen to, `core/model-body.ts`)
      const run = tycheModelBody(model.fn, this.context(), args);
      return run.then(
        (value) => {
          if (this.gaveUp) throw this.gaveUp;
          if (this.replay !== undefined) throw new LeanGiveUp('a copy ended before reaching its parent\u2019s checkpoint (is the model a deterministic function of its choices?)');
          this.returnValue = value;
        },
        (err) => {
          if (err === KILLED) throw err;
          if (this.gaveUp) throw this.gaveUp;
          // an invalid distribution parameter: this particle has weight zero (the one rule of every engine)
          if (err !== STOP && rejectsPoint(err)) {
            this.rejected = true;
            this.increment = -Infinity;
            return;
          }
          // the model's own error (or an abort): the general runtime reports it as before
          if (this.pace.signal?.aborted || err instanceof ConcurrentCheckpointsError) throw err;
          throw new LeanGiveUp(`the model threw (${err instanceof Error ? err.message.split('\n')[0] : String(err)})`);
        },
      );
    });
  }

  /** A copy at the same point: finished particles are copied, live ones replayed (sharing the recorded list). */
  copy(rng: Rng): LeanParticle<R> {
    const c = new LeanParticle<R>(rng, this.pace, this.wire);
    if (this.status === 'done') {
      c.status = 'done';
      c.returnValue = this.returnValue;
      c.rejected = this.rejected;
      c.head = this.head;
      c.checkpoint = this.checkpoint;
    } else {
      c.replayOf = this.replayOf ?? { head: this.head, checkpoint: this.checkpoint };
    }
    return c;
  }

  /**
   * The values of the latent and deterministic sites of a finished
   * particle, by address; a duplicate address gives up (the general runtime
   * names it).
   */
  values(): Record<string, Value> {
    const out: Record<string, Value> = {};
    if (this.rejected) return out;
    const seen = new Set<string>();
    for (const r of recordsOf(this.head)) {
      if (seen.has(r.address)) throw new LeanGiveUp(`address "${r.address}" is used twice`);
      seen.add(r.address);
      if (r.kind !== Kind.Checkpoint) out[r.address] = r.value as Value;
    }
    return out;
  }

  private giveUp(why: string): never {
    this.gaveUp ??= new LeanGiveUp(why);
    throw STOP;
  }

  /** The record expected at this site of a replay (it must retrace the parent), taken as this execution's own. */
  private replayed(full: string, kind: LeanSiteKind): LeanRecord {
    const replay = this.replay as LeanRecord[];
    const rec = replay[this.next];
    if (rec === undefined || rec.address !== full || rec.kind !== kind) {
      this.giveUp(`a copy did not retrace its parent at "${full}" (is the model a deterministic function of its choices?)`);
    }
    this.next++;
    this.head = rec;
    return rec;
  }

  /** Counts a site; every 32 sites, yields to the event loop when due (a long execution stays abortable). */
  private paced<V>(value: V, resolved: Promise<V> | undefined): Promise<V> {
    if ((++this.sites & 31) === 0 && this.pace.due()) return this.pace.pause().then(() => value);
    return resolved ?? Promise.resolve(value);
  }

  private fullAddress(address: string): string {
    if (this.gaveUp) throw STOP;
    if (this.wire?.tripped) this.giveUp('the model makes tensors');
    if (typeof address !== 'string' || address.length === 0) this.giveUp('an address is not a non-empty string');
    return this.prefix === '' ? address : this.prefix + address;
  }

  private latent(address: string, dist: Distribution): Promise<Value> {
    try {
      const full = this.fullAddress(address);
      if (this.replay !== undefined) {
        const rec = this.replayed(full, Kind.Latent);
        return this.paced(rec.value as Value, (rec.resolved ??= Promise.resolve(rec.value)) as Promise<Value>);
      }
      if (!(dist instanceof Distribution)) this.giveUp(`"${full}" has no distribution`);
      if ((dist as { improper?: boolean }).improper === true) this.giveUp(`"${full}" has an improper prior`);
      const v = dist.sample(this.rng);
      if (typeof v !== 'number') {
        v.dispose();
        this.giveUp(`"${full}" draws a tensor`);
      }
      this.head = { address: full, kind: Kind.Latent, value: v, prev: this.head };
      return this.paced(v, undefined);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** A replayed checkpoint: counted; the copy suspends there when it has caught up with its parent. */
  private replayedCheckpoint<V extends Value | undefined>(full: string, value: V): Promise<V> {
    const rec = this.replayed(full, Kind.Checkpoint);
    this.checkpoint += 1;
    const target = this.replayOf as LeanTarget;
    if (this.checkpoint < target.checkpoint) return this.paced(value, rec.value === value ? ((rec.resolved ??= Promise.resolve(value)) as Promise<V>) : undefined);
    // caught up with the parent: from here on this copy draws its own values
    this.replay = undefined;
    this.replayOf = undefined;
    this.increment = 0;
    return this.suspend(full).then(() => value);
  }

  /** A fresh checkpoint of log density `lp`: recorded, added to the increment; the execution suspends. */
  private freshCheckpoint<V extends Value | undefined>(full: string, value: V, lp: number): Promise<V> {
    if (Number.isNaN(lp)) this.giveUp(`the log density at "${full}" is NaN`);
    this.head = { address: full, kind: Kind.Checkpoint, value, prev: this.head };
    this.increment += lp;
    this.checkpoint += 1;
    return this.suspend(full).then(() => value);
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
      return Promise.reject(err);
    }
  }

  private factorSite(address: string, logWeight: ValueLike): Promise<void> {
    try {
      const full = this.fullAddress(address);
      if (typeof logWeight !== 'number') this.giveUp(`"${full}" factors a tensor or a boolean`);
      if (this.replay !== undefined) return this.replayedCheckpoint(full, undefined);
      return this.freshCheckpoint(full, undefined, logWeight);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  private deterministicSite<V extends Value>(address: string, value: V): V {
    const full = this.fullAddress(address);
    if (this.replay !== undefined) this.replayed(full, Kind.Deterministic);
    else this.head = { address: full, kind: Kind.Deterministic, value, prev: this.head };
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

  /** The effect context of this particle's execution. */
  private context(): Ctx {
    const self = this;
    return {
      sample(address: string, dist: Distribution, _options?: SampleOptions) {
        return self.latent(address, dist) as never;
      },
      observe(address: string, dist: Distribution, value: ValueLike, _options?: SampleOptions) {
        return self.observed(address, dist, value) as never;
      },
      factor(address: string, logWeight: ValueLike) {
        return self.factorSite(address, logWeight);
      },
      deterministic<V extends Value>(address: string, value: V): V {
        return self.deterministicSite(address, value);
      },
      param() {
        return self.giveUp('param is not supported');
      },
      plate() {
        return self.giveUp('plate is not supported');
      },
      scope<T>(prefix: string, fn: () => Promise<T> | T): Promise<T> {
        return self.scope(prefix, fn);
      },
      rng: this.rng,
    };
  }
}

/** The records of a list, oldest first. */
function recordsOf(head: LeanRecord | undefined): LeanRecord[] {
  const out: LeanRecord[] = [];
  for (let r = head; r !== undefined; r = r.prev) out.push(r);
  return out.reverse();
}
