/**
 * Elementwise kernels: unary maps, broadcasting binary maps, comparisons and
 * logical ops, with their derivatives (matching tfjs's gradient conventions
 * at kinks: e.g. Abs' derivative is 0 at 0, Maximum's goes to `a` on ties).
 *
 * @module
 */
import type { CompiledKernel, KernelRule } from './kernel.js';
import { compileLoop } from './codegen.js';
import { broadcastMap } from './ndarray.js';

/**
 * A unary map as JavaScript expressions in `x` (input) and `y` (output):
 * value and derivative. Each kernel's loops are generated from these (see
 * `codegen.ts`), so every loop is monomorphic and V8 inlines the arithmetic:
 * one shared loop calling a different function per op runs several times
 * slower.
 */
export interface Unary {
  readonly f: string;
  /** d y / d x; absent for piecewise-constant or boolean maps. */
  readonly df?: string;
}

/** Unary kernels by tfjs kernel name. */
export const UNARY: Record<string, Unary> = {
  Neg: { f: '-x', df: '-1' },
  Exp: { f: 'Math.exp(x)', df: 'y' },
  Log: { f: 'Math.log(x)', df: '1 / x' },
  Log1p: { f: 'Math.log1p(x)', df: '1 / (1 + x)' },
  Expm1: { f: 'Math.expm1(x)', df: 'Math.exp(x)' },
  Sqrt: { f: 'Math.sqrt(x)', df: '0.5 / y' },
  Rsqrt: { f: '1 / Math.sqrt(x)', df: '-0.5 * y / x' },
  Square: { f: 'x * x', df: '2 * x' },
  Reciprocal: { f: '1 / x', df: '-y * y' },
  Abs: { f: 'Math.abs(x)', df: '(x > 0 ? 1 : x < 0 ? -1 : 0)' },
  Tanh: { f: 'Math.tanh(x)', df: '1 - y * y' },
  Sigmoid: { f: 'H.sigmoid(x)', df: 'y * (1 - y)' },
  Softplus: { f: 'H.softplus(x)', df: 'H.sigmoid(x)' },
  Sin: { f: 'Math.sin(x)', df: 'Math.cos(x)' },
  Cos: { f: 'Math.cos(x)', df: '-Math.sin(x)' },
  Atan: { f: 'Math.atan(x)', df: '1 / (1 + x * x)' },
  Asinh: { f: 'Math.asinh(x)', df: '1 / Math.sqrt(x * x + 1)' },
  Erf: { f: 'H.erf(x)', df: '1.1283791670955126 * Math.exp(-x * x)' },
  Relu: { f: '(x > 0 ? x : 0)', df: '(x > 0 ? 1 : 0)' },
  Identity: { f: 'x', df: '1' },
  Floor: { f: 'Math.floor(x)' },
  Ceil: { f: 'Math.ceil(x)' },
  Round: { f: 'H.round(x)' },
  Sign: { f: '(x > 0 ? 1 : x < 0 ? -1 : 0)' },
  IsNan: { f: '(x !== x ? 1 : 0)' },
  IsFinite: { f: '(Number.isFinite(x) ? 1 : 0)' },
  IsInf: { f: '(x === Infinity || x === -Infinity ? 1 : 0)' },
  LogicalNot: { f: '(x === 0 ? 1 : 0)' },
  ZerosLike: { f: '0' },
  OnesLike: { f: '1' },
};

/** A binary map as expressions in `a`, `b` (inputs) and `y` (output), with partial derivatives. */
export interface Binary {
  readonly f: string;
  readonly da?: string;
  readonly db?: string;
}

