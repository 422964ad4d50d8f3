/**
 * `infer(model, { method: 'hmc-gibbs', ... })`: models with both finite
 * discrete and continuous latent sites (like NumPyro's `DiscreteHMCGibbs`).
 *
 * Each iteration of each chain is
 * 1. a systematic-scan Gibbs sweep over the discrete sites, in trace order:
 *    each site is drawn exactly from its full conditional given every other
 *    site, by enumerating its support and running the model once per value
 *    (`gibbsStep` of trace-MH); then
 * 2. one NUTS (or static HMC) transition on the continuous sites, in
 *    unconstrained space, with the discrete values held fixed: the potential
 *    is the model conditioned on them.
 *
 * Both steps leave the joint posterior invariant, so their composition does.
 * Warmup adapts the step size and mass matrix as for `nuts` while the
 * discrete values move (the target changes between transitions, as in
 * NumPyro). Chains run one after another, each with its own discrete state;
 * the discrete draws are recorded alongside the continuous ones.
 *
 * The potential given the discrete values runs the model on tfjs. A
 * configuration of discrete values seen a second time gets its own compiled
 * potential (a float64 replay of the model conditioned on those values,
 * see `compiled-density.ts`), kept in a small per-chain cache: recurring
 * configurations, as in small mixtures, then cost far less per gradient.
 *
 * Discrete sites must be scalar with a finite support (Bernoulli,
 * Categorical, Binomial, ...); others are an error naming the site.
 *
 * @module
 */
import type * as tf from '@tensorflow/tfjs-core';
import { tidyAsync } from '../../backend/autodiff.js';
import type { Model } from '../../core/model.js';
import { ModelError } from '../../core/model.js';
import { condition, substitute } from '../../core/handlers.js';
import { type Rng, rngFrom } from '../../core/rng.js';
import type { Trace } from '../../core/trace.js';
import { type Value, type ValueLike, isTensor, toNumber } from '../../core/value.js';
import type { Distribution } from '../../distributions/distribution.js';
import { Posterior } from '../posterior.js';
import { registerEngine } from '../registry.js';
import { type HMCDiagnostics, type HMCEngineOptions, drawsFromSamples, hmcDiagnostics } from './hmc-engine.js';
import { type GradientCoroutine, type Position, evaluate } from './integrator.js';
import { initialTrace } from './mh-engine.js';
import { type Compiled, type Layout, constrain, layoutOf, logDensityFn, unconstrain } from './potential.js';
import { type ChainTarget, type McmcSamples, sampleHmcPerChain, sampleNutsPerChain } from './sampler.js';
import type { LogDensityAndGradient } from './target.js';

/** A log density and gradient on the unconstrained continuous coordinates. */
type Potential = (q: Float64Array) => Promise<LogDensityAndGradient>;

/** Compiled potentials kept per chain (least recently used dropped first). */
const CACHE_SIZE = 64;
import { type TraceState, gibbsStep, runWithValues } from './trace-mh.js';

/** Options of `infer(model, { method: 'hmc-gibbs', ... })`: those of `nuts`/`hmc` but `vectorize` and `workers`, plus the kernel. */
export interface HMCGibbsOptions extends Omit<HMCEngineOptions, 'method' | 'vectorize' | 'compile' | 'workers'> {
  readonly method: 'hmc-gibbs';
  /** The kernel for the continuous sites: `'nuts'` (default) or static `'hmc'`. */
  readonly kernel?: 'nuts' | 'hmc';
  /**
   * Compile the potential of each discrete configuration visited more than
   * once (a float64 replay of the model's kernels, self-checked against
   * tfjs; see `compiled-density.ts`); default true. Off at the first
   * configuration that cannot be compiled.
   */
  readonly compile?: boolean;
}

/** Diagnostics of an `hmc-gibbs` run: those of `nuts`, plus the Gibbs part. */
export interface HMCGibbsDiagnostics extends HMCDiagnostics {
  /** The discrete sites updated by Gibbs, in scan order. */
  readonly discreteSites: string[];
  /** Model runs spent on the Gibbs sweeps, all chains. */
  readonly gibbsModelRuns: number;
  /** Wall time of the Gibbs sweeps (ms), all chains; part of the warmup and sampling times. */
  readonly gibbsMs: number;
  /** Discrete configurations whose potential was compiled, all chains. */
  readonly compiledConfigurations: number;
  /** Why compilation was off (per chain), or `true` where it stayed on. */
  readonly compiledPerChain: (true | string)[];
}

