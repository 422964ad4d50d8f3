/**
 * The reliability tier, bad-input half (issue 11): every engine meets the
 * same table of bad inputs (bad-input-cases.ts) with the same kind of error
 * naming the site; the regressions of items 2, 3, 4, 8, 10 and 13; and a
 * fast-check property over random programs from tyche/testing's grammar:
 * every engine returns a finite posterior or throws a tyche error.
 *
 * `npx tsx scripts/reliability/bad-inputs.ts` prints the table.
 */
import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import { main } from '../../src/cli.js';
import { InvalidParameterError, ModelCodeError, ModelError, TycheError, isTycheError } from '../../src/core/errors.js';
import { type Ctx, type Model, model, ops } from '../../src/core/index.js';
import { Bernoulli, Beta, Categorical, Distribution, Normal, Uniform, constraints } from '../../src/distributions/index.js';
import { infer, registerEngine } from '../../src/infer/index.js';
import { arbDistribution, arbProgram } from '../../src/testing/index.js';
import { BAD_INPUTS, ENGINES, runCase } from './bad-input-cases.js';

beforeAll(async () => {
  await initBackend('cpu');
});

/** The error class each bad input must raise, in every engine. */
const EXPECTED: Record<string, new (...a: never[]) => Error> = {
  'invalid parameter': InvalidParameterError,
  'value outside support': ModelError,
  'impossible observation': ModelError,
  'NaN log density': ModelError,
  'model throws': ModelCodeError,
  'Promise as a value': ModelError,
  'duplicate address': ModelError,
  'shape mismatch': ModelError,
  'unknown option': TycheError,
};

describe('every engine gives the same error, naming the site, for each bad input', () => {
  it.each(Object.keys(ENGINES))('%s', async (engine) => {
    const problems: string[] = [];
    for (const c of BAD_INPUTS) {
      const err = await runCase(c, engine);
      const msg = err instanceof Error ? err.message : String(err);
      if (err === undefined) problems.push(`${c.name}: no error`);
      else if (!(err instanceof EXPECTED[c.name]!)) problems.push(`${c.name}: ${(err as Error).constructor?.name} instead of ${EXPECTED[c.name]!.name}: ${msg}`);
      else if (!c.mentions.every((m) => msg.includes(m))) problems.push(`${c.name}: message does not mention ${JSON.stringify(c.mentions)}: ${msg}`);
      else if (err instanceof ModelError && c.mentions.some((m) => m.startsWith('site "')) && err.address !== 'bad') problems.push(`${c.name}: names site ${err.address}`);
    }
    expect(problems).toEqual([]);
  });
});

// ---- item 2: only tyche's invalid-parameter signal rejects a point ----

/** A user bug that throws (a RangeError) only in part of the space, z > 1. */
const throwsInTail = model(async ({ sample, observe }: Ctx) => {
  const z = await sample('z', Normal(0, 1));
  if (!ops.all(ops.le(z, 1))) throw new RangeError('user bug: z > 1'); // (batched: any chain past 1)
  await observe('y', Normal(z, 1), 0.5);
}, { name: 'tail_bug' });

describe('item 2: a RangeError from model code propagates (naming the model and site) instead of rejecting the point', () => {
  it.each([
    ['nuts', { chains: 2, warmup: 50, samples: 50 }],
    ['hmc', { chains: 2, warmup: 50, samples: 50 }],
    ['svgd', { particles: 8, steps: 100 }],
  ])('%s', async (method, opts) => {
    const err = await infer(throwsInTail, { method, seed: 3, ...opts }).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(ModelCodeError);
    expect((err as Error).message).toMatch(/model "tail_bug" threw after site "z": RangeError: user bug: z > 1/);
  });

  it('an invalid distribution parameter still rejects just that point (scale underflow far out)', async () => {
    // the scale exp(s) is 0 for s < -104 in float32; NUTS must treat such points as density zero, not fail
    const m = model(async ({ sample, observe }: Ctx) => {
      const s = await sample('s', Normal(0, 1));
      await observe('y', Normal(0, ops.exp(ops.mul(s, 200))), 0.1);
    });
    const post = await infer(m, { method: 'nuts', chains: 2, warmup: 100, samples: 100, seed: 2 });
    expect(Number.isFinite(post.moments('s').mean)).toBe(true);
  });
});

