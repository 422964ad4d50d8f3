/**
 * Index arithmetic for flat row-major arrays with static shapes: the maps a
 * compiled graph precomputes once so that each kernel is a plain loop.
 *
 * @module
 */

/** Number of elements of a shape. */
export function sizeOfShape(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Row-major strides of a shape. */
export function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i]!;
  }
  return s;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/**
 * For each element of an array of shape `out`, the flat index of the element
 * of an array of shape `input` that numpy broadcasting reads there; `null`
 * when the shapes are equal (the identity map).
 */
export function broadcastMap(input: readonly number[], out: readonly number[]): Int32Array | null {
  if (sameShape(input, out)) return null;
  const n = sizeOfShape(out);
  const map = new Int32Array(n);
  const lead = out.length - input.length;
  if (lead < 0) throw new Error(`broadcastMap: [${input.join(', ')}] has more axes than [${out.join(', ')}]`);
  const inStrides = stridesOf(input);
  // stride of each output axis in the input (0 where the input broadcasts)
  const st = out.map((d, k) => {
    const j = k - lead;
    if (j < 0) return 0;
    const di = input[j]!;
    if (di !== d && di !== 1) throw new Error(`broadcastMap: [${input.join(', ')}] does not broadcast to [${out.join(', ')}]`);
    return di === 1 ? 0 : inStrides[j]!;
  });
  const idx = new Array<number>(out.length).fill(0);
  let off = 0;
  for (let i = 0; i < n; i++) {
    map[i] = off;
    for (let k = out.length - 1; k >= 0; k--) {
      idx[k]!++;
      off += st[k]!;
      if (idx[k]! < out[k]!) break;
      off -= st[k]! * out[k]!;
      idx[k] = 0;
    }
  }
  return map;
}

/**
 * For each element of an array of shape `input`, the flat index of the
 * element of the reduced array (the axes in `axes` removed) it contributes to.
 */
export function reductionMap(input: readonly number[], axes: readonly number[]): Int32Array {
  const keep = input.map((_, k) => !axes.includes(k));
  const outShape = input.filter((_, k) => keep[k]);
  const outStrides = stridesOf(outShape);
  const st: number[] = [];
  let j = 0;
  input.forEach((_, k) => {
    st.push(keep[k] ? outStrides[j++]! : 0);
  });
  const n = sizeOfShape(input);
  const map = new Int32Array(n);
  const idx = new Array<number>(input.length).fill(0);
  let off = 0;
  for (let i = 0; i < n; i++) {
    map[i] = off;
    for (let k = input.length - 1; k >= 0; k--) {
      idx[k]!++;
      off += st[k]!;
      if (idx[k]! < input[k]!) break;
      off -= st[k]! * input[k]!;
      idx[k] = 0;
    }
  }
  return map;
}

/**
 * For each element of the output of a strided window over an array of shape
 * `input` (start `begin`, `size` elements per axis, step `step`), the flat
 * index it reads. Covers slices, transposes (with a permuted stride list),
 * and gathers along one axis.
 */
export function windowMap(input: readonly number[], begin: readonly number[], size: readonly number[], step?: readonly number[]): Int32Array {
  const strides = stridesOf(input);
  const n = sizeOfShape(size);
  const map = new Int32Array(n);
  const st = size.map((_, k) => strides[k]! * (step?.[k] ?? 1));
  let base = 0;
  for (let k = 0; k < input.length; k++) base += begin[k]! * strides[k]!;
  const idx = new Array<number>(size.length).fill(0);
  let off = base;
  for (let i = 0; i < n; i++) {
    map[i] = off;
    for (let k = size.length - 1; k >= 0; k--) {
      idx[k]!++;
      off += st[k]!;
      if (idx[k]! < size[k]!) break;
      off -= st[k]! * size[k]!;
      idx[k] = 0;
    }
  }
  return map;
}

/** For each output element of a transpose by `perm`, the input flat index. */
export function transposeMap(input: readonly number[], perm: readonly number[]): Int32Array {
  const strides = stridesOf(input);
  const outShape = perm.map((p) => input[p]!);
  const st = perm.map((p) => strides[p]!);
  const n = sizeOfShape(outShape);
  const map = new Int32Array(n);
  const idx = new Array<number>(outShape.length).fill(0);
  let off = 0;
  for (let i = 0; i < n; i++) {
    map[i] = off;
    for (let k = outShape.length - 1; k >= 0; k--) {
      idx[k]!++;
      off += st[k]!;
      if (idx[k]! < outShape[k]!) break;
      off -= st[k]! * outShape[k]!;
      idx[k] = 0;
    }
  }
  return map;
}

/** Normalise an axis attribute (number, list, or undefined = all axes; negatives count from the end). */
export function axesOf(axis: unknown, rank: number): number[] {
  if (axis === undefined || axis === null) return Array.from({ length: rank }, (_, i) => i);
  const list = Array.isArray(axis) ? (axis as number[]) : [axis as number];
  return list.map((a) => (a < 0 ? a + rank : a)).sort((a, b) => a - b);
}
