/**
 * Reliability, session 9 (ABORT2): loops whose single step is long honour an
 * abort inside the step, with bounds taken from the work in flight, not from
 * timings:
 *
 * - SVGD, one model run per particle: no model run starts after the abort
 *   (before: the rest of the step's particles ran, up to n - 1 runs).
 * - token steering (`bestOfN`, `locallyConstrainedDecode`) at many
 *   particles: no particle advances after the abort beyond the chunk in
 *   flight (before: the whole step's particles, 50,000 of them, advanced);
 *   the same for SMC-steer's N * k children (`smcSteerK`).
 *
 * - importance's float64 weights (`Float64Weights.create`, recording the
 *   model: several model runs on tfjs before any particle): an abort inside
 *   any of those runs stops that run at the next site (the traced run
 *   finishes, and the run after it stops at its first site); before: every
 *   run of the recording went on, 100 sites each.
 *
 * - SVGD at many particles: the Stein direction (O(n^2 d) a step) is
 *   computed a block of rows at a time, yielding between blocks, and the
 *   median bandwidth is selected, not sorted (identical values).
 * - `Posterior.predictive(n)`: n model runs took no signal and never
 *   yielded; now no run starts after an abort, and a timer gets through.
 *
 * Each bound fails on the code before this session (checked by running the
 * file against the old files; the figures are in the commit messages).
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, test } from 'vitest';
import { Normal, infer, initBackend, model } from '../../src/index.js';
import { Rng } from '../../src/core/rng.js';
import * as Lm from '../../src/steer/lm/index.js';
import { UnweightedSampler } from '../../src/steer/lm/smc/baselines.js';
import { STEP_CHUNK } from '../../src/steer/lm/smc/token-fk.js';
import { Float64Weights } from '../../src/infer/importance-weights.js';
import { medianBandwidth } from '../../src/infer/vi/svgd.js';
import { kthSmallest } from '../../src/math/select.js';
import { threadCpuMs } from '../helpers/cpu-time.js';

beforeAll(async () => {
  await initBackend();
});

describe('svgd: one model run per particle', () => {
  test('no model run starts after an abort raised inside a run (prior init and steps)', async () => {
    for (const init of ['uniform', 'prior'] as const) {
      const ac = new AbortController();
      let runs = 0;
      let runsAfterAbort = 0;
      // a run count that aborts in the middle of the 3rd step's particles (and, with init 'prior', of the init's)
      const abortAt = init === 'prior' ? 5 : 40;
      const m = model(async ({ sample, observe }) => {
        if (ac.signal.aborted) runsAfterAbort++;
        if (++runs === abortAt) ac.abort(new Error('stop'));
        const x = await sample('x', Normal(0, 1));
        await observe('y', Normal(x, 1), 0.5);
      });
      const run = infer(m, { method: 'svgd', particles: 16, steps: 1000, vectorize: false, init, seed: 1, signal: ac.signal });
      await expect(run).rejects.toThrow('stop');
      expect(ac.signal.aborted).toBe(true);
      expect(runsAfterAbort).toBe(0);
    }
  });
});

describe('token steering: the work of a step at many particles', () => {
  const abc = Lm.TokenVocabulary.characters('abc');
  const markov = Lm.MarkovLM.random(abc, new Rng('abort2'), { eos: 1e-6 });
  /** `inner` counting the `sample` calls that start after `signal` is aborted. */
  const counting = (inner: Lm.TokenSampler, signal: AbortSignal) => {
    const c = {
      name: inner.name,
      before: 0,
      after: 0,
      sample(ctx: Parameters<Lm.TokenSampler['sample']>[0]) {
        if (signal.aborted) c.after++;
        else c.before++;
        return inner.sample(ctx);
      },
    };
    return c;
  };
  // bestOfN and locallyConstrainedDecode are smcSteer with these samplers and essThreshold 0 (baselines.ts)
  test.each([
    ['bestOfN (DirectSampler)', () => new Lm.DirectSampler()],
    ['locallyConstrainedDecode (unweighted LocallyOptimalSampler)', () => new UnweightedSampler(new Lm.LocallyOptimalSampler())],
  ])('%s: after an abort, at most the chunk in flight draws its token', async (_name, make) => {
    const ac = new AbortController();
    // the LM aborts on its second forward pass: the first step has drawn (4 chunks), the second
    // step's particles are waiting for their rows; without the signal checks of session 9 all
    // 4 * STEP_CHUNK would go on to draw
    let passes = 0;
    const lm: Lm.LanguageModel = {
      name: 'aborting-markov',
      vocab: markov.vocab,
      contextLength: markov.contextLength,
      nextTokenLogprobs: (prefixes) => {
        if (++passes === 2) ac.abort(new Error('stop'));
        return markov.nextTokenLogprobs(prefixes);
      },
    };
    const sampler = counting(make(), ac.signal);
    const particles = 4 * STEP_CHUNK;
    const run = Lm.smcSteer({ lm, potential: new Lm.AutomatonPotential(abc, '(a|b)*c(a|b|c)*'), sampler, essThreshold: 0, particles, maxTokens: 50, seed: 1, signal: ac.signal });
    await expect(run).rejects.toThrow('stop');
    // the abort came inside the run (the first step drew); since session 13 a chunk waiting for
    // its rows leaves its LM request at once (the request carries the signal), so `after` is 0 here
    expect(sampler.before).toBeGreaterThan(0);
    expect(sampler.after).toBeLessThanOrEqual(STEP_CHUNK); // before session 9: every particle of the step, 4 * STEP_CHUNK
  });

  test('smcSteerK: after an abort, at most the chunk in flight of the N * k children draws its token', async () => {
    const ac = new AbortController();
    let passes = 0;
    const lm: Lm.LanguageModel = { name: 'aborting-markov', vocab: markov.vocab, contextLength: markov.contextLength, nextTokenLogprobs: (p) => (++passes === 2 && ac.abort(new Error('stop')), markov.nextTokenLogprobs(p)) };
    const sampler = counting(new Lm.DirectSampler(), ac.signal);
    await expect(Lm.smcSteerK({ lm, sampler, k: 4, particles: STEP_CHUNK, maxTokens: 50, seed: 1, signal: ac.signal })).rejects.toThrow('stop');
    expect(sampler.before).toBeGreaterThan(0);
    expect(sampler.after).toBeLessThanOrEqual(STEP_CHUNK); // before session 9: all 4 * STEP_CHUNK children
  });

  test('bestOfN and locallyConstrainedDecode pass their signal on (50,000 particles, aborted before the first step ends)', async () => {
    for (const f of [Lm.bestOfN, Lm.locallyConstrainedDecode]) {
      const ac = new AbortController();
      let steps = 0;
      const lm: Lm.LanguageModel = { name: 'aborting-markov', vocab: markov.vocab, contextLength: markov.contextLength, nextTokenLogprobs: (p) => (ac.abort(new Error('stop')), markov.nextTokenLogprobs(p)) };
      await expect(f({ lm, potential: new Lm.AutomatonPotential(abc, '(a|b)*c(a|b|c)*'), particles: 50_000, maxTokens: 50, seed: 1, signal: ac.signal, onStep: () => void steps++ })).rejects.toThrow('stop');
      expect(steps).toBe(0); // before: the first step's 50,000 particles all finished
    }
  });
});

