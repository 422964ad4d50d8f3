/**
 * Slow paths a user hits (session 11, SLOW), each pinned by a count that
 * grows with the work done, not by a wall time (the machine is shared):
 *
 * - importance's float64 record of a model with K scalar sites: the fused
 *   compiler probed every one of the K slices of the input with a fresh
 *   coded copy of the whole input (K² elements), each `SplitV` output summed
 *   and copied the K-entry sizes array (K² reads), and a graph whose source
 *   is too large was built three times (unroll limits 64, 8, 1) although
 *   every node is a scalar and the three builds are the same.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import { ruleFor } from '../../src/backend/jit/program.js';
import { compileFused } from '../../src/backend/jit/fused.js';
import type { KernelRule } from '../../src/backend/jit/kernel.js';
import { type Graph, traceTensorFunction } from '../../src/backend/jit/trace.js';

beforeAll(async () => {
  await initBackend('cpu');
});

/** The graph of K scalar sites split off one input vector (as a model's layout unpacks them), too large to fuse. */
async function scalarSites(K: number): Promise<Graph> {
  const r = await traceTensorFunction((x) => {
    const parts = tf.split(x, new Array<number>(K).fill(1));
    return tf.addN(parts.map((p, i) => tf.sum(tf.square(tf.sub(tf.mul(p, 1 + i / K), 0.5)))));
  }, tf.zeros([K]));
  if (!r.graph) throw new Error(`not traced: ${r.reason}`);
  return r.graph;
}

describe('the fused compiler on a graph of many scalar sites (importance float64 record, session 10 open item)', () => {
  const K = 3000;
  let graph: Graph;
  beforeAll(async () => {
    graph = await scalarSites(K);
  });

  it('probes each slice once (not once per unroll attempt), from one coded copy of the input, and reads the sizes array O(K) times', () => {
    const splits = graph.nodes.filter((n) => n.kernel === 'SplitV');
    expect(splits.length).toBe(K);
    // count reads of the split's sizes array (one array shared by its K outputs, as the trace records it)
    let reads = 0;
    const sizes = splits[0]!.attrs.numOrSizeSplits as number[];
    const counted = new Proxy(sizes, {
      get(target, key, receiver) {
        if (typeof key === 'string' && /^\d+$/.test(key)) reads++;
        return Reflect.get(target, key, receiver) as unknown;
      },
    });
    for (const n of splits) (n.attrs as Record<string, unknown>).numOrSizeSplits = counted;
    let probeCalls = 0;
    const inputs = new Set<unknown>();
    const rules = (kernel: string): KernelRule | undefined => {
      const rule = ruleFor(kernel);
      if (kernel !== 'SplitV' || !rule) return rule;
      return (slots, out, node) => {
        probeCalls++;
        inputs.add(slots[0]!.value);
        return rule(slots, out, node);
      };
    };
    const fused = compileFused(graph, rules);
    // too large for one function: the per-kernel program runs it (unchanged decision)
    expect(fused).toHaveProperty('reason');
    expect((fused as { reason: string }).reason).toMatch(/over 300000/);
    // old code: 3K probe calls (one per attempt), K coded copies of the K-element input, ~6K² reads of the sizes
    expect(probeCalls).toBe(K);
    expect(inputs.size).toBe(1);
    expect(reads).toBeLessThanOrEqual(4 * K);
  });
});