/** s ~ Normal(0, 1); y = 2 ~ Normal(0, s): the scale is invalid for s <= 0, so the posterior lives on s > 0. */
const scaleFromNormal = model(async ({ sample, observe }: Ctx) => {
  const s = await sample('s', Normal(0, 1));
  await observe('y', Normal(0, s), 2);
});

/** The exact posterior mean of s (trapezoid rule on (0, 8]). */
function exactScaleMean(): number {
  let num = 0;
  let den = 0;
  const n = 40_000;
  for (let i = 1; i <= n; i++) {
    const s = (8 * i) / n;
    const w = Math.exp(-0.5 * s * s) * Math.exp(-0.5 * (2 / s) ** 2) / s;
    num += s * w;
    den += w;
  }
  return num / den;
}

describe('item 2: an invalid parameter means density zero in every engine (the same rule everywhere)', () => {
  const exact = exactScaleMean();
  /** |mean - target| < 4 MCSE (MCMC: the summary's mcse_mean; weighted draws: sd / sqrt(ESS)). */
  const within = (post: Awaited<ReturnType<typeof infer>>, target: number) => {
    const row = post.summary().rows.find((r) => r.name === 's')!;
    const se = typeof row.mcse_mean === 'number' ? row.mcse_mean : row.sd / Math.sqrt(post.ess);
    return Math.abs(row.mean - target) < 4 * se;
  };
  it.each([
    ['importance', { particles: 4000 }],
    ['tempered', { particles: 2000 }],
    ['smc', { particles: 2000 }],
    ['mh', { chains: 2, samples: 2000, warmup: 500 }],
    ['nuts', { chains: 2, warmup: 200, samples: 300 }],
  ])('%s matches the exact truncated posterior mean within 4 MCSE; the HalfNormal prior mean (planted bug) does not', async (method, opts) => {
    const post = await infer(scaleFromNormal, { method, seed: 4, ...opts });
    expect(within(post, exact)).toBe(true);
    // exact mean 1.489 (sd 0.49); planted bug: the mean of a HalfNormal(1), ignoring the observation, sqrt(2/pi) = 0.80
    expect(within(post, Math.sqrt(2 / Math.PI))).toBe(false);
  });
});

/** k ~ Bernoulli(0.5); x ~ Normal(0, 1); y ~ Normal(x, k): k = 0 makes the scale invalid, so P(k = 1 | y) = 1. */
const coinScale = model(async ({ sample, observe }: Ctx) => {
  const k = await sample('k', Bernoulli(0.5));
  const x = await sample('x', Normal(0, 1));
  await observe('y', Normal(x, k), 0.3);
});

describe('item 2: the same rule for discrete sites (enumerate, Gibbs in mh and hmc-gibbs)', () => {
  it.each([
    ['mh', { gibbs: true, samples: 200, warmup: 50 }],
    ['hmc-gibbs', { chains: 1, warmup: 30, samples: 30 }],
  ])('%s: P(k = 1) = 1 exactly', async (method, opts) => {
    const post = await infer(coinScale, { method, seed: 2, ...opts });
    expect(post.marginal('k').prob(1)).toBe(1);
  });

  it('enumerate: the invalid path has probability zero', async () => {
    const m = model(async ({ sample, observe }: Ctx) => {
      const k = await sample('k', Bernoulli(0.5));
      await observe('y', Normal(0, k), 0.3);
    });
    const post = await infer(m, { method: 'enumerate' });
    expect(post.marginal('k').prob(1)).toBe(1);
  });
});

