/**
 * Traces: the record of one execution of a model.
 *
 * A trace is an ordered map from address to {@link Site}. Its log joint
 * density is the sum over `sample` and `factor` sites of each site's
 * log density times its scale, masked.
 *
 * @module
 */
import { ModelError, TycheError } from './errors.js';
import * as tf from '@tensorflow/tfjs-core';
import type { Distribution } from '../distributions/distribution.js';
import type { Message, PlateFrame, SiteType } from './message.js';
import { type Value, add, isTensor, mul, sub, sumAll, toTensor } from './value.js';

/** One recorded site. */
export interface Site {
  readonly type: SiteType;
  readonly address: string;
  readonly dist?: Distribution;
  readonly value: Value;
  readonly observed: boolean;
  /** Elementwise log density (unscaled, unmasked); 0 for deterministic and param sites. */
  readonly logProb: Value;
  readonly scale: number;
  readonly mask: boolean | tf.Tensor;
  readonly plates: readonly PlateFrame[];
}

/** Convert a finished message to a site. */
export function siteOf(msg: Message): Site {
  return {
    type: msg.type,
    address: msg.address,
    dist: msg.dist,
    value: msg.value as Value,
    observed: msg.observed,
    logProb: msg.logProb ?? 0,
    scale: msg.scale,
    mask: msg.mask,
    plates: msg.plates,
  };
}

/**
 * The total log density a site contributes: sum(mask * logProb) * scale.
 * With `batchSize`, the sum is taken per particle (over every axis but the
 * leading one) and the result has shape `[batchSize]`.
 */
export function siteLogDensity(site: Pick<Site, 'logProb' | 'scale' | 'mask'>, batchSize?: number): Value {
  // a masked or zero-scaled site contributes nothing (also where its density is 0: p^0 = 1)
  if (site.mask === false || site.scale === 0) return batchSize ? tf.zeros([batchSize]) : 0;
  const lp = maskedLogProb(site);
  let s: Value;
  if (batchSize === undefined) s = sumAll(lp);
  else s = perParticleSum(lp, batchSize);
  if (site.scale !== 1) s = mul(s, site.scale);
  return s;
}

/**
 * What a latent site drawn from its own distribution adds to an importance
 * weight: its scaled and masked log density minus the log density it was
 * drawn from (0 unless a `scale` or `mask` handler reached it). Engines that
 * draw latent values from the prior (importance, SMC) add it, so that they
 * target the same scaled density as MCMC and VI.
 */
export function priorDrawCorrection(site: Pick<Site, 'logProb' | 'scale' | 'mask'>): Value {
  if (site.scale === 1 && site.mask === true) return 0;
  return sub(siteLogDensity(site), sumAll(site.logProb));
}

/**
 * A site's elementwise log density with its mask applied (masked-out elements
 * are 0; unscaled). A site masked with `false` gives 0.
 */
export function maskedLogProb(site: Pick<Site, 'logProb' | 'mask'> & { readonly address?: string }): Value {
  if (site.mask === false) return 0;
  if (site.mask === true) return site.logProb;
  const m = site.mask;
  const t = toTensor(site.logProb);
  // a mask removes elements of a site's log density; broadcast beyond its shape, it would repeat the site
  // (a scalar prior under a mask of 3 with 2 true counted twice), so it must fit into that shape
  if (!fitsInto(m.shape, t.shape)) throw maskShapeError(site.address, m.shape, t.shape);
  return tf.where(tf.broadcastTo(m, t.shape), t, tf.zeros(t.shape));
}

/** Whether an array of shape `a` broadcasts to `b` without enlarging it. */
function fitsInto(a: readonly number[], b: readonly number[]): boolean {
  if (a.length > b.length) return a.every((d, i) => i >= a.length - b.length || d === 1) && fitsInto(a.slice(a.length - b.length), b);
  for (let i = 1; i <= a.length; i++) if (a[a.length - i] !== 1 && a[a.length - i] !== b[b.length - i]) return false;
  return true;
}

