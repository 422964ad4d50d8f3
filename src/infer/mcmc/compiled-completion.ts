/**
 * The deterministic sites of MCMC draws, and the constrained values of sites
 * whose support depends on other values, from a compiled record of the model
 * (`backend/jit`) instead of tfjs model runs.
 *
 * Where the log density compiled, the model has a fixed structure: it was
 * recorded once and the record replayed at every point the sampler visited.
 * The same holds for what it computes from the latent values, so the
 * completion records the model once more, at the first draw, as a function
 * from the unconstrained point to its deterministic sites' values (flattened
 * end to end), compiles that record to plain float64 JavaScript, and replays
 * it at every draw straight from the sampler's rows into the draw columns.
 * That is one model run on tfjs in all, where the tfjs completion costs a
 * per-draw run and a batched run over every draw (about half of a small
 * model's completion on a process's first call, all tfjs code running for
 * the first time).
 *
 * Checked as the tfjs completion is: the replay at the first draw must agree
 * with the recording's own tfjs run there (float32 rounding allowed); a
 * record that cannot be made (a value read, a kernel without a replay rule),
 * a guard that changes at some draw, or a site or return value that is not
 * numeric gives a reason instead, and the caller completes by model runs.
 * The values are float64 (the tfjs completion's are float32). A return
 * value that is a number or a numeric tensor is recorded too (its values
 * follow the sites' in the record's output): each draw gets its own number
 * or tensor of the returned shape, as a model run gives (posteriordb
 * hmm_example returns its log likelihood; without this its 4000 draws took
 * a tfjs run of the 100-step forward algorithm each, ~80% of the call).
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { withGradientLock } from '../../backend/autodiff.js';
import { CompiledGraph } from '../../backend/jit/program.js';
import { type Graph, traceTensorFunction, withOutputs } from '../../backend/jit/trace.js';
import type { Model } from '../../core/model.js';
import { isTensor } from '../../core/value.js';
import type { DrawColumn } from '../draw-columns.js';
import { Pacer } from '../pace.js';
import { type Layout, modelRunFn } from './potential.js';
import type { OutputSlot, RecordedOutputs } from './recorded-outputs.js';

/** A deterministic site's place in the record's output. */
type Slot = OutputSlot;

/**
 * What the compiled completion gives: columns of the deterministic sites and
 * of the sites of dependent support, and the model's return value at each
 * draw where it returns one (undefined where it returns nothing).
 */
export interface CompiledCompletion {
  readonly columns: Map<string, DrawColumn>;
  readonly returnValues?: unknown[];
}

/** Whether a replayed value agrees with tfjs's float32 one (as the tfjs completion's own check). */
function close(x: number, y: number): boolean {
  return x === y || Math.abs(x - y) <= 1e-4 * (1 + Math.abs(y));
}

/**
 * Replays draws `from .. to` into the columns; the first draw whose guard
 * changed, or -1. (A small function of its own: V8 compiles this loop, not
 * the async function around it, whose on-stack compile took ~12 ms of
 * compiler time twice on a first call.)
 */
function replayRows(compiled: CompiledGraph, point: (i: number) => Float64Array, from: number, to: number, out: Float64Array, slots: readonly Slot[], columns: readonly Float64Array[]): number {
  for (let i = from; i < to; i++) {
    if (!compiled.runRow(point(i), 0, out, 0)) return i;
    for (let j = 0; j < slots.length; j++) {
      const s = slots[j]!;
      columns[j]!.set(out.subarray(s.offset, s.offset + s.width), i * s.width);
    }
  }
  return -1;
}

/**
 * Columns of the deterministic sites (and of the sites of dependent support) at draws 0..size-1 (`point(i)`: draw
 * i's unconstrained vector), by a compiled record of the model (see the
 * module notes); a string says why not (then complete by model runs). An
 * empty map: the model has no deterministic site and returns nothing.
 *
 * @param m - the model (its log density compiled: a fixed structure)
 * @param args - its arguments
 * @param layout - the sampler's layout (its sites of dependent support get columns too: their
 *   constrained values as the model computes them, e.g. garch's beta1 on (0, 1 - alpha1))
 * @param point - draw i's unconstrained vector
 * @param size - the number of draws
 * @param signal - stops the replay
 */
