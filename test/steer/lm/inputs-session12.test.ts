/**
 * STEERUSER (session 12): steering tried with the inputs a new user gets
 * wrong. Each case failed before this session as its title says.
 */
import { describe, expect, it } from 'vitest';
import { Rng } from '../../../src/core/rng.js';
import { MarkovLM } from '../../../src/steer/lm/markov.js';
import { BooleanPotential } from '../../../src/steer/lm/potentials/boolean.js';
import { type Potential, PotentialError } from '../../../src/steer/lm/potentials/potential.js';
import { RewardPotential } from '../../../src/steer/lm/potentials/reward.js';
import { AWRSSampler } from '../../../src/steer/lm/samplers/awrs.js';
import { DirectSampler } from '../../../src/steer/lm/samplers/direct.js';
import { LocallyOptimalSampler } from '../../../src/steer/lm/samplers/locally-optimal.js';
import { bestOfN } from '../../../src/steer/lm/smc/baselines.js';
import { smcSteerK } from '../../../src/steer/lm/smc/smc-steer.js';
import { NoSatisfyingStringError, smcSteer } from '../../../src/steer/lm/smc/steer.js';
import { StepProgram, runStepPrograms } from '../../../src/steer/lm/smc/program.js';
import type { LanguageModel } from '../../../src/steer/lm/types.js';
import { TokenVocabulary } from '../../../src/steer/lm/vocab.js';
import { MAX_STEER_PARTICLES } from '../../../src/steer/run-rules.js';
import { STEER_OPTION_ENTRIES, messageOf } from '../../reliability/steer-option-entries.js';

const abc = TokenVocabulary.characters('abc');
const lm = MarkovLM.random(abc, new Rng('su12-markov'), { eos: 0.25 });
const base = { lm, sampler: new DirectSampler(), particles: 8, maxTokens: 4, seed: 1 };

describe('BooleanPotential: a predicate that does not return a boolean is named (was: read as truthy/falsy)', () => {
  // `(s) => { !s.includes('c') }` (no return) gave undefined: every string ruled out, and the run blamed the constraint
  const noReturn = ((s: string) => {
    void s.includes('c');
  }) as unknown as (s: string) => boolean;

  it('undefined from the prefix predicate: a PotentialError naming the potential, the predicate and the prefix, from every sampler and bestOfN (was: NoSatisfyingStringError "the constraint may be unsatisfiable")', async () => {
    for (const sampler of [new DirectSampler(), new LocallyOptimalSampler(), new AWRSSampler()]) {
      const pot = new BooleanPotential(abc, { prefix: noReturn }, 'no-c');
      const err = await smcSteer({ ...base, sampler, potential: pot }).catch((e: unknown) => e);
      expect(err, sampler.name).toBeInstanceOf(PotentialError);
      expect((err as Error).message).toMatch(/potential "no-c": the prefix predicate returned undefined for "[abc]*" \(expected true or false; does the function return its answer\?\)/);
    }
    const err = await bestOfN({ lm, particles: 8, maxTokens: 4, seed: 1, potential: new BooleanPotential(abc, { complete: noReturn }, 'no-c') }).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/potential "no-c": the complete predicate returned undefined/);
  });

  it('a truthy non-boolean (a string, a number, a match array) is refused, not read as true (was: logZ of the unconstrained LM)', async () => {
    for (const [value, shown] of [['no', 'string "no"'], [1, '1'], [['c'], 'object ["c"]'], [null, 'null']] as const) {
      const pot = new BooleanPotential(abc, { prefix: (() => value) as unknown as (s: string) => boolean }, 'odd');
      const msg = await messageOf(() => smcSteer({ ...base, potential: pot }));
      expect(msg).toContain(`potential "odd": the prefix predicate returned ${shown} for ""`);
    }
  });

  it('boolean and async boolean predicates still work, and give the same run', async () => {
    const sync = await smcSteer({ ...base, potential: new BooleanPotential(abc, { prefix: (s) => !s.includes('cc') }) });
    const asyncRun = await smcSteer({ ...base, potential: new BooleanPotential(abc, { prefix: async (s) => !s.includes('cc') }) });
    expect(asyncRun.logZ).toBe(sync.logZ);
    expect(asyncRun.particles.map((p) => p.text)).toEqual(sync.particles.map((p) => p.text));
  });
});

