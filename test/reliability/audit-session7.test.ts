/**
 * Session-7 audit (default tier): the matrix of every public engine and
 * steering entry point (audit-session7-cases.ts) against the house rules.
 *
 * 1. Abort: a run sized to last far longer is aborted 50 ms in from a timer
 *    (not from its own callback: the loop must yield to the event loop); it
 *    must reject with the signal's own reason within 1 s and leave no tensor
 *    behind.
 * 2. Leaks: two small runs, each result released as its TSDoc says, leave
 *    `tf.memory().numTensors` where it was; (2b) long SMC, VI, SVGD and
 *    diffusion runs stay flat while they run (sampled from their progress
 *    callbacks).
 * 3. Bad input: NaN data and a missing model argument give one message from
 *    every engine and path; the reliability tier's bad-input table on the new
 *    paths; (3b) the steering entry points name a bad population size or run
 *    length and its value.
 * Then the synchronous loops: odeSolve's abort and fitFlow's leaks.
 *
 * Each check is shown failing once on a deliberately broken runner; known
 * bugs (in other engineers' files) are `it.skip`ped with their cause.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import { ModelError } from '../../src/core/errors.js';
import { type Ctx, Bernoulli, Normal, infer, model, odeSolve } from '../../src/index.js';
import { Rng } from '../../src/core/rng.js';
import * as Lm from '../../src/steer/lm/index.js';
import * as D from '../../src/steer/diffusion/index.js';
import * as Flows from '../../src/flows/index.js';
import { MIX } from '../steer/diffusion/fixtures.js';
import { BAD_INPUTS, ENGINES, caseModel } from './bad-input-cases.js';
import { vectorModel } from './abort-memory-cases.js';
import { AUDIT_CASES, type AuditCase, DELAY_MS, KNOWN_ABORT_BUGS, abortRun, countsDuring, describeErr, prepareCases, release } from './audit-session7-cases.js';
import { cpuMs } from '../helpers/cpu-time.js';

/**
 * The most the rejection may take after the abort was due, in CPU milliseconds of this process (the work done past
 * it; wall time on a loaded machine also holds other processes' turns: FLAKE, session 16, measured the wall lateness
 * at up to 671 ms at load 16-20 where the CPU lateness was at most 46 ms).
 */
const LATENCY_MS = 1000;
/** Wall-clock bound on the same, only against a run that idles on after the abort (spending no CPU). */
const HANG_MS = 5000;

beforeAll(async () => {
  await initBackend('cpu');
  prepareCases();
});

/** Live tensors before and after two small runs (results released). */
async function leakCase(c: AuditCase): Promise<{ before: number; after: number }> {
  const warm = await c.run(undefined, 'small'); // first run: one-off caches (compiled kernels, backends) may stay
  release(warm);
  const before = tf.memory().numTensors;
  for (let k = 0; k < 2; k++) release(await c.run(undefined, 'small'));
  return { before, after: tf.memory().numTensors };
}

describe('1. abort: every entry point rejects with the signal\'s reason within 1 s of an abort from a timer, leaving no tensor', () => {
  it.each(AUDIT_CASES.map((c) => [c.name, c] as const))('%s', async (_n, c) => {
    if (KNOWN_ABORT_BUGS[c.name]) return;
    const r = await abortRun((signal) => c.run(signal, 'large'));
    expect(r).toEqual({ outcome: 'AbortError', lateMs: r.lateMs, lateCpuMs: r.lateCpuMs, leaked: 0 });
    expect(r.lateCpuMs, `${r.lateCpuMs.toFixed(0)} ms of CPU, ${r.lateMs.toFixed(0)} ms of wall time past the abort`).toBeLessThanOrEqual(LATENCY_MS);
    expect(r.lateMs).toBeLessThanOrEqual(HANG_MS);
  });

  it.skip.each(Object.keys(KNOWN_ABORT_BUGS))('known bug, %s', async (name) => {
    const r = await abortRun((signal) => AUDIT_CASES.find((c) => c.name === name)!.run(signal, 'large'));
    expect(r.leaked).toBe(0);
  });

  it('the check fails on a loop that blocks the event loop, on a run that rejects with its own error, and on one that leaks on abort', async () => {
    const blocking = await abortRun(async (signal) => {
      const end = cpuMs() + LATENCY_MS + 300;
      while (cpuMs() < end); // one long unit of work (in CPU time, as the bound is) that does not yield
      await new Promise((r) => setTimeout(r, 0));
      signal.throwIfAborted();
    });
    expect(blocking.outcome).toBe('AbortError');
    expect(blocking.lateCpuMs).toBeGreaterThan(LATENCY_MS);
    const ownError = await abortRun(async (signal) => {
      await new Promise((r) => setTimeout(r, DELAY_MS * 2));
      if (signal.aborted) throw new Error('run: aborted');
    });
    expect(ownError.outcome).toBe('Error: run: aborted');
    const kept: tf.Tensor[] = [];
    const leaky = await abortRun(async (signal) => {
      kept.push(tf.scalar(1));
      await new Promise((r) => setTimeout(r, DELAY_MS * 2));
      signal.throwIfAborted();
    });
    expect(leaky).toMatchObject({ outcome: 'AbortError', leaked: 1 });
    tf.dispose(kept);
  });
});

