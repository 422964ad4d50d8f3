/**
 * Entry points: run K chains of NUTS or static HMC on a log-density target
 * and collect their draws and sampler statistics.
 *
 * - {@link sampleNuts} / {@link sampleHmc} take a single-point target and run
 *   the chains one after the other.
 * - {@link sampleNutsBatched} / {@link sampleHmcBatched} take a batched target
 *   and advance all chains together: every chain keeps its own trajectory
 *   (NUTS trees differ per chain) and its own adaptation, and each round asks
 *   the target once for the gradients of all chains (K = chains rows; see
 *   {@link BatchOptions.fixedBatch}). Chains never wait for each other's
 *   iterations, so every row is useful work until chains start to finish.
 *
 * Both give identical draws for the same seed and options when the two
 * targets compute the same numbers: each chain draws from its own split of
 * the seeded stream.
 *
 * Runs are asynchronous: they yield to the event loop every few milliseconds
 * so that an `AbortSignal` (or anything else) gets a turn, and targets may
 * answer with promises.
 *
 * @module
 */
import { throwIfInterrupted } from '../kernel-interrupt.js';
import { PACE_INTERVAL_MS, abortReason, yieldToEventLoop } from '../pace.js';
import { type Rng, type Seed, rngFrom } from '../../core/rng.js';
import type { DualAveragingOptions, WindowOptions } from './adaptation.js';
import type { ChainConfig, ChainOutput, ChainProgress, SamplerStats } from './chain.js';
import { ChainDriver } from './chain-driver.js';
import { type AscentEnd, DEFAULT_INIT_SETTINGS, INIT_STRATEGIES, type InitStrategy } from './initialise.js';
import { HmcKernel, type HmcKernelOptions } from './hmc.js';
import type { HamiltonianKernel } from './kernel.js';
import { EuclideanMetric, type MetricKind } from './metric.js';
import { MASS_MATRIX_OPTIONS, type MassMatrixOption, type MetricChoiceOptions, type MetricDecision } from './metric-choice.js';
import { NutsKernel, type NutsKernelOptions } from './nuts.js';
import {
  type BatchedLogDensityAndGradient,
  type BatchedLogDensityTarget,
  type LogDensityTarget,
  checkBatchedLogDensityAndGradient,
  checkLogDensityAndGradient,
} from './target.js';

/** Progress of a run, passed to `onProgress`. */
export interface McmcProgress {
  /** Iterations finished over all chains (warmup included). */
  readonly completed: number;
  /** Iterations in all: chains x (warmup + draws). */
  readonly total: number;
  /** Each chain's progress. */
  readonly chains: readonly Readonly<ChainProgress>[];
  /** Milliseconds since the run started. */
  readonly elapsedMs: number;
}

