/**
 * SMC over async programs: `infer(model, { method: 'smc', particles })`.
 *
 * Batched first. Unless `batched: false` (or rejuvenation) is asked for, the
 * run is first tried as one batched execution for all particles
 * (`program-batched.ts`: a leading particle axis, resampling by lazy in-place
 * gathers, no replay). A program whose control flow depends on random values
 * fails that attempt (or its per-particle check) and runs per particle as
 * below; `diagnostics.execution` and `diagnostics.notBatched` say which ran
 * and why.
 *
 * Per particle, each particle is a live execution of the model. It runs until its next
 * observation (an observed `sample` or a `factor`: a checkpoint), adds that
 * site's log density to its incremental weight and suspends. When every
 * particle has reached its next checkpoint (or finished), the particle core
 * ({@link runSMC}) reweights and, when the ESS is low, resamples.
 *
 * Forking. An async function cannot be copied, so a particle chosen k > 1
 * times by resampling keeps its live execution for the first copy and the
 * other k - 1 copies are made by replay: a new execution of the model that
 * takes the parent's recorded values and log densities at every site (a
 * persistent list shared by the copies, so no density is recomputed) and
 * runs without suspending until it reaches the parent's checkpoint; from
 * there the copy
 * continues with its own random stream. A particle chosen 0 times is
 * unwound (its pending checkpoint throws an internal signal). Replaying costs
 * O(t) site visits for a copy made at checkpoint t, so the total cost is
 * O(N T) executions' worth of work in the worst case (every particle
 * replayed at every step) and close to O(N T) site visits when weights are
 * even (most particles have one offspring). `bench/smc-program.ts` measures it.
 *
 * Rejuvenation (`rejuvenate: { steps }`, resample-move). After each
 * resampling every particle is moved by single-site MH over its partial
 * trace: the model is re-executed from the particle's choices and stopped
 * right after the current checkpoint ({@link checkpointExecutor}), and the
 * acceptance ratio uses that partial log joint, so the moves leave the
 * current SMC target invariant. The moved state becomes a replay copy (the
 * old execution is unwound), which restores the diversity that resampling
 * removes from static parameters.
 *
 * Requirements on the model: all randomness goes through `sample` (so that a
 * replay reproduces the prefix), and the execution between checkpoints is
 * deterministic given the choices. Particles may take different paths and
 * see different numbers of checkpoints; a finished particle keeps its weight
 * and can be copied.
 *
 * @module
 */
import { rejectsPoint } from '../../core/errors.js';
import type { Handler, Message } from '../../core/message.js';
import { type Model, execute, executeMarked } from '../../core/model.js';
import { substitute } from '../../core/handlers.js';
import { type Rng, rngFrom } from '../../core/rng.js';
import { Trace, priorDrawCorrection, siteLogDensity } from '../../core/trace.js';
import { type Value, isTensor, toNumber } from '../../core/value.js';
import { type Draw, Posterior } from '../posterior.js';
import { PacingHandler, Pacer, mapPaced } from '../pace.js';
import { ledgersRecord, withLedger } from '../../backend/ledger.js';
import { type TensorTripwire, setTensorTripwire } from '../../backend/tensor-tripwire.js';
import type { Tensor } from '@tensorflow/tfjs-core';
import { nextTensorId, reachableTensors } from '../mcmc/state-tensors.js';
import { type CommonOptions, registerEngine } from '../registry.js';
import { type FeynmanKac, type SMCOptions, type SMCResult, type StepInfo, runSMCInsideCall } from './core.js';
import { type NotBatched, runBatchedProgram } from './program-batched-run.js';
import type { ResamplingScheme } from './resampling.js';
import type { ParticleStore } from './store.js';
import { type SiteProposal, mhStepWith } from '../mcmc/trace-mh.js';
import { type PartialTraceState, checkpointExecutor } from './checkpoint.js';
import { KILLED, SuspendableRun } from './suspendable.js';
import { LeanGiveUp, LeanParticle, LeanRun, leanHandles } from './program-lean.js';
import { retention } from './retention.js';
import { GroupGiveUp, GroupedPopulation } from './unfold-group.js';
import { attachAncestry, finalAncestry } from './genealogy.js';

