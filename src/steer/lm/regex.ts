/**
 * A small character-level regular-expression compiler: a parser for a subset
 * of JavaScript's syntax, Thompson's NFA construction, and a DFA built
 * lazily by subset construction on the characters actually read. Matching is
 * anchored at both ends (the whole string must match).
 *
 * Syntax: literals; escapes `\d \w \s \D \W \S \n \t \r` and escaped
 * specials (`\.`, `\(`, ...); classes `[abc]`, `[a-z0-9_]`, `[^...]`; `.`
 * (any character except line terminators, as in JavaScript); `*`, `+`, `?`;
 * bounded repeats `{m}`, `{m,}`, `{m,n}`; alternation `|`; groups `( )` and
 * `(?: )`.
 *
 * @module
 */

type CharTest = (ch: string) => boolean;

type Ast =
  | { readonly kind: 'empty' }
  | { readonly kind: 'char'; readonly test: CharTest }
  | { readonly kind: 'cat'; readonly parts: Ast[] }
  | { readonly kind: 'alt'; readonly options: Ast[] }
  | { readonly kind: 'repeat'; readonly node: Ast; readonly min: number; readonly max: number };

const MAX_REPEAT = 1000;
const isDigit: CharTest = (c) => c >= '0' && c <= '9';
const isWord: CharTest = (c) => isDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c === '_';
const isSpace: CharTest = (c) => /^\s$/u.test(c);
const isLineTerminator: CharTest = (c) => c === '\n' || c === '\r' || c === '\u2028' || c === '\u2029';

/** Thrown for a pattern outside the supported subset, naming the offset. */
export class RegexSyntaxError extends Error {
  constructor(pattern: string, offset: number, what: string) {
    super(`regex ${JSON.stringify(pattern)}: ${what} at offset ${offset}`);
    this.name = 'RegexSyntaxError';
  }
}

class Parser {
  private i = 0;
  private readonly chars: string[];
  constructor(private readonly pattern: string) {
    this.chars = Array.from(pattern);
  }

  parse(): Ast {
    const ast = this.alt();
    if (this.i < this.chars.length) this.fail(`unexpected ${JSON.stringify(this.chars[this.i])}`);
    return ast;
  }

  private fail(what: string): never {
    throw new RegexSyntaxError(this.pattern, this.i, what);
  }

  private peek(): string | undefined {
    return this.chars[this.i];
  }

  private alt(): Ast {
    const options = [this.cat()];
    while (this.peek() === '|') {
      this.i++;
      options.push(this.cat());
    }
    return options.length === 1 ? options[0] : { kind: 'alt', options };
  }

  private cat(): Ast {
    const parts: Ast[] = [];
    while (this.i < this.chars.length && this.peek() !== '|' && this.peek() !== ')') parts.push(this.repeat());
    if (parts.length === 0) return { kind: 'empty' };
    return parts.length === 1 ? parts[0] : { kind: 'cat', parts };
  }

  private repeat(): Ast {
    let node = this.atom();
    for (;;) {
      const c = this.peek();
      if (c === '*') node = { kind: 'repeat', node, min: 0, max: Infinity };
      else if (c === '+') node = { kind: 'repeat', node, min: 1, max: Infinity };
      else if (c === '?') node = { kind: 'repeat', node, min: 0, max: 1 };
      else if (c === '{') {
        const m = /^\{(\d+)(,(\d*))?\}/.exec(this.chars.slice(this.i).join(''));
        if (!m) this.fail('malformed bounded repeat (expected {m}, {m,} or {m,n})');
        const min = Number(m[1]);
        const max = m[2] === undefined ? min : m[3] === '' ? Infinity : Number(m[3]);
        if (max < min) this.fail(`repeat {${min},${max}} has max < min`);
        if (min > MAX_REPEAT || (max !== Infinity && max > MAX_REPEAT)) this.fail(`repeat bound above ${MAX_REPEAT}`);
        this.i += m[0].length - 1;
        node = { kind: 'repeat', node, min, max };
      } else return node;
      this.i++;
    }
  }

