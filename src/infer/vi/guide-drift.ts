/**
 * Is the guide's location still drifting when the fit stops? The loss trend
 * (`convergence.ts`) misses a guide that keeps moving along a direction where
 * the ELBO rises slowly: a posterior whose mass lies far beyond where Adam's
 * small steps have carried the guide (separable logistic regression under a
 * wide prior), or an improper posterior whose ELBO is unbounded above but
 * rises only logarithmically. The guide's own parameters show it: the
 * mean-field location, read every few steps over the last five windows of the
 * run (each a tenth of it, as the loss trend), moves the same way from every
 * window to the next, by half a guide sd or more in all and without slowing
 * down, where a settled fit's location only jitters about its optimum and a
 * fit still converging slows as it nears it.
 *
 * @module
 */

/** Snapshots taken per window. */
const SNAPSHOTS = 10;
/** Windows recorded at the end of the run (each a tenth of it). */
const WINDOWS = 5;

/** The largest location drift over the last half of a fit. */
export interface GuideDrift {
  /** Unconstrained coordinate name (site, with `[i]` for an element). */
  readonly name: string;
  /** Mean location of the last window minus that of the first recorded one, in units of the guide's final sd. */
  readonly sds: number;
  /** Each window's mean location minus the first's, in guide sds. */
  readonly path: number[];
  /** Steps in each window. */
  readonly window: number;
  /** Whether the drift is steady (`isSteady`): the warning's condition. */
  readonly steady: boolean;
}

/**
 * Records the mean-field guide's location during the last five
 * windows of a run (a tenth of the steps each, at least 10), every
 * window/10 steps.
 */
export class DriftRecorder {
  readonly window: number;
  private readonly stride: number;
  private readonly start: number;
  private readonly sums: Float64Array[] = [];
  private readonly counts = new Array<number>(WINDOWS).fill(0);
  private lastScale: Float64Array | undefined;

  constructor(readonly steps: number) {
    this.window = Math.max(10, Math.floor(steps / 10));
    this.stride = Math.max(1, Math.floor(this.window / SNAPSHOTS));
    this.start = steps - WINDOWS * this.window;
  }

  /** Whether step `k` (0-based, after its update) is one to read. */
  wants(k: number): boolean {
    return this.start >= 0 && k >= this.start && (k - this.start) % this.stride === this.stride - 1;
  }

  /** Adds the guide's location and scale after step `k`. */
  record(k: number, loc: Float64Array, scale: Float64Array): void {
    const w = Math.min(WINDOWS - 1, Math.floor((k - this.start) / this.window));
    const sum = (this.sums[w] ??= new Float64Array(loc.length));
    for (let j = 0; j < loc.length; j++) sum[j] += loc[j]!;
    this.counts[w]!++;
    this.lastScale = scale;
  }

  /**
   * The coordinate whose location drifted most over the last half of the run
   * (in guide sds), preferring one that drifted steadily (see
   * `isSteady`); undefined when the run was too short to record.
   */
  drift(names: readonly string[]): GuideDrift | undefined {
    const scale = this.lastScale;
    if (!scale || this.counts.some((c) => c === 0)) return undefined;
    const mean = (w: number, j: number): number => this.sums[w]![j]! / this.counts[w]!;
    let worst: GuideDrift | undefined;
    for (let j = 0; j < scale.length; j++) {
      const s = scale[j]!;
      if (!(s > 0)) continue;
      const path = Array.from({ length: WINDOWS }, (_, w) => (mean(w, j) - mean(0, j)) / s);
      const sds = path[WINDOWS - 1]!;
      if (!Number.isFinite(sds)) continue;
      const candidate: GuideDrift = { name: names[j] ?? `z[${j}]`, sds, path, window: this.window, steady: isSteady(path) };
      if (!worst || (candidate.steady && !worst.steady) || (candidate.steady === worst.steady && Math.abs(sds) > Math.abs(worst.sds))) worst = candidate;
    }
    return worst;
  }
}

/** A steady drift moves the location at least this many guide sds over the recorded windows. */
export const DRIFT_SDS = 0.5;

/**
 * Whether a location path (each window's mean minus the first's, in guide
 * sds) drifts steadily: every step between windows goes the same way, the
 * total reaches `DRIFT_SDS`, and the second half of the path moves at
 * least half as far as the first (a fit converging to its optimum slows
 * down; one chasing a posterior out of reach, or an improper one, does not).
 */
export function isSteady(path: readonly number[]): boolean {
  const n = path.length;
  const total = path[n - 1]! - path[0]!;
  if (!(Math.abs(total) >= DRIFT_SDS)) return false;
  const sign = Math.sign(total);
  for (let w = 1; w < n; w++) if (!(sign * (path[w]! - path[w - 1]!) > 0)) return false;
  const mid = Math.floor((n - 1) / 2);
  const early = sign * (path[mid]! - path[0]!);
  const late = sign * (path[n - 1]! - path[mid]!);
  return late >= 0.5 * early;
}

/** The warning for a guide whose location drifted steadily to the end of the run (also printed with `console.warn`). */
export function driftWarning(drift: GuideDrift, guide: string, steps: number): string {
  const warning =
    `vi: the ${guide}'s location for "${drift.name}" was still moving steadily when the ${steps} steps ended ` +
    `(by ${drift.sds.toPrecision(2)} guide sds over the last ${(drift.path.length - 1) * drift.window} steps, the same way in every window of ${drift.window} steps and not slowing down), ` +
    'so its mean and sd are not the posterior\'s, whatever the loss and k-hat say: the posterior\'s mass may lie far beyond where the steps have reached ' +
    '(e.g. logistic regression on separable data under a wide prior), or the posterior may be improper (a Flat prior, or a scale with p(tau) ∝ 1/tau, that the data do not pin down), ' +
    "where no guide converges. Run more steps or raise the learning rate and see whether it settles, and compare with method 'nuts'";
  console.warn(warning);
  return warning;
}