/** The finite discrete latent sites of a trace, in order; an error names any discrete site Gibbs cannot enumerate. */
export function gibbsSitesOf(trace: Trace): string[] {
  const out: string[] = [];
  for (const s of trace) {
    if (s.type !== 'sample' || s.observed) continue;
    const dist = s.dist as Distribution;
    if (!dist.isDiscrete) continue;
    if (dist.enumerateSupport() === undefined) {
      const why =
        dist.batchShape.length > 0
          ? `${dist.name} has batch shape [${dist.batchShape.join(', ')}]; Gibbs updates scalar discrete sites only (write one site per element, or marginalise)`
          : `${dist.name} does not have a finite support to enumerate; Gibbs needs one (marginalise or truncate the site, or use method 'mh')`;
      throw new ModelError(s.address, `hmc-gibbs: ${why}`);
    }
    out.push(s.address);
  }
  return out;
}

/** Values of the given sites in a trace, by address (each must be there). */
function valuesAt(trace: Trace, addresses: readonly string[]): Record<string, Value> {
  const out: Record<string, Value> = {};
  for (const a of addresses) {
    const site = trace.get(a);
    if (site === undefined) throw new ModelError(a, "hmc-gibbs: this discrete site is missing from a run; the set of sites must not depend on random choices (use method 'mh')");
    out[a] = isTensor(site.value) && site.value.size === 1 ? toNumber(site.value) : site.value;
  }
  return out;
}

/** The tensor values of a trace's latent sites. */
function latentTensors(trace: Trace): tf.Tensor[] {
  const out: tf.Tensor[] = [];
  for (const s of trace) if (s.type === 'sample' && !s.observed && isTensor(s.value)) out.push(s.value);
  return out;
}

/**
 * One chain's state and target: the discrete values (a record the
 * conditioned model reads on every run), the potential of the continuous
 * sites given them, and the hook that runs a Gibbs sweep before each
 * transition and records the discrete values of each kept draw.
 */
class GibbsChain<A extends unknown[], R> {
  /** Discrete values now; mutated in place by the sweeps. */
  readonly discrete: Record<string, Value>;
  /** Discrete values of each kept draw. */
  readonly kept: Record<string, Value>[] = [];
  /** Model runs of this chain's sweeps. */
  modelRuns = 0;
  /** Wall time of this chain's sweeps (ms). */
  sweepMs = 0;
  /** Discrete configurations whose potential was compiled. */
  compiledConfigurations = 0;
  /** Why compilation was turned off for this chain, if it was. */
  compileOff: string | undefined;
  private pending = false;
  /** The potential given whatever `discrete` holds now (tfjs, never compiled). */
  private readonly live: Potential;
  /** The potential used now: `live`, or the compiled one of the current configuration. */
  private density: Potential;
  /** Per discrete configuration (most recently used last): visits and, from the second, a compiled potential. */
  private readonly cache = new Map<string, { visits: number; density?: Compiled<Potential> }>();

  constructor(
    private readonly m: Model<A, R>,
    private readonly args: A,
    private readonly layout: Layout,
    private readonly sites: readonly string[],
    start: Record<string, Value>,
    private readonly rng: Rng,
    private readonly warmup: number,
    compile: boolean,
  ) {
    this.discrete = { ...start };
    this.live = logDensityFn(condition(m, this.discrete as Record<string, ValueLike>), args, layout);
    this.density = this.live;
    if (!compile) this.compileOff = 'compile: false';
  }

