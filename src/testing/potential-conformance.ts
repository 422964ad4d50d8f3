/**
 * Conformance checks every steering {@link Potential} should pass (tyche's
 * own and yours):
 *
 * - `next-agrees`: the potential's `logwNext(x)` (its fast form, or the
 *   default) equals `prefix(x·y) − prefix(x)` for every text token and
 *   `complete(x) − prefix(x)` for EOS;
 * - `factorisation`: along each sequence, `complete(x) − prefix(ε)` equals
 *   the sum of the next-token weights of its tokens plus that of EOS (the
 *   autoregressive factorisation);
 * - `batched-equals-unbatched`: `batchPrefix`, when present, equals one
 *   `prefix` call each.
 *
 * @module
 */
import { completeOf, logwNext, logwNextToken, type Potential, prefixOf } from '../steer/lm/potentials/potential.js';

/** Names of the checks. */
export const POTENTIAL_CHECKS = ['next-agrees', 'factorisation', 'batched-equals-unbatched'] as const;

/** One check's outcome. */
export interface PotentialCheck {
  readonly name: (typeof POTENTIAL_CHECKS)[number];
  readonly passed: boolean;
  readonly skipped: boolean;
  readonly detail: string;
}

/** Options of {@link checkPotential}. */
export interface PotentialConformanceOptions {
  /** Largest allowed |difference| of log-weights (default 1e-9). */
  readonly tolerance?: number;
}

const same = (a: number, b: number, tol: number): boolean => (a === -Infinity && b === -Infinity) || Math.abs(a - b) <= tol;

/**
 * Run the checks on the given token sequences (and every prefix of them).
 * Returns one entry per check; all `passed` for a conforming potential.
 */
export async function checkPotential(p: Potential, sequences: readonly (readonly number[])[], options: PotentialConformanceOptions = {}): Promise<PotentialCheck[]> {
  const tol = options.tolerance ?? 1e-9;
  const out: PotentialCheck[] = [];
  const prefixes = new Map<string, readonly number[]>();
  for (const s of sequences) for (let k = 0; k <= s.length; k++) prefixes.set(s.slice(0, k).join(','), s.slice(0, k));

  // next-agrees
  let failure: string | null = null;
  let compared = 0;
  for (const x of prefixes.values()) {
    if (failure) break;
    const row = await logwNext(p, x);
    const px = await prefixOf(p, x);
    for (let y = 0; y < p.vocab.size && !failure; y++) {
      if (y === p.vocab.bos) continue;
      const want = px === -Infinity ? -Infinity : y === p.vocab.eos ? (await completeOf(p, x)) - px : (await prefixOf(p, [...x, y])) - px;
      const w = Number.isNaN(want) ? -Infinity : want;
      compared++;
      if (!same(row[y], w, tol)) failure = `after ${JSON.stringify(p.vocab.decode(x))}, token ${y} (${JSON.stringify(p.vocab.tokenText(y))}): logwNext gives ${row[y]}, prefix/complete give ${w}`;
    }
  }
  out.push({ name: 'next-agrees', passed: failure === null, skipped: false, detail: failure ?? `${compared} entries agree` });

  // factorisation
  failure = null;
  const p0 = await prefixOf(p, []);
  for (const s of sequences) {
    if (failure) break;
    const c = await completeOf(p, s);
    let sum = 0;
    for (let t = 0; t < s.length; t++) sum += await logwNextToken(p, s.slice(0, t), s[t]);
    sum += await logwNextToken(p, s, p.vocab.eos);
    const lhs = c === -Infinity || p0 === -Infinity ? -Infinity : c - p0;
    if (!same(lhs, sum, tol)) failure = `${JSON.stringify(p.vocab.decode(s))}: complete − prefix(ε) = ${lhs}, Σ logwNext = ${sum}`;
  }
  out.push({ name: 'factorisation', passed: failure === null, skipped: false, detail: failure ?? `${sequences.length} sequences factorise` });

  // batched-equals-unbatched
  if (!p.batchPrefix) out.push({ name: 'batched-equals-unbatched', passed: true, skipped: true, detail: 'no batchPrefix' });
  else {
    const xs = [...prefixes.values()];
    const batched = await p.batchPrefix(xs);
    failure = null;
    for (let i = 0; i < xs.length && !failure; i++) {
      const one = await prefixOf(p, xs[i]);
      if (!same(batched[i], one, tol)) failure = `prefix ${JSON.stringify(p.vocab.decode(xs[i]))}: batched ${batched[i]}, alone ${one}`;
    }
    out.push({ name: 'batched-equals-unbatched', passed: failure === null, skipped: false, detail: failure ?? `${xs.length} prefixes agree` });
  }
  return out;
}
