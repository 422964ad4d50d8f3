/**
 * Why a model's density is zero, infinite or NaN: the shared explanation
 * behind every engine's "no point with positive probability" and "a weight
 * is Infinity / NaN" errors.
 *
 * An engine that finds nothing with positive density throws a
 * {@link ZeroDensityError}; one that meets a log density of +Infinity or NaN
 * (a log-weight, a log potential, a log joint, a loss) throws a
 * {@link NonFiniteDensityError} (made by {@link nonFiniteDensityError}). `infer`
 * hands either to {@link explainDensity}, which names the site to blame: for a
 * non-finite density, first in the execution the engine held (the error's `blame`),
 * then, as for a zero density, by running the model from its prior a few
 * times, recording each site's log density. The words for one site come
 * from `siteDensityProblem`, so every engine says the same thing.
 *
 * @module
 */
import { InvalidParameterError, ModelError, NonFiniteDensityError, ZeroDensityError, isTycheError } from '../core/errors.js';
import type { Handler, Message } from '../core/message.js';
import type { Model } from '../core/model.js';
import { type Rng, rngFrom, type Seed } from '../core/rng.js';
import { type Value, all, describe, isTensor } from '../core/value.js';
import type { Distribution } from '../distributions/distribution.js';
import { BinaryProbs } from '../distributions/probs.js';

/** Prior runs tried before giving up on naming a site. */
const TRIES = 20;

/** What a site's log density holds that no engine can use. */
type Bad = '-Infinity' | '+Infinity' | 'NaN';

/** The fields of a site (or a finished message) that the explanation reads. */
interface DensitySite {
  readonly type: string;
  readonly address: string;
  readonly dist?: Distribution;
  readonly value?: unknown;
  readonly observed: boolean;
  readonly logProb?: unknown;
}

/** The worst element of a log density: NaN, then +Infinity, then -Infinity; undefined when all are finite. */
function badOf(lp: unknown): Bad | undefined {
  const classify = (x: number): Bad | undefined => (x !== x ? 'NaN' : x === Infinity ? '+Infinity' : x === -Infinity ? '-Infinity' : undefined);
  if (typeof lp === 'number') return classify(lp);
  if (!isTensor(lp as Value)) return undefined;
  let worst: Bad | undefined;
  const d = (lp as { dataSync(): ArrayLike<number> }).dataSync();
  for (let i = 0; i < d.length; i++) {
    const b = classify(d[i]);
    if (b === 'NaN') return b;
    if (b === '+Infinity' || (b && !worst)) worst = b;
  }
  return worst;
}

/** A site whose density is +Infinity or NaN, with what is wrong. */
interface Found {
  readonly site: DensitySite;
  readonly bad: Bad;
}

/** The first site whose log density is +Infinity or NaN (somewhere in its elements), or undefined. */
function firstNonFinite(sites: Iterable<DensitySite>): Found | undefined {
  for (const s of sites) {
    if (s.type === 'deterministic' || s.type === 'param') continue;
    const bad = badOf(s.logProb);
    if (bad === '+Infinity' || bad === 'NaN') return { site: s, bad };
  }
  return undefined;
}

/** A value for a message: numbers as they are, small tensors by their entries, others described (`core/value.ts`). */
export function fmt(v: unknown): string {
  if (v === undefined) return 'undefined';
  if (typeof v === 'number') return String(v);
  return isTensor(v as Value) && (v as { size: number }).size <= 6 ? `[${Array.from((v as { dataSync(): ArrayLike<number> }).dataSync()).join(', ')}]` : describe(v as Value);
}

/** A distribution with its scalar (or small) parameters, e.g. `Beta(concentration1=1, concentration0=0.5)`. */
function distWithParams(dist: Distribution): string {
  const params: string[] = [];
  for (const [key, v] of Object.entries(dist)) {
    if (key === 'name' || key === 'batchShape' || key === 'eventShape') continue;
    if (typeof v === 'number') params.push(`${key}=${Number(v.toPrecision(4))}`);
    else if (isTensor(v as Value) && (v as { size: number }).size <= 4) params.push(`${key}=${fmt(v)}`);
  }
  return `${dist.name}(${params.join(', ')})`;
}

