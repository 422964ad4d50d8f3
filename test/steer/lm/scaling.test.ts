/**
 * Step-level inference-time scaling (src/steer/lm/scaling): the ePF
 * temperature fixtures; particle filtering with a PRM twist is unbiased for
 * Z = E_LM[exp(link(r(x)))] on an exact weighted-set LM with an exact reward
 * (also under ePF's tempered resampling); one particle Gibbs sweep (with and
 * without ancestor sampling) leaves the exact target invariant; each
 * statistical check fails on a planted wrong twist; look-ahead modulation
 * keeps E[Z-hat] = Z (a twist never removed fails). Baselines, its_hub's
 * replacement variant, bad input, abort, and tensors on the shipped models.
 */
import { describe, expect, it } from 'vitest';
import { Rng } from '../../../src/core/rng.js';
import type { FeynmanKac } from '../../../src/infer/smc/core.js';
import { arithmeticProblems, extractAnswer } from '../../../src/steer/lm/arithmetic.js';
import {
  type LookaheadModulation,
  type PartialSolution,
  type ReferencePath,
  type StepPFOptions,
  type StepRewardModel,
  StepSampler,
  runStepSMC,
  annealingTemperature,
  linkReward,
  baseTemperature,
  beamSearchSteps,
  bestOfNSteps,
  entropyTemperature,
  essTemperature,
  normalisedEntropy,
  particleFilterSteps,
  particleGibbsSteps,
  selectCandidate,
  selfConsistencySteps,
} from '../../../src/steer/lm/scaling/index.js';
import { completeScore, lm, members, total, vocab } from './step-solutions.js';
import { zOf } from '../../stats.js';

/**
 * Exact "PRM": partial scores favour 'a' steps; the complete score judges the
 * answer. Scores stay inside (0, 1): with the logit link a score clipped at
 * 1 - 1e-7 makes potentials of ±16, and log Z-hat so heavy-tailed that a
 * mean over a few hundred runs misses the rare huge values.
 */
const partialScore = (t: string): number => 0.9 / (1 + (t.match(/b/g)?.length ?? 0));
const prm: StepRewardModel = { name: 'exact', score: async (texts, o = {}) => texts.map((t) => (o.complete ? completeScore(t) : partialScore(t))) };
/** Planted bug: a PRM whose final twist ignores the complete judgement. */
const wrongPrm: StepRewardModel = { name: 'wrong', score: async (texts) => texts.map(partialScore) };
const answerOf = (s: string): string | null => /#(\d)/.exec(s)?.[1] ?? null;

/** Exact target pi(x) ∝ p(x) exp(link(r(x))) and Z over the support. */
function exact(link: 'log' | 'logit', eps: number): { Z: number; pi: Map<string, number> } {
  const g = members.map((m) => (m.weight / total) * Math.exp(linkReward(link, completeScore(m.value), eps)));
  const Z = g.reduce((a, b) => a + b, 0);
  return { Z, pi: new Map(members.map((m, i) => [m.value, g[i]! / Z])) };
}

/** Pearson chi-square of counts against probabilities. */
function chiSquare(counts: Map<string, number>, pi: Map<string, number>, n: number): number {
  let x2 = 0;
  for (const [k, p] of pi) x2 += ((counts.get(k) ?? 0) - n * p) ** 2 / (n * p);
  return x2;
}
/** The 0.999 quantile of chi-square with 6 degrees of freedom (7 support points). */
const CHI2_6_999 = 22.458;

async function meanZ(reward: StepRewardModel, link: 'log' | 'logit', annealing: boolean, runs: number, extra: { lookahead?: LookaheadModulation; wrap?: (fk: FeynmanKac<PartialSolution[]>) => FeynmanKac<PartialSolution[]> } = {}): Promise<number[]> {
  const out: number[] = [];
  for (let r = 0; r < runs; r++) {
    const options: StepPFOptions = {
      particles: 3,
      seed: `z/${r}`,
      link,
      answerOf,
      // base schedule with T = 3 - progress > 1 at every resampling, so every resampling is tempered
      annealing: annealing ? { schedule: 'base', maxTemperature: 3, essThreshold: 1, earlyPhase: 1 } : undefined,
      onTemperature: (_, T) => expect(T).toBeGreaterThan(1),
      maxSteps: 4,
      lookahead: extra.lookahead,
    };
    const res = extra.wrap ? await runStepSMC(new StepSampler(lm, '', reward, options), options, { wrap: extra.wrap }) : await particleFilterSteps(lm, reward, '', options);
    out.push(Math.exp(res.logZ!));
  }
  return out;
}

