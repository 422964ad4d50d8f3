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

/**
 * Flat offsets met while walking an array of shape `shape` in row-major
 * order when each axis k advances the offset by `steps[k]` (from `base`):
 * the one loop behind every index map below.
 */
function walk(shape: readonly number[], steps: readonly number[], base = 0): Int32Array {
  const n = sizeOfShape(shape);
  const map = new Int32Array(n);
  const idx = new Array<number>(shape.length).fill(0);
  let off = base;
  for (let i = 0; i < n; i++) {
    map[i] = off;
    for (let k = shape.length - 1; k >= 0; k--) {
      idx[k]!++;
      off += steps[k]!;
      if (idx[k]! < shape[k]!) break;
      off -= steps[k]! * shape[k]!;
      idx[k] = 0;
    }
  }
  return map;
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
  return walk(out, st);
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
  return walk(input, st);
}

/**
 * For each element of the output of a strided window over an array of shape
 * `input` (start `begin`, `size` elements per axis, step `step`), the flat
 * index it reads: slices, strided slices and reversals.
 */
export function windowMap(input: readonly number[], begin: readonly number[], size: readonly number[], step?: readonly number[]): Int32Array {
  const strides = stridesOf(input);
  const st = size.map((_, k) => strides[k]! * (step?.[k] ?? 1));
  let base = 0;
  for (let k = 0; k < input.length; k++) base += begin[k]! * strides[k]!;
  return walk(size, st, base);
}

/** For each output element of a transpose by `perm`, the input flat index. */
export function transposeMap(input: readonly number[], perm: readonly number[]): Int32Array {
  const strides = stridesOf(input);
  return walk(
    perm.map((p) => input[p]!),
    perm.map((p) => strides[p]!),
  );
}

/** Normalise an axis attribute (number, list, or undefined = all axes; negatives count from the end). */
export function axesOf(axis: unknown, rank: number): number[] {
  if (axis === undefined || axis === null) return Array.from({ length: rank }, (_, i) => i);
  const list = Array.isArray(axis) ? (axis as number[]) : [axis as number];
  return list.map((a) => (a < 0 ? a + rank : a)).sort((a, b) => a - b);
}
