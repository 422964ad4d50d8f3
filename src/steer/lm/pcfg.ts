/**
 * A small probabilistic context-free grammar as an exact language model. The
 * grammar is in Chomsky normal form (A → B C, A → token); the next-token
 * distribution after a prefix w is P(w a ...) / P(w ...) for each token a,
 * and P(w) / P(w ...) for EOS, with prefix probabilities P(w ...) computed
 * exactly by Jelinek and Lafferty's algorithm (inside probabilities plus the
 * closure of the left-corner relation), and P(w) by the inside algorithm.
 *
 * The grammar must be consistent (derivations finite with probability 1):
 * this is checked, since prefix probabilities rely on it.
 *
 * @module
 */
import { ZeroProbabilityPrefixError, validatePrefix } from './errors.js';
import type { LanguageModel, Vocabulary } from './types.js';

/** One rule: `rhs` is two nonterminals, or one terminal (a token's text). */
export interface PcfgRule {
  readonly lhs: string;
  readonly rhs: readonly string[];
  readonly prob: number;
}

/** A grammar: the start symbol and its rules (probabilities of each left side sum to 1). */
export interface Pcfg {
  readonly start: string;
  readonly rules: readonly PcfgRule[];
}

/** Inverse of (I - M) for a small square matrix, by Gauss–Jordan; null if singular. */
function inverseOfIMinus(m: Float64Array[], n: number): Float64Array[] | null {
  const a = m.map((row, i) => {
    const r = new Float64Array(2 * n);
    for (let j = 0; j < n; j++) r[j] = (i === j ? 1 : 0) - row[j];
    r[n + i] = 1;
    return r;
  });
  for (let c = 0; c < n; c++) {
    let piv = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(a[r][c]) > Math.abs(a[piv][c])) piv = r;
    if (Math.abs(a[piv][c]) < 1e-12) return null;
    [a[c], a[piv]] = [a[piv], a[c]];
    const d = a[c][c];
    for (let k = 0; k < 2 * n; k++) a[c][k] /= d;
    for (let r = 0; r < n; r++) {
      if (r === c || a[r][c] === 0) continue;
      const f = a[r][c];
      for (let k = 0; k < 2 * n; k++) a[r][k] -= f * a[c][k];
    }
  }
  return a.map((r) => r.slice(n));
}

/** A PCFG as an exact LM (see the module note). */
export class PcfgLM implements LanguageModel {
  readonly contextLength = Infinity;
  private readonly nts: string[];
  private readonly start: number;
  /** binary rules A → B C with probability p */
  private readonly binary: { a: number; b: number; c: number; p: number }[] = [];
  /** lexical[token][A] = P(A → token) */
  private readonly lexical = new Map<number, Float64Array>();
  /** leftLex[token][A] = Σ_B Q_L(A, B) P(B → token) */
  private readonly leftLex = new Map<number, Float64Array>();
  /** per A: (B, C, Σ_D Q_L(A, D) P(D → B C)) */
  private readonly leftBin: { b: number; c: number; w: number }[][];

  constructor(
    readonly vocab: Vocabulary,
    readonly grammar: Pcfg,
    readonly name = 'pcfg',
  ) {
    const fail = (m: string): never => {
      throw new Error(`PcfgLM "${name}": ${m}`);
    };
    this.nts = [...new Set(grammar.rules.map((r) => r.lhs))];
    const ntIndex = new Map(this.nts.map((s, i) => [s, i]));
    const N = this.nts.length;
    const st = ntIndex.get(grammar.start);
    if (st === undefined) fail(`the start symbol ${JSON.stringify(grammar.start)} has no rules`);
    this.start = st!;
    const textToId = new Map<string, number>();
    for (let id = 0; id < vocab.size; id++) if (id !== vocab.eos && id !== vocab.bos) textToId.set(vocab.tokenText(id), id);
    const totals = new Float64Array(N);
    const mean = Array.from({ length: N }, () => new Float64Array(N));
    const leftCorner = Array.from({ length: N }, () => new Float64Array(N));
    grammar.rules.forEach((r, i) => {
      const a = ntIndex.get(r.lhs)!;
      if (!(r.prob >= 0 && r.prob <= 1)) fail(`rule ${i} (${r.lhs} → ${r.rhs.join(' ')}) has probability ${r.prob}`);
      totals[a] += r.prob;
      if (r.rhs.length === 2) {
        const [b, c] = r.rhs.map((s) => ntIndex.get(s));
        if (b === undefined || c === undefined) fail(`rule ${i} (${r.lhs} → ${r.rhs.join(' ')}): both symbols of a binary rule must be nonterminals with rules`);
        this.binary.push({ a, b: b!, c: c!, p: r.prob });
        mean[a][b!] += r.prob;
        mean[a][c!] += r.prob;
        leftCorner[a][b!] += r.prob;
      } else if (r.rhs.length === 1 && !ntIndex.has(r.rhs[0])) {
        const t = textToId.get(r.rhs[0]);
        if (t === undefined) fail(`rule ${i} (${r.lhs} → ${JSON.stringify(r.rhs[0])}): no token of the vocabulary has this text`);
        let row = this.lexical.get(t!);
        if (!row) this.lexical.set(t!, (row = new Float64Array(N)));
        row[a] += r.prob;
      } else fail(`rule ${i} (${r.lhs} → ${r.rhs.join(' ')}) is not in Chomsky normal form (A → B C or A → terminal)`);
    });
    totals.forEach((t, a) => {
      if (Math.abs(t - 1) > 1e-9) fail(`the rules of ${this.nts[a]} have total probability ${t}, not 1`);
    });
    const meanInv = inverseOfIMinus(mean, N);
    if (!meanInv || meanInv.some((r) => r.some((x) => !(x >= -1e-12) || !Number.isFinite(x)))) {
      fail('the grammar is not consistent (derivations are infinite with positive probability), so prefix probabilities are undefined');
    }
    const qL = inverseOfIMinus(leftCorner, N)!;
    for (const [t, row] of this.lexical) {
      const u = new Float64Array(N);
      for (let a = 0; a < N; a++) for (let b = 0; b < N; b++) u[a] += qL[a][b] * row[b];
      this.leftLex.set(t, u);
    }
    this.leftBin = Array.from({ length: N }, (_, a) => {
      const acc = new Map<number, { b: number; c: number; w: number }>();
      for (const r of this.binary) {
        const w = qL[a][r.a] * r.p;
        if (!(w > 0)) continue;
        const key = r.b * N + r.c;
        const e = acc.get(key);
        if (e) e.w += w;
        else acc.set(key, { b: r.b, c: r.c, w });
      }
      return [...acc.values()];
    });
  }

