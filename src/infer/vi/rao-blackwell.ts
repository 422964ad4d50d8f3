/**
 * Per-site Rao–Blackwellised score-function terms (in the spirit of Pyro's
 * `TraceGraph_ELBO`), for guides with non-reparameterisable sites.
 *
 * The plain score-function surrogate multiplies the summed `log q` of every
 * non-reparameterised site by the whole log weight `log p - log q`. A cost
 * term whose value cannot depend on a site's draw has zero expectation
 * against that site's score and only adds variance; here each such site `s`
 * is multiplied only by the cost terms that may depend on it, minus a
 * per-site moving-average baseline. Which terms are kept is decided from the
 * structure of one execution, without tracking data flow:
 *
 * - **Execution order (always sound).** Guide sites drawn before `s` cannot
 *   depend on it: `s` keeps the `-log q` terms of guide sites from `s` on.
 *   A model site's log density is a function of the model's latent values up
 *   to and including it; while all of those were drawn by the guide before
 *   `s`, the term cannot depend on `s` and is dropped. From the first model
 *   latent site the guide drew at or after `s` on, every model term is kept.
 * - **Plates (sound under plate semantics).** Inside a plate, element `i` of
 *   `s` keeps only element `i` of the terms in the *same invocation* of that
 *   plate (the same `plate(...)` call: guide sites in the guide's call;
 *   model sites in the model's call holding the model's copy of `s`, as long
 *   as every model latent seen so far that the guide drew at or after `s` is
 *   in both calls with the same shape). Terms outside that call (after it,
 *   say, where code may have summed over the plate) are kept whole. This
 *   assumes that the elements of a plate really are conditionally
 *   independent, as `plate` declares; subsampled plates and batch axes
 *   that are not plates are treated as one element.
 *
 * Each kept term enters with its plate axes (summed over the others) and
 * each site (per plate element) has its own baseline, a decaying average of
 * its past costs, so the estimator stays unbiased.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { PlateFrame } from '../../core/message.js';
import { type Site, maskedLogProb } from '../../core/trace.js';
import { mul, toTensor } from '../../core/value.js';
import type { Distribution } from '../../distributions/distribution.js';

/** One site's elementwise log density in one execution of a model or guide. */
export interface SiteTerm {
  /** The site's address. */
  readonly address: string;
  /** Elementwise log density (mask and scale applied), shape = the site's batch shape; on the gradient tape. */
  readonly logDensity: tf.Tensor;
  /** The enclosing plates, outermost first (frame objects are shared by the sites of one `plate` call). */
  readonly plates: readonly PlateFrame[];
  /** True for latent (unobserved) sample sites; false for observed sites and factors. */
  readonly latent: boolean;
  /** True when the site's distribution has a reparameterised sampler. */
  readonly reparameterised: boolean;
}

/** The site terms of one draw: the guide's latent sites and the model's sample and factor sites, each in execution order. */
export interface ParticleSites {
  /** Latent sites of the guide. */
  readonly guide: readonly SiteTerm[];
  /** Sample (latent and observed) and factor sites of the model. */
  readonly model: readonly SiteTerm[];
}

/** The terms of the sample and factor sites of a trace (latent sites only with `latentOnly`), in execution order. */
export function siteTermsOf(sites: Iterable<Site>, latentOnly = false): SiteTerm[] {
  const out: SiteTerm[] = [];
  for (const s of sites) {
    const latent = s.type === 'sample' && !s.observed;
    if (latentOnly ? !latent : s.type !== 'sample' && s.type !== 'factor') continue;
    const lp = s.scale === 0 ? 0 : maskedLogProb(s);
    out.push({
      address: s.address,
      logDensity: toTensor(s.scale === 1 ? lp : mul(lp, s.scale)),
      plates: s.plates,
      latent,
      reparameterised: (s.dist as Distribution | undefined)?.hasRsample ?? false,
    });
  }
  return out;
}

/** The axis of a plate in a log density of rank `rank`, or -1 when it has none (or a size-1 axis, which is summed). */
function plateAxis(t: tf.Tensor, frame: PlateFrame): number {
  const a = t.rank + frame.dim;
  return a >= 0 && t.shape[a] === frame.subsampleSize ? a : -1;
}

/**
 * The element layout of a score site: its (unsubsampled) plates, ordered by
 * axis, with their axes and sizes.
 */
interface Elements {
  readonly frames: readonly PlateFrame[];
  readonly axes: readonly number[];
  readonly sizes: readonly number[];
}

function elementsOf(s: SiteTerm): Elements {
  const pairs = s.plates
    .filter((f) => f.subsampleSize === f.size)
    .map((f) => ({ f, a: plateAxis(s.logDensity, f) }))
    .filter((p) => p.a >= 0)
    .sort((x, y) => x.a - y.a);
  return { frames: pairs.map((p) => p.f), axes: pairs.map((p) => p.a), sizes: pairs.map((p) => s.logDensity.shape[p.a]!) };
}

/**
 * Add `sign * t` to `cost` (laid out over the score site's elements): for
 * element frame k, `axes[k]` is the axis of `t` to keep elementwise, or -1 to
 * sum `t` over that plate and add the total to every element.
 */
