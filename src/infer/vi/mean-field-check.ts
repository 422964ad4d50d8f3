/**
 * Is a mean-field guide too narrow because the posterior is correlated?
 *
 * A mean-field Gaussian fitted by the ELBO matches the posterior's
 * *conditional* precisions: on a Gaussian posterior with precision P its
 * sds are exactly 1/sqrt(P_ii), while the posterior's marginal sds are
 * sqrt((P^-1)_ii). Their ratio, the inflation factor
 *
 *     f_i = sqrt(P_ii (P^-1)_ii)  (>= 1),
 *
 * is the factor by which the guide's sd of coordinate i underestimates the
 * Laplace marginal sd; on a 2-D Gaussian with correlation rho it is
 * 1/sqrt(1 - rho^2). Neither k-hat nor the PSIS-reweighted sds see this at
 * 1000 draws (docs/design.md, "TRUST2, session 16", "NEWUSER4, session 17").
 *
 * The check takes P = E_q[-H], the Hessian H of the log density in the
 * unconstrained space the guide fits averaged over draws from the guide (at
 * the ELBO's optimum a mean-field Gaussian's 1/scale_i^2 is exactly this
 * matrix's diagonal; read at the location alone, the curvature of a
 * non-Gaussian posterior misled: eight schools' tau 1.33 there, 1.07
 * averaged, on a fit whose sds match the reference), each by central
 * differences of the gradient (2 gradients per coordinate and point, steps
 * of a fraction of the guide's sd along each coordinate), symmetrised. f_i is read from the scaled matrix
 * C = D^-1/2 P D^-1/2 (D = diag P) as sqrt((C^-1)_ii), by a Cholesky
 * factorisation of C (so no scale enters). Where P_ii <= 0 or C is not
 * positive definite the guide does not sit on a mode of the density (a
 * saddle, a funnel's neck, a flat direction), and the check says so instead
 * of reading a factor.
 *
 * Large models: at most `maxCoordinates` coordinates enter P (the sketch):
 * every coordinate of the smallest sites first (global parameters), then
 * evenly spaced elements of the larger sites. The factor over a subset S is
 * a lower bound of the full one (the inverse of a principal submatrix,
 * (P_SS)^-1, is the covariance of S given the other coordinates, which is at
 * most the marginal), so a sketched check never warns more than the full one.
 *
 * @module
 */

import { rngFrom } from '../../core/rng.js';

/** Per-coordinate gradients of the log density at `rows` points (row-major `rows x dim`); non-finite where the model rejects a point. */
export type GradientRows = (q: Float64Array, rows: number) => Promise<Float64Array>;

/** The check's answer: the factors, or why there are none. */
export type MeanFieldCheck =
  | {
      /** Per site, the largest factor sqrt(P_ii (P^-1)_ii) over its checked coordinates. */
      readonly factors: Readonly<Record<string, number>>;
      /** The coordinate of the largest factor (e.g. `theta[3]`) and its factor. */
      readonly worst: { readonly coordinate: string; readonly factor: number };
      /** Coordinates that entered the Hessian (all of them unless the model has more than `maxCoordinates`). */
      readonly coordinates: number;
      /** Coordinates of the model (the unconstrained dimension). */
      readonly dim: number;
    }
  | {
      /** Why no factor was read (not a mode, a rejected point, a guide that needs no check, ...). */
      readonly skipped: string;
    };

/** Options of `meanFieldCheck`. */
export interface MeanFieldCheckOptions {
  /** Coordinates of the Hessian at most (default `MAX_COORDINATES`); beyond, a subset (see the module). */
  readonly maxCoordinates?: number;
  /** Finite-difference step as a fraction of the guide's sd along each coordinate (default `FD_STEP`). */
  readonly step?: number;
  /** Points (unconstrained, each of `loc`'s length) whose curvatures are averaged (default: `guidePoints`). */
  readonly points?: readonly Float64Array[];
  /** Gradient evaluations at most (default `MAX_ROWS`): fixes how many guide draws the default points take. */
  readonly maxRows?: number;
}

/** Default gradient evaluations of the check at most: 2 per coordinate per point (see `guidePoints`). */
export const MAX_ROWS = 1024;

/** Guide draws whose curvatures are averaged at most (default points). */
export const MAX_POINTS = 16;

/**
 * The default points: `count` draws from the mean-field guide N(loc, diag(scale^2))
 * in antithetic pairs (loc ± scale * eps), from a stream of their own (the
 * fit's random stream is not touched), so the averaged curvature estimates
 * E_q[-H], the matrix whose diagonal a fitted mean-field Gaussian matches
 * (1/scale_i^2 = E_q[-H_ii] at the ELBO's optimum).
 */
