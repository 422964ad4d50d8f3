/**
 * Lightweight single-site Metropolis–Hastings over traces (Wingate, Stuhlmüller
 * & Goodman 2011), and Gibbs updates of finite discrete sites.
 *
 * One MH step picks a latent site of the current trace uniformly, proposes a
 * new value for it (from its prior distribution, or a user proposal), and
 * re-executes the model with every other latent value kept. Sites the new
 * execution needs but the old one lacked ("fresh") are drawn from their
 * priors; sites the old one had and the new one lacks are "stale". The
 * acceptance ratio accounts for both, and for the number of latent sites,
 * so the kernel leaves the posterior invariant for any model, including ones
 * whose structure depends on random choices.
 *
 * A Gibbs step on a finite discrete site enumerates its support, runs the
 * model once per value and samples the value in proportion to the joint
 * density. It needs the site's value not to change which other sites exist
 * (checked; MH handles structure changes).
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Handler, Message } from '../../core/message.js';
import { rejectsPoint } from '../../core/errors.js';
import { isNonFiniteDensity, nonFiniteDensityError } from '../diagnose.js';
import { type Model, ModelError, execute } from '../../core/model.js';
import type { Rng } from '../../core/rng.js';
import { type Site, type Trace, siteLogDensity } from '../../core/trace.js';
import { type Value, isTensor, toNumber } from '../../core/value.js';
import type { Distribution } from '../../distributions/distribution.js';
import { BranchesOnTensor, type VectorizedGibbs, reservedRank, sameLogWeights, vectorizedLogWeights } from './vector-gibbs.js';
import type { LeanGibbs } from './lean-gibbs.js';

/** A state of the chain: a trace, its return value and its log joint. */
export interface TraceState<R> {
  readonly trace: Trace;
  readonly returnValue: R;
  /** log p(x, y) of the trace (scaled and masked as the model says). */
  readonly logJoint: number;
}

/** A user proposal for one site: draws a new value and scores the move both ways. */
export interface SiteProposal {
  /** Draw a proposed value given the current one. */
  sample(current: Value, rng: Rng): Value;
  /** log q(to | from). */
  logProb(to: Value, from: Value): number;
}

/** Options of {@link mhStep}. */
export interface MHStepOptions {
  /** Per-address proposals; sites without one are proposed from their prior. */
  readonly proposals?: Readonly<Record<string, SiteProposal>>;
  /** Only these addresses are updated (default: every latent site). */
  readonly sites?: (address: string) => boolean;
}

/** The number a site contributes to the log joint. */
export function siteLogDensityNumber(site: Site): number {
  const v = tf.tidy(() => siteLogDensity(site) as Value);
  const n = typeof v === 'number' ? v : toNumber(v);
  // (a scalar log density is its own sum: not ours to dispose)
  if (isTensor(v) && v !== site.logProb) v.dispose();
  return n;
}

/** log p(x, y) of a trace, as a number. */
export function traceLogJoint(trace: Trace): number {
  let total = 0;
  for (const s of trace) if (s.type === 'sample' || s.type === 'factor') total += siteLogDensityNumber(s);
  return total;
}

/**
 * How the MH kernel runs the model: execute it (or a prefix of it) with the
 * latent values given by `values` where defined, drawing the others from
 * their priors with `rng`, and return the trace and its log joint. Program
 * SMC passes an executor that stops at a checkpoint, so the same kernel
 * targets a partial posterior.
 */
export type TraceExecutor<S extends TraceState<unknown>> = (values: (address: string) => Value | undefined, rng: Rng) => Promise<S>;

/** The executor that runs the whole model (see {@link runWithValues}). */
export function modelExecutor<A extends unknown[], R>(m: Model<A, R>, args: A): TraceExecutor<TraceState<R>> {
  return (values, rng) => runWithValues(m, args, values, rng);
}

/** A handler that sets each unset latent value that `values` gives (the others are drawn as usual). */
export function givenValues(values: (address: string) => Value | undefined): Handler {
  return {
    process(msg: Message) {
      if (msg.type !== 'sample' || msg.observed || msg.value !== undefined) return;
      const v = values(msg.address);
      if (v !== undefined) msg.value = v;
    },
  };
}

/** Run the model with latent values taken from `values` where present (others drawn fresh). */
export async function runWithValues<A extends unknown[], R>(m: Model<A, R>, args: A, values: (address: string) => Value | undefined, rng: Rng): Promise<TraceState<R>> {
  const { trace, returnValue } = await execute(m, { rng, handlers: [givenValues(values)] }, ...args);
  const logJoint = traceLogJoint(trace);
  // +Infinity or NaN: a chain would stick there for ever (every proposal away is rejected); name the site instead
  if (isNonFiniteDensity(logJoint)) throw nonFiniteDensityError(`the log joint density of a trace is ${logJoint}`, trace);
  return { trace, returnValue, logJoint };
}

