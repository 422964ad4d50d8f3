/**
 * The compiled potentials of an `hmc-gibbs` run: one per discrete
 * configuration (the model conditioned on a frozen copy of the discrete
 * values, recorded and replayed in float64 by `compiled-density.ts`), shared
 * by all the run's chains, least recently used dropped first.
 *
 * A configuration's potential is a function of the continuous coordinates
 * alone, the same whichever chain asks, so one compile serves every chain
 * (chains run one after another, so none holds a potential another drops).
 *
 * When to compile: a compile costs one tfjs run under a tape, a
 * self-check at a second point and the code generation (~0.1-0.4 s for the
 * 112-site coal switchpoint), and a transition at a configuration without
 * one runs the model on tfjs at every gradient (~30-80 ms each, several per
 * NUTS transition). Where the discrete sites have few joint values (every
 * one scalar with a known support, their product at most the cache's size)
 * every configuration recurs, so each is compiled at its first visit;
 * otherwise (plated sites, large spaces) at its second, as before.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { condition } from '../../core/handlers.js';
import type { Model } from '../../core/model.js';
import type { Value, ValueLike } from '../../core/value.js';
import { type Layout, logDensityFn } from './potential.js';

/** A configuration's compiled potential (its first evaluation records and checks it). */
export type ConfigPotential = ReturnType<typeof logDensityFn>;

interface Entry {
  visits: number;
  density?: ConfigPotential;
  /** Tensors the frozen values hold (plated sites), disposed with the entry. */
  owned?: tf.Tensor[];
}

/** Compiled potentials by discrete configuration, for the chains of one `hmc-gibbs` run (see the module's notes). */
export class ConfigPotentials<A extends unknown[], R> {
  /** Why compilation is off for the run (the first configuration that failed to compile), undefined while on. */
  off: string | undefined;
  /** Configurations whose potential was compiled. */
  compiled = 0;
  private readonly entries = new Map<string, Entry>();

  /**
   * @param m - the model
   * @param args - its arguments
   * @param layout - the continuous sites' layout
   * @param compile - false: never compile (`off` says so)
   * @param size - most configurations kept
   */
  constructor(
    private readonly m: Model<A, R>,
    private readonly args: A,
    private readonly layout: Layout,
    compile: boolean,
    private readonly size: number,
  ) {
    if (!compile) this.off = 'compile: false';
  }

  /** The compiled potential of configuration `key`, where it was made (whether or not it compiled yet). */
  peek(key: string): ConfigPotential | undefined {
    return this.entries.get(key)?.density;
  }

  /**
   * A visit of configuration `key` (`values`: the discrete values, which
   * the potential copies): its compiled potential, made at the visit given
   * by `compileAt` (1: the first), or undefined before then and while
   * compilation is off.
   */
  visit(key: string, values: Readonly<Record<string, Value>>, tensors: readonly string[], compileAt: number): ConfigPotential | undefined {
    if (this.off !== undefined) return undefined;
    const entry = this.entries.get(key) ?? { visits: 0 };
    this.entries.delete(key);
    this.entries.set(key, entry);
    if (this.entries.size > this.size) {
      const oldest = this.entries.keys().next().value!;
      for (const t of this.entries.get(oldest)!.owned ?? []) t.dispose();
      this.entries.delete(oldest);
    }
    entry.visits += 1;
    if (entry.visits >= compileAt && entry.density === undefined) {
      // a frozen copy of the values (tensor ones as the entry's own, since the chain's are replaced)
      const frozen: Record<string, Value> = { ...values };
      const owned: tf.Tensor[] = [];
      for (const a of tensors) owned.push((frozen[a] = tf.keep((values[a] as tf.Tensor).clone())));
      entry.owned = owned;
      entry.density = logDensityFn(condition(this.m, frozen as Record<string, ValueLike>), this.args, this.layout, { compile: true }) as ConfigPotential;
      this.compiled += 1;
    }
    return entry.density;
  }

  /** Turns compilation off for the run (`why`), dropping every potential. */
  turnOff(why: string): void {
    this.off = why;
    this.dispose();
  }

  /** Drops every potential and the tensors they own. */
  dispose(): void {
    for (const entry of this.entries.values()) for (const t of entry.owned ?? []) t.dispose();
    this.entries.clear();
  }
}
