/**
 * Stochastic variational inference: fit a guide by stochastic gradient
 * ascent on a variational objective, with tfjs autodiff through the async
 * model and guide.
 *
 * ```ts
 * const post = await infer(regression, {
 *   method: 'vi', guide: 'mvn', objective: 'elbo', steps: 2000,
 *   optimizer: { name: 'adam', lr: 0.05, clipNorm: 10 }, particles: 8, seed: 1,
 * }, data);
 * post.diagnostics.lossHistory; // Float64Array, one negative-bound estimate per step
 * ```
 *
 * {@link SVI} is the step-by-step form (`init`, `step`, `gradients`,
 * `evaluate`, `sample`); the `vi` engine runs it for `steps` steps and returns
 * a Posterior of draws from the fitted guide.
 *
 * With an autoguide and a model written with tensor arithmetic, the
 * `particles` draws of each step are evaluated by one batched run of the
 * model; otherwise the model runs once per draw (see
 * `diagnostics.vectorized`).
 *
 * @module
 */
import { Pacer } from '../pace.js';
import { NonFiniteDensityError, TycheError, ZeroDensityError, branchOnTensorError } from '../../core/errors.js';
import { openConditionWatch } from '../../backend/condition-watch.js';
import type { Handler } from '../../core/message.js';
import * as tf from '@tensorflow/tfjs-core';
import { tidyAsync, valueAndGradsAsync } from '../../backend/autodiff.js';
import { Model, execute } from '../../core/model.js';
import { type Rng, type Seed, rngFrom } from '../../core/rng.js';
import { type Value, isTensor, logSumExp } from '../../core/value.js';
import { PSIS_KHAT_THRESHOLD, psis } from '../../diagnostics/psis.js';
import { type Draw, Posterior } from '../posterior.js';
import { type UnconstrainedSite, replayDraws } from '../replay-draws.js';
import { type LossTrend, lossTrend } from './convergence.js';
import { guideChecks, locationWarning, wideWarning } from './location-check.js';
import { UserGradWatch } from './user-grad-watch.js';
import { describeUserGradFailure } from '../../backend/jit/gradient-check.js';
import { type CommonOptions, registerEngine } from '../registry.js';
import { type AutoInit, AutoGuide, type UnconstrainedMoments, constrainDraws } from './autoguide.js';
import { CompiledPotential } from './compiled-potential.js';
import { type AutoGuideName, AutoNormal, autoGuide } from './autoguides.js';
import { type MeanFieldCheck, meanFieldCheck, meanFieldWarning } from './mean-field-check.js';
import { DriftRecorder, type GuideDrift, driftWarning } from './guide-drift.js';
import { logDensityFn } from '../mcmc/potential.js';
import { type Guide, type GuideDraws, Unconstrained, modelLogJoint, unstackDraws } from './guide.js';
import { ModelGuide } from './model-guide.js';
import { type Objective, type ObjectiveName, type ObjectiveState, logWeights, objectiveFrom } from './objectives.js';
import { type OptimizerSpec, type SviOptimizer, sviOptimizer } from './optim.js';
import { ParamStore } from './param-store.js';
import { FULL_PLATES, SharedSubsamples, type SubsampledPlate, fullData } from '../subsample.js';
import type { ParticleSites, SiteTerm } from './rao-blackwell.js';

/** A guide: an autoguide name, a {@link Guide}, or a guide model (with `param` sites). */
export type GuideSpec<A extends unknown[]> = AutoGuideName | Guide | Model<A, unknown>;

/** Options of {@link SVI}. */
export interface SVIOptions {
  /** The objective (default `'elbo'`). */
  readonly objective?: ObjectiveName | Objective;
  /** K for `'iwae'` and `'renyi'` given by name (default 8). */
  readonly k?: number;
  /** Draws per step (default: the objective's group size K); a multiple of K. */
  readonly particles?: number;
  /** A tfjs optimiser, or a spec (default `{ name: 'adam', lr: 0.01 }`). */
  readonly optimizer?: tf.Optimizer | OptimizerSpec;
  /** Evaluate all draws of a step with one batched model run: true, false, or `'auto'` (default). */
  readonly vectorize?: boolean | 'auto';
  /** Seed of the random stream. */
  readonly seed?: Seed;
  /**
   * Evaluate the model's log density and its gradient in float64 by a
   * compiled replay of its trace (autoguides other than `'delta'`, models
   * without `param` sites): `true` (default, where the model compiles; see
   * `diagnostics.compiled`) or `false` (float32 tfjs runs of the model).
   */
  readonly compile?: boolean;
  /**
   * Allow a user `tf.customGrad` op whose gradient is not its value's
   * derivative (an intentional surrogate, e.g. a straight-through clip). The
   * optimiser follows the gradient it is given, so such a fit is biased:
   * by default (`false`) it is an error naming the op (checked where the
   * model compiles, else at its first tfjs run); `true` fits anyway and the
   * posterior warns.
   */
  readonly surrogateGradients?: boolean;
}

/** The guide for a spec. */
export function guideFrom<A extends unknown[]>(spec: GuideSpec<A> | undefined): Guide {
  if (spec === undefined) return autoGuide('normal');
  if (typeof spec === 'string') return autoGuide(spec);
  if (spec instanceof Model) return new ModelGuide(spec);
  if (typeof spec === 'object' && typeof (spec as Guide).draw === 'function' && typeof (spec as Guide).setup === 'function') return spec as Guide;
  throw new TypeError(`vi: guide must be 'delta', 'normal', 'mvn', 'lowrank', 'flow', a Guide or a guide model (made with model(...)), got ${typeof spec}`);
}

function firstLine(err: unknown): string {
  return err instanceof Error ? err.message.split('\n')[0] : String(err);
}

