/**
 * The adaptive temperature rule of tempered SMC (both paths): the next β is
 * the largest one whose incremental weights keep a target ESS.
 *
 * @module
 */
import { logSumExp } from '../../core/value.js';

/**
 * The next temperature: the largest b' in (b, 1] whose incremental weights
 * have ESS >= target * n (bisection on b').
 */
export function nextTemperature(beta: number, logLik: ArrayLike<number>, targetFraction: number): number {
  const n = logLik.length;
  const essAt = (b: number): number => {
    const lw = Array.from(logLik, (l) => (l === -Infinity ? -Infinity : (b - beta) * l));
    const lse = logSumExp(lw);
    let s2 = 0;
    for (const w of lw) s2 += Math.exp(2 * (w - lse));
    return 1 / s2;
  };
  if (essAt(1) >= targetFraction * n) return 1;
  let lo = beta;
  let hi = 1;
  for (let i = 0; i < 60 && hi - lo > 1e-12; i++) {
    const mid = (lo + hi) / 2;
    if (essAt(mid) >= targetFraction * n) lo = mid;
    else hi = mid;
  }
  // never stall: move at least a little
  return Math.max(lo, beta + 1e-9);
}
