/**
 * One MCMC chain's state and bookkeeping: its start (an initial point and
 * step size, as a gradient coroutine: `startChain`) and, per iteration, the
 * sample row, the step size's dual averaging and the metric's windows, as
 * plain methods of {@link Chain} that a driver calls after each transition
 * (`chain-driver.ts`, which also runs the transitions).
 *
 * The per-iteration work is not a generator: V8 compiles a generator resumed
 * thousands of times whole, with every `yield*` site and what it inlines
 * (the largest single compilation of a first NUTS call; see docs/design.md,
 * FIRST2 session 14). Only the rare parts (initialisation, the step-size
 * search after a metric window, a `beforeTransition` hook, a static HMC
 * transition) are coroutines.
 *
 * @module
 */
import type { Rng } from '../../core/rng.js';
import {
  DualAveraging,
  type DualAveragingOptions,
  MetricAdapter,
  type WindowOptions,
  initialStepSize,
  windowSchedule,
} from './adaptation.js';
import { type GradientCoroutine, type Position, evaluate } from './integrator.js';
import { type AscentEnd, type InitSettings, type InitStrategy, initialise } from './initialise.js';
import type { HamiltonianKernel, Transition } from './kernel.js';
import { copyVec } from './linalg.js';
import { EuclideanMetric, type MetricKind } from './metric.js';
import type { MassMatrixOption, MetricChoiceOptions, MetricDecision } from './metric-choice.js';

/** Per-draw sampler statistics of one chain, one entry per iteration. */
export interface SamplerStats {
  /** Acceptance statistic (Stan's `accept_stat__`). */
  readonly acceptStat: Float64Array;
  /** Step size used (Stan's `stepsize__`). */
  readonly stepSize: Float64Array;
  /** NUTS tree depth (Stan's `treedepth__`; 0 for static HMC). */
  readonly treeDepth: Int32Array;
  /** Leapfrog steps taken (Stan's `n_leapfrog__`). */
  readonly nLeapfrog: Int32Array;
  /** 1 where the transition diverged (Stan's `divergent__`). */
  readonly divergent: Uint8Array;
  /** Hamiltonian at the draw (Stan's `energy__`). */
  readonly energy: Float64Array;
  /** Log density at the draw (Stan's `lp__`, up to the target's constant). */
  readonly logDensity: Float64Array;
}

/** Where a chain is, updated in place as it runs (for progress and timing). */
export interface ChainProgress {
  /** Iterations finished (warmup and sampling together). */
  completed: number;
  /** Iterations in all: warmup + draws. */
  readonly total: number;
  /** Current phase. */
  phase: 'init' | 'warmup' | 'sampling' | 'done';
}

/** Everything one chain needs. */
export interface ChainConfig extends DualAveragingOptions, WindowOptions {
  /** Chain index, used in error messages. */
  readonly chain: number;
  /** Dimension D of the space. */
  readonly dim: number;
  /** Warmup iterations (adaptation; not kept unless `saveWarmup`). */
  readonly warmup: number;
  /** Kept draws. */
  readonly draws: number;
  /** The transition kernel (NUTS or static HMC). */
  readonly kernel: HamiltonianKernel;
  /** The shape of the mass matrix, or `'auto'` (diagonal until a warmup window shows strong correlations; see `metric-choice.ts`). */
  readonly metric: MassMatrixOption;
  /** Settings of the automatic metric choice. */
  readonly metricChoice?: MetricChoiceOptions;
  /** Initial inverse metric (length D for diag/identity/auto, D*D for dense). */
  readonly initialInverseMetric?: Float64Array;
  /** Initial step size (the start of the heuristic when adapting). */
  readonly stepSize: number;
  /** Adapt the step size during warmup (dual averaging). */
  readonly adaptStepSize: boolean;
  /** Adapt the inverse metric during warmup (windowed; never for identity). */
  readonly adaptMetric: boolean;
  /** A starting point, or the strategy that finds one (see `initialise.ts`). */
  readonly init: Float64Array | InitStrategy;
  /** Settings of the strategy: box half-width, attempts, candidates, ascent steps. */
  readonly initSettings: InitSettings;
  /** Where the `ascent` strategy's candidates ended, filled as the chain starts (read by `mode-check.ts`). */
  readonly initEnds?: AscentEnd[];
  /** Keep the warmup draws and statistics too. */
  readonly saveWarmup: boolean;
  /** The chain's own random stream. */
  readonly rng: Rng;
  /** Updated in place as the chain runs. */
  readonly progress: ChainProgress;
  /**
   * Run before each transition (warmup included) with the current position
   * and iteration: returns the position to move from, re-evaluated where the
   * target changed (e.g. after a Gibbs update of variables outside q).
   */
  readonly beforeTransition?: (position: Position, iteration: number) => GradientCoroutine<Position>;
}

