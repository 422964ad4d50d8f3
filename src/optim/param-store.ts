/**
 * Learnable parameters for variational inference.
 *
 * A model or guide declares a parameter with `await param(name, init,
 * constraint?)`. Under a {@link ParamStore}'s handler the first execution
 * creates a `tf.Variable` holding the parameter in unconstrained space
 * (`bijectTo(constraint).inverse(init)`), and every execution reads
 * `bijectTo(constraint).forward(variable)` — a tensor on the gradient tape, so
 * objectives differentiate with respect to the variables and optimisers update
 * them freely while the constrained value always satisfies the constraint.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Handler, Message } from '../core/message.js';
import { ModelError } from '../core/model.js';
import { type Value, toTensor } from '../core/value.js';
import { type Constraint, real } from '../distributions/constraints.js';
import type { Bijector } from '../transforms/bijector.js';
import { bijectTo } from '../transforms/biject-to.js';

/** One stored parameter. */
export interface StoredParam {
  /** The parameter's address. */
  readonly address: string;
  /** The unconstrained variable the optimiser updates. */
  readonly variable: tf.Variable;
  /** The constraint of the parameter's value. */
  readonly constraint: Constraint;
  /** Maps the variable onto the constraint. */
  readonly bijector: Bijector;
}

/** Parameters by address, as `tf.Variable`s in unconstrained space. */
export class ParamStore {
  private readonly params = new Map<string, StoredParam>();

  /** Addresses of the stored parameters, in creation order. */
  addresses(): string[] {
    return [...this.params.keys()];
  }

  /** The stored parameter at `address`, or undefined. */
  get(address: string): StoredParam | undefined {
    return this.params.get(address);
  }

  /** The unconstrained variables (what the optimiser updates). */
  variables(): tf.Variable[] {
    return [...this.params.values()].map((p) => p.variable);
  }

  /** Number of parameters. */
  get size(): number {
    return this.params.size;
  }

  /**
   * Create a parameter from its constrained initial value. An existing
   * parameter is an error (addresses must be unique across model and guide).
   */
  create(address: string, init: Value, constraint: Constraint = real): StoredParam {
    if (this.params.has(address)) throw new ModelError(address, 'parameter already exists in the store');
    const bijector = bijectTo(constraint);
    const unconstrained = tf.tidy(() => toTensor(bijector.inverse(tf.cast(toTensor(init), 'float32'))));
    const bad = tf.tidy(() => tf.logicalNot(tf.all(tf.isFinite(unconstrained))).dataSync()[0]);
    if (bad) {
      unconstrained.dispose();
      throw new ModelError(address, `initial value is outside the constraint ${constraint.name} (or not finite)`);
    }
    const variable = tf.variable(unconstrained, true);
    unconstrained.dispose();
    const p: StoredParam = { address, variable, constraint, bijector };
    this.params.set(address, p);
    return p;
  }

  /** The constrained value of a parameter, as a tensor on the current tape (differentiable). */
  read(address: string): tf.Tensor {
    const p = this.params.get(address);
    if (!p) throw new ModelError(address, `no such parameter; known: ${this.addresses().join(', ') || '(none)'}`);
    const v = toTensor(p.bijector.forward(p.variable));
    // never hand out the variable itself: callers may dispose what they are given
    return v === p.variable ? tf.clone(v) : v;
  }

  /** Constrained values as plain arrays (a number for scalars), by address. */
  values(): Record<string, number | number[]> {
    const out: Record<string, number | number[]> = {};
    for (const a of this.params.keys()) {
      const t = this.read(a);
      const data = Array.from(t.dataSync());
      out[a] = t.rank === 0 ? data[0] : data;
      t.dispose();
    }
    return out;
  }

  /**
   * The handler serving `param` sites: it gives each site the stored value,
   * creating the parameter from the site's initial value on first sight.
   * Use it innermost (first) in the handler list so the trace records the
   * stored value.
   */
  handler(): Handler {
    return {
      process: (msg: Message) => {
        if (msg.type !== 'param' || msg.value !== undefined) return;
        if (this.params.has(msg.address)) msg.value = this.read(msg.address);
      },
      postprocess: (msg: Message) => {
        if (msg.type !== 'param' || this.params.has(msg.address)) return;
        // first sight: the runtime has filled in the initial value
        this.create(msg.address, msg.value as Value, msg.constraint);
        msg.value = this.read(msg.address);
      },
    };
  }

  /** Dispose every variable (the store is empty afterwards). */
  dispose(): void {
    for (const p of this.params.values()) p.variable.dispose();
    this.params.clear();
  }
}
