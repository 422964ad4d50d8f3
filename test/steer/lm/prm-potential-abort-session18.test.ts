/**
 * Session 18 (STEERUSER4): token-level steering passed no signal to its potentials, so a process reward model used
 * as a potential (`ProcessRewardPotential` over the shipped arith-prm) scored each batch in one synchronous forward
 * pass: the event loop, and an abort, waited for it (session 17 gave the step methods' reward calls the signal, not
 * the potentials'). Potential calls now carry the run's signal (`prefix(x, { signal })`, ...), and the PRM potential
 * hands it to its scorer, so the shipped PRM runs its pass in pieces with event-loop turns between them and stops at
 * the next piece on an abort. The same ops on the same batches: seeded results equal bit for bit. Event-loop turns
 * are counted, never wall time (FLAKE, session 16).
 */
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { wrapLanguageModel } from '../../../src/steer/lm/cached.js';
import { ProcessRewardPotential, RewardPotential, type StepScorer } from '../../../src/steer/lm/potentials/reward.js';
import { DirectSampler } from '../../../src/steer/lm/samplers/direct.js';
import { smcSteer } from '../../../src/steer/lm/smc/steer.js';
import { CharVocabulary } from '../../../src/steer/lm/transformer/tokenizer.js';
import { loadProcessRewardModel, loadTransformerLM } from '../../../src/steer/lm/transformer/files.js';

const prm = loadProcessRewardModel('arith-prm');
const lm = wrapLanguageModel(loadTransformerLM('arith-char'));
afterAll(() => {
  prm.dispose();
  lm.dispose();
});

const PROMPT = 'Q: 3+4*2-7 A:';

/** Runs `work`, counting event-loop turns (setImmediate) that happen while a scorer call is in flight. */
function turnCounter(): { inFlight: number; turnsInside: number; calls: number; stop(): void } {
  const c = { inFlight: 0, turnsInside: 0, calls: 0, on: true, stop: () => void (c.on = false) };
  const tick = (): void => {
    if (!c.on) return;
    if (c.inFlight > 0) c.turnsInside++;
    setImmediate(tick);
  };
  setImmediate(tick);
  return c;
}

function steerOptions(score: StepScorer, signal?: AbortSignal) {
  const potential = new ProcessRewardPotential(lm.vocab, { score, context: PROMPT, delimiter: ';', link: 'log' }, 'arith-prm');
  return { lm, potential, sampler: new DirectSampler(), particles: 6, maxTokens: 14, seed: 5, prompt: lm.vocab.encode!(PROMPT), ...(signal ? { signal } : {}) };
}

describe('token steering passes its signal to a PRM potential', () => {
  it('the scorer gets the run signal and yields inside its pass; results equal bit for bit', async () => {
    const plain = await smcSteer(steerOptions((t, o) => prm.score(t, o)));
    lm.clearCache();
    const seen: (AbortSignal | undefined)[] = [];
    const counter = turnCounter();
    const ac = new AbortController();
    const paced = await smcSteer(
      steerOptions(async (t, o) => {
        seen.push(o.signal);
        counter.calls++;
        counter.inFlight++;
        try {
          return await prm.score(t, o);
        } finally {
          counter.inFlight--;
        }
      }, ac.signal),
    );
    counter.stop();
    expect(counter.calls).toBeGreaterThan(0);
    // the batch's signal (session 19: one that aborts once every run waiting on the batch has, see shared-abort.ts)
    expect(seen.every((s) => s instanceof AbortSignal && !s.aborted)).toBe(true);
    // each paced pass waits before every block half and before the head (2 L + 1); an unpaced pass never turns
    expect(counter.turnsInside).toBeGreaterThanOrEqual(counter.calls * (2 * prm.config.nLayers + 1));
    expect(paced.logZ).toBe(plain.logZ);
    expect(paced.particles.map((p) => [p.text, p.logWeight])).toEqual(plain.particles.map((p) => [p.text, p.logWeight]));
  });

  it('an abort inside the PRM pass rejects the run, stops the pass, keeps numTensors flat, and poisons no memo', async () => {
    await smcSteer(steerOptions((t, o) => prm.score(t, o))); // warm kernels
    lm.clearCache();
    const before = tf.memory().numTensors;
    const stop = new AbortController();
    let outcome: Promise<string> | undefined;
    const opts = steerOptions((t, o) => {
      const p = prm.score(t, o);
      outcome ??= p.then(
        () => 'finished',
        (e: Error) => e.message,
      );
      setImmediate(() => stop.abort(new Error('user stop')));
      return p;
    }, stop.signal);
    await expect(smcSteer(opts)).rejects.toThrow(/user stop/);
    expect(await outcome).toBe('user stop');
    for (let i = 0; i < 4; i++) await new Promise((r) => setImmediate(r));
    lm.clearCache();
    expect(tf.memory().numTensors).toBe(before);
    // the same potential afterwards, without a signal: the cut-off scores were not memoised as failures
    const again = await smcSteer({ ...opts, signal: undefined });
    lm.clearCache();
    const fresh = await smcSteer(steerOptions((t, o) => prm.score(t, o)));
    expect(again.logZ).toBe(fresh.logZ);
  });
});

