/**
 * Recording a tfjs computation as a static graph.
 *
 * `traceTensorFunction(fn, input)` runs `fn(input)` once on the real backend
 * and records every top-level kernel it launches (name, inputs, attributes,
 * output shapes). Tensors that depend on `input` become graph nodes; every
 * other tensor a kernel reads is a constant, captured by value. What the
 * recording cannot see would make a replay wrong, so it is refused or
 * guarded:
 *
 * - a read (`dataSync`, `data`, `array`, ...) of a tensor that depends on the
 *   input is how code branches on values. Reads of boolean tensors (support
 *   and parameter checks: "are all values valid?") become *guards*: the
 *   replay recomputes them and must find the same values, else the caller
 *   falls back to tfjs for that point. A read of any other input-dependent
 *   tensor makes the function untraceable (reason given);
 * - kernels with no replay rule on input-dependent values make it
 *   untraceable. Library ops that run through {@link customOp} are each
 *   recorded as one node (`Custom:<name>`) that the replay runs with the
 *   op's own float64 code (custom-kernels.ts); a user's `tf.customGrad` op
 *   is recorded as one opaque node that the replay runs on tfjs in float32,
 *   with the user's gradient (user-grad.ts).
 * - a boolean tensor made from the input that no later kernel takes and
 *   nothing reads was almost surely used as a JS condition (`if (ops.gt(x,
 *   0))`, always true): the code follows one branch whatever the values, in
 *   the record and in any tensor run alike. The result says so
 *   (`branchesOnTensor`, with the site) for the caller to stop with an error.
 *
 * Multi-output kernels are recorded as one node per output (`SplitV` and
 * `Unpack` become slices), so every node has exactly one output.
 *
 * Constants are captured in float64 where the doubles are known: a tensor
 * tyche made from JS numbers remembers them (`../float64-constants.ts`), and
 * a kernel on constants only (the log of a data scale, a constant's reshape)
 * is computed again in float64 by its replay rule as the code runs, from its
 * inputs' doubles (or float32 values where no doubles are known). Only
 * tensors made outside tyche (`tf.tensor` of user data, numbers tfjs ops
 * convert themselves) and outputs of kernels without a rule keep their
 * float32 values.
 *
 * This relies on tfjs-core internals (`runKernelFunc`, `state.kernelDepth`),
 * like `autodiff.ts`; tfjs-core is pinned and tests guard it.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { CUSTOM_PREFIX, type CustomOp, runCustomOp } from './custom-kernels.js';
import { float64Of } from '../float64-constants.js';
import { ruleFor } from './program.js';
import { runningCustomGrad, userGradLabel, userGradOp } from './user-grad.js';

/** A reference to a value in a recorded graph. */
export type Ref = { readonly kind: 'input' } | { readonly kind: 'node'; readonly index: number } | { readonly kind: 'const'; readonly index: number };

/** One recorded kernel launch with a single output. */
export interface GraphNode {
  readonly kernel: string;
  readonly inputs: Ref[];
  readonly inputShapes: number[][];
  readonly attrs: Record<string, unknown>;
  readonly shape: number[];
  readonly dtype: tf.DataType;
  /** For nodes split off a multi-output kernel: which output. */
  readonly outputIndex: number;
}

/** A constant input of the graph, captured by value. */
export interface GraphConstant {
  readonly values: Float64Array;
  readonly shape: number[];
  readonly dtype: tf.DataType;
}

/** A boolean node whose values the traced code read: a replay must reproduce them. */
export interface Guard {
  readonly node: number;
  readonly values: Uint8Array;
}

/** A recorded computation: input -> nodes (in execution order) -> output. */
export interface Graph {
  readonly inputShape: number[];
  readonly nodes: GraphNode[];
  readonly constants: GraphConstant[];
  readonly guards: Guard[];
  readonly output: Ref;
  readonly outputShape: number[];
}

