/**
 * A local linear trend, a state-space model whose state is a small object:
 * trend_t ~ N(trend_{t-1}, qb), level_t ~ N(level_{t-1} + trend_{t-1}, ql),
 * y_t ~ N(level_t, r), from level ~ N(0, s0), trend ~ N(0, sb0). Written with
 * `unfold` and a `{ level, trend }` state (and a `[level, trend]` one); its
 * exact log Z and E[level_T | y] from a Kalman filter on (level, trend).
 * Shared by test/smc/unfold-group-session16.test.ts and bench/smc-program.ts.
 */
import { model } from '../../src/core/model.js';
import { type Value, add } from '../../src/core/value.js';
import { Normal } from '../../src/distributions/normal.js';

/** The local linear trend's settings and data. */
export interface Llt {
  s0: number;
  sb0: number;
  ql: number;
  qb: number;
  r: number;
  ys: number[];
}

/** The local linear trend with a `{ level, trend }` state; returns E-able level_T. */
export const lltObject = model(async ({ sample, unfold }, w: Llt) => {
  const l0 = await sample('l0', Normal(0, w.s0));
  const b0 = await sample('b0', Normal(0, w.sb0));
  const xs = await unfold('llt', w.ys.length, { level: l0, trend: b0 }, async ({ sample, observe }, t, s: { level: Value; trend: Value }) => {
    const trend = await sample('b', Normal(s.trend, w.qb));
    const level = await sample('l', Normal(add(s.level, s.trend), w.ql));
    await observe('y', Normal(level, w.r), w.ys[t]!);
    return { level, trend };
  });
  return xs[xs.length - 1]!.level;
});

/** The same with a `[level, trend]` state. */
export const lltArray = model(async ({ sample, unfold }, w: Llt) => {
  const l0 = await sample('l0', Normal(0, w.s0));
  const b0 = await sample('b0', Normal(0, w.sb0));
  const xs = await unfold('llt', w.ys.length, [l0, b0] as Value[], async ({ sample, observe }, t, [level0, trend0]: Value[]) => {
    const trend = await sample('b', Normal(trend0!, w.qb));
    const level = await sample('l', Normal(add(level0!, trend0!), w.ql));
    await observe('y', Normal(level, w.r), w.ys[t]!);
    return [level, trend];
  });
  return xs[xs.length - 1]![0]!;
});

/** The exact log Z and E[level_T | y] (a Kalman filter on (level, trend)). */
export function lltKalman(w: Llt): { logZ: number; level: number } {
  let m = [0, 0];
  let P = [
    [w.s0 * w.s0, 0],
    [0, w.sb0 * w.sb0],
  ];
  let logZ = 0;
  for (const y of w.ys) {
    // predict: F = [[1, 1], [0, 1]], Q = diag(ql^2, qb^2)
    m = [m[0]! + m[1]!, m[1]!];
    const [a, b, d] = [P[0]![0]!, P[0]![1]!, P[1]![1]!];
    P = [
      [a + 2 * b + d + w.ql * w.ql, b + d],
      [b + d, d + w.qb * w.qb],
    ];
    // update with H = [1, 0]
    const S = P[0]![0]! + w.r * w.r;
    const e = y - m[0]!;
    logZ += -0.5 * Math.log(2 * Math.PI * S) - (0.5 * e * e) / S;
    const K = [P[0]![0]! / S, P[1]![0]! / S];
    m = [m[0]! + K[0]! * e, m[1]! + K[1]! * e];
    P = [
      [P[0]![0]! - K[0]! * P[0]![0]!, P[0]![1]! - K[0]! * P[0]![1]!],
      [P[1]![0]! - K[1]! * P[0]![0]!, P[1]![1]! - K[1]! * P[0]![1]!],
    ];
  }
  return { logZ, level: m[0]! };
}
