/**
 * What the JIT's record holds: constants captured from data and parameters
 * given as JS numbers carry their doubles (backend/float64-constants.ts,
 * constant folding in jit/trace.ts), so a replayed log density equals a hand
 * float64 computation to ~1e-12 on data float32 cannot hold; a user's
 * `tf.customGrad` op is one opaque node run on tfjs (jit/user-grad.ts), its
 * gradient checked against central differences.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import { CompiledGraph } from '../../src/backend/jit/program.js';
import { type Graph, traceTensorFunction } from '../../src/backend/jit/trace.js';
import { float64Of, tensor64 } from '../../src/backend/float64-constants.js';
import { layoutOf, logDensityFn, logDensityTensorFn } from '../../src/infer/mcmc/potential.js';
import { rngFrom } from '../../src/core/rng.js';
import { lgammaNumber } from '../../src/math/special.js';
import { Normal, Poisson, model, ops } from '../../src/index.js';

beforeAll(async () => {
  await initBackend('cpu');
});

// data float32 cannot hold: 0.1 steps with 1e-9 offsets, counts above 2^24, a data scale of 0.1 steps
const ys = Array.from({ length: 12 }, (_, i) => 1 + 0.1 * i + (i + 1) * 1e-9);
const sigmas = Float64Array.from({ length: 12 }, (_, i) => 0.3 + 0.1 * i);
const counts = [16777217, 33554435, 20000001];

const normal = (x: number, m: number, s: number): number => -0.5 * ((x - m) / s) ** 2 - Math.log(s) - 0.5 * Math.log(2 * Math.PI);

/** A model over (mu, lr) and its log density by hand in float64 as a list of terms. */
interface Case {
  readonly m: ReturnType<typeof model<[], void>>;
  readonly terms: (mu: number, lr: number) => number[];
}

const CASES: Record<string, Case> = {
  // data with 0.1 steps and 1e-9 offsets; a data scale with 0.1 steps; parameters as JS numbers
  'Normal data': {
    m: model(async ({ sample, observe }) => {
      const mu = await sample('mu', Normal(0.1, 3.3));
      const lr = await sample('lr', Normal(-0.7, 2.1));
      await observe('y', Normal(mu, 0.3), ys);
      await observe('z', Normal(ops.add(mu, 0.7), ops.exp(lr)), ys);
      await observe('w', Normal(ops.mul(mu, 1.1), sigmas), ys);
    }),
    terms: (mu, lr) => {
      const t = [normal(mu, 0.1, 3.3), normal(lr, -0.7, 2.1)];
      ys.forEach((y, i) => t.push(normal(y, mu, 0.3), normal(y, mu + 0.7, Math.exp(lr)), normal(y, mu * 1.1, sigmas[i]!)));
      return t;
    },
  },
  // counts above 2^24
  'Poisson counts': {
    m: model(async ({ sample, observe }) => {
      const mu = await sample('mu', Normal(0.1, 3.3));
      const lr = await sample('lr', Normal(16.7, 2.1));
      await observe('k', Poisson(ops.exp(ops.add(lr, ops.mul(mu, 0.01)))), counts);
    }),
    terms: (mu, lr) => {
      const t = [normal(mu, 0.1, 3.3), normal(lr, 16.7, 2.1)];
      const r = lr + mu * 0.01;
      for (const k of counts) t.push(k * r, -Math.exp(r), -lgammaNumber(k + 1));
      return t;
    },
  },
};

const POINTS = [
  [0.9, -0.5],
  [1.37, 16.9],
  [0.41, 17.2],
] as const;

async function recordOf(c: Case, at: readonly number[]): Promise<Graph> {
  const { layout } = await layoutOf(c.m, [], rngFrom(1));
  const density = logDensityTensorFn(c.m, [], layout, undefined);
  const r = await traceTensorFunction(density, tf.tensor1d(at as number[]));
  if (!r.graph) throw new Error(`not traced: ${r.reason}`);
  return r.graph;
}

/** The worst error of the replayed log density against the hand computation, relative to the sum of its terms' magnitudes (the scale of float64 rounding). */
function worstError(c: Case, graph: Graph): number {
  const compiled = CompiledGraph.compile(graph);
  if (!(compiled instanceof CompiledGraph)) throw new Error(compiled.reason);
  let worst = 0;
  for (const [mu, lr] of POINTS) {
    const got = compiled.run(Float64Array.of(mu, lr), false)!.value[0]!;
    const terms = c.terms(mu, lr);
    const want = terms.reduce((a, b) => a + b, 0);
    const scale = terms.reduce((a, b) => a + Math.abs(b), 0);
    worst = Math.max(worst, Math.abs(got - want) / scale);
  }
  return worst;
}

