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
  /** True for a graph constant (recorded data): its values are fixed for the graph's life, so a rule may specialise on them (a sparse matrix product, see `reduce-kernels.ts`). */
  readonly constant?: boolean;
}

/** One kernel, compiled. */
export interface CompiledKernel {
  forward(): void;
  /** Adds the vector–Jacobian product of `out.grad` into the inputs' grads. */
  backward?(): void;
}

/**
 * Thrown by a kernel's `forward` when it cannot compute this point (an ODE
 * solve that fails, see `custom-kernels.ts`): the compiled graph hands the
 * point back to its caller, as when a validity guard changes, and the
 * caller evaluates it some other way (tfjs, which rejects it or not).
 */
export class ReplayDeclined extends Error {
  constructor(kernel: string, why: string) {
    super(`${kernel}: ${why}`);
    this.name = 'ReplayDeclined';
  }
}

/** Builds a kernel from its input and output slots and the recorded attributes. */
export type KernelRule = (inputs: readonly Slot[], out: Slot, node: GraphNode) => CompiledKernel;
