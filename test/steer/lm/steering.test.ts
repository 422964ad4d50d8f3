/**
 * Token-level steering (issue 13): potentials (conformance), samplers, the
 * token Feynman–Kac model on runSMC, checked against exact answers from a
 * weighted set of strings and from a Markov LM conditioned on a regular
 * expression by dynamic programming. Tolerances come from Monte Carlo
 * standard errors over fixed seeds; each statistical check has a planted
 * failure that the same check catches.
 */
import { describe, expect, it } from 'vitest';
import { Rng } from '../../../src/core/rng.js';
import { conditionOnRegex } from '../../../src/steer/lm/dp.js';
import { MarkovLM } from '../../../src/steer/lm/markov.js';
import { AutomatonPotential } from '../../../src/steer/lm/potentials/automaton.js';
import { BooleanPotential } from '../../../src/steer/lm/potentials/boolean.js';
import { type Potential, PotentialError } from '../../../src/steer/lm/potentials/potential.js';
import { product } from '../../../src/steer/lm/potentials/product.js';
import { ProcessRewardPotential, RewardPotential } from '../../../src/steer/lm/potentials/reward.js';
import { DirectSampler } from '../../../src/steer/lm/samplers/direct.js';
import { LocallyOptimalSampler } from '../../../src/steer/lm/samplers/locally-optimal.js';
import { AWRSSampler } from '../../../src/steer/lm/samplers/awrs.js';
import { ProposalLMSampler } from '../../../src/steer/lm/samplers/proposal-lm.js';
import type { TokenSampler } from '../../../src/steer/lm/samplers/types.js';
import { UnweightedSampler, locallyConstrainedDecode } from '../../../src/steer/lm/smc/baselines.js';
import { steeringBounds } from '../../../src/steer/lm/smc/bounds.js';
import { NoSatisfyingStringError, smcSteer, type SteeringResult } from '../../../src/steer/lm/smc/steer.js';
import { ExactTwist, TabularTwist, learnTwistCTL } from '../../../src/steer/lm/smc/twist.js';
import { fearnheadClifford, smcSteerK } from '../../../src/steer/lm/smc/smc-steer.js';
import { TokenVocabulary } from '../../../src/steer/lm/vocab.js';
import { WeightedSetLM } from '../../../src/steer/lm/weighted-set.js';
import { VocabularyMismatchError } from '../../../src/steer/lm/errors.js';
import { checkPotential } from '../../../src/testing/potential-conformance.js';
import { steerCompare, steerMain } from '../../../src/cli/steer.js';
import { StepProgram, runStepPrograms } from '../../../src/steer/lm/smc/program.js';
import { nextToken } from '../../../src/steer/lm/smc/next-token.js';
import { wrapLanguageModel } from '../../../src/steer/lm/cached.js';
import { logwNextToken } from '../../../src/steer/lm/potentials/potential.js';
import { model } from '../../../src/core/model.js';
import { infer } from '../../../src/infer/index.js';
import { meanSE } from '../../stats.js';

const abc = TokenVocabulary.characters('abc');
const markov = MarkovLM.random(abc, new Rng('steer-markov'), { eos: 0.25 });
const PATTERN = '(a|b)*c(a|b)*';
const MAX = 6;
const exact = conditionOnRegex(markov, PATTERN, { maxLength: MAX });
const regexPot = () => new AutomatonPotential(abc, PATTERN);

/** Σ|p − q| / 2 between a steering result's posterior and the exact one. */
function tvToExact(res: SteeringResult): number {
  const post = res.posterior();
  let tv = 0;
  for (const s of exact.strings(MAX)) tv += Math.abs(Math.exp(s.logprob) - (post.get(s.text) ?? 0));
  for (const [text, w] of post) if (!exact.strings(MAX).some((s) => s.text === text)) tv += w;
  return tv / 2;
}

/** Ẑ over seeds for one sampler (empty runs count as Ẑ = 0). */
async function zHats(sampler: TokenSampler, runs: number, particles: number, essThreshold = 0.5): Promise<number[]> {
  const out: number[] = [];
  for (let r = 0; r < runs; r++) {
    const res = await smcSteer({ lm: markov, potential: regexPot(), sampler, particles, maxTokens: MAX, seed: `z-${r}`, essThreshold, onEmpty: 'empty' });
    out.push(Math.exp(res.logZ));
  }
  return out;
}

