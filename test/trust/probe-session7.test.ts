/**
 * PROBE, session 7: the steering half used as a newcomer would (docs/steer/*.md, notebooks 08
 * and 09), checked against exact answers where the state space can be enumerated. LM steering:
 * E[Ẑ] = Z and E[Ẑ · P̂(A)] = Z · P(A) (both exact identities of SMC, so no O(1/N) bias enters)
 * over fixed seeds at |z| < 4, against strings enumerated through the LM's own rows
 * (probe-session7-helpers.ts), on a Markov LM, an n-gram and a PCFG, with direct, locally
 * optimal, AWRS and tempered proposals, twists, reward tilts and the step particle filter. Edge
 * cases: unsatisfiable constraints, EOS-only constraints, the length limit, one particle, top-k.
 * Diffusion: FK steering against the closed-form tilt of the analytic mixture by a quadratic
 * reward, and a zero reward against the unsteered law. Errors, abort and tensor counts. Each
 * statistical check also runs on a planted wrong answer that it must reject.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import { Rng } from '../../src/core/rng.js';
import { MarkovLM } from '../../src/steer/lm/markov.js';
import { NGramLM } from '../../src/steer/lm/ngram.js';
import { PcfgLM, type Pcfg } from '../../src/steer/lm/pcfg.js';
import { TokenVocabulary } from '../../src/steer/lm/vocab.js';
import { conditionOnRegex } from '../../src/steer/lm/dp.js';
import { AutomatonPotential } from '../../src/steer/lm/potentials/automaton.js';
import { BooleanPotential } from '../../src/steer/lm/potentials/boolean.js';
import { RewardPotential } from '../../src/steer/lm/potentials/reward.js';
import { product } from '../../src/steer/lm/potentials/product.js';
import { type Potential, PotentialError } from '../../src/steer/lm/potentials/potential.js';
import { DirectSampler } from '../../src/steer/lm/samplers/direct.js';
import { LocallyOptimalSampler } from '../../src/steer/lm/samplers/locally-optimal.js';
import { AWRSSampler } from '../../src/steer/lm/samplers/awrs.js';
import { ProposalLMSampler } from '../../src/steer/lm/samplers/proposal-lm.js';
import type { TokenSampler } from '../../src/steer/lm/samplers/types.js';
import { NoSatisfyingStringError, conditionalSteer, smcSteer, type SteerOptions } from '../../src/steer/lm/smc/steer.js';
import { ExactTwist, TabularTwist, learnTwistCTL } from '../../src/steer/lm/smc/twist.js';
import { particleFilterSteps, particleGibbsSteps, type ReferencePath } from '../../src/steer/lm/scaling/index.js';
import { smcSteerK } from '../../src/steer/lm/smc/smc-steer.js';
import { steerMain } from '../../src/cli/steer.js';
import { UsageError } from '../../src/cli/args.js';
import type { StepRewardModel } from '../../src/steer/lm/scaling/types.js';
import * as D from '../../src/steer/diffusion/index.js';
import * as St from '../../src/steer/diffusion/steering/index.js';
import { checkWeightedRuns, mixtureStatistics, type WeightedRun } from '../../src/testing/weighted-runs.js';
import { MIX, ddpmWrongPosterior } from '../steer/diffusion/fixtures.js';
import { type Enumerated, enumerateStrings } from './probe-session7-helpers.js';
import { meanSE, zOf } from '../stats.js';

beforeAll(async () => {
  await initBackend('cpu');
});

const abc = TokenVocabulary.characters('abc');
const markov = MarkovLM.random(abc, new Rng('probe7-markov'), { eos: 0.3 });
const MAX = 5;
let strings: Enumerated[] = [];
beforeAll(async () => {
  strings = await enumerateStrings(markov, MAX);
});

/** Exact Z = Σ p(x·EOS) exp(φ(x)) and Z·P(A) over the enumerated strings. */
function exactOf(all: readonly Enumerated[], logPhi: (s: string) => number, event: (s: string) => boolean): { Z: number; ZA: number } {
  let Z = 0;
  let ZA = 0;
  for (const s of all) {
    const w = Math.exp(s.logp + logPhi(s.text));
    Z += w;
    if (event(s.text)) ZA += w;
  }
  return { Z, ZA };
}

/** Ẑ and Ẑ · P̂(event) over `runs` seeds (an empty run counts as Ẑ = 0). */
async function steerRuns(opts: Omit<SteerOptions, 'seed'>, runs: number, event: (s: string) => boolean, tag: string): Promise<{ z: number[]; za: number[] }> {
  const z: number[] = [];
  const za: number[] = [];
  for (let r = 0; r < runs; r++) {
    const res = await smcSteer({ ...opts, seed: `${tag}-${r}`, onEmpty: 'empty' });
    const Zh = Math.exp(res.logZ);
    z.push(Zh);
    let pa = 0;
    for (const p of res.particles) if (event(p.text)) pa += p.weight;
    za.push(Zh * pa);
  }
  return { z, za };
}

