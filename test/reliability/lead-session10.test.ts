/**
 * Lead, session 10: regressions found by trying NUTS, HMC, hmc-gibbs and VI
 * as a newcomer would, each shown failing on the code before its fix.
 *
 * 1. `init` values by address were substituted without a check:
 *    - a typo (`init: { muu: 1 }` for site `mu`) was ignored, and the chains
 *      started elsewhere with no word;
 *    - a vector that is not a simplex under a `Dirichlet` was mapped by the
 *      stick-breaking bijector to some other point: silently not the start
 *      asked for;
 *    - `sigma: -1` under a `HalfNormal` failed as "Normal: parameter scale must
 *      be positive and finite, got -1 (... after site "w")", and `sigma: 0`
 *      (on the boundary) the same way, naming neither the init nor the site.
 *    Now `infer/init-values.ts` checks each value as it goes in (support and
 *    interior) and that each address is a latent site, with the near miss;
 *    the same for nuts, hmc, hmc-gibbs and VI's autoguides.
 * 2. A model that draws randomness outside `sample` (`Math.random()` jitter
 *    on the data) was refused by the numbers-versus-tensors check with "the
 *    model branches on a tensor comparison", which sent the user looking for
 *    an `if` that is not there. A second run on numbers at the same values
 *    now tells the two apart, and the error says what is wrong.
 * 3. `warmup: 0` (a newcomer's "make it fast") gave 472 divergences out of
 *    600 draws, and the warning advised raising targetAccept or
 *    reparameterising: the step size had never been adapted. NUTS and HMC
 *    now say so when warmup is under Stan's 150 adaptation iterations
 *    (`diagnostics.warmup` carries the count).
 */
import { describe, expect, it } from 'vitest';
import { Bernoulli, Beta, Dirichlet, HalfNormal, Normal, infer, model, ops } from '../../src/index.js';

const y = [1.2, 0.8, 1.9, 1.4, 0.3, 1.1];

const simple = model(async ({ sample, observe }) => {
  const mu = await sample('mu', Normal(0, 10));
  const s = await sample('s', HalfNormal(2));
  const w = await sample('w', Dirichlet([1, 1, 1]));
  for (let i = 0; i < y.length; i++) await observe(`y${i}`, Normal(mu, s), y[i]!);
  return w;
});

const short = { chains: 1, warmup: 20, samples: 20, seed: 1 } as const;

describe('init values by address are checked (session 10)', () => {
  it('a misspelt address is an error naming the near miss, from nuts, hmc and vi', async () => {
    for (const opts of [{ method: 'nuts', ...short }, { method: 'hmc', ...short }, { method: 'vi', steps: 5, seed: 1 }] as const) {
      await expect(infer(simple, { ...opts, init: { muu: 1 } } as never)).rejects.toThrow(/init gives a value for "muu".*did you mean "mu"/);
    }
  });

  it('an observed address is named as such', async () => {
    await expect(infer(simple, { method: 'nuts', ...short, init: { y0: 1 } } as never)).rejects.toThrow(/"y0", an observed site/);
  });

  it('a value outside the support names the site, the value and the support', async () => {
    await expect(infer(simple, { method: 'nuts', ...short, init: { s: -1 } } as never)).rejects.toThrow(/site "s": nuts: the init value -1 is outside the support of HalfNormal/);
    await expect(infer(simple, { method: 'vi', steps: 5, seed: 1, init: { s: -1 } } as never)).rejects.toThrow(/site "s": .*init value -1 is outside the support/);
    // silently mapped to another start before
    await expect(infer(simple, { method: 'nuts', ...short, init: { w: [0.5, 0.5, 0.5] } } as never)).rejects.toThrow(/site "w": nuts: the init value \[0.5, 0.5, 0.5\] is outside the support of Dirichlet \(simplex\)/);
  });

  it('a value on the boundary of the support is named (its unconstrained coordinate is infinite)', async () => {
    await expect(infer(simple, { method: 'hmc', ...short, init: { s: 0 } } as never)).rejects.toThrow(/site "s": hmc: the init value 0 lies on the boundary/);
  });

  it('hmc-gibbs checks its init values the same way', async () => {
    const mixed = model(async ({ sample, observe }) => {
      const p = await sample('p', Beta(2, 2));
      const z = await sample('z', Bernoulli(p));
      await observe('y', Normal(ops.mul(z, 2), 1), 1.5);
    });
    await expect(infer(mixed, { method: 'hmc-gibbs', ...short, init: { p: 1.5 } } as never)).rejects.toThrow(/site "p": hmc-gibbs: the init value 1.5 is outside the support of Beta/);
    await expect(infer(mixed, { method: 'hmc-gibbs', ...short, init: { pp: 0.5 } } as never)).rejects.toThrow(/init gives a value for "pp".*did you mean "p"/);
  });

  it('good values still start the chains there', async () => {
    // one draw after no warmup from init values far out in the tail: the first draw stays near the start
    const post = await infer(simple, { method: 'nuts', chains: 1, warmup: 0, samples: 1, seed: 1, init: { mu: 50, s: 1, w: [0.2, 0.3, 0.5] } } as never);
    const mu = post.summary().rows.find((r) => r.name === 'mu')!.mean;
    expect(mu).toBeGreaterThan(20);
    post.dispose();
  });
});

describe('a model with randomness outside sample() is named as such (session 10)', () => {
  it('Math.random jitter on the data: not "branches on a tensor comparison"', async () => {
    const jitter = model(async ({ sample, observe }) => {
      const mu = await sample('mu', Normal(0, 10));
      for (let i = 0; i < y.length; i++) await observe(`y${i}`, Normal(mu, 1), y[i]! + 0.5 * Math.random());
    });
    const err = await infer(jitter, { method: 'nuts', ...short }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err?.message).toMatch(/is not a function of its random choices/);
    expect(err?.message).not.toMatch(/branches on a tensor comparison/);
    // (a real branch on a tensor still gets the branch message: test/trust/branch-on-tensor-*.test.ts)
  });
});

describe('a short warmup is named as the cause (session 10)', () => {
  it('warmup 0 and 50 warn that adaptation was cut short; 150 does not', async () => {
    const m = model(async ({ sample, observe }) => {
      const mu = await sample('mu', Normal(0, 10));
      for (let i = 0; i < y.length; i++) await observe(`y${i}`, Normal(mu, 1), y[i]!);
    });
    for (const [warmup, warned] of [[0, true], [50, true], [150, false]] as const) {
      const post = await infer(m, { method: 'nuts', chains: 1, warmup, samples: 20, seed: 1 });
      expect(post.diagnostics.warmup).toBe(warmup);
      expect(post.warnings.some((w) => /warmup iterations? per chain: the step size and the metric were/.test(w)), `warmup ${warmup}`).toBe(warned);
      post.dispose();
    }
  });
});