/** A weighted set of strings as a potential relative to an LM: target(x) = w(x), so Z = Σw. */
class WeightedSetTarget implements Potential {
  readonly name = 'weighted-set-target';
  readonly vocab = abc;
  constructor(
    private readonly set: WeightedSetLM,
    private readonly total: number,
  ) {}
  prefix(x: readonly number[]): number {
    // log Σ_{s extends x} w(s) − log p_LM(x)
    const lp = markov.sequenceLogprob(x as number[]);
    const mass = this.set.sequenceLogprob(x as number[]);
    return mass === -Infinity ? -Infinity : Math.log(this.total) + mass - lp;
  }
  complete(x: readonly number[]): number {
    const xe = [...x, abc.eos];
    const mass = this.set.sequenceLogprob(xe);
    return mass === -Infinity ? -Infinity : Math.log(this.total) + mass - markov.sequenceLogprob(xe);
  }
}

describe('potentials', () => {
  const seqs = ['abca', 'cc', 'ab', 'bbbc', 'a'].map((s) => abc.encode(s));
  it('every kind passes the conformance checks (next-token rows, factorisation, batched = unbatched)', async () => {
    const fakePrm = async (texts: readonly string[]) => texts.map((t) => 1 / (2 + (t.match(/c/g)?.length ?? 0)));
    const pots: Potential[] = [
      regexPot(),
      new AutomatonPotential(abc, '.*cab', 'ends-cab-budget', { maxTokens: 5 }),
      new BooleanPotential(abc, { prefix: (s) => !s.includes('cc') }, 'no-cc'),
      new BooleanPotential(abc, { complete: (s) => s.length % 2 === 0 }, 'even'),
      new RewardPotential(abc, (s) => -s.length, 'short'),
      new ProcessRewardPotential(abc, { score: fakePrm, delimiter: 'c', link: 'logit' }, 'prm'),
      product(regexPot(), new RewardPotential(abc, (s) => -s.length)),
      { name: 'batched', vocab: abc, prefix: (x) => -x.length, complete: (x) => -x.length - 1, batchPrefix: async (xs) => xs.map((x) => -x.length) },
    ];
    for (const p of pots) {
      const checks = await checkPotential(p, seqs);
      for (const c of checks) expect(c.passed, `${p.name}: ${c.name}: ${c.detail}`).toBe(true);
    }
  });

  it('planted: a logwNext override that disagrees with prefix, and a batchPrefix that differs, fail', async () => {
    const bad = regexPot();
    const good = bad.logwNext.bind(bad);
    bad.logwNext = (x) => {
      const r = good(x);
      r[abc.eos] = 0; // claims EOS is always allowed
      return r;
    };
    const checks = await checkPotential(bad, seqs);
    expect(checks.find((c) => c.name === 'next-agrees')!.passed).toBe(false);
    const badBatch: Potential = { name: 'bb', vocab: abc, prefix: (x) => -x.length, complete: (x) => -x.length, batchPrefix: async (xs) => xs.map((x) => -2 * x.length) };
    expect((await checkPotential(badBatch, seqs)).find((c) => c.name === 'batched-equals-unbatched')!.passed).toBe(false);
  });

  it('a PRM potential scores what many particles ask for in one tick in one scorer call, and steering with batched prefixes equals unbatched', async () => {
    let calls = 0;
    let texts = 0;
    const score = async (t: readonly string[]) => {
      calls++;
      texts += t.length;
      return t.map((s) => 1 / (2 + (s.match(/a/g)?.length ?? 0)));
    };
    const prm = new ProcessRewardPotential(abc, { score, delimiter: 'c', link: 'log' }, 'prm');
    const xs = ['abc', 'bc', 'aac', 'ab', 'abca'].map((s) => abc.encode(s));
    const alone = await Promise.all(xs.map((x) => prm.prefix(x)));
    expect(calls).toBe(1); // 'abc' and 'abca' share their completed steps; 'ab' has none
    expect(texts).toBe(3);
    expect(await prm.batchPrefix([...xs, abc.encode('cc')])).toEqual([...alone, Math.log(1 / 2)]);
    expect(calls).toBe(2);
    // the token model asks the potential once per step for every live particle; the same run without batchPrefix gives the same answer
    const fresh = () => new ProcessRewardPotential(abc, { score, delimiter: 'c' }, 'prm');
    const plainOf = (p: ProcessRewardPotential): Potential => ({ name: p.name, vocab: abc, prefix: (x) => p.prefix(x), complete: (x) => p.complete(x) });
    const run = (potential: Potential) => smcSteer({ lm: markov, potential, sampler: new LocallyOptimalSampler(), particles: 16, maxTokens: MAX, seed: 'prm-batch' });
    const batched = await run(fresh());
    const unbatched = await run(plainOf(fresh()));
    expect(batched.logZ).toBe(unbatched.logZ);
    expect(batched.particles.map((p) => p.text)).toEqual(unbatched.particles.map((p) => p.text));
  });

  it('the automaton is coerced through the vocabulary trie without a pass over every token per step', () => {
    const words = new TokenVocabulary(['the', 'then', 'there', 'cat', 'cats', 'a', ' ', 'e', 'x']);
    const p = new AutomatonPotential(words, '[^e]*');
    const row = p.logwNext([]);
    const allowed = Array.from(row).flatMap((v, i) => (v === 0 ? [words.tokenText(i) || 'EOS'] : []));
    expect(allowed.sort()).toEqual([' ', 'EOS', 'a', 'cat', 'cats', 'x'].sort());
    // trie nodes: t-h-e-n, t-h-e-r-e, c-a-t-s, a, ' ', e, x; the walk stops at every 'e'
    expect(p.transitions).toBeLessThan(p.trie.nodes);
  });

  it('NaN and throws are errors naming the potential', async () => {
    const nan: Potential = { name: 'broken-reward', vocab: abc, prefix: () => 0, complete: () => NaN };
    await expect(smcSteer({ lm: markov, potential: nan, sampler: new DirectSampler(), particles: 4, maxTokens: 3, seed: 1 })).rejects.toThrow(/broken-reward.*NaN/);
    const thrower: Potential = { name: 'exploding', vocab: abc, prefix: () => { throw new Error('boom'); }, complete: () => 0 };
    await expect(smcSteer({ lm: markov, potential: thrower, sampler: new DirectSampler(), particles: 4, maxTokens: 3, seed: 1 })).rejects.toThrow(PotentialError);
    await expect(smcSteer({ lm: markov, potential: thrower, sampler: new DirectSampler(), particles: 4, maxTokens: 3, seed: 1 })).rejects.toThrow(/exploding.*boom/);
  });
});

