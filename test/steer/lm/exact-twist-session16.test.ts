/**
 * Session 16 (STEERUSER2): an `ExactTwist` used where its −∞ is not a statement about the run's target dropped
 * strings the target allows, with clean output. Probed on a random Markov LM over `abc`, the constraint `[ab]*`,
 * maxTokens 6, direct proposal, 8 particles, 200 seeds: built with `maxLength: 3`, E[Ẑ/Z] was 0.840 ± 0.030 and no
 * returned string was longer than 3 tokens; built on another (sparser) LM, 0.557 ± 0.024; built right, 0.978 ±
 * 0.027. Both misuses are now a RangeError before any LM call, from every entry on the token model (smcSteer,
 * smcSteerK, ...). Fails on the old code (the runs resolved).
 */
import { describe, expect, it } from 'vitest';
import { Rng } from '../../../src/core/rng.js';
import { wrapLanguageModel } from '../../../src/steer/lm/cached.js';
import { conditionOnRegex } from '../../../src/steer/lm/dp.js';
import { MarkovLM } from '../../../src/steer/lm/markov.js';
import { AutomatonPotential } from '../../../src/steer/lm/potentials/automaton.js';
import { DirectSampler } from '../../../src/steer/lm/samplers/direct.js';
import { LocallyOptimalSampler } from '../../../src/steer/lm/samplers/locally-optimal.js';
import { smcSteerK } from '../../../src/steer/lm/smc/smc-steer.js';
import { smcSteer } from '../../../src/steer/lm/smc/steer.js';
import { ExactTwist } from '../../../src/steer/lm/smc/twist.js';
import { TokenVocabulary } from '../../../src/steer/lm/vocab.js';

const abc = TokenVocabulary.characters('abc');
const lm = MarkovLM.random(abc, new Rng('p14'), { eos: 0.15 });
const other = MarkovLM.random(abc, new Rng('p14-other'), { eos: 0.15, sparsity: 0.4 });
const RE = '[ab]*';
const run = (critic: ExactTwist, model = lm as MarkovLM | ReturnType<typeof wrapLanguageModel>) =>
  smcSteer({ lm: model, potential: new AutomatonPotential(abc, RE), critic, sampler: new DirectSampler(), particles: 8, maxTokens: 6, seed: 1 });

describe('ExactTwist where its −∞ is not the run target’s (session 16)', () => {
  it('built with maxLength below maxTokens: a RangeError naming both, before any LM call', async () => {
    const short = new ExactTwist(conditionOnRegex(lm, RE, { maxLength: 3 }));
    await expect(run(short)).rejects.toThrow(RangeError);
    await expect(run(short)).rejects.toThrow(/critic "exact twist of random-markov \| \/\[ab\]\*\/" was built with maxLength = 3, but the run generates up to maxTokens = 6: .*conditionOnRegex\(lm, pattern, \{ maxLength: 6 \}\)/);
    await expect(smcSteerK({ lm, potential: new AutomatonPotential(abc, RE), critic: short, sampler: new LocallyOptimalSampler(), particles: 4, k: 2, maxTokens: 6, seed: 1 })).rejects.toThrow(/maxLength = 3/);
  });

  it('the DP of another LM: a RangeError naming both models', async () => {
    const foreign = new ExactTwist(conditionOnRegex(other, RE, { maxLength: 6 }));
    await expect(run(foreign)).rejects.toThrow(/is the exact twist of the language model "random-markov", but the run steers "random-markov" \(another object\)/);
  });

  it('right uses run: the same LM wrapped or not, maxLength equal to or above maxTokens, or none', async () => {
    for (const twist of [conditionOnRegex(lm, RE, { maxLength: 6 }), conditionOnRegex(lm, RE, { maxLength: 9 }), conditionOnRegex(lm, RE)].map((c) => new ExactTwist(c))) {
      expect((await run(twist)).particles).toHaveLength(8);
      expect((await run(twist, wrapLanguageModel(lm))).particles).toHaveLength(8);
    }
    // the exact twist with the locally optimal proposal: every weight is Z (as documented)
    const exact = conditionOnRegex(lm, RE, { maxLength: 6 });
    const res = await smcSteer({ lm, potential: new AutomatonPotential(abc, RE), critic: new ExactTwist(exact), sampler: new LocallyOptimalSampler(), particles: 8, maxTokens: 6, seed: 2 });
    expect(res.logZ).toBeCloseTo(exact.logZ, 5);
  });
});
