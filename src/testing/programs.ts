/**
 * Random small enumerable generative programs, for property tests of
 * inference engines against exact enumeration.
 *
 * Programs come from a grammar:
 *
 * ```
 * program := choice stmt*            (at least one latent choice)
 * stmt    := choice                  x_k ~ Bernoulli(p) | Categorical(probs)
 *          | observe                 observe y_k ~ Bernoulli(table[x]) = 0|1
 *          | factor                  factor f_k = table[x]
 *          | if (x == v) { stmt+ } else { stmt* }
 *          | loop L_k × n { stmt+ }   n in 1..3; each iteration has its own scope
 * ```
 *
 * where `x` is a variable visible at that point (earlier choices in the same
 * or an enclosing block). Each program is returned as a tyche model with a
 * readable description, which fast-check prints for a counterexample (and
 * which shrinks along with the program).
 *
 * @module
 */
import fc from 'fast-check';
import { type Ctx, type Model, model } from '../core/model.js';
import { Bernoulli } from '../distributions/bernoulli.js';
import { Categorical } from '../distributions/categorical.js';

/** A resolved statement of a generated program. */
export type ProgramStmt =
  | { readonly kind: 'choice'; readonly name: string; readonly probs: readonly number[] }
  | { readonly kind: 'observe'; readonly name: string; readonly on: string | null; readonly table: readonly number[]; readonly value: 0 | 1 }
  | { readonly kind: 'factor'; readonly name: string; readonly on: string | null; readonly table: readonly number[] }
  | { readonly kind: 'if'; readonly on: string | null; readonly equals: number; readonly then: readonly ProgramStmt[]; readonly else: readonly ProgramStmt[] }
  | { readonly kind: 'loop'; readonly name: string; readonly times: number; readonly body: readonly ProgramStmt[] };

/** A generated program: its statements, the model, a description and a bound on its size. */
export interface GeneratedProgram {
  readonly statements: readonly ProgramStmt[];
  /** The program as a tyche model without arguments; it returns the values of the top-level choices. */
  readonly model: Model<[], number[]>;
  /** Pseudo-code of the program. */
  readonly description: string;
  /** An upper bound on the number of execution paths (what enumeration costs). */
  readonly maxPaths: number;
  /** Number of latent choice statements in the text (loops count once). */
  readonly choices: number;
  [fc.toStringMethod](): string;
}

/** Options of {@link arbProgram}. */
export interface ArbProgramOptions {
  /** Nesting depth of if/loop (default 2). */
  readonly maxDepth?: number;
  /** Statements per block after the first choice (default 4). */
  readonly maxStatements?: number;
  /** Reject programs with more execution paths than this (default 512). */
  readonly maxPaths?: number;
}

// ---- raw (unresolved) statements, as generated and shrunk by fast-check ----

type RawStmt =
  | { k: 'choice'; weights: number[] }
  | { k: 'observe'; ref: number; table: number[]; value: 0 | 1 }
  | { k: 'factor'; ref: number; table: number[] }
  | { k: 'if'; ref: number; equals: number; then: RawStmt[]; else: RawStmt[] }
  | { k: 'loop'; times: number; body: RawStmt[] };

/** Weights 1..9 of 2 or 3 values: a Bernoulli (2) or a Categorical (3). */
const arbWeights = fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 2, maxLength: 3 });
const arbChoice: fc.Arbitrary<RawStmt> = arbWeights.map((weights) => ({ k: 'choice' as const, weights }));
const arbObserve: fc.Arbitrary<RawStmt> = fc
  .record({ ref: fc.nat(7), table: fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 3 }), value: fc.constantFrom<0 | 1>(1, 0) })
  .map((r) => ({ k: 'observe' as const, ...r }));
const arbFactor: fc.Arbitrary<RawStmt> = fc
  .record({ ref: fc.nat(7), table: fc.array(fc.integer({ min: -4, max: 2 }), { minLength: 1, maxLength: 3 }) })
  .map((r) => ({ k: 'factor' as const, ...r }));