/** Stochastic variational inference on one model and guide. */
export class SVI<A extends unknown[], R> {
  /** The variational (and model) parameters. */
  readonly store = new ParamStore();
  /** The guide. */
  readonly guide: Guide;
  /** The objective. */
  readonly objective: Objective;
  /** Draws per step. */
  readonly particles: number;
  /** Loss (minus the bound estimate) of each step taken. */
  readonly lossHistory: number[] = [];
  /** `true` when steps run the model batched, else the reason they do not. */
  vectorized: true | string = 'not set up';
  /** `true` when steps use the compiled float64 log density (`compiled-potential.ts`), else why not. */
  compiled: true | string = 'not set up';
  /** User `tf.customGrad` ops whose gradient disagrees with their values, allowed by `surrogateGradients: true`. */
  surrogates: readonly string[] = [];
  private potential: CompiledPotential | undefined;
  /** Each step's subsample of every subsampled plate, shared by the guide's and the model's runs (`subsample.ts`). */
  private readonly subsamples: SharedSubsamples;
  /** The model as the steps run it: its subsampled plates take the step's shared subsample. */
  private readonly fitModel: Model<A, R>;
  private readonly state: ObjectiveState = {};
  private readonly rng: Rng;
  private readonly optimizer: SviOptimizer;
  private initialised = false;

  /**
   * @param model - the model
   * @param guide - the guide (autoguide name, Guide or guide model)
   * @param options - objective, optimiser, particles, seed
   */
  constructor(readonly model: Model<A, R>, guide: GuideSpec<A>, private readonly options: SVIOptions = {}) {
    this.guide = guideFrom(guide);
    this.objective = objectiveFrom(options.objective, options.k);
    const k = this.objective.groupSize;
    this.particles = options.particles ?? k;
    if (!Number.isInteger(this.particles) || this.particles < 1 || this.particles % k !== 0) {
      throw new RangeError(`vi: particles must be a positive multiple of the objective's K = ${k}, got ${options.particles}`);
    }
    this.rng = rngFrom(options.seed ?? 0);
    this.optimizer = sviOptimizer(options.optimizer);
    this.subsamples = new SharedSubsamples(rngFrom(`${options.seed ?? 0}/subsample`));
    this.fitModel = model.withSubsampling(this.subsamples.hook);
  }

  /**
   * A plate that took a subsample in the fit, if any: the steps then follow
   * stochastic gradients, each step on one subsample shared by the guide and
   * the model, and {@link SVI.sample} with `fullData` scores on all the data.
   */
  get subsampled(): SubsampledPlate | undefined {
    return this.subsamples.seen;
  }

  /** Set up the guide on the model (creating its parameters) and decide whether steps run batched. */
  async init(args: A): Promise<void> {
    if (this.initialised) return;
    await tidyAsync(() => this.guide.setup(this.fitModel, args, this.store, this.rng.split()), () => []);
    await this.refuseSubsampledLocals(args);
    await this.initCompiled(args);
    const want = this.options.vectorize ?? 'auto';
    if (want === false) this.vectorized = 'not requested';
    else if (this.potential) {
      // the compiled replay evaluates every draw of a step; the two splits keep the random stream where the
      // batched probe below leaves it, so a seed gives the same draws on the float64 and float32 paths
      this.rng.split();
      this.rng.split();
      this.vectorized = true;
    }
    else if (!(this.guide instanceof AutoGuide)) {
      if (want === true) throw new Error(`vi: vectorize: true needs an autoguide; the ${this.guide.name} runs once per draw`);
      this.vectorized = `the ${this.guide.name} runs once per draw`;
    } else {
      try {
        await tidyAsync(async () => {
          // (at least two draws: a model that reads a draw as one number passes a batch of one, then failed on the
          // final draws, batched by thousands)
          const draws = await this.guide.draw(Math.max(2, this.particles), this.rng.split(), this.store, args);
          await modelLogJoint(this.fitModel, args, draws, this.store, this.guide.name, { batched: true, rng: this.rng.split() });
        }, () => []);
        this.vectorized = true;
      } catch (err) {
        if (want === true) throw err;
        this.vectorized = `runs the model once per draw: ${firstLine(err)}`;
      }
    }
    this.initialised = true;
  }

  /**
   * An autoguide cannot fit a latent site inside a subsampled plate: its
   * parameters take the site's shape, the subsample's, so they would meet
   * other data points at every step. Throws naming the site and the plate.
   */
  private async refuseSubsampledLocals(args: A): Promise<void> {
    const plate = this.subsampled;
    if (plate === undefined || !(this.guide instanceof AutoGuide)) return;
    let local: string | undefined;
    const spy: Handler = {
      process(msg) {
        if (local === undefined && msg.type === 'sample' && !msg.observed && msg.plates.some((f) => f.subsampleSize !== f.size)) local = msg.address;
      },
    };
    await tidyAsync(() => execute(this.fitModel, { rng: rngFrom(0), handlers: [spy] }, ...args).catch(() => undefined), () => []);
    if (local === undefined) return;
    throw new TycheError(
      `vi: latent site "${local}" is inside plate "${plate.plate}", which takes a subsample (${plate.subsample} of ${plate.size}): the ${this.guide.name}'s parameters for it would take the subsample's shape and meet other data points at every step; ` +
        "give a guide model whose parameters for it have the plate's full size, indexed by the plate's indices (tf.gather(loc, indices)), or run on the full plate",
    );
  }

  /** Set up the compiled float64 log density where the guide and model allow it. */
  private async initCompiled(args: A): Promise<void> {
    const guide = this.guide;
    if (this.options.compile === false) this.compiled = 'compile: false';
    else if (!(guide instanceof AutoGuide)) this.compiled = `the ${guide.name} is not an autoguide`;
    else if (!guide.jacobianInDensity) this.compiled = `the ${guide.name} is a point mass (its fit is in constrained space)`;
    else {
      const made = await CompiledPotential.create(this.fitModel, args, guide.layout, guide.moments(this.store).loc);
      if (made instanceof CompiledPotential) {
        this.potential = made;
        this.compiled = true;
        this.acceptSurrogates(made.stats.surrogateGradients ?? []);
      } else this.compiled = made.reason;
    }
  }