  /** inside[i][j][A] = P(A ⇒* w_i .. w_j), for 0 <= i <= j < n. */
  private inside(w: readonly number[]): Float64Array[][] {
    const n = w.length;
    const N = this.nts.length;
    const beta: Float64Array[][] = Array.from({ length: n }, () => []);
    for (let len = 1; len <= n; len++) {
      for (let i = 0; i + len - 1 < n; i++) {
        const j = i + len - 1;
        const cell = new Float64Array(N);
        if (len === 1) {
          const lex = this.lexical.get(w[i]);
          if (lex) cell.set(lex);
        } else {
          for (const r of this.binary) {
            let s = 0;
            for (let k = i; k < j; k++) s += beta[i][k][r.b] * beta[k + 1][j][r.c];
            cell[r.a] += r.p * s;
          }
        }
        beta[i][j] = cell;
      }
    }
    return beta;
  }

  /** P(S ⇒* w a ...) given the inside chart of w (n = w.length). */
  private prefixProb(beta: Float64Array[][], n: number, a: number): number {
    const u = this.leftLex.get(a);
    if (!u) return 0;
    const N = this.nts.length;
    // ppi[i][A] = P(A ⇒* w_i .. w_{n-1} a ...)
    const ppi: Float64Array[] = new Array(n + 1);
    ppi[n] = u;
    for (let i = n - 1; i >= 0; i--) {
      const out = new Float64Array(N);
      for (let A = 0; A < N; A++) {
        let s = 0;
        for (const { b, c, w } of this.leftBin[A]) {
          let t = 0;
          for (let j = i; j < n; j++) t += beta[i][j][b] * ppi[j + 1][c];
          s += w * t;
        }
        out[A] = s;
      }
      ppi[i] = out;
    }
    return ppi[0][this.start];
  }

  /** Log probability that a string starts with `tokens` (0 for the empty prefix). */
  prefixLogprob(tokens: readonly number[]): number {
    validatePrefix(this, tokens);
    if (tokens.length === 0) return 0;
    const beta = this.inside(tokens.slice(0, -1));
    return Math.log(this.prefixProb(beta, tokens.length - 1, tokens[tokens.length - 1]));
  }

  /** Log probability of the complete string `tokens` (inside algorithm). */
  sentenceLogprob(tokens: readonly number[]): number {
    validatePrefix(this, tokens);
    if (tokens.length === 0) return -Infinity;
    return Math.log(this.inside(tokens)[0][tokens.length - 1][this.start]);
  }

  async nextTokenLogprobs(prefixes: readonly (readonly number[])[]): Promise<Float32Array[]> {
    return prefixes.map((w) => {
      validatePrefix(this, w);
      const n = w.length;
      const beta = this.inside(w);
      const here = n === 0 ? 1 : Math.exp(this.prefixLogprob(w));
      if (!(here > 0)) throw new ZeroProbabilityPrefixError(this.name, w);
      const row = new Float32Array(this.vocab.size).fill(-Infinity);
      for (const a of this.leftLex.keys()) row[a] = Math.log(this.prefixProb(beta, n, a) / here);
      row[this.vocab.eos] = n === 0 ? -Infinity : Math.log(beta[0][n - 1][this.start] / here);
      return row;
    });
  }
}