  private atom(): Ast {
    const c = this.peek();
    if (c === undefined) this.fail('unexpected end of pattern');
    if (c === '(') {
      this.i++;
      if (this.chars[this.i] === '?') {
        if (this.chars[this.i + 1] !== ':') this.fail('only non-capturing groups (?:...) are supported after "(?"');
        this.i += 2;
      }
      const inner = this.alt();
      if (this.peek() !== ')') this.fail('missing ")"');
      this.i++;
      return inner;
    }
    if (c === '[') return this.charClass();
    if (c === '.') {
      this.i++;
      return { kind: 'char', test: (x) => !isLineTerminator(x) };
    }
    if (c === '\\') return { kind: 'char', test: this.escape() };
    if ('*+?{'.includes(c)) this.fail(`nothing to repeat before ${JSON.stringify(c)}`);
    if (c === ')' || c === ']' || c === '}') this.fail(`unbalanced ${JSON.stringify(c)}`);
    if (c === '^' || c === '$') this.fail('anchors are implicit (the whole string must match); escape ^ and $ to match them');
    this.i++;
    return { kind: 'char', test: (x) => x === c };
  }

  /** Reads an escape starting at a backslash; returns its test. */
  private escape(): CharTest {
    this.i++;
    const e = this.peek();
    if (e === undefined) this.fail('dangling backslash');
    this.i++;
    switch (e) {
      case 'd': return isDigit;
      case 'D': return (x) => !isDigit(x);
      case 'w': return isWord;
      case 'W': return (x) => !isWord(x);
      case 's': return isSpace;
      case 'S': return (x) => !isSpace(x);
      case 'n': return (x) => x === '\n';
      case 't': return (x) => x === '\t';
      case 'r': return (x) => x === '\r';
      default:
        if (/[A-Za-z0-9]/.test(e)) this.fail(`unsupported escape \\${e}`);
        return (x) => x === e;
    }
  }

  private classAtom(): { test: CharTest; ch: string | null } {
    if (this.peek() === '\\') {
      const at = this.i;
      const test = this.escape();
      const e = this.chars[at + 1];
      const literal = /[A-Za-z0-9]/.test(e) ? ({ n: '\n', t: '\t', r: '\r' } as Record<string, string>)[e] ?? null : e;
      return { test, ch: literal };
    }
    const ch = this.peek()!;
    this.i++;
    return { test: (x) => x === ch, ch };
  }

  private charClass(): Ast {
    this.i++;
    let negate = false;
    if (this.peek() === '^') {
      negate = true;
      this.i++;
    }
    const tests: CharTest[] = [];
    let first = true;
    while (this.peek() !== ']' || first) {
      if (this.peek() === undefined) this.fail('missing "]"');
      first = false;
      const a = this.classAtom();
      if (this.peek() === '-' && this.chars[this.i + 1] !== ']' && this.chars[this.i + 1] !== undefined) {
        this.i++;
        const b = this.classAtom();
        if (a.ch === null || b.ch === null) this.fail('a range needs single characters at both ends');
        const lo = a.ch.codePointAt(0)!;
        const hi = b.ch.codePointAt(0)!;
        if (hi < lo) this.fail(`range ${a.ch}-${b.ch} out of order`);
        tests.push((x) => {
          const cp = x.codePointAt(0)!;
          return cp >= lo && cp <= hi;
        });
      } else tests.push(a.test);
    }
    this.i++;
    const any: CharTest = (x) => tests.some((t) => t(x));
    return { kind: 'char', test: negate ? (x) => !any(x) : any };
  }
}

interface NfaState {
  readonly eps: number[];
  readonly edges: { readonly test: CharTest; readonly to: number }[];
}

/** Thompson NFA of an AST; returns the states, start and the single accepting state. */
function buildNfa(ast: Ast): { states: NfaState[]; start: number; accept: number } {
  const states: NfaState[] = [];
  const add = (): number => states.push({ eps: [], edges: [] }) - 1;
  const frag = (a: Ast): [number, number] => {
    const s = add();
    const e = add();
    switch (a.kind) {
      case 'empty':
        states[s].eps.push(e);
        break;
      case 'char':
        states[s].edges.push({ test: a.test, to: e });
        break;
      case 'cat': {
        let cur = s;
        for (const p of a.parts) {
          const [ps, pe] = frag(p);
          states[cur].eps.push(ps);
          cur = pe;
        }
        states[cur].eps.push(e);
        break;
      }
      case 'alt':
        for (const o of a.options) {
          const [os, oe] = frag(o);
          states[s].eps.push(os);
          states[oe].eps.push(e);
        }
        break;
      case 'repeat': {
        let cur = s;
        for (let k = 0; k < a.min; k++) {
          const [ps, pe] = frag(a.node);
          states[cur].eps.push(ps);
          cur = pe;
        }
        if (a.max === Infinity) {
          const [ps, pe] = frag(a.node);
          states[cur].eps.push(ps, e);
          states[pe].eps.push(ps, e);
        } else {
          for (let k = a.min; k < a.max; k++) {
            const [ps, pe] = frag(a.node);
            states[cur].eps.push(ps, e);
            cur = pe;
          }
          states[cur].eps.push(e);
        }
        break;
      }
    }
    return [s, e];
  };
  const [start, accept] = frag(ast);
  return { states, start, accept };
}

