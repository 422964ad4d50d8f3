/**
 * Simulation-based calibration (SBC): Talts, Betancourt, Simpson, Vehtari
 * and Gelman (2018), "Validating Bayesian inference algorithms with
 * simulation-based calibration", arXiv:1804.06788; with the test quantities
 * of Modrák et al. (2023) and the ECDF band of Säilynoja et al. (2022).
 *
 * For each of N simulations: draw parameters θ from the prior and data y
 * from the model, run the engine on y, take L roughly independent posterior
 * draws, and record the rank of each true scalar quantity among them. If the
 * engine samples the exact posterior, every rank is uniform on 0..L.
 * Over-confident engines give U-shaped rank histograms, under-confident ones
 * ∩-shaped, biased ones skewed.
 *
 * Ranks of the parameters alone cannot see an engine that returns the
 * prior (its draws are exchangeable with θ); the rank of the
 * log-likelihood log p(y | θ), included by default, can: the true θ
 * explains its own data better than prior draws do.
 *
 * ```ts
 * const result = await sbc({
 *   simulator: priorPredictive(model, [exampleData]),
 *   engine: { method: 'nuts', chains: 2, warmup: 200, samples: 200 },
 *   simulations: 200,
 * });
 * if (!result.pass) throw new Error(result.toString());
 * ```
 *
 * @module
 */
import { checkSeed } from '../core/options.js';
import type { Rng } from '../core/rng.js';
import { type Value, type ValueLike, toValue } from '../core/value.js';
import { independentDraws } from './draws.js';
import type { Draw, Posterior } from '../infer/posterior.js';
import { type Simulation, type SimulationLoopOptions, flattenValues, forEachSimulation, logLikelihoodAt } from './simulate.js';
import { type ChiSquareResult, type EcdfTestResult, chiSquareUniformity, defaultBins, ecdfBandTest } from './uniformity.js';

/** A user test quantity: a scalar function of parameter values (true or drawn) and the model's arguments. */
export type SbcQuantity<A extends unknown[] = unknown[]> = (values: Readonly<Record<string, Value>>, args: A) => number | Promise<number>;

/** Options of {@link sbc}. */
export interface SbcOptions<A extends unknown[], R> extends SimulationLoopOptions<A, R> {
  /** Posterior draws L each truth is ranked among (default 99, so ranks take 100 values). */
  readonly draws?: number;
  /** Bins of the chi-square test (default: {@link defaultBins}). */
  readonly bins?: number;
  /**
   * Family-wise false-alarm rate (default 0.01): each quantity gets a
   * chi-square test and an ECDF-band test at alpha / (2 K), K quantities
   * (Bonferroni), so a correct engine fails with probability at most alpha.
   */
  readonly alpha?: number;
  /** The scalar parameters to rank (names as `mu` or `theta[2]`; default every scalar in the truth). */
  readonly params?: readonly string[];
  /** Extra test quantities by name. */
  readonly quantities?: Readonly<Record<string, SbcQuantity<A>>>;
  /** Rank the log-likelihood log p(y | θ) too, as quantity `logLik` (default true). */
  readonly logLikelihood?: boolean;
  /**
   * Called with each simulation, the engine's posterior and the roughly
   * independent draws the ranks were computed from: collect more from the
   * same runs (e.g. samples for {@link tarp}) without running the engine again.
   */
  readonly onSimulation?: (sim: Simulation<A, R>, post: Posterior<A, R>, draws: Draw<R>[], index: number) => void | Promise<void>;
}

/** The SBC verdict for one quantity. */
export interface SbcQuantityResult {
  /** The quantity: a parameter (`mu`, `theta[2]`), a user quantity, or `logLik`. */
  readonly name: string;
  /** One rank in 0..L per simulation. */
  readonly ranks: Int32Array;
  /** The chi-square test on binned ranks. */
  readonly chiSquare: ChiSquareResult;
  /** The simultaneous ECDF-band test (its `difference` is the ECDF-difference plot). */
  readonly ecdf: EcdfTestResult;
  /** Mean of rank / L (0.5 under uniformity; above: the posterior sits below the truth). */
  readonly meanRank: number;
  /** Variance of the ranks over its uniform value (> 1: U-shaped, over-confident; < 1: ∩-shaped, under-confident). */
  readonly varianceRatio: number;
  /** Both tests passed at their Bonferroni level. */
  readonly pass: boolean;
  /** What a failure looks like, in words. */
  readonly hint: string;
}

