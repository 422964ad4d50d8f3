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
 * configuration of discrete values gets its own compiled potential (a
 * float64 replay of the model conditioned on those values, see
 * `compiled-density.ts`), shared by the run's chains
 * (`config-potentials.ts`): at its first visit where the discrete sites have
 * at most 256 joint values, else at its second; recurring configurations
 * then cost far less per gradient. Where every discrete site is scalar and
 * the lean runtime runs the model, a sweep runs on plain numbers outside the
 * gradient lock, with no general model run (`leanSweep`).
 * Where every discrete site is scalar, a chain also sweeps once at its first
 * valid point, before the rest of its initialisation and step-size search
 * (`startingEvaluation`), so those run on a configuration drawn from its
 * conditional, compiled, not on the prior draw's on tfjs.
 * The same compiled potentials weigh a scalar Bernoulli or Categorical
 * site's Gibbs update where every candidate configuration (the site at each
 * value, the others as they are) has one: the conditional is the normalised
 * joint at those configurations, read from their float64 replays at the
 * current point with no model run (`diagnostics.gibbsReplayed`); where one
 * is missing or its replay does not serve the point, the model runs once
 * per value as before.
 *
 * Discrete sites must have a finite support (Bernoulli, Categorical,
 * Binomial, ...) and be scalar, or batched by one plate (per-datum
 * assignments): a plated site is updated all elements at once, each from its
 * own conditional, when they are conditionally independent given the rest
 * (`plated-gibbs.ts`, which checks it where cheap). Others are an error
 * naming the site.
 *
 * @module
 */
import { TycheError } from '../../core/errors.js';
import * as tf from '@tensorflow/tfjs-core';
import { tidyAsync } from '../../backend/autodiff.js';
import { type Model, execute } from '../../core/model.js';
import { ModelError } from '../../core/model.js';
import { condition, substitute } from '../../core/handlers.js';
import { type Rng, rngFrom } from '../../core/rng.js';
import type { Trace } from '../../core/trace.js';
import { type Value, type ValueLike, isTensor, toNumber } from '../../core/value.js';
import type { Distribution } from '../../distributions/distribution.js';
import { Posterior } from '../posterior.js';
import { registerEngine } from '../registry.js';
import { completeDraws } from './complete-draws.js';
import { type HMCDiagnostics, type HMCEngineOptions, drawsFromSamples, hmcDiagnostics, pointOf } from './hmc-engine.js';
import { type GradientCoroutine, type Position, evaluate } from './integrator.js';
import { initialTrace } from './mh-engine.js';
import { withInitValues } from '../init-values.js';
import { type Compiled, type Layout, boundsDiffer, constrain, hasBoundedSupport, layoutOnly, logDensityFn, refuseSubsample, unconstrain } from './potential.js';
import { type ChainTarget, type McmcSamples, sampleHmcPerChain, sampleNutsPerChain } from './sampler.js';
import type { LogDensityAndGradient } from './target.js';
import { Pacer, pacedAnswers } from '../pace.js';

/** A log density and gradient on the unconstrained continuous coordinates. */
type Potential = (q: Float64Array) => Promise<LogDensityAndGradient>;

/** Compiled potentials kept for a run, all chains (least recently used dropped first); also the most joint values of the discrete sites for which each configuration is compiled at its first visit. */
const CACHE_SIZE = 256;
import { GibbsStreams, type TraceState, gibbsDraw, gibbsUpdate, runWithValues } from './trace-mh.js';
import { type PlatedSite, platedGibbsStep, platedSiteOf } from './plated-gibbs.js';
import { VectorizedGibbs } from './vector-gibbs.js';
import { ConfigPotentials } from './config-potentials.js';
import { LeanGibbs } from './lean-gibbs.js';
import { INIT_STRATEGIES, type InitStrategy, describeInit, unknownInitError } from './initialise.js';

