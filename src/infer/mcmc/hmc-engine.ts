/**
 * `infer(model, { method: 'nuts' | 'hmc', ... })`: gradient-based MCMC on a
 * model's continuous latent sites, in unconstrained space.
 *
 * With `vectorize` (default `'auto'`), all chains are advanced together and
 * each gradient is one batched tfjs computation over the chain axis — where
 * tensors pay. Models that cannot run batched (scalar arithmetic on draws,
 * branching on random values) fall back to running chains one after another,
 * and the reason is recorded in `posterior.diagnostics.vectorized`.
 *
 * @module
 */
import { TycheError } from '../../core/errors.js';
import { tidyAsync } from '../../backend/autodiff.js';
import * as tf from '@tensorflow/tfjs-core';
import type { Model } from '../../core/model.js';
import { execute } from '../../core/model.js';
import { rngFrom } from '../../core/rng.js';
import type { Value, ValueLike } from '../../core/value.js';
import { conditionedAddresses, recordConditionVisits } from '../../core/handlers.js';
import { type Draw, Posterior } from '../posterior.js';
import { type DrawColumn, gatherRows, materialiseDraws } from '../draw-columns.js';
import { type SiteDraws, unmovedSites } from '../../diagnostics/unmoved.js';
import { type CommonOptions, registerEngine } from '../registry.js';
import { branchCheckOf } from '../branch-check.js';
import type { SamplerStats } from './chain.js';
import type { MetricKind } from './metric.js';
import { type MassMatrixOption, describeMetricChoice } from './metric-choice.js';
import type { CompileMode, CompileStats } from './compiled-density.js';
import { completeColumns } from './complete-draws.js';
import { fixedByConstraint } from './constraint-fixed.js';
import { DEFAULT_INIT, INIT_STRATEGIES, type InitStrategy, describeInit, unknownInitError } from './initialise.js';
import { ascentModeCheck } from './mode-check.js';
import { type Layout, type ReplayedDensity, layoutOnly, logDensityFn, refuseSubsample, unconstrain } from './potential.js';
import { IdentityBijector } from '../../transforms/elementwise.js';
import { coordinateForward, isIdentityMap } from './float64-forward.js';
import type { Bijector } from '../../transforms/bijector.js';
import type { LogDensityAndGradient, MaybePromise } from './target.js';
import { CHAINS_PATH_NOTE, vectorisedChains } from './vectorised-chains.js';
import { Pacer, pacedAnswers, throwIfAborted } from '../pace.js';
import { withInitValues } from '../init-values.js';
import { type McmcSamples, sampleHmc, sampleHmcBatched, sampleNuts, sampleNutsBatched } from './sampler.js';
import { type WorkersOption, sampleInWorkers } from './worker-pool.js';