/** The result of a trace: a graph, or why there is none. */
export type TraceResult =
  | { readonly graph: Graph; readonly value: Float64Array; readonly branchesOnTensor?: undefined }
  | {
      readonly graph?: undefined;
      readonly reason: string;
      /**
       * Set when the traced code made a boolean tensor from the input that no
       * later kernel consumed and nothing read: almost surely a tensor used as
       * a JS condition (`if (ops.gt(x, 0))`, always true), so the record (and
       * any tensor run) follows one branch whatever the values. `site` is the
       * site where it was made (the next site entered after it, else the last
       * one left).
       */
      readonly branchesOnTensor?: { readonly site: string };
    };

interface KernelParams {
  kernelName?: string;
  inputs: Record<string, tf.Tensor | undefined>;
  attrs?: Record<string, unknown>;
}
interface EngineHooks {
  runKernelFunc(params: KernelParams): tf.Tensor | tf.Tensor[];
  state: { kernelDepth: number };
}

/** Input names of multi-input kernels in the order the replay rules expect. */
const INPUT_ORDER: Record<string, string[]> = {
  Select: ['condition', 't', 'e'],
  BatchMatMul: ['a', 'b'],
  GatherV2: ['x', 'indices'],
};

/** Kernels that draw random numbers: their outputs are never constants. */
const RANDOM_KERNELS = /^(Random|Multinomial)/;

const READ_METHODS = ['dataSync', 'data', 'array', 'arraySync', 'buffer', 'bufferSync'] as const;

class Recorder {
  readonly nodes: GraphNode[] = [];
  readonly constants: GraphConstant[] = [];
  readonly guards: Guard[] = [];
  /** tensor id -> node index of input-dependent tensors. */
  readonly dependent = new Map<number, Ref>();
  /** tensor id -> constant index (captured once). */
  readonly constIndex = new Map<number, number>();
  /** Where user `tf.customGrad` ops made between sites are used: filled in when the next site starts. */
  readonly pendingUserGrads: { site: string | undefined; before: boolean; after: string | undefined }[] = [];
  /** tensor id -> float64 values of a constant computed by the traced code, recomputed by its replay rule (see {@link Recorder.fold}). */
  readonly folded = new Map<number, Float64Array>();
  reason: string | undefined;
  reading = false;
  /** Above 0 while a custom op ({@link customOp}) computes: its internal kernels and reads are not recorded. */
  paused = 0;
  /** Ids of tensors a top-level kernel took as input or the traced code read. */
  readonly consumed = new Set<number>();
  /** Input-dependent boolean outputs: tensor id -> the site they were made at (undefined until the next site starts). */
  readonly bools = new Map<number, { site: string | undefined }>();
  /** The site being scored now (see {@link markTraceSite}), and the last one finished. */
  site: string | undefined;
  lastSite: string | undefined;
  /** Where the refusal happened: a site, or between sites until the next one starts. */
  where: string | undefined;
  whereOpen = false;

  /** `input` is what the record is a function of; without one (a float64 shadow run) every kernel is constant and folds. */
  constructor(input?: tf.Tensor) {
    if (input) this.dependent.set(input.id, { kind: 'input' });
    this.lazy = input ? undefined : new Map();
  }

  refuse(reason: string): void {
    if (this.reason !== undefined) return;
    this.reason = reason;
    if (this.site !== undefined) this.where = `at site "${this.site}"`;
    else this.whereOpen = true; // between sites: most likely building the next site's distribution (named when it starts)
  }

  mark(address: string, phase: 'enter' | 'leave'): void {
    if (phase === 'leave') {
      this.site = undefined;
      this.lastSite = address;
      return;
    }
    for (const b of this.bools.values()) b.site ??= address;
    for (const u of this.pendingUserGrads) u.site ??= address;
    this.pendingUserGrads.length = 0;
    if (this.whereOpen) {
      this.where = `before site "${address}" (building its distribution${this.lastSite !== undefined ? `, after site "${this.lastSite}"` : ''})`;
      this.whereOpen = false;
    }
    this.site = address;
  }

