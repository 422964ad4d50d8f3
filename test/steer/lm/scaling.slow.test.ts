/**
 * Slow tier (TYCHE_SLOW=1) of step-level scaling: on a random Markov LM (an
 * infinite support) with an exact 0/1 "PRM" from a regular expression
 * (partial score: the prefix can still match; complete score: it matches),
 * particle filtering's E[Z-hat] equals the exact P_LM(x matches) from the
 * dynamic program, within Monte Carlo error, for PF and ePF (with 0/1
 * rewards tempering leaves the draws unchanged, so both give the same
 * figure). A planted PRM that forgets the complete judgement fails.
 */
import { describe, expect, it } from 'vitest';
import { Rng } from '../../../src/core/rng.js';
import { conditionOnRegex } from '../../../src/steer/lm/dp.js';
import { MarkovLM } from '../../../src/steer/lm/markov.js';
import { compileRegex } from '../../../src/steer/lm/regex.js';
import { type StepRewardModel, particleFilterSteps } from '../../../src/steer/lm/scaling/index.js';
import { TokenVocabulary } from '../../../src/steer/lm/vocab.js';
import { zOf } from '../../stats.js';

const slow = process.env.TYCHE_SLOW ? describe : describe.skip;

const vocab = TokenVocabulary.characters('ab;');
const lm = MarkovLM.random(vocab, new Rng('scaling-slow-markov'), { eos: 0.3, concentration: 2 });
const pattern = '(a;|b;)*a;|b;b;';
const re = compileRegex(pattern);
const prm: StepRewardModel = {
  name: 'regex',
  score: async (texts, o = {}) => texts.map((t) => {
    const q = re.run(t);
    return o.complete ? (q >= 0 && re.accepting(q) ? 1 : 0) : q >= 0 && re.live(q) ? 1 : 0;
  }),
};
const planted: StepRewardModel = { name: 'planted', score: async (texts) => texts.map((t) => (re.run(t) >= 0 && re.live(re.run(t)) ? 1 : 0)) };

async function zHats(reward: StepRewardModel, particles: number, runs: number, annealing: boolean): Promise<number[]> {
  const out: number[] = [];
  for (let r = 0; r < runs; r++) {
    try {
      const res = await particleFilterSteps(lm, reward, '', { particles, seed: `slow/${particles}/${r}`, maxSteps: 40, annealing: annealing ? { schedule: 'base', maxTemperature: 3, essThreshold: 1, earlyPhase: 1 } : undefined });
      out.push(Math.exp(res.logZ!));
    } catch (err) {
      if (!/every particle has zero weight/.test((err as Error).message)) throw err;
      out.push(0); // every particle died: Z-hat = 0
    }
  }
  return out;
}

slow('step-level PF on a Markov LM with an exact regex PRM', () => {
  const exact = conditionOnRegex(lm, pattern);

  it('E[Z-hat] = P_LM(match) within MCSE (PF and ePF); the planted PRM fails', async () => {
    const R = 600;
    const zs = [zOf(await zHats(prm, 4, R, false), exact.Z), zOf(await zHats(prm, 4, R, true), exact.Z), zOf(await zHats(planted, 4, R, false), exact.Z)];
    console.log(`Markov LM, P(match) = ${exact.Z.toFixed(5)}; z-scores over ${R} runs (N=4): PF ${zs[0]!.toFixed(2)}, ePF ${zs[1]!.toFixed(2)}, planted ${zs[2]!.toFixed(2)}`);
    expect(Math.abs(zs[0]!)).toBeLessThan(4);
    expect(Math.abs(zs[1]!)).toBeLessThan(4);
    expect(Math.abs(zs[2]!)).toBeGreaterThan(4);
  });
});
