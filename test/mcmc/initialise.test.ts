/**
 * Chain initialisation (src/infer/mcmc/initialise.ts): the L-BFGS ascent,
 * the strategies' costs and choices, a funnel the ascent must not run down,
 * identical starts under the sequential and vectorised drivers, and that
 * chains stay independent: a well-separated symmetric bimodal target still
 * shows R-hat > 1.01, which a "copy the best chain's start" implementation
 * (planted below) hides.
 */
import { describe, expect, it } from 'vitest';
import { rngFrom } from '../../src/core/rng.js';
import { rhatBulk } from '../../src/diagnostics/rhat.js';
import type { GradientCoroutine } from '../../src/infer/mcmc/integrator.js';
import { DEFAULT_INIT_SETTINGS, type InitStrategy, ascend, initialise } from '../../src/infer/mcmc/initialise.js';
import { type LogDensityTarget, type McmcSamples, parameterDraws, sampleNuts, sampleNutsBatched } from '../../src/infer/mcmc/index.js';
import { eightSchoolsCentered, gaussian } from './targets.js';

/** Runs a gradient coroutine on a single-point target; counts the evaluations. */
function drive<T>(co: GradientCoroutine<T>, target: LogDensityTarget): { value: T; evaluations: number } {
  let evaluations = 0;
  let step = co.next();
  while (!step.done) {
    evaluations += 1;
    const r = target(Float64Array.from(step.value)) as { logp: number; grad: ArrayLike<number> };
    step = co.next({ logp: r.logp, grad: r.grad, offset: 0 });
  }
  return { value: step.value, evaluations };
}

const cov = Float64Array.from([1, 1.8, 1.8, 4]); // sd 1 and 2, correlation 0.9
const mean = Float64Array.from([1, -1]);

describe('L-BFGS ascent', () => {
  it('reaches the mode of a correlated Gaussian, never going downhill; kept is the point after the first iterations', () => {
    const g = gaussian(mean, cov);
    const start = drive(function* () {
      const a = yield [6, -9];
      return { q: [6, -9], logp: a.logp, grad: [a.grad[0]!, a.grad[1]!] };
    }(), g.target).value;
    const { value } = drive(ascend(start, 3, 30), g.target);
    // it stops once a step gains < 1e-8 (1 + |log p|); the maximum of this log density is 0
    expect(value.end.logp).toBeGreaterThan(-1e-6);
    expect(Math.abs(value.end.q[0]! - 1)).toBeLessThan(1e-3);
    expect(Math.abs(value.end.q[1]! + 1)).toBeLessThan(1e-3);
    expect(value.kept.logp).toBeGreaterThanOrEqual(start.logp);
    expect(value.end.logp).toBeGreaterThanOrEqual(value.kept.logp);
    expect(value.kept.q).not.toEqual(value.end.q);
  });

  it('takes the same path bit for bit as the implementation before its first-call rewrite (issue 16: plain loops, no spread or map)', () => {
    // golden values from the L-BFGS direction as written before session 11 (a spread copy and a map callback);
    // the rewrite kept the arithmetic and its order, so draws stay bit-identical for a fixed seed
    const g = gaussian(Float64Array.from([0.5, -1, 2]), Float64Array.from([1, 0.6, 0.2, 0.6, 2, 0.5, 0.2, 0.5, 0.5]));
    const start = drive(function* () {
      const a = yield [3, -2, 1];
      return { q: [3, -2, 1], logp: a.logp, grad: [a.grad[0]!, a.grad[1]!, a.grad[2]!] };
    }(), g.target).value;
    const { value, evaluations } = drive(ascend(start, 3, 4), g.target);
    expect(evaluations).toBe(7);
    expect(value.kept.q).toEqual([0.4820191016145176, -1.0582327028556944, 2.0110250686275086]);
    expect(value.end.q).toEqual([0.5001173281023823, -1.0000441517764636, 1.9999361822223622]);
  });

  it('stops at a point where no step goes uphill', () => {
    const g = gaussian(mean, cov);
    const at = drive(function* () {
      const a = yield [1, -1];
      return { q: [1, -1], logp: a.logp, grad: [a.grad[0]!, a.grad[1]!] };
    }(), g.target).value;
    const { value, evaluations } = drive(ascend(at, 8, 40), g.target);
    expect(evaluations).toBe(0); // zero gradient: no direction to try
    expect(value.end).toBe(at);
  });
});

