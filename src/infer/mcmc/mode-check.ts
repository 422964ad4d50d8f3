/**
 * The check that `init: 'ascent'` did not hide a mode. Each chain's ascent
 * climbs from several uniform draws and keeps the best; the others' ends are
 * discarded. Where a posterior has a minor mode (a label switch in a mixture
 * or a hidden Markov model), every chain may keep a start in the major
 * mode's basin: the draws then miss the minor mode and R-hat is clean, since
 * all chains agree. The discarded ends already say where the other basins
 * are, so this check reads them after the run, at no density evaluation:
 *
 * - an end counts only where its ascent had settled (its last step gained
 *   under 0.001 in log density): an ascent still climbing (part way up a
 *   slope, or down a funnel's neck, where the density is unbounded) has not
 *   found a mode, and two such ends of one basin may lie far apart;
 * - its log density is within {@link MODE_GAP} of the best the run saw (the
 *   best kept end, or the best draw), so that its mode could hold real mass;
 * - no draw went as far out: the end's squared distance from the draws'
 *   mean, each coordinate in units of the draws' own sd (all chains pooled),
 *   is above {@link SPREAD_FACTOR} times the largest of any draw. A mode the
 *   chains visited, or one in a flat direction the chains roam (a ridge, a
 *   funnel's mouth), lies inside the draws' spread.
 *
 * See docs/engines/mcmc.md, "Where chains start", and docs/design.md,
 * "MODEWARN, session 19", for the measurements behind the thresholds.
 *
 * @module
 */
import type { AscentEnd } from './initialise.js';
import type { McmcSamples } from './sampler.js';

/** An end whose log density is more than this below the best the run saw is left out (its mode holds too little mass to matter). */
export const MODE_GAP = 8;
/** An end is unvisited where its squared standardised distance from the draws' mean exceeds this times every draw's. */
export const SPREAD_FACTOR = 2;

/** One settled ascent end that no draw came near. @internal */
export interface UnvisitedEnd {
  /** The chain whose ascent found it. */
  readonly chain: number;
  /** The end, in unconstrained coordinates. */
  readonly q: readonly number[];
  readonly logp: number;
  /** Its squared standardised distance from the draws' mean over the largest of any draw. */
  readonly spread: number;
}

/** What the check found. @internal */
export interface ModeCheck {
  /** Candidate ends in all chains. */
  readonly ends: number;
  /** Of them, those whose ascent had settled at a mode. */
  readonly settled: number;
  /** The best log density the run saw (the best end the chains kept, or the best draw). */
  readonly best: number;
  /** Per coordinate: the draws' mean and sd, all chains pooled. */
  readonly mean: Float64Array;
  readonly sd: Float64Array;
  /** Settled ends within {@link MODE_GAP} of the best, farther out than any draw (highest log density first). */
  readonly unvisited: UnvisitedEnd[];
  /** The largest spread of a settled end within {@link MODE_GAP} (0 where there is none; from the coarse pass where it stood). */
  readonly maxSpread: number;
}

/** The inputs: each chain's ascent ends, its draws (draws x dim, row-major) and their log densities. @internal */
export interface ModeCheckInput {
  readonly dim: number;
  readonly initEnds: readonly (readonly AscentEnd[])[];
  readonly samples: readonly Float64Array[];
  readonly logDensity: readonly ArrayLike<number>[];
}

/**
 * Reads the ascent ends against the draws (see the module comment); costs
 * two passes over about 100 draws a chain (over every draw again only where
 * an end lies near or beyond the threshold), no density evaluation.
 *
 * @internal
 */
export function checkAscentEnds(input: ModeCheckInput): ModeCheck {
  // first on every k-th draw (about COARSE_ROWS a chain): where every end lies well inside that cloud (the usual,
  // unimodal case) the answer is the same, and the loops stay short enough that V8 does not compile them on a
  // process's first call (FIRST6 measured ~15 ms of compiler time for the full passes); else again on every draw
  const rows = input.samples[0] !== undefined && input.dim > 0 ? Math.floor(input.samples[0].length / input.dim) : 0;
  const stride = Math.max(1, Math.floor(rows / COARSE_ROWS));
  const coarse = classify(input, stride);
  return stride > 1 && coarse.maxSpread >= SURELY_INSIDE ? classify(input, 1) : coarse;
}

/** Draws per chain of the first, coarse pass. */
const COARSE_ROWS = 100;
/** A coarse pass whose ends all lie under this spread stands (half the warning's threshold). */
const SURELY_INSIDE = SPREAD_FACTOR / 2;