describe('importance: the float64 weights record of a many-site model', () => {
  const K = 100;
  /** A model of K tensor-valued sites counting its runs and the sites it visits after `signal` aborts. */
  const counted = (abortAtRun: number) => {
    const ac = new AbortController();
    const c = { ac, runs: 0, runsAfter: 0, sitesAfter: 0 };
    const m = model(async ({ sample, observe }) => {
      const run = ++c.runs;
      if (ac.signal.aborted) c.runsAfter++;
      for (let i = 0; i < K; i++) {
        if (ac.signal.aborted) c.sitesAfter++;
        else if (run === abortAtRun && i === 10) ac.abort(new Error('stop'));
        const x = await sample(`x${i}`, Normal(tf.scalar(0), 1));
        await observe(`y${i}`, Normal(x, 1), 0.5);
      }
    });
    return { c, m };
  };

  test('an abort inside any run of the recording, the traced run included: that run stops at its next site, and a run after it at its first', async () => {
    const whole = counted(-1);
    expect(await Float64Weights.create(whole.m, undefined, [])).toBeInstanceOf(Float64Weights);
    const runs = whole.c.runs; // the prior run, the layout, two probes, the traced run, the self-check's runs
    expect(runs).toBeGreaterThanOrEqual(5);
    for (let k = 1; k <= runs; k++) {
      const { c, m } = counted(k);
      await expect(infer(m, { method: 'importance', particles: 4, seed: 1, signal: c.ac.signal })).rejects.toThrow('stop');
      // (session 10, QUEUE: the traced run is paced too; before, it went on to its end, K - 11 more sites)
      // a refused record's tfjs run of the point may start after the abort: it stops at its first site
      expect(c.runsAfter, `abort in run ${k}`).toBeLessThanOrEqual(1);
      expect(c.sitesAfter, `abort in run ${k}`).toBeLessThanOrEqual(1);
    }
  });
});

describe('Posterior.predictive: n model runs', () => {
  test('no run starts after an abort raised inside a run, and the runs yield to the event loop', async () => {
    const ac = new AbortController();
    let runs = 0;
    let runsAfter = 0;
    const m = model(async ({ sample, observe }) => {
      if (ac.signal.aborted) runsAfter++;
      const x = await sample('x', Normal(0, 1));
      await observe('y', Normal(x, 1), 0.5);
      // the predictive's 5th run aborts (the inference's own runs come first)
      if (predicting && ++runs === 5) ac.abort(new Error('stop'));
    });
    let predicting = false;
    const post = await infer(m, { method: 'importance', particles: 50, seed: 1 });
    predicting = true;
    await expect(post.predictive(2000, { seed: 1, signal: ac.signal })).rejects.toThrow('stop');
    expect(runsAfter).toBe(0);
    // a timer set before 200 runs of a 400-site model fires during them
    const big = model(async ({ sample }) => {
      for (let i = 0; i < 400; i++) await sample(`z${i}`, Normal(0, 1));
    });
    const prior = await infer(big, { method: 'importance', particles: 2, seed: 1 });
    let fired = 0;
    let done = false;
    const timer = setInterval(() => void (done || fired++), 1);
    const c0 = performance.now();
    await prior.predictive(200, { seed: 1 });
    done = true;
    clearInterval(timer);
    // the runs take well over PACE_INTERVAL_MS (10 ms), so a paced loop lets the timer through at least once
    expect(performance.now() - c0).toBeGreaterThan(20);
    expect(fired).toBeGreaterThan(0);
    prior.dispose?.();
    post.dispose?.();
  });
});

