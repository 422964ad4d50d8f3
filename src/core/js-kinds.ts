/**
 * Which expressions in JavaScript source certainly yield a number (or a JS
 * boolean): the static knowledge that lets `core/condition-lint.ts` accept
 * `if (ops.lt(k, 2))` where `k` is a loop counter (tyche's comparison ops
 * return JS booleans on numbers) while still refusing it where `k` may be a
 * tensor.
 *
 * Over the tokens of `js-tokens.ts` and the variables of `js-scopes.ts`, an
 * expression is a number where it is certain to be one, whatever the
 * program's input: a numeric literal (not a bigint); `NaN`, `Infinity`;
 * `x.length`; `Math.*`; `Number(...)`, `parseInt`, `parseFloat`,
 * `Number.*` constants and parsers, tyche's `toNumber(...)`; unary `+`;
 * `-`, `*`, `/`, `%`, `**` and the bitwise operators with a number on one
 * side (the other side is then a number too, or the operator throws), `+`
 * with numbers on both sides; `?:`, `&&`, `||`, `??` whose every outcome is
 * a number; and a variable whose every write is a number (a declaration's
 * value, `=`, `++`, `--`, `-=`, ...: so the counter of
 * `for (let k = 0; k < n; k++)`), including a parameter of a function
 * written in the source that is only ever called directly, with a number in
 * that place at every call (and the index of an `Array.from` callback).
 * A JS boolean likewise: `true`, `false`, `!x`, comparisons with `<`, `===`,
 * ..., `instanceof`, `in`, `Boolean(...)`, `isNaN`, `Number.isInteger`,
 * `Array.isArray`, and calls that the caller's hook says yield one.
 *
 * Variables are solved together as a greatest fixed point (each starts as
 * "anything", and a write that may give something else rules it out), so a
 * counter's `k++` and a recursive helper's `f(n - 1)` keep it a number.
 * A variable read before its first write holds `undefined`, which tyche's
 * ops refuse with a TypeError rather than a silently wrong branch.
 * Anything else is `'unknown'`: a parameter of the model, a property of the
 * data, a draw, anything written in one branch as a number and in another
 * as something else.
 *
 * @module
 */
import type { Token, Tokens } from './js-tokens.js';
import type { FunctionInfo, NameOccurrence } from './js-scopes.js';

/** What an expression certainly yields. */
export type Kind = 'number' | 'boolean' | 'unknown';
/** During the fixed point: `'any'` is a variable not yet ruled out (it may still be a number or a boolean). */
export type PartialKind = Kind | 'any';

/** What the caller knows that the expression rules do not. */
export interface KindHooks {
  /**
   * The kind of a call whose callee name (or the `)` of `(0, ns.f)`) is at
   * token `callee` and whose arguments are in the parentheses at `open`;
   * undefined where the hook knows nothing of it. `kindOf` gives the kind of
   * an argument's tokens.
   */
  call(callee: number, open: number, kindOf: (s: number, e: number) => PartialKind): PartialKind | undefined;
  /** The last token of the expression that starts at token k (a declaration's or assignment's value). */
  expressionEnd(k: number): number | undefined;
}

const isPunct = (t: Token | undefined, text: string): boolean => t !== undefined && t.kind === 'punct' && t.text === text;
const isName = (t: Token | undefined, text?: string): boolean => t !== undefined && t.kind === 'name' && (text === undefined || t.text === text);

