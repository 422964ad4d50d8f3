/**
 * Importance sampling: likelihood weighting from the prior, or proposals from
 * a user guide written as an async model with the same latent addresses.
 *
 * With a guide q, each particle runs q, then replays the model on q's draws:
 * log w = log p(x, y) - log q(x), counting only latent sites the guide
 * proposed (latent sites the guide does not name are drawn from the prior and
 * cancel). Without a guide, log w = log p(y | x). The estimate of log Z is
 * logsumexp(log w) - log N, unbiased for Z.
 *
 * Where the model (and guide) compiles, the draws and their weights are
 * float64: each particle runs on tfjs inside a float64 shadow run
 * (`withFloat64Shadow`: every kernel computed again in float64 from the
 * JS-number noise and data), its latent values are read in float64 where
 * every kernel behind them has a replay rule (the value tensors then
 * remember those doubles, `float64Of`), and its log weight is the compiled
 * record replayed in float64 at them (`importance-weights.ts`;
 * `diagnostics.weights` says `'float64'` or `'float32'`, and
 * `diagnostics.notCompiled` why not). `compile: false` keeps the float32
 * draws and weights of the runs themselves.
 *
 * Batched first. Without a guide, the particles are first run as one
 * batched execution (program SMC's batched runtime with a leading particle
 * axis, never resampling: `smc/program-batched-run.ts`), checked against
 * particles run on their own; each draw is then weighed by the compiled
 * record in float64 where the model has one, else by its observations' log
 * densities summed (float32 tensors, summed in float64). The batched draws
 * are float32 (no shadow run: near 1e4 they round by ~1e-3), weighed at
 * those very values. A model whose log densities are JS numbers (double
 * precision already) runs per particle, as does a program that cannot run
 * batched (control flow on random values, a `scale` or `mask` on a latent
 * site, ...); `diagnostics.execution` and `diagnostics.notBatched` say
 * which and why.
 *
 * @module
 */
import { TycheError, ZeroDensityError, rejectsPoint } from '../core/errors.js';
import { assertFiniteLogWeights, isNonFiniteDensity, nonFiniteDensityError } from './diagnose.js';
import * as tf from '@tensorflow/tfjs-core';
import { replayHandler } from '../core/handlers.js';
import { Model, ModelError, execute } from '../core/model.js';
import { type Rng, rngFrom } from '../core/rng.js';
import { tidyAsync, withGradientLock } from '../backend/autodiff.js';
import { type Float64Reader, type Float64Shadow, openFloat64Shadow } from '../backend/jit/trace.js';
import { type Trace, priorDrawCorrection, siteLogDensity } from '../core/trace.js';
import { type Value, isTensor, logSumExp, toNumber } from '../core/value.js';
import { nextTensorId, reachableTensors } from './mcmc/state-tensors.js';
import { Pacer } from './pace.js';
import { Float64Weights, NUMBERS_ALREADY } from './importance-weights.js';
import { NESTED_RUN, insideAnotherRun } from './scaled-density.js';
import { type Draw, Posterior, disposeDraws } from './posterior.js';
import { type CommonOptions, registerEngine } from './registry.js';
import { withLedger } from '../backend/ledger.js';
import { type NotBatched, runBatchedProgram } from './smc/program-batched-run.js';

/** Options of `infer(model, { method: 'importance', ... })`. */
export interface ImportanceOptions extends CommonOptions {
  readonly method: 'importance';
  /** Number of weighted samples (default 1000). */
  readonly particles?: number;
  /**
   * A proposal: an async model taking the same arguments, sampling (a subset
   * of) the model's latent addresses. Defaults to the prior.
   */
  readonly guide?: Model<never, unknown> | ((...args: never[]) => unknown);
  /** Called after each sample with the count done so far. */
  readonly onProgress?: (done: number, total: number) => void;
  /** Stops the run (the promise rejects with the signal's reason). */
  readonly signal?: AbortSignal;
  /**
   * Log weights in float64 from a compiled record of the model: `'auto'`
   * (default) where it compiles, else float32; `true` requires it (an error
   * says why it cannot); `false` keeps the float32 weights of the tfjs runs.
   */
  readonly compile?: boolean | 'auto';
  /**
   * Run all particles as one batched execution (a leading particle axis:
   * program SMC's batched runtime, never resampling; see
   * `smc/program-batched-run.ts`): `'auto'` (default) tries it and falls
   * back to running each particle on its own where the program cannot run
   * batched (control flow on random values, a guide, a `scale` or `mask` on
   * a latent site, ...), `true` requires it (the reason is thrown), `false`
   * runs per particle. `diagnostics.execution` says which ran and
   * `diagnostics.notBatched` why not batched. Batched, `onProgress` is
   * called once, at the end.
   */
  readonly batched?: boolean | 'auto';
}

