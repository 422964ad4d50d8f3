/**
 * The walk with random jumps, a program whose control flow depends on a
 * random value (so program SMC runs it per particle): after the first step,
 * with probability `p` the state is a fresh N(0, sJ) draw instead of
 * N(x_{t-1}, q), and y_t ~ N(x_t, r). Its exact log Z comes from a forward
 * recursion over the time of the last jump, a Kalman filter per case.
 * Shared by bench/smc-program.ts, test/smc/program-lean.test.ts and test/smc/unfold.test.ts.
 */
import { model } from '../../src/core/model.js';
import { Bernoulli } from '../../src/distributions/bernoulli.js';
import { Normal } from '../../src/distributions/normal.js';

/** The jump walk's settings and data. */
export interface JumpWalk {
  m0: number;
  s0: number;
  q: number;
  r: number;
  /** Probability of a jump at each step after the first. */
  p: number;
  /** Standard deviation of the state after a jump (about 0). */
  sJ: number;
  ys: number[];
}

/** The jump walk as a program: which distribution x_t comes from depends on a Bernoulli draw. */
export const jumpWalk = model(async ({ sample, observe }, w: JumpWalk) => {
  let x = await sample('x0', Normal(w.m0, w.s0));
  for (let t = 0; t < w.ys.length; t++) {
    if (t > 0) {
      const jump = await sample(`j${t}`, Bernoulli(w.p));
      x = jump === 1 ? await sample(`x${t}`, Normal(0, w.sJ)) : await sample(`x${t}`, Normal(x, w.q));
    }
    await observe(`y${t}`, Normal(x, w.r), w.ys[t]);
  }
  return x;
});

/**
 * The same jump walk written with `unfold` (its Markov structure stated):
 * step t's sites are `walk/t/j`, `walk/t/x`, `walk/t/y`; the state is x_t.
 * Per-particle program SMC forks a copy inside a step from its state instead
 * of re-running the model (`smc/program-lean.ts`).
 */
export const jumpWalkUnfold = model(async ({ sample, unfold }, w: JumpWalk) => {
  const x0 = await sample('x0', Normal(w.m0, w.s0));
  const xs = await unfold('walk', w.ys.length, x0, async ({ sample, observe }, t, x) => {
    let next = x;
    if (t > 0) next = (await sample('j', Bernoulli(w.p))) === 1 ? await sample('x', Normal(0, w.sJ)) : await sample('x', Normal(x, w.q));
    await observe('y', Normal(next, w.r), w.ys[t]);
    return next;
  });
  return xs[xs.length - 1];
});

/** log(sum(exp(xs))). */
function logSumExp(xs: number[]): number {
  const top = Math.max(...xs);
  return top + Math.log(xs.reduce((a, x) => a + Math.exp(x - top), 0));
}

/** Exact log Z of the jump walk, O(T^2): per case "last jump at s" (s = 0: none yet), its log weight and a Kalman filter. */
export function jumpLogZ(w: JumpWalk): number {
  let cases: { lw: number; m: number; P: number }[] = [];
  for (let t = 0; t < w.ys.length; t++) {
    if (t === 0) cases = [{ lw: 0, m: w.m0, P: w.s0 * w.s0 }];
    else {
      const jumped = { lw: Math.log(w.p) + logSumExp(cases.map((c) => c.lw)), m: 0, P: w.sJ * w.sJ };
      cases = cases.map((c) => ({ lw: c.lw + Math.log(1 - w.p), m: c.m, P: c.P + w.q * w.q }));
      cases.push(jumped);
    }
    const y = w.ys[t]!;
    cases = cases.map((c) => {
      const S = c.P + w.r * w.r;
      const K = c.P / S;
      return { lw: c.lw - 0.5 * (Math.log(2 * Math.PI * S) + (y - c.m) ** 2 / S), m: c.m + K * (y - c.m), P: c.P * (1 - K) };
    });
  }
  return logSumExp(cases.map((c) => c.lw));
}
