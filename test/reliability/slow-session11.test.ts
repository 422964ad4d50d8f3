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
 * - hmc-gibbs on a mixture with Dirichlet weights and scalar Categorical
 *   assignments: every Gibbs update ran the model once per value on tfjs
 *   (a tensor weight vector: about 1 ms a run against 0.1 ms for the Beta
 *   version's numbers), 9 runs a sweep. An update whose candidate
 *   configurations all have compiled potentials is now weighed by their
 *   float64 replays, with no run.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import { Categorical, Dirichlet, Normal, infer, model } from '../../src/index.js';
import type { HMCGibbsDiagnostics } from '../../src/infer/mcmc/hmc-gibbs.js';
import { ruleFor } from '../../src/backend/jit/program.js';
import { MAX_SOURCE, compileFused } from '../../src/backend/jit/fused.js';
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
    expect((fused as { reason: string }).reason).toMatch(new RegExp(`over ${MAX_SOURCE}`)); // 1 M since session 13 (split bodies)
    // old code: 3K probe calls (one per attempt), K coded copies of the K-element input, ~6K² reads of the sizes
    expect(probeCalls).toBe(K);
    expect(inputs.size).toBe(1);
    expect(reads).toBeLessThanOrEqual(4 * K);
  });
});

describe('hmc-gibbs: scalar discrete sites weighed by the compiled potentials of their configurations (session 10 open item)', () => {
  const DATA = [-1.6, -0.7, 0.3, 1.2];
  const num = (v: unknown): number => (typeof v === 'number' ? v : (v as tf.Tensor).dataSync()[0]!);
  const withZ = model(async ({ sample, observe }) => {
    const w = await sample('w', Dirichlet([2, 2]));
    const mu0 = await sample('mu0', Normal(-2, 1));
    const mu1 = await sample('mu1', Normal(2, 1));
    for (let i = 0; i < DATA.length; i++) {
      const z = await sample(`z${i}`, Categorical(w));
      await observe(`y${i}`, Normal(num(z) === 0 ? mu0 : mu1, 1), DATA[i]!);
    }
  });

  it('a Dirichlet mixture of 4 scalar assignments: most updates run no model (old code: 9 runs a sweep, 1800 here)', async () => {
    const post = await infer(withZ, { method: 'hmc-gibbs', chains: 1, warmup: 60, samples: 140, seed: 21 });
    const diag = post.diagnostics as unknown as HMCGibbsDiagnostics;
    console.log(`dirichlet mixture, 200 sweeps: ${diag.gibbsReplayed} of 800 updates replayed, ${diag.gibbsModelRuns} model runs`);
    // each update is replayed or run (the first run of a sweep gives the state, then one run per value)
    expect(diag.gibbsReplayed).toBeGreaterThan(0.5 * 800);
    expect(diag.gibbsModelRuns).toBeLessThan(0.5 * 9 * 200);
    post.dispose();
  });
});
