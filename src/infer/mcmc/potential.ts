/**
 * A model as a log density on unconstrained real space, with gradients —
 * what HMC, NUTS, VI and SVGD work on.
 *
 * A probe run finds the model's latent sites; each must be continuous and
 * always present. Each site's support is mapped to real space with
 * `bijectTo(support)`, and the unconstrained coordinates of all sites are
 * laid end to end in one vector q of length `dim`. The log density is
 * log p(T(q), y) + log|det J_T(q)|, evaluated by running the model with the
 * constrained values substituted, and differentiated by tfjs autodiff
 * through the async model (see `backend/autodiff.ts`).
 *
 * Two evaluators share the layout: one for a single q, and one for K chains
 * at once, which runs the model a single time in batched mode (a leading
 * chain axis on every latent value). The batched one needs a model written
 * with tensor arithmetic and no branching on random values; where the model
 * cannot run batched, {@link canRunBatched} says why and engines fall back.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { valueAndGradsAsync } from '../../backend/autodiff.js';
import type { Handler, Message } from '../../core/message.js';
import { ModelError, TycheError, rejectsPoint } from '../../core/errors.js';
import { type Model, execute, withNaNChecks } from '../../core/model.js';
import { withImproperDraws } from '../../core/improper.js';
import { type Rng, rngFrom } from '../../core/rng.js';
import { type Site, type Trace, plateNestingOf } from '../../core/trace.js';
import { type Value, sizeOf, toArray, toTensor } from '../../core/value.js';
import type { Constraint } from '../../distributions/constraints.js';
import type { Distribution } from '../../distributions/distribution.js';
import { pointMassesOf } from '../../distributions/mixture.js';
import type { Bijector } from '../../transforms/bijector.js';
import { bijectTo } from '../../transforms/biject-to.js';
import { type Graph, markTraceSite, traceActive } from '../../backend/jit/trace.js';
import { type RecordedOutputs, recordOutputs } from './recorded-outputs.js';
import { IdentityBijector } from '../../transforms/elementwise.js';
import { type CompileMode, type CompileStats, type CompileStatus, CompiledDensity } from './compiled-density.js';
import type { BatchedLogDensityAndGradient, LogDensityAndGradient, MaybePromise } from './target.js';
import { tidyAsync } from '../../backend/autodiff.js';
import { reachableTensors } from './state-tensors.js';
import { subsampleRefusal } from '../subsample.js';

/** Options of the log-density evaluators. */
export interface PotentialOptions {
  /**
   * Replay a compiled trace of the model instead of running it (see
   * `compiled-density.ts`): `true`, `false` (default) or `'auto'` (only when
   * faster). Only for densities that depend on nothing but `q`.
   */
  readonly compile?: CompileMode;
}

/** An evaluator that reports whether it runs compiled (`true`) or why not, and how often it ran on tfjs. */
export type Compiled<F> = F & { readonly compileStatus: () => CompileStatus; readonly compileStats: () => CompileStats };

/** Where one latent site lives in the unconstrained vector. */
export interface SiteLayout {
  readonly address: string;
  /** Shape of the constrained value (batch ++ event). */
  readonly shape: number[];
  /** Shape of the unconstrained value. */
  readonly unconstrainedShape: number[];
  /** Offset in q. */
  readonly offset: number;
  /** Number of unconstrained coordinates. */
  readonly size: number;
  /** Maps unconstrained to constrained values. */
  readonly bijector: Bijector;
  /** Number of leading batch axes of the value (before the bijector's event axes). */
  readonly batchRank: number;
  /**
   * True when the site's support depends on other values of the model (e.g.
   * `Uniform(0, 1 - a)`): its bijector is then built from the distribution
   * of each evaluation, as Stan's constrain transforms are, and `bijector`
   * is only the probe run's.
   */
  readonly dependentSupport: boolean;
}

/** The unconstrained parameterisation of a model's latent sites. */
export interface Layout {
  readonly sites: SiteLayout[];
  readonly dim: number;
  /** Plate nesting of the model (for batched runs). */
  readonly plateNesting: number;
  /** Coordinate names, e.g. `theta[3]` (unconstrained coordinates of each site). */
  readonly names: string[];
  /** A plate of the probe run that took a subsample (its name and sizes): the log density is then that of a subsample. */
  readonly subsampled?: { readonly plate: string; readonly size: number; readonly subsample: number };
}