/** Options of `infer(model, { method: 'smc', ... })`. */
export interface SMCProgramOptions extends CommonOptions {
  readonly method: 'smc';
  /** Number of particles (default 1000). */
  readonly particles?: number;
  /** Resampling scheme (default `'systematic'`). */
  readonly resampling?: ResamplingScheme;
  /** Resample when ESS < essThreshold * particles (default 0.5; 1 = always). */
  readonly essThreshold?: number;
  /** Called after each checkpoint step with the population's ESS and log Z. */
  readonly onStep?: (info: { step: number; ess: number; logZ: number; resampled: boolean }) => void | Promise<void>;
  /** Stops the run (the promise rejects with the signal's reason). */
  readonly signal?: AbortSignal;
  /**
   * Resample-move: after each resampling, move every particle by `steps`
   * single-site MH steps targeting the partial posterior at the current
   * checkpoint (prior × likelihood of the observations seen so far), with
   * optional per-address `proposals` (default: from the site's prior). Costs
   * `steps + 1` executions up to the checkpoint per particle and resampling.
   */
  readonly rejuvenate?: { readonly steps: number; readonly proposals?: Readonly<Record<string, SiteProposal>> };
  /**
   * Run all particles as one batched execution (a leading particle axis,
   * resampling by a gather; see `program-batched.ts`): `'auto'` (default)
   * tries it and falls back to per-particle execution when the program
   * cannot run batched (control flow on random values, plates, ...), `true`
   * requires it (the reason is thrown), `false` runs per particle.
   * `diagnostics.execution` says which ran and `diagnostics.notBatched` why
   * not batched.
   */
  readonly batched?: boolean | 'auto';
  /**
   * Per-particle execution: run the particles on the lean runtime
   * (`program-lean.ts`: replayed sites hand back their parent's recorded
   * values, nothing scored or recorded there; default true), falling back
   * to the general effect runtime when the lean one cannot run the model;
   * false uses the general runtime. Both are exact SMC over the same
   * program. `diagnostics.runtime` says which ran and `diagnostics.notLean`
   * why not lean.
   */
  readonly lean?: boolean;
  /**
   * Per-particle execution of a model written with one `unfold`: run each
   * step's kernel once per group of particles that take the same branch
   * (`unfold-group.ts`: states and continuous draws a tensor with one row a
   * particle, a discrete site splitting the group by value; default true).
   * Exact SMC of the same target, proposal, weights and resampling rule as
   * the per-particle runtimes, on other streams of draws. Where it does not
   * apply (see the module) the lean runtime runs; a grouped run that gives
   * up after some steps starts again per particle, so `onStep` then sees
   * those steps twice. `diagnostics.runtime` is `'grouped'` when it ran, and
   * `diagnostics.notGrouped` says why not.
   */
  readonly grouped?: boolean;
}

/**
 * One recorded site of a particle, in a persistent list (newest first):
 * copies made by resampling share their parent's list, so a copy costs
 * nothing until it replays, and a replay takes both the value and the log
 * density from the record (no fresh density computation at replayed sites).
 */
interface Recorded {
  readonly address: string;
  /** The value of a latent site (undefined at observations and factors). */
  readonly value: Value | undefined;
  /** The site's log density when it is a number (tensor densities are recomputed: they are freed with their execution). */
  readonly logProb: number | undefined;
  readonly prev: Recorded | undefined;
}

/** The records of a list, oldest first. */
function recordsOf(head: Recorded | undefined): Recorded[] {
  const out: Recorded[] = [];
  for (let r = head; r !== undefined; r = r.prev) out.push(r);
  return out.reverse();
}

/** A replay target: the records to replay, up to the parent's checkpoint. */
interface ReplayTarget {
  readonly head: Recorded | undefined;
  readonly checkpoint: number;
}

/** One particle: a (possibly suspended) execution of the model, or a pending copy of one. */
class ProgramParticle<R> extends SuspendableRun {
  /** Sites recorded so far (what a replay needs). */
  head: Recorded | undefined = undefined;
  /** Observations passed so far. */
  checkpoint = 0;
  /** Log weight gathered since the last read. */
  increment = 0;
  trace?: Trace;
  returnValue?: R;
  /** Replay target: copy the records of another particle up to its checkpoint. */
  replayOf?: ReplayTarget;
  /** The replay target's records in order, and the next one expected (set when the replay starts). */
  private replaying?: { records: Recorded[]; next: number; byAddress?: Map<string, Recorded> };
  /** The replayed record that this site may share instead of recording a new one. */
  private shared?: Recorded;

  constructor(readonly rng: Rng) {
    super();
  }

  /** The record of `address` in the replay target (in order, else by address). */
  private replayed(address: string): Recorded | undefined {
    const r = this.replaying;
    if (r === undefined) return undefined;
    const rec = r.records[r.next];
    if (rec !== undefined && rec.address === address) {
      r.next++;
      return rec;
    }
    r.byAddress ??= new Map(r.records.map((x) => [x.address, x]));
    return r.byAddress.get(address);
  }

