/**
 * `bijectTo(constraint)`: a bijector from unconstrained real space onto a
 * constraint, for engines that work in unconstrained space (HMC, NUTS,
 * autoguides): sample or optimise `x` freely and use `forward(x)` with the
 * log-Jacobian added to the log density.
 *
 * | constraint | bijector |
 * | --- | --- |
 * | `real`, `realVector` | Identity |
 * | `positive` | Exp |
 * | `nonnegative` | Exp (onto the open half-line; 0 has probability zero under a density) |
 * | `unitInterval` | Sigmoid |
 * | `interval(a, b)` | Interval(a, b): sigmoid then affine |
 * | `greaterThan(a)` | LowerBound(a): `a + exp(x)` |
 * | `lessThan(b)` | UpperBound(b): `b - exp(x)` |
 * | `image(c, f)` (an image under an elementwise `f`) | bijectTo(c) then f |
 * | `simplex` | StickBreaking |
 * | `ordered` | Ordered |
 * | `lowerCholesky` | LowerCholesky |
 * | `corrCholesky` | CorrCholesky |
 * | `positiveDefinite` | Compose(LowerCholesky, CholeskyOuterProduct) |
 * | `independent(c, n)` | Independent(bijectTo(c), n) |
 *
 * Discrete constraints have no bijection from real space: asking is an error
 * that names the constraint. New constraints can be taught with
 * {@link registerBijectTo}.
 *
 * @module
 */
import type { Value } from '../core/value.js';
import type { Constraint } from '../distributions/constraints.js';
import { Interval, LowerBound, UpperBound } from './affine.js';
import type { Bijector } from './bijector.js';
import { CholeskyOuterProduct, LowerCholesky } from './cholesky.js';
import { Compose, Independent } from './compose.js';
import { CorrCholesky } from './corr-cholesky.js';
import { Exp, Identity, Sigmoid } from './elementwise.js';
import { Ordered } from './ordered.js';
import { StickBreaking } from './stick-breaking.js';

/** A rule: a bijector for the constraints it knows, `undefined` for the others. */
export type BijectToRule = (constraint: Constraint) => Bijector | undefined;

const userRules: BijectToRule[] = [];

/**
 * Teach {@link bijectTo} a new constraint. Rules registered later are tried
 * first, before the built-in ones.
 */
export function registerBijectTo(rule: BijectToRule): void {
  userRules.unshift(rule);
}

/** Bounds carried by interval-like constraints (see `constraints.ts`). */
interface Bounds {
  readonly lower?: Value;
  readonly upper?: Value;
}
/** The fields `independent(base, n)` carries. */
interface Reinterpreted {
  readonly base: Constraint;
  readonly reinterpreted: number;
}

function isReinterpreted(c: Constraint): c is Constraint & Reinterpreted {
  const r = c as Partial<Reinterpreted>;
  return r.base !== undefined && typeof r.reinterpreted === 'number';
}

/** The fields of an image constraint (`distributions/transformed.ts`): the preimage and the elementwise bijector that maps it. */
interface Image {
  readonly preimage: Constraint;
  readonly through: Bijector;
}

function isImage(c: Constraint): c is Constraint & Image {
  const r = c as Partial<Image>;
  return r.preimage !== undefined && r.through !== undefined;
}

function bounded(c: Constraint, field: 'lower' | 'upper'): Value {
  const v = (c as Bounds)[field];
  if (v === undefined) throw new Error(`bijectTo: constraint ${c.name} carries no ${field} bound`);
  return v;
}

/** The built-in rules, dispatched on the constraint's name. */
function builtIn(c: Constraint): Bijector | undefined {
  switch (c.name) {
    case 'real':
      return Identity();
    case 'realVector':
      return Identity(c);
    case 'positive':
    case 'nonnegative':
      return Exp();
    case 'unitInterval':
      return Sigmoid();
    case 'simplex':
      return StickBreaking();
    case 'ordered':
      return Ordered();
    case 'lowerCholesky':
      return LowerCholesky();
    case 'corrCholesky':
      return CorrCholesky();
    case 'positiveDefinite':
      return Compose(LowerCholesky(), CholeskyOuterProduct());
  }
  if (c.name.startsWith('interval(')) return Interval(bounded(c, 'lower'), bounded(c, 'upper'));
  if (c.name.startsWith('greaterThan(')) return LowerBound(bounded(c, 'lower'));
  if (c.name.startsWith('lessThan(')) return UpperBound(bounded(c, 'upper'));
  if (c.name.startsWith('independent(') && isReinterpreted(c)) return Independent(bijectTo(c.base), c.reinterpreted);
  if (c.name.startsWith('image(') && isImage(c)) return Compose(bijectTo(c.preimage), c.through);
  return undefined;
}

/**
 * A bijector from unconstrained real space onto `constraint` (see the table
 * in this module's documentation). Throws, naming the constraint, for
 * discrete constraints and for constraints no rule knows.
 */
export function bijectTo(constraint: Constraint): Bijector {
  if (constraint.isDiscrete) {
    throw new Error(`bijectTo: the constraint ${constraint.name} is discrete; there is no bijection from real space onto it (enumerate or use a discrete sampler instead)`);
  }
  for (const rule of userRules) {
    const b = rule(constraint);
    if (b) return b;
  }
  const b = builtIn(constraint);
  if (b) return b;
  throw new Error(`bijectTo: no bijector is known for the constraint ${constraint.name}; register one with registerBijectTo`);
}