/**
 * What is wrong with one site's log density, in words, for any engine: the
 * distribution, the value and why. `-Infinity` means the value has density
 * zero; `+Infinity` that the density diverges there (a value on a boundary
 * where, e.g., `Beta(a, b)` with a < 1 or b < 1 or `Gamma(shape < 1)` is
 * unbounded), so the posterior is improper or puts all its weight on that
 * point; `NaN` that the density is undefined there.
 */
function siteDensityProblem(site: DensitySite, bad: Bad): string {
  if (site.type === 'factor') {
    return bad === '-Infinity'
      ? 'the factor is -Infinity'
      : `the factor is ${bad}: no engine can weigh a point of ${bad === 'NaN' ? 'undefined' : 'infinite'} density (keep the factor's log weight finite)`;
  }
  const dist = site.dist as Distribution;
  const what = site.observed ? `the observed value ${fmt(site.value)}` : `the value ${fmt(site.value)} of this latent site`;
  if (bad === '-Infinity') {
    if (!site.observed) return `the value ${fmt(site.value)} has zero probability under ${dist.name}`;
    let inside = true;
    try {
      inside = all(dist.support.check(site.value as Value));
    } catch {
      // a support that cannot check this value: say the probability is zero
    }
    return inside
      ? `the observed value ${fmt(site.value)} has zero probability under ${dist.name} (the observation is impossible${saturated(dist) ? SATURATED : ''})`
      : `the observed value ${fmt(site.value)} is outside the support of ${dist.name} (${dist.support.name}): fix the data (no start point or init value can help)`;
  }
  const named = distWithParams(dist);
  if (bad === 'NaN') {
    return `the log density of ${named} at ${what} is NaN (a parameter or the value is NaN, or the density is undefined there); no engine can weigh it`;
  }
  const remedy = site.observed
    ? 'move the data off the boundary of the support (e.g. clamp it into [eps, 1 - eps]) or give the shape parameters a prior that keeps them >= 1'
    : 'a draw landed exactly on the boundary where the density diverges (float rounding); give the shape parameters a prior that keeps them >= 1 or reparameterise the site';
  return `the density of ${named} at ${what} is infinite (log density +Infinity): the density diverges at this boundary point, so the posterior is improper or puts all its weight there, and no engine can weigh it; ${remedy}`;
}

/** The words after "the observation is impossible" where a probability parameter is exactly 0 or 1. */
const SATURATED =
  ' here: a success probability is exactly 0 or 1 at this point; where it comes from a sigmoid or inv_logit that rounded off ' +
  'in floating point (|logit| above ~17 in float32, ~37 in float64), the observation is possible and only the rounding makes it impossible: ' +
  'give the logits instead (`Bernoulli({ logits: eta })`, `BernoulliLogit(eta)`, `BinomialLogit(n, eta)`), which keep every probability above 0';

/** True when a Bernoulli-like family was given probabilities (not logits) of which one is exactly 0 or 1. */
function saturated(dist: Distribution): boolean {
  try {
    for (const v of Object.values(dist)) {
      if (!(v instanceof BinaryProbs) || v.isLogits) continue;
      const p = v.value;
      const data = typeof p === 'number' ? [p] : isTensor(p) ? Array.from((p as unknown as { dataSync(): ArrayLike<number> }).dataSync()) : [];
      if (data.some((x) => x === 0 || x === 1)) return true;
    }
  } catch {
    // a parameter that cannot be read (disposed): no hint
  }
  return false;
}

/** The error naming the site, with the engine's error as its cause and its words at the end. */
function siteError(found: { site: DensitySite; bad: Bad }, err: Error): ModelError {
  return new ModelError(found.site.address, `${siteDensityProblem(found.site, found.bad)}; ${err.message}`, { cause: err });
}

/** Run the model once from the prior; its first zero-density site and its first infinite- or NaN-density site. */
async function badSites<A extends unknown[], R>(m: Model<A, R>, args: A, rng: Rng): Promise<{ zero?: Message; nonFinite?: Found }> {
  const out: { zero?: Message; nonFinite?: Found } = {};
  const recorder: Handler = {
    postprocess(msg) {
      if (msg.logProb === undefined || msg.type === 'deterministic' || msg.type === 'param') return;
      if (out.zero && out.nonFinite) return;
      const bad = badOf(msg.logProb);
      if (bad === '-Infinity' && !out.zero) out.zero = msg;
      else if ((bad === '+Infinity' || bad === 'NaN') && !out.nonFinite) out.nonFinite = { site: msg as unknown as DensitySite, bad };
    },
  };
  await m.run({ rng, handlers: [recorder] }, ...args);
  return out;
}

