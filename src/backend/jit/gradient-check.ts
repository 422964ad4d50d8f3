/**
 * Checking a compiled graph's gradient against its own values.
 *
 * A graph with custom ops (custom-kernels.ts) runs each op's own
 * vector–Jacobian product, and so does tfjs (the same float64 code behind
 * a `tf.customGrad`): comparing the replay's gradient with tfjs's cannot
 * catch a wrong one. Central differences of the replay's own float64 values
 * can.
 *
 * @module
 */
import { type CustomOp, isCustomKernel } from './custom-kernels.js';
import { CompiledGraph } from './program.js';
import type { Graph } from './trace.js';
import { type UserGradOp, isUserGradOp, userGradientDisagreement } from './user-grad.js';

/**
 * Whether a recorded graph has a library custom op (whose gradient only
 * {@link gradientByDifferences} can check). A user's `tf.customGrad` node
 * computes in float32, too coarse for those float64 differences: see
 * {@link userGradientFailures}.
 */
export function hasCustomOps(graph: Graph): boolean {
  return graph.nodes.some((n) => isCustomKernel(n.kernel) && !isUserGradOp(n.attrs.op));
}

/** The labels of a graph's user `tf.customGrad` nodes (each runs in float32 on tfjs inside the replay). */
export function userGradLabels(graph: Graph): string[] {
  return graph.nodes.filter((n) => isUserGradOp(n.attrs.op)).map((n) => (n.attrs.op as { name: string }).name);
}

/**
 * The user `tf.customGrad` nodes of `graph` whose gradient disagrees with
 * central differences of their own float32 values (at the recorded point)
 * by more than `agree`, relative: label and disagreement. tfjs uses a
 * custom gradient as given, so such a gradient would be used silently on
 * every path.
 */
export function userGradientFailures(graph: Graph, agree = USER_GRAD_AGREE): UserGradFailure[] {
  const failures: UserGradFailure[] = [];
  for (const n of graph.nodes) {
    const op = n.attrs.op;
    if (!isUserGradOp(op)) continue;
    const failure = userGradientFailure(op, n.inputShapes, n.shape, agree);
    if (failure) failures.push(failure);
  }
  return failures;
}

/** The relative disagreement above which a user op's gradient is not its value's derivative. */
export const USER_GRAD_AGREE = 1e-2;

/** A user `tf.customGrad` op whose gradient disagrees with its values: its label and the relative disagreement. */
export interface UserGradFailure {
  readonly label: string;
  readonly disagreement: number;
}

/** One user op's check (see {@link userGradientFailures}): the failure, or undefined when it agrees or gives no verdict. */
export function userGradientFailure(op: UserGradOp, inputShapes: readonly (readonly number[])[], outShape: readonly number[], agree = USER_GRAD_AGREE): UserGradFailure | undefined {
  const d = userGradientDisagreement(op, inputShapes, outShape);
  return d !== undefined && d > agree ? { label: op.name, disagreement: d } : undefined;
}

/** The words every engine uses for a {@link UserGradFailure} (`CompileStats.surrogateGradients`, VI's error). */
export function describeUserGradFailure(w: UserGradFailure): string {
  return `${w.label} (run on tfjs in float32): its gradFunc disagrees with central differences of its value (relative ${w.disagreement.toExponential(1)})`;
}

/**
 * Check the gradient code of `graph`'s custom ops at `q`: the graph is
 * compiled with each op's precise version (`CustomOp.precise`, e.g. an ODE
 * solve at tolerance 1e-8, so that discretisation error neither hides nor
 * mimics a wrong gradient) and its gradient compared with central
 * differences of its values ({@link gradientByDifferences}). Returns the
 * worst relative disagreement, or undefined for no verdict.
 */
export function customGradientCheck(graph: Graph, q: Float64Array, agree = 1e-3): number | undefined {
  const nodes = graph.nodes.map((n) => {
    const op = n.attrs.op as CustomOp | undefined;
    return isCustomKernel(n.kernel) && op?.precise ? { ...n, attrs: { ...n.attrs, op: op.precise() } } : n;
  });
  const compiled = CompiledGraph.compile({ ...graph, nodes });
  return compiled instanceof CompiledGraph ? gradientByDifferences(compiled, q, agree) : undefined;
}

/** Step of the differences, relative to `1 + max |q|`. */
const STEP = 1e-4;

/**
 * The worst relative disagreement (`|fd - g.v| / (1 + sum |g_i v_i|)`, for
 * the sum of the outputs) between `graph`'s gradient at `q` and central
 * differences of its values along fixed directions v, or undefined when no
 * direction gives a verdict.
 *
 * The output of an adaptive solver jumps (by about its error tolerance)
 * where its step sequence changes, so a difference quotient that straddles
 * such a point is no derivative: a direction counts only where the quotients
 * at steps h and h/2 agree (within a tenth of `agree`), which a smooth
 * function satisfies whatever its gradient code says. Up to four directions
 * are tried until two give a verdict.
 */
export function gradientByDifferences(graph: CompiledGraph, q: Float64Array, agree = 1e-3): number | undefined {
  const at = graph.run(q, true);
  if (!at) return undefined;
  const grad = Float64Array.from(at.grad!);
  const sum = (x: Float64Array): number | undefined => {
    const r = graph.run(x, false);
    if (!r) return undefined;
    let s = 0;
    for (const v of r.value) s += v;
    return Number.isFinite(s) ? s : undefined;
  };
  const scale = STEP * (1 + Math.max(...Array.from(q, Math.abs)));
  let worst: number | undefined;
  let verdicts = 0;
  for (const phase of [0.5, 2.1, 3.7, 5.3]) {
    if (verdicts >= 2) break;
    const v = Float64Array.from(q, (_, i) => Math.sin(1.3 * i + phase));
    const h = scale / (Math.hypot(...v) || 1);
    const quotient = (step: number): number | undefined => {
      const up = sum(q.map((x, i) => x + step * v[i]!));
      const down = sum(q.map((x, i) => x - step * v[i]!));
      return up === undefined || down === undefined ? undefined : (up - down) / (2 * step);
    };
    const q1 = quotient(h);
    const q2 = quotient(h / 2);
    if (q1 === undefined || q2 === undefined) continue;
    let an = 0;
    let mag = 0;
    for (let i = 0; i < q.length; i++) {
      an += grad[i]! * v[i]!;
      mag += Math.abs(grad[i]! * v[i]!);
    }
    if (Math.abs(q1 - q2) > (agree / 10) * (1 + mag)) continue; // a jump within the step: no verdict here
    verdicts++;
    worst = Math.max(worst ?? 0, Math.abs(q2 - an) / (1 + mag));
  }
  graph.run(q, true); // leave the graph's buffers as a run at q leaves them
  return worst;
}
