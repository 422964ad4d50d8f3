/**
 * The compiled float64 path of `tempered`: a model whose latent sites are
 * continuous and always the same becomes a {@link TemperedTarget} over rows
 * (its log density recorded once with the likelihood scaled by an input β,
 * see `scaled-density.ts`), and tempered SMC runs on the rows
 * (`tempered-rows.ts`). Particles start as prior draws (model runs, as on
 * the per-particle path) mapped to unconstrained space; a run that fails in
 * float32 after drawing every latent site still gives its draw, which the
 * float64 record then weighs.
 *
 * {@link compiledTempered} returns why not (`{ notCompiled }`) for a model
 * that cannot take this path: a discrete latent site, latent sites that
 * change between runs, or a record the compiler refuses. The caller then
 * runs the per-particle path.
 *
 * @module
 */
import { tidyAsync } from '../../backend/autodiff.js';
import { rejectsPoint, ZeroDensityError } from '../../core/errors.js';
import { type Model, execute } from '../../core/model.js';
import type { Rng } from '../../core/rng.js';
import { Trace, siteOf } from '../../core/trace.js';
import type { Handler, Message } from '../../core/message.js';
import { completeDraws } from '../mcmc/complete-draws.js';
import { drawsFromSamples } from '../mcmc/hmc-engine.js';
import { type Layout, layoutOnly, unconstrain } from '../mcmc/potential.js';
import { Pacer } from '../pace.js';
import type { Draw } from '../posterior.js';
import { ScaledDensity, priorAndLikelihood } from '../scaled-density.js';
import type { CompileStats } from '../mcmc/compiled-density.js';
import { type TemperedRowsOptions, type TemperedRowsResult, temperedRows } from './tempered-rows.js';

/** Prior draws tried per particle before giving up (a draw the model rejects is drawn again, as on the per-particle path). */
const INIT_TRIES = 100;

/** What the compiled path returns. */
export interface CompiledTemperedRun<R> {
  readonly draws: Draw<R>[];
  readonly result: TemperedRowsResult;
  /** How the record's evaluations were served (replayed, or on tfjs for a changed validity guard). */
  readonly compileStats: CompileStats;
}

function firstLine(err: unknown): string {
  return err instanceof Error ? err.message.split('\n')[0]! : String(err);
}

/** Why a trace's latent sites do not fit the layout (undefined when they do). */
function layoutMismatch(layout: Layout, trace: Trace): string | undefined {
  const latent = trace.latentSites();
  if (latent.length !== layout.sites.length) return `the latent sites change between runs (${latent.length} sites in one run, ${layout.sites.length} in another)`;
  for (let i = 0; i < latent.length; i++) {
    const site = layout.sites[i]!;
    const s = latent[i]!;
    const shape = typeof s.value === 'number' ? [] : s.value.shape;
    if (s.address !== site.address || shape.length !== site.shape.length || shape.some((d, k) => d !== site.shape[k])) {
      return `the latent sites change between runs (site "${s.address}" where "${site.address}" of shape [${site.shape.join(', ')}] was)`;
    }
  }
  return undefined;
}

/**
 * A handler for prior draws: it keeps the latent sites of a run as they are
 * drawn, so that a run the model rejects after its last latent site (a
 * float32 failure in the likelihood, e.g. a Cholesky with tiny jitter) still
 * gives its draw, and it skips the observed sites' log densities (a prior
 * draw does not need them; the float64 record computes them).
 */
function latentSpy(): Handler & { trace: Trace } {
  return {
    trace: new Trace(),
    process(msg: Message) {
      if (msg.type === 'sample' && msg.observed) msg.logProb = 0;
    },
    postprocess(msg: Message) {
      if (msg.type === 'sample' && !msg.observed && !this.trace.has(msg.address)) this.trace.add(siteOf(msg));
    },
  };
}

/**
 * `n` prior draws in unconstrained space (rows), or why they do not fit one
 * layout. A draw is the latent values of a model run; a run the model
 * rejects before it has drawn every latent site is drawn again. (The
 * likelihood is not needed here: the float64 record weighs it.)
 */
/**
 * Why rows drawn from the prior cannot start the path: a `scale` or `mask`
 * handler on a latent site (the record's prior is the scaled one; the
 * per-particle path weighs the difference), or undefined.
 */
