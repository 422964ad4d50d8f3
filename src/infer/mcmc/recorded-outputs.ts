/**
 * What an MCMC completion needs from a model run (its deterministic sites,
 * the constrained values of its sites of dependent support, its return
 * value), picked out of the run whose log density is being recorded
 * (`backend/jit`): where each value sits in that record and what tfjs
 * computed for it there. `compiled-completion.ts` then replays the density's
 * own record with these as its outputs, where it used to record the model a
 * second time for them (FIRST5, session 18).
 *
 * A floor below both `potential.ts` (which calls {@link recordOutputs} from
 * inside the recorded density) and `compiled-completion.ts` (which replays).
 *
 * @module
 */
import type { Ref } from '../../backend/jit/trace.js';
import { tracedOutput } from '../../backend/jit/trace.js';
import type { Trace } from '../../core/trace.js';
import { isTensor } from '../../core/value.js';

/** One value's place in a completion record's flattened output. */
export interface OutputSlot {
  readonly address: string;
  readonly shape: number[];
  readonly dtype: 'float32' | 'int32';
  readonly offset: number;
  readonly width: number;
}

/** The values a completion reads, as they stood in a recorded run. */
export interface RecordedOutputs {
  /** The deterministic sites and the sites of dependent support, in trace order. */
  readonly slots: readonly OutputSlot[];
  /** The return value (after the sites), and whether it is a tensor (else a number); undefined where the model returns nothing. */
  readonly returned?: { readonly slot: OutputSlot; readonly tensor: boolean };
  /** Each slot's (then the return value's) place in the record. */
  readonly refs: readonly Ref[];
  /** tfjs's values there, flattened end to end in slot order (float32 values). */
  readonly values: Float64Array;
}

/**
 * The completion's values of one run (`trace`, `returnValue`) while its log
 * density is recorded, or why the record cannot give them: a value that is
 * not a numeric tensor depending on the parameters (a plain number, a
 * constant tensor, an object) is left to the completion's own recording.
 * Outside a trace every tensor reads as constant, so call it only inside one.
 *
 * @param dependent - addresses of the layout's sites of dependent support
 */
export function recordOutputs(trace: Trace, returnValue: unknown, dependent: ReadonlySet<string>): RecordedOutputs | string {
  const slots: OutputSlot[] = [];
  const refs: Ref[] = [];
  const parts: Float64Array[] = [];
  let offset = 0;
  const take = (address: string, v: unknown): OutputSlot | string => {
    if (!isTensor(v) || (v.dtype !== 'float32' && v.dtype !== 'int32')) return `"${address}" is not a numeric tensor`;
    const at = tracedOutput(v);
    if (at === undefined) return `"${address}" does not depend on the parameters`;
    const slot = { address, shape: [...v.shape], dtype: v.dtype, offset, width: v.size };
    offset += v.size;
    refs.push(at.ref);
    parts.push(at.values);
    return slot;
  };
  for (const s of trace) {
    if (s.type !== 'deterministic' && !(s.type === 'sample' && dependent.has(s.address))) continue;
    const slot = take(s.address, s.value);
    if (typeof slot === 'string') return slot;
    slots.push(slot);
  }
  const missing = [...dependent].find((a) => !slots.some((s) => s.address === a));
  if (missing !== undefined) return `site "${missing}" of dependent support is not in the run's trace`;
  let returned: RecordedOutputs['returned'];
  if (returnValue !== undefined) {
    const slot = take('(return value)', returnValue);
    if (typeof slot === 'string') return slot;
    returned = { slot, tensor: true };
  }
  const values = new Float64Array(offset);
  let at = 0;
  for (const p of parts) {
    values.set(p, at);
    at += p.length;
  }
  return { slots, refs, values, ...(returned ? { returned } : {}) };
}