/** The error for a mask that does not fit a site's log density. */
function maskShapeError(address: string | undefined, mask: readonly number[], logProb: readonly number[]): TycheError {
  const what =
    `a mask of shape [${mask.join(', ')}] does not fit this site's log density of shape [${logProb.join(', ')}]: ` +
    'a mask removes elements of a site and may not broadcast beyond them (that would count the site once per true element). ' +
    "Mask only the sites it is meant for: mask(m, value, ['y']), or maskHandler(value, filter)";
  return address === undefined ? new TycheError(what) : new ModelError(address, what);
}

/** Sum over every axis but the leading particle axis; values without it are shared by all particles. */
function perParticleSum(lp: Value, size: number): tf.Tensor {
  const t = toTensor(lp);
  if (t.rank >= 1 && t.shape[0] === size) return t.rank === 1 ? t : tf.sum(t, Array.from({ length: t.rank - 1 }, (_, i) => i + 1));
  return tf.broadcastTo(tf.reshape(tf.sum(t), [1]), [size]);
}

/** An ordered record of the sites of one execution. */
export class Trace {
  readonly sites = new Map<string, Site>();

  /** @param batchSize - the particle axis of a batched execution, if any */
  constructor(readonly batchSize?: number) {}

  /** Add a site; the address must be new. */
  add(site: Site): void {
    if (this.sites.has(site.address)) throw new TycheError(`duplicate address "${site.address}" in one execution`);
    this.sites.set(site.address, site);
  }

  /** The site at an address, or undefined. */
  get(address: string): Site | undefined {
    return this.sites.get(address);
  }

  /** True when the trace has a site at `address`. */
  has(address: string): boolean {
    return this.sites.has(address);
  }

  /** Sites in execution order. */
  [Symbol.iterator](): IterableIterator<Site> {
    return this.sites.values();
  }

  /** Latent (unobserved) sample sites, in order. */
  latentSites(): Site[] {
    return [...this.sites.values()].filter((s) => s.type === 'sample' && !s.observed);
  }

  /** Sum of the log densities of the sites selected by `keep` (shape `[batchSize]` when batched). */
  private sum(keep: (s: Site) => boolean): Value {
    let total: Value = 0;
    for (const s of this.sites.values()) {
      if (!keep(s)) continue;
      total = add(total, siteLogDensity(s, this.batchSize));
    }
    return total;
  }

  /** log p(latents, observations), including factors. */
  logJoint(): Value {
    return this.sum((s) => s.type === 'sample' || s.type === 'factor');
  }
  /** log p(observations | latents), including factors. */
  logLikelihood(): Value {
    return this.sum((s) => (s.type === 'sample' && s.observed) || s.type === 'factor');
  }
  /** log p(latents). */
  logPrior(): Value {
    return this.sum((s) => s.type === 'sample' && !s.observed);
  }

  /** The values of latent sample sites and deterministic sites, by address. */
  values(): Record<string, Value> {
    const out: Record<string, Value> = {};
    for (const s of this.sites.values()) {
      if ((s.type === 'sample' && !s.observed) || s.type === 'deterministic') out[s.address] = s.value;
    }
    return out;
  }

  /** Dispose the log-density tensors (keeping values), once weights have been read. */
  disposeLogProbs(): void {
    for (const s of this.sites.values()) if (isTensor(s.logProb) && s.logProb !== s.value) s.logProb.dispose();
  }

  /** Dispose every tensor the trace holds (values, log densities, masks). */
  dispose(): void {
    for (const s of this.sites.values()) {
      if (isTensor(s.value)) s.value.dispose();
      if (isTensor(s.logProb)) s.logProb.dispose();
    }
  }
}

/** The deepest plate nesting in a trace (the `plateNesting` a batched run of the model needs). */
export function plateNestingOf(trace: Trace): number {
  let n = 0;
  for (const s of trace) {
    n = Math.max(n, s.plates.length, ...s.plates.map((p) => -p.dim));
  }
  return n;
}
