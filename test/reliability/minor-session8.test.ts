/**
 * MINOR, session 8: regressions for small error-message and validation
 * defects, each shown failing on the code before its fix.
 *
 * 1. `seed: NaN` and `seed: Infinity` were accepted by infer and every
 *    steering entry point (String(NaN) seeded a stream): the shared options
 *    check (src/core/options.ts) refuses them, naming `seed`.
 * 2. Eight schools with 7 sigmas (or J = 7) against 8 thetas threw from
 *    `Normal(theta, sigma)`, before its site: 'model "schools" threw after
 *    site "theta": Normal: parameter scale: shapes [8] and [7] do not
 *    broadcast', naming neither the site y nor which parameter had which
 *    shape. The distribution now defers the error to its site
 *    (distributions/distribution.ts `ParameterShapeError`), whose ModelError
 *    names the site and each parameter's shape, the same from every engine.
 * 3. `condition(m, data)` threw "this run of the model has no site there" on
 *    any run that skipped a conditioned site, also where the model visits it
 *    on some branches only (`if (z) await sample('a', ...)`). Now a run that
 *    skips it is simply not conditioned there (Pyro's semantics) and only an
 *    address that no run of the inference reached is an error (a typo or a
 *    dead site), checked by `infer` when the engine returns
 *    (core/handlers.ts `assertConditionsVisited`).
 * 4. VI's checks on its final draws (k-hat's PSIS, the guide-location check)
 *    ran without yielding: PSIS sorted all S ratios with a comparator (4.9 s
 *    CPU at 5e6 draws; now a linear selection of the tail, 0.19 s) and the
 *    location check read every draw in one synchronous pass; it now yields
 *    and stops with the signal's reason, and the draws are freed.
 * 5. The steering entry points worded a bad count or length in six ways and
 *    two classes for the same mistake: 'Error: SMC: particles ...' (the
 *    particle core's, not the entry point's name), 'Error: steering:
 *    maxTokens ...', 'Error: step search: maxSteps ...', 'RangeError:
 *    timeGrid: steps ...', 'RangeError: sample(ddpm): particles ...', and a
 *    string '4' read "got 4". Each entry point now checks its counts first
 *    (core/options.ts `checkIntegerOptions`): RangeError
 *    '<entry>: <option> must be a positive integer, got <value>', TypeError
 *    '<entry>: <option> must be a number, got string "4"'.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import { checkOptions } from '../../src/core/options.js';
import { largestAscending } from '../../src/diagnostics/psis.js';
import { guideLocationShift } from '../../src/infer/vi/location-check.js';
import { gaussModel } from './abort-memory-cases.js';
import { type Ctx, Bernoulli, type Distribution, Gamma, HalfCauchy, Independent, Normal, condition, infer, model, toNumber } from '../../src/index.js';
import { ModelError } from '../../src/core/errors.js';
import { Rng } from '../../src/core/rng.js';
import { STEER_OPTION_ENTRIES, messageOf } from './steer-option-entries.js';
import * as T from '../../src/testing/index.js';
import { abortAfterLastStep } from '../helpers/abort-after-steps.js';
import { cpuMs } from '../helpers/cpu-time.js';

beforeAll(async () => {
  await initBackend('cpu');
});

describe('1. a seed that is NaN or infinite is refused, naming seed, by every entry point', () => {
  const tiny = model(async ({ sample }: Ctx) => sample('mu', Normal(0, 1)), { name: 'tiny' });

  it('infer (every method goes through the same check)', async () => {
    for (const method of ['importance', 'nuts', 'smc', 'vi'])
      for (const seed of [NaN, Infinity, -Infinity])
        expect(await messageOf(() => infer(tiny, { method, seed } as never))).toBe(`infer: seed must be a finite number or a string, got ${seed}`);
    expect(await messageOf(() => infer(tiny, { method: 'importance', particles: 10, seed: -3.5 }))).toBe('no error');
  });

  it('every steering entry point that takes a seed', async () => {
    const problems: string[] = [];
    for (const [name, run] of STEER_OPTION_ENTRIES) {
      if (name === 'generate') continue; // takes `rng`, not `seed`
      for (const seed of [NaN, Infinity]) {
        const msg = await messageOf(() => run({ seed }));
        if (msg !== `${name}: seed must be a finite number or a string, got ${seed}`) problems.push(`${name} seed ${seed}: ${msg}`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('the testing entry points that take a seed (sbc, tarpCheck, tarp, checkLogZUnbiased, stateSpaceLogZBounds, uniformEcdfBand)', async () => {
    const loop = { simulator: {} as never, engine: { method: 'importance' }, simulations: 2, seed: NaN } as never;
    const want = (who: string) => `${who}: seed must be a finite number or a string, got NaN`;
    expect(await messageOf(() => T.sbc(loop))).toBe(want('sbc'));
    expect(await messageOf(() => T.tarpCheck(loop))).toBe(want('tarpCheck'));
    expect(await messageOf(async () => T.tarp([[[0]], [[1]]], [[0], [1]], { seed: NaN }))).toBe(want('tarp'));
    expect(await messageOf(() => T.checkLogZUnbiased(tiny as never, [] as never, { method: 'importance' }, { runs: 2, logZ: 0, seed: NaN }))).toBe(want('checkLogZUnbiased'));
    expect(await messageOf(() => T.stateSpaceLogZBounds({} as never, { particles: [2, 4], seed: Infinity } as never))).toBe('stateSpaceLogZBounds: seed must be a finite number or a string, got Infinity');
    expect(await messageOf(async () => T.uniformEcdfBand(10, 10, 0.05, { seed: NaN }))).toBe(want('uniformEcdfBand'));
  });

  it('the check itself: finite numbers and strings pass', () => {
    expect(() => checkOptions('f', { seed: 0 }, ['seed'])).not.toThrow();
    expect(() => checkOptions('f', { seed: 'NaN' }, ['seed'])).not.toThrow();
    expect(() => checkOptions('f', { seed: NaN }, ['seed'])).toThrow('f: seed must be a finite number or a string, got NaN');
  });
});

describe('2. parameters whose shapes do not broadcast: the site names itself and each shape, the same from every engine', () => {
  const schools = model(async ({ sample, observe, plate }: Ctx, d: { J: number; y: number[]; sigma: number[] }) => {
    const mu = await sample('mu', Normal(0, 5));
    const tau = await sample('tau', HalfCauchy(5));
    const theta = await plate('school', d.J, () => sample('theta', Normal(mu, tau)));
    await observe('y', Normal(theta, d.sigma), d.y);
    return theta;
  }, { name: 'schools' });
  const y = [28, 8, -3, 7, -1, 1, 18, 12];
  const sigma = [15, 10, 16, 11, 9, 11, 10, 18];
  const ENGINES: Record<string, Record<string, unknown>> = {
    nuts: { method: 'nuts', chains: 1, warmup: 20, samples: 20 },
    'nuts, 4 vectorised chains': { method: 'nuts', chains: 4, warmup: 20, samples: 20 },
    hmc: { method: 'hmc', chains: 1, warmup: 20, samples: 20 },
    importance: { method: 'importance', particles: 50 },
    smc: { method: 'smc', particles: 50 },
    'smc batched': { method: 'smc', particles: 50, batched: true },
    vi: { method: 'vi', steps: 5, samples: 20 },
    mh: { method: 'mh', chains: 1, warmup: 20, samples: 20 },
  };
  const CASES: [string, { J: number; y: number[]; sigma: number[] }, string][] = [
    ['7 sigmas, 8 schools', { J: 8, y, sigma: sigma.slice(0, 7) }, 'site "y": Normal: parameters loc of shape [8] and scale of shape [7] do not broadcast'],
    ['J = 7, 8 sigmas', { J: 7, y, sigma }, 'site "y": Normal: parameters loc of shape [7] and scale of shape [8] do not broadcast'],
    ['7 effects, 8 schools', { J: 8, y: y.slice(0, 7), sigma }, 'site "y": observed value of shape [7] does not match Normal of shape [8] (batch [8], event [])'],
  ];

  it.each(CASES)('%s', async (_n, data, want) => {
    const problems: string[] = [];
    for (const [name, o] of Object.entries(ENGINES)) {
      let err: unknown;
      try {
        await infer(schools, { seed: 1, ...o } as never, data);
      } catch (e) {
        err = e;
      }
      if (!(err instanceof ModelError) || err.address !== 'y' || err.message !== want) problems.push(`${name}: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
    }
    expect(problems).toEqual([]);
  });

  it('wrapped in Independent or expanded, the site still names itself', async () => {
    const wrapped = (wrap: (d: ReturnType<typeof Normal>) => Distribution) =>
      model(async ({ sample, observe }: Ctx, d: { y: number[]; sigma: number[] }) => {
        const theta = await sample('theta', Independent(Normal(0, 5).expand([8]), 1));
        await observe('y', wrap(Normal(theta, d.sigma)), d.y);
      }, { name: 'wrapped' });
    const want = 'site "y": Normal: parameters loc of shape [8] and scale of shape [7] do not broadcast';
    for (const wrap of [(d: Distribution) => Independent(d, 1), (d: Distribution) => d.expand([8]), (d: Distribution) => Independent(d.expand([8]), 1)]) {
      await expect(infer(wrapped(wrap), { method: 'importance', particles: 10, seed: 1 }, { y, sigma: sigma.slice(0, 7) })).rejects.toThrow(want);
    }
  });

  it('outside a model the error comes at the distribution\'s first use (sample, batch shape), naming each parameter', () => {
    const g = Gamma(tf.tensor1d([1, 2]), tf.tensor1d([1, 2, 3]));
    expect(() => g.sample(new Rng(1))).toThrow('Gamma: parameters concentration of shape [2] and rate of shape [3] do not broadcast');
    expect(() => [...g.batchShape]).toThrow(/do not broadcast/);
    // shapes that broadcast are untouched
    expect(Normal(tf.zeros([3, 1]), tf.ones([4])).batchShape).toEqual([3, 4]);
  });
});

describe('3. condition() on a site some branches skip: those runs are simply not conditioned there; an address no run reaches is an error', () => {
  // z ~ Bernoulli(1/2); only when z = 1 is a ~ Bernoulli(0.9) drawn, and a = 0 is given: P(z = 1 | a = 0) = 0.05 / 0.55 = 1/11
  const branching = model(async ({ sample }: Ctx) => {
    const z = toNumber(await sample('z', Bernoulli(0.5)));
    if (z) await sample('a', Bernoulli(0.9));
    return z;
  }, { name: 'branching' });
  const exact = 1 / 11;
  // mu ~ N(0, 1), z ~ Bernoulli(1/2), and only when z = 1 is a ~ N(mu, 1) drawn, with a = 1/2 given:
  // P(z = 1 | a) = N(1/2; 0, 2) / (N(1/2; 0, 2) + 1) (mu integrated out), for hmc-gibbs
  const mixed = model(async ({ sample }: Ctx) => {
    const mu = await sample('mu', Normal(0, 1));
    const z = toNumber(await sample('z', Bernoulli(0.5)));
    if (z) await sample('a', Normal(mu, 1));
    return z;
  }, { name: 'mixed' });
  const n12 = Math.exp(-0.25 / 4) / Math.sqrt(4 * Math.PI);
  const exactMixed = n12 / (n12 + 1);

  /** |mean - p| in Monte Carlo standard errors of a Bernoulli(p) mean over `ess` effective draws. */
  const zScore = (mean: number, p: number, ess: number) => Math.abs(mean - p) / Math.sqrt((p * (1 - p)) / ess);

  it('enumerate is exact (it threw on the z = 0 branch)', async () => {
    const post = await infer(condition(branching, { a: 0 }), { method: 'enumerate' });
    expect(post.moments('z').mean).toBeCloseTo(exact, 12);
  });

  it.each([
    ['importance', { method: 'importance', particles: 2000 }],
    ['smc', { method: 'smc', particles: 2000 }],
    ['mh', { method: 'mh', chains: 1, warmup: 200, samples: 2000 }],
  ] as const)('%s gives P(z = 1 | a = 0) = 1/11 within 4 MCSE', async (_n, o) => {
    const post = await infer(condition(branching, { a: 0 }), { seed: 1, ...o } as never);
    const mean = post.moments('z').mean;
    // MH's draws are correlated: its ESS comes from the summary
    const ess = o.method === 'mh' ? Number(post.summary().rows.find((r) => r.name === 'z')!.ess_bulk) : post.ess;
    expect(zScore(mean, exact, ess)).toBeLessThan(4);
    // planted: the answer with the data ignored on the branch that has it (the prior, 1/2) fails the same check
    expect(zScore(mean, 0.5, ess)).toBeGreaterThan(4);
  });

  it('hmc-gibbs on a mixed model gives P(z = 1 | a = 1/2) within 4 MCSE', async () => {
    const post = await infer(condition(mixed, { a: 0.5 }), { method: 'hmc-gibbs', chains: 1, warmup: 200, samples: 1000, seed: 1 });
    const mean = post.moments('z').mean;
    const ess = Number(post.summary().rows.find((r) => r.name === 'z')!.ess_bulk);
    expect(zScore(mean, exactMixed, ess)).toBeLessThan(4);
    expect(zScore(mean, 0.5, ess)).toBeGreaterThan(4);
  });

  // x ~ N(0, 1), and only when x > 0 is a ~ N(x, 1) drawn, with a = 1.5 given: E[x | a] = -0.42344, sd 0.92979 (quadrature
  // on a grid of 1/5000 over [-8, 8]); gradient engines run it (a is observed on its branch, so the latents are fixed)
  const continuous = model(async ({ sample }: Ctx) => {
    const x = await sample('x', Normal(0, 1));
    if (toNumber(x) > 0) await sample('a', Normal(x, 1));
    return x;
  }, { name: 'continuous_branch' });

  it.each([
    ['importance', { method: 'importance', particles: 4000 }],
    // (the density jumps at x = 0, where a reparameterised ELBO gradient is blind: the AutoNormal sits at +0.5; its
    // draws reweighted by p/q are the posterior's. It also ran its batch probe with one draw, which a model reading a
    // draw as a number passes: the final 2000 draws, batched, then threw 'expected a single number')
    ['vi, PSIS-weighted', { method: 'vi', steps: 300, samples: 2000, importanceWeights: 'psis' }],
  ] as const)('%s on a branch of a continuous latent gives E[x | a = 1.5] within 4 MCSE', async (_n, o) => {
    const post = await infer(condition(continuous, { a: 1.5 }), { seed: 1, ...o } as never);
    const mcse = 0.92979 / Math.sqrt(post.ess);
    const mean = post.moments('x').mean;
    expect(Math.abs(mean - -0.42344) / mcse).toBeLessThan(4);
    expect(Math.abs(mean - 0) / mcse).toBeGreaterThan(4); // planted: the data ignored (the prior mean)
  });

  it('a misspelt address is still an error naming it on every engine; so is a dead site (a branch no run takes)', async () => {
    const want = (a: string) => new RegExp(`^ModelError: site "${a}": condition was given data for this address, but no run of the model reached a site there \\(the sites of its last run: z(, a)?\\); a typo`);
    const runs: Record<string, Record<string, unknown>> = {
      enumerate: { method: 'enumerate' },
      importance: { method: 'importance', particles: 50 },
      smc: { method: 'smc', particles: 50 },
      mh: { method: 'mh', chains: 1, warmup: 10, samples: 20 },
    };
    const problems: string[] = [];
    const errOf = async (m: typeof branching, o: Record<string, unknown>) => {
      try {
        await infer(m, { seed: 1, ...o } as never);
        return 'no error';
      } catch (err) {
        return `${(err as Error).name}: ${(err as Error).message}`;
      }
    };
    for (const [name, o] of Object.entries(runs)) {
      const typo = await errOf(condition(branching, { aa: 0 }), o);
      if (!want('aa').test(typo)) problems.push(`${name} typo: ${typo}`);
      // a site behind a branch the model never takes (z is never 2)
      const dead = model(async ({ sample }: Ctx) => {
        const z = toNumber(await sample('z', Bernoulli(0.5)));
        if (z === 2) await sample('a', Bernoulli(0.9));
        return z;
      }, { name: 'dead' });
      const deadErr = await errOf(condition(dead, { a: 0 }), o);
      if (!want('a').test(deadErr)) problems.push(`${name} dead site: ${deadErr}`);
    }
    expect(problems).toEqual([]);
  });
});