describe('steering on exact targets', () => {
  it('a weighted set as the target: locally optimal proposal gives log Ẑ = log Σw exactly (float32 rows) at any ESS threshold, and every weight is the same', async () => {
    const members = [
      { value: 'abc', weight: 2 },
      { value: 'a', weight: 0.5 },
      { value: 'cab', weight: 1 },
      { value: 'bb', weight: 3.25 },
      { value: 'abca', weight: 0.75 },
    ];
    const total = members.reduce((a, m) => a + m.weight, 0);
    const set = new WeightedSetLM(abc, members);
    for (const essThreshold of [0, 0.5, 1]) {
      const res = await smcSteer({ lm: markov, potential: new WeightedSetTarget(set, total), sampler: new LocallyOptimalSampler(), particles: 16, maxTokens: 8, seed: `ws-${essThreshold}`, essThreshold });
      // exact up to the float32 rounding of the LM's rows
      expect(res.logZ).toBeCloseTo(Math.log(total), 6);
      for (const p of res.particles) expect(p.logWeight).toBeCloseTo(-Math.log(16), 6);
    }
  });

  it('per-particle weight identity: without resampling, weight = log p_LM(x) + φ(x) − log q(x)', async () => {
    // direct proposal: q = p_LM, so the unnormalised weight is φ.complete(x) = 0 for matches
    const res = await smcSteer({ lm: markov, potential: regexPot(), sampler: new DirectSampler(), particles: 32, maxTokens: MAX, seed: 'identity', essThreshold: 0, onEmpty: 'empty' });
    for (const p of res.particles) {
      const unnorm = p.logWeight + res.logZ + Math.log(32);
      if (p.alive) expect(unnorm).toBeCloseTo(0, 9);
      else expect(regexPot().complete(p.tokens) === 0 && p.tokens.length <= MAX).toBe(false);
    }
  });

  it('Markov LM + regex: E[Ẑ] = Z within MCSE for the direct, locally optimal and AWRS proposals (planted: unweighted masking is biased)', async () => {
    const runs = 150;
    for (const sampler of [new DirectSampler(), new LocallyOptimalSampler(), new AWRSSampler()]) {
      const { mean, se } = meanSE(await zHats(sampler, runs, 8));
      expect(Math.abs(mean - exact.Z), `${sampler.name}: mean Ẑ ${mean} ± ${se}, Z = ${exact.Z}`).toBeLessThan(4 * se);
    }
    const planted = meanSE(await zHats(new UnweightedSampler(new LocallyOptimalSampler()), 40, 8));
    expect(Math.abs(planted.mean - exact.Z)).toBeGreaterThan(4 * planted.se + 1e-12);
  });

  it('SMC-steer (K-way extension, Fearnhead–Clifford down to N): E[Ẑ] = Z within MCSE, and FC keeps each child at most once with the total weight unbiased', async () => {
    const zs: number[] = [];
    for (let r = 0; r < 100; r++) {
      const res = await smcSteerK({ lm: markov, potential: regexPot(), sampler: new DirectSampler(), particles: 4, k: 3, maxTokens: MAX, seed: `fc-${r}`, onEmpty: 'empty' });
      zs.push(Math.exp(res.logZ));
    }
    const { mean, se } = meanSE(zs);
    expect(Math.abs(mean - exact.Z), `mean ${mean} ± ${se}, Z ${exact.Z}`).toBeLessThan(4 * se);
    // FC on fixed weights: each index at most once, E[Σ new] = Σ old, E[count of j] = min(1, c w_j)
    const lw = [0, -0.1, -2, -3, -3.5, -1, -4, -0.5].map((x) => x);
    const total = lw.reduce((a, b) => a + Math.exp(b), 0);
    const sums: number[] = [];
    const rng = new Rng('fc');
    for (let r = 0; r < 4000; r++) {
      const { index, logWeight } = fearnheadClifford(lw, 4, rng);
      expect(new Set(index).size).toBe(index.length);
      expect(index.length).toBe(4);
      sums.push(logWeight.reduce((a, b) => a + Math.exp(b), 0));
    }
    const fc = meanSE(sums);
    expect(Math.abs(fc.mean - total)).toBeLessThan(4 * fc.se + 1e-12);
    // planted: keeping the n largest children with their weights (no thinning) loses mass and fails the same check
    const top = [...lw].sort((a, b) => b - a).slice(0, 4).reduce((a, b) => a + Math.exp(b), 0);
    expect(Math.abs(top - total)).toBeGreaterThan(4 * fc.se + 1e-12);
  });

  it('a token budget on the automaton (maxTokens) keeps the target and Z, and prunes dead ends early', async () => {
    const ends = conditionOnRegex(markov, '.*cab', { maxLength: MAX });
    const zs: number[] = [];
    let died = 0;
    for (let r = 0; r < 100; r++) {
      const res = await smcSteer({ lm: markov, potential: new AutomatonPotential(abc, '.*cab', undefined, { maxTokens: MAX }), sampler: new LocallyOptimalSampler(), particles: 4, maxTokens: MAX, seed: `budget-${r}`, onEmpty: 'empty' });
      zs.push(Math.exp(res.logZ));
      died += res.particles.filter((p) => !p.alive).length;
    }
    const { mean, se } = meanSE(zs);
    expect(Math.abs(mean - ends.Z), `mean ${mean} ± ${se}, Z ${ends.Z}`).toBeLessThan(4 * se + 1e-9);
    // with the budget the locally optimal proposal never walks into a dead end
    expect(died).toBe(0);
    const unaware = await smcSteer({ lm: markov, potential: new AutomatonPotential(abc, '.*cab'), sampler: new LocallyOptimalSampler(), particles: 64, maxTokens: MAX, seed: 'budget', essThreshold: 0, onEmpty: 'empty' });
    expect(unaware.particles.filter((p) => !p.alive).length).toBeGreaterThan(0);
  });

  it('total variation to the exact posterior falls as particles grow', async () => {
    const tvAt = async (n: number, sampler: TokenSampler = new LocallyOptimalSampler()): Promise<number> => {
      const tvs: number[] = [];
      for (let r = 0; r < 12; r++) tvs.push(tvToExact(await smcSteer({ lm: markov, potential: regexPot(), sampler, particles: n, maxTokens: MAX, seed: `tv-${n}-${r}` })));
      return tvs.reduce((a, b) => a + b, 0) / tvs.length;
    };
    const tv4 = await tvAt(4);
    const tv16 = await tvAt(16);
    const tv64 = await tvAt(64);
    expect(tv16).toBeLessThan(tv4);
    expect(tv64).toBeLessThan(tv16);
    // planted: masking without weights converges to its own (wrong) distribution, not to the posterior
    const lcd64 = await tvAt(64, new UnweightedSampler(new LocallyOptimalSampler()));
    expect(lcd64).toBeGreaterThan(tv64);
  });

  it('with the exact optimal twist as critic and the locally optimal proposal every particle weight equals Z', async () => {
    const res = await smcSteer({ lm: markov, potential: regexPot(), critic: new ExactTwist(exact), sampler: new LocallyOptimalSampler(), particles: 16, maxTokens: MAX, seed: 'twist', essThreshold: 0 });
    expect(res.logZ).toBeCloseTo(exact.logZ, 6);
    for (const p of res.particles) expect(p.logWeight).toBeCloseTo(-Math.log(16), 6);
    // and the draws are exact posterior draws: every string is a match
    for (const p of res.particles) expect(exact.dfa.accepting(exact.dfa.run(p.text))).toBe(true);
    // planted: a twist off by one token's worth breaks the identity
    const wrong = new ExactTwist(conditionOnRegex(markov, PATTERN, { maxLength: MAX + 1 }));
    const bad = await smcSteer({ lm: markov, potential: regexPot(), critic: wrong, sampler: new LocallyOptimalSampler(), particles: 16, maxTokens: MAX, seed: 'twist', essThreshold: 0 });
    const spread = Math.max(...bad.particles.map((p) => p.logWeight)) - Math.min(...bad.particles.map((p) => p.logWeight));
    expect(spread).toBeGreaterThan(1e-3);
  });

  it('locally constrained decoding is measurably biased on the same problem, and SMC corrects it', async () => {
    // the exact distribution of masking decoding, Π_t q_t(x_t), over every matching string
    const q = new Map<string, number>();
    const walk = (x: number[], lq: number): void => {
      const pot = regexPot();
      const row = pot.logwNext(x);
      const lmRow = markov.stateProbs(markov.stateAfter(x));
      const forced = x.length >= MAX;
      const w = Array.from(lmRow, (p, y) => (row[y] === -Infinity || (forced && y !== abc.eos) ? 0 : p));
      const z = w.reduce((a, b) => a + b, 0);
      if (z === 0) return;
      w.forEach((wy, y) => {
        if (wy === 0) return;
        if (y === abc.eos) q.set(abc.decode(x), (q.get(abc.decode(x)) ?? 0) + Math.exp(lq) * (wy / z));
        else walk([...x, y], lq + Math.log(wy / z));
      });
    };
    walk([], 0);
    let tvLcd = 0;
    for (const s of exact.strings(MAX)) tvLcd += Math.abs(Math.exp(s.logprob) - (q.get(s.text) ?? 0));
    tvLcd /= 2;
    expect(tvLcd).toBeGreaterThan(0.05);
    // SMC at N = 256 pooled over 4 seeds is much closer than the masking decoder's exact bias
    const pooled = new Map<string, number>();
    for (let r = 0; r < 4; r++) {
      const res = await smcSteer({ lm: markov, potential: regexPot(), sampler: new LocallyOptimalSampler(), particles: 256, maxTokens: MAX, seed: `lcd-${r}` });
      for (const [t, w] of res.posterior()) pooled.set(t, (pooled.get(t) ?? 0) + w / 4);
    }
    let tvSmc = 0;
    for (const s of exact.strings(MAX)) tvSmc += Math.abs(Math.exp(s.logprob) - (pooled.get(s.text) ?? 0));
    tvSmc /= 2;
    expect(tvSmc).toBeLessThan(tvLcd / 2);
    // and the decoder itself reproduces its own exact distribution (sanity of the baseline)
    const lcd = await locallyConstrainedDecode({ lm: markov, potential: regexPot(), particles: 400, maxTokens: MAX, seed: 'lcd' });
    let tvSelf = 0;
    const emp = lcd.posterior();
    for (const [t, p] of q) tvSelf += Math.abs(p - (emp.get(t) ?? 0));
    expect(tvSelf / 2).toBeLessThan(tvLcd);
  });

  it('bidirectional bounds bracket the exact log Z and their gap shrinks with particles', async () => {
    const ref = (rng: Rng) => {
      const toks: number[] = [];
      let s = exact.startState;
      for (;;) {
        const probs = exact.stateProbs(s);
        let u = rng.uniform();
        let y = 0;
        for (; y < probs.length - 1; y++) {
          u -= probs[y];
          if (u < 0) break;
        }
        if (y === abc.eos) return toks;
        toks.push(y);
        s = exact.nextState(s, y);
      }
    };
    const gaps: number[] = [];
    for (const particles of [4, 32]) {
      const b = await steeringBounds({ lm: markov, potential: regexPot(), sampler: new LocallyOptimalSampler(), particles, maxTokens: MAX, runs: 40, reference: ref, seed: `bounds-${particles}` });
      expect(b.lower, `N=${particles}: lower ${b.lower} ± ${b.lowerSE}`).toBeLessThan(exact.logZ + 3 * b.lowerSE);
      expect(b.upper, `N=${particles}: upper ${b.upper} ± ${b.upperSE}`).toBeGreaterThan(exact.logZ - 3 * b.upperSE);
      gaps.push(b.gap);
    }
    expect(gaps[1]).toBeLessThan(gaps[0]);
  });
});