/** Options of `infer(model, { method: 'hmc-gibbs', ... })`: those of `nuts`/`hmc` but `vectorize` and `workers`, plus the kernel. */
export interface HMCGibbsOptions extends Omit<HMCEngineOptions, 'method' | 'vectorize' | 'compile' | 'workers'> {
  readonly method: 'hmc-gibbs';
  /** The kernel for the continuous sites: `'nuts'` (default) or static `'hmc'`. */
  readonly kernel?: 'nuts' | 'hmc';
  /**
   * Where chains start. Discrete sites start at a prior draw (or the values
   * given by address). Continuous sites: a strategy as for `nuts`
   * (`'ascent'`, `'best-of-uniform'`, `'uniform'`), run by each chain on the
   * density at its starting discrete values; `'prior'` takes the prior
   * draw's values. Default `'uniform'` (Stan's). `diagnostics.init` says
   * which ran; anything else is an error naming the choices.
   */
  readonly init?: HMCEngineOptions['init'];
  /**
   * Compile the potential of each discrete configuration visited more than
   * once (a float64 replay of the model's kernels, self-checked against
   * tfjs; see `compiled-density.ts`); default true. Off at the first
   * configuration that cannot be compiled.
   */
  readonly compile?: boolean;
  /**
   * Weigh all values of a scalar discrete site in one vectorised model run
   * instead of one run per value, where the model's code broadcasts over the
   * site's values (checked at each site's first update; a site that fails the
   * check falls back, and `diagnostics.gibbsVectorized` says why). Default true.
   */
  readonly vectorizeGibbs?: boolean;
}

/** Diagnostics of an `hmc-gibbs` run: those of `nuts`, plus the Gibbs part. */
export interface HMCGibbsDiagnostics extends HMCDiagnostics {
  /** The discrete sites updated by Gibbs, in scan order. */
  readonly discreteSites: string[];
  /** Model runs spent on the Gibbs sweeps, all chains. */
  readonly gibbsModelRuns: number;
  /**
   * Scalar-site Gibbs updates weighed by the compiled potentials of the
   * site's candidate configurations, with no model run, all chains.
   */
  readonly gibbsReplayed: number;
  /**
   * `true` where the scalar sites' Gibbs updates were weighed on the lean
   * runtime (one run per value on plain numbers, `lean-gibbs.ts`), else why
   * not (then the general runtime ran them).
   */
  readonly gibbsLean: true | string;
  /** Lean model runs of the Gibbs sweeps (one per value weighed), all chains; not counted in `gibbsModelRuns`. */
  readonly gibbsLeanRuns: number;
  /** Wall time of the Gibbs sweeps (ms), all chains; part of the warmup and sampling times. */
  readonly gibbsMs: number;
  /** Discrete configurations whose potential was compiled, all chains. */
  readonly compiledConfigurations: number;
  /** Why compilation was off, or `true` where it stayed on: one entry per chain, the same for all (the chains share their compiled potentials). */
  readonly compiledPerChain: (true | string)[];
  /** Per scalar discrete site: `true` where its Gibbs updates ran vectorised, else why not (absent with `vectorizeGibbs: false`). */
  readonly gibbsVectorized?: Record<string, true | string>;
}

/** The finite discrete latent sites of a trace, in order; an error names any discrete site Gibbs cannot enumerate. */
export function gibbsSitesOf(trace: Trace): string[] {
  return [...discreteSitesOf(trace).keys()];
}