/** Options shared by every sampler. */
export interface SamplerOptions extends DualAveragingOptions, WindowOptions {
  /** Dimension D of the (unconstrained) space. Required. */
  readonly dim: number;
  /** Number of chains; default 4. */
  readonly chains?: number;
  /** Warmup (adaptation) iterations per chain, not returned; default 1000. */
  readonly warmup?: number;
  /** Draws kept per chain; default 1000. */
  readonly draws?: number;
  /** Seed or stream; each chain gets its own split. Default: from the clock. */
  readonly seed?: Seed | Rng;
  /**
   * Starting points: one Float64Array of length D per chain, or a strategy
   * run by each chain on its own stream (see `initialise.ts`): `'uniform'`
   * (default here, Stan's: uniform in [-initRadius, initRadius]^D, retried
   * until the log density and gradient are finite), `'best-of-uniform'`, or
   * `'ascent'` (uniform starts moved uphill by a few L-BFGS steps, the best
   * kept; `infer`'s default).
   */
  readonly init?: readonly Float64Array[] | InitStrategy;
  /** Half-width of the uniform initialisation box; default 2. */
  readonly initRadius?: number;
  /**
   * Mass matrix: `'diag'` (default), `'dense'`, `'lowrank'` (diagonal plus
   * a few fitted directions; see `metric-lowrank.ts`), `'identity'`, or
   * `'auto'` (diagonal, turned dense at the end of a warmup window whose
   * draws show correlations well beyond sampling noise, or low-rank above
   * the dense cap; see `metric-choice.ts`).
   */
  readonly massMatrix?: MassMatrixOption;
  /** Settings of the `'auto'` choice. */
  readonly metricChoice?: MetricChoiceOptions;
  /** Initial inverse mass matrix (length D for diag, D*D row-major for dense, packed for lowrank: see `metric-lowrank.ts`); default identity. */
  readonly initialInverseMetric?: Float64Array;
  /** Initial step size (where the heuristic starts when adapting); default 1. */
  readonly stepSize?: number;
  /** Adapt the step size during warmup; default true. */
  readonly adaptStepSize?: boolean;
  /** Adapt the mass matrix during warmup; default true (never for identity). */
  readonly adaptMassMatrix?: boolean;
  /** Energy error counted as a divergence; default 1000. */
  readonly maxEnergyError?: number;
  /** Also return the warmup draws and statistics; default false. */
  readonly saveWarmup?: boolean;
  /** Called with the run's progress about every `progressIntervalMs`, and once at the end. */
  readonly onProgress?: (progress: McmcProgress) => void;
  /** Minimum milliseconds between `onProgress` calls; default 200. */
  readonly progressIntervalMs?: number;
  /** Stops the run: the returned promise rejects with the signal's reason. */
  readonly signal?: AbortSignal;
}

/** NUTS options. */
export interface NutsOptions extends SamplerOptions {
  /** Maximum tree depth; default 10. */
  readonly maxTreeDepth?: number;
}

/** Static HMC options. */
export interface HmcOptions extends SamplerOptions, Omit<HmcKernelOptions, 'maxEnergyError'> {}

/** Options of the vectorised-chain samplers. */
export interface BatchOptions {
  /**
   * Always send every chain's row to the batched target (K = chains on every
   * call), repeating the last position of chains that have finished, so the
   * batch shape never changes; default true. With `false`, only the chains
   * still running are sent (K shrinks as chains finish), which saves work
   * when a gradient costs in proportion to K and the target accepts any K.
   */
  readonly fixedBatch?: boolean;
}

/** Wall-clock time spent, split by phase. */
export interface McmcTiming {
  /** Initialisation and warmup, in milliseconds. */
  readonly warmupMs: number;
  /** Sampling (the kept draws), in milliseconds. */
  readonly samplingMs: number;
  /** The whole run, in milliseconds. */
  readonly totalMs: number;
}

/** The result of a run. */
export interface McmcSamples {
  /** `nuts` or `hmc`. */
  readonly method: string;
  /** True for the vectorised-chain samplers. */
  readonly vectorised: boolean;
  readonly dim: number;
  readonly chains: number;
  readonly warmup: number;
  readonly draws: number;
  /** Per chain: draws x D row-major; draw i of chain c is `samples[c].subarray(i * dim, (i + 1) * dim)`. */
  readonly samples: Float64Array[];
  /** Per chain: per-draw sampler statistics. */
  readonly stats: SamplerStats[];
  /** Per chain: warmup draws (when `saveWarmup`). */
  readonly warmupSamples?: Float64Array[];
  /** Per chain: warmup statistics (when `saveWarmup`). */
  readonly warmupStats?: SamplerStats[];
  /** Per chain: the adapted step size. */
  readonly stepSize: number[];
  /** Per chain: the adapted inverse mass matrix (length D, or D*D for dense). */
  readonly inverseMetric: Float64Array[];
  /** Per chain: the metric's shape after warmup (with `'auto'`, the one chosen). */
  readonly metricKind: MetricKind[];
  /** Per chain, with `'auto'`: the last choice and its evidence. */
  readonly metricDecision?: (MetricDecision | undefined)[];
  /** Per chain: log-density-and-gradient evaluations, warmup included. */
  readonly gradientEvaluations: number[];
  readonly timing: McmcTiming;
  /** Per chain, with `init: 'ascent'`: where each candidate's ascent ended (see `mode-check.ts`). */
  readonly initEnds?: AscentEnd[][];
}

