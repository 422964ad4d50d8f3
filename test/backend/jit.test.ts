/**
 * The trace compiler (src/backend/jit) and compiled log densities: every
 * kernel rule against tfjs's own forward values and `tf.grad` gradients on
 * random inputs with broadcasting; guards, refusals, the self-check that
 * turns compilation off, and NUTS through a compiled potential.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import { CompiledGraph, compilableKernels } from '../../src/backend/jit/program.js';
import { traceTensorFunction } from '../../src/backend/jit/trace.js';
import { CompiledDensity } from '../../src/infer/mcmc/compiled-density.js';
import { batchedLogDensityFn, layoutOf } from '../../src/infer/mcmc/potential.js';
import { rngFrom } from '../../src/core/rng.js';
import { HalfCauchy, Normal, infer, model, ops } from '../../src/index.js';
import { eightSchoolsData, eightSchoolsNoncentered } from '../../models/posteriordb/eight-schools.js';
import { CASES, viaTfjs } from '../helpers/jit-cases.js';

beforeAll(async () => {
  await initBackend('cpu');
});

async function compiled(fn: (x: tf.Tensor) => tf.Tensor, x: tf.Tensor): Promise<CompiledGraph> {
  const r = await traceTensorFunction(fn, x);
  if (!r.graph) throw new Error(`not traced: ${r.reason}`);
  const c = CompiledGraph.compile(r.graph);
  if (!(c instanceof CompiledGraph)) throw new Error(c.reason);
  return c;
}

/**
 * Cases where tfjs 4.22's own gradient is wrong or missing, so only central
 * differences judge ours: Cumsum along axis 1 and BatchMatMul with broadcast
 * batch axes (shape errors), FloorDiv (given RealDiv's gradient instead of 0),
 * StridedSlice (no gradient registered).
 */
const TFJS_GRADIENT_BROKEN = new Set(['cumsum softmax', 'matmul', 'floorDiv', 'stridedSlice']);

/** Central differences of the compiled forward pass (float64, so h can be small). */
function centralDifferences(c: CompiledGraph, x: Float64Array, h = 1e-6): Float64Array {
  const g = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const up = Float64Array.from(x);
    const down = Float64Array.from(x);
    up[i]! += h;
    down[i]! -= h;
    g[i] = (c.run(up, false)!.value[0]! - c.run(down, false)!.value[0]!) / (2 * h);
  }
  return g;
}

describe('compiled kernels agree with tfjs', () => {
  for (const [name, fn] of Object.entries(CASES)) {
    it(`${name}: values match tfjs, gradients match central differences (and tf.grad)`, async () => {
      const x0 = tf.tensor2d([[0.3, -0.8, 1.1], [-1.4, 0.6, 0.2]]);
      const c = await compiled(fn, x0);
      let checked = 0;
      for (let seed = 0; seed < 4; seed++) {
        const x = tf.randomUniform([2, 3], -1.9, 1.9, 'float32', seed);
        const xs = Float64Array.from(x.dataSync());
        const want = fn(x).dataSync()[0]!;
        const got = c.run(xs, true);
        if (!got) continue; // a validity guard flipped (only the 'reductions' case has one)
        checked++;
        const value = got.value[0]!;
        const grad = Float64Array.from(got.grad!);
        // float32 tfjs against the float64 replay: agreement to float32 rounding
        expect(Math.abs(value - want)).toBeLessThan(1e-4 * (1 + Math.abs(want)));
        const fd = centralDifferences(c, xs);
        fd.forEach((g, i) => expect(Math.abs(grad[i]! - g), `grad[${i}] vs differences`).toBeLessThan(1e-5 * (1 + Math.abs(g))));
        if (!TFJS_GRADIENT_BROKEN.has(name)) {
          const wantGrad = tf.grad(fn)(x).dataSync();
          wantGrad.forEach((g, i) => expect(Math.abs(grad[i]! - g), `grad[${i}] vs tf.grad`).toBeLessThan(1e-4 * (1 + Math.abs(g))));
        }
      }
      expect(checked).toBeGreaterThan(0);
    });
  }

  it('the cases above use the kernels that have rules', async () => {
    const used = new Set<string>();
    for (const fn of Object.values(CASES)) {
      const r = await traceTensorFunction(fn, tf.tensor2d([[0.3, -0.8, 1.1], [-1.4, 0.6, 0.2]]));
      for (const n of r.graph?.nodes ?? []) used.add(n.kernel);
    }
    // (Cast, Mean: recorded under other names here; tf.broadcastTo and tf.squeeze record as Tile and Reshape)
    const untested = compilableKernels().filter((k) => !used.has(k) && !['OnesLike', 'Cast', 'Mean', 'BroadcastTo', 'Squeeze'].includes(k));
    expect(untested).toEqual([]);
  });

  it('a planted wrong derivative is caught by the comparison', async () => {
    const fn = CASES['smooth maps']!;
    const x = tf.tensor2d([[0.3, -0.8, 1.1], [-1.4, 0.6, 0.2]]);
    const c = await compiled(fn, x);
    const got = c.run(Float64Array.from(x.dataSync()), true)!;
    const wantGrad = tf.grad((t: tf.Tensor) => tf.add(fn(t), tf.sum(tf.square(t))))(x).dataSync();
    const worst = Math.max(...Array.from(wantGrad, (g, i) => Math.abs(got.grad![i]! - g)));
    expect(worst).toBeGreaterThan(0.1);
  });
});

