/**
 * One check for the options object of every entry point (`infer`, the
 * steering runs): an unknown key (a misspelt `particels`) is an error naming
 * it and listing the allowed ones, and `seed` must be a finite number or a
 * string, where a silent default (or a NaN seed) would otherwise run.
 *
 * The allowed names come from {@link optionNames}, which the compiler holds to
 * the options type: a key missing from the list, or one the type lacks, is a
 * type error, so the list cannot drift from the interface.
 *
 * @module
 */
import { TycheError } from './errors.js';

/**
 * The option names of an options type `T`, every key listed once: pass an
 * object with each key of `T` set to `true` (the compiler refuses a missing
 * or extra key).
 *
 * ```ts
 * const NAMES = optionNames<{ particles?: number; seed?: number }>({ particles: true, seed: true });
 * ```
 */
export function optionNames<T>(keys: { readonly [K in keyof Required<T>]: true }): readonly string[] {
  return Object.keys(keys);
}

/**
 * Throws a {@link TycheError} when `options` is not an object, has a key
 * outside `allowed`, or has a `seed` that is not a finite number or a string.
 *
 * @param who - the entry point, first in the message (`smcSteer`, `infer`)
 * @param options - the options object as the caller gave it
 * @param allowed - the names it may hold (see {@link optionNames})
 * @param context - words after the unknown key, e.g. ` for method "nuts"`
 */
export function checkOptions(who: string, options: unknown, allowed: Iterable<string>, context = ''): void {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new TycheError(`${who}: options must be an object, got ${options === null ? 'null' : Array.isArray(options) ? 'an array' : typeof options}`);
  }
  const names = allowed instanceof Set ? (allowed as Set<string>) : new Set(allowed);
  for (const k of Object.keys(options)) {
    if (!names.has(k)) throw new TycheError(`${who}: unknown option "${k}"${context}; allowed: ${[...names].join(', ')}`);
  }
  checkSeed(who, (options as { seed?: unknown }).seed);
}

/**
 * Throws a {@link TycheError} when `seed` is given and is not a finite
 * number or a string (NaN and Infinity would seed a stream silently:
 * `String(NaN)` is a fine hash key, so every NaN a computed seed carried would
 * give the same run).
 *
 * @param who - the entry point, first in the message
 */
export function checkSeed(who: string, seed: unknown): void {
  if (seed !== undefined && typeof seed !== 'number' && typeof seed !== 'string') {
    throw new TycheError(`${who}: seed must be a number or a string, got ${seed === null ? 'null' : typeof seed}`);
  }
  if (typeof seed === 'number' && !Number.isFinite(seed)) throw new TycheError(`${who}: seed must be a finite number or a string, got ${seed}`);
}

/**
 * Checks the count and length options of an entry point that are set
 * (`particles`, `steps`, `maxTokens`, ...), so that every entry point words
 * the same mistake the same way: a value that is not a number is a
 * `TypeError` (`smcSteer: particles must be a number, got string "4"`), a
 * number that is not an integer at least its minimum a `RangeError`
 * (`fkSteering: steps must be a positive integer, got -1`).
 *
 * @param who - the entry point, first in the message
 * @param options - the options object as the caller gave it
 * @param mins - each option to check and its least allowed value
 */
export function checkIntegerOptions(who: string, options: object, mins: Readonly<Record<string, number>>): void {
  for (const [name, min] of Object.entries(mins)) {
    const v = (options as Record<string, unknown>)[name];
    if (v === undefined) continue;
    if (typeof v !== 'number') throw new TypeError(`${who}: ${name} must be a number, got ${typeof v === 'string' ? `string ${JSON.stringify(v)}` : v === null ? 'null' : typeof v}`);
    if (!Number.isInteger(v) || v < min) throw new RangeError(`${who}: ${name} must be ${min === 1 ? 'a positive integer' : min === 0 ? 'a non-negative integer' : `an integer >= ${min}`}, got ${v}`);
  }
}
