/**
 * Parameter-free elementwise bijectors: Identity, Exp, Softplus, Sigmoid.
 *
 * Each works on numbers (float64, no tensor dispatch) and on tensors of any
 * shape (differentiable); the log-Jacobian has the input's shape.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { type Value, add, exp, expm1, log, neg, sigmoid, softplus } from '../core/value.js';
import { type Constraint, positive, real, unitInterval } from '../distributions/constraints.js';
import { Bijector } from './bijector.js';
import { logit, tidyValue } from './math.js';

/**
 * The identity map on a constraint (default `real`). Its event dimension is
 * the constraint's, so `Identity(realVector)` has a log-Jacobian of shape
 * batch (zeros).
 */
export class IdentityBijector extends Bijector {
  readonly name = 'Identity';
  readonly domain: Constraint;
  readonly codomain: Constraint;

  constructor(constraint: Constraint = real) {
    super();
    this.domain = constraint;
    this.codomain = constraint;
  }
  forward(x: Value): Value {
    return x;
  }
  inverse(y: Value): Value {
    return y;
  }
  logDetJacobian(x: Value): Value {
    if (typeof x === 'number') return 0;
    const e = this.eventDimIn;
    if (x.rank < e) throw new Error(`Identity(${this.domain.name}): expected at least ${e} event axes, got shape [${x.shape.join(', ')}]`);
    return tf.zeros(x.shape.slice(0, x.rank - e));
  }
}

/** `y = exp(x)`: real to positive, `log|dy/dx| = x`. */
export class ExpBijector extends Bijector {
  readonly name = 'Exp';
  readonly domain = real;
  readonly codomain = positive;
  forward(x: Value): Value {
    return exp(x);
  }
  inverse(y: Value): Value {
    return log(y);
  }
  logDetJacobian(x: Value): Value {
    return x;
  }
}

/** `y = log(1 + exp(x))`: real to positive, `log|dy/dx| = log sigmoid(x)`. */
export class SoftplusBijector extends Bijector {
  readonly name = 'Softplus';
  readonly domain = real;
  readonly codomain = positive;
  forward(x: Value): Value {
    return softplus(x);
  }
  /** `log(exp(y) - 1)`, computed as `y + log(1 - exp(-y))` (stable for large and small y). */
  inverse(y: Value): Value {
    return tidyValue(y, () => add(y, log(neg(expm1(neg(y))))));
  }
  logDetJacobian(x: Value): Value {
    return tidyValue(x, () => logSigmoidSafe(x));
  }
}

/** `y = 1 / (1 + exp(-x))`: real to the unit interval, `log|dy/dx| = log sigmoid(x) + log sigmoid(-x)`. */
export class SigmoidBijector extends Bijector {
  readonly name = 'Sigmoid';
  readonly domain = real;
  readonly codomain = unitInterval;
  forward(x: Value): Value {
    return sigmoid(x);
  }
  inverse(y: Value): Value {
    return tidyValue(y, () => logit(y));
  }
  logDetJacobian(x: Value): Value {
    return tidyValue(x, () => logSigmoidJacobian(x));
  }
}

/** `log sigmoid'(x) = log sigmoid(x) + log sigmoid(-x)`, stable for large |x|. */
export function logSigmoidJacobian(x: Value): Value {
  return neg(add(softplus(neg(x)), softplus(x)));
}

/**
 * `log sigmoid(x) = -softplus(-x)`. Written with softplus rather than
 * `tf.logSigmoid`, whose custom gradient does not keep its saved input alive
 * when the forward pass runs inside `tf.tidy` under `tf.grad`.
 */
export function logSigmoidSafe(x: Value): Value {
  return neg(softplus(neg(x)));
}

/** The identity bijector on `constraint` (default `real`). */
export function Identity(constraint: Constraint = real): IdentityBijector {
  return new IdentityBijector(constraint);
}
/** `y = exp(x)`, real to positive. */
export function Exp(): ExpBijector {
  return new ExpBijector();
}
/** `y = softplus(x) = log(1 + exp(x))`, real to positive. */
export function Softplus(): SoftplusBijector {
  return new SoftplusBijector();
}
/** `y = sigmoid(x)`, real to the unit interval. */
export function Sigmoid(): SigmoidBijector {
  return new SigmoidBijector();
}
