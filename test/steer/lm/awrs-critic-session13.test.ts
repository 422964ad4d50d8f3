/**
 * STEER (session 13): SMC steering with the AWRS proposal under a hard
 * constraint and an approximate twist (a critic), end to end against an
 * exact answer. AWRS had sampler-level checks (its weight's mean is the
 * allowed mass) and the critic was tested with direct and locally optimal
 * proposals on a soft reward; not the two together, with the token budget
 * of an `AutomatonPotential` pruning prefixes.
 *
 * Target: σ(x) ∝ p_LM(x · EOS) · 1[x matches (a|b)*c(a|b)*], |x| ≤ 4, on a
 * random Markov LM over `abc`; Z and Z·E_σ[first token is b] by walking every
 * string through the LM's rows. Over fixed seeds E[Ẑ] = Z and
 * E[Ẑ·f̂] = Z·E_σ[f] within 4 MCSE, for smcSteer (adaptive and every-step
 * resampling) and smcSteerK. Before this session AWRS refused any critic
 * ("AWRS needs a boolean potential ... token 2 got 1": it read the critic's
 * twist as part of the constraint); it now accepts by the constraint alone
 * and multiplies the twist into the drawn token's weight. Planted: AWRS that
 * leaves the twist out of its weight fails.
 */
import { describe, expect, it } from 'vitest';
import { Rng } from '../../../src/core/rng.js';
import { MarkovLM } from '../../../src/steer/lm/markov.js';
import { AutomatonPotential } from '../../../src/steer/lm/potentials/automaton.js';
import type { Potential } from '../../../src/steer/lm/potentials/potential.js';
import { AWRSSampler } from '../../../src/steer/lm/samplers/awrs.js';
import type { LocalWeights, TokenContext, WeightedToken } from '../../../src/steer/lm/samplers/types.js';
import { smcSteerK } from '../../../src/steer/lm/smc/smc-steer.js';
import { smcSteer, type SteeringResult } from '../../../src/steer/lm/smc/steer.js';
import { TokenVocabulary } from '../../../src/steer/lm/vocab.js';
import { meanSE } from '../../stats.js';

const abc = TokenVocabulary.characters('abc');
const lm = MarkovLM.random(abc, new Rng('steer13-awrs'), { eos: 0.25 });
const MAX = 4;
const RUNS = 200;
const PATTERN = '(a|b)*c(a|b)*';
const matches = (t: string): boolean => /^(a|b)*c(a|b)*$/.test(t);
const firstB = (t: string): number => (t.startsWith('b') ? 1 : 0);
const constraint = () => new AutomatonPotential(abc, PATTERN, 'one-c', { maxTokens: MAX });
/** An approximate twist: favours prefixes that already hold their c, penalises length (telescopes away at EOS). */
const critic = (): Potential => {
  const psi = (x: readonly number[]): number => (x.includes(2) ? 0.9 : -0.4) - 0.3 * x.length;
  return { name: 'guess', vocab: abc, prefix: psi, complete: psi };
};
/** Planted: AWRS that accepts by the constraint alone and forgets the critic's twist in its weight. */
class TwistlessAWRS extends AWRSSampler {
  override sample(ctx: TokenContext): Promise<WeightedToken> {
    const l = ctx.local;
    const local: LocalWeights = { vocab: l.vocab, name: l.name, row: () => l.row(), token: (y) => l.token(y), potentialToken: (y) => l.potentialToken!(y) };
    return super.sample({ ...ctx, local });
  }
}

async function exact(): Promise<{ z: number; zf: number }> {
  let z = 0;
  let zf = 0;
  const walk = async (x: number[], logp: number): Promise<void> => {
    const [row] = await lm.nextTokenLogprobs([x]);
    const text = abc.decode(x);
    if (matches(text)) {
      const w = Math.exp(logp + row![abc.eos]!);
      z += w;
      zf += w * firstB(text);
    }
    if (x.length < MAX) for (const y of [0, 1, 2]) await walk([...x, y], logp + row![y]!);
  };
  await walk([], 0);
  return { z, zf };
}

/** z-scores of mean Ẑ and mean Ẑ·f̂ against the exact figures over RUNS seeds. */
async function zScores(run: (seed: string) => Promise<SteeringResult>, tag: string): Promise<[number, number]> {
  const truth = await exact();
  const z: number[] = [];
  const zf: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const res = await run(`${tag}/${r}`);
    const zHat = Math.exp(res.logZ);
    z.push(zHat);
    zf.push(zHat * res.particles.reduce((a, p) => a + p.weight * firstB(p.text), 0));
  }
  const a = meanSE(z);
  const b = meanSE(zf);
  return [(a.mean - truth.z) / a.se, (b.mean - truth.zf) / b.se];
}

const METHODS: [string, (seed: string) => Promise<SteeringResult>][] = [
  ['smcSteer, AWRS, critic, adaptive resampling', (seed) => smcSteer({ lm, potential: constraint(), critic: critic(), sampler: new AWRSSampler(), particles: 6, maxTokens: MAX, seed })],
  ['smcSteer, AWRS, critic, resampling every step', (seed) => smcSteer({ lm, potential: constraint(), critic: critic(), sampler: new AWRSSampler(), particles: 6, maxTokens: MAX, seed, essThreshold: 1 })],
  ['smcSteerK (N 3, K 2), AWRS, critic', (seed) => smcSteerK({ lm, potential: constraint(), critic: critic(), sampler: new AWRSSampler(), particles: 3, k: 2, maxTokens: MAX, seed })],
];

describe('AWRS with a critic under a hard constraint: E[Ẑ] = Z and E[Ẑ·f̂] = Z·E_σ[f]', () => {
  for (const [name, run] of METHODS) {
    it(`${name}: both within 4 MCSE`, async () => {
      const [zz, zfz] = await zScores(run, name);
      if (process.env.TYCHE_REPORT) console.log(`${name}: z(Ẑ) ${zz.toFixed(2)}, z(Ẑf) ${zfz.toFixed(2)}`);
      expect(Math.abs(zz)).toBeLessThan(4);
      expect(Math.abs(zfz)).toBeLessThan(4);
    }, 120_000);
  }

  it('planted: AWRS that leaves the twist out of its weight fails', async () => {
    const [zz, zfz] = await zScores((seed) => smcSteer({ lm, potential: constraint(), critic: critic(), sampler: new TwistlessAWRS(), particles: 6, maxTokens: MAX, seed }), 'planted');
    if (process.env.TYCHE_REPORT) console.log(`planted (twist left out): z(Ẑ) ${zz.toFixed(2)}, z(Ẑf) ${zfz.toFixed(2)}`);
    expect(Math.max(Math.abs(zz), Math.abs(zfz))).toBeGreaterThan(4);
  }, 120_000);
});
