/**
 * posteriordb posteriors translated with the Stan user's toolkit (issue 17):
 * flat priors and `NormalIdGlm` (kidiq_with_mom_work, nes2000), a GP with a
 * Cholesky factor (gp_regr), and ODEs with sensitivities (lotka_volterra,
 * one_comp_mm_elim_abs). Each model is written for one chain.
 */
import type { Model } from '../../src/core/model.js';
import { flatGaussianGlm, kidiqMomWorkData, kidiqMomWorkDesign, nesData, nesDesign } from '../../models/posteriordb/glm-regressions.js';
import { gpRegr, gpRegrData } from '../../models/posteriordb/gp-regr.js';
import { lotkaVolterra, lynxHareData } from '../../models/posteriordb/lotka-volterra.js';
import { oneCompData, oneCompMmElimAbs } from '../../models/posteriordb/one-comp.js';
import { type PosteriordbCase, stanNames } from './posteriordb-cases.js';

const asCase = (m: unknown): Model<never[], unknown> => m as Model<never[], unknown>;

/** The toolkit posteriors, in the order of the slow test. */
export const TOOLKIT_CASES: readonly PosteriordbCase[] = [
  {
    name: 'kidiq_with_mom_work (NormalIdGlm, flat priors)',
    folder: 'kidiq_with_mom_work-kidscore_mom_work',
    model: asCase(flatGaussianGlm),
    args: () => [kidiqMomWorkDesign(kidiqMomWorkData)],
    toReference: stanNames,
  },
  {
    name: 'nes2000 (NormalIdGlm, flat priors, 10 dimensions)',
    folder: 'nes2000-nes',
    model: asCase(flatGaussianGlm),
    args: () => [nesDesign(nesData)],
    toReference: stanNames,
  },
  {
    name: 'gp_regr (exp-quad GP, Cholesky)',
    folder: 'gp_pois_regr-gp_regr',
    model: asCase(gpRegr),
    args: () => [gpRegrData],
    // the reference run used adapt_delta 0.99; the default recovers it too (4 x 1000 draws, all z < 2.1)
    toReference: stanNames,
  },
  {
    name: 'lotka_volterra (ODE rk45)',
    // odeSolve is a custom op: the model compiles and its chains run vectorised in float64
    replay: true,
    folder: 'hudson_lynx_hare-lotka_volterra',
    model: asCase(lotkaVolterra),
    args: () => [lynxHareData],
    // the reference run's setting (adapt_delta 0.99); at the default 0.8 with 500 warmup draws one chain of four stayed apart (R-hat 1.4)
    options: { targetAccept: 0.99 },
    toReference: stanNames,
  },
  {
    name: 'one_comp_mm_elim_abs (ODE rk45)',
    // odeSolve is a custom op: the model compiles and its chains run vectorised in float64
    replay: true,
    folder: 'one_comp_mm_elim_abs-one_comp_mm_elim_abs',
    model: asCase(oneCompMmElimAbs),
    args: () => [oneCompData],
    // the reference run's settings (adapt_delta 0.99, max_treedepth 20): K_m has a long right tail
    options: { targetAccept: 0.99, maxTreeDepth: 12 },
    toReference: stanNames,
  },
];
