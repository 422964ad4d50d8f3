/**
 * Library ops with their own gradient, replayed as ONE node each.
 *
 * Some library ops compute their values in float64 JavaScript and give tfjs
 * their gradient through `tf.customGrad` (`odeSolve`, the incomplete gamma and beta
 * functions and the Student-t cdf): their internals read their inputs' values, so the
 * recorder could not follow them kernel by kernel. Instead such an op calls
 * `customOp` (trace.ts) with a {@link CustomOp}: while a trace runs, the op
 * is recorded as one node (kernel `Custom:<name>`, the {@link CustomOp} in
 * its attributes), and the compiled graph runs that node through
 * {@link customRule}: the op's own float64 forward and vector–Jacobian
 * product over the node's buffers. Outside a trace the op runs on tfjs
 * exactly as before.
 *
 * A custom kernel may reject a point (an ODE solve that needs more than
 * `maxSteps` steps throws): on tfjs the error reaches the caller as before;
 * in a replay the point is handed back to the caller
 * ({@link ReplayDeclined}), as when a validity guard changes.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { type CompiledKernel, type KernelRule, ReplayDeclined } from './kernel.js';
import { broadcastMap, sizeOfShape } from './ndarray.js';

/** The prefix of a custom op's kernel name in a recorded graph (`Custom:odeSolve`). */
export const CUSTOM_PREFIX = 'Custom:';

/** Whether a recorded kernel name is a custom op's. */
export function isCustomKernel(kernel: string): boolean {
  return kernel.startsWith(CUSTOM_PREFIX);
}

/** One custom op's float64 code for fixed input and output shapes (it may keep state from `forward` for `backward`). */
export interface CustomKernel64 {
  /**
   * Writes the output (row-major) from the inputs' values. It throws where
   * the op rejects the point (errors its {@link CustomOp.declines} accepts
   * make the replay decline the point instead).
   */
  forward(inputs: readonly Float64Array[], out: Float64Array): void;
  /**
   * Adds the vector–Jacobian product `gOut^T d out / d input_k` into
   * `grads[k]` for each input whose entry is defined, at the point of the
   * last `forward`.
   */
  backward(inputs: readonly Float64Array[], out: Float64Array, gOut: Float64Array, grads: readonly (Float64Array | undefined)[]): void;
}

/** A library op that a trace records as one node and a replay runs in float64 (see the module notes). */
export interface CustomOp {
  /** Its name; the node's kernel is `Custom:<name>`. */
  readonly name: string;
  /** The output's shape for these input shapes (throws, naming the op, where they do not fit). */
  outputShape(inputShapes: readonly (readonly number[])[]): number[];
  /** The float64 kernel for these input shapes and this output shape. */
  instantiate(inputShapes: readonly (readonly number[])[], outShape: readonly number[]): CustomKernel64;
  /**
   * Whether an error thrown by `forward` means "this point is rejected" (on
   * tfjs the error reaches the caller, e.g. a sampler that rejects the point;
   * in a replay the point is declined and handed back). Other errors propagate.
   */
  declines?(err: unknown): boolean;
  /**
   * The same op computed more accurately (an ODE solve at tight tolerances),
   * for the gradient self-check (`gradient-check.ts`): central differences
   * of an adaptive solver's output differ from its sensitivities by about its
   * error tolerance, which would blur a check of the gradient code.
   */
  precise?(): CustomOp;
}

/**
 * Run a custom op on tfjs (float32 tensors in and out): its float64 forward
 * on the inputs' values, differentiable through its float64 vector–Jacobian
 * product (a `tf.customGrad`). The same code as the replay, so that the two
 * paths agree to float32 rounding.
 */
export function runCustomOp(op: CustomOp, inputs: readonly tf.Tensor[]): tf.Tensor {
  const shapes = inputs.map((t) => [...t.shape]);
  const outShape = op.outputShape(shapes);
  const k = op.instantiate(shapes, outShape);
  const values = inputs.map((t) => Float64Array.from(t.dataSync() as ArrayLike<number>, Number));
  const out = new Float64Array(sizeOfShape(outShape));
  k.forward(values, out);
  const run = tf.customGrad(((..._args: tf.Tensor[]) => ({
    value: tf.tensor(Float32Array.from(out), outShape),
    gradFunc: (dy: tf.Tensor) => {
      const g = Float64Array.from(dy.dataSync() as ArrayLike<number>, Number);
      const grads = values.map((v) => new Float64Array(v.length));
      k.backward(values, out, g, grads);
      return grads.map((gr, i) => tf.tensor(Float32Array.from(gr), shapes[i]));
    },
  })) as unknown as Parameters<typeof tf.customGrad>[0]);
  return run(...inputs);
}

