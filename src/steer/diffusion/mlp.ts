/**
 * A small multilayer perceptron with time and class conditioning, the
 * network behind the shipped denoisers and classifiers, with its weights
 * format (a JSON manifest and a little-endian float32 buffer).
 *
 * Every hidden layer sees the previous layer concatenated with the
 * conditioning embedding (sinusoidal features of t and a one-hot class, the
 * last class being the null class); layers of equal width are residual;
 * activations are SiLU.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../../core/rng.js';

/** The shape of an {@link Mlp}. */
export interface MlpConfig {
  /** Input length (flattened event size). */
  readonly inputDim: number;
  /** Output length. */
  readonly outputDim: number;
  /** Hidden layer widths. */
  readonly hidden: readonly number[];
  /** Number of sinusoidal time frequencies (0: the network ignores time). */
  readonly timeFrequencies: number;
  /** Size of the one-hot class input, null class included (0: unconditional). */
  readonly classInputs: number;
}

/** The JSON manifest of saved weights. */
export interface MlpManifest {
  readonly format: 'tyche-mlp-1';
  readonly config: MlpConfig;
  /** Name, shape and float offset of each tensor in the buffer. */
  readonly tensors: readonly { readonly name: string; readonly shape: readonly number[]; readonly offset: number }[];
  /** Anything else the owner records (schedule, prediction, training report). */
  readonly meta: Record<string, unknown>;
}

function checkConfig(c: MlpConfig): void {
  const ints = [c.inputDim, c.outputDim, c.timeFrequencies, c.classInputs, ...c.hidden];
  if (!ints.every((v) => Number.isInteger(v) && v >= 0) || c.inputDim < 1 || c.outputDim < 1 || c.hidden.some((h) => h < 1)) {
    throw new RangeError(`Mlp: invalid configuration ${JSON.stringify(c)}`);
  }
}

/** The tensors' names and shapes for a configuration, in a fixed order. */
function layout(c: MlpConfig): { name: string; shape: number[] }[] {
  const emb = 2 * c.timeFrequencies + c.classInputs;
  const widths = [c.inputDim, ...c.hidden, c.outputDim];
  const out: { name: string; shape: number[] }[] = [];
  for (let l = 0; l + 1 < widths.length; l++) {
    out.push({ name: `w${l}`, shape: [widths[l]! + emb, widths[l + 1]!] });
    out.push({ name: `b${l}`, shape: [widths[l + 1]!] });
  }
  return out;
}

/** A conditioned MLP; weights are tensors (inference) or variables (training). */
export class Mlp {
  /** The parameters by name. */
  readonly params: Map<string, tf.Tensor>;

  private constructor(
    readonly config: MlpConfig,
    params: Map<string, tf.Tensor>,
  ) {
    this.params = params;
  }

  /**
   * Fresh weights (He-scaled normals from `rng`, zero biases, a small last
   * layer); `variablePrefix` makes them trainable variables named
   * `<prefix>/<tensor>` (names must be unique in the process).
   */
  static init(config: MlpConfig, rng: Rng, variablePrefix?: string): Mlp {
    const trainable = variablePrefix !== undefined;
    checkConfig(config);
    const params = new Map<string, tf.Tensor>();
    const shapes = layout(config);
    for (const { name, shape } of shapes) {
      const size = shape.reduce((a, b) => a * b, 1);
      let v: tf.Tensor;
      if (name.startsWith('b')) v = tf.zeros(shape);
      else {
        const last = name === `w${config.hidden.length}`;
        const sd = (last ? 0.1 : Math.SQRT2) / Math.sqrt(shape[0]!);
        v = tf.tensor(Float32Array.from(rng.normals(size), (z) => z * sd), shape);
      }
      params.set(name, trainable ? tf.variable(v, true, `${variablePrefix}/${name}`) : v);
      if (trainable) v.dispose();
    }
    return new Mlp(config, params);
  }

