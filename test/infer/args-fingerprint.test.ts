/**
 * `infer/args-fingerprint.ts` (a model's arguments by value) and the pass cache of infer's
 * numbers-versus-tensors check (`infer/branch-check.ts`) that is keyed by it: a second `infer` call
 * with the same model and the same argument values skips the check's model runs; any change of
 * values runs it again, and a branch on a tensor that only the new data reaches is still refused.
 */
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { argsFingerprint } from '../../src/infer/args-fingerprint.js';
import { assertSameOnNumbersAndTensors } from '../../src/infer/branch-check.js';
import { Normal, type Value, model, ops } from '../../src/index.js';

describe('argsFingerprint', () => {
  it('equal values give equal fingerprints; any changed element, key, type or nesting changes it', () => {
    const data = () => ({ J: 3, y: [28, 8, -3], sigma: new Float64Array([15, 10, 16]), name: 'schools', flag: true, none: null });
    const a = argsFingerprint([data()]);
    expect(a).toBeDefined();
    expect(argsFingerprint([data()])).toBe(a);
    const variants: unknown[][] = [
      [{ ...data(), y: [28, 8, -3.0000000001] }],
      [{ ...data(), sigma: new Float64Array([15, 10, 16.5]) }],
      [{ ...data(), sigma: new Float32Array([15, 10, 16]) }],
      [{ ...data(), name: 'school' }],
      [{ ...data(), flag: false }],
      [{ ...data(), none: undefined }],
      [{ ...data(), extra: 0 }],
      [{ ...data(), y: [[28, 8], -3] }],
      [data(), 1],
      [{ ...data(), y: [28, 8, -3, 0] }],
      [{ ...data(), y: [28, 8, -0 - 3, -0] }],
    ];
    const seen = new Set([a]);
    for (const v of variants) {
      const f = argsFingerprint(v);
      expect(f).toBeDefined();
      expect(seen.has(f)).toBe(false);
      seen.add(f);
    }
  });

  it('an array changed in place changes the fingerprint', () => {
    const ys = [1, 2, 3];
    const before = argsFingerprint([ys]);
    ys[1] = 2.5;
    expect(argsFingerprint([ys])).not.toBe(before);
  });

  it('tensors and functions by identity; Variables, Maps, class instances and cycles have none', () => {
    const t = tf.tensor1d([1, 2]);
    const f = (x: number) => x;
    expect(argsFingerprint([t, f])).toBe(argsFingerprint([t, f]));
    const t2 = tf.tensor1d([1, 2]);
    expect(argsFingerprint([t2, f])).not.toBe(argsFingerprint([t, f]));
    const v = tf.variable(tf.scalar(1));
    expect(argsFingerprint([v])).toBeUndefined();
    expect(argsFingerprint([new Map([[1, 2]])])).toBeUndefined();
    class Box {
      x = 1;
    }
    expect(argsFingerprint([new Box()])).toBeUndefined();
    const cyc: Record<string, unknown> = { a: 1 };
    cyc.self = cyc;
    expect(argsFingerprint([cyc])).toBeUndefined();
    // the same object twice is not a cycle
    const shared = [1, 2];
    expect(argsFingerprint([{ a: shared, b: shared }])).toBeDefined();
    tf.dispose([t, t2, v]);
  });
});

describe("infer's numbers-versus-tensors check keeps its passes by model and argument values", () => {
  /** The model branches on a tensor only where the data hold a value above 10 (a newcomer's threshold helper). */
  let runs = 0;
  const threshold = model(async ({ sample, observe }, ys: number[]) => {
    runs++;
    const mu = await sample('mu', Normal(0, 1));
    for (let i = 0; i < ys.length; i++) {
      const big = ys[i]! > 10;
      // the bug: `ops.gt(mu, 0)` on a tensor is always true
      const scale = big && (ops.gt(mu, 0) as unknown as boolean) ? 0.5 : 2;
      await observe(`y${i}`, Normal(mu as Value, scale), ys[i]!);
    }
  }, { name: 'threshold' });

  it('a second call with the same values runs the model no more; new values run the check again and a branch only they reach is refused', async () => {
    const small = [0.5, -1, 2];
    runs = 0;
    await assertSameOnNumbersAndTensors(threshold, [small], 'nuts');
    expect(runs).toBe(16); // 8 points, a run on numbers and one on tensors each
    await assertSameOnNumbersAndTensors(threshold, [small], 'nuts');
    expect(runs).toBe(16);
    // equal values in a new array: still a pass
    await assertSameOnNumbersAndTensors(threshold, [[0.5, -1, 2]], 'nuts');
    expect(runs).toBe(16);
    // another seed (infer's) is the same model and arguments: still a pass; more points is another check
    await assertSameOnNumbersAndTensors(threshold, [small], 'nuts', { seed: 3 });
    expect(runs).toBe(16);
    await assertSameOnNumbersAndTensors(threshold, [small], 'nuts', { points: 9 });
    expect(runs).toBe(34);
    // the data changed in place to reach the branch: the check runs and refuses, naming the site
    small[1] = 12;
    await expect(assertSameOnNumbersAndTensors(threshold, [small], 'nuts')).rejects.toThrow(/site "y1": the model branches on a tensor comparison/);
    // and a refusal is not kept as a pass: it refuses again
    await expect(assertSameOnNumbersAndTensors(threshold, [small], 'nuts')).rejects.toThrow(/site "y1"/);
  }, 60_000);

  it('arguments with no fingerprint (a Variable) are checked on every call', async () => {
    let n = 0;
    const withVariable = model(async ({ sample, observe }, v: tf.Variable) => {
      n++;
      const mu = await sample('mu', Normal(0, 1));
      await observe('y', Normal(mu, 1), v);
    });
    const v = tf.variable(tf.scalar(0.3));
    await assertSameOnNumbersAndTensors(withVariable, [v], 'nuts');
    await assertSameOnNumbersAndTensors(withVariable, [v], 'nuts');
    expect(n).toBe(32);
    v.dispose();
  }, 60_000);
});
