/**
 * Simulated data sets and the engines that are checked on them: the shared
 * plumbing of SBC and TARP.
 *
 * A {@link Simulation} is one draw of "true" parameters together with the
 * model (conditioned on data simulated from them) and its arguments. The
 * default {@link priorPredictive} simulator makes one from any model whose
 * observations are `observe` sites: it runs the model with every observed
 * site redrawn (the `uncondition` handler), keeps the latent values as the
 * truth, and conditions the model on the observations it drew. A custom
 * {@link Simulator} can instead put the simulated data in the model's
 * arguments (for models that read their data from an argument).
 *
 * @module
 */
import { conditionHandler, substituteHandler, unconditionHandler } from '../core/handlers.js';
import type { Handler } from '../core/message.js';
import { checkSeed } from '../core/options.js';
import { type Model, execute } from '../core/model.js';
import { type Rng, rngFrom, type Seed } from '../core/rng.js';
import { type Value, type ValueLike, isTensor, toArray, toNumber, unravelIndex } from '../core/value.js';
import { Posterior, type Draw } from '../infer/posterior.js';
import { type CommonOptions, QUIET_WARNINGS, infer } from '../infer/registry.js';
// register every built-in engine, so that `{ method }` options work from this entry point alone
import '../infer/index.js';
import { fullData } from '../infer/subsample.js';

/** One simulated data set with the parameter values that generated it. */
export interface Simulation<A extends unknown[] = unknown[], R = unknown> {
  /** The true values of the latent quantities, by address (scalars or arrays). */
  readonly params: Readonly<Record<string, ValueLike>>;
  /** The model to run inference on (already conditioned on the simulated data, if it is not in `args`). */
  readonly model: Model<A, R>;
  /** The model's arguments (holding the simulated data, if the model reads it from them). */
  readonly args: A;
  /** The simulated observations by address, when the simulator conditions the model on them. */
  readonly data?: Readonly<Record<string, Value>>;
}

/** Draws one {@link Simulation}; `index` counts simulations from 0. */
export type Simulator<A extends unknown[] = unknown[], R = unknown> = (rng: Rng, index: number) => Promise<Simulation<A, R>> | Simulation<A, R>;

/**
 * A user engine: any function that turns a model and its arguments into a
 * {@link Posterior} (a variational fit, a flow, a planted bug, ...).
 * `seed` differs between simulations; `simulation` is given for engines that
 * need more (e.g. an exact sampler that reads the simulated data).
 */
export type EngineFn<A extends unknown[] = unknown[], R = unknown> = (model: Model<A, R>, args: A, seed: number, simulation: Simulation<A, R>) => Promise<Posterior<A, R>>;

/** Options for `infer` (with `method`; `seed` is set per simulation), or an {@link EngineFn}. */
export type EngineSpec<A extends unknown[] = unknown[], R = unknown> = (CommonOptions & Readonly<Record<string, unknown>>) | EngineFn<A, R>;

/** A short name for an engine spec, for messages and tables. */
export function engineName(spec: EngineSpec<never[], unknown>): string {
  return typeof spec === 'function' ? spec.name || 'custom engine' : spec.method;
}

/** Run an engine on one simulation with the given seed. */
export async function runEngine<A extends unknown[], R>(spec: EngineSpec<A, R>, sim: Simulation<A, R>, seed: number): Promise<Posterior<A, R>> {
  if (typeof spec === 'function') return spec(sim.model, sim.args, seed, sim);
  if (spec === null || typeof spec !== 'object' || typeof spec.method !== 'string') {
    throw new TypeError('engine: expected infer options with a `method` (e.g. { method: "importance", particles: 1000 }) or a function returning a Posterior');
  }
  // the loops print a run's warnings once for all runs (see forEachSimulation), not once per run
  return infer(sim.model, { ...spec, seed, [QUIET_WARNINGS]: true }, ...sim.args);
}

/**
 * The prior predictive simulator of a model: each call runs `m` with its
 * observed sites redrawn, takes the latent (and deterministic) values as the
 * truth and conditions `m` on the observations it drew. `args` are passed to
 * every run; the observed values they hold only fix the shapes of the data.
 *
 * ```ts
 * const sim = priorPredictive(coin, [[0, 1, 1, 0]]);
 * const result = await sbc({ simulator: sim, engine: { method: 'importance', particles: 500 } });
 * ```
 */
export function priorPredictive<A extends unknown[], R>(m: Model<A, R>, args: A): Simulator<A, R> {
  return async (rng) => {
    // note which sites the model observes before `uncondition` turns them into draws
    const observed = new Set<string>();
    const spy: Handler = {
      process(msg) {
        if (msg.type === 'sample' && msg.observed) observed.add(msg.address);
      },
    };
    // simulated on the full data: a subsampled plate's data at its full size, which `condition` cuts to each run's subsample
    const { trace } = await execute(fullData(m), { rng, handlers: [spy, unconditionHandler()] }, ...args);
    if (observed.size === 0) throw new Error(`priorPredictive: model "${m.name}" has no observed sites to simulate`);
    const params: Record<string, Value> = {};
    const data: Record<string, Value> = {};
    for (const s of trace) {
      if (observed.has(s.address)) data[s.address] = s.value;
      else if (s.type === 'deterministic' || (s.type === 'sample' && !s.observed)) params[s.address] = s.value;
    }
    return { params, model: m.withHandler(conditionHandler(data)), args, data };
  };
}

