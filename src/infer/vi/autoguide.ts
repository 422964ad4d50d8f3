/**
 * Autoguides: variational families built automatically from a model's
 * latent sites (after Pyro's and NumPyro's autoguides).
 *
 * A probe run lays the model's continuous latent sites end to end in one
 * unconstrained vector z of dimension D (`layoutOf`, the same layout HMC
 * uses). A family draws z in R^D with log density log q(z); each site's slice
 * is mapped onto the site's support by `bijectTo(support)`, and the guide's
 * density over the constrained values is log q(z) - log|det J|.
 *
 * This module holds the shared machinery; the families (AutoDelta,
 * AutoNormal, AutoMultivariateNormal, AutoLowRankMultivariateNormal) are in
 * `autoguides.ts`.
 *
 * @module
 */
import { ModelError, TycheError } from '../../core/errors.js';
import * as tf from '@tensorflow/tfjs-core';
import { withInitValues } from '../init-values.js';
import type { Model } from '../../core/model.js';
import type { Rng } from '../../core/rng.js';
import type { Value, ValueLike } from '../../core/value.js';
import { toTensor } from '../../core/value.js';
import { type Layout, layoutOf, unconstrain } from '../mcmc/potential.js';
import { type DrawOptions, type Guide, type GuideDraws, type GuideValue, Unconstrained } from './guide.js';
import { stopGradient } from './objectives.js';
import type { ParamStore } from './param-store.js';

/** Where an autoguide's location starts. */
export type AutoInit = 'uniform' | 'prior' | 'zero' | Readonly<Record<string, ValueLike>>;

/** Options shared by the autoguides. */
export interface AutoGuideOptions {
  /**
   * Initial location in unconstrained space: `'uniform'` in [-2, 2] (default,
   * as Stan), `'prior'` (the probe's prior draw), `'zero'`, or constrained
   * values by address (the rest from the prior).
   */
  readonly init?: AutoInit;
  /** Initial scale of the unconstrained Gaussian (default 0.1). */
  readonly initScale?: number;
  /** Prefix of the guide's parameter names (default `'auto'`). */
  readonly prefix?: string;
}

/** A Gaussian's location and covariance over the unconstrained vector (row-major D x D). */
export interface UnconstrainedMoments {
  readonly loc: Float64Array;
  readonly covariance: Float64Array;
  /** Coordinate names, e.g. `theta[2]`. */
  readonly names: string[];
}

/** The unconstrained draws of a family: z `[S, D]` and log q(z) `[S]`. */
export interface LatentDraws {
  readonly z: tf.Tensor;
  readonly logQ: tf.Tensor;
}

/** The base of the autoguides: layout, initialisation, and the map from z to the model's sites. */
export abstract class AutoGuide implements Guide {
  abstract readonly name: string;
  /** Whether the log-Jacobian enters the guide's density (false for point masses). */
  protected readonly jacobian: boolean = true;
  private layoutValue: Layout | undefined;
  /** Initial scale of the unconstrained Gaussian. */
  protected readonly initScale: number;
  /** Prefix of parameter names. */
  protected readonly prefix: string;

  constructor(protected readonly options: AutoGuideOptions = {}) {
    this.initScale = options.initScale ?? 0.1;
    if (!(this.initScale > 0) || !Number.isFinite(this.initScale)) throw new RangeError(`autoguide: initScale must be a positive number, got ${options.initScale}`);
    this.prefix = options.prefix ?? 'auto';
  }

  /** The layout of the model's latent sites (after {@link setup}). */
  get layout(): Layout {
    if (!this.layoutValue) throw new Error(`${this.name}: the guide has not been set up on a model yet`);
    return this.layoutValue;
  }

  /** Parameter name `prefix.key`. */
  protected paramName(key: string): string {
    return `${this.prefix}.${key}`;
  }

  /** Whether the parameter at `address` is one of this guide's (named with its prefix). */
  ownsParam(address: string): boolean {
    return address.startsWith(`${this.prefix}.`);
  }

