/**
 * Kernels that move elements without arithmetic: reshapes, slices (including
 * the outputs of `SplitV` and `Unpack`), strided slices, concatenation,
 * stacking, transposes, tiling, broadcasting, reversal and gathers. Each is a
 * precomputed index map: forward copies through it, backward adds back
 * through it.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { compileLoop } from './codegen.js';
import type { CompiledKernel, KernelRule, Slot } from './kernel.js';
import { axesOf, broadcastMap, sizeOfShape, stridesOf, transposeMap, windowMap } from './ndarray.js';

/** out[i] = x[map[i]] (map null: identity), gradients added back. */
function gather(x: Slot, out: Slot, map: Int32Array | null): CompiledKernel {
  const xv = x.value;
  const y = out.value;
  const n = y.length;
  const k: CompiledKernel = {
    forward:
      map === null
        ? () => {
            y.set(xv.subarray(0, n));
          }
        : compileLoop(['xv', 'y', 'map'], `for (let i = 0; i < ${n}; i++) y[i] = xv[map[i]];`, [xv, y, map], n),
  };
  const gx = x.grad;
  const gy = out.grad;
  if (gx && gy) {
    k.backward =
      map === null
        ? compileLoop(['gx', 'gy'], `for (let i = 0; i < ${n}; i++) gx[i] += gy[i];`, [gx, gy], n)
        : compileLoop(['gx', 'gy', 'map'], `for (let i = 0; i < ${n}; i++) gx[map[i]] += gy[i];`, [gx, gy, map], n);
  }
  return k;
}

/** Inputs written into disjoint parts of the output: out[maps[k][j]] = inputs[k][j]. */
function scatterParts(inputs: readonly Slot[], out: Slot, maps: Int32Array[]): CompiledKernel {
  const y = out.value;
  return {
    forward() {
      inputs.forEach((s, k) => {
        const m = maps[k]!;
        const v = s.value;
        for (let j = 0; j < m.length; j++) y[m[j]!] = v[j]!;
      });
    },
    backward() {
      const gy = out.grad;
      if (!gy) return;
      inputs.forEach((s, k) => {
        const g = s.grad;
        if (!g) return;
        const m = maps[k]!;
        for (let j = 0; j < m.length; j++) g[j]! += gy[m[j]!]!;
      });
    },
  };
}

const reshape: KernelRule = ([x], out) => gather(x!, out, null);

/** Slice `begin`/`size` attributes (size -1 = to the end). */
const slice: KernelRule = ([x], out, node) => {
  const shape = x!.shape;
  const begin = node.attrs.begin as number[] | number;
  const b = Array.isArray(begin) ? begin : [begin];
  const full = shape.map((_, k) => b[k] ?? 0);
  return gather(x!, out, windowMap(shape, full, out.shape));
};

/**
 * Where each block of a `SplitV` of `dim` elements along its axis starts (a -1
 * entry takes the rest), kept per sizes array: the K outputs of one split
 * share their attribute's array, so K outputs cost O(K), not O(K²).
 */
const splitStarts = new WeakMap<readonly number[], { dim: number; starts: Float64Array }>();

function splitStart(spec: number | readonly number[], dim: number, index: number): number {
  if (!Array.isArray(spec)) return index * (dim / (spec as number));
  const sizes = spec as readonly number[];
  const kept = splitStarts.get(sizes);
  if (kept && kept.dim === dim) return kept.starts[index]!;
  let known = 0;
  for (const v of sizes) if (v >= 0) known += v;
  const starts = new Float64Array(sizes.length);
  for (let i = 1; i < sizes.length; i++) {
    const v = sizes[i - 1]!;
    starts[i] = starts[i - 1]! + (v >= 0 ? v : dim - known);
  }
  splitStarts.set(sizes, { dim, starts });
  return starts[index]!;
}

/** One output of `SplitV`: the `outputIndex`-th block along `axis`. */
const splitV: KernelRule = ([x], out, node) => {
  const shape = x!.shape;
  const axis = axesOf(node.attrs.axis, shape.length)[0]!;
  const start = splitStart(node.attrs.numOrSizeSplits as number | number[], shape[axis]!, node.outputIndex);
  const begin = shape.map((_, k) => (k === axis ? start : 0));
  return gather(x!, out, windowMap(shape, begin, out.shape));
};

/** One output of `Unpack`: index `outputIndex` along `axis`, that axis dropped. */
const unpack: KernelRule = ([x], out, node) => {
  const shape = x!.shape;
  const axis = axesOf(node.attrs.axis ?? 0, shape.length)[0]!;
  const begin = shape.map((_, k) => (k === axis ? node.outputIndex : 0));
  const size = shape.map((d, k) => (k === axis ? 1 : d));
  return gather(x!, out, windowMap(shape, begin, size));
};

interface SliceInfo {
  begin: number[];
  end: number[];
  strides: number[];
}
interface SliceUtil {
  sliceInfo(xShape: number[], begin: number[], end: number[], strides: number[], beginMask: number, endMask: number, ellipsisMask: number, newAxisMask: number, shrinkAxisMask: number): SliceInfo;
}

