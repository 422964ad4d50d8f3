/**
 * Shared by the program-SMC tests: the random walk as a program, its exact
 * answers (Kalman filter), the check against them, and a planted bug.
 */
import * as tf from '@tensorflow/tfjs-core';
import { model } from '../../src/core/model.js';
import { rngFrom } from '../../src/core/rng.js';
import { Normal } from '../../src/distributions/normal.js';
import { type SMCResult, runSMC } from '../../src/infer/smc/core.js';
import type { ParticleStore } from '../../src/infer/smc/store.js';
import { BatchedProgram, batchedProgramStore } from '../../src/infer/smc/program-batched.js';
import { openParticleAxis } from '../../src/infer/smc/reindex.js';
import { LeanParticle, LeanRun } from '../../src/infer/smc/program-lean.js';
import { Pacer } from '../../src/infer/pace.js';
import { meanSE } from '../stats.js';

/** x_0 ~ N(0, 1), x_t ~ N(x_{t-1}, 1), y_t ~ N(x_t, 1); returns x_T. */
export const walk = model(async ({ sample, observe }, ys: number[]) => {
  let x = await sample('x0', Normal(0, 1));
  for (let t = 0; t < ys.length; t++) {
    if (t > 0) x = await sample(`x${t}`, Normal(x, 1));
    await observe(`y${t}`, Normal(x, 1), ys[t]);
  }
  return x;
});

/** Exact log Z and E[x_T | y] of the random walk (Kalman filter). */
export function kalman(ys: number[]): { logZ: number; mean: number } {
  let m = 0;
  let P = 1;
  let logZ = 0;
  for (let t = 0; t < ys.length; t++) {
    if (t > 0) P += 1;
    const S = P + 1;
    const r = ys[t] - m;
    logZ += -0.5 * (Math.log(2 * Math.PI * S) + (r * r) / S);
    const K = P / S;
    m += K * r;
    P *= 1 - K;
  }
  return { logZ, mean: m };
}

/** One run's estimates. */
export interface RunOut {
  logZ: number;
  meanX: number;
}

/**
 * The check an engine must pass over `seeds` seeds: exp(log Z) unbiased for
 * Z (its ratio to the exact Z within 4 standard errors of 1) and the
 * posterior mean of x_T within 4 standard errors of the Kalman mean.
 */
export async function checkAgainstKalman(ys: number[], seeds: number, run: (seed: number) => Promise<RunOut>): Promise<{ ok: boolean; detail: string; logZs: number[] }> {
  const exact = kalman(ys);
  const outs: RunOut[] = [];
  for (let s = 0; s < seeds; s++) outs.push(await run(s));
  const z = meanSE(outs.map((o) => Math.exp(o.logZ - exact.logZ)));
  const x = meanSE(outs.map((o) => o.meanX));
  const ok = Math.abs(z.mean - 1) < 4 * z.se && Math.abs(x.mean - exact.mean) < 4 * x.se;
  return { ok, detail: `Z/Z* = ${z.mean.toFixed(3)} ± ${z.se.toFixed(3)}; E[x_T] = ${x.mean.toFixed(4)} ± ${x.se.toFixed(4)} (exact ${exact.mean.toFixed(4)})`, logZs: outs.map((o) => o.logZ) };
}

/**
 * A planted bug: batched program SMC whose resampling forgets to gather the
 * values the suspended program holds (the weights are reset, the particles
 * are not moved), built from the engine's own pieces.
 */
export async function forgetfulBatched(ys: number[], n: number, seed: number): Promise<RunOut> {
  return batchedWalkRun(ys, n, { ...batchedProgramStore<tf.Tensor>(), select: (state) => state }, { seed }, (res) => {
    const x = (res.state.returnValue as tf.Tensor).dataSync();
    let meanX = 0;
    res.weights.forEach((w, i) => (meanX += w * x[i]));
    return { logZ: res.logZ, meanX };
  });
}

/**
 * One batched program SMC run of {@link walk} on `ys` with `n` particles,
 * built from the engine's own pieces with the given particle store (the
 * engine's, or a planted one), read by `read` while the particle axis is
 * still open.
 */
export async function batchedWalkRun<T>(
  ys: number[],
  n: number,
  store: ParticleStore<BatchedProgram<tf.Tensor>>,
  options: { readonly seed: number; readonly essThreshold?: number },
  read: (res: SMCResult<BatchedProgram<tf.Tensor>>) => T | Promise<T>,
): Promise<T> {
  const open = await openParticleAxis(n);
  if (!open) throw new Error('no AsyncLocalStorage');
  try {
    const res = await runSMC<BatchedProgram<tf.Tensor>>(
      {
        init: (_n, r) => new BatchedProgram<tf.Tensor>(open, r.split()),
        async step(state) {
          await state.advance(walk as never, [ys]);
          return { state, logPotential: state.increment ?? new Float64Array(n) };
        },
        done: (_t, state) => state.status === 'done',
        store,
      },
      { particles: n, rng: rngFrom(options.seed), genealogy: false, ...(options.essThreshold === undefined ? {} : { essThreshold: options.essThreshold }) },
    );
    return await read(res);
  } finally {
    open.close();
  }
}

/**
 * A planted bug for the lean per-particle runtime: program SMC over
 * {@link LeanParticle}s whose resampling forgets to copy the particles (the
 * weights are reset, the executions stay where they were), built from the
 * engine's own pieces.
 */
export async function forgetfulLean(ys: number[], n: number, seed: number): Promise<RunOut> {
  const run = new LeanRun<number>(walk as never, [ys], new Pacer());
  const res = await runSMC<LeanParticle<number>[]>(
    {
      init: (count, r) => Array.from({ length: count }, () => new LeanParticle<number>(r.split(), run)),
      async step(state) {
        await run.advanceAll(state);
        const logPotential = Float64Array.from(state, (p) => p.increment);
        for (const p of state) p.increment = 0;
        return { state, logPotential };
      },
      done: (_t, state) => state.every((p) => p.status === 'done'),
      store: { kind: 'program', select: (state) => state, release() {}, dispose() {} },
    },
    { particles: n, rng: rngFrom(seed), genealogy: false },
  );
  let meanX = 0;
  res.weights.forEach((w, i) => (meanX += w * (res.state[i].returnValue as number)));
  return { logZ: res.logZ, meanX };
}
