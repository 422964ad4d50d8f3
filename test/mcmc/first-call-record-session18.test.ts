/**
 * FIRST5, session 18 (issue 16, NUTS's first call): two pieces of work the
 * first call did twice, now done once.
 *
 * 1. The completion (deterministic sites, sites of dependent support, the
 *    return value) replays the log density's own record with those values as
 *    outputs (`recorded-outputs.ts`, `completionFromRecord`), where it used to
 *    record and compile the model a second time (`compiledDeterministics`).
 *    Pinned: both give the same columns bit for bit (eight schools' `theta`;
 *    a small model's returned tensor, its dependent-support site and a
 *    deterministic site after it), and the
 *    check at the record's point refuses a record whose values disagree.
 *    Planted by hand (not kept): `withOutputs` taking every output from the
 *    first reference (`ref: outputs[0]!.ref`) fails the second case
 *    (`scaled` gets `b`'s values).
 * 2. The self-check at the recording's own point reads tfjs's value and
 *    gradient from the recording's run (taped), where it ran the model on tfjs
 *    there again. Pinned: the taped run's value and gradient equal a separate
 *    `singlePointOnTfjs` run bit for bit, and compiling asks `viaTfjs` once
 *    (the perturbed point) instead of twice. Planted by hand (not kept): the
 *    taped gradient taken at the input rounded to 1e-3 fails the first case.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import { rngFrom } from '../../src/core/rng.js';
import type { Model } from '../../src/core/model.js';
import { type Evaluation, CompiledDensity } from '../../src/infer/mcmc/compiled-density.js';
import { type CompiledCompletion, compiledDeterministics, completionFromRecord } from '../../src/infer/mcmc/compiled-completion.js';
import { layoutOnly, logDensityTensorFn, replayedChainsLogDensityFn, singlePointOnTfjs } from '../../src/infer/mcmc/potential.js';
import { eightSchoolsData, eightSchoolsNoncentered } from '../../models/posteriordb/eight-schools.js';
import { Flat, Normal, model, ops } from '../../src/index.js';

/** b above a (a support that depends on a), a deterministic site after it, and a returned tensor. */
const bounded = model(async ({ sample, observe, deterministic }, y: number) => {
  const a = await sample('a', Normal(0, 1));
  const b = await sample('b', Flat({ low: a }));
  await observe('y', Normal(b, 1), y);
  deterministic('scaled', ops.mul(ops.sub(b, a), 3));
  return tf.stack([a as unknown as tf.Tensor, b as unknown as tf.Tensor]);
}, { name: 'bounded' });

beforeAll(async () => {
  await initBackend('cpu');
});

const sameBits = (a: ArrayLike<number>, b: ArrayLike<number>): boolean => a.length === b.length && Array.from(a).every((v, i) => Object.is(v, b[i]));

/** The density's record (made at `probe`) with the completion's values picked out of its run, and draws around it. */
async function recorded<A extends unknown[], R>(m: Model<A, R>, args: A, shift: (k: number) => number) {
  const layout = await layoutOnly(m, args, rngFrom(0));
  const fn = replayedChainsLogDensityFn(m, args, layout, 1, { compile: true });
  await fn(Float64Array.from({ length: layout.dim }, (_, k) => shift(k)));
  expect(fn.compileStatus()).toBe(true);
  const outputs = fn.replayed()?.outputs;
  if (!outputs) throw new Error('no outputs recorded');
  const draws = 12;
  const rows = Float64Array.from({ length: draws * layout.dim }, (_, i) => 0.7 * Math.sin(1.3 * i + 0.2) + shift(i % layout.dim));
  const point = (i: number): Float64Array => rows.subarray(i * layout.dim, (i + 1) * layout.dim);
  return { layout, outputs, point, draws };
}

function expectSameColumns(a: CompiledCompletion | string, b: CompiledCompletion | string): void {
  if (typeof a === 'string') throw new Error(`from the record: ${a}`);
  if (typeof b === 'string') throw new Error(`by a second recording: ${b}`);
  expect([...a.columns.keys()]).toEqual([...b.columns.keys()]);
  for (const [k, c] of a.columns) {
    const d = b.columns.get(k)!;
    expect(c.shape).toEqual(d.shape);
    expect(sameBits(c.data, d.data), k).toBe(true);
  }
  expect(a.returnValues === undefined).toBe(b.returnValues === undefined);
  for (let i = 0; i < (a.returnValues?.length ?? 0); i++) {
    const x = a.returnValues![i] as tf.Tensor;
    const y = b.returnValues![i] as tf.Tensor;
    expect(sameBits(x.dataSync(), y.dataSync())).toBe(true);
    x.dispose();
    y.dispose();
  }
}

