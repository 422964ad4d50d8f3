/**
 * Batched SMC over an async program: all particles as one execution.
 *
 * The model runs once, batched (`execute` with `batch: { size: N }`): every
 * latent draw is a tensor with a leading particle axis of N rows, and so is
 * every observation's log density. At each checkpoint (an observed `sample`
 * or a `factor`) the execution suspends inside the effect, hands the N log
 * potentials to the particle core ({@link runSMC}) and waits. Resampling
 * does not copy executions: it starts a new epoch of the execution's
 * {@link ParticleAxis}, and every tensor the suspended program holds is
 * gathered by the ancestors, lazily and in place, the next time it is used
 * (see `reindex.ts`). The cost of a step is then a few tensor operations on
 * N rows, whatever t is: no replay.
 *
 * Not every program can run this way: control flow that depends on a draw
 * (`if (x > 0)`, a loop bound, an index) needs one value per particle. Such
 * programs fail loudly in a batched run (arithmetic or comparison on a
 * tensor draw throws, as does reading it as one number), and the engine
 * falls back to per-particle execution. Because a branch on a tensor's
 * truthiness would not throw, a batched run is also checked: a few final
 * particles are re-run one by one (per-particle, from their batched values)
 * and must visit the same sites with the same log densities.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { substituteHandler } from '../../core/handlers.js';
import type { Handler, Message } from '../../core/message.js';
import { type Model, execute } from '../../core/model.js';
import type { Rng } from '../../core/rng.js';
import { type Site, type Trace, siteLogDensity } from '../../core/trace.js';
import { type Value, isTensor } from '../../core/value.js';
import type { Draw } from '../posterior.js';
import { isCheckpoint } from './checkpoint.js';
import type { OpenAxis } from './reindex.js';
import type { ParticleStore } from './store.js';
import { SuspendableRun } from './suspendable.js';

/** Why a program cannot run batched (the engine then runs it per particle). */
export class NotBatchableError extends Error {
  override readonly name = 'NotBatchableError';
}

/** The one execution that holds every particle of a batched program-SMC run. */
export class BatchedProgram<R> extends SuspendableRun {
  /** Log potentials of the last checkpoint, one per particle. */
  increment: Float64Array | undefined;
  trace?: Trace;
  returnValue?: R;
  /** Checkpoints passed so far. */
  checkpoint = 0;

  constructor(
    readonly open: OpenAxis,
    readonly rng: Rng,
  ) {
    super();
  }

  get size(): number {
    return this.open.axis.size;
  }

  /** Stamps draws with the particle axis and suspends at checkpoints. */
  private handler(): Handler {
    const axis = this.open.axis;
    return {
      postprocess: (msg: Message) => {
        if (msg.type === 'sample' && !msg.observed) {
          // the draw (and its density, computed before the draw was stamped) start the lineage
          if (isTensor(msg.value)) axis.track(msg.value);
          if (isTensor(msg.logProb)) axis.track(msg.logProb);
          return;
        }
        if (!isCheckpoint(msg)) return;
        const lp = siteLogDensity(msg as Required<Message>, this.size) as tf.Tensor;
        this.increment = Float64Array.from(lp.dataSync());
        if (lp !== msg.logProb) lp.dispose();
        this.checkpoint++;
        return this.suspend();
      },
    };
  }

  /** Run (or resume) the population until its next checkpoint or the end. */
  advance(model: Model<unknown[], R>, args: unknown[]): Promise<void> {
    this.increment = undefined;
    return this.resume(() =>
      this.open.enter(() =>
        execute(model, { rng: this.rng, handlers: [this.handler()], batch: { size: this.size, plateNesting: 0 } }, ...args).then(({ trace, returnValue }) => {
          this.trace = trace;
          this.returnValue = returnValue;
        }),
      ),
    );
  }
}

/** The store of a batched program: resampling is a new epoch of the particle axis (no copies). */
export function batchedProgramStore<R>(): ParticleStore<BatchedProgram<R>> {
  return {
    kind: 'batched-program',
    select(state, ancestors) {
      state.open.axis.resample(ancestors);
      return state;
    },
    release() {},
    dispose(state) {
      state.kill();
    },
  };
}

/** One particle's rows of the particle-axis tensors in a value (numbers where a row is a scalar). */
class Unbatcher {
  private readonly rows = new Map<tf.Tensor, Value[]>();

  constructor(private readonly open: OpenAxis) {}