/** Runs NUTS on a single-point target, chains one after the other. */
export function sampleNuts(target: LogDensityTarget, options: NutsOptions): Promise<McmcSamples> {
  return runSequential(sameTarget(target), options, nutsKernel(options));
}

/** Runs static HMC on a single-point target, chains one after the other. */
export function sampleHmc(target: LogDensityTarget, options: HmcOptions): Promise<McmcSamples> {
  return runSequential(sameTarget(target), options, hmcKernel(options));
}

/**
 * What one chain of {@link sampleNutsPerChain} / {@link sampleHmcPerChain}
 * runs on: its own target, which may change between transitions (the hook
 * then re-evaluates the position; see `ChainConfig.beforeTransition`).
 */
export interface ChainTarget {
  /** The chain's log density and gradient. */
  readonly target: LogDensityTarget;
  /** Run before each transition; returns the (re-evaluated) position to move from. */
  readonly beforeTransition?: ChainConfig['beforeTransition'];
}

/** Runs NUTS chains one after the other, chain c on the target `setup(c)` gives (e.g. HMC within Gibbs). */
export function sampleNutsPerChain(setup: (chain: number) => ChainTarget | Promise<ChainTarget>, options: NutsOptions): Promise<McmcSamples> {
  return runSequential(setup, options, nutsKernel(options));
}

/** Runs static HMC chains one after the other, chain c on the target `setup(c)` gives. */
export function sampleHmcPerChain(setup: (chain: number) => ChainTarget | Promise<ChainTarget>, options: HmcOptions): Promise<McmcSamples> {
  return runSequential(setup, options, hmcKernel(options));
}

function sameTarget(target: LogDensityTarget): () => ChainTarget {
  if (typeof target !== 'function') throw new TypeError('mcmc: the target must be a function q => { logp, grad }');
  const chainTarget = { target };
  return () => chainTarget;
}

/** Runs NUTS on a batched target, all chains advanced together. */
export function sampleNutsBatched(
  target: BatchedLogDensityTarget,
  options: NutsOptions & BatchOptions,
): Promise<McmcSamples> {
  return runBatched(target, options, nutsKernel(options));
}

/** Runs static HMC on a batched target, all chains advanced together. */
export function sampleHmcBatched(
  target: BatchedLogDensityTarget,
  options: HmcOptions & BatchOptions,
): Promise<McmcSamples> {
  return runBatched(target, options, hmcKernel(options));
}

function nutsKernel(options: NutsOptions): NutsKernel {
  return new NutsKernel({
    ...(options.maxTreeDepth !== undefined ? { maxTreeDepth: options.maxTreeDepth } : {}),
    ...(options.maxEnergyError !== undefined ? { maxEnergyError: options.maxEnergyError } : {}),
  });
}

function hmcKernel(options: HmcOptions): HmcKernel {
  const { numSteps, integrationTime, jitter, maxSteps, maxEnergyError } = options;
  return new HmcKernel({
    ...(numSteps !== undefined ? { numSteps } : {}),
    ...(integrationTime !== undefined ? { integrationTime } : {}),
    ...(jitter !== undefined ? { jitter } : {}),
    ...(maxSteps !== undefined ? { maxSteps } : {}),
    ...(maxEnergyError !== undefined ? { maxEnergyError } : {}),
  });
}

/** Validated run settings and the per-chain configurations. */
interface RunPlan {
  readonly dim: number;
  readonly chains: number;
  readonly warmup: number;
  readonly draws: number;
  readonly configs: ChainConfig[];
}

