/**
 * A process reward model: a small transformer with a scalar head that reads
 * a partial solution (text) and returns the probability that every step so
 * far is correct. Trained for the shipped arithmetic task on steps labelled
 * by the exact checker, and deliberately small, so it errs.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { abortReason, yieldToEventLoop } from '../../../infer/pace.js';
import { type BlockInput, type Rope, type TransformerConfig, type TransformerWeights, attentionHalf, attentionMask, blockInput, checkConfig, embed, feedForwardHalf, head, makeRope } from './model.js';
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
   *
   * With a `signal`, the forward pass yields to the event loop between its
   * halves of blocks (attention, feed-forward) and stops with the signal's
   * reason once it is aborted: the same ops on the same batch, so the same
   * scores bit for bit, but an abort lands within a fraction of a pass
   * rather than after it. Without one the pass runs through.
   */
  async score(texts: readonly string[], options: { complete?: boolean; signal?: AbortSignal } = {}): Promise<Float64Array> {
    if (this.disposed) throw new Error(`${this.name}: the model has been disposed`);
    const { signal } = options;
    if (signal?.aborted) throw abortReason(signal, `${this.name} scoring`);
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
      const pass = this.pass(seqs.slice(s0, s0 + maxBatch));
      let step = pass.next();
      try {
        while (!step.done) {
          if (signal) {
            await yieldToEventLoop();
            if (signal.aborted) throw abortReason(signal, `${this.name} scoring`);
          }
          step = pass.next();
        }
      } finally {
        if (!step.done) pass.return(undefined as never); // runs the pass's finally: frees what it holds
      }
      const p = step.value;
      try {
        out.set(await p.data(), s0);
      } finally {
        p.dispose();
      }
    }
    return out;
  }

  /**
   * One forward pass over a chunk of token sequences (padded on the right to
   * the longest), as pieces: each `next()` runs one piece inside its own
   * `tf.tidy` (the embedding, then each block's attention and feed-forward
   * halves, then the head) and the pass returns the probabilities `[B]`.
   * A caller may wait between pieces; one that stops early calls `return()`.
   */
  private *pass(chunk: readonly number[][]): Generator<void, tf.Tensor1D, void> {
    const c = this.config;
    const B = chunk.length;
    const T = Math.max(...chunk.map((q) => q.length));
    const tok = new Int32Array(B * T);
    const pos = new Int32Array(B * T);
    chunk.forEach((q, b) => q.forEach((id, t) => (tok[b * T + t] = id)));
    for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) pos[b * T + t] = t;
    const tokens = tf.tensor2d(tok, [B, T], 'int32');
    const held: tf.Tensor[] = [tokens];
    try {
      const positions = tf.tensor2d(pos, [B, T], 'int32');
      const mask = attentionMask(new Array<number>(B).fill(0), 0, chunk.map((q) => q.length), T);
      held.push(positions, mask);
      const { cos, sin } = tf.tidy(() => {
        const a = blockInput(c, this.rope, { tokens, positions, mask, past: null });
        return { cos: a.cos, sin: a.sin };
      });
      held.push(cos, sin);
      const at: BlockInput = { B, T, cos, sin, mask, past: null };
      let x: tf.Tensor = tf.tidy(() => embed(c, this.weights, tokens));
      const swap = (next: tf.Tensor): void => {
        x.dispose();
        x = next;
      };
      try {
        for (let l = 0; l < c.nLayers; l++) {
          yield;
          swap(tf.tidy(() => attentionHalf(c, this.weights, this.rope, at, l, x).x));
          yield;
          swap(tf.tidy(() => feedForwardHalf(c, this.weights, at, l, x)));
        }
        yield;
        return tf.tidy(() => {
          const last = tf.tensor1d(chunk.map((q, b) => b * T + q.length - 1), 'int32');
          return tf.sigmoid(tf.reshape(head(c, this.weights, tf.gather(tf.reshape(x, [B * T, c.dModel]), last) as tf.Tensor2D), [B])) as tf.Tensor1D;
        });
      } finally {
        x.dispose();
      }
    } finally {
      tf.dispose(held);
    }
  }

  /** Free the weights. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.rope.dispose();
    tf.dispose(Object.values(this.weights));
  }
}
