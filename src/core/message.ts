/**
 * Messages and handlers: the effect system under every model.
 *
 * Each effect a model performs (`sample`, `observe`, `factor`,
 * `deterministic`, `param`) becomes a {@link Message} that travels through
 * the execution's stack of {@link Handler}s, innermost first, as in NumPyro's
 * `apply_stack`. A handler may fill in the value, change the scale or mask,
 * record the site, or suspend the execution (asynchronously). When no
 * handler supplies a value the runtime draws one from the distribution.
 *
 * @module
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { Distribution } from '../distributions/distribution.js';
import type { Constraint } from '../distributions/constraints.js';
import type { Rng } from './rng.js';
import type { Value } from './value.js';

/** The kinds of effect a model can perform. */
export type SiteType = 'sample' | 'factor' | 'deterministic' | 'param';

/** A plate frame: a conditionally independent batch dimension. */
export interface PlateFrame {
  /** The plate's name. */
  readonly name: string;
  /** The full size of the plate. */
  readonly size: number;
  /** The number of indices drawn in this execution (= size without subsampling). */
  readonly subsampleSize: number;
  /** The batch dimension the plate occupies, counted from the right (-1, -2, ...). */
  readonly dim: number;
  /** The indices of the plate members present in this execution. */
  readonly indices: number[];
}

/** Per-site options a user may pass to `sample`. */
export interface SampleOptions {
  /**
   * Hints for inference engines, e.g. `{ enumerate: false }` or a
   * per-site proposal. Engines document the keys they read.
   */
  readonly infer?: Record<string, unknown>;
}

/** One effect in flight. Handlers read and change it. */
export interface Message {
  readonly type: SiteType;
  /** The unique address of the site in this execution. */
  readonly address: string;
  /** The distribution at `sample` sites (observed or not). */
  dist?: Distribution;
  /** The value: set by a handler, or drawn by the runtime. */
  value: Value | undefined;
  /** True for observed `sample` sites and `factor` sites. */
  observed: boolean;
  /** Log density of `value` (elementwise over batch dimensions), once computed. */
  logProb?: Value;
  /** Multiplier of the log density (subsampling, tempering). */
  scale: number;
  /** Elementwise mask of the log density; `false` removes the site. */
  mask: boolean | tf.Tensor;
  /** The plates enclosing the site, outermost first. */
  readonly plates: readonly PlateFrame[];
  /** User options. */
  readonly options: SampleOptions;
  /** The random stream used to draw the value (set by `seed` handlers). */
  rng?: Rng;
  /** For `param` sites: the constraint of the parameter. */
  constraint?: Constraint;
  /** When true, handlers further out do not see the message. */
  stop: boolean;
}

/** A handler of effects. Both hooks may be asynchronous. */
export interface Handler {
  /** Called before the value is drawn, innermost handler first. */
  process?(msg: Message): void | Promise<void>;
  /** Called after the value and log density are known, innermost handler first. */
  postprocess?(msg: Message): void | Promise<void>;
  /**
   * Called once when a run of the model returns, with the full address of
   * every site the run claimed; may throw to reject the run (e.g. `condition`
   * naming an address the model has no site at).
   */
  finish?(addresses: ReadonlySet<string>): void;
  /**
   * Whether this handler redraws the observed site `msg` (as `uncondition`
   * does): there an `observe` with no value (`undefined` or `null`) is a draw
   * instead of an error, so a model `model(x, y)` predicts at new inputs with
   * `y` left out.
   */
  drawsObserved?(msg: Message): boolean;
}