function arbStmt(depth: number, maxStatements: number): fc.Arbitrary<RawStmt> {
  const leaves = [arbChoice, arbObserve, arbFactor];
  if (depth <= 0) return fc.oneof(...leaves);
  const inner = arbStmt(depth - 1, maxStatements);
  const block = (min: number) => fc.array(inner, { minLength: min, maxLength: Math.max(min, Math.min(3, maxStatements)) });
  const arbIf: fc.Arbitrary<RawStmt> = fc
    .record({ ref: fc.nat(7), equals: fc.nat(2), then: block(1), else: block(0) })
    .map((r) => ({ k: 'if' as const, ...r }));
  const arbLoop: fc.Arbitrary<RawStmt> = fc.record({ times: fc.integer({ min: 1, max: 3 }), body: block(1) }).map((r) => ({ k: 'loop' as const, ...r }));
  return fc.oneof(...leaves, arbIf, arbLoop);
}

// ---- resolution: names, references to visible variables ----

interface Scope {
  vars: { name: string; size: number }[];
  counters: { x: number; y: number; f: number; L: number };
}

function pick(scope: Scope, ref: number): { name: string; size: number } | null {
  return scope.vars.length === 0 ? null : scope.vars[ref % scope.vars.length];
}

function resolveBlock(raw: readonly RawStmt[], scope: Scope): ProgramStmt[] {
  const local: Scope = { vars: [...scope.vars], counters: scope.counters };
  return raw.map((s) => resolveStmt(s, local));
}

function resolveStmt(s: RawStmt, scope: Scope): ProgramStmt {
  const c = scope.counters;
  switch (s.k) {
    case 'choice': {
      const total = s.weights.reduce((a, b) => a + b, 0);
      const name = `x${c.x++}`;
      scope.vars.push({ name, size: s.weights.length });
      return { kind: 'choice', name, probs: s.weights.map((w) => w / total) };
    }
    case 'observe': {
      const v = pick(scope, s.ref);
      return { kind: 'observe', name: `y${c.y++}`, on: v?.name ?? null, table: s.table.map((t) => t / 10), value: s.value };
    }
    case 'factor': {
      const v = pick(scope, s.ref);
      return { kind: 'factor', name: `f${c.f++}`, on: v?.name ?? null, table: s.table.map((t) => t / 2) };
    }
    case 'if': {
      const v = pick(scope, s.ref);
      return { kind: 'if', on: v?.name ?? null, equals: v ? s.equals % v.size : 0, then: resolveBlock(s.then, scope), else: resolveBlock(s.else, scope) };
    }
    case 'loop':
      return { kind: 'loop', name: `L${c.L++}`, times: s.times, body: resolveBlock(s.body, scope) };
  }
}

// ---- size, description, interpretation ----

function pathsOf(block: readonly ProgramStmt[]): number {
  let p = 1;
  for (const s of block) {
    if (s.kind === 'choice') p *= s.probs.length;
    else if (s.kind === 'if') p *= pathsOf(s.then) + pathsOf(s.else);
    else if (s.kind === 'loop') p *= pathsOf(s.body) ** s.times;
  }
  return p;
}

function choicesOf(block: readonly ProgramStmt[]): number {
  let n = 0;
  for (const s of block) {
    if (s.kind === 'choice') n++;
    else if (s.kind === 'if') n += choicesOf(s.then) + choicesOf(s.else);
    else if (s.kind === 'loop') n += choicesOf(s.body);
  }
  return n;
}

const fmt = (x: number) => String(Number(x.toFixed(4)));
const fmtTable = (t: readonly number[], on: string | null) => (t.length === 1 || on === null ? fmt(t[0]) : `[${t.map(fmt).join(', ')}][${on}]`);