export function guidePoints(loc: Float64Array, scale: Float64Array, count: number): Float64Array[] {
  const dim = loc.length;
  const pairs = Math.max(1, Math.floor(count / 2));
  const eps = rngFrom('mean-field-check').normals(pairs * dim);
  return Array.from({ length: 2 * pairs }, (_, p) => loc.map((v, j) => v + (p % 2 === 0 ? 1 : -1) * scale[j]! * eps[Math.floor(p / 2) * dim + j]!));
}

/** Default coordinates of the Hessian at most: 2 x 256 gradient evaluations, about a quarter of what a 1000-step fit (one draw a step) and its 1000 posterior draws evaluate. */
export const MAX_COORDINATES = 256;

/**
 * Default finite-difference step, in guide sds. Small enough that the
 * difference reads the curvature at the location (third-derivative error
 * O(h^2)), large enough that float32 gradients (the tfjs path) keep ~4
 * digits: their rounding, ~1e-7 of the gradient's terms, over 2h.
 */
export const FD_STEP = 0.01;

/** A mean-field guide's sd this many times below the Laplace marginal sd or more is warned of (see `docs/design.md`, "VITRUST, session 18"). */
export const NARROW_FACTOR = 1.2;

/**
 * The inflation factors of a mean-field guide fitted at `loc` with sds
 * `scale` (unconstrained coordinates named `names`, grouped into sites by
 * `siteOf`), from the gradients of the log density.
 */
export async function meanFieldCheck(gradients: GradientRows, loc: Float64Array, scale: Float64Array, names: readonly string[], siteOf: (coordinate: number) => string, options: MeanFieldCheckOptions = {}): Promise<MeanFieldCheck> {
  const dim = loc.length;
  const coords = chooseCoordinates(dim, siteOf, options.maxCoordinates ?? MAX_COORDINATES);
  const k = coords.length;
  const step = options.step ?? FD_STEP;
  const points = options.points ?? guidePoints(loc, scale, Math.min(MAX_POINTS, Math.floor((options.maxRows ?? MAX_ROWS) / (2 * k))));
  const n = points.length;
  const q = new Float64Array(2 * k * dim * n);
  const h = coords.map((j) => step * (scale[j]! > 0 && Number.isFinite(scale[j]!) ? scale[j]! : 1));
  points.forEach((x, p) => {
    coords.forEach((j, a) => {
      for (const [r, sign] of [[2 * (p * k + a), 1], [2 * (p * k + a) + 1, -1]] as const) {
        q.set(x, r * dim);
        q[r * dim + j]! += sign * h[a]!;
      }
    });
  });
  const g = await gradients(q, 2 * k * n);
  for (let i = 0; i < g.length; i++) if (!Number.isFinite(g[i]!)) return { skipped: `the log density or its gradient is not finite within ${step} guide sds of ${n > 1 ? 'a point of' : ''} the guide's location (coordinate ${names[coords[Math.floor(i / dim / 2) % k]!]})` };
  // P_SS = -(dg_i/dq_j) for i, j in S, averaged over the points, symmetrised
  const P = new Float64Array(k * k);
  for (let p = 0; p < n; p++) {
    for (let a = 0; a < k; a++) {
      const r = 2 * (p * k + a) * dim;
      for (let b = 0; b < k; b++) {
        const i = coords[b]!;
        P[b * k + a]! -= (g[r + i]! - g[r + dim + i]!) / (2 * h[a]! * n);
      }
    }
  }
  for (let a = 0; a < k; a++) for (let b = 0; b < a; b++) P[a * k + b] = P[b * k + a] = (P[a * k + b]! + P[b * k + a]!) / 2;
  const f = inflationFactors(P, k);
  if ('notMode' in f) return { skipped: `the guide does not sit on a mode of the log density (its curvature averaged over the guide's draws is not positive definite${f.notMode >= 0 ? `: coordinate ${names[coords[f.notMode]!]} curves upwards or not at all` : ''}), so no Laplace marginal to compare the guide's sds with` };
  const factors: Record<string, number> = {};
  let worst = { coordinate: names[coords[0]!]!, factor: -Infinity };
  coords.forEach((j, a) => {
    const site = siteOf(j);
    factors[site] = Math.max(factors[site] ?? -Infinity, f[a]!);
    if (f[a]! > worst.factor) worst = { coordinate: names[j]!, factor: f[a]! };
  });
  return { factors, worst, coordinates: k, dim };
}