/**
 * A deterministic automaton over characters: what the dynamic programs and
 * token-level constraints need. States are integers; -1 is dead.
 */
export interface CharAutomaton {
  /** A short description used in names and errors (for a regex, its pattern). */
  readonly pattern: string;
  readonly start: number;
  /** The state after one character (a single code point); -1 when no match is possible any more. */
  step(q: number, ch: string): number;
  /** The state after reading `text` from `q`. */
  run(text: string, q?: number): number;
  /** True when the string read so far is accepted. */
  accepting(q: number): boolean;
  /** True when some continuation can still be accepted. */
  live(q: number): boolean;
}

/**
 * A compiled regular expression: a DFA over characters, built lazily.
 * States are small integers; -1 is the dead state (no match possible).
 */
export class CharRegex implements CharAutomaton {
  /** The DFA's start state. */
  readonly start: number;
  private readonly nfa: NfaState[];
  private readonly accept: number;
  private readonly liveNfa: Uint8Array;
  private readonly sets: number[][] = [];
  private readonly ids = new Map<string, number>();
  private readonly moves: Map<string, number>[] = [];

  constructor(readonly pattern: string) {
    const { states, start, accept } = buildNfa(new Parser(pattern).parse());
    this.nfa = states;
    this.accept = accept;
    // NFA states from which the accepting state can be reached (every character test here is satisfiable)
    this.liveNfa = new Uint8Array(states.length);
    const rev: number[][] = states.map(() => []);
    states.forEach((st, i) => {
      for (const j of st.eps) rev[j].push(i);
      for (const ed of st.edges) rev[ed.to].push(i);
    });
    const stack = [accept];
    this.liveNfa[accept] = 1;
    while (stack.length) {
      for (const i of rev[stack.pop()!]) {
        if (!this.liveNfa[i]) {
          this.liveNfa[i] = 1;
          stack.push(i);
        }
      }
    }
    this.start = this.intern(this.closure([start]));
  }

  private closure(seed: number[]): number[] {
    const seen = new Set<number>(seed);
    const stack = [...seed];
    while (stack.length) {
      for (const j of this.nfa[stack.pop()!].eps) {
        if (!seen.has(j)) {
          seen.add(j);
          stack.push(j);
        }
      }
    }
    return [...seen].sort((a, b) => a - b);
  }

  private intern(set: number[]): number {
    if (set.length === 0) return -1;
    const key = set.join(',');
    let id = this.ids.get(key);
    if (id === undefined) {
      id = this.sets.push(set) - 1;
      this.ids.set(key, id);
      this.moves.push(new Map());
    }
    return id;
  }

  /** Number of DFA states built so far. */
  get stateCount(): number {
    return this.sets.length;
  }

  /** The state after reading one character `ch` (a single code point) in state `q`; -1 when dead. */
  step(q: number, ch: string): number {
    if (q < 0) return -1;
    const memo = this.moves[q];
    const hit = memo.get(ch);
    if (hit !== undefined) return hit;
    const next: number[] = [];
    for (const i of this.sets[q]) for (const ed of this.nfa[i].edges) if (ed.test(ch)) next.push(ed.to);
    const id = this.intern(this.closure(next));
    memo.set(ch, id);
    return id;
  }

  /** The state after reading `text` from `q` (the start by default). */
  run(text: string, q = this.start): number {
    for (const ch of text) {
      q = this.step(q, ch);
      if (q < 0) return -1;
    }
    return q;
  }

  /** True when the string read so far matches. */
  accepting(q: number): boolean {
    return q >= 0 && this.sets[q].includes(this.accept);
  }

  /** True when some continuation of the string read so far can still match. */
  live(q: number): boolean {
    return q >= 0 && this.sets[q].some((i) => this.liveNfa[i] === 1);
  }

  /** True when the whole of `text` matches. */
  matches(text: string): boolean {
    return this.accepting(this.run(text));
  }
}

/** Compile a pattern (see the module note for the syntax). */
export function compileRegex(pattern: string): CharRegex {
  return new CharRegex(pattern);
}