describe('bad input and control', () => {
  it('an unsatisfiable constraint ends with a clear error, or an explicit empty result', async () => {
    const never = new AutomatonPotential(abc, 'd');
    await expect(smcSteer({ lm: markov, potential: never, sampler: new LocallyOptimalSampler(), particles: 4, maxTokens: 5, seed: 1 })).rejects.toThrow(NoSatisfyingStringError);
    const empty = await smcSteer({ lm: markov, potential: never, sampler: new LocallyOptimalSampler(), particles: 4, maxTokens: 5, seed: 1, onEmpty: 'empty' });
    expect(empty.empty).toBe(true);
    expect(empty.logZ).toBe(-Infinity);
    expect(empty.particles).toHaveLength(0);
  });

  it('a vocabulary mismatch between the LM and a potential or proposal is caught before generation', async () => {
    const other = TokenVocabulary.characters('abd');
    await expect(smcSteer({ lm: markov, potential: new AutomatonPotential(other, 'a*'), sampler: new DirectSampler(), particles: 2, seed: 1 })).rejects.toThrow(VocabularyMismatchError);
    const otherLm = MarkovLM.random(other, new Rng(1));
    await expect(smcSteer({ lm: markov, sampler: new ProposalLMSampler(otherLm), particles: 2, seed: 1 })).rejects.toThrow(VocabularyMismatchError);
  });

  it('a proposal LM different from the target gives unbiased Ẑ with the importance correction', async () => {
    const proposal = MarkovLM.random(abc, new Rng('proposal'), { eos: 0.3 });
    const zs: number[] = [];
    for (let r = 0; r < 120; r++) {
      const res = await smcSteer({ lm: markov, potential: regexPot(), sampler: new ProposalLMSampler(proposal), particles: 8, maxTokens: MAX, seed: `prop-${r}`, onEmpty: 'empty' });
      zs.push(Math.exp(res.logZ));
    }
    const { mean, se } = meanSE(zs);
    expect(Math.abs(mean - exact.Z), `mean ${mean} ± ${se}, Z ${exact.Z}`).toBeLessThan(4 * se);
  });

  it('an AbortSignal stops generation within one step', async () => {
    const ac = new AbortController();
    let steps = 0;
    const run = smcSteer({
      lm: markov,
      sampler: new DirectSampler(),
      particles: 8,
      maxTokens: 1000,
      seed: 1,
      signal: ac.signal,
      onStep: (info) => {
        steps = info.t + 1;
        if (info.t === 3) ac.abort(new Error('stop now'));
      },
    });
    await expect(run).rejects.toThrow('stop now');
    expect(steps).toBe(4);
  });
});