/** Options of `infer(model, { method: 'nuts' | 'hmc', ... })`. */
export interface HMCEngineOptions extends CommonOptions {
  readonly method: 'nuts' | 'hmc';
  /** Chains (default 4). */
  readonly chains?: number;
  /** Warmup iterations per chain (default 1000). */
  readonly warmup?: number;
  /** Draws kept per chain (default 1000). */
  readonly samples?: number;
  /** Run chains as one batched computation: true, false, or `'auto'` (default: try, else fall back). */
  readonly vectorize?: boolean | 'auto';
  /**
   * Evaluate the log density by replaying a compiled float64 trace of the
   * model instead of running it on tfjs (see `compiled-density.ts`): `'auto'`
   * (default: when the model can be traced, agrees with tfjs, and is faster),
   * `true` (whenever it can be traced) or `false`.
   */
  readonly compile?: CompileMode;
  /**
   * Where each chain starts: `'ascent'` (default: per chain, 4 uniform draws
   * in [-2, 2] unconstrained, each moved uphill by a few L-BFGS steps, the
   * best kept; see `initialise.ts`), `'best-of-uniform'` (the best of 4 such
   * draws by log density), `'uniform'` (the first finite draw: Stan's
   * default), `'prior'` (a prior draw per chain), or values by address.
   * Every chain uses its own stream only, so chains stay independent.
   * `diagnostics.init` says which ran.
   */
  readonly init?: InitStrategy | 'prior' | Readonly<Record<string, ValueLike>>;
  /** Target acceptance statistic for step-size adaptation (default 0.8). */
  readonly targetAccept?: number;
  /** NUTS maximum tree depth (default 10). */
  readonly maxTreeDepth?: number;
  /**
   * Mass matrix: `'auto'` (default: diagonal, made dense at the end of a
   * warmup window whose draws show correlations well beyond sampling noise,
   * for dimensions up to 100; above 100, low-rank-plus-diagonal where the
   * window's draws and gradients show a few strong directions;
   * `diagnostics.metricChoice` says which ran and why), or force `'diag'`,
   * `'dense'`, `'lowrank'` or `'identity'`.
   */
  readonly massMatrix?: MassMatrixOption;
  /** Static HMC: leapfrog steps per iteration. */
  readonly numSteps?: number;
  /**
   * Static HMC: mean integration time (mean steps = time / step size; default
   * 2 pi, as Stan and NumPyro).
   */
  readonly integrationTime?: number;
  /**
   * Static HMC: spread of each transition's step count around its mean, a
   * fraction in [0, 1]: the count is uniform on `L - m ... L + m`, `m =
   * floor(jitter (L - 1))`, drawn per transition from the chain's stream.
   * Default 1 when the steps come from `integrationTime`, 0 (exactly
   * `numSteps`) when `numSteps` is given; `jitter: 0` is the fixed-length
   * kernel of earlier versions, draw for draw. A fixed length of 2 pi returns
   * near its start on a posterior the adapted metric makes close to a
   * standard normal (see docs/engines/mcmc.md).
   */
  readonly jitter?: number;
  /** Progress callback. */
  readonly onProgress?: (p: { completed: number; total: number; elapsedMs: number }) => void;
  /** Stops the run. */
  readonly signal?: AbortSignal;
  /**
   * Run the chains on worker threads, importing the model from a module
   * (models are closures and cannot be sent); chains run one after another in
   * each thread, with the same draws as `vectorize: false`. See `worker-pool.ts`.
   */
  readonly workers?: WorkersOption;
}

