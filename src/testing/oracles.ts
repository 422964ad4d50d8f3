/**
 * Exact-answer oracles: compare an engine's marginals with exact enumeration
 * on discrete models.
 *
 * For each discrete latent site (and the return value), the total variation
 * distance TV = ½ Σ_v |p̂(v) - p(v)| between the engine's marginal and the
 * exact one is checked against a tolerance from the sample size: with n
 * effective draws, p̂(v) has standard deviation sqrt(p(1 - p) / n), so
 * TV <= ½ z Σ_v sqrt(p(v)(1 - p(v)) / n) holds with high probability for a
 * correct engine (z = 4 by default: each term is a 4-sigma bound). Mass on a
 * value the exact posterior rules out has no tolerance at all. Sites that
 * exist only on some paths get an "absent" value, so the probability of the
 * path is compared too.
 *
 * @module
 */
import fc from 'fast-check';
import type { Model } from '../core/model.js';
import { type Value, isTensor } from '../core/value.js';
import { essBasic } from '../diagnostics/ess.js';
import { enumerate } from '../infer/enumerate.js';
import type { Draw, Posterior } from '../infer/posterior.js';
import type { CommonOptions } from '../infer/registry.js';
import { infer } from '../infer/registry.js';
import { type ArbProgramOptions, type GeneratedProgram, arbProgram } from './programs.js';

/** The key of the return value in {@link OracleResult.sites}. */
export const RETURN_VALUE = '<return>';
const ABSENT = '<absent>';

/** Per-site comparison of {@link compareWithEnumeration}. */
export interface SiteComparison {
  /** The site address, or {@link RETURN_VALUE}. */
  readonly site: string;
  /** Total variation distance between the engine's and the exact marginal. */
  readonly tv: number;
  /** The tolerance it was held to. */
  readonly tolerance: number;
  /** The effective sample size behind the engine's marginal. */
  readonly n: number;
  /** Exact and estimated probabilities by value (JSON keys; `<absent>` where the site does not occur). */
  readonly exact: ReadonlyMap<string, number>;
  readonly estimate: ReadonlyMap<string, number>;
  /** tv <= tolerance. */
  readonly pass: boolean;
}

/** The result of {@link compareWithEnumeration}. */
export interface OracleResult {
  /** The engine compared. */
  readonly method: string;
  /** One comparison per latent site and for the return value. */
  readonly sites: SiteComparison[];
  /** Every site within tolerance. */
  readonly pass: boolean;
  /** The failing sites in words. */
  toString(): string;
}

/** Options of {@link compareWithEnumeration}. */
export interface OracleOptions {
  /** Sigmas per probability in the tolerance (default 4). */
  readonly z?: number;
  /**
   * Effective sample size of the engine's output. Default: for MCMC chains
   * the smallest ESS of the value indicators per site; otherwise the Kish
   * ESS of the weights, capped by the smallest ESS the engine recorded in
   * `diagnostics.essHistory` (SMC resampling makes duplicates).
   */
  readonly effectiveSize?: number;
  /** Also compare the return value (default true). */
  readonly returnValue?: boolean;
}

function keyOf(v: unknown): string {
  if (v === undefined) return ABSENT;
  if (typeof v === 'number') return String(v);
  if (typeof v === 'boolean') return v ? '1' : '0';
  if (isTensor(v)) return JSON.stringify(Array.from(v.dataSync()));
  return JSON.stringify(v);
}

/** Weighted probability table of a function of the draws. */
function table<R>(draws: readonly Draw<R>[], weights: ArrayLike<number>, f: (d: Draw<R>) => unknown): Map<string, number> {
  const out = new Map<string, number>();
  draws.forEach((d, i) => {
    const k = keyOf(f(d));
    out.set(k, (out.get(k) ?? 0) + weights[i]);
  });
  return out;
}

/** The default effective sample size of a posterior for the marginal of `f`. */
function effectiveSize<A extends unknown[], R>(post: Posterior<A, R>, f: (d: Draw<R>) => unknown): number {
  const chained = post.draws.length > 0 && post.draws.every((d) => d.chain !== undefined);
  if (chained) {
    const byChain = new Map<number, string[]>();
    for (const d of post.draws) {
      let list = byChain.get(d.chain as number);
      if (!list) byChain.set(d.chain as number, (list = []));
      list.push(keyOf(f(d)));
    }
    const chains = [...byChain.values()];
    const len = Math.min(...chains.map((c) => c.length));
    const values = new Set(chains.flat());
    let n = post.draws.length;
    for (const v of values) {
      const e = essBasic(chains.map((c) => Float64Array.from(c.slice(0, len), (k) => (k === v ? 1 : 0))));
      if (Number.isFinite(e)) n = Math.min(n, e);
    }
    return n;
  }
  let n = post.ess;
  const hist = post.diagnostics.essHistory;
  if (Array.isArray(hist)) for (const e of hist) if (typeof e === 'number' && e > 0) n = Math.min(n, e);
  return n;
}

