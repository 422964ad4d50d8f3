/**
 * A Jupyter kernel interrupt stops tyche's running inference (tslab).
 *
 * tslab answers a kernel interrupt (SIGINT) by ending the cell with
 * "Interrupted asynchronously", but the promise the cell awaited runs on: an
 * interrupted `infer` went on using the CPU for as long as it would have
 * taken, and the next cell's `infer` queued behind it (measured with
 * jupyter_client: a NUTS run of 2e6 draws interrupted at 8 s was still
 * drawing 40 s later, and a 100-particle importance call in the next cell
 * had not started). Loaded in a tslab kernel, tyche counts the kernel's
 * SIGINTs; every paced loop (`pace.ts` `Pacer`) that began before the latest
 * one stops at its next yield with an `AbortError`, as an aborted signal
 * stops it, freeing its tensors, so the queue moves on. Outside tslab nothing
 * is installed (a Node script keeps Ctrl-C's default).
 *
 * @module
 */

/** How many kernel interrupts have arrived (0 outside tslab). */
export let kernelInterrupts = 0;

/** Aborted by the next kernel interrupt (made when a run asks for it, see {@link withKernelInterrupt}). */
let nextInterrupt: AbortController | null = null;

const host = globalThis as { __tslab__?: unknown; process?: { on?: (event: string, fn: () => void) => unknown } };
const inKernel = host.__tslab__ !== undefined && typeof host.process?.on === 'function';
if (inKernel) {
  host.process!.on!('SIGINT', () => {
    kernelInterrupts++;
    nextInterrupt?.abort(kernelInterruptError());
    nextInterrupt = null;
  });
}

/**
 * `signal`, also aborted (with {@link kernelInterruptError}) by the next
 * kernel interrupt when tyche runs in a tslab kernel; `signal` itself
 * elsewhere. For a run that awaits something a paced loop cannot reach (a
 * language model's forward pass that never settles): racing this signal
 * ends it, as racing the user's signal does.
 */
export function withKernelInterrupt(signal: AbortSignal | undefined): AbortSignal | undefined {
  if (!inKernel) return signal;
  nextInterrupt ??= new AbortController();
  return signal ? AbortSignal.any([signal, nextInterrupt.signal]) : nextInterrupt.signal;
}

/** Kernel interrupts when the running `infer` call began (`one-at-a-time.ts` sets it as each call starts). */
let atRunStart = 0;

/** The running call starts: interrupts before now are not its own. @internal */
export function markRunStart(): void {
  atRunStart = kernelInterrupts;
}

/** Throws {@link kernelInterruptError} when a kernel interrupt arrived since the running call began (for loops without a `Pacer`). */
export function throwIfInterrupted(): void {
  if (kernelInterrupts !== atRunStart) throw kernelInterruptError();
}

/** The error a run stopped by a kernel interrupt rejects with. */
export function kernelInterruptError(): Error {
  return new DOMException('The run was stopped by a Jupyter kernel interrupt.', 'AbortError');
}