  /** Read a parameter, detached from the tape when asked. */
  protected read(store: ParamStore, key: string, detach = false): tf.Tensor {
    const v = store.read(this.paramName(key));
    return detach ? stopGradient(v) : v;
  }

  async setup<A extends unknown[], R>(model: Model<A, R>, args: A, store: ParamStore, rng: Rng): Promise<void> {
    const init = this.options.init ?? 'uniform';
    // values by address are checked against their sites' supports as they go in, and each must name a latent site
    const given = typeof init === 'object' ? withInitValues(model, init as Record<string, ValueLike>, this.name) : undefined;
    const { layout, trace } = await layoutOf(given?.model ?? model, args, rng).catch((err: unknown) => {
      throw discreteSiteError(err, this.name);
    });
    given?.assertAllUsed();
    if (layout.dim === 0) throw new TycheError(`${this.name}: the model has no latent sites`);
    this.layoutValue = layout;
    let loc: Float64Array;
    if (init === 'uniform') loc = Float64Array.from({ length: layout.dim }, () => 4 * rng.uniform() - 2);
    else if (init === 'zero') loc = new Float64Array(layout.dim);
    else if (init === 'prior' || typeof init === 'object') loc = unconstrain(layout, trace);
    else throw new Error(`${this.name}: unknown init "${String(init)}"; use 'uniform', 'prior', 'zero' or values by address`);
    this.createParams(store, loc, rng);
  }

  /** Create the family's parameters, starting at location `loc`. */
  protected abstract createParams(store: ParamStore, loc: Float64Array, rng: Rng): void;

  /** Whether the guide's density includes the log-Jacobian of the map to constrained values (false for point masses). */
  get jacobianInDensity(): boolean {
    return this.jacobian;
  }

  /** Draws z `[S, D]` in unconstrained space with their log q(z) (see {@link sampleLatent}). */
  latent(size: number, rng: Rng, store: ParamStore, detach = false): LatentDraws {
    return this.sampleLatent(size, rng, store, detach);
  }

  /** Draw z `[S, D]` with log q(z); with `detach`, log q is computed with the parameters held fixed. */
  protected abstract sampleLatent(size: number, rng: Rng, store: ParamStore, detach: boolean): LatentDraws;

  /**
   * The family as a map of standard normal draws: z = T(eps) for eps `[S, D]`,
   * with log|det dT/deps| `[S]` — what NeuTra preconditions HMC with. Families
   * that are not such a bijection of R^D (point masses, low-rank) throw.
   */
  reparameterize(eps: tf.Tensor, store: ParamStore): { z: tf.Tensor; logDet: tf.Tensor } {
    void eps;
    void store;
    throw new Error(`${this.name} is not a bijection of standard normal draws; use AutoNormal, AutoMultivariateNormal or AutoFlow`);
  }

  /** The location and covariance of the fitted family in unconstrained space. */
  abstract moments(store: ParamStore): UnconstrainedMoments;

  async draw<A extends unknown[]>(size: number, rng: Rng, store: ParamStore, _args: A, options: DrawOptions = {}): Promise<GuideDraws> {
    const { z, logQ } = this.sampleLatent(size, rng, store, options.detachParams ?? false);
    return constrainDraws(this.layout, z, logQ, this.jacobian);
  }

  /** Standard normal draws `[rows, cols]` from the library's stream. */
  protected normals(rng: Rng, rows: number, cols: number): tf.Tensor {
    return tf.tensor2d(Float32Array.from(rng.normals(rows * cols)), [rows, cols]);
  }

  /** A flat parameter as a Float64Array. */
  protected paramArray(store: ParamStore, key: string): Float64Array {
    const t = store.read(this.paramName(key));
    const out = Float64Array.from(t.dataSync());
    t.dispose();
    return out;
  }
}