  /**
   * Picks the potential for the current discrete values. A configuration
   * seen again gets its own compiled potential (the model conditioned on a
   * frozen copy of the values, see `compiled-density.ts`); the first failure
   * to compile turns compilation off for the chain.
   */
  private choose(): void {
    if (this.compileOff !== undefined) return;
    if (this.density !== this.live) {
      const status = (this.density as Compiled<Potential>).compileStatus();
      if (status !== true && status !== 'not yet') {
        this.compileOff = status;
        this.density = this.live;
        this.cache.clear();
        return;
      }
    }
    const key = this.sites.map((a) => String(this.discrete[a])).join('|');
    const entry = this.cache.get(key) ?? { visits: 0 };
    this.cache.delete(key);
    this.cache.set(key, entry);
    if (this.cache.size > CACHE_SIZE) this.cache.delete(this.cache.keys().next().value!);
    entry.visits += 1;
    if (entry.visits >= 2 && entry.density === undefined) {
      entry.density = logDensityFn(condition(this.m, { ...this.discrete } as Record<string, ValueLike>), this.args, this.layout, { compile: true });
      this.compiledConfigurations += 1;
    }
    this.density = entry.density ?? this.live;
  }

  /** The sampler's view of this chain. */
  target(): ChainTarget {
    return {
      target: async (q) => {
        if (this.pending) {
          this.pending = false;
          const t0 = performance.now();
          await this.sweep(q);
          this.sweepMs += performance.now() - t0;
          this.choose();
        }
        return this.density(q);
      },
      // (no discrete sites: plain NUTS, chain by chain)
      ...(this.sites.length > 0 ? { beforeTransition: (position: Position, iteration: number) => this.refresh(position, iteration) } : {}),
    };
  }

  /**
   * Before each transition: asks for the position to be re-evaluated; the
   * target runs the (async) Gibbs sweep first, so the answer is the density
   * given the new discrete values. Records the discrete values of kept draws.
   */
  private *refresh(position: Position, iteration: number): GradientCoroutine<Position> {
    this.pending = true;
    const at = yield* evaluate(position.q);
    if (iteration >= this.warmup) this.kept.push({ ...this.discrete });
    return at;
  }

  /**
   * One systematic-scan Gibbs sweep over the discrete sites at the continuous
   * point q, in its own tensor scope (the model runs' tensors are disposed).
   */
  private sweep(q: Float64Array): Promise<void> {
    return tidyAsync(() => this.sweepIn(q), () => []);
  }

  private async sweepIn(q: Float64Array): Promise<void> {
    const continuous = constrain(this.layout, q);
    try {
      let state: TraceState<R> = await runWithValues(this.m, this.args, (a) => continuous[a] ?? this.discrete[a], this.rng);
      this.modelRuns += 1;
      for (const address of this.sites) {
        state = await gibbsStep(this.m, this.args, state, address, this.rng);
        this.modelRuns += (state.trace.get(address)!.dist as Distribution).enumerateSupport()!.length;
      }
      Object.assign(this.discrete, valuesAt(state.trace, this.sites));
      state.trace.disposeLogProbs();
    } finally {
      for (const v of Object.values(continuous)) if (isTensor(v)) v.dispose();
    }
  }
}