  /** The handler that records sites, replays a prefix and suspends at checkpoints. */
  handler(): Handler {
    return {
      process: (msg: Message) => {
        if (this.replaying === undefined || (msg.type !== 'sample' && msg.type !== 'factor')) return;
        const rec = this.replayed(msg.address);
        if (rec === undefined) return;
        // replayed in order on top of the same prefix: the record can be shared as it is
        if (rec.prev === this.head) this.shared = rec;
        if (msg.type === 'sample' && !msg.observed && msg.value === undefined) msg.value = rec.value;
        if (msg.logProb === undefined && rec.logProb !== undefined) msg.logProb = rec.logProb;
      },
      postprocess: (msg: Message) => {
        if (msg.type !== 'sample' && msg.type !== 'factor') return;
        const latent = msg.type === 'sample' && !msg.observed;
        const shared = this.shared;
        this.shared = undefined;
        if (shared !== undefined && shared.address === msg.address && shared.value === (latent ? msg.value : undefined) && shared.logProb === msg.logProb) this.head = shared;
        else this.head = { address: msg.address, value: latent ? (msg.value as Value) : undefined, logProb: typeof msg.logProb === 'number' ? msg.logProb : undefined, prev: this.head };
        if (latent) {
          // drawn from its prior: a scale or mask handler on it changes the weight (as MCMC and VI see it)
          if (msg.scale !== 1 || msg.mask !== true) {
            const c = priorDrawCorrection(msg as Required<Message>);
            this.increment += typeof c === 'number' ? c : toNumber(c);
            if (isTensor(c)) c.dispose();
          }
          return this.freeLogProb(msg);
        }
        const lp = siteLogDensity(msg as Required<Message>);
        this.increment += typeof lp === 'number' ? lp : toNumber(lp);
        if (isTensor(lp) && lp !== msg.logProb) lp.dispose();
        this.freeLogProb(msg);
        this.checkpoint += 1;
        if (this.replayOf && this.checkpoint < this.replayOf.checkpoint) return;
        if (this.replayOf) {
          // caught up with the parent: from here on this copy draws its own values
          this.replayOf = undefined;
          this.replaying = undefined;
          this.increment = 0;
        }
        return this.suspend(msg.address);
      },
    };
  }

  /** Run (or resume) until the next checkpoint or the end. */
  advance(model: Model<unknown[], R>, args: unknown[]): Promise<void> {
    return this.resume(() => {
      if (this.replayOf) this.replaying = { records: recordsOf(this.replayOf.head), next: 0 };
      return executeMarked(model, { rng: this.rng, handlers: [this.handler()] }, this.mark, ...args).then(
        ({ trace, returnValue }) => {
          this.trace = trace;
          this.returnValue = returnValue;
        },
        (err) => {
          if (err === KILLED || !rejectsPoint(err)) throw err;
          // an invalid distribution parameter: this particle has weight zero (the one rule of every engine)
          this.trace = new Trace();
          this.increment = -Infinity;
        },
      );
    });
  }

  /**
   * Free a sample site's log-density tensor once it is read (recorded, or
   * added to the weight): a particle holds no tensor per observation. A
   * factor's is the model's own value, and a density that is the value
   * itself stays with the value.
   */
  private freeLogProb(msg: Message): void {
    if (msg.type === 'sample' && isTensor(msg.logProb) && msg.logProb !== msg.value && !retention.keepSiteDensities) msg.logProb.dispose();
  }

  /** The values of the latent and deterministic sites of a finished particle, by address. */
  values(): Record<string, Value> {
    return (this.trace as Trace).values();
  }

  /** The latent values that define this particle's state (its own, or those it will replay). */
  currentChoices(): Map<string, Value> {
    const out = new Map<string, Value>();
    for (const r of recordsOf(this.replayOf?.head ?? this.head)) if (r.value !== undefined) out.set(r.address, r.value);
    return out;
  }

  /**
   * A particle in the state of a (partial) execution, e.g. one moved by MCMC:
   * a finished run becomes a finished particle; a run stopped at checkpoint
   * `checkpoint` becomes a pending copy that replays its choices up to there.
   */
  static fromExecution<R>(s: PartialTraceState<R>, checkpoint: number, rng: Rng): ProgramParticle<R> {
    const p = new ProgramParticle<R>(rng);
    let head: Recorded | undefined;
    for (const site of s.trace) {
      if (site.type !== 'sample' && site.type !== 'factor') continue;
      const latent = site.type === 'sample' && !site.observed;
      head = { address: site.address, value: latent ? site.value : undefined, logProb: typeof site.logProb === 'number' ? site.logProb : undefined, prev: head };
    }
    s.trace.disposeLogProbs();
    if (s.complete) {
      p.status = 'done';
      p.trace = s.trace;
      p.returnValue = s.returnValue as R;
      p.head = head;
      p.checkpoint = s.checkpoints;
    } else {
      p.replayOf = { head, checkpoint };
    }
    return p;
  }

  /** A copy at the same point: finished particles are copied, live ones replayed (sharing the recorded list). */
  copy(rng: Rng): ProgramParticle<R> {
    const c = new ProgramParticle<R>(rng);
    if (this.status === 'done') {
      c.status = 'done';
      c.trace = this.trace;
      c.returnValue = this.returnValue;
      c.head = this.head;
      c.checkpoint = this.checkpoint;
    } else {
      c.replayOf = this.replayOf ?? { head: this.head, checkpoint: this.checkpoint };
    }
    return c;
  }
}

