/**
 * The condition lint (`core/condition-lint.ts`) where a comparison is right: tyche's
 * `ops.lt(k, 2)` returns a JS boolean when its arguments are numbers, so it is accepted where
 * the arguments are certainly numbers (`core/js-kinds.ts`: literals, loop counters, `.length`,
 * `Math.*`, `toNumber(...)`, arithmetic on numbers, parameters of helpers only ever called with
 * numbers) and refused wherever a tensor may reach it (a draw, a variable that is a number in one
 * branch and a tensor in another, tfjs's own ops, a helper called once with a draw...). Also:
 * `switch`/`case` on a comparison, and local helpers that return one.
 *
 * Every case is a real function, linted as vitest runs it, after esbuild's minifier and as tsc
 * writes it for ES5 and ES2015, and also run: each accepted one with a tensor draw and tensor
 * data, recording that every comparison it made returned a JS boolean (the static claim holds
 * at run time); each refused one is shown to make a boolean tensor on some input (the refusal is
 * needed). The planted check: the recorder itself fails on a function that compares a tensor.
 */
import * as tf from '@tensorflow/tfjs-core';
import { transformSync } from 'esbuild';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { lintConditions } from '../../src/core/condition-lint.js';
import { type Value, ops, toNumber } from '../../src/index.js';

type Ops = typeof ops;
interface Data {
  readonly ys: number[];
  readonly k: Value;
}
type Tf = typeof tf;
/** A model-like function: the ops (recorded at run time), a draw, a flag that picks a branch, data, tfjs (recorded too). */
type Case = (ops: Ops, mu: Value, flag: boolean, data: Data, tfjs: Tf) => unknown;

/** Right on numbers: accepted. */
const accepted: Record<string, Case> = {
  'a loop counter': (ops) => {
    let s = 0;
    for (let k = 0; k < 4; k++) if (ops.lt(k, 2)) s++;
    return s;
  },
  'literals and arithmetic on them': (ops) => {
    const n = 3 * 2 - 1;
    return ops.gt(n, 4) ? 1 : 0;
  },
  '.length': (ops, _mu, _flag, data) => (ops.ge(data.ys.length, 2) ? 1 : 0),
  'Math.*, whatever its argument': (ops, mu) => (ops.le(Math.floor(toNumber(mu)), 0) ? 1 : 0),
  'a draw read by toNumber': (ops, mu) => {
    const k = toNumber(mu);
    if (ops.lt(k, 2)) return 1;
    return 0;
  },
  'a countdown (-=)': (ops) => {
    let n = 5;
    let steps = 0;
    while (ops.gt(n, 0)) {
      n -= 2;
      steps++;
    }
    return steps;
  },
  'a number in both branches': (ops, _mu, flag) => {
    const k = flag ? 1 : 2;
    let j = 0;
    if (flag) j = 3;
    else j = k + 1;
    return ops.eq(k, 1) || ops.eq(j, 3) ? 1 : 0;
  },
  "a helper's parameter, only ever called with numbers": (ops) => {
    const small = (j: number) => ops.lt(j, 2);
    let c = 0;
    for (let i = 0; i < 3; i++) if (small(i)) c++;
    return c + (small(5) ? 1 : 0);
  },
  'recursion on a number': (ops) => {
    function count(n: number): number {
      return ops.le(n, 0) ? 0 : 1 + count(n - 1);
    }
    return count(3);
  },
  "Array.from's index": (ops) => Array.from({ length: 3 }, (_, i) => (ops.gt(i, 0) ? 1 : 0)),
  'ops.and of comparisons on numbers': (ops) => {
    let c = 0;
    for (let k = 0; k < 5; k++) if (ops.and(ops.gt(k, 0), ops.lt(k, 3))) c++;
    return c;
  },
  'a destructured op': (ops) => {
    const { lt } = ops;
    let c = 0;
    for (let k = 0; k < 3; k++) if (lt(k, 2)) c++;
    return c;
  },
  'isInteger of a number': (ops) => {
    const half = 7 / 2;
    if (!ops.isInteger(half)) return 0;
    return 1;
  },
  'a variable holding a comparison of numbers': (ops, _mu, _flag, data) => {
    const many = ops.gt(data.ys.length, 1);
    return many ? 1 : 0;
  },
  'switch on numbers': (ops) => {
    let c = 0;
    for (let k = 0; k < 3; k++) {
      switch (ops.gt(k, 1)) {
        case true:
          c += 10;
          break;
        default:
          c += 1;
      }
    }
    return c;
  },
};

