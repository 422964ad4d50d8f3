/**
 * The fused whole-graph compiler: a recorded graph (`trace.ts`) becomes ONE
 * generated JavaScript function for its value and one for its value and
 * gradient, instead of one generated loop per kernel called through a
 * closure (`program.ts`, which stays as the fallback).
 *
 * How a node is compiled depends on its size:
 *
 * - **unrolled** (small nodes, at most {@link UNROLL} elements and
 *   {@link UNROLL_WORK} element operations): every element is a local
 *   variable (`const v12_3 = ...`), with shapes, strides and broadcasts
 *   resolved at compile time and small constants written in as literals.
 *   Data movement (reshapes, slices, splits, transposes, concatenation,
 *   gathers at constant indices) costs nothing: the output's elements are
 *   the input's elements. Adjoints are local variables too, declared at
 *   their first contribution, so a value no gradient reaches costs nothing
 *   in the reverse pass.
 * - **loops** (big elementwise maps and full reductions): consecutive ones
 *   over the same shape are fused into one loop, forward and reverse (each
 *   element's chain computed in registers; values kept in preallocated
 *   Float64Arrays for the reverse pass), and reductions to a scalar fold
 *   into the loop as accumulators. Small nodes that do not depend on the
 *   loop are hoisted above it, so one loop can span a whole likelihood.
 * - **rule calls**: any other kernel (softmax, cumulative sums, big matrix
 *   products, kernels added later through the `KernelRule` interface) runs
 *   the kernel rule the per-kernel program uses, on buffers, from inside the
 *   fused function; small inputs are copied into buffers for it.
 *
 * The arithmetic comes from the same tables as the per-kernel loops
 * (`elementwise.ts`'s `UNARY` / `BINARY`, the same fold conventions), so
 * both replays compute the same values. Source is generated from tyche's
 * own templates only (never from user input); a graph whose source would
 * exceed {@link MAX_SOURCE} characters is compiled again with less unrolled,
 * and left to the per-kernel program if even that is too large. A function
 * body past {@link SPLIT_ABOVE} characters is cut into several functions
 * (`split.ts`) so that V8 optimises each.
 *
 * @module
 */
import { H } from './codegen.js';
import { BINARY, type Binary, type Unary, unaryOf } from './elementwise.js';
import type { KernelRule, Slot } from './kernel.js';
import { layoutRules } from './layout-kernels.js';
import { axesOf, broadcastMap, reductionMap, sizeOfShape } from './ndarray.js';
import { splitBody } from './split.js';
import type { Graph, GraphNode, Ref } from './trace.js';

/** Nodes with at most this many elements are unrolled into local variables. */
export const UNROLL = 64;
/** ... and at most this many element operations (reductions: input elements; matrix products: multiply-adds). */
export const UNROLL_WORK = 256;
/** Inputs with at most this many values are read into local variables. */
const UNROLL_INPUT = 256;
/** Constants with at most this many values are written into the source as literals. */
const INLINE_CONST = 64;
/**
 * A generated function body longer than this many characters is split into
 * functions of at most {@link PIECE_CHARS} (`split.ts`): V8 does not optimise
 * a function past 61440 bytes of bytecode (garch11's 190 k characters were
 * 86 k bytes), and optimising one of tens of thousands of characters takes it
 * seconds. Smaller bodies (eight schools, the regressions: at most 7 k) are
 * left whole.
 */
export const SPLIT_ABOVE = 16_000;
/** Characters of statements per function of a split body (measured best on garch11: 2 k-4 k). */
export const PIECE_CHARS = 4_000;
/**
 * Generated source beyond this many characters is left to the per-kernel
 * program. Split bodies are optimised at any length, so this bounds only the
 * time and memory of compiling (posteriordb hmm_example, 3431 nodes: 865 k
 * characters in 176 functions, 26-49 µs a gradient against 600-750 µs per
 * kernel; it was 300 k before bodies were split).
 */
export const MAX_SOURCE = 1_000_000;

/** Value only: reads the input at `x[xo..]`, writes the output at `out[oo..]`; false when a guard changed. */
export type FusedValue = (x: ArrayLike<number>, xo: number, out: Float64Array, oo: number) => boolean;
/** Value and d sum(output)/d input, written at `g[go..]`; false when a guard changed. */
export type FusedValueAndGrad = (x: ArrayLike<number>, xo: number, out: Float64Array, oo: number, g: Float64Array, go: number) => boolean;

/** A graph compiled by {@link compileFused}. */
export interface FusedProgram {
  readonly value: FusedValue;
  readonly valueAndGrad: FusedValueAndGrad;
  /** Characters of generated source (both functions). */
  readonly sourceLength: number;
  /** Kernels run through their rules (not fused), by name. */
  readonly ruleCalls: readonly string[];
  /** Generated functions: 2, plus the pieces of a body past {@link SPLIT_ABOVE} split into several (`split.ts`). */
  readonly functions: number;
}

/** Options of {@link compileFused} (for measurements and tests; the defaults are what NUTS runs). */
export interface FusedOptions {
  /** Bodies longer than this many characters are split (default {@link SPLIT_ABOVE}; `Infinity`: never). */
  readonly splitAbove?: number;
  /** Characters of statements per piece of a split body (default {@link PIECE_CHARS}). */
  readonly pieceChars?: number;
  /** Generated source beyond this many characters is left to the per-kernel program (default {@link MAX_SOURCE}). */
  readonly maxSource?: number;
}

type Fold = 'sum' | 'mean' | 'max' | 'min' | 'prod' | 'all' | 'any';
const FOLDS: Record<string, Fold> = { Sum: 'sum', Mean: 'mean', Max: 'max', Min: 'min', Prod: 'prod', All: 'all', Any: 'any' };
const FOLD_INIT: Record<Fold, string> = { sum: '0', mean: '0', max: '-Infinity', min: 'Infinity', prod: '1', all: '1', any: '0' };
const LAYOUT = new Set(Object.keys(layoutRules()));
/** Input k, element j of a layout probe is coded as k * PROBE + j + 1. */
const PROBE = 2 ** 24;