  /** The refusal with where it happened. */
  fullReason(): string | undefined {
    if (this.reason === undefined) return undefined;
    const where = this.where ?? (this.whereOpen ? (this.lastSite !== undefined ? `after the last site ("${this.lastSite}")` : undefined) : undefined);
    return where ? `${this.reason}, ${where}` : this.reason;
  }

  /** The site of the first input-dependent boolean tensor that was neither consumed nor read (see {@link TraceResult}). */
  unusedBool(outId: number): string | undefined {
    for (const [id, b] of this.bools) {
      if (!this.consumed.has(id) && id !== outId) return b.site ?? this.lastSite ?? '(before the first site)';
    }
    return undefined;
  }

  /** The best-known values of a constant tensor: folded or remembered doubles, else its own (float32) values. */
  values64(t: tf.Tensor): Float64Array {
    const known = this.exact(t);
    if (known) return known;
    this.reading = true;
    try {
      return Float64Array.from(t.dataSync() as ArrayLike<number>, Number);
    } finally {
      this.reading = false;
    }
  }

  refOf(t: tf.Tensor): Ref {
    const d = this.dependent.get(t.id);
    if (d) return d;
    let k = this.constIndex.get(t.id);
    if (k === undefined) {
      k = this.constants.length;
      this.constants.push({ values: this.values64(t), shape: [...t.shape], dtype: t.dtype });
      this.constIndex.set(t.id, k);
    }
    return { kind: 'const', index: k };
  }

  /**
   * The doubles of `t` if known: folded, remembered, or (in a shadow run)
   * folded now from the kernel that made it (see {@link Recorder.later}).
   */
  exact(t: tf.Tensor): Float64Array | undefined {
    const known = this.folded.get(t.id) ?? float64Of(t);
    if (known || !this.lazy) return known;
    const fold = this.lazy.get(t.id);
    if (!fold) return undefined;
    this.lazy.delete(t.id);
    fold();
    return this.folded.get(t.id);
  }

  /**
   * In a shadow run (no input), folds wait until a value is asked for
   * (`exact`): only the kernels behind the values wanted are computed.
   * Those must be asked for while the run's tensors are alive.
   */
  readonly lazy: Map<number, () => void> | undefined;

  /**
   * In a shadow run, the values of inputs nothing else can give later (no
   * doubles remembered, not made by a kernel that folds): read now, while
   * they are alive (a `tf.tidy` inside the run may dispose them).
   */
  private leafValues(inputs: readonly tf.Tensor[]): (Float64Array | undefined)[] {
    if (!this.lazy) return [];
    return inputs.map((t) => (this.lazy!.has(t.id) || this.folded.has(t.id) || float64Of(t) ? undefined : this.values64(t)));
  }

  /** Fold now, or (in a shadow run) when one of `outs` is asked for. */
  private later(outs: readonly tf.Tensor[], fold: () => void): void {
    if (!this.lazy) return fold();
    for (const o of outs) this.lazy.set(o.id, fold);
  }

  /**
   * A kernel on constants only: compute its outputs again in float64 with
   * the kernel's replay rule from its inputs' best-known values, so that a
   * constant derived from data (`log(scale)`, `lgamma(k + 1)`) carries the
   * doubles' precision into the record. Kernels without a rule, or whose
   * rule fails here, keep tfjs's float32 outputs.
   */
  fold(kernel: string, inputs: readonly tf.Tensor[], attrs: Record<string, unknown>, outs: readonly tf.Tensor[]): void {
    if (inputs.length === 0 || inputs.some((t) => t.dtype === 'string' || t.dtype === 'complex64')) return;
    const rule = ruleFor(kernel);
    if (!rule) return;
    const leaves = this.leafValues(inputs);
    this.later(outs, () => {
      try {
        const slots = inputs.map((t, i) => ({ value: leaves[i] ?? this.values64(t), grad: undefined, shape: [...t.shape] }));
        const inputShapes = inputs.map((t) => [...t.shape]);
        outs.forEach((o, i) => {
          const out = { value: new Float64Array(o.size), grad: undefined, shape: [...o.shape] };
          const node: GraphNode = { kernel, inputs: [], inputShapes, attrs: { ...attrs }, shape: [...o.shape], dtype: o.dtype, outputIndex: i };
          rule(slots, out, node).forward();
          this.folded.set(o.id, out.value);
        });
      } catch {
        // no float64 values for this constant: its float32 values are captured where used
      }
    });
  }

