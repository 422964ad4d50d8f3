/**
 * Lead, session 12: a particle count typed one power of ten too far (`particles: 1e9`) under importance,
 * SMC or tempered SMC, or given to `runSMC` directly, grew the process for minutes with no error and out of
 * reach of an abort (STEERUSER saw `infer(m, { method: 'smc', particles: 1e9 })` still silent after 60 s
 * under a 1 GB heap). The population engines now refuse a count above 2^24 before anything runs, naming the
 * engine, the option and why; a count at the ceiling's scale that a run can hold is still taken.
 */
import { describe, expect, it } from 'vitest';
import { Normal, infer, model, runSMC } from '../../src/index.js';
import { MAX_PARTICLES } from '../../src/infer/smc/population.js';

const m = model(async (ctx) => {
  const mu = await ctx.sample('mu', Normal(0, 1));
  await ctx.observe('y', Normal(mu, 1), 0.5);
  return mu;
});

describe('a particle count above what a population engine can hold is refused at once', () => {
  for (const method of ['importance', 'smc', 'tempered'] as const) {
    it(`${method}: particles 1e9 is an error naming the engine and the ceiling`, async () => {
      const started = Date.now();
      await expect(infer(m, { method, particles: 1e9, seed: 1 })).rejects.toThrow(
        new RegExp(`^${method}: particles must be at most ${MAX_PARTICLES}, got 1000000000: every particle is held in memory at once`),
      );
      expect(Date.now() - started).toBeLessThan(5000);
    });
  }

  it('runSMC: particles 1e9 is the same error, under runSMC\'s name', async () => {
    const filter = {
      init: () => new Float64Array(0),
      step: (s: Float64Array) => ({ state: s, logPotential: [] as number[] }),
      done: () => true,
    };
    await expect(runSMC(filter as never, { particles: 1e9 })).rejects.toThrow(/^runSMC: particles must be at most 16777216, got 1000000000/);
  });

  it('a count below the ceiling and the usual wording for a non-integer are unchanged', async () => {
    await expect(infer(m, { method: 'importance', particles: 2.5, seed: 1 })).rejects.toThrow(/^importance: particles must be a positive integer, got 2\.5$/);
    const post = await infer(m, { method: 'importance', particles: 2000, seed: 1 });
    // exact posterior N(0.25, 1/2): the mean within 5 standard errors of an importance estimate at ESS >= 1000
    expect(Math.abs(post.summary().rows.find((r) => r.name === 'mu')!.mean - 0.25)).toBeLessThan(5 * Math.sqrt(0.5 / 1000));
  });
});