// ---- item 3: a NaN log density is an error naming the site in every engine ----

const nanInTail = model(async ({ sample, factor }: Ctx) => {
  const z = await sample('z', Normal(0, 1));
  await factor('tail', ops.where(ops.gt(z, 1), NaN, 0));
});

describe('item 3: a NaN log density met during sampling is an error naming the site', () => {
  it.each([
    ['nuts', { chains: 2, warmup: 50, samples: 50 }],
    ['hmc', { chains: 2, warmup: 50, samples: 50, vectorize: false }],
    ['hmc-gibbs', { chains: 1, warmup: 30, samples: 30 }],
    ['svgd', { particles: 8, steps: 20 }],
    ['vi', { steps: 20, samples: 20, init: { z: 1.5 } }],
    ['neutra', { viSteps: 20, chains: 1, warmup: 20, samples: 20 }],
    ['mh', { samples: 300 }],
    ['importance', { particles: 200 }],
    ['smc', { particles: 200 }],
    ['tempered', { particles: 200 }],
  ])('%s', async (method, opts) => {
    await expect(infer(nanInTail, { method, seed: 1, ...opts })).rejects.toThrow(/site "tail": factor log-weight is NaN/);
  });
});

// ---- item 4: JS arithmetic on a draw typed `number` that is a tensor ----

const coinArithmetic = model(async ({ sample, observe }: Ctx) => {
  const p = await sample('p', Beta(2, 2));
  await observe('f', Bernoulli(1 - p), 1); // typed number, a tensor under gradient engines
});

describe('item 4: JS arithmetic on a tensor draw fails at the site and says what to write', () => {
  it.each([
    ['nuts', { chains: 2, warmup: 20, samples: 20 }],
    ['nuts', { chains: 2, warmup: 20, samples: 20, vectorize: false }],
    ['hmc', { chains: 1, warmup: 20, samples: 20 }],
    ['vi', { steps: 5, samples: 5 }],
    ['vi', { steps: 5, samples: 5, vectorize: false }],
  ])('%s %j', async (method, opts) => {
    await expect(infer(coinArithmetic, { method, seed: 1, ...opts })).rejects.toThrow(/site "p": this draw is a tensor .*ops\.sub\(1, x\)/);
  });

  it('plain numbers (importance, mh) still work, and a tensor still prints in a template', async () => {
    const post = await infer(coinArithmetic, { method: 'importance', particles: 500, seed: 1 });
    // posterior Beta(2, 3): mean 0.4, sd 0.2; importance ESS is a few hundred
    expect(Math.abs(post.moments('p').mean - 0.4)).toBeLessThan(5 * 0.2 / Math.sqrt(post.ess));
    const m = model(async ({ sample }: Ctx) => `${await sample('x', Normal(tf.zeros([2]), 1))}`);
    await expect(infer(m, { method: 'importance', particles: 2, seed: 1 })).resolves.toBeDefined();
  });
});

// ---- item 8: importance with nothing of positive weight ----

describe('item 8: importance never returns a posterior when every weight is zero', () => {
  it('an observation outside the support names the site', async () => {
    const m = model(async ({ sample, observe }: Ctx) => {
      const p = await sample('p', Beta(2, 2));
      await observe('y', Bernoulli(p), 2);
    });
    await expect(infer(m, { method: 'importance', particles: 100, seed: 1 })).rejects.toThrow(/site "y": the observed value 2 is outside the support of Bernoulli.*all 100 particles have weight zero/);
  });

  it('all weights zero for a legitimate reason is a clear error too', async () => {
    // y = 0.9999 under Uniform(0, theta) needs theta > 0.9999: none of 20 prior particles gets there
    const m = model(async ({ sample, observe }: Ctx) => {
      const theta = await sample('theta', Uniform(0, 1));
      await observe('y', Uniform(0, theta), 0.9999);
    });
    await expect(infer(m, { method: 'importance', particles: 20, seed: 1 })).rejects.toThrow(/site "y".*all 20 particles have weight zero/);
  });
});

