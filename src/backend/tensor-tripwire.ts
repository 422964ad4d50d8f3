/**
 * A tripwire on tensor creation: for a run that is meant to make no tensors
 * at all and so needs no ledger (`ledger.ts`), whose `AsyncLocalStorage`
 * turns on Node's promise hooks and roughly doubles the cost of every await
 * while it is enabled.
 *
 * While a tripwire is set, every tensor the engine tracks (whoever makes it)
 * trips it and is recorded. The run checks `tripped` and stops; its caller
 * frees the recorded tensors ({@link TensorTripwire.freeMade}) and runs again
 * under a ledger. (Tensors made by other tfjs work running concurrently
 * while no ledger is open would be freed too: the tripwire is for short
 * attempts that expect to make none.)
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { ledgerOpen } from './ledger.js';

interface TrackingEngine {
  trackTensor(a: tf.Tensor, backend: unknown): void;
}

/** An armed tripwire (see the module note). */
export interface TensorTripwire {
  /** Whether a tensor was made since the tripwire was set. */
  readonly tripped: boolean;
  /** Take the tripwire down (once). */
  clear(): void;
  /**
   * Free the tensors made while it was set that are still alive, not kept
   * (`tf.keep`) and were made while no ledger was open anywhere (with one
   * open, a tensor may be that run's: it is left to it, e.g. the enclosing
   * run of a model that runs inference itself). Call after {@link clear}.
   */
  freeMade(): void;
}

interface Wire {
  tripped: boolean;
  made: { tensor: tf.Tensor; ledgered: boolean }[];
}

const wires = new Set<Wire>();
let restore: (() => void) | undefined;

/** Set a tripwire on tensor creation until `clear()`. */
export function setTensorTripwire(): TensorTripwire {
  const wire: Wire = { tripped: false, made: [] };
  if (wires.size === 0 && restore === undefined) {
    const engine = tf.engine() as unknown as TrackingEngine;
    const own = Object.prototype.hasOwnProperty.call(engine, 'trackTensor');
    const original = engine.trackTensor;
    const mine = function (this: TrackingEngine, a: tf.Tensor, backend: unknown): void {
      original.call(this, a, backend);
      if (wires.size > 0 && !(a instanceof tf.Variable)) for (const w of wires) {
        w.tripped = true;
        w.made.push({ tensor: a, ledgered: ledgerOpen() });
      }
    };
    engine.trackTensor = mine;
    restore = () => {
      if (engine.trackTensor !== mine) return; // another wrapper sits over ours: ours stays below it, passing through
      if (own) engine.trackTensor = original;
      else delete (engine as Partial<TrackingEngine>).trackTensor;
    };
  }
  wires.add(wire);
  let set = true;
  // the wire itself is the object read at every site (a plain field, no getter)
  return Object.assign(wire, {
    clear() {
      if (!set) return;
      set = false;
      wires.delete(wire);
      if (wires.size === 0) {
        restore?.();
        restore = undefined;
      }
    },
    freeMade() {
      const made = wire.made;
      wire.made = [];
      for (const { tensor, ledgered } of made) {
        if (!ledgered && !tensor.isDisposed && !(tensor as unknown as { kept?: boolean }).kept) tensor.dispose();
      }
    },
  });
}
