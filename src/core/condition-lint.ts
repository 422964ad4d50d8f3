/**
 * A static check of a model's source for a tensor comparison used as a
 * JavaScript condition: `if (ops.gt(mu, 0))`, `ops.lt(a, b) ? p : q`,
 * `while (x.greater(y))`, `!ops.eq(z, 1)`, `ops.gt(a, 0) && ...`. A tensor
 * object is always true in JS, so such a model silently takes one branch.
 *
 * The run-time check (a boolean tensor that nothing consumes, in the JIT
 * recorder and `backend/condition-watch.ts`) misses a comparison that is
 * both used by a tensor op and steers a JS condition; this check reads the
 * source instead (`fn.toString()`, after whatever transpiler or bundler
 * produced it), so it sees both.
 *
 * What is reported: a call to a comparison or logical op (`gt`, `lt`, `ge`,
 * `le`, `eq`, `ne`, `and`, `isInteger`, `greater`, `greaterEqual`, `less`,
 * `lessEqual`, `equal`, `notEqual`, `logicalAnd`, `logicalOr`, `logicalNot`,
 * `logicalXor`, `isNaN`, `isInf`, `isFinite`) as a method of anything but a
 * JS built-in or a library known to return JS booleans (`Number`, `Math`,
 * `math`, `lodash`, `util`, `this`) (`ops.gt(...)`, `tf.greater(...)`,
 * `x.greater(...)`, the `(0, ns.gt)(...)` form transpilers write for named
 * imports); the short names only with the op's arity (`ops.gt(a, b)`, not a
 * number class's `x.gt(y)` as in Decimal or Long); a bare call of a name
 * bound in the source to one of those ops (`const { gt } = ops`); or a
 * variable that only ever holds such a call, where it is a condition: the
 * test of `if`, `while`, `do ... while`, `for` or `?:`, the operand of `!` or
 * `Boolean(...)`, an operand of `&&`/`||` other than the last or the last
 * one where the whole `&&`/`||` chain is a condition, what the callback of
 * `filter`/`some`/`every`/`find`... returns, the value of a `switch` or a
 * `case` (compared with `===`, which a tensor never satisfies). A call of a
 * local function whose every `return` is such a comparison is one too
 * (`const pos = (v) => ops.gt(v, 0); if (pos(mu))`, and a minifier's
 * inlined `((v) => ops.gt(v, 0))(mu)`).
 * Wrapped in anything that yields a number or a JS boolean (`toNumber(...)`,
 * `.dataSync()[0]`, `Number(...)`, a comparison with `===`), it is not
 * reported. Nor is one of tyche's `gt`/`lt`/`ge`/`le`/`eq`/`isInteger`
 * whose arguments are certainly numbers (`and`: JS booleans), as
 * `js-kinds.ts` decides (a loop counter, a literal, `.length`, `Math.*`,
 * `toNumber(...)`, ...): it returns a JS boolean. Code in strings, template
 * text, comments and regular expressions is skipped. Functions the model
 * calls are checked only where their source is inside the model's, or where
 * `infer` is handed them in the model's arguments (`argumentFunctions`).
 *
 * @module
 */
import { branchOnTensorSourceError } from './errors.js';
import { Kinds, type PartialKind } from './js-kinds.js';
import { type FunctionInfo, functionsOf, innermostFunction, nameOccurrences, type NameOccurrence } from './js-scopes.js';
import { tokenize, type Token, type Tokens } from './js-tokens.js';

/** A tensor comparison used as a JS condition, found in source text. */
export interface ConditionFinding {
  /** 1-based line in the source that was checked. */
  readonly line: number;
  /** The source line, trimmed (at most 160 characters). */
  readonly code: string;
  /** The comparison as written, e.g. `ops.gt(mu, 0)` or the variable holding one. */
  readonly expression: string;
  /**
   * Where it is used: `if`, `while`, `for`, `?:` (test of a conditional),
   * `!`, `&&`/`||` (an operand tested for truth), `Boolean()`, or
   * `predicate` (returned by the callback of `filter`, `some`, `every`,
   * `find`, `findIndex`, `findLast`, `findLastIndex`), `switch` (the value
   * switched on) or `case` (a case's value: compared with `===`, which a
   * tensor never equals).
   */
  readonly use: 'if' | 'while' | 'for' | '?:' | '!' | '&&/||' | 'Boolean()' | 'predicate' | 'switch' | 'case';
}

/** A comparison call: its tokens [start, end] (receiver included), the op's name and the `(` of its arguments. */
interface Call {
  readonly start: number;
  readonly end: number;
  readonly op: string;
  readonly open: number;
}

/** Names of comparison and logical ops whose result is a boolean tensor when an argument is a tensor. */
const COMPARISONS = new Set([
  'gt', 'lt', 'ge', 'le', 'eq', 'ne', 'and', 'isInteger',
  'greater', 'greaterEqual', 'less', 'lessEqual', 'equal', 'notEqual',
  'logicalAnd', 'logicalOr', 'logicalNot', 'logicalXor', 'isNaN', 'isInf', 'isFinite',
]);

