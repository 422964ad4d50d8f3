/**
 * Which variable each name in JavaScript source refers to, at the grain of
 * functions: over the tokens of `js-tokens.ts`, find the functions
 * (`function`, arrows, methods), say for each plain name whether it is
 * declared there (`const`/`let`/`var`, a parameter, a destructuring pattern,
 * a function or class name, a `catch` binding), assigned (`=`, `+=`, `++`,
 * ...) or read, and resolve it to the innermost enclosing function that
 * declares that name. Block scopes inside one function are not told apart
 * (a `let` in an inner block counts as the function's), which is enough to
 * keep a name used differently in two functions from being mixed up.
 *
 * @module
 */
import type { Token, Tokens } from './js-tokens.js';

/** One occurrence of a plain name (not a property name after `.`, not an object key). */
export interface NameOccurrence {
  /** Token index. */
  readonly index: number;
  /** Declared here, assigned here, or read. */
  readonly role: 'declare' | 'assign' | 'use';
  /** The variable: the declaring function's id and the name (`"3:c"`), or `"global:c"` where no enclosing function declares it. */
  readonly variable: string;
  /** A `let`/`var` declaration without a value (`var a, b;`, as transpilers hoist them): it holds nothing yet. */
  readonly bare: boolean;
  /** For a declaration: by `const`/`let`/`var` (`'variable'`), or as a parameter, in a pattern, a function or class name or a `catch` binding (`'other'`). */
  readonly declaredBy?: 'variable' | 'other';
}

const DECLARATIONS = new Set(['const', 'let', 'var']);
const ASSIGNMENTS = new Set(['=', '+=', '-=', '*=', '/=', '%=', '**=', '<<=', '>>=', '>>>=', '&=', '|=', '^=', '&&=', '||=', '??=']);
/** Names that are not variables. */
const KEYWORDS = new Set([
  'break', 'case', 'catch', 'class', 'const', 'continue', 'debugger', 'default', 'delete', 'do', 'else', 'export', 'extends', 'finally', 'for',
  'function', 'if', 'import', 'in', 'instanceof', 'new', 'return', 'super', 'switch', 'this', 'throw', 'try', 'typeof', 'var', 'void', 'while',
  'with', 'yield', 'let', 'static', 'await', 'async', 'of', 'get', 'set', 'null', 'true', 'false', 'undefined',
]);
/** Keywords that may come before `(` where that `(` is not a parameter list. */
const NOT_PARAMETER_HEADS = new Set(['if', 'while', 'for', 'switch', 'catch', 'with', 'return', 'typeof', 'void', 'delete', 'await', 'yield', 'throw', 'case', 'in', 'of', 'instanceof', 'new', 'else', 'do']);

const isPunct = (t: Token | undefined, text: string): boolean => t !== undefined && t.kind === 'punct' && t.text === text;
const isName = (t: Token | undefined, text?: string): boolean => t !== undefined && t.kind === 'name' && (text === undefined || t.text === text);

/** A function: its parameters and body span tokens [start, end]. */
interface Span {
  readonly start: number;
  readonly end: number;
}

/** A function in the token stream. */
export interface FunctionInfo extends Span {
  /** The first token of its body: the `{` of a block body, or the first token of an arrow's expression body. */
  readonly body: number;
  /** An arrow function with an expression body (`(v) => v + 1`): the body is what it returns. */
  readonly expressionBody: boolean;
  /** Its parameters' name tokens in order; undefined for a pattern, a default value or a rest parameter. */
  readonly params: readonly (number | undefined)[];
  /**
   * The name token the function is bound to where it is written as
   * `function f(...) {...}` at the start of a statement, or as
   * `f = [async] function ...` / `f = [async] (...) => ...` (after `const`,
   * `let`, `var` or alone); undefined otherwise (a callback, a method).
   */
  readonly binding: number | undefined;
  /** Where it is called as it is written (`((v) => ...)(a)`, `(function (v) {...})(a)`, as minifiers inline a helper): the `(` of the arguments. */
  readonly invoked: number | undefined;
}