function describeBlock(block: readonly ProgramStmt[], indent: string): string[] {
  const out: string[] = [];
  for (const s of block) {
    switch (s.kind) {
      case 'choice':
        out.push(`${indent}${s.name} ~ ${s.probs.length === 2 ? `Bernoulli(${fmt(s.probs[1])})` : `Categorical([${s.probs.map(fmt).join(', ')}])`}`);
        break;
      case 'observe':
        out.push(`${indent}observe ${s.name} ~ Bernoulli(${fmtTable(s.table, s.on)}) = ${s.value}`);
        break;
      case 'factor':
        out.push(`${indent}factor ${s.name} = ${fmtTable(s.table, s.on)}`);
        break;
      case 'if':
        out.push(`${indent}if (${s.on === null ? 'true' : `${s.on} == ${s.equals}`}) {`, ...describeBlock(s.then, indent + '  '));
        if (s.else.length > 0) out.push(`${indent}} else {`, ...describeBlock(s.else, indent + '  '));
        out.push(`${indent}}`);
        break;
      case 'loop':
        out.push(`${indent}loop ${s.name} x ${s.times} {`, ...describeBlock(s.body, indent + '  '), `${indent}}`);
        break;
    }
  }
  return out;
}

/** Value of a table entry selected by a variable (the first entry when there is none). */
function lookup(table: readonly number[], on: string | null, env: ReadonlyMap<string, number>): number {
  if (on === null) return table[0];
  return table[(env.get(on) as number) % table.length];
}

async function runBlock(ctx: Ctx, block: readonly ProgramStmt[], outer: ReadonlyMap<string, number>): Promise<Map<string, number>> {
  const env = new Map(outer);
  for (const s of block) {
    switch (s.kind) {
      case 'choice': {
        const d = s.probs.length === 2 ? Bernoulli(s.probs[1]) : Categorical(s.probs as number[]);
        env.set(s.name, (await ctx.sample(s.name, d)) as number);
        break;
      }
      case 'observe':
        await ctx.observe(s.name, Bernoulli(lookup(s.table, s.on, env)), s.value);
        break;
      case 'factor':
        await ctx.factor(s.name, lookup(s.table, s.on, env));
        break;
      case 'if': {
        const taken = s.on === null || env.get(s.on) === s.equals ? s.then : s.else;
        await runBlock(ctx, taken, env);
        break;
      }
      case 'loop':
        for (let i = 0; i < s.times; i++) await ctx.scope(`${s.name}[${i}]`, () => runBlock(ctx, s.body, env));
        break;
    }
  }
  return env;
}

/** Build the model, description and size of resolved statements. */
export function buildProgram(statements: readonly ProgramStmt[]): GeneratedProgram {
  const top = statements.filter((s): s is Extract<ProgramStmt, { kind: 'choice' }> => s.kind === 'choice').map((s) => s.name);
  const description = [...describeBlock(statements, '  '), `  return [${top.join(', ')}]`].join('\n');
  const m = model(async (ctx: Ctx) => {
    const env = await runBlock(ctx, statements, new Map());
    return top.map((n) => env.get(n) as number);
  }, { name: 'generated' });
  return {
    statements,
    model: m,
    description,
    maxPaths: pathsOf(statements),
    choices: choicesOf(statements),
    [fc.toStringMethod]: () => `program {\n${description}\n}`,
  };
}

/**
 * Random small enumerable programs (see the module documentation for the
 * grammar): discrete choices, branching on earlier choices, loops,
 * observations and factors. Every program has positive probability of its
 * observations, and at most `maxPaths` execution paths.
 */
export function arbProgram(options: ArbProgramOptions = {}): fc.Arbitrary<GeneratedProgram> {
  const maxDepth = options.maxDepth ?? 2;
  const maxStatements = options.maxStatements ?? 4;
  const maxPaths = options.maxPaths ?? 512;
  return fc
    .tuple(arbChoice, fc.array(arbStmt(maxDepth, maxStatements), { maxLength: maxStatements }))
    .map(([first, rest]) => resolveBlock([first, ...rest], { vars: [], counters: { x: 0, y: 0, f: 0, L: 0 } }))
    .filter((stmts) => pathsOf(stmts) <= maxPaths)
    .map(buildProgram);
}
