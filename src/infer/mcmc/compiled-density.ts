/**
 * Log densities compiled from a trace (see `backend/jit`): the first
 * evaluation runs the model once on tfjs while recording its kernels, and
 * later evaluations replay that record in plain float64 JavaScript, forward
 * and reverse, without running the model.
 *
 * A replay is only right if the model computes the same kernels at every
 * point, so compilation is guarded three ways:
 *
 * 1. the recorder refuses models that read parameter-dependent values (other
 *    than boolean validity checks, which become guards: a point where one
 *    changes is evaluated by tfjs instead) and custom-gradient ops;
 * 2. a self-check at two points (the first one asked for and a perturbed
 *    one) compares the replay's log density and gradient with tfjs's; any
 *    disagreement beyond float32 rounding turns compilation off;
 * 3. only whole-model potentials use it (the caller passes `compile`): a
 *    density whose closure changes between calls (e.g. conditioned on
 *    discrete values updated by Gibbs) must not, and does not by default.
 *
 * With `'auto'` the replay is kept only if it is also faster than tfjs, as
 * timed on the first evaluations of the run (data-heavy models with big
 * matrix products can be faster on tfjs's wasm kernels). The reason for not
 * compiling is reported.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { withGradientLock } from '../../backend/autodiff.js';
import { CompiledGraph } from '../../backend/jit/program.js';
import { traceTensorFunction } from '../../backend/jit/trace.js';

/** Whether to compile a potential: always (when possible), never, or when it is faster. */
export type CompileMode = boolean | 'auto';

/** What happened to compilation: `true` when the replay is in use, else why not (or `'not yet'`). */
export type CompileStatus = true | string;

/** A batched evaluation: `logp` per row, gradients row-major. */
export interface Evaluation {
  readonly logp: Float64Array;
  readonly grad: Float64Array;
}

const REL_TOL = 1e-3;

/** Largest |a - b| relative to 1 + max |b|, over finite b (non-finite values must agree exactly). */
function disagreement(a: Float64Array, b: Float64Array): number {
  let scale = 0;
  for (const v of b) if (Number.isFinite(v)) scale = Math.max(scale, Math.abs(v));
  let worst = 0;
  for (let i = 0; i < b.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (!Number.isFinite(y) || !Number.isFinite(x)) {
      if (x !== y && !(Number.isNaN(x) && Number.isNaN(y))) return Infinity;
      continue;
    }
    worst = Math.max(worst, Math.abs(x - y) / (1 + scale));
  }
  return worst;
}

/** Calls of each evaluator in the `'auto'` speed trial, and how many of them are warm-up (not timed). */
const TRIAL_CALLS = 15;
const TRIAL_WARMUP = 5;

function median(xs: number[]): number {
  const t = [...xs].sort((x, y) => x - y);
  return t[Math.floor(t.length / 2)]!;
}

/**
 * A batched evaluator (`q` holds `rows` rows of `dim`; `rows` is 1 for a
 * single chain) that uses the compiled replay where it can and `viaTfjs`
 * otherwise. `density` maps the unconstrained tensor (`inputShape`) to log
 * densities and is what gets recorded.
 */
export class CompiledDensity {
  private graph: CompiledGraph | undefined;
  private state: 'untried' | 'trial' | 'on' | 'off' = 'untried';
  private readonly timings = { replay: [] as number[], tfjs: [] as number[] };
  private reason = 'not yet';
  /** Points the replay handed back to tfjs because a validity guard changed. */
  guardMisses = 0;

  constructor(
    private readonly density: (qT: tf.Tensor) => Promise<tf.Tensor>,
    private readonly inputShape: number[],
    private readonly viaTfjs: (q: Float64Array) => Promise<Evaluation>,
    private readonly mode: CompileMode,
  ) {
    if (mode === false) {
      this.state = 'off';
      this.reason = 'compile: false';
    }
  }

  /** `true` when evaluations replay the compiled graph, else why not. */
  get status(): CompileStatus {
    return this.state === 'on' ? true : this.state === 'trial' ? 'speed trial not finished' : this.reason;
  }