describe('the completion from the log density own record', () => {
  it("eight schools: theta from the density's record equals the completion's own recording bit for bit", async () => {
    const { layout, outputs, point, draws } = await recorded(eightSchoolsNoncentered, [eightSchoolsData], () => 0);
    expect(outputs.outputs.slots.map((s) => s.address)).toEqual(['theta']);
    expectSameColumns(await completionFromRecord(outputs.record, outputs.outputs, point, draws), await compiledDeterministics(eightSchoolsNoncentered, [eightSchoolsData], layout, point, draws));
  }, 60_000);

  it('a returned tensor and a site of dependent support the same way, with no tensor left behind', async () => {
    const { layout, outputs, point, draws } = await recorded(bounded, [2.5], (k) => (k === 1 ? 1 : 0));
    expect(layout.dim).toBe(2);
    expect(outputs.outputs.slots.map((s) => s.address)).toEqual(['b', 'scaled']);
    expect(outputs.outputs.returned).toBeDefined();
    const before = tf.memory().numTensors;
    const a = await completionFromRecord(outputs.record, outputs.outputs, point, draws);
    const b = await compiledDeterministics(bounded, [2.5], layout, point, draws);
    expect(tf.memory().numTensors).toBe(before + 2 * draws); // each draw's return value tensor, the caller's
    expectSameColumns(a, b);
  }, 60_000);

  it("the check at the record's point refuses values that disagree with the replay (then the completion records the model itself)", async () => {
    const { outputs, point, draws } = await recorded(eightSchoolsNoncentered, [eightSchoolsData], () => 0);
    const values = Float64Array.from(outputs.outputs.values);
    values[3]! += 1e-2;
    expect(await completionFromRecord(outputs.record, { ...outputs.outputs, values }, point, draws)).toBe("the replay disagrees with the recording's model run");
  }, 60_000);
});

describe("the self-check at the recording's point reads the recording's own tfjs run", () => {
  it('its value and gradient equal a separate tfjs run bit for bit, and compiling runs tfjs once instead of twice', async () => {
    const m = eightSchoolsNoncentered;
    const args: [typeof eightSchoolsData] = [eightSchoolsData];
    const layout = await layoutOnly(m, args, rngFrom(0));
    const density = logDensityTensorFn(m, args, layout, undefined);
    const single = singlePointOnTfjs(density, layout.dim);
    const q = Float64Array.from({ length: layout.dim }, (_, k) => 0.4 * Math.cos(k + 0.3));
    const make = (taped: boolean, calls: { n: number }) =>
      new CompiledDensity(
        density,
        [layout.dim],
        async (x) => {
          calls.n++;
          const r = await single(x);
          return { logp: Float64Array.of(r.logp), grad: r.grad };
        },
        true,
        1,
        false,
        taped,
      );
    const before = tf.memory().numTensors;
    const probe = make(true, { n: 0 }) as unknown as { traceTaped(x: Float64Array): Promise<{ atPoint?: Evaluation }> };
    const { atPoint } = await probe.traceTaped(q);
    expect(tf.memory().numTensors).toBe(before);
    const separate = await single(q);
    expect(atPoint).toBeDefined();
    expect(Object.is(atPoint!.logp[0], separate.logp)).toBe(true);
    expect(sameBits(atPoint!.grad, separate.grad)).toBe(true);
    const taped = { n: 0 };
    const plain = { n: 0 };
    const a = make(true, taped);
    const b = make(false, plain);
    const ra = await a.evaluate(q);
    const rb = await b.evaluate(q);
    expect([a.status, b.status]).toEqual([true, true]);
    expect([taped.n, plain.n]).toEqual([1, 2]);
    expect(sameBits(ra.logp, rb.logp) && sameBits(ra.grad, rb.grad)).toBe(true);
  }, 60_000);
});