/** The token before which a function expression starting at k is assigned (`x = <function>`): the name x, if so. */
function assignedName(t: readonly Token[], k: number): number | undefined {
  if (isName(t[k - 1], 'async')) k--;
  return isPunct(t[k - 1], '=') && isName(t[k - 2]) && !isPunct(t[k - 3], '.') && !isPunct(t[k - 3], '?.') ? k - 2 : undefined;
}

/** The `(` of the arguments where the function expression whose tokens are [first, last] is called as written: `(<function>)(...)`. */
function invokedAt(toks: Tokens, first: number, last: number): number | undefined {
  const t = toks.tokens;
  if (isName(t[first - 1], 'async')) first--;
  const open = first - 1;
  if (!isPunct(t[open], '(') || toks.match[open] !== last + 1) return undefined;
  return isPunct(t[last + 2], '(') && toks.match[last + 2] > last + 2 ? last + 2 : undefined;
}

/** The parameter names of the list in the parentheses at open. */
function parameterNames(toks: Tokens, open: number): (number | undefined)[] {
  const t = toks.tokens;
  const close = toks.match[open];
  const out: (number | undefined)[] = [];
  let first = open + 1;
  for (let k = open + 1; k <= close; k++) {
    if (k < close && !(toks.parent[k] === open && isPunct(t[k], ','))) continue;
    if (k > first) out.push(k === first + 1 && isName(t[first]) ? first : undefined);
    first = k + 1;
  }
  return out;
}

/**
 * The functions in the token stream (`function`, arrows, methods), with
 * their parameters and the name each is bound to where that is plain.
 *
 * @param toks - the output of `tokenize`
 */
export function functionsOf(toks: Tokens): FunctionInfo[] {
  const t = toks.tokens;
  const m = toks.match;
  const spans: FunctionInfo[] = [];
  for (let i = 0; i < t.length; i++) {
    const tok = t[i];
    if (isName(tok, 'function')) {
      let o = i + 1;
      if (isPunct(t[o], '*')) o++;
      const named = isName(t[o]) ? o : undefined;
      if (named !== undefined) o++;
      if (isPunct(t[o], '(') && m[o] > 0 && isPunct(t[m[o] + 1], '{') && m[m[o] + 1] > 0) {
        const head = isName(t[i - 1], 'async') ? i - 1 : i;
        const before = t[head - 1];
        const statement = before === undefined || isPunct(before, ';') || isPunct(before, '{') || isPunct(before, '}') || isName(before, 'export');
        const binding = assignedName(t, i) ?? (statement ? named : undefined);
        spans.push({ start: o, end: m[m[o] + 1], body: m[o] + 1, expressionBody: false, params: parameterNames(toks, o), binding, invoked: invokedAt(toks, i, m[m[o] + 1]) });
      }
    } else if (isPunct(tok, '=>')) {
      const start = isPunct(t[i - 1], ')') && m[i - 1] >= 0 ? m[i - 1] : i - 1;
      let end: number;
      if (isPunct(t[i + 1], '{') && m[i + 1] > 0) end = m[i + 1];
      else {
        // an expression body: to the first `,` `;` or closing bracket at its own level
        let k = i + 1;
        while (k < t.length) {
          const b = t[k];
          if (b.kind === 'punct' && (b.text === '(' || b.text === '[' || b.text === '{') && m[k] > k) k = m[k] + 1;
          else if (b.kind === 'template' && b.text.endsWith('${') && !b.text.startsWith('}') && m[k] > k) k = m[k] + 1;
          else if (b.kind === 'punct' && [',', ';', ')', ']', '}'].includes(b.text)) break;
          else if (b.kind === 'template' && b.text.startsWith('}')) break;
          else k++;
        }
        end = k - 1;
      }
      const params = start === i - 1 ? [isName(t[start]) ? start : undefined] : parameterNames(toks, start);
      spans.push({ start, end, body: i + 1, expressionBody: !isPunct(t[i + 1], '{'), params, binding: assignedName(t, start), invoked: invokedAt(toks, start, end) });
    } else if (isPunct(tok, '(') && m[i] > 0 && isPunct(t[m[i] + 1], '{') && m[m[i] + 1] > 0) {
      // a method: `name(params) { ... }` (also `get name()`, `async name()`, `*name()`)
      const head = t[i - 1];
      if (isName(head) && head.text !== 'function' && !NOT_PARAMETER_HEADS.has(head.text) && !isName(t[i - 2], 'function')) {
        spans.push({ start: i, end: m[m[i] + 1], body: m[i] + 1, expressionBody: false, params: parameterNames(toks, i), binding: undefined, invoked: undefined });
      }
    }
  }
  return spans;
}

