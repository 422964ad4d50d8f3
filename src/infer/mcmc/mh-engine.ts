/**
 * `infer(model, { method: 'mh', ... })`: single-site Metropolis–Hastings over
 * traces, optionally with Gibbs updates for finite discrete sites. Works for
 * any model, including stochastic control flow.
 *
 * @module
 */
import { ZeroDensityError, rejectsPoint } from '../../core/errors.js';
import type * as tf from '@tensorflow/tfjs-core';
import { tidyAsync } from '../../backend/autodiff.js';
import type { Model } from '../../core/model.js';
import { type Rng, rngFrom } from '../../core/rng.js';
import type { Draw } from '../posterior.js';
import { Posterior, disposeDraws } from '../posterior.js';
import { Pacer } from '../pace.js';
import { type CommonOptions, registerEngine } from '../registry.js';
import { type SiteProposal, type TraceState, gibbsUpdate, leanGibbsDraw, mhStep, runWithValues } from './trace-mh.js';
import type { Distribution } from '../../distributions/distribution.js';
import type { Value } from '../../core/value.js';
import { disposeDropped, nextTensorId, reachableTensors } from './state-tensors.js';
import { VectorizedGibbs } from './vector-gibbs.js';
import { LeanGibbs } from './lean-gibbs.js';
import { CompiledMH } from './compiled-mh.js';
import { type SiteDraws, unmovedSites } from '../../diagnostics/unmoved.js';
import { fixedBySupport } from './constraint-fixed.js';

/** Options of `infer(model, { method: 'mh', ... })`. */
export interface MHOptions extends CommonOptions {
  readonly method: 'mh';
  /** Draws kept per chain (default 1000). */
  readonly samples?: number;
  /** Steps discarded at the start of each chain (default: samples / 2). */
  readonly warmup?: number;
  /** Steps per kept draw (default 1). */
  readonly thin?: number;
  /** Independent chains (default 1; run one after another). */
  readonly chains?: number;
  /** Per-address proposals (default: propose from the site's prior). */
  readonly proposals?: Readonly<Record<string, SiteProposal>>;
  /** Update finite discrete sites by Gibbs (enumerating their values) instead of MH (default false). */
  readonly gibbs?: boolean;
  /**
   * With `gibbs`: weigh all values of a discrete site in one vectorised model
   * run instead of one run per value, where the model's code broadcasts over
   * the site's values (checked at each site's first update; a site that fails
   * the check falls back, and `diagnostics.gibbsVectorized` says why).
   * Default true.
   */
  readonly vectorizeGibbs?: boolean;
  /**
   * Score proposals with the compiled float64 log density (no model run for
   * a rejected proposal; see `compiled-mh.ts`) where every latent site is
   * continuous and always present and the density compiles. Default true;
   * `diagnostics.compiled` says whether it was used, or why not.
   */
  readonly compile?: boolean;
  /** Called every `progressEvery` steps (default 100) with the steps done and the total. */
  readonly onProgress?: (done: number, total: number) => void;
  /** Stops the run (the promise rejects with the signal's reason). */
  readonly signal?: AbortSignal;
}

const INIT_TRIES = 1000;

/** Draw traces from the prior until one has positive probability. */
export async function initialTrace<A extends unknown[], R>(m: Model<A, R>, args: A, rng: Rng): Promise<TraceState<R>> {
  for (let i = 0; i < INIT_TRIES; i++) {
    // an invalid distribution parameter means density zero here, as in every engine (rejectsPoint)
    const s = await runWithValues(m, args, () => undefined, rng.split()).catch((err: unknown) => {
      if (rejectsPoint(err)) return undefined;
      throw err;
    });
    if (s === undefined) continue;
    if (s.logJoint > -Infinity) return s;
    s.trace.disposeLogProbs();
  }
  throw new ZeroDensityError(`mh: no initial trace with positive probability in ${INIT_TRIES} draws from the prior (are the observations possible under the model?)`);
}