/**
 * The error to show for an engine's {@link ZeroDensityError} or
 * {@link NonFiniteDensityError}: a {@link ModelError} naming the site to
 * blame (the engine's error is its `cause`), the model's own error when
 * running it from the prior fails, or the engine's error when no site is
 * found. A zero density blames a site of density zero first, then one of
 * infinite or NaN density (an engine that wants a finite point, as NUTS's
 * initialisation does, sees neither apart); a non-finite one blames only a
 * site of infinite or NaN density, first the one the engine found in the
 * execution it held.
 */
export async function explainDensity<A extends unknown[], R>(err: ZeroDensityError | NonFiniteDensityError, m: Model<A, R>, args: A, seed: Seed = 0): Promise<Error> {
  const wantZero = err instanceof ZeroDensityError;
  if (!wantZero && err.blame) return new ModelError(err.blame.address, `${err.blame.problem}; ${err.message}`, { cause: err });
  const rng = rngFrom(seed);
  let other: { site: DensitySite; bad: Bad } | undefined;
  for (let i = 0; i < TRIES; i++) {
    let got: { zero?: Message; nonFinite?: Found };
    try {
      got = await badSites(m, args, rng.split());
    } catch (runErr) {
      if (runErr instanceof InvalidParameterError || isTycheError(runErr)) {
        // the engine's own account follows (the prior run is not the engine's point: e.g. VI's rejected guide draw)
        (runErr as Error).message += ` (from a prior run, made to explain: ${err.message})`;
        return runErr as Error;
      }
      return err;
    }
    const zero = got.zero ? { site: got.zero as unknown as DensitySite, bad: '-Infinity' as Bad } : undefined;
    const first = wantZero ? zero : got.nonFinite;
    if (first) return siteError(first, err);
    // (not the other way: a NaN loss or weight is not explained by a site of density zero)
    if (wantZero) other ??= got.nonFinite;
  }
  if (other) return siteError(other, err);
  err.message += wantZero
    ? ` (the model's prior draws tried here all have positive probability, so no single site is to blame)`
    : ` (the model's prior draws tried here all have finite densities, so no single site is to blame)`;
  return err;
}

/** {@link explainDensity} for a {@link ZeroDensityError} (the name engines and older callers use). */
export function explainZeroDensity<A extends unknown[], R>(err: ZeroDensityError, m: Model<A, R>, args: A, seed: Seed = 0): Promise<Error> {
  return explainDensity(err, m, args, seed);
}

/**
 * The error an engine throws when it meets a log density of +Infinity or
 * NaN: a {@link NonFiniteDensityError} with `message`, blaming the first site
 * of `sites` (the execution where the engine met it, when it holds one)
 * whose log density is +Infinity or NaN. The site is described now, while
 * its tensors are alive; `infer` then names it (see {@link explainDensity}).
 */
export function nonFiniteDensityError(message: string, sites?: Iterable<DensitySite>): NonFiniteDensityError {
  let found: Found | undefined;
  try {
    found = sites ? firstNonFinite(sites) : undefined;
  } catch {
    // a log density that cannot be read (a freed tensor): leave the blame to the prior runs
  }
  return new NonFiniteDensityError(message, found ? { address: found.site.address, problem: siteDensityProblem(found.site, found.bad) } : undefined);
}

/**
 * Whether a log density (a log-weight, a log joint, a potential) is one an
 * engine cannot use: +Infinity or NaN. (-Infinity is density zero: a
 * rejected point, a dead particle.)
 */
export function isNonFiniteDensity(lp: number): boolean {
  return lp !== lp || lp === Infinity;
}

/**
 * Throw {@link nonFiniteDensityError} when a draw's log weight is +Infinity
 * or NaN (`who` says whose: e.g. `enumerate`); such a weight makes log Z
 * Infinity or NaN and every mean NaN, so it must never reach a posterior.
 * The site is found by `infer` (running the model).
 */
export function assertFiniteLogWeights(who: string, draws: readonly { readonly logWeight: number }[]): void {
  for (let i = 0; i < draws.length; i++) {
    const w = draws[i]!.logWeight;
    if (isNonFiniteDensity(w)) throw nonFiniteDensityError(`${who}: the log-weight of ${who === 'importance' ? 'sample' : 'execution'} ${i} is ${w}`);
  }
}