function accumulate(cost: Float64Array, el: Elements, t: tf.Tensor, axes: readonly number[], sign: number): void {
  const data = t.dataSync();
  const shape = t.shape;
  const strides = new Array<number>(shape.length).fill(1);
  for (let a = shape.length - 2; a >= 0; a--) strides[a] = strides[a + 1]! * shape[a + 1]!;
  const elStrides = new Array<number>(el.sizes.length).fill(1);
  for (let k = el.sizes.length - 2; k >= 0; k--) elStrides[k] = elStrides[k + 1]! * el.sizes[k + 1]!;
  // sum t onto the kept axes, indexed in the element layout (summed frames at index 0)
  const kept = new Float64Array(cost.length);
  for (let i = 0; i < data.length; i++) {
    let e = 0;
    for (let k = 0; k < axes.length; k++) {
      const a = axes[k]!;
      if (a >= 0) e += (Math.floor(i / strides[a]!) % shape[a]!) * elStrides[k]!;
    }
    kept[e]! += data[i]!;
  }
  for (let e = 0; e < cost.length; e++) {
    let src = 0;
    for (let k = 0; k < axes.length; k++) if (axes[k]! >= 0) src += (Math.floor(e / elStrides[k]!) % el.sizes[k]!) * elStrides[k]!;
    cost[e]! += sign * kept[src]!;
  }
}

/** Same shapes. */
function sameShape(a: tf.Tensor, b: tf.Tensor): boolean {
  return a.rank === b.rank && a.shape.every((n, i) => n === b.shape[i]);
}

/** The downstream cost of the score site at guide position `g`, per element (see the module documentation). */
function downstreamCost(p: ParticleSites, g: number, el: Elements): Float64Array {
  const cost = new Float64Array(el.sizes.reduce((a, b) => a * b, 1));
  const s = p.guide[g]!;
  for (let j = g; j < p.guide.length; j++) {
    const t = p.guide[j]!;
    accumulate(cost, el, t.logDensity, el.frames.map((f) => (t.plates.includes(f) ? plateAxis(t.logDensity, f) : -1)), -1);
  }
  const before = new Set(p.guide.slice(0, g).map((t) => t.address));
  const guideAt = new Map(p.guide.map((t) => [t.address, t]));
  const ms = p.model.find((t) => t.latent && t.address === s.address);
  // the model's call of each element plate holding its copy of s (undefined: not restricted in the model)
  const modelFrame: (PlateFrame | undefined)[] = el.frames.map((f) =>
    ms && sameShape(ms.logDensity, s.logDensity) ? ms.plates.find((m) => m.name === f.name && m.dim === f.dim && m.size === f.size && m.subsampleSize === m.size) : undefined);
  let reached = false;
  for (const t of p.model) {
    if (t.latent && !before.has(t.address)) {
      reached = true;
      const gt = guideAt.get(t.address);
      el.frames.forEach((f, k) => {
        const m = modelFrame[k];
        if (m && !(gt && t.plates.includes(m) && gt.plates.includes(f) && sameShape(t.logDensity, gt.logDensity))) modelFrame[k] = undefined;
      });
    }
    if (!reached) continue;
    accumulate(cost, el, t.logDensity, modelFrame.map((m) => (m && t.plates.includes(m) ? plateAxis(t.logDensity, m) : -1)), 1);
  }
  return cost;
}

/** Per-site baselines: a decaying average of each site's per-element downstream cost, by address. */
export type SiteBaselines = Map<string, Float64Array>;

/**
 * The score-function part of the ELBO surrogate with per-site
 * Rao–Blackwellisation: the mean over draws of
 * `sum_s sum_i sg(cost_s[i] - b_s[i]) * log q_s[i]` over the guide's
 * non-reparameterised sites `s` and their plate elements `i`. Updates the
 * baselines with this step's mean costs (after using the old ones).
 */
export function raoBlackwellScore(particles: readonly ParticleSites[], baselines: SiteBaselines, decay: number): tf.Tensor {
  let total: tf.Tensor = tf.scalar(0);
  const sums = new Map<string, { sum: Float64Array; n: number }>();
  for (const p of particles) {
    p.guide.forEach((s, g) => {
      if (s.reparameterised) return;
      const el = elementsOf(s);
      const cost = downstreamCost(p, g, el);
      const b = baselines.get(s.address);
      const centred = b && b.length === cost.length ? cost.map((c, i) => c - b[i]!) : cost;
      const sumAxes = Array.from({ length: s.logDensity.rank }, (_, a) => a).filter((a) => !el.axes.includes(a));
      const lq = sumAxes.length ? tf.sum(s.logDensity, sumAxes) : s.logDensity;
      total = tf.add(total, tf.sum(tf.mul(tf.tensor(Float32Array.from(centred), el.sizes as number[], 'float32'), lq)));
      const acc = sums.get(s.address);
      if (!acc) sums.set(s.address, { sum: Float64Array.from(cost), n: 1 });
      else if (acc.sum.length === cost.length) {
        cost.forEach((c, i) => (acc.sum[i]! += c));
        acc.n += 1;
      }
    });
  }
  for (const [address, { sum, n }] of sums) {
    const mean = sum.map((x) => x / n);
    if (!mean.every(Number.isFinite)) continue;
    const b = baselines.get(address);
    baselines.set(address, b && b.length === mean.length ? b.map((x, i) => decay * x + (1 - decay) * mean[i]!) : mean);
  }
  return tf.div(total, Math.max(particles.length, 1));
}