/** What the per-particle driver needs of a particle (general runtime: `ProgramParticle`; lean: {@link LeanParticle}). */
interface PerParticle {
  /** Set on a pending copy: it replays its parent's records up to the parent's checkpoint. */
  readonly replayOf?: { readonly checkpoint: number };
  readonly status: 'new' | 'suspended' | 'done';
  checkpoint: number;
  increment: number;
  readonly returnValue?: unknown;
  copy(rng: Rng): PerParticle;
  kill(): void;
  values(): Record<string, Value>;
  /** Where present, throws now what `values()` would throw, and a draw makes its values when first read (lean: `LeanParticle.checkValues`). */
  checkValues?(): void;
}

/**
 * A final particle as a draw. Where the particle can say now whether its
 * values can be read (`checkValues`), they are made when first read: a
 * run whose caller reads only log Z or the return values does not build a
 * record of every site per particle (WebPPL's SMC keeps no such record).
 */
function drawOf<R>(p: PerParticle, logWeight: number): Draw<R> {
  const returnValue = p.returnValue as R;
  if (p.checkValues === undefined) return { values: p.values(), returnValue, logWeight };
  p.checkValues();
  let values: Record<string, Value> | undefined;
  return {
    get values() {
      return (values ??= p.values());
    },
    returnValue,
    logWeight,
  };
}

/** How a runtime moves its particles: every unfinished one to its next checkpoint (pending copies after replaying their parent's prefix). */
type AdvanceAll<P> = (state: P[]) => Promise<void>;

/** The general runtime's step: copies first catch up with their parents, then everyone moves on (each execution paced). */
function advanceGeneral<R>(model: Model<unknown[], R>, args: unknown[], pace: Pacer): AdvanceAll<ProgramParticle<R>> {
  return async (state) => {
    const pending = state.filter((p) => p.replayOf !== undefined);
    await mapPaced(pending, (p) => p.advance(model, args), pace);
    for (const p of pending) p.increment = 0;
    await mapPaced(state, (p) => p.advance(model, args), pace);
  };
}

/** The particle store for program particles: extra offspring are replayed copies, dropped ones unwound. */
function programStore<P extends PerParticle>(rng: Rng): ParticleStore<P[]> {
  return {
    kind: 'program',
    select(state, ancestors) {
      const used = new Uint8Array(state.length);
      const out = Array.from(ancestors, (a) => {
        if (used[a]) return state[a].copy(rng.split()) as P;
        used[a] = 1;
        return state[a];
      });
      state.forEach((p, i) => {
        if (!used[i]) p.kill();
      });
      return out;
    },
    release() {},
    dispose(state) {
      for (const p of state) p.kill();
    },
  };
}

/** Acceptance bookkeeping of rejuvenation moves. */
interface MoveStats {
  accepted: number;
  proposed: number;
  /** Acceptance rate of each rejuvenation round. */
  readonly rates: number[];
}

/**
 * Resample-move for program particles: each particle (at checkpoint `t`) is
 * re-executed up to checkpoint `t` from its choices, moved by `steps`
 * single-site MH steps on that partial trace, and replaced by a particle in
 * the new state (a pending replay copy, or a finished run); its old live
 * execution is unwound.
 */
async function rejuvenateParticles<R>(
  model: Model<unknown[], R>,
  args: unknown[],
  state: ProgramParticle<R>[],
  t: number,
  rng: Rng,
  options: NonNullable<SMCProgramOptions['rejuvenate']>,
  stats: MoveStats,
  pace: Pacer,
): Promise<ProgramParticle<R>[]> {
  const run = checkpointExecutor(model, args, t);
  const before = { accepted: stats.accepted, proposed: stats.proposed };
  const out: ProgramParticle<R>[] = [];
  for (const p of state) {
    if (pace.due()) await pace.pause();
    const choices = p.currentChoices();
    let s = await run((a) => choices.get(a), rng.split());
    for (let j = 0; j < options.steps; j++) {
      const step = await mhStepWith(run, s, rng, { proposals: options.proposals });
      s = step.state;
      stats.proposed++;
      if (step.accepted) stats.accepted++;
    }
    p.kill();
    out.push(ProgramParticle.fromExecution(s, t, rng.split()));
  }
  const proposed = stats.proposed - before.proposed;
  stats.rates.push(proposed ? (stats.accepted - before.accepted) / proposed : NaN);
  return out;
}

