/**
 * Student's t distribution.
 *
 * @module
 */
import type { Rng } from '../core/rng.js';
import { halfStudentTLogCdf, lgammaDiff, studentTCdf, studentTLogCdf } from '../core/special.js';
import { type Value, type ValueLike, add, all, div, exp, gt, log, log1p, maximum, mul, neg, sqrt, square, sub, where } from '../core/value.js';
import { positive, real } from './constraints.js';
import { Distribution, type DrawType, type Typed, batchShapeOf, checkParam, param, standardNormal, valueArg } from './distribution.js';
import { toBatchShape, logDensity } from './draws.js';
import { sampleGamma } from './gamma.js';
import { HalfDistribution } from './half.js';

const HALF_LOG_PI = 0.5 * Math.log(Math.PI);

/**
 * StudentT(df, loc, scale): loc + scale T with T a standard t variate with
 * `df` degrees of freedom; density
 * Gamma((df+1)/2) / (Gamma(df/2) sqrt(df pi) scale) (1 + z^2/df)^(-(df+1)/2),
 * z = (x - loc) / scale.
 *
 * Draws are Z / sqrt(V / df) with Z standard normal and V = 2 Gamma(df/2)
 * chi-squared, reparameterised in all three parameters (in `df` through
 * {@link sampleGamma}). The mean exists for df > 1 and the variance for
 * df > 1 (infinite when df <= 2); reading them otherwise throws.
 */
export class StudentTDistribution extends Distribution {
  readonly name = 'StudentT';
  readonly support = real;
  override readonly hasRsample = true;
  readonly batchShape: readonly number[];
  /** Degrees of freedom > 0. */
  readonly df: Value;
  /** Location (the median). */
  readonly loc: Value;
  /** Scale > 0. */
  readonly scale: Value;

  constructor(df: ValueLike, loc: ValueLike = 0, scale: ValueLike = 1) {
    super();
    this.df = param('StudentT', 'df', df);
    this.loc = param('StudentT', 'loc', loc);
    this.scale = param('StudentT', 'scale', scale);
    checkParam('StudentT', 'df', this.df, positive);
    checkParam('StudentT', 'scale', this.scale, positive);
    this.batchShape = batchShapeOf('StudentT', { df: this.df, loc: this.loc, scale: this.scale });
  }

  sample(rng: Rng, sampleShape: readonly number[] = []): Value {
    const shape = this.shape(sampleShape);
    const z = standardNormal(rng, shape);
    const g = sampleGamma(rng, mul(0.5, this.df), shape);
    const t = div(z, sqrt(div(mul(2, g), this.df)));
    return add(this.loc, mul(this.scale, t));
  }

  logProb(xLike: ValueLike): Value {
    const x = valueArg(this, 'logProb', xLike);
    const df = this.df;
    const half = mul(0.5, add(df, 1));
    // lgamma((df + 1) / 2) - lgamma(df / 2) as one difference (large df cancels it)
    const norm = add(lgammaDiff(mul(0.5, df), 0.5), neg(add(mul(0.5, log(df)), add(log(this.scale), HALF_LOG_PI))));
    return logDensity(this.support, x, 0, (v) => {
      const z = div(sub(v, this.loc), this.scale);
      return sub(norm, mul(half, log1p(div(square(z), df))));
    });
  }

  override get mean(): Value {
    this.requireDf(1, 'mean');
    return toBatchShape(this.loc, this.batchShape);
  }
  override get variance(): Value {
    this.requireDf(1, 'variance');
    const df = this.df;
    return where(gt(df, 2), div(mul(square(this.scale), df), sub(df, 2)), Infinity);
  }

  /**
   * P(X <= x) through the regularised incomplete beta (float64; for tensors
   * differentiable in x, loc and scale exactly and in df by central
   * differences). No `icdf`: `Truncated` draws by rejection.
   */
  override cdf(xLike: ValueLike): Value {
    const x = valueArg(this, 'cdf', xLike);
    return studentTCdf(this.df, div(sub(x, this.loc), this.scale));
  }
  /**
   * log P(X <= x) (Stan's `student_t_lcdf`): float64 in log space for numbers
   * and tensors, accurate in both tails (finite for |x| up to the largest
   * double; tensors differentiable in log space, as `studentTLogCdf`).
   */
  override logCdf(xLike: ValueLike): Value {
    const x = valueArg(this, 'logCdf', xLike);
    return studentTLogCdf(this.df, div(sub(x, this.loc), this.scale));
  }
  /** log P(X > x) (Stan's `student_t_lccdf`), the log-cdf at the reflected point. */
  override logSurvival(xLike: ValueLike): Value {
    const x = valueArg(this, 'logSurvival', xLike);
    return studentTLogCdf(this.df, div(sub(this.loc, x), this.scale));
  }

