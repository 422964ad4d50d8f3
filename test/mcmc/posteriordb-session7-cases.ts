/**
 * Four posteriordb posteriors translated plainly by a newcomer (session 7),
 * each written for one chain with the library's building blocks:
 * `garch-garch11` (volatility recursion, a support bound that depends on
 * another parameter), `arma-arma11` (errors by a recursion over time),
 * `kilpisjarvi_mod-kilpisjarvi` (uncentred regression, alpha and beta
 * correlated at -0.99999) and `hmm_example-hmm_example` (simplexes and a
 * positive ordered vector, forward algorithm).
 *
 * The reference draws are read from `TYCHE_POSTERIORDB` (or
 * ../shared/posteriordb) as `<posterior>/reference_draws.json`; to build
 * that folder from a posteriordb checkout (`R` =
 * `posterior_database/reference_posteriors/draws/draws`):
 *
 * ```sh
 * for p in garch-garch11 arma-arma11 kilpisjarvi_mod-kilpisjarvi hmm_example-hmm_example; do
 *   mkdir -p $DIR/$p && unzip -p $R/$p.json.zip > $DIR/$p/reference_draws.json; done
 * ```
 */
import type { Model } from '../../src/core/model.js';
import { arma11, armaData } from '../../models/posteriordb/arma11.js';
import { garch11, garchData } from '../../models/posteriordb/garch11.js';
import { hmmExample, hmmExampleData } from '../../models/posteriordb/hmm-example.js';
import { kilpisjarvi, kilpisjarviData } from '../../models/posteriordb/kilpisjarvi.js';
import { type Columns, type PosteriordbCase, stanNames } from './posteriordb-cases.js';

const asCase = (m: unknown): Model<never[], unknown> => m as Model<never[], unknown>;

/** `mu1` -> `mu[1]`: the ordered pair, sampled as two sites, under Stan's vector name. */
function hmmExampleNames(ours: Columns): Columns {
  const out = stanNames(ours);
  for (const k of [1, 2]) {
    out.set(`mu[${k}]`, out.get(`mu${k}`)!);
    out.delete(`mu${k}`);
  }
  return out;
}

/** The session-7 posteriors, in the order of the slow test. */
export const SESSION7_CASES: readonly PosteriordbCase[] = [
  { name: 'garch-garch11 (GARCH(1,1), dependent upper bound)', folder: 'garch-garch11', model: asCase(garch11), args: () => [garchData], toReference: stanNames },
  { name: 'arma-arma11 (ARMA(1,1), error recursion)', folder: 'arma-arma11', model: asCase(arma11), args: () => [armaData], toReference: stanNames },
  { name: 'kilpisjarvi_mod-kilpisjarvi (uncentred linear trend)', folder: 'kilpisjarvi_mod-kilpisjarvi', model: asCase(kilpisjarvi), args: () => [kilpisjarviData], toReference: stanNames },
  { name: 'hmm_example-hmm_example (2-state HMM, simplexes, positive ordered)', folder: 'hmm_example-hmm_example', model: asCase(hmmExample), args: () => [hmmExampleData], toReference: hmmExampleNames },
];