export async function compiledDeterministics<A extends unknown[], R>(m: Model<A, R>, args: A, layout: Layout, point: (i: number) => Float64Array, size: number, signal?: AbortSignal): Promise<CompiledCompletion | string> {
  // sites whose support depends on other values (garch's beta1 below 1 - alpha1): their constrained values come from the model run too
  const dependent = new Set(layout.sites.filter((s) => s.dependentSupport).map((s) => s.address));
  const run = modelRunFn(m, args, layout, undefined);
  const slots: Slot[] = [];
  /** The return value's place in the record's output (after the sites'), and whether it is a tensor (else a number). */
  let returned: { readonly slot: Slot; readonly tensor: boolean } | undefined;
  let refused: string | undefined;
  const deterministics = async (qT: tf.Tensor): Promise<tf.Tensor> => {
    const { trace, returnValue } = await run(qT);
    const parts: tf.Tensor[] = [];
    let offset = 0;
    const numeric = (v: unknown): tf.Tensor | undefined => (typeof v === 'number' ? tf.scalar(v) : isTensor(v) && (v.dtype === 'float32' || v.dtype === 'int32') ? v : undefined);
    const add = (address: string, t: tf.Tensor): Slot => {
      const slot = { address, shape: [...t.shape], dtype: t.dtype as 'float32' | 'int32', offset, width: t.size };
      offset += t.size;
      parts.push(tf.reshape(t.dtype === 'float32' ? t : tf.cast(t, 'float32'), [-1]));
      return slot;
    };
    for (const s of trace) {
      if (s.type !== 'deterministic' && !(s.type === 'sample' && dependent.has(s.address))) continue;
      const t = numeric(s.value);
      if (t === undefined) {
        refused = `${s.type === 'deterministic' ? 'deterministic' : 'dependent-support'} site "${s.address}" is not a number or a numeric tensor`;
        continue;
      }
      slots.push(add(s.address, t));
    }
    if (returnValue !== undefined) {
      const t = numeric(returnValue);
      if (t === undefined) refused ??= 'the model returns a value that is not a number or a numeric tensor';
      else returned = { slot: add('(return value)', t), tensor: isTensor(returnValue) };
    }
    return parts.length === 0 ? tf.zeros([1]) : parts.length === 1 ? parts[0]! : tf.concat(parts);
  };
  let traced: Awaited<ReturnType<typeof traceTensorFunction>>;
  try {
    traced = await withGradientLock(async () => {
      const engine = tf.engine();
      engine.startScope('tyche-completion-trace');
      try {
        return await traceTensorFunction(deterministics, tf.tensor(Float32Array.from(point(0)), [layout.dim]));
      } finally {
        engine.endScope();
      }
    });
  } catch (err) {
    return `the recording run failed: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`;
  }
  if (refused !== undefined) return refused;
  const missing = [...dependent].filter((a) => !slots.some((s) => s.address === a));
  if (missing.length > 0) return `site "${missing[0]}" of dependent support is not in the recording run's trace`;
  if (slots.length === 0 && returned === undefined) return { columns: new Map() };
  // (the return value is replayed as one more slot; its column becomes a value per draw at the end)
  if (!traced.graph) return `not recorded: ${traced.reason}`;
  const compiled = CompiledGraph.compile(traced.graph);
  if (!(compiled instanceof CompiledGraph)) return `not compiled: ${compiled.reason}`;
  // the replay against the recording's own tfjs run at the first draw
  if (size > 0) {
    const agrees = replayAgrees(compiled, point(0), traced.value);
    if (agrees === 'guard') return 'a validity guard of the record changed at draw 0';
    if (agrees === 'disagrees') return 'the replay disagrees with a model run at the first draw';
  }
  return replayColumns(compiled, slots, returned, point, size, signal);
}