/** Both identities hold for the right answer (|z| < 4) and fail for the planted one. */
function expectExact(got: { z: number[]; za: number[] }, right: { Z: number; ZA: number }, planted: { Z: number; ZA: number }, what: string): void {
  const zz = zOf(got.z, right.Z);
  const za = zOf(got.za, right.ZA);
  if (process.env.TYCHE_REPORT) console.log(`${what}: Z ${meanSE(got.z).mean.toFixed(5)} ± ${meanSE(got.z).se.toFixed(5)} vs ${right.Z.toFixed(5)} (z ${zz.toFixed(2)}), Z·P(A) z ${za.toFixed(2)}; planted z ${zOf(got.z, planted.Z).toFixed(2)} / ${zOf(got.za, planted.ZA).toFixed(2)}`);
  expect(Math.abs(zz), `${what}: E[Ẑ] z = ${zz}`).toBeLessThan(4);
  expect(Math.abs(za), `${what}: E[Ẑ·P̂(A)] z = ${za}`).toBeLessThan(4);
  const worstPlanted = Math.max(Math.abs(zOf(got.z, planted.Z)), Math.abs(zOf(got.za, planted.ZA)));
  expect(worstPlanted, `${what}: the planted answer should be rejected`).toBeGreaterThan(4);
}

const boolPot = (pred: (s: string) => boolean, name: string): Potential => new BooleanPotential(abc, { complete: pred }, name);
const twoA = (s: string): boolean => (s.match(/a/g)?.length ?? 0) >= 2 && !s.includes('cc');
const startsB = (s: string): boolean => s.startsWith('b');
const gate = (pred: (s: string) => boolean) => (s: string): number => (pred(s) ? 0 : -Infinity);

describe('LM steering against enumeration (Markov LM, at most 5 tokens)', () => {
  it('direct, locally optimal and AWRS proposals: E[Ẑ] = Z and E[Ẑ·P̂(starts b)] = Z·P(starts b); planted: Z of prefix probabilities (no EOS factor)', async () => {
    const right = exactOf(strings, gate(twoA), startsB);
    // a plausible mistake: weight a string by p(x) rather than p(x·EOS)
    const noEos = exactOf(strings.map((s) => ({ ...s, logp: s.logPrefix })), gate(twoA), startsB);
    const samplers: [string, TokenSampler, number][] = [
      ['direct', new DirectSampler(), 200],
      ['locally-optimal', new LocallyOptimalSampler(), 100],
      ['awrs', new AWRSSampler(), 100],
    ];
    for (const [name, sampler, runs] of samplers) {
      const got = await steerRuns({ lm: markov, potential: boolPot(twoA, 'two-a-no-cc'), sampler, particles: 8, maxTokens: MAX }, runs, startsB, `mk-${name}`);
      expectExact(got, right, noEos, `markov/${name}`);
    }
  });

  it('tempered proposal (ProposalLMSampler, temperature 0.5 and 2) is corrected by its weights; planted: the tempered law as the answer', async () => {
    const right = exactOf(strings, gate(twoA), startsB);
    for (const temperature of [0.5, 2]) {
      const tempered = await enumerateStrings(markov, MAX, { temperature });
      // the uncorrected sampler would target the tempered law restricted by the constraint
      const planted = exactOf(tempered, gate(twoA), startsB);
      const got = await steerRuns({ lm: markov, potential: boolPot(twoA, 'two-a-no-cc'), sampler: new ProposalLMSampler(markov, { temperature }), particles: 8, maxTokens: MAX }, 200, startsB, `temp-${temperature}`);
      expectExact(got, right, planted, `markov/temperature ${temperature}`);
    }
  });

  it('top-k that cuts a token the target allows is refused with a clear error (was: mean Ẑ 244 standard errors below Z, silently)', async () => {
    await expect(smcSteer({ lm: markov, potential: boolPot(twoA, 'two-a-no-cc'), sampler: new ProposalLMSampler(markov, { topK: 2 }), particles: 8, maxTokens: MAX, seed: 1 })).rejects.toThrow(
      /proposal\(random-markov\): the proposal cannot draw token \d .* importance weights cannot correct for a cut support/,
    );
    // top-k that keeps every token (k = vocabulary size) is the plain LM and runs
    const ok = await smcSteer({ lm: markov, potential: boolPot(twoA, 'two-a-no-cc'), sampler: new ProposalLMSampler(markov, { topK: abc.size }), particles: 8, maxTokens: MAX, seed: 1 });
    expect(Number.isFinite(ok.logZ)).toBe(true);
  });

  it('reward tilt p(x)·exp(r(x)/β) (RewardPotential): E[Ẑ] and E[Ẑ·P̂] match; planted: tilt by r(x) instead of r(x)/β', async () => {
    const beta = 0.5;
    const r = (s: string): number => (s.match(/c/g)?.length ?? 0) - 0.3 * s.length;
    const right = exactOf(strings, (s) => r(s) / beta, startsB);
    const planted = exactOf(strings, r, startsB);
    const got = await steerRuns({ lm: markov, potential: new RewardPotential(abc, (s) => r(s) / beta, 'c-count'), sampler: new DirectSampler(), particles: 8, maxTokens: MAX }, 200, startsB, 'tilt');
    expectExact(got, right, planted, 'markov/reward tilt');
  });

  it('twisted SMC: the exact twist and an arbitrary (wrong) critic both leave the target alone; planted: the critic multiplied into the target', async () => {
    const PATTERN = '(a|b)*c(a|b)*';
    const match = (s: string): boolean => /^(a|b)*c(a|b)*$/.test(s);
    const right = exactOf(strings, gate(match), startsB);
    const exactTwist = new ExactTwist(conditionOnRegex(markov, PATTERN, { maxLength: MAX }));
    // a critic that knows nothing: favours 'a' heavily, so resampling is pushed the wrong way
    const aId = abc.encode!('a')[0]!;
    const aScore = (x: readonly number[]): number => 1.5 * x.filter((t) => t === aId).length;
    const wrongCritic: Potential = { name: 'a-lover', vocab: abc, prefix: aScore, complete: aScore };
    const critPhi = (s: string): number => 1.5 * (s.match(/a/g)?.length ?? 0);
    const planted = exactOf(strings, (s) => gate(match)(s) + critPhi(s), startsB);
    const configs = [
      ['exact twist', exactTwist, new DirectSampler(), 0.5],
      ['a-loving critic', wrongCritic, new DirectSampler(), 0.5],
      // the critic removed at a forced EOS (maxTokens) under the locally optimal proposal, resampling every step
      ['a-loving critic, locally optimal, ESS 1', wrongCritic, new LocallyOptimalSampler(), 1],
    ] as const;
    for (const [name, critic, sampler, essThreshold] of configs) {
      const got = await steerRuns({ lm: markov, potential: new AutomatonPotential(abc, PATTERN), critic, sampler, essThreshold, particles: 8, maxTokens: MAX }, 200, startsB, `twist-${name}`);
      expectExact(got, right, planted, `markov/${name}`);
    }
  });
});

