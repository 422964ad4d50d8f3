/**
 * The exact answer of the trust tests' branching model: mu ~ N(0, 1) and
 * y = -1 observed under Normal(mu, scale(mu)), where the scale depends on a
 * comparison of mu (the model a tensor condition gets wrong).
 */

const ln = (y: number, m: number, s: number): number => -0.5 * ((y - m) / s) ** 2 - Math.log(s);

/** E[mu] for mu ~ N(0, 1), y = -1 observed with scale `scale(mu)`, by a midpoint rule on [-10, 10]. */
export function exactMean(scale: (mu: number) => number): number {
  let z = 0;
  let s = 0;
  for (let k = 0; k < 200000; k++) {
    const x = -10 + (20 * (k + 0.5)) / 200000;
    const w = Math.exp(ln(x, 0, 1) + ln(-1, x, scale(x)));
    z += w;
    s += w * x;
  }
  return s / z;
}
