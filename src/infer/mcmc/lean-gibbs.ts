/**
 * A Gibbs update's weights on plain numbers: the full conditional of one
 * finite discrete site by one run of the model per value, each on the lean
 * runtime of exact enumeration (`LeanEnumerator.score`, `enumerate-lean.ts`)
 * in place of the general effect runtime.
 *
 * A model written with scalar sites (the coal-mining switchpoint as a loop of
 * 112 scalar `observe`s, `Poisson(t < s ? early : late)`) cannot be weighed
 * by one vectorised run (`vector-gibbs.ts`: a JavaScript `<` on a tensor of
 * all the switchpoint's values is an error), so each update ran the model
 * once per value through the general runtime: handlers, messages, a trace
 * and a tfjs scope per site, ~8 µs a site, 0.1 s per update at 112 x 112
 * sites. On the lean runtime a site is a distribution's log density on
 * numbers and one `await` (~0.5 µs a site).
 *
 * The weights are the same numbers as the general runtime's log joints: every
 * site's log density is the distribution's own `logProb` on the same float64
 * numbers, summed in execution order from 0 as `traceLogJoint` sums a trace.
 * So the draws are bit-identical to one general run per value.
 *
 * Where the lean runtime cannot run the model — handlers of its own, `plate`,
 * `param`, a tensor value, parameter or density, a NaN or +Infinity log
 * density, a latent site not in the current trace (the structure changed), an
 * error of the model's own code — it gives up, for good: the update runs
 * the model once per value on the general runtime as before, which names
 * every error as before, and `off` says why.
 *
 * @module
 */
import type { Model } from '../../core/model.js';
import { rngFrom } from '../../core/rng.js';
import type { Value } from '../../core/value.js';
import type { Distribution } from '../../distributions/distribution.js';
import { LEAN_FALLBACK, LeanEnumerator } from '../enumerate-lean.js';
import { Pacer } from '../pace.js';

/** Most sites one lean run may visit before it gives up (a guard, as in enumeration). */
const MAX_SITES = 1e7;

/** The message a latent site missing from the current values raises (the lean run then gives up). */
const NOT_IN_TRACE = 'Gibbs: this latent site is not in the current trace';

/**
 * Weighs the values of a discrete site on the lean runtime, for one model and
 * its arguments (one per engine run: it keeps the lean runtime's state
 * between updates).
 */
export class LeanGibbs<A extends unknown[], R> {
  /** Why lean updates are off for this run (undefined: still on). */
  off: string | undefined;
  /** Lean model runs made (one per value weighed). */
  runs = 0;
  /** Updates weighed on the lean runtime. */
  updates = 0;
  private readonly lean: LeanEnumerator<A, R> | undefined;
  private readonly fixed = new Map<string, Value>();

  /**
   * @param m - the model
   * @param args - its arguments
   * @param signal - aborting it stops a long lean run (its reason is thrown)
   */
  constructor(m: Model<A, R>, args: A, signal?: AbortSignal) {
    if (!LeanEnumerator.handles(m)) this.off = 'the model has handlers of its own (the lean runtime runs plain models)';
    // (the random stream is never read: every latent value is given)
    else this.lean = new LeanEnumerator(m, args, rngFrom('lean-gibbs'), new Pacer(signal), MAX_SITES);
  }

  /**
   * log p(x, y) with `address` set to each value of `support` in turn and
   * every other latent site at its value from `values` (`latent`: the
   * current trace's latent addresses); undefined where the lean runtime
   * cannot run the model (then it is off for good, see `off`).
   * A value whose run is rejected (an invalid parameter) or has density zero
   * weighs -Infinity, as with one general run per value.
   */
  async logWeights(values: (address: string) => Value | undefined, latent: readonly string[], address: string, support: readonly Value[]): Promise<Float64Array | undefined> {
    const lean = this.lean;
    if (this.off !== undefined || lean === undefined || !this.given(values, latent)) return undefined;
    const logW = new Float64Array(support.length);
    for (let k = 0; k < support.length; k++) {
      const w = await this.weigh(lean, address, support[k]);
      if (w === undefined) return undefined;
      logW[k] = w;
    }
    this.updates += 1;
    return logW;
  }

  /**
   * The full conditional of `address` with no general run before it: a
   * lean run at the site's current value (from `values`) reads the site's
   * distribution there, whose support is then weighed value by value (the
   * current value's weight is that first run's). The same weights, bit for
   * bit, as `logWeights` given the support a general run at
   * the current values finds. Undefined where the lean runtime cannot run
   * the model (then off for good), or where the site's distribution there
   * has no finite support of plain numbers (then not off: the general
   * runtime updates the site and names what is wrong).
   */
  async conditional(values: (address: string) => Value | undefined, latent: readonly string[], address: string): Promise<{ readonly support: readonly number[]; readonly logW: Float64Array; readonly dist: Distribution } | undefined> {
    const lean = this.lean;
    const current = values(address);
    if (this.off !== undefined || lean === undefined || typeof current !== 'number' || !this.given(values, latent)) return undefined;
    lean.watch = address;
    lean.watched = undefined;
    let first: number | undefined;
    let dist: Distribution | undefined;
    try {
      first = await this.weigh(lean, address, current);
      dist = lean.watched as Distribution | undefined; // (set by the run)
    } finally {
      lean.watch = undefined;
      lean.watched = undefined;
    }
    if (first === undefined || dist === undefined) return undefined;
    const support = dist.enumerateSupport();
    if (support === undefined || !support.every((v) => typeof v === 'number')) return undefined;
    const logW = new Float64Array(support.length);
    for (let k = 0; k < support.length; k++) {
      const w = support[k] === current ? first : await this.weigh(lean, address, support[k]);
      if (w === undefined) return undefined;
      logW[k] = w;
    }
    this.updates += 1;
    return { support: support as number[], logW, dist };
  }

  /** Fill the given values (every latent site's, plain numbers); false (off) where one is not a plain number. */
  private given(values: (address: string) => Value | undefined, latent: readonly string[]): boolean {
    const fixed = this.fixed;
    fixed.clear();
    for (const a of latent) {
      const v = values(a);
      if (typeof v !== 'number') return this.giveUp(`the value of "${a}" is not a plain number`) ?? false;
      fixed.set(a, v);
    }
    return true;
  }

  /** log p(x, y) with `address` at `v` (the other values as given): -Infinity where the run is rejected; undefined where the lean runtime gives up. */
  private async weigh(lean: LeanEnumerator<A, R>, address: string, v: Value | undefined): Promise<number | undefined> {
    if (typeof v !== 'number') return this.giveUp(`a value of "${address}" is not a plain number`);
    this.fixed.set(address, v);
    const draw = await lean.score(this.fixed, NOT_IN_TRACE);
    this.runs += 1;
    if (draw === LEAN_FALLBACK) return this.giveUp('the lean runtime cannot run the model (plate, param, a tensor value or density, a NaN density, a site not in the trace, or an error the general runtime reports)');
    const w = draw === undefined ? -Infinity : draw.logWeight;
    // +Infinity or NaN: the general runtime names the site
    if (!(w < Infinity)) return this.giveUp(`a log joint density of ${w}`);
    return w;
  }

  private giveUp(why: string): undefined {
    this.off = why;
    return undefined;
  }
}