/** What one chain produces. */
export interface ChainOutput {
  /** Draws, row-major draws x D. */
  readonly samples: Float64Array;
  readonly stats: SamplerStats;
  /** Warmup draws (row-major warmup x D) when `saveWarmup` was set. */
  readonly warmupSamples?: Float64Array;
  readonly warmupStats?: SamplerStats;
  /** Step size after warmup. */
  readonly stepSize: number;
  /** Inverse metric after warmup (length D, or D*D row-major for dense). */
  readonly inverseMetric: Float64Array;
  /** The metric's shape after warmup (with `'auto'`, the one chosen). */
  readonly metricKind: MetricKind;
  /** With `'auto'`: the last choice and its evidence (undefined when no window ended). */
  readonly metricDecision: MetricDecision | undefined;
}

function allocStats(n: number): SamplerStats {
  return {
    acceptStat: new Float64Array(n),
    stepSize: new Float64Array(n),
    treeDepth: new Int32Array(n),
    nLeapfrog: new Int32Array(n),
    divergent: new Uint8Array(n),
    energy: new Float64Array(n),
    logDensity: new Float64Array(n),
  };
}

/** Finds the chain's starting position (given, or by a strategy of `initialise.ts`). */
function* initialPosition(cfg: ChainConfig): GradientCoroutine<Position> {
  if (typeof cfg.init !== 'string') {
    const at = yield* evaluate(copyVec(cfg.init));
    if (!Number.isFinite(at.logp)) {
      throw new RangeError(
        `mcmc: chain ${cfg.chain}: the initial point has a non-finite log density or gradient (logp = ${at.logp})`,
      );
    }
    return at;
  }
  return yield* initialise(cfg.init, cfg.dim, cfg.rng, cfg.chain, cfg.initSettings, cfg.initEnds);
}

/**
 * One chain's state between transitions: the position, step size and metric
 * the next transition starts from, and the bookkeeping after it
 * ({@link Chain.record}). Made by `startChain`; driven by `ChainDriver`.
 */
export class Chain {
  /** The position the next transition starts from. */
  position: Position;
  /** The step size of the next transition. */
  stepSize: number;
  /** The metric of the next transition. */
  metric: EuclideanMetric;
  /** The iteration the next transition makes (warmup and sampling counted together). */
  iteration = 0;
  /** The chain's output, kept current every iteration (final once {@link Chain.running} is false). */
  readonly output: { -readonly [K in keyof ChainOutput]: ChainOutput[K] };

  private readonly dim: number;
  private readonly warmup: number;
  private readonly total: number;
  private readonly progress: ChainProgress;
  private readonly rng: Rng;
  /** Whether the step size is adapted (warmup > 0 and `adaptStepSize`): the first one is then searched before the first iteration. */
  readonly adaptStep: boolean;
  private readonly dual: DualAveraging;
  private readonly metricAdapter: MetricAdapter | null;
  private readonly samples: Float64Array;
  private readonly stats: SamplerStats;
  private readonly warmupRows: Float64Array;
  private readonly warmupRowStats: SamplerStats;
  private readonly saveWarmup: boolean;
  /** The metric's inverse as the output gives it (a copy), taken again only where the metric changes. */
  private inverseOut: Float64Array;

  constructor(
    cfg: ChainConfig,
    position: Position,
    metric: EuclideanMetric,
    dual: DualAveraging,
    metricAdapter: MetricAdapter | null,
  ) {
    const stepSize = cfg.stepSize;
    const { dim, warmup, draws } = cfg;
    this.position = position;
    this.stepSize = stepSize;
    this.metric = metric;
    this.dim = dim;
    this.warmup = warmup;
    this.total = warmup + draws;
    this.progress = cfg.progress;
    this.rng = cfg.rng;
    this.adaptStep = warmup > 0 && cfg.adaptStepSize;
    this.dual = dual;
    this.metricAdapter = metricAdapter;
    this.samples = new Float64Array(draws * dim);
    this.stats = allocStats(draws);
    const warmupSamples = cfg.saveWarmup ? new Float64Array(warmup * dim) : undefined;
    const warmupStats = cfg.saveWarmup ? allocStats(warmup) : undefined;
    this.saveWarmup = cfg.saveWarmup;
    // Unsaved warmup rows go to a one-row scratch, so that the same code records every iteration: V8 optimises
    // `record` during warmup, and code first reached afterwards (a store, a call) would throw that code away at the
    // switch to sampling and compile it again (tens of ms of compiler time on a process's first run).
    this.warmupRows = warmupSamples ?? new Float64Array(dim);
    this.warmupRowStats = warmupStats ?? allocStats(1);
    // The output is kept current every iteration rather than built at the end, and the last phase is set by
    // `running`'s own store, for the same reason: code first reached at a chain's end would make V8 recompile the
    // driver while the other chains still run it. The inverse metric is copied only where the metric changes (a copy
    // per iteration made a Float64Array each time, off the V8 heap for D > 8).
    this.inverseOut = metric.inverse;
    this.output = {
      samples: this.samples,
      stats: this.stats,
      ...(warmupSamples !== undefined && warmupStats !== undefined ? { warmupSamples, warmupStats } : {}),
      stepSize,
      inverseMetric: this.inverseOut,
      metricKind: metric.kind,
      metricDecision: undefined,
    };
  }