  record(params: KernelParams, out: tf.Tensor | tf.Tensor[]): void {
    if (this.paused > 0) return;
    if (params.kernelName !== undefined && RANDOM_KERNELS.test(params.kernelName)) {
      this.refuse(`a random op (${params.kernelName}) runs in the traced code, so a replay would freeze its draws`);
      return;
    }
    const named = Object.entries(params.inputs).filter((e): e is [string, tf.Tensor] => e[1] instanceof tf.Tensor);
    for (const [, t] of named) this.consumed.add(t.id);
    const anyDependent = named.some(([, t]) => this.dependent.has(t.id));
    const kernel = params.kernelName;
    const order = kernel === undefined ? undefined : INPUT_ORDER[kernel];
    const inputs = order ? order.map((n) => params.inputs[n]).filter((t): t is tf.Tensor => t instanceof tf.Tensor) : named.map(([, t]) => t);
    const outs = Array.isArray(out) ? out : [out];
    if (!anyDependent) {
      // a constant computation: its outputs are captured by value where used, in float64 where it folds
      if (kernel !== undefined) this.fold(kernel, inputs, params.attrs ?? {}, outs);
      return;
    }
    if (kernel === undefined) {
      this.recordUserGrad(inputs, outs);
      return;
    }
    const refs = inputs.map((t) => this.refOf(t));
    const shapes = inputs.map((t) => [...t.shape]);
    outs.forEach((o, i) => {
      const index = this.nodes.length;
      this.nodes.push({ kernel, inputs: refs, inputShapes: shapes, attrs: { ...(params.attrs ?? {}) }, shape: [...o.shape], dtype: o.dtype, outputIndex: i });
      this.dependent.set(o.id, { kind: 'node', index });
      if (o.dtype === 'bool') this.bools.set(o.id, { site: this.site });
    });
  }

  /** A user's `tf.customGrad` launch on input-dependent tensors: one opaque node (user-grad.ts). */
  recordUserGrad(inputs: readonly tf.Tensor[], outs: readonly tf.Tensor[]): void {
    const f = runningCustomGrad();
    if (!f || outs.length !== 1) {
      this.refuse('a custom-gradient op (tf.customGrad) made before tyche was imported acts on the parameters (make it after importing tyche to have it recorded)');
      return;
    }
    const out = outs[0]!;
    // named by the site it is used at: the one running, else the next to start (its distribution is being built)
    const at = { site: this.site, before: this.site === undefined, after: this.lastSite };
    this.pendingUserGrads.push(at);
    const op = userGradOp(
      f,
      () => userGradLabel(f, at),
      out.shape,
      inputs.map((t) => t.dtype),
      inputs.map((t) => this.values64(t)),
    );
    this.recordCustom(op, inputs, out);
  }

  /** A read of `t` by the traced code. */
  read(t: tf.Tensor): void {
    if (this.reading || this.paused > 0) return;
    this.consumed.add(t.id);
    const ref = this.dependent.get(t.id);
    if (!ref) return;
    if (ref.kind !== 'node' || t.dtype !== 'bool') {
      this.refuse(
        `the code reads a ${t.dtype} value that depends on the parameters (shape [${t.shape.join(', ')}]), so its control flow may change with them` +
          ' (a parameter check that reads values? checks written as boolean tensor ops become guards)',
      );
      return;
    }
    this.reading = true;
    try {
      this.guards.push({ node: ref.index, values: Uint8Array.from(t.dataSync() as Uint8Array) });
    } finally {
      this.reading = false;
    }
  }

