/**
 * Importance weights in float64: the model's log density (and a guide's) at
 * a draw's latent values, from a compiled record replayed in double
 * precision (`scaled-density.ts`) instead of the float32 tfjs run that drew
 * them.
 *
 * The record takes the latent values as they are (constrained, identity
 * transforms), laid end to end in one vector. Without a guide the weight is
 * the log-likelihood (observed sites and factors), plus what a `scale` or
 * `mask` handler changes on a latent site drawn from its prior. With a guide it is
 * log p(x_g, y) - log q(x_g) over the latent sites x_g the guide proposes
 * (the model's other latent sites come from its prior and cancel), the
 * guide's log density compiled the same way.
 *
 * Works for models whose latent sites are continuous and the same in every
 * run; a draw whose sites differ (changing structure) is weighted by the
 * float32 path, and {@link Float64Weights.create} says why a model cannot be
 * compiled at all.
 *
 * Making the record runs the model a few times on tfjs (a prior run, the
 * layout, a probe draw, the recording and its self-check): with many sites
 * that takes seconds (about 4 ms of CPU per site here). Every run is paced
 * from inside (it yields to the event loop every few ms and stops at an
 * abort), the traced run included (see `paced`); the compiler is not, and
 * is what still blocks.
 *
 * @module
 */
import { tidyAsync } from '../backend/autodiff.js';
import { rememberFloat64 } from '../backend/float64-constants.js';
import type { Float64Reader } from '../backend/jit/trace.js';
import { type Model, execute } from '../core/model.js';
import { rngFrom } from '../core/rng.js';
import { type Trace, priorDrawCorrection, siteLogDensity } from '../core/trace.js';
import { type Value, add, isTensor } from '../core/value.js';
import { IdentityBijector } from '../transforms/elementwise.js';
import { type Layout, layoutOnly } from './mcmc/potential.js';
import { ScaledDensity, type ScaledParts } from './scaled-density.js';
import { Pacer, PacingHandler } from './pace.js';

function firstLine(err: unknown): string {
  return err instanceof Error ? err.message.split('\n')[0]! : String(err);
}

/** The layout of the same sites with identity transforms: the input is the latent values themselves. */
function identityLayout(layout: Layout): Layout {
  let offset = 0;
  const names: string[] = [];
  const sites = layout.sites.map((s) => {
    const size = s.shape.reduce((a, b) => a * b, 1);
    const site = { ...s, unconstrainedShape: s.shape, offset, size, bijector: new IdentityBijector(), batchRank: s.shape.length, dependentSupport: false };
    for (let i = 0; i < size; i++) names.push(size === 1 && s.shape.length === 0 ? s.address : `${s.address}[${i}]`);
    offset += size;
    return site;
  });
  return { sites, dim: offset, plateNesting: layout.plateNesting, names };
}

/**
 * The values of `layout`'s sites laid end to end, or undefined when the
 * trace's latent sites are not exactly those. A tensor value is read in
 * float64 where `float64` knows it (a draw from a float64 shadow run), and
 * then remembers those doubles; else its float32 values are taken.
 */
export function rowOf(layout: Layout, trace: Trace, float64?: Float64Reader): Float64Array | undefined {
  const latent = trace.latentSites();
  if (latent.length !== layout.sites.length) return undefined;
  const row = new Float64Array(layout.dim);
  for (let i = 0; i < latent.length; i++) {
    const site = layout.sites[i]!;
    const s = latent[i]!;
    if (s.address !== site.address) return undefined;
    const v = s.value;
    if (typeof v === 'number') {
      if (site.size !== 1 || site.shape.length !== 0) return undefined;
      row[site.offset] = v;
    } else {
      if (v.size !== site.size || v.rank !== site.shape.length) return undefined;
      const exact = float64?.(v);
      if (exact && v.dtype === 'float32') {
        row.set(exact, site.offset);
        rememberFloat64(v, exact);
      } else row.set(v.dataSync(), site.offset);
    }
  }
  return row;
}

