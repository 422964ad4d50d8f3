/**
 * STEER (session 13): conditional SMC over tokens (`conditionalSteer`)
 * leaves the exact target invariant: with a reference drawn exactly from
 * σ(x) ∝ p_LM(x · EOS) · exp(r(x)), one conditional sweep's output (a
 * particle drawn by its weight) is again distributed as σ. Earlier tests
 * checked this for the step-level particle Gibbs only; the token-level
 * conditional run had only option and error tests.
 *
 * Exact σ by brute-force enumeration through the LM's rows (|x| ≤ 3 over
 * `abc`: 40 strings), binned by (length, number of c's) into 10 cells, a
 * chi-square test over fixed seeds at the 0.999 quantile. Planted: the
 * same sweep without the reference (plain SMC at N = 3, which is biased
 * towards the LM for one draw) fails it.
 */
import { describe, expect, it } from 'vitest';
import { Rng } from '../../../src/core/rng.js';
import { MarkovLM } from '../../../src/steer/lm/markov.js';
import { RewardPotential } from '../../../src/steer/lm/potentials/reward.js';
import { DirectSampler } from '../../../src/steer/lm/samplers/direct.js';
import { LocallyOptimalSampler } from '../../../src/steer/lm/samplers/locally-optimal.js';
import type { TokenSampler } from '../../../src/steer/lm/samplers/types.js';
import { conditionalSteer, smcSteer, type SteeringResult } from '../../../src/steer/lm/smc/steer.js';
import { TokenVocabulary } from '../../../src/steer/lm/vocab.js';

const abc = TokenVocabulary.characters('abc');
const lm = MarkovLM.random(abc, new Rng('steer13-csmc'), { eos: 0.3 });
const MAX = 3;
const N = 3;
const SWEEPS = 400;
const CHI2_9_999 = 27.877;
const count = (t: string, ch: string): number => t.split(ch).length - 1;
const reward = (t: string): number => 1.2 * count(t, 'c') - (t.startsWith('b') ? 0.7 : 0);
const potential = new RewardPotential(abc, reward, 'tilt');
/** The cell of a string: (length, number of c's), 10 cells for |x| ≤ 3. */
const cell = (tokens: readonly number[]): string => `${tokens.length}/${count(abc.decode(tokens), 'c')}`;

/** Every string of at most MAX tokens with its target probability. */
async function exactTarget(): Promise<{ tokens: number[]; p: number }[]> {
  const out: { tokens: number[]; w: number }[] = [];
  const walk = async (x: number[], logp: number): Promise<void> => {
    const [row] = await lm.nextTokenLogprobs([x]);
    out.push({ tokens: x, w: Math.exp(logp + row![abc.eos]! + reward(abc.decode(x))) });
    if (x.length < MAX) for (const y of [0, 1, 2]) await walk([...x, y], logp + row![y]!);
  };
  await walk([], 0);
  const z = out.reduce((s, o) => s + o.w, 0);
  return out.map((o) => ({ tokens: o.tokens, p: o.w / z }));
}

/** One draw from `res`'s weighted particles. */
function drawOne(res: SteeringResult, rng: Rng): readonly number[] {
  let u = rng.uniform();
  for (const p of res.particles) if ((u -= p.weight) <= 0) return p.tokens;
  return res.particles[res.particles.length - 1]!.tokens;
}

/** Pearson chi-square of the sweeps' output cells against σ's cell probabilities. */
async function chiSquare(sweep: (reference: readonly number[], seed: string) => Promise<SteeringResult>, tag: string): Promise<number> {
  const target = await exactTarget();
  const cells = new Map<string, number>();
  for (const t of target) cells.set(cell(t.tokens), (cells.get(cell(t.tokens)) ?? 0) + t.p);
  const cdf = target.map(((s) => (t) => (s += t.p))(0));
  const rng = new Rng(`csmc-${tag}`);
  const seen = new Map<string, number>();
  for (let r = 0; r < SWEEPS; r++) {
    const u = rng.uniform();
    const reference = target[Math.min(target.length - 1, cdf.findIndex((c) => c >= u))]!.tokens; // exact draw from σ
    const y = drawOne(await sweep(reference, `${tag}/${r}`), rng);
    seen.set(cell(y), (seen.get(cell(y)) ?? 0) + 1);
  }
  let chi2 = 0;
  for (const [c, p] of cells) chi2 += ((seen.get(c) ?? 0) - SWEEPS * p) ** 2 / (SWEEPS * p);
  expect(cells.size).toBe(10);
  return chi2;
}

describe('conditionalSteer leaves the exact tilted target invariant (one sweep from an exact reference)', () => {
  const samplers: [string, () => TokenSampler][] = [
    ['direct', () => new DirectSampler()],
    ['locally optimal', () => new LocallyOptimalSampler()],
  ];
  for (const [name, sampler] of samplers) {
    it(`${name} proposal: chi-square over 10 cells below the 0.999 quantile`, async () => {
      const chi2 = await chiSquare((reference, seed) => conditionalSteer({ lm, potential, sampler: sampler(), particles: N, maxTokens: MAX, reference, seed }), name);
      if (process.env.TYCHE_REPORT) console.log(`conditionalSteer (${name}): chi2 ${chi2.toFixed(2)} (df 9, 0.999 quantile ${CHI2_9_999})`);
      expect(chi2).toBeLessThan(CHI2_9_999);
    }, 120_000);
  }

  it('planted: the reference dropped (plain SMC at N = 3, one draw) fails', async () => {
    const chi2 = await chiSquare((_reference, seed) => smcSteer({ lm, potential, sampler: new DirectSampler(), particles: N, maxTokens: MAX, seed }), 'planted');
    if (process.env.TYCHE_REPORT) console.log(`planted (no reference): chi2 ${chi2.toFixed(2)}`);
    expect(chi2).toBeGreaterThan(CHI2_9_999);
  }, 120_000);
});