describe('LM steering against enumeration (n-gram and PCFG)', () => {
  it('Kneser–Ney trigram with a regex constraint (locally optimal): E[Ẑ] and E[Ẑ·P̂]; planted: Z at one token more', async () => {
    const corpus = ['abcab', 'cab', 'bca', 'aab', 'cc', 'abcabc', 'ba', 'acb'];
    const lm = NGramLM.fit(abc, corpus, { order: 3, name: 'kn-3gram' });
    const all = await enumerateStrings(lm, 4);
    const more = await enumerateStrings(lm, 5);
    const match = (s: string): boolean => /^a.*b$/.test(s);
    const right = exactOf(all, gate(match), (s) => s.includes('c'));
    const planted = exactOf(more, gate(match), (s) => s.includes('c'));
    const got = await steerRuns({ lm, potential: new AutomatonPotential(abc, 'a.*b'), sampler: new LocallyOptimalSampler(), particles: 6, maxTokens: 4 }, 120, (s) => s.includes('c'), 'ngram');
    expectExact(got, right, planted, 'ngram/locally-optimal');
  });

  it('PCFG (S → S S | A B | a | c) with a boolean constraint (direct): E[Ẑ] and E[Ẑ·P̂]; planted: the constraint read on the reversed string', async () => {
    const grammar: Pcfg = {
      start: 'S',
      rules: [
        { lhs: 'S', rhs: ['S', 'S'], prob: 0.3 },
        { lhs: 'S', rhs: ['A', 'B'], prob: 0.3 },
        { lhs: 'S', rhs: ['a'], prob: 0.2 },
        { lhs: 'S', rhs: ['c'], prob: 0.2 },
        { lhs: 'A', rhs: ['a'], prob: 1 },
        { lhs: 'B', rhs: ['b'], prob: 1 },
      ],
    };
    const lm = new PcfgLM(abc, grammar, 'probe-pcfg');
    const all = await enumerateStrings(lm, 4);
    const ok = (s: string): boolean => s.includes('b') && s.endsWith('c');
    const event = (s: string): boolean => s.startsWith('c');
    const right = exactOf(all, gate(ok), event);
    const planted = exactOf(all, gate((s) => ok([...s].reverse().join(''))), event);
    expect(right.Z).toBeGreaterThan(0.01);
    const got = await steerRuns({ lm, potential: new BooleanPotential(abc, { complete: ok }, 'b-then-ends-c'), sampler: new DirectSampler(), particles: 8, maxTokens: 4 }, 200, event, 'pcfg');
    expectExact(got, right, planted, 'pcfg/direct');
  });
});

