/**
 * The static line of defence against a tensor comparison used as a JS condition
 * (`core/condition-lint.ts`, run by `infer` before any engine): a tensor is always true, so
 * `if (ops.gt(mu, 0))` silently takes one branch. The run-time check (a boolean tensor that
 * nothing consumes) misses a comparison that is also consumed by a tensor op; there NUTS and VI
 * gave a wrong posterior with clean diagnostics. Here:
 *
 * - every pattern is found in the source vitest really runs (esbuild output: `ns.ops.gt(...)`,
 *   `(0, ns.gt)(...)` for a named import), again after esbuild's minifier, which rewrites
 *   `if` into `?:`, `&&` and `||`, and as TypeScript's compiler writes it for ES5 (async
 *   functions as state machines over hoisted `var`s) and ES2015 (generators); wrappers that yield a number, strings, comments, regular
 *   expressions and a variable named `gt` are not;
 * - no false positive in the repository: every model, test, library file, guide code block and
 *   notebook cell, transpiled as at run time, is flagged only where a test plants the bug;
 * - every registered engine refuses the consumed-and-conditioned model before running it; with
 *   the check off, NUTS's answer is that of the wrong model (the first branch always, same draws
 *   bit for bit) and fails a 4-MCSE check against the exact answer by quadrature that the same
 *   model written with `ops.where` passes; VI's fit is bit for bit the wrong model's.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { transformSync } from 'esbuild';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { lintConditions } from '../../src/core/condition-lint.js';
import { exactMean } from '../helpers/branch-quadrature.js';
import { BRANCH_ON_TENSOR_MESSAGE, TycheError } from '../../src/core/errors.js';
import { tokenize } from '../../src/core/js-tokens.js';
import { gt as namedGt } from '../../src/core/value.js';
import { type Ctx, Normal, type Value, infer, listEngines, model, ops, toNumber } from '../../src/index.js';
import type { Posterior } from '../../src/infer/posterior.js';
import { collectCorpus, lintCorpus } from '../helpers/condition-corpus.js';
import { numbersVersusTensors } from '../../src/infer/branch-check.js';

type Fn = (...args: never[]) => unknown;

/** Functions with the bug, one pattern each (never run: only their source is read). */
const positives: Record<string, Fn> = {
  'if (ops.gt(...))': (mu: Value) => {
    if (ops.gt(mu, 0) as unknown as boolean) return 1;
    return 0;
  },
  'else if / named import `(0, ns.gt)(...)`': function named(mu: Value) {
    if (toNumber(mu) > 3) return 2;
    else if (namedGt(mu, 0) as unknown as boolean) return 1;
    return 0;
  },
  'ternary': (a: Value, b: Value) => (ops.lt(a, b) ? 1 : 2),
  'while (tf.greater(...))': (a: tf.Tensor) => {
    let n = 0;
    while (tf.greater(a, n) as unknown as boolean) n++;
    return n;
  },
  'do ... while (x.less(...))': async (a: tf.Tensor) => {
    let n = 0;
    do n++;
    while (a.less(n) as unknown as boolean);
    return n;
  },
  'for test': (a: Value) => {
    let s = 0;
    for (let i = 0; ops.lt(i, a) as unknown as boolean; i++) s += i;
    return s;
  },
  '! operand': (z: Value) => (!ops.eq(z, 1) ? 1 : 0),
  '&& left operand': (a: Value) => (ops.gt(a, 0) as unknown as boolean) && ops.lt(a, 1),
  '|| chain in a condition': (a: Value, flag: boolean) => {
    if (flag || (ops.ge(a, 2) as unknown as boolean)) return 1;
    return 0;
  },
  'tensor method in a ternary': (mu: tf.Tensor) => (mu.greaterEqual(0) ? mu : tf.neg(mu)),
  'tfjs op by name in a condition': (a: tf.Tensor) => {
    if (tf.greaterEqual(a, 2) as unknown as boolean) return 1;
    return 0;
  },
  'logical ops': (a: tf.Tensor, b: tf.Tensor) => (tf.logicalAnd(tf.greater(a, 0), tf.less(b, 1)) ? 1 : 0),
  'await of a comparison': async (a: Value) => {
    if ((await ops.gt(a, 0)) as unknown as boolean) return 1;
    return 0;
  },
  'consumed and conditioned (a variable)': async ({ sample, observe }: Ctx) => {
    const mu = await sample('mu', Normal(0, 1));
    const c = ops.gt(mu, 0);
    const s = ops.where(c, 0.5, 3) as Value;
    if (c as unknown as boolean) await observe('y', Normal(mu, s), -1.0);
    else await observe('y', Normal(mu, 1), -1.0);
  },
  'a copy of such a variable': (mu: Value) => {
    const c = ops.gt(mu, 0);
    const d = c;
    return d ? 1 : 0;
  },
  'one of several declarators, the name reused in a helper': (mu: Value) => {
    const isPos = (v: number): number => {
      const c = v > 0;
      return c ? 1 : 0;
    };
    const k = isPos(1),
      c = ops.gt(mu, 0);
    return c ? k : 0;
  },
  'Boolean(...)': (mu: Value) => Boolean(ops.gt(mu, 0)),
  'a branch of ?: in a condition': (mu: Value, strict: boolean) => {
    if (strict ? ops.gt(mu, 1) : ops.ge(mu, 0)) return 1;
    return 0;
  },
  'a predicate callback (arrow)': (xs: Value[]) => xs.filter((x) => ops.gt(x, 0)).length,
  'a predicate callback (returned in a block)': (xs: Value[]) =>
    xs.some(function (x) {
      if (toNumber(x) > 9) return true;
      return ops.lt(x, -1);
    }),
  'destructured op': (mu: Value) => {
    const { gt, le: atMost } = ops;
    if (atMost(mu, 2) as unknown as boolean) return gt(mu, 0) ? 1 : 2;
    return 0;
  },
  'method of an object': {
    async run(mu: Value) {
      if (ops.ge(mu, 1) as unknown as boolean) return 1;
      return 0;
    },
  }.run,
  'in a nested function of the model': async ({ sample, factor }: Ctx) => {
    const x = await sample('x', Normal(0, 1));
    const pen = (v: Value): Value => (ops.gt(v, 2) ? -10 : 0);
    await factor('pen', pen(x));
  },
};