describe('svgd: the O(n^2) work of a step at many particles', () => {
  test('medianBandwidth selects the median (equal to sorting for it), with ties, odd and even pair counts', () => {
    const rng = new Rng('bw');
    for (const [n, d, grid] of [[2, 1, 0], [3, 2, 0], [4, 1, 2], [7, 1, 3], [40, 2, 0], [41, 3, 4]] as const) {
      // grid > 0: points on a coarse grid, so many distances tie
      const x = Float64Array.from({ length: n * d }, () => (grid ? Math.floor(rng.uniform() * grid) : rng.normal()));
      const dists: number[] = [];
      for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) dists.push(Array.from({ length: d }, (_, k) => (x[i * d + k]! - x[j * d + k]!) ** 2).reduce((a, b) => a + b, 0));
      dists.sort((a, b) => a - b);
      const m = dists.length >> 1;
      const med2 = dists.length % 2 ? dists[m]! : (dists[m - 1]! + dists[m]!) / 2;
      expect(medianBandwidth(x, n, d)).toBe(Math.max(med2 / Math.log(n + 1), 1e-8));
    }
    const a = Float64Array.from([5, 1, 4, 1, 5, 9, 2, 6, 5, 3]);
    const sorted = Array.from(a).sort((p, q) => p - q);
    for (let k = 0; k < a.length; k++) expect(kthSmallest(Float64Array.from(a), k)).toBe(sorted[k]);
  });

  test('a step at 2000 particles yields to the event loop inside its O(n^2) work (longest CPU stretch between event-loop turns under a fifth of a step)', async () => {
    const m = model(async ({ sample, observe }) => {
      const x = await sample('x', Normal(0, 1));
      await observe('y', Normal(x, 1), 0.5);
    });
    // Measured in the main thread's CPU time, not wall time: on a loaded machine the OS stalls the process between
    // any two instructions, and a wall-clock gap then says nothing about the library (CI failed on that, 3 of 3,
    // with the bound in wall time; FLAKE session 16); the process's total CPU also counts V8 marking garbage on
    // helper threads meanwhile. The main thread's CPU between two turns of the event loop is the work the library
    // did without a yield, on any machine. A paced step yields every PACE_INTERVAL_MS (10 ms) of wall time, so its
    // longest stretch is that plus one block of work or one batched gradient: 17-19 ms of a step's 176-182 ms here
    // at load 14 (fewer CPU ms between yields under load, as the wall interval then holds less CPU). Planted: an
    // unpaced Stein direction holds 68-71% of a step, an unpaced median bandwidth 31-33%; on a faster machine a
    // step at 2000 particles (O(n^2 d)) stays well above 10 ms.
    // up to 3 tries, the first within the bound counts (a major GC can land in one stretch); an unpaced step misses every time
    let ok = false;
    const seen: string[] = [];
    for (let k = 0; k < 3 && !ok; k++) {
      // the longest CPU stretch between event-loop turns from the end of step 1 to the end of step 4 (three whole steps)
      const stepCpu: number[] = [];
      let stretch = 0;
      let last = 0;
      let measuring = false;
      let turns = 0;
      let running = true;
      const turn = (): void => {
        if (!running) return;
        const now = threadCpuMs();
        if (measuring) [stretch, turns] = [Math.max(stretch, now - last), turns + 1];
        last = now;
        setImmediate(turn);
      };
      setImmediate(turn);
      const onStep = (p: { step: number }): void => {
        const now = threadCpuMs();
        if (p.step === 1) [measuring, last] = [true, now];
        if (p.step === 4) [(stretch = Math.max(stretch, now - last)), (measuring = false)];
        if (p.step <= 4) stepCpu.push(now);
      };
      try {
        const post = await infer(m, { method: 'svgd', particles: 2000, steps: 5, seed: 1, onStep });
        post.dispose?.();
      } finally {
        running = false;
      }
      const step = (stepCpu[3]! - stepCpu[0]!) / 3; // the mean step's CPU time, from the run itself
      seen.push(`longest stretch ${stretch.toFixed(1)} ms of CPU, step ${step.toFixed(1)} ms, ${turns} turns`);
      ok = stretch < step / 5;
    }
    console.log(`svgd yield check at 2000 particles: ${seen.join('; ')}`);
    expect(ok, seen.join('; ')).toBe(true);
  });
});