/** For each token, the innermost function span containing it (-1: none), and each span's enclosing span. */
function scopesOf(n: number, spans: readonly Span[]): { scope: Int32Array; parent: Int32Array } {
  const order = spans.map((_, k) => k).sort((a, b) => spans[a].start - spans[b].start || spans[b].end - spans[a].end);
  const scope = new Int32Array(n).fill(-1);
  const parent = new Int32Array(spans.length).fill(-1);
  const stack: number[] = [];
  let next = 0;
  for (let i = 0; i < n; i++) {
    while (stack.length > 0 && spans[stack[stack.length - 1]].end < i) stack.pop();
    while (next < order.length && spans[order[next]].start === i) {
      const k = order[next++];
      parent[k] = stack.length > 0 ? stack[stack.length - 1] : -1;
      stack.push(k);
    }
    scope[i] = stack.length > 0 ? stack[stack.length - 1] : -1;
  }
  return { scope, parent };
}

/**
 * For each token, the index in `fns` of the innermost function that holds
 * it (its parameters or body); -1 outside every function.
 *
 * @param n - the number of tokens
 * @param fns - the output of `functionsOf`
 */
export function innermostFunction(n: number, fns: readonly FunctionInfo[]): Int32Array {
  return scopesOf(n, fns).scope;
}

/** Whether the name at token i is a property name (`a.b`) or an object literal's key (`{ b: 1 }`). */
function isProperty(toks: Tokens, i: number): boolean {
  const t = toks.tokens;
  if (isPunct(t[i - 1], '.') || isPunct(t[i - 1], '?.')) return true;
  const o = toks.parent[i];
  return isPunct(t[i + 1], ':') && o >= 0 && isPunct(t[o], '{') && (isPunct(t[i - 1], '{') || isPunct(t[i - 1], ','));
}

/**
 * Whether the name at token i is declared there: `'variable'` after
 * `const`/`let`/`var` (or later in their list), `'other'` after
 * `function`/`class`, as a parameter or inside a pattern; false otherwise.
 */
function declares(toks: Tokens, spanStarts: ReadonlySet<number>, i: number): 'variable' | 'other' | false {
  const t = toks.tokens;
  const prev = t[i - 1];
  if (isName(prev) && DECLARATIONS.has(prev.text)) return 'variable';
  if (isName(prev) && (prev.text === 'function' || prev.text === 'class')) return 'other';
  if (isPunct(prev, ',') && declarationListBefore(toks, i - 1)) return 'variable';
  return declaresByPosition(toks, spanStarts, i) ? 'other' : false;
}

