/**
 * One batched run of an async program over all particles, checked: the
 * attempt that program SMC (`program.ts`) and importance sampling
 * (`importance.ts`, SMC that never resamples) make before they fall back
 * to running each particle on its own.
 *
 * The steps: one particle run on its own (numbers) gives the site cap and
 * the batch layout; a probe of a few prior particles, batched and then each
 * re-run on its own, checks that the program runs alike both ways
 * (`probeBatched`, with one more reserved dimension where shapes do not
 * broadcast); the population then runs as one execution under the particle
 * core (`runSMC` over `BatchedProgram`), watched for a JS branch on a
 * tensor comparison; a few final particles are re-run on their own and
 * must agree (`checkFinalParticles`). Anything that fails says why, and the
 * caller runs per particle.
 *
 * @module
 */
import { openConditionWatch } from '../../backend/condition-watch.js';
import { withLedger } from '../../backend/ledger.js';
import { branchOnTensorError } from '../../core/errors.js';
import { type Model, execute } from '../../core/model.js';
import type { Site } from '../../core/trace.js';
import { type Rng, type Seed, rngFrom } from '../../core/rng.js';
import { reachableTensors } from '../mcmc/state-tensors.js';
import { PacingHandler, Pacer } from '../pace.js';
import type { Draw } from '../posterior.js';
import { type FeynmanKac, type SMCOptions, type SMCResult, runSMCInsideCall } from './core.js';
import { BatchedProgram, NotBatchableError, batchedDraws, batchedProgramStore, batchedSiteCap, checkFinalParticles, probeBatched } from './program-batched.js';
import { type BatchLayout, layoutOf } from './program-layout.js';
import { openParticleAxis } from './reindex.js';

/** What a batched run is asked to do. */
export interface BatchedRunSettings {
  /** The engine's name, for the error where no particle axis can be followed (e.g. `'smc'`). */
  readonly engine: string;
  /** Number of particles. */
  readonly particles: number;
  /** The seed of the run (the batched run takes a stream of its own from it). */
  readonly seed?: Seed;
  /** Stops the run (the promise rejects with the signal's reason). */
  readonly signal?: AbortSignal;
  /** The particle core's other settings (resampling scheme, threshold, `onStep`). */
  readonly smc: (rng: Rng) => SMCOptions<BatchedProgram<unknown>>;
  /**
   * The log weight each draw carries: `'final'` the particle core's final
   * (normalised) weights; `'summed'` each particle's log potentials summed
   * along its own path (the importance weight where the run never resamples).
   */
  readonly weights: 'final' | 'summed';
}

/** A finished batched run. */
export interface BatchedRun<R> {
  readonly result: SMCResult<BatchedProgram<R>>;
  /** The particles of positive weight as draws (see `BatchedRunSettings.weights`). */
  readonly draws: Draw<R>[];
  /** Tensors gathered again after a resampling (see `reindex.ts`). */
  readonly regathered: number;
}

/** Why a program did not run batched, and the error to throw where batching was required. */
export interface NotBatched {
  readonly reason: string;
  readonly error: unknown;
}

/**
 * Run `m` on `args` as one batched execution of `settings.particles`
 * particles: the run, or why the program cannot run batched (an abort is
 * thrown, not returned). The tensors it makes are the caller's to free
 * (a ledger around the call), except the draws'.
 */
export async function runBatchedProgram<A extends unknown[], R>(m: Model<A, R>, args: A, settings: BatchedRunSettings): Promise<BatchedRun<R> | NotBatched> {
  const n = settings.particles;
  const open = await openParticleAxis(n);
  if (open === undefined) {
    const reason = 'no AsyncLocalStorage in this runtime (needed to follow the particle axis)';
    return { reason, error: new NotBatchableError(`${settings.engine}: cannot run batched: ${reason}`) };
  }
  // the whole run is watched for a JS branch on a tensor comparison (a rare branch escapes the probe)
  const watching = await openConditionWatch();
  const watch = watching.watch;
  // a stream of its own: a fallback to per-particle execution runs exactly as it would have alone
  const rng = rngFrom(settings.seed ?? 0).split();
  const pace = new Pacer(settings.signal);
  const model = (m as unknown as Model<unknown[], R>).withHandler(new PacingHandler(pace));
  try {
    // one particle run on its own first (numbers): how many sites a run visits, which bounds the
    // batched runs (a stop on `draw === 1` is never taken by a tensor draw: the run would not end),
    // and the batch dimensions to reserve for its plates and vector observations (program-layout.ts)
    // (its tensors, e.g. data converted for it, are freed before the run: a ledger of its own)
    const ref = await withLedger(() => referenceRun(model, args, rngFrom(`${settings.seed ?? 0}/batched-reference`)), () => []);
    const maxSites = ref.maxSites;
    const size = Math.min(n, PROBE_PARTICLES);
    // (under a ledger of its own: the probe's draws, densities and re-runs are freed before the run, not held through it)
    const layout = await probeLayout(ref.layout, size, (l) => withLedger(() => probeBatched(model, args, size, rng.split(), watch, maxSites, l), () => []));
    // each particle's log potentials summed along its path (gathered with it at a resampling)
    let summed = new Float64Array(n);
    const store = batchedProgramStore<R>();
    const fk: FeynmanKac<BatchedProgram<R>> = {
      init: (_count, r) => new BatchedProgram<R>(open, r.split(), watch, maxSites, layout),
      async step(state) {
        await state.advance(model, args);
        const logPotential = state.increment ?? new Float64Array(n);
        for (let i = 0; i < n; i++) summed[i] += logPotential[i];
        return { state, logPotential };
      },
      done: (_t, state) => state.status === 'done',
      store: {
        ...store,
        select(state, ancestors, count) {
          summed = Float64Array.from(ancestors, (a) => summed[a]);
          return store.select(state, ancestors, count);
        },
      },
    };
    const result = await runSMCInsideCall(fk, settings.smc(rng.split()) as SMCOptions<BatchedProgram<R>>);
    const branched = watch.unconsumed(reachableTensors([result.state.trace?.values(), result.state.returnValue]));
    if (branched !== undefined) throw new NotBatchableError(branchOnTensorError(branched).message);
    const { draws, rows } = batchedDraws(result.state, settings.weights === 'summed' ? summed : result.logWeights);
    const checkRng = rng.split();
    const which = finalCheckIndices(draws, result.state.trace, checkRng).map((k) => ({ row: rows[k], draw: draws[k] }));
    await checkFinalParticles(model, args, result.state, which, checkRng);
    return { result, draws, regathered: open.axis.regathered };
  } catch (err) {
    if (settings.signal?.aborted) throw err;
    const msg = err instanceof Error ? err.message : String(err);
    return { reason: msg.split('\n')[0], error: err };
  } finally {
    watching.close();
    open.close();
  }
}