describe('2. leaks: numTensors after two small runs (results released) equals numTensors before', () => {
  it.each(AUDIT_CASES.map((c) => [c.name, c] as const))('%s', async (_n, c) => {
    if (KNOWN_ABORT_BUGS[c.name]) return;
    const { before, after } = await leakCase(c);
    expect(after - before).toBe(0);
  });

  it('the check fails on a run that keeps a tensor', async () => {
    const kept: tf.Tensor[] = [];
    const { before, after } = await leakCase({ name: 'planted', run: async () => kept.push(tf.scalar(1)) });
    expect(after - before).toBe(2);
    tf.dispose(kept);
  });
});

// ---- 3. bad input: the same message from every engine ----

/** A model that needs its data argument (a vector observation). */
function needsData(engine: string) {
  return model(async ({ sample, observe }: Ctx, data: { y: number[] }) => {
    const z = await sample('z', engine === 'enumerate' ? Bernoulli(0.5) : Normal(0, 1));
    await observe('y', Normal(z, 1).expand([data.y.length]), data.y);
    return z;
  }, { name: 'needs_data' });
}

/** The engines of the bad-input table plus the paths that landed since (each with small options). */
const PATHS: Record<string, Record<string, unknown>> = {
  ...Object.fromEntries(Object.entries(ENGINES).map(([e, o]) => [e, { method: e, ...o }])),
  'smc batched': { method: 'smc', particles: 40, batched: true },
  'smc lean': { method: 'smc', particles: 40, batched: false, lean: true },
  'smc general': { method: 'smc', particles: 40, batched: false, lean: false },
  'importance float64': { method: 'importance', particles: 40, compile: true },
  'tempered compiled': { method: 'tempered', particles: 40, compile: true },
  'nuts lowrank': { method: 'nuts', chains: 2, warmup: 20, samples: 20, massMatrix: 'lowrank' },
  'hmc-gibbs prior init': { method: 'hmc-gibbs', chains: 1, warmup: 20, samples: 20, init: 'prior' },
};

/** The error of one run (undefined when it returned), its posterior freed. */
async function errorOf(run: () => Promise<unknown>): Promise<unknown> {
  try {
    release(await run());
    return undefined;
  } catch (err) {
    return err;
  }
}


