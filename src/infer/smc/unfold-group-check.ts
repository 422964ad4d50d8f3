/**
 * The early check of a grouped unfold run (`unfold-group.ts`): after its
 * first steps, a few particles' paths so far run again on the general
 * runtime with their choices, stopped at the first site of the next step,
 * and each site's log density must be the grouped run's. A kernel that took
 * another branch on a grouped value (a tensor in the group, a number on a
 * particle's run: `Number.isFinite(x)`, `typeof x`, `x === 0`) is then
 * refused after O(1) steps instead of after the whole run (the check after
 * the run stays: a branch taken late must still be caught).
 *
 * @module
 */
import { substitute } from '../../core/handlers.js';
import type { Handler } from '../../core/message.js';
import { type Model, execute } from '../../core/model.js';
import { rngFrom } from '../../core/rng.js';
import { type Site, siteOf } from '../../core/trace.js';
import type { Value } from '../../core/value.js';

/** What stops the general run at the first site of step `stopAt` (thrown from the handler; never seen outside). */
const STOP = Object.freeze(new Error('unfold early check: stopped'));

/** The step of unfold `name` that `address` is in (`name/t/...`), or -1 outside it. */
function stepOf(address: string, name: string): number {
  if (address.length <= name.length + 1 || !address.startsWith(name) || address.charCodeAt(name.length) !== 47 /* '/' */) return -1;
  const end = address.indexOf('/', name.length + 1);
  if (end < 0) return -1;
  const t = Number(address.slice(name.length + 1, end));
  return Number.isInteger(t) ? t : -1;
}

/**
 * The sample and factor sites of a run of `m` on the general runtime with the
 * choices `values`, from its start up to (not including) the first site of
 * step `stopAt` of unfold `name`: their log densities are read at once
 * (`toNumber(siteLogDensity(site))` by the caller, under its ledger). A run
 * that fails otherwise gives its error's message instead.
 */
export async function generalSitesBefore(m: Model<unknown[], unknown>, args: unknown[], values: Record<string, Value>, name: string, stopAt: number): Promise<Site[] | string> {
  const sites: Site[] = [];
  let stopped = false;
  const stopper: Handler = {
    process(msg) {
      if (stopped || stepOf(msg.address, name) >= stopAt) {
        stopped = true;
        throw STOP;
      }
    },
    postprocess(msg) {
      if (msg.type === 'sample' || msg.type === 'factor') sites.push(siteOf(msg));
    },
  };
  try {
    await execute(substitute(m, values), { rng: rngFrom('unfold/early-check'), handlers: [stopper] }, ...args);
  } catch (err) {
    if (!stopped) return err instanceof Error ? err.message : String(err);
  }
  return sites;
}