/** The check on every `stride`-th draw of each chain. */
function classify(input: ModeCheckInput, stride: number): ModeCheck {
  const { dim, initEnds, samples } = input;
  const step = stride * dim;
  const mean = new Float64Array(dim);
  const m2 = new Float64Array(dim);
  let n = 0;
  for (const chain of samples) {
    for (let at = 0; at + dim <= chain.length; at += step) {
      n++;
      for (let i = 0; i < dim; i++) {
        const d = chain[at + i]! - mean[i]!;
        mean[i] = mean[i]! + d / n;
        m2[i] = m2[i]! + d * (chain[at + i]! - mean[i]!);
      }
    }
  }
  const sd = new Float64Array(dim);
  // a coordinate that never moved gets a tiny floor (the `unmoved` warning names it): any distance there is large
  for (let i = 0; i < dim; i++) sd[i] = Math.max(n > 1 ? Math.sqrt(m2[i]! / (n - 1)) : 0, 1e-9 * (1 + Math.abs(mean[i]!)));
  const r2 = (q: ArrayLike<number>, at: number): number => {
    let s = 0;
    for (let i = 0; i < dim; i++) s += ((q[at + i]! - mean[i]!) / sd[i]!) ** 2;
    return s;
  };
  let widest = 0;
  for (const chain of samples) for (let at = 0; at + dim <= chain.length; at += step) widest = Math.max(widest, r2(chain, at));
  let best = -Infinity;
  for (const lp of input.logDensity) for (let i = 0; i < lp.length; i += stride) if (lp[i]! > best) best = lp[i]!;
  for (const chain of initEnds) for (const e of chain) if (e.chosen && e.logp > best) best = e.logp;
  let ends = 0;
  let settled = 0;
  const unvisited: UnvisitedEnd[] = [];
  let maxSpread = 0;
  initEnds.forEach((chain, c) => {
    for (const e of chain) {
      ends++;
      if (!e.converged || !Number.isFinite(e.logp) || e.q.length !== dim) continue;
      settled++;
      if (e.logp < best - MODE_GAP) continue;
      const spread = r2(e.q, 0) / Math.max(widest, 1e-300);
      maxSpread = Math.max(maxSpread, spread);
      if (spread > SPREAD_FACTOR) unvisited.push({ chain: c, q: e.q, logp: e.logp, spread });
    }
  });
  unvisited.sort((a, b) => b.logp - a.logp);
  return { ends, settled, best, mean, sd, unvisited, maxSpread };
}

/**
 * The warning for a {@link ModeCheck} that found unvisited ends, naming the
 * coordinates where the best of them lies farthest from the draws; undefined
 * where it found none.
 *
 * @internal
 */
export function unvisitedModeWarning(check: ModeCheck, names: readonly string[]): string | undefined {
  const top = check.unvisited[0];
  if (top === undefined) return undefined;
  const z = top.q.map((x, i) => ({ i, z: (x - check.mean[i]!) / check.sd[i]! }));
  z.sort((a, b) => Math.abs(b.z) - Math.abs(a.z));
  const g = (x: number): string => x.toPrecision(3);
  const where = z
    .slice(0, 3)
    .map(({ i }) => `${names[i] ?? `q[${i}]`} ${g(top.q[i]!)} (draws ${g(check.mean[i]!)} ± ${g(check.sd[i]!)})`)
    .join(', ');
  const chains = new Set(check.unvisited.map((u) => u.chain)).size;
  return (
    `init 'ascent' found a mode that no chain visited: ${check.unvisited.length} of ${check.ends} starting ascents (in ${chains} chain${chains === 1 ? '' : 's'}) ended where no draw went, ` +
    `the best at log density ${g(top.logp)} against ${g(check.best)} where the chains went, at ${where} (unconstrained coordinates); ` +
    'every chain kept a start in another basin, so the draws may leave out a mode that holds real mass, and R-hat cannot show it. ' +
    "Run again with init: 'uniform' and more chains (chains that start there and stay make R-hat say so), " +
    'and look for a symmetry (mixture components or hidden states whose labels can swap: order them) or other multimodality'
  );
}

/** The check's figures, kept in a posterior's diagnostics (`modeCheck`). @internal */
export interface ModeCheckSummary {
  /** Candidate ends in all chains. */
  readonly ends: number;
  /** Of them, those whose ascent had settled at a mode. */
  readonly settled: number;
  /** Settled ends within {@link MODE_GAP} of the best log density and farther out than any draw (the warning's). */
  readonly unvisited: number;
  /**
   * The largest spread of a settled end within {@link MODE_GAP}: its squared
   * standardised distance from the draws' mean over the largest of any draw
   * (the warning fires above {@link SPREAD_FACTOR}; 0 where there is none).
   */
  readonly maxSpread: number;
}

/**
 * The check on a run's result, where its chains started by `ascent` (the
 * result then carries the ends): its figures, and the warning where it found
 * a mode no chain visited; undefined where the chains did not start by `ascent`.
 *
 * @internal
 */
export function ascentModeCheck(result: Pick<McmcSamples, 'dim' | 'samples' | 'stats' | 'initEnds'>, names: readonly string[]): { modeCheck: ModeCheckSummary; hiddenMode?: string } | undefined {
  if (result.initEnds === undefined) return undefined;
  const check = checkAscentEnds({ dim: result.dim, initEnds: result.initEnds, samples: result.samples, logDensity: result.stats.map((s) => s.logDensity) });
  const warning = unvisitedModeWarning(check, names);
  const modeCheck: ModeCheckSummary = { ends: check.ends, settled: check.settled, unvisited: check.unvisited.length, maxSpread: check.maxSpread };
  return { modeCheck, ...(warning !== undefined ? { hiddenMode: warning } : {}) };
}
