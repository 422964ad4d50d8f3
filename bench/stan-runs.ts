/**
 * Stan's side of the NUTS benchmarks (bench/mcmc-models.ts, bench/first-call.ts):
 * rstan run now, in the same sitting (bench/stan/run-stan.R: 4 chains one after
 * another, 1000 + 1000, one line of JSON per model and seed), or the lines
 * that script printed earlier, read from a file.
 *
 * @module
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { median } from './util.js';

/** The peers' directory (../shared/peers): the workloads' data and Stan's recorded figures. */
export const PEERS = new URL('../../shared/peers/', import.meta.url);

/** One line of bench/stan/run-stan.R. */
export interface StanRun {
  readonly model: string;
  readonly seed: number;
  /** Sum of rstan's `get_elapsed_time` over the chains, warmup included (what CmdStan reports). */
  readonly sampler_s: number;
  readonly wall_s: number;
  /** Minimum bulk ESS over the parameters (Stan's transformed parameters `theta[j]` left out). */
  readonly ess: number;
  readonly leapfrog: number;
  readonly divergences: number;
  /** Each parameter's posterior mean and sd (Stan's names, `beta[1]` style), where the script printed them. */
  readonly mean?: Record<string, number>;
  readonly sd?: Record<string, number>;
}

/** Stan's ESS per second of its own sampler time in ../shared/peers/README.md (2026-12-06), where no run is given. */
export const STAN_OWN: Record<string, number> = { eight: 13072, linreg: 17077, logreg: 1011 };

/**
 * Stan's runs by workload key. `how` is `'run'` (run rstan now on `keys`,
 * seeds 1..`seeds`, each model compiled or loaded from bench/stan/*.rds), a
 * file of run-stan.R's lines, or `undefined` (no runs: an empty map).
 */
export function stanRuns(how: string | undefined, keys: readonly string[], seeds: number): Map<string, StanRun[]> {
  const out = new Map<string, StanRun[]>();
  if (how === undefined) return out;
  let text: string;
  if (how === 'run') {
    const script = new URL('./stan/run-stan.R', import.meta.url).pathname;
    console.log(`running rstan (${script}) on ${keys.join(', ')}, seeds 1-${seeds} ...`);
    text = execFileSync('Rscript', [script, PEERS.pathname, new URL('../models/data/', import.meta.url).pathname, ...keys, '--seeds', String(seeds)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  } else text = readFileSync(how, 'utf8');
  for (const line of text.split('\n')) {
    if (!line.trim().startsWith('{')) continue;
    const r = JSON.parse(line) as StanRun;
    out.set(r.model, [...(out.get(r.model) ?? []), r]);
  }
  return out;
}

/** Stan's median ESS per second of its own sampler time over `runs`. */
export function stanEssPerSamplerSecond(runs: readonly StanRun[]): number {
  return median(runs.map((r) => r.ess / r.sampler_s));
}