/**
 * A {@link Posterior} made of equally weighted samples, for engines that
 * return plain draws (variational fits, flows, exact samplers).
 *
 * @param samples - per address, one value per draw (all the same length)
 */
export function posteriorFromSamples<A extends unknown[], R>(m: Model<A, R>, args: A, samples: Readonly<Record<string, ArrayLike<number> | readonly Value[]>>, method = 'samples'): Posterior<A, R> {
  const names = Object.keys(samples);
  if (names.length === 0) throw new Error('posteriorFromSamples: no sampled addresses');
  const n = samples[names[0]].length;
  for (const k of names) {
    if (samples[k].length !== n) throw new RangeError(`posteriorFromSamples: "${k}" has ${samples[k].length} draws, "${names[0]}" has ${n}`);
  }
  if (n === 0) throw new RangeError('posteriorFromSamples: no draws');
  const draws: Draw<R>[] = [];
  for (let i = 0; i < n; i++) {
    const values: Record<string, Value> = {};
    for (const k of names) values[k] = samples[k][i] as Value;
    draws.push({ values, returnValue: undefined as R, logWeight: 0 });
  }
  return new Posterior({ method, draws, model: m, args });
}

/**
 * Flatten values to scalars named as in `Posterior.summary`: a scalar site
 * keeps its address, element `(i, j)` of an array site is `addr[i,j]`.
 */
export function flattenValues(values: Readonly<Record<string, ValueLike>>): Map<string, number> {
  const out = new Map<string, number>();
  for (const [addr, v] of Object.entries(values)) {
    if (typeof v === 'number') out.set(addr, v);
    else if (typeof v === 'boolean') out.set(addr, v ? 1 : 0);
    else if (isTensor(v)) {
      if (v.rank === 0) out.set(addr, toNumber(v));
      else toArray(v).forEach((x, j) => out.set(`${addr}[${unravelIndex(j, v.shape).join(',')}]`, x));
    } else {
      const shape = shapeOfNested(v);
      flatNested(v).forEach((x, j) => out.set(`${addr}[${unravelIndex(j, shape).join(',')}]`, x));
    }
  }
  return out;
}

function shapeOfNested(v: unknown): number[] {
  const shape: number[] = [];
  let x = v;
  while (x !== null && typeof x === 'object' && 'length' in (x as object)) {
    const arr = x as ArrayLike<unknown>;
    shape.push(arr.length);
    x = arr[0];
  }
  return shape;
}

function flatNested(v: unknown): number[] {
  if (typeof v === 'number') return [v];
  return Array.from(v as ArrayLike<unknown>).flatMap((x) => flatNested(x));
}


/**
 * log p(observations | values) of a model: one run with the latent sites
 * fixed at `values` (sites not in `values` are drawn). The quantity whose
 * SBC ranks catch an engine that ignores the data.
 */
export async function logLikelihoodAt<A extends unknown[], R>(m: Model<A, R>, args: A, values: Readonly<Record<string, Value>>, rng: Rng): Promise<number> {
  // on the full data: a subsample's (scaled, random) log likelihood would rank the truth and the draws on different data
  const { trace } = await execute(fullData(m), { rng, handlers: [substituteHandler((msg) => values[msg.address])] }, ...args);
  const ll = trace.logLikelihood();
  const n = typeof ll === 'number' ? ll : toNumber(ll);
  if (isTensor(ll)) ll.dispose();
  trace.disposeLogProbs();
  return n;
}

/** Options shared by the simulation loops of SBC and TARP. */
export interface SimulationLoopOptions<A extends unknown[], R> {
  /** Draws simulations (e.g. {@link priorPredictive}). */
  readonly simulator: Simulator<A, R>;
  /** The engine under test. */
  readonly engine: EngineSpec<A, R>;
  /** Number of simulated data sets. */
  readonly simulations: number;
  /** Seed of the whole check (default 0). */
  readonly seed?: Seed;
  /** Called after each simulation. */
  readonly onProgress?: (done: number, total: number) => void;
}

/** Simulate, run the engine, and hand each (simulation, posterior, rng) to `visit`. */
export async function forEachSimulation<A extends unknown[], R>(options: SimulationLoopOptions<A, R>, visit: (sim: Simulation<A, R>, post: Posterior<A, R>, rng: Rng, index: number) => Promise<void> | void): Promise<void> {
  checkSeed('forEachSimulation', options.seed);
  const n = options.simulations;
  if (!Number.isInteger(n) || n <= 0) throw new RangeError(`simulations must be a positive integer, got ${n}`);
  const rng = rngFrom(options.seed ?? 0);
  // the engine's warnings (MCMC diagnostics, particle ESS), counted over the runs and printed once
  let warned = 0;
  let first: string | undefined;
  for (let i = 0; i < n; i++) {
    const simRng = rng.split();
    const sim = await options.simulator(simRng.split(), i);
    const post = await runEngine(options.engine, sim, simRng.uint32());
    if (post.warnings.length > 0) {
      warned += 1;
      first ??= post.warnings[0];
    }
    await visit(sim, post, simRng.split(), i);
    options.onProgress?.(i + 1, n);
  }
  if (warned > 0 && typeof options.engine !== 'function') {
    console.warn(`${engineName(options.engine)}: ${warned} of ${n} runs warned (each run's warnings are on its post.warnings); the first: ${first}`);
  }
}
