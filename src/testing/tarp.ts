/**
 * TARP expected coverage: Lemos, Coogan, Hezaveh and Perreault-Levasseur
 * (2023), "Sampling-based accuracy testing of posterior estimators for
 * general inference", ICML.
 *
 * For each simulation i with true parameters θ_i, posterior samples θ_ij
 * and a reference point θ_r,i, the credibility level of the ball around the
 * reference that just reaches the truth is
 * f_i = #{j : |θ_ij - θ_r,i| < |θ_i - θ_r,i|} / n. The expected coverage
 * probability ECP(α) = mean_i 1[f_i < α] equals α for every α when the
 * posterior estimator is exact. It works on samples alone, so it applies to
 * any engine, variational fits and flows included.
 *
 * Here f_i is randomised, (#closer + U) / (n + 1) with U uniform, which makes
 * it exactly uniform under the null for any n; the verdict compares the
 * largest deviation |ECP(α) - α| with its null distribution (simulated with
 * a fixed seed), and a bootstrap over simulations gives a simultaneous band
 * around the ECP curve.
 *
 * Reference points drawn independently of the data (the default: uniform in
 * the box spanned by the true values) cannot detect an engine that returns
 * the prior; give data-dependent references (e.g. around a point estimate)
 * to test that.
 *
 * @module
 */
import { checkSeed } from '../core/options.js';
import { Rng, rngFrom, type Seed } from '../core/rng.js';
import { independentDraws } from './draws.js';
import { type Simulation, type SimulationLoopOptions, flattenValues, forEachSimulation } from './simulate.js';

/** Options of {@link tarp}. */
export interface TarpOptions {
  /**
   * Reference points, one per simulation (in the parameters' own units), or
   * `'box'` (default): uniform in the bounding box of the true values.
   */
  readonly references?: 'box' | ReadonlyArray<ArrayLike<number>>;
  /** Standardise every coordinate by the mean and sd of the true values first (default true). */
  readonly normalize?: boolean;
  /** Level of the verdict and of the bootstrap band (default 0.01). */
  readonly alpha?: number;
  /** Bootstrap resamples of the simulations (default 500). */
  readonly bootstrap?: number;
  /** Points of the α grid in [0, 1] (default 101). */
  readonly grid?: number;
  /** Uniform samples used to calibrate the null distribution of the deviation (default 4000). */
  readonly nullReplicates?: number;
  /** Seed (default 0). */
  readonly seed?: Seed;
}

/** The result of {@link tarp}. */
export interface TarpResult {
  /** The α grid. */
  readonly alphas: Float64Array;
  /** Expected coverage probability at each α. */
  readonly ecp: Float64Array;
  /** Simultaneous bootstrap band around the ECP curve. */
  readonly lower: Float64Array;
  readonly upper: Float64Array;
  /** The per-simulation credibility levels f_i (uniform on (0, 1) for an exact engine). */
  readonly f: Float64Array;
  /** max over the grid of |ECP(α) - α|. */
  readonly maxDeviation: number;
  /** Signed deviation of largest size: > 0 means coverage above nominal (under-confident), < 0 below (over-confident or biased). */
  readonly signedDeviation: number;
  /** The (1 - alpha) quantile of the max deviation under an exact engine. */
  readonly critical: number;
  /** True when the diagonal ECP(α) = α lies inside the bootstrap band everywhere. */
  readonly diagonalInBand: boolean;
  /** Verdict: maxDeviation <= critical. */
  readonly pass: boolean;
}

function checkInput(samples: ReadonlyArray<ReadonlyArray<ArrayLike<number>>>, truths: ReadonlyArray<ArrayLike<number>>): number {
  if (samples.length === 0) throw new RangeError('tarp: no simulations');
  if (samples.length !== truths.length) throw new RangeError(`tarp: ${samples.length} sample sets but ${truths.length} true values`);
  const dim = truths[0].length;
  if (dim === 0) throw new RangeError('tarp: the parameter vector is empty');
  samples.forEach((s, i) => {
    if (truths[i].length !== dim) throw new RangeError(`tarp: true value ${i} has ${truths[i].length} coordinates, expected ${dim}`);
    if (s.length === 0) throw new RangeError(`tarp: simulation ${i} has no samples`);
    s.forEach((x, j) => {
      if (x.length !== dim) throw new RangeError(`tarp: sample ${j} of simulation ${i} has ${x.length} coordinates, expected ${dim}`);
    });
  });
  return dim;
}

