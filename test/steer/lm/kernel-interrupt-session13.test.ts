/**
 * STEER (session 13): a Jupyter kernel interrupt (tslab) stops a steering run.
 * tslab ends the cell at once but the promise runs on; tyche, loaded in a
 * tslab kernel, counts the kernel's SIGINTs and stops its paced loops
 * (`infer/kernel-interrupt.ts`). This file poses as tslab (`__tslab__` set
 * before tyche loads) and sends the SIGINT as a process event.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

type Mods = {
  Rng: typeof import('../../../src/core/rng.js').Rng;
  MarkovLM: typeof import('../../../src/steer/lm/markov.js').MarkovLM;
  TokenVocabulary: typeof import('../../../src/steer/lm/vocab.js').TokenVocabulary;
  DirectSampler: typeof import('../../../src/steer/lm/samplers/direct.js').DirectSampler;
  smcSteer: typeof import('../../../src/steer/lm/smc/steer.js').smcSteer;
  bestOfN: typeof import('../../../src/steer/lm/smc/baselines.js').bestOfN;
  wrapLanguageModel: typeof import('../../../src/steer/lm/cached.js').wrapLanguageModel;
  bestOfNSteps: typeof import('../../../src/steer/lm/scaling/baselines.js').bestOfNSteps;
  beamSearchSteps: typeof import('../../../src/steer/lm/scaling/baselines.js').beamSearchSteps;
  particleFilterSteps: typeof import('../../../src/steer/lm/scaling/pf.js').particleFilterSteps;
};
let m: Mods;
const listenersBefore = process.listeners('SIGINT');

afterAll(() => {
  // leave the worker as it was: no tslab mark, no SIGINT listener of this file's tyche
  delete (globalThis as { __tslab__?: unknown }).__tslab__;
  for (const l of process.listeners('SIGINT')) if (!listenersBefore.includes(l)) process.off('SIGINT', l);
});

beforeAll(async () => {
  (globalThis as { __tslab__?: unknown }).__tslab__ = {};
  m = {
    ...(await import('../../../src/core/rng.js')),
    ...(await import('../../../src/steer/lm/markov.js')),
    ...(await import('../../../src/steer/lm/vocab.js')),
    ...(await import('../../../src/steer/lm/samplers/direct.js')),
    ...(await import('../../../src/steer/lm/smc/steer.js')),
    ...(await import('../../../src/steer/lm/smc/baselines.js')),
    ...(await import('../../../src/steer/lm/cached.js')),
    ...(await import('../../../src/steer/lm/scaling/baselines.js')),
    ...(await import('../../../src/steer/lm/scaling/pf.js')),
  } as Mods;
});

/** `run`'s outcome within `ms`: 'finished', the error's message, or 'hung'. */
async function within(ms: number, run: Promise<unknown>): Promise<string> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hung = new Promise<string>((r) => (timer = setTimeout(() => r('hung'), ms)));
  try {
    return await Promise.race([run.then(() => 'finished', (e: Error) => `${e.name}: ${e.message}`), hung]);
  } finally {
    clearTimeout(timer);
  }
}

/** Send the kernel's interrupt once `started()` (the run is under way: a fixed delay could fire before it began, under load). */
function interruptOnce(started: () => boolean): void {
  const poll = (): void => void (started() ? process.emit('SIGINT' as never) : setTimeout(poll, 1));
  setTimeout(poll, 1);
}

const STOPPED = 'AbortError: The run was stopped by a Jupyter kernel interrupt.';

/** A model over `vocab` whose passes take `delayMs` each, or never settle while `hang` is set. */
function slowModel<L extends { vocab: unknown; nextTokenLogprobs(p: readonly (readonly number[])[]): Promise<Float32Array[]> }>(inner: L, delayMs: number) {
  const model = {
    name: 'slow',
    vocab: inner.vocab as never,
    contextLength: Infinity,
    hang: false,
    passes: 0,
    nextTokenLogprobs: (prefixes: readonly (readonly number[])[]) =>
      ++model.passes && model.hang ? new Promise<Float32Array[]>(() => undefined) : new Promise<Float32Array[]>((r) => setTimeout(() => void inner.nextTokenLogprobs(prefixes).then(r), delayMs)),
  };
  return model;
}