/** The finite discrete latent sites of a trace, in order, with the plate of each batched one (`undefined` for scalar sites). */
function discreteSitesOf(trace: Trace): Map<string, PlatedSite | undefined> {
  const out = new Map<string, PlatedSite | undefined>();
  for (const s of trace) {
    if (s.type !== 'sample' || s.observed) continue;
    const dist = s.dist as Distribution;
    if (!dist.isDiscrete) continue;
    if (dist.enumerateSupport() !== undefined) out.set(s.address, undefined);
    else if (dist.batchShape.length > 0) out.set(s.address, platedSiteOf(s));
    else if (dist.eventShape.length > 0) {
      // e.g. Independent(Bernoulli(p).expand([n]), 1): finite, but Gibbs updates one value at a time, not 2^n joint values
      throw new ModelError(s.address, `hmc-gibbs: ${dist.name} is one event of shape [${dist.eventShape.join(', ')}], whose joint values Gibbs does not enumerate; declare its elements as independent in a plate (plate(name, n, ...) and sample inside it) or as one site each, or use method 'mh'`);
    } else throw new ModelError(s.address, `hmc-gibbs: ${dist.name} does not have a finite support to enumerate; Gibbs needs one (marginalise or truncate the site, or use method 'mh')`);
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

/** The value of a plated site as a tensor the caller owns (kept out of every tfjs scope). */
function ownedTensor(ps: PlatedSite, values: ArrayLike<number>): tf.Tensor {
  return tf.keep(tf.tensor(Array.from(values), [ps.size], ps.dtype));
}

/** A discrete configuration as a cache key. */
function keyOf(v: Value): string {
  return isTensor(v) ? Array.from(v.dataSync()).join(',') : String(v);
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
  /** Discrete values of each kept draw (plated sites as plain arrays). */
  readonly kept: Record<string, Value | Float64Array>[] = [];
  /** Model runs of this chain's sweeps. */
  modelRuns = 0;
  /** Wall time of this chain's sweeps (ms). */
  sweepMs = 0;
  private pending = false;
  /**
   * Whether the chain has yet to find its first valid point: until then each
   * evaluation runs `live`, and the first finite one is followed by a sweep
   * there (`startingEvaluation`).
   */
  private starting = true;
  /** The potential given whatever `discrete` holds now (tfjs, never compiled). */
  private readonly live: Potential;
  /** The potential used now: `live`, or the compiled one of the current configuration. */
  private density: Potential;
  /**
   * Per scalar site: its support while it is a Bernoulli's or Categorical's
   * and the same in every trace seen, else null (never weighed by replays).
   */
  private readonly supports = new Map<string, readonly number[] | null>();
  /** Gibbs updates weighed by the compiled potentials of the candidate configurations (no model run). */
  replayedUpdates = 0;
  /** Scalar discrete sites. */
  private readonly scalarSites: readonly string[];
  /** Every latent site's address: the continuous ones, then the discrete ones (the values a lean run is given). */
  private readonly latent: readonly string[];
  /** Weighs a scalar site's values on the lean runtime, on plain numbers (`lean-gibbs.ts`). */
  readonly lean: LeanGibbs<A, R>;
  /** Whether the next sweep checks conditional independence of the plated sites' elements (the chain's first). */
  private checkPlated = true;

  constructor(
    private readonly m: Model<A, R>,
    private readonly args: A,
    private readonly layout: Layout,
    private readonly sites: readonly string[],
    private readonly plated: ReadonlyMap<string, PlatedSite>,
    start: Record<string, Value | Float64Array>,
    private readonly rng: Rng,
    private readonly warmup: number,
    private readonly potentials: ConfigPotentials<A, R>,
    private readonly vectorized: VectorizedGibbs | undefined,
    signal: AbortSignal | undefined,
  ) {
    this.lean = new LeanGibbs(m, args, signal);
    this.discrete = { ...start } as Record<string, Value>;
    // the chain owns its plated values (the start's tensors belong to a trace that is disposed)
    for (const [a, ps] of plated) this.discrete[a] = ownedTensor(ps, start[a] as Float64Array);
    this.scalarSites = sites.filter((a) => !plated.has(a));
    this.latent = [...layout.sites.map((s) => s.address), ...sites];
    this.live = logDensityFn(condition(m, this.discrete as Record<string, ValueLike>), args, layout);
    this.density = this.live;
  }

  /**
   * Picks the potential for the current discrete values: the configuration's
   * compiled potential (shared by the run's chains, `config-potentials.ts`)
   * from its first visit where the discrete sites have at most `CACHE_SIZE`
   * joint values, else from its second; the first failure to compile turns
   * compilation off for the run.
   */
  private choose(): void {
    const shared = this.potentials;
    if (shared.off === undefined && this.density !== this.live) {
      const status = (this.density as Compiled<Potential>).compileStatus();
      if (status !== true && status !== 'not yet') shared.turnOff(status);
    }
    if (shared.off !== undefined) {
      this.density = this.live;
      return;
    }
    const key = this.sites.map((a) => keyOf(this.discrete[a]!)).join('|');
    this.density = shared.visit(key, this.discrete, [...this.plated.keys()], this.fewConfigurations() ? 1 : 2) ?? this.live;
  }

  /** Whether the discrete sites have at most `CACHE_SIZE` joint values: all scalar, each support known (see `supports`). */
  private fewConfigurations(): boolean {
    if (this.plated.size > 0) return false;
    let n = 1;
    for (const a of this.sites) {
      const support = this.supports.get(a);
      if (!support) return false;
      n *= support.length;
    }
    return n <= CACHE_SIZE;
  }

  /** The sampler's view of this chain. */
  target(): ChainTarget {
    return {
      target: async (q) => {
        if (this.pending) {
          this.pending = false;
          await this.timedSweep(q);
        } else if (this.starting) return this.startingEvaluation(q);
        return this.density(q);
      },
      // (no discrete sites: plain NUTS, chain by chain)
      ...(this.sites.length > 0 ? { beforeTransition: (position: Position, iteration: number) => this.refresh(position, iteration) } : {}),
    };
  }

  /**
   * An evaluation before the chain's first transition (the initialiser's and
   * the first step-size search's). At the first point where the starting
   * configuration's density is finite, a Gibbs sweep runs at once (where
   * every discrete site is scalar and compilation is on: on the lean runtime
   * a few ms) and the point is evaluated again given the new values, so the
   * initialiser and the step-size search read the configuration the sweep
   * chose, compiled where configurations are few, instead of running the
   * starting configuration's `live` potential on tfjs at every gradient (a
   * prior-drawn configuration the chain seldom visits again). The extra
   * sweep is one more Gibbs kernel before warmup (the chain's target is
   * unchanged; its draws move with the seed's stream). The sweep draws in
   * proportion to the joint density at the point, so the new configuration's
   * density there is positive too.
   */
  private async startingEvaluation(q: Float64Array): Promise<LogDensityAndGradient> {
    const at = await this.density(q);
    if (!Number.isFinite(at.logp) || !at.grad.every(Number.isFinite)) return at;
    this.starting = false;
    if (this.sites.length === 0 || this.plated.size > 0 || this.potentials.off !== undefined) return at;
    await this.timedSweep(q);
    return this.density(q);
  }

  /** A Gibbs sweep at `q`, timed into `sweepMs`, then the potential for the configuration it chose. */
  private async timedSweep(q: Float64Array): Promise<void> {
    const t0 = performance.now();
    await this.sweep(q);
    this.sweepMs += performance.now() - t0;
    this.choose();
  }

  /**
   * Before each transition: asks for the position to be re-evaluated; the
   * target runs the (async) Gibbs sweep first, so the answer is the density
   * given the new discrete values. Records the discrete values of kept draws.
   */
  private *refresh(position: Position, iteration: number): GradientCoroutine<Position> {
    this.pending = true;
    this.starting = false;
    const at = yield* evaluate(position.q);
    if (iteration >= this.warmup) {
      const draw: Record<string, Value | Float64Array> = { ...this.discrete };
      for (const a of this.plated.keys()) draw[a] = Float64Array.from((this.discrete[a] as tf.Tensor).dataSync());
      this.kept.push(draw);
    }
    return at;
  }

  /** Disposes the tensors the chain owns (its plated values); call once sampling is over. */
  dispose(): void {
    for (const a of this.plated.keys()) (this.discrete[a] as tf.Tensor).dispose();
  }

  /**
   * One systematic-scan Gibbs sweep over the discrete sites at the continuous
   * point q, in its own tensor scope (the model runs' tensors are disposed).
   */
  private async sweep(q: Float64Array): Promise<void> {
    const from = await this.leanSweep(q);
    if (from < this.sites.length) await tidyAsync(() => this.sweepIn(q, from), () => []);
  }

  /**
   * The sweep on plain numbers, outside the gradient lock (whose
   * `AsyncLocalStorage` puts Node's promise hooks on every `await` of a
   * model run): where every discrete site is scalar and the lean runtime
   * runs the model, each site is drawn from the weights of its compiled
   * candidate configurations (`replayedUpdate`) or of one lean run per
   * value (`LeanGibbs.conditional`, which reads the site's support from
   * the run itself), with no general run. Draws, and the streams they use,
   * are those of the general sweep (`sweepIn`): the same weights, the
   * same split and draw. Returns the index of the first site it could not
   * update (the general sweep goes on from there), or the number of sites.
   */
  private async leanSweep(q: Float64Array): Promise<number> {
    if (this.plated.size > 0 || this.lean.off !== undefined) return 0;
    const continuous = constrain(this.layout, q);
    const numbers = Object.values(continuous).every((v) => typeof v === 'number');
    if (!numbers) {
      for (const v of Object.values(continuous)) if (isTensor(v)) v.dispose();
      return 0;
    }
    const values = (a: string): Value | undefined => continuous[a] ?? this.discrete[a];
    for (let i = 0; i < this.sites.length; i++) {
      const address = this.sites[i]!;
      const replayed = this.replayedUpdate(address, q, this.discrete);
      if (replayed !== undefined) {
        this.discrete[address] = replayed;
        continue;
      }
      const c = await this.lean.conditional(values, this.latent, address);
      if (c === undefined) return i;
      this.noteSupport(address, c.dist);
      // the streams as gibbsDraw uses them (its run stream is left unread: there is no run at the drawn value)
      this.discrete[address] = c.support[new GibbsStreams(this.rng).draw(c.logW)]!;
    }
    return this.sites.length;
  }

  /** Keeps each scalar site's support from `trace` (see `supports`): null once it is not a Bernoulli's or Categorical's, or differs. */
  private noteSupports(trace: Trace): void {
    for (const a of this.scalarSites) this.noteSupport(a, trace.get(a)?.dist as Distribution | undefined);
  }

  /** Keeps the support of scalar site `a` from its distribution in one run (see `noteSupports`). */
  private noteSupport(a: string, dist: Distribution | undefined): void {
    const seen = this.supports.get(a);
    if (seen === null) return;
    const support = dist && (dist.name === 'Bernoulli' || dist.name === 'Categorical') ? dist.enumerateSupport() : undefined;
    const same = (s: readonly Value[]): boolean => seen !== undefined && s.length === seen.length && s.every((v, k) => v === seen[k]);
    if (!support || !support.every((v) => typeof v === 'number') || (seen !== undefined && !same(support))) this.supports.set(a, null);
    else if (seen === undefined) this.supports.set(a, support as number[]);
  }

  /**
   * The value a Gibbs update of the scalar site `address` draws at the
   * continuous point q, from the compiled potentials of its candidate
   * configurations (`now` with the site at each value): their log densities
   * differ from the log joints of one run per value by the same log-Jacobian.
   * Undefined (nothing drawn) where a candidate has no compiled potential, its
   * replay does not serve q, or no candidate has positive density.
   */
  private replayedUpdate(address: string, q: Float64Array, now: Readonly<Record<string, Value>>): number | undefined {
    const support = this.supports.get(address);
    if (this.potentials.off !== undefined || !support) return undefined;
    const keys = this.sites.map((a) => (a === address ? '' : keyOf(now[a]!)));
    const at = this.sites.indexOf(address);
    const logW = new Float64Array(support.length);
    let any = false;
    for (let k = 0; k < support.length; k++) {
      keys[at] = String(support[k]);
      const density = this.potentials.peek(keys.join('|'));
      if (density === undefined || density.compileStatus() !== true) return undefined;
      const v = density.valueOnly(q);
      if (v === undefined || Number.isNaN(v)) return undefined;
      logW[k] = v;
      if (v > -Infinity) any = true;
    }
    if (!any) return undefined;
    // the streams as a run-based update uses them (its run stream left unread)
    this.replayedUpdates += 1;
    return support[new GibbsStreams(this.rng).draw(logW)]!;
  }

  private async sweepIn(q: Float64Array, from = 0): Promise<void> {
    const continuous = constrain(this.layout, q);
    const values = (a: string): Value | undefined => continuous[a] ?? this.discrete[a];
    try {
      // scalar sites thread a trace through their steps; a plated step reads the values and leaves none
      let state: TraceState<R> | undefined;
      for (let i = from; i < this.sites.length; i++) {
        const address = this.sites[i]!;
        const ps = this.plated.get(address);
        if (ps === undefined) {
          // the values now (a threaded trace holds the latest scalar ones)
          const now = state === undefined ? this.discrete : { ...this.discrete, ...valuesAt(state.trace, this.scalarSites) };
          const replayed = this.replayedUpdate(address, q, now);
          if (replayed !== undefined) {
            Object.assign(this.discrete, now);
            this.discrete[address] = replayed;
            state?.trace.disposeLogProbs();
            state = undefined;
            continue;
          }
          if (state === undefined) {
            state = await runWithValues(this.m, this.args, values, this.rng);
            this.noteSupports(state.trace);
            this.modelRuns += 1;
          }
          const next = this.sites[i + 1];
          if (next === undefined || this.plated.has(next)) {
            // the last scalar site before a plated one or the end: only the values are needed, not the trace at them
            const drawn = await gibbsDraw(this.m, this.args, state, address, this.rng, { vectorized: this.vectorized, lean: this.lean });
            this.modelRuns += drawn.runs;
            if (drawn.state) this.noteSupports(drawn.state.trace);
            Object.assign(this.discrete, valuesAt((drawn.state ?? state).trace, this.scalarSites));
            this.discrete[address] = isTensor(drawn.value) && drawn.value.size === 1 ? toNumber(drawn.value) : drawn.value;
            if (drawn.state && drawn.state !== state) drawn.state.trace.disposeLogProbs();
            state.trace.disposeLogProbs();
            state = undefined;
          } else {
            const step = await gibbsUpdate(this.m, this.args, state, address, this.rng, { vectorized: this.vectorized, lean: this.lean });
            this.modelRuns += step.runs;
            state = step.state;
            this.noteSupports(state.trace);
          }
          continue;
        }
        if (state !== undefined) {
          Object.assign(this.discrete, valuesAt(state.trace, this.scalarSites));
          state.trace.disposeLogProbs();
          state = undefined;
        }
        const step = await platedGibbsStep(this.m, this.args, values, ps, this.rng, this.checkPlated);
        this.modelRuns += step.runs;
        const old = this.discrete[address] as tf.Tensor;
        this.discrete[address] = ownedTensor(ps, step.values);
        old.dispose();
      }
      this.checkPlated = false;
      if (state !== undefined) {
        Object.assign(this.discrete, valuesAt(state.trace, this.scalarSites));
        state.trace.disposeLogProbs();
      }
    } finally {
      for (const v of Object.values(continuous)) if (isTensor(v)) v.dispose();
    }
  }
}

/**
 * The first bounded continuous site whose support moves with the discrete
 * values (undefined if none): the model is run at the first start with each
 * discrete site set in turn to every value of its support (every element at
 * once for a plated site), the other values held, and the bounds compared.
 */
async function supportMovingWithDiscrete<A extends unknown[], R>(m: Model<A, R>, args: A, layout: Layout, start: Trace, discrete: Record<string, Value>, sites: Map<string, PlatedSite | undefined>): Promise<string | undefined> {
  const bounded = layout.sites.filter((s) => hasBoundedSupport(start.get(s.address))).map((s) => s.address);
  if (bounded.length === 0) return undefined;
  const held: Record<string, Value> = { ...discrete };
  for (const s of layout.sites) held[s.address] = start.get(s.address)!.value;
  for (const [address, ps] of sites) {
    const values = ps ? ps.support : ((start.get(address)!.dist as Distribution).enumerateSupport() ?? []);
    for (const v of values) {
      const moved = await tidyAsync(async () => {
        const value = ps ? tf.fill([ps.size], toNumber(v), ps.dtype) : v;
        const { trace } = await execute(substitute(m, { ...held, [address]: value } as Record<string, ValueLike>), { rng: rngFrom(0) }, ...args);
        return bounded.find((a) => boundsDiffer([start.get(a), trace.get(a)]));
      }, () => []);
      if (moved !== undefined) return moved;
    }
  }
  return undefined;
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
  if (typeof init === 'string' && init !== 'prior' && !(INIT_STRATEGIES as readonly string[]).includes(init)) {
    throw unknownInitError('hmc-gibbs', `'${init}'`);
  }
  if (init !== undefined && typeof init !== 'string' && (typeof init !== 'object' || init === null || Array.isArray(init))) {
    throw unknownInitError('hmc-gibbs', typeof init);
  }
  // values by address are checked against their sites' supports as they go in, and each must name a latent site
  const given = init !== undefined && typeof init === 'object' ? withInitValues(m, init as Record<string, ValueLike>, 'hmc-gibbs') : undefined;
  const startModel = given?.model ?? m;
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
      given?.assertAllUsed();
      return out;
    },
    (traces) => traces.flatMap(latentTensors),
  );
  const discreteSites = discreteSitesOf(starts[0]!);
  const sites = [...discreteSites.keys()];
  const plated = new Map<string, PlatedSite>();
  for (const [a, ps] of discreteSites) if (ps !== undefined) plated.set(a, ps);
  const order = [...starts[0]!].filter((s) => s.type === 'sample' && !s.observed).map((s) => s.address);
  // plated values stay tensors, even of size 1 (for the probe run), and are copied for the chains before the starts are disposed
  const discreteStarts = starts.map((t) => ({ ...valuesAt(t, sites), ...Object.fromEntries([...plated.keys()].map((a) => [a, t.get(a)!.value])) }));
  const chainStarts = discreteStarts.map((d) => ({ ...d, ...Object.fromEntries([...plated.keys()].map((a) => [a, Float64Array.from((d[a] as tf.Tensor).dataSync())])) }));
  // continuous starts: a strategy each chain runs on its first configuration's density (default 'uniform', Stan's), or the starting traces' values ('prior', values by address)
  let continuousInit: InitStrategy | Float64Array[] = typeof init === 'string' && init !== 'prior' ? (init as InitStrategy) : 'uniform';
  let layout: Layout;
  try {
    layout = await layoutOnly(condition(m, discreteStarts[0]! as Record<string, ValueLike>), args, rngFrom(`${seed}/probe`));
    if (layout.dim === 0) throw new TycheError("hmc-gibbs: the model has no continuous latent sites (use method 'enumerate', or 'mh' with gibbs)");
    refuseSubsample(layout, 'hmc-gibbs');
    // the Gibbs sweeps constrain continuous sites with the layout's transforms: supports must not move
    const moving =
      layout.sites.find((s) => s.dependentSupport || boundsDiffer(starts.map((t) => t.get(s.address))))?.address ??
      (await supportMovingWithDiscrete(m, args, layout, starts[0]!, discreteStarts[0]!, discreteSites));
    if (moving) {
      throw new ModelError(
        moving,
        "its support depends on other values of the model, and hmc-gibbs maps continuous sites with one fixed transform; use method 'nuts' or 'hmc' (marginalising the discrete sites), or reparameterise (e.g. b = lower + (upper - lower) * u with u ~ Uniform(0, 1))",
      );
    }
    if (init === 'prior' || (init !== undefined && typeof init === 'object')) continuousInit = starts.map((t) => unconstrain(layout, t));
  } finally {
    const given = new Set(init !== undefined && typeof init === 'object' ? Object.values(init).filter(isTensor) : []);
    for (const t of starts) for (const v of latentTensors(t)) if (!given.has(v)) v.dispose();
  }

  const gibbsRngs = rngFrom(`${seed}/gibbs`).splitN(chains);
  const vectorized = options.vectorizeGibbs === false ? undefined : new VectorizedGibbs();
  const potentials = new ConfigPotentials(m, args, layout, options.compile ?? true, CACHE_SIZE);
  const states = chainStarts.map((start, c) => new GibbsChain(m, args, layout, sites, plated, start, gibbsRngs[c]!, warmup, potentials, vectorized, options.signal));
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
  // each evaluation runs the model (a Gibbs sweep, or the density on tfjs): check the signal after each, where
  // the sampler reads the clock every 8th (pace.ts pacedAnswers)
  const pacer = options.signal ? new Pacer(options.signal) : undefined;
  const setup = (c: number): ChainTarget => {
    const chain = states[c]!.target();
    return pacer ? { ...chain, target: pacedAnswers(chain.target, pacer) } : chain;
  };
  let result: McmcSamples;
  try {
    result =
      kernel === 'nuts'
        ? await sampleNutsPerChain(setup, { ...common, ...(options.maxTreeDepth !== undefined ? { maxTreeDepth: options.maxTreeDepth } : {}) })
        : await sampleHmcPerChain(setup, {
            ...common,
            ...(options.numSteps !== undefined ? { numSteps: options.numSteps } : {}),
            ...(options.integrationTime !== undefined ? { integrationTime: options.integrationTime } : {}),
            ...(options.jitter !== undefined ? { jitter: options.jitter } : {}),
          });
  } finally {
    for (const s of states) s.dispose();
    potentials.dispose();
  }

  // continuous and discrete values of each draw, in the trace's order of sites
  const gibbsDraws = drawsFromSamples<R>(layout, result).map((d, i) => {
    const kept = states[d.chain!]!.kept[i % result.draws] ?? {};
    const values: Record<string, Value> = {};
    for (const a of order) {
      const v = (d.values[a] as Value | undefined) ?? kept[a]!;
      const ps = plated.get(a);
      values[a] = ps !== undefined ? tf.tensor(Array.from(v as Float64Array), [ps.size], ps.dtype) : (v as Value);
    }
    return { ...d, values };
  });
  const draws = await completeDraws(m, args, layout, pointOf(result), gibbsDraws, { batched: true, ...(options.signal ? { signal: options.signal } : {}) });
  const diagnostics: HMCGibbsDiagnostics = {
    ...hmcDiagnostics(result, layout, kernel === 'nuts' ? (options.maxTreeDepth ?? 10) : undefined, 'no: the discrete sites are updated by Gibbs, chain by chain'),
    discreteSites: sites,
    gibbsModelRuns: states.reduce((a, s) => a + s.modelRuns, 0),
    gibbsReplayed: states.reduce((a, s) => a + s.replayedUpdates, 0),
    gibbsLean: states.find((s) => s.lean.off !== undefined)?.lean.off ?? true,
    gibbsLeanRuns: states.reduce((a, s) => a + s.lean.runs, 0),
    gibbsMs: states.reduce((a, s) => a + s.sweepMs, 0),
    compiledConfigurations: potentials.compiled,
    compiledPerChain: states.map(() => potentials.off ?? true),
    ...(vectorized ? { gibbsVectorized: vectorized.report() } : {}),
    init: typeof continuousInit === 'string' ? describeInit(continuousInit) : init === 'prior' ? 'prior (a prior draw per chain)' : 'values (given by address; the rest from the prior)',
  };
  return new Posterior({ method: 'hmc-gibbs', draws, diagnostics: diagnostics as unknown as Record<string, unknown>, model: m, args });
}

registerEngine<HMCGibbsOptions>({
  name: 'hmc-gibbs',
  options: ['kernel', 'compile', 'vectorizeGibbs', 'chains', 'warmup', 'samples', 'init', 'targetAccept', 'maxTreeDepth', 'massMatrix', 'numSteps', 'integrationTime', 'jitter', 'onProgress', 'signal'],
  description: 'NUTS (or HMC) on the continuous sites within Gibbs sweeps over finite discrete sites, many chains',
  run: (m, options, args) => hmcGibbs(m, options, args),
});
