/**
 * The full conditional of one finite discrete site in ONE vectorised model
 * run: the site is given all of its values at once, as a tensor along a
 * dimension of its own to the left of every other dimension of the model
 * (as in parallel enumeration, `enumerate-parallel.ts`), so every later
 * computation broadcasts over the values, and each site's log density comes
 * out with that dimension in front. Summed per value, that is the log joint
 * of every candidate — what a Gibbs update needs — for the price of one run
 * instead of one run per value (112 for the coal-mining switchpoint).
 *
 * It needs model code that is tensor-aware in the site's value (`ops.lt`,
 * `ops.where`, ...; a JavaScript `if` or `+` on the draw cannot see a
 * tensor). That cannot be seen from outside, so a {@link VectorizedGibbs}
 * checks each site once, at its first update, against the one-run-per-value
 * weights, and falls back to those for good (saying why) where they differ,
 * where the run fails, or where the set of sites or a density's shape shows
 * the model did not broadcast. A check once per site cannot see a JS branch
 * on a tensor comparison that runs only for some values of other sites, so
 * EVERY vectorised run is also watched (`backend/condition-watch.ts`): a
 * boolean tensor the run made and never consumed means the model branched
 * on it, and vectorised updates stop for every site.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { tidyAsync } from '../../backend/autodiff.js';
import { openConditionWatch } from '../../backend/condition-watch.js';
import { branchOnTensorError } from '../../core/errors.js';
import type { Handler, Message } from '../../core/message.js';
import { type Model, execute } from '../../core/model.js';
import type { Rng } from '../../core/rng.js';
import { type Trace, maskedLogProb } from '../../core/trace.js';
import { type Value, shapeOf } from '../../core/value.js';

/** Tolerance of the once-per-site check, on log weights relative to the largest (float32 sums of many terms). */
const CHECK_TOL = 1e-3;
/** Candidates further than this below the best are not compared (their weights are negligible). */
const CHECK_RANGE = 30;

/** The number of dimensions to leave to the right of the values' dimension: the largest rank of a value or density in the trace. */
export function reservedRank(trace: Trace): number {
  let r = 0;
  for (const s of trace) r = Math.max(r, shapeOf(s.value).length, shapeOf(s.logProb).length);
  return r;
}

/** Sum of a site's masked, scaled log density per candidate value (shape [k]), or a reason why the run did not broadcast. */
function perValue(lp: Value, scale: number, k: number, rank: number, address: string): tf.Tensor | string {
  const t = typeof lp === 'number' ? tf.scalar(lp) : lp;
  let out: tf.Tensor;
  if (t.rank === rank + 1 && t.shape[0] === k) out = t.rank === 1 ? t : tf.sum(t, Array.from({ length: t.rank - 1 }, (_, i) => i + 1));
  else if (t.rank <= rank) out = tf.broadcastTo(tf.reshape(tf.sum(t), [1]), [k]);
  else return `the log density of "${address}" has shape [${t.shape.join(', ')}], not [${k}, ...] (the model does not broadcast over the values)`;
  return scale === 1 ? out : tf.mul(out, scale);
}

/**
 * A vectorised run in which the model branched on a tensor comparison (a
 * boolean tensor made and never consumed): no site's vectorised weights can
 * be trusted, whatever their first check said.
 */
export class BranchesOnTensor {
  /** @param reason - the shared message, naming the site */
  constructor(readonly reason: string) {}
}

/**
 * log p(x, y) of the current point with `address` set to each of `support`
 * in turn (the other latent values from `values`), by one vectorised run;
 * or a string saying why the run could not give them; or
 * {@link BranchesOnTensor} when the run branched on a tensor comparison.
 *
 * @param latent - the latent addresses of the current trace: the run must have exactly these
 * @param rank - dimensions to the right of the values' dimension ({@link reservedRank})
 */