/** Planted bug: look-ahead modulation whose twist is never removed when a particle finishes. */
const keepTwist = (fk: FeynmanKac<PartialSolution[]>): FeynmanKac<PartialSolution[]> => ({
  ...fk,
  async step(state, t, rng) {
    const before = state.map((s) => s.lookahead ?? 0);
    const open = state.map((s) => s.ended === null);
    const res = await fk.step(state, t, rng);
    const lp = Float64Array.from(res.logPotential as ArrayLike<number>);
    res.state.forEach((s, i) => {
      if (open[i] && s.ended !== null) lp[i] += before[i]!;
    });
    return { state: res.state, logPotential: lp };
  },
});

describe('ePF temperature schedules', () => {
  it('match the issue fixtures', () => {
    expect(essTemperature(0.2, 0.2)).toBeCloseTo(4.0, 12);
    expect(essTemperature(0.5, 0.8)).toBe(1);
    expect(entropyTemperature(0.5, 0.3)).toBeCloseTo(1 / 0.65, 12);
    expect(baseTemperature(2, 0.5)).toBeCloseTo(1.5, 12);
  });
  it('anneal only in the early phase and below the ESS threshold', () => {
    const collapsed = [0.97, 0.01, 0.01, 0.01];
    expect(annealingTemperature({ schedule: 'ess' }, collapsed, 1, 10)).toBeGreaterThan(1);
    expect(annealingTemperature({ schedule: 'ess' }, collapsed, 6, 10)).toBe(1); // progress 0.6 >= earlyPhase 0.5
    expect(annealingTemperature({ schedule: 'ess' }, [0.25, 0.25, 0.25, 0.25], 1, 10)).toBe(1);
    expect(normalisedEntropy([0.25, 0.25, 0.25, 0.25])).toBeCloseTo(1, 12);
    expect(() => annealingTemperature({ schedule: 'hot' as never }, collapsed, 1, 10)).toThrow(/schedule/);
  });
});

describe('particle filtering with a PRM twist (exact weighted set)', () => {
  it('E[Z-hat] = Z within MCSE for log and logit links and under ePF tempering; a wrong final twist fails', async () => {
    const R = 400;
    const log = exact('log', 0);
    const logit = exact('logit', 1e-7);
    const zLog = zOf(await meanZ(prm, 'log', false, R), log.Z);
    const zLogit = zOf(await meanZ(prm, 'logit', false, R), logit.Z);
    const zEpf = zOf(await meanZ(prm, 'log', true, R), log.Z);
    const zWrong = zOf(await meanZ(wrongPrm, 'log', false, R), log.Z);
    console.log(`PF E[Z-hat] z-scores (${R} runs, N=3): log ${zLog.toFixed(2)}, logit ${zLogit.toFixed(2)}, ePF ${zEpf.toFixed(2)}, planted wrong twist ${zWrong.toFixed(2)}`);
    expect(Math.abs(zLog)).toBeLessThan(4);
    expect(Math.abs(zLogit)).toBeLessThan(4);
    expect(Math.abs(zEpf)).toBeLessThan(4);
    expect(Math.abs(zWrong)).toBeGreaterThan(4);
  });

  it('look-ahead modulation tilts resampling but keeps E[Z-hat] = Z; a twist left in at the end fails', async () => {
    const R = 400;
    const log = exact('log', 0);
    const zLam = zOf(await meanZ(prm, 'log', false, R, { lookahead: { strength: 1 } }), log.Z);
    const zKept = zOf(await meanZ(prm, 'log', false, R, { lookahead: { strength: 1 }, wrap: keepTwist }), log.Z);
    console.log(`look-ahead PF E[Z-hat] z-scores (${R} runs, N=3): ${zLam.toFixed(2)}; planted twist never removed ${zKept.toFixed(2)}`);
    expect(Math.abs(zLam)).toBeLessThan(4);
    expect(Math.abs(zKept)).toBeGreaterThan(4);
    const r = await particleFilterSteps(lm, prm, '', { particles: 4, seed: 1, answerOf, maxSteps: 4, lookahead: {} });
    const plain = await particleFilterSteps(lm, prm, '', { particles: 4, seed: 1, answerOf, maxSteps: 4 });
    expect(r.cost.rewardCalls).toBeGreaterThan(plain.cost.rewardCalls); // the look-ahead is paid for
    await expect(particleFilterSteps(lm, prm, '', { particles: 4, seed: 1, answerOf, weights: 'replace', lookahead: {} })).rejects.toThrow(/look-ahead modulation needs ratio weights/);
  });

  it('ePF tempers early resamplings (T > 1) and its_hub replacement has no log Z', async () => {
    const temps: number[] = [];
    const e = await particleFilterSteps(lm, prm, '', { particles: 8, seed: 3, answerOf, annealing: { schedule: 'base', essThreshold: 1, earlyPhase: 1, maxTemperature: 3 }, onTemperature: (_, T) => temps.push(T) });
    expect(temps.length).toBeGreaterThan(0);
    expect(temps[0]).toBeGreaterThan(1);
    expect(Number.isFinite(e.logZ)).toBe(true);
    const r = await particleFilterSteps(lm, prm, '', { particles: 8, seed: 3, answerOf, weights: 'replace' });
    expect(r.logZ).toBeNull();
    expect(r.candidates.reduce((s, c) => s + c.weight, 0)).toBeCloseTo(1, 9);
    expect(['1', '2']).toContain(r.answer);
  });
});

