/**
 * The user `tf.customGrad` ops of a model run on the tfjs path, checked as
 * the compiled path checks them.
 *
 * tfjs uses a custom gradient as given and an optimiser follows it, so VI
 * refuses an op whose gradient is not its value's derivative (a
 * straight-through clip, say) unless `surrogateGradients: true`. Where the
 * model compiles, the recorder sees each op and `gradient-check.ts` checks
 * it; on the tfjs path (`compile: false`, or a model that does not compile)
 * nothing recorded the ops (SVGD always runs there), so VI and SVGD watch
 * the model's first run: every
 * top-level launch of an op made after tyche was imported is kept with its
 * input values and the site it ran at, and after the run (outside any
 * gradient tape) each is checked by the same central differences, at the
 * same points, with the same words. Unlike the recorder, the watch cannot
 * tell whether an op's inputs depend on the latent values, so an op on data
 * alone is checked too.
 *
 * @module
 */
import type * as tf from '@tensorflow/tfjs-core';
import { type UserGradFailure, userGradientFailure } from '../../backend/jit/gradient-check.js';
import { type CustomGradFunction, type UserGradPlace, observeUserGradLaunches, userGradLabel, userGradOp } from '../../backend/jit/user-grad.js';
import { SiteCursor } from '../../backend/site-cursor.js';

/** Launches of one op (by label) checked at most: a run per particle launches it once per particle. */
const CHECKS_PER_OP = 4;

interface Launch {
  readonly f: CustomGradFunction;
  readonly at: UserGradPlace;
  readonly inputs: readonly Float64Array[];
  readonly shapes: readonly (readonly number[])[];
  readonly dtypes: readonly tf.DataType[];
  readonly outShape: readonly number[];
}

/** Launches of user `tf.customGrad` ops during one model run, with the sites they ran at (see the module notes). */
export class UserGradWatch {
  private readonly launches: Launch[] = [];
  /** The run's sites (a launch made between sites is named after the next one). */
  private readonly cursor = new SiteCursor<UserGradPlace>((place, site) => {
    place.site = site;
  });
  private stop: (() => void) | undefined;

  constructor() {
    this.stop = observeUserGradLaunches(({ f, inputs, output }) => {
      if (!inputs.some((t) => t.dtype === 'float32')) return; // indices alone: no gradient to follow
      const site = this.cursor.site;
      const at = this.cursor.track({ site, before: site === undefined, after: this.cursor.lastSite });
      this.launches.push({
        f,
        at,
        inputs: inputs.map((t) => Float64Array.from(t.dataSync() as ArrayLike<number>)),
        shapes: inputs.map((t) => [...t.shape]),
        dtypes: inputs.map((t) => t.dtype),
        outShape: [...output.shape],
      });
    });
  }

  /** The model runner starts (`'enter'`) or has finished (`'leave'`) the site `address`. */
  mark(address: string, phase: 'enter' | 'leave'): void {
    this.cursor.mark(address, phase);
  }

  /** Stop watching (the launches seen so far are kept for `failures`). */
  close(): void {
    this.stop?.();
    this.stop = undefined;
  }

  /**
   * The ops seen whose gradient disagrees with central differences of their
   * values, each op (by label) once. Runs the ops' `f` on tfjs: call it
   * outside any gradient tape.
   */
  failures(): UserGradFailure[] {
    this.close();
    const found = new Map<string, UserGradFailure>();
    const checked = new Map<string, number>();
    for (const l of this.launches) {
      const label = userGradLabel(l.f, l.at);
      const count = checked.get(label) ?? 0;
      if (found.has(label) || count >= CHECKS_PER_OP) continue;
      checked.set(label, count + 1);
      const failure = userGradientFailure(userGradOp(l.f, () => label, l.outShape, l.dtypes, l.inputs), l.shapes, l.outShape);
      if (failure) found.set(label, failure);
    }
    return [...found.values()];
  }
}