function latentAddresses(trace: Trace, keep?: (a: string) => boolean): string[] {
  const out: string[] = [];
  for (const s of trace) if (s.type === 'sample' && !s.observed && (!keep || keep(s.address))) out.push(s.address);
  return out;
}

/**
 * One single-site MH step. Returns the next state (the current one when the
 * proposal is rejected) and whether it was accepted.
 */
export async function mhStep<A extends unknown[], R>(m: Model<A, R>, args: A, current: TraceState<R>, rng: Rng, options: MHStepOptions = {}): Promise<{ state: TraceState<R>; accepted: boolean }> {
  return mhStepWith(modelExecutor(m, args), current, rng, options);
}

/**
 * One single-site MH step with a custom {@link TraceExecutor} (e.g. one that
 * runs the model only up to a checkpoint): the target is whatever density the
 * executor's traces report as their log joint.
 */
export async function mhStepWith<S extends TraceState<unknown>>(run: TraceExecutor<S>, current: S, rng: Rng, options: MHStepOptions = {}): Promise<{ state: S; accepted: boolean }> {
  const sites = latentAddresses(current.trace, options.sites);
  if (sites.length === 0) return { state: current, accepted: false };
  const address = sites[rng.int(sites.length)];
  const old = current.trace.get(address) as Site;
  const dist = old.dist as Distribution;
  const proposal = options.proposals?.[address];
  const proposed = proposal ? proposal.sample(old.value, rng) : tf.tidy(() => dist.sample(rng));
  let next: S;
  try {
    next = await run((a) => (a === address ? proposed : current.trace.get(a)?.value), rng.split());
  } catch (err) {
    // a proposal where a distribution's parameter is invalid has density zero: reject it (the one rule of every engine)
    if (rejectsPoint(err)) return { state: current, accepted: false };
    throw err;
  }
  const newSite = next.trace.get(address);
  if (!newSite || newSite.type !== 'sample' || newSite.observed) {
    throw new ModelError(address, 'changing the value of this site removed the site itself; addresses must not depend on their own value');
  }
  // proposal correction at the chosen site
  let logQRatio: number;
  if (proposal) logQRatio = proposal.logProb(old.value, proposed) - proposal.logProb(proposed, old.value);
  else logQRatio = siteLogDensityNumber({ ...old, scale: 1, mask: true }) - siteLogDensityNumber({ ...newSite, scale: 1, mask: true });
  // fresh sites were drawn from their priors in the new trace; stale ones would be in the reverse move
  let fresh = 0;
  for (const s of next.trace) {
    if (s.type === 'sample' && !s.observed && s.address !== address && !current.trace.has(s.address)) fresh += siteLogDensityNumber({ ...s, scale: 1, mask: true });
  }
  let stale = 0;
  for (const s of current.trace) {
    if (s.type === 'sample' && !s.observed && s.address !== address && !next.trace.has(s.address)) stale += siteLogDensityNumber({ ...s, scale: 1, mask: true });
  }
  const nextSites = latentAddresses(next.trace, options.sites).length;
  const logAlpha = next.logJoint - current.logJoint + logQRatio + stale - fresh + Math.log(sites.length) - Math.log(nextSites);
  if (Number.isNaN(logAlpha)) throw new ModelError(address, 'MH acceptance ratio is NaN');
  if (Math.log(rng.uniform()) < logAlpha) {
    current.trace.disposeLogProbs();
    return { state: next, accepted: true };
  }
  next.trace.disposeLogProbs();
  return { state: current, accepted: false };
}

/** Options of {@link gibbsStep}. */
export interface GibbsStepOptions {
  /**
   * Weigh all values of the site in one vectorised run where the model
   * allows (checked once per site against one run per value; see
   * `vector-gibbs.ts`). Without it, the model runs once per value.
   */
  readonly vectorized?: VectorizedGibbs;
  /**
   * Weigh each value by a run of the model on the lean runtime, on plain
   * numbers (`lean-gibbs.ts`; the same weights, bit for bit, as one general
   * run per value), where the model allows; tried before `vectorized`.
   *
   * @internal (the engines build it; `LeanGibbs` is not public API)
   */
  readonly lean?: Pick<LeanGibbs<never, unknown>, 'logWeights'>;
  /**
   * What `leanGibbsDraw` found for this update, run before it
   * (outside the gradient lock): the update takes its stream and, where
   * the lean runtime weighed the values, its draw.
   *
   * @internal
   */
  readonly leanDrawn?: LeanDrawn;
}

/**
 * The lean half of a Gibbs update (see `gibbsDraw`): the stream split off
 * for the update and, where the lean runtime weighed the site's values, the
 * value drawn. @internal
 */