// ---- item 10: arrays of tensors as parameters ----

/** w ~ Beta(2, 2); k_i ~ Categorical([1 - w, w]) with k = 1, 1, 1, 0: posterior Beta(5, 3). */
const categoricalOfTensors = model(async ({ sample, observe }: Ctx, ks: number[]) => {
  const w = await sample('w', Beta(2, 2));
  for (let i = 0; i < ks.length; i++) await observe(`k${i}`, Categorical([ops.sub(1, w), w]), ks[i]!);
});

/** The check of the item-10 posterior: mean within 4 MCSE of the exact one. */
function meanWithinMcse(post: { summary(): { rows: readonly { name: string; mean: number; mcse_mean: number }[] } }, exact: number): boolean {
  const row = post.summary().rows.find((r) => r.name === 'w')!;
  return Math.abs(row.mean - exact) < 4 * row.mcse_mean;
}

describe('item 10: arrays of tensors (and numbers) as parameters are stacked along the last axis', () => {
  it('Categorical([1 - w, w]) under nuts recovers Beta(5, 3) (mean 0.625) within 4 MCSE; a wrong mean (0.375) fails the same check', async () => {
    const post = await infer(categoricalOfTensors, { method: 'nuts', chains: 2, warmup: 150, samples: 200, seed: 1 }, [1, 1, 1, 0]);
    expect(meanWithinMcse(post as never, 5 / 8)).toBe(true);
    // planted bug: the posterior of Categorical([w, 1 - w]) (the probabilities swapped)
    expect(meanWithinMcse(post as never, 3 / 8)).toBe(false);
  });

  it('mixed numbers and tensors, and nested arrays, stack; elements that do not broadcast name the distribution and parameter', () => {
    const w = tf.scalar(0.25);
    const d = Categorical([0.5, w, tf.sub(0.25, 0)]);
    expect(d.batchShape).toEqual([]);
    expect(ops.toNumber(d.logProb(1) as tf.Tensor)).toBeCloseTo(Math.log(0.25), 5);
    const rows = Categorical([tf.tensor1d([0.5, 0.1]), tf.tensor1d([0.5, 0.9])]);
    expect(rows.batchShape).toEqual([2]);
    expect(() => Categorical([tf.ones([2]), tf.ones([3])])).toThrow(/Categorical: parameter probs: element 1 has shape \[3\], which does not broadcast/);
  });
});

// ---- a raw error inside a distribution's code is named by site and distribution ----

class Broken extends Distribution {
  readonly name = 'Broken';
  readonly batchShape = [];
  readonly support = constraints.real;
  sample(): number {
    return 0;
  }
  logProb(): number {
    return (undefined as unknown as { x: number }).x;
  }
}

describe('a raw JS/tfjs error from inside a distribution names the site and the distribution', () => {
  it('importance and nuts', async () => {
    const m = model(async ({ sample, observe }: Ctx) => {
      const z = await sample('z', Normal(0, 1));
      await observe('y', new Broken(), z);
    });
    for (const method of ['importance', 'nuts']) {
      const err = await infer(m, { method, seed: 1 }).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(ModelError);
      expect((err as Error).message).toMatch(/^site "y": Broken failed to score the value: TypeError: Cannot read properties of undefined/);
    }
  });
});

// ---- item 13: the smaller ones ----

