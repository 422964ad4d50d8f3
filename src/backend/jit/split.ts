/**
 * Splitting a generated function body into several functions, each small
 * enough for V8 to optimise.
 *
 * V8 never optimises a function whose bytecode is longer than
 * `--max-optimized-bytecode-size` (61440 bytes in node 20): such a function
 * runs in the interpreter and the baseline compiler for ever. A fused
 * gradient (`fused.ts`) of a long scalar recursion (posteriordb garch11: a
 * 200-step loop in the model, 1656 recorded scalars) is one function of
 * ~190 k characters, ~7x slower than the same code optimised.
 *
 * {@link splitBody} cuts a body made of top-level statements (one per line,
 * loops spanning lines with balanced braces) into consecutive pieces of at
 * most `budget` characters. Each piece becomes a function of the same
 * arguments; the body calls them in order. A local variable of the
 * generated code (`q3`, `aq3`, `v12_0`, `a12_0`: the names `fused.ts`
 * declares at top level) that is used in a later piece than the one that
 * last wrote it is stored at the end of that piece into a shared
 * Float64Array (`R`, one slot per name) and loaded at the start of each
 * piece that uses it. Every such local holds a number (booleans are coded
 * 0 / 1), so a round trip through a Float64Array is exact: the split code
 * computes bit for bit what the unsplit code does. A guard's `return false`
 * inside a piece returns false from it, and the body returns false in turn.
 *
 * @module
 */

/** Names of the generated code's top-level locals (inputs, their adjoints, node elements, their adjoints). */
const LOCAL = /(?<![\w$.])(aq\d+|q\d+|v\d+_\d+|a\d+_\d+)(?![\w$])/g;
/** A top-level declaration of such a local. */
const DECL = /^(?:const|let) (aq\d+|q\d+|v\d+_\d+|a\d+_\d+) = /;
/** Any top-level declaration (of a name that is not such a local, the body is refused). */
const ANY_DECL = /^(?:const|let|var) /;
/** Assignments to such a local (`=`, `+=`, ..., never `==`, `<=`, `>=`, `!=`). */
const WRITE = /(?<![\w$.])(aq\d+|q\d+|v\d+_\d+|a\d+_\d+)\s*[-+*/]?=(?!=)/g;

/** One top-level statement (a line, or a loop's lines). */
interface Unit {
  readonly text: string;
  readonly declared: readonly string[];
}

/** The body cut into functions: `functions` (declarations to place beside the caller) and the caller's new `body`. */
export interface SplitBody {
  /** Function declarations of the pieces. */
  readonly functions: string;
  /** The body calling them in order (without a final return). */
  readonly body: string;
  /** Slots of the shared Float64Array named by `registers` (0: nothing crosses a cut; no array needed). */
  readonly slots: number;
  /** How many pieces. */
  readonly pieces: number;
}

/** The body's top-level statements, or undefined where its shape is not the one `fused.ts` generates. */
function unitsOf(body: string): Unit[] | undefined {
  const units: Unit[] = [];
  let depth = 0;
  let lines: string[] = [];
  let declared: string[] = [];
  for (const line of body.split('\n')) {
    if (line === '') continue;
    const top = depth === 0;
    const d = DECL.exec(line);
    if (d) {
      // a local declared inside a loop would not be visible to a later piece
      if (!top) return undefined;
      declared.push(d[1]!);
    } else if (top && ANY_DECL.test(line)) return undefined; // a top-level local of another name: it could not cross a cut
    for (const ch of line) {
      if (ch === '{') depth++;
      else if (ch === '}') depth--;
    }
    if (depth < 0) return undefined;
    lines.push(line);
    if (depth === 0) {
      units.push({ text: lines.join('\n'), declared });
      lines = [];
      declared = [];
    }
  }
  return depth === 0 ? units : undefined;
}

/**
 * Cut `body` (the statements of a generated function, without its final
 * `return true;`) into functions named `<name>_<i>` taking `params`, each
 * of at most `budget` characters of statements (a single statement longer
 * than that gets a piece of its own). Locals that cross a cut travel
 * through `registers[slot]`. Undefined where the body is within the budget
 * (nothing to do) or not of the generated shape.
 */
export function splitBody(body: string, name: string, params: string, registers: string, budget: number): SplitBody | undefined {
  if (body.length <= budget) return undefined;
  const units = unitsOf(body);
  if (!units) return undefined;
  // consecutive units, greedily, up to the budget
  const pieces: Unit[][] = [];
  let cur: Unit[] = [];
  let size = 0;
  for (const u of units) {
    if (cur.length > 0 && size + u.text.length + 1 > budget) {
      pieces.push(cur);
      cur = [];
      size = 0;
    }
    cur.push(u);
    size += u.text.length + 1;
  }
  if (cur.length > 0) pieces.push(cur);
  if (pieces.length < 2) return undefined;
  const texts = pieces.map((p) => p.map((u) => u.text).join('\n'));
  const used = texts.map((t) => new Set(Array.from(t.matchAll(LOCAL), (m) => m[1]!)));
  const declaredIn = pieces.map((p) => new Set(p.flatMap((u) => u.declared)));
  const written = texts.map((t, i) => {
    const w = new Set(Array.from(t.matchAll(WRITE), (m) => m[1]!));
    for (const n of declaredIn[i]!) w.add(n);
    return w;
  });
  // for each name, the last piece that uses it
  const lastUse = new Map<string, number>();
  used.forEach((s, i) => s.forEach((n) => lastUse.set(n, i)));
  const slot = new Map<string, number>();
  const slotOf = (n: string): number => {
    let s = slot.get(n);
    if (s === undefined) slot.set(n, (s = slot.size));
    return s;
  };
  const functions: string[] = [];
  const calls: string[] = [];
  texts.forEach((text, i) => {
    const loads: string[] = [];
    for (const n of used[i]!) {
      if (declaredIn[i]!.has(n)) continue;
      // used here, declared in an earlier piece (a use before any declaration would be a generator bug: let it throw)
      loads.push(`${written[i]!.has(n) ? 'let' : 'const'} ${n} = ${registers}[${slotOf(n)}];`);
    }
    const stores: string[] = [];
    for (const n of written[i]!) if (lastUse.get(n)! > i) stores.push(`${registers}[${slotOf(n)}] = ${n};`);
    const f = `${name}_${i}`;
    functions.push(`function ${f}(${params}) {\n${loads.join('\n')}\n${text}\n${stores.join('\n')}\nreturn true;\n}`);
    calls.push(`if (!${f}(${params})) return false;`);
  });
  return { functions: functions.join('\n'), body: calls.join('\n'), slots: slot.size, pieces: pieces.length };
}