/** Sampler statistics summed over chains, for the posterior's diagnostics. */
export interface HMCDiagnostics {
  /** Divergent transitions among the kept draws, all chains. */
  readonly divergences: number;
  /** Divergent transitions among the kept draws, per chain. */
  readonly divergencesPerChain: number[];
  /** Mean acceptance statistic over the kept draws. */
  readonly meanAcceptStat: number;
  /** Kept draws whose tree reached the maximum depth (NUTS). */
  readonly maxTreeDepthHits: number;
  /** Adapted step size of each chain. */
  readonly stepSize: number[];
  /** Gradient evaluations summed over chains (one per chain per leapfrog step, warmup included). */
  readonly gradientEvaluations: number;
  /** Gradient evaluations of each chain. */
  readonly gradientEvaluationsPerChain: number[];
  /**
   * Calls of the log-density-and-gradient function: with vectorised chains one
   * call serves every chain still moving (so this is the busiest chain's count).
   */
  readonly gradientCalls: number;
  /** Warmup iterations per chain (adaptation of the step size and the metric). */
  readonly warmup: number;
  /** Wall time of the sampling phase (ms). */
  readonly samplingMs: number;
  /** Wall time of the warmup phase (ms). */
  readonly warmupMs: number;
  /**
   * Wall time before the chains started (ms): the layout probe, the initial points, and recording,
   * compiling and self-checking the log density (infer's own checks before the engine are not counted).
   */
  readonly setupMs?: number;
  /** Wall time after the chains finished (ms): the deterministic sites, the diagnostics and the posterior's columns. */
  readonly completionMs?: number;
  /** `true` when the log density ran as a compiled trace, else why not (see the `compile` option). */
  readonly compiled?: true | string;
  /** How the log-density evaluations were served: how many ran on tfjs instead of the compiled replay, and why. */
  readonly compileStats?: CompileStats;
  /** `true` when the chains ran as one batched computation, else why not. */
  readonly vectorized: true | string;
  /** Per-draw sampler statistics of each chain. */
  readonly stats: SamplerStats[];
  /** Names of the unconstrained coordinates. */
  readonly names: string[];
  /** The mass matrix's shape after warmup, per chain (with `massMatrix: 'auto'`, the one chosen). */
  readonly metric: MetricKind[];
  /** Which metric ran and why, in words (e.g. `dense (auto: ...)`). */
  readonly metricChoice: string;
  /** How the chains were initialised, in words (e.g. `ascent (4 draws in [-2, 2] per chain, ...)`). */
  readonly init?: string;
  /** Sites (with the first such element) whose draws all hold one value in every chain: the sampler never moved them. */
  readonly unmoved?: string[];
  /** Where an `ascent` start ended at a mode that no chain visited: the warning (see `mode-check.ts`). */
  readonly hiddenMode?: string;
  /**
   * With `init: 'ascent'`: the figures of the check behind {@link HMCDiagnostics.hiddenMode} (`mode-check.ts`): the
   * candidates' ascent ends, those that settled at a mode, those of them that no draw went near (warned), and the
   * largest spread of a settled end (its squared distance from the draws' mean, in their sds, over the largest of any
   * draw; the warning fires above 2).
   */
  readonly modeCheck?: { readonly ends: number; readonly settled: number; readonly unvisited: number; readonly maxSpread: number };
}

/** Each chain's starting point from the `init` option: a strategy each chain runs itself, or points made here. */
async function initialPoints<A extends unknown[], R>(m: Model<A, R>, args: A, layout: Layout, init: HMCEngineOptions['init'], chains: number, seed: string | number, method: string, signal?: AbortSignal): Promise<InitStrategy | Float64Array[]> {
  if (init === undefined) return DEFAULT_INIT;
  if (typeof init === 'string' && (INIT_STRATEGIES as readonly string[]).includes(init)) return init as InitStrategy;
  if (typeof init === 'string' && init !== 'prior') throw unknownInitError('nuts/hmc', `'${init}'`);
  const rng = rngFrom(`${seed}/init`);
  const out: Float64Array[] = [];
  // values by address are checked against their sites' supports as they go in, and each must name a latent site
  const given = init === 'prior' ? undefined : withInitValues(m, init as Record<string, ValueLike>, method);
  const model = given?.model ?? m;
  for (let c = 0; c < chains; c++) {
    throwIfAborted(signal, 'MCMC run');
    // the run's tensors are freed with it: only the unconstrained numbers are kept
    out.push(await tidyAsync(async () => unconstrain(layout, (await execute(model, { rng: rng.split() }, ...args)).trace), () => []));
    given?.assertAllUsed();
  }
  return out;
}

/**
 * Constrained values of every draw as one column per site (chains x draws x
 * site size, chain-major), made with one batched bijector call per site.
 * Sites whose support depends on other values are left out: the completion
 * (`complete-draws.ts`) fills them in by running the model.
 */
