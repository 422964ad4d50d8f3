/**
 * Single-site MH that scores a proposal without running the model: for a
 * model whose latent sites are continuous and always present (a fixed
 * structure), the log joint is a function of the latent values alone, so a
 * proposal can be scored by the compiled float64 replay of the model's log
 * density (`compiled-density.ts`, the one NUTS uses) instead of a full
 * re-execution through the effect runtime and tfjs. The model runs only when
 * a proposal is accepted (to record the new trace: the distributions the
 * next prior proposals draw from, the return value and deterministic sites).
 * Prior proposals on a posterior much narrower than the prior are mostly
 * rejected, so most steps cost one compiled evaluation (microseconds).
 *
 * The kernel is the one of `mhStep` (trace-mh.ts): the same site choice,
 * proposal, acceptance ratio and random stream, so a seeded run makes the
 * same moves wherever the float64 and float32 log densities lead to the same
 * decision (they differ by float32 rounding).
 *
 * The log density U(q) = log p(x) + Σ log|det J(q_j)| lives on unconstrained
 * coordinates, so the change of log p(x) is U(q') − U(q) minus the change of
 * the proposed site's log-Jacobian.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Model } from '../../core/model.js';
import { type Rng, rngFrom } from '../../core/rng.js';
import type { Site } from '../../core/trace.js';
import { type Value, isTensor, sumAll, toNumber, toTensor } from '../../core/value.js';
import type { Distribution } from '../../distributions/distribution.js';
import { type Layout, type SiteLayout, layoutOnly, logDensityFn, unconstrain } from './potential.js';
import { type MHStepOptions, type TraceState, mhStep, runWithValues } from './trace-mh.js';
import { rejectsPoint } from '../../core/errors.js';

/** The unconstrained coordinates of one site's value, as numbers. */
function unconstrainSite(s: SiteLayout, v: Value): Float64Array {
  if (typeof v === 'number' && s.bijector.eventDimIn === 0) {
    const u = s.bijector.inverse(v);
    if (typeof u === 'number') return Float64Array.of(u);
  }
  let out = new Float64Array(0);
  tf.tidy(() => {
    out = Float64Array.from(toTensor(s.bijector.inverse(v)).dataSync());
  });
  return out;
}

/** A site's log density at `v`, summed, as a number. */
function logProbNumber(dist: Distribution, v: Value): number {
  const lp = dist.logProb(v);
  return typeof lp === 'number' ? lp : toNumber(sumAll(lp));
}

/** The forward log-Jacobian of one site at its unconstrained coordinates, summed. */
function siteLogDet(s: SiteLayout, u: Float64Array): number {
  if (s.unconstrainedShape.length === 0 && s.bijector.eventDimIn === 0) {
    const l = s.bijector.logDetJacobian(u[0]!);
    if (typeof l === 'number') return l;
  }
  let out = 0;
  tf.tidy(() => {
    out = toNumber(sumAll(s.bijector.logDetJacobian(tf.tensor(Float32Array.from(u), s.unconstrainedShape))));
  });
  return out;
}

/**
 * MH steps scored by a compiled log density, for one model and its data.
 * Build it with {@link compiledMH}, which says why not where it cannot
 * serve the model.
 */
export class CompiledMH<A extends unknown[], R> {
  /** The state whose coordinates and log density are cached below. */
  private of: TraceState<R> | undefined;
  private q: Float64Array = new Float64Array(0);
  private u = 0;
  /** Model runs (one per accepted proposal). */
  runs = 0;
  /** Compiled evaluations (one per proposal). */
  evaluations = 0;

  protected constructor(
    private readonly m: Model<A, R>,
    private readonly args: A,
    private readonly layout: Layout,
    private readonly density: (q: Float64Array) => Promise<{ logp: number }>,
    private readonly status: () => true | string,
    /** The compiled log density without its gradient (undefined where the replay does not serve the point: then `density`). */
    private readonly valueOnly: (q: Float64Array) => number | undefined = () => undefined,
  ) {}

  /** Build the kernel for `m` (layout probe runs use their own stream); a string says why it cannot serve the model. */
  static async build<A extends unknown[], R>(m: Model<A, R>, args: A, start: TraceState<R>, seed: number | string): Promise<CompiledMH<A, R> | string> {
    for (const s of start.trace) {
      if (s.type === 'sample' && !s.observed && (s.dist as Distribution).isDiscrete) return `"${s.address}" is discrete`;
    }
    let layout: Layout;
    try {
      layout = await layoutOnly(m, args, rngFrom(`${seed}/mh-layout`));
    } catch (err) {
      return `no fixed layout of the latent sites: ${err instanceof Error ? err.message : String(err)}`;
    }
    const moving = layout.sites.find((s) => s.dependentSupport);
    if (moving) return `the support of "${moving.address}" depends on other values`;
    const f = logDensityFn(m, args, layout, { compile: true });
    const kernel = new this(m, args, layout, f, f.compileStatus, f.valueOnly);
    // compile at the start (the first evaluation records the model), and keep the kernel only if that worked
    try {
      await kernel.sync(start);
    } catch (err) {
      // e.g. model code that cannot run on tensors (JavaScript arithmetic on a draw): the model-running kernel serves it
      return `the log density could not be evaluated at the start (it runs the model on tensors with a fixed set of sites): ${err instanceof Error ? err.message : String(err)}`;
    }
    const status = f.compileStatus();
    return status === true ? kernel : `the log density did not compile: ${status}`;
  }

