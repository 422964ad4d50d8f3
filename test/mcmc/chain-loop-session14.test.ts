/**
 * The chain loop run by plain methods (`Chain` and `ChainDriver`, FIRST2 session 14) against the loop it replaced:
 * the same steps written as one coroutine (below, `referenceChain`: the session-start `runChain`, kept here as
 * the oracle). Both run the same kernels on a correlated 3-D Gaussian from the same seed, and every output must be
 * bit for bit the same: draws, sampler statistics, the adapted step size and metric, the saved warmup, and the
 * number of gradient requests. The settings are the ones where the order of the bookkeeping matters: the last
 * metric window ending at the last warmup iteration (`termBuffer: 0`: the step-size search comes before the final
 * step size, as in Stan), saved warmup, no warmup, a fixed step size or metric, the automatic and dense metrics,
 * and a `beforeTransition` hook.
 *
 * Planted: taking the final step size before that search (the search then starts from the dual-averaging
 * average instead of the last iterate) fails the three `termBuffer: 0` cases (seeds 1-6; with seeds 1-2 only
 * one of them: the search's momentum draws differ only where it takes another number of trials).
 */
import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/core/rng.js';
import {
  type ChainConfig,
  type ChainOutput,
  DEFAULT_INIT_SETTINGS,
  DualAveraging,
  EuclideanMetric,
  type GradientCoroutine,
  HmcKernel,
  MetricAdapter,
  NutsKernel,
  type Position,
  evaluate,
  initialStepSize,
  initialise,
  runChain,
  windowSchedule,
} from '../../src/infer/mcmc/index.js';
import { D, gaussian } from './gaussian3.js';

/** Runs a gradient coroutine to its end on the Gaussian; returns its result and the number of requests. */
function drive<T>(co: GradientCoroutine<T>): { value: T; requests: number } {
  let step = co.next(undefined as never);
  let requests = 0;
  while (step.done !== true) {
    const a = gaussian(Float64Array.from(step.value));
    step = co.next({ logp: a.logp, grad: a.grad, offset: 0 });
    requests++;
  }
  return { value: step.value, requests };
}

/** The oracle: the chain loop as the session-start `runChain` wrote it, one coroutine for the whole chain. */
function* referenceChain(cfg: ChainConfig): GradientCoroutine<ChainOutput> {
  const { dim, warmup, draws, kernel, rng } = cfg;
  let position: Position =
    typeof cfg.init === 'string'
      ? yield* initialise(cfg.init, dim, rng, cfg.chain, cfg.initSettings)
      : yield* evaluate(Array.from(cfg.init));
  let metric = new EuclideanMetric(cfg.metric === 'auto' ? 'diag' : cfg.metric, dim, cfg.initialInverseMetric);
  const adaptStep = warmup > 0 && cfg.adaptStepSize;
  const dual = new DualAveraging(cfg);
  const adapter =
    warmup > 0 && cfg.adaptMetric && cfg.metric !== 'identity'
      ? new MetricAdapter(cfg.metric, dim, windowSchedule(warmup, cfg), cfg.metricChoice)
      : null;
  let stepSize = cfg.stepSize;
  if (adaptStep) {
    stepSize = yield* initialStepSize(position, stepSize, metric, rng);
    dual.restart(stepSize);
  }
  const rows = { q: [] as number[][], warmupQ: [] as number[][], stats: [] as number[][], warmupStats: [] as number[][] };
  for (let it = 0; it < warmup + draws; it++) {
    if (cfg.beforeTransition !== undefined) position = yield* cfg.beforeTransition(position, it);
    const t = yield* kernel.transition(position, stepSize, metric, rng);
    position = t.position;
    const inWarmup = it < warmup;
    (inWarmup ? rows.warmupQ : rows.q).push(Array.from(position.q));
    const stat = [t.acceptStat, stepSize, t.treeDepth, t.nLeapfrog, t.divergent ? 1 : 0, t.energy, position.logp];
    (inWarmup ? rows.warmupStats : rows.stats).push(stat);
    if (inWarmup) {
      if (adaptStep) stepSize = dual.update(t.acceptStat);
      const inverse = adapter?.observe(it, position.q, position.grad) ?? null;
      if (inverse !== null) {
        if (adapter!.kind !== metric.kind) metric = new EuclideanMetric(adapter!.kind, dim, inverse);
        else metric.setInverse(inverse);
        if (adaptStep) {
          stepSize = yield* initialStepSize(position, stepSize, metric, rng);
          dual.restart(stepSize);
        }
      }
      if (it === warmup - 1 && adaptStep) stepSize = dual.finalStepSize();
    }
  }
  // packed in the output's layout, statistics as in `SamplerStats`
  const pack = (q: number[][], stats: number[][]) => ({
    q: Float64Array.from(q.flat()),
    stats: {
      acceptStat: Float64Array.from(stats, (s) => s[0]!),
      stepSize: Float64Array.from(stats, (s) => s[1]!),
      treeDepth: Int32Array.from(stats, (s) => s[2]!),
      nLeapfrog: Int32Array.from(stats, (s) => s[3]!),
      divergent: Uint8Array.from(stats, (s) => s[4]!),
      energy: Float64Array.from(stats, (s) => s[5]!),
      logDensity: Float64Array.from(stats, (s) => s[6]!),
    },
  });
  const kept = pack(rows.q, rows.stats);
  const warm = pack(rows.warmupQ, rows.warmupStats);
  return {
    samples: kept.q,
    stats: kept.stats,
    ...(cfg.saveWarmup ? { warmupSamples: warm.q, warmupStats: warm.stats } : {}),
    stepSize,
    inverseMetric: metric.inverse,
    metricKind: metric.kind,
    metricDecision: adapter?.decision,
  };
}

