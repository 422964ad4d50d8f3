/**
 * Every steering entry point that takes an options object, called with only
 * that object: the shared options check (src/core/options.ts) comes first in
 * each, so no model or LM is needed to see its errors. Used by the option
 * checks of fixer-session7 and minor-session8.
 */
import * as Lm from '../../src/steer/lm/index.js';
import * as D from '../../src/steer/diffusion/index.js';

const M = {} as never;

/** [name, run with these options] for each steering entry point. */
export const STEER_OPTION_ENTRIES: readonly [string, (o: Record<string, unknown>) => Promise<unknown>][] = [
  ['smcSteer', (o) => Lm.smcSteer(o as never)],
  ['smcSteerK', (o) => Lm.smcSteerK(o as never)],
  ['conditionalSteer', (o) => Lm.conditionalSteer(o as never)],
  ['bestOfN', (o) => Lm.bestOfN(o as never)],
  ['locallyConstrainedDecode', (o) => Lm.locallyConstrainedDecode(o as never)],
  ['steeringBounds', (o) => Lm.steeringBounds(o as never)],
  ['learnTwistCTL', (o) => Lm.learnTwistCTL(o as never)],
  ['runStepPrograms', (o) => Lm.runStepPrograms(() => M, o as never)],
  ['generate', (o) => Lm.generate(M, [], o as never)],
  ['bestOfNSteps', (o) => Lm.bestOfNSteps(M, M, '', o as never)],
  ['selfConsistencySteps', (o) => Lm.selfConsistencySteps(M, '', o as never)],
  ['beamSearchSteps', (o) => Lm.beamSearchSteps(M, M, '', o as never)],
  ['particleFilterSteps', (o) => Lm.particleFilterSteps(M, M, '', o as never)],
  ['particleGibbsSteps', (o) => Lm.particleGibbsSteps(M, M, '', o as never)],
  ['sampleDiffusion', (o) => D.sampleDiffusion(M, o as never)],
  ['fkSteering', (o) => D.fkSteering(M, o as never)],
  ['fkCorrector', (o) => D.fkCorrector(o as never)],
  ['twistedDiffusion', (o) => D.twistedDiffusion(M, o as never)],
  ['diffusionBestOfN', (o) => D.diffusionBestOfN(M, o as never)],
  ['zeroOrderSearch', (o) => D.zeroOrderSearch(M, o as never)],
  ['diffusionTreeSampling', (o) => D.diffusionTreeSampling(M, o as never)],
  ['pathSearch', (o) => D.pathSearch(M, o as never)],
  ['rolloverBudgetForcing', (o) => D.rolloverBudgetForcing(M, o as never)],
  ['steerAtBudget', (o) => D.steerAtBudget(M, 'fk' as never, o as never)],
];

/** The message of the error `f` rejects with, or `'no error'`. */
export async function messageOf(f: () => Promise<unknown>): Promise<string> {
  try {
    await f();
    return 'no error';
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}