  /** Whether an iteration is left to run; sets the progress's phase. */
  running(): boolean {
    const it = this.iteration;
    const running = it < this.total;
    this.progress.phase = it < this.warmup ? 'warmup' : running ? 'sampling' : 'done';
    return running;
  }

  /**
   * Records the transition `t` of this iteration (its row and statistics),
   * adapts during warmup, and ends the iteration. Returns true where a metric
   * window ended and the step size must be searched again before the next
   * transition: run {@link Chain.searchStepSize} and hand its result to
   * {@link Chain.stepSizeFound}.
   */
  record(t: Transition): boolean {
    const { dim, warmup } = this;
    const it = this.iteration;
    const inWarmup = it < warmup;
    const position = t.position;
    this.position = position;

    // (each field read every iteration: a load first reached at the switch to sampling would make V8 recompile)
    const { warmupRows, samples, warmupRowStats, stats } = this;
    const row = it - (inWarmup ? (this.saveWarmup ? 0 : it) : warmup);
    const outSamples = inWarmup ? warmupRows : samples;
    const outStats = inWarmup ? warmupRowStats : stats;
    outSamples.set(position.q, row * dim);
    outStats.acceptStat[row] = t.acceptStat;
    outStats.stepSize[row] = this.stepSize;
    outStats.treeDepth[row] = t.treeDepth;
    outStats.nLeapfrog[row] = t.nLeapfrog;
    outStats.divergent[row] = t.divergent ? 1 : 0;
    outStats.energy[row] = t.energy;
    outStats.logDensity[row] = position.logp;

    let search = false;
    if (inWarmup) {
      if (this.adaptStep) this.stepSize = this.dual.update(t.acceptStat);
      const adapter = this.metricAdapter;
      const inverse = adapter?.observe(it, position.q, position.grad) ?? null;
      if (inverse !== null) {
        if (adapter!.kind !== this.metric.kind) this.metric = new EuclideanMetric(adapter!.kind, dim, inverse);
        else this.metric.setInverse(inverse);
        this.inverseOut = this.metric.inverse;
        search = this.adaptStep;
      }
    }
    this.endIteration(search);
    return search;
  }

  /** The step-size search after a metric window (Stan's heuristic from the current step size). */
  searchStepSize(): GradientCoroutine<number> {
    return initialStepSize(this.position, this.stepSize, this.metric, this.rng);
  }

  /** Takes the step size {@link Chain.searchStepSize} found (at the start, or after the iteration a metric window ended). */
  stepSizeFound(stepSize: number): void {
    this.dual.restart(stepSize);
    this.stepSize = stepSize;
    this.settleStepSize(this.iteration - 1, false);
  }

  /** The iteration's last part: the step size (unless a search follows: `search`), the output, the progress. */
  private endIteration(search: boolean): void {
    const it = this.iteration;
    this.settleStepSize(it, search);
    const out = this.output;
    out.inverseMetric = this.inverseOut;
    out.metricKind = this.metric.kind;
    out.metricDecision = this.metricAdapter?.decision;
    this.iteration = it + 1;
    this.progress.completed = it + 1;
  }

  /**
   * The step size after iteration `ended` (-1: none yet): at the last warmup
   * iteration, the dual averaging's final one, taken after the step-size
   * search where one follows (`pending`), as Stan does. (Read every time, kept
   * at the last: see the scratch rows in the constructor; and `adaptStep` read
   * first, so that no load is first reached there.)
   */
  private settleStepSize(ended: number, pending: boolean): void {
    const adapted = this.dual.finalStepSize();
    const last = this.adaptStep && ended === this.warmup - 1 && !pending;
    const stepSize = last ? adapted : this.stepSize;
    this.stepSize = stepSize;
    this.output.stepSize = stepSize;
  }
}

/**
 * Starts one chain: finds its initial position and returns the {@link Chain}
 * that the iterations run on. Where {@link Chain.adaptStep} is set, the
 * driver searches the first step size next ({@link Chain.searchStepSize}).
 */
export function* startChain(cfg: ChainConfig): GradientCoroutine<Chain> {
  cfg.progress.phase = 'init';
  const position = yield* initialPosition(cfg);
  const metric = new EuclideanMetric(cfg.metric === 'auto' ? 'diag' : cfg.metric, cfg.dim, cfg.initialInverseMetric);
  const dual = new DualAveraging(cfg);
  const metricAdapter =
    cfg.warmup > 0 && cfg.adaptMetric && cfg.metric !== 'identity'
      ? new MetricAdapter(cfg.metric, cfg.dim, windowSchedule(cfg.warmup, cfg), cfg.metricChoice)
      : null;
  return new Chain(cfg, position, metric, dual, metricAdapter);
}
