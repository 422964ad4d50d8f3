/**
 * A fingerprint of a model's arguments: equal fingerprints mean the
 * arguments hold the same values, so a check that depends only on the model
 * and its arguments need not run again (`branch-check.ts` keeps its passes by
 * fingerprint).
 *
 * Numbers, strings, booleans, null and undefined, arrays, typed arrays and
 * plain objects are read by value (every element of every array: about a
 * nanosecond or two per element); tensors and functions by identity
 * (a tensor's values cannot change). Anything else — a `tf.Variable` (its
 * values can change), a Map, a class instance (a model among them), a cycle, nesting deeper than 8
 * levels — has no fingerprint, and the caller then runs its check.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';

const ids = new WeakMap<object, number>();
let nextId = 1;

/** A stable number for an object compared by identity. */
function idOf(x: object): number {
  let id = ids.get(x);
  if (id === undefined) ids.set(x, (id = nextId++));
  return id;
}

/** FNV-1a over 32-bit words, as a running state. */
class Hasher {
  private h1 = 0x811c9dc5;
  private h2 = 0x01000193 ^ 0x5bd1e995;
  private readonly f64 = new Float64Array(1);
  private readonly u32 = new Uint32Array(this.f64.buffer);

  word(w: number): void {
    this.h1 = Math.imul(this.h1 ^ (w | 0), 0x01000193);
    this.h2 = Math.imul(this.h2 ^ (w | 0), 0x5bd1e995) ^ (this.h2 >>> 15);
  }

  number(x: number): void {
    this.f64[0] = x;
    this.word(this.u32[0]!);
    this.word(this.u32[1]!);
  }

  string(s: string): void {
    this.word(s.length);
    for (let i = 0; i < s.length; i++) this.word(s.charCodeAt(i));
  }

  digest(): string {
    return `${(this.h1 >>> 0).toString(36)}.${(this.h2 >>> 0).toString(36)}`;
  }
}

const enum Tag {
  Number = 1,
  String,
  True,
  False,
  Null,
  Undefined,
  Array,
  Typed,
  Object,
  Identity,
  BigInt,
}

function walk(x: unknown, h: Hasher, depth: number, seen: Set<object>): boolean {
  switch (typeof x) {
    case 'number':
      h.word(Tag.Number);
      h.number(x);
      return true;
    case 'string':
      h.word(Tag.String);
      h.string(x);
      return true;
    case 'boolean':
      h.word(x ? Tag.True : Tag.False);
      return true;
    case 'undefined':
      h.word(Tag.Undefined);
      return true;
    case 'bigint':
      h.word(Tag.BigInt);
      h.string(x.toString());
      return true;
    case 'function':
      h.word(Tag.Identity);
      h.word(idOf(x));
      return true;
    case 'symbol':
      return false;
  }
  if (x === null) {
    h.word(Tag.Null);
    return true;
  }
  const o = x as object;
  if (o instanceof tf.Variable) return false;
  if (o instanceof tf.Tensor) {
    h.word(Tag.Identity);
    h.word(idOf(o));
    return true;
  }
  if (ArrayBuffer.isView(o) && !(o instanceof DataView)) {
    const a = o as unknown as ArrayLike<number | bigint>;
    h.word(Tag.Typed);
    h.string(o.constructor.name);
    h.word(a.length);
    for (let i = 0; i < a.length; i++) h.number(Number(a[i]));
    return true;
  }
  if (depth >= 8 || seen.has(o)) return false;
  seen.add(o);
  try {
    if (Array.isArray(o)) {
      h.word(Tag.Array);
      h.word(o.length);
      for (const v of o) if (!walk(v, h, depth + 1, seen)) return false;
      return true;
    }
    const proto = Object.getPrototypeOf(o);
    if (proto === Object.prototype || proto === null) {
      const keys = Object.keys(o);
      h.word(Tag.Object);
      h.word(keys.length);
      for (const k of keys) {
        h.string(k);
        if (!walk((o as Record<string, unknown>)[k], h, depth + 1, seen)) return false;
      }
      return true;
    }
    return false;
  } finally {
    seen.delete(o);
  }
}

/**
 * The fingerprint of `args` (see the module comment), or undefined where
 * they hold something that can change without the fingerprint seeing it.
 *
 * @param args - a model's arguments
 */
export function argsFingerprint(args: readonly unknown[]): string | undefined {
  const h = new Hasher();
  h.word(args.length);
  for (const a of args) if (!walk(a, h, 0, new Set())) return undefined;
  return h.digest();
}