describe('3. bad input gives one message, naming the site or argument, from every engine and path', () => {
  it('NaN in observed data and a missing model argument: the same class and message from every engine and path', async () => {
    const byPath: Record<string, { nan: string; missing: string }> = {};
    for (const [path, o] of Object.entries(PATHS)) {
      const m = needsData(o.method as string);
      const nan = await errorOf(() => infer(m, { seed: 1, ...o } as never, { y: [0.1, NaN, 0.3] }));
      const missing = await errorOf(() => (infer as (...a: unknown[]) => Promise<unknown>)(m, { seed: 1, ...o }));
      byPath[path] = { nan: describeErr(nan), missing: describeErr(missing) };
    }
    // compile: true (importance, tempered) reports a model error met while compiling as a TycheError "compile: true,
    // but ... cannot be compiled: <the model's message>": the text is the same, the class (ModelError / ModelCodeError,
    // with its address) is not (the compiled layer keeps only the message; reported)
    const NOT_SAME_CLASS = new Set(['importance float64', 'tempered compiled']);
    const nan = 'site "y": log density of Normal is NaN at value [0.10000000149011612, NaN, 0.30000001192092896] (the value itself is NaN at flat element 1: a missing data entry? drop it (with its covariates) or make it a latent site)';
    const missing = `model "needs_data" threw after site "z": TypeError: Cannot read properties of undefined (reading 'y')`;
    // infer adds the cause it can see: fewer arguments than the model function declares (registry.ts, every engine)
    const hint = ' (model "needs_data" declares 1 argument(s) after its context and infer was given 0: pass them after the options, infer(model, options, ...args))';
    const problems: string[] = [];
    for (const [path, r] of Object.entries(byPath)) {
      if (NOT_SAME_CLASS.has(path)) {
        if (!r.nan.startsWith('TycheError: ') || !r.nan.endsWith(nan)) problems.push(`${path} NaN data: ${r.nan}`);
        if (!r.missing.startsWith('TycheError: ') || !r.missing.endsWith(missing)) problems.push(`${path} missing argument: ${r.missing}`);
      } else {
        if (r.nan !== `ModelError: ${nan}`) problems.push(`${path} NaN data: ${r.nan}`);
        if (r.missing !== `ModelCodeError: ${missing}${hint}`) problems.push(`${path} missing argument: ${r.missing}`);
      }
    }
    expect(problems).toEqual([]);
  });

  // (not importance float64: the table's models compute in JS numbers, which compile: true refuses before it runs them)
  it.each(Object.keys(PATHS).filter((p) => !(p in ENGINES) && p !== 'importance float64'))('the bad-input table on the new path %s: the same error class naming the site as the engines', async (path) => {
    const o = PATHS[path]!;
    const problems: string[] = [];
    for (const c of BAD_INPUTS) {
      const err = await errorOf(() => infer(caseModel(c, o.method as string), { seed: 1, ...o, ...(c.extraOptions ?? {}) } as never));
      const msg = err instanceof Error ? err.message : String(err);
      if (err === undefined) problems.push(`${c.name}: no error`);
      else if (!c.mentions.every((s) => msg.includes(s))) problems.push(`${c.name}: message does not mention ${JSON.stringify(c.mentions)}: ${describeErr(err)}`);
      else if (err instanceof ModelError && c.mentions.some((s) => s.startsWith('site "')) && err.address !== 'bad') problems.push(`${c.name}: names site ${err.address}`);
    }
    expect(problems).toEqual([]);
  });
});

// ---- 2b. long runs: numTensors flat while they run ----

/** A program of T observations of a scalar (no tensor made by the model). */
const scalarObs = (T: number) =>
  model(async ({ sample, observe }: Ctx) => {
    const mu = await sample('mu', Normal(0, 1));
    for (let i = 0; i < T; i++) await observe(`y${i}`, Normal(mu, 1), 0.3);
  }, { name: 'scalar_obs' });

/** The data of `vectorObs` (one array: a literal made at each observation is converted at each, for every particle). */
const VECTOR_DATA = [0.3, 0.1, -0.2, 0.5];

/** A program of T vector observations of a tensor latent (the engine makes every tensor: none in the model body). */
const vectorObs = (T: number) =>
  model(async ({ sample, observe }: Ctx) => {
    const v = await sample('v', Normal(0, 1).expand([4]));
    for (let i = 0; i < T; i++) await observe(`y${i}`, Normal(v, 1), VECTOR_DATA);
  }, { name: 'vector_obs' });

const DIFF_MODEL = MIX.model(D.vpLinear(), 'epsilon');

/** A run that reports its steps to `cb`. */
type Reporting = (cb: (step: number) => void) => Promise<unknown>;

const FLAT_RUNS: [string, Reporting][] = [
  ['vi, 600 steps', (cb: (s: number) => void) => infer(vectorModel, { method: 'vi', steps: 600, samples: 10, seed: 1, onStep: (p: { step: number }) => cb(p.step) })],
  ['svgd, 300 steps', (cb: (s: number) => void) => infer(vectorModel, { method: 'svgd', particles: 8, steps: 300, seed: 1, onStep: (p: { step: number }) => cb(p.step) })],
  ['smc lean runtime, 300 observations', (cb: (s: number) => void) => infer(scalarObs(300), { method: 'smc', particles: 100, batched: false, seed: 1, onStep: (p: { step: number }) => cb(p.step) })],
  ['fkSteering, 200 steps', (cb: (s: number) => void) => D.fkSteering(DIFF_MODEL, { reward: D.linearReward([1, 0]), lambda: 1, particles: 32, steps: 200, seed: 1, onStep: (i: { step: number }) => cb(i.step) } as never)],
  ['sampleDiffusion, 200 steps', (cb: (s: number) => void) => D.sampleDiffusion(DIFF_MODEL, { particles: 32, steps: 200, seed: 1, onStep: (i) => cb(i.step) })],
];