/**
 * f_i = sqrt(P_ii (P^-1)_ii) for a symmetric `n x n` precision P (row-major),
 * or `{ notMode }` where P is not positive definite (`notMode`: the first
 * coordinate with P_ii <= 0, or -1 where the diagonal is positive but the
 * matrix is not).
 */
export function inflationFactors(P: ArrayLike<number>, n: number): Float64Array | { notMode: number } {
  const d = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    d[i] = P[i * n + i]!;
    if (!(d[i]! > 0)) return { notMode: i };
  }
  // C = D^-1/2 P D^-1/2 (unit diagonal), then its Cholesky factor L (C = L L^T)
  const L = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = P[i * n + j]! / Math.sqrt(d[i]! * d[j]!);
      for (let m = 0; m < j; m++) s -= L[i * n + m]! * L[j * n + m]!;
      if (i === j) {
        // a relative floor: a pivot lost to rounding is a singular (flat) direction, not a factor of 1e8
        if (!(s > 1e-10)) return { notMode: -1 };
        L[i * n + i] = Math.sqrt(s);
      } else L[i * n + j] = s / L[j * n + j]!;
    }
  }
  // (C^-1)_ii = ||L^-1 e_i||^2 = sum over rows of W = L^-1 of W_ki^2; W by forward substitution, column by column
  const out = new Float64Array(n);
  const w = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    w.fill(0);
    let sum = 0;
    for (let r = i; r < n; r++) {
      let s = r === i ? 1 : 0;
      for (let m = i; m < r; m++) s -= L[r * n + m]! * w[m]!;
      w[r] = s / L[r * n + r]!;
      sum += w[r]! * w[r]!;
    }
    out[i] = Math.sqrt(sum);
  }
  return out;
}

/**
 * The coordinates that enter the Hessian: all of them up to `max`; beyond,
 * whole sites from the smallest while they fit, then evenly spaced elements
 * of each remaining site (the budget shared equally, at least one each while
 * it lasts).
 */
export function chooseCoordinates(dim: number, siteOf: (coordinate: number) => string, max: number): number[] {
  if (dim <= max) return Array.from({ length: dim }, (_, j) => j);
  const sites = new Map<string, number[]>();
  for (let j = 0; j < dim; j++) {
    const s = siteOf(j);
    let c = sites.get(s);
    if (!c) sites.set(s, (c = []));
    c.push(j);
  }
  const bySize = [...sites.values()].sort((a, b) => a.length - b.length);
  const out: number[] = [];
  let i = 0;
  for (; i < bySize.length && out.length + bySize[i]!.length <= max; i++) out.push(...bySize[i]!);
  const rest = bySize.slice(i);
  let budget = max - out.length;
  rest.forEach((c, r) => {
    const take = Math.min(c.length, Math.floor(budget / (rest.length - r)));
    for (let t = 0; t < take; t++) out.push(c[Math.floor(((t + 0.5) * c.length) / take)]!);
    budget -= take;
  });
  return out.sort((a, b) => a - b);
}

/**
 * The warning for a mean-field guide too narrow by correlation (also printed
 * with `console.warn`): names the worst sites and their factors. With
 * `converged` false (the loss was still falling) the guide's sds need not
 * be the fitted ones yet, so the warning says what a converged mean-field
 * fit would fall short by, not what this one does.
 */
export function meanFieldWarning(check: Extract<MeanFieldCheck, { factors: unknown }>, guide: string, threshold = NARROW_FACTOR, converged = true): string | undefined {
  const over = Object.entries(check.factors).filter(([, f]) => f > threshold).sort((a, b) => b[1] - a[1]);
  if (over.length === 0) return undefined;
  const listed = over.slice(0, 3).map(([s, f]) => `"${s}" ${f.toFixed(2)}x`).join(', ') + (over.length > 3 ? ` and ${over.length - 3} more sites` : '');
  const sketch = check.coordinates < check.dim ? ` (read on ${check.coordinates} of the ${check.dim} coordinates, which can only understate the factors)` : '';
  const warning =
    `vi: the ${guide} is mean-field (independent coordinates), but the posterior's coordinates are correlated where the guide puts its mass: ${converged ? 'its sds are' : 'once the fit converges (it has not: see the loss warning), its sds will be'} too narrow by about ${listed}${sketch} ` +
    `(the factor sqrt(H_ii (H^-1)_ii) of the log density's curvature H in unconstrained space, averaged over the guide's draws: a mean-field Gaussian matches each coordinate's conditional sd, not its marginal sd); ` +
    "k-hat and the reweighted draws do not show this. Use guide: 'mvn' (full covariance) or 'lowrank' for many coordinates, or method 'nuts'";
  console.warn(warning);
  return warning;
}