export interface LeanDrawn {
  readonly streams: GibbsStreams;
  readonly value?: Value;
}

/**
 * The random streams of one Gibbs update of a scalar site, in the one order
 * every such update uses them: `run`, split off the parent stream when the
 * update begins, for the update's model runs (an update weighed without a
 * general run splits it too, and leaves it unread), then `GibbsStreams.draw`,
 * one uniform of the parent stream that picks a value from the weights.
 * `gibbsDraw`, `leanGibbsDraw` and hmc-gibbs's lean and replayed updates all
 * take their streams here, so that the same weights draw the same value
 * whichever path weighed them.
 *
 * @internal
 */
export class GibbsStreams {
  /** The stream of the update's model runs. */
  readonly run: Rng;

  /** @param parent - the update's stream (one split now, one uniform at the draw) */
  constructor(private readonly parent: Rng) {
    this.run = parent.split();
  }

  /** An index drawn in proportion to exp(logW), by one uniform of the parent stream. */
  draw(logW: ArrayLike<number>): number {
    return drawIndex(logW, this.parent);
  }
}

/**
 * The lean half of `gibbsDraw`, which makes no tensors, so that an
 * engine may run it outside the gradient lock and pass the result to the
 * update (`leanDrawn`): the same split of the stream and the same weights
 * and draw as the update makes itself. Undefined (nothing split) where the
 * site is not a latent one with a finite support (the update names it).
 *
 * @internal
 */
export async function leanGibbsDraw<R>(current: TraceState<R>, address: string, rng: Rng, lean: Pick<LeanGibbs<never, unknown>, 'logWeights'>): Promise<LeanDrawn | undefined> {
  const site = current.trace.get(address);
  if (!site || site.type !== 'sample' || site.observed) return undefined;
  const support = (site.dist as Distribution).enumerateSupport();
  if (!support) return undefined;
  const streams = new GibbsStreams(rng);
  const w = await lean.logWeights((a) => current.trace.get(a)?.value, latentAddresses(current.trace), address, support);
  return w !== undefined ? { streams, value: support[streams.draw(w)] as Value } : { streams };
}

/**
 * One Gibbs update of a finite discrete site: enumerate its support, weigh
 * each value by the joint density, and draw one. With
 * `options.lean` or `options.vectorized`, the weights come from lean runs
 * or one vectorised run (then one more run at the chosen value gives the new
 * trace).
 */
export async function gibbsStep<A extends unknown[], R>(m: Model<A, R>, args: A, current: TraceState<R>, address: string, rng: Rng, options: GibbsStepOptions = {}): Promise<TraceState<R>> {
  return (await gibbsUpdate(m, args, current, address, rng, options)).state;
}

/**
 * `gibbsStep`, with the number of general model runs it made (`runs`:
 * lean runs are not counted; a lean or vectorised update counts the run at
 * the drawn value that gives the new trace).
 *
 * @internal (the engines count their model runs with it)
 */
export async function gibbsUpdate<A extends unknown[], R>(m: Model<A, R>, args: A, current: TraceState<R>, address: string, rng: Rng, options: GibbsStepOptions = {}): Promise<{ state: TraceState<R>; runs: number }> {
  const drawn = await gibbsDraw(m, args, current, address, rng, options);
  if (drawn.state) return { state: drawn.state, runs: drawn.runs };
  const next = await runWithValues(m, args, (a) => (a === address ? drawn.value : current.trace.get(a)?.value), drawn.rng);
  if (options.vectorized) options.vectorized.runs += 1;
  current.trace.disposeLogProbs();
  return { state: next, runs: drawn.runs + 1 };
}

/**
 * The value a Gibbs update of `address` draws, and the new state where the
 * update computed it (one run per value); a vectorised update gives only
 * the value (the caller runs the model at it if it needs the trace, with
 * `rng`; the current trace is left as it is). A caller that needs only the
 * values (hmc-gibbs at the end of a sweep) saves that run. `runs`: the
 * general model runs made (none where the lean runtime weighed the values;
 * lean runs are counted by the `LeanGibbs` itself).
 */
