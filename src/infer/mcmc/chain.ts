/**
 * One MCMC chain from start to finish, as a gradient coroutine: find an
 * initial point, warm up (step size and metric adaptation), then draw and
 * record samples with their sampler statistics.
 *
 * The chain never computes a gradient itself; it yields the positions it
 * needs (see {@link GradientCoroutine}), so the same chain runs under the
 * sequential driver and, in lockstep with other chains, under the batched one.
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
import { type InitSettings, type InitStrategy, initialise } from './initialise.js';
import type { HamiltonianKernel } from './kernel.js';
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
  return yield* initialise(cfg.init, cfg.dim, cfg.rng, cfg.chain, cfg.initSettings);
}

/** Runs one chain: initialisation, warmup with adaptation, and sampling. */
export function* runChain(cfg: ChainConfig): GradientCoroutine<ChainOutput> {
  const { dim, warmup, draws, kernel, rng, progress } = cfg;
  progress.phase = 'init';
  let position = yield* initialPosition(cfg);

  let metric = new EuclideanMetric(cfg.metric === 'auto' ? 'diag' : cfg.metric, dim, cfg.initialInverseMetric);
  const adaptStep = warmup > 0 && cfg.adaptStepSize;
  const dual = new DualAveraging(cfg);
  const metricAdapter =
    warmup > 0 && cfg.adaptMetric && cfg.metric !== 'identity'
      ? new MetricAdapter(cfg.metric, dim, windowSchedule(warmup, cfg), cfg.metricChoice)
      : null;

  let stepSize = cfg.stepSize;
  if (adaptStep) {
    stepSize = yield* initialStepSize(position, stepSize, metric, rng);
    dual.restart(stepSize);
  }

  const samples = new Float64Array(draws * dim);
  const stats = allocStats(draws);
  const warmupSamples = cfg.saveWarmup ? new Float64Array(warmup * dim) : undefined;
  const warmupStats = cfg.saveWarmup ? allocStats(warmup) : undefined;
  // Unsaved warmup rows go to a one-row scratch, so that the same code records every iteration: V8 optimises this
  // loop during warmup, and code first reached afterwards (a record, a call) would throw that code away at the
  // switch to sampling and compile the loop again (tens of ms of compiler time on a process's first run).
  const warmupRows = warmupSamples ?? new Float64Array(dim);
  const warmupRowStats = warmupStats ?? allocStats(1);

  // The output is kept current every iteration rather than built after the loop, and the last phase is set by the
  // loop's own store, for the same reason: code first reached at a chain's end would make V8 recompile this loop
  // while the other chains still run it.
  // The metric's inverse as the output gives it (a copy), taken again only where the metric changes: a copy every
  // iteration made a Float64Array per iteration, its buffer off the V8 heap for D > 8 (8000 copies at D = 10, four
  // chains' warmup and draws: 4-7 ms of a cold process's CPU, plus the collector's work on them).
  let inverseOut = metric.inverse;
  const out: { -readonly [K in keyof ChainOutput]: ChainOutput[K] } = {
    samples,
    stats,
    ...(warmupSamples !== undefined && warmupStats !== undefined ? { warmupSamples, warmupStats } : {}),
    stepSize,
    inverseMetric: inverseOut,
    metricKind: metric.kind,
    metricDecision: undefined,
  };
  const total = warmup + draws;
  for (let it = 0; ; it++) {
    const inWarmup = it < warmup;
    const running = it < total;
    progress.phase = inWarmup ? 'warmup' : running ? 'sampling' : 'done';
    if (!running) break;
    if (cfg.beforeTransition !== undefined) position = yield* cfg.beforeTransition(position, it);
    const t = yield* kernel.transition(position, stepSize, metric, rng);
    position = t.position;

    const row = it - (inWarmup ? (warmupSamples === undefined ? it : 0) : warmup);
    const outSamples = inWarmup ? warmupRows : samples;
    const outStats = inWarmup ? warmupRowStats : stats;
    outSamples.set(position.q, row * dim);
    outStats.acceptStat[row] = t.acceptStat;
    outStats.stepSize[row] = stepSize;
    outStats.treeDepth[row] = t.treeDepth;
    outStats.nLeapfrog[row] = t.nLeapfrog;
    outStats.divergent[row] = t.divergent ? 1 : 0;
    outStats.energy[row] = t.energy;
    outStats.logDensity[row] = position.logp;

    if (inWarmup) {
      if (adaptStep) stepSize = dual.update(t.acceptStat);
      const inverse = metricAdapter?.observe(it, position.q, position.grad) ?? null;
      if (inverse !== null) {
        if (metricAdapter!.kind !== metric.kind) metric = new EuclideanMetric(metricAdapter!.kind, dim, inverse);
        else metric.setInverse(inverse);
        inverseOut = metric.inverse;
        if (adaptStep) {
          stepSize = yield* initialStepSize(position, stepSize, metric, rng);
          dual.restart(stepSize);
        }
      }
      // (read every warmup iteration, kept at the last: see the scratch rows above)
      const adapted = dual.finalStepSize();
      if (it === warmup - 1 && adaptStep) stepSize = adapted;
    }
    out.stepSize = stepSize;
    out.inverseMetric = inverseOut;
    out.metricKind = metric.kind;
    out.metricDecision = metricAdapter?.decision;
    progress.completed = it + 1;
  }
  return out;
}