describe('tyche steer', () => {
  const io = () => {
    const out: string[] = [];
    return { out, io: { stdout: { write: (s: string) => out.push(s) }, stderr: { write: (s: string) => out.push(s) } } };
  };
  it('refuses bad arguments with a usage error naming the option', async () => {
    await expect(steerMain(['--no-letter', 'e', '--pattern', 'a*'], io().io)).rejects.toThrow(/exactly one of/);
    await expect(steerMain(['--no-letter', 'ee'], io().io)).rejects.toThrow(/--no-letter takes one character/);
    await expect(steerMain(['--no-letter', 'e', '--particles', '0'], io().io)).rejects.toThrow(/--particles must be an integer >= 1/);
    const h = io();
    await steerMain(['--help'], h.io);
    expect(h.out.join('')).toMatch(/--ends-with WORD/);
  });
  it('compares SMC, best-of-N and masking at equal N: SMC satisfies the constraint, best-of-N often does not', async () => {
    const rows = await steerCompare(markov, { pattern: PATTERN, particles: 16, maxTokens: MAX, seed: 1 });
    expect(rows.map((r) => r.method)).toEqual(['SMC (locally-optimal)', 'best-of-N', 'locally constrained']);
    expect(rows[0].satisfied).toBeCloseTo(1, 9);
    expect(rows[1].satisfied).toBeLessThan(1);
    for (const r of rows) expect(r.forwardPasses).toBeGreaterThan(0);
    const k = await steerCompare(markov, { pattern: PATTERN, particles: 8, maxTokens: MAX, seed: 2, k: 3 });
    expect(k[0].method).toBe('SMC-steer (K=3)');
    expect(k[0].satisfied).toBeCloseTo(1, 9);
  });
});