  /** Log densities and gradients at `q`. */
  async evaluate(q: Float64Array): Promise<Evaluation> {
    if (this.state === 'untried' && q.every(Number.isFinite)) await this.tryCompile(q);
    if (this.state === 'trial') {
      const r = await this.trial(q);
      if (r) return r;
      this.guardMisses++;
      return this.viaTfjs(q);
    }
    if (this.state === 'on') {
      const r = this.graph!.run(q, true);
      if (r) return { logp: Float64Array.from(r.value), grad: Float64Array.from(r.grad!) };
      this.guardMisses++;
    }
    return this.viaTfjs(q);
  }

  private turnOff(reason: string): void {
    this.state = 'off';
    this.reason = reason;
    this.graph = undefined;
  }

  private async tryCompile(q: Float64Array): Promise<void> {
    let traced: Awaited<ReturnType<typeof traceTensorFunction>>;
    try {
      traced = await withGradientLock(async () => {
        const engine = tf.engine();
        engine.startScope('tyche-trace');
        try {
          const qT = tf.tensor(Float32Array.from(q), this.inputShape);
          return await traceTensorFunction(this.density, qT);
        } finally {
          engine.endScope();
        }
      });
    } catch (err) {
      // a point the model rejects (RangeError): try again at the next one; anything else is tfjs's to report
      if (!(err instanceof RangeError)) this.turnOff(`tracing failed: ${(err as Error).message}`);
      return;
    }
    if (!traced.graph) return this.turnOff(`not traceable: ${traced.reason}`);
    const compiled = CompiledGraph.compile(traced.graph);
    if (!(compiled instanceof CompiledGraph)) return this.turnOff(`not compiled: ${compiled.reason}`);
    // self-check at q and at a perturbed point
    const perturbed = q.map((v, i) => v + 0.3 * Math.sin(1.7 * i + 0.5));
    for (const point of [q, perturbed]) {
      const mine = compiled.run(point, true);
      if (!mine) continue; // a guard changed at the perturbed point: nothing to compare there
      const theirs = await this.viaTfjs(point);
      const dv = disagreement(mine.value, theirs.logp);
      const dg = disagreement(mine.grad!, theirs.grad);
      if (!(dv <= REL_TOL && dg <= REL_TOL)) {
        return this.turnOff(`self-check failed (relative disagreement with tfjs: log density ${dv.toExponential(1)}, gradient ${dg.toExponential(1)})`);
      }
    }
    this.graph = compiled;
    this.state = this.mode === 'auto' ? 'trial' : 'on';
  }

  /**
   * One evaluation of the speed trial (`'auto'`): the first calls alternate
   * between the replay and tfjs, timing each (both answer correctly; these
   * calls fall in the sampler's warmup), and the faster one is kept. Timing
   * real calls mid-run avoids judging tfjs by its slow first calls.
   */
  private async trial(q: Float64Array): Promise<Evaluation | undefined> {
    const useReplay = this.timings.replay.length <= this.timings.tfjs.length;
    const t0 = performance.now();
    let out: Evaluation | undefined;
    if (useReplay) {
      const r = this.graph!.run(q, true);
      if (!r) return undefined;
      out = { logp: Float64Array.from(r.value), grad: Float64Array.from(r.grad!) };
    } else out = await this.viaTfjs(q);
    (useReplay ? this.timings.replay : this.timings.tfjs).push((performance.now() - t0) * 1000);
    if (this.timings.tfjs.length >= TRIAL_CALLS) {
      const replay = median(this.timings.replay.slice(TRIAL_WARMUP));
      const tfjs = median(this.timings.tfjs.slice(TRIAL_WARMUP));
      if (replay < tfjs) this.state = 'on';
      else this.turnOff(`compiled replay slower than tfjs here (median ${replay.toFixed(0)} vs ${tfjs.toFixed(0)} µs per evaluation)`);
    }
    return out;
  }
}