export async function gibbsDraw<A extends unknown[], R>(
  m: Model<A, R>,
  args: A,
  current: TraceState<R>,
  address: string,
  rng: Rng,
  options: GibbsStepOptions = {},
): Promise<{ value: Value; state?: TraceState<R>; rng: Rng; runs: number }> {
  const site = current.trace.get(address);
  if (!site || site.type !== 'sample' || site.observed) throw new ModelError(address, 'Gibbs: not a latent sample site of the current trace');
  const support = (site.dist as Distribution).enumerateSupport();
  if (!support) throw new ModelError(address, `Gibbs: ${(site.dist as Distribution).name} does not have a finite, enumerable support`);
  // the lean half (the site is a latent one with a finite support here, so it always splits the stream)
  const pre = options.leanDrawn ?? (options.lean ? await leanGibbsDraw(current, address, rng, options.lean) : undefined);
  const streams = pre ? pre.streams : new GibbsStreams(rng);
  const r = streams.run;
  const vec = options.vectorized;
  const picked = (state: TraceState<R>, runs: number) => ({ value: state.trace.get(address)!.value, state, rng: r, runs });
  if (pre?.value !== undefined) return { value: pre.value, rng: r, runs: 0 };
  // (two values cost two runs either way: one run per value is then as cheap, and exact in float64 where the model is)
  let vectorisedTried = 0;
  if (vec && vec.enabled(address) && support.length > 2) {
    const numeric = support.every((v) => typeof v === 'number');
    const values = (a: string) => current.trace.get(a)?.value;
    const w = numeric ? await vectorizedLogWeights(m, args, values, address, support as number[], latentAddresses(current.trace), reservedRank(current.trace), r) : 'the support is not a list of numbers';
    vec.runs += 1;
    vectorisedTried = 1;
    if (typeof w === 'string') vec.disable(address, w);
    // the run branched on a tensor comparison: its weights are discarded (one run per value below),
    // and no site is vectorised from now on
    else if (w instanceof BranchesOnTensor) vec.disableAll(address, w.reason);
    else if (!vec.checked.has(address)) {
      // the first update of this site: check against one run per value (and use those)
      const { candidates, logW } = await weighEach(m, args, current, address, support, r);
      vec.runs += support.length;
      if (sameLogWeights(w, logW)) vec.checked.add(address);
      else vec.disable(address, 'its vectorised weights differ from one run per value (the model does not broadcast over its values, e.g. a JavaScript `if` on the draw)');
      return picked(pickCandidate(candidates, logW, current, streams), 1 + support.length);
    } else return { value: support[streams.draw(w)] as Value, rng: r, runs: 1 };
  }
  const { candidates, logW } = await weighEach(m, args, current, address, support, r);
  if (vec) vec.runs += support.length;
  // (a vectorised run that failed its check or branched on a tensor was made too)
  return picked(pickCandidate(candidates, logW, current, streams), support.length + vectorisedTried);
}

/** The model run once per value of the site: each candidate state and its log joint. */
async function weighEach<A extends unknown[], R>(m: Model<A, R>, args: A, current: TraceState<R>, address: string, support: readonly Value[], r: Rng): Promise<{ candidates: TraceState<R>[]; logW: Float64Array }> {
  const candidates: TraceState<R>[] = [];
  const logW = new Float64Array(support.length);
  for (let k = 0; k < support.length; k++) {
    const v = support[k];
    let c: TraceState<R>;
    try {
      c = await runWithValues(m, args, (a) => (a === address ? v : current.trace.get(a)?.value), r);
    } catch (err) {
      // a value that makes a distribution's parameter invalid has density zero (the one rule of every engine)
      if (!rejectsPoint(err)) throw err;
      candidates.push(current);
      logW[k] = -Infinity;
      continue;
    }
    for (const s of c.trace) {
      if (s.type === 'sample' && !s.observed && !current.trace.has(s.address)) {
        throw new ModelError(address, `Gibbs: setting this site to ${String(v)} creates the new site "${s.address}"; set gibbs: false (plain MH proposals) for a model whose sites change its structure`);
      }
    }
    candidates.push(c);
    logW[k] = c.logJoint;
  }
  return { candidates, logW };
}

/** An index drawn in proportion to exp(logW) (a Gibbs update draws through `GibbsStreams.draw`). */
function drawIndex(logW: ArrayLike<number>, rng: Rng): number {
  let max = -Infinity;
  for (let k = 0; k < logW.length; k++) max = Math.max(max, logW[k]);
  let total = 0;
  for (let k = 0; k < logW.length; k++) total += Math.exp(logW[k] - max);
  let u = rng.uniform() * total;
  for (let k = 0; k < logW.length; k++) {
    u -= Math.exp(logW[k] - max);
    if (u <= 0) return k;
  }
  return logW.length - 1;
}

/** Draw one candidate in proportion to its weight; dispose the others' (and the current trace's) log densities. */
function pickCandidate<R>(candidates: TraceState<R>[], logW: Float64Array, current: TraceState<R>, streams: GibbsStreams): TraceState<R> {
  const pick = streams.draw(logW);
  candidates.forEach((c, k) => {
    if (k !== pick && c !== current) c.trace.disposeLogProbs();
  });
  if (candidates[pick] !== current) current.trace.disposeLogProbs();
  return candidates[pick];
}
