/**
 * Has the optimisation stopped improving? The loss (minus the ELBO) of the
 * last two windows of steps, each a tenth of the run (at least 10 steps):
 * if the later window's mean is lower by more than 3 standard errors of the
 * difference and by more than `STILL_IMPROVING_NATS`, the fit was still
 * moving when it stopped.
 *
 * This complements the Pareto k-hat: k-hat judges the guide against the
 * posterior only where the guide puts its mass, so a guide stopped far from
 * the posterior (e.g. in a region where the target is locally narrower than
 * the guide) can score well while its answer is wrong. An ELBO still rising
 * says so. Stan's ADVI stops on a similar relative-change rule.
 *
 * @module
 */

/**
 * Loss decrease (nats) between the last two windows below which a fit counts
 * as settled whatever the noise: the ELBO is log Z minus KL(q || p), so this
 * bounds how much closer the guide was still getting.
 */
export const STILL_IMPROVING_NATS = 0.1;

/** The loss trend at the end of a run. */
export interface LossTrend {
  /** Mean loss of the next-to-last window minus that of the last (positive: still improving). */
  readonly decrease: number;
  /** Standard error of `decrease` (the windows' step-to-step noise, treated as independent). */
  readonly stderr: number;
  /** Steps in each window. */
  readonly window: number;
  /** True when the decrease exceeds both 3 standard errors and `STILL_IMPROVING_NATS`. */
  readonly stillImproving: boolean;
}

/**
 * The trend of the last two windows of `lossHistory`; undefined with fewer
 * than 20 finite losses.
 */
export function lossTrend(lossHistory: ArrayLike<number>): LossTrend | undefined {
  const n = lossHistory.length;
  const window = Math.max(10, Math.floor(n / 10));
  if (n < 2 * window) return undefined;
  const a = Array.from({ length: window }, (_, i) => lossHistory[n - 2 * window + i]!);
  const b = Array.from({ length: window }, (_, i) => lossHistory[n - window + i]!);
  if (![...a, ...b].every(Number.isFinite)) return undefined;
  const mean = (x: number[]): number => x.reduce((s, v) => s + v, 0) / x.length;
  const variance = (x: number[], m: number): number => x.reduce((s, v) => s + (v - m) ** 2, 0) / (x.length - 1);
  const ma = mean(a);
  const mb = mean(b);
  const decrease = ma - mb;
  const stderr = Math.sqrt(variance(a, ma) / window + variance(b, mb) / window);
  return { decrease, stderr, window, stillImproving: decrease > 3 * stderr && decrease > STILL_IMPROVING_NATS };
}
