/**
 * STEERUSER (session 12): LM steering with a prompt and a soft (outcome)
 * reward, against an exact answer by brute-force enumeration through the LM's
 * own rows (no dynamic program shared with the engine). Earlier tests steer
 * without a prompt and with hard constraints (regex, boolean) or a weighted
 * set; a prompt changes every row the particles see, and a soft reward
 * reweights at EOS only.
 *
 * Target: σ(x) ∝ p_LM(x · EOS | prompt) · exp(r(x)), |x| ≤ 4, on a random
 * Markov LM over `abc`, r = 0.8·#a − 1.5·[x ends with c]. For each method
 * (direct and locally optimal proposals, residual and tempered resampling, a
 * critic, SMC-steer, best-of-N),
 * over fixed seeds: E[Ẑ] = Z and E[Ẑ·f̂] = Z·E_σ[f] (f = first token is a;
 * the product is unbiased where the self-normalised f̂ is not), each within
 * 4 MCSE. Planted: the same runs without the prompt (an engine that drops it)
 * fail both checks.
 */
import { describe, expect, it } from 'vitest';
import { Rng } from '../../../src/core/rng.js';
import { MarkovLM } from '../../../src/steer/lm/markov.js';
import type { Potential } from '../../../src/steer/lm/potentials/potential.js';
import { RewardPotential } from '../../../src/steer/lm/potentials/reward.js';
import { DirectSampler } from '../../../src/steer/lm/samplers/direct.js';
import { LocallyOptimalSampler } from '../../../src/steer/lm/samplers/locally-optimal.js';
import { bestOfN } from '../../../src/steer/lm/smc/baselines.js';
import { smcSteerK } from '../../../src/steer/lm/smc/smc-steer.js';
import { smcSteer, type SteeringResult } from '../../../src/steer/lm/smc/steer.js';
import { TokenVocabulary } from '../../../src/steer/lm/vocab.js';
import { meanSE } from '../../stats.js';

const abc = TokenVocabulary.characters('abc');
const lm = MarkovLM.random(abc, new Rng('su-markov'), { eos: 0.25 });
const MAX = 4;
const PROMPT = [1, 0]; // "ba": the first generated token follows 'a'
const RUNS = 150;
const reward = (t: string): number => 0.8 * (t.split('a').length - 1) - (t.endsWith('c') ? 1.5 : 0);
const firstA = (t: string): number => (t.startsWith('a') ? 1 : 0);

/** Z and Z·E_σ[f] by walking every string of at most MAX tokens through the LM's rows. */
async function exact(prompt: readonly number[]): Promise<{ z: number; zf: number }> {
  let z = 0;
  let zf = 0;
  const walk = async (x: number[], logp: number): Promise<void> => {
    const [row] = await lm.nextTokenLogprobs([[...prompt, ...x]]);
    const text = abc.decode(x);
    const w = Math.exp(logp + row[abc.eos] + reward(text));
    z += w;
    zf += w * firstA(text);
    if (x.length < MAX) for (const y of [0, 1, 2]) await walk([...x, y], logp + row[y]);
  };
  await walk([], 0);
  return { z, zf };
}