  /** User `tf.customGrad` ops whose gradient disagrees with their values: an error unless `surrogateGradients: true`. */
  private acceptSurrogates(wrong: readonly string[]): void {
    if (wrong.length > 0 && this.options.surrogateGradients !== true) {
      throw new TycheError(
        `vi: ${wrong[0]}; an optimiser follows the gradient it is given, so the fit would be silently biased. Fix gradFunc, or pass surrogateGradients: true to fit with it anyway (the posterior then warns)`,
      );
    }
    this.surrogates = [...new Set([...this.surrogates, ...wrong])];
  }

  /** The user ops of the first tfjs run, waiting for their check (`user-grad-watch.ts`), which runs outside the gradient tape. */
  private userGrads: UserGradWatch | undefined;

  /** Check the user `tf.customGrad` ops the first tfjs run launched, as the compiled path does (call outside any gradient tape). */
  private settleUserGrads(): void {
    const watch = this.userGrads;
    if (!watch) return;
    this.userGrads = undefined;
    this.acceptSurrogates(watch.failures().map(describeUserGradFailure));
  }

  /**
   * The model's first run on the tfjs path is watched for a boolean tensor
   * that nothing consumes: a tensor comparison used as a JS condition, which
   * is always true (the compiled path makes the same check when it records).
   */
  private async runWatched(runModel: (handlers: Handler[]) => Promise<tf.Tensor>): Promise<tf.Tensor> {
    this.branchChecked = true;
    const opened = await openConditionWatch();
    const { watch } = opened;
    // the user tf.customGrad ops it launches are checked after it, outside the tape (settleUserGrads)
    const userGrads = new UserGradWatch();
    const marks: Handler = {
      process: (msg) => (watch.mark(msg.address, 'enter'), userGrads.mark(msg.address, 'enter')),
      postprocess: (msg) => (watch.mark(msg.address, 'leave'), userGrads.mark(msg.address, 'leave')),
    };
    try {
      const logP = await watch.run(() => runModel([marks]));
      const branched = watch.unconsumed([logP]);
      if (branched !== undefined) {
        logP.dispose();
        throw branchOnTensorError(branched);
      }
      this.userGrads = userGrads;
      return logP;
    } finally {
      userGrads.close();
      opened.close();
    }
  }

  private branchChecked = false;

  /** Draws the compiled float64 log density dropped so far because the model rejected their point (see `compiled-potential.ts`). */
  get droppedDraws(): number {
    return this.potential?.dropped ?? 0;
  }

  /**
   * log p and log q of `size` draws (on the current tape, if any); with
   * `siteTerms`, also each draw's guide and model site terms where the guide
   * records them and the model runs per draw.
   */
  private async densities(args: A, size: number, detach: boolean, siteTerms = false, full = false): Promise<{ draws: GuideDraws; logP: tf.Tensor; sites?: ParticleSites[]; valid?: number[] }> {
    // a new subsample for this step's draws, the same for the guide and the model; or every plate whole
    this.subsamples.next();
    const subsampling = full ? FULL_PLATES : this.subsamples.hook;
    if (this.potential && !full) {
      // unconstrained draws and log q_u; the compiled U(z) in place of log p + log|det J| (compiled-potential.ts)
      const guide = this.guide as AutoGuide;
      const { z, logQ } = guide.latent(size, this.rng.split(), this.store, detach);
      this.rng.split(); // the model run's stream on the tfjs path: the same draws on either path
      const { logP, valid } = this.potential.evaluate(z);
      return { draws: constrainDraws(guide.layout, z, logQ, false), logP, valid };
    }
    const draws = await this.guide.draw(size, this.rng.split(), this.store, args, { detachParams: detach, subsampling });
    const batched = this.vectorized === true;
    const modelTerms: SiteTerm[][] | undefined = siteTerms && draws.siteTerms && !batched ? [] : undefined;
    const runModel = (handlers: Handler[] = []): Promise<tf.Tensor> =>
      modelLogJoint(full ? fullData(this.model) : this.fitModel, args, draws, this.store, this.guide.name, { batched, rng: this.rng.split(), handlers, ...(modelTerms ? { siteTerms: modelTerms } : {}) });
    const logP = this.branchChecked ? await runModel() : await this.runWatched(runModel);
    if (!modelTerms || !draws.siteTerms) return { draws, logP };
    const guideTerms = draws.siteTerms;
    return { draws, logP, sites: modelTerms.map((model, i) => ({ guide: guideTerms[i]!, model })) };
  }

  /**
   * One gradient estimate of the loss (minus the objective) with respect to
   * every parameter, without updating them. The caller owns (and disposes)
   * the gradient tensors.
   */
  async gradients(args: A): Promise<{ loss: number; grads: Map<tf.Variable, tf.Tensor> }> {
    await this.init(args);
    const vars = this.store.variables();
    // (a fixed proposal passed as a guide: tfjs said only 'gradients() received an empty list of xs')
    if (vars.length === 0) {
      throw new TycheError(
        `vi: the ${this.guide.name} has no parameters to fit: a guide model makes them with param (e.g. \`const loc = await param('loc', 0)\`, then \`sample('x', Normal(loc, scale))\`); to weigh the draws of a fixed proposal, use method 'importance' with it as the guide`,
      );
    }
    let bound = NaN;
    const { value, grads } = await valueAndGradsAsync(async () => {
      const { draws, logP, sites, valid } = await this.densities(args, this.particles, this.objective.stickingTheLanding ?? false, this.objective.siteTerms ?? false);
      // draws at points the model rejects are left out of an ELBO-type step (compiled-potential.ts)
      const drop = valid !== undefined && valid.length > 0 && valid.length < this.particles && this.objective.groupSize === 1;
      const pick = (t: tf.Tensor): tf.Tensor => (drop ? selectRows(t, valid) : t);
      const r = this.objective.evaluate({ logP: pick(logP), logQ: pick(draws.logQ), ...(draws.scoreLogQ ? { scoreLogQ: pick(draws.scoreLogQ) } : {}), ...(sites && !drop ? { sites } : {}) }, this.state);
      bound = r.bound.dataSync()[0];
      return tf.neg(r.surrogate);
    }, vars, { allowNoGradients: true });
    value.dispose();
    try {
      this.settleUserGrads();
    } catch (err) {
      for (const g of grads) g.dispose();
      throw err;
    }
    const out = new Map<tf.Variable, tf.Tensor>();
    vars.forEach((v, i) => out.set(v, grads[i]));
    return { loss: -bound, grads: out };
  }

