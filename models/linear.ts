/**
 * Tensor helpers for regression models that run both one chain at a time and
 * vectorised over chains (where a vector-valued latent site outside a plate
 * has shape `[chains, 1, size]`, the 1 standing for the plate's dimension).
 * One chain's `X beta` is the library's `linalg.matVec`; new models should use
 * it, or `NormalIdGlm`.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { matVec as linalgMatVec } from '../src/linalg/index.js';

/**
 * `X · beta` for a data matrix `X` of shape `[N, D]` and coefficients of
 * shape `[..., 1, D]` (vectorised chains) or `[D]`: the result has shape
 * `[..., N]` or `[N]`, with N in the plate's dimension. One matrix product.
 */
export function matVec(X: tf.Tensor2D, beta: tf.Tensor): tf.Tensor {
  const [n, d] = X.shape;
  if (beta.shape[beta.rank - 1] !== d) throw new Error(`matVec: coefficients of shape [${beta.shape.join(', ')}] do not fit a matrix with ${d} columns`);
  // one chain: the library's matVec; the reshapes below are only for the chain axis of vectorised chains
  if (beta.rank === 1) return linalgMatVec(X, beta);
  const lead = beta.shape.slice(0, -1);
  const rows = tf.reshape(beta, [-1, d]);
  const out = tf.matMul(rows, X, false, true);
  return tf.reshape(out, lead.length === 0 ? [n] : [...lead.slice(0, -1), n]);
}

/** The components of a vector-valued value along its last axis (one op). */
export function components(v: tf.Tensor): tf.Tensor[] {
  return tf.unstack(v, v.rank - 1);
}
