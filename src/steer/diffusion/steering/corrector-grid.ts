/**
 * A check of a Feynman–Kac corrector run's time grid: the same run on the
 * grid and on the grid with every step halved, repeated with independent
 * seeds, and log Z compared. The corrector's weights are a continuous-time
 * formula taken per Euler–Maruyama step (see `correctors.ts`), biased by
 * O(h); where halving the step moves log Z by more than the runs' Monte
 * Carlo error, the coarse grid was biased (and the fine one may be too).
 *
 * @module
 */
import { checkIntegerOptions, checkOptions, optionNames } from '../../../core/options.js';
import { rngFrom } from '../../../core/rng.js';
import { timeGrid } from '../schedules.js';
import { type CorrectorRunOptions, fkCorrector } from './correctors.js';

/** Options of {@link correctorGridCheck}. */
export interface CorrectorGridCheckOptions {
  /** Independent runs on each grid (default 8, at least 2). */
  readonly runs?: number;
  /** The largest log Z difference the check should resolve, in nats (default 0.1). */
  readonly tolerance?: number;
}

/** The runs of one grid in {@link correctorGridCheck}. */
export interface CorrectorGridRuns {
  /** Steps of the grid. */
  readonly steps: number;
  /** log Z of each run. */
  readonly logZ: readonly number[];
  /** Mean and standard deviation of `logZ` over the runs. */
  readonly mean: number;
  readonly sd: number;
  /** The stiffest step's |h·J| over the runs. */
  readonly stiffness: number;
}

/** The outcome of {@link correctorGridCheck}. */
export interface CorrectorGridCheck {
  readonly coarse: CorrectorGridRuns;
  readonly fine: CorrectorGridRuns;
  /** Mean log Z on the fine grid minus that on the coarse one. */
  readonly difference: number;
  /** Monte Carlo standard error of `difference`. */
  readonly standardError: number;
  /**
   * `'agree'`: the grids' log Z differ by less than 3 standard errors, and 3
   * standard errors are within `tolerance`; `'differ'`: by more than 3
   * standard errors (the coarse grid is biased: use more steps);
   * `'unresolved'`: no difference seen, but the runs are too noisy to see one
   * of `tolerance` (use more runs or particles).
   */
  readonly verdict: 'agree' | 'differ' | 'unresolved';
  /** One line saying the verdict with its figures. */
  readonly message: string;
}

const GRID_CHECK_OPTIONS = optionNames<CorrectorGridCheckOptions>({ runs: true, tolerance: true });

/** The grid with a midpoint inserted in every step. */
function halved(times: readonly number[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < times.length; i++) {
    if (i > 0) out.push((times[i - 1]! + times[i]!) / 2);
    out.push(times[i]!);
  }
  return out;
}

function meanSd(v: readonly number[]): { mean: number; sd: number } {
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  return { mean, sd: Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / (v.length - 1)) };
}

/**
 * Run {@link fkCorrector} `runs` times on its grid and on the grid with every
 * step halved (independent seeds split from `seed`/`rng`), and compare log Z.
 * Costs 3·`runs` corrector runs.
 *
 * @example
 * ```ts
 * const check = await correctorGridCheck({ terms: annealedTerms(model, 2), particles: 256, steps: 100, seed: 1 });
 * if (check.verdict !== 'agree') console.warn(check.message);
 * ```
 */
export async function correctorGridCheck(options: CorrectorRunOptions, check: CorrectorGridCheckOptions = {}): Promise<CorrectorGridCheck> {
  checkOptions('correctorGridCheck', check, GRID_CHECK_OPTIONS);
  checkIntegerOptions('correctorGridCheck', check, { runs: 2 });
  const tolerance = check.tolerance ?? 0.1;
  if (!(tolerance > 0) || !Number.isFinite(tolerance)) throw new RangeError(`correctorGridCheck: tolerance must be a positive finite number of nats, got ${tolerance}`);
  const runs = check.runs ?? 8;
  const schedule = options?.terms?.[0]?.model.schedule;
  if (!schedule) throw new Error('correctorGridCheck: options.terms must list at least one model and its power');
  const coarseTimes = options.times ? [...options.times] : timeGrid(schedule, options.steps ?? 100);
  const fineTimes = halved(coarseTimes);
  const base = rngFrom(options.rng ?? options.seed ?? 0);
  const grid = async (times: number[], offset: number): Promise<CorrectorGridRuns> => {
    const logZ: number[] = [];
    let stiffness = 0;
    for (let r = 0; r < runs; r++) {
      const res = await fkCorrector({ ...options, steps: undefined, times, seed: undefined, rng: base.splitAt(2 * r + offset) });
      res.x.dispose();
      logZ.push(res.logZ);
      stiffness = Math.max(stiffness, res.stiffness);
    }
    return { steps: times.length - 1, logZ, ...meanSd(logZ), stiffness };
  };
  const coarse = await grid(coarseTimes, 1);
  const fine = await grid(fineTimes, 2);
  const difference = fine.mean - coarse.mean;
  const standardError = Math.sqrt((coarse.sd ** 2 + fine.sd ** 2) / runs);
  const verdict = !(Math.abs(difference) <= 3 * standardError) ? 'differ' : 3 * standardError <= tolerance ? 'agree' : 'unresolved';
  const figures = `log Z ${coarse.mean.toPrecision(4)} ± ${(coarse.sd / Math.sqrt(runs)).toPrecision(2)} at ${coarse.steps} steps, ${fine.mean.toPrecision(4)} ± ${(fine.sd / Math.sqrt(runs)).toPrecision(2)} at ${fine.steps} (${runs} runs each)`;
  const message =
    verdict === 'differ'
      ? `correctorGridCheck: the grids differ: ${figures}, a difference of ${(Math.abs(difference) / standardError).toPrecision(3)} standard errors; the ${coarse.steps}-step grid is biased — use more steps and check again`
      : verdict === 'agree'
        ? `correctorGridCheck: the grids agree within ${tolerance} nats: ${figures}`
        : `correctorGridCheck: no difference seen, but 3 standard errors (${(3 * standardError).toPrecision(3)}) exceed the tolerance ${tolerance}: ${figures}; use more runs or particles`;
  return { coarse, fine, difference, standardError, verdict, message };
}