export function columnsFromSamples(layout: Layout, result: Pick<McmcSamples, 'chains' | 'draws' | 'samples'>): Map<string, DrawColumn> {
  const n = result.draws;
  const total = result.chains * n;
  const dim = layout.dim;
  const out = new Map<string, DrawColumn>();
  for (const s of layout.sites) {
    if (s.dependentSupport) continue;
    if (isIdentityMap(s.bijector)) {
      // the identity's float64 values are the draws themselves: one strided copy per chain (the loop the draw
      // columns already compile), not a call of the per-coordinate map for every value (FIRST6, session 19)
      const data = new Float64Array(total * s.size);
      for (let c = 0; c < result.chains; c++) gatherRows(result.samples[c]!, s.offset, dim, n, s.size, data, c * n * s.size);
      out.set(s.address, { shape: [...s.shape], data });
      continue;
    }
    // an elementwise bijector maps each coordinate in float64 (number parameters, or tensor ones split per coordinate):
    // in float32 a wide interval's middle is a grid of (upper - lower) * 6e-8, which Uniform(-1e8, 1e8) made 12 wide
    const exact = forwardFloat64(s.bijector, s.unconstrainedShape, result, dim, s.offset, s.size);
    if (exact) {
      out.set(s.address, { shape: [...s.shape], data: exact });
      continue;
    }
    // float32, as every other tfjs-side value (a Float32Array store rounds as tfjs does); one strided gather per chain
    const rows = new Float32Array(total * s.size);
    for (let c = 0; c < result.chains; c++) gatherRows(result.samples[c]!, s.offset, dim, n, s.size, rows, c * n * s.size);
    if (s.bijector instanceof IdentityBijector) {
      // the identity needs no tfjs run: the same float32 values
      out.set(s.address, { shape: [...s.shape], data: Float64Array.from(rows) });
      continue;
    }
    // read outside tidy (a typed array returned from tf.tidy is walked element by element)
    const constrained = tf.tidy(() => s.bijector.forward(tf.tensor(rows, [total, ...s.unconstrainedShape])) as tf.Tensor);
    const data = Float64Array.from(constrained.dataSync());
    constrained.dispose();
    out.set(s.address, { shape: [...s.shape], data });
  }
  return out;
}

/** The draws of each site's columns, row by row, for `unmovedSites` (elements that the support fixes left out). */
function columnSites(columns: ReadonlyMap<string, DrawColumn>, fixed: ReadonlyMap<string, ReadonlySet<number>>): SiteDraws[] {
  return [...columns].map(([address, col]) => {
    const data = col.data as ArrayLike<number> & { subarray?: (a: number, b: number) => ArrayLike<number> };
    const width = col.shape.reduce((a, b) => a * b, 1);
    const n = width > 0 ? data.length / width : 0;
    const rows = function* () {
      for (let i = 0; i < n; i++) yield data.subarray ? data.subarray(i * width, (i + 1) * width) : Array.prototype.slice.call(data, i * width, (i + 1) * width);
    };
    return { address, shape: col.shape, rows: rows(), fixed: fixed.get(address) };
  });
}

/**
 * Constrained values of one site's coordinates (chain-major, as
 * {@link columnsFromSamples} stores them) in float64, through the bijector's
 * number path (tensor parameters split per coordinate: `float64-forward.ts`);
 * undefined where it has none (a bijector over a vector event).
 */
function forwardFloat64(bijector: Bijector, shape: readonly number[], result: Pick<McmcSamples, 'chains' | 'draws' | 'samples'>, dim: number, offset: number, size: number): Float64Array | undefined {
  const forward = coordinateForward(bijector, shape);
  if (!forward) return undefined;
  const out = new Float64Array(result.chains * result.draws * size);
  let k = 0;
  for (let c = 0; c < result.chains; c++) {
    const q = result.samples[c]!;
    for (let i = 0; i < result.draws; i++) {
      for (let j = 0; j < size; j++) out[k++] = forward(q[i * dim + offset + j]!, j);
    }
  }
  return out;
}

/**
 * Constrained values of every draw as per-draw records (a tensor per draw of
 * each non-scalar site), for engines that add per-draw values (HMC within
 * Gibbs, tempered SMC). Sites whose support depends on other values are left
 * out, as in {@link columnsFromSamples}.
 */
