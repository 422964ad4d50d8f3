/**
 * A tripwire on tensor creation: for a run that expects to make no tensors
 * at all and so goes without a ledger (`ledger.ts`), whose
 * `AsyncLocalStorage` turns on Node's promise hooks and roughly doubles the
 * cost of every await while it is enabled.
 *
 * While a tripwire is set, any tensor the engine tracks trips it, whoever
 * makes it (a tensor cannot be told apart from one made by other tfjs work
 * running concurrently without the async context a ledger follows). The run
 * reads `tripped`, stops, and its caller runs it again under a ledger. The
 * tripwire frees nothing: a run that may make tensors should find out first
 * under a ledger (e.g. one short probe run).
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';

interface TrackingEngine {
  trackTensor(a: tf.Tensor, backend: unknown): void;
}

/** A set tripwire (see the module note). */
export interface TensorTripwire {
  /** Whether a tensor was made since the tripwire was set (a plain field: cheap to read at every site). */
  readonly tripped: boolean;
  /** Take the tripwire down (once). */
  clear(): void;
}

const wires = new Set<{ tripped: boolean }>();
let restore: (() => void) | undefined;

/** Set a tripwire on tensor creation until `clear()`. */
export function setTensorTripwire(): TensorTripwire {
  if (wires.size === 0 && restore === undefined) {
    const engine = tf.engine() as unknown as TrackingEngine;
    const own = Object.prototype.hasOwnProperty.call(engine, 'trackTensor');
    const original = engine.trackTensor;
    const mine = function (this: TrackingEngine, a: tf.Tensor, backend: unknown): void {
      original.call(this, a, backend);
      for (const w of wires) w.tripped = true;
    };
    engine.trackTensor = mine;
    restore = () => {
      if (engine.trackTensor !== mine) return; // another wrapper sits over ours: ours stays below it, passing through
      if (own) engine.trackTensor = original;
      else delete (engine as Partial<TrackingEngine>).trackTensor;
    };
  }
  let set = true;
  const wire = {
    tripped: false,
    clear() {
      if (!set) return;
      set = false;
      wires.delete(wire);
      if (wires.size === 0) {
        restore?.();
        restore = undefined;
      }
    },
  };
  wires.add(wire);
  return wire;
}
