/**
 * Choosing how K chains evaluate their log densities together, so that a
 * model written for one chain runs vectorised without the user ever seeing a
 * chain axis.
 *
 * In order of preference:
 *
 * 1. **replay**: the model is recorded once at a single point and the record
 *    is replayed in float64 for each chain (`replayedChainsLogDensityFn`).
 *    Any model the recorder accepts runs this way, whatever shapes it uses
 *    (recursions, stacks of scalars, GP kernels), and in double precision.
 * 2. **batched model run**: the model runs once on tfjs with a leading chain
 *    axis on every latent value (float32). Used where the replay is refused
 *    (the model reads parameter-dependent values) or, with `compile: 'auto'`,
 *    where tfjs is expected to be faster on the data, provided the model's
 *    shapes broadcast over the chain axis.
 * 3. Otherwise the caller runs the chains one after the other, and
 *    `vectorized` says why.
 *
 * @module
 */
import type { Model } from '../../core/model.js';
import { type CompileMode, type CompileStats, TFJS_FASTER } from './compiled-density.js';
import { type Layout, type ReplayedDensity, batchedLogDensityFn, replayedChainsLogDensityFn } from './potential.js';
import type { BatchedLogDensityAndGradient, MaybePromise } from './target.js';

/** How vectorised chains evaluate their log densities (reported as `diagnostics.chainsPath`). */
export type ChainsPath = 'replay' | 'batched model run';

/** Human-readable descriptions of each {@link ChainsPath}, for diagnostics. */
export const CHAINS_PATH_NOTE: Record<ChainsPath, string> = {
  replay: 'replay: the single-chain record of the model replayed in float64 for each chain',
  'batched model run': 'batched model run: the model ran once on tfjs (float32) with a leading chain axis',
};

/** A batched target for K chains, with how it was built. */
export interface VectorisedChains {
  /** The batched log density and gradient, or undefined when the chains must run one after the other. */
  readonly target?: (q: Float64Array) => MaybePromise<BatchedLogDensityAndGradient>;
  /** `true` when `target` is set, else why the chains cannot be vectorised. */
  readonly vectorized: true | string;
  readonly path?: ChainsPath;
  /** Whether the target's log density is compiled (`true`) or why not. */
  readonly compileStatus: () => true | string;
  readonly compileStats: () => CompileStats | undefined;
  /** On the replay path: the compiled record, for infer's numbers-versus-tensors check (`infer/branch-check.ts`). */
  readonly replayed?: () => ReplayedDensity | undefined;
}

function firstLine(err: unknown): string {
  return err instanceof Error ? err.message.split('\n')[0]! : String(err);
}

/** Fixed points in [-2, 2]^D (every row alike) to record at when the probe's self-check fails. */
function otherProbes(probe: Float64Array, chains: number): Float64Array[] {
  const dim = probe.length / chains;
  return [0.7, 1.9, 3.1].map((phase) => {
    const row = Array.from({ length: dim }, (_, i) => 2 * Math.sin(2.3 * i + phase));
    return Float64Array.from({ length: probe.length }, (_, k) => row[k % dim]!);
  });
}

/**
 * The best vectorised evaluator of `m`'s log density for `chains` chains
 * (see the module notes). `probe` (K rows of `layout.dim`) is evaluated once
 * to decide; `compile: false` (float32 on tfjs, an explicit choice) skips the
 * replay.
 */
export async function vectorisedChains<A extends unknown[], R>(m: Model<A, R>, args: A, layout: Layout, chains: number, compile: CompileMode, probe: Float64Array): Promise<VectorisedChains> {
  let declined: ReturnType<typeof replayedChainsLogDensityFn> | undefined;
  let replayWhyNot = 'compile: false';
  if (compile !== false) {
    // the record is self-checked at the probe; a probe where the log density's gradient is singular (a sqrt of an
    // exp that underflows at the origin, say) fails that check for the point, not for the model, so a few other
    // points are tried (fixed, so a seeded run is reproducible)
    for (const at of [probe, ...otherProbes(probe, chains)]) {
      const replay = replayedChainsLogDensityFn(m, args, layout, chains, { compile });
      try {
        await replay(at);
        const status = replay.compileStatus();
        if (status === true) return { target: replay, vectorized: true, path: 'replay', compileStatus: replay.compileStatus, compileStats: replay.compileStats, replayed: replay.replayed };
        replayWhyNot = status;
        if (status.startsWith(TFJS_FASTER)) declined = replayedChainsLogDensityFn(m, args, layout, chains, { compile: true });
      } catch (err) {
        replayWhyNot = `replay failed: ${firstLine(err)}`;
      }
      if (!replayWhyNot.startsWith('self-check failed')) break;
    }
  }
  const batched = batchedLogDensityFn(m, args, layout, chains, { compile });
  try {
    await batched(probe);
    return { target: batched, vectorized: true, path: 'batched model run', compileStatus: batched.compileStatus, compileStats: batched.compileStats };
  } catch (err) {
    if (declined) {
      // the model does not run batched: the replay tfjs was expected to beat is still far better than K runs on tfjs
      await declined(probe);
      if (declined.compileStatus() === true) return { target: declined, vectorized: true, path: 'replay', compileStatus: declined.compileStatus, compileStats: declined.compileStats, replayed: declined.replayed };
    }
    return {
      vectorized: `fell back to sequential chains: the model could not be replayed (${replayWhyNot}) and did not run batched (${firstLine(err)})`,
      compileStatus: () => replayWhyNot,
      compileStats: () => undefined,
    };
  }
}
