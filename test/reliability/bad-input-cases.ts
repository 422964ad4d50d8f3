/**
 * The reliability tier's table of bad inputs, shared by
 * `test/reliability/bad-input.test.ts` (which asserts the error each engine
 * gives) and `scripts/reliability/bad-inputs.ts` (which prints the table).
 *
 * Every case is one model with one latent site `z` (continuous, or a coin for
 * `enumerate`) followed by the bad thing at the site `bad`, run by every
 * engine with small, fast options.
 */
import { type Ctx, type Distribution, type Value, Bernoulli, Normal, Poisson, infer, model, ops } from '../../src/index.js';

/** The engines of the table, with small options that keep each run fast. */
export const ENGINES: Record<string, Record<string, unknown>> = {
  enumerate: {},
  importance: { particles: 40 },
  smc: { particles: 40 },
  tempered: { particles: 40 },
  mh: { samples: 40, warmup: 10 },
  nuts: { chains: 2, warmup: 20, samples: 20 },
  hmc: { chains: 2, warmup: 20, samples: 20 },
  'hmc-gibbs': { chains: 1, warmup: 20, samples: 20 },
  vi: { steps: 20, samples: 20 },
  svgd: { particles: 4, steps: 5 },
  neutra: { viSteps: 20, chains: 1, warmup: 20, samples: 20 },
};

/** One bad input: what the model does after drawing `z`, and what the error must say. */
export interface BadInput {
  readonly name: string;
  /** The part of the model after `z`. */
  readonly body: (ctx: Ctx, z: Value, latent: () => Distribution) => Promise<unknown>;
  /** Extra engine options (the unknown-option case). */
  readonly extraOptions?: Record<string, unknown>;
  /** Substrings the message must contain (the site, or the option). */
  readonly mentions: readonly string[];
}

export const BAD_INPUTS: readonly BadInput[] = [
  {
    name: 'invalid parameter',
    body: ({ sample }) => sample('bad', Normal(0, -1)),
    // the distribution is built before `sample` names its site: the message names the site before it
    mentions: ['Normal', 'scale', 'after site "z"'],
  },
  {
    name: 'value outside support',
    body: ({ observe }, z) => observe('bad', Poisson(ops.exp(z)), -1),
    mentions: ['site "bad"', 'outside the support'],
  },
  {
    name: 'impossible observation',
    body: ({ observe }, z) => observe('bad', Bernoulli(ops.mul(ops.sigmoid(z), 0)), 1),
    mentions: ['site "bad"', 'zero probability'],
  },
  {
    name: 'NaN log density',
    body: ({ factor }, z) => factor('bad', ops.mul(z, NaN)),
    mentions: ['site "bad"', 'NaN'],
  },
  {
    name: 'model throws',
    body: async () => {
      throw new RangeError('user bug in the model');
    },
    mentions: ['user bug in the model', 'after site "z"'],
  },
  {
    name: 'Promise as a value',
    body: ({ sample, observe }, _z, latent) => {
      const q = sample('q', latent());
      return observe('bad', Normal(0, 1), q as unknown as number);
    },
    mentions: ['site "bad"', 'Promise', 'await'],
  },
  {
    name: 'duplicate address',
    body: async ({ observe }, z) => {
      await observe('bad', Normal(z, 1), 0.5);
      await observe('bad', Normal(z, 1), 0.5);
    },
    mentions: ['site "bad"', 'duplicate'],
  },
  {
    name: 'shape mismatch',
    body: ({ observe }) => observe('bad', Normal([0, 0, 0], 1), [1, 2]),
    mentions: ['site "bad"', 'shape'],
  },
  {
    name: 'unknown option',
    body: ({ observe }, z) => observe('y', Normal(z, 1), 0.5),
    extraOptions: { particels: 10 },
    mentions: ['unknown option "particels"'],
  },
];

/** The model of one case: a latent `z` (a coin for enumerate), then the case's body. */
export function caseModel(c: BadInput, engine: string) {
  return model(async (ctx: Ctx) => {
    const latent = (): Distribution => (engine === 'enumerate' ? Bernoulli(0.5) : Normal(0, 1));
    const z: Value = await ctx.sample('z', latent());
    await c.body(ctx, z, latent);
    return z;
  }, { name: 'bad_input' });
}

/** Run one case with one engine: the error it raised, or undefined when it returned a posterior. */
export async function runCase(c: BadInput, engine: string): Promise<unknown> {
  try {
    await infer(caseModel(c, engine), { method: engine, seed: 1, ...ENGINES[engine], ...(c.extraOptions ?? {}) });
    return undefined;
  } catch (err) {
    return err;
  }
}