describe('strategies', () => {
  it('uniform takes one evaluation, best-of-uniform the candidates, and keeps the highest', () => {
    const g = gaussian(mean, cov);
    const seen: number[] = [];
    const counting: LogDensityTarget = (q) => {
      const r = g.target(q) as { logp: number; grad: Float64Array };
      seen.push(r.logp);
      return r;
    };
    expect(drive(initialise('uniform', 2, rngFrom(1), 0), counting).evaluations).toBe(1);
    seen.length = 0;
    const best = drive(initialise('best-of-uniform', 2, rngFrom(1), 0), counting);
    expect(best.evaluations).toBe(DEFAULT_INIT_SETTINGS.candidates);
    expect(best.value.logp).toBe(Math.max(...seen));
    for (const x of best.value.q) expect(Math.abs(x)).toBeLessThanOrEqual(2);
  });

  it('ascent does not run down the neck of a funnel (centred eight schools: log tau stays near the box)', () => {
    // a long ascent goes down the funnel (the density is unbounded as tau -> 0); the kept point is after 8 steps
    const target = eightSchoolsCentered();
    const logTau = (strategy: InitStrategy, settings = DEFAULT_INIT_SETTINGS): number[] =>
      [0, 1, 2, 3].map((c) => drive(initialise(strategy, 10, rngFrom(`funnel/${c}`), c, settings), target).value.q[1]!);
    const kept = logTau('ascent');
    const runaway = logTau('ascent', { ...DEFAULT_INIT_SETTINGS, ascentSteps: DEFAULT_INIT_SETTINGS.ascentSteps + DEFAULT_INIT_SETTINGS.lookahead, lookahead: 0 });
    expect(Math.min(...kept)).toBeGreaterThan(-3);
    expect(Math.min(...runaway)).toBeLessThan(-4); // the planted long ascent fails the check above
  });

  it('the vectorised driver starts every chain where the sequential one does (same draws)', async () => {
    const g = gaussian(mean, cov);
    const opts = { dim: 2, chains: 3, warmup: 50, draws: 30, seed: 21, init: 'ascent' } as const;
    const seq = await sampleNuts(g.target, opts);
    const vec = await sampleNutsBatched(g.batched, opts);
    expect(vec.samples.every((s, c) => s.every((x, i) => x === seq.samples[c]![i]))).toBe(true);
    expect(vec.gradientEvaluations).toEqual(seq.gradientEvaluations);
  });

  it('rejects an unknown strategy naming the choices', async () => {
    const g = gaussian(mean, cov);
    await expect(sampleNuts(g.target, { dim: 2, chains: 1, draws: 5, warmup: 0, init: 'best' as never })).rejects.toThrow(/init must be one of 'uniform', 'best-of-uniform', 'ascent'/);
  });
});

/**
 * Two unit-variance Gaussian modes of equal mass at -4 and +4 on every axis
 * (8 sd apart in each coordinate): NUTS does not cross between them, so the
 * chains' starts decide their modes.
 */
function bimodal(dim: number): LogDensityTarget {
  const grad = new Float64Array(dim);
  return (q) => {
    let a = 0;
    let b = 0;
    for (let i = 0; i < dim; i++) (a -= 0.5 * (q[i]! + 4) ** 2), (b -= 0.5 * (q[i]! - 4) ** 2);
    const m = Math.max(a, b);
    const wa = Math.exp(a - m);
    const wb = Math.exp(b - m);
    const pa = wa / (wa + wb);
    for (let i = 0; i < dim; i++) grad[i] = pa * -(q[i]! + 4) + (1 - pa) * -(q[i]! - 4);
    return { logp: m + Math.log(wa + wb), grad };
  };
}

function worstRhat(r: McmcSamples): number {
  return Math.max(...Array.from({ length: r.dim }, (_, i) => rhatBulk(parameterDraws(r, i))));
}

describe('chains stay independent', () => {
  // 8 chains: with independent starts all land in one mode with probability 2 / 2^8 < 1%; the seed is fixed
  const opts = { dim: 2, chains: 8, warmup: 150, draws: 150, seed: 17 } as const;

  it('a symmetric bimodal target shows R-hat > 1.01 under the default ascent; copying the best start (planted) hides it', async () => {
    const target = bimodal(2);
    const run = await sampleNuts(target, { ...opts, init: 'ascent' });
    const modes = run.samples.map((s) => Math.sign(s[0]!));
    expect(new Set(modes).size).toBe(2); // chains in both modes
    expect(worstRhat(run)).toBeGreaterThan(1.01);

    // planted: every chain starts from the best of the chains' own ascent starts
    const rngs = rngFrom(opts.seed).splitN(opts.chains);
    const starts = rngs.map((rng, c) => drive(initialise('ascent', 2, rng, c), target).value);
    const best = starts.reduce((a, b) => (b.logp > a.logp ? b : a));
    const copied = await sampleNuts(target, { ...opts, init: starts.map(() => Float64Array.from(best.q)) });
    expect(worstRhat(copied)).toBeLessThan(1.01); // so the R-hat check above fails for the copying implementation
  });
});
