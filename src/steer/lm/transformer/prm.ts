/**
 * A process reward model: a small transformer with a scalar head that reads
 * a partial solution (text) and returns the probability that every step so
 * far is correct. Trained for the shipped arithmetic task on steps labelled
 * by the exact checker, and deliberately small, so it errs.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { type Rope, type TransformerConfig, type TransformerWeights, attentionMask, checkConfig, forward, head, makeRope } from './model.js';
import { CharVocabulary } from './tokenizer.js';

/** A batched scorer: text prefixes in, probabilities in (0, 1) out. */
export class ProcessRewardModel {
  private readonly rope: Rope;
  private disposed = false;

  /**
   * @param config - the shape (its head must be `scalar`)
   * @param weights - the tensors (owned by the model from now on)
   * @param vocab - its tokenizer
   * @param name - used in error messages
   */
  constructor(
    readonly config: TransformerConfig,
    readonly weights: TransformerWeights,
    readonly vocab: CharVocabulary,
    readonly name = 'prm',
  ) {
    checkConfig(config, `${name} config`);
    if (config.head !== 'scalar') throw new Error(`${name}: a process reward model needs a "scalar" head, the config has "${config.head}"`);
    this.rope = makeRope(config);
  }

  /**
   * Scores of many partial solutions at once: for each text (the prompt and
   * the steps so far, e.g. `Q: 2+3*4 A: 3*4=12;`), the model's probability
   * that all its steps are correct, read at its last character. Append the
   * EOS token's score with `{ complete: true }` (the whole solution judged).
   */
  async score(texts: readonly string[], options: { complete?: boolean } = {}): Promise<Float64Array> {
    if (this.disposed) throw new Error(`${this.name}: the model has been disposed`);
    const seqs = texts.map((t, i) => {
      let ids: number[];
      try {
        ids = this.vocab.encode(t);
      } catch (err) {
        throw new Error(`${this.name}: text ${i} cannot be scored: ${(err as Error).message}`);
      }
      const s = [this.vocab.bos, ...ids, ...(options.complete ? [this.vocab.eos] : [])];
      if (s.length > this.config.contextLength) throw new Error(`${this.name}: text ${i} needs ${s.length} positions, more than the context length ${this.config.contextLength}`);
      return s;
    });
    const out = new Float64Array(seqs.length);
    const maxBatch = 128;
    for (let s0 = 0; s0 < seqs.length; s0 += maxBatch) {
      const chunk = seqs.slice(s0, s0 + maxBatch);
      const B = chunk.length;
      const T = Math.max(...chunk.map((q) => q.length));
      const tok = new Int32Array(B * T);
      const pos = new Int32Array(B * T);
      chunk.forEach((q, b) => q.forEach((id, t) => (tok[b * T + t] = id)));
      for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) pos[b * T + t] = t;
      const p = tf.tidy(() => {
        const { hidden } = forward(this.config, this.weights, this.rope, {
          tokens: tf.tensor2d(tok, [B, T], 'int32'),
          positions: tf.tensor2d(pos, [B, T], 'int32'),
          mask: attentionMask(new Array<number>(B).fill(0), 0, chunk.map((q) => q.length), T),
          past: null,
        });
        const last = tf.tensor1d(chunk.map((q, b) => b * T + q.length - 1), 'int32');
        return tf.sigmoid(tf.reshape(head(this.config, this.weights, tf.gather(tf.reshape(hidden, [B * T, this.config.dModel]), last) as tf.Tensor2D), [B]));
      });
      out.set(await p.data(), s0);
      p.dispose();
    }
    return out;
  }

  /** Free the weights. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.rope.dispose();
    tf.dispose(Object.values(this.weights));
  }
}