function checkCount(name: string, v: number, min: number): number {
  if (!Number.isInteger(v) || v < min) throw new RangeError(`mcmc: ${name} must be an integer >= ${min}, got ${v}`);
  return v;
}

function plan(options: SamplerOptions, kernel: HamiltonianKernel): RunPlan {
  if (options === null || typeof options !== 'object') throw new TypeError('mcmc: options are required ({ dim, ... })');
  const dim = checkCount('dim', options.dim, 1);
  const chains = checkCount('chains', options.chains ?? 4, 1);
  const warmup = checkCount('warmup', options.warmup ?? 1000, 0);
  const draws = checkCount('draws', options.draws ?? 1000, 1);
  const metric = options.massMatrix ?? 'diag';
  if (!MASS_MATRIX_OPTIONS.includes(metric)) {
    throw new RangeError(`mcmc: massMatrix must be one of ${MASS_MATRIX_OPTIONS.join(', ')}, got ${String(metric)}`);
  }
  const stepSize = options.stepSize ?? 1;
  if (!(stepSize > 0) || !Number.isFinite(stepSize)) {
    throw new RangeError(`mcmc: stepSize must be positive and finite, got ${stepSize}`);
  }
  const initRadius = options.initRadius ?? 2;
  if (!(initRadius >= 0) || !Number.isFinite(initRadius)) {
    throw new RangeError(`mcmc: initRadius must be non-negative and finite, got ${initRadius}`);
  }
  const init = options.init ?? 'uniform';
  if (typeof init === 'string') {
    if (!INIT_STRATEGIES.includes(init)) throw new RangeError(`mcmc: init must be one of ${INIT_STRATEGIES.map((x) => `'${x}'`).join(', ')} or an array of ${chains} Float64Array, got '${init}'`);
  } else {
    if (!Array.isArray(init) || init.length !== chains) {
      throw new RangeError(`mcmc: init must be one of ${INIT_STRATEGIES.map((x) => `'${x}'`).join(', ')} or an array of ${chains} Float64Array (one per chain)`);
    }
    init.forEach((x, c) => {
      if (!(x instanceof Float64Array) || x.length !== dim) {
        throw new RangeError(`mcmc: init[${c}] must be a Float64Array of length dim = ${dim}`);
      }
    });
  }
  if (options.initialInverseMetric !== undefined) {
    new EuclideanMetric(metric === 'auto' ? 'diag' : metric, dim, options.initialInverseMetric); // throws a clear error on a bad shape or value
  }
  const rngs = rngFrom(options.seed).splitN(chains);
  const configs: ChainConfig[] = [];
  for (let c = 0; c < chains; c++) {
    configs.push({
      ...pickAdaptation(options),
      chain: c,
      dim,
      warmup,
      draws,
      kernel,
      metric,
      ...(options.metricChoice !== undefined ? { metricChoice: options.metricChoice } : {}),
      ...(options.initialInverseMetric !== undefined ? { initialInverseMetric: options.initialInverseMetric } : {}),
      stepSize,
      adaptStepSize: options.adaptStepSize ?? true,
      adaptMetric: options.adaptMassMatrix ?? true,
      init: typeof init === 'string' ? init : init[c]!,
      initSettings: { ...DEFAULT_INIT_SETTINGS, radius: initRadius },
      initEnds: [],
      saveWarmup: options.saveWarmup ?? false,
      rng: rngs[c]!,
      progress: { completed: 0, total: warmup + draws, phase: 'init' },
    });
  }
  return { dim, chains, warmup, draws, configs };
}

function pickAdaptation(o: SamplerOptions): DualAveragingOptions & WindowOptions {
  const out: { -readonly [K in keyof (DualAveragingOptions & WindowOptions)]?: number } = {};
  for (const key of ['targetAccept', 'gamma', 't0', 'kappa', 'initBuffer', 'termBuffer', 'baseWindow'] as const) {
    if (o[key] !== undefined) out[key] = o[key];
  }
  return out;
}

