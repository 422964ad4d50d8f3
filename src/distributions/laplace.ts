/**
 * The Laplace (double exponential) distribution.
 *
 * @module
 */
import type { Rng } from '../core/rng.js';
import { type Value, type ValueLike, abs, add, div, log, mul, neg, square, sub } from '../core/value.js';
import { positive, real } from './constraints.js';
import { Distribution, type DrawType, type Typed, batchShapeOf, checkParam, param } from './distribution.js';
import { toBatchShape, logDensity, standardDraws, standardLaplace } from './draws.js';

const LOG2 = Math.log(2);

/** Laplace(loc, scale): density exp(-|x - loc| / scale) / (2 scale). Reparameterised. */
export class LaplaceDistribution extends Distribution {
  readonly name = 'Laplace';
  readonly support = real;
  override readonly hasRsample = true;
  readonly batchShape: readonly number[];
  /** Location (the mean and median). */
  readonly loc: Value;
  /** Scale > 0. */
  readonly scale: Value;

  constructor(loc: ValueLike = 0, scale: ValueLike = 1) {
    super();
    this.loc = param('Laplace', 'loc', loc);
    this.scale = param('Laplace', 'scale', scale);
    checkParam('Laplace', 'scale', this.scale, positive);
    this.batchShape = batchShapeOf('Laplace', { loc: this.loc, scale: this.scale });
  }

  sample(rng: Rng, sampleShape: readonly number[] = []): Value {
    return add(this.loc, mul(this.scale, standardDraws(rng, this.shape(sampleShape), standardLaplace)));
  }

  logProb(x: Value): Value {
    return logDensity(this.support, x, 0, (v) => neg(add(div(abs(sub(v, this.loc)), this.scale), add(log(this.scale), LOG2))));
  }

  override get mean(): Value {
    return toBatchShape(this.loc, this.batchShape);
  }
  override get variance(): Value {
    return mul(2, square(this.scale));
  }
}

/** Laplace(loc = 0, scale = 1). Parameters may be numbers, arrays or tensors. */
export function Laplace<L extends ValueLike = number, S extends ValueLike = number>(loc: L = 0 as L, scale: S = 1 as S): LaplaceDistribution & Typed<DrawType<[L, S]>> {
  return new LaplaceDistribution(loc, scale);
}