/**
 * Why no record is made for a model whose log densities are all JS numbers
 * in a prior run: the per-particle runtime computes those in double
 * precision already (scalar parameters never become float32 tensors), and a
 * record would round its constants to float32.
 */
export const NUMBERS_ALREADY = "the model's log densities are JS numbers, computed in double precision already";

/** True when every sample and factor site of `trace` has a JS-number log density. */
function numbersOnly(trace: Trace): boolean {
  for (const s of trace) if ((s.type === 'sample' || s.type === 'factor') && typeof s.logProb !== 'number') return false;
  return true;
}

/**
 * `m` paced from inside by `pace`: a run of many sites yields to the event
 * loop every few ms and stops at an abort, the traced run of the recording
 * included. While it yields there, the trace's hooks see any tfjs work other
 * code runs: other inference cannot (calls, steering and `predictive` wait
 * their turn, `one-at-a-time.ts`), and a kernel of outside code reads no
 * tensor that depends on the recorded input, so it is recorded as a
 * constant the output never reads; the record's self-check against a tfjs
 * run stands behind it.
 */
function paced<A extends unknown[]>(m: Model<A, unknown>, pace: Pacer): Model<A, unknown> {
  return m.withHandler(new PacingHandler(pace));
}

/** Whether a prior run of `m` has only JS-number log densities (a run that fails counts as no). */
async function inNumbers<A extends unknown[]>(m: Model<A, unknown>, args: A, pace: Pacer): Promise<boolean> {
  return tidyAsync(async () => numbersOnly((await execute(paced(m, pace), { rng: rngFrom(0) }, ...args)).trace), () => []).catch((err: unknown) => {
    if (pace.signal?.aborted) throw err;
    return false;
  });
}

/** One compiled density over a model's (or guide's) latent values. */
interface Part {
  readonly layout: Layout;
  readonly density: ScaledDensity;
}

/** Record `m` over its latent values, with `parts(trace)`, or say why not. */
async function compilePart<A extends unknown[]>(m: Model<A, unknown>, args: A, parts: (trace: Trace) => ScaledParts, pace: Pacer): Promise<Part | string> {
  let layout: Layout;
  try {
    layout = identityLayout(await layoutOnly(paced(m, pace), args, rngFrom(0)));
  } catch (err) {
    if (pace.signal?.aborted) throw err;
    return firstLine(err);
  }
  if (layout.dim === 0) return 'no continuous latent sites';
  // a prior draw to record at (a few tries: the model may reject a draw)
  const probes: Float64Array[] = [];
  for (let k = 0; k < 5 && probes.length < 2; k++) {
    const row = await tidyAsync(async () => rowOf(layout, (await execute(paced(m, pace), { rng: rngFrom(k + 1) }, ...args)).trace), () => []).catch((err: unknown) => {
      if (pace.signal?.aborted) throw err;
      return undefined;
    });
    if (row) probes.push(row);
  }
  if (probes.length === 0) return 'no prior draw to record the model at';
  // its tfjs runs (the self-check's) are paced, the traced run and the compiler are not
  const density = await ScaledDensity.create(paced(m, pace), args, layout, parts, 1, probes);
  await pace.pause();
  return density instanceof ScaledDensity ? { layout, density } : density.reason;
}

/** Float64 importance weights for draws of one model (and guide). */
export class Float64Weights {
  private constructor(
    private readonly model: Part,
    private readonly guide: Part | undefined,
  ) {}