const now = (): number => performance.now();

/** Event-loop yielding, abort checks, progress reports and phase timing for a run. */
class RunMonitor {
  private readonly start = now();
  private last = this.start;
  private nextYield = this.start + PACE_INTERVAL_MS;
  private nextProgress: number;
  private warmupMs = 0;
  private samplingMs = 0;

  constructor(
    private readonly options: SamplerOptions,
    private readonly progress: readonly ChainProgress[],
  ) {
    this.nextProgress = this.start + (options.progressIntervalMs ?? 200);
    this.throwIfAborted();
  }

  throwIfAborted(): void {
    const signal = this.options.signal;
    if (signal?.aborted) throw abortReason(signal, 'MCMC run');
    throwIfInterrupted();
  }

  /** Gradient evaluations since the clock was last read. */
  private ticks = 0;

  /**
   * Called once per gradient evaluation (one batched call or one chain's):
   * every 8th call charges the time since the clock was last read (see
   * {@link RunMonitor.settle}), as a clock read costs about as much as a
   * leapfrog step's bookkeeping.
   */
  account(active: readonly number[]): void {
    if ((++this.ticks & 7) === 0) this.settle(active);
  }

  /** Charges the time since the clock was last read to the phases of the chains in `active`. */
  settle(active: readonly number[]): void {
    this.ticks = 0;
    const t = now();
    const dt = t - this.last;
    this.last = t;
    let sampling = 0;
    // (an addition made every time: code first reached mid-run would make V8 recompile the caller)
    for (const c of active) sampling += this.progress[c]!.phase === 'sampling' ? 1 : 0;
    // (a double division from the start: a share that is 0 through warmup would be compiled as an integer one)
    const toSampling = active.length === 0 ? 0 : (dt * sampling) / active.length;
    this.samplingMs += toSampling;
    this.warmupMs += dt - toSampling;
  }

  /** True when it is time to yield to the event loop or report progress. */
  due(): boolean {
    return this.last >= this.nextYield || this.last >= this.nextProgress;
  }

  /** Yields to the event loop, then checks the signal and reports progress when due. */
  async pause(): Promise<void> {
    if (this.last >= this.nextProgress) {
      this.report();
      this.nextProgress = this.last + (this.options.progressIntervalMs ?? 200);
    }
    if (this.last >= this.nextYield) {
      await yieldToEventLoop();
      this.last = now(); // time spent away is nobody's
      this.nextYield = this.last + PACE_INTERVAL_MS;
    }
    this.throwIfAborted();
  }

  report(): void {
    const cb = this.options.onProgress;
    if (cb === undefined) return;
    let completed = 0;
    let total = 0;
    for (const p of this.progress) {
      completed += p.completed;
      total += p.total;
    }
    cb({ completed, total, chains: this.progress.map((p) => ({ ...p })), elapsedMs: now() - this.start });
  }

  timing(): McmcTiming {
    return { warmupMs: this.warmupMs, samplingMs: this.samplingMs, totalMs: now() - this.start };
  }
}

/** `q[offset .. offset + x.length) = x` (a loop: `set` from a plain array cost more for rows of a few numbers). */
function writeRow(q: Float64Array, offset: number, x: readonly number[]): void {
  for (let i = 0; i < x.length; i++) q[offset + i] = x[i]!;
}

function isPromise<T>(x: T | Promise<T>): x is Promise<T> {
  return typeof (x as { then?: unknown } | null)?.then === 'function';
}

