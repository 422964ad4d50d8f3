/**
 * A user's `tf.customGrad` op inside a recorded model, replayed as ONE
 * opaque node that calls back into tfjs.
 *
 * tfjs runs a custom-gradient op as one kernel launch with no name: its
 * forward function `f` computes the value (with any tfjs code, reads
 * included) and returns the user's `gradFunc`. The recorder cannot follow
 * it kernel by kernel, and the launch does not carry `f` (only closures
 * over this call's inputs), so this module wraps the engine's `customGrad`
 * once, when tyche loads, to note which `f` is running; the recorder then
 * records the launch as one node `Custom:<label>` whose {@link CustomOp}
 * runs `f` on float32 tensors made from the replay's float64 buffers:
 * forward = `f(...x).value`, backward = `f(...x).gradFunc(dy)`, each inside
 * `tf.tidy`. So the rest of the model still replays in float64; this node
 * runs in float32 on tfjs (its label says so), and uses the user's gradient
 * as given, as tfjs does: {@link userGradientDisagreement} checks that
 * gradient against central differences of the node's own values, at the
 * recorded point and at points around it.
 *
 * An op made with `tf.customGrad` before tyche was imported is not wrapped:
 * a model using it stays uncompiled (the refusal says so).
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { CustomKernel64, CustomOp } from './custom-kernels.js';
import { sizeOfShape } from './ndarray.js';

/** The function a user passes to `tf.customGrad` (inputs, then `save`). */
export type CustomGradFunction = (...args: never[]) => { value: tf.Tensor; gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor | tf.Tensor[] };

interface GradEngine {
  customGrad(f: CustomGradFunction): (...args: tf.Tensor[]) => tf.Tensor;
}

const running: CustomGradFunction[] = [];
const WRAPPED = Symbol.for('tyche.customGradWrapped');

/** A top-level launch of a user's `tf.customGrad` op, as {@link observeUserGradLaunches} reports it. */
export interface UserGradLaunch {
  /** The `f` the op was made from. */
  readonly f: CustomGradFunction;
  /** The launch's input tensors. */
  readonly inputs: readonly tf.Tensor[];
  /** Its output. */
  readonly output: tf.Tensor;
}

const observers = new Set<(launch: UserGradLaunch) => void>();

/**
 * Call `observer` on every top-level launch of a `tf.customGrad` op made
 * after tyche was imported (not on ops launched inside another op's `f`),
 * until the returned function is called. For checks of a model's tfjs runs,
 * which the recorder does not see (e.g. VI with `compile: false`).
 */
export function observeUserGradLaunches(observer: (launch: UserGradLaunch) => void): () => void {
  observers.add(observer);
  return () => {
    observers.delete(observer);
  };
}

/** Wrap the engine's `customGrad` (once) so that {@link runningCustomGrad} knows which `f` a launch runs. */
function wrapCustomGrad(): void {
  const engine = tf.engine() as unknown as GradEngine & { [WRAPPED]?: true };
  if (engine[WRAPPED]) return;
  const original = engine.customGrad;
  engine.customGrad = function (this: GradEngine, f: CustomGradFunction) {
    const op = original.call(this, f);
    return function (this: unknown, ...args: tf.Tensor[]) {
      running.push(f);
      try {
        const output = op.apply(this, args);
        if (observers.size > 0 && running.length === 1) for (const o of observers) o({ f, inputs: args, output });
        return output;
      } finally {
        running.pop();
      }
    };
  };
  engine[WRAPPED] = true;
}
wrapCustomGrad();

/** The `f` of the `tf.customGrad` launch now running (innermost), if the op was made after tyche loaded. */
export function runningCustomGrad(): CustomGradFunction | undefined {
  return running[running.length - 1];
}

/** Where a user op ran: at a site, before the site that started next (`before`), or after the last one. */
export interface UserGradPlace {
  site: string | undefined;
  readonly before: boolean;
  readonly after: string | undefined;
}

/** The name of a user `tf.customGrad` op in diagnostics and errors: `f`'s name and the site it ran at. */
export function userGradLabel(f: CustomGradFunction, at: UserGradPlace): string {
  const where = at.site === undefined ? (at.after !== undefined ? ` after site "${at.after}"` : '') : at.before ? ` before site "${at.site}"` : ` at site "${at.site}"`;
  return `tf.customGrad op${f.name ? ` "${f.name}"` : ''}${where}`;
}