/** The first plate of a trace that took a subsample, if any (see {@link Layout.subsampled}). */
function subsampledPlate(trace: Trace): Layout['subsampled'] {
  for (const s of trace) for (const p of s.plates) if (p.subsampleSize !== p.size) return { plate: p.name, size: p.size, subsample: p.subsampleSize };
  return undefined;
}

/**
 * Throws where the probe run subsampled a plate: NUTS and HMC need the same
 * log density at every evaluation (a random subsample changes it; a fixed one
 * targets the scaled subsample, not the posterior). Subsampling is for VI.
 */
export function refuseSubsample(layout: Layout, method: string): void {
  const s = layout.subsampled;
  if (s === undefined) return;
  throw subsampleRefusal(method, s.plate, s.size, s.subsample);
}

/** Bounds of interval-like constraints (`interval`, `greaterThan`, `lessThan`, also inside `independent`), or undefined. */
function boundsOf(c: Constraint): Value[] | undefined {
  const base = (c as { base?: Constraint }).base;
  if (base !== undefined && c.name.startsWith('independent(')) return boundsOf(base);
  if (!/^(interval|greaterThan|lessThan)\(/.test(c.name)) return undefined;
  const b = c as { lower?: Value; upper?: Value };
  return [b.lower, b.upper].filter((v): v is Value => v !== undefined);
}

function sameValues(a: readonly Value[], b: readonly Value[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = toArray(a[i]!);
    const y = toArray(b[i]!);
    if (x.length !== y.length || x.some((v, j) => v !== y[j])) return false;
  }
  return true;
}

/**
 * Whether a site's support bounds depend on other values: they differ
 * between two prior runs, or the model has discrete latent sites (whose
 * values may repeat between the runs).
 */
function dependsOnValues(site: Site, other: Trace, discrete: boolean): boolean {
  if (boundsOf((site.dist as Distribution).support) === undefined) return false;
  return discrete || boundsDiffer([site, other.get(site.address)]);
}

/** Whether a site's support has bounds (`interval`, `greaterThan`, `lessThan`) that could depend on other values. */
export function hasBoundedSupport(site: Site | undefined): boolean {
  return site?.dist !== undefined && boundsOf((site.dist as Distribution).support) !== undefined;
}

/**
 * Whether the support bounds of a site differ between runs (sites of one
 * address from several traces; a missing site counts as different).
 */
export function boundsDiffer(sites: readonly (Site | undefined)[]): boolean {
  const bounds = sites.map((s) => (s?.dist ? boundsOf((s.dist as Distribution).support) : undefined));
  const first = bounds[0];
  return bounds.some((b) => (b === undefined) !== (first === undefined) || (b !== undefined && !sameValues(first!, b)));
}

/** Prior draws a probe run may try before a rejected point stops it (Stan retries an initial point 100 times). */
export const PROBE_ATTEMPTS = 100;

/**
 * One probe run of the model at a prior draw; a draw the model rejects (a
 * distribution parameter out of its domain there, e.g. a moving-average
 * recursion that overflows at a prior draw of its coefficient) is redrawn,
 * up to {@link PROBE_ATTEMPTS} times. The first try uses `rng` itself.
 */
async function probeRun<A extends unknown[], R>(m: Model<A, R>, args: A, rng: Rng): Promise<Trace> {
  for (let attempt = 1; ; attempt++) {
    try {
      // improper priors (Flat) give initial points here, as Stan's uniform(-2, 2) initialisation
      return (await withImproperDraws(() => execute(m, { rng: attempt === 1 ? rng : rng.split() }, ...args))).trace;
    } catch (err) {
      if (!rejectsPoint(err) || attempt >= PROBE_ATTEMPTS) throw err;
    }
  }
}

/**
 * Probe the model (a prior draw; one the model rejects is redrawn, see
 * `probeRun`) and lay out its continuous latent sites. A second prior run
 * finds supports whose bounds depend on other values (see
 * {@link SiteLayout.dependentSupport}).
 */
export async function layoutOf<A extends unknown[], R>(m: Model<A, R>, args: A, rng: Rng): Promise<{ layout: Layout; trace: Trace }> {
  const trace = await probeRun(m, args, rng);
  const latent = [...trace].filter((s) => s.type === 'sample' && !s.observed);
  const discrete = latent.some((s) => (s.dist as Distribution).isDiscrete);
  const bounded = latent.some((s) => boundsOf((s.dist as Distribution).support) !== undefined);
  const second = bounded && !discrete ? await probeRun(m, args, rng.split()) : trace;
  const sites: SiteLayout[] = [];
  const names: string[] = [];
  let offset = 0;
  for (const s of trace) {
    if (s.type !== 'sample' || s.observed) continue;
    const dist = s.dist as Distribution;
    if (dist.isDiscrete) {
      throw new ModelError(s.address, `${dist.name} is discrete; gradient-based samplers need continuous latent sites (use method 'hmc-gibbs' for finite discrete sites, 'mh' with gibbs, or marginalise the site)`);
    }
    const points = pointMassesOf(dist);
    if (points !== undefined) {
      // a spike-and-slab prior: the sampler would see the slab's density alone and never visit the spike
      throw new ModelError(
        s.address,
        `${dist.name} puts point masses (at ${points}) beside a density; gradient-based samplers and autoguides see only the density and never visit the points. Use method 'mh', 'importance' or 'smc', or choose the spike with a discrete indicator (z ~ Bernoulli) and use 'hmc-gibbs'`,
      );
    }
    const bijector = bijectTo(dist.support);
    const shape = typeof s.value === 'number' ? [] : [...s.value.shape];
    const unconstrainedShape = bijector.inverseShape(shape);
    const size = sizeOf(unconstrainedShape);
    const batchRank = unconstrainedShape.length - bijector.eventDimIn;
    const dependentSupport = dependsOnValues(s, second, discrete);
    sites.push({ address: s.address, shape, unconstrainedShape, offset, size, bijector, batchRank, dependentSupport });
    for (let i = 0; i < size; i++) names.push(size === 1 && unconstrainedShape.length === 0 ? s.address : `${s.address}[${i}]`);
    offset += size;
  }
  const subsampled = subsampledPlate(trace);
  return { layout: { sites, dim: offset, plateNesting: plateNestingOf(trace), names, ...(subsampled ? { subsampled } : {}) }, trace };
}

/**
 * {@link layoutOf} for callers that need only the layout: the probe runs'
 * tensors (log densities, values, the model's intermediates) are freed, the
 * layout's own (e.g. bounds held by bijectors) kept. A site whose support
 * depends on other values maps through the support it has at each point, never
 * through its layout bijector, so that bijector's bounds (the probe's values)
 * are freed too: kept, nothing ever freed them (1-2 tensors a run, e.g.
 * ordered cutpoints written `Flat({ low: c1 })`).
 */
export async function layoutOnly<A extends unknown[], R>(m: Model<A, R>, args: A, rng: Rng): Promise<Layout> {
  const own = (l: Layout): Layout => ({ ...l, sites: l.sites.filter((s) => !s.dependentSupport) });
  const { layout } = await tidyAsync(() => layoutOf(m, args, rng), (r) => [...reachableTensors(own(r.layout))]);
  return layout;
}

/** The unconstrained coordinates of a trace's latent values (e.g. for initialisation from the prior). */
export function unconstrain(layout: Layout, trace: Trace): Float64Array {
  const q = new Float64Array(layout.dim);
  for (const s of layout.sites) {
    const site = trace.get(s.address);
    const v = site?.value;
    if (v === undefined) throw new ModelError(s.address, 'missing from the trace');
    const bijector = s.dependentSupport && site?.dist ? bijectTo((site.dist as Distribution).support) : s.bijector;
    // read outside tf.tidy: a typed array returned from tidy is walked element by element
    const ut = tf.tidy(() => toTensor(bijector.inverse(v)));
    q.set(ut.dataSync(), s.offset);
    if (ut !== v) ut.dispose(); // an identity bijector hands back the site's own value
  }
  return q;
}

/**
 * Constrained values from an unconstrained vector (no gradient), by address.
 * Sites whose support depends on other values need a model run: see
 * `replayDraws` (`infer/replay-draws.ts`); asking for them here is an error.
 */
export function constrain(layout: Layout, q: Float64Array): Record<string, Value> {
  const out: Record<string, Value> = {};
  for (const s of layout.sites) {
    if (s.dependentSupport) throw new ModelError(s.address, 'its support depends on other values, so its constrained value needs a model run (replayDraws)');
    const slice = q.subarray(s.offset, s.offset + s.size);
    if (s.unconstrainedShape.length === 0 && s.bijector.eventDimIn === 0) {
      const v = s.bijector.forward(slice[0]);
      out[s.address] = typeof v === 'number' ? v : tf.keep(v);
    } else {
      out[s.address] = tf.tidy(() => s.bijector.forward(tf.tensor(Float32Array.from(slice), s.unconstrainedShape)) as tf.Tensor);
    }
  }
  return out;
}

/**
 * A handler that substitutes latent values (set before each run) and rejects
 * sites outside the layout. A site with a dependent support gets its
 * unconstrained value (in `unconstrained`), mapped by the bijector of the
 * distribution at hand, whose log-Jacobian is added to `logDet`.
 */
function substituteLayout(layout: Layout, chains: number | undefined): Handler & { values: Record<string, Value>; unconstrained: Record<string, tf.Tensor>; logDet: tf.Tensor | undefined } {
  const known = new Map(layout.sites.map((s) => [s.address, s]));
  return {
    values: {},
    unconstrained: {},
    logDet: undefined,
    process(msg: Message) {
      if (msg.type !== 'sample') return;
      markTraceSite(msg.address, 'enter');
      if (msg.observed) return;
      const site = known.get(msg.address);
      if (site === undefined) {
        throw new ModelError(msg.address, 'this latent site was not present in the probe run; gradient-based samplers need a fixed set of continuous latent sites');
      }
      if (!site.dependentSupport) {
        msg.value = this.values[msg.address];
        return;
      }
      const u = this.unconstrained[msg.address]!;
      const bijector = bijectTo((msg.dist as Distribution).support);
      const v = bijector.forward(u);
      msg.value = v;
      const term = logDetTerm(bijector, u, v, chains);
      if (term) this.logDet = this.logDet ? tf.add(this.logDet, term) : term;
    },
    postprocess(msg: Message) {
      if (msg.type === 'sample') markTraceSite(msg.address, 'leave');
    },
  };
}

/** A site's summed log-Jacobian (per chain when batched), or undefined for identity bijectors. */
function logDetTerm(bijector: Bijector, u: tf.Tensor, v: Value, chains: number | undefined): tf.Tensor | undefined {
  if (bijector instanceof IdentityBijector) return undefined;
  const ld = bijector.logDetJacobian(u, v);
  return typeof ld === 'number' ? (ld === 0 ? undefined : tf.scalar(ld)) : sumTrailing(ld, chains === undefined ? 0 : 1);
}

/** Sum of all but the leading `keep` axes (nothing to do for rank <= keep). */
function sumTrailing(x: tf.Tensor, keep: number): tf.Tensor {
  if (x.rank <= keep) return x;
  return tf.sum(x, Array.from({ length: x.rank - keep }, (_, i) => i + keep));
}

/**
 * Constrained values of every site from the unconstrained tensor `qT`
 * (`[dim]`, or `[chains, dim]` when batched) and the summed log-Jacobian.
 * One split op unpacks all sites (its gradient is one concat); identity
 * bijectors add no log-Jacobian terms.
 */
function unpackSites(layout: Layout, qT: tf.Tensor, chains: number | undefined): { values: Record<string, Value>; unconstrained: Record<string, tf.Tensor>; logDet: tf.Tensor | undefined } {
  const values: Record<string, Value> = {};
  const unconstrained: Record<string, tf.Tensor> = {};
  const axis = chains === undefined ? 0 : 1;
  const parts = layout.sites.length === 1 ? [qT] : tf.split(qT, layout.sites.map((s) => s.size), axis);
  let logDet: tf.Tensor | undefined;
  layout.sites.forEach((s, k) => {
    // batched: [K, pad..., batch..., event...] — chain axis, reserved plate axes, then the site's own shape
    const shape = chains === undefined ? s.unconstrainedShape : [chains, ...new Array<number>(Math.max(0, layout.plateNesting - s.batchRank)).fill(1), ...s.unconstrainedShape];
    const part = parts[k]!;
    const u = sameShape(part.shape, shape) ? part : tf.reshape(part, shape);
    if (s.dependentSupport) {
      unconstrained[s.address] = u; // mapped when the model reaches the site (substituteLayout)
      return;
    }
    const v = s.bijector.forward(u);
    values[s.address] = v;
    const term = logDetTerm(s.bijector, u, v, chains);
    if (term) logDet = logDet ? tf.add(logDet, term) : term;
  });
  return { values, unconstrained, logDet };
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** One model run at an unconstrained point (see {@link modelRunFn}). */
export interface ModelRunAt<R> {
  /** The run's trace. */
  readonly trace: Trace;
  /** The model's return value. */
  readonly returnValue: R;
  /** The summed log-Jacobian of the sites' transforms (per chain when batched); undefined where all are identities. */
  readonly logDet: tf.Tensor | undefined;
}

/**
 * The model run at the unconstrained tensor `qT` (`[dim]`, or `[chains,
 * dim]` batched) with its latent sites substituted: unpack the sites, run
 * the model, check it reached every site of the layout. What
 * {@link logDensityTensorFn} weighs, and what the compiled completion of
 * MCMC draws records (`complete-draws.ts`).
 */
export function modelRunFn<A extends unknown[], R>(m: Model<A, R>, args: A, layout: Layout, chains: number | undefined, checkNaN = false): (qT: tf.Tensor) => Promise<ModelRunAt<R>> {
  const rng = rngFrom(0);
  const batch = chains === undefined ? undefined : { size: chains, plateNesting: layout.plateNesting };
  const handler = substituteLayout(layout, chains);
  return async (qT) => {
    const { values, unconstrained, logDet } = unpackSites(layout, qT, chains);
    handler.values = values;
    handler.unconstrained = unconstrained;
    handler.logDet = logDet;
    const { trace, returnValue } = await execute(m, { rng, ...(batch ? { batch } : {}), handlers: [handler], checkNaN }, ...args);
    // a site of the probe run that this run skipped (structure chosen by a value) would be a flat, unbounded direction
    const skipped = layout.sites.find((s) => !trace.has(s.address));
    if (skipped) throw new ModelError(skipped.address, 'this latent site was present in the probe run but not in this run: gradient-based samplers need a fixed set of continuous latent sites (the model chose its sites by a value)');
    return { trace, returnValue, logDet: handler.logDet };
  };
}

/**
 * The log density as a tensor function of the unconstrained tensor `qT`
 * (`[dim]`, or `[chains, dim]` giving `[chains]` log densities): unpack the
 * sites, run the model with them substituted, add the log-Jacobian. `weigh`
 * reads the run's trace (default: its log joint; tempered SMC weighs the
 * likelihood part by a temperature).
 */
export function logDensityTensorFn<A extends unknown[], R>(
  m: Model<A, R>,
  args: A,
  layout: Layout,
  chains: number | undefined,
  checkNaN = false,
  weigh: (trace: Trace, returnValue: unknown) => Value = (trace) => trace.logJoint(),
): (qT: tf.Tensor) => Promise<tf.Tensor> {
  const run = modelRunFn(m, args, layout, chains, checkNaN);
  return async (qT) => {
    const { trace, returnValue, logDet } = await run(qT);
    const lj = toTensor(weigh(trace, returnValue));
    return logDet ? tf.add(lj, logDet) : lj;
  };
}

/**
 * The error for a NaN log density at `q`: the model is run again there with
 * every site checked, so the error names the site whose log density is NaN
 * (a {@link ModelError}); a NaN from the transforms' log-Jacobian alone gets
 * a {@link TycheError} saying so. The same rule as every engine: NaN is an
 * error, never a rejection.
 */
export async function nanDensityError<A extends unknown[], R>(m: Model<A, R>, args: A, layout: Layout, q: Float64Array): Promise<Error> {
  const density = logDensityTensorFn(m, args, layout, undefined, true);
  const engine = tf.engine();
  engine.startScope('tyche-nan-check');
  try {
    await withNaNChecks(() => density(tf.tensor1d(Float32Array.from(q))));
  } catch (err) {
    return err instanceof Error ? err : new TycheError(String(err));
  } finally {
    engine.endScope();
  }
  const at = layout.names.map((n, i) => `${n} = ${q[i]}`).join(', ');
  return new TycheError(`the log density is NaN at ${at}, though no site's log density is: the NaN comes from the log-Jacobian of a site's transform to unconstrained space`);
}

/**
 * Whether some latent value at `q` leaves its support once mapped there in
 * float32, as the tfjs run maps it: the value is not finite (`exp` of an
 * unconstrained value above ~88.7 is Infinity), or it lands on the support's
 * boundary, where mapping it back is not finite (`exp` below ~-103 is 0; a
 * stick-breaking simplex far out has an exact 0 component, and `log` of it
 * is -Infinity, so a `tf.logSumExp` over such terms is NaN). The log density
 * there is NaN through float32's range, not through the model, so the
 * samplers reject the point (a divergence, as Stan rejects a proposal whose
 * parameters leave their domain) instead of stopping with an error. Sites
 * whose support depends on other values are mapped inside the model run and
 * not checked here.
 */
export function leavesSupportInFloat32(layout: Layout, q: Float64Array): boolean {
  return layout.sites.some((s) => {
    if (s.dependentSupport) return false;
    const slice = q.subarray(s.offset, s.offset + s.size);
    return tf.tidy(() => {
      const y = s.bijector.forward(tf.tensor(Float32Array.from(slice), s.unconstrainedShape)) as tf.Tensor;
      const back = s.bijector.inverse(y) as tf.Tensor;
      return !(allFinite(y.dataSync()) && allFinite(back.dataSync()));
    });
  });
}

/** Whether every element of `xs` is finite (a plain loop). */
function allFinite(xs: ArrayLike<number>): boolean {
  for (let i = 0; i < xs.length; i++) if (!Number.isFinite(xs[i])) return false;
  return true;
}

/**
 * log density and gradient at one point q (a tfjs computation; the model runs
 * once per call). Points where a distribution rejects its parameters get log
 * density -Infinity (see {@link rejectsPoint}); a NaN log density is an
 * error naming the site (see `nanDensityError`).
 */
export function logDensityFn<A extends unknown[], R>(m: Model<A, R>, args: A, layout: Layout, options: PotentialOptions = {}): Compiled<(q: Float64Array) => Promise<LogDensityAndGradient>> & {
  /** The log density alone from the compiled replay, synchronously, without the reverse pass; undefined where the replay does not serve `q` (then call the function). */
  readonly valueOnly: (q: Float64Array) => number | undefined;
  /** Log density and gradient from the compiled replay, synchronously (no await per gradient); undefined where the replay does not serve `q` (then call the function). */
  readonly sync: (q: Float64Array) => LogDensityAndGradient | undefined;
} {
  const density = logDensityTensorFn(m, args, layout, undefined);
  const viaTfjs = singlePointOnTfjs(density, layout.dim);
  const compiled = new CompiledDensity(density, [layout.dim], async (q) => {
    const r = await viaTfjs(q);
    return { logp: Float64Array.of(r.logp), grad: r.grad };
  }, options.compile ?? false, 1, false, true);
  const f = async (q: Float64Array): Promise<LogDensityAndGradient> => {
    const r = await compiled.evaluate(q);
    if (Number.isNaN(r.logp[0])) {
      if (leavesSupportInFloat32(layout, q)) return { logp: -Infinity, grad: new Float64Array(layout.dim) };
      throw await nanDensityError(m, args, layout, q);
    }
    return { logp: r.logp[0]!, grad: r.grad };
  };
  const sync = (q: Float64Array): LogDensityAndGradient | undefined => {
    const r = compiled.evaluateSync(q);
    return r && !Number.isNaN(r.logp[0]) ? { logp: r.logp[0]!, grad: r.grad } : undefined;
  };
  return Object.assign(f, { compileStatus: () => compiled.status, compileStats: () => compiled.stats, valueOnly: (q: Float64Array) => compiled.valueSync(q), sync });
}

/**
 * log density and gradient for K chains at once from a model written for ONE
 * chain: the model is recorded once at a single point (`backend/jit`) and the
 * record is replayed in float64 for each row of q (K rows of `dim`), so the
 * model never sees a chain axis (a `vmap` of the single-chain density). Rows
 * the replay cannot serve (a validity guard changed) run the model on tfjs
 * for that row alone; where the model cannot be compiled at all
 * (`compileStatus()` says why), every row runs on tfjs, one after the other.
 * `compile` defaults to `true` here; `'auto'` declines the replay when tfjs
 * is expected to be faster on the data (then a batched model run may be).
 * An answer from the replay is written into the same two arrays on every
 * call: read it before the next call (as the samplers do).
 */
export function replayedChainsLogDensityFn<A extends unknown[], R>(m: Model<A, R>, args: A, layout: Layout, chains: number, options: PotentialOptions = {}): Compiled<(q: Float64Array) => MaybePromise<BatchedLogDensityAndGradient>> & {
  readonly work: () => { elements: number; kernels: number } | undefined;
  /** The replay alone for any number of rows, synchronously (see `CompiledDensity.replayOnly`). */
  readonly replayOnly: (q: Float64Array) => BatchedLogDensityAndGradient | undefined;
  /** The compiled record as infer's numbers-versus-tensors check reads it, or undefined where the density is not compiled. */
  readonly replayed: () => ReplayedDensity | undefined;
} {
  // the sites of the run the first record was made from (a run while a trace records, before the record is in use)
  let recordedSites: Set<string> | undefined;
  // and the completion's values in that run (its deterministic sites: see recorded-outputs.ts)
  let recordedOutputs: RecordedOutputs | string | undefined;
  const dependent = new Set(layout.sites.filter((s) => s.dependentSupport).map((s) => s.address));
  const density = logDensityTensorFn(m, args, layout, undefined, false, (trace, returnValue) => {
    if (traceActive() && compiled.status !== true) {
      recordedSites = scoredSites(trace);
      recordedOutputs = recordOutputs(trace, returnValue, dependent);
    }
    return trace.logJoint();
  });
  const viaTfjs = singlePointOnTfjs(density, layout.dim);
  const compiled = new CompiledDensity(density, [layout.dim], async (q) => {
    const r = await viaTfjs(q);
    return { logp: Float64Array.of(r.logp), grad: r.grad };
  }, options.compile ?? true, chains, true, true);
  const slow = async (q: Float64Array): Promise<BatchedLogDensityAndGradient> => {
    const r = await compiled.evaluate(q);
    for (let row = 0; row < r.logp.length; row++) {
      if (!Number.isNaN(r.logp[row])) continue;
      const at = q.slice(row * layout.dim, (row + 1) * layout.dim);
      if (!leavesSupportInFloat32(layout, at)) throw await nanDensityError(m, args, layout, at);
      r.logp[row] = -Infinity;
      r.grad.fill(0, row * layout.dim, (row + 1) * layout.dim);
    }
    return r;
  };
  // the compiled replay answers synchronously (no await per gradient) where it serves every row
  const f = (q: Float64Array): MaybePromise<BatchedLogDensityAndGradient> => {
    const r = compiled.evaluateSync(q);
    return r && !hasNaN(r.logp) ? r : slow(q);
  };
  const replayed = (): ReplayedDensity | undefined => {
    if (compiled.status !== true || recordedSites === undefined) return undefined;
    const record = compiled.record;
    const outputs = record && typeof recordedOutputs === 'object' ? { record, outputs: recordedOutputs } : undefined;
    return { layout, sites: recordedSites, logDensity: (q: Float64Array) => compiled.peek(q), ...(outputs ? { outputs } : {}) };
  };
  return Object.assign(f, { compileStatus: () => compiled.status, compileStats: () => compiled.stats, work: () => compiled.work, replayOnly: (q: Float64Array) => compiled.replayOnly(q), replayed });
}

/**
 * A compiled log density as infer's numbers-versus-tensors check reads it
 * (`infer/branch-check.ts`): the layout, the addresses of the sites the
 * record's run scored, and the replay's log density at one unconstrained
 * point (undefined where a validity guard of every record changed).
 */
export interface ReplayedDensity {
  readonly layout: Layout;
  readonly sites: ReadonlySet<string>;
  readonly logDensity: (q: Float64Array) => number | undefined;
  /** The record in use, with the completion's values picked out of its run (`recorded-outputs.ts`), where it could give them. */
  readonly outputs?: { readonly record: { readonly graph: Graph; readonly point: Float64Array }; readonly outputs: RecordedOutputs };
}

/** The addresses of a trace's scored sites (samples, observed or not, and factors). */
function scoredSites(trace: Trace): Set<string> {
  const out = new Set<string>();
  for (const s of trace) if (s.type === 'sample' || s.type === 'factor') out.add(s.address);
  return out;
}

/** Whether `xs` holds a NaN (a plain loop: `some(Number.isNaN)` boxed every element it passed). */
function hasNaN(xs: Float64Array): boolean {
  for (let i = 0; i < xs.length; i++) if (Number.isNaN(xs[i])) return true;
  return false;
}

/** One point's log density and gradient by running `density` (of `[dim]` inputs) on tfjs (float32); a rejected point gets -Infinity. */
export function singlePointOnTfjs(density: (qT: tf.Tensor) => Promise<tf.Tensor>, dim: number): (q: Float64Array) => Promise<LogDensityAndGradient> {
  return async (q: Float64Array): Promise<LogDensityAndGradient> => {
    const qT = tf.tensor1d(Float32Array.from(q));
    try {
      const { value, grads } = await valueAndGradsAsync(() => density(qT), [qT]);
      const logp = value.dataSync()[0];
      const grad = Float64Array.from(grads[0].dataSync());
      value.dispose();
      grads.forEach((g) => g.dispose());
      return { logp, grad };
    } catch (err) {
      if (rejectsPoint(err)) return { logp: -Infinity, grad: new Float64Array(dim) };
      throw err;
    } finally {
      qT.dispose();
    }
  };
}

/**
 * log density and gradient for K chains at once: q holds K rows of `dim`
 * coordinates; the model runs once, batched over a leading chain axis. When a
 * distribution rejects its parameters somewhere in the batch, the rows are
 * evaluated one at a time so that only the offending rows get -Infinity.
 */
export function batchedLogDensityFn<A extends unknown[], R>(m: Model<A, R>, args: A, layout: Layout, chains: number, options: PotentialOptions = {}): Compiled<(q: Float64Array) => Promise<BatchedLogDensityAndGradient>> {
  const density = logDensityTensorFn(m, args, layout, chains);
  let single: ((q: Float64Array) => Promise<LogDensityAndGradient>) | undefined;
  const viaTfjs = async (q: Float64Array): Promise<BatchedLogDensityAndGradient> => {
    const qT = tf.tensor2d(Float32Array.from(q), [chains, layout.dim]);
    let logp = new Float64Array(chains);
    try {
      const { value, grads } = await valueAndGradsAsync(async () => {
        const lj = await density(qT);
        logp = Float64Array.from(lj.dataSync());
        return tf.sum(lj);
      }, [qT]);
      value.dispose();
      const grad = Float64Array.from(grads[0].dataSync());
      grads.forEach((g) => g.dispose());
      return { logp, grad };
    } catch (err) {
      if (!rejectsPoint(err)) throw err;
      single ??= logDensityFn(m, args, layout);
      const grad = new Float64Array(chains * layout.dim);
      logp = new Float64Array(chains);
      for (let c = 0; c < chains; c++) {
        const r = await single(q.subarray(c * layout.dim, (c + 1) * layout.dim));
        logp[c] = r.logp;
        grad.set(r.grad, c * layout.dim);
      }
      return { logp, grad };
    } finally {
      qT.dispose();
    }
  };
  const compiled = new CompiledDensity(density, [chains, layout.dim], viaTfjs, options.compile ?? false);
  const f = async (q: Float64Array): Promise<BatchedLogDensityAndGradient> => {
    const r = await compiled.evaluate(q);
    const bad = r.logp.findIndex(Number.isNaN);
    if (bad >= 0) throw await nanDensityError(m, args, layout, q.slice(bad * layout.dim, (bad + 1) * layout.dim));
    return r;
  };
  return Object.assign(f, { compileStatus: () => compiled.status, compileStats: () => compiled.stats });
}