  /** One optimisation step; returns the loss estimate (minus the bound) before the update. */
  async step(args: A): Promise<number> {
    const { loss, grads } = await this.gradients(args);
    const k = this.lossHistory.length;
    try {
      if (!Number.isFinite(loss)) {
        const message = `vi: the loss is ${loss} at step ${k} (${this.objective.name} with the ${this.guide.name}); try a smaller learning rate, clipNorm, or another init`;
        // step 0: the model rejected (zero density or an invalid parameter) the guide's first draws, before any update
        const first = `vi: the model rejected the ${this.guide.name}'s draw at step 0 (log p = -Infinity there, before any update, ${this.objective.name}): a draw from the guide's initial spread around its init can leave the model's support or overflow it (e.g. an unstable recursion); try init: 'zero' or values by address (init: { site: value } at a point the model accepts), or an autoguide with a smaller initScale (default 0.1)`;
        // step 0, loss -Infinity or NaN: a density of +Infinity (or NaN) before any update (infer names the site)
        throw k === 0 && loss === Infinity ? new ZeroDensityError(first) : k === 0 ? new NonFiniteDensityError(message) : new TycheError(message);
      }
      this.optimizer.apply(k, grads);
    } finally {
      for (const g of grads.values()) g.dispose();
    }
    this.lossHistory.push(loss);
    return loss;
  }

  /**
   * An estimate of the objective's bound (default: this SVI's objective) from
   * `particles` draws, without gradients, with its Monte Carlo standard error
   * (NaN when the objective gives no per-group values or there is one group).
   * After a fit on subsampled plates the bound is the full data's: the guide
   * and the model run every plate whole, as {@link SVI.sample} with
   * `fullData` does (a subsample's scaled log likelihood gave a bound that
   * moved by tens of nats between calls, with a stderr of hundredths).
   */
  async evaluate(args: A, particles = this.particles, objective: Objective = this.objective): Promise<{ bound: number; stderr: number }> {
    await this.init(args);
    return tidyAsync(async () => {
      const { draws, logP } = await this.densities(args, particles, false, false, this.subsampled !== undefined);
      this.settleUserGrads();
      const r = objective.evaluate({ logP, logQ: draws.logQ }, {});
      const bound = r.bound.dataSync()[0]!;
      const v = r.values ? Array.from(r.values.dataSync()) : [];
      if (v.length < 2) return { bound, stderr: NaN };
      const m = v.reduce((a, b) => a + b, 0) / v.length;
      const var_ = v.reduce((a, b) => a + (b - m) ** 2, 0) / (v.length - 1);
      return { bound, stderr: Math.sqrt(var_ / v.length) };
    }, () => []);
  }

