/**
 * Two posteriordb posteriors translated plainly by a newcomer (issue 17):
 * `bball_drive_event_0-hmm_drive_0` (an HMM, forward algorithm with
 * logSumExp in a loop over time) and `mcycle_gp-accel_gp` (a heteroscedastic
 * GP on basis functions). Each model is written for one chain.
 *
 * The reference is read from the folder `TYCHE_POSTERIORDB` (or
 * ../shared/posteriordb): `<posterior>/reference_draws.json` (10 chains of
 * draws) when present, otherwise `<posterior>/reference_summary.json`
 * (posteriordb's published means and mean squares with the reference ESS;
 * mcycle_gp's draws archive is not in the posteriordb snapshot here). To
 * build that folder from a posteriordb checkout (`R` = its
 * `posterior_database/reference_posteriors`):
 *
 * ```sh
 * unzip -p $R/draws/draws/bball_drive_event_0-hmm_drive_0.json.zip > $DIR/bball_drive_event_0-hmm_drive_0/reference_draws.json
 * # reference_summary.json: {names, ndraws, mean, sd, essBulk, essTail} from
 * # $R/summary_statistics/{mean_value,mean_squared_value}/.../mcycle_gp-accel_gp.json and $R/draws/info/mcycle_gp-accel_gp.info.json
 * ```
 */
import { existsSync, readFileSync } from 'node:fs';
import { mcseMean, mcseSd } from '../../src/diagnostics/mcse.js';
import { rhatBulk, rhatTail } from '../../src/diagnostics/rhat.js';
import type { Model } from '../../src/core/model.js';
import type { Posterior } from '../../src/infer/posterior.js';
import { hmmDrive0, hmmDriveData } from '../../models/posteriordb/hmm-drive.js';
import { accelGp, mcycleGpData } from '../../models/posteriordb/mcycle-gp.js';
import { type Columns, type Comparison, POSTERIORDB, type PosteriordbCase, compareWithReference, meanSd, referenceDraws, stanNames } from './posteriordb-cases.js';

const asCase = (m: unknown): Model<never[], unknown> => m as Model<never[], unknown>;

/** `phi1` -> `phi[1]`: the two ordered elements, sampled as separate sites, under Stan's vector names. */
function hmmNames(ours: Columns): Columns {
  const out = stanNames(ours);
  for (const v of ['phi', 'lambda']) {
    for (const k of [1, 2]) {
      out.set(`${v}[${k}]`, out.get(`${v}${k}`)!);
      out.delete(`${v}${k}`);
    }
  }
  return out;
}

/** The new posteriors, in the order of the slow test. */
export const NEW_CASES: readonly PosteriordbCase[] = [
  {
    name: 'bball_drive_event_0-hmm_drive_0 (HMM, forward algorithm)',
    folder: 'bball_drive_event_0-hmm_drive_0',
    model: asCase(hmmDrive0),
    args: () => [hmmDriveData],
    toReference: hmmNames,
  },
  {
    name: 'mcycle_gp-accel_gp (GP on basis functions)',
    folder: 'mcycle_gp-accel_gp',
    model: asCase(accelGp),
    args: () => [mcycleGpData],
    // at the defaults (target acceptance 0.8) every mean and sd was within 2.71 MCSE of the reference, but with 156
    // divergences and R-hat up to 1.018 (lscale_1); the reference run used adapt_delta 0.999
    options: { targetAccept: 0.99 },
    toReference: stanNames,
  },
];

/**
 * Cases that fail for a known bug, by folder: the slow test keeps them as
 * skipped tests naming it.
 */
export const NEW_CASE_BUGS: Readonly<Record<string, string>> = {
  // (empty) hmm_drive_0 was here: its NUTS run died after 72 min with 'site "forward": factor log-weight is NaN'
  // (tf.logSumExp over a row of -Infinity where float32 put a simplex component at exactly 0). Since 757b755 such a
  // point is a rejected proposal; the same run (seed 300, 4 x (1000 + 1000)) now passes in 354 s wall, replayed
  // for every chain: max z 1.76 (means) / 1.51 (sds), R-hat <= 1.0018 (scripts/posteriordb-case.ts).
};

/** posteriordb's published summary of a reference posterior. */
export interface ReferenceSummary {
  readonly ndraws: number;
  readonly names: string[];
  readonly mean: number[];
  readonly sd: number[];
  readonly essBulk: number[];
  readonly essTail: number[];
}

/** The reference summary of a case, or undefined when absent. */
export function referenceSummary(folder: string): ReferenceSummary | undefined {
  const file = new URL(`${folder}/reference_summary.json`, POSTERIORDB);
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as ReferenceSummary) : undefined;
}

/**
 * Compare our draws with a published summary: the reference's MCSE is
 * sd / sqrt(ESS_bulk) for the mean and sd / sqrt(2 ESS_tail) for the sd (the
 * normal-theory value; it is small beside ours either way, 10000 draws).
 */
export function compareWithSummary(ours: Columns, ref: ReferenceSummary): Comparison[] {
  return ref.names.map((name, i) => {
    const o = ours.get(name);
    if (!o) throw new Error(`no draws for reference parameter ${name}; ours: ${[...ours.keys()].join(', ')}`);
    const a = meanSd(o);
    const refMean = ref.mean[i]!;
    const refSd = ref.sd[i]!;
    return {
      name,
      mean: a.mean,
      refMean,
      sd: a.sd,
      refSd,
      zMean: Math.abs(a.mean - refMean) / Math.hypot(mcseMean(o), refSd / Math.sqrt(ref.essBulk[i]!)),
      zSd: Math.abs(a.sd - refSd) / Math.hypot(mcseSd(o), refSd / Math.sqrt(2 * ref.essTail[i]!)),
      rhat: Math.max(rhatBulk(o), rhatTail(o)),
    };
  });
}

/** Whether any reference (draws or summary) is present for a case. */
export function hasReference(c: PosteriordbCase): boolean {
  return referenceDraws(c.folder) !== undefined || referenceSummary(c.folder) !== undefined;
}

/** Our posterior against the case's reference (draws if present, else the summary); undefined when neither is present. */
export function compareCase<A extends unknown[]>(c: PosteriordbCase, post: Posterior<A, unknown>): Comparison[] | undefined {
  const cols = post.chainColumns();
  if (!cols) throw new Error('the posterior carries no chain indices');
  const ours = c.toReference(cols);
  const draws = referenceDraws(c.folder);
  if (draws) return compareWithReference(ours, draws);
  const summary = referenceSummary(c.folder);
  return summary ? compareWithSummary(ours, summary) : undefined;
}