describe('LM steering edge cases', () => {
  it('a constraint no string satisfies: NoSatisfyingStringError naming the potential; onEmpty "empty" gives logZ -Infinity and no NaN', async () => {
    const never = new BooleanPotential(abc, { complete: () => false }, 'never-true');
    await expect(smcSteer({ lm: markov, potential: never, sampler: new DirectSampler(), particles: 8, maxTokens: MAX, seed: 1 })).rejects.toThrow(NoSatisfyingStringError);
    await expect(smcSteer({ lm: markov, potential: never, sampler: new DirectSampler(), particles: 8, maxTokens: MAX, seed: 1 })).rejects.toThrow(/never-true.*unsatisfiable/);
    // a regex that needs more tokens than maxTokens allows, with the locally optimal proposal
    const long = new AutomatonPotential(abc, 'aaaaaaa', 'seven-a');
    await expect(smcSteer({ lm: markov, potential: long, sampler: new LocallyOptimalSampler(), particles: 4, maxTokens: MAX, seed: 1 })).rejects.toThrow(/seven-a/);
    const empty = await smcSteer({ lm: markov, potential: never, sampler: new AWRSSampler(), particles: 8, maxTokens: MAX, seed: 1, onEmpty: 'empty' });
    expect(empty.empty).toBe(true);
    expect(empty.logZ).toBe(-Infinity);
    expect(empty.particles).toHaveLength(0);
    expect(() => empty.best()).toThrow(/empty/);
  });

  it('a constraint only the empty string (EOS first) satisfies: locally optimal log Ẑ = log p(EOS) exactly; direct: every string is empty and E[Ẑ] = p(EOS)', async () => {
    const onlyEos = new BooleanPotential(abc, { prefix: (s) => s.length === 0, complete: (s) => s.length === 0 }, 'only-eos');
    const pEos = Math.exp((await markov.nextTokenLogprobs([[]]))[0]![abc.eos]!);
    const lo = await smcSteer({ lm: markov, potential: onlyEos, sampler: new LocallyOptimalSampler(), particles: 4, maxTokens: MAX, seed: 2 });
    expect(lo.logZ).toBeCloseTo(Math.log(pEos), 6);
    expect([...lo.posterior().keys()]).toEqual(['']);
    const got = await steerRuns({ lm: markov, potential: onlyEos, sampler: new DirectSampler(), particles: 4, maxTokens: MAX }, 200, (s) => s === '', 'eos-only');
    expect(Math.abs(zOf(got.z, pEos))).toBeLessThan(4);
    expect(Math.abs(zOf(got.z, 0.5 * pEos))).toBeGreaterThan(4); // planted: half the EOS mass
  });

  it('the length limit: no string exceeds maxTokens and E[Ẑ] = P(|x| ≤ maxTokens) with no potential; planted: counting the cut strings at full prefix mass', async () => {
    const Z = strings.reduce((a, s) => a + Math.exp(s.logp), 0);
    const cutAtPrefix = strings.reduce((a, s) => a + Math.exp(s.tokens.length === MAX ? s.logPrefix : s.logp), 0); // = 1
    const z: number[] = [];
    for (let r = 0; r < 200; r++) {
      const res = await smcSteer({ lm: markov, sampler: new DirectSampler(), particles: 4, maxTokens: MAX, seed: `len-${r}` });
      for (const p of res.particles) expect(p.tokens.length).toBeLessThanOrEqual(MAX);
      z.push(Math.exp(res.logZ));
    }
    expect(Z).toBeLessThan(0.9);
    expect(Math.abs(zOf(z, Z))).toBeLessThan(4);
    expect(Math.abs(zOf(z, cutAtPrefix))).toBeGreaterThan(4);
  });

  it('SMC-steer (K = 3 extensions, Fearnhead–Clifford back to N = 4): E[Ẑ] and E[Ẑ·P̂]; planted: Z of prefix probabilities', async () => {
    const right = exactOf(strings, gate(twoA), startsB);
    const noEos = exactOf(strings.map((s) => ({ ...s, logp: s.logPrefix })), gate(twoA), startsB);
    const z: number[] = [];
    const za: number[] = [];
    for (let r = 0; r < 150; r++) {
      const res = await smcSteerK({ lm: markov, potential: boolPot(twoA, 'two-a-no-cc'), sampler: new DirectSampler(), particles: 4, k: 3, maxTokens: MAX, seed: `k-${r}`, onEmpty: 'empty' });
      const Zh = Math.exp(res.logZ);
      z.push(Zh);
      za.push(Zh * res.particles.reduce((a, p) => a + (startsB(p.text) ? p.weight : 0), 0));
    }
    expectExact({ z, za }, right, noEos, 'markov/smc-steer K=3');
  });

  it('one particle is importance sampling: E[Ẑ] and E[Ẑ·P̂] still match (400 seeds)', async () => {
    const right = exactOf(strings, gate(twoA), startsB);
    const noEos = exactOf(strings.map((s) => ({ ...s, logp: s.logPrefix })), gate(twoA), startsB);
    const got = await steerRuns({ lm: markov, potential: boolPot(twoA, 'two-a-no-cc'), sampler: new LocallyOptimalSampler(), particles: 1, maxTokens: MAX }, 400, startsB, 'one');
    expectExact(got, right, noEos, 'markov/one particle');
  });
});

