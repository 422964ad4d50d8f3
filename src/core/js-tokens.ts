/**
 * A small JavaScript tokenizer for reading a function's own source
 * (`fn.toString()`): names, numbers, punctuators, and strings, template
 * literals and regular expressions as single tokens; comments are skipped.
 * Template literals are split at their substitutions (`` `a${x}b` `` gives
 * the pieces `` `a${ ``, `x`, `` }b` ``) so that the code inside `${...}` is
 * tokenized as code. A `/` starts a regular expression where an operand may
 * start (after an operator, an opening bracket or a keyword such as
 * `return`), and divides elsewhere. Brackets are matched.
 *
 * It reads well-formed source (what `Function.prototype.toString` returns)
 * and never throws: on malformed text it stops at the end of the input.
 *
 * @module
 */

/** What a token is. */
export type TokenKind = 'name' | 'number' | 'string' | 'template' | 'regex' | 'punct';

/** One token of JavaScript source. */
export interface Token {
  readonly kind: TokenKind;
  /** The token's text (a whole string, regex or template piece with its quotes). */
  readonly text: string;
  /** Offset of its first character in the source. */
  readonly start: number;
  /** A line break between the previous token and this one (automatic semicolon insertion). */
  readonly newlineBefore: boolean;
}

/** Tokens with their brackets matched. */
export interface Tokens {
  readonly tokens: readonly Token[];
  /**
   * For each bracket (`(`, `[`, `{` and their closers) the index of its
   * partner; for a template literal's pieces, the first piece's partner is
   * the last piece and every later piece's partner is the first; -1 for
   * other tokens and unbalanced brackets.
   */
  readonly match: readonly number[];
  /** For each token, the index of the innermost bracket (or template piece) that encloses it; -1 at the top. */
  readonly parent: readonly number[];
}

/** Punctuators, longest first so the first match is the longest one. */
const PUNCTUATORS = [
  '>>>=', '...', '===', '!==', '**=', '<<=', '>>=', '>>>', '&&=', '||=', '??=',
  '=>', '==', '!=', '<=', '>=', '&&', '||', '??', '?.', '++', '--', '+=', '-=', '*=', '/=', '%=', '&=', '|=', '^=', '**', '<<', '>>',
  '{', '}', '(', ')', '[', ']', ';', ',', '<', '>', '+', '-', '*', '/', '%', '&', '|', '^', '!', '~', '?', ':', '=', '.', '@', '#',
];

/** The punctuators by their first character, longest first. */
const PUNCTUATORS_BY_FIRST = new Map<string, string[]>();
for (const q of PUNCTUATORS) PUNCTUATORS_BY_FIRST.set(q[0], [...(PUNCTUATORS_BY_FIRST.get(q[0]) ?? []), q]);

/** Keywords after which a `/` starts a regular expression (an operand follows them). */
const OPERAND_KEYWORDS = new Set([
  'return', 'typeof', 'instanceof', 'in', 'of', 'new', 'delete', 'void', 'throw', 'case', 'do', 'else', 'yield', 'await',
]);

const ID_START = /[\p{ID_Start}$_\\]/u;
const ID_PART = /[\p{ID_Continue}$\u200c\u200d\\]/u;

/** A character that starts a name (ASCII answered without a regular expression). */
function idStart(c: string): boolean {
  const k = c.charCodeAt(0);
  if (k < 128) return (k >= 97 && k <= 122) || (k >= 65 && k <= 90) || k === 36 || k === 95 || k === 92;
  return ID_START.test(c);
}

/** A character that continues a name. */
function idPart(c: string): boolean {
  const k = c.charCodeAt(0);
  if (k < 128) return (k >= 97 && k <= 122) || (k >= 65 && k <= 90) || (k >= 48 && k <= 57) || k === 36 || k === 95 || k === 92;
  return ID_PART.test(c);
}

/** Whether a `/` after this token starts a regular expression. */
function regexMayFollow(prev: Token | undefined): boolean {
  if (prev === undefined) return true;
  if (prev.kind === 'name') return OPERAND_KEYWORDS.has(prev.text);
  if (prev.kind === 'punct') return prev.text !== ')' && prev.text !== ']' && prev.text !== '}' && prev.text !== '++' && prev.text !== '--';
  // a template piece that opens a substitution (`${`) is followed by an operand
  return prev.kind === 'template' && prev.text.endsWith('${');
}

/**
 * Split JavaScript source into tokens and match its brackets.
 *
 * @param source - JavaScript source text, e.g. `fn.toString()`
 */