export function drawsFromSamples<R>(layout: Layout, result: Pick<McmcSamples, 'chains' | 'draws' | 'samples'>): Draw<R>[] {
  return materialiseDraws<R>({ size: result.chains * result.draws, chains: result.chains, columns: columnsFromSamples(layout, result) });
}

/** Draw i (chain-major) of a run: its unconstrained vector. */
export function pointOf(result: McmcSamples): (i: number) => Float64Array {
  return (i) => {
    const at = (i % result.draws) * result.dim;
    return result.samples[Math.floor(i / result.draws)]!.subarray(at, at + result.dim);
  };
}

/** The posterior's diagnostics from a run's statistics (`maxTreeDepth` for NUTS, undefined for static HMC). */
export function hmcDiagnostics(result: McmcSamples, layout: Layout, maxTreeDepth: number | undefined, vectorized: true | string): HMCDiagnostics {
  let divergences = 0;
  let acc = 0;
  let depthHits = 0;
  const divergencesPerChain = result.stats.map((s) => s.divergent.reduce((a, b) => a + b, 0));
  for (const s of result.stats) {
    divergences += s.divergent.reduce((a, b) => a + b, 0);
    acc += s.acceptStat.reduce((a, b) => a + b, 0);
    if (maxTreeDepth !== undefined) depthHits += s.treeDepth.reduce((a, d) => a + (d >= maxTreeDepth ? 1 : 0), 0);
  }
  return {
    divergences,
    divergencesPerChain,
    meanAcceptStat: acc / (result.chains * result.draws),
    maxTreeDepthHits: depthHits,
    stepSize: result.stepSize,
    gradientEvaluations: result.gradientEvaluations.reduce((a, b) => a + b, 0),
    gradientEvaluationsPerChain: [...result.gradientEvaluations],
    gradientCalls: result.vectorised ? Math.max(...result.gradientEvaluations) : result.gradientEvaluations.reduce((a, b) => a + b, 0),
    warmup: result.warmup,
    samplingMs: result.timing.samplingMs,
    warmupMs: result.timing.warmupMs,
    vectorized,
    stats: result.stats,
    names: layout.names,
    metric: [...result.metricKind],
    metricChoice: describeMetricChoice(result.metricKind, result.metricDecision),
  };
}

export { describeMetricChoice };

