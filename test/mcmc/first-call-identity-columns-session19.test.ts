/**
 * FIRST6, session 19 (issue 16, NUTS's first call): the draw columns of a
 * site whose bijector is the identity are a strided copy of the
 * unconstrained draws (`columnsFromSamples`, `isIdentityMap`), where they
 * were made by calling the per-coordinate map `(u) => u` once per value.
 * Pinned: every site's column equals the per-coordinate map
 * (`coordinateForward`) applied draw by draw, bit for bit, on a layout with
 * a scalar and a vector identity site between two mapped sites (a positive
 * scalar and an interval vector), over 3 chains of draws at other offsets
 * than the sites' order would suggest. Planted by hand (not kept): the copy
 * reading each row from `s.offset + 1` fails (`mu`, `z` shifted by one
 * coordinate), and one chain's rows written at the next chain's place fails.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import { rngFrom } from '../../src/core/rng.js';
import { columnsFromSamples } from '../../src/infer/mcmc/hmc-engine.js';
import { coordinateForward, isIdentityMap } from '../../src/infer/mcmc/float64-forward.js';
import { layoutOnly } from '../../src/infer/mcmc/potential.js';
import { HalfNormal, Normal, Uniform, model } from '../../src/index.js';
import { Independent } from '../../src/transforms/compose.js';
import { IdentityBijector } from '../../src/transforms/elementwise.js';
import { LowerBoundBijector } from '../../src/transforms/affine.js';

const m = model(async ({ sample, plate, observe }) => {
  const sigma = await sample('sigma', HalfNormal(1));
  const mu = await sample('mu', Normal(0, 1));
  const z = await plate('k', 3, () => sample('z', Normal(mu, sigma)));
  await plate('j', 2, () => sample('u', Uniform(-1e8, 1e8)));
  await observe('y', Normal(z, 1), [0.5, -0.2, 1.1]);
});

beforeAll(async () => {
  await initBackend();
});

describe('identity sites copied, not mapped per coordinate (FIRST6, session 19)', () => {
  it('isIdentityMap: the identity and an independent wrapper of it, nothing else', () => {
    expect(isIdentityMap(new IdentityBijector())).toBe(true);
    expect(isIdentityMap(Independent(new IdentityBijector(), 1))).toBe(true);
    expect(isIdentityMap(new LowerBoundBijector(0))).toBe(false);
    expect(isIdentityMap(Independent(new LowerBoundBijector(0), 1))).toBe(false);
  });

  it('every column equals the per-coordinate map of the draws, bit for bit', async () => {
    const layout = await layoutOnly(m, [], rngFrom('first6-layout'));
    expect(layout.sites.map((s) => s.address)).toEqual(['sigma', 'mu', 'z', 'u']);
    expect(layout.sites.map((s) => isIdentityMap(s.bijector))).toEqual([false, true, true, false]);
    const chains = 3;
    const draws = 7;
    const rng = rngFrom('first6-draws');
    const samples = Array.from({ length: chains }, () => Float64Array.from({ length: draws * layout.dim }, () => 3 * rng.normal()));
    const columns = columnsFromSamples(layout, { chains, draws, samples });
    for (const s of layout.sites) {
      const forward = coordinateForward(s.bijector, s.unconstrainedShape)!;
      const expected = new Float64Array(chains * draws * s.size);
      let k = 0;
      for (let c = 0; c < chains; c++) for (let i = 0; i < draws; i++) for (let j = 0; j < s.size; j++) expected[k++] = forward(samples[c]![i * layout.dim + s.offset + j]!, j);
      const col = columns.get(s.address)!;
      expect(col.shape).toEqual([...s.shape]);
      expect(Array.from(col.data as Float64Array), s.address).toEqual(Array.from(expected));
    }
  });
});