/** Where an element's adjoint accumulates: a local variable, or an element of a buffer (an lvalue). */
interface Adj {
  readonly local?: string;
  readonly lv?: string;
}
/** One element of a value: a JavaScript expression, and where its adjoint goes (none for constants and booleans). */
interface Elem {
  readonly v: string;
  readonly adj?: Adj;
}

/** A JavaScript literal for a float64 (exact round trip). */
function lit(v: number): string {
  if (Object.is(v, -0)) return '(-0)';
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return 'Infinity';
  if (v === -Infinity) return '(-Infinity)';
  return v < 0 ? `(${v})` : String(v);
}

const SIMPLE = /^([\w$]+(\[[^\]]*\])?|\([^()]*\))$/;
const VARS = /(?<![\w.$])([xyab])(?![\w$])/g;

/** `expr` (a table entry in `x`, `y`, `a`, `b`) with those names replaced by expressions. */
function subst(expr: string, vars: Partial<Record<'x' | 'y' | 'a' | 'b', string>>): string {
  return expr.replace(VARS, (_m, name: 'x' | 'y' | 'a' | 'b') => {
    const s = vars[name];
    if (s === undefined) throw new Error(`fused: expression ${expr} uses ${name}`);
    return SIMPLE.test(s) ? s : `(${s})`;
  });
}