/** A {@link CustomOp} built by {@link userGradOp}: it also keeps its inputs' values at the recorded point. */
export interface UserGradOp extends CustomOp {
  readonly userGrad: true;
  /** The inputs' values where the op was recorded (for {@link userGradientDisagreement}). */
  readonly at: readonly Float64Array[];
  /** The inputs' dtypes. */
  readonly dtypes: readonly tf.DataType[];
}

/** Whether a custom op is a user's `tf.customGrad` op (see {@link userGradOp}). */
export function isUserGradOp(op: unknown): op is UserGradOp {
  return typeof op === 'object' && op !== null && (op as { userGrad?: unknown }).userGrad === true;
}

/** Calls `f` on float32 tensors of `inputs` (to run inside `tf.tidy`). */
function callF(f: CustomGradFunction, label: string, inputs: readonly Float64Array[], shapes: readonly (readonly number[])[], dtypes: readonly tf.DataType[]) {
  const xs = inputs.map((v, i) => tf.tensor(dtypes[i] === 'float32' ? Float32Array.from(v) : Array.from(v), [...shapes[i]!], dtypes[i]));
  let saved: tf.Tensor[] = [];
  const save = (ts: tf.Tensor[]): void => {
    saved = ts;
  };
  const res = (f as unknown as (...a: unknown[]) => ReturnType<CustomGradFunction>)(...xs, save);
  if (!(res?.value instanceof tf.Tensor) || typeof res.gradFunc !== 'function') throw new TypeError(`${label}: f must return { value: Tensor, gradFunc }`);
  return { res, saved };
}

/**
 * The replayed node of a user's `tf.customGrad` op (see the module notes):
 * `label()` names it in diagnostics and errors (read late: the site it is
 * used at may start after the op runs), `dtypes` are its inputs' dtypes,
 * `at` their values where it was recorded.
 */
export function userGradOp(f: CustomGradFunction, label: () => string, outShape: readonly number[], dtypes: readonly tf.DataType[], at: readonly Float64Array[]): UserGradOp {
  return {
    get name() {
      return label();
    },
    userGrad: true,
    at,
    dtypes,
    outputShape: () => [...outShape],
    instantiate(inputShapes, shape): CustomKernel64 {
      const name = label();
      const size = sizeOfShape(shape);
      return {
        forward(inputs, out) {
          tf.tidy(() => {
            const { res } = callF(f, name, inputs, inputShapes, dtypes);
            if (res.value.size !== size) throw new RangeError(`${name}: the value has shape [${res.value.shape.join(', ')}] where the record has [${shape.join(', ')}]`);
            out.set(res.value.dataSync() as ArrayLike<number>);
          });
        },
        backward(inputs, _out, gOut, grads) {
          tf.tidy(() => {
            const { res, saved } = callF(f, name, inputs, inputShapes, dtypes);
            const g = res.gradFunc(tf.tensor(Float32Array.from(gOut), [...shape]), saved);
            const gs = Array.isArray(g) ? g : [g];
            if (gs.length !== inputs.length) throw new RangeError(`${name}: gradFunc returned ${gs.length} gradients for ${inputs.length} inputs`);
            gs.forEach((gi, i) => {
              const acc = grads[i];
              if (!acc) return;
              if (!(gi instanceof tf.Tensor) || gi.size !== acc.length) throw new RangeError(`${name}: gradFunc's gradient ${i} has shape ${gi instanceof tf.Tensor ? `[${gi.shape.join(', ')}]` : typeof gi} for an input of shape [${inputShapes[i]!.join(', ')}]`);
              const d = gi.dataSync() as ArrayLike<number>;
              for (let j = 0; j < acc.length; j++) acc[j]! += d[j]!;
            });
          });
        },
      };
    },
  };
}

/** float32's unit roundoff. */
const EPS32 = 2 ** -24;

/**
 * Offsets of the points {@link userGradientDisagreement} checks besides the
 * recorded one, in units of `1 + max |x|`: a surrogate gradient (e.g. the
 * straight-through gradient of a clip) often agrees near where the model was
 * recorded and only differs farther out.
 */
const CHECK_OFFSETS = [-3, -1, 1, 3];