describe('particle Gibbs over steps', () => {
  /** One CSMC sweep from exact draws of pi; returns the chi-square of the output references. */
  async function sweepChi2(link: 'log' | 'logit', ancestorSampling: boolean, R: number): Promise<number> {
    const { pi } = exact('log', 0);
    const keys = [...pi.keys()];
    const cum: number[] = [];
    keys.reduce((s, k) => (cum.push(s + pi.get(k)!), s + pi.get(k)!), 0);
    const rng = new Rng('pg-invariance');
    const counts = new Map<string, number>();
    for (let r = 0; r < R; r++) {
      const u = rng.uniform();
      const x0 = keys[cum.findIndex((c) => u < c)] ?? keys[keys.length - 1]!;
      const steps = x0.split(/(?<=;)/).map((s) => vocab.encode(s));
      const reference: ReferencePath = { steps, ended: 'eos' };
      const res = await particleGibbsSteps(lm, prm, '', { particles: 3, iterations: 1, reference, seed: `pg/${r}`, link, ancestorSampling, answerOf, maxSteps: 4 });
      const ref = res.references[0]!;
      const text = vocab.decode(ref.steps.flat());
      counts.set(text, (counts.get(text) ?? 0) + 1);
    }
    return chiSquare(counts, pi, R);
  }

  it('one conditional SMC sweep leaves the exact target invariant (with and without ancestor sampling); a wrong twist fails', async () => {
    const R = 1200;
    const [plain, as, planted] = [await sweepChi2('log', false, R), await sweepChi2('log', true, R), await sweepChi2('logit', false, R)];
    console.log(`PG invariance chi-square (df 6, ${R} sweeps, 0.999 quantile ${CHI2_6_999}): CSMC ${plain.toFixed(2)}, with ancestor sampling ${as.toFixed(2)}, planted wrong twist ${planted.toFixed(2)}`);
    expect(plain).toBeLessThan(CHI2_6_999);
    expect(as).toBeLessThan(CHI2_6_999);
    expect(planted).toBeGreaterThan(CHI2_6_999); // planted: kernel for another target
  });

  it('runs several sweeps and refuses ancestor sampling with replacement weights', async () => {
    const res = await particleGibbsSteps(lm, prm, '', { particles: 4, iterations: 3, seed: 1, answerOf, ancestorSampling: true });
    expect(res.references).toHaveLength(3);
    expect(res.cost.tokens).toBeGreaterThan(0);
    await expect(particleGibbsSteps(lm, prm, '', { particles: 4, weights: 'replace', ancestorSampling: true })).rejects.toThrow(/ratio/);
  });
});