  private requireDf(min: number, moment: string): void {
    if (!all(gt(this.df, min))) throw new Error(`StudentT: the ${moment} is undefined unless df > ${min}`);
  }
}

/** StudentT(df, loc = 0, scale = 1). Parameters may be numbers, arrays or tensors. */
export function StudentT<D extends ValueLike, L extends ValueLike = number, S extends ValueLike = number>(df: D, loc: L = 0 as L, scale: S = 1 as S): StudentTDistribution & Typed<DrawType<[D, L, S]>> {
  return new StudentTDistribution(df, loc, scale);
}

/**
 * HalfStudentT(df, scale): |X| for X ~ StudentT(df, 0, scale), density
 * 2 t(x) on x >= 0 (what Stan's `real<lower=0> sigma; sigma ~ student_t(df, 0, s);`
 * means). Reparameterised.
 */
export class HalfStudentTDistribution extends HalfDistribution<StudentTDistribution> {
  readonly name = 'HalfStudentT';
  /** Degrees of freedom > 0. */
  readonly df: Value;

  constructor(df: ValueLike, scale: ValueLike = 1) {
    super('HalfStudentT', scale, (s) => new StudentTDistribution(df, 0, s));
    this.df = this.base.df;
  }

  /** The mean (df > 1): 2 scale sqrt(df / pi) Gamma((df+1)/2) / (Gamma(df/2) (df - 1)). */
  override get mean(): Value {
    if (!all(gt(this.df, 1))) throw new Error('HalfStudentT: the mean is undefined unless df > 1');
    const df = this.df;
    const logRatio = lgammaDiff(mul(0.5, df), 0.5);
    return mul(mul(2, this.scale), div(mul(sqrt(div(df, Math.PI)), exp(logRatio)), sub(df, 1)));
  }
  /** E[X^2] - mean^2, with E[X^2] the StudentT variance (df > 2; infinite for 1 < df <= 2). */
  override get variance(): Value {
    if (!all(gt(this.df, 1))) throw new Error('HalfStudentT: the variance is undefined unless df > 1');
    return where(gt(this.df, 2), sub(this.base.variance, square(this.mean)), Infinity);
  }

  /** 2 F(x) - 1 for x >= 0 (F the StudentT(df, 0, scale) cdf), else 0. */
  override cdf(xLike: ValueLike): Value {
    const x = valueArg(this, 'cdf', xLike);
    return sub(mul(2, this.base.cdf(maximum(x, 0))), 1);
  }
  /**
   * log P(|T| <= z), z = x / scale: log I_{z^2/(df+z^2)}(1/2, df/2) while z^2 < df, log(1 - 2 F(-z)) beyond;
   * float64 in log space for numbers and tensors (`halfStudentTLogCdf`), accurate near 0 and far out.
   */
  override logCdf(xLike: ValueLike): Value {
    const x = valueArg(this, 'logCdf', xLike);
    return halfStudentTLogCdf(this.df, div(maximum(x, 0), this.scale), false);
  }
  /** log P(|T| > z), z = x / scale: log(1 - I) near 0, log(2 F(-z)) beyond (finite far in the tail); as {@link logCdf}. */
  override logSurvival(xLike: ValueLike): Value {
    const x = valueArg(this, 'logSurvival', xLike);
    return halfStudentTLogCdf(this.df, div(maximum(x, 0), this.scale), true);
  }
}

/** HalfStudentT(df, scale = 1). Parameters may be numbers, arrays or tensors. */
export function HalfStudentT<D extends ValueLike, S extends ValueLike = number>(df: D, scale: S = 1 as S): HalfStudentTDistribution & Typed<DrawType<[D, S]>> {
  return new HalfStudentTDistribution(df, scale);
}