/**
 * How far a user op's gradient is from central differences of its own
 * (float32) values at the recorded point and at points offset from it along
 * a fixed direction (`CHECK_OFFSETS`), the worst of them: see
 * `disagreementAt`. Returns the worst relative disagreement beyond float32
 * rounding, or undefined for no verdict at any point.
 */
export function userGradientDisagreement(op: UserGradOp, inputShapes: readonly (readonly number[])[], outShape: readonly number[]): number | undefined {
  const k = op.instantiate(inputShapes, outShape);
  const at = op.at.map((v) => Float64Array.from(v));
  const scale = 1 + Math.max(0, ...at.map((v) => Math.max(0, ...Array.from(v, Math.abs))));
  let worst: number | undefined;
  for (const c of [0, ...CHECK_OFFSETS]) {
    // integer inputs (indices) stay where they were recorded
    const x = at.map((v, j) => (op.dtypes[j] === 'float32' ? v.map((e, i) => e + c * scale * Math.sin(0.7 * i + 0.4 * j + 1)) : Float64Array.from(v)));
    const d = disagreementAt(k, x, outShape);
    if (d !== undefined) worst = Math.max(worst ?? 0, d);
  }
  const out = new Float64Array(sizeOfShape(outShape));
  k.forward(at, out);
  return worst;
}

/**
 * How far a user op's gradient is from central differences of its own
 * (float32) values at `x`: the directional derivative of
 * `w . value(x + t v)` against `v . gradFunc(w)` for fixed directions, with
 * steps sized for float32 (1e-2 and 5e-3 relative to the inputs' scale; the
 * two quotients must agree, else no verdict). Returns the worst relative
 * disagreement beyond float32 rounding, or undefined for no verdict.
 */
function disagreementAt(k: CustomKernel64, x: readonly Float64Array[], outShape: readonly number[]): number | undefined {
  const n = sizeOfShape(outShape);
  const w = Float64Array.from({ length: n }, (_, i) => Math.cos(0.7 * i + 0.3));
  const out = new Float64Array(n);
  const s = (xs: readonly Float64Array[]): { value: number; mag: number } => {
    k.forward(xs, out);
    let value = 0;
    let mag = 0;
    for (let i = 0; i < n; i++) {
      value += w[i]! * out[i]!;
      mag += Math.abs(w[i]! * out[i]!);
    }
    return { value, mag };
  };
  const base = s(x);
  if (!Number.isFinite(base.value)) return undefined;
  const grads = x.map((v) => new Float64Array(v.length));
  k.backward(x, out, w, grads);
  const scale = 1 + Math.max(0, ...x.map((v) => Math.max(0, ...Array.from(v, Math.abs))));
  let worst: number | undefined;
  for (const phase of [0.5, 2.1]) {
    const v = x.map((xi, j) => Float64Array.from(xi, (_, i) => Math.sin(1.3 * i + 0.9 * j + phase)));
    let an = 0;
    let norm = 0;
    v.forEach((vi, j) => vi.forEach((e, i) => ((an += e * grads[j]![i]!), (norm += e * e))));
    const unit = Math.sqrt(norm) || 1;
    const quotient = (h: number): { q: number; noise: number } | undefined => {
      const up = s(x.map((xi, j) => xi.map((e, i) => e + (h / unit) * v[j]![i]!)));
      const down = s(x.map((xi, j) => xi.map((e, i) => e - (h / unit) * v[j]![i]!)));
      if (!Number.isFinite(up.value) || !Number.isFinite(down.value)) return undefined;
      // each value carries float32 rounding of about EPS32 per unit of |w . value| (times a few operations)
      return { q: ((up.value - down.value) / (2 * h)) * unit, noise: (16 * EPS32 * (up.mag + down.mag + base.mag) * unit) / (2 * h) };
    };
    const h = 1e-2 * scale;
    const q1 = quotient(h);
    const q2 = quotient(h / 2);
    if (!q1 || !q2) continue;
    const slack = q2.noise + 1e-3 * (Math.abs(q2.q) + Math.abs(an));
    if (Math.abs(q1.q - q2.q) > 2 * q2.noise + 1e-2 * (Math.abs(q2.q) + Math.abs(an))) continue; // not smooth within the step: no verdict
    const d = Math.max(0, Math.abs(q2.q - an) - slack) / (Math.abs(q2.q) + Math.abs(an) + 1e-12);
    worst = Math.max(worst ?? 0, d);
  }
  return worst;
}