  /** A custom op's launch: one node taking `inputs` (see {@link customOp}). */
  recordCustom(op: CustomOp, inputs: readonly tf.Tensor[], out: tf.Tensor): void {
    for (const t of inputs) this.consumed.add(t.id);
    if (!inputs.some((t) => this.dependent.has(t.id))) {
      // constant: captured by value where used, in float64 from the op's own code
      const leaves = this.leafValues(inputs);
      this.later([out], () => {
        try {
          const k = op.instantiate(
            inputs.map((t) => [...t.shape]),
            [...out.shape],
          );
          const values = new Float64Array(out.size);
          k.forward(
            inputs.map((t, i) => leaves[i] ?? this.values64(t)),
            values,
          );
          this.folded.set(out.id, values);
        } catch {
          // the op rejects these values in float64 too: tfjs's outcome stands
        }
      });
      return;
    }
    const index = this.nodes.length;
    this.nodes.push({
      kernel: CUSTOM_PREFIX + op.name,
      inputs: inputs.map((t) => this.refOf(t)),
      inputShapes: inputs.map((t) => [...t.shape]),
      attrs: { op },
      shape: [...out.shape],
      dtype: out.dtype,
      outputIndex: 0,
    });
    this.dependent.set(out.id, { kind: 'node', index });
  }
}

let active: Recorder | undefined;

/**
 * Inside a trace: where the tensor `t` sits in the record being made (a node,
 * or the input) and its values now (float32, as tfjs computed them), read
 * without the recorder counting the read as one of the traced code's. For
 * code that keeps other values of the same run beside the traced function's
 * own output (the deterministic sites of a model whose log density is
 * recorded: `infer/mcmc/recorded-outputs.ts`). Undefined outside a trace and
 * for a tensor that does not depend on the input.
 */
export function tracedOutput(t: tf.Tensor): { readonly ref: Ref; readonly values: Float64Array } | undefined {
  const rec = active;
  const ref = rec?.dependent.get(t.id);
  if (!rec || !ref) return undefined;
  const before = rec.reading;
  rec.reading = true;
  try {
    return { ref, values: Float64Array.from(t.dataSync() as ArrayLike<number>, Number) };
  } finally {
    rec.reading = before;
  }
}

/**
 * `graph` with its output replaced by `outputs` (each a reference into it, of
 * the given shape and dtype) flattened end to end in float32's place (a cast
 * where the dtype is not float32, a reshape, one concat): the same values a
 * traced `tf.concat(outputs.map((t) => tf.reshape(tf.cast(t, 'float32'), [-1])))`
 * would record, without a second run. Guards and constants are kept.
 */
export function withOutputs(graph: Graph, outputs: readonly { readonly ref: Ref; readonly shape: readonly number[]; readonly dtype: tf.DataType }[]): Graph {
  const nodes = [...graph.nodes];
  const add = (node: GraphNode): Ref => {
    nodes.push(node);
    return { kind: 'node', index: nodes.length - 1 };
  };
  const flat: Ref[] = [];
  const sizes: number[] = [];
  for (const o of outputs) {
    const size = o.shape.reduce((a, b) => a * b, 1);
    let ref = o.ref;
    if (o.dtype !== 'float32') ref = add({ kernel: 'Cast', inputs: [ref], inputShapes: [[...o.shape]], attrs: { dtype: 'float32' }, shape: [...o.shape], dtype: 'float32', outputIndex: 0 });
    flat.push(add({ kernel: 'Reshape', inputs: [ref], inputShapes: [[...o.shape]], attrs: { shape: [size] }, shape: [size], dtype: 'float32', outputIndex: 0 }));
    sizes.push(size);
  }
  const total = sizes.reduce((a, b) => a + b, 0);
  const output = flat.length === 1 ? flat[0]! : add({ kernel: 'Concat', inputs: flat, inputShapes: sizes.map((n) => [n]), attrs: { axis: 0 }, shape: [total], dtype: 'float32', outputIndex: 0 });
  return { ...graph, nodes, output, outputShape: [total] };
}