function numberOf(v: Value): number {
  const n = typeof v === 'number' ? v : toNumber(v);
  if (isTensor(v)) v.dispose();
  return n;
}

/** Sum of site log densities selected by `keep`, as a number; disposes intermediates. */
function sumSites(trace: Trace, keep: (address: string, observed: boolean, type: string) => boolean): number {
  let total = 0;
  for (const s of trace) {
    if (s.type !== 'sample' && s.type !== 'factor') continue;
    if (!keep(s.address, s.observed, s.type)) continue;
    total += numberOf(tf.tidy(() => siteLogDensity(s)) as Value);
  }
  return total;
}

/**
 * The corrections of the latent sites drawn from their priors (not in
 * `proposed`) for a `scale` or `mask` handler on them (`priorDrawCorrection`).
 */
function priorCorrections(trace: Trace, proposed?: ReadonlySet<string>): number {
  let total = 0;
  for (const s of trace) {
    if (s.type !== 'sample' || s.observed || proposed?.has(s.address)) continue;
    if (s.scale !== 1 || s.mask !== true) total += numberOf(tf.tidy(() => priorDrawCorrection(s)) as Value);
  }
  return total;
}

/** Every tensor among a draw's values. */
function tensorsIn(values: Readonly<Record<string, Value>>): tf.Tensor[] {
  return Object.values(values).filter(isTensor);
}

/**
 * One weighted sample: run the guide (if any), replay the model on it, and
 * weigh. With `float64`, a draw whose latent sites fit its record is weighed
 * by it instead (after the tfjs scope closes: `pending` holds its rows),
 * its tensor values read in float64 by `read` (a shadow run's reader).
 */
async function weightedSample<A extends unknown[], R>(
  m: Model<A, R>,
  guide: Model<A, unknown> | undefined,
  r: Rng,
  args: A,
  i: number,
  float64: Float64Weights | undefined,
  pending: { rows?: { model: Float64Array; guide?: Float64Array }; logQ?: number },
  read?: Float64Reader,
): Promise<Draw<R>> {
  let logW: number;
  let result: { trace: Trace; returnValue: R };
  if (guide) {
    const g = await execute(guide, { rng: r.split() }, ...args);
    for (const s of g.trace) {
      if (s.type === 'sample' && s.observed) throw new ModelError(s.address, 'a guide must not observe data');
    }
    result = await execute(m, { rng: r, handlers: [replayHandler(g.trace)] }, ...args);
    for (const s of g.trace) {
      if (s.type === 'sample' && !result.trace.has(s.address)) {
        throw new ModelError(s.address, 'the guide samples this address but the model has no such site');
      }
    }
    pending.rows = float64?.rows(result.trace, g.trace, read);
    if (pending.rows) return { values: result.trace.values(), returnValue: result.returnValue, logWeight: NaN };
    const proposed = new Set(g.trace.latentSites().map((s) => s.address));
    const logP = sumSites(result.trace, (a, observed, type) => type === 'factor' || observed || proposed.has(a));
    const logQ = sumSites(g.trace, () => true);
    pending.logQ = logQ;
    logW = logP - logQ + priorCorrections(result.trace, proposed);
  } else {
    result = await execute(m, { rng: r }, ...args);
    pending.rows = float64?.rows(result.trace, undefined, read);
    if (pending.rows) return { values: result.trace.values(), returnValue: result.returnValue, logWeight: NaN };
    logW = sumSites(result.trace, (_a, observed, type) => type === 'factor' || observed) + priorCorrections(result.trace);
  }
  if (isNonFiniteDensity(logW)) throw nonFiniteDensityError(`importance: the log-weight of sample ${i} is ${logW}`, result.trace);
  return { values: result.trace.values(), returnValue: result.returnValue, logWeight: logW };
}

/** Sample i's log-weight (and its guide's log density) from its float64 record (both paths); a non-finite one is an error, which infer explains by site. */
async function float64LogWeight(float64: Float64Weights, rows: Parameters<Float64Weights['weigh']>[0], i: number): Promise<{ logWeight: number; logQ: number }> {
  const weighed = await float64.weigh(rows);
  if (isNonFiniteDensity(weighed.logWeight)) throw nonFiniteDensityError(`importance: the log-weight of sample ${i} is ${weighed.logWeight}`);
  return weighed;
}