  /**
   * `n` draws from the fitted guide as posterior draws, with the log ratios
   * log p(x, z) - log q(z) and their Pareto k-hat (see `diagnostics/psis.ts`;
   * NaN for point-mass guides, whose ratios mean nothing). With
   * `importanceWeights`, each draw is weighted by p / q (`'psis'`: by the
   * Pareto-smoothed ratios) and `logZ` is the importance-sampling estimate of
   * the log evidence. With `fullData`, the guide and the model run every plate
   * at its full size (after a fit on subsampled plates: the draws are then
   * the full data's, and so are their ratios).
   */
  async sample(args: A, n: number, options: { importanceWeights?: boolean | 'psis'; signal?: AbortSignal; fullData?: boolean } = {}): Promise<SviSample<R>> {
    await this.init(args);
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`vi: samples must be a positive integer, got ${n}`);
    // draws in chunks of SAMPLE_CHUNK (up to that size one chunk: the same draws as one batch), paced between chunks,
    // so an abort stops a large `samples` within a chunk's time (~0.3 s on 2 cores; it waited for all of them)
    const pace = new Pacer(options.signal);
    const out: Draw<R>[] = [];
    const logRatios = new Float64Array(n);
    const rowsOf: Map<string, UnconstrainedSite>[] = [];
    try {
      for (let start = 0; start < n; start += SAMPLE_CHUNK) {
        if (pace.due()) await pace.pause();
        const size = Math.min(SAMPLE_CHUNK, n - start);
        const chunk = await tidyAsync(async () => {
          const d = await this.densities(args, size, false, false, options.fullData ?? false);
          this.settleUserGrads();
          const draws = d.draws;
          const ratios = logWeights({ logP: d.logP, logQ: draws.logQ }).dataSync();
          const perDraw = draws.stacked ? unstackDraws(draws.stacked, size) : Array.from({ length: size }, (_, i) => draws.particle(i));
          const records = perDraw.map((v): Draw<R> => {
            const values: Record<string, Value> = {};
            for (const [k, x] of Object.entries(v)) {
              if (x instanceof Unconstrained) continue; // its constrained value comes from the model run (withModelValues)
              values[k] = isTensor(x) && x.rank === 0 ? x.dataSync()[0]! : x;
            }
            return { values, returnValue: undefined as R, logWeight: 0 };
          });
          return { ratios: Float64Array.from(ratios), records, unconstrained: draws.unconstrained ? unconstrainedRows(draws.unconstrained) : undefined };
        }, (r) => r.records.flatMap((d) => Object.values(d.values).filter(isTensor)));
        logRatios.set(chunk.ratios, start);
        if (chunk.unconstrained) rowsOf.push(chunk.unconstrained);
        for (const d of chunk.records) out.push(d);
      }
      // (an abort during the last chunk lands here, before k-hat's pass over every ratio)
      if (pace.due()) await pace.pause();
    } catch (err) {
      for (const d of out) disposeValues(d.values);
      throw err;
    }
    const pointMass = this.guide.name === 'AutoDelta';
    const smoothed = pointMass || n < 2 ? undefined : psis(logRatios);
    const weighting = options.importanceWeights ?? false;
    const logW = weighting === 'psis' ? (smoothed?.logWeights ?? logRatios) : weighting ? logRatios : undefined;
    const draws = logW ? out.map((d, i) => ({ ...d, logWeight: logW[i]! })) : out;
    const logZ = logW ? logSumExp(logW) - Math.log(n) : NaN;
    const elbo = logRatios.reduce((a, b) => a + b, 0) / n;
    const unconstrained = rowsOf.length === 0 ? undefined : rowsOf.length === 1 ? rowsOf[0]! : joinRows(rowsOf, SAMPLE_CHUNK);
    return { draws, logZ, elbo, logRatios, khat: smoothed?.khat ?? NaN, ...(unconstrained ? { unconstrained } : {}) };
  }

  /**
   * Is the fitted guide too narrow because the posterior's coordinates are
   * correlated (`mean-field-check.ts`)? For the mean-field `'normal'`
   * autoguide: the factor sqrt(H_ii (H^-1)_ii) per site from the log
   * density's curvature averaged over draws from the guide, by finite differences of
   * its gradient (the compiled float64 replay where the fit used it, else
   * float32 runs of the model); other guides, subsampled fits and models
   * with `param` sites are skipped, with the reason.
   */
  async meanFieldCheck(args: A): Promise<MeanFieldCheck> {
    await this.init(args);
    const guide = this.guide;
    if (!(guide instanceof AutoNormal)) return { skipped: `the ${guide.name} is not the mean-field 'normal' autoguide (a full-rank, low-rank or flow guide can take correlations; a point mass or a guide model is not checked)` };
    if (this.subsampled) return { skipped: `plate "${this.subsampled.plate}" took a subsample in the fit` };
    const layout = guide.layout;
    const { loc, covariance } = guide.moments(this.store);
    const dim = layout.dim;
    const scale = Float64Array.from({ length: dim }, (_, j) => Math.sqrt(covariance[j * dim + j]!));
    const siteOf = new Array<string>(dim);
    for (const s of layout.sites) siteOf.fill(s.address, s.offset, s.offset + s.size);
    let gradients: (q: Float64Array, rows: number) => Promise<Float64Array>;
    const potential = this.potential;
    if (potential) gradients = (q, rows) => Promise.resolve(potential.gradientRows(q, rows));
    else {
      if (!this.store.addresses().every((a) => guide.ownsParam(a))) return { skipped: 'the model has param sites (the check runs the model without them)' };
      const density = logDensityFn(this.model, args, layout);
      gradients = async (q, rows) => {
        const out = new Float64Array(q.length);
        for (let r = 0; r < rows; r++) {
          const { logp, grad } = await density(q.subarray(r * dim, (r + 1) * dim));
          if (Number.isFinite(logp)) out.set(grad, r * dim);
          else out.fill(NaN, r * dim, (r + 1) * dim);
        }
        return out;
      };
    }
    try {
      // the float32 path runs the model once per gradient: fewer coordinates (a sketch beyond, see mean-field-check.ts)
      return await meanFieldCheck(gradients, loc, scale, layout.names, (j) => siteOf[j]!, potential ? {} : { maxCoordinates: TFJS_MAX_COORDINATES, maxRows: TFJS_MAX_ROWS });
    } catch (err) {
      return { skipped: `the log density failed near the guide's location: ${firstLine(err)}` };
    }
  }

  /** The unconstrained location and covariance of an autoguide (undefined for other guides). */
  moments(): UnconstrainedMoments | undefined {
    return this.guide instanceof AutoGuide ? this.guide.moments(this.store) : undefined;
  }

  /** Dispose the parameters and the optimiser state made here. */
  dispose(): void {
    this.store.dispose();
    this.optimizer.dispose();
  }
}

/** What {@link SVI.sample} returns. */
export interface SviSample<R> {
  /** The draws (weighted when importance weights were asked for). */
  readonly draws: Draw<R>[];
  /** The importance-sampling estimate of log Z (NaN without importance weights). */
  readonly logZ: number;
  /** Mean of log p - log q over the draws. */
  readonly elbo: number;
  /** log p(x, z) - log q(z) of each draw. */
  readonly logRatios: Float64Array;
  /** Pareto k-hat of the ratios (NaN for point-mass guides). */
  readonly khat: number;
  /** Unconstrained rows of sites whose support depends on other values (their values come from a model run). */
  readonly unconstrained?: ReadonlyMap<string, UnconstrainedSite>;
}

/** Coordinates of the mean-field check's Hessian at most where the model runs on tfjs (two model runs per coordinate). */
const TFJS_MAX_COORDINATES = 32;
/** Gradients of the mean-field check at most where each is a model run on tfjs. */
const TFJS_MAX_ROWS = 256;

/** Draws made per batch by {@link SVI.sample} (a larger `samples` is drawn in chunks of this size). */
const SAMPLE_CHUNK = 65536;

/** Disposes the tensors among one draw's values. */
function disposeValues(values: Readonly<Record<string, unknown>>): void {
  for (const v of Object.values(values)) if (isTensor(v)) v.dispose();
}

/** Unconstrained rows of consecutive chunks of `chunk` draws as one source. */
function joinRows(parts: readonly Map<string, UnconstrainedSite>[], chunk: number): Map<string, UnconstrainedSite> {
  return new Map([...parts[0]!].map(([address, site]) => [address, { shape: site.shape, row: (i: number) => parts[Math.floor(i / chunk)]!.get(address)!.row(i % chunk) }]));
}

/** Per-draw rows of unconstrained values `[S, ...]`, read once. */
export function unconstrainedRows(stacked: Readonly<Record<string, tf.Tensor>>): Map<string, UnconstrainedSite> {
  return new Map(
    Object.entries(stacked).map(([address, u]) => {
      const shape = u.shape.slice(1);
      const width = shape.reduce((a, b) => a * b, 1);
      const data = Float64Array.from(u.dataSync());
      return [address, { shape, row: (i: number) => data.subarray(i * width, (i + 1) * width) }];
    }),
  );
}