describe('item 13', () => {
  it('a Promise passed as a parameter says to await it', async () => {
    const m = model(async ({ sample, observe }: Ctx) => {
      const mu = sample('mu', Normal(0, 1));
      await observe('y', Normal(mu as unknown as number, 1), 0);
    });
    await expect(infer(m, { method: 'importance', particles: 5, seed: 1 })).rejects.toThrow(/threw after site "mu": Normal: parameter loc is a Promise — did you forget `await`/);
  });

  it('infer(undefined) is a clear error', async () => {
    await expect(infer(undefined as unknown as Model, { method: 'importance' })).rejects.toThrow(/infer: the first argument must be a model .* got undefined/);
  });

  it('vi accepts init like nuts', async () => {
    const m = model(async ({ sample, observe }: Ctx) => {
      const mu = await sample('mu', Normal(0, 1));
      await observe('y', Normal(mu, 1), 1);
    });
    const post = await infer(m, { method: 'vi', init: { mu: 3 }, steps: 0, samples: 200, seed: 1 });
    // no steps: the guide sits at its init, loc 3 and scale 0.1 (sd of the mean of 200 draws: 0.007)
    expect(Math.abs(post.moments('mu').mean - 3)).toBeLessThan(0.05);
  });

  it('the CLI: enumerate on a continuous model is a one-line error; a directory --out fails before sampling', async () => {
    const run = async (...argv: string[]) => {
      let err = '';
      const code = await main(argv, { stdout: { write: () => true }, stderr: { write: (s: string) => (err += s) } });
      return { code, err };
    };
    const a = await run('run', 'models/eight-schools.ts', '--method', 'enumerate');
    expect(a.code).toBe(1);
    expect(a.err.trim().split('\n')).toHaveLength(1);
    expect(a.err).toMatch(/tyche: error: site "mu": Normal is continuous/);
    const dir = await mkdtemp(join(tmpdir(), 'tyche-out-'));
    const t0 = performance.now();
    const b = await run('run', 'models/eight-schools.ts', '--method', 'nuts', '--out', dir);
    expect(b.code).toBe(2);
    expect(b.err).toMatch(/--out .* is a directory/);
    expect(performance.now() - t0).toBeLessThan(2000);
  });
});

// ---- the property: a finite posterior or a tyche error, never a raw error or a hang ----

const PROPERTY_OPTIONS: Record<string, Record<string, unknown>> = {
  ...ENGINES,
  'hmc-gibbs': { chains: 1, warmup: 10, samples: 10 },
  vi: { steps: 10, samples: 10 },
};

/** Run with a time limit; the outcome as 'finite', 'tyche error' or a description of what went wrong. */
async function outcome(m: Model<[], number[]>, method: string, limitMs = 20_000): Promise<string> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  // a hung call is aborted: infer runs calls one at a time, and a call that never settles would hold the next ones
  const abort = new AbortController();
  const limit = new Promise<string>((resolve) => {
    timer = setTimeout(() => {
      abort.abort();
      resolve(`hang (over ${limitMs} ms)`);
    }, limitMs);
  });
  const run = infer(m, { method, seed: 1, ...PROPERTY_OPTIONS[method], signal: abort.signal }).then(
    (post) => {
      const ok = post.size > 0 && post.addresses().every((a) => {
        try {
          return Number.isFinite(post.moments(a).mean);
        } catch (err) {
          return isTycheError(err) || /no scalar quantity/.test(String(err));
        }
      });
      post.dispose?.();
      return ok ? 'finite' : 'non-finite posterior';
    },
    (err: unknown) => (isTycheError(err) ? 'tyche error' : `raw ${(err as Error)?.name}: ${(err as Error)?.message}`),
  );
  try {
    return await Promise.race([run, limit]);
  } finally {
    clearTimeout(timer);
  }
}