/** Importance sampling with the prior or a guide as proposal: batched where the program allows, else per particle. */
export async function importance<A extends unknown[], R>(m: Model<A, R>, options: Omit<ImportanceOptions, 'method'>, args: A): Promise<Posterior<A, R>> {
  const n = options.particles ?? 1000;
  if (!Number.isInteger(n) || n <= 0) throw new RangeError(`importance: particles must be a positive integer, got ${n}`);
  const guide = options.guide === undefined ? undefined : options.guide instanceof Model ? (options.guide as unknown as Model<A, unknown>) : new Model(options.guide as unknown as (...a: unknown[]) => unknown);
  const compile = options.compile ?? 'auto';
  if (compile !== true && compile !== false && compile !== 'auto') throw new RangeError(`importance: compile must be true, false or 'auto', got ${String(compile)}`);
  const mode = options.batched ?? 'auto';
  if (mode !== true && mode !== false && mode !== 'auto') throw new RangeError(`importance: batched must be true, false or 'auto', got ${String(mode)}`);
  if (mode === true && guide) throw new RangeError('importance: a guide runs per particle; it cannot be combined with batched: true');
  const tensorsSince = nextTensorId();
  let float64: Float64Weights | undefined;
  let notCompiled = 'compile: false';
  if (compile !== false) {
    const w = (await insideAnotherRun()) ? { reason: NESTED_RUN } : await Float64Weights.create(m as Model<A, unknown>, guide, args, options.signal);
    if (w instanceof Float64Weights) float64 = w;
    else if (compile === true) throw new TycheError(`importance: compile: true, but the model's weights cannot be compiled: ${w.reason}`);
    else notCompiled = w.reason;
  }
  let notBatched: string;
  if (mode === false) notBatched = 'batched: false';
  else if (guide) notBatched = 'a guide runs per particle';
  // (batched, every log density would be a float32 tensor)
  else if (mode === 'auto' && notCompiled === NUMBERS_ALREADY) notBatched = `${NUMBERS_ALREADY} per particle (batched they would be float32 tensors)`;
  else {
    // the run's tensors are freed when it ends (the model's intermediates, the probe's); the draws' are kept
    const keep = (r: Posterior<A, R> | NotBatched): Iterable<tf.Tensor> => (r instanceof Posterior ? reachableTensors(r.draws) : []);
    const tried = await withLedger(() => importanceBatched(m, options, args, n, tensorsSince, float64, notCompiled), keep);
    if (tried instanceof Posterior) return tried;
    if (mode === true || options.signal?.aborted) throw tried.error;
    notBatched = tried.reason;
  }
  return importancePerParticle(m, guide, options, args, n, tensorsSince, float64, notCompiled, notBatched);
}

/**
 * Every particle in one batched execution that never resamples
 * (`runBatchedProgram`): each draw's weight is its observations' log
 * densities summed, or, where the model's record compiles
 * (`Float64Weights`), the record replayed in float64 at its latent values.
 * The posterior, or why the program does not run batched.
 */
async function importanceBatched<A extends unknown[], R>(
  m: Model<A, R>,
  options: Omit<ImportanceOptions, 'method'>,
  args: A,
  n: number,
  tensorsSince: number,
  float64: Float64Weights | undefined,
  notCompiled: string,
): Promise<Posterior<A, R> | NotBatched> {
  const run = await runBatchedProgram(m, args, {
    engine: 'importance',
    particles: n,
    seed: options.seed,
    signal: options.signal,
    // never resampled: SMC's weights are then the importance weights, its log Z the importance estimate
    smc: (rng) => ({ particles: n, rng, signal: options.signal, essThreshold: 0, genealogy: false }),
    weights: 'summed',
  });
  if (!('result' in run)) return run;
  let draws = run.draws;
  let weights = 'float32';
  const trace = run.result.state.trace;
  if (float64 && trace && float64.recordsSitesOf(trace)) {
    const rows = draws.map((d) => float64.rowOfValues(d.values));
    if (rows.every((r) => r !== undefined)) {
      const pace = new Pacer(options.signal);
      const weighed: Draw<R>[] = [];
      for (let i = 0; i < draws.length; i++) {
        if (pace.due()) await pace.pause();
        const { logWeight } = await float64LogWeight(float64, rows[i]!, i);
        weighed.push({ ...draws[i]!, logWeight });
      }
      draws = weighed;
      weights = 'float64';
    }
  }
  options.onProgress?.(n, n);
  const diagnostics = { execution: 'batched', weights, ...(weights === 'float64' ? { float32Draws: 0, viaTfjs: float64!.viaTfjs } : { notCompiled: float64 ? 'the batched draws do not fit the record' : notCompiled }) };
  return importancePosterior(m, args, n, draws, diagnostics, tensorsSince);
}