/** A tensor may reach the comparison: refused (each makes a boolean tensor on some input). */
const refused: Record<string, Case> = {
  'a draw': (ops, mu) => (ops.gt(mu, 0) ? 1 : 0),
  'a number in one branch, a tensor in another': (ops, mu, flag) => {
    let k: Value = 0;
    if (flag) k = mu;
    if (ops.lt(k, 2)) return 1;
    return 0;
  },
  'a conditional of a number and a draw': (ops, mu, flag) => {
    const k = flag ? 1 : mu;
    return ops.lt(k, 2) ? 1 : 0;
  },
  "tfjs's own op on a loop counter (a tensor even on numbers)": (_ops, _mu, _flag, _data, tfjs) => {
    let c = 0;
    for (let k = 0; k < 3; k++) if (tfjs.greater(k, 1) as unknown as boolean) c++;
    return c;
  },
  'a counter that accumulates a draw': (ops, mu) => {
    let k: Value = 0;
    for (let i = 0; i < 2; i++) k = ops.add(k, mu);
    return ops.lt(k, 2) ? 1 : 0;
  },
  'a helper called with numbers and once with a draw': (ops, mu) => {
    const small = (j: Value) => ops.lt(j, 2);
    return (small(1) ? 1 : 0) + (small(mu) ? 1 : 0);
  },
  'a helper also passed as a value': (ops, mu) => {
    const small = (j: Value) => (ops.lt(j, 2) ? 1 : 0);
    return [mu].map(small).length + small(1);
  },
  'a counter reassigned by for ... of': (ops, mu) => {
    let k: Value = 0;
    let c = 0;
    for (k of [mu, 1]) if (ops.lt(k, 2)) c++;
    return c + (k as number);
  },
  'a counter reassigned by destructuring': (ops, mu) => {
    let k: Value = 0;
    [k] = [mu];
    return ops.lt(k, 2) ? 1 : 0;
  },
  'a property of the data': (ops, _mu, _flag, data) => {
    if (!ops.isInteger(data.k)) return 0;
    return 1;
  },
  "an op's result": (ops, mu) => {
    const k = ops.mul(mu, 2);
    return ops.lt(k, 2) ? 1 : 0;
  },
  'a shadowed Math': (ops, mu) => {
    const Math = { floor: (x: Value) => x };
    return ops.lt(Math.floor(mu), 0) ? 1 : 0;
  },
  'ops.and with a comparison of a draw': (ops, mu) => {
    let c = 0;
    for (let k = 0; k < 3; k++) if (ops.and(ops.gt(k, 0), ops.lt(mu, 3))) c++;
    return c;
  },
  'switch on a draw': (ops, mu) => {
    switch (ops.gt(mu, 0)) {
      case true:
        return 1;
      case false:
        return 2;
      default:
        return 3;
    }
  },
  'a case that compares a draw': (ops, mu) => {
    switch (true) {
      case ops.gt(mu, 1) as unknown as boolean:
        return 1;
      case ops.lt(mu, -1) as unknown as boolean:
        return 2;
      default:
        return 3;
    }
  },
  'a local helper that returns a comparison': (ops, mu) => {
    const positive = (v: Value) => ops.gt(v, 0);
    if (positive(mu)) return 1;
    return 0;
  },
  'a local function whose every return is a comparison, its result held': (ops, mu, flag) => {
    function side(v: Value) {
      if (flag) return ops.lt(v, -1);
      return ops.gt(v, 1);
    }
    const far = side(mu);
    return far ? 1 : 0;
  },
  'a local helper passed to filter': (ops, mu) => {
    const positive = (v: Value) => ops.gt(v, 0);
    return [mu, mu].filter(positive).length;
  },
};

/** Refused though every comparison is of numbers at run time: what the lint cannot be sure of. */
const conservative: Record<string, Case> = {
  "an array callback's index (a user's map may pass anything)": (ops) => [5, 6].map((_, i) => (ops.lt(i, 1) ? 1 : 0)),
  'an element of the data (a number here; it may be a tensor)': (ops, _mu, _flag, data) => (ops.lt(data.ys[0], 2) ? 1 : 0),
  "a module's constant (not in the function's source)": (ops) => (ops.lt(MODULE_N, 3) ? 1 : 0),
};
const MODULE_N = 2;

const srcOf = (f: Case): string => Function.prototype.toString.call(f);
const compile = (f: Case, target: 'ES5' | 'ES2015'): string =>
  ts.transpileModule(`export const f = ${srcOf(f)};`, { compilerOptions: { target: ts.ScriptTarget[target], module: ts.ModuleKind.CommonJS }, reportDiagnostics: false }).outputText;
const minified = (f: Case): string => transformSync(`export const f = ${srcOf(f)};`, { loader: 'js', minify: true }).code;
const forms = (f: Case): [string, string][] => [
  ['as vitest runs it', srcOf(f)],
  ['minified', minified(f)],
  ['ES5', compile(f, 'ES5')],
  ['ES2015', compile(f, 'ES2015')],
];

const COMPARISON_NAMES = ['gt', 'lt', 'ge', 'le', 'eq', 'and', 'isInteger', 'greater', 'less', 'equal'];

/** `ns` with its comparison ops wrapped to record whether each returned a JS boolean or a tensor. */
function recording<T extends object>(ns: T, made: ('boolean' | 'tensor')[]): T {
  return new Proxy(ns, {
    get(target, key) {
      const op = Reflect.get(target, key) as unknown;
      if (typeof op !== 'function' || !COMPARISON_NAMES.includes(String(key))) return op;
      return (...args: unknown[]) => {
        const r = (op as (...a: unknown[]) => unknown)(...args);
        made.push(typeof r === 'boolean' ? 'boolean' : 'tensor');
        return r;
      };
    },
  });
}