/**
 * Map unconstrained draws z `[S, D]` onto the model's sites: per-site values
 * with a leading draw axis (and the model's reserved plate axes for the
 * batched run), and log q over the constrained values (`logQ - log|det J|`
 * when `jacobian`).
 */
export function constrainDraws(layout: Layout, z: tf.Tensor, logQ: tf.Tensor, jacobian: boolean): GuideDraws {
  const size = z.shape[0];
  const values: Record<string, tf.Tensor> = {};
  const batched: Record<string, tf.Tensor | Unconstrained> = {};
  const unconstrained: Record<string, tf.Tensor> = {};
  let logDet: tf.Tensor = tf.zeros([size]);
  for (const s of layout.sites) {
    const u = tf.reshape(tf.slice(z, [0, s.offset], [size, s.size]), [size, ...s.unconstrainedShape]);
    const pad = Math.max(0, layout.plateNesting - s.batchRank);
    if (s.dependentSupport) {
      // mapped when the model reaches the site, with the support it has then (guideValuesHandler)
      unconstrained[s.address] = u;
      batched[s.address] = new Unconstrained(pad === 0 ? u : tf.reshape(u, [size, ...new Array<number>(pad).fill(1), ...s.unconstrainedShape]));
      continue;
    }
    const v = toTensor(s.bijector.forward(u));
    values[s.address] = v;
    batched[s.address] = pad === 0 ? v : tf.reshape(v, [size, ...new Array<number>(pad).fill(1), ...s.shape]);
    if (jacobian) {
      const ld = toTensor(s.bijector.logDetJacobian(u, v));
      logDet = tf.add(logDet, ld.rank <= 1 ? ld : tf.sum(ld, Array.from({ length: ld.rank - 1 }, (_, i) => i + 1)));
    }
  }
  const cache = new Map<number, Record<string, GuideValue>>();
  return {
    size,
    logQ: jacobian ? tf.sub(logQ, logDet) : logQ,
    batched,
    stacked: values,
    ...(Object.keys(unconstrained).length > 0 ? { unconstrained } : {}),
    plateNesting: layout.plateNesting,
    particle(i: number) {
      if (!Number.isInteger(i) || i < 0 || i >= size) throw new RangeError(`guide draws: index ${i} is outside 0..${size - 1}`);
      let out = cache.get(i);
      if (!out) {
        out = {};
        for (const s of layout.sites) {
          const u = unconstrained[s.address];
          if (u !== undefined) out[s.address] = new Unconstrained(tf.reshape(tf.slice(u, [i, ...s.unconstrainedShape.map(() => 0)], [1, ...s.unconstrainedShape]), s.unconstrainedShape));
          else out[s.address] = tf.reshape(tf.slice(values[s.address]!, [i, ...s.shape.map(() => 0)], [1, ...s.shape]), s.shape);
        }
        cache.set(i, out);
      }
      return out;
    },
  };
}

/**
 * An autoguide lays out continuous latent sites only: the layout's refusal of
 * a discrete site, said for VI, pointing to what does handle it (a guide
 * model, whose discrete sites get score-function terms, or another engine).
 * Any other error is returned as it is.
 */
function discreteSiteError(err: unknown, guide: string): unknown {
  const m = err instanceof ModelError ? /^site "[^"]*": (\S+) is discrete;/.exec(err.message) : null;
  if (!m || !(err instanceof ModelError)) return err;
  return new ModelError(
    err.address,
    `${m[1]} is discrete, and the ${guide} (an autoguide: 'normal', 'mvn', 'lowrank', 'delta', 'flow') covers continuous latent sites only. ` +
      "For VI, pass a guide model (guide: model(...)) that samples this site from a param-ized discrete distribution (its draws get score-function terms; docs/vi.md), " +
      "or marginalise the site; or use an engine for discrete sites: 'enumerate' (finite, exact), 'hmc-gibbs' (discrete and continuous), 'mh' with gibbs: true, 'importance' or 'smc'",
    { cause: err },
  );
}