describe('property: every engine returns a finite posterior or throws a tyche error', () => {
  it('the check itself flags a raw error and a hang (planted bugs: engines that fail that way)', async () => {
    registerEngine({ name: 'planted-raw-error', options: ['signal'], description: 'test only', run: async () => (undefined as unknown as { x: number }).x as never });
    registerEngine({ name: 'planted-hang', options: ['signal'], description: 'test only', run: () => new Promise<never>(() => {}) });
    const m = model(async ({ sample }: Ctx) => [await sample('x', Bernoulli(0.5))]);
    expect(await outcome(m, 'planted-raw-error')).toMatch(/^raw TypeError: Cannot read properties of undefined/);
    expect(await outcome(m, 'planted-hang', 200)).toBe('hang (over 200 ms)');
    expect(await outcome(m, 'importance')).toBe('finite');
    expect(await outcome(m, 'nuts')).toBe('tyche error');
  });

  it('on random programs from the grammar (8 programs x 11 engines)', async () => {
    await fc.assert(
      fc.asyncProperty(arbProgram({ maxDepth: 1, maxStatements: 3, maxPaths: 64 }), async (program) => {
        const bad: string[] = [];
        for (const method of Object.keys(PROPERTY_OPTIONS)) {
          const o = await outcome(program.model, method);
          if (o !== 'finite' && o !== 'tyche error') bad.push(`${method}: ${o}`);
        }
        expect(bad).toEqual([]);
      }),
      { numRuns: 8, seed: 11 },
    );
  }, 300_000);

  it('on random continuous models (a latent from arbDistribution, a Normal observation of a x) (4 models x 11 engines)', async () => {
    const arb = fc.record({
      latent: arbDistribution({ kind: 'continuous' }),
      a: fc.double({ min: -3, max: 3, noNaN: true }),
      y: fc.double({ min: -5, max: 5, noNaN: true }),
    });
    await fc.assert(
      fc.asyncProperty(arb, async ({ latent, a, y }) => {
        const m = model(async ({ sample, observe }: Ctx) => {
          const x = await sample('x', latent.dist);
          await observe('y', Normal(ops.mul(a, x), 1), y);
          return [0];
        });
        const bad: string[] = [];
        for (const method of Object.keys(PROPERTY_OPTIONS)) {
          const o = await outcome(m, method);
          if (o !== 'finite' && o !== 'tyche error') bad.push(`${method}: ${o}`);
        }
        expect(bad).toEqual([]);
      }),
      { numRuns: 4, seed: 12 },
    );
  }, 300_000);
});

describe('clear errors for draws read the wrong way (fast-paths review, item 6)', () => {
  it('toNumber takes the boolean a comparison of numbers gives, and names what else it got', () => {
    expect(ops.toNumber(ops.gt(0.5, 0.3))).toBe(1);
    expect(ops.toNumber(ops.gt(0.3, 0.5))).toBe(0);
    expect(() => ops.toNumber('0.5' as never)).toThrow('toNumber: expected a number, a boolean or a one-element tensor, got string');
  });

  it('a tensor method on a draw that is a number (nuts\' layout run) says to use toNumber', async () => {
    const m = model(async ({ sample, observe }) => {
      const mu = await sample('mu', Normal(0, 1));
      await observe('y', Normal((mu as unknown as tf.Tensor).dataSync()[0]! > 0 ? 1 : 2, 1), 0.5);
    });
    await expect(infer(m, { method: 'nuts', chains: 1, warmup: 5, samples: 5, seed: 1 })).rejects.toThrow(/mu\.dataSync is not a function \(a draw is a plain number in some runs.*toNumber\(x\) or toArray\(x\)/);
  });

  it("toNumber under parallel enumeration suggests strategy: 'sequential'; a Gibbs site that adds a site suggests gibbs: false", async () => {
    const extraSite = model(async ({ sample, observe }) => {
      const a = await sample('a', Categorical([0.2, 0.5, 0.3]));
      let m: number = a;
      if (ops.toNumber(a) === 2) m = ops.add(a, await sample('e', Bernoulli(0.4))) as number;
      await observe('y', Normal(m, 1), 2.5);
    });
    await expect(infer(extraSite, { method: 'enumerate', strategy: 'parallel' })).rejects.toThrow(/got a tensor of shape \[3\]; with strategy 'parallel'.*use strategy: 'sequential'/);
    await expect(infer(extraSite, { method: 'mh', gibbs: true, vectorizeGibbs: false, samples: 50, seed: 1 })).rejects.toThrow(/creates the new site "e"; set gibbs: false/);
  });
});
