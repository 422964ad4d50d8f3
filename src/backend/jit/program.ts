/**
 * A recorded graph compiled to plain JavaScript over float64 buffers: a
 * forward pass and a reverse-mode gradient with respect to the input, with
 * no tensors, no kernel dispatch and no allocation per call (every buffer is
 * sized once from the static shapes).
 *
 * This is what makes small models fast: a tfjs kernel costs microseconds of
 * dispatch however small its tensors, while most MCMC potentials are a few
 * dozen tiny kernels. It also computes in double precision where tfjs
 * computes in float32.
 *
 * @module
 */
import { type CompiledKernel, type KernelRule, ReplayDeclined, type Slot } from './kernel.js';
import { customRule, isCustomKernel } from './custom-kernels.js';
import { elementwiseRules } from './elementwise.js';
import { type FusedOptions, type FusedProgram, compileFused } from './fused.js';
import { layoutRules } from './layout-kernels.js';
import { sizeOfShape } from './ndarray.js';
import { reductionRules } from './reduce-kernels.js';
import type { Graph, Ref } from './trace.js';

const RULES: Record<string, KernelRule> = { ...elementwiseRules(), ...layoutRules(), ...reductionRules() };

/**
 * The replay rule of a recorded kernel: a built-in rule, or {@link customRule}
 * for a library op recorded as one node (`Custom:<name>`, see
 * custom-kernels.ts); undefined when there is none.
 */
export function ruleFor(kernel: string): KernelRule | undefined {
  if (Object.prototype.hasOwnProperty.call(RULES, kernel)) return RULES[kernel];
  return isCustomKernel(kernel) ? customRule : undefined;
}

/** Kernel names the compiler can replay (besides custom ops, `Custom:<name>`). */
export function compilableKernels(): string[] {
  return Object.keys(RULES).sort();
}

/** The values (and gradient) of one evaluation. */
export interface CompiledResult {
  /** The output's values (a view, valid until the next call). */
  readonly value: Float64Array;
  /** d sum(output) / d input (a view, valid until the next call); present when asked for. */
  readonly grad?: Float64Array;
}

/** Options of {@link CompiledGraph.compile}. */
export interface CompileGraphOptions {
  /**
   * Generate one fused function for the whole graph (`fused.ts`; default
   * true), falling back to the per-kernel program where it cannot; `false`
   * keeps the per-kernel program (one generated loop per kernel).
   */
  readonly fuse?: boolean;
  /** When the fused compiler splits a long function body, and how finely (for measurements and tests). */
  readonly split?: FusedOptions;
}

/** A compiled graph; see {@link CompiledGraph.compile}. */
export class CompiledGraph {
  /** Element operations per forward pass: output elements of every kernel plus matrix-product multiply-adds. */
  readonly work: number;
  /** Kernels in the graph. */
  readonly kernelCount: number;
  /** `true` when the fused whole-graph function runs, else why the per-kernel program does. */
  readonly fused: true | string;
  /** Values per input row. */
  readonly inputSize: number;
  /** Values per output. */
  readonly outputSize: number;
  private readonly fusedOut: Float64Array;

  private constructor(
    work: number,
    private readonly input: Slot & { value: Float64Array; grad: Float64Array },
    private readonly slots: Slot[],
    private readonly kernels: CompiledKernel[],
    private readonly output: Slot,
    private readonly guards: { slot: Slot; values: Uint8Array }[],
    kernelCount: number,
    private readonly program: FusedProgram | string,
  ) {
    this.work = work;
    this.kernelCount = kernelCount;
    this.fused = typeof program === 'string' ? program : true;
    this.inputSize = input.value.length;
    this.outputSize = output.value.length;
    this.fusedOut = new Float64Array(output.value.length);
  }