/** The numpy broadcast of shapes, or an error naming `name`. */
export function broadcastShapesOf(name: string, shapes: readonly (readonly number[])[]): number[] {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (const s of shapes) {
    for (let i = 0; i < s.length; i++) {
      const k = rank - s.length + i;
      const d = s[i]!;
      if (d !== out[k] && d !== 1 && out[k] !== 1) throw new TypeError(`${name}: shapes ${shapes.map((x) => `[${x.join(', ')}]`).join(', ')} do not broadcast`);
      if (d !== 1) out[k] = d;
    }
  }
  return out;
}

/** The replay rule of every `Custom:*` node: runs the {@link CustomOp} in the node's attributes (`attrs.op`). */
export const customRule: KernelRule = (inputs, out, node) => {
  const op = node.attrs.op as CustomOp | undefined;
  if (!op || typeof op.instantiate !== 'function') throw new Error(`${node.kernel} has no custom op in its attributes`);
  const k = op.instantiate(
    inputs.map((s) => s.shape),
    out.shape,
  );
  const values = inputs.map((s) => s.value);
  const grads = inputs.map((s) => s.grad);
  const compiled: CompiledKernel = {
    forward() {
      try {
        k.forward(values, out.value);
      } catch (err) {
        if (op.declines?.(err)) throw new ReplayDeclined(node.kernel, err instanceof Error ? err.message : String(err));
        throw err;
      }
    },
  };
  const gy = out.grad;
  if (gy && grads.some((g) => g !== undefined)) compiled.backward = () => k.backward(values, out.value, gy, grads);
  return compiled;
};

/**
 * A scalar float64 function and its partial derivatives, one per argument.
 * Each partial is called with the arguments followed by f's value there
 * (`partial(...x, f(...x))`), so that a derivative in log space can reuse the
 * value instead of recomputing it; a partial may ignore that last argument.
 */
export interface ScalarFunction64 {
  readonly f: (...x: number[]) => number;
  readonly partials: readonly ((...x: number[]) => number)[];
}

/**
 * The custom op of a scalar float64 function applied elementwise to inputs
 * that broadcast numpy-style (`betainc(a, b, x)`, `studentTCdf(df, t)`):
 * forward `f`, backward `gOut * partial_k` summed back over broadcast axes.
 */
export function elementwiseCustomOp(name: string, fn: ScalarFunction64): CustomOp {
  return {
    name,
    outputShape: (inputShapes) => broadcastShapesOf(name, inputShapes),
    instantiate(inputShapes, outShape) {
      if (inputShapes.length !== fn.partials.length) throw new Error(`${name}: ${inputShapes.length} inputs for ${fn.partials.length} partial derivatives`);
      const maps = inputShapes.map((s) => broadcastMap(s, outShape));
      const k = inputShapes.length;
      const args = new Array<number>(k);
      const load = (inputs: readonly Float64Array[], i: number): void => {
        for (let j = 0; j < k; j++) {
          const m = maps[j];
          args[j] = inputs[j]![m ? m[i]! : i]!;
        }
      };
      return {
        forward(inputs, out) {
          for (let i = 0; i < out.length; i++) {
            load(inputs, i);
            out[i] = fn.f(...args);
          }
        },
        backward(inputs, out, gOut, grads) {
          for (let i = 0; i < gOut.length; i++) {
            const g = gOut[i]!;
            if (g === 0) continue;
            load(inputs, i);
            for (let j = 0; j < k; j++) {
              const gj = grads[j];
              if (!gj) continue;
              const m = maps[j];
              gj[m ? m[i]! : i]! += g * fn.partials[j]!(...args, out[i]!);
            }
          }
        },
      };
    },
  };
}