/** HMC/NUTS on the continuous sites within Gibbs over the finite discrete ones. */
export async function hmcGibbs<A extends unknown[], R>(m: Model<A, R>, options: Omit<HMCGibbsOptions, 'method'>, args: A): Promise<Posterior<A, R>> {
  const kernel = options.kernel ?? 'nuts';
  if (kernel !== 'nuts' && kernel !== 'hmc') throw new RangeError(`hmc-gibbs: kernel must be 'nuts' or 'hmc', got ${String(kernel)}`);
  const chains = options.chains ?? 4;
  const warmup = options.warmup ?? 1000;
  const seed = options.seed ?? 0;
  if (!Number.isInteger(chains) || chains < 1) throw new RangeError(`hmc-gibbs: chains must be a positive integer, got ${chains}`);

  // a starting trace per chain (a prior draw, or the given values): its discrete values start the chain
  const init = options.init;
  const startModel = init !== undefined && typeof init === 'object' ? substitute(m, init as Record<string, ValueLike>) : m;
  const initRng = rngFrom(`${seed}/init`);
  // in a tensor scope that keeps only the latent values, disposed below once read (but for the user's own init tensors)
  const starts = await tidyAsync(
    async () => {
      const out: Trace[] = [];
      for (let c = 0; c < chains; c++) {
        const s = await initialTrace(startModel, args, initRng.split());
        s.trace.disposeLogProbs();
        out.push(s.trace);
      }
      return out;
    },
    (traces) => traces.flatMap(latentTensors),
  );
  const sites = gibbsSitesOf(starts[0]!);
  const order = [...starts[0]!].filter((s) => s.type === 'sample' && !s.observed).map((s) => s.address);
  const discreteStarts = starts.map((t) => valuesAt(t, sites));
  let continuousInit: 'uniform' | Float64Array[] = 'uniform';
  let layout: Layout;
  try {
    ({ layout } = await layoutOf(condition(m, discreteStarts[0]! as Record<string, ValueLike>), args, rngFrom(`${seed}/probe`)));
    if (layout.dim === 0) throw new Error("hmc-gibbs: the model has no continuous latent sites (use method 'enumerate', or 'mh' with gibbs)");
    if (init !== undefined && init !== 'uniform') continuousInit = starts.map((t) => unconstrain(layout, t));
  } finally {
    const given = new Set(init !== undefined && typeof init === 'object' ? Object.values(init).filter(isTensor) : []);
    for (const t of starts) for (const v of latentTensors(t)) if (!given.has(v)) v.dispose();
  }

  const gibbsRngs = rngFrom(`${seed}/gibbs`).splitN(chains);
  const states = discreteStarts.map((start, c) => new GibbsChain(m, args, layout, sites, start, gibbsRngs[c]!, warmup, options.compile ?? true));
  const common = {
    dim: layout.dim,
    chains,
    warmup,
    draws: options.samples ?? 1000,
    seed: rngFrom(seed),
    init: continuousInit,
    ...(options.targetAccept !== undefined ? { targetAccept: options.targetAccept } : {}),
    ...(options.massMatrix !== undefined ? { massMatrix: options.massMatrix } : {}),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  };
  const setup = (c: number): ChainTarget => states[c]!.target();
  const result: McmcSamples =
    kernel === 'nuts'
      ? await sampleNutsPerChain(setup, { ...common, ...(options.maxTreeDepth !== undefined ? { maxTreeDepth: options.maxTreeDepth } : {}) })
      : await sampleHmcPerChain(setup, {
          ...common,
          ...(options.numSteps !== undefined ? { numSteps: options.numSteps } : {}),
          ...(options.integrationTime !== undefined ? { integrationTime: options.integrationTime } : {}),
        });

  // continuous and discrete values of each draw, in the trace's order of sites
  const draws = drawsFromSamples<R>(layout, result).map((d, i) => {
    const kept = states[d.chain!]!.kept[i % result.draws] ?? {};
    const values: Record<string, Value> = {};
    for (const a of order) values[a] = d.values[a] ?? kept[a]!;
    return { ...d, values };
  });
  const diagnostics: HMCGibbsDiagnostics = {
    ...hmcDiagnostics(result, layout, kernel === 'nuts' ? (options.maxTreeDepth ?? 10) : undefined, 'no: the discrete sites are updated by Gibbs, chain by chain'),
    discreteSites: sites,
    gibbsModelRuns: states.reduce((a, s) => a + s.modelRuns, 0),
    gibbsMs: states.reduce((a, s) => a + s.sweepMs, 0),
    compiledConfigurations: states.reduce((a, s) => a + s.compiledConfigurations, 0),
    compiledPerChain: states.map((s) => s.compileOff ?? true),
  };
  return new Posterior({ method: 'hmc-gibbs', draws, diagnostics: diagnostics as unknown as Record<string, unknown>, model: m, args });
}

registerEngine<HMCGibbsOptions>({
  name: 'hmc-gibbs',
  options: ['kernel', 'compile', 'chains', 'warmup', 'samples', 'init', 'targetAccept', 'maxTreeDepth', 'massMatrix', 'numSteps', 'integrationTime', 'onProgress', 'signal'],
  description: 'NUTS (or HMC) on the continuous sites within Gibbs sweeps over finite discrete sites, many chains',
  run: (m, options, args) => hmcGibbs(m, options, args),
});