  /** Compile `graph` (fused where it can, see {@link CompileGraphOptions}), or say which kernel has no rule. */
  static compile(graph: Graph, options: CompileGraphOptions = {}): CompiledGraph | { reason: string } {
    const missing = [...new Set(graph.nodes.map((n) => n.kernel).filter((k) => ruleFor(k) === undefined))];
    if (missing.length > 0) return { reason: `no compiled rule for kernel${missing.length > 1 ? 's' : ''} ${missing.join(', ')}` };
    const n = sizeOfShape(graph.inputShape);
    const input = { value: new Float64Array(n), grad: new Float64Array(n), shape: graph.inputShape };
    let work = 0;
    for (const node of graph.nodes) {
      work += sizeOfShape(node.shape);
      if (node.kernel === 'BatchMatMul') {
        const a = node.inputShapes[0]!;
        work += sizeOfShape(node.shape) * (node.attrs.transposeA ? a[a.length - 2]! : a[a.length - 1]!);
      }
    }
    const fused = options.fuse === false ? { reason: 'fuse: false' } : compileFused(graph, ruleFor, options.split);
    if (!('reason' in fused)) {
      // the fused function serves every call: no per-kernel program to build
      const out = { value: new Float64Array(sizeOfShape(graph.outputShape)), grad: undefined, shape: graph.outputShape };
      return new CompiledGraph(work, input, [], [], out, [], graph.nodes.length, fused);
    }
    const constants: Slot[] = graph.constants.map((c) => ({ value: c.values, grad: undefined, shape: c.shape, constant: true }));
    const slots: Slot[] = graph.nodes.map((node) => {
      const size = sizeOfShape(node.shape);
      const differentiable = node.dtype === 'float32';
      return { value: new Float64Array(size), grad: differentiable ? new Float64Array(size) : undefined, shape: node.shape };
    });
    const slotOf = (r: Ref): Slot => (r.kind === 'input' ? input : r.kind === 'const' ? constants[r.index]! : slots[r.index]!);
    const kernels: CompiledKernel[] = [];
    for (let i = 0; i < graph.nodes.length; i++) {
      const node = graph.nodes[i]!;
      try {
        kernels.push(ruleFor(node.kernel)!(node.inputs.map(slotOf), slots[i]!, node));
      } catch (err) {
        return { reason: `kernel ${node.kernel}: ${(err as Error).message}` };
      }
    }
    const guards = graph.guards.map((g) => ({ slot: slots[g.node]!, values: g.values }));
    return new CompiledGraph(work, input, slots, kernels, slotOf(graph.output), guards, kernels.length, fused.reason);
  }

  /**
   * Evaluate one input row `x[xo .. xo + inputSize)`, writing the output at
   * `out[oo ..]` and, when `grad` is given, d sum(output) / d input at
   * `grad[go ..]`; no allocation on the fused path. Returns false where
   * {@link CompiledGraph.run} returns undefined (a guard changed, a kernel
   * declined the point).
   */
  runRow(x: ArrayLike<number>, xo: number, out: Float64Array, oo: number, grad?: Float64Array, go = 0): boolean {
    const p = this.program;
    if (typeof p !== 'string') {
      try {
        return grad ? p.valueAndGrad(x, xo, out, oo, grad, go) : p.value(x, xo, out, oo);
      } catch (err) {
        if (err instanceof ReplayDeclined) return false;
        throw err;
      }
    }
    const n = this.input.value.length;
    const v = this.input.value;
    for (let i = 0; i < n; i++) v[i] = x[xo + i]!;
    const r = this.run(v, grad !== undefined);
    if (!r) return false;
    out.set(r.value, oo);
    if (grad) grad.set(r.grad!, go);
    return true;
  }

  /**
   * Evaluate at `x` (the input's values, row-major). Returns `undefined` when
   * a guard fails (the traced code would have taken another branch here) or a
   * kernel declines the point ({@link ReplayDeclined}, e.g. a failed ODE
   * solve): the caller must evaluate this point some other way.
   */
  run(x: ArrayLike<number>, withGrad: boolean): CompiledResult | undefined {
    const input = this.input;
    if (x.length !== input.value.length) throw new Error(`compiled graph: expected ${input.value.length} input values, got ${x.length}`);
    if (typeof this.program !== 'string') {
      const out = this.fusedOut;
      if (!this.runRow(x, 0, out, 0, withGrad ? input.grad : undefined)) return undefined;
      return withGrad ? { value: out, grad: input.grad } : { value: out };
    }
    if (x !== input.value) input.value.set(x);
    const kernels = this.kernels;
    try {
      for (let i = 0; i < kernels.length; i++) kernels[i]!.forward();
    } catch (err) {
      if (err instanceof ReplayDeclined) return undefined;
      throw err;
    }
    for (const g of this.guards) {
      const v = g.slot.value;
      for (let i = 0; i < v.length; i++) if ((v[i] !== 0 ? 1 : 0) !== g.values[i]) return undefined;
    }
    if (!withGrad) return { value: this.output.value };
    for (const s of this.slots) s.grad?.fill(0);
    input.grad.fill(0);
    const out = this.output;
    if (!out.grad) return { value: out.value, grad: input.grad };
    out.grad.fill(1);
    for (let i = kernels.length - 1; i >= 0; i--) kernels[i]!.backward?.();
    return { value: out.value, grad: input.grad };
  }
}
