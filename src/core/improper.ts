/**
 * Improper priors may be drawn from only while a gradient-based engine lays
 * out a model's latent sites (a draw there is an initial point, as Stan's
 * uniform(-2, 2) initialisation, not a prior sample). Everywhere else a draw
 * from one is an error naming the site.
 *
 * @module
 */

let allowed = 0;

/** Run `f` with draws from improper priors allowed (layout probes of NUTS, HMC and VI). */
export async function withImproperDraws<T>(f: () => Promise<T>): Promise<T> {
  allowed++;
  try {
    return await f();
  } finally {
    allowed--;
  }
}

/** Whether draws from improper priors are allowed now (inside {@link withImproperDraws}). */
export function improperDrawsAllowed(): boolean {
  return allowed > 0;
}