/** Single-site MH (with optional Gibbs for discrete sites), several chains. */
export async function mh<A extends unknown[], R>(m: Model<A, R>, options: Omit<MHOptions, 'method'>, args: A): Promise<Posterior<A, R>> {
  const samples = options.samples ?? 1000;
  const warmup = options.warmup ?? Math.floor(samples / 2);
  const thin = options.thin ?? 1;
  const chains = options.chains ?? 1;
  for (const [k, v] of Object.entries({ samples, thin, chains })) {
    if (!Number.isInteger(v) || v <= 0) throw new RangeError(`mh: ${k} must be a positive integer, got ${v}`);
  }
  if (!Number.isInteger(warmup) || warmup < 0) throw new RangeError(`mh: warmup must be a nonnegative integer, got ${warmup}`);
  let rng = rngFrom(options.seed ?? 0);
  const draws: Draw<R>[] = [];
  const acceptance: number[] = [];
  const vectorized = options.vectorizeGibbs === false ? undefined : new VectorizedGibbs();
  // a discrete site's values weighed by runs on plain numbers where the model allows (bit-identical weights)
  const lean = options.gibbs ? new LeanGibbs(m, args, options.signal) : undefined;
  const total = chains * (warmup + samples * thin);
  let done = 0;
  // tensors created from here on belong to the run; the user's own (data in args) are never disposed
  const sinceId = nextTensorId();
  const pinned = new Set<tf.Tensor>(); // reached by kept draws
  const pace = new Pacer(options.signal);
  let reached = new Set<tf.Tensor>(); // reached by the current state
  let gibbsRuns = 0;
  let fast: CompiledMH<A, R> | undefined;
  let compiled: true | string = options.compile === false ? 'compile: false' : options.gibbs ? 'gibbs: true' : 'not tried';
  let gibbsMs = 0;
  const continuous = new Set<string>(); // continuous latent sites met in a kept draw
  const fixedOf = new Map<string, ReadonlySet<number>>(); // their elements that the support fixes (an LKJ factor's 1 and zeros)
  try {
    await mhChains();
    if (fast?.abandoned !== undefined) {
      // the compiled density disagreed with a model run: every move made with it is suspect, so the
      // run starts again (same seed) on the model-running kernel
      disposeDropped(reached, new Set(), pinned, sinceId);
      disposeDraws(draws, args, sinceId);
      draws.length = 0;
      acceptance.length = 0;
      pinned.clear();
      reached = new Set();
      rng = rngFrom(options.seed ?? 0);
      done = gibbsRuns = gibbsMs = 0;
      compiled = `abandoned, the run restarted on model runs: ${fast.abandoned}`;
      fast = undefined;
      await mhChains();
    }
  } catch (err) {
    // a failed or aborted run frees what it made
    disposeDropped(reached, new Set(), pinned, sinceId);
    disposeDraws(draws, args, sinceId);
    throw err;
  }
  if (fast && !fast.compiled) compiled = `stopped: ${String(fast.compiledStatus())}`;
  const unmoved = unmovedSites(drawSites(draws, continuous, fixedOf));
  const diagnostics = { acceptance, chains, compiled, ...(unmoved.length > 0 ? { unmoved } : {}), ...(fast ? { compiledEvaluations: fast.evaluations, modelRuns: fast.runs } : {}), ...(options.gibbs ? { gibbsModelRuns: gibbsRuns, gibbsMs, gibbsLean: lean?.off ?? true, gibbsLeanRuns: lean?.runs ?? 0, ...(vectorized ? { gibbsVectorized: vectorized.report() } : {}) } : {}) };
  return new Posterior({ method: 'mh', draws, diagnostics, model: m, args, tensorsSince: sinceId });

  async function mhChains(): Promise<void> {
    for (let c = 0; c < chains; c++) {
      const r = rng.split();
      let state = await tidyAsync(() => initialTrace(m, args, r), (s) => [...reachableTensors(s)]);
      reached = reachableTensors(state);
      if (compiled === 'not tried') {
        const k = await tidyAsync(() => CompiledMH.build(m, args, state, options.seed ?? 0), () => []);
        if (typeof k === 'string') compiled = k;
        else {
          fast = k;
          compiled = true;
        }
      }
      let accepted = 0;
      let proposals = 0;
      let drawnState: TraceState<R> | undefined;
      let drawnValues: Record<string, Value> = {};
      for (let it = 0; it < warmup + samples * thin; it++) {
        if (fast?.abandoned !== undefined) return; // the caller starts again without it
        if (pace.due()) await pace.pause();
        const latents = options.gibbs ? [...state.trace].filter((s) => s.type === 'sample' && !s.observed) : [];
        const pick = latents.length > 0 ? latents[r.int(latents.length)] : undefined;
        const gibbsSite = pick !== undefined && (pick.dist as Distribution).enumerateSupport() !== undefined;
        // a Gibbs update's lean runs on plain numbers outside the gradient lock (whose AsyncLocalStorage puts
        // Node's promise hooks on every await); the run at the drawn value, inside (session 18)
        const t0 = performance.now();
        const leanDrawn = gibbsSite && lean !== undefined && lean.off === undefined ? await leanGibbsDraw(state, pick.address, r, lean) : undefined;
        if (gibbsSite) gibbsMs += performance.now() - t0;
        // each step in its own tensor scope: what the new state reaches is kept, the rest of the step's tensors go
        const { next, wasProposal, wasAccepted } = await tidyAsync(
          async () => {
            if (gibbsSite) {
              const t0 = performance.now();
              const step = await gibbsUpdate(m, args, state, pick.address, r, { vectorized, ...(lean ? { lean } : {}), ...(leanDrawn ? { leanDrawn } : {}) });
              gibbsRuns += step.runs;
              const next = step.state;
              gibbsMs += performance.now() - t0;
              return { next, wasProposal: false, wasAccepted: false };
            }
            const step = fast?.compiled ? await fast.step(state, r, { proposals: options.proposals }) : await mhStep(m, args, state, r, { proposals: options.proposals });
            return { next: step.state, wasProposal: true, wasAccepted: step.accepted };
          },
          // a rejected move keeps the state: what it reaches is known
          (o) => [...(o.next === state ? reached : reachableTensors(o.next))],
        );
        if (wasProposal) proposals++;
        if (wasAccepted) accepted++;
        if (next !== state) {
          const now = reachableTensors(next);
          disposeDropped(reached, now, pinned, sinceId);
          reached = now;
          state = next;
        }
        if (it >= warmup && (it - warmup + 1) % thin === 0) {
          // consecutive draws of an unchanged state share one values record (its tensors are pinned already)
          if (drawnState !== state) {
            drawnValues = state.trace.values();
            for (const s of state.trace) {
              if (s.type !== 'sample' || s.observed || (s.dist as Distribution).isDiscrete) continue;
              continuous.add(s.address);
              if (!fixedOf.has(s.address)) fixedOf.set(s.address, fixedBySupport(s.dist as Distribution, s.value as Value));
            }
            reachableTensors(drawnValues, pinned);
            reachableTensors(state.returnValue, pinned);
            drawnState = state;
          }
          const draw = { values: drawnValues, returnValue: state.returnValue, logWeight: 0, chain: c };
          draws.push(draw);
        }
        done++;
        if (options.onProgress && done % 100 === 0) options.onProgress(done, total);
      }
      // the chain's last state: keep what its draws use
      disposeDropped(reached, new Set(), pinned, sinceId);
      acceptance.push(proposals === 0 ? NaN : accepted / proposals);
    }
  }
}