function compareSite<A extends unknown[], R>(site: string, exact: Posterior<A, R>, approx: Posterior<A, R>, f: (d: Draw<R>) => unknown, options: OracleOptions): SiteComparison {
  const p = table(exact.draws, exact.weights, f);
  const q = table(approx.draws, approx.weights, f);
  const n = options.effectiveSize ?? effectiveSize(approx, f);
  const z = options.z ?? 4;
  let tv = 0;
  let tol = 0;
  for (const k of new Set([...p.keys(), ...q.keys()])) {
    const pk = p.get(k) ?? 0;
    tv += Math.abs(pk - (q.get(k) ?? 0));
    tol += Math.sqrt((pk * (1 - pk)) / n);
  }
  tv /= 2;
  const tolerance = (z * tol) / 2 + 1e-12;
  return { site, tv, tolerance, n, exact: p, estimate: q, pass: tv <= tolerance };
}

function isEngineOptions(x: unknown): x is CommonOptions {
  return typeof x === 'object' && x !== null && typeof (x as CommonOptions).method === 'string' && !('draws' in x);
}

/**
 * Run exact enumeration and compare the marginal of every discrete latent
 * site (and of the return value) with another engine's, by total variation.
 *
 * @param target - a Posterior already computed, or options for `infer`
 */
export async function compareWithEnumeration<A extends unknown[], R>(m: Model<A, R>, args: A, target: Posterior<A, R> | (CommonOptions & Readonly<Record<string, unknown>>), options: OracleOptions = {}): Promise<OracleResult> {
  const exact = await enumerate(m, {}, args);
  const approx = isEngineOptions(target) ? await infer(m, target, ...args) : target;
  const sites: SiteComparison[] = [];
  for (const addr of exact.addresses()) {
    sites.push(compareSite(addr, exact, approx, (d) => d.values[addr] as Value | undefined, options));
  }
  if (options.returnValue ?? true) sites.push(compareSite(RETURN_VALUE, exact, approx, (d) => d.returnValue, options));
  const pass = sites.every((s) => s.pass);
  return {
    method: approx.method,
    sites,
    pass,
    toString() {
      const bad = sites.filter((s) => !s.pass);
      const head = `${approx.method} vs enumeration: ${pass ? 'agree' : 'DISAGREE'} on ${sites.length} quantities`;
      const rows = (pass ? sites : bad).map((s) => {
        const detail = pass ? '' : `\n      exact    ${fmtTable(s.exact)}\n      estimate ${fmtTable(s.estimate)}`;
        return `  ${s.site}: TV ${s.tv.toFixed(4)} (tolerance ${s.tolerance.toFixed(4)}, n ${s.n.toFixed(0)})${detail}`;
      });
      return [head, ...rows].join('\n');
    },
  };
}

function fmtTable(t: ReadonlyMap<string, number>): string {
  return [...t.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([k, p]) => `${k}: ${p.toFixed(4)}`).join(', ');
}

/** Options of {@link engineAgreesWithExact}. */
export interface AgreesOptions extends OracleOptions {
  /** fast-check runs (default 20). */
  readonly numRuns?: number;
  /** fast-check seed, for a reproducible run. */
  readonly seed?: number;
  /** Options of the program generator. */
  readonly programs?: ArbProgramOptions;
}

/** An engine for {@link engineAgreesWithExact}: `infer` options, or a function returning a Posterior. */
export type OracleEngine = (CommonOptions & Readonly<Record<string, unknown>>) | ((m: Model<[], unknown>, args: [], seed: number) => Promise<Posterior<[], unknown>>);

/**
 * The fast-check property behind {@link engineAgreesWithExact}: on a random
 * small enumerable program, the engine (with a random seed) agrees with
 * enumeration. Use it with your own `fc.assert` parameters.
 */
export function engineAgreesWithExactProperty(engine: OracleEngine, options: AgreesOptions = {}): fc.IAsyncPropertyWithHooks<[GeneratedProgram, number]> {
  return fc.asyncProperty(arbProgram(options.programs), fc.integer({ min: 0, max: 1_000_000 }), async (program, seed) => {
    const m = program.model as Model<[], unknown>;
    const target = typeof engine === 'function' ? await engine(m, [], seed) : { ...engine, seed };
    const result = await compareWithEnumeration(m, [], target, options);
    if (!result.pass) throw new Error(`${result.toString()}\n  seed ${seed}, program:\n${program.description}`);
  });
}

/**
 * Property test for vitest (or any runner): generate random small discrete
 * programs (branching, loops, observations and factors) and check that the
 * engine's marginals agree with exact enumeration; throws fast-check's
 * report with a shrunk counterexample program when they do not.
 *
 * ```ts
 * it('my engine is exact on discrete programs', () =>
 *   engineAgreesWithExact({ method: 'importance', particles: 3000 }, { numRuns: 25 }));
 * ```
 */
export async function engineAgreesWithExact(engine: OracleEngine, options: AgreesOptions = {}): Promise<void> {
  await fc.assert(engineAgreesWithExactProperty(engine, options), {
    numRuns: options.numRuns ?? 20,
    ...(options.seed !== undefined ? { seed: options.seed } : {}),
  });
}