/** `g * (d)`, with the common constant derivatives simplified. */
function times(g: string, d: string): string {
  if (d === '1') return g;
  if (d === '-1') return `-${g}`;
  return `${g} * (${d})`;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

type Mode = 'unrolled' | 'loop' | 'fold' | 'alias' | 'rule';
type Item = { readonly kind: 'node'; readonly k: number } | { kind: 'group'; readonly shape: number[]; readonly members: number[] };

/**
 * Unrolling limits tried in turn (elements per unrolled node): a graph whose
 * unrolled source would pass {@link MAX_SOURCE} is compiled again with fewer
 * nodes unrolled (more of them loops, whose source does not grow with their size).
 */
const UNROLL_LIMITS = [UNROLL, 8, 1];

/** The reason a graph is not fused, or the program. */
export function compileFused(graph: Graph, rules: (kernel: string) => KernelRule | undefined, options: FusedOptions = {}): FusedProgram | { reason: string } {
  let reason = '';
  let before: readonly (Mode | undefined)[] | undefined;
  const probes = new Map<number, [number, number][] | null>();
  for (const unroll of UNROLL_LIMITS) {
    try {
      const fuser = new Fuser(graph, rules, unroll, probes, options);
      const modes = fuser.plan();
      // the same modes give the same source, too large again: try the next limit (a graph of scalars: none helps)
      if (before && modes.every((m, k) => m === before![k])) continue;
      before = modes.slice();
      return fuser.build();
    } catch (err) {
      reason = `fused compiler: ${(err as Error).message}`;
      if (!(err instanceof SourceTooLarge)) break;
    }
  }
  return { reason };
}

class SourceTooLarge extends Error {}

class Fuser {
  private readonly nodes: GraphNode[];
  private readonly live: boolean[];
  private readonly needsGrad: boolean[];
  private readonly mode: Mode[];
  /** Elements of unrolled nodes (and of folds: their accumulator). */
  private readonly elems: (Elem[] | undefined)[];
  /** Buffer names of loop / rule / alias nodes. */
  private readonly bufV: (string | undefined)[];
  private readonly bufG: (string | undefined)[];
  private readonly consumers: number[][];
  private readonly inputSize: number;
  private readonly inputUnrolled: boolean;
  private readonly params: string[] = ['H'];
  private readonly args: unknown[] = [H];
  private readonly declared = new Set<string>();
  /** Materialised copies of unrolled values for rule calls and broadcast loop reads: key -> buffer names. */
  private readonly mat = new Map<string, { v: string; g?: string }>();
  private readonly ruleKernels: string[] = [];
  private readonly kernelOf = new Map<number, string>();
  private readonly guardsOf = new Map<number, Uint8Array[]>();
  private readonly zeroAtStart: string[] = [];
  /** Buffers rule kernels read (by reference, not by name in the source). */
  private readonly pinned = new Set<string>();
  private uid = 0;

  constructor(
    private readonly graph: Graph,
    private readonly rules: (kernel: string) => KernelRule | undefined,
    /** Nodes with at most this many elements (and {@link UNROLL_WORK} operations, scaled alike) are unrolled. */
    private readonly unroll: number = UNROLL,
    /** Layout probes by node (they do not depend on `unroll`: shared between attempts). */
    private readonly probes = new Map<number, [number, number][] | null>(),
    /** When and how finely to split a long body. */
    private readonly split: FusedOptions = {},
  ) {
    this.nodes = graph.nodes;
    const n = this.nodes.length;
    this.inputSize = sizeOfShape(graph.inputShape);
    this.inputUnrolled = this.inputSize <= UNROLL_INPUT;
    this.live = new Array<boolean>(n).fill(false);
    this.needsGrad = new Array<boolean>(n).fill(false);
    this.consumers = Array.from({ length: n }, () => []);
    const out = graph.output;
    if (out.kind !== 'node') throw new Error('the output is not a node');
    this.live[out.index] = true;
    this.needsGrad[out.index] = this.nodes[out.index]!.dtype === 'float32';
    for (const g of graph.guards) {
      this.live[g.node] = true;
      const list = this.guardsOf.get(g.node) ?? [];
      list.push(g.values);
      this.guardsOf.set(g.node, list);
    }
    for (let k = n - 1; k >= 0; k--) {
      if (!this.live[k]) continue;
      for (const r of this.nodes[k]!.inputs) {
        if (r.kind !== 'node') continue;
        this.live[r.index] = true;
        this.consumers[r.index]!.push(k);
        if (this.needsGrad[k] && this.nodes[r.index]!.dtype === 'float32') this.needsGrad[r.index] = true;
      }
    }
    this.mode = new Array<Mode>(n);
    this.elems = new Array(n);
    this.bufV = new Array(n);
    this.bufG = new Array(n);
  }

  private bind(prefix: string, value: unknown): string {
    const name = `${prefix}${this.uid++}`;
    this.params.push(name);
    this.args.push(value);
    return name;
  }

  private sizeOf(r: Ref): number {
    return r.kind === 'input' ? this.inputSize : r.kind === 'const' ? this.graph.constants[r.index]!.values.length : sizeOfShape(this.nodes[r.index]!.shape);
  }

  private shapeOf(r: Ref): readonly number[] {
    return r.kind === 'input' ? this.graph.inputShape : r.kind === 'const' ? this.graph.constants[r.index]!.shape : this.nodes[r.index]!.shape;
  }

  private keyOf(r: Ref): string {
    return r.kind === 'input' ? 'in' : r.kind === 'const' ? `c${r.index}` : `n${r.index}`;
  }

  /** Whether `r`'s elements are plain expressions (unrolled, a fold's accumulator, inlined constants, the read-in input). */
  private isUnrolled(r: Ref): boolean {
    if (r.kind === 'input') return this.inputUnrolled;
    if (r.kind === 'const') return true;
    return this.mode[r.index] === 'unrolled' || this.mode[r.index] === 'fold';
  }

  private constName = new Map<number, string>();

  /** Element `j` of `r` as an expression (and its adjoint target). */
  private elemOf(r: Ref, j: number): Elem {
    if (r.kind === 'const') {
      const c = this.graph.constants[r.index]!;
      if (c.values.length <= INLINE_CONST) return { v: lit(c.values[j]!) };
      let name = this.constName.get(r.index);
      if (!name) {
        name = this.bind('C', c.values);
        this.constName.set(r.index, name);
      }
      return { v: `${name}[${j}]` };
    }
    if (r.kind === 'input') {
      if (this.inputUnrolled) return { v: `q${j}`, adj: { local: `aq${j}` } };
      return { v: `Bin[${j}]`, adj: { lv: `Gin[${j}]` } };
    }
    const k = r.index;
    const e = this.elems[k];
    if (e) return e[j]!;
    const v = this.bufV[k]!;
    const g = this.bufG[k];
    return g ? { v: `${v}[${j}]`, adj: { lv: `${g}[${j}]` } } : { v: `${v}[${j}]` };
  }

  /** Buffers holding `r`'s values (and gradient), materialising an unrolled value when needed. */
  private buffersOf(r: Ref, pre: string[]): { v: string; g?: string; mat?: { count: number; key: string } } {
    if (r.kind === 'const') {
      const c = this.graph.constants[r.index]!;
      let name = this.constName.get(r.index);
      if (!name) {
        name = this.bind('C', c.values);
        this.constName.set(r.index, name);
      }
      return { v: name };
    }
    if (r.kind === 'input' && !this.inputUnrolled) return { v: 'Bin', g: 'Gin' };
    if (r.kind === 'node' && !this.isUnrolled(r)) {
      const g = this.bufG[r.index];
      return g ? { v: this.bufV[r.index]!, g } : { v: this.bufV[r.index]! };
    }
    // an unrolled value: copy it into a buffer before use, and its buffer gradient back after
    const key = this.keyOf(r);
    const n = this.sizeOf(r);
    let m = this.mat.get(key);
    const differentiable = r.kind === 'input' || this.needsGrad[r.index]!;
    if (!m) {
      const v = this.bind('MB', new Float64Array(n));
      const g = differentiable ? this.bind('MG', new Float64Array(n)) : undefined;
      m = g ? { v, g } : { v };
      this.mat.set(key, m);
    }
    for (let j = 0; j < n; j++) pre.push(`${m.v}[${j}] = ${this.elemOf(r, j).v};`);
    return m.g ? { v: m.v, g: m.g, mat: { count: n, key } } : { v: m.v };
  }

  /** Reverse-pass code moving a materialised gradient buffer into the value's adjoints. */
  private unmaterialise(r: Ref, g: string): string[] {
    const out: string[] = [];
    for (let j = 0; j < this.sizeOf(r); j++) {
      const e = this.elemOf(r, j);
      if (e.adj) out.push(...this.contrib(e.adj, `${g}[${j}]`, undefined));
    }
    return out;
  }

  /** Statements adding `expr` to an adjoint (declaring a local adjoint at its first contribution; in a loop, before it). */
  private contrib(adj: Adj, expr: string, preLoop: string[] | undefined): string[] {
    if (adj.lv) return [`${adj.lv} += ${expr};`];
    const name = adj.local!;
    if (this.declared.has(name)) return [`${name} += ${expr};`];
    this.declared.add(name);
    if (preLoop) {
      preLoop.push(`let ${name} = 0;`);
      return [`${name} += ${expr};`];
    }
    return [`let ${name} = ${expr};`];
  }

  /** The adjoint expression of an element, or undefined when nothing reached it. */
  private adjValue(e: Elem): string | undefined {
    if (!e.adj) return undefined;
    if (e.adj.lv) return e.adj.lv;
    return this.declared.has(e.adj.local!) ? e.adj.local : undefined;
  }

  private classify(k: number): Mode {
    const node = this.nodes[k]!;
    const size = sizeOfShape(node.shape);
    const name = node.kernel;
    const small = size <= this.unroll;
    const work = (UNROLL_WORK * this.unroll) / UNROLL;
    if (unaryOf(node) || name in BINARY || name === 'Select') return small ? 'unrolled' : 'loop';
    if (name === 'AddN') return small ? 'unrolled' : 'rule';
    const fold = FOLDS[name];
    if (fold) {
      const src = node.inputs[0]!;
      const inSize = this.sizeOf(src);
      // a reduction of a fused loop's values folds into that loop
      if (size === 1 && src.kind === 'node' && this.mode[src.index] === 'loop') return 'fold';
      if (inSize <= work && small) return 'unrolled';
      return size === 1 ? 'fold' : 'rule';
    }
    if (name === 'BatchMatMul') return small && this.matmulWork(node) <= work ? 'unrolled' : 'rule';
    if (LAYOUT.has(name)) {
      const map = this.probe(k);
      if (!map) return 'rule';
      if (small) return 'unrolled';
      // a big reshape of a buffer: share its buffers
      const src = node.inputs[0]!;
      const identity = node.inputs.length === 1 && map.every(([i, j], t) => i === 0 && j === t) && map.length === this.sizeOf(src);
      return identity && !this.isUnrolled(src) ? 'alias' : 'rule';
    }
    return 'rule';
  }

  private matmulWork(node: GraphNode): number {
    const a = node.inputShapes[0]!;
    const K = node.attrs.transposeA ? a[a.length - 2]! : a[a.length - 1]!;
    return sizeOfShape(node.shape) * K;
  }

  /** Coded probe inputs by input position and size, made once: a graph may slice one big input thousands of times. */
  private probeCodes = new Map<string, Float64Array>();

  /** Input `i`'s element codes (`i * PROBE + j + 1`) for `n` elements, shared by every probe (rules only read them). */
  private codes(i: number, n: number): Float64Array {
    const key = `${i}:${n}`;
    let c = this.probeCodes.get(key);
    if (!c) {
      c = new Float64Array(n);
      for (let j = 0; j < n; j++) c[j] = i * PROBE + j + 1;
      this.probeCodes.set(key, c);
    }
    return c;
  }

  /**
   * For a data-movement kernel, which input element each output element is
   * (input index, element index): found by running the kernel's own rule on
   * inputs holding their element codes, so every layout rule is read from
   * one place. Null where the kernel does not move data that way (e.g.
   * gather indices that depend on the input).
   */
  private probe(k: number): [number, number][] | null {
    if (this.probes.has(k)) return this.probes.get(k)!;
    const node = this.nodes[k]!;
    let result: [number, number][] | null = null;
    try {
      const slots: Slot[] = node.inputs.map((r, i) => {
        const n = this.sizeOf(r);
        if (node.kernel === 'GatherV2' && i === 1) {
          if (r.kind !== 'const') throw new Error('gather indices depend on the input');
          return { value: this.graph.constants[r.index]!.values, grad: undefined, shape: this.shapeOf(r) };
        }
        if (n >= PROBE) throw new Error('too big to probe');
        return { value: this.codes(i, n), grad: undefined, shape: this.shapeOf(r) };
      });
      const out: Slot = { value: new Float64Array(sizeOfShape(node.shape)), grad: undefined, shape: node.shape };
      this.rules(node.kernel)!(slots, out, node).forward();
      const map: [number, number][] = [];
      for (const v of out.value) {
        const c = v - 1;
        const i = Math.floor(c / PROBE);
        const j = c - i * PROBE;
        if (!Number.isInteger(c) || c < 0 || i >= node.inputs.length || j >= this.sizeOf(node.inputs[i]!) || (node.kernel === 'GatherV2' && i !== 0)) throw new Error('not a data movement');
        map.push([i, j]);
      }
      result = map;
    } catch {
      result = null;
    }
    this.probes.set(k, result);
    return result;
  }

  /** Which fused loop each loop member belongs to. */
  private readonly groupOf = new Map<number, Item>();

  /** Whether a loop member's value or adjoint is used outside its loop (or is the output). */
  private hasOutside(m: number): boolean {
    const group = this.groupOf.get(m);
    return m === (this.graph.output as { index: number }).index || this.consumers[m]!.some((c) => this.groupOf.get(c) !== group);
  }

  /** The order of emission: nodes and fused loop groups (small independent nodes hoisted above an open group). */
  private schedule(): Item[] {
    const items: Item[] = [];
    let open: (Item & { kind: 'group' }) | undefined;
    const inOpen = new Set<number>();
    const close = (): void => {
      open = undefined;
      inOpen.clear();
    };
    for (let k = 0; k < this.nodes.length; k++) {
      if (!this.live[k]) continue;
      const mode = this.classify(k);
      this.mode[k] = mode;
      const node = this.nodes[k]!;
      const deps = node.inputs.filter((r) => r.kind === 'node' && inOpen.has(r.index));
      if (mode === 'loop' || mode === 'fold') {
        const shape = mode === 'loop' ? node.shape : [...this.shapeOf(node.inputs[0]!)];
        const joins = open !== undefined && sameShape(open.shape, shape) && deps.every((r) => this.mode[(r as { index: number }).index] === 'loop' && sameShape(this.shapeOf(r), shape));
        if (!joins) {
          close();
          open = { kind: 'group', shape, members: [] };
          items.push(open);
        }
        open!.members.push(k);
        this.groupOf.set(k, open!);
        inOpen.add(k);
        continue;
      }
      if (open && deps.length === 0) items.splice(items.length - 1, 0, { kind: 'node', k });
      else {
        close();
        items.push({ kind: 'node', k });
      }
    }
    return items;
  }

  private items: Item[] | undefined;

  /** Each node's mode (undefined where not live), deciding them once. */
  plan(): readonly (Mode | undefined)[] {
    this.items ??= this.schedule();
    return this.mode;
  }

  build(): FusedProgram {
    this.plan();
    const maxSource = this.split.maxSource ?? MAX_SOURCE;
    const items = this.items!;
    // storage
    for (let k = 0; k < this.nodes.length; k++) {
      if (!this.live[k]) continue;
      const size = sizeOfShape(this.nodes[k]!.shape);
      const mode = this.mode[k];
      if (mode === 'loop' || mode === 'rule') {
        this.bufV[k] = this.bind('B', new Float64Array(size));
        // a loop member's adjoint lives in a register unless something outside its loop adds to it
        if (this.needsGrad[k] && (mode === 'rule' || this.hasOutside(k))) {
          this.bufG[k] = this.bind('G', new Float64Array(size));
          this.zeroAtStart.push(this.bufG[k]!);
        }
      } else if (mode === 'fold') {
        this.elems[k] = [{ v: `v${k}_0`, ...(this.needsGrad[k] ? { adj: { local: `a${k}_0` } } : {}) }];
      }
    }
    const fwd: string[] = [];
    const bwdParts: string[][] = [];
    if (this.inputUnrolled) {
      for (let j = 0; j < this.inputSize; j++) fwd.push(`const q${j} = x[xo + ${j}];`);
    } else {
      this.params.push('Bin', 'Gin');
      this.args.push(new Float64Array(this.inputSize), new Float64Array(this.inputSize));
      this.zeroAtStart.push('Gin');
      fwd.push(`for (let j = 0; j < ${this.inputSize}; j++) Bin[j] = x[xo + j];`);
    }
    // forward, item by item (aliases and unrolled elements are set up as they come, in order)
    const itemBwd: (() => string[])[] = [];
    // the forward code is in the source twice: stop as soon as that alone is too large (not after emitting it all)
    let fwdChars = -1; // the length of fwd.join('\n') so far
    let counted = 0;
    for (const item of items) {
      if (item.kind === 'group') {
        const { f, b } = this.emitGroup(item);
        fwd.push(...f);
        itemBwd.push(b);
        for (const m of item.members) fwd.push(...this.guardCheck(m));
      } else {
        const { f, b } = this.emitNode(item.k);
        fwd.push(...f);
        itemBwd.push(b);
        fwd.push(...this.guardCheck(item.k));
      }
      for (; counted < fwd.length; counted++) fwdChars += fwd[counted]!.length + 1;
      if (2 * fwdChars > maxSource) throw new SourceTooLarge(`generated source of more than ${2 * fwdChars} characters is over ${maxSource}`);
    }
    const outRef = this.graph.output;
    const outSize = this.sizeOf(outRef);
    const writeOut: string[] = [];
    for (let j = 0; j < outSize; j++) writeOut.push(`out[oo + ${j}] = ${this.elemOf(outRef, j).v};`);
    // reverse: seed, items in reverse, gradient out
    const bwd: string[] = [];
    for (const g of new Set(this.zeroAtStart)) bwd.push(`${g}.fill(0);`);
    for (let j = 0; j < outSize; j++) {
      const e = this.elemOf(outRef, j);
      if (e.adj) bwd.push(...this.contrib(e.adj, '1', undefined));
    }
    for (let i = itemBwd.length - 1; i >= 0; i--) bwdParts.push(itemBwd[i]!());
    for (const p of bwdParts) bwd.push(...p);
    if (this.inputUnrolled) {
      for (let j = 0; j < this.inputSize; j++) bwd.push(`g[go + ${j}] = ${this.declared.has(`aq${j}`) ? `aq${j}` : '0'};`);
    } else bwd.push(`for (let j = 0; j < ${this.inputSize}; j++) g[go + j] = Gin[j];`);
    const fwdSrc = fwd.join('\n');
    const bwdSrc = bwd.join('\n');
    const outSrc = writeOut.join('\n');
    const size = 2 * fwdSrc.length + bwdSrc.length;
    if (size > maxSource) throw new SourceTooLarge(`generated source of ${size} characters is over ${maxSource}`);
    let valueBody = `${this.dropUnusedStores(fwdSrc, outSrc)}\n${outSrc}`;
    let gradBody = `${this.dropUnusedStores(fwdSrc, `${outSrc}\n${bwdSrc}`)}\n${outSrc}\n${bwdSrc}`;
    // a body past the budget becomes several functions V8 will optimise (split.ts)
    let pieces = '';
    let functions = 2;
    for (const [fn, params, regs] of [
      ['fusedValue', 'x, xo, out, oo', 'RV'],
      ['fusedValueAndGrad', 'x, xo, out, oo, g, go', 'RG'],
    ] as const) {
      const body = fn === 'fusedValue' ? valueBody : gradBody;
      if (body.length <= (this.split.splitAbove ?? SPLIT_ABOVE)) continue;
      const split = splitBody(body, fn, params, regs, this.split.pieceChars ?? PIECE_CHARS);
      if (!split) continue;
      pieces += `${split.functions}\n`;
      functions += split.pieces;
      if (fn === 'fusedValue') valueBody = split.body;
      else gradBody = split.body;
      this.params.push(regs);
      this.args.push(new Float64Array(split.slots));
    }
    const src =
      `${pieces}return [function fusedValue(x, xo, out, oo) {\n${valueBody}\nreturn true;\n},\n` +
      `function fusedValueAndGrad(x, xo, out, oo, g, go) {\n${gradBody}\nreturn true;\n}];`;
    if (src.length > maxSource) throw new SourceTooLarge(`generated source of ${src.length} characters is over ${maxSource}`);
    const make = new Function(...this.params, src) as (...a: unknown[]) => [FusedValue, FusedValueAndGrad];
    const [value, valueAndGrad] = make(...this.args);
    return { value, valueAndGrad, sourceLength: src.length, ruleCalls: this.ruleKernels, functions };
  }

  /** Forward code without the stores of loop values that nothing reads back (`later` is the code after it); one pass each. */
  private dropUnusedStores(fwd: string, later: string): string {
    const uses = new Map<string, number>();
    for (const text of [fwd, later]) for (const m of text.matchAll(/(?<![\w$])(B\d+)\[/g)) uses.set(m[1]!, (uses.get(m[1]!) ?? 0) + 1);
    // a store is the only use of its buffer: nothing reads the value back (rule kernels read pinned buffers by reference)
    return fwd.replace(/ (B\d+)\[i\] = u\d+;/g, (store, b: string) => (uses.get(b) === 1 && !this.pinned.has(b) ? '' : store));
  }

  private guardCheck(k: number): string[] {
    const list = this.guardsOf.get(k);
    if (!list) return [];
    const out: string[] = [];
    for (const values of list) {
      if (this.isUnrolled({ kind: 'node', index: k })) {
        for (let j = 0; j < values.length; j++) out.push(`if (${this.elemOf({ kind: 'node', index: k }, j).v} ${values[j] ? '===' : '!=='} 0) return false;`);
      } else {
        const want = this.bind('W', values);
        out.push(`for (let j = 0; j < ${values.length}; j++) if ((${this.bufV[k]}[j] !== 0 ? 1 : 0) !== ${want}[j]) return false;`);
      }
    }
    return out;
  }

  /** One node outside a loop: forward statements now, reverse statements later (in reverse order, when the adjoints are known). */
  private emitNode(k: number): { f: string[]; b: () => string[] } {
    const mode = this.mode[k]!;
    if (mode === 'alias') {
      const src = this.nodes[k]!.inputs[0]!;
      const bufs = src.kind === 'input' ? { v: 'Bin', g: 'Gin' } : { v: this.bufV[src.index]!, g: this.bufG[src.index] };
      this.bufV[k] = bufs.v;
      this.bufG[k] = this.needsGrad[k] ? bufs.g : undefined;
      return { f: [], b: () => [] };
    }
    if (mode === 'rule') return this.emitRule(k);
    return this.emitUnrolled(k);
  }

  private emitRule(k: number): { f: string[]; b: () => string[] } {
    const node = this.nodes[k]!;
    const f: string[] = [];
    const mats = new Map<string, { r: Ref; g: string }>();
    const slots: Slot[] = node.inputs.map((r) => {
      const b = this.buffersOf(r, f);
      if (b.mat && b.g) mats.set(b.mat.key, { r, g: b.g });
      const grad = b.g ? (this.args[this.params.indexOf(b.g)] as Float64Array) : undefined;
      return { value: this.args[this.params.indexOf(b.v)] as Float64Array, grad, shape: this.shapeOf(r), ...(r.kind === 'const' ? { constant: true } : {}) };
    });
    for (const r of node.inputs) if (r.kind === 'node' && !this.isUnrolled(r)) this.pinned.add(this.bufV[r.index]!);
    const outV = this.args[this.params.indexOf(this.bufV[k]!)] as Float64Array;
    const outG = this.bufG[k] ? (this.args[this.params.indexOf(this.bufG[k]!)] as Float64Array) : undefined;
    const kernel = this.rules(node.kernel)!(slots, { value: outV, grad: outG, shape: node.shape }, node);
    const K = this.bind('K', kernel);
    this.ruleKernels.push(node.kernel);
    this.kernelOf.set(k, K);
    f.push(`${K}.forward();`);
    return {
      f,
      b: () => {
        if (!this.needsGrad[k] || !kernel.backward) return [];
        const out: string[] = [];
        for (const m of mats.values()) out.push(`${m.g}.fill(0);`);
        out.push(`${K}.backward();`);
        for (const m of mats.values()) out.push(...this.unmaterialise(m.r, m.g));
        return out;
      },
    };
  }

  private emitUnrolled(k: number): { f: string[]; b: () => string[] } {
    const node = this.nodes[k]!;
    const name = node.kernel;
    const n = sizeOfShape(node.shape);
    const grad = this.needsGrad[k]!;
    const f: string[] = [];
    if (LAYOUT.has(name)) {
      const map = this.probe(k)!;
      this.elems[k] = map.map(([i, j]) => {
        const e = this.elemOf(node.inputs[i]!, j);
        return grad ? e : { v: e.v };
      });
      return { f, b: () => [] };
    }
    const own: Elem[] = [];
    for (let i = 0; i < n; i++) own.push(grad ? { v: `v${k}_${i}`, adj: { local: `a${k}_${i}` } } : { v: `v${k}_${i}` });
    this.elems[k] = own;
    // per output element: the value expression, and its reverse contributions given the adjoint expression g
    const rev: ((g: string) => string[])[] = [];
    const ins = node.inputs;
    const maps = ins.map((r) => (FOLDS[name] || name === 'BatchMatMul' ? null : broadcastMap(this.shapeOf(r), node.shape)));
    const at = (t: number, i: number): Elem => this.elemOf(ins[t]!, maps[t] ? maps[t]![i]! : i);
    const c = (e: Elem, expr: string): string[] => (e.adj ? this.contrib(e.adj, expr, undefined) : []);
    const unary = unaryOf(node);
    if (unary) {
      const op: Unary = unary;
      for (let i = 0; i < n; i++) {
        const x = at(0, i);
        f.push(`const v${k}_${i} = ${subst(op.f, { x: x.v })};`);
        if (op.df) rev[i] = (g) => c(x, times(g, subst(op.df!, { x: x.v, y: `v${k}_${i}` })));
      }
    } else if (name in BINARY) {
      const op: Binary = BINARY[name]!;
      for (let i = 0; i < n; i++) {
        const a = at(0, i);
        const b = at(1, i);
        f.push(`const v${k}_${i} = ${subst(op.f, { a: a.v, b: b.v })};`);
        const vars = { a: a.v, b: b.v, y: `v${k}_${i}` };
        rev[i] = (g) => [...(op.da ? c(a, times(g, subst(op.da, vars))) : []), ...(op.db ? c(b, times(g, subst(op.db, vars))) : [])];
      }
    } else if (name === 'Select') {
      for (let i = 0; i < n; i++) {
        const [cond, t, e] = [at(0, i), at(1, i), at(2, i)];
        f.push(`const v${k}_${i} = ${cond.v} !== 0 ? ${t.v} : ${e.v};`);
        rev[i] = (g) => [...c(t, `(${cond.v} !== 0 ? ${g} : 0)`), ...c(e, `(${cond.v} !== 0 ? 0 : ${g})`)];
      }
    } else if (name === 'AddN') {
      for (let i = 0; i < n; i++) {
        const terms = ins.map((_, t) => at(t, i));
        f.push(`const v${k}_${i} = ${terms.map((e) => e.v).join(' + ')};`);
        rev[i] = (g) => terms.flatMap((e) => c(e, g));
      }
    } else if (FOLDS[name]) {
      const fold = FOLDS[name]!;
      const inShape = this.shapeOf(ins[0]!);
      const rmap = reductionMap(inShape, axesOf(node.attrs.axis ?? node.attrs.reductionIndices, inShape.length));
      const parts: Elem[][] = Array.from({ length: n }, () => []);
      for (let i = 0; i < rmap.length; i++) parts[rmap[i]!]!.push(this.elemOf(ins[0]!, i));
      const count = rmap.length / Math.max(1, n);
      for (let j = 0; j < n; j++) {
        const xs = parts[j]!;
        const y = `v${k}_${j}`;
        f.push(`const ${y} = ${foldExpr(fold, xs.map((e) => e.v), count)};`);
        rev[j] = (g) => xs.flatMap((e) => (fold === 'all' || fold === 'any' ? [] : c(e, foldGrad(fold, e.v, y, g, count))));
      }
    } else if (name === 'BatchMatMul') {
      const mm = matmulIndex(node, this.shapeOf(ins[0]!), this.shapeOf(ins[1]!));
      const outTerms: Elem[][][] = [];
      for (let o = 0; o < n; o++) {
        const terms = mm.terms(o).map(([ia, ib]) => [this.elemOf(ins[0]!, ia), this.elemOf(ins[1]!, ib)]);
        outTerms.push(terms);
        f.push(`const v${k}_${o} = ${terms.length ? terms.map(([a, b]) => `${a!.v} * ${b!.v}`).join(' + ') : '0'};`);
        rev[o] = (g) => terms.flatMap(([a, b]) => [...c(a!, `${g} * ${b!.v}`), ...c(b!, `${g} * ${a!.v}`)]);
      }
    } else throw new Error(`no unrolled form for ${name}`);
    return {
      f,
      b: () => {
        if (!grad) return [];
        const out: string[] = [];
        for (let i = 0; i < n; i++) {
          const g = this.adjValue(own[i]!);
          if (g !== undefined && rev[i]) out.push(...rev[i]!(g));
        }
        return out;
      },
    };
  }

  /** A fused loop over `shape`: elementwise members and reductions of members to scalars. */
  private emitGroup(item: Item & { kind: 'group' }): { f: string[]; b: () => string[] } {
    const n = sizeOfShape(item.shape);
    const members = new Set(item.members);
    const pre: string[] = [];
    const post: string[] = [];
    const body: string[] = [];
    /** Read of input r of a member at loop index i, as value and adjoint targets (`inLoop` local or outside). */
    type Read = { v: string; adj?: { loopLocal?: string; adj?: Adj; idx?: string } };
    const mats = new Map<string, { r: Ref; g: string }>();
    const read = (r: Ref, outShape: readonly number[]): Read => {
      if (r.kind === 'node' && members.has(r.index)) return { v: `u${r.index}`, ...(this.needsGrad[r.index] ? { adj: { loopLocal: `g${r.index}` } } : {}) };
      const size = this.sizeOf(r);
      if (size === 1 && this.isUnrolled(r)) {
        const e = this.elemOf(r, 0);
        return e.adj ? { v: e.v, adj: { adj: e.adj } } : { v: e.v };
      }
      const map = broadcastMap(this.shapeOf(r), outShape);
      const idx = map ? `${this.bind('M', map)}[i]` : 'i';
      const b = this.buffersOf(r, pre);
      if (b.mat && b.g) mats.set(b.mat.key, { r, g: b.g });
      return b.g ? { v: `${b.v}[${idx}]`, adj: { adj: { lv: `${b.g}[${idx}]` } } } : { v: `${b.v}[${idx}]` };
    };
    const memberReads = new Map<number, Read[]>();
    for (const m of item.members) {
      const node = this.nodes[m]!;
      const mode = this.mode[m];
      if (mode === 'fold') {
        const fold = FOLDS[node.kernel]!;
        const x = read(node.inputs[0]!, item.shape);
        memberReads.set(m, [x]);
        pre.push(`let v${m}_0 = ${FOLD_INIT[fold]};`);
        body.push(foldStep(fold, x.v, `v${m}_0`));
        if (fold === 'mean') post.push(`v${m}_0 /= ${n};`);
        continue;
      }
      const reads = node.inputs.map((r) => read(r, node.shape));
      memberReads.set(m, reads);
      let expr: string;
      if (node.kernel === 'Select') expr = `${reads[0]!.v} !== 0 ? ${reads[1]!.v} : ${reads[2]!.v}`;
      else if (node.kernel in BINARY) expr = subst(BINARY[node.kernel]!.f, { a: reads[0]!.v, b: reads[1]!.v });
      else expr = subst(unaryOf(node)!.f, { x: reads[0]!.v });
      body.push(`const u${m} = ${expr}; ${this.bufV[m]}[i] = u${m};`);
    }
    const f = [...pre, `for (let i = 0; i < ${n}; i++) {`, ...body, '}', ...post];
    return {
      f,
      b: () => {
        const preB: string[] = [];
        const bodyB: string[] = [];
        const add = (t: Read['adj'], expr: string): void => {
          if (!t) return;
          if (t.loopLocal) bodyB.push(`${t.loopLocal} += ${expr};`);
          else bodyB.push(...this.contrib(t.adj!, expr, preB));
        };
        for (const m of [...item.members].reverse()) {
          if (!this.needsGrad[m]) continue;
          const node = this.nodes[m]!;
          const reads = memberReads.get(m)!;
          if (this.mode[m] === 'fold') {
            const fold = FOLDS[node.kernel]!;
            const g = this.adjValue(this.elems[m]![0]!);
            if (g === undefined || fold === 'all' || fold === 'any') continue;
            add(reads[0]!.adj, foldGrad(fold, reads[0]!.v, `v${m}_0`, g, n));
            continue;
          }
          bodyB.push(`let g${m} = ${this.bufG[m] ? `${this.bufG[m]}[i]` : '0'};`);
          // (declared before its consumers' contributions: hoist the declaration to the iteration start)
          const g = `g${m}`;
          const vars = { y: `u${m}` };
          if (node.kernel === 'Select') {
            add(reads[1]!.adj, `(${reads[0]!.v} !== 0 ? ${g} : 0)`);
            add(reads[2]!.adj, `(${reads[0]!.v} !== 0 ? 0 : ${g})`);
          } else if (node.kernel in BINARY) {
            const op = BINARY[node.kernel]!;
            const v = { ...vars, a: reads[0]!.v, b: reads[1]!.v };
            if (op.da) add(reads[0]!.adj, times(g, subst(op.da, v)));
            if (op.db) add(reads[1]!.adj, times(g, subst(op.db, v)));
          } else {
            const op = unaryOf(node)!;
            if (op.df) add(reads[0]!.adj, times(g, subst(op.df, { ...vars, x: reads[0]!.v })));
          }
        }
        // the adjoint locals of members are declared at the iteration start, before any contribution
        const decls = bodyB.filter((s) => /^let g\d+ = /.test(s));
        const rest = bodyB.filter((s) => !/^let g\d+ = /.test(s));
        const code = [...decls, ...rest].join(' ');
        const loads = [...new Set(code.match(/\bu\d+\b/g) ?? [])].map((u) => `const ${u} = ${this.bufV[Number(u.slice(1))]}[i];`);
        const out: string[] = [];
        for (const m of mats.values()) out.push(`${m.g}.fill(0);`);
        out.push(...preB);
        if (code) out.push(`for (let i = 0; i < ${n}; i++) {`, ...loads, code, '}');
        for (const m of mats.values()) out.push(...this.unmaterialise(m.r, m.g));
        return out;
      },
    };
  }
}

/** A reduction of the expressions `xs` in order, as the per-kernel fold computes it. */
function foldExpr(fold: Fold, xs: string[], count: number): string {
  if (xs.length === 0) return FOLD_INIT[fold];
  switch (fold) {
    case 'sum':
      return xs.join(' + ');
    case 'mean':
      return `(${xs.join(' + ')}) / ${count}`;
    case 'prod':
      return xs.join(' * ');
    case 'max':
      return `Math.max(${xs.join(', ')})`;
    case 'min':
      return `Math.min(${xs.join(', ')})`;
    case 'all':
      return `(${xs.map((x) => `${x} !== 0`).join(' && ')} ? 1 : 0)`;
    case 'any':
      return `(${xs.map((x) => `${x} !== 0`).join(' || ')} ? 1 : 0)`;
  }
}

/** One loop step of a fold into accumulator `acc`. */
function foldStep(fold: Fold, x: string, acc: string): string {
  switch (fold) {
    case 'sum':
    case 'mean':
      return `${acc} += ${x};`;
    case 'prod':
      return `${acc} *= ${x};`;
    case 'max':
      return `{ const t = ${x}; if (t > ${acc} || t !== t) ${acc} = t; }`;
    case 'min':
      return `{ const t = ${x}; if (t < ${acc} || t !== t) ${acc} = t; }`;
    case 'all':
      return `if (${x} === 0) ${acc} = 0;`;
    case 'any':
      return `if (${x} !== 0) ${acc} = 1;`;
  }
}

/** The adjoint contribution of a fold's output `y` (adjoint `g`) to its input element `x` (ties of max / min all get it, as tfjs does). */
function foldGrad(fold: Fold, x: string, y: string, g: string, count: number): string {
  switch (fold) {
    case 'sum':
      return g;
    case 'mean':
      return `${g} / ${count}`;
    case 'max':
    case 'min':
      return `(${x} === ${y} ? ${g} : 0)`;
    case 'prod':
      return `(${x} !== 0 ? (${g} * ${y}) / ${x} : 0)`;
    default:
      throw new Error(`no gradient for ${fold}`);
  }
}

/** For each output element of a batched matrix product, the (a, b) element pairs it sums, in the per-kernel loop's order. */
function matmulIndex(node: GraphNode, as: readonly number[], bs: readonly number[]): { terms: (o: number) => [number, number][] } {
  const tA = Boolean(node.attrs.transposeA);
  const tB = Boolean(node.attrs.transposeB);
  const M = node.shape[node.shape.length - 2]!;
  const N = node.shape[node.shape.length - 1]!;
  const K = tA ? as[as.length - 2]! : as[as.length - 1]!;
  const batchOut = node.shape.slice(0, -2);
  const ma = broadcastMap(as.slice(0, -2), batchOut);
  const mb = broadcastMap(bs.slice(0, -2), batchOut);
  const aRow = tA ? 1 : K;
  const aCol = tA ? M : 1;
  const bRow = tB ? 1 : N;
  const bCol = tB ? K : 1;
  return {
    terms(o) {
      const t = Math.floor(o / (M * N));
      const i = Math.floor((o % (M * N)) / N);
      const j = o % N;
      const oa = (ma ? ma[t]! : t) * M * K;
      const ob = (mb ? mb[t]! : t) * K * N;
      const out: [number, number][] = [];
      for (let q = 0; q < K; q++) out.push([oa + i * aRow + q * aCol, ob + q * bRow + j * bCol]);
      return out;
    },
  };
}
