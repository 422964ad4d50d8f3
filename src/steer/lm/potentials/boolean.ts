/**
 * Boolean constraints as potentials: log-weight 0 where a predicate holds,
 * -Infinity where it fails, on prefixes and/or on complete strings.
 *
 * @module
 */
import type { Vocabulary } from '../types.js';
import { type Potential, PotentialError, describe, describeValue } from './potential.js';

/** A predicate on generated text (and its tokens); may be async. */
export type TextPredicate = (text: string, tokens: readonly number[]) => boolean | Promise<boolean>;

/** Options of {@link BooleanPotential}. */
export interface BooleanPotentialOptions {
  /** Holds for every prefix that some accepted string extends (default: every prefix). Must be monotone: once false, false for all extensions. */
  readonly prefix?: TextPredicate;
  /** Holds for accepted complete strings (default: the prefix predicate). */
  readonly complete?: TextPredicate;
}

/**
 * A hard constraint: `prefix(x) = 0` if `options.prefix(text)` holds, else
 * -Infinity; `complete(x)` likewise with `options.complete`. A constraint on
 * complete strings only (no prefix predicate) prunes nothing until EOS.
 *
 * @example
 * ```ts
 * const noE = new BooleanPotential(vocab, { prefix: (s) => !/e/i.test(s) }, 'no-e');
 * ```
 */
export class BooleanPotential implements Potential {
  private readonly prefixPred: TextPredicate | undefined;
  private readonly completePred: TextPredicate;
  /** Number of predicate evaluations so far (prefix and complete). */
  calls = 0;

  constructor(
    readonly vocab: Vocabulary,
    options: BooleanPotentialOptions,
    readonly name = 'boolean',
  ) {
    if (!options.prefix && !options.complete) throw new Error(`BooleanPotential "${name}": give a prefix or a complete predicate`);
    this.prefixPred = options.prefix;
    this.completePred = options.complete ?? options.prefix!;
  }

  async prefix(x: readonly number[]): Promise<number> {
    if (!this.prefixPred) return 0;
    this.calls++;
    return (await this.ask(this.prefixPred, 'prefix', x)) ? 0 : -Infinity;
  }

  async complete(x: readonly number[]): Promise<number> {
    if (this.prefixPred) {
      this.calls++;
      if (!(await this.ask(this.prefixPred, 'prefix', x))) return -Infinity;
    }
    this.calls++;
    return (await this.ask(this.completePred, 'complete', x)) ? 0 : -Infinity;
  }

  /**
   * One predicate's answer, which must be a boolean: `undefined` (an arrow
   * function with a block body and no `return`) read as false ruled every
   * string out, and the run blamed the constraint ("may be unsatisfiable");
   * a truthy non-boolean (`'no'`, a number) was read as true.
   */
  private async ask(pred: TextPredicate, which: 'prefix' | 'complete', x: readonly number[]): Promise<boolean> {
    const v: unknown = await pred(this.vocab.decode(x), x);
    if (typeof v !== 'boolean') {
      throw new PotentialError(this.name, `the ${which} predicate returned ${describeValue(v)} for ${describe(this.vocab, x)} (expected true or false${v === undefined ? '; does the function return its answer?' : ''})`);
    }
    return v;
  }
}