/** The result of {@link sbc} or {@link analyzeRanks}. */
export class SbcResult {
  constructor(
    /** Number of simulations N. */
    readonly simulations: number,
    /** Draws per rank L (ranks lie in 0..L). */
    readonly draws: number,
    /** Family-wise level. */
    readonly alpha: number,
    /** Per-quantity results. */
    readonly quantities: SbcQuantityResult[],
    /** Simulations whose engine gave fewer than L roughly independent draws (their ranks were rescaled). */
    readonly underpowered = 0,
  ) {}

  /** True when no quantity failed either test. */
  get pass(): boolean {
    return this.quantities.every((q) => q.pass);
  }

  /** One line per failed test. */
  get failures(): string[] {
    const out: string[] = [];
    const each = this.alpha / (2 * this.quantities.length);
    for (const q of this.quantities) {
      if (q.chiSquare.pValue < each) out.push(`${q.name}: chi-square p = ${q.chiSquare.pValue.toExponential(2)} < ${each.toPrecision(3)} (${q.hint})`);
      if (!q.ecdf.pass) out.push(`${q.name}: ECDF leaves the simultaneous band at ${q.ecdf.violations.length} of ${q.ecdf.band.points.length} points (${q.hint})`);
    }
    return out;
  }

  /** A table of the quantities with their p-values, shape statistics and verdicts. */
  toString(): string {
    const head = `SBC: ${this.simulations} simulations, ranks among ${this.draws} draws, family-wise alpha ${this.alpha}: ${this.pass ? 'PASS' : 'FAIL'}`;
    const rows = this.quantities.map((q) => `  ${q.name.padEnd(14)} chi2 p=${q.chiSquare.pValue.toExponential(2)}  band ${q.ecdf.pass ? 'inside' : `out at ${q.ecdf.violations.length}`}  mean rank ${q.meanRank.toFixed(3)}  var ratio ${q.varianceRatio.toFixed(2)}  ${q.pass ? 'ok' : `FAIL: ${q.hint}`}`);
    const extra = this.underpowered > 0 ? [`  (${this.underpowered} simulations had fewer than ${this.draws} effective draws; their ranks were rescaled)`] : [];
    return [head, ...rows, ...extra].join('\n');
  }
}

/**
 * Rank of `truth` among `draws`: the number of draws below it, with ties
 * broken at random (so discrete quantities still give uniform ranks).
 */
export function rankOf(truth: number, draws: ArrayLike<number>, rng: Rng): number {
  let below = 0;
  let ties = 0;
  for (let i = 0; i < draws.length; i++) {
    if (draws[i] < truth) below++;
    else if (draws[i] === truth) ties++;
  }
  return below + (ties > 0 ? rng.int(ties + 1) : 0);
}

/**
 * Map a rank in 0..m onto 0..L keeping uniformity: the randomised PIT
 * (rank + U) / (m + 1) is uniform on (0, 1) when the rank is uniform.
 */
export function rescaleRank(rank: number, m: number, maxRank: number, rng: Rng): number {
  if (m === maxRank) return rank;
  return Math.min(maxRank, Math.floor(((rank + rng.uniform()) / (m + 1)) * (maxRank + 1)));
}

function describeShape(meanRank: number, varianceRatio: number, n: number): string {
  const zMean = (meanRank - 0.5) / Math.sqrt(1 / 12 / n);
  // the variance of n uniform ranks has sd about sqrt(0.8 / n) relative to its mean (kurtosis 1.8)
  const zVar = (varianceRatio - 1) / Math.sqrt(0.8 / n);
  const parts: string[] = [];
  if (zMean > 3) parts.push('biased: the posterior sits below the truth');
  else if (zMean < -3) parts.push('biased: the posterior sits above the truth');
  if (zVar > 3) parts.push('U-shaped ranks: the posterior is too narrow (over-confident)');
  else if (zVar < -3) parts.push('∩-shaped ranks: the posterior is too wide (under-confident)');
  return parts.length ? parts.join('; ') : 'ranks not uniform';
}

/** Options of {@link analyzeRanks}. */
export interface RankAnalysisOptions {
  /** Chi-square bins (default {@link defaultBins}). */
  readonly bins?: number;
  /** Family-wise level (default 0.01), split over 2 tests per quantity. */
  readonly alpha?: number;
  /** Simulations with rescaled ranks, for the report. */
  readonly underpowered?: number;
}

/**
 * The SBC tests on ranks already computed (e.g. by another tool): for each
 * quantity, ranks in 0..maxRank, one per simulation.
 */