/**
 * The kept draws of each continuous latent site, for `unmovedSites` (a draw
 * that shares the previous one's record hands the same row: read once).
 */
function drawSites(draws: readonly Draw<unknown>[], continuous: ReadonlySet<string>, fixedOf: ReadonlyMap<string, ReadonlySet<number>>): SiteDraws[] {
  return [...continuous].map((address) => {
    let shape: readonly number[] = [];
    for (const d of draws) {
      const v = d.values[address];
      if (v !== undefined) {
        shape = typeof v === 'number' ? [] : (v as tf.Tensor).shape;
        break;
      }
    }
    const rows = function* () {
      let last: Record<string, Value> | undefined;
      let row: ArrayLike<number> | undefined;
      for (const d of draws) {
        if (!(address in d.values)) {
          yield undefined;
          continue;
        }
        if (d.values !== last) {
          last = d.values;
          const v = d.values[address]!;
          row = typeof v === 'number' ? [v] : (v as tf.Tensor).dataSync();
        }
        yield row;
      }
    };
    const fixed = fixedOf.get(address);
    return { address, shape, rows: rows(), ...(fixed && fixed.size > 0 ? { fixed } : {}) };
  });
}

registerEngine<MHOptions>({
  name: 'mh',
  options: ['samples', 'warmup', 'thin', 'chains', 'proposals', 'gibbs', 'vectorizeGibbs', 'compile', 'onProgress', 'signal'],
  description: 'single-site Metropolis–Hastings over traces (any model), optionally Gibbs on discrete sites',
  run: (m, options, args) => mh(m, options, args),
});
