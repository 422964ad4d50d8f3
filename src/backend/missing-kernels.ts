/**
 * Kernels a tfjs backend lacks that tyche's models reach through gradients,
 * registered on each backend tyche activates.
 *
 * `UnsortedSegmentSum` (tfjs-backend-wasm 4.22 has none): it is the gradient
 * of `tf.gather`, so without it any model that gathers from a latent tensor
 * (group effects `gather(alpha, group)`, the commonest hierarchical idiom)
 * failed under NUTS, HMC and VI on the default wasm backend with "Kernel
 * 'UnsortedSegmentSum' not registered". The kernel here reads its inputs back,
 * sums in float64 on the CPU and writes the result as a backend tensor, the
 * same semantics as tfjs-backend-cpu's: `out[ids[i], ...] += x[i, ...]`, ids
 * outside `[0, numSegments)` dropped.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';

const filled = new Set<string>();

/** What a backend offers this module: read a tensor's values back, write new ones. */
interface ReadWriteBackend {
  readSync(dataId: tf.DataId): ArrayLike<number>;
  write(values: Float32Array | Int32Array, shape: number[], dtype: tf.DataType): tf.DataId;
}

/**
 * Segment sums of `x` (shape `[...ids.shape, ...rest]`) into `numSegments`
 * rows of shape `rest`, in float64: exported for its test.
 */
export function unsortedSegmentSumValues(x: ArrayLike<number>, ids: ArrayLike<number>, numSegments: number, rowSize: number): Float64Array {
  const out = new Float64Array(numSegments * rowSize);
  for (let i = 0; i < ids.length; i++) {
    const s = ids[i]!;
    if (!(s >= 0 && s < numSegments)) continue;
    const from = i * rowSize;
    const to = s * rowSize;
    for (let j = 0; j < rowSize; j++) out[to + j]! += x[from + j]!;
  }
  return out;
}

/** Register the kernels the backend `tfName` lacks (once per backend). */
export function fillMissingKernels(tfName: string): void {
  if (filled.has(tfName)) return;
  filled.add(tfName);
  if (tf.getKernel('UnsortedSegmentSum', tfName)) return;
  tf.registerKernel({
    kernelName: 'UnsortedSegmentSum',
    backendName: tfName,
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { x, segmentIds } = inputs as { x: tf.TensorInfo; segmentIds: tf.TensorInfo };
      const numSegments = (attrs as { numSegments: number }).numSegments;
      const b = backend as unknown as ReadWriteBackend;
      const idShape = segmentIds.shape;
      for (let k = 0; k < idShape.length; k++) {
        if (x.shape[k] !== idShape[k]) {
          throw new Error(`unsortedSegmentSum: segmentIds of shape [${idShape.join(', ')}] must be a prefix of x's shape [${x.shape.join(', ')}]`);
        }
      }
      const rest = x.shape.slice(idShape.length);
      const rowSize = rest.reduce((p, d) => p * d, 1);
      const sums = unsortedSegmentSumValues(b.readSync(x.dataId), b.readSync(segmentIds.dataId), numSegments, rowSize);
      const shape = [numSegments, ...rest];
      const values = x.dtype === 'int32' ? Int32Array.from(sums) : Float32Array.from(sums);
      return { dataId: b.write(values, shape, x.dtype), shape, dtype: x.dtype };
    },
  });
}
