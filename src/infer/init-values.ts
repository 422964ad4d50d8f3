/**
 * Starting values given by address (`init: { sigma: 1 }` for NUTS, HMC,
 * hmc-gibbs and VI's autoguides), put into the model's runs as `substitute`
 * does, but checked as they go in, so that a wrong one is named rather than
 * silently changed or reported somewhere else:
 *
 * - a value outside its site's support (`sigma: -1` under a `HalfNormal`, a
 *   vector that is not a simplex under a `Dirichlet`), or on its boundary
 *   (`sigma: 0`, where the unconstrained coordinate is infinite), is an
 *   error naming the site, the value and the support. Without the check the first sent the run
 *   into a later site's parameter error ("Normal: parameter scale must be
 *   positive"), and the second was mapped through the simplex bijector to
 *   another point, so the chains started where the user had not asked;
 * - an address that no run reached as a latent site (a typo such as `muu`,
 *   or an observed site) is an error with the nearest site's name: it was
 *   ignored before, and the chains started elsewhere.
 *
 * @module
 */
import { TycheError, ModelError } from '../core/errors.js';
import type { Handler } from '../core/message.js';
import type { Model } from '../core/model.js';
import { nearMiss } from '../core/options.js';
import { type Value, type ValueLike, all, toValue } from '../core/value.js';
import { fmt } from './diagnose.js';
import type { Distribution } from '../distributions/distribution.js';
import { bijectTo } from '../transforms/biject-to.js';
import * as tf from '@tensorflow/tfjs-core';

/** A model that starts at the given values, and the check that each was used. */
export interface InitValues<A extends unknown[], R> {
  /** The model with the values substituted at their latent sites, each checked against its site's support. */
  readonly model: Model<A, R>;
  /**
   * Throw where an address of the values was not reached as a latent site by
   * any run of {@link InitValues.model} so far, naming the nearest latent
   * site those runs had. Call it after the runs.
   */
  assertAllUsed(): void;
}

/**
 * Substitute starting values by address into a model, checked as they go in
 * (see the module comment).
 *
 * @param m - the model
 * @param values - starting values by address
 * @param engine - the engine's name, for messages (e.g. `nuts`)
 * @returns the model that starts there, and the check that every value was used
 */
export function withInitValues<A extends unknown[], R>(m: Model<A, R>, values: Readonly<Record<string, ValueLike>>, engine: string): InitValues<A, R> {
  const used = new Set<string>();
  const latent = new Set<string>();
  const observed = new Set<string>();
  const handler: Handler = {
    process(msg) {
      if (msg.type !== 'sample') return;
      if (msg.observed) {
        observed.add(msg.address);
        return;
      }
      latent.add(msg.address);
      const given = values[msg.address];
      if (given === undefined) return;
      used.add(msg.address);
      const value = toValue(given as ValueLike, `${engine}: init "${msg.address}"`);
      const dist = msg.dist as Distribution;
      let inside = true;
      try {
        inside = all(dist.support.check(value as Value));
      } catch {
        // a support that cannot check a value of this shape: the site's own scoring names the shape
      }
      if (!inside) {
        throw new ModelError(msg.address, `${engine}: the init value ${fmt(value)} is outside the support of ${dist.name} (${dist.support.name}); give a starting value inside it, or leave the site out of init`);
      }
      if (!dist.support.isDiscrete && !interior(dist, value)) {
        throw new ModelError(
          msg.address,
          `${engine}: the init value ${fmt(value)} lies on the boundary of the support of ${dist.name} (${dist.support.name}), where its unconstrained coordinate is infinite; ` +
            'the sampler moves in the support\'s interior: give a starting value strictly inside it',
        );
      }
      msg.value = value;
    },
  };
  return {
    model: m.withHandler(handler),
    assertAllUsed() {
      for (const address of Object.keys(values)) {
        if (used.has(address) || values[address] === undefined) continue;
        if (observed.has(address)) {
          throw new TycheError(`${engine}: init gives a value for "${address}", an observed site of model "${m.name}"; init sets latent sites only`);
        }
        const near = nearMiss(address, latent);
        throw new TycheError(
          `${engine}: init gives a value for "${address}", which no run of model "${m.name}" reached as a latent site` +
            (near !== undefined ? `; did you mean "${near}"?` : latent.size > 0 ? ` (its latent sites: ${[...latent].slice(0, 8).join(', ')}${latent.size > 8 ? ', ...' : ''})` : ''),
        );
      }
    },
  };
}

/** Whether a value maps to finite unconstrained coordinates (the support's interior); true where the bijector cannot say. */
function interior(dist: Distribution, value: Value): boolean {
  try {
    return tf.tidy(() => {
      const x = bijectTo(dist.support).inverse(value);
      return typeof x === 'number' ? Number.isFinite(x) : all(tf.all(tf.isFinite(x as tf.Tensor)));
    });
  } catch {
    return true;
  }
}