describe('2b. long runs hold numTensors flat while they run (sampled from their progress callbacks)', () => {
  it.each(FLAT_RUNS)('%s', async (_n, run) => {
    const counts = await countsDuring(run);
    expect(counts).toHaveLength(1);
  });

  // program SMC, general runtime: about 7 engine-made tensors per particle per observation stayed alive until the
  // particle's execution ended (100 particles x 300 steps: 215,846 live tensors at the end): a parameter check's
  // comparisons and each site's density (session 8, test/smc/memory.test.ts)
  it('smc general runtime with a tensor latent, 300 observations', async () => {
    const counts = await countsDuring((cb) => infer(vectorObs(300), { method: 'smc', particles: 50, batched: false, lean: false, seed: 1, onStep: (p: { step: number }) => cb(p.step) }));
    expect(counts).toHaveLength(1);
  });

  // program SMC, batched: 12 tensors per step were held until the run ended, whatever the particle count (300 steps:
  // 3616 -> 7205): sites' densities, a parameter check's comparisons, the probe's trace (session 8, test/smc/memory.test.ts)
  it('smc batched, 300 observations', async () => {
    const counts = await countsDuring((cb) => infer(scalarObs(300), { method: 'smc', particles: 100, batched: true, seed: 1, onStep: (p: { step: number }) => cb(p.step) }));
    expect(counts).toHaveLength(1);
  });

  it('the check fails on a run that keeps a tensor per step', async () => {
    const kept: tf.Tensor[] = [];
    const counts = await countsDuring(async (cb) => {
      for (let s = 0; s < 20; s++) {
        kept.push(tf.scalar(s));
        cb(s);
      }
    });
    expect(counts.length).toBe(10);
    tf.dispose(kept);
  });
});

// ---- 3b. steering entry points: bad arguments ----

const abc3 = Lm.TokenVocabulary.characters('abc');
const lm3 = Lm.MarkovLM.random(abc3, new Rng('audit-bad'), { eos: 0.2 });
const stepLM3 = Lm.MarkovLM.random(Lm.TokenVocabulary.characters('ab;#12'), new Rng('audit-bad-steps'), { eos: 0.2 });
const prm3: Lm.StepRewardModel = { name: 'constant', score: async (texts) => texts.map(() => 0.5) };
const reward3 = D.linearReward([0.6, -0.4]);

/** Each steering entry point with good options; `count` names its population-size option, `length` its run-length option. */
const STEER_ENTRIES: readonly { name: string; run: (o: Record<string, unknown>) => Promise<unknown>; base: Record<string, unknown>; count: string; length: string }[] = [
  { name: 'smcSteer', run: (o) => Lm.smcSteer(o as never), base: { lm: lm3, sampler: new Lm.DirectSampler(), particles: 4, maxTokens: 4, seed: 1 }, count: 'particles', length: 'maxTokens' },
  { name: 'smcSteerK', run: (o) => Lm.smcSteerK(o as never), base: { lm: lm3, sampler: new Lm.DirectSampler(), particles: 4, maxTokens: 4, seed: 1 }, count: 'particles', length: 'maxTokens' },
  { name: 'bestOfN', run: (o) => Lm.bestOfN(o as never), base: { lm: lm3, particles: 4, maxTokens: 4, seed: 1 }, count: 'particles', length: 'maxTokens' },
  { name: 'particleFilterSteps', run: (o) => Lm.particleFilterSteps(stepLM3, prm3, '', o as never), base: { particles: 4, maxSteps: 2, seed: 1 }, count: 'particles', length: 'maxSteps' },
  { name: 'beamSearchSteps', run: (o) => Lm.beamSearchSteps(stepLM3, prm3, '', o as never), base: { budget: 4, maxSteps: 2, seed: 1 }, count: 'budget', length: 'maxSteps' },
  { name: 'sampleDiffusion', run: (o) => D.sampleDiffusion(DIFF_MODEL, o as never), base: { particles: 4, steps: 3, seed: 1 }, count: 'particles', length: 'steps' },
  { name: 'fkSteering', run: (o) => D.fkSteering(DIFF_MODEL, o as never), base: { reward: reward3, lambda: 1, particles: 4, steps: 3, seed: 1 }, count: 'particles', length: 'steps' },
  { name: 'fkCorrector', run: (o) => D.fkCorrector(o as never), base: { terms: [{ model: DIFF_MODEL, weight: 1 }], particles: 4, steps: 3, seed: 1 }, count: 'particles', length: 'steps' },
  { name: 'twistedDiffusion', run: (o) => D.twistedDiffusion(DIFF_MODEL, o as never), base: { likelihood: D.mixtureClassLikelihood(MIX, 1, D.vpLinear()), particles: 4, steps: 3, seed: 1 }, count: 'particles', length: 'steps' },
  { name: 'diffusionBestOfN', run: (o) => D.diffusionBestOfN(DIFF_MODEL, o as never), base: { reward: reward3, n: 4, steps: 3, seed: 1 }, count: 'n', length: 'steps' },
  { name: 'diffusionTreeSampling', run: (o) => D.diffusionTreeSampling(DIFF_MODEL, o as never), base: { reward: reward3, budget: 20, steps: 3, batch: 2, seed: 1 }, count: 'budget', length: 'steps' },
  { name: 'pathSearch', run: (o) => D.pathSearch(DIFF_MODEL, o as never), base: { reward: reward3, width: 2, branches: 2, forward: 1, backward: 2, steps: 4, seed: 1 }, count: 'width', length: 'steps' },
  { name: 'zeroOrderSearch', run: (o) => D.zeroOrderSearch(DIFF_MODEL, o as never), base: { reward: reward3, rounds: 1, neighbours: 2, steps: 3, seed: 1 }, count: 'neighbours', length: 'steps' },
];