export async function vectorizedLogWeights<A extends unknown[], R>(
  m: Model<A, R>,
  args: A,
  values: (address: string) => Value | undefined,
  address: string,
  support: readonly number[],
  latent: readonly string[],
  rank: number,
  rng: Rng,
): Promise<Float64Array | string | BranchesOnTensor> {
  const k = support.length;
  const { watch, close } = await openConditionWatch();
  const fill: Handler = {
    process(msg: Message) {
      watch.mark(msg.address, 'enter');
      if (msg.type !== 'sample' || msg.observed || msg.value !== undefined) return;
      if (msg.address === address) msg.value = tf.tensor(support as number[], [k, ...new Array<number>(rank).fill(1)]);
      else {
        const v = values(msg.address);
        if (v !== undefined) msg.value = v;
      }
    },
    postprocess(msg: Message) {
      watch.mark(msg.address, 'leave');
    },
  };
  try {
    return await tidyAsync(
      async () => {
        const { trace } = await watch.run(() => execute(m, { rng, handlers: [fill], checkNaN: false }, ...args));
        const seen: string[] = [];
        for (const s of trace) if (s.type === 'sample' && !s.observed) seen.push(s.address);
        if (seen.length !== latent.length || seen.some((a, i) => a !== latent[i])) return `the vectorised run has the latent sites [${seen.join(', ')}], the trace [${latent.join(', ')}]`;
        let total: tf.Tensor = tf.zeros([k]);
        for (const s of trace) {
          if (s.type !== 'sample' && s.type !== 'factor') continue;
          if (s.mask === false || s.scale === 0) continue;
          const w = perValue(maskedLogProb(s), s.scale, k, rank, s.address);
          if (typeof w === 'string') return w;
          total = tf.add(total, w);
        }
        const branched = watch.unconsumed(tensorsOf(trace));
        if (branched !== undefined) return new BranchesOnTensor(branchOnTensorError(branched).message);
        const out = Float64Array.from(total.dataSync());
        // NaN: a candidate whose parameters are invalid; the per-value runs say -Infinity (rejected point)
        for (let i = 0; i < k; i++) if (Number.isNaN(out[i])) out[i] = -Infinity;
        return out;
      },
      () => [],
    );
  } catch (err) {
    return `the vectorised run failed: ${err instanceof Error ? err.message : String(err)}`;
  } finally {
    close();
  }
}

/** The tensors a trace holds as values (a boolean value is handed back, not a branch). */
function* tensorsOf(trace: Trace): Iterable<tf.Tensor> {
  for (const s of trace) if (s.value instanceof tf.Tensor) yield s.value;
}

/** Whether two vectors of log weights agree, as normalised probabilities (float32 tolerance). */
export function sameLogWeights(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  let ma = -Infinity;
  let mb = -Infinity;
  for (let i = 0; i < a.length; i++) {
    ma = Math.max(ma, a[i]);
    mb = Math.max(mb, b[i]);
  }
  if (ma === -Infinity || mb === -Infinity) return ma === mb;
  const scale = Math.max(1, Math.abs(ma));
  for (let i = 0; i < a.length; i++) {
    const x = a[i] - ma;
    const y = b[i] - mb;
    if (x < -CHECK_RANGE && y < -CHECK_RANGE) continue;
    if (!(Math.abs(x - y) <= CHECK_TOL * scale)) return false;
  }
  return true;
}

/**
 * Per-run state of vectorised Gibbs updates: which sites passed their check
 * against the one-run-per-value weights, which fell back and why, and how
 * many model runs were spent.
 */
export class VectorizedGibbs {
  /** Sites checked once and vectorised from then on. */
  readonly checked = new Set<string>();
  /** Sites updated one run per value, with the reason. */
  readonly off = new Map<string, string>();
  /** Model runs spent by Gibbs updates through this object (batched and scalar alike). */
  runs = 0;

  /** Why no site is vectorised any more (the model branched on a tensor comparison), if so. */
  allOff: string | undefined;

  /** Whether `address` is still a candidate for a vectorised update. */
  enabled(address: string): boolean {
    return this.allOff === undefined && !this.off.has(address);
  }

  /**
   * Stop vectorised updates of every site for good (`address`: the site
   * whose run found `why`). Draws made before were made by runs in which no
   * comparison went unconsumed (each run is watched), so they stay valid.
   */
  disableAll(address: string, why: string): void {
    this.allOff ??= why;
    this.disable(address, why);
  }

  /** Record that `address` falls back to one run per value. */
  disable(address: string, why: string): void {
    if (!this.off.has(address)) this.off.set(address, why);
  }

  /** The reasons per site, for diagnostics (`true`: vectorised). */
  report(): Record<string, true | string> {
    const out: Record<string, true | string> = {};
    for (const a of this.checked) out[a] = this.allOff ?? true;
    for (const [a, why] of this.off) out[a] = why;
    return out;
  }
}