/** max over the grid of |ECDF(α) - α| with its sign, for sorted values. */
function deviation(sortedF: Float64Array, alphas: Float64Array, ecpOut?: Float64Array): { max: number; signed: number } {
  let j = 0;
  let max = 0;
  let signed = 0;
  const n = sortedF.length;
  alphas.forEach((a, k) => {
    while (j < n && sortedF[j] < a) j++;
    const e = j / n;
    if (ecpOut) ecpOut[k] = e;
    if (Math.abs(e - a) > max) {
      max = Math.abs(e - a);
      signed = e - a;
    }
  });
  return { max, signed };
}

const nullCache = new Map<string, number>();

/** The (1 - alpha) quantile of max |ECDF(α) - α| for n uniforms, on the grid (simulated, cached). */
function nullCritical(n: number, alphas: Float64Array, alpha: number, replicates: number): number {
  const key = `${n}|${alphas.length}|${alpha}|${replicates}`;
  const hit = nullCache.get(key);
  if (hit !== undefined) return hit;
  const rng = new Rng('tarp-null');
  const devs = new Float64Array(replicates);
  for (let r = 0; r < replicates; r++) devs[r] = deviation(rng.uniforms(n).sort(), alphas).max;
  devs.sort();
  const c = devs[Math.min(replicates - 1, Math.ceil((1 - alpha) * replicates) - 1)];
  nullCache.set(key, c);
  return c;
}

/**
 * TARP coverage test from posterior samples and true values.
 *
 * @param samples - per simulation, draws x coordinates (equally weighted draws)
 * @param truths - per simulation, the true parameter vector
 */
export function tarp(samples: ReadonlyArray<ReadonlyArray<ArrayLike<number>>>, truths: ReadonlyArray<ArrayLike<number>>, options: TarpOptions = {}): TarpResult {
  const dim = checkInput(samples, truths);
  const n = samples.length;
  const alpha = options.alpha ?? 0.01;
  if (!(alpha > 0 && alpha < 1)) throw new RangeError(`tarp: alpha must lie in (0, 1), got ${alpha}`);
  checkSeed('tarp', options.seed);
  const rng = rngFrom(options.seed ?? 0);
  // per-coordinate standardisation by the spread of the true values
  const loc = new Float64Array(dim);
  const scale = new Float64Array(dim).fill(1);
  if (options.normalize ?? true) {
    for (let d = 0; d < dim; d++) {
      let m = 0;
      for (const t of truths) m += t[d];
      m /= n;
      let v = 0;
      for (const t of truths) v += (t[d] - m) ** 2;
      const sd = Math.sqrt(v / Math.max(1, n - 1));
      loc[d] = m;
      scale[d] = sd > 0 ? sd : 1;
    }
  }
  const refs = referencePoints(options.references ?? 'box', truths, dim, rng);
  const f = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const ref = refs[i];
    const dist = (x: ArrayLike<number>) => {
      let s = 0;
      for (let d = 0; d < dim; d++) s += ((x[d] - ref[d]) / scale[d]) ** 2;
      return s;
    };
    const dTrue = dist(truths[i]);
    let closer = 0;
    for (const x of samples[i]) if (dist(x) < dTrue) closer++;
    f[i] = (closer + rng.uniform()) / (samples[i].length + 1);
  }
  const grid = options.grid ?? 101;
  if (!Number.isInteger(grid) || grid < 2) throw new RangeError(`tarp: grid must be an integer >= 2, got ${grid}`);
  const alphas = Float64Array.from({ length: grid }, (_, k) => k / (grid - 1));
  const sorted = Float64Array.from(f).sort();
  const ecp = new Float64Array(grid);
  const { max, signed } = deviation(sorted, alphas, ecp);
  // simultaneous bootstrap band: quantile of the sup distance of resampled curves to the curve
  const B = options.bootstrap ?? 500;
  const sups = new Float64Array(B);
  const boot = new Float64Array(n);
  const curve = new Float64Array(grid);
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < n; i++) boot[i] = f[rng.int(n)];
    boot.sort();
    deviation(boot, alphas, curve);
    let s = 0;
    for (let k = 0; k < grid; k++) s = Math.max(s, Math.abs(curve[k] - ecp[k]));
    sups[b] = s;
  }
  sups.sort();
  const half = B > 0 ? sups[Math.min(B - 1, Math.ceil((1 - alpha) * B) - 1)] : 0;
  const lower = Float64Array.from(ecp, (e) => Math.max(0, e - half));
  const upper = Float64Array.from(ecp, (e) => Math.min(1, e + half));
  const diagonalInBand = alphas.every((a, k) => a >= lower[k] - 1e-12 && a <= upper[k] + 1e-12);
  const critical = nullCritical(n, alphas, alpha, options.nullReplicates ?? 4000);
  return { alphas, ecp, lower, upper, f, maxDeviation: max, signedDeviation: signed, critical, diagonalInBand, pass: max <= critical };
}

