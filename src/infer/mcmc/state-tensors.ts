/**
 * Tensor bookkeeping for trace-based MCMC, where the chain's state is a whole
 * trace (values, distributions, cached log densities, return value) that
 * survives from one step to the next: each step runs in its own tensor scope
 * that keeps what the new state reaches, and tensors the old state reached
 * that nobody needs any more are disposed.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';

/** Every tensor reachable from `root` through plain objects, arrays, maps and sets (functions are not entered). */
export function reachableTensors(root: unknown, into: Set<tf.Tensor> = new Set()): Set<tf.Tensor> {
  const seen = new Set<object>();
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const x = stack.pop();
    if (x === null || typeof x !== 'object') continue;
    if (x instanceof tf.Tensor) {
      if (!x.isDisposed) into.add(x);
      continue;
    }
    if (seen.has(x) || ArrayBuffer.isView(x)) continue;
    seen.add(x);
    if (x instanceof Map) for (const [k, v] of x) stack.push(k, v);
    // only objects can lead to tensors: arrays of numbers (data) are not walked element by element
    else if (x instanceof Set || Array.isArray(x)) {
      for (const v of x) if (v !== null && typeof v === 'object') stack.push(v);
    } else {
      for (const k of Object.keys(x)) {
        const v = (x as Record<string, unknown>)[k];
        if (v !== null && typeof v === 'object') stack.push(v);
      }
    }
  }
  return into;
}

/** The id the next tensor will get: tensors with ids at or above it are created after this call. */
export function nextTensorId(): number {
  const probe = tf.scalar(0);
  const id = probe.id;
  probe.dispose();
  return id + 1;
}

/**
 * Dispose the tensors `before` reached and `after` does not, among those
 * created since `sinceId` (never the user's own tensors, e.g. data passed in
 * the model's arguments) and not in `pinned` (e.g. values of kept draws).
 */
export function disposeDropped(before: Set<tf.Tensor>, after: Set<tf.Tensor>, pinned: Set<tf.Tensor>, sinceId: number): void {
  for (const t of before) if (t.id >= sinceId && !after.has(t) && !pinned.has(t) && !t.isDisposed) t.dispose();
}