describe('step particle filter (scaling/) against enumeration', () => {
  const semi = TokenVocabulary.characters('ab;');
  const lm = MarkovLM.random(semi, new Rng('probe7-pf'), { eos: 0.3 });
  const T = 4;
  /** r(x) in (0, 1): a PRM that likes solutions holding a 'b' (the LM's first token is 'a' with probability 0.09, 'b' 0.47). */
  const reward = (t: string): number => (t.includes('b') ? 0.9 : 0.05);
  const prm: StepRewardModel = { name: 'parity', score: async (texts) => texts.map(reward) };
  /** E_LM[r] over the PF's process: strings ended by EOS below the cut, strings cut at T tokens at prefix mass. */
  const expectedReward = (all: readonly Enumerated[]): number =>
    all.reduce((a, s) => a + Math.exp(s.tokens.length < T ? s.logp : s.logPrefix) * reward(s.text), 0);

  // temperature < 1 sharpens q, so p/q is heavy-tailed (at 0.5: max Ẑ 30 against a mean of 0.51 over 4000
  // runs, unbiased there: z -0.48 / 1.13 at N = 1 / 6); a few hundred runs under-estimate its spread, so
  // the fast check flattens (temperature 3), where the weights are bounded.
  it('sampling.temperature 3 is corrected by importance weights (was ignored: Ẑ estimated the tempered law\'s E[r]); planted: the tempered expectation', async () => {
    const right = expectedReward(await enumerateStrings(lm, T));
    for (const temperature of [3]) {
      const planted = expectedReward(await enumerateStrings(lm, T, { temperature }));
      const z: number[] = [];
      for (let r = 0; r < 1200; r++) {
        const res = await particleFilterSteps(lm, prm, '', { particles: 6, seed: `pf-${temperature}-${r}`, maxTokens: T, maxSteps: T, sampling: { temperature } });
        z.push(Math.exp(res.logZ!));
      }
      if (process.env.TYCHE_REPORT) console.log(`pf temperature ${temperature}: ${meanSE(z).mean.toFixed(4)} ± ${meanSE(z).se.toFixed(4)} vs ${right.toFixed(4)} (z ${zOf(z, right).toFixed(2)}); planted ${planted.toFixed(4)} z ${zOf(z, planted).toFixed(2)}`);
      expect(Math.abs(zOf(z, right)), `temperature ${temperature}`).toBeLessThan(4);
      expect(Math.abs(zOf(z, planted)), `temperature ${temperature}, planted`).toBeGreaterThan(4);
    }
  });

  it('a reward tilt exp(r(x)/β) by a link function (β = 0.25): E[Ẑ] = E_LM[exp(r/β)]; planted: β = 1', async () => {
    const beta = 0.25;
    const all = await enumerateStrings(lm, T);
    const tilt = (b: number) => all.reduce((a, s) => a + Math.exp(s.tokens.length < T ? s.logp : s.logPrefix) * Math.exp(reward(s.text) / b), 0);
    const z: number[] = [];
    for (let r = 0; r < 600; r++) {
      const res = await particleFilterSteps(lm, prm, '', { particles: 6, seed: `link-${r}`, maxTokens: T, maxSteps: T, link: (p) => p / beta });
      z.push(Math.exp(res.logZ!));
    }
    if (process.env.TYCHE_REPORT) console.log(`pf link r/β: z ${zOf(z, tilt(beta)).toFixed(2)}, planted β = 1 z ${zOf(z, tilt(1)).toFixed(2)}`);
    expect(Math.abs(zOf(z, tilt(beta)))).toBeLessThan(4);
    expect(Math.abs(zOf(z, tilt(1)))).toBeGreaterThan(4);
  });

  it('ePF (tempered resampling, T up to 3) on top of a temperature-3 proposal keeps E[Ẑ] = E_LM[r]; planted: the tempered expectation', async () => {
    const right = expectedReward(await enumerateStrings(lm, T));
    const planted = expectedReward(await enumerateStrings(lm, T, { temperature: 3 }));
    const temps: number[] = [];
    const z: number[] = [];
    for (let r = 0; r < 1200; r++) {
      const res = await particleFilterSteps(lm, prm, '', {
        particles: 6, seed: `epf-${r}`, maxTokens: T, maxSteps: T, sampling: { temperature: 3 },
        annealing: { schedule: 'base', essThreshold: 1, earlyPhase: 1, maxTemperature: 3 }, onTemperature: (_, t) => temps.push(t),
      });
      z.push(Math.exp(res.logZ!));
    }
    expect(Math.max(...temps)).toBeGreaterThan(2);
    if (process.env.TYCHE_REPORT) console.log(`ePF + temperature 3: z ${zOf(z, right).toFixed(2)}, planted z ${zOf(z, planted).toFixed(2)}`);
    expect(Math.abs(zOf(z, right))).toBeLessThan(4);
    expect(Math.abs(zOf(z, planted))).toBeGreaterThan(4);
  });

  it('particle Gibbs with a temperature-3 proposal: one conditional sweep from exact target draws returns the target (event frequencies within 4 s.e.; the uncorrected code gave z -4.39); planted: the tempered target', async () => {
    // complete scores only: a 4-token (cut) prefix scores 0, so the target is p_LM(x·EOS)·r(x) over |x| < 4
    const score = (t: string, complete: boolean): number => (complete ? reward(t) : t.length >= T ? 0 : 0.5);
    const pg: StepRewardModel = { name: 'complete-only', score: async (texts, o = {}) => texts.map((t) => score(t, o.complete === true)) };
    const targetOf = (all: readonly Enumerated[]) => {
      const xs = all.filter((s) => s.tokens.length < T);
      const w = xs.map((s) => Math.exp(s.logp) * reward(s.text));
      const tot = w.reduce((a, b) => a + b, 0);
      return { xs, p: w.map((v) => v / tot) };
    };
    const target = targetOf(await enumerateStrings(lm, T));
    const tempered = targetOf(await enumerateStrings(lm, T, { temperature: 3 }));
    const events: [string, (s: string) => boolean][] = [['has b', (s) => s.includes('b')], ['at most 1 token', (s) => s.length <= 1], ['ends ;', (s) => s.endsWith(';')]];
    const prob = (t: typeof target, f: (s: string) => boolean) => t.xs.reduce((a, s, i) => a + (f(s.text) ? t.p[i]! : 0), 0);
    const rng = new Rng('probe7-pg');
    const R = 2000;
    const hits = events.map(() => 0);
    for (let r = 0; r < R; r++) {
      let u = rng.uniform();
      let k = 0;
      while (k < target.p.length - 1 && (u -= target.p[k]!) > 0) k++;
      const text = target.xs[k]!.text;
      const parts = text === '' ? [''] : text.split(/(?<=;)/);
      if (text.endsWith(';')) parts.push(''); // EOS after a delimiter is a step of its own
      const reference: ReferencePath = { steps: parts.map((p) => semi.encode(p)), ended: 'eos' };
      const res = await particleGibbsSteps(lm, pg, '', { particles: 8, iterations: 1, reference, seed: `pg-${r}`, maxTokens: T, maxSteps: T, sampling: { temperature: 3 } });
      const out = semi.decode(res.references[0]!.steps.flat());
      events.forEach(([, f], j) => (hits[j]! += f(out) ? 1 : 0));
    }
    const zs = events.map(([, f], j) => {
      const p = prob(target, f);
      return (hits[j]! / R - p) / Math.sqrt((p * (1 - p)) / R);
    });
    const zp = events.map(([, f], j) => {
      const p = prob(tempered, f);
      return (hits[j]! / R - p) / Math.sqrt((p * (1 - p)) / R);
    });
    if (process.env.TYCHE_REPORT) console.log(`PG temperature 3: z ${zs.map((z) => z.toFixed(2)).join(', ')}; planted tempered target ${zp.map((z) => z.toFixed(2)).join(', ')}`);
    for (const z of zs) expect(Math.abs(z)).toBeLessThan(4);
    expect(Math.max(...zp.map(Math.abs))).toBeGreaterThan(4);
  });

  it('top-k / top-p with ratio weights are refused (a cut support cannot be corrected); its_hub replace mode still takes them', async () => {
    await expect(particleFilterSteps(lm, prm, '', { particles: 4, seed: 1, sampling: { topK: 2 } })).rejects.toThrow(/topK \/ topP cut tokens/);
    await expect(particleFilterSteps(lm, prm, '', { particles: 4, seed: 1, sampling: { topP: 0.5 } })).rejects.toThrow(/ratio weights cannot correct/);
    const rep = await particleFilterSteps(lm, prm, '', { particles: 4, seed: 1, maxTokens: T, weights: 'replace', sampling: { topK: 2 } });
    expect(rep.logZ).toBeNull();
  });
});