/** A number literal (decimal, hex, octal, binary, with separators): not a bigint (`1n`), not `1..toFixed`. */
const NUMBER_LITERAL = /^(?:(?:\d[\d_]*\.?[\d_]*|\.\d[\d_]*)(?:[eE][+-]?\d[\d_]*)?|0[xX][\da-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+)$/;

/** Binary operators by precedence (higher binds tighter). */
const PRECEDENCE = new Map<string, number>([
  ['??', 1], ['||', 2], ['&&', 3], ['|', 4], ['^', 5], ['&', 6],
  ['==', 7], ['!=', 7], ['===', 7], ['!==', 7],
  ['<', 8], ['>', 8], ['<=', 8], ['>=', 8], ['instanceof', 8], ['in', 8],
  ['<<', 9], ['>>', 9], ['>>>', 9], ['+', 10], ['-', 10], ['*', 11], ['/', 11], ['%', 11], ['**', 12],
]);
const NUMERIC_OPERATORS = new Set(['-', '*', '/', '%', '**', '<<', '>>', '|', '^', '&']);
const BOOLEAN_OPERATORS = new Set(['==', '!=', '===', '!==', '<', '>', '<=', '>=', 'instanceof', 'in']);
/** Compound assignments that always leave a number in a variable that held one (`+=` only with a number). */
const NUMERIC_ASSIGNMENTS = new Set(['-=', '*=', '/=', '%=', '**=', '<<=', '>>=', '>>>=', '&=', '|=', '^=']);
const ASSIGNMENTS = new Set(['=', '+=', '&&=', '||=', '??=', ...NUMERIC_ASSIGNMENTS]);

/** Global functions (and `Number.*`, `Array.*` members) with a certain result kind. */
const GLOBAL_CALLS = new Map<string, Kind>([
  ['Number', 'number'], ['parseInt', 'number'], ['parseFloat', 'number'],
  ['Boolean', 'boolean'], ['isNaN', 'boolean'], ['isFinite', 'boolean'],
]);
const MEMBER_CALLS = new Map<string, Kind>([
  ['Number.parseInt', 'number'], ['Number.parseFloat', 'number'],
  ['Number.isInteger', 'boolean'], ['Number.isSafeInteger', 'boolean'], ['Number.isFinite', 'boolean'], ['Number.isNaN', 'boolean'],
  ['Array.isArray', 'boolean'],
]);
const NUMBER_CONSTANTS = new Set(['EPSILON', 'MAX_SAFE_INTEGER', 'MIN_SAFE_INTEGER', 'MAX_VALUE', 'MIN_VALUE', 'NaN', 'POSITIVE_INFINITY', 'NEGATIVE_INFINITY']);

/** The meet of two kinds: the same kind, else unknown (`'any'` is the identity). */
export function meet(a: PartialKind, b: PartialKind): PartialKind {
  if (a === 'any') return b;
  if (b === 'any') return a;
  return a === b ? a : 'unknown';
}

/** Thrown inside the parser where the expression is something it does not read (an arrow, an assignment): the kind is unknown. */
class Unreadable extends Error {}

/** The certain kinds of expressions and variables in one source text. */
export class Kinds {
  private readonly t: readonly Token[];
  private readonly match: readonly number[];
  private readonly variableAt: ReadonlyMap<number, string>;
  private readonly occurrenceAt: ReadonlyMap<number, NameOccurrence>;
  private table: Map<string, PartialKind> | undefined;
  /** Parameter name token → the argument ranges passed to it at every call ('unknown' where some call's is not plain). */
  private readonly paramArgs = new Map<number, [number, number][] | 'unknown'>();
  /** Parameter name tokens that are certainly numbers (an `Array.from` callback's index). */
  private readonly numberParams = new Set<number>();

  /**
   * @param toks - the output of `tokenize`
   * @param occurrences - the output of `nameOccurrences` over the same tokens
   * @param fns - the output of `functionsOf` over the same tokens
   * @param hooks - what the caller knows of calls, and where expressions end
   */
  constructor(toks: Tokens, private readonly occurrences: readonly NameOccurrence[], private readonly fns: readonly FunctionInfo[], private readonly hooks: KindHooks) {
    this.t = toks.tokens;
    this.match = toks.match;
    this.variableAt = new Map(occurrences.map((o) => [o.index, o.variable]));
    this.occurrenceAt = new Map(occurrences.map((o) => [o.index, o]));
  }

  /** The certain kind of the expression at tokens [s, e]. */
  of(s: number, e: number): Kind {
    const k = this.partial(s, e);
    return k === 'any' ? 'unknown' : k;
  }

  /** The certain kind of the expression at tokens [s, e], 'any' for a variable still being solved. */
  partial(s: number, e: number): PartialKind {
    this.solve();
    if (e < s) return 'unknown';
    try {
      const p = new Parser(this, s, e);
      const k = p.sequence();
      return p.done() ? k : 'unknown';
    } catch (err) {
      if (err instanceof Unreadable) return 'unknown';
      throw err;
    }
  }

  /** The kind of the variable read at token i. */
  variable(i: number): PartialKind {
    const v = this.variableAt.get(i);
    if (v === undefined) return 'unknown';
    return this.table?.get(v) ?? 'unknown';
  }

  /** Whether the name at token i refers to no variable declared in the source (a global or an import). */
  global(i: number): boolean {
    const v = this.variableAt.get(i);
    return v !== undefined && v.startsWith('global:');
  }

  /** Forwarded to the hooks (the parser's calls). */
  call(callee: number, open: number): PartialKind | undefined {
    return this.hooks.call(callee, open, (s, e) => this.partial(s, e));
  }

  get tokens(): readonly Token[] {
    return this.t;
  }

  get matches(): readonly number[] {
    return this.match;
  }

  /** Solve the variables' kinds (once). */
  private solve(): void {
    if (this.table !== undefined) return;
    this.findParameterArguments();
    const writes = new Map<string, number[]>();
    for (const o of this.occurrences) {
      // (`for (k of xs)`, `for (k in o)` assign k without a declaration: js-scopes calls that a use)
      if ((o.role === 'use' && !this.forOfInTarget(o.index)) || o.bare) continue;
      const at = writes.get(o.variable);
      if (at) at.push(o.index);
      else writes.set(o.variable, [o.index]);
    }
    const table = new Map<string, PartialKind>();
    for (const v of writes.keys()) table.set(v, 'any');
    this.table = table;
    for (let round = 0; round < 12; round++) {
      let changed = false;
      for (const [v, at] of writes) {
        const before = table.get(v)!;
        if (before === 'unknown') continue;
        let k: PartialKind = 'any';
        for (const i of at) {
          k = meet(k, this.written(i));
          if (k === 'unknown') break;
        }
        if (k !== before) {
          table.set(v, k);
          changed = true;
        }
      }
      if (!changed) break;
    }
    for (const [v, k] of table) if (k === 'any') table.set(v, 'unknown');
  }

  /** Whether the name at token i is what `for (i of ...)` / `for (i in ...)` assigns (without a declaration). */
  private forOfInTarget(i: number): boolean {
    const t = this.t;
    const open = t[i - 1];
    return (isName(t[i + 1], 'of') || isName(t[i + 1], 'in')) && isPunct(open, '(') && (isName(t[i - 2], 'for') || (isName(t[i - 2], 'await') && isName(t[i - 3], 'for')));
  }

  /** The kind a write at token i (a declaration, a parameter or an assignment of the name there) stores. */
  private written(i: number): PartialKind {
    const t = this.t;
    const next = t[i + 1];
    if (isPunct(next, '++') || isPunct(next, '--') || isPunct(t[i - 1], '++') || isPunct(t[i - 1], '--')) return 'number';
    const o = this.occurrenceAt.get(i);
    if (o?.declaredBy === 'other') {
      // a parameter (its arguments), or a pattern, a default, a function or class name, a `catch` binding
      if (this.numberParams.has(i)) return 'number';
      const args = this.paramArgs.get(i);
      if (args === undefined || args === 'unknown') return 'unknown';
      let k: PartialKind = 'any';
      for (const [s, e] of args) k = meet(k, this.partial(s, e));
      return k;
    }
    if (next?.kind !== 'punct' || !ASSIGNMENTS.has(next.text)) return 'unknown'; // `for (const k of xs)`, `for (k in o)`
    if (NUMERIC_ASSIGNMENTS.has(next.text)) return 'number';
    const end = this.hooks.expressionEnd(i + 2);
    if (end === undefined) return 'unknown';
    const k = this.partial(i + 2, end);
    if (next.text === '=') return k;
    if (next.text === '+=') return k === 'number' || k === 'any' ? k : 'unknown';
    // `&&=`, `||=`, `??=`: the old value or the new one
    return meet(k, this.variable(i));
  }

  /**
   * For each function bound to a name that is only ever called directly
   * (`const f = (k) => ...; f(1); f(j + 1)`), the arguments at each
   * parameter; and the index parameter of `Array.from(x, (v, i) => ...)`.
   */
  private findParameterArguments(): void {
    const t = this.t;
    const uses = new Map<string, number[]>();
    const writeCount = new Map<string, number>();
    for (const o of this.occurrences) {
      if (o.role === 'use') {
        const at = uses.get(o.variable);
        if (at) at.push(o.index);
        else uses.set(o.variable, [o.index]);
      } else if (!o.bare) writeCount.set(o.variable, (writeCount.get(o.variable) ?? 0) + 1);
    }
    for (const f of this.fns) {
      if (this.isArrayFromCallback(f) && f.params[1] !== undefined) this.numberParams.add(f.params[1]);
      if (f.invoked !== undefined) {
        // `((k) => ...)(3)`: called once, as written
        f.params.forEach((p, k) => {
          const arg = p === undefined ? undefined : this.argument(f.invoked!, k);
          if (p !== undefined) this.paramArgs.set(p, arg === undefined ? 'unknown' : [arg]);
        });
        continue;
      }
      if (f.binding === undefined) continue;
      const v = this.variableAt.get(f.binding);
      if (v === undefined || writeCount.get(v) !== 1) continue;
      const calls = uses.get(v) ?? [];
      const direct = calls.every((u) => isPunct(t[u + 1], '(') && this.match[u + 1] > u + 1 && !isName(t[u - 1], 'new'));
      f.params.forEach((p, k) => {
        if (p === undefined) return;
        if (!direct || calls.length === 0) return;
        const ranges: [number, number][] = [];
        for (const u of calls) {
          const arg = this.argument(u + 1, k);
          if (arg === undefined) {
            this.paramArgs.set(p, 'unknown');
            return;
          }
          ranges.push(arg);
        }
        this.paramArgs.set(p, ranges);
      });
    }
  }

  /** The token range of the k-th argument in the call parentheses at open (undefined: missing or spread, or a spread before it). */
  argument(open: number, k: number): [number, number] | undefined {
    const args = this.arguments(open);
    if (args.slice(0, k + 1).some(([s]) => isPunct(this.t[s], '...'))) return undefined;
    return args[k];
  }

  /** The token ranges of the arguments in the call parentheses at open. */
  arguments(open: number): [number, number][] {
    const t = this.t;
    const close = this.match[open];
    const out: [number, number][] = [];
    let first = open + 1;
    for (let k = open + 1; k <= close; k++) {
      if (k < close) {
        const tok = t[k];
        const opens = (tok.kind === 'punct' && (tok.text === '(' || tok.text === '[' || tok.text === '{')) || (tok.kind === 'template' && tok.text.startsWith('`'));
        if (opens && this.match[k] > k) k = this.match[k];
        if (!isPunct(tok, ',')) continue;
      }
      if (k > first) out.push([first, k - 1]);
      first = k + 1;
    }
    return out;
  }

  /** `Array.from(x, (v, i) => ...)`: the function is the second argument of a global `Array.from`. */
  private isArrayFromCallback(f: FunctionInfo): boolean {
    const t = this.t;
    let s = f.start;
    if (isName(t[s - 1], 'async')) s--;
    if (isName(t[s - 1], 'function')) s--;
    if (!isPunct(t[s - 1], ',')) return false;
    // find the call's open parenthesis: the bracket whose top-level comma this is
    for (let k = s - 2; k >= 0; k--) {
      const tok = t[k];
      if (tok.kind === 'punct' && (tok.text === ')' || tok.text === ']' || tok.text === '}') && this.match[k] >= 0) {
        k = this.match[k];
        continue;
      }
      if (isPunct(tok, ',')) return false; // a third argument or later
      if (isPunct(tok, '(')) return isName(t[k - 1], 'from') && isPunct(t[k - 2], '.') && isName(t[k - 3], 'Array') && this.global(k - 3);
      if (tok.kind === 'punct' && (tok.text === '[' || tok.text === '{')) return false;
    }
    return false;
  }
}

/** A precedence-climbing reader of one expression's tokens [pos, end] that yields its certain kind. */
class Parser {
  private pos: number;
  private readonly t: readonly Token[];
  private readonly match: readonly number[];

  constructor(private readonly kinds: Kinds, s: number, private readonly end: number) {
    this.pos = s;
    this.t = kinds.tokens;
    this.match = kinds.matches;
  }

  done(): boolean {
    return this.pos === this.end + 1;
  }

  private peek(): Token | undefined {
    return this.pos <= this.end ? this.t[this.pos] : undefined;
  }

  /** `a, b, c`: the last one's kind. */
  sequence(): PartialKind {
    let k = this.conditional();
    while (isPunct(this.peek(), ',')) {
      this.pos++;
      k = this.conditional();
    }
    return k;
  }

  private conditional(): PartialKind {
    const test = this.binary(1);
    const tok = this.peek();
    if (isPunct(tok, '?')) {
      this.pos++;
      const a = this.conditional();
      if (!isPunct(this.peek(), ':')) throw new Unreadable();
      this.pos++;
      const b = this.conditional();
      return meet(a, b);
    }
    if (tok !== undefined && tok.kind === 'punct' && (ASSIGNMENTS.has(tok.text) || tok.text === '=>')) throw new Unreadable();
    return test;
  }

  private binary(min: number): PartialKind {
    let left = this.unary();
    for (;;) {
      const tok = this.peek();
      if (tok === undefined || (tok.kind !== 'punct' && !isName(tok, 'instanceof') && !isName(tok, 'in'))) return left;
      const prec = PRECEDENCE.get(tok.text);
      if (prec === undefined || prec < min) return left;
      this.pos++;
      const right = this.binary(tok.text === '**' ? prec : prec + 1);
      left = combine(tok.text, left, right);
    }
  }

  private unary(): PartialKind {
    const tok = this.peek();
    if (tok === undefined) throw new Unreadable();
    if (tok.kind === 'punct') {
      if (tok.text === '!') {
        this.pos++;
        this.unary();
        return 'boolean';
      }
      if (tok.text === '+') {
        this.pos++;
        this.unary();
        return 'number';
      }
      if (tok.text === '-' || tok.text === '~' || tok.text === '++' || tok.text === '--') {
        this.pos++;
        const k = this.unary();
        return k === 'number' || k === 'any' ? k : 'unknown';
      }
    }
    if (isName(tok, 'await')) {
      this.pos++;
      return this.unary();
    }
    if (isName(tok, 'typeof') || isName(tok, 'void') || isName(tok, 'delete')) {
      this.pos++;
      this.unary();
      return 'unknown';
    }
    const k = this.chain();
    const after = this.peek();
    if ((isPunct(after, '++') || isPunct(after, '--')) && !after!.newlineBefore) {
      this.pos++;
      return k === 'number' || k === 'any' ? k : 'unknown';
    }
    return k;
  }

  /** A primary expression and its members, calls and indexes. */
  private chain(): PartialKind {
    const t = this.t;
    const s = this.pos;
    const tok = this.peek()!;
    let kind: PartialKind;
    if (tok.kind === 'number') {
      kind = NUMBER_LITERAL.test(tok.text) ? 'number' : 'unknown';
      this.pos++;
    } else if (tok.kind === 'string' || tok.kind === 'regex') {
      kind = 'unknown';
      this.pos++;
    } else if (tok.kind === 'template' && tok.text.startsWith('`')) {
      if (this.match[s] > s) this.pos = this.match[s] + 1;
      else this.pos++;
      kind = 'unknown';
    } else if (tok.kind === 'name') {
      if (['function', 'class', 'new', 'async', 'yield', 'this', 'super', 'import'].includes(tok.text) || isPunct(t[s + 1], '=>')) throw new Unreadable();
      this.pos++;
      if (tok.text === 'true' || tok.text === 'false') kind = 'boolean';
      else if ((tok.text === 'NaN' || tok.text === 'Infinity') && this.kinds.global(s)) kind = 'number';
      else kind = this.kinds.variable(s);
    } else if (isPunct(tok, '(') && this.match[s] > s && this.match[s] <= this.end) {
      if (isPunct(t[this.match[s] + 1], '=>')) throw new Unreadable();
      kind = this.kinds.partial(s + 1, this.match[s] - 1);
      this.pos = this.match[s] + 1;
    } else if ((isPunct(tok, '[') || isPunct(tok, '{')) && this.match[s] > s && this.match[s] <= this.end) {
      kind = 'unknown';
      this.pos = this.match[s] + 1;
    } else throw new Unreadable();
    // members, calls, indexes
    for (;;) {
      const p = this.peek();
      if (p === undefined) return kind;
      if ((isPunct(p, '.') || isPunct(p, '?.')) && isName(t[this.pos + 1])) {
        const name = this.pos + 1;
        this.pos += 2;
        kind = this.member(s, name, isPunct(p, '?.'));
        continue;
      }
      if ((isPunct(p, '(') || (isPunct(p, '?.') && isPunct(t[this.pos + 1], '('))) && !p.newlineBefore) {
        const open = isPunct(p, '(') ? this.pos : this.pos + 1;
        if (this.match[open] < open || this.match[open] > this.end) throw new Unreadable();
        kind = this.called(s, open - (isPunct(p, '(') ? 1 : 2), open);
        this.pos = this.match[open] + 1;
        continue;
      }
      if ((isPunct(p, '[') || (isPunct(p, '?.') && isPunct(t[this.pos + 1], '['))) && !p.newlineBefore) {
        const open = isPunct(p, '[') ? this.pos : this.pos + 1;
        if (this.match[open] < open || this.match[open] > this.end) throw new Unreadable();
        this.pos = this.match[open] + 1;
        kind = 'unknown';
        continue;
      }
      if (p.kind === 'template' && !p.text.startsWith('}')) {
        this.pos = this.match[this.pos] > this.pos ? this.match[this.pos] + 1 : this.pos + 1;
        kind = 'unknown';
        continue;
      }
      return kind;
    }
  }

  /** The kind of `<chain from s>.name` (not called yet). */
  private member(s: number, name: number, optional: boolean): PartialKind {
    const t = this.t;
    const text = t[name].text;
    if (text === 'length' && !optional) return 'number';
    const base = name - 2;
    if (base === s && isName(t[s]) && this.kinds.global(s)) {
      if (t[s].text === 'Math' && !optional) return 'number'; // a constant (a method is read by `called`)
      if (t[s].text === 'Number' && NUMBER_CONSTANTS.has(text)) return 'number';
    }
    return 'unknown';
  }

  /** The kind of a call: the callee ends at token callee, its arguments are in the parentheses at open; the chain started at s. */
  private called(s: number, callee: number, open: number): PartialKind {
    const t = this.t;
    const hooked = this.kinds.call(callee, open);
    if (hooked !== undefined) return hooked;
    // `(0, ns.f)(...)`: a transpiler's call of a named import
    const named = isPunct(t[callee], ')') && isName(t[callee - 1]) ? callee - 1 : callee;
    const name = t[named];
    if (!isName(name)) return 'unknown';
    if (named !== callee) return name.text === 'toNumber' && (isPunct(t[named - 1], '.') || isPunct(t[named - 1], '?.')) ? 'number' : 'unknown';
    if (callee === s && this.kinds.global(s)) return GLOBAL_CALLS.get(name.text) ?? (name.text === 'toNumber' ? 'number' : 'unknown');
    const dot = t[callee - 1];
    if (isPunct(dot, '.') && callee - 2 === s && isName(t[s]) && this.kinds.global(s)) {
      if (t[s].text === 'Math') return 'number';
      const known = MEMBER_CALLS.get(`${t[s].text}.${name.text}`);
      if (known !== undefined) return known;
    }
    // tyche's toNumber as an import (`ns.toNumber(x)`, vitest's `(0, ns.toNumber)(x)`, a minifier's `(0, e.toNumber)(x)`) or a number class's `x.toNumber()`
    if (name.text === 'toNumber' && (isPunct(dot, '.') || isPunct(dot, '?.'))) return 'number';
    return 'unknown';
  }
}

/** The kind of `a <op> b`. */
function combine(op: string, a: PartialKind, b: PartialKind): PartialKind {
  if (BOOLEAN_OPERATORS.has(op)) return 'boolean';
  if (op === '>>>') return 'number';
  if (NUMERIC_OPERATORS.has(op)) {
    if (a === 'number' || b === 'number') return 'number';
    return a === 'any' || b === 'any' ? 'any' : 'unknown';
  }
  if (op === '+') {
    if (a === 'number' && b === 'number') return 'number';
    return (a === 'any' || a === 'number') && (b === 'any' || b === 'number') ? 'any' : 'unknown';
  }
  if (op === '??') return a === 'number' || a === 'boolean' ? a : meet(a, b);
  // `&&`, `||`: either operand's value
  return meet(a, b);
}