/**
 * tyche's ops that return a JS boolean when every argument is a number
 * (`and`: a JS boolean): `ops.lt(k, 2)` on a loop counter is right. tfjs's
 * (`tf.greater(2, 1)`) return a tensor even then.
 */
const ON_NUMBERS = new Map<string, { arity: number; kind: 'number' | 'boolean' }>([
  ['gt', { arity: 2, kind: 'number' }], ['lt', { arity: 2, kind: 'number' }], ['ge', { arity: 2, kind: 'number' }],
  ['le', { arity: 2, kind: 'number' }], ['eq', { arity: 2, kind: 'number' }], ['isInteger', { arity: 1, kind: 'number' }],
  ['and', { arity: 2, kind: 'boolean' }],
]);

/** Those whose short names other libraries use for methods of number classes (Decimal, Long): reported only with the op's arity. */
const BINARY_OPS = new Set(['gt', 'lt', 'ge', 'le', 'eq', 'ne', 'and']);
const UNARY_OPS = new Set(['isInteger', 'isNaN', 'isInf', 'isFinite']);

/** Of those, the ones called bare (without a receiver) only as tfjs's (imported by name). */
const BARE_COMPARISONS = new Set(['greaterEqual', 'lessEqual', 'notEqual', 'logicalAnd', 'logicalOr', 'logicalNot', 'logicalXor']);

/** Receivers whose methods of those names return JS booleans (`Number.isInteger`, `Number.isNaN`, mathjs's `math.equal`). */
const BUILTINS = new Set([
  'Number', 'Math', 'Object', 'Array', 'Reflect', 'JSON', 'String', 'Atomics', 'Promise', 'BigInt', 'globalThis', 'window', 'self', 'global', 'console',
  // libraries whose functions of these names return JS booleans: mathjs, lodash, Node's util (not `_`: minifiers pick that name)
  'lodash', 'math', 'mathjs', 'util',
]);

/** Array methods whose callback's result is tested for truth. */
const PREDICATES = new Set(['filter', 'some', 'every', 'find', 'findIndex', 'findLast', 'findLastIndex']);

/** Tokens after which an expression starts (nothing on its left binds to it). */
const LEFT_BOUNDARIES = new Set([
  '(', '[', '{', ',', ';', '?', ':', '=>', '...', '}',
  '=', '+=', '-=', '*=', '/=', '%=', '**=', '<<=', '>>=', '>>>=', '&=', '|=', '^=', '&&=', '||=', '??=',
]);
const LEFT_KEYWORDS = new Set(['return', 'throw', 'case', 'yield', 'else', 'do']);
const ASSIGNMENTS = new Set(['=', '+=', '-=', '*=', '/=', '%=', '**=', '<<=', '>>=', '>>>=', '&=', '|=', '^=', '&&=', '||=', '??=']);
const DECLARATIONS = new Set(['const', 'let', 'var']);
/** Keywords that may precede `(` without making it a call. */
const NOT_CALLEES = new Set(['return', 'typeof', 'void', 'delete', 'await', 'yield', 'throw', 'case', 'in', 'of', 'instanceof', 'new', 'else', 'do']);
const STATEMENT_HEADS = new Set(['if', 'while', 'for', 'switch', 'catch', 'with']);

const isPunct = (t: Token | undefined, text: string): boolean => t !== undefined && t.kind === 'punct' && t.text === text;
const isName = (t: Token | undefined, text?: string): boolean => t !== undefined && t.kind === 'name' && (text === undefined || t.text === text);
const isLogical = (t: Token | undefined): boolean => isPunct(t, '&&') || isPunct(t, '||');

/** Lint state over one source text. */
class Lint {
  private readonly t: readonly Token[];
  private readonly match: readonly number[];
  private readonly parent: readonly number[];
  /** The test of each `for (init; test; update)` header, as [first `;`, second `;`]. */
  private readonly forTests = new Map<number, number>();
  /** Variables bound to a comparison op (`const { gt } = ops`, `const greater = tf.greater`), by `js-scopes.ts` variable, with the op's name. */
  private readonly aliases = new Map<string, string>();
  /** Functions written in the source (`js-scopes.ts`). */
  private readonly fns: readonly FunctionInfo[];
  /** What expressions certainly yield (made when first needed). */
  private kindsOf: Kinds | undefined;
  /** Every plain name's occurrence, and the variable at each token index. */
  private readonly occurrences: readonly NameOccurrence[];
  private readonly variableAt: ReadonlyMap<number, string>;

  constructor(private readonly source: string, toks: Tokens) {
    this.t = toks.tokens;
    this.match = toks.match;
    this.parent = toks.parent;
    this.occurrences = nameOccurrences(toks);
    this.variableAt = new Map(this.occurrences.map((o) => [o.index, o.variable]));
    this.fns = functionsOf(toks);
    this.findForTests();
    this.findAliases();
  }

