/**
 * The main example: `npm run example`. Runs tyche's engines on classic models
 * and prints posterior summaries:
 *
 * - eight schools (non-centred) with NUTS, 4 vectorised chains, with R-hat,
 *   bulk/tail ESS and divergences;
 * - Pearl's burglary network by exact enumeration;
 * - a Beta-Bernoulli coin by importance sampling and SMC, against the closed form.
 */
import { backendInfo, infer } from '../src/index.js';
import { burglary } from './burglary.js';
import { coin, coinExact, flips } from './coin.js';
import { eightSchoolsData, eightSchoolsNoncentered } from './posteriordb/eight-schools.js';

async function main(): Promise<void> {
  const t0 = performance.now();
  const schools = await infer(eightSchoolsNoncentered, { method: 'nuts', chains: 4, warmup: 500, samples: 500, seed: 1 }, eightSchoolsData);
  console.log(`backend: ${backendInfo()?.name}\n`);
  console.log('Eight schools (non-centred), NUTS, 4 chains x (500 warmup + 500 draws)');
  console.log(schools.summary().toString());
  console.log(`  vectorised chains: ${schools.diagnostics.vectorized === true ? 'yes' : schools.diagnostics.vectorized}`);
  console.log(`  compiled log density: ${schools.diagnostics.compiled === true ? 'yes' : schools.diagnostics.compiled}\n`);

  const exact = await infer(burglary, { method: 'enumerate' });
  console.log('Burglary network, exact enumeration');
  console.log(`  P(burglary | john and mary call) = ${exact.marginal('burglary').prob(1).toFixed(6)}  (textbook: 0.284172)`);
  console.log(`  log P(john and mary call)        = ${exact.logZ.toFixed(6)}\n`);

  const is = await infer(coin, { method: 'importance', particles: 20000, seed: 1 }, flips);
  const smc = await infer(coin, { method: 'smc', particles: 2000, seed: 1 }, flips);
  const truth = coinExact(flips);
  console.log(`Coin with ${flips.filter((f) => f === 1).length} heads in ${flips.length} flips; exact posterior mean ${truth.mean.toFixed(4)}, sd ${truth.sd.toFixed(4)}`);
  console.log(is.summary().toString());
  console.log(smc.summary().toString());
  console.log(`\ndone in ${((performance.now() - t0) / 1000).toFixed(2)} s`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
