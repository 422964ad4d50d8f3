/**
 * The particle engine: a Feynman–Kac core ({@link runSMC}), resampling
 * schemes, particle stores, genealogy, state-space filters and smoothers
 * (genealogy, FFBSi, fixed-lag), conditional SMC with ancestor sampling,
 * particle Gibbs and bidirectional log Z bounds, the Kalman filter and the
 * HMM forward algorithm they are checked against, and the checkpoint
 * executor behind resample-move for SMC over programs.
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
export * from './csmc.js';
export * from './particle-gibbs.js';
export * from './hmm.js';
export * from './fixedlag.js';
export * from './checkpoint.js';