describe('steering programs', () => {
  const lm = wrapLanguageModel(markov);
  class RegexProgram extends StepProgram {
    tokens: number[] = [];
    constructor(readonly pot: AutomatonPotential) {
      super();
    }
    async step(): Promise<void> {
      const forceEos = this.tokens.length >= MAX;
      const dist = await nextToken(lm, this.tokens);
      const y = forceEos ? abc.eos : (this.sample(dist) as number);
      if (forceEos) this.observe(dist, y);
      const w = await logwNextToken(this.pot, this.tokens, y);
      this.condition(w > -Infinity);
      if (y === abc.eos) return this.finish();
      this.tokens.push(y);
    }
  }

  it('LLaMPPL-style step programs (sample / observe / condition / finish) give E[Ẑ] = Z within MCSE', async () => {
    const zs: number[] = [];
    for (let r = 0; r < 100; r++) {
      const res = await runStepPrograms(() => new RegexProgram(regexPot()), { particles: 8, seed: `prog-${r}` }).catch((e: Error) => {
        if (/zero weight/.test(e.message)) return { logZ: -Infinity };
        throw e;
      });
      zs.push(Math.exp(res.logZ));
    }
    const { mean, se } = meanSE(zs);
    expect(Math.abs(mean - exact.Z), `mean ${mean} ± ${se}, Z ${exact.Z}`).toBeLessThan(4 * se);
  });

  it('a plain tyche model whose sites are tokens (nextToken) steers the LM with infer(model, { method: "smc" })', async () => {
    const steered = model(async ({ sample, observe, factor }) => {
      const pot = regexPot();
      const x: number[] = [];
      for (let t = 0; ; t++) {
        const dist = await nextToken(lm, x);
        const y = t >= MAX ? abc.eos : ((await sample(`tok${t}`, dist)) as number);
        if (t >= MAX) await observe(`tok${t}`, dist, y);
        await factor(`c${t}`, await logwNextToken(pot, x, y));
        if (y === abc.eos) break;
        x.push(y);
      }
      return abc.decode(x);
    });
    const zs: number[] = [];
    for (let r = 0; r < 60; r++) {
      const post = await infer(steered, { method: 'smc', particles: 8, seed: r }).catch((e: Error) => {
        if (/zero|weight/i.test(e.message)) return { logZ: -Infinity };
        throw e;
      });
      zs.push(Math.exp(post.logZ));
    }
    const { mean, se } = meanSE(zs);
    expect(Math.abs(mean - exact.Z), `mean ${mean} ± ${se}, Z ${exact.Z}`).toBeLessThan(4 * se);
  });
});

