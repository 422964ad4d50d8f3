/**
 * Exact language models (n-gram, weighted set, PCFG), the regex compiler and
 * the dynamic programs, checked against brute-force enumeration; the
 * conformance suite on every exact LM; vocabularies and sampling helpers.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Rng } from '../../../src/core/rng.js';
import { conditionOnRegex } from '../../../src/steer/lm/dp.js';
import { VocabularyMismatchError, ZeroProbabilityPrefixError, assertSameVocabulary } from '../../../src/steer/lm/errors.js';
import type { FiniteStateLanguageModel } from '../../../src/steer/lm/finite-state.js';
import { MarkovLM } from '../../../src/steer/lm/markov.js';
import { NGramLM } from '../../../src/steer/lm/ngram.js';
import { type Pcfg, PcfgLM } from '../../../src/steer/lm/pcfg.js';
import { RegexSyntaxError, compileRegex } from '../../../src/steer/lm/regex.js';
import { sampleToken, shapeRow } from '../../../src/steer/lm/sampling.js';
import { ByteVocabulary, TokenVocabulary } from '../../../src/steer/lm/vocab.js';
import { WeightedSetLM } from '../../../src/steer/lm/weighted-set.js';
import { checkLanguageModel } from '../../../src/testing/lm-conformance.js';
import { lmConformance } from '../../helpers/lm-conformance.js';

const abc = TokenVocabulary.characters('abc ');
const corpus = ['abc', 'a b', 'cab', 'bca a', 'ccc', 'ab ab', 'b', 'aab c'];
const kn3 = () => NGramLM.fit(abc, corpus, { order: 3, name: 'kn-3gram' });

/** A word-level grammar with left recursion (NP → NP PP), consistent. */
const words = new TokenVocabulary(['the ', 'dog ', 'cat ', 'saw ', 'with ', 'a ']);
const recursiveGrammar: Pcfg = {
  start: 'S',
  rules: [
    { lhs: 'S', rhs: ['NP', 'VP'], prob: 1 },
    { lhs: 'NP', rhs: ['Det', 'N'], prob: 0.7 },
    { lhs: 'NP', rhs: ['NP', 'PP'], prob: 0.3 },
    { lhs: 'PP', rhs: ['P', 'NP'], prob: 1 },
    { lhs: 'VP', rhs: ['V', 'NP'], prob: 0.6 },
    { lhs: 'VP', rhs: ['VP', 'PP'], prob: 0.2 },
    { lhs: 'VP', rhs: ['saw '], prob: 0.2 },
    { lhs: 'Det', rhs: ['the '], prob: 0.6 },
    { lhs: 'Det', rhs: ['a '], prob: 0.4 },
    { lhs: 'N', rhs: ['dog '], prob: 0.5 },
    { lhs: 'N', rhs: ['cat '], prob: 0.5 },
    { lhs: 'V', rhs: ['saw '], prob: 1 },
    { lhs: 'P', rhs: ['with '], prob: 1 },
  ],
};
/** No recursion: a finite language, enumerable. Ambiguous on purpose (two derivations of some strings). */
const finiteGrammar: Pcfg = {
  start: 'S',
  rules: [
    { lhs: 'S', rhs: ['A', 'B'], prob: 0.5 },
    { lhs: 'S', rhs: ['C', 'A'], prob: 0.3 },
    { lhs: 'S', rhs: ['a'], prob: 0.2 },
    { lhs: 'A', rhs: ['a'], prob: 0.6 },
    { lhs: 'A', rhs: ['C', 'C'], prob: 0.4 },
    { lhs: 'B', rhs: ['b'], prob: 0.5 },
    { lhs: 'B', rhs: ['A', 'C'], prob: 0.5 },
    { lhs: 'C', rhs: ['c'], prob: 0.7 },
    { lhs: 'C', rhs: ['a'], prob: 0.3 },
  ],
};

/** Every derivation of a non-recursive grammar: the exact distribution over strings. */
function enumerateGrammar(g: Pcfg, vocab: TokenVocabulary): Map<string, number> {
  const expand = (sym: string): [number[], number][] => {
    const out: [number[], number][] = [];
    for (const r of g.rules.filter((x) => x.lhs === sym)) {
      if (r.rhs.length === 1) out.push([[vocab.id(r.rhs[0])!], r.prob]);
      else for (const [l, pl] of expand(r.rhs[0])) for (const [rr, pr] of expand(r.rhs[1])) out.push([[...l, ...rr], r.prob * pl * pr]);
    }
    return out;
  };
  const dist = new Map<string, number>();
  for (const [toks, p] of expand(g.start)) dist.set(toks.join(','), (dist.get(toks.join(',')) ?? 0) + p);
  return dist;
}