/** `StridedSlice`, normalised by tfjs's own slice arithmetic. */
const stridedSlice: KernelRule = ([x], out, node) => {
  const a = node.attrs as Record<string, number & number[]>;
  const util = (tf as unknown as { slice_util: SliceUtil }).slice_util;
  const info = util.sliceInfo([...x!.shape], a.begin, a.end, a.strides, a.beginMask ?? 0, a.endMask ?? 0, a.ellipsisMask ?? 0, a.newAxisMask ?? 0, a.shrinkAxisMask ?? 0);
  const size = info.begin.map((b, k) => Math.max(0, Math.ceil((info.end[k]! - b) / info.strides[k]!)));
  if (sizeOfShape(size) !== sizeOfShape(out.shape)) throw new Error(`StridedSlice: window of ${sizeOfShape(size)} elements for an output of shape [${out.shape.join(', ')}]`);
  return gather(x!, out, windowMap(x!.shape, info.begin, size, info.strides));
};

const transpose: KernelRule = ([x], out, node) => gather(x!, out, transposeMap(x!.shape, node.attrs.perm as number[]));

const broadcastTo: KernelRule = ([x], out) => gather(x!, out, broadcastMap(x!.shape, out.shape));

const tile: KernelRule = ([x], out) => {
  const shape = x!.shape;
  const st = stridesOf(shape);
  const n = sizeOfShape(out.shape);
  const map = new Int32Array(n);
  const outSt = stridesOf(out.shape);
  for (let i = 0; i < n; i++) {
    let rest = i;
    let off = 0;
    for (let k = 0; k < out.shape.length; k++) {
      const c = Math.floor(rest / outSt[k]!);
      rest -= c * outSt[k]!;
      off += (c % shape[k]!) * st[k]!;
    }
    map[i] = off;
  }
  return gather(x!, out, map);
};

const reverse: KernelRule = ([x], out, node) => {
  const shape = x!.shape;
  const dims = axesOf(node.attrs.dims, shape.length);
  const begin = shape.map((d, k) => (dims.includes(k) ? d - 1 : 0));
  const step = shape.map((_, k) => (dims.includes(k) ? -1 : 1));
  return gather(x!, out, windowMap(shape, begin, shape, step));
};

const concat: KernelRule = (inputs, out, node) => {
  const axis = axesOf(node.attrs.axis, out.shape.length)[0]!;
  let start = 0;
  const maps = inputs.map((s) => {
    // inputs with no elements along the axis (tfjs skips empty ones) take no room
    const size = out.shape.map((d, k) => (k === axis ? (s.shape[k] ?? 0) : d));
    const begin = out.shape.map((_, k) => (k === axis ? start : 0));
    start += size[axis]!;
    return windowMap(out.shape, begin, size);
  });
  return scatterParts(inputs, out, maps);
};

const pack: KernelRule = (inputs, out, node) => {
  const axis = axesOf(node.attrs.axis ?? 0, out.shape.length)[0]!;
  const maps = inputs.map((_, i) =>
    windowMap(
      out.shape,
      out.shape.map((_d, k) => (k === axis ? i : 0)),
      out.shape.map((d, k) => (k === axis ? 1 : d)),
    ),
  );
  return scatterParts(inputs, out, maps);
};

/** `GatherV2` along `axis` (batchDims 0), with indices read at run time. */
const gatherV2: KernelRule = ([x, indices], out, node) => {
  const shape = x!.shape;
  if ((node.attrs.batchDims as number | undefined) ?? 0) throw new Error('GatherV2 with batchDims is not compiled');
  const axis = axesOf(node.attrs.axis ?? 0, shape.length)[0]!;
  const outer = sizeOfShape(shape.slice(0, axis));
  const inner = sizeOfShape(shape.slice(axis + 1));
  const dim = shape[axis]!;
  const idx = indices!.value;
  const nIdx = idx.length;
  const n = out.value.length;
  const map = new Int32Array(n);
  const fill = (): void => {
    let i = 0;
    for (let o = 0; o < outer; o++) {
      for (let j = 0; j < nIdx; j++) {
        const base = (o * dim + idx[j]!) * inner;
        for (let r = 0; r < inner; r++) map[i++] = base + r;
      }
    }
  };
  const k = gather(x!, out, map);
  const fwd = k.forward;
  return { forward: () => (fill(), fwd()), ...(k.backward ? { backward: k.backward } : {}) };
};

/** Every layout rule by kernel name. */
export function layoutRules(): Record<string, KernelRule> {
  return {
    Reshape: reshape,
    ExpandDims: reshape,
    Squeeze: reshape,
    Slice: slice,
    SplitV: splitV,
    Unpack: unpack,
    StridedSlice: stridedSlice,
    Transpose: transpose,
    BroadcastTo: broadcastTo,
    Tile: tile,
    Reverse: reverse,
    Concat: concat,
    Pack: pack,
    GatherV2: gatherV2,
  };
}
