/**
 * The particle engine: a Feynman–Kac core ({@link runSMC}), resampling
 * schemes, particle stores, genealogy, state-space filters and smoothers, and
 * the Kalman filter they are checked against.
 *
 * @module
 */
export * from './resampling.js';
export * from './store.js';
export * from './core.js';
export * from './genealogy.js';
export * from './statespace.js';
export * from './kalman.js';
export * from './lineargaussian.js';