async function runSequential(
  setup: (chain: number) => ChainTarget | Promise<ChainTarget>,
  options: SamplerOptions,
  kernel: HamiltonianKernel,
): Promise<McmcSamples> {
  const p = plan(options, kernel);
  const monitor = new RunMonitor(options, p.configs.map((c) => c.progress));
  const outputs: ChainOutput[] = [];
  const evals: number[] = new Array<number>(p.chains).fill(0);
  const q = new Float64Array(p.dim);
  const logp = new Float64Array(1);
  for (let c = 0; c < p.chains; c++) {
    const raw = setup(c);
    const { target, beforeTransition } = isPromise(raw) ? await raw : raw;
    const chain = new ChainDriver(beforeTransition === undefined ? p.configs[c]! : { ...p.configs[c]!, beforeTransition });
    const active = [c];
    for (let at = chain.pending; at !== null; at = chain.pending ?? chain.startDueSearch()) {
      writeRow(q, 0, at);
      const raw = target(q);
      const answer = checkLogDensityAndGradient(isPromise(raw) ? await raw : raw, p.dim);
      evals[c] += 1;
      monitor.account(active);
      logp[0] = answer.logp;
      chain.answer(logp, answer.grad, 0);
      if (monitor.due()) await monitor.pause();
    }
    monitor.settle(active);
    outputs.push(chain.output!);
  }
  monitor.report();
  return collect(kernel.name, false, p, outputs, evals, monitor.timing());
}

async function runBatched(
  target: BatchedLogDensityTarget,
  options: SamplerOptions & BatchOptions,
  kernel: HamiltonianKernel,
): Promise<McmcSamples> {
  if (typeof target !== 'function') {
    throw new TypeError('mcmc: the batched target must be a function q => { logp, grad }');
  }
  const p = plan(options, kernel);
  const monitor = new RunMonitor(options, p.configs.map((c) => c.progress));
  const run = new BatchedChains(p, options.fixedBatch ?? true, target, monitor);
  while (!run.finished) {
    const waiting = run.rounds();
    if (waiting !== null) run.take(await waiting);
    if (run.chainFinished) run.listFinished();
    if (monitor.due()) await monitor.pause();
  }
  monitor.report();
  return collect(kernel.name, true, p, run.drivers.map((d) => d.output!), run.evals, monitor.timing());
}

/** Rounds per {@link BatchedChains.rounds} call. */
const ROUNDS_PER_CALL = 16;

/**
 * The chains of a vectorised run and their rounds: each round asks the
 * batched target once for the rows of the chains (all of them with
 * `fixedBatch`, else those still running) and hands each chain its answer.
 * The rounds run in one synchronous loop ({@link BatchedChains.rounds}) while
 * the target answers at once, so V8 optimises a small plain function early
 * rather than the async driver around it.
 */
class BatchedChains {
  /** One driver per chain (NUTS transitions run on each chain's own trajectory machine, advanced here once per leapfrog step). */
  readonly drivers: ChainDriver[];
  /** Gradient evaluations per chain. */
  readonly evals: number[];
  /** The chains still running, listed again only when one finishes. */
  private readonly active: number[] = [];
  private q: Float64Array;
  private readonly dim: number;
  private readonly chains: number;

  constructor(
    p: RunPlan,
    private readonly fixed: boolean,
    private readonly target: BatchedLogDensityTarget,
    private readonly monitor: RunMonitor,
  ) {
    this.dim = p.dim;
    this.chains = p.chains;
    this.drivers = p.configs.map((cfg) => new ChainDriver(cfg));
    this.evals = new Array<number>(p.chains).fill(0);
    this.q = new Float64Array(p.chains * p.dim);
    this.listActive();
  }

  /** Whether every chain has finished. */
  get finished(): boolean {
    return this.active.length === 0;
  }

  /**
   * Runs up to {@link ROUNDS_PER_CALL} rounds, fewer when every chain has
   * finished, a chain finishes, a pause is due, or the target answers with
   * a promise (returned: hand its answer to {@link BatchedChains.take});
   * null otherwise. (Short calls: V8 then optimises this function once,
   * for calls, instead of first on the stack inside one long loop and again
   * for the next call, ~50 ms of compiler time on a first run.)
   */
  rounds(): Promise<BatchedLogDensityAndGradient> | null {
    for (let k = 0; k < ROUNDS_PER_CALL && this.active.length > 0; k++) {
      const raw = this.target(this.ask());
      if (isPromise(raw)) return raw;
      this.take(raw);
      if (this.chainFinished || this.monitor.due()) return null;
    }
    return null;
  }