/** A parameter, or a name inside a destructuring pattern. */
function declaresByPosition(toks: Tokens, spanStarts: ReadonlySet<number>, i: number): boolean {
  const t = toks.tokens;
  if (isPunct(t[i + 1], '=>') && spanStarts.has(i)) return true;
  // inside a parameter list or a destructuring pattern
  for (let o = toks.parent[i]; o >= 0; o = toks.parent[o]) {
    const open = t[o];
    const close = toks.match[o];
    if (close < 0) return false;
    if (isPunct(open, '(')) return spanStarts.has(o) || isName(t[o - 1], 'catch');
    if (!(isPunct(open, '{') || isPunct(open, '['))) return false;
    const before = t[o - 1];
    if (isPunct(t[close + 1], '=') || (isName(before) && DECLARATIONS.has(before.text))) return true;
    // a block or an object literal, not a pattern: a pattern is nested in `(`, `[`, `{` or after `,`, `...`, `:`
    if (!(isPunct(before, '(') || isPunct(before, '[') || isPunct(before, '{') || isPunct(before, ',') || isPunct(before, ':') || isPunct(before, '...'))) return false;
  }
  return false;
}

/** Whether the `,` at index comma separates declarators (`const a = 1, b = 2`), not arguments, elements or a comma expression. */
function declarationListBefore(toks: Tokens, comma: number): boolean {
  const t = toks.tokens;
  for (let k = comma - 1; k >= 0; k--) {
    const tok = t[k];
    if (tok.kind === 'punct') {
      if (tok.text === ')' || tok.text === ']' || tok.text === '}') {
        if (toks.match[k] < 0) return false;
        k = toks.match[k];
        continue;
      }
      if (tok.text === ';' || tok.text === '(' || tok.text === '[' || tok.text === '{') return false;
    } else if (tok.kind === 'template' && tok.text.startsWith('}')) {
      if (toks.match[k] < 0) return false;
      k = toks.match[k];
    } else if (tok.kind === 'template' && tok.text.endsWith('${')) return false;
    else if (tok.kind === 'name' && DECLARATIONS.has(tok.text)) return true;
  }
  return false;
}

/**
 * Every plain name in the tokens, with its role and the variable it refers to.
 *
 * @param toks - the output of `tokenize`
 */
export function nameOccurrences(toks: Tokens): NameOccurrence[] {
  const t = toks.tokens;
  const spans = functionsOf(toks);
  const spanStarts = new Set(spans.map((s) => s.start));
  const { scope, parent } = scopesOf(t.length, spans);
  const raw: { index: number; role: NameOccurrence['role']; bare: boolean; declaredBy?: 'variable' | 'other' }[] = [];
  const declared = new Set<string>();
  for (let i = 0; i < t.length; i++) {
    const tok = t[i];
    if (tok.kind !== 'name' || KEYWORDS.has(tok.text) || tok.text.startsWith('#') || isProperty(toks, i)) continue;
    let role: NameOccurrence['role'] = 'use';
    const declaredAs = declares(toks, spanStarts, i);
    const after = t[i + 1];
    const bare = declaredAs === 'variable' && !isPunct(after, '=') && !isName(after, 'of') && !isName(after, 'in') && !isName(t[i - 1], 'const');
    if (declaredAs) {
      role = 'declare';
      declared.add(`${scope[i]}:${tok.text}`);
    } else {
      const next = t[i + 1];
      if ((next?.kind === 'punct' && ASSIGNMENTS.has(next.text)) || isPunct(next, '++') || isPunct(next, '--') || isPunct(t[i - 1], '++') || isPunct(t[i - 1], '--')) role = 'assign';
    }
    raw.push(declaredAs ? { index: i, role, bare, declaredBy: declaredAs } : { index: i, role, bare });
  }
  return raw.map(({ index, role, bare, declaredBy }) => {
    const name = t[index].text;
    if (role === 'declare') return { index, role, bare, declaredBy, variable: `${scope[index]}:${name}` };
    for (let s = scope[index]; s >= 0; s = parent[s]) if (declared.has(`${s}:${name}`)) return { index, role, bare, variable: `${s}:${name}` };
    return { index, role, bare, variable: declared.has(`-1:${name}`) ? `-1:${name}` : `global:${name}` };
  });
}