/** NUTS or static HMC on a model. */
export async function hmcEngine<A extends unknown[], R>(m: Model<A, R>, options: Omit<HMCEngineOptions, 'method'> & { method: 'nuts' | 'hmc' }, args: A): Promise<Posterior<A, R>> {
  const started = performance.now();
  const chains = options.chains ?? 4;
  const seed = options.seed ?? 0;
  // the set-up's phases (probe, initial points, recording and compiling the density) await only microtasks:
  // between them, yield to the event loop when due and honour the signal; evaluations that answer with a
  // promise (the model on tfjs: ms each, far more under load) check it each, where the sampler reads the
  // clock every 8th (a compiled replay answers at once and is not touched)
  const pacer = options.signal ? new Pacer(options.signal) : undefined;
  // infer's numbers-versus-tensors check, where infer left it to this engine: settled with the compiled record's replay
  // once there is one (below); the paths that make none (workers, compile: false, sequential chains) settle it first
  const check = branchCheckOf(options);
  if (options.workers !== undefined || options.compile === false || options.vectorize === false) await check?.settle();
  const layout = await layoutOnly(m, args, rngFrom(`${seed}/probe`));
  if (layout.dim === 0) throw new TycheError(`${options.method}: the model has no latent sites to sample`);
  refuseSubsample(layout, options.method);
  await pacer?.pause();
  const init = await initialPoints(m, args, layout, options.init, chains, seed, options.method, options.signal);
  await pacer?.pause();
  const common = {
    dim: layout.dim,
    chains,
    warmup: options.warmup ?? 1000,
    draws: options.samples ?? 1000,
    seed, // the raw seed: each sampler call starts the chain streams afresh (a failed batched attempt must not shift them)
    init,
    ...(options.targetAccept !== undefined ? { targetAccept: options.targetAccept } : {}),
    massMatrix: options.massMatrix ?? 'auto',
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  };
  const nuts = options.method === 'nuts';
  const kernelOpts = nuts
    ? { ...(options.maxTreeDepth !== undefined ? { maxTreeDepth: options.maxTreeDepth } : {}) }
    : {
        ...(options.numSteps !== undefined ? { numSteps: options.numSteps } : {}),
        ...(options.integrationTime !== undefined ? { integrationTime: options.integrationTime } : {}),
        ...(options.jitter !== undefined ? { jitter: options.jitter } : {}),
      };

  let vectorized: true | string = 'not requested';
  let result: McmcSamples | undefined;
  const compile = options.compile ?? 'auto';
  let compileStatus = (): true | string => 'not used';
  let compileStats = (): CompileStats | undefined => undefined;
  /** The vectorised replay's record and the completion's values in its run, where the chains ran on it. */
  let replayedOutputs: (() => ReplayedDensity['outputs']) | undefined;
  if (options.workers !== undefined) {
    if (options.vectorize === true) throw new Error(`${options.method}: workers run chains one after another in each thread; drop vectorize: true`);
    const { warmup, draws } = common;
    const sampler = { warmup, draws, ...(options.targetAccept !== undefined ? { targetAccept: options.targetAccept } : {}), massMatrix: options.massMatrix ?? 'auto', ...kernelOpts };
    const run = await sampleInWorkers(options.workers, { method: options.method, args, seed, chains, dim: layout.dim, names: layout.names, conditioned: conditionedAddresses(m), init, sampler, compile, ...(options.onProgress ? { onProgress: options.onProgress } : {}), ...(options.signal ? { signal: options.signal } : {}) });
    result = run;
    // the workers' runs count for infer's check that each condition() address was reached (some only run there)
    recordConditionVisits(m, run.conditionVisits);
    compileStatus = () => run.compiled;
    compileStats = () => run.compileStats;
    vectorized = 'not vectorized: chains ran on worker threads';
  }
  let chainsPath: string | undefined;
  if (!result && options.vectorize !== false) {
    // one batched evaluation decides how the chains run together (vectorised-chains.ts)
    const chosen = await vectorisedChains(m, args, layout, chains, compile, typeof init === 'string' ? new Float64Array(chains * layout.dim) : Float64Array.from(init.flatMap((q) => [...q])));
    // the record's replay stands in for the check's tensor runs (a record is a tensor run; see infer/branch-check.ts)
    await check?.settle(chosen.replayed?.());
    await pacer?.pause();
    compileStatus = chosen.compileStatus;
    compileStats = chosen.compileStats;
    try {
      if (!chosen.target) throw new TycheError(chosen.vectorized as string);
      const batched = pacer ? pacedAnswers(chosen.target, pacer) : chosen.target;
      result = nuts ? await sampleNutsBatched(batched, { ...common, ...kernelOpts }) : await sampleHmcBatched(batched, { ...common, ...kernelOpts });
      vectorized = true;
      replayedOutputs = () => chosen.replayed?.()?.outputs;
      chainsPath = CHAINS_PATH_NOTE[chosen.path!];
    } catch (err) {
      if (options.vectorize === true || options.signal?.aborted) throw err;
      vectorized = chosen.target ? `fell back to sequential chains: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}` : chosen.vectorized;
    }
  }
  if (!result) {
    await check?.settle();
    const single = logDensityFn(m, args, layout, { compile });
    compileStatus = single.compileStatus;
    compileStats = single.compileStats;
    // the compiled replay answers synchronously where it serves the point: no await per gradient
    const answer = (q: Float64Array): MaybePromise<LogDensityAndGradient> => single.sync(q) ?? single(q);
    const target = pacer ? pacedAnswers(answer, pacer) : answer;
    result = nuts ? await sampleNuts(target, { ...common, ...kernelOpts }) : await sampleHmc(target, { ...common, ...kernelOpts });
  }
  // batched completion (checked against a per-draw run, falling back to per-draw runs) where the chains ran
  // vectorised or the model compiled (a fixed structure): per-draw runs cost a model run per draw
  const sampled = performance.now();
  const batchedCompletion = vectorized === true || compileStatus() === true;
  const fixed = { size: result.chains * result.draws, chains: result.chains, columns: columnsFromSamples(layout, result) };
  const unmoved = unmovedSites(columnSites(fixed.columns, fixedByConstraint(layout)));
  const record = compileStatus() === true ? replayedOutputs?.() : undefined;
  const completed = await completeColumns(m, args, layout, pointOf(result), fixed, { batched: batchedCompletion, compiled: compileStatus() === true, ...(record ? { record } : {}), ...(options.signal ? { signal: options.signal } : {}) });
  const stats = compileStats();
  const initNote = typeof init === 'string' ? describeInit(init) : options.init === 'prior' ? 'prior (a prior draw per chain)' : 'values (given by address)';
  // a mode that an ascent start found and no chain visited (mode-check.ts; read into the warnings by warnings.ts)
  const modes = ascentModeCheck(result, layout.names);
  const diagnostics = { ...hmcDiagnostics(result, layout, nuts ? (options.maxTreeDepth ?? 10) : undefined, vectorized), ...(unmoved.length > 0 ? { unmoved } : {}), ...modes, init: initNote, compiled: compileStatus(), ...(stats ? { compileStats: stats } : {}), ...(chainsPath ? { chainsPath } : {}) };
  const note = compileNote(compileStatus(), stats);
  const phases = { setupMs: sampled - started - result.timing.totalMs, completionMs: performance.now() - sampled };
  const drawsOrColumns = Array.isArray(completed) ? { draws: completed } : { columns: completed };
  return new Posterior({ method: options.method, ...drawsOrColumns, diagnostics: { ...diagnostics, ...phases } as unknown as Record<string, unknown>, model: m, args, ...(note ? { notes: [note] } : {}) });
}