  /** Why this kernel handed the run back to the model-running kernel, if it did. */
  private stopped: string | undefined;

  /** Whether the density still replays compiled (a later failure hands the run back to the model-running kernel). */
  get compiled(): boolean {
    return this.stopped === undefined && this.status() === true;
  }

  /** `true`, or why the kernel stopped scoring proposals with the compiled density. */
  compiledStatus(): true | string {
    return this.stopped ?? this.status();
  }

  /** Cache the coordinates and log density of `state`. */
  private async sync(state: TraceState<R>): Promise<void> {
    if (this.of === state) return;
    this.q = unconstrain(this.layout, state.trace);
    this.u = (await this.density(this.q)).logp;
    this.evaluations++;
    this.of = state;
  }

  /** One single-site MH step (as `mhStep`, prior or user proposals). */
  async step(current: TraceState<R>, rng: Rng, options: MHStepOptions = {}): Promise<{ state: TraceState<R>; accepted: boolean }> {
    await this.sync(current);
    const sites = this.layout.sites;
    const block = sites[rng.int(sites.length)]!;
    const old = current.trace.get(block.address) as Site;
    const dist = old.dist as Distribution;
    const proposal = options.proposals?.[block.address];
    // (each step runs in the engine's tensor scope: no tidy needed here, and none paid on the number path)
    const proposed = proposal ? proposal.sample(old.value, rng) : dist.sample(rng);
    // the model-running kernel hands a split stream to the model here: keep the streams in step
    rng.split();
    const uNew = unconstrainSite(block, proposed);
    if (!uNew.every(Number.isFinite)) {
      // outside the site's support: density zero, rejected without a uniform draw (as the model-running
      // kernel does where the value makes a distribution's parameter invalid)
      return this.reject(proposed);
    }
    const q = Float64Array.from(this.q);
    const uOld = q.slice(block.offset, block.offset + block.size);
    q.set(uNew, block.offset);
    // a proposal needs the log density only: the compiled forward pass, no reverse pass
    let next: number;
    try {
      next = this.valueOnly(q) ?? (await this.density(q)).logp;
    } catch (err) {
      if (rejectsPoint(err)) return this.reject(proposed);
      // e.g. a site outside the layout (the structure changed): the model-running kernel from here on
      this.stopped = `the compiled density failed at a proposal: ${err instanceof Error ? err.message : String(err)}`;
      if (isTensor(proposed)) proposed.dispose();
      return mhStep(this.m, this.args, current, rng, options);
    }
    this.evaluations++;
    const dLogJoint = next - this.u - this.logDetChange(block, uNew, uOld);
    let logQRatio: number;
    if (proposal) logQRatio = proposal.logProb(old.value, proposed) - proposal.logProb(proposed, old.value);
    else logQRatio = logProbNumber(dist, old.value) - logProbNumber(dist, proposed);
    const logAlpha = dLogJoint + logQRatio;
    if (!(Math.log(rng.uniform()) < logAlpha) || Number.isNaN(logAlpha)) return this.reject(proposed);
    // accepted: record the new trace (every value given, so the stream is not used)
    const state = await runWithValues(this.m, this.args, (a) => (a === block.address ? proposed : current.trace.get(a)?.value), rngFrom(0));
    this.runs++;
    this.crossCheck(current, state, next, siteLogDet(block, uNew) - siteLogDet(block, uOld));
    const latent = state.trace.latentSites();
    if (latent.length !== this.layout.sites.length || latent.some((site, i) => site.address !== this.layout.sites[i]!.address)) {
      // the set of latent sites changed: the compiled density does not describe it; the model-running kernel from here on
      this.stopped = 'the set of latent sites changed between runs';
    }
    current.trace.disposeLogProbs();
    this.q = q;
    this.u = next;
    this.of = state;
    return { state, accepted: true };
  }

  /**
   * Why the compiled density was found wrong (set by the check at each
   * accepted state): every move made with it is suspect, so the caller
   * starts the run again on the model-running kernel.
   */
  abandoned: string | undefined;

  /**
   * The safety net: at an accepted state the model ran anyway, so the change
   * of its log joint must match the compiled density's change (less the
   * proposed site's log-Jacobian change `dLogDet`) up to float32 rounding of
   * the model run. A compiled record that follows the wrong branch of the
   * model's control flow fails this at the first accepted move across it.
   */
  private crossCheck(from: TraceState<R>, to: TraceState<R>, uTo: number, dLogDet: number): void {
    const dModel = to.logJoint - from.logJoint;
    const dCompiled = uTo - this.u - dLogDet;
    const tol = 1e-3 + 1e-4 * (Math.abs(to.logJoint) + Math.abs(from.logJoint));
    if (Math.abs(dModel - dCompiled) <= tol || !Number.isFinite(dModel)) return;
    this.abandoned =
      `the compiled density disagreed with a model run at an accepted state (change of the log joint ${dCompiled.toPrecision(6)} compiled, ${dModel.toPrecision(6)} by the model;` +
      ' does the model branch on a tensor it also uses?)';
    this.stopped = this.abandoned;
  }

  /** The change of the proposed site's log-Jacobian (U carries it, log p does not). Overridden by tests to plant a bug. */
  protected logDetChange(block: SiteLayout, uNew: Float64Array, uOld: Float64Array): number {
    return siteLogDet(block, uNew) - siteLogDet(block, uOld);
  }

  private reject(proposed: Value): { state: TraceState<R>; accepted: boolean } {
    if (isTensor(proposed)) proposed.dispose();
    return { state: this.of!, accepted: false };
  }
}