  /** Weights from a manifest and its float32 buffer. */
  static fromBuffer(manifest: MlpManifest, data: ArrayBuffer | Uint8Array, who = 'Mlp.fromBuffer'): Mlp {
    if (manifest?.format !== 'tyche-mlp-1') throw new Error(`${who}: not a tyche-mlp-1 manifest`);
    checkConfig(manifest.config);
    const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
    const aligned = bytes.byteOffset % 4 === 0 ? bytes : bytes.slice();
    const floats = new Float32Array(aligned.buffer, aligned.byteOffset, Math.floor(aligned.byteLength / 4));
    const params = new Map<string, tf.Tensor>();
    for (const { name, shape } of layout(manifest.config)) {
      const entry = manifest.tensors.find((e) => e.name === name);
      const size = shape.reduce((a, b) => a * b, 1);
      if (!entry || entry.shape.join() !== shape.join()) throw new Error(`${who}: tensor ${name} missing or of the wrong shape (want [${shape.join(', ')}])`);
      if (entry.offset + size > floats.length) throw new Error(`${who}: tensor ${name} runs past the end of the weights buffer`);
      params.set(name, tf.tensor(floats.slice(entry.offset, entry.offset + size), shape));
    }
    return new Mlp(manifest.config, params);
  }

  /** The manifest and float32 buffer of the current weights. */
  async serialise(meta: Record<string, unknown> = {}): Promise<{ manifest: MlpManifest; data: Uint8Array }> {
    const tensors: { name: string; shape: number[]; offset: number }[] = [];
    const chunks: Float32Array[] = [];
    let offset = 0;
    for (const { name, shape } of layout(this.config)) {
      const v = (await this.params.get(name)!.data()) as Float32Array;
      tensors.push({ name, shape, offset });
      chunks.push(Float32Array.from(v));
      offset += v.length;
    }
    const all = new Float32Array(offset);
    let o = 0;
    for (const c of chunks) {
      all.set(c, o);
      o += c.length;
    }
    return { manifest: { format: 'tyche-mlp-1', config: this.config, tensors, meta }, data: new Uint8Array(all.buffer) };
  }

  /** Number of scalar parameters. */
  get size(): number {
    let n = 0;
    for (const v of this.params.values()) n += v.size;
    return n;
  }

  /**
   * The conditioning embedding `[N, 2F + C]`: sin/cos of t at F frequencies
   * (geometric from 1 to 1000) and a one-hot of the labels.
   */
  private embedding(n: number, t: number | tf.Tensor | undefined, labels: tf.Tensor | undefined): tf.Tensor | null {
    const { timeFrequencies: f, classInputs: c } = this.config;
    const parts: tf.Tensor[] = [];
    if (f > 0) {
      if (t === undefined) throw new Error('Mlp: this network needs a time');
      const freqs = tf.tensor1d(Array.from({ length: f }, (_, j) => Math.exp((Math.log(1000) * j) / Math.max(1, f - 1))));
      const tt = typeof t === 'number' ? tf.fill([n, 1], t) : tf.reshape(t, [n, 1]);
      const arg = tf.mul(tt, freqs);
      parts.push(tf.sin(arg), tf.cos(arg));
    }
    if (c > 0) {
      const lab = labels ?? tf.fill([n], c - 1, 'int32');
      parts.push(tf.cast(tf.oneHot(lab, c), "float32"));
    }
    return parts.length === 0 ? null : parts.length === 1 ? parts[0]! : tf.concat(parts, 1);
  }

  /**
   * The network on a batch `x` of shape `[N, inputDim]`, at time `t` (a number
   * or a tensor `[N]`), with class labels `[N]` (int32; undefined = null class).
   */
  apply(x: tf.Tensor, t?: number | tf.Tensor, labels?: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const n = x.shape[0]!;
      const e = this.embedding(n, t, labels);
      let h = x;
      const layers = this.config.hidden.length + 1;
      for (let l = 0; l < layers; l++) {
        const inp = e ? tf.concat([h, e], 1) : h;
        const z = tf.add(tf.matMul(inp, this.params.get(`w${l}`)!), this.params.get(`b${l}`)!);
        if (l === layers - 1) return z;
        const a = tf.mul(z, tf.sigmoid(z));
        h = l > 0 && h.shape[1] === a.shape[1] ? tf.add(h, a) : a;
      }
      throw new Error('unreachable');
    });
  }

  /** Free the weights. */
  dispose(): void {
    for (const v of this.params.values()) v.dispose();
  }
}