describe('a reward that returns a bigint or undefined is named (was: "Do not know how to serialize a BigInt"; "returned undefined undefined")', () => {
  it('bigint, undefined, an object with a cycle', async () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    for (const [value, shown] of [[1n, 'bigint 1n'], [undefined, 'undefined'], [cyclic, 'object']] as const) {
      const msg = await messageOf(() => smcSteer({ ...base, potential: new RewardPotential(abc, (() => value) as never, 'r') }));
      expect(msg).toBe(`potential "r": complete("") returned ${shown} (expected a finite number or -Infinity)`);
    }
  });
});

describe('a missing lm is named (was: "Cannot read properties of undefined (reading \'name\')")', () => {
  it('undefined, a string and a bare vocabulary', async () => {
    for (const [value, shown] of [[undefined, 'undefined'], ['kjv-char', 'string'], [abc, 'object']] as const) {
      const msg = await messageOf(() => smcSteer({ ...base, lm: value as never }));
      expect(msg).toBe(`steering: lm must be a LanguageModel (an object with vocab and nextTokenLogprobs(), e.g. wrapLanguageModel(loadTransformerLM('kjv-char'))), got ${shown}`);
    }
  });
});

describe('a particle count too large to hold is refused before any work (was: particles: 1e9 grew the process by gigabytes until it ran out of memory, no error, no abort)', () => {
  it(`every entry point that takes particles says "<entry>: particles must be at most ${MAX_STEER_PARTICLES}"`, async () => {
    let taking = 0;
    for (const [name, run] of STEER_OPTION_ENTRIES) {
      const msg = await messageOf(() => run({ particles: 1e9 }));
      if (/unknown option "particles"/.test(msg)) continue;
      taking++;
      expect(msg, name).toBe(`${name}: particles must be at most ${MAX_STEER_PARTICLES} (2^22), got 1000000000: the whole population is held in memory at once; for more samples, repeat runs and pool them`);
    }
    expect(taking).toBeGreaterThanOrEqual(14);
    // the boundary: one more than the limit is refused; at the limit what fails next is the missing lm, not particles
    expect(await messageOf(() => smcSteer({ ...base, particles: MAX_STEER_PARTICLES + 1 }))).toMatch(/^smcSteer: particles must be at most/);
    expect(await messageOf(() => smcSteer({ ...base, lm: undefined as never, particles: MAX_STEER_PARTICLES }))).toMatch(/^steering: lm must be a LanguageModel/);
  });
});

describe('stop conditions never met are named', () => {
  // an LM that never ends: EOS has probability 0 after every prefix
  const noEos: LanguageModel = {
    name: 'no-eos',
    vocab: abc,
    contextLength: Infinity,
    nextTokenLogprobs: async (ps) => ps.map(() => Float32Array.from([Math.log(1 / 3), Math.log(1 / 3), Math.log(1 / 3), -Infinity])),
  };

  it('an LM whose EOS has probability 0: the error says maxTokens forced EOS there (was: "no generated string satisfies" potential "none", "the constraint may be unsatisfiable")', async () => {
    for (const run of [() => smcSteer({ ...base, lm: noEos, maxTokens: 5 }), () => bestOfN({ lm: noEos, particles: 8, maxTokens: 5, seed: 1 })]) {
      const err = await run().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(NoSatisfyingStringError);
      expect((err as Error).message).toContain('every particle left reached maxTokens = 5, where EOS is forced, and got weight zero there: the LM gives EOS probability 0 after those prefixes (a larger maxTokens may help)');
    }
    // a constraint that kills before maxTokens says nothing about EOS
    const early = await messageOf(() => smcSteer({ ...base, potential: new BooleanPotential(abc, { prefix: () => false }, 'never') }));
    expect(early).toMatch(/by step 0 under potential "never"/);
    expect(early).not.toMatch(/EOS is forced/);
  });

  it('a step program that never calls finish(): the runner, the class and the count are named (was: "SMC: reached maxSteps = 50 before done()")', async () => {
    class Forever extends StepProgram {
      step(): void {
        this.score(0);
      }
    }
    expect(await messageOf(() => runStepPrograms(() => new Forever(), { particles: 4, maxSteps: 50, seed: 1 }))).toBe(
      "runStepPrograms: 4 of 4 programs (Forever) had not called finish() after maxSteps = 50 steps; check the program's stop condition, or raise maxSteps",
    );
  });

  it('score(1n) in a step program is named (was: "Do not know how to serialize a BigInt")', async () => {
    class Big extends StepProgram {
      step(): void {
        this.score(1n as never);
      }
    }
    expect(await messageOf(() => runStepPrograms(() => new Big(), { particles: 2, seed: 1 }))).toMatch(/^Big\.score\(bigint 1n\) at step 0: a log-weight must be a finite number or -Infinity/);
  });
});

