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
 *    changes is evaluated by tfjs instead); a user's `tf.customGrad` op is
 *    one opaque float32 node whose gradient is checked against central
 *    differences once (a wrong one is an error naming it, see
 *    `backend/jit/user-grad.ts`);
 * 2. a self-check at two points (the first one asked for and a perturbed
 *    one) compares the replay's log density and gradient with tfjs's; any
 *    disagreement beyond float32 rounding turns compilation off (a graph
 *    with custom ops, whose gradient code tfjs shares, also has its gradient
 *    checked against central differences of its own values);
 * 3. only whole-model potentials use it (the caller passes `compile`): a
 *    density whose closure changes between calls (e.g. conditioned on
 *    discrete values updated by Gibbs) must not, and does not by default.
 *
 * With `'auto'` the replay is kept only where it is expected to be faster
 * than tfjs (see {@link WORK_PER_KERNEL}: data-heavy models with big arrays
 * run faster on tfjs's wasm kernels). The reason for not compiling is
 * reported.
 *
 * @module
 */
import { branchOnTensorError, rejectsPoint } from '../../core/errors.js';
import * as tf from '@tensorflow/tfjs-core';
import { valueAndGradsAsync, withGradientLock } from '../../backend/autodiff.js';
import { CompiledGraph } from '../../backend/jit/program.js';
import { type Graph, type TraceResult, traceTensorFunction, withFloat64Shadow } from '../../backend/jit/trace.js';
import { tensor64 } from '../../backend/float64-constants.js';
import { customGradientCheck, describeUserGradFailure, hasCustomOps, userGradLabels, userGradientFailures } from '../../backend/jit/gradient-check.js';

function sizeOfInput(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Whether to compile a potential: always (when possible), never, or when it is faster. */
export type CompileMode = boolean | 'auto';

/** What happened to compilation: `true` when the replay is in use, else why not (or `'not yet'`). */
export type CompileStatus = true | string;

/** How a {@link CompiledDensity}'s evaluations were served. */
export interface CompileStats {
  /** Evaluations asked for. */
  readonly evaluations: number;
  /** Of those, evaluations that ran the model on tfjs instead of the compiled replay. */
  readonly viaTfjs: number;
  /** Why they ran on tfjs, with counts: `'validity guard changed'`, `'non-finite point'`, `'not compiled: <why>'`. */
  readonly reasons: Readonly<Record<string, number>>;
  /** Parts of the compiled replay that do not run in float64: each user `tf.customGrad` op, which runs in float32 on tfjs inside it. */
  readonly notes?: readonly string[];
  /**
   * User `tf.customGrad` ops whose gradient disagrees with central
   * differences of their own values (at the recorded point or around it),
   * each named: a surrogate gradient. HMC and NUTS stay exact with it
   * (leapfrog with any position-dependent force is reversible and
   * volume-preserving, and the accept step uses the true density); VI
   * refuses it unless asked (`surrogateGradients: true`).
   */
  readonly surrogateGradients?: readonly string[];
}

/** Counts of several densities (or of one over several periods) added up. */
export function addStats(list: readonly CompileStats[]): CompileStats {
  const reasons: Record<string, number> = {};
  let evaluations = 0;
  let viaTfjs = 0;
  const notes = new Set<string>();
  const surrogates = new Set<string>();
  for (const s of list) {
    evaluations += s.evaluations;
    viaTfjs += s.viaTfjs;
    for (const [r, n] of Object.entries(s.reasons)) reasons[r] = (reasons[r] ?? 0) + n;
    for (const note of s.notes ?? []) notes.add(note);
    for (const w of s.surrogateGradients ?? []) surrogates.add(w);
  }
  return { evaluations, viaTfjs, reasons, ...(notes.size > 0 ? { notes: [...notes] } : {}), ...(surrogates.size > 0 ? { surrogateGradients: [...surrogates] } : {}) };
}

/** The evaluations a density counted between two snapshots of its stats. */
export function statsSince(before: CompileStats, after: CompileStats): CompileStats {
  const reasons: Record<string, number> = {};
  for (const [r, n] of Object.entries(after.reasons)) {
    const d = n - (before.reasons[r] ?? 0);
    if (d > 0) reasons[r] = d;
  }
  return { evaluations: after.evaluations - before.evaluations, viaTfjs: after.viaTfjs - before.viaTfjs, reasons, ...(after.notes ? { notes: after.notes } : {}), ...(after.surrogateGradients ? { surrogateGradients: after.surrogateGradients } : {}) };
}

/** A batched evaluation: `logp` per row, gradients row-major. */
export interface Evaluation {
  readonly logp: Float64Array;
  readonly grad: Float64Array;
}

const REL_TOL = 1e-3;

/**
 * The worst relative disagreement between the replay's gradient and central
 * differences of its own log density at `q`, along two fixed directions
 * (step 1e-5 times the scale of q: truncation and rounding errors well under
 * 1e-6 relative in float64 for smooth densities).
 */
function selfConsistency(graph: CompiledGraph, q: Float64Array): number {
  const at = graph.run(q, true);
  if (!at) return Infinity;
  const grad = Float64Array.from(at.grad!);
  const rows = at.value.length;
  let worst = 0;
  for (const phase of [0.5, 2.1]) {
    const v = q.map((_, i) => Math.sin(1.3 * i + phase));
    const norm = Math.hypot(...v) || 1;
    const scale = 1e-5 * (1 + Math.max(...q.map(Math.abs)));
    const h = scale / norm;
    const plus = graph.run(q.map((x, i) => x + h * v[i]!), false);
    const fPlus = plus ? Array.from(plus.value) : undefined;
    const minus = graph.run(q.map((x, i) => x - h * v[i]!), false);
    if (!fPlus || !minus) return Infinity; // a guard changed within the step: no verdict
    let fd = 0;
    let an = 0;
    let mag = 0;
    for (let r = 0; r < rows; r++) fd += (fPlus[r]! - minus.value[r]!) / (2 * h);
    for (let i = 0; i < q.length; i++) {
      an += grad[i]! * v[i]!;
      mag += Math.abs(grad[i]! * v[i]!);
    }
    worst = Math.max(worst, Math.abs(fd - an) / (1 + mag));
  }
  return worst;
}

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

/**
 * How far a replay's log density and gradient at `point` (`mine`) are from
 * tfjs's (`theirs`), relative. tfjs's float32 gradient can be the inaccurate
 * one (an ill-conditioned Cholesky): where the values agree and the gradients
 * do not, the replay's gradient must instead agree with central differences
 * of its own float64 values. With `skipGradient` the gradient is not compared.
 */
function replayVsTfjs(compiled: CompiledGraph, point: Float64Array, mine: { value: Float64Array; grad?: Float64Array }, theirs: Evaluation, skipGradient = false): { dv: number; dg: number } {
  const dv = disagreement(mine.value, theirs.logp);
  let dg = skipGradient ? 0 : disagreement(mine.grad!, theirs.grad);
  if (dv <= REL_TOL && !(dg <= REL_TOL)) dg = Math.min(dg, selfConsistency(compiled, point));
  return { dv, dg };
}

/**
 * The `'auto'` rule: replay when the graph does at most this many element
 * operations (output elements, plus multiply-adds of matrix products) per
 * kernel, all rows together. A tfjs kernel costs a fixed dispatch plus ~1-2
 * ns per element on wasm; the replay has no dispatch and, since the fused
 * whole-graph compiler and the blocked matrix-product and reduction loops, a
 * few ns per element. Measured per gradient of K chains
 * (`bench/data-heavy.ts --only auto`: a batched model run on wasm against the
 * replay; CPU time, loaded 2-core machine), the replay was faster up to
 * ~180k per kernel (tfjs / replay time):
 * logistic regression N = 1000: 3.6x at K = 16 (11k per kernel), 1.3x at
 * K = 64 (43k); N = 5000: 2.8x at K = 4 (13k), 1.2x at K = 16 (53k), 0.8x at
 * K = 64 (214k); the diamonds regression (N = 5000, K = 24 predictors)
 * written to run batched: 5.8x at K = 4 (11k), 2.0x at K = 16 (45k), 1.6x at
 * K = 64 (181k). So the rule switches at 100k, short of the crossing. A
 * fixed rule, not a timing race, so that a seeded run gives the same draws
 * every time.
 */
const WORK_PER_KERNEL = 100_000;

/** Records kept besides the first, one per guard pattern met (see `CompiledDensity`'s variants). */
const MAX_VARIANTS = 8;

/** The start of the reason given when `'auto'` declines a replay that would work (see {@link WORK_PER_KERNEL}). */
export const TFJS_FASTER = 'tfjs is expected to be faster on this much data ';

/**
 * A batched evaluator (`q` holds `rows` rows of `dim`; `rows` is 1 for a
 * single chain) that uses the compiled replay where it can and `viaTfjs`
 * otherwise. `density` maps the unconstrained tensor (`inputShape`) to log
 * densities and is what gets recorded.
 */
export class CompiledDensity {
  private graph: CompiledGraph | undefined;
  /**
   * Further records of the same density, made at points where a validity
   * guard of the first record changed (e.g. the first record was made
   * outside a parameter-dependent support, or on its other side): a point is
   * replayed by the first record whose guards it keeps, so each side of a
   * guard is recorded once instead of sending every point on the other side
   * to tfjs. At most {@link MAX_VARIANTS}, each self-checked like the first.
   */
  private variants: CompiledGraph[] = [];
  private variantFailures = 0;
  private state: 'untried' | 'on' | 'off' = 'untried';
  private reason = 'not yet';
  /** With `compile: false`: whether the one recording that looks for branches on tensors is still to run. */
  private branchCheckPending = false;
  /** Points the replay handed back to tfjs because a validity guard changed. */
  guardMisses = 0;
  private evaluations = 0;
  private readonly tfjsReasons = new Map<string, number>();
  private notes: string[] = [];
  /** The user `tf.customGrad` ops whose gradient disagrees with their values (see `CompileStats.surrogateGradients`). */
  private surrogates: string[] = [];

  /**
   * @param density - the tensor function recorded (from `inputShape`)
   * @param inputShape - the shape of one evaluation's input
   * @param viaTfjs - evaluation on tfjs of one input (where the replay cannot serve it)
   * @param mode - whether to compile (see {@link CompileMode})
   * @param rows - the number of inputs of `inputShape` laid end to end in each
   *   call of {@link evaluate}: the record of one input is replayed once per
   *   row (a vectorised replay, e.g. of a model written for one chain run for
   *   many chains), and only rows the replay cannot serve go to `viaTfjs`
   * @param reuse - whether {@link evaluateSync} (and {@link evaluate} where the
   *   replay serves every row) may write into the same two result arrays on
   *   every call: the answer is then valid only until the next call (for
   *   samplers that read each answer at once; no allocation per call)
   * @param tapedRecording - whether `viaTfjs` is the value and gradient of
   *   `density` itself at one float32 input (`singlePointOnTfjs`): then the
   *   first recording runs under a gradient tape, and the self-check at the
   *   recording's own point compares the replay with that run's value and
   *   gradient instead of running the model on tfjs a second time there
   */
  constructor(
    private readonly density: (qT: tf.Tensor) => Promise<tf.Tensor>,
    private readonly inputShape: number[],
    private readonly viaTfjs: (q: Float64Array) => Promise<Evaluation>,
    private readonly mode: CompileMode,
    private readonly rows = 1,
    private readonly reuse = false,
    private readonly tapedRecording = false,
  ) {
    if (mode === false) {
      this.state = 'off';
      this.reason = 'compile: false';
      this.branchCheckPending = true;
    }
  }

  /** The compiled graph's element operations per evaluation (all rows), or undefined before it is compiled. */
  get work(): { readonly elements: number; readonly kernels: number } | undefined {
    return this.graph ? { elements: this.graph.work * this.rows, kernels: this.graph.kernelCount } : undefined;
  }

  /** `true` when evaluations replay the compiled graph, else why not. */
  get status(): CompileStatus {
    return this.state === 'on' ? true : this.reason;
  }

  /** How evaluations were served so far: how many went to tfjs, and why. */
  get stats(): CompileStats {
    let viaTfjs = 0;
    for (const n of this.tfjsReasons.values()) viaTfjs += n;
    const notes = this.state === 'on' ? this.notes.map((l) => `${l} runs in float32 on tfjs inside the float64 replay, with its own gradient`) : [];
    for (const w of this.surrogates) notes.push(`${w}: HMC and NUTS stay exact with it (only slower), an optimiser (VI) follows it`);
    const surrogateGradients = this.surrogates;
    return { evaluations: this.evaluations, viaTfjs, reasons: Object.fromEntries(this.tfjsReasons), ...(notes.length > 0 ? { notes } : {}), ...(surrogateGradients.length > 0 ? { surrogateGradients } : {}) };
  }

  /** One row replayed by the first record whose validity guards it keeps; false when none does. */
  private runAny(x: ArrayLike<number>, xo: number, out: Float64Array, oo: number, grad?: Float64Array, go = 0): boolean {
    if (this.graph!.runRow(x, xo, out, oo, grad, go)) return true;
    for (const g of this.variants) if (g.runRow(x, xo, out, oo, grad, go)) return true;
    return false;
  }

  /**
   * Log densities and gradients at `q` (`rows` inputs end to end),
   * synchronously, when the compiled replay serves every row: no awaits and
   * no copies (each row is replayed straight from `q` into the result).
   * Undefined when it cannot (not compiled yet or at all, a guard changed in
   * some row): then call {@link CompiledDensity.evaluate}.
   */
  evaluateSync(q: Float64Array): Evaluation | undefined {
    if (this.state !== 'on') return undefined;
    const graph = this.graph!;
    const size = graph.inputSize;
    const rows = this.rows;
    if (q.length !== size * rows) return undefined; // evaluate reports the shape error
    const outs = graph.outputSize;
    let out = this.reuse ? this.reused : undefined;
    if (out === undefined || out.logp.length !== rows * outs || out.grad.length !== q.length) {
      out = { logp: new Float64Array(rows * outs), grad: new Float64Array(q.length) };
      if (this.reuse) this.reused = out;
    }
    const { logp, grad } = out;
    // every row overwrites its slice of both arrays (a reused answer keeps nothing of the last call)
    for (let r = 0; r < rows; r++) if (!this.runAny(q, r * size, logp, r * outs, grad, r * size)) return undefined;
    this.evaluations += rows;
    return out;
  }

  /** The result arrays {@link evaluateSync} writes into when `reuse` is set. */
  private reused: Evaluation | undefined;

  /**
   * The log density alone (no reverse pass) of one input `q` (with `rows`
   * 1), synchronously, from the compiled replay; undefined where the replay
   * does not serve it (not compiled, a guard changed, a NaN: call
   * {@link CompiledDensity.evaluate} then). For samplers that need no
   * gradient (compiled single-site MH).
   */
  valueSync(q: Float64Array): number | undefined {
    if (this.state !== 'on' || this.rows !== 1) return undefined;
    const graph = this.graph!;
    if (q.length !== graph.inputSize || graph.outputSize !== 1) return undefined;
    const out = this.valueOut;
    if (!this.runAny(q, 0, out, 0)) return undefined;
    const v = out[0]!;
    if (Number.isNaN(v)) return undefined;
    this.evaluations++;
    return v;
  }

  private readonly valueOut = new Float64Array(1);

  /**
   * The replay's log density at one input `q`, without counting it in
   * {@link CompiledDensity.stats}: for a check made beside the sampler
   * (infer's numbers-versus-tensors check, `infer/branch-check.ts`).
   * Undefined where the density is not compiled or no record's validity
   * guards hold at `q` (nothing runs on tfjs).
   */
  peek(q: Float64Array): number | undefined {
    if (this.state !== 'on') return undefined;
    const graph = this.graph!;
    if (q.length !== graph.inputSize || graph.outputSize !== 1) return undefined;
    const out = new Float64Array(1);
    return this.runAny(q, 0, out, 0) ? out[0]! : undefined;
  }

  /** Log densities and gradients at `q` (`rows` inputs end to end). */
  async evaluate(q: Float64Array): Promise<Evaluation> {
    const sync = this.evaluateSync(q);
    if (sync) return sync;
    if (this.rows === 1) return this.evaluateOne(q);
    const size = q.length / this.rows;
    if (!Number.isInteger(size)) throw new Error(`compiled density: ${q.length} values do not split into ${this.rows} rows`);
    const logp = new Float64Array(this.rows);
    const grad = new Float64Array(q.length);
    for (let r = 0; r < this.rows; r++) {
      const one = await this.evaluateOne(q.subarray(r * size, (r + 1) * size));
      logp.set(one.logp, r);
      grad.set(one.grad, r * size);
    }
    return { logp, grad };
  }

  /**
   * The replay alone, synchronously, for `q` holding any number of inputs end
   * to end: rows where a validity guard changed get log density -Infinity
   * and a zero gradient (counted as `'validity guard changed'`: for callers
   * that cannot run tfjs now, e.g. inside another gradient computation).
   * Undefined until the graph is compiled.
   */
  replayOnly(q: Float64Array): Evaluation | undefined {
    if (this.state !== 'on') return undefined;
    const graph = this.graph!;
    const size = sizeOfInput(this.inputShape);
    const rows = q.length / size;
    if (!Number.isInteger(rows)) throw new Error(`compiled density: ${q.length} values do not split into inputs of ${size}`);
    const logp = new Float64Array(rows);
    const grad = new Float64Array(q.length);
    const one = new Float64Array(graph.outputSize);
    for (let r = 0; r < rows; r++) {
      this.evaluations++;
      if (this.runAny(q, r * size, one, 0, grad, r * size)) logp[r] = one[0]!;
      else {
        grad.fill(0, r * size, (r + 1) * size);
        logp[r] = -Infinity;
        this.guardMisses++;
        this.countTfjs('validity guard changed');
      }
    }
    return { logp, grad };
  }

  private async evaluateOne(q: Float64Array): Promise<Evaluation> {
    this.evaluations++;
    const finite = q.every(Number.isFinite);
    if (this.state === 'untried' && finite) await this.tryCompile(q);
    else if (this.branchCheckPending && finite) await this.checkBranches(q);
    if (this.state === 'on') {
      const graph = this.graph!;
      const logp = new Float64Array(graph.outputSize);
      const grad = new Float64Array(q.length);
      if (this.runAny(q, 0, logp, 0, grad, 0)) return { logp, grad };
      if (finite && this.variants.length < MAX_VARIANTS && this.variantFailures < 2 && (await this.recordVariant(q))) {
        if (this.runAny(q, 0, logp, 0, grad, 0)) return { logp, grad };
      }
      this.guardMisses++;
      this.countTfjs('validity guard changed');
    } else this.countTfjs(!finite && this.state === 'untried' ? 'non-finite point' : `not compiled: ${this.reason}`);
    return this.viaTfjs(q);
  }

  private countTfjs(reason: string): void {
    this.tfjsReasons.set(reason, (this.tfjsReasons.get(reason) ?? 0) + 1);
  }

  private turnOff(reason: string): void {
    this.state = 'off';
    this.reason = reason;
    this.graph = undefined;
    this.first = undefined;
    this.variants = [];
  }

  /**
   * Record the density again at `q`, where a guard of every record so far
   * changed, and keep the record if it passes the same self-check at `q` as
   * the first (at a point of density zero on both sides the gradient is not
   * compared: samplers reject such a point whatever it is). A record that
   * fails is dropped; the first stays in use.
   */
  private async recordVariant(q: Float64Array): Promise<boolean> {
    let traced: TraceResult;
    try {
      traced = await this.trace(q);
    } catch {
      this.variantFailures++;
      return false;
    }
    if (traced.branchesOnTensor) throw branchOnTensorError(traced.branchesOnTensor.site);
    const compiled = traced.graph ? CompiledGraph.compile(traced.graph) : undefined;
    const mine = compiled instanceof CompiledGraph ? compiled.run(q, true) : undefined;
    if (!(compiled instanceof CompiledGraph) || !mine) {
      this.variantFailures++;
      return false;
    }
    const theirs = await this.viaTfjs(q);
    const impossible = theirs.logp.every((v) => v === -Infinity) && mine.value.every((v) => v === -Infinity);
    const { dv, dg } = replayVsTfjs(compiled, q, mine, theirs, impossible);
    const worst = !hasCustomOps(traced.graph!) || impossible ? undefined : customGradientCheck(traced.graph!, q, REL_TOL);
    const customOk = worst === undefined || worst <= REL_TOL;
    if (!(dv <= REL_TOL && dg <= REL_TOL) || !customOk) {
      this.variantFailures++;
      return false;
    }
    this.variants.push(compiled);
    return true;
  }

  /**
   * Whether a float64 shadow run of the model at `point` (every kernel of a
   * fresh run computed again in float64, `withFloat64Shadow`) gives the
   * replay's log densities `value` to 1e-9 relative: the tie-breaker where
   * the replay and float32 tfjs disagree on the value. A fresh run of the
   * model code checks the record's wiring as tfjs would, without float32.
   */
  private async float64RunAgrees(point: Float64Array, value: Float64Array): Promise<boolean> {
    const mine = Float64Array.from(value);
    const exact = await withGradientLock(async () => {
      const engine = tf.engine();
      engine.startScope('tyche-float64-run');
      try {
        return await withFloat64Shadow(async (read) => {
          const out = await this.density(tensor64(point, this.inputShape));
          const v = read(out);
          return v ? Float64Array.from(v) : undefined;
        });
      } catch {
        return undefined;
      } finally {
        engine.endScope();
      }
    });
    return exact !== undefined && exact.length === mine.length && disagreement(mine, exact) <= 1e-9;
  }

  /** Record the density at `q` (one model run on tfjs). */
  private trace(q: Float64Array): Promise<TraceResult> {
    return withGradientLock(async () => {
      const engine = tf.engine();
      engine.startScope('tyche-trace');
      try {
        const qT = tf.tensor(Float32Array.from(q), this.inputShape);
        return await traceTensorFunction(this.density, qT);
      } finally {
        engine.endScope();
      }
    });
  }

  /**
   * With `compile: false`, record the model once anyway, only to find a
   * model that branches on a tensor comparison (a tfjs run follows one
   * branch whatever the values, as a replay would): then throw.
   */
  private async checkBranches(q: Float64Array): Promise<void> {
    let traced: TraceResult;
    try {
      traced = await this.trace(q);
    } catch (err) {
      if (!rejectsPoint(err)) this.branchCheckPending = false; // tfjs reports anything else on the run itself
      return;
    }
    this.branchCheckPending = false;
    if (traced.branchesOnTensor) throw branchOnTensorError(traced.branchesOnTensor.site);
  }

  /**
   * Record the density at `q` under a gradient tape (one model run on tfjs,
   * then its backward pass): the record, and tfjs's value and gradient at `q`
   * from that same run, as `viaTfjs(q)` computes them (the same kernels on
   * the same float32 input, so the same numbers: the recorder only watches
   * the launches). `atPoint` is undefined where the backward pass failed: the
   * caller then asks `viaTfjs` as before. Where no tape can be opened (a
   * gradient already open) the plain recording runs. Errors of the model's
   * run are thrown as `trace`'s.
   */
  private async traceTaped(q: Float64Array): Promise<{ traced: TraceResult; atPoint?: Evaluation }> {
    let traced: TraceResult | undefined;
    let started = false;
    const qT = tf.tensor(Float32Array.from(q), this.inputShape);
    try {
      const { value, grads } = await valueAndGradsAsync(
        async () => {
          started = true;
          let out: tf.Tensor | undefined;
          traced = await traceTensorFunction(async (x) => (out = await this.density(x)), qT);
          return out!;
        },
        [qT],
        { allowNoGradients: true },
      );
      const atPoint = { logp: Float64Array.from(value.dataSync() as ArrayLike<number>, Number), grad: Float64Array.from(grads[0]!.dataSync() as ArrayLike<number>, Number) };
      value.dispose();
      grads.forEach((g) => g.dispose());
      return { traced: traced!, atPoint };
    } catch (err) {
      if (traced !== undefined) return { traced }; // the record is made; only the backward pass failed
      if (started) throw err; // the model's run failed: as the plain recording reports it
    } finally {
      qT.dispose();
    }
    return { traced: await this.trace(q) };
  }

  private async tryCompile(q: Float64Array): Promise<void> {
    let traced: TraceResult;
    /** tfjs's value and gradient at q from the recording's own run (see `tapedRecording`). */
    let atQ: Evaluation | undefined;
    try {
      if (this.tapedRecording) ({ traced, atPoint: atQ } = await this.traceTaped(q));
      else traced = await this.trace(q);
    } catch (err) {
      // a point the model rejects (an invalid distribution parameter): try again at the next one; anything else is tfjs's to report
      if (!rejectsPoint(err)) this.turnOff(`tracing failed: ${(err as Error).message}`);
      return;
    }
    // a tfjs run of this model is as wrong as its replay: no fallback, an error naming the site
    if (traced.branchesOnTensor) throw branchOnTensorError(traced.branchesOnTensor.site);
    if (!traced.graph) return this.turnOff(`not traceable: ${traced.reason}`);
    const compiled = CompiledGraph.compile(traced.graph);
    if (!(compiled instanceof CompiledGraph)) return this.turnOff(`not compiled: ${compiled.reason}`);
    // self-check at q and at a perturbed point
    const perturbed = q.map((v, i) => v + 0.3 * Math.sin(1.7 * i + 0.5));
    for (const point of [q, perturbed]) {
      const mine = compiled.run(point, true);
      if (!mine) continue; // a guard changed at the perturbed point: nothing to compare there
      const theirs = point === q && atQ !== undefined ? atQ : await this.viaTfjs(point);
      // tfjs rejected a point the replay finds valid (float32 failing where float64 does not): no verdict here
      if (point !== q && theirs.logp.every((v) => v === -Infinity) && mine.value.every(Number.isFinite)) continue;
      let { dv, dg } = replayVsTfjs(compiled, point, mine, theirs);
      if (!(dv <= REL_TOL) && (await this.float64RunAgrees(point, mine.value))) {
        // float32 cannot resolve this density (data near 1e4 on a scale of 1e-3): a float64 run of the model settles it
        dv = 0;
        if (!(dg <= REL_TOL)) dg = selfConsistency(compiled, point);
      }
      if (!(dv <= REL_TOL && dg <= REL_TOL)) {
        return this.turnOff(`self-check failed (relative disagreement with tfjs: log density ${dv.toExponential(1)}, gradient ${dg.toExponential(1)})`);
      }
    }
    // custom ops (odeSolve, incomplete-beta cdfs) give tfjs the same gradient code the replay runs, so the
    // comparison above cannot catch a wrong one: central differences of the replay's float64 values can
    if (hasCustomOps(traced.graph)) {
      const worst = customGradientCheck(traced.graph, q, REL_TOL);
      if (worst !== undefined && !(worst <= REL_TOL)) return this.turnOff(`self-check failed (a custom op's gradient disagrees with central differences of the log density: relative ${worst.toExponential(1)})`);
    }
    // a user's tf.customGrad gradient is what tfjs uses too, so it is no reason to fall back: the engine decides
    // (HMC and NUTS stay exact with any position-dependent gradient; an optimiser follows it, see CompileStats.surrogateGradients)
    this.surrogates = userGradientFailures(traced.graph).map(describeUserGradFailure);
    this.notes = userGradLabels(traced.graph);
    if (this.mode === 'auto' && compiled.work * this.rows > WORK_PER_KERNEL * compiled.kernelCount) {
      return this.turnOff(
        `${TFJS_FASTER}(${compiled.work * this.rows} element operations over ${compiled.kernelCount} kernels; the replay is used up to ${WORK_PER_KERNEL} per kernel)`,
      );
    }
    this.graph = compiled;
    this.first = { graph: traced.graph, point: Float64Array.from(q) };
    this.state = 'on';
  }

  /** The first record (while its replay is in use) and the point it was made at. */
  private first: { readonly graph: Graph; readonly point: Float64Array } | undefined;

  /**
   * The record in use (the first one) and the unconstrained point it was
   * made at, for code that replays other outputs of the same record (the
   * MCMC completion, `compiled-completion.ts`); undefined while the replay
   * is not in use.
   * @internal
   */
  get record(): { readonly graph: Graph; readonly point: Float64Array } | undefined {
    return this.state === 'on' ? this.first : undefined;
  }
}
