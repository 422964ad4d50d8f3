/**
 * Helpers to read an {@link McmcSamples} result: per-parameter draws in the
 * chains x draws shape the diagnostics take, and a digest of the sampler
 * statistics (divergences, tree-depth saturation, acceptance).
 *
 * @module
 */
import type { McmcSamples } from './sampler.js';

/**
 * The draws of coordinate `j` as chains x draws (one Float64Array per chain),
 * the input shape of `essBulk`, `rhatBulk` and friends in `diagnostics/`.
 */
export function parameterDraws(result: McmcSamples, j: number): Float64Array[] {
  if (!Number.isInteger(j) || j < 0 || j >= result.dim) {
    throw new RangeError(`parameterDraws: coordinate must be an integer in [0, ${result.dim}), got ${j}`);
  }
  const d = result.dim;
  return result.samples.map((s) => {
    const out = new Float64Array(result.draws);
    for (let i = 0; i < result.draws; i++) out[i] = s[i * d + j]!;
    return out;
  });
}

/**
 * Draw `i` of chain `c` (a view of length D into the chain's samples).
 */
export function drawOf(result: McmcSamples, c: number, i: number): Float64Array {
  if (!(Number.isInteger(c) && c >= 0 && c < result.chains)) {
    throw new RangeError(`drawOf: chain must be an integer in [0, ${result.chains}), got ${c}`);
  }
  if (!(Number.isInteger(i) && i >= 0 && i < result.draws)) {
    throw new RangeError(`drawOf: draw must be an integer in [0, ${result.draws}), got ${i}`);
  }
  return result.samples[c]!.subarray(i * result.dim, (i + 1) * result.dim);
}

/** A digest of the sampler statistics of the kept draws. */
export interface SamplerDigest {
  /** Divergent transitions per chain. */
  readonly divergences: number[];
  /** Total divergent transitions. */
  readonly totalDivergences: number;
  /** Mean acceptance statistic per chain. */
  readonly meanAcceptStat: number[];
  /** Draws per chain whose tree reached `maxTreeDepth` (pass it to count; NUTS only). */
  readonly treeDepthSaturated: number[];
  /** Mean leapfrog steps per draw, per chain. */
  readonly meanLeapfrog: number[];
}

/** Summarises the per-draw sampler statistics of a run. */
export function samplerDigest(result: McmcSamples, maxTreeDepth = 10): SamplerDigest {
  const divergences: number[] = [];
  const meanAcceptStat: number[] = [];
  const treeDepthSaturated: number[] = [];
  const meanLeapfrog: number[] = [];
  for (const s of result.stats) {
    let div = 0;
    let acc = 0;
    let sat = 0;
    let leap = 0;
    for (let i = 0; i < s.acceptStat.length; i++) {
      div += s.divergent[i]!;
      acc += s.acceptStat[i]!;
      if (s.treeDepth[i]! >= maxTreeDepth) sat += 1;
      leap += s.nLeapfrog[i]!;
    }
    const n = s.acceptStat.length;
    divergences.push(div);
    meanAcceptStat.push(acc / n);
    treeDepthSaturated.push(result.method === 'nuts' ? sat : 0);
    meanLeapfrog.push(leap / n);
  }
  return {
    divergences,
    totalDivergences: divergences.reduce((a, b) => a + b, 0),
    meanAcceptStat,
    treeDepthSaturated,
    meanLeapfrog,
  };
}