/** Whether a trace is recording now (its hooks take every tfjs launch, so code that yields to the event loop should not yield then). */
export function traceActive(): boolean {
  return active !== undefined;
}

/**
 * Apply a library op that computes in float64 JavaScript and has its own
 * gradient (see custom-kernels.ts) to `inputs`. On tfjs it runs as a
 * `tf.customGrad` op (float32 tensors in and out; `runCustomOp`). While a
 * trace runs, it is recorded as ONE node taking `inputs` (kernel
 * `Custom:<op.name>`) instead of its internal kernels and reads, and the
 * replay runs the same float64 forward and vector–Jacobian product on the
 * node's buffers.
 */
export function customOp(op: CustomOp, inputs: readonly tf.Tensor[]): tf.Tensor {
  const rec = active;
  if (!rec || rec.paused > 0) return runCustomOp(op, inputs);
  rec.paused++;
  let out: tf.Tensor;
  try {
    out = runCustomOp(op, inputs);
  } finally {
    rec.paused--;
  }
  rec.recordCustom(op, inputs, out);
  return out;
}

/**
 * Tell a running trace (if any) that the traced code starts (`'enter'`) or
 * has finished (`'leave'`) the site `address`, so that a refusal names the
 * site where it happened. Model runners call this from an effect handler;
 * it does nothing when no trace is running.
 */
export function markTraceSite(address: string, phase: 'enter' | 'leave'): void {
  active?.mark(address, phase);
}

/**
 * Run `fn(input)` once and record it as a graph (see the module notes).
 * Returns the graph and the output's values, or the reason it cannot be
 * recorded. `fn` may be asynchronous; no other tfjs work may run while it
 * does (callers hold the gradient lock).
 */
export async function traceTensorFunction(fn: (x: tf.Tensor) => tf.Tensor | Promise<tf.Tensor>, input: tf.Tensor): Promise<TraceResult> {
  if (active) throw new Error('traceTensorFunction: a trace is already running');
  const rec = new Recorder(input);
  const uninstall = install(() => rec);
  active = rec;
  try {
    const out = await fn(input);
    const outRef = rec.dependent.get(out.id);
    rec.reading = true;
    const value = Float64Array.from(out.dataSync() as ArrayLike<number>, Number);
    rec.reading = false;
    const branchSite = rec.unusedBool(out.id);
    if (branchSite !== undefined) return { reason: `the code branches on a boolean tensor made at site "${branchSite}" (a tensor is always true in a JS condition)`, branchesOnTensor: { site: branchSite } };
    if (rec.reason) return { reason: rec.fullReason()! };
    if (!outRef || outRef.kind !== 'node') return { reason: 'the output does not depend on the input' };
    return {
      graph: { inputShape: [...input.shape], nodes: rec.nodes, constants: rec.constants, guards: rec.guards, output: outRef, outputShape: [...out.shape] },
      value,
    };
  } finally {
    uninstall();
  }
}