  run(): ConditionFinding[] {
    const found = new Map<number, ConditionFinding>();
    const report = (s: number, e: number, use: ConditionFinding['use'] | undefined): void => {
      if (use === undefined || found.has(s)) return;
      found.set(s, this.finding(s, e, use));
    };
    const calls: [number, number][] = [];
    for (let i = 0; i < this.t.length; i++) {
      const call = this.comparisonCall(i);
      // (tyche's `ops.lt(k, 2)` on numbers is a JS boolean)
      if (call && this.onNumbers(call) !== 'boolean') {
        calls.push([call.start, call.end]);
        report(call.start, call.end, this.tested(call.start, call.end));
      }
    }
    let reads = this.comparisonVariableReads(calls);
    // local functions that only ever return a comparison: their calls are comparisons too
    for (let round = 0; round < 4; round++) {
      const more = this.helperCalls(calls, reads);
      if (more.calls.length === 0 && more.passed.length === 0) break;
      for (const [start, end] of more.calls) report(start, end, this.tested(start, end));
      for (const i of more.passed) report(i, i, 'predicate');
      calls.push(...more.calls);
      reads = this.comparisonVariableReads(calls);
    }
    for (const i of reads) report(i, i, this.tested(i, i));
    return [...found.entries()].sort((a, b) => a[0] - b[0]).map(([, f]) => f);
  }

  /** `a.b` or `a?.b`: the token at i is a property name. */
  private isMember(i: number): boolean {
    return isPunct(this.t[i - 1], '.') || isPunct(this.t[i - 1], '?.');
  }

  /** What the expressions of this source certainly yield (`js-kinds.ts`). */
  private get kinds(): Kinds {
    this.kindsOf ??= new Kinds({ tokens: this.t, match: this.match, parent: this.parent }, this.occurrences, this.fns, {
      call: (callee, open, kindOf) => {
        const i = isPunct(this.t[callee], ')') ? callee - 1 : callee;
        const call = this.comparisonCall(i);
        return call !== undefined && call.open === open ? this.onNumbers(call, kindOf) : undefined;
      },
      expressionEnd: (k) => this.expressionEnd(k),
    });
    return this.kindsOf;
  }

  /**
   * `'boolean'` where the call is one of tyche's ops that returns a JS
   * boolean on numbers (`ops.lt(k, 2)`) and its arguments certainly are
   * numbers (`and`: JS booleans); `'unknown'` where it may return a tensor;
   * `'any'` while a variable in an argument is still being solved.
   */
  private onNumbers(call: Call, kindOf?: (s: number, e: number) => PartialKind): PartialKind {
    const want = ON_NUMBERS.get(call.op);
    if (want === undefined) return 'unknown';
    const args = this.kinds.arguments(call.open);
    if (args.length !== want.arity) return 'unknown';
    let pending = false;
    for (const [s, e] of args) {
      const k = kindOf ? kindOf(s, e) : this.kinds.of(s, e);
      if (k === 'any') pending = true;
      else if (k !== want.kind) return 'unknown';
    }
    return pending ? 'any' : 'boolean';
  }

  /** If a comparison call has its op name at token i: its tokens, op and arguments. */
  private comparisonCall(i: number): Call | undefined {
    const t = this.t;
    const name = t[i];
    if (name.kind !== 'name') return undefined;
    const alias = this.aliasOp(i);
    if (!COMPARISONS.has(name.text) && alias === undefined) return undefined;
    const op = alias ?? name.text;
    let open = i + 1;
    if (isPunct(t[open], '?.')) open++;
    if (this.isMember(i)) {
      const recv = this.chainStart(i - 1);
      if (recv === i - 1) return undefined;
      // `Number.isInteger(x)`, and `this.eq(x)` (a number class's own method, e.g. Long's)
      if (recv === i - 2 && isName(t[recv]) && (BUILTINS.has(t[recv].text) || t[recv].text === 'this')) return undefined;
      if (isPunct(t[open], '(') && this.match[open] > 0) return alias !== undefined || this.arityFits(name.text, open) ? { start: recv, end: this.match[open], op, open } : undefined;
      // `(0, ns.gt)(a, b)`: a transpiler's call of a named import
      const paren = recv - 3;
      if (isPunct(t[i + 1], ')') && this.match[i + 1] === paren && isPunct(t[recv - 1], ',') && t[recv - 2]?.kind === 'number' && isPunct(t[i + 2], '(') && this.match[i + 2] > 0 && this.arityFits(name.text, i + 2)) {
        return { start: paren, end: this.match[i + 2], op, open: i + 2 };
      }
      return undefined;
    }
    if (!BARE_COMPARISONS.has(name.text) && alias === undefined) return undefined;
    if (!isPunct(t[open], '(') || this.match[open] < 0) return undefined;
    const prev = t[i - 1];
    // a declaration or method definition of that name, not a call
    if (isName(prev, 'function') || isName(prev, 'new') || isPunct(t[this.match[open] + 1], '{')) return undefined;
    return { start: i, end: this.match[open], op, open };
  }

  /**
   * Whether a call of `name` with the arguments in the parentheses at index
   * open has the op's arity: tyche's `ops.gt(a, b)` and tfjs's `tf.isNaN(x)`
   * against a number class's own methods (Decimal's and Long's `x.gt(y)`,
   * `x.isFinite()`, which return JS booleans).
   */
  private arityFits(name: string, open: number): boolean {
    const want = BINARY_OPS.has(name) ? 2 : UNARY_OPS.has(name) ? 1 : undefined;
    if (want === undefined) return true;
    let args = 0;
    let commas = 0;
    for (let k = open + 1; k < this.match[open]; k++) {
      if (this.parent[k] !== open) continue;
      args = 1;
      if (isPunct(this.t[k], ',') && k + 1 < this.match[open]) commas++;
    }
    return args + commas === want;
  }

