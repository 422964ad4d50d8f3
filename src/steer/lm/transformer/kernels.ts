/**
 * Float32 typed-array kernels of the transformer's one-token step
 * (`step.ts`): row-wise RMSNorm, rotary positions and log-softmax (always),
 * attention of many rows over their own KV caches in one pass and SwiGLU
 * (the fallback where SIMD WebAssembly is missing: `wasm-attention.ts`,
 * `wasm-dense.ts`). Every kernel works on `B` rows laid out row-major in one
 * array and writes into caller-owned output arrays, so a step allocates
 * nothing per row. Sums accumulate in float64 (JS numbers) and are stored as
 * float32.
 *
 * @module
 */

/** `out[b, :] = x[b, :] * g / rms(x[b, :])` for `B` rows of width `g.length`. */
export function rmsNormRows(x: Float32Array, B: number, g: Float32Array, eps: number, out: Float32Array): void {
  const d = g.length;
  for (let b = 0; b < B; b++) {
    const o = b * d;
    let s = 0;
    for (let i = 0; i < d; i++) {
      const v = x[o + i]!;
      s += v * v;
    }
    const r = 1 / Math.sqrt(s / d + eps);
    for (let i = 0; i < d; i++) out[o + i] = x[o + i]! * r * g[i]!;
  }
}

/**
 * Rotary positions (adjacent pairs, llama.cpp's "normal" RoPE) of the `d`
 * values at `x[xOff..]` (all heads side by side, head size `hd`), for
 * position `pos`, written to `out[outOff..]`. `cos`/`sin` are
 * `[positions, hd]` tables with each pair's angle repeated.
 */
export function ropeInto(x: Float32Array, xOff: number, d: number, hd: number, cos: Float32Array, sin: Float32Array, pos: number, out: Float32Array, outOff: number): void {
  const t = pos * hd;
  for (let o = 0; o < d; o += 2) {
    const i = o % hd;
    const cs = cos[t + i]!;
    const sn = sin[t + i]!;
    const x0 = x[xOff + o]!;
    const x1 = x[xOff + o + 1]!;
    out[outOff + o] = x0 * cs - x1 * sn;
    out[outOff + o + 1] = x1 * cs + x0 * sn;
  }
}

/**
 * Causal attention of one query per row over that row's cache, all rows in
 * one pass. Row `b` attends to positions `[0, lengths[b])` of its keys
 * `keys[b]` and values `values[b]` (`[capacity, d]`, position-major, heads
 * side by side; positions at or past `lengths[b]` are never read, which is
 * the mask for rows of unequal lengths). Queries `q` and the output `out` are
 * `[B, d]`; `scale` multiplies the scores; `scores` is scratch of at least
 * `max(lengths)` entries. The head size `d / nHeads` is even (rotary
 * positions need it).
 */
export function attendRows(
  q: Float32Array,
  keys: readonly Float32Array[],
  values: readonly Float32Array[],
  lengths: ArrayLike<number>,
  B: number,
  nHeads: number,
  d: number,
  scale: number,
  scores: Float64Array,
  out: Float32Array,
): void {
  const hd = d / nHeads;
  for (let b = 0; b < B; b++) {
    const K = keys[b]!;
    const V = values[b]!;
    const n = lengths[b]!;
    for (let h = 0; h < nHeads; h++) {
      const qo = b * d + h * hd;
      let m = -Infinity;
      for (let t = 0; t < n; t++) {
        const ko = t * d + h * hd;
        let s0 = 0;
        let s1 = 0;
        let i = 0;
        for (; i + 1 < hd; i += 2) {
          s0 += q[qo + i]! * K[ko + i]!;
          s1 += q[qo + i + 1]! * K[ko + i + 1]!;
        }
        const s = (s0 + s1) * scale;
        scores[t] = s;
        if (s > m) m = s;
      }
      let z = 0;
      for (let t = 0; t < n; t++) {
        const e = Math.exp(scores[t]! - m);
        scores[t] = e;
        z += e;
      }
      const iz = 1 / z;
      // two output columns at a time, walking the values down the positions
      for (let i = 0; i < hd; i += 2) {
        let a0 = 0;
        let a1 = 0;
        for (let t = 0, vo = h * hd + i; t < n; t++, vo += d) {
          const w = scores[t]!;
          a0 += w * V[vo]!;
          a1 += w * V[vo + 1]!;
        }
        out[qo + i] = a0 * iz;
        out[qo + i + 1] = a1 * iz;
      }
    }
  }
}

/** SwiGLU: `out[b, j] = silu(gu[b, j]) * gu[b, F + j]` for rows `gu = [gate | up]` of width `2F`. */
export function siluMulRows(gu: Float32Array, B: number, F: number, out: Float32Array): void {
  for (let b = 0; b < B; b++) {
    const gi = b * 2 * F;
    const oi = b * F;
    for (let j = 0; j < F; j++) {
      const g = gu[gi + j]!;
      out[oi + j] = (g / (1 + Math.exp(-g))) * gu[gi + F + j]!;
    }
  }
}

/** Log-softmax of each of `B` rows of width `V`, in place. */
export function logSoftmaxRows(x: Float32Array, B: number, V: number): void {
  for (let b = 0; b < B; b++) {
    const o = b * V;
    let m = -Infinity;
    for (let i = 0; i < V; i++) if (x[o + i]! > m) m = x[o + i]!;
    let z = 0;
    for (let i = 0; i < V; i++) z += Math.exp(x[o + i]! - m);
    const lz = m + Math.log(z);
    for (let i = 0; i < V; i++) x[o + i] = x[o + i]! - lz;
  }
}