describe('5. steering entry points: the same mistake in a count or length gives the same class and wording', () => {
  /** Each entry point's integer options and their least values (those the entry point checks itself). */
  const COUNTS: Record<string, Record<string, number>> = {
    smcSteer: { particles: 1, maxTokens: 0 },
    smcSteerK: { k: 1, particles: 1, maxTokens: 0 },
    conditionalSteer: { particles: 1, maxTokens: 0 },
    bestOfN: { particles: 1, maxTokens: 0 },
    locallyConstrainedDecode: { particles: 1, maxTokens: 0 },
    steeringBounds: { particles: 1, maxTokens: 0 },
    learnTwistCTL: { iterations: 1, particles: 1, maxTokens: 0 },
    runStepPrograms: { particles: 1, maxSteps: 1 },
    generate: { maxTokens: 0 },
    // the step methods: maxTokens at least 1 since session 15 (a step needs a token; 0 was refused later, blaming the prompt)
    bestOfNSteps: { budget: 1, maxSteps: 1, maxTokens: 1 },
    selfConsistencySteps: { budget: 1, maxSteps: 1, maxTokens: 1 },
    beamSearchSteps: { budget: 1, beamWidth: 1, maxSteps: 1, maxTokens: 1 },
    particleFilterSteps: { particles: 1, maxSteps: 1, maxTokens: 1 },
    particleGibbsSteps: { iterations: 1, particles: 1, maxSteps: 1, maxTokens: 1 },
    sampleDiffusion: { particles: 1, steps: 1 },
    fkSteering: { particles: 1, steps: 1, interval: 1, x0Samples: 1 },
    fkCorrector: { particles: 1, steps: 1 },
    twistedDiffusion: { particles: 1, steps: 1 },
    diffusionBestOfN: { n: 1, batch: 1, steps: 1 },
    zeroOrderSearch: { rounds: 1, neighbours: 1, steps: 1 },
    diffusionTreeSampling: { batch: 1, samples: 1, steps: 1 },
    pathSearch: { width: 1, branches: 1, forward: 0, backward: 1, start: 0, steps: 1 },
    rolloverBudgetForcing: { steps: 1 },
    steerAtBudget: { steps: 1, samples: 1 },
  };
  const errOf = async (f: () => Promise<unknown>): Promise<string> => {
    try {
      await f();
      return 'no error';
    } catch (err) {
      return `${(err as Error).constructor.name}: ${(err as Error).message}`;
    }
  };

  it('below its minimum, not an integer, or not a number: one class and one wording per mistake, naming the entry point and option', async () => {
    const problems: string[] = [];
    expect(STEER_OPTION_ENTRIES.map(([n]) => n).sort()).toEqual(Object.keys(COUNTS).sort());
    for (const [name, run] of STEER_OPTION_ENTRIES) {
      for (const [opt, min] of Object.entries(COUNTS[name]!)) {
        const words = min === 1 ? 'a positive integer' : 'a non-negative integer';
        const want: [unknown, string][] = [
          [min - 1, `RangeError: ${name}: ${opt} must be ${words}, got ${min - 1}`],
          [2.5, `RangeError: ${name}: ${opt} must be ${words}, got 2.5`],
          [NaN, `RangeError: ${name}: ${opt} must be ${words}, got NaN`],
          ['4', `TypeError: ${name}: ${opt} must be a number, got string "4"`],
        ];
        for (const [v, msg] of want) {
          const got = await errOf(() => run({ [opt]: v }));
          if (got !== msg) problems.push(`${name} ${opt}=${String(v)}: ${got}`);
        }
      }
    }
    expect(problems).toEqual([]);
  });
});