  /**
   * The first token of the member/call chain that ends with the `.` at
   * index dot (`a.b(c)[d].` → `a`); dot itself if nothing precedes it.
   */
  private chainStart(dot: number): number {
    const t = this.t;
    let k = dot - 1;
    for (;;) {
      const tok = t[k];
      if (tok === undefined) return dot;
      if (tok.kind === 'punct' && (tok.text === ')' || tok.text === ']')) {
        const o = this.match[k];
        if (o < 0) return k + 1;
        const before = t[o - 1];
        // a call or index on something before it (not `if (...)`, `return (...)`)
        if (before && ((before.kind === 'name' && !NOT_CALLEES.has(before.text) && !STATEMENT_HEADS.has(before.text)) || isPunct(before, ')') || isPunct(before, ']') || isPunct(before, '?.') || before.kind === 'template')) {
          k = isPunct(before, '?.') ? o - 2 : o - 1;
          continue;
        }
        return o;
      }
      if (tok.kind === 'template' && this.match[k] >= 0 && tok.text.startsWith('}')) return this.match[k];
      if (tok.kind === 'name' || tok.kind === 'number' || tok.kind === 'string' || tok.kind === 'template' || tok.kind === 'regex') {
        if (isPunct(t[k - 1], '.') || isPunct(t[k - 1], '?.')) {
          k -= 2;
          continue;
        }
        return k;
      }
      return dot;
    }
  }

  /** Whether the token at k ends an expression on the left (the expression after it starts fresh). */
  private leftBoundary(k: number): boolean {
    const tok = this.t[k];
    if (tok === undefined) return true;
    if (tok.kind === 'punct') {
      if (LEFT_BOUNDARIES.has(tok.text)) return true;
      // the `)` that closes `if (...)`, `while (...)`, `for (...)`
      return tok.text === ')' && this.match[k] >= 0 && isName(this.t[this.match[k] - 1]) && STATEMENT_HEADS.has(this.t[this.match[k] - 1].text);
    }
    if (tok.kind === 'template') return tok.text.endsWith('${');
    return tok.kind === 'name' && LEFT_KEYWORDS.has(tok.text);
  }

  /**
   * How the value of the expression at tokens [s, e] is tested for truth, if
   * it is: the whole test of `if`/`while`/`for`/`?:`, the operand of `!`, or
   * an operand of `&&`/`||` whose truth decides the result.
   */
  private tested(s: number, e: number): ConditionFinding['use'] | undefined {
    const t = this.t;
    const p = t[s - 1];
    const n = t[e + 1];
    // `G.dataSync()`, `G[0]`, `G(...)`: G is only part of the expression
    if (isPunct(n, '.') || isPunct(n, '?.') || isPunct(n, '[') || isPunct(n, '(') || (n?.kind === 'template' && !n.text.startsWith('}'))) return undefined;
    if (isPunct(p, '!')) return '!';
    // `await G` (and a transpiler's `yield G`) still holds the tensor
    if (isName(p, 'await') || isName(p, 'yield')) return this.tested(s - 1, e);
    if (isPunct(p, '(') && isPunct(n, ')') && this.match[s - 1] === e + 1) {
      const head = t[s - 2];
      if (isName(head, 'if')) return 'if';
      if (isName(head, 'while')) return 'while';
      if (isName(head, 'switch')) return 'switch';
      if (isName(head, 'Boolean') && !this.isMember(s - 2)) return 'Boolean()';
      const call = head !== undefined && ((head.kind === 'name' && !NOT_CALLEES.has(head.text)) || isPunct(head, ')') || isPunct(head, ']') || isPunct(head, '?.') || head.kind === 'template');
      return call ? undefined : this.tested(s - 1, e + 1);
    }
    if (isPunct(p, ';') && isPunct(n, ';') && this.forTests.get(s - 1) === e + 1) return 'for';
    if (isName(p, 'case') && isPunct(n, ':')) return 'case';
    // `G + 1 && ...`, `a && G * 2`: G is only part of an operand
    if (!this.rightBoundary(e + 1)) return undefined;
    if (isLogical(n) && (this.leftBoundary(s - 1) || isLogical(p))) return '&&/||';
    if (isPunct(n, '?') && this.leftBoundary(s - 1)) return '?:';
    if (isLogical(p)) {
      // the last operand of an `&&`/`||` chain: tested where the whole chain is
      return this.tested(this.logicalChainStart(s - 1), e);
    }
    // a branch of `?:`: tested where the whole conditional is (`if (a ? G : b)`, `return a ? true : G` in a predicate)
    if (isPunct(p, '?') && isPunct(n, ':')) {
      const end = this.expressionEnd(e + 2);
      return end === undefined ? undefined : this.tested(this.logicalChainStart(s - 1), end);
    }
    if (isPunct(p, ':')) {
      const q = this.conditionalQuestion(s - 1);
      return q === undefined ? undefined : this.tested(this.logicalChainStart(q), e);
    }
    // the result of a predicate: `xs.filter((x) => G)`, `xs.some(function (x) { return G; })`
    if (isPunct(p, '=>')) return this.predicateCallback(this.arrowStart(s - 1)) ? 'predicate' : undefined;
    if (isName(p, 'return')) {
      const fn = this.enclosingFunctionStart(s - 1);
      return fn !== undefined && this.predicateCallback(fn) ? 'predicate' : undefined;
    }
    return undefined;
  }