  /**
   * The compiled weights of `m` (with `guide` as the proposal, if any), or
   * why the model (or guide) does not compile. Aborting `signal` stops the
   * prior runs inside and the recording before it starts (the promise
   * rejects with the signal's reason).
   */
  static async create<A extends unknown[]>(m: Model<A, unknown>, guide: Model<A, unknown> | undefined, args: A, signal?: AbortSignal): Promise<Float64Weights | { reason: string }> {
    const pace = new Pacer(signal);
    let g: Part | undefined;
    let proposed: ReadonlySet<string> = new Set();
    if ((await inNumbers(m as Model<A, unknown>, args, pace)) && (!guide || (await inNumbers(guide, args, pace)))) return { reason: NUMBERS_ALREADY };
    if (guide) {
      const gp = await compilePart(guide, args, (trace) => ({ base: trace.logJoint(), scaled: 0 }), pace);
      if (typeof gp === 'string') return { reason: `the guide: ${gp}` };
      g = gp;
      proposed = new Set(gp.layout.sites.map((s) => s.address));
    }
    const parts = (trace: Trace): ScaledParts => {
      let base: Value = 0;
      for (const s of trace) {
        if (s.type !== 'sample' || s.observed) continue;
        // a proposed site weighs by its density; one drawn from its prior by what a scale or mask changed
        if (proposed.has(s.address)) base = add(base, siteLogDensity(s));
        else if (s.scale !== 1 || s.mask !== true) base = add(base, priorDrawCorrection(s));
      }
      return { base, scaled: trace.logLikelihood() };
    };
    const mp = await compilePart(m as Model<A, unknown>, args, parts, pace);
    if (typeof mp === 'string') return { reason: mp };
    return new Float64Weights(mp, g);
  }

  /**
   * The rows to weigh a draw by (model, guide), or undefined when its latent
   * sites differ from the recorded ones; tensor values in float64 where
   * `float64` knows them (see {@link rowOf}).
   */
  rows(modelTrace: Trace, guideTrace: Trace | undefined, float64?: Float64Reader): { model: Float64Array; guide?: Float64Array } | undefined {
    const model = rowOf(this.model.layout, modelTrace, float64);
    if (!model) return undefined;
    if (!this.guide) return { model };
    const guide = guideTrace ? rowOf(this.guide.layout, guideTrace, float64) : undefined;
    return guide ? { model, guide } : undefined;
  }

  /** Whether `trace`'s latent sites are the recorded ones, in order (e.g. a batched run's trace). */
  recordsSitesOf(trace: Trace): boolean {
    const latent = trace.latentSites();
    const sites = this.model.layout.sites;
    return latent.length === sites.length && latent.every((s, i) => s.address === sites[i]!.address);
  }

  /**
   * The model's row of a draw given by its latent values by address (a
   * batched run's draw, one particle's rows: numbers and float32 tensors),
   * or undefined when they are not exactly the recorded sites with their
   * shapes. Weighs without a guide only.
   */
  rowOfValues(values: Readonly<Record<string, Value>>): { model: Float64Array } | undefined {
    if (this.guide) return undefined;
    const layout = this.model.layout;
    const row = new Float64Array(layout.dim);
    for (const site of layout.sites) {
      const v = values[site.address];
      if (typeof v === 'number') {
        if (site.size !== 1 || site.shape.length !== 0) return undefined;
        row[site.offset] = v;
      } else if (v !== undefined && isTensor(v) && v.size === site.size && v.rank === site.shape.length) row.set(v.dataSync(), site.offset);
      else return undefined;
    }
    return { model: row };
  }

  /** log w of a draw from its {@link rows}, and the guide's log density log q there (0 without a guide). */
  async weigh(rows: { model: Float64Array; guide?: Float64Array }): Promise<{ logWeight: number; logQ: number }> {
    const p = await this.model.density.evaluate(rows.model, 1);
    const logP = p.base[0]! + p.scaled[0]!;
    if (!this.guide) return { logWeight: logP, logQ: 0 };
    const q = await this.guide.density.evaluate(rows.guide!, 1);
    return { logWeight: logP - q.base[0]!, logQ: q.base[0]! };
  }

  /** Evaluations served on tfjs instead of the replay (a validity guard changed), model and guide together. */
  get viaTfjs(): number {
    return this.model.density.stats.viaTfjs + (this.guide?.density.stats.viaTfjs ?? 0);
  }
}
