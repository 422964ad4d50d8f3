/**
 * Why a posterior predictive run at new arguments failed, where the cause is
 * a latent site sized by the data: a random effect per row or per group in a
 * plate over the data (`plate('rows', x.length, () => sample('u', ...))`)
 * holds posterior values of the old size, which the model at new inputs
 * cannot take. The raw failure is a shape error inside the distribution that
 * first meets the value (or the arithmetic on it), naming no site; this
 * names the site, both shapes, and what to do.
 *
 * Read only after a run has failed: the happy path pays nothing.
 *
 * @module
 */
import { execute, type Model } from '../core/model.js';
import { unconditionHandler } from '../core/handlers.js';
import { ModelError } from '../core/errors.js';
import { rngFrom } from '../core/rng.js';
import { type Value, shapeOf } from '../core/value.js';
import { tidyAsync } from '../backend/autodiff.js';

/**
 * The error naming the first latent site whose posterior value has another
 * shape than the same site in a prior run of `m` on `args`, or undefined
 * (no such site, or the prior run itself fails: the original error stands).
 *
 * @param m - the model
 * @param args - the new arguments given to `predictive`
 * @param values - one posterior draw's values by address
 * @internal
 */
export async function resizedLatentError<A extends unknown[]>(m: Model<A, unknown>, args: A, values: Readonly<Record<string, Value>>): Promise<ModelError | undefined> {
  let found: ModelError | undefined;
  try {
    await tidyAsync(async () => {
      const { trace } = await execute(m, { rng: rngFrom(0), handlers: [unconditionHandler()] }, ...args);
      for (const s of trace) {
        if (s.type !== 'sample' || s.observed) continue;
        const old = values[s.address];
        if (old === undefined) continue;
        const [was, now] = [shapeOf(old), shapeOf(s.value)];
        if (was.length === now.length && was.every((d, i) => d === now[i])) continue;
        found = new ModelError(
          s.address,
          `predictive at new arguments: the posterior's values of latent site "${s.address}" have shape [${was.join(', ')}], but at these arguments the model makes it of shape [${now.join(', ')}] ` +
            '(a latent value per data row or group, sized by the data): the posterior says nothing about new rows. ' +
            "Predict at the inputs the posterior was fitted to, or give the new rows' latent values an address of their own " +
            '(a site the posterior does not hold is drawn from its prior given the other draws)',
        );
        break;
      }
      return undefined;
    }, () => []);
  } catch {
    return undefined;
  }
  return found;
}
