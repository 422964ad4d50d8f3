/**
 * Posteriors on which static HMC's integration time matters, for the jitter
 * study (`scripts/hmc-jitter-study.ts`) and its tests: four posteriordb
 * Gaussian regressions, where the adapted dense metric makes the posterior
 * close to a standard normal and a fixed trajectory of 2 pi nearly returns
 * to its start, and eight schools (non-centred), a hierarchical posterior
 * that is not close to Gaussian.
 */
import type { Model } from '../../src/core/model.js';
import type { Posterior } from '../../src/infer/posterior.js';
import { earningsData, earningsDesign } from '../../models/posteriordb/earnings.js';
import { eightSchoolsData, eightSchoolsNoncentered } from '../../models/posteriordb/eight-schools.js';
import { flatGaussianGlm, kidiqMomWorkData, kidiqMomWorkDesign, nesData, nesDesign } from '../../models/posteriordb/glm-regressions.js';
import { kidiqData, kidscoreMomiq } from '../../models/posteriordb/kidiq.js';

/** One posterior of the study. */
export interface JitterCase {
  /** The posteriordb name. */
  readonly name: string;
  readonly model: Model<never[], unknown>;
  /** The model's arguments (made on each call: designs are tensors). */
  readonly args: () => unknown[];
}

const as = (m: unknown): Model<never[], unknown> => m as Model<never[], unknown>;

/** The study's posteriors, the failing case first. */
export const JITTER_CASES: readonly JitterCase[] = [
  { name: 'kidiq-kidscore_momiq', model: as(kidscoreMomiq), args: () => [kidiqData] },
  { name: 'kidiq_with_mom_work-kidscore_mom_work', model: as(flatGaussianGlm), args: () => [kidiqMomWorkDesign(kidiqMomWorkData)] },
  { name: 'nes2000-nes', model: as(flatGaussianGlm), args: () => [nesDesign(nesData)] },
  { name: 'earnings-earn_height', model: as(flatGaussianGlm), args: () => [earningsDesign(earningsData)] },
  { name: 'eight_schools-eight_schools_noncentered', model: as(eightSchoolsNoncentered), args: () => [eightSchoolsData] },
];

/** How well a run mixed: the smallest bulk ESS and the largest R-hat over the summary's rows, and its gradient evaluations. */
export interface Mixing {
  readonly minEssBulk: number;
  readonly maxRhat: number;
  readonly gradients: number;
}

/** The mixing figures of an MCMC posterior (from its summary and diagnostics). */
export function mixingOf(post: Posterior<never[], unknown>): Mixing {
  const rows = post.summary().rows;
  return {
    minEssBulk: Math.min(...rows.map((r) => Number(r['ess_bulk']))),
    maxRhat: Math.max(...rows.map((r) => Number(r['r_hat']))),
    gradients: Number((post.diagnostics as Record<string, unknown>)['gradientEvaluations']),
  };
}