lmConformance('n-gram, Kneser–Ney, order 3', kn3);
lmConformance('n-gram, add-k, order 2', () => NGramLM.fit(abc, corpus, { order: 2, smoothing: { kind: 'add-k', k: 0.5 }, name: 'addk-bigram' }));
lmConformance('weighted set of strings', () => new WeightedSetLM(abc, [{ value: 'ab', weight: 2 }, { value: 'abc', weight: 1 }, { value: 'b', weight: 0.5 }, { value: 'ca b', weight: 3 }], 'wset'));
lmConformance('PCFG with left recursion', () => new PcfgLM(words, recursiveGrammar, 'np-pcfg'), { prefixes: 8, maxPrefixLength: 7 });
lmConformance('random sparse Markov LM', () => MarkovLM.random(TokenVocabulary.characters('abcde'), new Rng(2), { sparsity: 0.4 }));
lmConformance('n-gram conditioned on a regex (exact DP)', () => conditionOnRegex(kn3(), 'a[bc ]*b'));
lmConformance('n-gram conditioned on a regex, at most 6 tokens', () => conditionOnRegex(kn3(), '(ab|c)+ ?', { maxLength: 6 }));

describe('n-gram LM', () => {
  it('Kneser–Ney rows sum to 1 in float64 in every reachable state, BOS never predicted', () => {
    const v = TokenVocabulary.characters('xyz', { bos: true });
    const lm = NGramLM.fit(v, ['xyz', 'xxy', 'zy', 'yyyx'], { order: 3 });
    const seen = new Set([lm.startState]);
    const stack = [lm.startState];
    while (stack.length) {
      const s = stack.pop()!;
      const p = lm.stateProbs(s);
      expect(Math.abs(p.reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-12);
      expect(p[v.bos!]).toBe(0);
      for (const t of [0, 1, 2]) {
        const n = lm.nextState(s, t);
        if (!seen.has(n)) seen.add(n), stack.push(n);
      }
    }
    expect(seen.size).toBe(1 + 3 + 9); // start, (pad, t), (t, u)
  });

  it('add-k is (count + k) / (context count + k |V|)', () => {
    const lm = NGramLM.fit(abc, ['ab', 'ab', 'ac'], { order: 2, smoothing: { kind: 'add-k', k: 1 } });
    const p = lm.stateProbs(lm.stateAfter([abc.id('a')!]));
    // after "a": b twice, c once, of 3; |V| = 5 (4 characters + EOS)
    expect(p[abc.id('b')!]).toBeCloseTo(3 / 8, 12);
    expect(p[abc.id('c')!]).toBeCloseTo(2 / 8, 12);
    expect(p[abc.eos]).toBeCloseTo(1 / 8, 12);
  });

  it('rejects bad options and EOS inside a prefix', async () => {
    expect(() => NGramLM.fit(abc, corpus, { order: 0 })).toThrow(/order must be an integer >= 1/);
    expect(() => NGramLM.fit(abc, corpus, { order: 2, smoothing: { kind: 'add-k', k: 0 } })).toThrow(/k > 0/);
    expect(() => NGramLM.fit(abc, ['abz'], { order: 2 })).toThrow(/no token covers "z"/);
    await expect(kn3().nextTokenLogprobs([[0, abc.eos]])).rejects.toThrow(ZeroProbabilityPrefixError);
  });
});

describe('weighted set', () => {
  it('next-token rows are exact ratios of weights; a prefix outside the set is an error naming the model', async () => {
    const lm = new WeightedSetLM(abc, [{ value: 'ab', weight: 2 }, { value: 'a', weight: 1 }, { value: 'ab', weight: 1 }, { value: 'c', weight: 4 }], 'wset');
    const [r0, r1] = await lm.nextTokenLogprobs([[], [abc.id('a')!]]);
    expect(Math.exp(r0[abc.id('a')!])).toBeCloseTo(4 / 8, 6);
    expect(Math.exp(r0[abc.id('c')!])).toBeCloseTo(4 / 8, 6);
    expect(Math.exp(r1[abc.id('b')!])).toBeCloseTo(3 / 4, 6);
    expect(Math.exp(r1[abc.eos])).toBeCloseTo(1 / 4, 6);
    expect(lm.support).toHaveLength(3);
    await expect(lm.nextTokenLogprobs([[abc.id('b')!]])).rejects.toThrow(/language model "wset": the prefix \[1\] has probability zero/);
  });
});

describe('PCFG prefix probabilities', () => {
  const enumerated = enumerateGrammar(finiteGrammar, abc);
  const exactSet = new WeightedSetLM(abc, [...enumerated].map(([k, w]) => ({ value: k.split(',').map(Number), weight: w })), 'enumerated');
  const prefixesOf = [...new Set([...enumerated.keys()].flatMap((k) => {
    const t = k.split(',').map(Number);
    return t.map((_, i) => t.slice(0, i).join(','));
  }))].map((k) => (k === '' ? [] : k.split(',').map(Number)));

  /** Largest |p - p'| between two models' next-token probabilities over every prefix of the language. */
  async function distanceToEnumeration(lm: PcfgLM): Promise<number> {
    let a: Float32Array[];
    try {
      a = await lm.nextTokenLogprobs(prefixesOf);
    } catch {
      return Infinity; // e.g. a prefix of the language given probability zero
    }
    const b = await exactSet.nextTokenLogprobs(prefixesOf);
    let worst = 0;
    a.forEach((r, i) => r.forEach((x, j) => (worst = Math.max(worst, Math.abs(Math.exp(x) - Math.exp(b[i][j]))))));
    return worst;
  }

  it('a finite ambiguous grammar: next-token rows equal those of its enumerated language', async () => {
    const lm = new PcfgLM(abc, finiteGrammar, 'finite-pcfg');
    expect(await distanceToEnumeration(lm)).toBeLessThan(1e-6); // float32 rows
    for (const [k, p] of enumerated) expect(lm.sentenceLogprob(k.split(',').map(Number))).toBeCloseTo(Math.log(p), 12);
    // prefix probability = sum over the strings that extend it (float64)
    for (const pre of prefixesOf) {
      let mass = 0;
      for (const [k, p] of enumerated) if (k === pre.join(',') || k.startsWith(pre.join(',') + (pre.length ? ',' : ''))) mass += p;
      expect(Math.exp(lm.prefixLogprob(pre))).toBeCloseTo(mass, 12);
    }
  });

  it('planted bug: prefix probabilities without the left-corner closure fail the check', async () => {
    const lm = new PcfgLM(abc, finiteGrammar, 'no-closure');
    const broken = lm as unknown as { lexical: Map<number, Float64Array>; leftLex: Map<number, Float64Array> };
    for (const [t, row] of broken.lexical) broken.leftLex.set(t, row.slice());
    expect(await distanceToEnumeration(lm)).toBeGreaterThan(0.05);
  });

  it('planted bug: a left-recursive grammar whose closure is cut to the direct rules fails rows-normalised', async () => {
    const lm = new PcfgLM(words, recursiveGrammar, 'cut-closure');
    const x = lm as unknown as { leftBin: { b: number; c: number; w: number }[][]; binary: { a: number; b: number; c: number; p: number }[] };
    x.leftBin = x.leftBin.map((_, a) => x.binary.filter((r) => r.a === a).map((r) => ({ b: r.b, c: r.c, w: r.p })));
    const report = await checkLanguageModel(lm, { prefixes: 8, maxPrefixLength: 7 });
    expect(report.checks.find((c) => c.name === 'rows-normalised')!.passed).toBe(false);
  });

  it('rejects grammars it cannot handle, naming the rule', () => {
    expect(() => new PcfgLM(abc, { start: 'S', rules: [{ lhs: 'S', rhs: ['S', 'S'], prob: 0.7 }, { lhs: 'S', rhs: ['a'], prob: 0.3 }] }, 'explosive')).toThrow(/"explosive": the grammar is not consistent/);
    expect(() => new PcfgLM(abc, { start: 'S', rules: [{ lhs: 'S', rhs: ['T'], prob: 1 }, { lhs: 'T', rhs: ['a'], prob: 1 }] })).toThrow(/rule 0 \(S → T\) is not in Chomsky normal form/);
    expect(() => new PcfgLM(abc, { start: 'S', rules: [{ lhs: 'S', rhs: ['a'], prob: 0.5 }] })).toThrow(/rules of S have total probability 0.5/);
    expect(() => new PcfgLM(abc, { start: 'S', rules: [{ lhs: 'S', rhs: ['q'], prob: 1 }] })).toThrow(/no token of the vocabulary has this text/);
  });
});

describe('regular expressions', () => {
  const patterns = ['a(b|a)*', '(ab)+', 'a?b{1,2}a*', '[^a]*a', 'x{2,}', '(a|b)c?.', '[a-c]+\\.[0-9]{2}', '\\d\\w\\s?', '(?:ab|ba){0,3}', '', 'a|', '[-a]b\\-', '\\(a\\)*'];
  const alphabet = ['a', 'b', 'c', 'x', '.', '1', '0', ' ', '-', '(', ')', '\n'];
  it('agree with JavaScript RegExp (anchored) on random strings', () => {
    for (const p of patterns) {
      const mine = compileRegex(p);
      const js = new RegExp(`^(?:${p})$`);
      fc.assert(
        fc.property(fc.array(fc.constantFrom(...alphabet), { maxLength: 8 }), (chars) => {
          const s = chars.join('');
          expect(mine.matches(s), `/${p}/ on ${JSON.stringify(s)}`).toBe(js.test(s));
        }),
        { numRuns: 300, seed: 7 },
      );
    }
  });

  it('knows which states can still match', () => {
    const r = compileRegex('ab+c');
    expect(r.live(r.run('ab'))).toBe(true);
    expect(r.run('ac')).toBe(-1);
    expect(r.accepting(r.run('abbc'))).toBe(true);
    expect(r.live(r.run('abbc'))).toBe(true);
  });

  it('reports unsupported syntax with the offset', () => {
    expect(() => compileRegex('a(b')).toThrow(RegexSyntaxError);
    expect(() => compileRegex('a(b')).toThrow(/missing "\)" at offset 3/);
    expect(() => compileRegex('*a')).toThrow(/nothing to repeat/);
    expect(() => compileRegex('a{3,1}')).toThrow(/max < min/);
    expect(() => compileRegex('^a')).toThrow(/anchors are implicit/);
    expect(() => compileRegex('\\bword')).toThrow(/unsupported escape \\b/);
  });
});

describe('exact conditioning on a regex by dynamic programming', () => {
  const ab = TokenVocabulary.characters('ab ');
  const lm = NGramLM.fit(ab, ['ab', 'ba b', 'aab', 'b', 'a a', 'bbba'], { order: 2, name: 'bigram' });
  const L = 6;
  const texts = (len: number): number[][] => (len === 0 ? [[]] : texts(len - 1).flatMap((t) => [0, 1, 2].map((c) => [...t, c])));
  /** Brute force: every string of at most L tokens, its probability from the model's chain rule, matched by JavaScript's RegExp. */
  function bruteForce(model: FiniteStateLanguageModel, jsPattern: string) {
    const re = new RegExp(`^(?:${jsPattern})$`);
    const all: { tokens: number[]; p: number; match: boolean }[] = [];
    for (let len = 0; len <= L; len++) for (const t of texts(len)) all.push({ tokens: t, p: Math.exp(model.sequenceLogprob([...t, ab.eos])), match: re.test(ab.decode(t)) });
    const Z = all.filter((x) => x.match).reduce((s, x) => s + x.p, 0);
    const tail = 1 - all.reduce((s, x) => s + x.p, 0); // P(more than L tokens)
    const marg = Array.from({ length: L + 1 }, () => new Float64Array(ab.size));
    for (const x of all) if (x.match) [...x.tokens, ab.eos].forEach((tok, pos) => (marg[pos][tok] += x.p / Z));
    return { Z, tail, marg, matched: all.filter((x) => x.match) };
  }
  const cases = ['a(b|a)*', '(ab)+ ?', 'a?b{1,2}a*', '[^a]* a', '.*b.*'];

  it.each(cases)('/%s/: Z, marginals and string posteriors equal brute-force enumeration', (pattern) => {
    const bf = bruteForce(lm, pattern);
    const bounded = conditionOnRegex(lm, pattern, { maxLength: L });
    expect(Math.abs(bounded.Z - bf.Z) / bf.Z).toBeLessThan(1e-12);
    const m = bounded.marginals(L + 1);
    for (let pos = 0; pos <= L; pos++) for (let a = 0; a < ab.size; a++) expect(Math.abs(m.tokens[pos][a] - bf.marg[pos][a])).toBeLessThan(1e-12);
    const strings = bounded.strings(L);
    expect(strings).toHaveLength(bf.matched.length);
    for (const s of strings) {
      const x = bf.matched.find((y) => y.tokens.join() === s.tokens.join())!;
      expect(Math.abs(Math.exp(s.logprob) - x.p / bf.Z)).toBeLessThan(1e-12);
    }
    // unbounded Z: at least the strings of at most L tokens, at most that plus all longer strings
    const full = conditionOnRegex(lm, pattern);
    expect(full.Z).toBeGreaterThanOrEqual(bf.Z * (1 - 1e-12));
    expect(full.Z).toBeLessThanOrEqual(bf.Z + bf.tail + 1e-12);
    // and the bounded DP converges to it
    expect(Math.abs(conditionOnRegex(lm, pattern, { maxLength: 400 }).Z - full.Z)).toBeLessThan(1e-12);
  });

  it('planted bug: a compiler that read + as * is caught by the same comparison', () => {
    const bf = bruteForce(lm, '(ab)+ ?');
    const wrong = conditionOnRegex(lm, '(ab)* ?', { maxLength: L });
    expect(Math.abs(wrong.Z - bf.Z) / bf.Z).toBeGreaterThan(1e-3);
  });

  it('the conditioned model is the optimal proposal: p(x) / q(x) = Z for every string it samples', () => {
    const cond = conditionOnRegex(lm, 'a[ab ]*b');
    const rng = new Rng(5);
    for (let k = 0; k < 50; k++) {
      const x: number[] = [];
      for (;;) {
        const { token } = sampleToken(Float64Array.from(cond.stateProbs(cond.stateAfter(x)), Math.log), rng);
        x.push(token);
        if (token === ab.eos) break;
      }
      expect(compileRegex('a[ab ]*b').matches(ab.decode(x))).toBe(true);
      expect(lm.sequenceLogprob(x) - cond.sequenceLogprob(x)).toBeCloseTo(cond.logZ, 10);
      expect(cond.matchProbability(x.slice(0, -1))).toBeGreaterThan(0);
    }
  });

  it('takes any character automaton: a hand-written parity automaton equals its regex', () => {
    // states 0/1: even/odd number of 'a' read; ' ' is not allowed
    const parity = {
      pattern: 'even number of a (hand-written)',
      start: 0,
      step: (q: number, ch: string) => (q < 0 || ch === ' ' ? -1 : ch === 'a' ? 1 - q : q),
      run(text: string, q = 0) {
        for (const ch of text) q = this.step(q, ch);
        return q;
      },
      accepting: (q: number) => q === 0,
      live: (q: number) => q >= 0,
    };
    const a = conditionOnRegex(lm, parity);
    const b = conditionOnRegex(lm, '(b*ab*a)*b*');
    expect(Math.abs(a.Z - b.Z) / b.Z).toBeLessThan(1e-12);
    expect(a.name).toBe('bigram | /even number of a (hand-written)/');
  });

  it('random sparse Markov LMs and random patterns: DP equals brute force (fast-check)', () => {
    const atoms = ['a', 'b', ' ', '.', '[ab]', '(a|b b)', '[^a]'];
    const arbPattern = fc
      .array(fc.tuple(fc.constantFrom(...atoms), fc.constantFrom('', '*', '+', '?', '{1,2}')), { minLength: 1, maxLength: 4 })
      .map((parts) => parts.map(([a, q]) => a + q).join(''));
    fc.assert(
      fc.property(arbPattern, fc.integer({ min: 1, max: 1000 }), (pattern, seed) => {
        const m = MarkovLM.random(ab, new Rng(seed), { sparsity: 0.3, eos: 0.3 });
        const bf = bruteForce(m, pattern);
        fc.pre(bf.Z > 0);
        const dp = conditionOnRegex(m, pattern, { maxLength: L });
        expect(Math.abs(dp.Z - bf.Z) / bf.Z).toBeLessThan(1e-10);
        const marg = dp.marginals(3);
        for (let pos = 0; pos < 3; pos++) for (let a = 0; a < ab.size; a++) expect(Math.abs(marg.tokens[pos][a] - bf.marg[pos][a])).toBeLessThan(1e-10);
      }),
      { numRuns: 40, seed: 12 },
    );
  });

  it('a weighted set conditioned on a regex is the set filtered and renormalised', () => {
    const set = new WeightedSetLM(ab, [{ value: 'ab', weight: 2 }, { value: 'aab', weight: 1 }, { value: 'ba', weight: 3 }, { value: 'a b', weight: 0.5 }, { value: 'abab', weight: 1.5 }], 'wset');
    const cond = conditionOnRegex(set, 'a[ab]*b');
    const kept = [['ab', 2], ['aab', 1], ['abab', 1.5]] as const;
    expect(cond.Z).toBeCloseTo(4.5 / 8, 14);
    const strings = cond.strings(10);
    expect(strings.map((x) => x.text).sort()).toEqual(kept.map(([t]) => t).sort());
    for (const [t, w] of kept) expect(Math.exp(strings.find((x) => x.text === t)!.logprob)).toBeCloseTo(w / 4.5, 14);
  });

  it('says so when nothing can match', () => {
    expect(() => conditionOnRegex(lm, 'c+')).toThrow(/no string matches \/c\+\/ with positive probability under "bigram" \(Z = 0\)/);
    expect(() => conditionOnRegex(lm, 'a{5}', { maxLength: 3 })).toThrow(/no string of at most 3 tokens matches/);
  });
});

describe('vocabularies', () => {
  it('token and byte vocabularies encode, decode and mark special tokens', () => {
    const v = new TokenVocabulary(['ab', 'a', 'b', 'é'], { bos: true });
    expect(v.encode('aba')).toEqual([0, 1]);
    expect([v.eos, v.bos, v.size]).toEqual([4, 5, 6]);
    expect(v.decode([0, 3, v.eos])).toBe('abé');
    expect(() => v.encode('abz')).toThrow(/no token covers "z" at offset 2/);
    const b = new ByteVocabulary();
    const ids = b.encode('né');
    expect(ids).toHaveLength(3);
    expect(b.decode([...ids, b.eos])).toBe('né');
    expect(b.tokenText(ids[1])).toBe('\uFFFD');
    expect(() => new TokenVocabulary(['a', 'a'])).toThrow(/appears twice/);
  });

  it('a vocabulary mismatch names both models and the first differing token', () => {
    const m1 = kn3();
    const m2 = NGramLM.fit(TokenVocabulary.characters('abd '), ['abd'], { order: 2, name: 'other' });
    expect(() => assertSameVocabulary(m1, m2)).toThrow(VocabularyMismatchError);
    expect(() => assertSameVocabulary(m1, m2)).toThrow(/language model "kn-3gram": vocabulary does not match that of "other": token 2 is "c" in one and "d" in the other/);
    expect(() => assertSameVocabulary(m1, NGramLM.fit(TokenVocabulary.characters('ab'), ['ab'], { order: 1, name: 'small' }))).toThrow(/sizes differ \(5 vs 3\)/);
    expect(() => assertSameVocabulary(m1, kn3())).not.toThrow();
  });
});

describe('sampling helpers', () => {
  const row = Float32Array.from([0.4, 0.3, 0.2, 0.1], Math.log);
  it('temperature, top-k and top-p shape the row exactly', () => {
    const t = shapeRow(row, { temperature: 0.5 });
    const z = 0.16 + 0.09 + 0.04 + 0.01;
    expect(Math.exp(t[0])).toBeCloseTo(0.16 / z, 6);
    const k = shapeRow(row, { topK: 2 });
    expect(Array.from(k, Math.exp).map((x) => +x.toFixed(6))).toEqual([0.571429, 0.428571, 0, 0]);
    const p = shapeRow(row, { topP: 0.85 });
    expect(Array.from(p, Math.exp).map((x) => +x.toFixed(6))).toEqual([0.444444, 0.333333, 0.222222, 0]);
    expect(() => shapeRow(row, { temperature: 0 })).toThrow(/temperature must be > 0/);
  });

  /** Largest standardised deviation of draw frequencies from the shaped probabilities. */
  function maxZ(draw: (rng: Rng) => number, probs: number[], n: number): number {
    const rng = new Rng(11);
    const counts = new Array(probs.length).fill(0);
    for (let i = 0; i < n; i++) counts[draw(rng)]++;
    return Math.max(...probs.map((p, j) => (p === 0 ? (counts[j] > 0 ? Infinity : 0) : Math.abs(counts[j] / n - p) / Math.sqrt((p * (1 - p)) / n))));
  }
  const target = [0.4 / 0.7, 0.3 / 0.7, 0, 0];
  // 4 standard errors per category: a false alarm in about 1 run in 8000 with 4 categories
  it('draws follow the shaped distribution (within 4 Monte Carlo standard errors)', () => {
    expect(maxZ((rng) => sampleToken(row, rng, { topK: 2 }).token, target, 20000)).toBeLessThan(4);
  });
  it('planted bug: draws from the unshaped row fail the same check', () => {
    expect(maxZ((rng) => sampleToken(row, rng).token, target, 20000)).toBeGreaterThan(4);
  });
});