/** Functions without the bug: the comparison is consumed by a number-yielding wrapper or is not a comparison at all. */
const negatives: Record<string, Fn> = {
  'toNumber(ops.gt(...))': (mu: Value) => (toNumber(ops.gt(mu, 0)) ? 1 : 0),
  '.dataSync()[0]': (mu: tf.Tensor) => (tf.greater(mu, 0).dataSync()[0] ? 1 : 0),
  '.arraySync()': (mu: tf.Tensor) => (mu.greater(0).arraySync() ? 1 : 0),
  'Number(...)': (mu: Value) => (Number(ops.gt(mu, 0)) ? 1 : 0),
  'await ...data()': async (mu: tf.Tensor) => ((await mu.greater(0).data())[0] ? 1 : 0),
  '=== true': (mu: Value) => (ops.gt(mu, 0) === true ? 1 : 0),
  'ops.where(ops.gt(...))': (mu: Value) => ops.where(ops.gt(mu, 0), 1, 2),
  'ops.all(ops.le(...)) (a JS boolean)': (z: Value) => {
    if (!ops.all(ops.le(z, 1))) throw new RangeError('z > 1');
    return z;
  },
  'Number.isInteger, Number.isNaN': (n: number) => (Number.isInteger(n) && !Number.isNaN(n) ? n : 0),
  'strings': (mu: Value) => {
    const s = 'if (ops.gt(mu, 0)) {}';
    const t = "while (tf.greater(a, b)) {}";
    return toNumber(mu) > 0 ? s : t;
  },
  'template text': (mu: Value) => `if (ops.gt(${toNumber(mu)}, 0)) { !ops.eq(z, 1) }`,
  'comments': (mu: Value) => {
    // if (ops.gt(mu, 0)) return 1;
    /* while (tf.greater(a, b)) {} ; x = ops.lt(a, b) ? p : q */
    return toNumber(mu);
  },
  'regex literals': (s: string) => (/if \(ops\.gt\(mu, 0\)\)[/]/.test(s) || /ops.lt(a, b) ?/g.test(s) ? 1 : 0),
  'a variable named gt': (mu: number) => {
    const gt = mu > 0;
    const lt = (a: number, b: number): boolean => a < b;
    if (gt) return 1;
    return lt(mu, -1) ? -1 : 0;
  },
  'a variable reassigned to a number': (mu: Value) => {
    let c: Value | boolean = ops.gt(mu, 0);
    c = toNumber(c);
    return c ? 1 : 0;
  },
  'a comparison as a value (not tested)': (a: Value, b: Value) => [ops.gt(a, 0), a === b ? ops.lt(a, b) : 0],
  'the name of a comparison variable reused as a parameter elsewhere': (mu: Value) => {
    const c = ops.gt(mu, 0);
    const pick = (c: boolean): number => (c ? 1 : 2);
    return [ops.where(c, 1, 2), pick(toNumber(mu) > 0)];
  },
  "a number class's own methods (Decimal, Long: one argument)": (d: { gt(x: number): boolean; isFinite(): boolean }) => (d.gt(1) && d.isFinite() ? 1 : 0),
  'a comparison read on the next line': (mu: tf.Tensor) => {
    const positive = tf.greater(mu, 0)
      .dataSync()[0];
    return positive ? 1 : 0;
  },
  'a comparison mapped, not tested': (xs: Value[]) => xs.map((x) => ops.gt(x, 0)),
  'a predicate on numbers': (xs: Value[]) => xs.filter((x) => toNumber(ops.gt(x, 0)) === 1).find((x) => toNumber(x) > 2),
  'division, not a regex': (a: number, b: number) => a / b / (toNumber(ops.gt(a, b)) + 1),
};