describe('twisted SMC with contrastive twist learning', () => {
  it('a tabular twist learned by CTL cuts the variance of log Ẑ against no twist, and Ẑ stays unbiased', async () => {
    const pot = regexPot();
    const key = (x: readonly number[]) => `${x.length}|${x[x.length - 1]}|${pot.stateOf(x)}`;
    const twist = new TabularTwist(abc, key);
    const exactDraws = (rng: Rng) => Array.from({ length: 32 }, () => {
      const toks: number[] = [];
      let st = exact.startState;
      for (;;) {
        const probs = exact.stateProbs(st);
        let u = rng.uniform();
        let y = 0;
        for (; y < probs.length - 1; y++) if ((u -= probs[y]) < 0) break;
        if (y === abc.eos) return toks;
        toks.push(y);
        st = exact.nextState(st, y);
      }
    });
    const lr = (i: number) => 4 / Math.sqrt(1 + i);
    await learnTwistCTL({ lm: markov, potential: pot, twist, sampler: new LocallyOptimalSampler(), particles: 32, maxTokens: MAX, iterations: 80, learningRate: lr, positives: exactDraws, seed: 'ctl' });
    // the learned twist approaches the exact one (log P(match | prefix)) on two-token prefixes
    for (const x of [[0, 0], [0, 1], [0, 2], [2, 0], [2, 1]]) expect(Math.abs(twist.prefix(x) - Math.log(exact.matchProbability(x))), abc.decode(x)).toBeLessThan(0.5);
    const runs = async (critic?: TabularTwist) => {
      const out: number[] = [];
      for (let r = 0; r < 60; r++) out.push((await smcSteer({ lm: markov, potential: regexPot(), critic, sampler: new LocallyOptimalSampler(), particles: 4, maxTokens: MAX, seed: `ctl-eval-${r}`, onEmpty: 'empty' })).logZ);
      return out;
    };
    const plain = await runs();
    const twisted = await runs(twist);
    const variance = (xs: number[]) => meanSE(xs).se ** 2 * xs.length;
    expect(variance(twisted)).toBeLessThan(variance(plain) / 4);
    const z = meanSE(twisted.map(Math.exp));
    expect(Math.abs(z.mean - exact.Z), `mean ${z.mean} ± ${z.se}, Z ${exact.Z}`).toBeLessThan(4 * z.se + 1e-9);
    // planted: the gradient with its sign flipped (pushing the twist away from the target) fails the closeness check
    const anti = new TabularTwist(abc, key);
    await learnTwistCTL({ lm: markov, potential: pot, twist: anti, sampler: new LocallyOptimalSampler(), particles: 32, maxTokens: MAX, iterations: 80, learningRate: (i) => -lr(i), positives: exactDraws, seed: 'ctl' });
    const farthest = Math.max(...[[0, 0], [0, 1], [0, 2], [2, 0], [2, 1]].map((x) => Math.abs(anti.prefix(x) - Math.log(exact.matchProbability(x)))));
    expect(farthest).toBeGreaterThan(0.5);
  });
});