/**
 * The site cap of a program's batched runs (see `batchedSiteCap`) and their
 * layout (see `layoutOf`), from one prior particle run on its own.
 */
async function referenceRun(model: Model<unknown[], unknown>, args: unknown[], rng: Rng): Promise<{ maxSites: { cap: number; reference: number }; layout: BatchLayout }> {
  const { trace, returnValue } = await execute(model, { rng }, ...args);
  let reference = 0;
  for (const s of trace) if (s.type === 'sample' || s.type === 'factor') reference++;
  const layout = layoutOf(trace, returnValue);
  trace.disposeLogProbs();
  return { maxSites: { cap: batchedSiteCap(reference), reference }, layout };
}

/**
 * The layout whose probe passes: `layout`, or, where its probe fails on
 * shapes that do not broadcast, one more reserved dimension (a latent with a
 * batch shape used as an event, e.g. `w ~ Normal(zeros([3]), 1)` times data
 * `[10, 3]`: `[N, 3]` does not broadcast against `[10, 3]`, `[N, 1, 3]`
 * does). The checks of the probe stand behind either; where both fail, the
 * first failure is thrown, saying where the particle axis must stay (`size`
 * particles in the probe).
 */
async function probeLayout(layout: BatchLayout, size: number, probe: (layout: BatchLayout) => Promise<void>): Promise<BatchLayout> {
  try {
    await probe(layout);
    return layout;
  } catch (err) {
    const msg = err instanceof Error ? err.message.split('\n')[0] : String(err);
    if (err instanceof NotBatchableError || !SHAPE_ERROR.test(msg)) throw err;
    const wider = { ...layout, nesting: layout.nesting + 1 };
    try {
      await probe(wider);
    } catch {
      throw new NotBatchableError(
        `${msg} (batched, every draw has a leading axis of its ${size} particles, and values made from draws must keep it first: e.g. tf.stack([a, b], -1), not tf.stack([a, b]))`,
        { cause: err },
      );
    }
    return wider;
  }
}

/** The errors of shapes that do not fit (tfjs's broadcast, a distribution's parameters, an observation against its distribution). */
const SHAPE_ERROR = /could not be broadcast|do not broadcast|does not match .* of shape/;

/** Final particles checked one by one against a batched run (see `checkFinalParticles`). */
const BATCH_CHECKS = 3;
/** At most this many more final particles, one for each value of each discrete latent site (see `finalCheckIndices`). */
const VALUE_CHECKS = 16;

/**
 * The draws whose particles the final check re-runs on their own:
 * `BATCH_CHECKS` at random, then the first draw holding each value of each
 * discrete latent site, then the first holding each combination of their
 * values (at most `VALUE_CHECKS` more in all). A branch such as
 * `if (z === 1)` is never taken in a batched run (a tensor is not 1), and
 * where z = 1 is rare neither the probe's prior particles nor a few random
 * final ones may hold it: a particle with z = 1 run on its own shows it.
 */
function finalCheckIndices<R>(draws: readonly Draw<R>[], trace: Iterable<Site> | undefined, rng: Rng): number[] {
  const picked = Array.from({ length: Math.min(BATCH_CHECKS, draws.length) }, () => rng.int(draws.length));
  const limit = picked.length + VALUE_CHECKS;
  const discrete: string[] = [];
  for (const site of trace ?? []) if (site.type === 'sample' && !site.observed && site.dist?.isDiscrete) discrete.push(site.address);
  const valueOf = (k: number, address: string): number => {
    const v = draws[k].values[address];
    return typeof v === 'number' ? v : NaN; // (a site with vector values counts as one value)
  };
  const add = (key: (k: number) => number | string): void => {
    const seen = new Set(picked.map(key));
    for (let k = 0; k < draws.length && picked.length < limit; k++) {
      const v = key(k);
      if (seen.has(v)) continue;
      seen.add(v);
      picked.push(k);
    }
  };
  // the values of each site first, then combinations of them (`a === 1 && b === 1` with each common, both rare)
  for (const address of discrete) add((k) => valueOf(k, address));
  if (discrete.length > 1) add((k) => discrete.map((a) => valueOf(k, a)).join(','));
  return picked;
}

/** Prior particles of the probe run before a batched run, each checked one by one (see `probeBatched`). */
const PROBE_PARTICLES = 16;
