/**
 * The contract between a compiled graph and its kernels: each recorded
 * kernel becomes a forward loop over preallocated float64 buffers and,
 * where it is differentiable, a backward loop that adds its vector–Jacobian
 * product into its inputs' gradient buffers.
 *
 * @module
 */
import type { GraphNode } from './trace.js';

/** A value's buffers in a compiled graph. */
export interface Slot {
  /** The values (bools and integers as 0/1 and whole numbers). */
  readonly value: Float64Array;
  /** Its gradient accumulator, where gradients flow (undefined for constants and boolean values). */
  readonly grad: Float64Array | undefined;
  readonly shape: readonly number[];
}

/** One kernel, compiled. */
export interface CompiledKernel {
  forward(): void;
  /** Adds the vector–Jacobian product of `out.grad` into the inputs' grads. */
  backward?(): void;
}

/** Builds a kernel from its input and output slots and the recorded attributes. */
export type KernelRule = (inputs: readonly Slot[], out: Slot, node: GraphNode) => CompiledKernel;