type Run = (seed: string, prompt: readonly number[] | undefined) => Promise<SteeringResult>;
const pot = () => new RewardPotential(abc, reward, 'soft');
/** A critic ψ(x) = 0.8·#a(x): part of the reward, counted before EOS (the weights telescope, so the target is unchanged). */
const anticipating = (): Potential => ({
  name: 'anticipating',
  vocab: abc,
  prefix: (x) => 0.8 * x.filter((t) => t === 0).length,
  complete: (x) => 0.8 * x.filter((t) => t === 0).length,
});
const METHODS: [string, Run][] = [
  ['smcSteer direct', (seed, prompt) => smcSteer({ lm, potential: pot(), sampler: new DirectSampler(), particles: 8, maxTokens: MAX, prompt, seed })],
  ['smcSteer locally optimal', (seed, prompt) => smcSteer({ lm, potential: pot(), sampler: new LocallyOptimalSampler(), particles: 8, maxTokens: MAX, prompt, seed })],
  ['smcSteer direct, residual every step', (seed, prompt) => smcSteer({ lm, potential: pot(), sampler: new DirectSampler(), particles: 8, maxTokens: MAX, prompt, seed, essThreshold: 1, resampling: 'residual' })],
  ['smcSteerK (N 4, K 3)', (seed, prompt) => smcSteerK({ lm, potential: pot(), sampler: new DirectSampler(), particles: 4, k: 3, maxTokens: MAX, prompt, seed })],
  ['bestOfN', (seed, prompt) => bestOfN({ lm, potential: pot(), particles: 8, maxTokens: MAX, prompt, seed })],
  // tempered resampling (ancestors by w^0.5, the rest of the weight kept): not tested on LM steering before
  ['smcSteer direct, tempered resampling (alpha 0.5) every step', (seed, prompt) => smcSteer({ lm, potential: pot(), sampler: new DirectSampler(), particles: 8, maxTokens: MAX, prompt, seed, essThreshold: 1, temper: 0.5 })],
  // a heuristic critic that anticipates the reward (0.8 per a so far): steers resampling, removed at EOS
  ['smcSteer locally optimal with a critic', (seed, prompt) => smcSteer({ lm, potential: pot(), critic: anticipating(), sampler: new LocallyOptimalSampler(), particles: 8, maxTokens: MAX, prompt, seed, essThreshold: 1 })],
];

/** Ẑ and Ẑ·f̂ over RUNS seeds. */
async function estimates(name: string, run: Run, prompt: readonly number[] | undefined): Promise<{ z: number[]; zf: number[] }> {
  const z: number[] = [];
  const zf: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const res = await run(`${name}-${r}`, prompt);
    const zHat = Math.exp(res.logZ);
    z.push(zHat);
    zf.push(zHat * res.particles.reduce((a, p) => a + p.weight * firstA(p.text), 0));
  }
  return { z, zf };
}

/** Within 4 MCSE of each exact figure? (with the z-scores, for the report) */
function check(est: { z: number[]; zf: number[] }, truth: { z: number; zf: number }): { pass: boolean; detail: string } {
  const a = meanSE(est.z);
  const b = meanSE(est.zf);
  const za = (a.mean - truth.z) / a.se;
  const zb = (b.mean - truth.zf) / b.se;
  return { pass: Math.abs(za) < 4 && Math.abs(zb) < 4, detail: `Ẑ ${a.mean.toFixed(4)} ± ${a.se.toFixed(4)} vs ${truth.z.toFixed(4)} (z ${za.toFixed(2)}); Ẑf̂ ${b.mean.toFixed(4)} ± ${b.se.toFixed(4)} vs ${truth.zf.toFixed(4)} (z ${zb.toFixed(2)})` };
}

describe('steering with a prompt and a soft reward targets p_LM(x·EOS | prompt)·exp(r(x))', () => {
  it.each(METHODS)('%s: E[Ẑ] = Z and E[Ẑ·f̂] = Z·E_σ[f] within 4 MCSE', async (name, run) => {
    const truth = await exact(PROMPT);
    const got = check(await estimates(name, run, PROMPT), truth);
    if (process.env.TYCHE_REPORT) console.log(`${name}: ${got.detail}`);
    expect(got.pass, got.detail).toBe(true);
  });

  it('planted: the prompt dropped (the same seeds, no prompt) fails both checks; the two exact answers differ', async () => {
    const truth = await exact(PROMPT);
    const without = await exact([]);
    expect(Math.abs(without.z - truth.z)).toBeGreaterThan(0.1);
    const [name, run] = METHODS[0];
    const est = await estimates(name, run, undefined);
    const a = meanSE(est.z);
    const b = meanSE(est.zf);
    const detail = `Ẑ ${a.mean.toFixed(4)} ± ${a.se.toFixed(4)} vs ${truth.z.toFixed(4)}; Ẑf̂ ${b.mean.toFixed(4)} ± ${b.se.toFixed(4)} vs ${truth.zf.toFixed(4)}`;
    if (process.env.TYCHE_REPORT) console.log(`planted (no prompt): ${detail}`);
    expect(Math.abs(a.mean - truth.z) / a.se, detail).toBeGreaterThan(4);
    expect(Math.abs(b.mean - truth.zf) / b.se, detail).toBeGreaterThan(4);
    // and those runs do agree with the answer without a prompt: the check tells the two targets apart, not noise
    expect(check(est, without).pass, check(est, without).detail).toBe(true);
  });
});