describe('4. VI\'s checks on the final draws honour the signal', () => {
  it('largestAscending is the tail of a stable ascending sort (ties by index, -Infinity kept), so psis is unchanged', () => {
    let s = 11;
    const rnd = () => (s = (s * 16807) % 2147483647) / 2147483647;
    for (let t = 0; t < 500; t++) {
      const n = 1 + Math.floor(rnd() * 40);
      const x = Float64Array.from({ length: n }, () => {
        const u = rnd();
        return u < 0.1 ? -Infinity : u < 0.4 ? Math.floor(rnd() * 3) : rnd() * 10 - 5;
      });
      const count = 1 + Math.floor(rnd() * n);
      const sorted = Array.from({ length: n }, (_, i) => i).sort((a, b) => x[a]! - x[b]!);
      expect(largestAscending(x, count)).toEqual(sorted.slice(n - count));
    }
    // planted: a selection that drops ties (>, not >=) loses tail draws
    const ties = Float64Array.from([1, 2, 2, 2, 3]);
    const wrong = [...ties.keys()].filter((i) => ties[i]! > 2);
    expect(largestAscending(ties, 3)).toEqual([2, 3, 4]);
    expect(wrong).not.toEqual([2, 3, 4]);
  });

  it('the location check yields and stops with the signal\'s reason (it ran to the end without yielding: 0.5 s per million draws)', async () => {
    let s = 5;
    const rnd = () => (s = (s * 16807) % 2147483647) / 2147483647;
    const n = 50_000;
    const draws = Array.from({ length: n }, () => {
      const values: Record<string, number> = {};
      for (let k = 0; k < 10; k++) values[`x${k}`] = rnd();
      return { values };
    });
    const logRatios = Float64Array.from({ length: n }, () => -rnd());
    // unaborted, it returns its answer
    expect(await guideLocationShift(draws.slice(0, 1000), logRatios.subarray(0, 1000))).toBeUndefined();
    const ac = new AbortController();
    const reason = new Error('stop the check');
    setTimeout(() => ac.abort(reason), 0);
    const [t0, c0] = [performance.now(), cpuMs()];
    await expect(guideLocationShift(draws, logRatios, { signal: ac.signal })).rejects.toBe(reason);
    // in CPU time (wall time on a loaded machine holds other processes' turns), and a wall bound against an idle hang
    const [wall, cpu] = [performance.now() - t0, cpuMs() - c0];
    console.log(`location check abort: ${cpu.toFixed(0)} ms of CPU, ${wall.toFixed(0)} ms of wall time`);
    expect(cpu).toBeLessThan(1000);
    expect(wall).toBeLessThan(5000);
  });

  it('an abort during a large samples rejects with the signal\'s reason within 1 s and leaves no tensor', async () => {
    const before = tf.memory().numTensors;
    const ac = new AbortController();
    const reason = new Error('stop the draws');
    const { onStep, abortedAt, cpuPastDue } = abortAfterLastStep(ac, reason, 300);
    await expect(infer(gaussModel, { method: 'vi', steps: 5, samples: 2_000_000, seed: 1, signal: ac.signal, onStep })).rejects.toBe(reason);
    const [wall, cpu] = [performance.now() - abortedAt(), cpuPastDue()];
    console.log(`vi abort during 2M draws: ${cpu.toFixed(0)} ms of CPU past the due abort, ${wall.toFixed(0)} ms of wall time after it`);
    expect(cpu).toBeLessThan(1000);
    expect(wall).toBeLessThan(5000);
    expect(tf.memory().numTensors).toBe(before);
  });
});