function scaledLatent(trace: Trace): string | undefined {
  for (const s of trace) {
    if (s.type === 'sample' && !s.observed && (s.scale !== 1 || s.mask !== true)) return `a scale or mask handler on latent site "${s.address}" (the per-particle path weighs it)`;
  }
  return undefined;
}

async function priorRows<A extends unknown[], R>(m: Model<A, R>, args: A, layout: Layout, n: number, rng: Rng, pace: Pacer): Promise<Float64Array | { notCompiled: string }> {
  const rows = new Float64Array(n * layout.dim);
  for (let i = 0; i < n; i++) {
    let row: Float64Array | string | undefined;
    for (let k = 0; k < INIT_TRIES && row === undefined; k++) {
      if (pace.due()) await pace.pause();
      const r = rng.split();
      row = await tidyAsync(
        async () => {
          const spy = latentSpy();
          let trace: Trace;
          try {
            trace = (await execute(m, { rng: r, handlers: [spy] }, ...args)).trace;
          } catch (err) {
            if (!rejectsPoint(err) || layoutMismatch(layout, spy.trace) !== undefined) throw err;
            trace = spy.trace;
          }
          return layoutMismatch(layout, trace) ?? scaledLatent(trace) ?? unconstrain(layout, trace);
        },
        () => [],
      ).catch((err: unknown) => {
        if (rejectsPoint(err)) return undefined;
        throw err;
      });
    }
    if (row === undefined) throw new ZeroDensityError(`tempered: no prior draw with positive probability in ${INIT_TRIES} tries (are the observations possible under the model?)`);
    if (typeof row === 'string') return { notCompiled: row };
    rows.set(row, i * layout.dim);
  }
  return rows;
}

/** The layout of `m`'s latent sites, from the first of a few prior runs the model does not reject. */
async function layoutOfModel<A extends unknown[], R>(m: Model<A, R>, args: A, rng: Rng): Promise<Layout | { notCompiled: string }> {
  let last: unknown;
  for (let k = 0; k < 10; k++) {
    try {
      return await layoutOnly(m, args, rng.split());
    } catch (err) {
      if (!rejectsPoint(err)) return { notCompiled: firstLine(err) };
      last = err;
    }
  }
  return { notCompiled: `every prior run tried was rejected (${firstLine(last)})` };
}

/**
 * Tempered SMC on the compiled float64 record of `m`, or why it cannot run
 * so (`notCompiled`).
 */
export async function compiledTempered<A extends unknown[], R>(
  m: Model<A, R>,
  args: A,
  n: number,
  rng: Rng,
  options: Omit<TemperedRowsOptions, 'rng'>,
): Promise<CompiledTemperedRun<R> | { notCompiled: string }> {
  const layout = await layoutOfModel(m, args, rng.split());
  if ('notCompiled' in layout) return layout;
  if (layout.dim === 0) return { notCompiled: 'the model has no continuous latent sites' };
  const pace = new Pacer(options.signal);
  const init = await priorRows(m, args, layout, n, rng.split(), pace);
  if (!(init instanceof Float64Array)) return init;
  // the origin of unconstrained space first (moderate values, where a float32 run is accurate enough for the self-check), then prior draws
  const probes = [new Float64Array(layout.dim), ...Array.from({ length: Math.min(n, 4) }, (_, i) => init.slice(i * layout.dim, (i + 1) * layout.dim))];
  const density = await ScaledDensity.create(m, args, layout, priorAndLikelihood, n, probes);
  if (!(density instanceof ScaledDensity)) return { notCompiled: density.reason };
  const result = await temperedRows({ dim: layout.dim, evaluate: (q, beta, p) => density.evaluate(q, beta, p) }, init, { ...options, rng: rng.split() });
  const weighted = drawsFromSamples<R>(layout, { chains: 1, draws: n, samples: [result.q] }).map((d, i) => ({ values: d.values, returnValue: d.returnValue, logWeight: result.logWeights[i]! }));
  const draws = await completeDraws(m, args, layout, (i) => result.q.subarray(i * layout.dim, (i + 1) * layout.dim), weighted, {
    batched: false,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  return { draws, result, compileStats: density.stats };
}