describe('a kernel interrupt stops a steering run, and the next run goes on', () => {
  it('smcSteer and bestOfN on a slow LM (2 ms a pass, 400 tokens at most)', async () => {
    const abc = m.TokenVocabulary.characters('abc');
    const markov = m.MarkovLM.random(abc, new m.Rng('steer13-ki'), { eos: 0.001 });
    const inner = slowModel(markov, 2);
    const lm = m.wrapLanguageModel(inner);
    for (const run of [() => m.smcSteer({ lm, sampler: new m.DirectSampler(), particles: 8, maxTokens: 400, seed: 1 }), () => m.bestOfN({ lm, particles: 8, maxTokens: 400, seed: 2 })]) {
      const from = inner.passes;
      const pending = run();
      interruptOnce(() => inner.passes > from + 2);
      expect(await within(3000, pending)).toBe(STOPPED);
    }
    expect(await within(5000, m.smcSteer({ lm, sampler: new m.DirectSampler(), particles: 4, maxTokens: 3, seed: 1 }))).toBe('finished');
  }, 20_000);

  it('smcSteer on an LM whose pass never settles: stopped, and the wrapped model serves the next run', async () => {
    const abc = m.TokenVocabulary.characters('abc');
    const markov = m.MarkovLM.random(abc, new m.Rng('steer13-ki2'), { eos: 0.25 });
    const inner = slowModel(markov, 0);
    const lm = m.wrapLanguageModel(inner);
    inner.hang = true;
    const pending = m.smcSteer({ lm, sampler: new m.DirectSampler(), particles: 8, maxTokens: 4, seed: 1 });
    interruptOnce(() => inner.passes > 0);
    expect(await within(3000, pending)).toBe(STOPPED);
    inner.hang = false;
    expect(await within(3000, m.smcSteer({ lm, sampler: new m.DirectSampler(), particles: 8, maxTokens: 4, seed: 1 }))).toBe('finished');
  }, 20_000);

  it('step search (best-of-N, beam search, particle filter) on a slow LM', async () => {
    const { lm: stepLM } = await import('./step-solutions.js');
    const prm = { name: 'flat', score: async (t: readonly string[]) => t.map(() => 0.5) };
    const inner = slowModel(stepLM, 40);
    const mk = () => m.wrapLanguageModel(inner);
    const runs: [string, () => Promise<unknown>][] = [
      ['bestOfNSteps', () => m.bestOfNSteps(mk(), prm, '', { budget: 2000, seed: 1 })],
      ['beamSearchSteps', () => m.beamSearchSteps(mk(), prm, '', { budget: 2000, seed: 1 })],
      ['particleFilterSteps', () => m.particleFilterSteps(mk(), prm, '', { particles: 2000, seed: 1 })],
    ];
    for (const [name, run] of runs) {
      const from = inner.passes;
      const pending = run();
      interruptOnce(() => inner.passes > from);
      expect(await within(3000, pending), name).toBe(STOPPED);
    }
  }, 30_000);
});

describe('a kernel interrupt stops diffusion steering (paced loops), tensors freed', () => {
  it('fkSteering and diffusionBestOfN over 5000 steps stop within 3 s of the interrupt; numTensors as before', async () => {
    const tf = await import('@tensorflow/tfjs-core');
    const { initBackend } = await import('../../../src/backend/select.js');
    await initBackend();
    const D = await import('../../../src/steer/diffusion/index.js');
    const St = await import('../../../src/steer/diffusion/steering/index.js');
    const { MIX } = await import('../diffusion/fixtures.js');
    const plain = MIX.model(D.vpLinear(), 'epsilon');
    let calls = 0;
    // the network's calls count the run's progress (the interrupt is sent once it is under way)
    const model: typeof plain = { ...plain, predict: (...a: Parameters<typeof plain.predict>) => (calls++, plain.predict(...a)) };
    const reward = St.linearReward([0.6, -0.4]);
    const runs: [string, () => Promise<unknown>][] = [
      ['fkSteering', () => St.fkSteering(model, { reward, lambda: 1, particles: 64, steps: 5000, seed: 1 })],
      ['diffusionBestOfN', () => St.diffusionBestOfN(model, { reward, n: 64, steps: 5000, seed: 1 })],
    ];
    const before = tf.memory().numTensors;
    for (const [name, run] of runs) {
      const from = calls;
      const pending = run();
      interruptOnce(() => calls > from);
      expect(await within(3000, pending), name).toBe(STOPPED);
      expect(tf.memory().numTensors, name).toBe(before);
    }
  }, 30_000);
});