/** Binary kernels by tfjs kernel name (inputs broadcast numpy-style). */
export const BINARY: Record<string, Binary> = {
  Add: { f: 'a + b', da: '1', db: '1' },
  Sub: { f: 'a - b', da: '1', db: '-1' },
  Multiply: { f: 'a * b', da: 'b', db: 'a' },
  RealDiv: { f: 'a / b', da: '1 / b', db: '-a / (b * b)' },
  Pow: { f: 'Math.pow(a, b)', da: 'b * Math.pow(a, b - 1)', db: '(a > 0 ? y * Math.log(a) : 0)' },
  SquaredDifference: { f: '(a - b) * (a - b)', da: '2 * (a - b)', db: '-2 * (a - b)' },
  Maximum: { f: 'Math.max(a, b)', da: '(a >= b ? 1 : 0)', db: '(a < b ? 1 : 0)' },
  Minimum: { f: 'Math.min(a, b)', da: '(a <= b ? 1 : 0)', db: '(a > b ? 1 : 0)' },
  Atan2: { f: 'Math.atan2(a, b)', da: 'b / (a * a + b * b)', db: '-a / (a * a + b * b)' },
  FloorDiv: { f: 'Math.floor(a / b)' },
  Mod: { f: '((a % b) + b) % b', da: '1', db: '-Math.floor(a / b)' },
  Greater: { f: '(a > b ? 1 : 0)' },
  GreaterEqual: { f: '(a >= b ? 1 : 0)' },
  Less: { f: '(a < b ? 1 : 0)' },
  LessEqual: { f: '(a <= b ? 1 : 0)' },
  Equal: { f: '(a === b ? 1 : 0)' },
  NotEqual: { f: '(a !== b ? 1 : 0)' },
  LogicalAnd: { f: '(a !== 0 && b !== 0 ? 1 : 0)' },
  LogicalOr: { f: '(a !== 0 || b !== 0 ? 1 : 0)' },
};

function unaryRule(op: Unary): KernelRule {
  return ([x], out) => {
    const xv = x!.value;
    const y = out.value;
    const n = y.length;
    const k: CompiledKernel = { forward: compileLoop(['xv', 'yv'], `for (let i = 0; i < ${n}; i++) { const x = xv[i]; yv[i] = ${op.f}; }`, [xv, y], n) };
    const gx = x!.grad;
    const gy = out.grad;
    if (op.df && gx && gy) {
      k.backward = compileLoop(['xv', 'yv', 'gx', 'gy'], `for (let i = 0; i < ${n}; i++) { const x = xv[i], y = yv[i]; gx[i] += gy[i] * (${op.df}); }`, [xv, y, gx, gy], n);
    }
    return k;
  };
}

function binaryRule(op: Binary): KernelRule {
  return ([a, b], out) => {
    const av = a!.value;
    const bv = b!.value;
    const y = out.value;
    const n = y.length;
    const ma = broadcastMap(a!.shape, out.shape);
    const mb = broadcastMap(b!.shape, out.shape);
    const ia = ma ? 'ma[i]' : 'i';
    const ib = mb ? 'mb[i]' : 'i';
    const k: CompiledKernel = {
      forward: compileLoop(['av', 'bv', 'yv', 'ma', 'mb'], `for (let i = 0; i < ${n}; i++) { const a = av[${ia}], b = bv[${ib}]; yv[i] = ${op.f}; }`, [av, bv, y, ma, mb], n),
    };
    const gy = out.grad;
    const ga = op.da ? a!.grad : undefined;
    const gb = op.db ? b!.grad : undefined;
    if (gy && (ga || gb)) {
      const body = [
        `for (let i = 0; i < ${n}; i++) { const g = gy[i]; if (g === 0) continue; const ja = ${ia}, jb = ${ib}; const a = av[ja], b = bv[jb], y = yv[i];`,
        ga ? ` ga[ja] += g * (${op.da});` : '',
        gb ? ` gb[jb] += g * (${op.db});` : '',
        ' }',
      ].join('');
      k.backward = compileLoop(['av', 'bv', 'yv', 'ma', 'mb', 'ga', 'gb', 'gy'], body, [av, bv, y, ma, mb, ga, gb, gy], n);
    }
    return k;
  };
}