/** Progress of a `vi` run, reported to `onStep`. */
export interface VIProgress {
  /** Steps completed. */
  readonly step: number;
  /** Total steps. */
  readonly steps: number;
  /** The latest loss (minus the bound estimate). */
  readonly loss: number;
  /** Milliseconds since the start of optimisation. */
  readonly elapsedMs: number;
}

/** Options of `infer(model, { method: 'vi', ... })`. */
export interface VIOptions<A extends unknown[] = unknown[]> extends CommonOptions, Omit<SVIOptions, 'seed'> {
  readonly method: 'vi';
  /** The guide: `'normal'` (default), `'mvn'`, `'lowrank'`, `'delta'`, `'flow'`, a Guide, or a guide model. */
  readonly guide?: GuideSpec<A>;
  /**
   * Where an autoguide named by `guide` starts, as for nuts: `'uniform'`
   * (default), `'prior'`, `'zero'` or constrained values by address (the
   * autoguide's `init` option; give a Guide object its own `init` instead).
   */
  readonly init?: AutoInit;
  /** Optimisation steps (default 1000). */
  readonly steps?: number;
  /** Posterior draws from the fitted guide (default 1000). */
  readonly samples?: number;
  /**
   * Weight the draws by p/q (self-normalised importance sampling) and estimate
   * log Z: `true`, `'psis'` (Pareto-smoothed ratios, which tame the largest
   * weights; see `diagnostics/psis.ts`) or `false` (default).
   */
  readonly importanceWeights?: boolean | 'psis';
  /** Called after each step (or every `progressEvery` steps). */
  readonly onStep?: (p: VIProgress) => void;
  /** Report progress every this many steps (default 1). */
  readonly progressEvery?: number;
  /** Stops the run: the promise rejects with the signal's reason. */
  readonly signal?: AbortSignal;
}

/** Diagnostics of a `vi` run (`posterior.diagnostics`). */
export interface VIDiagnostics {
  /** Minus the bound estimate at each step. */
  readonly lossHistory: Float64Array;
  /** Fitted parameters (constrained), by address. */
  readonly params: Record<string, number | number[]>;
  /** Unconstrained location and covariance of an autoguide. */
  readonly moments?: UnconstrainedMoments;
  /** The objective's name. */
  readonly objective: string;
  /** The guide's name. */
  readonly guide: string;
  /** Mean of log p - log q over the posterior draws. */
  readonly elbo: number;
  /**
   * Pareto k-hat of p/q over the posterior draws ("Yes, but did it work?",
   * Yao et al. 2018): the shape of the ratios' upper tail, i.e. whether the
   * guide's tails cover the posterior's. Below 0.5 importance weighting by p/q
   * is reliable, up to 0.7 usable with PSIS weights; above 0.7 the guide misses
   * part of the posterior's tails (its sds and intervals can be too narrow) and
   * p/q weights are unreliable (a warning is printed). It does not judge the
   * means. NaN for point-mass guides.
   */
  readonly khat: number;
  /** log p(x, z) - log q(z) of each posterior draw (for PSIS and other checks of your own). */
  readonly logRatios: Float64Array;
  /** The loss over the last two windows of steps: was the fit still improving when it stopped? (`convergence.ts`) */
  readonly lossTrend?: LossTrend;
  /** The mean-field guide's largest location drift between the last two windows of steps, in guide sds (`guide-drift.ts`). */
  readonly guideDrift?: GuideDrift;
  /** `true`, or why the model ran once per draw. */
  readonly vectorized: true | string;
  /** `true` when the log density and its gradient came from the compiled float64 replay, else why not (option `compile`). */
  readonly compiled: true | string;
  /** Draws left out of their step because the model rejected their point (as Stan's ADVI drops them), over the whole run. */
  readonly droppedDraws: number;
  /** Optimisation steps per second. */
  readonly stepsPerSecond: number;
  /**
   * The mean-field check (`'normal'` autoguide): per site, the factor
   * sqrt(H_ii (H^-1)_ii) >= 1 by which the guide's sd falls short of the
   * Gaussian marginal sd because the posterior's unconstrained coordinates
   * are correlated (H: the log density's curvature averaged over draws from
   * the guide); above 1.2 a warning names the sites. `skipped` says
   * why there are no factors (another guide, not a mode, ...). See docs/vi.md.
   */
  readonly meanField: MeanFieldCheck;
  /**
   * A plate that took a subsample during the fit (its name and sizes): the
   * steps followed stochastic gradients of the subsampled model, while the
   * draws, `elbo`, `khat`, `logRatios` and the location check are scored on
   * the full data (every plate at its full size).
   */
  readonly subsampled?: SubsampledPlate;
}

/** An autoguide name with the `init` option applied (an error for guides that bring their own). */
function guideWithInit<A extends unknown[]>(guide: GuideSpec<A>, init: AutoInit | undefined): GuideSpec<A> {
  if (init === undefined) return guide;
  if (typeof guide !== 'string') throw new TycheError("vi: the init option applies to autoguides named by `guide` ('normal', 'mvn', ...); pass init to your guide object instead, e.g. new AutoNormal({ init })");
  return autoGuide(guide, { init });
}

/**
 * The summary note and warnings for a fitted guide's Pareto k-hat; a
 * warning is also printed with `console.warn`. The warning says what k-hat
 * measures (the tail of p/q: whether the guide's tails cover the
 * posterior's) and, given the draws' `logRatios`, their sd, a rough measure
 * of how far the guide is from the posterior in the bulk; where that sd is
 * above 100 nats the warning says instead that the guide missed the
 * posterior, means included.
 */
