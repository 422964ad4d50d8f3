/**
 * Slow tier: SBC of every engine on every check model at full size, TARP
 * from the same draws, and fast-check agreement with enumeration on random
 * programs for the approximate engines. Runs only with TYCHE_SLOW=1:
 *
 *   TYCHE_SLOW=1 npx vitest run test/testing/engines.slow.test.ts
 *
 * The cells come from check-models.ts: every engine, the gradient-based and
 * variational ones (HMC, VI with AutoNormal and AutoMultivariateNormal
 * guides, SVGD, NeuTra) included, on every model it applies to, with TARP
 * from the same draws on the continuous models (so VI gets TARP too).
 *
 * Design error rate: each SBC run and each TARP test at 0.001, so the
 * ~55 cells (about 90 tests) together falsely fail a correct engine with
 * probability at most about 9%; the enumeration oracle at 4 sigma per
 * probability.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import { engineAgreesWithExact, flattenValues, linearGaussianLogZBounds, sbc, tarp } from '../../src/testing/index.js';
import { checkEngines, checkModels, linearGaussianCheck, linearGaussianData } from './check-models.js';

const slow = process.env.TYCHE_SLOW === '1';

beforeAll(async () => {
  if (slow) await initBackend('cpu');
});

/** Every cell of the matrix; a cell with a known issue runs with the settings that fix it, or is skipped. */
const cells = checkModels.flatMap((m) =>
  checkEngines
    .filter((e) => e.applies(m))
    .filter((e) => !m.knownIssues?.[e.name] || m.knownIssues[e.name].passesWith)
    .map((e) => {
      const fix = m.knownIssues?.[e.name]?.passesWith;
      const spec = fix && typeof e.spec !== 'function' ? { ...e.spec, ...fix } : e.spec;
      return { m, e: { ...e, spec }, label: `${e.name} on ${m.name}${fix ? ` with ${JSON.stringify(fix)}` : ''}` };
    }),
);

describe.skipIf(!slow)('slow SBC: every engine on every check model', () => {
  it.each(cells)('$label', { timeout: 600_000 }, async ({ m, e }) => {
    const samples: number[][][] = [];
    const truths: number[][] = [];
    const r = await sbc({
      simulator: m.simulator,
      engine: e.spec,
      simulations: e.simulations,
      draws: 39,
      seed: 11,
      alpha: 0.001,
      ...(m.params ? { params: m.params } : {}),
      onSimulation: (sim, _post, draws) => {
        if (m.discrete || m.mixed) return;
        const truth = flattenValues(sim.params);
        const keys = [...truth.keys()];
        truths.push(keys.map((k) => truth.get(k) as number));
        samples.push(draws.map((d) => keys.map((k) => flattenValues(d.values).get(k) as number)));
      },
    });
    expect(r.pass, r.toString()).toBe(true);
    if (!m.discrete && !m.mixed) {
      const t = tarp(samples, truths, { seed: 11, alpha: 0.001 });
      expect(t.pass, `TARP max deviation ${t.maxDeviation} vs ${t.critical}`).toBe(true);
    }
  });
});

describe.skipIf(!slow)('slow oracle property: approximate engines agree with enumeration on random programs', () => {
  it.each([
    { method: 'importance', particles: 4000 },
    { method: 'smc', particles: 4000 },
    // plain MH: Gibbs refuses sites that change the program's structure (fast-check finds that at once)
    { method: 'mh', samples: 4000, warmup: 500, chains: 2 },
  ])('$method', { timeout: 600_000 }, async (spec) => {
    await engineAgreesWithExact(spec, { numRuns: 15, seed: 5 });
  });
});

describe.skipIf(!slow)('slow bidirectional log Z bounds', () => {
  it('SMC / CSMC bounds bracket the Kalman log Z on a longer series, and the gap closes up to 256 particles', { timeout: 600_000 }, async () => {
    const ys = linearGaussianData(60, 13);
    const r = await linearGaussianLogZBounds(linearGaussianCheck.params, ys, { particles: [4, 16, 64, 256], runs: 150, seed: 3, alpha: 0.001 });
    const rows = r.levels.map((l) => `N=${l.particles}: [${l.lower.mean.toFixed(3)}, ${l.upper.mean.toFixed(3)}] symmetric KL ${l.symmetricKL.toFixed(3)}`).join('\n');
    expect(r.pass, `log Z ${r.logZ}\n${rows}`).toBe(true);
  });
});