  /** The `?` that the `:` at index colon belongs to, if it is a conditional's (not an object key's or a label's). */
  private conditionalQuestion(colon: number): number | undefined {
    const t = this.t;
    let depth = 0;
    for (let k = colon - 1; k >= 0; k--) {
      const tok = t[k];
      if (tok.kind === 'punct' && (tok.text === ')' || tok.text === ']' || tok.text === '}') && this.match[k] >= 0) {
        k = this.match[k];
        continue;
      }
      if (tok.kind === 'template' && tok.text.startsWith('}') && this.match[k] >= 0) {
        k = this.match[k];
        continue;
      }
      if (isPunct(tok, ':')) depth++;
      else if (isPunct(tok, '?')) {
        if (depth === 0) return k;
        depth--;
      } else if (tok.kind === 'punct' && ['(', '[', '{', ',', ';', '=>', '='].includes(tok.text)) return undefined;
      else if (tok.kind === 'template' && tok.text.endsWith('${')) return undefined;
    }
    return undefined;
  }

  /** The last token of the expression that starts at token k (up to `,`, `;`, `:` or a closing bracket at its level). */
  private expressionEnd(k: number): number | undefined {
    const t = this.t;
    let last: number | undefined;
    let depth = 0;
    for (let i = k; i < t.length; i++) {
      const tok = t[i];
      if (tok.kind === 'punct' && (tok.text === '(' || tok.text === '[' || tok.text === '{') && this.match[i] > i) {
        last = i = this.match[i];
        continue;
      }
      if (tok.kind === 'template' && tok.text.endsWith('${') && !tok.text.startsWith('}') && this.match[i] > i) {
        last = i = this.match[i];
        continue;
      }
      if (isPunct(tok, '?')) depth++;
      else if (isPunct(tok, ':')) {
        if (depth === 0) return last;
        depth--;
      } else if (tok.kind === 'punct' && [',', ';', ')', ']', '}'].includes(tok.text)) return last;
      else if (tok.kind === 'template' && tok.text.startsWith('}')) return last;
      else if (i > k && tok.newlineBefore && this.endsStatement(i) && !isPunct(tok, '{')) return last;
      last = i;
    }
    return last;
  }

  /** The first token of the arrow function whose `=>` is at index arrow (its parameters, or `async`). */
  private arrowStart(arrow: number): number {
    const k = arrow - 1;
    const start = isPunct(this.t[k], ')') && this.match[k] >= 0 ? this.match[k] : k;
    return isName(this.t[start - 1], 'async') ? start - 1 : start;
  }

  /** The first token of the function whose body (at any block depth) holds the token at k; undefined outside one. */
  private enclosingFunctionStart(k: number): number | undefined {
    const t = this.t;
    for (let o = this.parent[k]; o >= 0; o = this.parent[o]) {
      if (!isPunct(t[o], '{')) return undefined;
      const before = t[o - 1];
      if (isPunct(before, '=>')) return this.arrowStart(o - 1);
      if (isPunct(before, ')') && this.match[o - 1] >= 0) {
        const open = this.match[o - 1];
        let f = open - 1;
        if (isName(t[f]) && isName(t[f - 1], 'function')) f--;
        if (isName(t[f], 'function')) return isName(t[f - 1], 'async') ? f - 1 : f;
        if (isName(t[f]) && STATEMENT_HEADS.has(t[f].text)) continue;
        return undefined;
      }
    }
    return undefined;
  }

  /** Whether the function starting at token a is the first argument of `.filter(`, `.some(`, `.every(`, `.find(`, ... */
  private predicateCallback(a: number): boolean {
    const t = this.t;
    const open = a - 1;
    return isPunct(t[open], '(') && isName(t[open - 1]) && PREDICATES.has(t[open - 1].text) && (isPunct(t[open - 2], '.') || isPunct(t[open - 2], '?.'));
  }

  /** Whether the token at k ends the expression before it on the right (nothing after it binds to that expression). */
  private rightBoundary(k: number): boolean {
    const tok = this.t[k];
    if (tok === undefined) return true;
    if (tok.kind === 'punct') return [')', ']', '}', ',', ';', '?', ':', '&&', '||', '??'].includes(tok.text) || (tok.newlineBefore && this.operandStart(tok));
    if (tok.kind === 'template') return tok.text.startsWith('}');
    return tok.newlineBefore;
  }