describe('ProcessRewardPotential batches under several runs', () => {
  const abc = new CharVocabulary(['a', 'b', ';']);
  const x = (s: string): number[] => abc.encode(s);

  it('cuts a batch only when every run that asked for it is aborted; a run without a signal is never cut', async () => {
    const calls: (AbortSignal | undefined)[] = [];
    const score = async (texts: readonly string[], o: { complete: boolean; signal?: AbortSignal }) => {
      calls.push(o.signal);
      await new Promise((r) => setImmediate(r));
      if (o.signal?.aborted) throw o.signal.reason;
      return texts.map(() => 0.5);
    };
    const pot = new ProcessRewardPotential(abc, { score });
    const a = new AbortController();
    const b = new AbortController();
    // two runs ask for the same text in one tick; run a aborts during the pass: b still gets its score
    const pa = pot.prefix(x('a;'), { signal: a.signal }) as Promise<number>;
    const pb = pot.prefix(x('a;'), { signal: b.signal }) as Promise<number>;
    setImmediate(() => a.abort(new Error('a stops')));
    expect(await pb).toBeCloseTo(Math.log(0.5), 12);
    expect(await pa).toBeCloseTo(Math.log(0.5), 12); // the shared score was not cut
    expect(calls[0]).not.toBe(a.signal);
    expect(calls[0]).not.toBe(b.signal);
    // both aborted before the batch starts: the scorer is not called, both reject with the abort
    const c = new AbortController();
    const d = new AbortController();
    const pc = pot.prefix(x('b;'), { signal: c.signal }) as Promise<number>;
    const pd = pot.prefix(x('b;'), { signal: d.signal }) as Promise<number>;
    c.abort(new Error('c stops'));
    d.abort(new Error('d stops'));
    await expect(pc).rejects.toThrow(/stops/);
    await expect(pd).rejects.toThrow(/stops/);
    expect(calls.length).toBe(1);
    // a requester without a signal: the batch gets none
    const pe = pot.prefix(x('b;'), { signal: c.signal });
    const pf = pot.prefix(x('b;'));
    await expect(pf).resolves.toBeCloseTo(Math.log(0.5), 12);
    await expect(pe).resolves.toBeCloseTo(Math.log(0.5), 12);
    expect(calls[1]).toBeUndefined();
  });

  it('RewardPotential passes the signal to the reward function', async () => {
    const seen: unknown[] = [];
    const pot = new RewardPotential(abc, (_t, _x, o) => (seen.push(o.signal), 0));
    const ac = new AbortController();
    await pot.complete(x('a'), { signal: ac.signal });
    await pot.complete(x('a'));
    expect(seen).toEqual([ac.signal, undefined]);
  });
});