/** Hook the engine's kernel launches and tensor reads for the recorder `current()` while it is the active one; returns the undo. */
function install(current: () => Recorder | undefined): () => void {
  const engine = tf.engine() as unknown as EngineHooks;
  const ownRun = Object.prototype.hasOwnProperty.call(engine, 'runKernelFunc');
  const run = engine.runKernelFunc;
  engine.runKernelFunc = function (this: EngineHooks, params: KernelParams) {
    const rec = current();
    const live = rec !== undefined && active === rec;
    const top = this.state.kernelDepth === 0;
    // a tf.customGrad launch (no kernel name): its forward's reads and kernels are the op's own business
    const opaque = top && live && params.kernelName === undefined;
    if (opaque) rec!.paused++;
    let out: tf.Tensor | tf.Tensor[];
    try {
      out = run.call(this, params);
    } finally {
      if (opaque) rec!.paused--;
    }
    if (top && live) rec!.record(params, out);
    return out;
  };
  const proto = tf.Tensor.prototype as unknown as Record<string, (...a: unknown[]) => unknown>;
  const originals = READ_METHODS.map((m) => proto[m]!);
  READ_METHODS.forEach((m, i) => {
    const original = originals[i]!;
    proto[m] = function (this: tf.Tensor, ...a: unknown[]) {
      const rec = current();
      if (rec && active === rec) rec.read(this);
      return original.apply(this, a);
    };
  });
  return () => {
    active = undefined;
    if (ownRun) engine.runKernelFunc = run;
    else delete (engine as Partial<EngineHooks>).runKernelFunc;
    READ_METHODS.forEach((m, i) => {
      proto[m] = originals[i]!;
    });
  };
}

/** A tensor's float64 values from a shadow run (see {@link withFloat64Shadow}), or undefined. */
export type Float64Reader = (t: tf.Tensor) => Float64Array | undefined;

/**
 * Run `fn` (tfjs code: a model or guide drawing from JS-number noise) with
 * every kernel computed a second time in float64 beside tfjs's float32, by
 * its replay rule from its inputs' best-known values (the constant folding
 * of a record, with nothing recorded). `fn` gets `float64(t)`: a tensor's
 * doubles where every kernel that led to it has a rule and every source
 * remembered its doubles (noise and data made by tyche's helpers,
 * `../float64-constants.ts`), else undefined. The kernels behind `t` are
 * computed in float64 only when `float64(t)` asks, so ask inside `fn`,
 * before the tensors they read are disposed. Inside a trace (or another
 * shadow run) `fn` runs plainly and `float64` gives only remembered doubles.
 */
export async function withFloat64Shadow<T>(fn: (float64: Float64Reader) => Promise<T>): Promise<T> {
  const shadow = openFloat64Shadow();
  if (!shadow) return fn(float64Of);
  try {
    return await shadow.run(fn);
  } finally {
    shadow.close();
  }
}

/** Shadow runs that share one set of engine hooks (see {@link openFloat64Shadow}). */
export interface Float64Shadow {
  /** {@link withFloat64Shadow} on these hooks (a fresh record of values per run). */
  run<T>(fn: (float64: Float64Reader) => Promise<T>): Promise<T>;
  /** Done with these runs. */
  close(): void;
}

/** The recorder of the shadow run in progress, if any; the shadow's engine hooks, once installed, stay (see {@link openFloat64Shadow}). */
let shadowRec: Recorder | undefined;
let shadowHooked = false;

/**
 * Shadow runs for many particles. Installing and removing the engine hooks
 * around every run costs more than the run (about 2 ms each: V8 drops its
 * optimised tensor methods), and removing them while a trace has hooked on
 * top would unhook the trace, so the shadow's hooks are installed once, at
 * the first shadow run, and stay: idle, they cost one check per kernel.
 * Undefined inside a trace or another shadow run.
 */
export function openFloat64Shadow(): Float64Shadow | undefined {
  if (active) return undefined;
  if (!shadowHooked) {
    install(() => shadowRec);
    shadowHooked = true;
  }
  return {
    async run(fn) {
      if (active) return fn(float64Of);
      const mine = new Recorder();
      shadowRec = mine;
      active = mine;
      try {
        return await fn((t) => {
          try {
            return mine.exact(t);
          } catch {
            return undefined; // a tensor behind it was disposed already
          }
        });
      } finally {
        if (active === mine) active = undefined;
        shadowRec = undefined;
      }
    },
    close: () => {},
  };
}
