/**
 * Session 11, steering (STEER): FK steering's log Ẑ at a strong tilt, and
 * steering tried as a newcomer. Each test fails on the code before its fix
 * (the header of each describe says how); statistical checks use fixed seeds,
 * tolerances of 3–4 Monte Carlo standard errors across independent runs, and a
 * planted bug that the same check catches. Slow checks:
 * steer-session11.slow.test.ts (TYCHE_SLOW=1).
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import '../../src/backend/gradients.js';
import { initBackend } from '../../src/backend/select.js';
import * as D from '../../src/steer/diffusion/index.js';
import * as St from '../../src/steer/diffusion/steering/index.js';
import { particleCountCheck } from '../../src/steer/index.js';
import { MIXTURE_1D } from './steer-session11-fixtures.js';
import { STEER_OPTION_ENTRIES, messageOf } from './steer-option-entries.js';
import { Rng } from '../../src/core/rng.js';
import { runSMC } from '../../src/infer/smc/core.js';
import { MarkovLM } from '../../src/steer/lm/markov.js';
import { AutomatonPotential } from '../../src/steer/lm/potentials/automaton.js';
import { DirectSampler } from '../../src/steer/lm/samplers/direct.js';
import { smcSteer } from '../../src/steer/lm/smc/steer.js';
import { TokenVocabulary } from '../../src/steer/lm/vocab.js';

beforeAll(async () => {
  await initBackend('cpu');
});

describe('particleCountCheck: is log Ẑ within tolerance at this particle count? (new: session 10 left FK at λ = 6 reading 1–2 nats low with nothing to check it by)', () => {
  // importance sampling of Z = E_{N(0,1)}[exp(μx − μ²/2)] = 1: light-tailed weights at μ = 0.2, heavy at μ = 3.5 (Var w = e^{μ²} − 1 ≈ 2e5)
  const importance = (mu: number) => async (particles: number, rng: Rng) => {
    let top = -Infinity;
    const lw = new Float64Array(particles);
    for (let i = 0; i < particles; i++) top = Math.max(top, (lw[i] = mu * rng.normal() - (mu * mu) / 2));
    let s = 0;
    for (let i = 0; i < particles; i++) s += Math.exp(lw[i]! - top);
    return top + Math.log(s / particles);
  };

  it('light-tailed weights agree; heavy-tailed ones (log Ẑ a nat low at 256 particles) are flagged; its figures are the runs\' own', async () => {
    const good = await particleCountCheck(importance(0.2), { particles: 256, seed: 1 });
    expect(good.verdict).toBe('agree');
    expect(good.message).toMatch(/steady within 0.1 nats from 256 to 1024 particles/);
    expect(good.small.logZ).toHaveLength(8);
    expect(good.large.particles).toBe(1024);
    // planted: the heavy-tailed estimator, the kind of Ẑ FK steering gives at λ = 6
    const bad = await particleCountCheck(importance(3.5), { particles: 256, seed: 1 });
    expect(bad.verdict).not.toBe('agree');
    expect(bad.small.mean).toBeLessThan(-0.5);
    expect(bad.message).toMatch(/lower estimate/);
    const mean = bad.large.logZ.reduce((a, b) => a + b, 0) / 8;
    expect(bad.large.mean).toBeCloseTo(mean, 12);
    expect(bad.large.jensenGap).toBeCloseTo(Math.log(bad.large.logZ.reduce((a, b) => a + Math.exp(b), 0) / 8) - mean, 12);
  });

  it('FK steering at λ = 6 on the two-Gaussian mixture is flagged and at λ = 1 agrees, with tensors flat (the check disposes each run\'s x)', async () => {
    const model = new D.GaussianMixture(MIXTURE_1D.map((c) => ({ ...c, mean: [...c.mean] }))).model(D.vpLinear(), 'epsilon');
    const run = (lambda: number) => (particles: number, rng: Rng) => St.fkSteering(model, { reward: St.linearReward([1]), lambda, particles, steps: 50, rng });
    const before = tf.memory().numTensors;
    const strong = await particleCountCheck(run(6), { particles: 32, seed: 2 });
    const mild = await particleCountCheck(run(1), { particles: 64, seed: 2 });
    expect(tf.memory().numTensors).toBe(before);
    expect(strong.verdict).not.toBe('agree');
    expect(mild.verdict).toBe('agree');
  });

  it('runs whose every particle died (Ẑ = 0) at the smaller count say rising, not agree (was: agree, "log Ẑ -Infinity ± NaN")', async () => {
    const check = await particleCountCheck(async (particles) => (particles === 4 ? -Infinity : -1), { particles: 4, seed: 1 });
    expect(check.verdict).toBe('rising');
    expect(check.message).toMatch(/Ẑ = 0 in 8 of 8 runs at 4 particles/);
    expect(check.message).not.toMatch(/NaN/);
  });

  it('bad options name the option, as the engines do', async () => {
    const f = async () => 0;
    await expect(particleCountCheck(f, { particles: 8, factr: 2 } as never)).rejects.toThrow(/particleCountCheck: unknown option "factr" \(did you mean "factor"\?\)/);
    await expect(particleCountCheck(f, { particles: 0 })).rejects.toThrow(/particleCountCheck: particles must be a positive integer, got 0/);
    await expect(particleCountCheck(f, { particles: 8, runs: 1 })).rejects.toThrow(/runs must be an integer >= 2, got 1/);
    await expect(particleCountCheck(f, {} as never)).rejects.toThrow(/particles .* is required/);
    await expect(particleCountCheck(async () => NaN, { particles: 8 })).rejects.toThrow(/run 0 at 8 particles returned log Z NaN/);
    await expect(particleCountCheck('fk' as never, { particles: 8 })).rejects.toThrow(/first argument must be a function/);
  });
});

describe('fkCorrector: a misspelt key in a term or the tilt is named (was: "has power undefined", "tilt.lambda must be finite, got undefined", "reading \'name\'")', () => {
  const model = new D.GaussianMixture([{ weight: 1, mean: [0], covariance: 1 }]).model(D.vpLinear(), 'epsilon');
  it('terms[i] and tilt keys are checked like options, and a bare model as a term says what a term is', async () => {
    const run = (o: object) => St.fkCorrector({ ...(o as Record<string, unknown>), particles: 4, steps: 2, seed: 1 } as never);
    await expect(run({ terms: [{ model, power: 2 }] })).rejects.toThrow(/fkCorrector: unknown option "terms\[0\]\.power"; allowed: terms\[0\]\.model, terms\[0\]\.weight, terms\[0\]\.cond/);
    await expect(run({ terms: [{ model, weight: 1 }], tilt: { reward: St.linearReward([1]), lamda: 2 } })).rejects.toThrow(/unknown option "tilt\.lamda" \(did you mean "tilt\.lambda"\?\)/);
    await expect(run({ terms: [model] })).rejects.toThrow(/fkCorrector: terms\[0\] must be \{ model, weight \} with a DiffusionModel as model, got keys name, schedule/);
    await expect(run({ terms: [{ model, weight: NaN }] })).rejects.toThrow(/terms\[0\]\.weight \(the power of model "gaussian-mixture\(1d, 1\)"\) must be a finite number, got NaN/);
  });
});

describe('steering options are checked like infer\'s, naming the entry point (were: "SMC: essThreshold must lie in [0, 1]", "unknown resampling scheme", "sampler.kernel is not a function", a crash after the run began)', () => {
  const bad: [string, unknown, RegExp][] = [
    ['essThreshold', 2, /essThreshold must be a number in \[0, 1\], got 2$/],
    ['resampling', 'sys', /resampling must be one of 'multinomial', 'stratified', 'systematic', 'residual' or a resampling function, got 'sys' \(did you mean 'systematic'\?\)$/],
    ['signal', {}, /signal must be an AbortSignal \(e\.g\. new AbortController\(\)\.signal\), got object$/],
    ['onStep', 3, /onStep must be a function, got 3$/],
    ['rng', true, /rng must be an Rng/], // (generate's rng may also be a seed number or string)
  ];
  it('every entry point that takes essThreshold, resampling, signal, onStep or rng says "<entry>: <option> must be ..." before any work', async () => {
    const taken: Record<string, string[]> = {};
    for (const [name, run] of STEER_OPTION_ENTRIES) {
      for (const [option, value, want] of bad) {
        const msg = await messageOf(() => run({ [option]: value }));
        if (/unknown option/.test(msg)) continue;
        expect(msg, `${name} ${option}`).toMatch(new RegExp(`^${name}: ${want.source}`));
        (taken[option] ??= []).push(name);
      }
    }
    // the entries that take each option (a table that shrank would mean a check went missing)
    expect(taken.signal!.length).toBeGreaterThanOrEqual(20);
    expect(taken.essThreshold!.length).toBeGreaterThanOrEqual(6);
    expect(taken.onStep!.length).toBeGreaterThanOrEqual(8);
  });

  it('a diffusion sampler given by name, a text prompt, a sampler class and a string lambda are named', async () => {
    const model = new D.GaussianMixture([{ weight: 1, mean: [0], covariance: 1 }]).model(D.vpLinear(), 'epsilon');
    await expect(St.fkSteering(model, { reward: St.linearReward([1]), particles: 4, steps: 2, sampler: 'ddim' as never })).rejects.toThrow(/^fkSteering: sampler must be a Sampler such as ddpm\(\).*got string "ddim"/);
    await expect(St.fkSteering(model, { reward: St.linearReward([1]), particles: 4, steps: 2, lambda: '2' as never })).rejects.toThrow(/lambda must be a finite number, got string "2"/);
    const ab = TokenVocabulary.characters('ab');
    const lm = MarkovLM.random(ab, new Rng('s11'), { eos: 0.3 });
    const base = { lm, potential: new AutomatonPotential(ab, 'a*'), particles: 4, maxTokens: 3, seed: 1 };
    await expect(smcSteer({ ...base, sampler: new DirectSampler(), prompt: 'ab' as never })).rejects.toThrow(/prompt must be token ids \(lm\.vocab\.encode\(text\)\), got string "ab"/);
    await expect(smcSteer({ ...base, sampler: DirectSampler as never })).rejects.toThrow(/got the function DirectSampler \(a class is called with new\)/);
  });

  it('a signal that is not an AbortSignal no longer holds the infer queue: the next call runs (was: every later call in the process hung)', async () => {
    const model = new D.GaussianMixture([{ weight: 1, mean: [0], covariance: 1 }]).model(D.vpLinear(), 'epsilon');
    const fk = St.fkSteeringModel(model, { reward: St.linearReward([1]), steps: 2 });
    const first = await messageOf(() => runSMC(fk, { particles: 4, signal: {} as never }));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const hung = new Promise<string>((r) => (timer = setTimeout(() => r('hung'), 15_000)));
    const next = St.fkSteering(model, { reward: St.linearReward([1]), particles: 4, steps: 2, seed: 1 }).then((res) => (res.x.dispose(), 'ran'));
    expect(await Promise.race([next, hung])).toBe('ran');
    clearTimeout(timer);
    // runSMC names itself since a6a33a1 (session 12), before the queue's own check
    expect(first).toMatch(/^runSMC: signal must be an AbortSignal \(e\.g\. new AbortController\(\)\.signal\), got object/);
  }, 30_000);
});