/** The posterior of weighted draws out of `n` particles: log Z = logsumexp(log w) - log n; no positive weight is an error. */
function importancePosterior<A extends unknown[], R>(m: Model<A, R>, args: A, n: number, draws: Draw<R>[], diagnostics: Record<string, unknown>, tensorsSince: number): Posterior<A, R> {
  const logZ = logSumExp(draws.map((d) => d.logWeight)) - Math.log(n);
  try {
    // (the batched paths' weights: the site is found by running the model, in infer)
    assertFiniteLogWeights('importance', draws);
  } catch (err) {
    disposeDraws(draws, args, tensorsSince);
    throw err;
  }
  if (logZ === -Infinity) {
    disposeDraws(draws, args, tensorsSince);
    throw new ZeroDensityError(`importance: all ${n} particles have weight zero, so there is no posterior to return (more particles or a guide may find the region of positive probability)`);
  }
  return new Posterior({ method: 'importance', draws, logZ, diagnostics, model: m, args, tensorsSince });
}

/** Each particle run on its own (a guide, control flow on random values, `batched: false`; `notBatched` says which). */
async function importancePerParticle<A extends unknown[], R>(
  m: Model<A, R>,
  guide: Model<A, unknown> | undefined,
  options: Omit<ImportanceOptions, 'method'>,
  args: A,
  n: number,
  tensorsSince: number,
  float64: Float64Weights | undefined,
  notCompiled: string,
  notBatched: string,
): Promise<Posterior<A, R>> {
  const rng = rngFrom(options.seed ?? 0);
  const draws: Draw<R>[] = [];
  // the guide's log density at each kept draw (for the guide-tail check, `particle-warnings.ts`)
  const guideLogQ: number[] = [];
  const pace = new Pacer(options.signal);
  let float32Draws = 0;
  let shadow: Float64Shadow | undefined;
  try {
    for (let i = 0; i < n; i++) {
      if (pace.due()) await pace.pause();
      const r = rng.split();
      const pending: { rows?: { model: Float64Array; guide?: Float64Array }; logQ?: number } = {};
      // one engine scope per sample: tensors the model makes are freed, the draw's values kept
      // with float64 weights, the particle runs in a float64 shadow (under the gradient lock: the shadow hooks the engine)
      if (float64 && !shadow) shadow = openFloat64Shadow();
      const sh = shadow;
      const run = (): Promise<Draw<R>> =>
        sh ? withGradientLock(() => sh.run((read) => weightedSample(m, guide, r, args, i, float64, pending, read))) : weightedSample(m, guide, r, args, i, float64, pending);
      let draw = await tidyAsync(run, (d) => [...tensorsIn(d.values), ...(isTensor(d.returnValue) ? [d.returnValue] : [])]).catch((err: unknown) => {
        // an invalid distribution parameter means weight zero for this particle, as in every engine (rejectsPoint)
        if (rejectsPoint(err)) return undefined;
        throw err;
      });
      if (draw && pending.rows) {
        const { logWeight, logQ } = await float64LogWeight(float64!, pending.rows, i);
        draw = { ...draw, logWeight };
        pending.logQ = logQ;
      } else if (draw) float32Draws++;
      if (draw) {
        draws.push(draw);
        if (guide) guideLogQ.push(pending.logQ!);
      }
      options.onProgress?.(i + 1, n);
    }
  } catch (err) {
    disposeDraws(draws, args, tensorsSince);
    throw err;
  } finally {
    shadow?.close();
  }
  const weights = float64
    ? { weights: float32Draws === 0 ? 'float64' : 'mixed', float32Draws, viaTfjs: float64.viaTfjs }
    : { weights: notCompiled === NUMBERS_ALREADY ? 'float64' : 'float32', notCompiled };
  const guided = guide ? { guideLogDensity: Float64Array.from(guideLogQ) } : {};
  return importancePosterior(m, args, n, draws, { execution: 'per-particle', notBatched, ...weights, ...guided }, tensorsSince);
}

registerEngine<ImportanceOptions>({
  name: 'importance',
  options: ['particles', 'guide', 'onProgress', 'signal', 'compile', 'batched'],
  description: 'importance sampling from the prior (likelihood weighting) or a guide (one batched execution of all particles where the program allows, else per particle)',
  run: (m, options, args) => importance(m, options, args),
});