/** SMC over the checkpoints (observations) of an async model. */
export async function smcProgram<A extends unknown[], R>(m: Model<A, R>, options: Omit<SMCProgramOptions, 'method'>, args: A): Promise<Posterior<A, R>> {
  const tensorsSince = nextTensorId();
  // the run's tensors are freed when it ends (also when it fails or is aborted): values of dropped
  // particles and the model's intermediates; the final draws' tensors are kept (a ledger, not an
  // engine scope, so that models may run inference themselves)
  const keep = (r: Posterior<A, R> | string): Iterable<Tensor> => (r instanceof Posterior ? reachableTensors(r.draws) : []);
  const first = await withLedger(() => smcProgramRun(m, options, args, tensorsSince), keep);
  if (first instanceof Posterior) return first;
  const how = { kind: 'per-particle', notBatched: first } as const;
  let notLean = leanRefusal(m, options);
  let notGrouped: string | undefined = notLean ?? (options.grouped === false ? 'grouped: false' : undefined);
  if (notGrouped === undefined) {
    const tried = await withLedger(() => groupedRun(m, options, args, tensorsSince, how), () => []);
    if (typeof tried !== 'string') {
      const bad = await withLedger(() => forksRetrace(m, args, tried.post, tried.densityCheck), () => []);
      if (bad === undefined) return tried.post;
      tried.post.dispose();
      notGrouped = bad;
    } else notGrouped = tried;
  }
  if (notLean === undefined) {
    // the lean runtime makes no tensors of its own: where one particle run (under a ledger) shows that
    // the model makes none either, the run goes without a ledger (a ledger's AsyncLocalStorage turns
    // on Node's promise hooks: ~2x the cost of each of the model's awaits), behind a tripwire; a
    // tensor made anyway (a rare branch, or other tfjs work beside the run) trips it, and the run
    // starts again under a ledger
    let tried: Posterior<A, R> | string | undefined = await withLedger(() => leanProbe(m, options, args), () => []);
    if (tried === undefined) {
      const wire = setTensorTripwire();
      try {
        tried = await leanRun(m, options, args, tensorsSince, { ...how, notGrouped }, wire);
      } finally {
        wire.clear();
      }
    }
    if (tried === TRIPPED) tried = await withLedger(() => leanRun(m, options, args, tensorsSince, { ...how, notGrouped }), keep);
    if (tried instanceof Posterior && (tried.diagnostics.forks as number) > 0) {
      const post = tried;
      const bad = await withLedger(() => forksRetrace(m, args, post), () => []);
      if (bad !== undefined) {
        post.dispose();
        tried = bad;
      }
    }
    if (tried instanceof Posterior) return tried;
    notLean = tried ?? TRIPPED;
  }
  const why = notLean;
  return withLedger(() => smcGeneralRun(m, options, args, tensorsSince, { ...how, notLean: why, notGrouped }), keep);
}

/**
 * After a lean run whose copies forked inside `unfold` steps: a few final
 * particles run again from their start on the general runtime with their
 * choices, and must end the same (return value, deterministic sites, no
 * choice of their own). A kernel that changes something outside its state
 * (a variable of the model's closure, e.g. an array it pushes to) gives a
 * fork, which runs its parent's kernel and skips the steps before it,
 * another result: then why, and the general runtime runs instead.
 *
 * After a grouped run (`densityCheck` given) each site's log density along
 * the checked particles' paths must also be the general runtime's: a kernel
 * that branched on a grouped value's type (`Number.isFinite(x)`, `typeof x`,
 * `x === 0`: a tensor in the group, a number on a particle's run) drew from
 * or weighed by another distribution than the model says, with the same
 * choices and return value.
 */
async function forksRetrace<A extends unknown[], R>(m: Model<A, R>, args: A, post: Posterior<A, R>, densityCheck?: (draw: number, trace: Trace) => string | undefined): Promise<string | undefined> {
  const draws = post.draws;
  const picks = [...new Set([0, draws.length >> 1, draws.length - 1])].filter((i) => i >= 0 && i < draws.length);
  for (const i of picks) {
    const d = draws[i]!;
    const { returnValue, trace } = await execute(substitute(m, d.values), { rng: rngFrom('unfold/retrace') }, ...args);
    let same = sameValue(returnValue, d.returnValue);
    for (const site of trace) {
      if (!same) break;
      if (site.type === 'deterministic' || (site.type === 'sample' && !site.observed)) same = site.address in d.values && sameValue(site.value, d.values[site.address]);
    }
    const densityWhy = same && densityCheck !== undefined ? densityCheck(i, trace) : undefined;
    trace.disposeLogProbs();
    if (densityWhy !== undefined) return densityWhy;
    if (!same) {
      if (densityCheck !== undefined) {
        return 'a particle of the grouped run ended otherwise than a run of the model on its choices: does the kernel branch on a grouped value (a tensor in the group, e.g. Number.isFinite(x), typeof x, x === 0) or change something outside its state?';
      }
      return 'a copy forked inside an unfold step ended otherwise than a run of the model on its choices: does the kernel change something outside its state (e.g. push to an array of the model\u2019s)? A kernel\u2019s result must come from its state and its sites';
    }
  }
  return undefined;
}