/**
 * A summary line when a compiled log density missed: the share of
 * evaluations that ran on tfjs (slower, and a sign that validity guards
 * flip, e.g. at support boundaries), and why.
 */
export function compileNote(status: true | string, stats: CompileStats | undefined): string | undefined {
  if (status !== true || stats === undefined || stats.viaTfjs === 0) return undefined;
  const why = Object.entries(stats.reasons).sort((a, b) => b[1] - a[1]).map(([r, n]) => `${r}: ${n}`).join(', ');
  const pct = ((100 * stats.viaTfjs) / stats.evaluations).toPrecision(2);
  return `compiled log density: ${stats.viaTfjs} of ${stats.evaluations} evaluations (${pct}%) ran on tfjs (${why})`;
}

const OPTIONS = ['chains', 'warmup', 'samples', 'vectorize', 'compile', 'init', 'targetAccept', 'maxTreeDepth', 'massMatrix', 'onProgress', 'signal', 'workers'];

registerEngine<HMCEngineOptions & { method: 'nuts' }>({
  name: 'nuts',
  options: OPTIONS,
  description: 'the No-U-Turn Sampler with Stan-style warmup (step size and mass matrix), many chains, vectorised where the model allows',
  run: (m, options, args) => hmcEngine(m, options, args),
});

registerEngine<HMCEngineOptions & { method: 'hmc' }>({
  name: 'hmc',
  options: [...OPTIONS.filter((o) => o !== 'maxTreeDepth'), 'numSteps', 'integrationTime', 'jitter'],
  description: 'static Hamiltonian Monte Carlo with Stan-style warmup',
  run: (m, options, args) => hmcEngine(m, options, args),
});
