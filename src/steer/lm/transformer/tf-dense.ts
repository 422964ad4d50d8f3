/**
 * The dense layers of the one-token step through tfjs, for runtimes without
 * SIMD WebAssembly (`wasm-dense.ts` is the default): one tfjs matmul per
 * projection for all rows; from `chainMinRows` rows on, the SwiGLU
 * feed-forward and the head's log-softmax run as one chain of tfjs ops with
 * a single upload and download (the backend's vectorised sigmoid and exp beat
 * `Math.exp` per element there; below, typed arrays between the matmuls).
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { logSoftmaxRows, siluMulRows } from './kernels.js';
import type { DenseMatrix } from './wasm-dense.js';

/** Dense layers over tfjs weight tensors (see the module notes). */
export class TfDense {
  private readonly mats = new Map<string, tf.Tensor2D>();
  private act = new Float32Array(0);

  /**
   * @param mats - weight matrices by name (copied into tensors)
   * @param dFF - feed-forward width
   * @param chainMinRows - rows from which the feed-forward and head run as tfjs chains
   */
  constructor(
    mats: Record<string, DenseMatrix>,
    readonly dFF: number,
    readonly chainMinRows: number,
  ) {
    for (const [name, { data, n, m }] of Object.entries(mats)) this.mats.set(name, tf.tensor2d(data, [n, m]));
  }

  private weight(name: string): tf.Tensor2D {
    const w = this.mats.get(name);
    if (!w) throw new Error(`TfDense: no weight matrix named ${name}`);
    return w;
  }

  /** `f(x [B, n])` through tfjs, read back: one upload, one download (a fresh array). */
  private rows(x: Float32Array, B: number, n: number, f: (xt: tf.Tensor2D) => tf.Tensor): Float32Array {
    const xt = tf.tensor2d(x.subarray(0, B * n), [B, n]);
    const y = tf.tidy(() => f(xt));
    // read outside the tidy: a tidy would walk a returned typed array element by element
    const out = y.dataSync() as Float32Array;
    tf.dispose([xt, y]);
    return out;
  }

  /** `x [B, n] @ W` (one matmul; no tidy: its bookkeeping costs more than the op for one row). Returns a fresh array. */
  matmul(name: string, x: Float32Array, B: number): Float32Array {
    const W = this.weight(name);
    const xt = tf.tensor2d(x.subarray(0, B * W.shape[0]), [B, W.shape[0]]);
    const y = tf.matMul(xt, W);
    const out = y.dataSync() as Float32Array;
    tf.dispose([xt, y]);
    return out;
  }

  /** `(silu(x Wg) * (x Wu)) Wd` with `gateUp` = `[Wg | Wu]`. */
  swiglu(gateUp: string, down: string, x: Float32Array, B: number): Float32Array {
    const F = this.dFF;
    const gu = this.weight(gateUp);
    if (B >= this.chainMinRows) {
      const Wd = this.weight(down);
      return this.rows(x, B, gu.shape[0], (ht) => {
        const both = tf.matMul(ht, gu);
        const [g, u] = tf.split(both, [F, F], 1);
        return tf.matMul(tf.mul(tf.mul(g!, tf.sigmoid(g!)), u!) as tf.Tensor2D, Wd);
      });
    }
    if (this.act.length < B * F) this.act = new Float32Array(B * F);
    siluMulRows(this.matmul(gateUp, x, B), B, F, this.act);
    return this.matmul(down, this.act, B);
  }

  /** Log-softmax of `x [B, n] @ W` per row (a fresh array). */
  logprobs(name: string, x: Float32Array, B: number): Float32Array {
    const W = this.weight(name);
    if (B >= this.chainMinRows) return this.rows(x, B, W.shape[0], (ht) => tf.logSoftmax(tf.matMul(ht, W)));
    const out = this.matmul(name, x, B);
    logSoftmaxRows(out, B, W.shape[1]);
    return out;
  }

  /** Free the weight tensors. */
  dispose(): void {
    tf.dispose([...this.mats.values()]);
    this.mats.clear();
  }
}