export function khatReport(khat: number, guide: string, weighted: boolean | 'psis', logRatios?: ArrayLike<number>): { notes: string[]; warnings: string[] } {
  if (Number.isNaN(khat)) return { notes: [], warnings: [] };
  const notes = [`Pareto k-hat of the guide: ${khat.toFixed(2)} (reliable below 0.5, usable with importanceWeights: 'psis' up to ${PSIS_KHAT_THRESHOLD})`];
  if (!(khat > PSIS_KHAT_THRESHOLD)) return { notes, warnings: [] };
  const spread = logRatios ? finiteSd(logRatios) : NaN;
  const unreliable = weighted ? 'weights (the importanceWeights you asked for) and logZ' : 'weights and logZ';
  if (spread > FAR_FROM_POSTERIOR_NATS) {
    const far =
      `vi: Pareto k-hat ${khat.toFixed(2)} > ${PSIS_KHAT_THRESHOLD} and log p/q has sd ${spread.toPrecision(2)} nats over the ${guide}'s draws: ` +
      `the guide is far from the posterior in its bulk, not only in its tails (a normal guide k posterior sds from a normal posterior's mean gives an sd of about k nats), ` +
      `so its means, sds and ELBO are not to be trusted; p/q ${unreliable} are unreliable. ` +
      "The fit has most likely not reached the posterior (a posterior much narrower than the prior, or too few steps): " +
      "run more steps or raise the learning rate, and compare with method 'nuts'";
    console.warn(far);
    return { notes, warnings: [far] };
  }
  const warning =
    `vi: Pareto k-hat ${khat.toFixed(2)} > ${PSIS_KHAT_THRESHOLD}: the importance ratios p/q of the ${guide}'s draws have a heavy upper tail, ` +
    `so the posterior has mass where the guide's tails hardly reach (Yao et al. 2018, "Yes, but did it work?"): ` +
    `the guide's sds, intervals and tail probabilities can be too narrow, and p/q ${unreliable} are unreliable. ` +
    'k-hat does not say whether the means are right' +
    (Number.isFinite(spread) ? ` (log p/q has sd ${spread.toPrecision(2)} nats over these draws: the larger, the farther the guide is from the posterior where it puts its mass; a normal guide 1 posterior sd from a normal posterior's mean gives 1)` : '') +
    ', and a normal guide on a positive or bounded parameter can score above 0.7 with its means and sds right ' +
    "(the posterior's tails on the log or logit scale are exponential, the guide's Gaussian); " +
    "to check the tails, compare with method 'nuts' or a richer guide ('mvn', 'flow')";
  console.warn(warning);
  return { notes, warnings: [warning] };
}

/**
 * Above this sd of log p/q (nats) over the guide's draws the k-hat warning
 * says the guide is far from the posterior in its bulk: a normal guide k
 * posterior sds from a normal posterior's mean gives about k nats, and a
 * mean-field guide whose scales are off by a constant factor in d dimensions
 * gives O(sqrt(d)), so 100 is reached by a fit that missed the posterior, not
 * by the tails of a good one (posteriordb sblrc-blr at VI's defaults: 1e4+).
 */
const FAR_FROM_POSTERIOR_NATS = 100;

/** The sd of the finite values of `x` (NaN with fewer than two). */
function finiteSd(x: ArrayLike<number>): number {
  let n = 0;
  let mean = 0;
  let m2 = 0;
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    if (!Number.isFinite(v)) continue;
    n++;
    const d = v - mean;
    mean += d / n;
    m2 += d * (v - mean);
  }
  return n < 2 ? NaN : Math.sqrt(m2 / (n - 1));
}

/** The warning for a fit still improving when it stopped (also printed with `console.warn`). */
function trendWarning(trend: LossTrend, steps: number): string {
  const warning =
    `vi: the loss was still falling when the ${steps} steps ended (by ${trend.decrease.toPrecision(3)} ± ${trend.stderr.toPrecision(2)} nats between the last two windows of ${trend.window} steps): ` +
    'the fit has not converged, whatever k-hat says; run more steps or raise the learning rate';
  console.warn(warning);
  return warning;
}

/**
 * VI draws with what a model run adds (see `replayDraws`): deterministic
 * sites and the return value, batched where the steps ran batched.
 */
export async function withModelValues<A extends unknown[], R>(m: Model<A, R>, args: A, svi: SVI<A, R>, draws: Draw<R>[], signal: AbortSignal | undefined, unconstrained?: ReadonlyMap<string, UnconstrainedSite>): Promise<Draw<R>[]> {
  const layout = svi.guide instanceof AutoGuide ? svi.guide.layout : undefined;
  const batchRank = new Map(layout?.sites.map((s) => [s.address, s.batchRank]) ?? []);
  const replayed = await replayDraws(
    m,
    args,
    {
      size: draws.length,
      values: (i) => draws[i]!.values,
      ...(unconstrained ? { unconstrained } : {}),
      ...(layout ? { batching: { plateNesting: layout.plateNesting, batchRank: (a: string) => batchRank.get(a) ?? 0 } } : {}),
    },
    { batched: svi.vectorized === true, handlers: [svi.store.handler()], latent: new Set(unconstrained?.keys() ?? []), ...(signal ? { signal } : {}) },
  );
  if (!replayed) return draws;
  return draws.map((d, i) => ({ ...d, values: { ...d.values, ...replayed.values[i] }, returnValue: replayed.returnValues[i]! }));
}

