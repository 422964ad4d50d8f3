/**
 * The multi-step arithmetic task of the shipped arithmetic model and its
 * process reward model: seeded problems (`Q: 23+45*2-7 A:`), worked solutions
 * (` 45*2=90; 23+90=113; 113-7=106; #106`), and an exact step checker.
 *
 * Solutions reduce the expression one operation at a time in the standard
 * order: the leftmost `*` first, then the leftmost `+`/`-`. A step is correct
 * when it is exactly the next reduction with the right result; a prefix of a
 * solution is correct when all its steps are.
 *
 * @module
 */
import { type Rng, rngFrom } from '../../core/rng.js';

/** The characters of the arithmetic vocabulary. */
export const ARITH_ALPHABET = ' 0123456789+-*=;#QA:';

/** One problem with its exact worked solution. */
export interface ArithProblem {
  /** The expression, e.g. `23+45*2-7`. */
  readonly expression: string;
  /** The prompt the model continues: `Q: <expression> A:`. */
  readonly prompt: string;
  /** The steps, e.g. `['45*2=90', '23+90=113', '113-7=106']`. */
  readonly steps: readonly string[];
  /** The value of the expression. */
  readonly answer: number;
  /** The continuation after the prompt: ` step; step; #answer`. */
  readonly solution: string;
}

type Tok = number | '+' | '-' | '*';

function apply(a: number, op: string, b: number): number {
  return op === '+' ? a + b : op === '-' ? a - b : a * b;
}

/** The index of the operator reduced next (leftmost `*`, else leftmost `+`/`-`), or -1. */
function nextOp(toks: readonly Tok[]): number {
  const m = toks.indexOf('*');
  if (m >= 0) return m;
  for (let i = 1; i < toks.length; i += 2) if (toks[i] === '+' || toks[i] === '-') return i;
  return -1;
}

function tokenize(expression: string): Tok[] {
  const parts = expression.match(/\d+|[+\-*]/g);
  if (!parts || parts.join('') !== expression) throw new Error(`arithmetic: cannot parse the expression ${JSON.stringify(expression)}`);
  return parts.map((p) => (/\d/.test(p) ? Number(p) : (p as Tok)));
}

/** Solve an expression by the canonical reductions. */
export function solve(expression: string): { steps: string[]; answer: number } {
  const toks = tokenize(expression);
  const steps: string[] = [];
  for (let i = nextOp(toks); i >= 0; i = nextOp(toks)) {
    const a = toks[i - 1] as number;
    const b = toks[i + 1] as number;
    const c = apply(a, toks[i] as string, b);
    steps.push(`${a}${toks[i]}${b}=${c}`);
    toks.splice(i - 1, 3, c);
  }
  return { steps, answer: toks[0] as number };
}

function problemFrom(expression: string): ArithProblem {
  const { steps, answer } = solve(expression);
  return { expression, prompt: `Q: ${expression} A:`, steps, answer, solution: ` ${steps.map((s) => s + ';').join(' ')} #${answer}` };
}

/**
 * A random problem: 2 to 3 operations on numbers 1..`maxOperand` (default 9;
 * `*` takes a right operand 2..6; the shipped model was trained on 1..50 first, then 1..9), redrawn until no intermediate value is negative.
 */
export function randomProblem(rng: Rng, minOps = 2, maxOps = 3, maxOperand = 9): ArithProblem {
  for (;;) {
    const nOps = minOps + rng.int(maxOps - minOps + 1);
    let e = String(1 + rng.int(maxOperand));
    for (let k = 0; k < nOps; k++) {
      const u = rng.uniform();
      if (u < 0.3) e += `*${2 + rng.int(5)}`;
      else e += `${u < 0.65 ? '+' : '-'}${1 + rng.int(maxOperand)}`;
    }
    const p = problemFrom(e);
    if (p.steps.every((s) => !s.includes('=-'))) return p;
  }
}