/** Structural equality of plain values (numbers by `Object.is`, arrays and plain objects by their entries). */
function sameValue(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null || isTensor(a) || isTensor(b)) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (const k of ka) if (!sameValue((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  return true;
}

/** Why a lean attempt ended without a posterior when the tripwire caught a tensor. */
const TRIPPED = 'the model makes tensors';

/**
 * One particle of the lean runtime run to its end on a stream of its own:
 * undefined when it made no tensor, {@link TRIPPED} when it did, or why the
 * lean runtime gave up (the caller holds a ledger).
 */
async function leanProbe<A extends unknown[]>(m: Model<A, unknown>, options: Omit<SMCProgramOptions, 'method'>, args: A): Promise<string | undefined> {
  const wire = setTensorTripwire();
  const pace = new Pacer(options.signal);
  let p: LeanParticle<unknown> | undefined;
  try {
    const run = new LeanRun<unknown>(m as unknown as Model<unknown[], unknown>, args, pace, wire);
    p = new LeanParticle<unknown>(rngFrom(`${options.seed ?? 0}/lean-probe`), run);
    // (paced between checkpoints too: a long program's probe must yield for a timer's abort to land)
    while (p.status !== 'done' && !p.rejected) {
      await run.advanceAll([p]);
      await pace.tick();
    }
    return wire.tripped ? TRIPPED : undefined;
  } catch (err) {
    // (a probe that failed while suspended, e.g. at a second checkpoint beside the first: its execution is abandoned)
    p?.kill();
    if (wire.tripped) return TRIPPED;
    if (err instanceof LeanGiveUp) return err.why;
    throw err;
  } finally {
    wire.clear();
  }
}

/** Why the lean runtime is not even tried, or undefined. */
function leanRefusal(m: { readonly handlers: readonly unknown[] }, options: Omit<SMCProgramOptions, 'method'>): string | undefined {
  if (options.rejuvenate && options.rejuvenate.steps > 0) return 'rejuvenation moves run on the general runtime';
  if (options.lean === false) return 'lean: false';
  if (!leanHandles(m)) return 'the model has handlers of its own';
  return undefined;
}

/** How a run went: batched, or per particle and why not batched. */
type Execution = { readonly kind: 'batched' } | { readonly kind: 'per-particle'; readonly notBatched: string };

/** Checks the options and tries the batched execution: its posterior, or why the program runs per particle. */
async function smcProgramRun<A extends unknown[], R>(m: Model<A, R>, options: Omit<SMCProgramOptions, 'method'>, args: A, tensorsSince: number): Promise<Posterior<A, R> | string> {
  const n = options.particles ?? 1000;
  if (!Number.isInteger(n) || n <= 0) throw new RangeError(`smc: particles must be a positive integer, got ${n}`);
  const moves = options.rejuvenate;
  if (moves !== undefined && !(Number.isInteger(moves.steps) && moves.steps >= 0)) {
    throw new RangeError(`smc: rejuvenate.steps must be a non-negative integer, got ${moves.steps}`);
  }
  const mode = options.batched ?? 'auto';
  if (mode !== 'auto' && typeof mode !== 'boolean') throw new RangeError(`smc: batched must be true, false or 'auto', got ${String(mode)}`);
  if (options.grouped !== undefined && typeof options.grouped !== 'boolean') throw new RangeError(`smc: grouped must be true or false, got ${String(options.grouped)}`);
  let notBatched: string;
  if (mode === false) notBatched = 'batched: false';
  else if (moves && moves.steps > 0) {
    if (mode === true) throw new RangeError('smc: rejuvenate runs per particle; it cannot be combined with batched: true');
    notBatched = 'rejuvenation moves run per particle';
  }
  else {
    const tried = await smcBatchedRun(m, options, args, n, tensorsSince);
    if (tried instanceof Posterior) return tried;
    if (mode === true || options.signal?.aborted) throw tried.error;
    notBatched = tried.reason;
  }
  return notBatched;
}

/** The batched attempt (`program-batched-run.ts`): a posterior, or why the program cannot run batched (with the error to throw when batching was required). */
async function smcBatchedRun<A extends unknown[], R>(m: Model<A, R>, options: Omit<SMCProgramOptions, 'method'>, args: A, n: number, tensorsSince: number): Promise<Posterior<A, R> | NotBatched> {
  const run = await runBatchedProgram(m, args, { engine: 'smc', particles: n, seed: options.seed, signal: options.signal, smc: (rng) => smcSettings(options, n, rng), weights: 'final' });
  if (!('result' in run)) return run;
  return programPosterior(m, args, run.result, run.draws, tensorsSince, { execution: 'batched', replays: 0, regathered: run.regathered });
}

/** The particle core's settings of a program-SMC run. */
function smcSettings<S>(options: Omit<SMCProgramOptions, 'method'>, n: number, rng: Rng): SMCOptions<S> {
  return {
    particles: n,
    resampling: options.resampling,
    essThreshold: options.essThreshold,
    rng,
    signal: options.signal,
    // (the ancestors of each resampling, for the warning of discrete sites resting on few lineages: `particle-warnings.ts`)
    genealogy: true,
    onStep: options.onStep ? (info: StepInfo<S>) => options.onStep?.({ step: info.t, ess: info.ess, logZ: info.logZ, resampled: info.resampled }) : undefined,
  };
}

/** The posterior of a program-SMC run. */
function programPosterior<A extends unknown[], R, S>(m: Model<A, R>, args: A, result: SMCResult<S>, draws: Draw<R>[], tensorsSince: number, extra: Record<string, unknown>): Posterior<A, R> {
  const post = new Posterior({
    method: 'smc',
    draws,
    logZ: result.logZ,
    diagnostics: {
      essHistory: result.essHistory,
      logZHistory: result.logZHistory,
      resampledAt: result.resampledAt,
      steps: result.steps,
      ...extra,
    },
    model: m,
    args,
    tensorsSince,
  });
  // the draws are the particles of positive weight, in order
  const from = Int32Array.from(result.logWeights.keys()).filter((i) => result.logWeights[i]! > -Infinity);
  if (result.ancestors.length > 0 && from.length === draws.length) attachAncestry(post.diagnostics, finalAncestry(result.ancestors, from));
  return post;
}

/**
 * Per-particle execution grouped by branch (`unfold-group.ts`): a posterior,
 * or why it does not apply (a {@link GroupGiveUp}'s reason). The caller
 * holds a ledger (the run makes tensors; its draws hold none).
 */
async function groupedRun<A extends unknown[], R>(
  m: Model<A, R>,
  options: Omit<SMCProgramOptions, 'method'>,
  args: A,
  tensorsSince: number,
  how: Execution & { kind: 'per-particle' },
): Promise<{ post: Posterior<A, R>; densityCheck: (draw: number, trace: Trace) => string | undefined } | string> {
  // (its tensors are freed by ledgers, which need an async context: without one, e.g. in a browser, it would leak them)
  if (!(await ledgersRecord())) return 'no async context to free its tensors (a browser)';
  const n = options.particles ?? 1000;
  const rng = rngFrom(options.seed ?? 0);
  const pop = new GroupedPopulation<R>(n, m as unknown as Model<unknown[], R>, args, rng.split(), new Pacer(options.signal));
  const fk: FeynmanKac<GroupedPopulation<R>> = {
    init: () => pop,
    step: async (state, t) => ({ state, logPotential: await state.phase(t) }),
    done: (t, state) => state.done(t),
    store: pop.store(),
  };
  let result: SMCResult<GroupedPopulation<R>>;
  try {
    result = await runSMCInsideCall(fk, smcSettings(options, n, rng.split()));
  } catch (err) {
    if (err instanceof GroupGiveUp) return err.why;
    throw err;
  }
  const ancestry = pop.ancestryByGeneration();
  const returns = pop.returns!;
  const draws: Draw<R>[] = [];
  const particleOf: number[] = [];
  for (let i = 0; i < n; i++) {
    const logWeight = result.logWeights[i]!;
    if (!(logWeight > -Infinity)) continue;
    particleOf.push(i);
    let values: Record<string, Value> | undefined;
    draws.push({
      get values() {
        return (values ??= pop.values(i, ancestry));
      },
      returnValue: returns[i] as R,
      logWeight,
    });
  }
  const post = programPosterior(m, args, result, draws, tensorsSince, {
    execution: how.kind,
    notBatched: how.notBatched,
    runtime: 'grouped',
    // kernel executions (one a group a step) and groups split by a discrete site's value
    grouped: { ...pop.stats },
    replays: 0,
  });
  return { post, densityCheck: (draw, trace) => pop.densityMismatch(particleOf[draw]!, ancestry, trace) };
}

/**
 * Per-particle execution on the lean runtime (`program-lean.ts`): a
 * posterior, or why not (a {@link LeanGiveUp}'s reason; {@link TRIPPED} when
 * `wire` caught a tensor). Without a wire the caller holds a ledger.
 */
async function leanRun<A extends unknown[], R>(m: Model<A, R>, options: Omit<SMCProgramOptions, 'method'>, args: A, tensorsSince: number, how: Execution & { kind: 'per-particle'; notGrouped?: string }, wire?: TensorTripwire): Promise<Posterior<A, R> | string> {
  const n = options.particles ?? 1000;
  const pace = new Pacer(options.signal);
  try {
    const run = new LeanRun<R>(m as unknown as Model<unknown[], R>, args, pace, wire);
    const post = await perParticleSMC(m, options, args, n, tensorsSince, { ...how, runtime: 'lean' }, (r) => new LeanParticle<R>(r, run), (state) => run.advanceAll(state));
    run.settle();
    // copies that started inside an `unfold` step from its state (no re-run of the model), and sites replayed by copies
    post.diagnostics.forks = run.forks;
    // of those, copies that started at the marker after their parent's checkpoint, replaying nothing
    post.diagnostics.skippedForks = run.skippedForks;
    post.diagnostics.replayedSites = run.replayedSites;
    // (a tensor made after the last site, e.g. a returned one, is freed with the wire's: run again)
    return wire?.tripped ? TRIPPED : post;
  } catch (err) {
    if (wire?.tripped) return TRIPPED;
    if (!(err instanceof LeanGiveUp)) throw err;
    return err.why;
  }
}

/**
 * Per-particle execution on the general effect runtime (rejuvenation,
 * handlers of the model's own, `lean: false`, or what the lean runtime gave
 * up on: `diagnostics.notLean` says which).
 */
async function smcGeneralRun<A extends unknown[], R>(m: Model<A, R>, options: Omit<SMCProgramOptions, 'method'>, args: A, tensorsSince: number, how: Execution & { kind: 'per-particle'; notLean: string; notGrouped?: string }): Promise<Posterior<A, R>> {
  const n = options.particles ?? 1000;
  const moves = options.rejuvenate;
  const pace = new Pacer(options.signal);
  // paced inside each execution too: a particle replaying a long prefix can be aborted mid-way
  const model = (m as unknown as Model<unknown[], R>).withHandler(new PacingHandler(pace));
  const stats: MoveStats = { accepted: 0, proposed: 0, rates: [] };
  const rejuvenate = moves && moves.steps > 0 ? (state: ProgramParticle<R>[], t: number, r: Rng) => rejuvenateParticles(model, args, state, t, r, moves, stats, pace) : undefined;
  const post = await perParticleSMC(m, options, args, n, tensorsSince, { ...how, runtime: 'general' }, (r) => new ProgramParticle<R>(r), advanceGeneral(model, args, pace), rejuvenate);
  if (moves) post.diagnostics.rejuvenation = { acceptance: stats.proposed ? stats.accepted / stats.proposed : NaN, perRound: stats.rates };
  return post;
}

/** The per-particle SMC loop over particles made by `make` and moved by `advanceAll` (either runtime). */
async function perParticleSMC<A extends unknown[], R, P extends PerParticle>(
  m: Model<A, R>,
  options: Omit<SMCProgramOptions, 'method'>,
  args: A,
  n: number,
  tensorsSince: number,
  how: { readonly kind: 'per-particle'; readonly notBatched: string; readonly runtime: 'lean' | 'general'; readonly notLean?: string; readonly notGrouped?: string },
  make: (rng: Rng) => P,
  advanceAll: AdvanceAll<P>,
  rejuvenate?: FeynmanKac<P[]>['rejuvenate'],
): Promise<Posterior<A, R>> {
  const rng = rngFrom(options.seed ?? 0);
  const store = programStore<P>(rng.split());
  let replays = 0;
  const fk: FeynmanKac<P[]> = {
    init: (count, r) => Array.from({ length: count }, () => make(r.split())),
    async step(state) {
      // (a pending copy starts from its parent's checkpoint)
      const before = new Float64Array(state.length);
      for (let i = 0; i < state.length; i++) {
        const p = state[i]!;
        if (p.replayOf !== undefined) replays++;
        before[i] = p.replayOf?.checkpoint ?? p.checkpoint;
        p.increment = 0;
      }
      await advanceAll(state);
      const logPotential = new Float64Array(state.length);
      state.forEach((p, i) => {
        logPotential[i] = p.checkpoint > before[i]! || p.status === 'done' ? p.increment : 0;
        p.increment = 0;
      });
      return { state, logPotential };
    },
    done: (_t, state) => state.every((p) => p.status === 'done'),
    rejuvenate,
    store,
  };
  const result = await runSMCInsideCall(fk, smcSettings(options, n, rng.split()));
  // (particles of weight zero, e.g. stopped by an invalid parameter, are left out)
  const draws: Draw<R>[] = result.state.flatMap((p, i) => (result.logWeights[i]! > -Infinity ? [drawOf<R>(p, result.logWeights[i]!)] : []));
  return programPosterior(m, args, result, draws, tensorsSince, {
    execution: how.kind,
    notBatched: how.notBatched,
    runtime: how.runtime,
    ...(how.notLean === undefined ? {} : { notLean: how.notLean }),
    ...(how.notGrouped === undefined ? {} : { notGrouped: how.notGrouped }),
    replays,
  });
}

registerEngine<SMCProgramOptions>({
  name: 'smc',
  options: ['particles', 'resampling', 'essThreshold', 'onStep', 'signal', 'rejuvenate', 'batched', 'lean', 'grouped'],
  description: 'sequential Monte Carlo over the observations of an async program (one batched execution where the program allows, else per particle with forking by replay)',
  run: (m, options, args) => smcProgram(m, options, args),
});
