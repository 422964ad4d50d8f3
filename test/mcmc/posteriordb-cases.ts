/**
 * The posteriordb posteriors the NUTS engine is checked against: each case
 * pairs a tyche translation of the Stan model (models/) with its reference
 * draws in ../shared/posteriordb (read only if present), and maps our draws
 * to the reference's parameter names (Stan's 1-based `beta[1]`, transformed
 * parameters such as eight schools' `theta`).
 */
import { existsSync, readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { mcseMean, mcseSd } from '../../src/diagnostics/mcse.js';
import { rhatBulk, rhatTail } from '../../src/diagnostics/rhat.js';
import type { Model } from '../../src/core/model.js';
import type { Posterior } from '../../src/infer/posterior.js';
import { arK, arKData, arKDesign } from '../../models/posteriordb/ark.js';
import { eightSchoolsData, eightSchoolsNoncentered } from '../../models/posteriordb/eight-schools.js';
import { gaussMixData, lowDimGaussMix } from '../../models/posteriordb/gauss-mix.js';
import { kidiqData, kidscoreMomiq } from '../../models/posteriordb/kidiq.js';

/** Where the reference posteriors live (shared with the other engineers; may be absent): `TYCHE_POSTERIORDB` (a folder) overrides. */
export const POSTERIORDB = process.env.TYCHE_POSTERIORDB ? pathToFileURL(`${process.env.TYCHE_POSTERIORDB.replace(/\/$/, '')}/`) : new URL('../../../shared/posteriordb/', import.meta.url);

/** Draws by parameter name, split by chain. */
export type Columns = Map<string, Float64Array[]>;

/** One posterior to check. */
export interface PosteriordbCase {
  readonly name: string;
  /** posteriordb folder, e.g. `kidiq-kidscore_momiq`. */
  readonly folder: string;
  readonly model: Model<never[], unknown>;
  readonly args: () => unknown[];
  /** Extra NUTS options (e.g. a dense metric). */
  readonly options?: Record<string, unknown>;
  /** The chains must run vectorised by the float64 replay of the compiled record (`diagnostics.chainsPath`). */
  readonly replay?: boolean;
  /** Our chain columns under the reference's names. */
  readonly toReference: (ours: Columns) => Columns;
}

/** `beta[0]` -> `beta[1]`: 0-based element names to Stan's 1-based ones. */
export function stanNames(ours: Columns): Columns {
  const out: Columns = new Map();
  for (const [k, v] of ours) out.set(k.replace(/\[(\d+)\]$/, (_m, i: string) => `[${Number(i) + 1}]`), v);
  return out;
}

function eightSchoolsTheta(ours: Columns): Columns {
  const out: Columns = new Map([['mu', ours.get('mu')!], ['tau', ours.get('tau')!]]);
  const mu = ours.get('mu')!;
  const tau = ours.get('tau')!;
  for (let j = 0; j < eightSchoolsData.J; j++) {
    const tt = ours.get(`theta_trans[${j}]`)!;
    out.set(`theta[${j + 1}]`, tt.map((chain, c) => chain.map((x, i) => mu[c]![i]! + tau[c]![i]! * x)));
  }
  return out;
}

/** The four posteriordb posteriors of the MCMC issue. */
export const CASES: readonly PosteriordbCase[] = [
  {
    name: 'eight schools (non-centered)',
    folder: 'eight_schools-eight_schools_noncentered',
    model: eightSchoolsNoncentered as unknown as Model<never[], unknown>,
    args: () => [eightSchoolsData],
    toReference: eightSchoolsTheta,
  },
  {
    name: 'kidiq (kid_score ~ mom_iq)',
    folder: 'kidiq-kidscore_momiq',
    model: kidscoreMomiq as unknown as Model<never[], unknown>,
    args: () => [kidiqData],
    // intercept and slope are correlated at -0.999 (mom_iq is about 100): a dense metric keeps trees shallow
    options: { massMatrix: 'dense' },
    toReference: stanNames,
  },
  {
    name: 'arK (AR(5))',
    folder: 'arK-arK',
    model: arK as unknown as Model<never[], unknown>,
    args: () => {
      const design = arKDesign(arKData);
      return [arKData, { lags: tf.tensor2d(design.lags), response: design.response }];
    },
    // the AR coefficients are strongly correlated: a dense metric, as for kidiq
    options: { massMatrix: 'dense' },
    toReference: stanNames,
  },
  {
    name: 'low_dim_gauss_mix',
    folder: 'low_dim_gauss_mix-low_dim_gauss_mix',
    model: lowDimGaussMix as unknown as Model<never[], unknown>,
    args: () => [gaussMixData],
    toReference: stanNames,
  },
];

/** The reference draws of a case (10 chains x 1000), or undefined when ../shared is absent. */
export function referenceDraws(folder: string): Columns | undefined {
  const file = new URL(`${folder}/reference_draws.json`, POSTERIORDB);
  if (!existsSync(file)) return undefined;
  const chains = JSON.parse(readFileSync(file, 'utf8')) as Record<string, number[]>[];
  const out: Columns = new Map();
  for (const name of Object.keys(chains[0]!)) out.set(name, chains.map((c) => Float64Array.from(c[name]!)));
  return out;
}

/** Mean and sd over all chains' draws together. */
export function meanSd(chains: readonly Float64Array[]): { mean: number; sd: number } {
  let n = 0;
  let s = 0;
  for (const c of chains) for (const x of c) (n++, (s += x));
  const mean = s / n;
  let v = 0;
  for (const c of chains) for (const x of c) v += (x - mean) ** 2;
  return { mean, sd: Math.sqrt(v / (n - 1)) };
}

/** One parameter's comparison. */
export interface Comparison {
  readonly name: string;
  readonly mean: number;
  readonly refMean: number;
  readonly sd: number;
  readonly refSd: number;
  /** |mean - ref| / sqrt(mcse^2 + mcse_ref^2), and the same for the sd. */
  readonly zMean: number;
  readonly zSd: number;
  /** max(bulk, tail) rank-normalised split R-hat of our chains. */
  readonly rhat: number;
}

/** Compare every reference parameter's mean and sd with ours, in MCSE units. */
export function compareWithReference(ours: Columns, ref: Columns): Comparison[] {
  const out: Comparison[] = [];
  for (const [name, r] of ref) {
    const o = ours.get(name);
    if (!o) throw new Error(`no draws for reference parameter ${name}; ours: ${[...ours.keys()].join(', ')}`);
    const a = meanSd(o);
    const b = meanSd(r);
    out.push({
      name,
      mean: a.mean,
      refMean: b.mean,
      sd: a.sd,
      refSd: b.sd,
      zMean: Math.abs(a.mean - b.mean) / Math.hypot(mcseMean(o), mcseMean(r)),
      zSd: Math.abs(a.sd - b.sd) / Math.hypot(mcseSd(o), mcseSd(r)),
      rhat: Math.max(rhatBulk(o), rhatTail(o)),
    });
  }
  return out;
}

/** Our chain columns (under the reference's names) from an MCMC posterior. */
export function columnsOf<A extends unknown[]>(c: PosteriordbCase, post: Posterior<A, unknown>): Columns {
  const cols = post.chainColumns();
  if (!cols) throw new Error('the posterior carries no chain indices');
  return c.toReference(cols);
}

/** The rows outside `z` MCSE (mean or sd) or with R-hat at 1.01 or above, each as a line naming the figures. */
export function failures(rows: readonly Comparison[], z: number): string[] {
  return rows
    .filter((r) => !(r.zMean < z && r.zSd < z && r.rhat < 1.01))
    .map((r) => `${r.name}: mean ${r.mean.toFixed(4)} vs ${r.refMean.toFixed(4)} (z ${r.zMean.toFixed(2)}), sd ${r.sd.toFixed(4)} vs ${r.refSd.toFixed(4)} (z ${r.zSd.toFixed(2)}), R-hat ${r.rhat.toFixed(4)}`);
}