/** Run SVI for `steps` steps and return draws from the fitted guide. */
export async function vi<A extends unknown[], R>(m: Model<A, R>, options: Omit<VIOptions<A>, 'method'>, args: A): Promise<Posterior<A, R>> {
  const steps = options.steps ?? 1000;
  if (!Number.isInteger(steps) || steps < 0) throw new RangeError(`vi: steps must be a nonnegative integer, got ${steps}`);
  const every = options.progressEvery ?? 1;
  const svi = new SVI(m, guideWithInit(options.guide ?? 'normal', options.init), { ...options, seed: options.seed ?? 0 });
  try {
    options.signal?.throwIfAborted();
    await svi.init(args);
    const t0 = performance.now();
    const pace = new Pacer(options.signal);
    const guide = svi.guide;
    const recorder = guide instanceof AutoNormal ? new DriftRecorder(steps) : undefined;
    for (let k = 0; k < steps; k++) {
      // let timers and abort signals through every ~10 ms
      if (pace.due()) await pace.pause();
      const loss = await svi.step(args);
      if (recorder?.wants(k)) {
        const { loc, scale } = (guide as AutoNormal).locScale(svi.store);
        recorder.record(k, loc, scale);
      }
      if (options.onStep && ((k + 1) % every === 0 || k + 1 === steps)) options.onStep({ step: k + 1, steps, loss, elapsedMs: performance.now() - t0 });
    }
    const elapsed = performance.now() - t0;
    // a fit on subsampled plates followed stochastic gradients; its draws are scored and completed on the full data (subsample.ts)
    const subsampled = svi.subsampled;
    const full = subsampled ? fullData(m) : m;
    const sampled = await svi.sample(args, options.samples ?? 1000, { importanceWeights: options.importanceWeights ?? false, ...(options.signal ? { signal: options.signal } : {}), ...(subsampled ? { fullData: true } : {}) });
    const draws = await withModelValues(full, args, svi, sampled.draws, options.signal, sampled.unconstrained).catch((err: unknown) => {
      for (const d of sampled.draws) disposeValues(d.values);
      throw err;
    });
    try {
      const drift = recorder?.drift((guide as AutoNormal).layout.names);
      return await describeFit(full, args, options, svi, sampled, draws, steps, elapsed, subsampled, drift);
    } catch (err) {
      for (const d of draws) disposeValues(d.values);
      throw err;
    }
  } finally {
    svi.dispose();
  }
}

/** The posterior of a finished fit: its diagnostics and the checks on the final draws (k-hat, the guide's location). */
async function describeFit<A extends unknown[], R>(m: Model<A, R>, args: A, options: Omit<VIOptions<A>, 'method'>, svi: SVI<A, R>, sampled: SviSample<R>, draws: Draw<R>[], steps: number, elapsed: number, subsampled: SubsampledPlate | undefined, drift: GuideDrift | undefined): Promise<Posterior<A, R>> {
  const { logZ, elbo, khat } = sampled;
  const moments = svi.moments();
  const trend = lossTrend(svi.lossHistory);
  const diagnostics: VIDiagnostics = {
    lossHistory: Float64Array.from(svi.lossHistory),
    params: svi.store.values(),
    ...(moments ? { moments } : {}),
    objective: svi.objective.name,
    guide: svi.guide.name,
    elbo,
    khat,
    logRatios: sampled.logRatios,
    ...(trend ? { lossTrend: trend } : {}),
    ...(drift ? { guideDrift: drift } : {}),
    vectorized: svi.vectorized,
    compiled: svi.compiled,
    droppedDraws: svi.droppedDraws,
    stepsPerSecond: steps / Math.max(elapsed / 1000, 1e-9),
    ...(subsampled ? { subsampled } : {}),
    meanField: await svi.meanFieldCheck(args),
  };
  options.signal?.throwIfAborted();
  const { notes, warnings } = khatReport(khat, svi.guide.name, options.importanceWeights ?? false, sampled.logRatios);
  const stalled = trend?.stillImproving ? trendWarning(trend, steps) : undefined;
  if (stalled) warnings.push(stalled);
  if (drift?.steady) warnings.push(driftWarning(drift, svi.guide.name, steps));
  // reported draws unweighted: is the guide where the reweighted draws say the posterior is?
  // and is the guide wider than the reweighted draws (a scale still settling, which k-hat and the loss trend do not show:
  // a subsampled fit's noisy loss, or a regression on 3000 rows at the defaults, sd 0.052 against 0.018)?
  const checked = options.importanceWeights ? {} : await guideChecks(sampled.draws, sampled.logRatios, { ...(options.signal ? { signal: options.signal } : {}), scale: true });
  if (checked.shift) warnings.push(locationWarning(checked.shift, svi.guide.name, subsampled));
  if (checked.wide) warnings.push(wideWarning(checked.wide, svi.guide.name, subsampled));
  const narrow = 'factors' in diagnostics.meanField ? meanFieldWarning(diagnostics.meanField, svi.guide.name, undefined, stalled === undefined) : undefined;
  if (narrow) warnings.push(narrow);
  for (const w of svi.surrogates) warnings.push(`${w}: the fit followed this surrogate gradient (surrogateGradients: true), so it is biased towards where that gradient leads`);
  options.signal?.throwIfAborted();
  return new Posterior({ method: 'vi', draws, logZ, diagnostics: diagnostics as unknown as Record<string, unknown>, model: m, args, notes, warnings });
}

registerEngine<VIOptions & { method: 'vi' }>({
  name: 'vi',
  options: ['guide', 'init', 'objective', 'k', 'particles', 'optimizer', 'vectorize', 'compile', 'surrogateGradients', 'steps', 'samples', 'importanceWeights', 'onStep', 'progressEvery', 'signal'],
  description: 'stochastic variational inference: autoguides (delta, normal, mvn, lowrank) or guide models, ELBO / IWAE / Rényi objectives, tfjs optimisers',
  run: (m, options, args) => vi(m, options, args),
});

/**
 * Rows `keep` of `t` (along its first axis) by a 0/1 selection matrix, with
 * the other rows (which may hold -Infinity) zeroed first. Unlike `tf.gather`,
 * whose gradient needs the UnsortedSegmentSum kernel that the WASM backend
 * lacks, this differentiates on every backend, and a left-out row gets a zero
 * gradient.
 */
function selectRows(t: tf.Tensor, keep: number[]): tf.Tensor {
  const n = t.shape[0]!;
  const k = keep.length;
  const rest = t.shape.slice(1);
  const kept = new Uint8Array(n);
  const select = new Float32Array(k * n);
  keep.forEach((row, j) => {
    kept[row] = 1;
    select[j * n + row] = 1;
  });
  const mask = tf.reshape(tf.tensor1d(kept, 'bool'), [n, ...rest.map(() => 1)]);
  const safe = tf.where(tf.broadcastTo(mask, t.shape), t, tf.zerosLike(t));
  const rows = tf.matMul(tf.tensor2d(select, [k, n]), tf.reshape(safe, [n, -1]));
  return tf.reshape(rows, [k, ...rest]);
}