  /** The first token of the `&&`/`||` chain whose operator is at index op. */
  private logicalChainStart(op: number): number {
    const t = this.t;
    let k = op - 1;
    for (;;) {
      const tok = t[k];
      if (tok === undefined) return k + 1;
      if (isLogical(tok)) {
        k--;
        continue;
      }
      if (tok.kind === 'punct' && (tok.text === ')' || tok.text === ']' || tok.text === '}') && this.match[k] >= 0 && !this.leftBoundary(k)) {
        k = this.match[k] - 1;
        continue;
      }
      if (tok.kind === 'template' && tok.text.startsWith('}') && this.match[k] >= 0) {
        k = this.match[k] - 1;
        continue;
      }
      if (this.leftBoundary(k)) return k + 1;
      // a line break between two operands: a new statement (automatic semicolon insertion)
      if (tok.newlineBefore && this.operandStart(tok) && this.operandEnd(t[k - 1])) return k;
      k--;
    }
  }

  private operandStart(tok: Token): boolean {
    return tok.kind !== 'punct' || tok.text === '(' || tok.text === '[' || tok.text === '!' || tok.text === '{';
  }

  private operandEnd(tok: Token | undefined): boolean {
    return tok !== undefined && (tok.kind !== 'punct' ? !(tok.kind === 'name' && (LEFT_KEYWORDS.has(tok.text) || NOT_CALLEES.has(tok.text))) : tok.text === ')' || tok.text === ']' || tok.text === '}');
  }

  /** The `for (init; test; update)` headers' tests. */
  private findForTests(): void {
    const t = this.t;
    for (let i = 0; i < t.length; i++) {
      if (!isName(t[i], 'for')) continue;
      const open = isName(t[i + 1], 'await') ? i + 2 : i + 1;
      if (!isPunct(t[open], '(') || this.match[open] < 0) continue;
      const semis: number[] = [];
      for (let k = open + 1; k < this.match[open]; k++) if (this.parent[k] === open && isPunct(t[k], ';')) semis.push(k);
      if (semis.length === 2) this.forTests.set(semis[0], semis[1]);
    }
  }

  /**
   * Variables bound to a comparison op: `const { gt, lt: less } = ops`,
   * `const greater = tf.greater` (or `var a = 1, gt = ops.gt`, as
   * transpilers write the pattern), and assigned nothing else.
   */
  private findAliases(): void {
    const t = this.t;
    const bindings = new Map<number, string>();
    for (let i = 0; i < t.length; i++) {
      // a destructuring pattern `{ ... } = ops` (or `tf`, or what vitest makes of an import: `__vite_ssr_import_0__.ops`)
      if (isPunct(t[i], '{') && this.match[i] > i && isPunct(t[this.match[i] + 1], '=') && this.isOpsNamespace(this.match[i] + 2)) {
        for (let k = i + 1; k < this.match[i]; k++) {
          if (this.parent[k] !== i || !isName(t[k]) || !COMPARISONS.has(t[k].text) || this.isMember(k)) continue;
          if (!(isPunct(t[k - 1], '{') || isPunct(t[k - 1], ','))) continue;
          if (isPunct(t[k + 1], ':') && isName(t[k + 2])) bindings.set(k + 2, t[k].text);
          else if (isPunct(t[k + 1], ',') || isPunct(t[k + 1], '}') || isPunct(t[k + 1], '=')) bindings.set(k, t[k].text);
        }
      }
      // `const greater = tf.greater`
      if (((isName(t[i]) && DECLARATIONS.has(t[i].text)) || isPunct(t[i], ',')) && isName(t[i + 1]) && isPunct(t[i + 2], '=')) {
        let k = i + 3;
        while (isName(t[k]) && isPunct(t[k + 1], '.')) k += 2;
        if (k > i + 3 && isName(t[k]) && COMPARISONS.has(t[k].text) && this.endsStatement(k + 1)) bindings.set(i + 1, t[k].text);
      }
    }
    const candidates = new Map<string, string>();
    for (const [k, op] of bindings) {
      const v = this.variableAt.get(k);
      // (one name bound to two different ops: known to be a comparison, not which)
      if (v !== undefined) candidates.set(v, candidates.has(v) && candidates.get(v) !== op ? '' : op);
    }
    const others = new Set(this.occurrences.filter((o) => o.role !== 'use' && !o.bare && !bindings.has(o.index)).map((o) => o.variable));
    for (const [v, op] of candidates) if (!others.has(v)) this.aliases.set(v, op);
  }

  /**
   * Whether the name or member chain starting at token k names tyche's
   * `ops` or tfjs (`ops`, `tf`, `x.ops`, or a namespace import as vitest
   * writes it): the object a destructured comparison op comes from. A
   * minifier renames these, so a minified destructuring is not followed.
   */
  private isOpsNamespace(k: number): boolean {
    const t = this.t;
    let last = k;
    while (isName(t[last]) && isPunct(t[last + 1], '.') && isName(t[last + 2])) last += 2;
    if (!isName(t[last]) || !this.endsStatement(last + 1)) return false;
    return /^(ops|tf|tfc|tfjs)$|^__vite_ssr_import_\d+__$|^__vi_import_\d+__$/.test(t[last].text);
  }

  /** The op a variable bound to a comparison op names, where the name at token i refers to one. */
  private aliasOp(i: number): string | undefined {
    const v = this.variableAt.get(i);
    return v === undefined ? undefined : this.aliases.get(v);
  }