describe('LM steering: bad input, throwing rewards, abort, memory', () => {
  it('bad particle counts and a throwing or NaN reward are named', async () => {
    for (const particles of [-1, 0, 1.5, Number.NaN]) {
      await expect(smcSteer({ lm: markov, sampler: new DirectSampler(), particles, maxTokens: MAX, seed: 1 })).rejects.toThrow(/particles must be a positive integer/);
    }
    const throwing = new RewardPotential(abc, () => {
      throw new Error('reward server down');
    }, 'flaky-reward');
    await expect(smcSteer({ lm: markov, potential: throwing, sampler: new DirectSampler(), particles: 4, maxTokens: MAX, seed: 1 })).rejects.toThrow(PotentialError);
    await expect(smcSteer({ lm: markov, potential: throwing, sampler: new DirectSampler(), particles: 4, maxTokens: MAX, seed: 1 })).rejects.toThrow(/flaky-reward.*reward server down/);
    const nan = new RewardPotential(abc, () => Number.NaN, 'nan-reward');
    await expect(smcSteer({ lm: markov, potential: nan, sampler: new LocallyOptimalSampler(), particles: 4, maxTokens: MAX, seed: 1 })).rejects.toThrow(/nan-reward/);
    await expect(particleFilterSteps(markov, { name: 'nan-prm', score: async (t) => t.map(() => Number.NaN) }, '', { particles: 4, seed: 1, maxTokens: 3 })).rejects.toThrow(/nan-prm/);
  });

  it('options from untyped callers: a potential given by name, a missing sampler and an unknown onEmpty are named (were: "Cannot read properties of undefined", and onEmpty "bogus" acted as "empty")', async () => {
    await expect(smcSteer({ lm: markov, potential: 'no-e' as never, sampler: new DirectSampler(), particles: 4, seed: 1 })).rejects.toThrow(/potential must be a Potential .* got "no-e"/);
    await expect(smcSteer({ lm: markov, critic: {} as never, sampler: new DirectSampler(), particles: 4, seed: 1 })).rejects.toThrow(/critic must be a Potential/);
    await expect(smcSteer({ lm: markov, sampler: undefined as never, particles: 4, seed: 1 })).rejects.toThrow(/sampler must be a TokenSampler/);
    // a JS potential returning the string '0' (was reported as "returned 0", which reads like a valid number)
    const stringy: Potential = { name: 'stringy', vocab: abc, prefix: () => '0' as never, complete: () => 0 };
    await expect(smcSteer({ lm: markov, potential: stringy, sampler: new DirectSampler(), particles: 4, seed: 1 })).rejects.toThrow(/"stringy".*returned string "0"/);
    const never = new BooleanPotential(abc, { complete: () => false }, 'never-true');
    await expect(smcSteer({ lm: markov, potential: never, sampler: new DirectSampler(), particles: 4, seed: 1, onEmpty: 'bogus' as never })).rejects.toThrow(/onEmpty must be 'throw' or 'empty', got "bogus"/);
  });

  it('conditional SMC with a reference the target forbids is refused (was: returned with weight 1/N); an allowed reference runs', async () => {
    const opts = { lm: markov, potential: new AutomatonPotential(abc, '(a|b)*c(a|b)*', 'one-c'), particles: 4, maxTokens: MAX, seed: 1 };
    for (const sampler of [new DirectSampler(), new LocallyOptimalSampler()]) {
      await expect(conditionalSteer({ ...opts, sampler, reference: abc.encode!('ab') })).rejects.toThrow(/reference "ab" has zero target density: EOS after "ab" .*"one-c"/);
      await expect(conditionalSteer({ ...opts, sampler, reference: abc.encode!('cc') })).rejects.toThrow(/reference "cc" has zero target density: "c" after "c"/);
      const ok = await conditionalSteer({ ...opts, sampler, reference: abc.encode!('abc') });
      expect(ok.particles[0]!.text).toBe('abc');
      for (const p of ok.particles) if (p.weight > 0) expect(p.text).toMatch(/^(a|b)*c(a|b)*$/);
    }
  });

  it('learnTwistCTL: a bad iteration count or learning rate is named (was: no error for -1 iterations; NaN surfaced as the twist potential returning NaN)', async () => {
    const base = { lm: markov, sampler: new DirectSampler(), particles: 4, maxTokens: 3, seed: 1 };
    await expect(learnTwistCTL({ ...base, twist: new TabularTwist(abc, (x) => String(x.length)), iterations: -1 })).rejects.toThrow(/iterations must be a positive integer, got -1/);
    await expect(learnTwistCTL({ ...base, twist: new TabularTwist(abc, (x) => String(x.length)), iterations: 2, learningRate: Number.NaN })).rejects.toThrow(/learning rate must be a finite number, got NaN at iteration 0/);
  });

  it('tyche steer: a malformed --pattern is a usage error naming the option (was: a RegexSyntaxError stack trace, exit 1)', async () => {
    const sink = { write: () => true };
    const run = steerMain(['--pattern', '(a', '--particles', '2', '--max-tokens', '2'], { stdout: sink, stderr: sink });
    await expect(run).rejects.toThrow(UsageError);
    await expect(steerMain(['--pattern', '(a'], { stdout: sink, stderr: sink })).rejects.toThrow(/steer: --pattern: regex "\(a": missing "\)"/);
  });

  it('an AbortSignal stops a long steering run within a token step, with the signal\'s reason', async () => {
    const controller = new AbortController();
    let steps = 0;
    const run = smcSteer({
      lm: markov,
      potential: product(new AutomatonPotential(abc, '[ab]*'), new RewardPotential(abc, (s) => -0.01 * s.length)),
      sampler: new LocallyOptimalSampler(),
      particles: 16,
      maxTokens: 10_000,
      seed: 1,
      signal: controller.signal,
      onStep: () => {
        if (++steps === 5) controller.abort(new Error('user pressed stop'));
      },
    });
    await expect(run).rejects.toThrow(/user pressed stop/);
    expect(steps).toBeLessThanOrEqual(6);
  });
});