/** A chain's settings: 150 + 100 iterations from a given point, NUTS, diagonal metric, both adaptations; `o` overrides. */
function config(seed: number, o: Partial<ChainConfig>): ChainConfig {
  const warmup = o.warmup ?? 150;
  const draws = o.draws ?? 100;
  return {
    chain: 0,
    dim: D,
    warmup,
    draws,
    kernel: new NutsKernel(),
    metric: 'diag',
    stepSize: 1,
    adaptStepSize: true,
    adaptMetric: true,
    init: new Float64Array([0.2, -0.5, 1.5]),
    initSettings: DEFAULT_INIT_SETTINGS,
    saveWarmup: false,
    rng: new Rng(seed),
    progress: { completed: 0, total: warmup + draws, phase: 'init' },
    ...o,
  };
}

/** Every output of a chain as comparable plain arrays. */
function plain(out: ChainOutput): unknown {
  const arrays = (s: ChainOutput['stats'] | undefined) => (s === undefined ? undefined : Object.fromEntries(Object.entries(s).map(([k, v]) => [k, Array.from(v as ArrayLike<number>)])));
  return {
    samples: Array.from(out.samples),
    stats: arrays(out.stats),
    warmupSamples: out.warmupSamples === undefined ? undefined : Array.from(out.warmupSamples),
    warmupStats: arrays(out.warmupStats),
    stepSize: out.stepSize,
    inverseMetric: Array.from(out.inverseMetric),
    metricKind: out.metricKind,
    metricDecision: out.metricDecision === undefined ? undefined : JSON.stringify(out.metricDecision),
  };
}

/** A hook that moves the position every 7th iteration (re-evaluated there), as a Gibbs update outside q would. */
function* nudge(position: Position, iteration: number): GradientCoroutine<Position> {
  if (iteration % 7 !== 3) return position;
  return yield* evaluate(position.q.map((v) => v + 0.01));
}

const CASES: readonly [string, Partial<ChainConfig>][] = [
  ['defaults', {}],
  ['termBuffer 0 (the last window ends at the last warmup iteration)', { termBuffer: 0 }],
  ['termBuffer 0, dense', { termBuffer: 0, metric: 'dense' }],
  ['saved warmup of 30', { warmup: 30, saveWarmup: true }],
  ['no warmup', { warmup: 0 }],
  ['fixed step size', { adaptStepSize: false, stepSize: 0.3 }],
  ['fixed metric', { adaptMetric: false }],
  ['automatic metric', { metric: 'auto' }],
  ['dense metric, saved warmup', { metric: 'dense', saveWarmup: true }],
  ['an init strategy', { init: 'uniform' }],
  ['a beforeTransition hook', { beforeTransition: nudge }],
  ['static HMC', { kernel: new HmcKernel({ numSteps: 5 }) }],
  ['static HMC, termBuffer 0', { kernel: new HmcKernel({ numSteps: 5 }), termBuffer: 0 }],
];

describe('the chain loop of plain methods against the coroutine it replaced', () => {
  for (const [name, o] of CASES) {
    it(name, () => {
      for (const seed of [1, 2, 3, 4, 5, 6]) {
        const expected = drive(referenceChain(config(seed, o)));
        const got = drive(runChain(config(seed, o)));
        expect(got.requests).toBe(expected.requests);
        expect(plain(got.value)).toEqual(plain(expected.value));
      }
    });
  }
});