describe('3b. steering entry points name a bad argument and its value, and free what they made', () => {
  it('a zero population size and a negative run length: every entry point names the option (or the grid\'s steps) and the value', async () => {
    const problems: string[] = [];
    for (const e of STEER_ENTRIES) {
      const before = tf.memory().numTensors;
      const ok = await errorOf(() => e.run(e.base));
      if (ok !== undefined) problems.push(`${e.name}: good options fail: ${describeErr(ok)}`);
      const zero = describeErr(await errorOf(() => e.run({ ...e.base, [e.count]: 0 })));
      if (!(zero.includes(`${e.count} must be`) && zero.includes('got 0'))) problems.push(`${e.name} ${e.count}: 0 -> ${zero}`);
      const negative = describeErr(await errorOf(() => e.run({ ...e.base, [e.length]: -1 })));
      if (!(negative.includes('steps must be') || negative.includes(`${e.length} must be`)) || !negative.includes('got -1')) problems.push(`${e.name} ${e.length}: -1 -> ${negative}`);
      if (tf.memory().numTensors !== before) problems.push(`${e.name}: ${tf.memory().numTensors - before} tensors left`);
    }
    expect(problems).toEqual([]);
  });

  // (a misspelt `particels` or `maxToken` ran silently with the default; every steering entry point now checks its option
  // names as infer does: src/core/options.ts)
  it.each(STEER_ENTRIES.map((e) => [e.name, e] as const))('%s refuses an unknown option, naming it', async (_n, e) => {
    const err = await errorOf(() => e.run({ ...e.base, particels: 3 }));
    expect(describeErr(err)).toMatch(/unknown option "particels"/);
  });
});

// ---- the ODE solver ----

describe('odeSolve (synchronous: a signal aborted before or during the solve, e.g. from the right-hand side)', () => {
  it('throws the signal\'s own reason, as the engines do (it threw its own "odeSolve: aborted"), and leaves no tensor', () => {
    const ac = new AbortController();
    const reason = new Error('stop the solve');
    let calls = 0;
    // the right-hand side aborts on its 50th call: the solver checks every 100 steps and between output times
    const decay = (_t: number, y: Float64Array, p: Float64Array) => {
      if (++calls === 50) ac.abort(reason);
      return [-p[0]! * y[0]!];
    };
    const before = tf.memory().numTensors;
    let thrown: unknown;
    try {
      odeSolve(decay, [1], 0, Array.from({ length: 2000 }, (_, i) => (i + 1) / 10), [0.1], { signal: ac.signal });
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBe(reason);
    expect(tf.memory().numTensors).toBe(before);
  });
});

// ---- the flow fitter ----

describe('fitFlow (synchronous: it takes no signal)', () => {
  const layers = () => [Flows.affineCoupling(), Flows.reverse(), Flows.affineCoupling()];

  it('two fits, each disposed, leave numTensors where it was; a fit that diverges throws naming the step and leaves nothing behind', async () => {
    const x = tf.randomNormal([64, 2], 0, 1, 'float32', 1);
    const before = tf.memory().numTensors;
    for (let k = 0; k < 2; k++) Flows.fitFlow(x, layers(), { steps: 5, seed: k }).dispose();
    expect(tf.memory().numTensors).toBe(before);
    // regression: the parameters and the step's gradients were left alive (16 tensors) when the loss was not finite
    expect(() => Flows.fitFlow(x, layers(), { steps: 50, optimizer: { name: 'adam', lr: 1e8 }, seed: 1 })).toThrow(/fitFlow: the loss is NaN at step \d+/);
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });

  // known gap: fitFlow is a synchronous loop (no signal, no yield), so a long fit cannot be aborted at all; the VI
  // flow guides ('flow' autoguide) are the abortable way to fit a flow
  it.skip('a long fit can be aborted (known gap: fitFlow is synchronous and takes no signal)', () => {});
});