describe('float64 constants in the record', () => {
  for (const [name, c] of Object.entries(CASES)) {
    it(`${name}: the replayed log density equals a float64 hand computation to 1e-12 (planted: constants rounded to float32 fail)`, async () => {
      const graph = await recordOf(c, [0.9, name === 'Normal data' ? -0.5 : 16.5]);
      const err = worstError(c, graph);
      const rounded = worstError(c, { ...graph, constants: graph.constants.map((k) => ({ ...k, values: k.values.map(Math.fround) })) });
      console.log(`${name}: worst relative error ${err.toExponential(2)} (constants rounded to float32: ${rounded.toExponential(2)})`);
      expect(err).toBeLessThan(1e-12);
      expect(rounded).toBeGreaterThan(1e-12);
    });
  }

  it('tensor64 remembers doubles only where float32 loses them; reshape keeps them, and a plain tf.tensor has none', () => {
    const t = tensor64([[0.1, 0.5], [2, 3]]);
    expect(Array.from(float64Of(t)!)).toEqual([0.1, 0.5, 2, 3]);
    expect(Array.from(float64Of(tf.reshape(t, [4]))!)).toEqual([0.1, 0.5, 2, 3]);
    expect(float64Of(tensor64([0.5, 2, 3]))).toBeUndefined();
    expect(float64Of(tf.tensor([0.1]))).toBeUndefined();
  });
});