  /**
   * Functions written in the source and bound to a name that holds nothing
   * else (`const pos = (v) => ops.gt(v, 0)`, `function pos(v) { return
   * ops.gt(v, 0); }`) whose every `return` gives a comparison (a call, a
   * variable that only holds one, or a call of another such function):
   * the calls of those not yet in `calls`, and the names of those passed
   * as the callback of `filter`/`some`/`every`/`find`....
   */
  private helperCalls(calls: readonly [number, number][], reads: readonly number[]): { calls: [number, number][]; passed: number[] } {
    const t = this.t;
    const callAt = new Map(calls);
    const readAt = new Set(reads);
    const writes = new Map<string, number>();
    for (const o of this.occurrences) if (o.role !== 'use' && !o.bare) writes.set(o.variable, (writes.get(o.variable) ?? 0) + 1);
    const isComparison = (s: number, e: number | undefined): boolean => {
      if (e === undefined) return false;
      if (isName(t[s], 'await') && s < e) s++;
      while (isPunct(t[s], '(') && this.match[s] === e) {
        s++;
        e--;
      }
      if (callAt.get(s) === e || (s === e && readAt.has(s))) return true;
      // `c ? <comparison> : <comparison>` (how a minifier writes two returns)
      const branches = this.conditionalBranches(s, e);
      return branches !== undefined && isComparison(branches[0] + 1, branches[1] - 1) && isComparison(branches[1] + 1, e);
    };
    let inner: Int32Array | undefined;
    const out = { calls: [] as [number, number][], passed: [] as number[] };
    this.fns.forEach((f, index) => {
      const v = f.binding === undefined ? undefined : this.variableAt.get(f.binding);
      if (f.invoked === undefined && (v === undefined || writes.get(v) !== 1)) return;
      let returns: [number, number | undefined][];
      if (f.expressionBody) returns = [[f.body, f.end]];
      else {
        inner ??= innermostFunction(t.length, this.fns);
        returns = [];
        for (let k = f.body + 1; k < f.end; k++) if (isName(t[k], 'return') && inner[k] === index) returns.push([k + 1, this.endsStatement(k + 1) ? undefined : this.expressionEnd(k + 1)]);
      }
      if (returns.length === 0 || !returns.every(([s, e]) => isComparison(s, e))) return;
      if (f.invoked !== undefined) {
        // `((v) => ops.gt(v, 0))(a)`: how a minifier inlines a helper
        const call: [number, number] = [this.match[f.invoked - 1], this.match[f.invoked]];
        if (!callAt.has(call[0])) out.calls.push(call);
        return;
      }
      for (const o of this.occurrences) {
        if (o.variable !== v || o.role !== 'use') continue;
        const u = o.index;
        if (isPunct(t[u + 1], '(') && this.match[u + 1] > u && !callAt.has(u)) out.calls.push([u, this.match[u + 1]]);
        else if (isPunct(t[u - 1], '(') && (isPunct(t[u + 1], ')') || isPunct(t[u + 1], ',')) && this.predicateCallback(u)) out.passed.push(u);
      }
    });
    return out;
  }

  /** Where the tokens [s, e] are one conditional `a ? b : c`: its `?` and `:`. */
  private conditionalBranches(s: number, e: number): [number, number] | undefined {
    const t = this.t;
    let question: number | undefined;
    let depth = 0;
    for (let k = s; k <= e; k++) {
      const tok = t[k];
      const opens = (tok.kind === 'punct' && (tok.text === '(' || tok.text === '[' || tok.text === '{')) || (tok.kind === 'template' && tok.text.startsWith('`'));
      if (opens && this.match[k] > k) {
        k = this.match[k];
        continue;
      }
      if (tok.kind === 'punct' && [',', ';', '=', '=>'].includes(tok.text)) return undefined;
      if (isPunct(tok, '?')) {
        if (question === undefined) question = k;
        else depth++;
      } else if (isPunct(tok, ':') && question !== undefined) {
        if (depth === 0) return [question, k];
        depth--;
      }
    }
    return undefined;
  }

  /** Whether the token at k ends the expression before it (`;`, `,`, `}` or a new line). */
  private endsStatement(k: number): boolean {
    const tok = this.t[k];
    if (tok === undefined || isPunct(tok, ';') || isPunct(tok, ',') || isPunct(tok, '}') || isPunct(tok, ')')) return true;
    // a line break ends it unless the next line continues the expression (`\n  .dataSync()`, `\n  + 1`, `\n  (x)`)
    return tok.newlineBefore && (tok.kind !== 'punct' || ['{', '!', '~', '++', '--'].includes(tok.text)) && !isName(tok, 'in') && !isName(tok, 'instanceof');
  }

