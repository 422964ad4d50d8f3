/**
 * MCMC posteriors carry Stan's warnings when their own diagnostics disown them (`infer/mcmc/warnings.ts`):
 * split R-hat above 1.01, ESS under 100 per chain, divergences, tree-depth hits. Before, only VI
 * warned: a hmc-gibbs run with R-hat 1.6 (a chain stuck in the label-switched mode) had no warning at all.
 */
import { describe, expect, it } from 'vitest';
import { Normal, infer, model } from '../../src/index.js';
import { mcmcWarnings } from '../../src/infer/mcmc/warnings.js';
import { splitRhat } from '../../src/diagnostics/rhat.js';
import { eightSchoolsCentered, eightSchoolsData, eightSchoolsNoncentered } from '../../models/posteriordb/eight-schools.js';

describe('MCMC warnings', () => {
  it('the centred eight schools, short: R-hat, ESS and divergences are named; the non-centred one at 1000 + 1000 has none', async () => {
    const bad = await infer(eightSchoolsCentered as never, { method: 'nuts', chains: 4, warmup: 300, samples: 300, seed: 1 }, eightSchoolsData as never);
    const text = bad.warnings.join('\n');
    expect(text).toMatch(/split R-hat above 1\.01 \(tau \d\.\d{3}/);
    expect(text).toMatch(/ESS below 400 \(100 per chain; /);
    expect(text).toMatch(/divergent transitions? after warmup/);
    // the summary prints them under its header, and the rows are computed once
    expect(bad.summary().toString()).toMatch(/warning: split R-hat above 1\.01/);
    expect(bad.summary().rows).toBe(bad.summary().rows);
    bad.dispose();
    const good = await infer(eightSchoolsNoncentered as never, { method: 'nuts', chains: 4, warmup: 1000, samples: 1000, seed: 1 }, eightSchoolsData as never);
    expect(good.warnings).toEqual([]);
    good.dispose();
  }, 120_000);

  it('two chains in two modes under MH: R-hat names the site; the check itself flags a planted disagreement', async () => {
    // well separated modes: each chain stays where it starts
    const twoModes = model(async ({ sample, factor }) => {
      const x = (await sample('x', Normal(0, 10))) as number;
      await factor('modes', Math.log(Math.exp(-0.5 * ((x - 8) / 0.5) ** 2) + Math.exp(-0.5 * ((x + 8) / 0.5) ** 2)));
    });
    const post = await infer(twoModes, { method: 'mh', chains: 4, warmup: 300, samples: 300, seed: 3 });
    const c = post.chainColumns()!.get('x')!;
    const rhat = splitRhat(c);
    if (rhat > 1.01) expect(post.warnings.join('\n')).toMatch(/split R-hat above 1\.01 \(x /);
    else expect(post.warnings.join('\n')).not.toMatch(/R-hat/);
    // and a planted disagreement (two chains 4 apart) is flagged, with the low ESS it implies
    const apart = [Float64Array.from({ length: 200 }, (_, i) => Math.sin(i)), Float64Array.from({ length: 200 }, (_, i) => 4 + Math.sin(i))];
    const flagged = mcmcWarnings({ chainColumns: () => new Map([['x', apart]]), diagnostics: {} } as never);
    expect(flagged.join('\n')).toMatch(/split R-hat above 1\.01 \(x /);
    post.dispose();
  }, 120_000);

  it('a run of a few draws per chain says that R-hat and ESS cannot be computed, and its summary prints (was: no warning, and summary() threw at one draw)', async () => {
    const m = model(async ({ sample, observe }) => {
      const x = await sample('x', Normal(0, 1));
      await observe('y', Normal(x, 1), 0.5);
    });
    for (const [method, chains, samples] of [['nuts', 1, 1], ['mh', 1, 1], ['nuts', 2, 1], ['nuts', 1, 7]] as const) {
      const post = await infer(m, { method, chains, samples, warmup: 20, seed: 1 });
      expect(post.warnings.join('\n'), `${method} ${chains} x ${samples}`).toMatch(new RegExp(`^only ${samples} draws? per chain: split R-hat and ESS need at least 8`));
      const row = post.summary().rows[0]!;
      expect(row.ess_bulk).toBeNaN();
      expect(post.summary().toString()).toMatch(/only \d+ draws? per chain/);
      post.dispose();
    }
    // eight draws per chain are enough to compute them: no such warning
    const enough = await infer(m, { method: 'nuts', chains: 2, samples: 8, warmup: 20, seed: 1 });
    expect(enough.warnings.join('\n')).not.toMatch(/per chain: split R-hat and ESS need/);
    enough.dispose();
  }, 60_000);
});