describe('tracing', () => {
  it('turns reads of boolean checks into guards that send changed points back', async () => {
    const fn = (x: tf.Tensor): tf.Tensor => {
      const ok = tf.greater(x, 0);
      const allPositive = tf.all(ok).dataSync()[0] === 1;
      return allPositive ? tf.sum(tf.log(x)) : tf.sum(x);
    };
    const c = await compiled(fn, tf.tensor1d([1, 2, 3]));
    expect(c.run(Float64Array.of(2, 3, 4), true)!.value[0]).toBeCloseTo(Math.log(24), 10);
    expect(c.run(Float64Array.of(2, -3, 4), true)).toBeUndefined();
  });

  it('refuses code that reads parameter-dependent numbers, and records a custom-gradient op as one opaque node', async () => {
    const branching = (x: tf.Tensor): tf.Tensor => (x.dataSync()[0]! > 0 ? tf.sum(x) : tf.sum(tf.neg(x)));
    const r = await traceTensorFunction(branching, tf.tensor1d([1, 2]));
    expect(r.graph).toBeUndefined();
    expect((r as { reason: string }).reason).toMatch(/reads a float32 value/);
    const custom = tf.customGrad(((x: tf.Tensor) => ({ value: tf.square(x), gradFunc: (dy: tf.Tensor) => tf.mul(dy, 2) })) as unknown as Parameters<typeof tf.customGrad>[0]);
    const r2 = await traceTensorFunction((x) => tf.sum(custom(x) as tf.Tensor), tf.tensor1d([1, 2]));
    expect(r2.graph?.nodes.map((n) => n.kernel)).toEqual(['Custom:tf.customGrad op', 'Sum']); // (jit-float64.test.ts runs such nodes)
  });

  it('leaves the engine as it found it', async () => {
    const before = tf.memory().numTensors;
    const x = tf.tensor1d([1, 2]);
    await traceTensorFunction((t) => tf.sum(tf.square(t)), x);
    x.dispose();
    tf.dispose(tf.engine().state.activeScope as unknown as tf.Tensor[]);
    expect(tf.memory().numTensors).toBeLessThanOrEqual(before + 3);
    // reads and kernels still work untraced
    expect(tf.sum(tf.tensor1d([1, 2])).dataSync()[0]).toBe(3);
  });
});

describe('compiled log densities', () => {

  it('are used when they agree with tfjs', async () => {
    const f = (q: tf.Tensor): tf.Tensor => tf.mul(tf.sum(tf.square(q)), -0.5);
    const d = new CompiledDensity(async (q) => f(q), [3], viaTfjs(f), true);
    const r = await d.evaluate(Float64Array.of(1, 2, 3));
    expect(d.status).toBe(true);
    expect(r.logp[0]).toBeCloseTo(-7, 10);
    expect(Array.from(r.grad)).toEqual([-1, -2, -3]);
  });

  it('are turned off by the self-check when the density depends on more than q', async () => {
    let calls = 0;
    // a closure that changes between calls (as a density conditioned on Gibbs-updated values would)
    const f = (q: tf.Tensor): tf.Tensor => tf.mul(tf.sum(tf.square(q)), -0.5 * (1 + calls++));
    const d = new CompiledDensity(async (q) => f(q), [2], viaTfjs(f), true);
    await d.evaluate(Float64Array.of(1, 2));
    expect(d.status).toMatch(/self-check failed/);
  });

  it('NUTS on eight schools runs compiled, with the same posterior as tfjs within MCSE', async () => {
    const opts = { method: 'nuts' as const, chains: 4, warmup: 300, samples: 300, seed: 5 };
    const fast = await infer(eightSchoolsNoncentered, opts, eightSchoolsData);
    const slow = await infer(eightSchoolsNoncentered, { ...opts, compile: false }, eightSchoolsData);
    expect(fast.diagnostics.compiled).toBe(true);
    expect(slow.diagnostics.compiled).toBe('compile: false');
    const rows = (p: typeof fast) => new Map(p.summary().rows.map((r) => [r.name, r]));
    const a = rows(fast);
    const b = rows(slow);
    for (const [name, ra] of a) {
      const rb = b.get(name)!;
      const se = Math.hypot(Number(ra.mcse_mean), Number(rb.mcse_mean));
      expect(Math.abs(ra.mean - rb.mean), name).toBeLessThan(4 * se);
    }
  });

  it('create no tensors per evaluation once compiled (and the trace leaves none behind)', async () => {
    const { layout } = await layoutOf(eightSchoolsNoncentered, [eightSchoolsData], rngFrom(1));
    const before = tf.memory().numTensors;
    const f = batchedLogDensityFn(eightSchoolsNoncentered, [eightSchoolsData], layout, 4, { compile: true });
    const q = new Float64Array(4 * layout.dim).map((_, i) => 0.1 * Math.sin(i));
    await f(q);
    expect(f.compileStatus()).toBe(true);
    const afterFirst = tf.memory().numTensors;
    for (let i = 0; i < 200; i++) await f(q.map((v) => v + 0.01 * i));
    expect(tf.memory().numTensors).toBe(afterFirst);
    // the data arrays' cached tensors are all the first call may keep
    expect(afterFirst - before).toBeLessThanOrEqual(4);
  });

  it('a model that branches on a parameter value is not compiled and says why', async () => {
    const branchy = model(async ({ sample, observe }) => {
      const x = await sample('x', Normal(0, 1));
      const s = await sample('s', HalfCauchy(1));
      const loc = ops.toNumber(x) > 0 ? ops.mul(x, 2) : x;
      await observe('y', Normal(loc, s), 0.5);
    });
    const post = await infer(branchy, { method: 'nuts', chains: 2, warmup: 50, samples: 50, seed: 1, vectorize: false });
    expect(String(post.diagnostics.compiled)).toMatch(/not traceable/);
  });
});