/** Run a case (in a tidy) and say what each comparison it made returned. */
function comparisonsMade(f: Case, flag: boolean, data?: Data): ('boolean' | 'tensor')[] {
  const made: ('boolean' | 'tensor')[] = [];
  const before = tf.memory().numTensors;
  tf.tidy(() => {
    f(recording(ops, made), tf.scalar(0.5), flag, data ?? { ys: [1, 2], k: tf.scalar(1) }, recording(tf, made));
  });
  expect(tf.memory().numTensors).toBe(before);
  return made;
}

/** Whether some input (the flag either way) makes a comparison return a tensor. */
const makesTensor = (f: Case): boolean => [true, false].some((flag) => comparisonsMade(f, flag).includes('tensor'));

describe('comparisons of numbers are accepted: as written, minified, and as tsc writes them for ES5 and ES2015', () => {
  it.each(Object.entries(accepted))('%s', (_, f) => {
    for (const [form, src] of forms(f)) expect(lintConditions(src), `${form}:\n${src}`).toEqual([]);
  });

  it('and at run time (a tensor draw, tensor data) every comparison they make is a JS boolean', () => {
    for (const [label, f] of Object.entries(accepted)) {
      for (const flag of [true, false]) {
        const made = comparisonsMade(f, flag);
        expect(made.length, label).toBeGreaterThan(0);
        expect(made.every((m) => m === 'boolean'), `${label}: ${made.join(', ')}`).toBe(true);
      }
    }
  });

  it('planted: the run-time record does see a tensor comparison (so the check above can fail)', () => {
    expect(comparisonsMade(refused['a draw'], true)).toEqual(['tensor']);
    expect(comparisonsMade(refused["tfjs's own op on a loop counter (a tensor even on numbers)"], true)).toEqual(['tensor', 'tensor', 'tensor']);
  });
});

describe('a tensor may reach the comparison: refused in every form, and each does make a boolean tensor', () => {
  it.each(Object.entries(refused))('%s', (label, f) => {
    for (const [form, src] of forms(f)) expect(lintConditions(src).length, `${form}:\n${src}`).toBeGreaterThan(0);
    expect(makesTensor(f), label).toBe(true);
  });

  it('what the lint cannot be sure of stays refused, though these compare numbers at run time', () => {
    for (const [label, f] of Object.entries(conservative)) {
      expect(lintConditions(srcOf(f)).length, label).toBeGreaterThan(0);
      expect(makesTensor(f), label).toBe(false);
    }
  });
});

describe('switch and case', () => {
  it('names the use: the value switched on, or a case compared with ===', () => {
    expect(lintConditions(srcOf(refused['switch on a draw'])).map((f) => [f.use, f.expression])).toEqual([['switch', 'ops.gt(mu, 0)']]);
    expect(lintConditions(srcOf(refused['a case that compares a draw'])).map((f) => [f.use, f.expression])).toEqual([
      ['case', 'ops.gt(mu, 1)'],
      ['case', 'ops.lt(mu, -1)'],
    ]);
    expect(lintConditions('async (ctx) => { const c = ops.gt(await ctx.sample("a", N), 0); switch (c) { case true: return 1; case false: return 2; } }')[0].use).toBe('switch');
  });

  it("a minifier turns a one-case switch into `=== !0`, the lint's deliberate negative (known miss; NUTS's run-time check still refuses an unconsumed comparison)", () => {
    const f = 'export const f = async (ops, mu) => { switch (ops.gt(mu, 0)) { case true: return 1; } return 2; };';
    expect(lintConditions(f)).toHaveLength(1);
    const min = transformSync(f, { loader: 'js', minify: true }).code;
    expect(min).toMatch(/===!0/);
    expect(lintConditions(min)).toEqual([]);
  });
});

describe('local helpers', () => {
  it('a call of a helper that returns a comparison is one; a minifier inlines it as ((v) => ops.gt(v, 0))(mu), found too', () => {
    const f = refused['a local helper that returns a comparison'];
    expect(lintConditions(srcOf(f)).map((x) => [x.use, x.expression])).toEqual([['if', 'positive(mu)']]);
    expect(minified(f)).toMatch(/\(\w+=>\w+\.gt\(\w+,0\)\)\(\w+\)/);
  });

  it('not a helper: one that returns something else on some path, is reassigned, or whose result is consumed by an op', () => {
    const body = (s: string): string => `async (ops, mu) => { ${s} }`;
    for (const s of [
      'const pos = (v) => { if (v === 0) return 1; return ops.gt(v, 0); }; if (pos(mu)) return 1;',
      'let pos = (v) => ops.gt(v, 0); pos = (v) => v === 1; if (pos(mu)) return 1;',
      'const pos = (v) => ops.gt(v, 0); return ops.where(pos(mu), 1, 2);',
      'const pos = (v) => ops.gt(v, 0); for (let k = 0; k < 3; k++) if (pos(k)) return 1;',
    ]) expect(lintConditions(body(s)), s).toEqual([]);
  });
});