describe('a plugged-in model whose rows are not log-probabilities is named (was: logits steered without a word, log Ẑ = the EOS logit)', () => {
  const mine = (row: number[]): LanguageModel => ({ name: 'mine', vocab: abc, contextLength: Infinity, nextTokenLogprobs: async (ps) => ps.map(() => Float32Array.from(row)) });

  it('logits, probabilities, +Infinity and an all -Infinity row: an error naming the model and the prefix, from every sampler', async () => {
    const cases: [number[], RegExp][] = [
      [[2, 1, 0.5, 0.1], /language model "mine": the row for prefix \[\] is not normalised: its probabilities sum to 12\.86 \(logsumexp 2\.554\); a row holds log-probabilities over the full vocabulary \(the log-softmax of the logits\), not logits or probabilities/],
      [[0.4, 0.3, 0.2, 0.1], /the row for prefix \[\] is not normalised: its probabilities sum to 5\.168/],
      [[-Infinity, -Infinity, -Infinity, -Infinity], /the row for prefix \[\] is not normalised: its probabilities sum to 0\.000 \(logsumexp -Infinity\)/],
      [[Infinity, -1, -1, -1], /the row for prefix \[\] holds \+Infinity \(token 0\); rows are log-probabilities, at most 0/],
    ];
    for (const [row, re] of cases) {
      for (const sampler of [new DirectSampler(), new LocallyOptimalSampler()]) {
        expect(await messageOf(() => smcSteer({ ...base, sampler, lm: mine(row), potential: new RewardPotential(abc, () => 0) })), `${row} ${sampler.name}`).toMatch(re);
      }
    }
  });

  it('a normalised row passes, float32 rounding included: at maxTokens 0 log Ẑ is log p(EOS) exactly', async () => {
    const p = [0.4, 0.3, 0.2, 0.1];
    const res = await smcSteer({ ...base, maxTokens: 0, lm: mine(p.map(Math.log)), potential: new RewardPotential(abc, () => 0) });
    expect(Math.abs(res.logZ - Math.log(0.1))).toBeLessThan(1e-6);
  });
});

describe('an abort ends a run that waits on a potential that never answers (was: the run, and every call queued behind it, hung)', () => {
  it('smcSteer, smcSteerK and bestOfN reject with the abort within 2 s, and the next call runs', async () => {
    const never = () => new RewardPotential(abc, () => new Promise<number>(() => undefined), 'hangs');
    const stuckPrefix: Potential = { name: 'hangs-on-prefix', vocab: abc, prefix: () => new Promise<number>(() => undefined), complete: () => 0 };
    const runs: [string, (signal: AbortSignal) => Promise<unknown>][] = [
      ['smcSteer', (signal) => smcSteer({ ...base, potential: never(), signal })],
      ['smcSteer, prefix at step 0', (signal) => smcSteer({ ...base, potential: stuckPrefix, signal })],
      ['smcSteerK', (signal) => smcSteerK({ ...base, k: 2, potential: stuckPrefix, signal })],
      ['bestOfN', (signal) => bestOfN({ lm, particles: 4, maxTokens: 3, seed: 1, potential: never(), signal })],
    ];
    for (const [name, run] of runs) {
      const ac = new AbortController();
      const timer = setTimeout(() => ac.abort(), 50);
      let hang: ReturnType<typeof setTimeout> | undefined;
      const hung = new Promise<string>((r) => (hang = setTimeout(() => r('hung'), 2000)));
      const got = await Promise.race([run(ac.signal).then(() => 'finished', (e: Error) => e.name), hung]);
      clearTimeout(timer);
      clearTimeout(hang);
      expect(got, name).toBe('AbortError');
    }
    const next = await smcSteer({ ...base, potential: new RewardPotential(abc, () => 0) });
    expect(Number.isFinite(next.logZ)).toBe(true);
  }, 20_000);
});
