/**
 * Elementwise bijectors evaluated coordinate by coordinate in float64, for
 * mapping MCMC draws (float64 unconstrained vectors) onto a site's support.
 *
 * In float32 the middle of a wide interval is a grid of
 * `(upper - lower) * 6e-8`: `Uniform(-1e8, 1e8)` put every draw on a grid 12
 * wide, whether its bounds were numbers or tensors. A bijector whose
 * parameters are numbers already has a float64 number path; one whose
 * parameters are tensors (or arrays, which become tensors) is split here into
 * one number-parameter copy per coordinate, its parameters read once from
 * the tensors (float32 values, exact in float64), so a coordinate maps through
 * exactly the code and numbers a number-parameter bijector would use.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Value } from '../../core/value.js';
import { AffineBijector, IntervalBijector, LowerBoundBijector, UpperBoundBijector } from '../../transforms/affine.js';
import type { Bijector } from '../../transforms/bijector.js';
import { ComposeBijector, IndependentBijector } from '../../transforms/compose.js';
import { IdentityBijector } from '../../transforms/elementwise.js';

/** Maps unconstrained coordinate `u` at flat index `j` of the site (row-major) to its constrained value. */
export type CoordinateForward = (u: number, j: number) => number;

/**
 * True where `bijector` maps every coordinate to itself (the identity, or an
 * independent wrapper of it): a site's float64 values are then its
 * unconstrained draws as they are, with no per-coordinate map to call.
 */
export function isIdentityMap(bijector: Bijector): boolean {
  if (bijector instanceof IdentityBijector) return true;
  return bijector instanceof IndependentBijector && isIdentityMap(bijector.base);
}

/**
 * The float64 map of each coordinate of a site of `shape` through
 * `bijector`; undefined where the bijector is not elementwise (it mixes
 * coordinates, e.g. a stick-breaking or Cholesky map) or is one this module
 * does not know how to split, whose parameters are tensors.
 */
export function coordinateForward(bijector: Bijector, shape: readonly number[]): CoordinateForward | undefined {
  if (bijector instanceof IdentityBijector) return (u) => u;
  if (bijector instanceof IndependentBijector) return coordinateForward(bijector.base, shape);
  if (bijector instanceof ComposeBijector) {
    const parts: CoordinateForward[] = [];
    for (const p of bijector.parts) {
      const f = coordinateForward(p, shape);
      if (!f) return undefined;
      parts.push(f);
    }
    return (u, j) => {
      let v = u;
      for (const f of parts) v = f(v, j);
      return v;
    };
  }
  if (bijector.eventDimIn !== 0) return undefined;
  const split = splitParameters(bijector, shape);
  if (split) return (u, j) => split[j]!.forward(u) as number;
  // parameter-free or number-parameter bijectors: their own number path (a tensor answer means tensor parameters;
  // tidy: such a bijector's number path leaves its intermediate tensors behind)
  const probe = tf.tidy(() => bijector.forward(0));
  if (typeof probe !== 'number') {
    (probe as tf.Tensor).dispose();
    return undefined;
  }
  return (u) => bijector.forward(u) as number;
}

/**
 * One number-parameter copy of `bijector` per coordinate of `shape`, for the
 * parameterised elementwise bijectors with a tensor parameter; undefined for
 * the others, or where a parameter does not broadcast to `shape`.
 */
function splitParameters(bijector: Bijector, shape: readonly number[]): Bijector[] | undefined {
  let params: Value[];
  let make: (p: number[]) => Bijector;
  if (bijector instanceof IntervalBijector) {
    params = [bijector.lower, bijector.upper];
    make = ([lo, hi]) => new IntervalBijector(lo!, hi!);
  } else if (bijector instanceof LowerBoundBijector) {
    params = [bijector.lower];
    make = ([lo]) => new LowerBoundBijector(lo!);
  } else if (bijector instanceof UpperBoundBijector) {
    params = [bijector.upper];
    make = ([hi]) => new UpperBoundBijector(hi!);
  } else if (bijector instanceof AffineBijector) {
    params = [bijector.loc, bijector.scale];
    make = ([loc, scale]) => new AffineBijector(loc!, scale!);
  } else return undefined;
  if (params.every((p) => typeof p === 'number')) return undefined;
  const columns = params.map((p) => broadcastValues(p, shape));
  if (columns.some((c) => c === undefined)) return undefined;
  const size = shape.reduce((a, b) => a * b, 1);
  const out: Bijector[] = [];
  for (let j = 0; j < size; j++) out.push(make(columns.map((c) => c![j]!)));
  return out;
}

/** A parameter's values broadcast to `shape` (row-major), as float64; undefined where it does not broadcast. */
function broadcastValues(p: Value, shape: readonly number[]): Float64Array | undefined {
  const size = shape.reduce((a, b) => a * b, 1);
  if (typeof p === 'number') return new Float64Array(size).fill(p);
  const from = p.shape;
  if (from.length > shape.length) return undefined;
  const lead = shape.length - from.length;
  if (!from.every((d, i) => d === 1 || d === shape[lead + i])) return undefined;
  const t = tf.tidy(() => tf.broadcastTo(p, [...shape]));
  const data = Float64Array.from(t.dataSync());
  t.dispose();
  return data;
}