export function tokenize(source: string): Tokens {
  const tokens: Token[] = [];
  // open braces: true for a template substitution `${`, false for a plain `{`
  const braces: boolean[] = [];
  const n = source.length;
  let i = 0;
  let newline = false;
  const push = (kind: TokenKind, start: number, end: number): void => {
    tokens.push({ kind, text: source.slice(start, end), start, newlineBefore: newline });
    newline = false;
  };
  /** Scan template characters from i (just after a backtick or a substitution's `}`); returns the end and whether a substitution opened. */
  const scanTemplate = (from: number): { end: number; opens: boolean } => {
    let j = from;
    while (j < n) {
      const c = source[j];
      if (c === '\\') j += 2;
      else if (c === '`') return { end: j + 1, opens: false };
      else if (c === '$' && source[j + 1] === '{') return { end: j + 2, opens: true };
      else j++;
    }
    return { end: n, opens: false };
  };
  while (i < n) {
    const c = source[i];
    if (c === '\n' || c === '\r' || c === '\u2028' || c === '\u2029') {
      newline = true;
      i++;
      continue;
    }
    const code = c.charCodeAt(0);
    if (code === 32 || code === 9 || code === 11 || code === 12 || (code > 127 && /\s/.test(c))) {
      i++;
      continue;
    }
    if (c === '/' && source[i + 1] === '/') {
      while (i < n && source[i] !== '\n' && source[i] !== '\r') i++;
      continue;
    }
    if (c === '/' && source[i + 1] === '*') {
      const end = source.indexOf('*/', i + 2);
      const stop = end < 0 ? n : end + 2;
      if (/[\n\r\u2028\u2029]/.test(source.slice(i, stop))) newline = true;
      i = stop;
      continue;
    }
    const start = i;
    if (c === '"' || c === "'") {
      i++;
      while (i < n && source[i] !== c && source[i] !== '\n') i += source[i] === '\\' ? 2 : 1;
      i = Math.min(n, i + 1);
      push('string', start, i);
      continue;
    }
    if (c === '`') {
      const t = scanTemplate(i + 1);
      i = t.end;
      if (t.opens) braces.push(true);
      push('template', start, i);
      continue;
    }
    if (c === '}' && braces.length > 0 && braces[braces.length - 1]) {
      braces.pop();
      const t = scanTemplate(i + 1);
      i = t.end;
      if (t.opens) braces.push(true);
      push('template', start, i);
      continue;
    }
    if (c >= '0' && c <= '9' || (c === '.' && source[i + 1] >= '0' && source[i + 1] <= '9')) {
      i++;
      while (i < n) {
        const d = source[i];
        if ((d === '+' || d === '-') && /[eE]/.test(source[i - 1]) && !/^0[xX]/.test(source.slice(start, i))) i++;
        else if (/[\w.]/.test(d)) i++;
        else break;
      }
      push('number', start, i);
      continue;
    }
    if (idStart(c) || (c === '#' && i + 1 < n && idStart(source[i + 1]))) {
      i++;
      while (i < n && idPart(source[i])) i += source[i] === '\\' ? 2 : 1;
      push('name', start, i);
      continue;
    }
    if (c === '/' && regexMayFollow(tokens[tokens.length - 1])) {
      i++;
      let inClass = false;
      while (i < n) {
        const d = source[i];
        if (d === '\\') i += 2;
        else if (d === '\n' || d === '\r') break;
        else if (d === '[') { inClass = true; i++; }
        else if (d === ']') { inClass = false; i++; }
        else if (d === '/' && !inClass) { i++; break; }
        else i++;
      }
      while (i < n && idPart(source[i])) i++;
      push('regex', start, i);
      continue;
    }
    const p = PUNCTUATORS_BY_FIRST.get(c)?.find((q) => source.startsWith(q, i)) ?? c;
    // `a?.5:b` is a conditional, not optional chaining
    const punct = p === '?.' && source[i + 2] >= '0' && source[i + 2] <= '9' ? '?' : p;
    if (punct === '{') braces.push(false);
    else if (punct === '}') braces.pop();
    i += punct.length;
    push('punct', start, i);
  }
  return { tokens, ...matchBrackets(tokens) };
}

const CLOSER: Record<string, string> = { ')': '(', ']': '[', '}': '{' };

function opensTemplate(t: Token): boolean {
  return t.kind === 'template' && t.text.endsWith('${');
}
function closesTemplate(t: Token): boolean {
  return t.kind === 'template' && t.text.startsWith('}');
}

/**
 * Pair every bracket with its partner, and give each token its innermost
 * enclosing bracket. The pieces of a template literal pair with its first
 * piece: a middle or last piece points back to the first, the first to the
 * last.
 */
function matchBrackets(tokens: readonly Token[]): { match: number[]; parent: number[] } {
  const match = new Array<number>(tokens.length).fill(-1);
  const parent = new Array<number>(tokens.length).fill(-1);
  const stack: number[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    const isTemplate = closesTemplate(t);
    if ((t.kind === 'punct' && t.text in CLOSER) || isTemplate) {
      const want = isTemplate ? undefined : CLOSER[t.text];
      // pop until the partner (unbalanced input: give up on the brackets in between)
      for (let k = stack.length - 1; k >= 0; k--) {
        const o = tokens[stack[k]];
        if (want === undefined ? o.kind === 'template' : o.kind === 'punct' && o.text === want) {
          const opener = stack[k];
          stack.length = k;
          if (isTemplate) {
            const head = closesTemplate(o) ? match[opener] : opener;
            match[i] = head;
            if (!opensTemplate(t) && head >= 0) match[head] = i;
          } else {
            match[opener] = i;
            match[i] = opener;
          }
          break;
        }
      }
    }
    parent[i] = stack.length > 0 ? stack[stack.length - 1] : -1;
    const opens = (t.kind === 'punct' && (t.text === '(' || t.text === '[' || t.text === '{')) || opensTemplate(t);
    if (opens) stack.push(i);
  }
  return { match, parent };
}