/** softplus as a user custom-gradient op; `wrong` plants a gradient off by a factor 2. */
function softplusOp(wrong: boolean): (x: tf.Tensor) => tf.Tensor {
  return tf.customGrad(((x: tf.Tensor, save: (ts: tf.Tensor[]) => void) => {
    save([x]);
    return { value: tf.softplus(x), gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.mul(dy, tf.mul(tf.sigmoid(saved[0]!), wrong ? 2 : 1)) };
  }) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (x: tf.Tensor) => tf.Tensor;
}

function userGradModel(wrong: boolean) {
  const op = softplusOp(wrong);
  return model(async ({ sample, observe }) => {
    const a = await sample('a', Normal(0, 1));
    const b = await sample('b', Normal(0, 1));
    await observe('y', Normal(b, op(tf.add(tf.mul(a, 1.3), 0.2))), ys);
  });
}

describe('the self-check where float32 cannot resolve the density', () => {
  // a site near 1e4 on a scale of 1e-3: float32 spacing there is ~1e-3, so tfjs's log density is off by O(1)
  const loc = 1e4 + 0.1;
  const tight = (shift: () => number) =>
    model(async ({ sample, observe }) => {
      const x = await sample('x', Normal(loc, 1));
      await observe('y', Normal(ops.add(x, shift()), 1e-3), [loc + 2e-4, loc - 3e-4]);
    });
  const hand = (x: number): number => normal(x, loc, 1) + normal(loc + 2e-4, x, 1e-3) + normal(loc - 3e-4, x, 1e-3);

  it('settles a disagreement with tfjs by a float64 run of the model: the replay stays on and equals the hand computation', async () => {
    const m = tight(() => 0);
    const { layout } = await layoutOf(m, [], rngFrom(1));
    const replay = logDensityFn(m, [], layout, { compile: true });
    const tfjs = logDensityFn(m, [], layout, { compile: false });
    const q = Float64Array.of(loc + 1e-4);
    const r = await replay(q);
    expect(replay.compileStatus()).toBe(true);
    const t = await tfjs(q);
    console.log(`near 1e4 on a 1e-3 scale: replay - hand ${(r.logp - hand(q[0]!)).toExponential(2)}, tfjs - hand ${(t.logp - hand(q[0]!)).toExponential(2)}`);
    expect(Math.abs(r.logp - hand(q[0]!))).toBeLessThan(1e-9 * (1 + Math.abs(hand(q[0]!))));
    expect(Math.abs(t.logp - hand(q[0]!))).toBeGreaterThan(1e-3 * (1 + Math.abs(hand(q[0]!))));
  });

  it('planted: a model whose runs differ (a closure that moves) is still turned off, the float64 run is no rubber stamp', async () => {
    let calls = 0;
    const m = tight(() => 1e-3 * calls++);
    const { layout } = await layoutOf(m, [], rngFrom(1));
    const replay = logDensityFn(m, [], layout, { compile: true });
    await replay(Float64Array.of(loc + 1e-4));
    expect(String(replay.compileStatus())).toMatch(/self-check failed/);
  });
});

describe('a user tf.customGrad op in the record', () => {
  it('is one opaque node run on tfjs (float32): the rest compiles, values and gradients match tfjs and central differences, and the stats say so', async () => {
    const m = userGradModel(false);
    const { layout } = await layoutOf(m, [], rngFrom(1));
    const replay = logDensityFn(m, [], layout, { compile: true });
    const tfjs = logDensityFn(m, [], layout, { compile: false });
    const before = tf.memory().numTensors;
    for (const pt of [
      [0.3, 1.1],
      [-0.8, 1.6],
      [1.2, 0.9],
    ]) {
      const q = Float64Array.from(pt);
      const r = await replay(q);
      expect(replay.compileStatus()).toBe(true);
      const t = await tfjs(q);
      // float32 rounding in the tfjs run and in the op's node: 1e-5 relative is wide over ~1e-7 per operation
      expect(Math.abs(r.logp - t.logp)).toBeLessThan(1e-5 * (1 + Math.abs(t.logp)));
      for (let i = 0; i < 2; i++) expect(Math.abs(r.grad[i]! - t.grad[i]!)).toBeLessThan(1e-4 * (1 + Math.abs(t.grad[i]!)));
      // central differences of the replay (the node's float32 values: h = 1e-3 keeps rounding near 1e-4 of the log density's scale)
      for (let i = 0; i < 2; i++) {
        const up = Float64Array.from(q);
        const down = Float64Array.from(q);
        up[i]! += 1e-3;
        down[i]! -= 1e-3;
        const fd = ((await replay(up)).logp - (await replay(down)).logp) / 2e-3;
        expect(Math.abs(fd - r.grad[i]!)).toBeLessThan(1e-3 * (1 + Math.abs(r.logp)));
      }
    }
    expect(tf.memory().numTensors).toBe(before);
    expect(replay.compileStats().viaTfjs).toBe(0);
    expect(replay.compileStats().notes).toEqual(['tf.customGrad op before site "y" runs in float32 on tfjs inside the float64 replay, with its own gradient']);
  });

  it('planted: a wrong user gradient is named in compileStats.surrogateGradients and the notes (the engine decides: NUTS notes it, VI refuses it)', async () => {
    const m = userGradModel(true);
    const { layout } = await layoutOf(m, [], rngFrom(1));
    const replay = logDensityFn(m, [], layout, { compile: true });
    await replay(Float64Array.of(0.3, 1.1));
    expect(replay.compileStatus()).toBe(true);
    const stats = replay.compileStats();
    expect(stats.surrogateGradients).toHaveLength(1);
    expect(stats.surrogateGradients![0]).toMatch(/tf.customGrad op before site "y" \(run on tfjs in float32\): its gradFunc disagrees with central differences .*relative [3-9]\.\de-1/);
    expect(stats.notes!.some((n) => /disagrees.*HMC and NUTS stay exact/.test(n))).toBe(true);
    // the true gradient is not flagged
    const ok = logDensityFn(userGradModel(false), [], layout, { compile: true });
    await ok(Float64Array.of(0.3, 1.1));
    expect(ok.compileStats().surrogateGradients).toBeUndefined();
  });

  it('a straight-through clip (true gradient near the recorded point, not beyond the clip) is found by the points around it', async () => {
    const clipST = tf.customGrad(((x: tf.Tensor) => ({ value: tf.clipByValue(x, -1, 1), gradFunc: (dy: tf.Tensor) => dy })) as never) as unknown as (x: tf.Tensor) => tf.Tensor;
    const clipTrue = tf.customGrad(((x: tf.Tensor) => ({ value: tf.clipByValue(x, -1, 1), gradFunc: (dy: tf.Tensor) => tf.mul(dy, tf.cast(tf.logicalAnd(tf.greater(x, -1), tf.less(x, 1)), 'float32')) })) as never) as unknown as (x: tf.Tensor) => tf.Tensor;
    const withOp = (op: (x: tf.Tensor) => tf.Tensor) =>
      model(async ({ sample, observe }) => {
        const a = await sample('a', Normal(0, 1));
        await observe('y', Normal(op(ops.toTensor(a)), 1), 3);
      });
    const { layout } = await layoutOf(withOp(clipST), [], rngFrom(1));
    const st = logDensityFn(withOp(clipST), [], layout, { compile: true });
    await st(Float64Array.of(0.2));
    expect(st.compileStats().surrogateGradients?.[0]).toMatch(/tf.customGrad op before site "y".*disagrees/);
    const exact = logDensityFn(withOp(clipTrue), [], layout, { compile: true });
    await exact(Float64Array.of(0.2));
    expect(exact.compileStatus()).toBe(true);
    expect(exact.compileStats().surrogateGradients).toBeUndefined();
  });
});
