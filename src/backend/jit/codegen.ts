/**
 * Generated loops: kernels build the source of their loops, with shapes and
 * strides written in as literals, and get back a function made by
 * `new Function` (from tyche's own fixed templates, never from user input)
 * that closes over the kernel's buffers.
 *
 * @module
 */
import { erfNumber } from '../../math/special.js';

/** Numeric helpers generated loops may call as `H.name`. */
export const H = {
  softplus(x: number): number {
    return x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x));
  },
  sigmoid(x: number): number {
    return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
  },
  /** erf in double precision. */
  erf: erfNumber,
  /** Round half to even, as tfjs does. */
  round(x: number): number {
    const r = Math.round(x);
    return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
  },
};

/** Loops doing at least this many element operations get a function of their own (see {@link compileLoop}). */
export const OWN_FUNCTION_WORK = 256;

const shared = new Map<string, (...a: unknown[]) => void>();

/**
 * A loop compiled for one kernel of one graph: `body` runs with each name in
 * `params` bound to the matching entry of `args` (its buffers and index maps).
 *
 * A big loop (`work` >= {@link OWN_FUNCTION_WORK} element operations) gets a
 * new function closing over its buffers, so it is the only closure of its
 * code and V8 may treat the buffers as constants: shared between graphs,
 * such loops ran ~1.5-2x slower in every graph but the first
 * (`bench/jit-graphs.ts`). Small loops share one function per distinct
 * source, so they are optimised after few calls (a fresh function per small
 * loop made short runs of small models ~30% slower while each warmed up).
 */
export function compileLoop(params: readonly string[], body: string, args: readonly unknown[], work: number): () => void {
  if (params.length !== args.length) throw new Error(`compileLoop: ${params.length} names for ${args.length} values`);
  if (work >= OWN_FUNCTION_WORK) {
    const make = new Function('H', ...params, `return function loop() {\n${body}\n};`) as (...a: unknown[]) => () => void;
    return make(H, ...args);
  }
  const key = `${params.join(',')}|${body}`;
  let fn = shared.get(key);
  if (!fn) {
    fn = (new Function('H', ...params, body) as (...a: unknown[]) => void).bind(null, H);
    shared.set(key, fn);
  }
  return bindArgs(fn, args);
}

/** `() => f(...args)` without the spread (a spread call costs more than these small loops). */
function bindArgs(f: (...a: unknown[]) => void, args: readonly unknown[]): () => void {
  const [a, b, c, d, e, g, h, i] = args;
  switch (args.length) {
    case 2:
      return () => f(a, b);
    case 3:
      return () => f(a, b, c);
    case 4:
      return () => f(a, b, c, d);
    case 5:
      return () => f(a, b, c, d, e);
    case 7:
      return () => f(a, b, c, d, e, g, h);
    case 8:
      return () => f(a, b, c, d, e, g, h, i);
    default:
      return () => f(...args);
  }
}
