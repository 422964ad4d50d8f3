/**
 * SURFACES, session 12: open items from session 11 reproduced as a user
 * would meet them, each with what it did on the code before.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, test } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import { Beta, Gamma, HalfNormal, Normal, Transformed, bijectTo, infer, model, ops, runSMC, transforms } from '../../src/index.js';

beforeAll(async () => {
  await initBackend('cpu');
});

const { Affine } = transforms;
const vec = (xs: number[]): tf.Tensor => tf.tensor1d(xs);
const read = (v: unknown): number[] => Array.from((v as tf.Tensor).dataSync());

// Before: the support was 'real' and the batch shape [] for tensor parameters (only number parameters mapped the
// base's bounds), so NUTS and VI unconstrained with the identity onto a half-line or interval.
describe('Transformed(base, Affine(tensor, tensor)): the support is the image of the base\'s', () => {
  test('an interval base maps to an interval, bounds ordered elementwise', () => {
    const d = Transformed(Beta(2, 2), Affine(vec([-1, 0]), vec([2, -1])));
    expect(d.batchShape).toEqual([2]);
    const s = d.support as unknown as { name: string; lower: tf.Tensor; upper: tf.Tensor };
    expect(s.name).toBe('interval(tensor[2], tensor[2])');
    expect(read(s.lower)).toEqual([-1, -1]);
    expect(read(s.upper)).toEqual([1, 0]);
    // outside the image: -Infinity; inside: the change of variables
    expect(read(d.logProb(vec([1.5, -0.5])))[0]).toBe(-Infinity);
    const inside = read(d.logProb(vec([0.5, -0.5])));
    expect(inside[0]).toBeCloseTo(Beta(2, 2).logProb(0.75) as number - Math.log(2), 5);
    expect(inside[1]).toBeCloseTo(Beta(2, 2).logProb(0.5) as number, 5);
  });

  test('a half-line base under positive scales maps to greaterThan, under mixed signs to the image constraint', () => {
    const up = Transformed(Gamma(2, 1), Affine(vec([3, 10]), vec([2, 1])));
    expect(up.support.name).toBe('greaterThan(tensor[2])');
    expect(read(up.support.check(vec([3.5, 9])))).toEqual([1, 0]);
    const mixed = Transformed(Gamma(2, 1), Affine(vec([0, 10]), vec([1, -1])));
    expect(mixed.support.name).toBe('image(nonnegative, Affine)');
    expect(read(mixed.support.check(vec([1, 9])))).toEqual([1, 1]);
    expect(read(mixed.support.check(vec([-1, 11])))).toEqual([0, 0]);
    expect(read(mixed.logProb(vec([-1, 11])))).toEqual([-Infinity, -Infinity]);
    // bijectTo reaches it: every unconstrained point lands inside, with a finite density
    const b = bijectTo(mixed.support);
    const y = b.forward(vec([0.3, -2]));
    expect(read(mixed.support.check(y))).toEqual([1, 1]);
    expect(read(mixed.logProb(y)).every(Number.isFinite)).toBe(true);
  });

  test('NUTS finds the moments of each element (Gamma(2, 1) mapped by 3 + 2x and 10 - x)', async () => {
    const d = Transformed(Gamma(2, 1), Affine(vec([3, 10]), vec([2, -1])));
    const m = model(async ({ sample }) => {
      await sample('x', d);
    }, { name: 'affine-gamma' });
    const post = await infer(m, { method: 'nuts', chains: 1, warmup: 300, samples: 1000, seed: 1 });
    // exact: means 3 + 2*2 = 7 and 10 - 2 = 8; tolerance 5 MCSE of the mean (the chain's own estimate)
    const rows = post.summary().rows;
    for (const [site, mean] of [['x[0]', 7], ['x[1]', 8]] as const) {
      const row = rows.find((r) => r.name === site)! as unknown as { mean: number; mcse_mean: number };
      expect(Math.abs(row.mean - mean), site).toBeLessThan(5 * row.mcse_mean);
      expect(row.mcse_mean, site).toBeLessThan(0.2);
    }
    post.dispose();
  }, 120_000);
});

// Before: 'SMC: particles must be a positive integer, got undefined' for the misspelt `particle` (no entry point named,
// no near miss), 'SMC step 0: ...' from the run, and 'fk.init is not a function' from inside the run.
describe('runSMC called directly names itself, as infer does', () => {
  const fk = (potential: (n: number) => number[]) => ({
    init: (n: number) => Array.from({ length: n }, () => 0),
    step: (s: number[]) => ({ state: s, logPotential: potential(s.length) }),
    done: (t: number) => t >= 2,
  });
  const flat = fk((n) => new Array(n).fill(0));
  test.each([
    ['a misspelt option, with the near miss', flat, { particle: 10 }, /^runSMC: unknown option "particle" \(did you mean "particles"\?\)/],
    ['a value out of range', flat, { particles: 4, essThreshold: 2 }, /^runSMC: essThreshold must be/],
    ['a missing particle count', flat, {}, /^runSMC: particles must be a positive integer, got undefined/],
    ['an fk without step', { init: flat.init, done: flat.done }, { particles: 4 }, /^runSMC: fk\.step must be a function/],
    ['a potential of the wrong length', fk(() => [0]), { particles: 4 }, /^runSMC: step 0: logPotential has 1 values, expected 4/],
    ['every weight zero', fk((n) => new Array(n).fill(-Infinity)), { particles: 4 }, /^runSMC: step 0: every particle has zero weight/],
    ['a NaN potential', fk((n) => new Array(n).fill(NaN)), { particles: 4 }, /^runSMC: step 0: log potential of particle 0 is NaN/],
  ])('%s', async (_what, f, options, message) => {
    await expect(runSMC(f as never, { seed: 1, ...options } as never)).rejects.toThrow(message);
  });

  test('a well-formed run still runs (log Z of a flat potential is 0)', async () => {
    const res = await runSMC(flat, { particles: 4, seed: 1 });
    expect(res.logZ).toBe(0);
    expect(res.steps).toBe(2);
  });
});

// Before: `predictive(n, { args: [xNew] })` failed with 'site "y": observe needs a value', and a placeholder y had to
// have the new inputs' length (its shape was checked against the new x's before the site was redrawn).
describe('predictive at new inputs with the observed data left out (NumPyro\'s y=None)', () => {
  const reg = model(async ({ sample, observe }, x: tf.Tensor, y?: number[] | null) => {
    const a = await sample('a', Normal(0, 5));
    const b = await sample('b', Normal(0, 5));
    const s = await sample('s', HalfNormal(1));
    await observe('y', Normal(ops.add(a, ops.mul(b, x)), s), y);
  }, { name: 'regression' });
  const x = vec([0, 1, 2, 3, 4, 5]);
  const y = [0.1, 1.1, 1.9, 3.2, 3.9, 5.1];
  const xNew = [10, 20];
  const xNewT = vec(xNew);
  const ENGINES: Record<string, object> = {
    importance: { method: 'importance', particles: 200, seed: 1 },
    nuts: { method: 'nuts', chains: 1, warmup: 100, samples: 100, seed: 1 },
    smc: { method: 'smc', particles: 100, seed: 1 },
    vi: { method: 'vi', steps: 50, seed: 1 },
  };
  test.each(Object.keys(ENGINES))('%s: y drawn at the new x, the same draws as with a placeholder y of that length', async (method) => {
    const post = await infer(reg, ENGINES[method] as never, x, y);
    try {
      const left = await post.predictive(50, { seed: 7, args: [xNewT] });
      const nulled = await post.predictive(50, { seed: 7, args: [xNewT, null] });
      const placeholder = await post.predictive(50, { seed: 7, args: [xNewT, [0, 0]] });
      const z: number[] = [];
      for (let i = 0; i < left.length; i++) {
        const v = left[i].values;
        const drawn = read(v.y);
        expect(drawn).toEqual(read(nulled[i].values.y));
        expect(drawn).toEqual(read(placeholder[i].values.y));
        const [a, b, sd] = [v.a, v.b, v.s].map(Number);
        xNew.forEach((xi, j) => z.push((drawn[j] - (a + b * xi)) / sd));
      }
      // standardised residuals of y given each draw's (a, b, s): N(0, 1) at the new inputs (planted: the old x's fails)
      const mean = z.reduce((p, q) => p + q, 0) / z.length;
      expect(Math.abs(mean)).toBeLessThan(4 / Math.sqrt(z.length));
    } finally {
      post.dispose();
    }
  }, 120_000);

  test('inference still refuses an observe without data, and says how to predict', async () => {
    await expect(infer(reg, { method: 'importance', particles: 10, seed: 1 }, x)).rejects.toThrow(
      /site "y": observe needs a value, got undefined: .*posterior\.predictive\(n, \{ args: \[xNew\] \}\)/,
    );
  });
});