/** `Select(condition, t, e)`: elementwise choice, gradients to the chosen side. */
const select: KernelRule = ([c, t, e], out) => {
  const y = out.value;
  const n = y.length;
  const mc = broadcastMap(c!.shape, out.shape);
  const mt = broadcastMap(t!.shape, out.shape);
  const me = broadcastMap(e!.shape, out.shape);
  const cv = c!.value;
  const tv = t!.value;
  const ev = e!.value;
  const k: CompiledKernel = {
    forward() {
      for (let i = 0; i < n; i++) y[i] = cv[mc ? mc[i]! : i] !== 0 ? tv[mt ? mt[i]! : i]! : ev[me ? me[i]! : i]!;
    },
  };
  const gy = out.grad;
  const gt = t!.grad;
  const ge = e!.grad;
  if (gy && (gt || ge)) {
    k.backward = () => {
      for (let i = 0; i < n; i++) {
        if (cv[mc ? mc[i]! : i] !== 0) {
          if (gt) gt[mt ? mt[i]! : i]! += gy[i]!;
        } else if (ge) ge[me ? me[i]! : i]! += gy[i]!;
      }
    };
  }
  return k;
};

/** `Cast` to `dtype` as a unary map: to bool (nonzero), int32 (truncation) or float (identity); gradient passes through float casts. */
export function castUnary(dtype: string): Unary {
  const f = dtype === 'bool' ? '(x !== 0 ? 1 : 0)' : dtype === 'int32' ? 'Math.trunc(x)' : 'x';
  return dtype === 'float32' ? { f, df: '1' } : { f };
}

/** `ClipByValue` to [lo, hi] as a unary map; gradient 1 inside the closed interval, as tfjs's. */
function clipUnary(lo: number, hi: number): Unary {
  const l = `(${String(lo)})`;
  const h = `(${String(hi)})`;
  return { f: `(x < ${l} ? ${l} : x > ${h} ? ${h} : x)`, df: `(x >= ${l} && x <= ${h} ? 1 : 0)` };
}

/** Unary kernels whose map depends on the node's attributes, by kernel name. */
const ATTRIBUTED: Record<string, (attrs: Readonly<Record<string, unknown>>) => Unary> = {
  Cast: (attrs) => castUnary(attrs.dtype as string),
  ClipByValue: (attrs) => clipUnary(attrs.clipValueMin as number, attrs.clipValueMax as number),
};

/** The unary map of a node (from {@link UNARY}, or from its attributes for `Cast`/`ClipByValue`); undefined for other kernels. */
export function unaryOf(node: { readonly kernel: string; readonly attrs: Readonly<Record<string, unknown>> }): Unary | undefined {
  return UNARY[node.kernel] ?? ATTRIBUTED[node.kernel]?.(node.attrs);
}

/** `AddN`: sum of equally shaped inputs. */
const addN: KernelRule = (inputs, out) => {
  const y = out.value;
  const n = y.length;
  return {
    forward() {
      y.fill(0);
      for (const s of inputs) for (let i = 0; i < n; i++) y[i]! += s.value[i]!;
    },
    backward() {
      const gy = out.grad;
      if (!gy) return;
      for (const s of inputs) if (s.grad) for (let i = 0; i < n; i++) s.grad[i]! += gy[i]!;
    },
  };
};

/** Every elementwise rule by kernel name. */
export function elementwiseRules(): Record<string, KernelRule> {
  const rules: Record<string, KernelRule> = { Select: select, AddN: addN };
  for (const name of Object.keys(ATTRIBUTED)) rules[name] = ([x], out, node) => unaryRule(unaryOf(node)!)([x!], out, node);
  for (const [name, op] of Object.entries(UNARY)) rules[name] = unaryRule(op);
  for (const [name, op] of Object.entries(BINARY)) rules[name] = binaryRule(op);
  return rules;
}