describe('diffusion: FK steering against closed forms on the analytic mixture', () => {
  const SCH = D.vpLinear();
  const MODEL = MIX.model(SCH, 'epsilon');
  const BASE = MIX.marginal(SCH, SCH.tMin);
  const C = [1, -1];
  /** r(x) = −|x − c|² / 2, so exp(λ r) ∝ N(x; c, I/λ) and the tilted law is the mixture product (closed form). */
  const quadratic = St.tensorReward('quadratic', (x) => tf.tidy(() => tf.mul(-0.5, tf.sum(tf.square(tf.sub(x, tf.tensor1d(C))), 1))));
  const tilted = (lambda: number) => St.mixtureProduct(BASE, new D.GaussianMixture([{ weight: 1, mean: C, covariance: 1 / lambda }]));
  const zero = St.tensorReward('zero', (x) => tf.zeros([x.shape[0]!]));

  async function fkRuns(tag: string, opts: Partial<St.FkRunOptions>, runs = 10): Promise<WeightedRun[]> {
    const out: WeightedRun[] = [];
    for (let r = 0; r < runs; r++) {
      const res = await St.fkSteering(MODEL, { reward: quadratic, lambda: 0.5, particles: 128, steps: 100, checkFinite: false, seed: `p7-${tag}-${r}`, ...opts });
      out.push({ x: await res.x.data(), weights: Float64Array.from(res.weights) });
      res.x.dispose();
    }
    return out;
  }

  it('a quadratic reward (λ = 0.5): weighted moments and component masses match the closed-form product; planted: the answer for λ = 0.25', async () => {
    const runs = await fkRuns('quad', {});
    const good = checkWeightedRuns(runs, 2, mixtureStatistics(tilted(0.5)));
    const bad = checkWeightedRuns(runs, 2, mixtureStatistics(tilted(0.25)));
    if (process.env.TYCHE_REPORT) console.log(`fk quadratic: ${good.summary}; planted λ/2: ${bad.summary}`);
    expect(good.pass, good.summary).toBe(true);
    expect(bad.pass, bad.summary).toBe(false);
  });

  it('other potentials, intervals, windows and soft rewards target the same tilt: max/interval 5, rt/window [0.2, 0.8], add/x0Samples 4', async () => {
    const configs: Partial<St.FkRunOptions>[] = [
      { potential: 'max', interval: 5 },
      { potential: 'rt', window: [0.2, 0.8] },
      { potential: 'add', x0Samples: 4 },
    ];
    for (const c of configs) {
      const runs = await fkRuns(`quad-${c.potential}`, c);
      const good = checkWeightedRuns(runs, 2, mixtureStatistics(tilted(0.5)));
      const bad = checkWeightedRuns(runs, 2, mixtureStatistics(tilted(0.25)));
      if (process.env.TYCHE_REPORT) console.log(`fk quadratic ${JSON.stringify(c)}: ${good.summary}; planted λ/2: ${bad.summary}`);
      expect(good.pass, `${JSON.stringify(c)}: ${good.summary}`).toBe(true);
      expect(bad.pass, `${JSON.stringify(c)} planted: ${bad.summary}`).toBe(false);
    }
  });

  it('a zero reward reproduces the unsteered sampler: equal weights, no resampling, the base mixture; planted: the same check rejects a DDPM with a wrong posterior mean', async () => {
    const runs: WeightedRun[] = [];
    for (let r = 0; r < 10; r++) {
      const res = await St.fkSteering(MODEL, { reward: zero, lambda: 3, particles: 128, steps: 100, checkFinite: false, seed: `p7-zero-${r}` });
      expect(res.resampledAt).toEqual([]);
      expect(Math.max(...res.weights) - Math.min(...res.weights)).toBeLessThan(1e-12);
      runs.push({ x: await res.x.data(), weights: Float64Array.from(res.weights) });
      res.x.dispose();
    }
    const good = checkWeightedRuns(runs, 2, mixtureStatistics(BASE));
    const wrong = await fkRuns('zero-wrong', { reward: zero, sampler: ddpmWrongPosterior() });
    const bad = checkWeightedRuns(wrong, 2, mixtureStatistics(BASE));
    if (process.env.TYCHE_REPORT) console.log(`fk zero reward: ${good.summary}; planted wrong DDPM: ${bad.summary}`);
    expect(good.pass, good.summary).toBe(true);
    expect(bad.pass, bad.summary).toBe(false);
  });

  it('bad options, a throwing or NaN reward, abort and tensor counts', async () => {
    const base = { reward: quadratic, particles: 8, steps: 10, seed: 1 } as const;
    for (const particles of [-1, 0, 2.5]) await expect(St.fkSteering(MODEL, { ...base, particles })).rejects.toThrow(/particles must be a positive integer/);
    await expect(St.fkSteering(MODEL, { ...base, potential: 'sum' as never })).rejects.toThrow(/potential.*sum/);
    await expect(St.fkSteering(MODEL, { ...base, lambda: Number.NaN })).rejects.toThrow(/lambda/);
    const throwing: St.Reward = { name: 'flaky', evaluate: () => { throw new Error('GPU fell off'); } };
    await expect(St.fkSteering(MODEL, { ...base, reward: throwing })).rejects.toThrow(/reward "flaky" threw at step \d+.*GPU fell off/);
    const impossible: St.Reward = { name: 'impossible', evaluate: (x) => new Float64Array(x.shape[0]!).fill(-Infinity) };
    await expect(St.fkSteering(MODEL, { ...base, reward: impossible })).rejects.toThrow(/reward "impossible" gives every particle weight zero/);
    const nan: St.Reward = { name: 'nan-at-3', evaluate: (x) => Float64Array.from({ length: x.shape[0]! }, (_, i) => (i === 3 ? Number.NaN : 0)) };
    await expect(St.fkSteering(MODEL, { ...base, reward: nan })).rejects.toThrow(/reward "nan-at-3" returned NaN for particle 3/);
    const controller = new AbortController();
    let steps = 0;
    const before = tf.memory().numTensors;
    await expect(
      St.fkSteering(MODEL, { ...base, steps: 1000, signal: controller.signal, onStep: () => { if (++steps === 4) controller.abort(new Error('stop FK')); } }),
    ).rejects.toThrow(/stop FK/);
    expect(steps).toBeLessThanOrEqual(5);
    expect(tf.memory().numTensors, 'an aborted run frees its tensors').toBe(before);
    for (let r = 0; r < 3; r++) (await St.fkSteering(MODEL, { ...base, seed: r })).x.dispose();
    expect(tf.memory().numTensors, 'finished runs free everything but the returned x').toBe(before);
  });
});
