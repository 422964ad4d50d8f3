/**
 * Why a model has density zero: the shared explanation behind every engine's
 * "no point with positive probability" error.
 *
 * An engine that finds nothing with positive density throws a
 * {@link ZeroDensityError}; `infer` hands it to {@link explainZeroDensity},
 * which runs the model from its prior a few times, recording each site's log
 * density, and names the first site that makes the density zero: an observed
 * value outside its distribution's support, an observation with probability
 * zero, a factor of -Infinity, or the invalid parameter the model raised.
 *
 * @module
 */
import { InvalidParameterError, ModelError, ZeroDensityError, isTycheError } from '../core/errors.js';
import type { Handler, Message } from '../core/message.js';
import type { Model } from '../core/model.js';
import { type Rng, rngFrom, type Seed } from '../core/rng.js';
import { type Value, all, describe, isTensor } from '../core/value.js';
import type { Distribution } from '../distributions/distribution.js';

/** Prior runs tried before giving up on naming a site. */
const TRIES = 20;

/** The first site of one execution whose log density is -Infinity (somewhere in its elements). */
interface ZeroSite {
  readonly msg: Message;
}

function isMinusInfinity(lp: Value): boolean {
  if (typeof lp === 'number') return lp === -Infinity;
  const d = lp.dataSync();
  for (let i = 0; i < d.length; i++) if (d[i] === -Infinity) return true;
  return false;
}

function fmt(v: Value | undefined): string {
  if (v === undefined) return 'undefined';
  if (typeof v === 'number') return String(v);
  return isTensor(v) && v.size <= 6 ? `[${Array.from(v.dataSync()).join(', ')}]` : describe(v);
}

/** Run the model once from the prior; the first zero-density site, or undefined. */
async function firstZeroSite<A extends unknown[], R>(m: Model<A, R>, args: A, rng: Rng): Promise<ZeroSite | undefined> {
  let found: ZeroSite | undefined;
  const recorder: Handler = {
    postprocess(msg) {
      if (found || msg.logProb === undefined || msg.type === 'deterministic' || msg.type === 'param') return;
      if (isMinusInfinity(msg.logProb)) found = { msg };
    },
  };
  await m.run({ rng, handlers: [recorder] }, ...args);
  return found;
}

/** What makes the density zero at a site, in words. */
function explainSite(msg: Message): string {
  if (msg.type === 'factor') return 'the factor is -Infinity';
  const dist = msg.dist as Distribution;
  if (msg.observed) {
    let inside = true;
    try {
      inside = all(dist.support.check(msg.value as Value));
    } catch {
      // a support that cannot check this value: say the probability is zero
    }
    return inside
      ? `the observed value ${fmt(msg.value)} has zero probability under ${dist.name} (the observation is impossible)`
      : `the observed value ${fmt(msg.value)} is outside the support of ${dist.name} (${dist.support.name})`;
  }
  return `the value ${fmt(msg.value)} has zero probability under ${dist.name}`;
}

/**
 * The error to show for an engine's {@link ZeroDensityError}: a
 * {@link ModelError} naming the site that makes the density zero (the
 * engine's error is its `cause`), the model's own error when running it from
 * the prior fails, or the engine's error when every prior run tried has
 * positive density.
 */
export async function explainZeroDensity<A extends unknown[], R>(err: ZeroDensityError, m: Model<A, R>, args: A, seed: Seed = 0): Promise<Error> {
  const rng = rngFrom(seed);
  for (let i = 0; i < TRIES; i++) {
    let zero: ZeroSite | undefined;
    try {
      zero = await firstZeroSite(m, args, rng.split());
    } catch (runErr) {
      if (runErr instanceof InvalidParameterError || isTycheError(runErr)) {
        // the engine's own account follows (the prior run is not the engine's point: e.g. VI's rejected guide draw)
        (runErr as Error).message += ` (from a prior run, made to explain: ${err.message})`;
        return runErr as Error;
      }
      return err;
    }
    if (zero) return new ModelError(zero.msg.address, `${explainSite(zero.msg)}; ${err.message}`, { cause: err });
  }
  err.message += ` (the model's prior draws tried here all have positive probability, so no single site is to blame)`;
  return err;
}
