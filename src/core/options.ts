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
 * @param prefix - put before each key in the message (`'rejuvenate.'` for a nested object's keys)
 */
export function checkOptions(who: string, options: unknown, allowed: Iterable<string>, context = '', prefix = ''): void {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new TycheError(`${who}: options must be an object, got ${options === null ? 'null' : Array.isArray(options) ? 'an array' : typeof options}`);
  }
  const names = allowed instanceof Set ? (allowed as Set<string>) : new Set(allowed);
  for (const k of Object.keys(options)) {
    if (names.has(k)) continue;
    const near = nearMiss(k, names);
    throw new TycheError(`${who}: unknown option "${prefix}${k}"${context}${near === undefined ? '' : ` (did you mean "${prefix}${near}"?)`}; allowed: ${[...names].map((n) => prefix + n).join(', ')}`);
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

/**
 * The name among `candidates` that `given` most likely misspells, or
 * undefined when none is close: the same name in another case, a name that
 * starts with `given` (`'sys'` for `'systematic'`), or the nearest by edit
 * distance (insertions, deletions, substitutions and swaps of neighbours)
 * within a third of its length (at least 1).
 */
export function nearMiss(given: string, candidates: Iterable<string>): string | undefined {
  const lower = given.toLowerCase();
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const cl = c.toLowerCase();
    if (cl === lower) return c;
    if (lower.length >= 2 && cl.startsWith(lower)) return c;
    const d = editDistance(lower, cl);
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best !== undefined && bestDistance <= Math.max(1, Math.floor(best.length / 3)) ? best : undefined;
}

/** Optimal string alignment distance: edits, counting a swap of neighbours as one. */
function editDistance(a: string, b: string): number {
  const rows: number[][] = [];
  for (let i = 0; i <= a.length; i++) {
    rows.push([i]);
    for (let j = 1; j <= b.length; j++) {
      if (i === 0) {
        rows[0]!.push(j);
        continue;
      }
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(rows[i - 1]![j]! + 1, rows[i]![j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, rows[i - 2]![j - 2]! + 1);
      rows[i]!.push(d);
    }
  }
  return rows[a.length]![b.length]!;
}

/**
 * What one option may hold, for {@link checkOptionValues}:
 * - `integer`: an integer in [`min`, `max`] (`max` default unbounded); a
 *   `ceiling` is a limit of the implementation rather than of the option's
 *   meaning: a value above it is refused with the ceiling's reason;
 * - `number`: a finite number in the interval, each end closed unless
 *   `openMin`/`openMax`; `alsoChoices` lists strings it may be instead
 *   (`bandwidth: 'median'`), `orType` the `typeof` of other forms it may
 *   take, worded by `orElse` (`lr`: a schedule, `'function'`);
 * - `choice`: one of `values` (strings or booleans); `orElse` words the other
 *   forms it may take, which are not checked here (`'values by address'`), and
 *   `orType` the `typeof` of those forms (`'object'`, `'function'`);
 * - `boolean`, `function`, `signal` (an AbortSignal), `object` (a plain object or
 *   an instance; `what` words it), whose own keys may be limited to `keys`
 *   (an unknown key is named with its near miss, as `rejuvenate.step`) and
 *   checked by `rules` in turn, unless `opaque` says the value is another
 *   accepted kind (a tfjs optimiser where a spec may stand).
 */
export type OptionRule =
  | { readonly type: 'integer'; readonly min: number; readonly max?: number; readonly ceiling?: { readonly max: number; readonly why: string } }
  | {
      readonly type: 'number';
      readonly min?: number;
      readonly max?: number;
      readonly openMin?: boolean;
      readonly openMax?: boolean;
      readonly alsoChoices?: readonly string[];
      readonly orType?: readonly ('object' | 'function')[];
      readonly orElse?: string;
    }
  | { readonly type: 'choice'; readonly values: readonly (string | boolean)[]; readonly orElse?: string; readonly orType?: readonly ('object' | 'function')[] }
  | { readonly type: 'boolean' }
  | { readonly type: 'function' }
  | { readonly type: 'signal' }
  | { readonly type: 'object'; readonly what: string; readonly keys?: readonly string[]; readonly rules?: OptionRules; readonly opaque?: (value: object) => boolean };

/** Rules by option name (see {@link checkOptionValues}). */
export type OptionRules = Readonly<Record<string, OptionRule>>;

/** `got ...` for a message: strings quoted, other values by type. */
function got(v: unknown): string {
  if (typeof v === 'string') return `string ${JSON.stringify(v)}`;
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  return typeof v;
}

/** A choice as written in code: strings quoted, booleans bare. */
const literal = (v: string | boolean): string => (typeof v === 'string' ? `'${v}'` : String(v));

/** `'a' or 'b'`, `one of 'a', 'b', 'c'`, with the words for other forms last. */
function choices(values: readonly (string | boolean)[], orElse?: string): string {
  const all = [...values.map(literal), ...(orElse ? [orElse] : [])];
  if (all.length <= 2) return all.join(' or ');
  return `one of ${all.slice(0, -1).join(', ')} or ${all[all.length - 1]}`;
}

/** The interval of a number rule, as `(0, 1)`, `[0, 1]`, `> 0`, `>= 0`. */
function interval(r: { min?: number; max?: number; openMin?: boolean; openMax?: boolean }): string {
  if (r.min !== undefined && r.max !== undefined) return `in ${r.openMin ? '(' : '['}${r.min}, ${r.max}${r.openMax ? ')' : ']'}`;
  if (r.min !== undefined) return r.openMin ? `> ${r.min}` : `>= ${r.min}`;
  if (r.max !== undefined) return r.openMax ? `< ${r.max}` : `<= ${r.max}`;
  return 'finite';
}

/**
 * Checks the options that are set against their rules, before an entry point
 * does any work, so that every engine words the same mistake the same way:
 * a value of the wrong kind is a `TypeError`, a number out of range or a
 * string that is not among the choices a `RangeError`, each naming the entry
 * point and the option, saying what it must be and what it got, and, for a
 * misspelt choice, the near miss:
 *
 * - `nuts: targetAccept must be a number in (0, 1), got 1.5`
 * - `nuts: samples must be a positive integer, got 2.5`
 * - `nuts: massMatrix must be one of 'auto', 'diag', 'dense', 'lowrank' or 'identity', got 'dence' (did you mean 'dense'?)`
 *
 * Options absent or `undefined` are not checked (their defaults apply).
 *
 * @param who - the entry point, first in the message
 * @param options - the options object as the caller gave it
 * @param rules - the rule of each option to check
 * @param prefix - put before each name in messages (`'rejuvenate.'` for the keys of a nested object)
 */
export function checkOptionValues(who: string, options: object, rules: OptionRules, prefix = ''): void {
  for (const key of Object.keys(rules)) {
    const rule = rules[key];
    const name = prefix + key;
    const v = (options as Record<string, unknown>)[key];
    if (v === undefined) continue;
    const fail = (Err: typeof TypeError, must: string, hint = '', gotText = got(v)): never => {
      throw new Err(`${who}: ${name} must be ${must}, got ${gotText}${hint}`);
    };
    switch (rule.type) {
      case 'integer': {
        const must = rule.max !== undefined ? `an integer in [${rule.min}, ${rule.max}]` : rule.min === 1 ? 'a positive integer' : rule.min === 0 ? 'a non-negative integer' : `an integer >= ${rule.min}`;
        if (typeof v !== 'number') fail(TypeError, must);
        if (!Number.isInteger(v) || (v as number) < rule.min || (rule.max !== undefined && (v as number) > rule.max)) fail(RangeError, must);
        if (rule.ceiling !== undefined && (v as number) > rule.ceiling.max) fail(RangeError, `at most ${rule.ceiling.max}`, `: ${rule.ceiling.why}`);
        break;
      }
      case 'number': {
        const must = `a number ${interval(rule)}${rule.alsoChoices ? ` or ${rule.alsoChoices.map((c) => literal(c)).join(' or ')}` : ''}${rule.orElse ? ` or ${rule.orElse}` : ''}`;
        if (typeof v === 'string' && rule.alsoChoices?.includes(v)) break;
        if (rule.orType?.includes(typeof v as 'object' | 'function') && v !== null && !Array.isArray(v)) break;
        if (typeof v !== 'number') {
          const near = typeof v === 'string' && rule.alsoChoices ? nearMiss(v, rule.alsoChoices) : undefined;
          fail(TypeError, must, near !== undefined ? ` (did you mean '${near}'?)` : '');
        }
        const x = v as number;
        const below = rule.min !== undefined && (rule.openMin ? !(x > rule.min) : !(x >= rule.min));
        const above = rule.max !== undefined && (rule.openMax ? !(x < rule.max) : !(x <= rule.max));
        if (!Number.isFinite(x) || below || above) fail(RangeError, must);
        break;
      }
      case 'choice': {
        if ((rule.values as readonly unknown[]).includes(v)) break;
        if (rule.orType?.includes(typeof v as 'object' | 'function') && v !== null && !Array.isArray(v)) break;
        const near = typeof v === 'string' ? nearMiss(v, rule.values.filter((c): c is string => typeof c === 'string')) : undefined;
        // a string among choices is a range mistake, written as the choices are ('dence'); anything else a type mistake
        if (typeof v === 'string') fail(RangeError, choices(rule.values, rule.orElse), near !== undefined ? ` (did you mean '${near}'?)` : '', `'${v}'`);
        fail(TypeError, choices(rule.values, rule.orElse));
        break;
      }
      case 'boolean':
        if (typeof v !== 'boolean') fail(TypeError, 'true or false');
        break;
      case 'function':
        if (typeof v !== 'function') fail(TypeError, 'a function');
        break;
      case 'signal':
        if (typeof v !== 'object' || v === null || typeof (v as AbortSignal).aborted !== 'boolean' || typeof (v as AbortSignal).addEventListener !== 'function') fail(TypeError, 'an AbortSignal (e.g. new AbortController().signal)');
        break;
      case 'object':
        if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(TypeError, rule.what);
        if (rule.opaque?.(v as object)) break;
        if (rule.keys) checkOptions(who, v, rule.keys, '', `${name}.`);
        if (rule.rules) checkOptionValues(who, v as object, rule.rules, `${name}.`);
        break;
    }
  }
}
