/**
 * MINOR, session 9: regressions for validation, condition() and abort
 * defects, each shown failing on the code before its fix.
 *
 * 1. A bad option value reached the engine and was found after its set-up
 *    (nuts: the source lint, the numbers-and-tensors check, the layout probe
 *    and the initial points ran first), in each engine's own words
 *    ('adaptation: targetAccept must lie in (0, 1)', 'mcmc: draws must be an
 *    integer >= 1' for `samples`, 'unknown resampling scheme'), and some were
 *    not found at all: `vectorize: 'yes'`, `compile: 'no'`, svgd `lr: -1`,
 *    neutra `viSteps: -1`, vi `optimizer: 'adm'` and `k: 0` ran, and
 *    `onProgress: 3` failed as 'cb is not a function'. `infer` now checks
 *    every value against the engine's rules (infer/option-rules.ts, with the
 *    one checker core/options.ts `checkOptionValues`) before anything runs,
 *    naming the engine, the option and the near miss; an unknown key names
 *    its near miss too (`sample` -> "did you mean "samples"?"). Nested
 *    options too: vi `optimizer: { lr: 'x' }` fitted silently at 0.01, and
 *    `{ name: 'adm' }` or `rejuvenate: { step: 2 }` were worded apart.
 * 2. `condition()` with MCMC `workers`: infer checks, when the run ends, that
 *    each conditioned address was reached by some run, but runs in worker
 *    threads were not counted, so an address reached only there was called a
 *    typo (a false error: 'site "y": condition was given data for this
 *    address, but no run of the model reached a site there'). Each worker now
 *    hands back the conditioned addresses its runs reached
 *    (core/handlers.ts `conditionVisitsSince`), and the engine counts them
 *    (`recordConditionVisits`); a real typo is still an error. Also, a worker
 *    checked only that its export had the same latents: an export conditioned
 *    on other data (`condition(m, { obs: 3 })` for `m`) sampled another
 *    posterior without a word; the conditioned addresses must now match.
 * 3. Abort latency of nuts/hmc on a log density that runs the model on tfjs
 *    (`compile: false`, or a model that does not compile): the sampler reads
 *    the clock every 8th evaluation, so an abort waited for up to 23 more
 *    model runs (7 within a window, more across the step-size search); each
 *    is milliseconds, ~100 ms under CI load, hence 1309 ms late in the
 *    session-8 audit. The engine now paces the promised answers
 *    (infer/pace.ts `pacedAnswers`): no model run starts after the abort,
 *    so the latency is at most the one evaluation in flight plus a yield.
 *    `init: 'prior'` checks the signal before each chain's prior run.
 *    hmc-gibbs had the same gap (13 more runs): its chains' targets are
 *    paced the same way.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { ModelError, TycheError } from '../../src/core/errors.js';
import { initBackend } from '../../src/backend/select.js';
import { checkOptionValues, nearMiss } from '../../src/core/options.js';
import { type Ctx, Bernoulli, Normal, infer, listEngines, model } from '../../src/index.js';
import * as tf from '@tensorflow/tfjs-core';
import { ENGINE_OPTION_RULES } from '../../src/infer/option-rules.js';
import { conditionedInWorkers, misspeltInWorkers, observed } from '../fixtures/worker-condition-model.js';

beforeAll(async () => {
  await initBackend('cpu');
});

/** A model that counts its runs: a bad option must be refused before the first. */
function counted() {
  const runs = { n: 0 };
  const m = model(async ({ sample, observe }: Ctx) => {
    runs.n++;
    const mu = await sample('mu', Normal(0, 1));
    await observe('y', Normal(mu, 1), 0.5);
  }, { name: 'counted' });
  return { m, runs };
}