describe('baselines and answer selection', () => {
  it('best-of-N, beam search and self-consistency return answers from the support', async () => {
    const support = new Set(members.map((m) => m.value));
    const b = await bestOfNSteps(lm, prm, '', { budget: 8, seed: 1, answerOf });
    expect(support.has(b.text)).toBe(true);
    expect(b.candidates.every((c) => c.reward <= completeScore(b.text) + 1e-12)).toBe(true);
    const beam = await beamSearchSteps(lm, prm, '', { budget: 8, seed: 1, answerOf });
    expect(support.has(beam.text)).toBe(true);
    const sc = await selfConsistencySteps(lm, '', { budget: 16, seed: 1, answerOf });
    const votes = sc.candidates.filter((c) => c.answer === sc.answer).length;
    expect(votes).toBeGreaterThanOrEqual(8);
    await expect(beamSearchSteps(lm, prm, '', { budget: 6, beamWidth: 4 })).rejects.toThrow(/beamWidth/);
  });

  it('vote sums weight per answer; best takes the heaviest; reward the highest score', () => {
    const c = [
      { text: 'x', answer: 1, weight: 0.4, reward: 0, finished: true },
      { text: 'y', answer: 2, weight: 0.35, reward: 0, finished: true },
      { text: 'z', answer: 2, weight: 0.25, reward: 0, finished: true },
    ];
    expect(selectCandidate(c, 'best')).toBe(0);
    expect(selectCandidate(c, 'vote')).toBe(1);
    expect(selectCandidate(c.map((x, i) => ({ ...x, reward: [0.2, 0.1, 0.9][i]! })), 'reward')).toBe(2);
  });
});

describe('bad input and abort', () => {
  it('names a reward model that returns NaN or throws, and an unencodable prompt', async () => {
    const nan: StepRewardModel = { name: 'nan-prm', score: async (t) => t.map(() => Number.NaN) };
    await expect(particleFilterSteps(lm, nan, '', { particles: 2, seed: 1 })).rejects.toThrow(/nan-prm.*NaN/);
    const boom: StepRewardModel = { name: 'boom-prm', score: async () => { throw new Error('down'); } };
    await expect(particleFilterSteps(lm, boom, '', { particles: 2, seed: 1 })).rejects.toThrow(/boom-prm.*down/);
    await expect(particleFilterSteps(lm, prm, 'zzz', { particles: 2 })).rejects.toThrow(/prompt/);
    await expect(particleFilterSteps(lm, prm, '', { particles: 0 })).rejects.toThrow(/particles/);
  });

  it('a reward of 0 everywhere kills every particle with a clear error', async () => {
    const zero: StepRewardModel = { name: 'zero', score: async (t) => t.map(() => 0) };
    await expect(particleFilterSteps(lm, zero, '', { particles: 4, seed: 1 })).rejects.toThrow(/every particle has zero weight/);
  });

  it('an AbortSignal stops the run', async () => {
    const ac = new AbortController();
    ac.abort(new Error('stop now'));
    await expect(particleFilterSteps(lm, prm, '', { particles: 4, seed: 1, signal: ac.signal })).rejects.toThrow(/stop now/);
  });
});

describe('shipped arithmetic model', () => {
  it('PF, ePF and beam search run on arith-char with arith-prm and keep numTensors flat', async () => {
    const tf = await import('@tensorflow/tfjs-core');
    const { loadTransformerLM, loadProcessRewardModel } = await import('../../../src/steer/lm/transformer/files.js');
    const { wrapLanguageModel } = await import('../../../src/steer/lm/cached.js');
    const arith = wrapLanguageModel(loadTransformerLM('arith-char'));
    const arithPrm = loadProcessRewardModel('arith-prm');
    const p = arithmeticProblems(1, 'scaling-test')[0]!;
    const opts = { seed: 1, answerOf: (s: string) => extractAnswer(s), maxSteps: 6 };
    await particleFilterSteps(arith, arithPrm, p.prompt, { particles: 2, ...opts }); // warm-up (kernels, caches)
    arith.clearCache();
    const before = tf.memory().numTensors;
    const pf = await particleFilterSteps(arith, arithPrm, p.prompt, { particles: 4, ...opts });
    await particleFilterSteps(arith, arithPrm, p.prompt, { particles: 4, ...opts, annealing: {} });
    await beamSearchSteps(arith, arithPrm, p.prompt, { budget: 4, ...opts });
    arith.clearCache();
    expect(tf.memory().numTensors).toBe(before);
    expect(pf.cost.tokens).toBeGreaterThan(0);
    expect(pf.candidates).toHaveLength(4);
    arith.dispose();
    arithPrm.dispose();
  });
});