/** `n` problems from a seed (the same seed always gives the same list). */
export function arithmeticProblems(n: number, seed: number | string): ArithProblem[] {
  const rng = rngFrom(seed);
  return Array.from({ length: n }, () => randomProblem(rng));
}

/** The answer a solution text states (`#123` at its end), or null. */
export function extractAnswer(text: string): number | null {
  const m = /#(\d+)\s*$/.exec(text) ?? /#(\d+)/.exec(text);
  return m ? Number(m[1]) : null;
}

/** Result of {@link checkSolution}. */
export interface StepCheck {
  /** The step texts found (split on `;`), trimmed, without the final answer. */
  readonly steps: string[];
  /** `correct[k]`: steps 0..k are all exactly right. */
  readonly correct: boolean[];
  /** The stated final answer, or null if the text has none yet. */
  readonly answer: number | null;
  /** True when the final answer is stated and equals the expression's value. */
  readonly answerCorrect: boolean;
}

/**
 * Check a (possibly partial) solution text against a problem's expression:
 * each `;`-terminated step must be the canonical next reduction with the
 * right result. A trailing unterminated piece is ignored unless it is the
 * final `#answer`.
 */
export function checkSolution(expression: string, solutionText: string): StepCheck {
  const toks = tokenize(expression);
  const pieces = solutionText.split(';');
  const tail = pieces.pop()!.trim();
  const steps = pieces.map((s) => s.trim());
  const correct: boolean[] = [];
  let ok = true;
  for (const s of steps) {
    if (ok) {
      const i = nextOp(toks);
      const m = /^(\d+)([+\-*])(\d+)=(\d+)$/.exec(s);
      if (i < 0 || !m || Number(m[1]) !== toks[i - 1] || m[2] !== toks[i] || Number(m[3]) !== toks[i + 1]) ok = false;
      else {
        const c = apply(toks[i - 1] as number, m[2]!, toks[i + 1] as number);
        if (Number(m[4]) !== c) ok = false;
        else toks.splice(i - 1, 3, c);
      }
    }
    correct.push(ok);
  }
  const am = /^#(\d+)$/.exec(tail);
  const answer = am ? Number(am[1]) : null;
  return { steps, correct, answer, answerCorrect: answer !== null && ok && toks.length === 1 && answer === toks[0] };
}

/**
 * A worked solution with one planted mistake (for training the process
 * reward model): from step `k` on, a result is off by a small amount or has a
 * digit changed, and later steps carry the wrong value forward correctly.
 * Returns the text and the index of the first wrong step (steps.length means
 * only the final answer is wrong).
 */
export function corruptedSolution(p: ArithProblem, rng: Rng): { solution: string; firstWrong: number } {
  const toks = tokenize(p.expression);
  const k = rng.int(p.steps.length + 1);
  const steps: string[] = [];
  const perturb = (c: number): number => {
    for (;;) {
      const u = rng.uniform();
      let d: number;
      if (u < 0.5) d = c + (rng.uniform() < 0.5 ? -1 : 1) * (1 + rng.int(u < 0.25 ? 2 : 10));
      else if (u < 0.8) d = c + (rng.uniform() < 0.5 ? -10 : 10);
      else {
        const s = String(c).split('');
        const j = rng.int(s.length);
        s[j] = String(rng.int(10));
        d = Number(s.join(''));
      }
      if (d !== c && d >= 0) return d;
    }
  };
  for (let i = nextOp(toks), n = 0; i >= 0; i = nextOp(toks), n++) {
    const a = toks[i - 1] as number;
    const b = toks[i + 1] as number;
    let c = apply(a, toks[i] as string, b);
    if (n === k) c = perturb(c);
    steps.push(`${a}${toks[i]}${b}=${c}`);
    toks.splice(i - 1, 3, Math.max(0, c));
  }
  let answer = toks[0] as number;
  if (k === p.steps.length) answer = perturb(answer);
  return { solution: ` ${steps.map((s) => s + ';').join(' ')} #${answer}`, firstWrong: k };
}