  /**
   * Whether a chain finished, or a chain's metric window ended, in the last
   * {@link BatchedChains.take}: the driver then calls
   * {@link BatchedChains.listFinished} (outside the hot loop, where a
   * first-reached call would make V8 recompile it).
   */
  chainFinished = false;

  /**
   * Charges the time so far to the chains that ran it, starts the step-size
   * searches that metric windows' ends left due (see `ChainDriver.searchDue`:
   * such a chain's `pending` is null too) and lists the chains still running.
   */
  listFinished(): void {
    this.chainFinished = false;
    this.monitor.settle(this.active);
    for (const d of this.drivers) if (d.pending === null) d.startDueSearch();
    this.listActive();
  }

  /** Writes the rows of this round into the batch; returns it. */
  private ask(): Float64Array {
    const { dim, active, drivers } = this;
    const rows = this.fixed ? this.chains : active.length;
    if (this.q.length !== rows * dim) this.q = new Float64Array(rows * dim); // the batch shrinks as chains finish (fixedBatch false)
    const q = this.q;
    if (this.fixed) {
      // a finished chain repeats its last row; a running chain's last row is the one pending
      for (let c = 0; c < this.chains; c++) writeRow(q, c * dim, drivers[c]!.last);
    } else for (let i = 0; i < active.length; i++) writeRow(q, i * dim, drivers[active[i]!]!.last);
    return q;
  }

  /** Hands each running chain its answer from the target's answer to the last {@link BatchedChains.ask}. */
  take(raw: BatchedLogDensityAndGradient): void {
    const { active, drivers } = this;
    const answer = checkBatchedLogDensityAndGradient(raw, this.fixed ? this.chains : active.length, this.dim);
    this.monitor.account(active);
    let finished = false;
    for (let i = 0; i < active.length; i++) {
      const c = active[i]!;
      this.evals[c] += 1;
      const d = drivers[c]!;
      d.answer(answer.logp, answer.grad, this.fixed ? c : i);
      finished ||= d.pending === null;
    }
    this.chainFinished = finished;
  }

  private listActive(): void {
    this.active.length = 0;
    for (let c = 0; c < this.chains; c++) if (this.drivers[c]!.pending !== null) this.active.push(c);
  }
}

function collect(
  method: string,
  vectorised: boolean,
  p: RunPlan,
  outputs: ChainOutput[],
  gradientEvaluations: number[],
  timing: McmcTiming,
): McmcSamples {
  const saved = outputs.every((o) => o.warmupSamples !== undefined && o.warmupStats !== undefined);
  return {
    method,
    vectorised,
    dim: p.dim,
    chains: p.chains,
    warmup: p.warmup,
    draws: p.draws,
    samples: outputs.map((o) => o.samples),
    stats: outputs.map((o) => o.stats),
    ...(saved && p.warmup > 0
      ? { warmupSamples: outputs.map((o) => o.warmupSamples!), warmupStats: outputs.map((o) => o.warmupStats!) }
      : {}),
    stepSize: outputs.map((o) => o.stepSize),
    inverseMetric: outputs.map((o) => o.inverseMetric),
    metricKind: outputs.map((o) => o.metricKind),
    ...(outputs.some((o) => o.metricDecision !== undefined) ? { metricDecision: outputs.map((o) => o.metricDecision) } : {}),
    gradientEvaluations,
    timing,
    ...(p.configs.some((c) => c.initEnds !== undefined && c.initEnds.length > 0) ? { initEnds: p.configs.map((c) => c.initEnds ?? []) } : {}),
  };
}