export function analyzeRanks(ranks: ReadonlyMap<string, ArrayLike<number>> | Readonly<Record<string, ArrayLike<number>>>, maxRank: number, options: RankAnalysisOptions = {}): SbcResult {
  const entries = ranks instanceof Map ? [...ranks.entries()] : Object.entries(ranks as Record<string, ArrayLike<number>>);
  if (entries.length === 0) throw new Error('analyzeRanks: no quantities');
  const n = entries[0][1].length;
  for (const [name, r] of entries) if (r.length !== n) throw new RangeError(`analyzeRanks: "${name}" has ${r.length} ranks, "${entries[0][0]}" has ${n}`);
  const alpha = options.alpha ?? 0.01;
  if (!(alpha > 0 && alpha < 1)) throw new RangeError(`analyzeRanks: alpha must lie in (0, 1), got ${alpha}`);
  const each = alpha / (2 * entries.length);
  const bins = options.bins ?? defaultBins(n, maxRank);
  const uniformVar = ((maxRank + 1) ** 2 - 1) / 12;
  const results = entries.map(([name, r]): SbcQuantityResult => {
    const rk = Int32Array.from(r);
    const chiSquare = chiSquareUniformity(rk, maxRank, bins);
    const ecdf = ecdfBandTest(rk, maxRank, each);
    let m = 0;
    for (const x of rk) m += x;
    m /= n;
    let v = 0;
    for (const x of rk) v += (x - m) ** 2;
    v /= n;
    const meanRank = m / maxRank;
    const varianceRatio = v / uniformVar;
    const pass = chiSquare.pValue >= each && ecdf.pass;
    return { name, ranks: rk, chiSquare, ecdf, meanRank, varianceRatio, pass, hint: describeShape(meanRank, varianceRatio, n) };
  });
  return new SbcResult(n, maxRank, alpha, results, options.underpowered ?? 0);
}

const PATHS_HINT = '; a site that exists only on some paths cannot be ranked: list the always-present ones in `params`, or record a summary with `deterministic`';

/** Name given to the log-likelihood quantity. */
export const LOG_LIKELIHOOD = 'logLik';

/**
 * Run simulation-based calibration of an engine. Returns the ranks, the
 * p-values, the ECDF band violations and a verdict (`result.pass`).
 */
export async function sbc<A extends unknown[], R>(options: SbcOptions<A, R>): Promise<SbcResult> {
  const L = options.draws ?? 99;
  if (!Number.isInteger(L) || L < 1) throw new RangeError(`sbc: draws must be a positive integer, got ${L}`);
  const useLogLik = options.logLikelihood ?? true;
  const userQ = Object.entries(options.quantities ?? {});
  const ranks = new Map<string, number[]>();
  let names: string[] | undefined = options.params ? [...options.params] : undefined;
  let underpowered = 0;
  const push = (name: string, r: number) => {
    let list = ranks.get(name);
    if (!list) ranks.set(name, (list = []));
    list.push(r);
  };
  checkSeed('sbc', options.seed);
  await forEachSimulation(options, async (sim, post, rng, index) => {
    const truth = flattenValues(sim.params);
    if (names === undefined) names = [...truth.keys()];
    const { draws } = independentDraws(post, L, rng);
    await options.onSimulation?.(sim, post, draws, index);
    const m = draws.length;
    if (m < L) underpowered++;
    const flat = draws.map((d) => flattenValues(d.values));
    const rank = (truthValue: number, values: number[]) => rescaleRank(rankOf(truthValue, values, rng), m, L, rng);
    for (const name of names) {
      const t = truth.get(name);
      if (t === undefined) throw new Error(`sbc: simulation ${index} has no true value for "${name}"; known: ${[...truth.keys()].join(', ')}${PATHS_HINT}`);
      const values = flat.map((f, i) => {
        const v = f.get(name);
        if (v === undefined) throw new Error(`sbc: posterior draw ${i} of simulation ${index} has no value for "${name}" (engine ${post.method})${PATHS_HINT}`);
        return v;
      });
      push(name, rank(t, values));
    }
    const truthValues = asValues(sim.params);
    for (const [qName, q] of userQ) {
      const t = await q(truthValues, sim.args);
      const values: number[] = [];
      for (const d of draws) values.push(await q(d.values, sim.args));
      push(qName, rank(t, values));
    }
    if (useLogLik) {
      const t = await logLikelihoodAt(sim.model, sim.args, truthValues, rng.split());
      const values: number[] = [];
      for (const d of draws) values.push(await logLikelihoodAt(sim.model, sim.args, d.values, rng.split()));
      push(LOG_LIKELIHOOD, rank(t, values));
    }
  });
  return analyzeRanks(ranks, L, { bins: options.bins, alpha: options.alpha, underpowered });
}

function asValues(params: Readonly<Record<string, ValueLike>>): Record<string, Value> {
  const out: Record<string, Value> = {};
  for (const [k, v] of Object.entries(params)) out[k] = typeof v === 'number' ? v : toValue(v, `sbc: true value of "${k}"`);
  return out;
}