/** [method, bad options, error class, message] */
const BAD: readonly [string, Record<string, unknown>, abstract new (...args: never[]) => Error, RegExp][] = [
  ['nuts', { targetAccept: 1.5 }, RangeError, /^nuts: targetAccept must be a number in \(0, 1\), got 1\.5$/],
  ['nuts', { targetAccept: NaN }, RangeError, /^nuts: targetAccept must be a number in \(0, 1\), got NaN$/],
  ['nuts', { maxTreeDepth: 0 }, RangeError, /^nuts: maxTreeDepth must be an integer in \[1, 30\], got 0$/],
  ['nuts', { warmup: -1 }, RangeError, /^nuts: warmup must be a non-negative integer, got -1$/],
  ['nuts', { chains: 0 }, RangeError, /^nuts: chains must be a positive integer, got 0$/],
  ['nuts', { samples: 2.5 }, RangeError, /^nuts: samples must be a positive integer, got 2\.5$/],
  ['nuts', { samples: '10' }, TypeError, /^nuts: samples must be a positive integer, got string "10"$/],
  ['nuts', { massMatrix: 'dence' }, RangeError, /^nuts: massMatrix must be one of 'auto', .*'dense'.*, got 'dence' \(did you mean 'dense'\?\)$/],
  ['nuts', { vectorize: 'yes' }, RangeError, /^nuts: vectorize must be one of true, false or 'auto', got 'yes'$/],
  ['nuts', { compile: 'no' }, RangeError, /^nuts: compile must be one of true, false or 'auto', got 'no'$/],
  ['nuts', { init: 'priorr' }, RangeError, /^nuts: init must be one of 'uniform', 'best-of-uniform', 'ascent', 'prior' or values by address, got 'priorr' \(did you mean 'prior'\?\)$/],
  ['nuts', { onProgress: 3 }, TypeError, /^nuts: onProgress must be a function, got 3$/],
  ['nuts', { signal: 'x' }, TypeError, /^nuts: signal must be an AbortSignal/],
  ['hmc', { numSteps: 0 }, RangeError, /^hmc: numSteps must be a positive integer, got 0$/],
  ['hmc', { jitter: 2 }, RangeError, /^hmc: jitter must be a number in \[0, 1\], got 2$/],
  ['hmc', { integrationTime: -1 }, RangeError, /^hmc: integrationTime must be a number > 0, got -1$/],
  ['hmc-gibbs', { targetAccept: 2 }, RangeError, /^hmc-gibbs: targetAccept must be a number in \(0, 1\), got 2$/],
  ['hmc-gibbs', { kernel: 'nut' }, RangeError, /^hmc-gibbs: kernel must be 'nuts' or 'hmc', got 'nut' \(did you mean 'nuts'\?\)$/],
  ['mh', { chains: 'two' }, TypeError, /^mh: chains must be a positive integer, got string "two"$/],
  ['mh', { thin: 0 }, RangeError, /^mh: thin must be a positive integer, got 0$/],
  ['importance', { particles: -5 }, RangeError, /^importance: particles must be a positive integer, got -5$/],
  ['importance', { guide: 'normal' }, RangeError, /^importance: guide must be a guide model .*, got 'normal'$/],
  ['smc', { essThreshold: 2 }, RangeError, /^smc: essThreshold must be a number in \[0, 1\], got 2$/],
  ['smc', { resampling: 'sys' }, RangeError, /^smc: resampling must be one of 'multinomial', .*got 'sys' \(did you mean 'systematic'\?\)$/],
  ['tempered', { targetEss: 1 }, RangeError, /^tempered: targetEss must be a number in \(0, 1\), got 1$/],
  ['tempered', { moves: -1 }, RangeError, /^tempered: moves must be a non-negative integer, got -1$/],
  ['vi', { k: 0 }, RangeError, /^vi: k must be a positive integer, got 0$/],
  ['vi', { optimizer: 'adam' }, TypeError, /^vi: optimizer must be a tfjs optimiser or a spec \{ name: 'adam'.*got string "adam"$/],
  ['vi', { guide: 'norml' }, RangeError, /^vi: guide must be one of 'normal', .*got 'norml' \(did you mean 'normal'\?\)$/],
  ['vi', { objective: 'elboo' }, RangeError, /^vi: objective must be one of 'elbo', .*got 'elboo' \(did you mean 'elbo'\?\)$/],
  ['svgd', { lr: -1 }, RangeError, /^svgd: lr must be a number > 0, got -1$/],
  ['svgd', { bandwidth: 'medain' }, TypeError, /^svgd: bandwidth must be a number > 0 or 'median', got string "medain" \(did you mean 'median'\?\)$/],
  ['neutra', { viSteps: -1 }, RangeError, /^neutra: viSteps must be a non-negative integer, got -1$/],
  ['neutra', { chains: 0 }, RangeError, /^neutra: chains must be a positive integer, got 0$/],
  // nested options: an optimiser spec, resample-move's settings, NeuTra's VI settings
  ['vi', { optimizer: { name: 'adm' } }, RangeError, /^vi: optimizer\.name must be one of 'adam', .*got 'adm' \(did you mean 'adam'\?\)$/],
  ['vi', { optimizer: { name: 'adam', lr: 'x' } }, TypeError, /^vi: optimizer\.lr must be a number > 0 or a schedule \(step => learning rate\), got string "x"$/],
  ['vi', { optimizer: { learningRate: 0.1 } }, TycheError, /^vi: unknown option "optimizer\.learningRate"; allowed: optimizer\.name, optimizer\.lr, /],
  ['nuts', { workers: { module: 'm.js', thread: 2 } }, TycheError, /^nuts: unknown option "workers\.thread" \(did you mean "workers\.threads"\?\)/],
  ['nuts', { workers: { module: 'm.js', threads: 0 } }, RangeError, /^nuts: workers\.threads must be a positive integer, got 0$/],
  ['smc', { rejuvenate: { step: 2 } }, TycheError, /^smc: unknown option "rejuvenate\.step" \(did you mean "rejuvenate\.steps"\?\)/],
  ['neutra', { vi: { objective: 'elboo' } }, RangeError, /^neutra: vi\.objective must be one of 'elbo', .*got 'elboo' \(did you mean 'elbo'\?\)$/],
  ['enumerate', { strategy: 'paralel' }, RangeError, /^enumerate: strategy must be one of 'sequential', 'parallel' or 'auto', got 'paralel' \(did you mean 'parallel'\?\)$/],
];

describe('1. a bad option value is refused before any model run, naming the engine, the option and the near miss', () => {
  it.each(BAD.map(([method, bad, Err, msg]) => [`${method} ${JSON.stringify(bad, (_k, v: unknown) => (typeof v === 'number' && Number.isNaN(v) ? 'NaN' : v))}`, method, bad, Err, msg] as const))('%s', async (_name, method, bad, Err, msg) => {
    const { m, runs } = counted();
    const err = await infer(m, { method, seed: 1, ...bad } as never).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(Err);
    expect((err as Error).message).toMatch(msg);
    // at once: not after the source lint, the backend, the numbers-and-tensors check or a probe run
    expect(runs.n).toBe(0);
  });

  it('a good value of every kind passes the same rules (no false refusals)', async () => {
    const { m } = counted();
    const ac = new AbortController();
    const post = await infer(m, { method: 'nuts', seed: 1, chains: 1, warmup: 0, samples: 2, targetAccept: 0.9, maxTreeDepth: 3, massMatrix: 'diag', vectorize: 'auto', compile: false, init: { mu: 0.1 }, onProgress: () => {}, signal: ac.signal });
    expect(post.size).toBe(2);
    post.dispose();
    const sv = await infer(m, { method: 'svgd', seed: 1, particles: 4, steps: 2, bandwidth: 'median', lr: 0.1 });
    sv.dispose();
    // a tfjs optimiser is taken as given (its fields are not a spec's); a schedule is a learning rate
    for (const optimizer of [tf.train.sgd(0.01), { name: 'adam', lr: (step: number) => 0.01 / (1 + step) }]) {
      const fit = await infer(m, { method: 'vi', seed: 1, steps: 3, samples: 5, optimizer } as never);
      fit.dispose();
    }
  });

  it('every option of every built-in engine has a rule (a new option without one fails here)', () => {
    for (const e of listEngines()) {
      const rules = ENGINE_OPTION_RULES[e.name];
      expect(rules, e.name).toBeDefined();
      expect(e.options.filter((o) => rules![o] === undefined), e.name).toEqual([]);
    }
  });

  it('a misspelt option name names its near miss, for every engine', async () => {
    const coin = model(async ({ sample }: Ctx) => sample('c', Bernoulli(0.5)), { name: 'coin' });
    for (const e of listEngines()) {
      for (const option of e.options.filter((o) => o.length >= 5)) {
        const typo = option.slice(0, -1); // 'samples' -> 'sample'
        if (e.options.includes(typo)) continue;
        await expect(infer(coin, { method: e.name, [typo]: 1 } as never), `${e.name} ${typo}`).rejects.toThrow(
          new RegExp(`^infer: unknown option "${typo}" for method "${e.name}" \\(did you mean "${option}"\\?\\); allowed: `),
        );
      }
    }
  });

  it('a misspelt method names its near miss; a far one does not', async () => {
    const coin = model(async ({ sample }: Ctx) => sample('c', Bernoulli(0.5)), { name: 'coin' });
    await expect(infer(coin, { method: 'nutz' })).rejects.toThrow(/^infer: unknown method "nutz" \(did you mean "nuts"\?\); available: /);
    await expect(infer(coin, { method: 'hmcgibbs' })).rejects.toThrow(/^infer: unknown method "hmcgibbs" \(did you mean "hmc-gibbs"\?\); available: /);
    await expect(infer(coin, { method: 'magic' })).rejects.toThrow(/^infer: unknown method "magic"; available: /);
  });

  it('nearMiss: case, prefix, one edit or swap; nothing for a far name', () => {
    const names = ['samples', 'warmup', 'massMatrix', 'systematic', 'targetAccept'];
    expect(nearMiss('sample', names)).toBe('samples');
    expect(nearMiss('massmatrix', names)).toBe('massMatrix');
    expect(nearMiss('sys', names)).toBe('systematic');
    expect(nearMiss('wramup', names)).toBe('warmup');
    expect(nearMiss('targetAcept', names)).toBe('targetAccept');
    expect(nearMiss('chains', names)).toBeUndefined();
    expect(nearMiss('x', names)).toBeUndefined();
  });

  it('the checker refuses each planted bad value (integer, number, choice, boolean, function, signal, object kinds)', () => {
    const rules = {
      n: { type: 'integer', min: 1 },
      x: { type: 'number', min: 0, max: 1, openMax: true },
      c: { type: 'choice', values: ['a', 'b', 'c'] },
      b: { type: 'boolean' },
      f: { type: 'function' },
      s: { type: 'signal' },
      o: { type: 'object', what: 'an object' },
    } as const;
    const ok = { n: 2, x: 0, c: 'b', b: false, f: () => {}, s: new AbortController().signal, o: {} };
    expect(() => checkOptionValues('t', ok, rules)).not.toThrow();
    const bad: [string, unknown, RegExp][] = [
      ['n', 0, /t: n must be a positive integer, got 0/],
      ['x', 1, /t: x must be a number in \[0, 1\), got 1/],
      ['x', Infinity, /got Infinity/],
      ['c', 'd', /t: c must be one of 'a', 'b' or 'c', got 'd'/],
      ['b', 'true', /t: b must be true or false, got string "true"/],
      ['f', {}, /t: f must be a function, got object/],
      ['s', {}, /t: s must be an AbortSignal/],
      ['o', [], /t: o must be an object, got an array/],
    ];
    for (const [k, v, msg] of bad) expect(() => checkOptionValues('t', { ...ok, [k]: v }, rules), k).toThrow(msg);
  });
});

describe('2. condition() with MCMC workers: a site reached only in the workers counts as reached', () => {
  const MODULE = new URL('../fixtures/worker-condition-model.ts', import.meta.url);
  const RUN = { method: 'nuts', chains: 2, warmup: 20, samples: 10, seed: 1 } as const;

  it('a conditioned site reached only in worker threads is no typo; the posterior is conditioned there', async () => {
    const post = await infer(conditionedInWorkers, { ...RUN, workers: { module: MODULE, exportName: 'conditionedInWorkers', threads: 2 } });
    expect(post.size).toBe(20);
    // the workers' runs observed y = 0.5: mu's posterior is N(0.25, 0.5), not the prior
    expect(post.draws.every((d) => Number.isFinite(d.values.mu as number))).toBe(true);
    post.dispose();
  });

  it('an export conditioned on other data than the model passed to infer (same latents) is an error, not another posterior', async () => {
    const run = infer(observed, { ...RUN, workers: { module: MODULE, exportName: 'observedOtherwise', threads: 1 } });
    await expect(run).rejects.toThrow(/workers: export "observedOtherwise" of .* is not the model passed to infer: it conditions \[obs\] \(condition\(\)\), the model passed to infer nothing/);
  });

  it('a misspelt address is still an error naming it', async () => {
    const run = infer(misspeltInWorkers, { ...RUN, workers: { module: MODULE, exportName: 'misspeltInWorkers', threads: 1 } });
    await expect(run).rejects.toBeInstanceOf(ModelError);
    await expect(run).rejects.toThrow(/site "yy": condition was given data for this address, but no run of the model reached a site there/);
  });
});

describe('3. nuts/hmc on the model on tfjs: no model run starts after an abort', () => {
  /** A model that aborts the run from inside its n-th execution, counting its runs. */
  function abortingAt(n: number) {
    const ac = new AbortController();
    const runs = { n: 0 };
    const m = model(async ({ sample, observe }: Ctx) => {
      if (++runs.n === n) ac.abort(new Error('stop'));
      const mu = await sample('mu', Normal(0, 1));
      await observe('y', Normal(mu, 1), [0.3, -0.5, 1.2]);
    }, { name: 'aborting' });
    return { m, runs, ac };
  }

  // runs 1-5 are the layout probe, the prior draws and the batched probe; from run 6 on the sampler evaluates
  it.each([
    ['nuts', 'auto', 9],
    ['nuts', 'auto', 11],
    ['nuts', false, 10],
    ['hmc', 'auto', 12],
  ] as const)('%s (vectorize %s), aborted in model run %i', async (method, vectorize, n) => {
    const { m, runs, ac } = abortingAt(n);
    const before = tf.memory().numTensors;
    const run = infer(m, { method, seed: 1, chains: 2, warmup: 1000, samples: 1e6, init: 'prior', compile: false, vectorize, checkConditions: false, signal: ac.signal });
    const err = await run.then(() => undefined, (e: unknown) => e);
    expect(err).toBe(ac.signal.reason);
    // the old sampler loop ran up to 23 more (it read the clock, and so the signal, every 8th evaluation)
    expect(runs.n - n).toBe(0);
    expect(tf.memory().numTensors).toBe(before);
  });

  it.each([41, 80])('hmc-gibbs (compile: false), aborted in model run %i: only the evaluation in flight finishes', async (n) => {
    const ac = new AbortController();
    const runs = { n: 0 };
    const m = model(async ({ sample, observe }: Ctx) => {
      if (++runs.n === n) ac.abort(new Error('stop'));
      const z = await sample('z', Bernoulli(0.5));
      const mu = await sample('mu', Normal(z, 1));
      await observe('y', Normal(mu, 1), [0.3, -0.5, 1.2]);
    }, { name: 'aborting_gibbs' });
    const err = await infer(m, { method: 'hmc-gibbs', seed: 1, chains: 2, warmup: 1000, samples: 1e5, compile: false, checkConditions: false, signal: ac.signal }).then(() => undefined, (e: unknown) => e);
    expect(err).toBe(ac.signal.reason);
    // one evaluation is at most 3 model runs here (the sweep scores z = 0 and z = 1, then the density at the new z);
    // the old loop ran 13 more at n = 41 (it read the clock, and so the signal, every 8th evaluation)
    expect(runs.n - n).toBeLessThanOrEqual(3);
  });

  it('an abort before the prior draws of init: \'prior\' stops before them', async () => {
    const { m, runs, ac } = abortingAt(1); // the layout probe aborts
    const err = await infer(m, { method: 'nuts', seed: 1, chains: 4, init: 'prior', compile: false, checkConditions: false, signal: ac.signal }).then(() => undefined, (e: unknown) => e);
    expect(err).toBe(ac.signal.reason);
    expect(runs.n).toBe(1);
  });
});
