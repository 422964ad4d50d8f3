/**
 * The British coal-mining disasters switchpoint model (Jarrett 1979; the
 * changepoint example of Carlin, Gelfand & Smith 1992, PyMC and Stan):
 * yearly disaster counts 1851–1962 (`models/data/coal.json`, 112 years,
 * 191 disasters), a switchpoint `s` uniform over the 112 years, an early and
 * a late Poisson rate with Gamma(a, b) priors (Exponential(1) = Gamma(1, 1)
 * by default):
 *
 *   s ~ Categorical(uniform over 0..111),  early, late ~ Gamma(a, b),
 *   y_t ~ Poisson(t < s ? early : late).
 *
 * Written with the polymorphic `ops`, so the switchpoint can be a tensor of
 * all its values at once (vectorised Gibbs). The exact posterior of `s`
 * (rates integrated out, conjugate Gamma) is {@link coalExactPosterior}.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { Categorical, Gamma, Poisson, model, ops } from '../src/index.js';
import { lgamma } from '../src/core/special.js';

/** Yearly counts and the Gamma prior of the two rates. */
export interface CoalData {
  /** Disasters per year, first year first. */
  readonly counts: readonly number[];
  /** Gamma shape of both rates (default 1). */
  readonly a?: number;
  /** Gamma rate of both rates (default 1). */
  readonly b?: number;
}

/** The 112 yearly counts 1851–1962 (see models/data/README.md for their source). */
export function loadCoalData(): CoalData & { firstYear: number } {
  const raw = JSON.parse(readFileSync(new URL('./data/coal.json', import.meta.url), 'utf8')) as { first_year: number; counts: number[] };
  return { counts: raw.counts, firstYear: raw.first_year };
}

/** 0, 1, ..., n - 1 per length (one array each, so its tensor is cached by `ops.toValue`). */
const years = new Map<number, number[]>();

/** Latent sites `switchpoint` (index of the first late year), `early`, `late`. */
export const coalSwitchpoint = model(
  async ({ sample, observe }, d: CoalData) => {
    const n = d.counts.length;
    const s = await sample('switchpoint', Categorical(new Array<number>(n).fill(1 / n)));
    const early = await sample('early', Gamma(d.a ?? 1, d.b ?? 1));
    const late = await sample('late', Gamma(d.a ?? 1, d.b ?? 1));
    let t = years.get(n);
    if (t === undefined) years.set(n, (t = Array.from({ length: n }, (_, i) => i)));
    await observe('disasters', Poisson(ops.where(ops.lt(ops.toValue(t), s), early, late)), d.counts as number[]);
  },
  { name: 'coal_switchpoint' },
);

/**
 * The exact posterior of the switchpoint, the rates integrated out
 * analytically (Gamma–Poisson conjugacy), and the posterior means of the
 * rates: P(s | y) ∝ Γ(a + S₁)/(b + s)^(a + S₁) · Γ(a + S₂)/(b + n − s)^(a + S₂),
 * S₁ = Σ_{t<s} y_t, S₂ = Σ_{t≥s} y_t.
 */
export function coalExactPosterior(d: CoalData): { probs: Float64Array; meanSwitchpoint: number; meanEarly: number; meanLate: number } {
  const a = d.a ?? 1;
  const b = d.b ?? 1;
  const n = d.counts.length;
  const total = d.counts.reduce((x, y) => x + y, 0);
  const logp = new Float64Array(n);
  let s1 = 0;
  for (let s = 0; s < n; s++) {
    const s2 = total - s1;
    logp[s] = (lgamma(a + s1) as number) - (a + s1) * Math.log(b + s) + (lgamma(a + s2) as number) - (a + s2) * Math.log(b + n - s);
    s1 += d.counts[s];
  }
  const max = Math.max(...logp);
  const probs = logp.map((l) => Math.exp(l - max));
  const z = probs.reduce((x, y) => x + y, 0);
  let meanSwitchpoint = 0;
  let meanEarly = 0;
  let meanLate = 0;
  s1 = 0;
  for (let s = 0; s < n; s++) {
    probs[s] /= z;
    meanSwitchpoint += s * probs[s];
    meanEarly += (probs[s] * (a + s1)) / (b + s);
    meanLate += (probs[s] * (a + total - s1)) / (b + n - s);
    s1 += d.counts[s];
  }
  return { probs, meanSwitchpoint, meanEarly, meanLate };
}