const srcOf = (f: Fn): string => Function.prototype.toString.call(f);
/** The function's source as TypeScript's compiler writes it for an older target (ES5: async functions as `__generator` state machines with hoisted `var`s; ES2015: generators). */
function downlevelled(f: Fn, target: 'ES5' | 'ES2015'): string {
  const src = srcOf(f);
  const compile = (code: string): string => ts.transpileModule(code, { compilerOptions: { target: ts.ScriptTarget[target], module: ts.ModuleKind.CommonJS }, reportDiagnostics: false }).outputText;
  return /^(async\s+)?[\w$]+\s*\(/.test(src) && !/^(async\s+)?function\b/.test(src) && !/^async\s*\(/.test(src) ? compile(`export const f = { ${src} };`) : compile(`export const f = ${src};`);
}
/** The function's source through esbuild's minifier (a method's source is wrapped in an object literal). */
function minified(f: Fn): string {
  const src = srcOf(f);
  try {
    return transformSync(`export const f = ${src};`, { loader: 'js', minify: true }).code;
  } catch {
    return transformSync(`export const f = { ${src} };`, { loader: 'js', minify: true }).code;
  }
}

describe('the lint finds each pattern in the source vitest runs, after minifying, and as tsc writes it for ES5 and ES2015', () => {
  it.each(Object.entries(positives))('%s', (label, f) => {
    const found = lintConditions(srcOf(f));
    expect(found.length, srcOf(f)).toBeGreaterThan(0);
    expect(lintConditions(minified(f)).length, minified(f)).toBeGreaterThan(0);
    for (const target of ['ES5', 'ES2015'] as const) {
      // (not found: an awaited comparison under ES5, where `await x` becomes `return [4, x]` and `if (_a.sent())` in the next state)
      if (target === 'ES5' && label === 'await of a comparison') continue;
      expect(lintConditions(downlevelled(f, target)).length, downlevelled(f, target)).toBeGreaterThan(0);
    }
  });

  it('vitest writes imports as namespace members: the lint reads that form', () => {
    expect(srcOf(positives['if (ops.gt(...))'])).toMatch(/__vite_ssr_import_\d+__\.ops\.gt\(/);
    expect(srcOf(positives['else if / named import `(0, ns.gt)(...)`'])).toMatch(/\(0,\s*__vite_ssr_import_\d+__\.gt\)\(mu, 0\)/);
    expect(lintConditions(srcOf(positives['else if / named import `(0, ns.gt)(...)`']))[0].use).toBe('if');
  });

  it('says where: the line, its code, the expression and how it is used', () => {
    const [f] = lintConditions('async ({ sample }) => {\n  const mu = await sample("mu", N);\n  const c = ops.gt(mu, 0);\n  return c ? 1 : 2;\n}');
    expect(f).toEqual({ line: 4, code: 'return c ? 1 : 2;', expression: 'c', use: '?:' });
  });
});

describe('no false alarm', () => {
  it.each(Object.entries(negatives))('%s', (_, f) => {
    expect(lintConditions(srcOf(f)), srcOf(f)).toEqual([]);
    expect(lintConditions(minified(f)), minified(f)).toEqual([]);
    for (const target of ['ES5', 'ES2015'] as const) expect(lintConditions(downlevelled(f, target)), downlevelled(f, target)).toEqual([]);
  });

  it("mathjs's two-argument comparisons (JS booleans) by its usual name; minified, the name is gone, and lodash's `_` is what minifiers call things (known false alarms)", () => {
    const f = (math: { equal(a: number, b: number): boolean }) => (math.equal(1, 1) ? 1 : 0);
    expect(lintConditions(srcOf(f))).toEqual([]);
    expect(lintConditions(minified(f)).length).toBeGreaterThan(0);
    const g = (_: { gt(a: number, b: number): boolean }, a: number) => (_.gt(a, 1) ? 1 : 0);
    expect(lintConditions(srcOf(g)).length).toBeGreaterThan(0);
  });

  it('over the repository: models, tests, library, guides and notebooks, as transpiled at run time', () => {
    const corpus = collectCorpus();
    const found = lintCorpus(corpus);
    // the files that plant the bug on purpose (the run-time checks' tests, and this file)
    const planted = ['test/trust/branch-on-tensor-compiled.test.ts', 'test/trust/branch-on-tensor-fallback.test.ts', 'test/smc/program-batched.test.ts', 'test/trust/condition-lint.test.ts', 'test/trust/condition-lint-numbers.test.ts', 'test/infer/args-fingerprint.test.ts', 'test/reliability/newcomer-session8.test.ts', 'test/reliability/newcomer-session11.test.ts', 'test/infer/branch-check-replay.test.ts'];
    const unexpected = [...found].filter(([name]) => !planted.includes(name)).map(([name, fs]) => `${name}:${fs[0].line} ${fs[0].code}`);
    expect(unexpected).toEqual([]);
    const kinds = (re: RegExp) => corpus.filter((s) => re.test(s.name)).length;
    expect(kinds(/^models\//)).toBeGreaterThan(10);
    expect(kinds(/\.md#/)).toBeGreaterThan(30);
    expect(kinds(/\.ipynb#/)).toBeGreaterThan(50);
    expect(corpus.filter((s) => !s.transpiled).length).toBeLessThan(10); // code blocks that are fragments
    // and the planted ones are found (the run-time tests' models and this file's positives)
    expect(found.get('test/trust/branch-on-tensor-compiled.test.ts')?.length).toBe(2);
    expect(found.get('test/trust/branch-on-tensor-fallback.test.ts')?.length).toBe(2);
    expect(found.get('test/smc/program-batched.test.ts')?.length).toBe(1);
    if (process.env.TYCHE_REPORT) console.log(`condition lint over ${corpus.length} sources: ${[...found.values()].reduce((a, f) => a + f.length, 0)} findings, all in ${found.size} files that plant the bug`);
  });
});

describe('the tokenizer', () => {
  const texts = (src: string): string[] => tokenize(src).tokens.map((t) => t.text);
  it('keeps strings, templates, regexes and comments whole, and tells a regex from a division', () => {
    expect(texts(`a = "x\\"y" + 'z' // c\n/* d */ b`)).toEqual(['a', '=', '"x\\"y"', '+', "'z'", 'b']);
    expect(texts('x = a / b / c')).toEqual(['x', '=', 'a', '/', 'b', '/', 'c']);
    expect(texts('x = /a[/]b/g.test(s)')).toEqual(['x', '=', '/a[/]b/g', '.', 'test', '(', 's', ')']);
    expect(texts('return /x/')).toEqual(['return', '/x/']);
    expect(texts('f(a) / 2')).toEqual(['f', '(', 'a', ')', '/', '2']);
    expect(texts('`a${`b${c}`}d`')).toEqual(['`a${', '`b${', 'c', '}`', '}d`']);
    expect(texts('a?.b ?? c ? .5 : 1e-3')).toEqual(['a', '?.', 'b', '??', 'c', '?', '.5', ':', '1e-3']);
  });
  it('matches brackets and template pieces', () => {
    const { tokens, match } = tokenize('f(a[1], { b: `x${(c)}y` })');
    const at = (text: string): number => tokens.findIndex((t) => t.text === text);
    expect(match[at('(')]).toBe(tokens.length - 1);
    expect(tokens[match[at('[')]].text).toBe(']');
    expect(tokens[match[at('`x${')]].text).toBe('}y`');
    expect(tokens[match[at('}y`')]].text).toBe('`x${');
  });
  it('never throws on malformed text', () => {
    for (const s of ['if (ops.gt(a', '"unterminated', '`x${', '/* open', ')))]]}}}', 'a = /x']) expect(() => lintConditions(s)).not.toThrow();
    // 150 random cuts of this file, half with characters dropped (fixed seed)
    const own = readFileSync(fileURLToPath(import.meta.url), 'utf8');
    let seed = 7;
    const rnd = (): number => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
    for (let r = 0; r < 150; r++) {
      const a = Math.floor(rnd() * own.length);
      let cut = own.slice(a, a + Math.floor(rnd() * 1500));
      if (rnd() < 0.5) cut = [...cut].filter(() => rnd() > 0.02).join('');
      expect(() => lintConditions(cut)).not.toThrow();
    }
  });
});

// the consumed-and-conditioned model: c is used by ops.where (so the run-time check sees it consumed) and steers an `if`
const sneaky = model(async ({ sample, observe }) => {
  const mu = await sample('mu', Normal(0, 1));
  const c = ops.gt(mu, 0);
  const s = ops.where(c, 0.5, 3) as Value;
  if (c as unknown as boolean) await observe('y', Normal(mu, s), -1.0);
  else await observe('y', Normal(mu, 0.25), -1.0);
});
// what a tensor run of it computes: the first branch always
const firstBranch = model(async ({ sample, observe }) => {
  const mu = await sample('mu', Normal(0, 1));
  const c = ops.gt(mu, 0);
  const s = ops.where(c, 0.5, 3) as Value;
  await observe('y', Normal(mu, s), -1.0);
});
// what the user meant, written for tensors
const meant = model(async ({ sample, observe }) => {
  const mu = await sample('mu', Normal(0, 1));
  await observe('y', Normal(mu, ops.where(ops.gt(mu, 0), 0.5, 0.25) as Value), -1.0);
});

function zOf(post: Posterior, exact: number): number {
  const row = post.summary().rows.find((r) => r.name === 'mu')!;
  return (row.mean - exact) / Number(row.mcse_mean);
}

describe('infer refuses the model before any engine runs it', () => {
  const message = /^model "sneaky", line \d+ of its source `if \(c\) await observe\("y", .*: the model branches on a tensor comparison/;

  it('every registered engine, with the shared message naming the line', async () => {
    const engines = listEngines().map((e) => e.name);
    expect(engines).toEqual(expect.arrayContaining(['nuts', 'hmc', 'vi', 'mh', 'smc', 'importance', 'enumerate']));
    const named = model(sneaky.fn, { name: 'sneaky' });
    for (const method of engines) {
      const err = await infer(named, { method } as never).then(() => undefined, (e: unknown) => e);
      expect(err, method).toBeInstanceOf(TycheError);
      expect((err as Error).message, method).toMatch(message);
      expect((err as Error).message).toContain(BRANCH_ON_TENSOR_MESSAGE);
    }
  });

  it('a guide is read too, and the option is checked', async () => {
    const guide = model(async ({ sample }) => {
      const z = await sample('mu', Normal(0, 1));
      if (ops.lt(z, -5) as unknown as boolean) throw new Error('never');
    }, { name: 'myGuide' });
    await expect(infer(meant, { method: 'importance', particles: 10, guide, seed: 1 })).rejects.toThrow(/^model "myGuide \(option guide\)", line 3 of its source `if \(/);
    await expect(infer(meant, { method: 'importance', particles: 10, checkConditions: 'no' } as never)).rejects.toThrow(/checkConditions must be true or false, got/);
  });

  it('with the check off, NUTS silently answers for the wrong model (4-MCSE check against the exact answer fails); written with ops.where it passes', async () => {
    const exact = exactMean((x) => (x > 0 ? 0.5 : 0.25)); // -0.9019 (the first branch always: -0.6784)
    const opts = { method: 'nuts', seed: 3, chains: 4, warmup: 300, samples: 600 } as const;
    const unchecked = await infer(sneaky, { ...opts, checkConditions: false });
    const wrong = await infer(firstBranch, opts);
    // the same draws as the first-branch model: the `if` followed a tensor's truthiness, with clean diagnostics
    expect(unchecked.draws.map((d) => toNumber(d.values.mu as Value))).toEqual(wrong.draws.map((d) => toNumber(d.values.mu as Value)));
    const zWrong = zOf(unchecked, exact);
    expect(Math.abs(zWrong)).toBeGreaterThan(4); // the planted bug fails the check below
    const right = await infer(meant, opts);
    const zRight = zOf(right, exact);
    expect(Math.abs(zRight)).toBeLessThanOrEqual(4);
    if (process.env.TYCHE_REPORT) console.log(`exact E[mu] ${exact.toFixed(4)}; unchecked sneaky ${unchecked.moments('mu').mean.toFixed(4)} (z ${zWrong.toFixed(2)}); ops.where ${right.moments('mu').mean.toFixed(4)} (z ${zRight.toFixed(2)})`);
    for (const p of [unchecked, wrong, right]) p.dispose();
  }, 120_000);

  it('with the check off, VI fits the wrong model bit for bit', async () => {
    const opts = { method: 'vi', seed: 4, steps: 200, samples: 200 } as const;
    const unchecked = await infer(sneaky, { ...opts, checkConditions: false });
    const wrong = await infer(firstBranch, opts);
    expect(unchecked.moments('mu')).toEqual(wrong.moments('mu'));
    const right = await infer(meant, opts);
    expect(right.moments('mu').mean).not.toBe(wrong.moments('mu').mean);
    for (const p of [unchecked, wrong, right]) p.dispose();
  }, 120_000);
});

// Helpers outside the model: `toString()` of the model does not contain them, so the source check cannot read them.
/** A helper whose comparison only steers a JS condition (nothing consumes it). */
function scaleOf(mu: Value): number {
  if (ops.gt(mu, 0) as unknown as boolean) return 0.5;
  return 3;
}
/** A helper whose comparison is consumed by an op and also steers a JS condition (the sneaky model's body). */
async function observeSneakily(observe: Ctx['observe'], mu: Value): Promise<void> {
  const c = ops.gt(mu, 0);
  const s = ops.where(c, 0.5, 3) as Value;
  if (c as unknown as boolean) await observe('y', Normal(mu, s), -1.0);
  else await observe('y', Normal(mu, 0.25), -1.0);
}
const viaHelper = model(async ({ sample, observe }) => {
  const mu = await sample('mu', Normal(0, 1));
  await observe('y', Normal(mu, scaleOf(mu)), -1.0);
}, { name: 'viaHelper' });
const viaSneakyHelper = model(async ({ sample, observe }) => {
  const mu = await sample('mu', Normal(0, 1));
  await observeSneakily(observe, mu);
}, { name: 'viaSneakyHelper' });
const viaArgument = model(async ({ sample, observe }, h: { observe: typeof observeSneakily }) => {
  const mu = await sample('mu', Normal(0, 1));
  await h.observe(observe, mu);
}, { name: 'viaArgument' });

describe('helpers defined outside the model: what the run-time checks catch and what they miss', () => {
  const RECORDER = /^site "y": the model branches on a tensor comparison \(e\.g\. `if \(ops\.gt\(x, 0\)\)`\): a tensor is always true in a JS condition\. Use ops\.where\(cond, a, b\) to choose a value, or toNumber\(\.\.\.\) to branch on a number$/;
  const COMPARED = /^site "y": the model branches on a tensor comparison .*Found by running model "viaSneakyHelper" at a draw from its prior \(mu = -?\d\.\d+\) with its values as numbers and as tensors \(as nuts runs it\): this site's log density is -?\d\.\d+ and -?\d\.\d+/;
  const short = { seed: 2, chains: 2, warmup: 30, samples: 30 } as const;

  it('the source check cannot see them', () => {
    expect(lintConditions(viaHelper.fn.toString())).toEqual([]);
    expect(lintConditions(viaSneakyHelper.fn.toString())).toEqual([]);
    expect(lintConditions(scaleOf.toString()).map((f) => f.use)).toEqual(['if']);
  });

  it("an unconsumed comparison in a helper: the recorder catches it (NUTS compiled and on tfjs, vectorised or not, HMC, VI), and so does infer's comparison of runs on numbers and on tensors, first", async () => {
    for (const o of [{ method: 'nuts' }, { method: 'nuts', compile: false }, { method: 'nuts', vectorize: false, compile: false }, { method: 'hmc' }]) {
      await expect(infer(viaHelper, { ...short, ...o, checkConditions: false } as never), JSON.stringify(o)).rejects.toThrow(RECORDER);
    }
    await expect(infer(viaHelper, { method: 'vi', seed: 1, steps: 20, compile: false, checkConditions: false })).rejects.toThrow(RECORDER);
    await expect(infer(viaHelper, { method: 'nuts', ...short })).rejects.toThrow(/^site "y": .*Found by running model "viaHelper" at a draw from its prior/);
  }, 120_000);

  it('a helper whose comparison is also consumed by an op: the recorder misses it (NUTS, compiled and on tfjs, answers for the first branch, bit for bit); comparing runs on numbers and on tensors refuses it, naming the site and the draw', async () => {
    for (const o of [{}, { compile: false }]) {
      const opts = { method: 'nuts', ...short, ...o } as const;
      const helped = await infer(viaSneakyHelper, { ...opts, checkConditions: false });
      const wrong = await infer(firstBranch, opts);
      expect(helped.draws.map((d) => toNumber(d.values.mu as Value)), JSON.stringify(o)).toEqual(wrong.draws.map((d) => toNumber(d.values.mu as Value)));
      helped.dispose();
      wrong.dispose();
      await expect(infer(viaSneakyHelper, opts)).rejects.toThrow(COMPARED);
    }
    await expect(infer(viaSneakyHelper, { method: 'vi', seed: 1, steps: 20 })).rejects.toThrow(/as vi runs it/);
  }, 120_000);

  it('the comparison of runs: the right model agrees at all 8 draws, tensors stay flat; the sneaky one disagrees at its first draw below 0', async () => {
    const before = tf.memory().numTensors;
    const right = await numbersVersusTensors(meant, [], { seed: 5 });
    expect(right).toEqual({ compared: 8, disagreement: undefined });
    const found = await numbersVersusTensors(viaSneakyHelper, [], { seed: 5 });
    const d = found.disagreement!;
    expect(d.site).toBe('y');
    expect(d.point.mu).toBeLessThan(0); // the branch a tensor never takes
    // on numbers: the branch taken for mu < 0 (sd 0.25); on tensors: the first branch always, with sd where(mu > 0, 0.5, 3) = 3
    const normal = (x: number, sd: number): number => -0.5 * ((x + 1) / sd) ** 2 - Math.log(sd) - 0.5 * Math.log(2 * Math.PI);
    expect(d.onNumbers).toBeCloseTo(normal(d.point.mu, 0.25), 4);
    expect(d.onTensors).toBeCloseTo(normal(d.point.mu, 3), 4);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('closed where the helper comes in through the arguments: infer reads the functions it is handed (and their object properties)', async () => {
    const err = await infer(viaArgument, { method: 'nuts', ...short }, { observe: observeSneakily }).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(TycheError);
    expect((err as Error).message).toMatch(/^model "viaArgument, argument 0\.observe \(observeSneakily\)", line 4 of its source `if \(c\) await observe\("y", /);
    // the same model with a helper that is right is accepted
    const fine = async (obs: Ctx['observe'], mu: Value): Promise<void> => {
      await obs('y', Normal(mu, ops.where(ops.gt(mu, 0), 0.5, 0.25) as Value), -1.0);
    };
    const post = await infer(viaArgument, { method: 'nuts', ...short }, { observe: fine as typeof observeSneakily });
    expect(post.draws.length).toBe(60);
    post.dispose();
  }, 120_000);
});