function referencePoints(spec: 'box' | ReadonlyArray<ArrayLike<number>>, truths: ReadonlyArray<ArrayLike<number>>, dim: number, rng: Rng): ArrayLike<number>[] {
  if (spec !== 'box') {
    if (spec.length !== truths.length) throw new RangeError(`tarp: ${spec.length} reference points for ${truths.length} simulations`);
    spec.forEach((r, i) => {
      if (r.length !== dim) throw new RangeError(`tarp: reference point ${i} has ${r.length} coordinates, expected ${dim}`);
    });
    return [...spec];
  }
  const lo = new Float64Array(dim).fill(Infinity);
  const hi = new Float64Array(dim).fill(-Infinity);
  for (const t of truths) {
    for (let d = 0; d < dim; d++) {
      lo[d] = Math.min(lo[d], t[d]);
      hi[d] = Math.max(hi[d], t[d]);
    }
  }
  return truths.map(() => Float64Array.from({ length: dim }, (_, d) => lo[d] + rng.uniform() * (hi[d] - lo[d])));
}

/** Options of {@link tarpCheck}. */
export interface TarpCheckOptions<A extends unknown[], R> extends SimulationLoopOptions<A, R>, Omit<TarpOptions, 'references' | 'seed'> {
  /** The scalar parameters forming the vector θ (names as `mu` or `theta[2]`; default every scalar in the truth). */
  readonly params?: readonly string[];
  /** Posterior draws per simulation (default 200; resampled or ESS-thinned as for SBC). */
  readonly draws?: number;
  /** A reference point per simulation, which may depend on the simulated data; default `'box'`. */
  readonly reference?: 'box' | ((sim: Simulation<A, R>, rng: Rng) => ArrayLike<number>);
}

/**
 * Simulate data sets, run the engine on each and apply {@link tarp} to its
 * draws. Any engine or {@link EngineFn} returning a Posterior works.
 */
export async function tarpCheck<A extends unknown[], R>(options: TarpCheckOptions<A, R>): Promise<TarpResult & { params: string[] }> {
  const L = options.draws ?? 200;
  let names: string[] | undefined = options.params ? [...options.params] : undefined;
  const samples: number[][][] = [];
  const truths: number[][] = [];
  const refs: ArrayLike<number>[] = [];
  const reference = options.reference ?? 'box';
  checkSeed('tarpCheck', options.seed);
  await forEachSimulation(options, (sim, post, rng, index) => {
    const truth = flattenValues(sim.params);
    if (names === undefined) names = [...truth.keys()];
    const keys = names;
    truths.push(keys.map((k) => {
      const v = truth.get(k);
      if (v === undefined) throw new Error(`tarpCheck: simulation ${index} has no true value for "${k}"; known: ${[...truth.keys()].join(', ')}`);
      return v;
    }));
    const { draws } = independentDraws(post, L, rng);
    samples.push(draws.map((d, j) => {
      const flat = flattenValues(d.values);
      return keys.map((k) => {
        const v = flat.get(k);
        if (v === undefined) throw new Error(`tarpCheck: draw ${j} of simulation ${index} has no value for "${k}" (engine ${post.method})`);
        return v;
      });
    }));
    if (reference !== 'box') refs.push(reference(sim, rng.split()));
  });
  const result = tarp(samples, truths, { ...options, references: reference === 'box' ? 'box' : refs, seed: options.seed });
  return { ...result, params: names ?? [] };
}
