/**
 * The names of the steering methods `steerAtBudget` runs, in a module of
 * their own (no TensorFlow.js) so that the command line can check them
 * before loading the library.
 *
 * @module
 */

/** The methods `steerAtBudget` runs. */
export const STEER_METHODS = ['plain', 'fk', 'tds', 'best-of-n', 'zero-order', 'zero-order-path', 'path', 'rollover', 'dts', 'dts-star'] as const;
/** One of {@link STEER_METHODS}. */
export type SteerMethod = (typeof STEER_METHODS)[number];