  /**
   * The reads of variables that only ever hold a comparison: every
   * declaration and assignment of the variable (resolved per function,
   * `js-scopes.ts`) is `x = <comparison call>` or `x = <another such
   * variable>`; a parameter, a pattern, a declaration without a value or any
   * other assignment rules the variable out.
   */
  private comparisonVariableReads(calls: readonly [number, number][]): number[] {
    const t = this.t;
    const callAt = new Map(calls);
    const occurrences = this.occurrences;
    const variableAt = this.variableAt;
    const writes = new Map<string, number[]>();
    for (const o of occurrences) {
      // (a bare `var c;` holds nothing yet: only what is later assigned counts)
      if (o.role === 'use' || o.bare) continue;
      const at = writes.get(o.variable);
      if (at) at.push(o.index);
      else writes.set(o.variable, [o.index]);
    }
    const holds = new Set<string>();
    const others = new Set<string>();
    // fixed point: `const d = c` where c is such a variable
    for (let round = 0; round < 8; round++) {
      let changed = false;
      for (const [variable, at] of writes) {
        if (holds.has(variable) || others.has(variable)) continue;
        const kinds = at.map((i) => {
          if (!isPunct(t[i + 1], '=')) return 'other';
          const s = i + 2;
          const end = callAt.get(s);
          if (end !== undefined && this.endsStatement(end + 1)) return 'comparison';
          const source = variableAt.get(s);
          if (source === undefined || !this.endsStatement(s + 1)) return 'other';
          if (holds.has(source)) return 'comparison';
          return writes.has(source) && !others.has(source) ? 'pending' : 'other';
        });
        if (kinds.includes('other')) others.add(variable);
        else if (!kinds.includes('pending')) holds.add(variable);
        else continue;
        changed = true;
      }
      if (!changed) break;
    }
    return occurrences.filter((o) => o.role === 'use' && holds.has(o.variable)).map((o) => o.index);
  }

  private finding(s: number, e: number, use: ConditionFinding['use']): ConditionFinding {
    const start = this.t[s].start;
    const last = this.t[e];
    const end = last.start + last.text.length;
    const line = this.source.slice(0, start).split(/\r\n|\r|\n|\u2028|\u2029/).length;
    const lineStart = Math.max(this.source.lastIndexOf('\n', start - 1), this.source.lastIndexOf('\r', start - 1)) + 1;
    let lineEnd = this.source.slice(start).search(/[\r\n]/);
    lineEnd = lineEnd < 0 ? this.source.length : start + lineEnd;
    const code = this.source.slice(lineStart, lineEnd).trim();
    return { line, code: code.length > 160 ? `${code.slice(0, 157)}...` : code, expression: this.source.slice(start, end).replace(/\s+/g, ' '), use };
  }
}

/**
 * Find tensor comparisons used as JS conditions in JavaScript source (see
 * the module comment for exactly what is reported).
 *
 * ```ts
 * lintConditions('async ({ sample }) => { const mu = await sample("mu", Normal(0, 1)); if (ops.gt(mu, 0)) {} }');
 * // [{ line: 1, use: 'if', expression: 'ops.gt(mu, 0)', ... }]
 * ```
 *
 * @param source - JavaScript source, e.g. a model function's `toString()`
 */
export function lintConditions(source: string): ConditionFinding[] {
  return new Lint(source, tokenize(source)).run();
}

/** Findings per function: each model's source is read once. */
const checked = new WeakMap<object, readonly ConditionFinding[]>();

/**
 * The tensor comparisons used as JS conditions in a function's own source
 * (`Function.prototype.toString`), remembered per function.
 *
 * @param fn - a model (or guide) function
 */
export function conditionFindings(fn: (...args: never[]) => unknown): readonly ConditionFinding[] {
  let found = checked.get(fn);
  if (found === undefined) {
    let source = '';
    try {
      source = Function.prototype.toString.call(fn);
    } catch {
      // a revoked proxy or a host object: nothing to read
    }
    found = lintConditions(source);
    checked.set(fn, found);
  }
  return found;
}

/**
 * The functions a model is handed in its arguments, which its own source
 * calls but does not contain: each argument that is a function, and each
 * function-valued own property of an argument that is a plain object or a
 * short array (one level: `infer(m, opts, { observeY, prior })`; a data
 * array longer than 16 is not walked), with where it
 * was found (`argument 0.observeY`). Class instances' methods live on their
 * prototype and are not included.
 *
 * @param args - the model's arguments
 */
export function argumentFunctions(args: readonly unknown[]): [string, (...args: never[]) => unknown][] {
  const out: [string, (...args: never[]) => unknown][] = [];
  args.forEach((a, i) => {
    if (typeof a === 'function') out.push([`argument ${i}`, a as (...args: never[]) => unknown]);
    else if (a !== null && typeof a === 'object' && ((Array.isArray(a) && a.length <= 16) || Object.getPrototypeOf(a) === Object.prototype || Object.getPrototypeOf(a) === null)) {
      for (const key of Object.keys(a)) {
        let v: unknown;
        try {
          v = (a as Record<string, unknown>)[key];
        } catch {
          continue; // a getter that throws: not ours to read
        }
        if (typeof v === 'function') out.push([`argument ${i}.${key}`, v as (...args: never[]) => unknown]);
      }
    }
  });
  return out;
}

/**
 * Throw the shared "branches on a tensor comparison" error (naming the
 * model, the line and its code) if the function's source uses a tensor
 * comparison as a JS condition. `infer` calls it once per model before any
 * engine runs.
 *
 * @param fn - a model (or guide) function
 * @param name - the model's name, for the message
 */
export function assertNoTensorConditions(fn: (...args: never[]) => unknown, name: string): void {
  const found = conditionFindings(fn);
  if (found.length > 0) throw branchOnTensorSourceError(name, found[0].line, found[0].code, found.length - 1);
}