  /** Row `i` of `v` (recursively through arrays and plain records); values without the particle axis are shared. */
  row(v: unknown, i: number): unknown {
    if (isTensor(v)) return this.open.axis.has(v) ? this.rowsOf(v)[i] : v;
    if (Array.isArray(v)) return v.map((x) => this.row(x, i));
    if (v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) out[k] = this.row(x, i);
      return out;
    }
    return v;
  }

  /** Every row of a particle-axis tensor, as of now (read on the host through the axis's row map, without a gather). */
  rowsOf(t: tf.Tensor): Value[] {
    let out = this.rows.get(t);
    if (out) return out;
    const map = this.open.axis.rowMap(t);
    // read outside the execution's async context: the stored rows, not refreshed
    const data = t.dataSync();
    const n = t.shape[0];
    const rest = t.shape.slice(1);
    const k = data.length / n;
    out = new Array<Value>(n);
    if (rest.length === 0) for (let i = 0; i < n; i++) out[i] = data[map ? map[i] : i];
    else {
      for (let i = 0; i < n; i++) {
        const r = map ? map[i] : i;
        out[i] = tf.tensor(data.subarray(r * k, (r + 1) * k), rest, t.dtype);
      }
    }
    this.rows.set(t, out);
    return out;
  }
}

/** Per-particle draws of a finished batched run (particles of weight zero left out), and the row each came from. */
export function batchedDraws<R>(state: BatchedProgram<R>, logWeights: Float64Array): { draws: Draw<R>[]; rows: number[] } {
  const trace = state.trace as Trace;
  const un = new Unbatcher(state.open);
  const values = trace.values();
  const columns = Object.entries(values).map(([address, v]) => [address, isTensor(v) && state.open.axis.has(v) ? un.rowsOf(v) : undefined, v] as const);
  const draws: Draw<R>[] = [];
  const rows: number[] = [];
  for (let i = 0; i < logWeights.length; i++) {
    if (!(logWeights[i] > -Infinity)) continue;
    rows.push(i);
    const rec: Record<string, Value> = {};
    for (const [address, rows, shared] of columns) rec[address] = rows ? rows[i] : shared;
    draws.push({ values: rec, returnValue: un.row(state.returnValue, i) as R, logWeight: logWeights[i] });
  }
  return { draws, rows };
}

/** Each site's log density per particle (as of now), for the check: summed per stored row, then mapped to the current rows. */
function siteDensities(state: BatchedProgram<unknown>, site: Site): Float64Array {
  const map = isTensor(site.logProb) ? state.open.axis.rowMap(site.logProb) : undefined;
  const lp = siteLogDensity(site, state.size) as tf.Tensor;
  const stored = lp.dataSync();
  if (lp !== site.logProb) lp.dispose();
  const out = new Float64Array(state.size);
  for (let i = 0; i < out.length; i++) out[i] = stored[map ? map[i] : i];
  return out;
}

/**
 * Check a finished batched run against per-particle execution: the particles
 * in rows `which` (with their draws) are re-run one at a time with their batched values substituted;
 * each must visit the same sites, in the same order, with the same log
 * densities (to float32 precision). Throws {@link NotBatchableError} naming
 * the first difference.
 */
export async function checkAgainstPerParticle<R>(m: Model<unknown[], R>, args: unknown[], state: BatchedProgram<R>, which: readonly { row: number; draw: Draw<R> }[], rng: Rng): Promise<void> {
  const batched = [...(state.trace as Trace)].filter((s) => s.type === 'sample' || s.type === 'factor');
  const dens = new Map<string, Float64Array>();
  const densityOf = (s: Site): Float64Array => {
    let d = dens.get(s.address);
    if (!d) dens.set(s.address, (d = siteDensities(state as BatchedProgram<unknown>, s)));
    return d;
  };
  for (const { row: i, draw } of which) {
    const { trace } = await execute(m, { rng: rng.split(), handlers: [substituteHandler((msg) => (msg.type === 'sample' && !msg.observed ? draw.values[msg.address] : undefined))] }, ...args);
    const sites = [...trace].filter((s) => s.type === 'sample' || s.type === 'factor');
    try {
      for (let k = 0; k < Math.max(sites.length, batched.length); k++) {
        const a = batched[k];
        const b = sites[k];
        if (a?.address !== b?.address) {
          throw new NotBatchableError(`particle ${i} run on its own visits ${b ? `"${b.address}"` : 'no site'} where the batched run visits ${a ? `"${a.address}"` : 'no site'} (control flow depends on a random value)`);
        }
        const lpA = densityOf(a)[i];
        const lpB = siteLogDensity(b) as Value;
        const nb = typeof lpB === 'number' ? lpB : (lpB as tf.Tensor).dataSync()[0];
        if (!(lpA === nb || Math.abs(lpA - nb) <= 1e-4 * (1 + Math.abs(nb)))) {
          throw new NotBatchableError(`particle ${i} run on its own has log density ${nb} at "${a.address}", the batched run ${lpA} (the program mixes particles or branches on a tensor)`);
        }
      }
    } finally {
      trace.disposeLogProbs();
    }
  }
}