/**
 * The completion from the log density's own record (see `recorded-outputs.ts`): `record` replayed with the
 * values `recorded` picked out of its run as outputs, no second recording of the model. Checked as the completion's
 * own recording is, at the record's point: the replay there must agree with the values tfjs computed in that run.
 * A string says why not (then the completion records the model as before).
 *
 * @param record - the density's record and the unconstrained point it was made at
 * @param recorded - the completion's values in that record's run
 * @param point - draw i's unconstrained vector
 * @param size - the number of draws
 * @param signal - stops the replay
 */
export async function completionFromRecord(record: { readonly graph: Graph; readonly point: Float64Array }, recorded: RecordedOutputs, point: (i: number) => Float64Array, size: number, signal?: AbortSignal): Promise<CompiledCompletion | string> {
  const { slots, returned } = recorded;
  if (slots.length === 0 && returned === undefined) return { columns: new Map() };
  const all = returned === undefined ? slots : [...slots, returned.slot];
  const compiled = CompiledGraph.compile(withOutputs(record.graph, all.map((s, j) => ({ ref: recorded.refs[j]!, shape: s.shape, dtype: s.dtype }))));
  if (!(compiled instanceof CompiledGraph)) return `not compiled: ${compiled.reason}`;
  const agrees = replayAgrees(compiled, record.point, recorded.values);
  if (agrees === 'guard') return "a validity guard of the record changed at the density's recording point";
  if (agrees === 'disagrees') return "the replay disagrees with the recording's model run";
  return replayColumns(compiled, slots, returned, point, size, signal);
}

/** Whether the replay at `q` agrees with tfjs's float32 `values` there (else whether a guard changed or a value disagrees). */
function replayAgrees(compiled: CompiledGraph, q: Float64Array, values: Float64Array): true | 'guard' | 'disagrees' {
  const out = new Float64Array(compiled.outputSize);
  if (!compiled.runRow(q, 0, out, 0)) return 'guard';
  for (let k = 0; k < out.length; k++) if (!close(out[k]!, values[k]!)) return 'disagrees';
  return true;
}

/** Every draw replayed into the columns of `slots` (and of the return value). */
async function replayColumns(compiled: CompiledGraph, slots: readonly Slot[], returned: { readonly slot: Slot; readonly tensor: boolean } | undefined, point: (i: number) => Float64Array, size: number, signal?: AbortSignal): Promise<CompiledCompletion | string> {
  const all = returned === undefined ? slots : [...slots, returned.slot];
  const out = new Float64Array(compiled.outputSize);
  const columns = all.map((s) => new Float64Array(size * s.width));
  const pace = new Pacer(signal);
  for (let from = 0; from < size; from += 256) {
    if (pace.due()) await pace.pause();
    const failed = replayRows(compiled, point, from, Math.min(size, from + 256), out, all, columns);
    if (failed >= 0) return `a validity guard of the record changed at draw ${failed}`;
  }
  const siteColumns = new Map(slots.map((s, j) => [s.address, { shape: s.shape, data: columns[j]!, ...(s.dtype === 'int32' ? { dtype: 'int32' as const } : {}) }]));
  return returned === undefined ? { columns: siteColumns } : { columns: siteColumns, returnValues: returnValuesOf(returned, columns[slots.length]!, size) };
}

/** Each draw's return value from its replayed column: a number, or a tensor of the returned shape and dtype (the caller's to free, as a model run's). */
function returnValuesOf(returned: { readonly slot: Slot; readonly tensor: boolean }, column: Float64Array, size: number): unknown[] {
  const { shape, dtype, width } = returned.slot;
  const out: unknown[] = new Array(size);
  for (let i = 0; i < size; i++) {
    const row = column.subarray(i * width, (i + 1) * width);
    out[i] = returned.tensor ? tf.tensor(dtype === 'int32' ? Int32Array.from(row) : Float32Array.from(row), shape, dtype) : row[0];
  }
  return out;
}
