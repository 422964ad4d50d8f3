/**
 * AWRS (adaptive weighted rejection sampling) against exact answers on random
 * small vocabularies with boolean masks (fast-check): the mean weight over
 * 10^4 draws is within 2% of Z = Σ_{allowed} p(y) (and within 4 Monte Carlo
 * standard errors), every token's weighted frequency matches p(y)·[allowed],
 * and the constraint calls are counted against full masking.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Rng } from '../../../src/core/rng.js';
import { AWRSSampler } from '../../../src/steer/lm/samplers/awrs.js';
import type { LocalWeights, TokenContext, TokenSampler } from '../../../src/steer/lm/samplers/types.js';
import { TokenVocabulary } from '../../../src/steer/lm/vocab.js';

interface Case {
  readonly logits: number[];
  readonly mask: boolean[];
}

const arbCase = fc
  .integer({ min: 2, max: 16 })
  .chain((n) =>
    fc.record({
      logits: fc.array(fc.double({ min: -3, max: 3, noNaN: true }), { minLength: n + 1, maxLength: n + 1 }),
      mask: fc.array(fc.boolean(), { minLength: n + 1, maxLength: n + 1 }),
    }),
  )
  .filter((c) => c.mask.some(Boolean));

/** Draw `draws` times; return mean weight, its SE, Z, weighted token frequencies and call counts. */
async function run(c: Case, sampler: TokenSampler, draws: number, seed: string) {
  const n = c.logits.length; // text tokens 0..n-2, EOS = n-1
  const vocab = new TokenVocabulary(Array.from({ length: n - 1 }, (_, i) => `t${i}|`));
  const m = Math.max(...c.logits);
  const p = c.logits.map((l) => Math.exp(l - m));
  const s = p.reduce((a, b) => a + b, 0);
  const lmRow = Float32Array.from(p, (x) => Math.log(x / s));
  const probs = Array.from(lmRow, Math.exp);
  let calls = 0;
  const local: LocalWeights = {
    vocab,
    name: 'mask',
    row: async () => Float64Array.from(c.mask, (ok) => (ok ? 0 : -Infinity)),
    token: async (y) => {
      calls++;
      return c.mask[y] ? 0 : -Infinity;
    },
  };
  const rng = new Rng(seed);
  let sum = 0;
  let sum2 = 0;
  const freq = new Float64Array(n);
  for (let d = 0; d < draws; d++) {
    const ctx: TokenContext = { context: [], generated: [], lmRow, local, rng: rng.split() };
    const { token, logWeight } = await sampler.sample(ctx);
    const w = Math.exp(logWeight);
    sum += w;
    sum2 += w * w;
    freq[token] += w / draws;
  }
  const mean = sum / draws;
  const se = Math.sqrt(Math.max(0, sum2 / draws - mean * mean) / draws);
  const Z = probs.reduce((a, pr, y) => a + (c.mask[y] ? pr : 0), 0);
  return { mean, se, Z, freq, probs, calls, maskingCalls: draws * n };
}

describe('AWRS', () => {
  it('summed weights are within 2% of Z over 10^4 draws on random vocabularies and masks, with far fewer constraint calls than masking', async () => {
    let totalCalls = 0;
    let totalMasking = 0;
    await fc.assert(
      fc.asyncProperty(arbCase, fc.integer({ min: 0, max: 1e6 }), async (c, seed) => {
        const r = await run(c, new AWRSSampler(), 10_000, `awrs-${seed}`);
        totalCalls += r.calls;
        totalMasking += r.maskingCalls;
        expect(Math.abs(r.mean - r.Z) / r.Z, `mean ${r.mean} ± ${r.se}, Z ${r.Z}`).toBeLessThan(0.02);
        expect(Math.abs(r.mean - r.Z)).toBeLessThan(4 * r.se + 1e-6); // 1e-6: float32 rows when every weight is exact
        // properly weighted: E[w 1{y = k}] = p(k) [k allowed]
        for (let k = 0; k < r.probs.length; k++) expect(Math.abs(r.freq[k] - (c.mask[k] ? r.probs[k] : 0))).toBeLessThan(0.02);
      }),
      { numRuns: 20, seed: 13 },
    );
    console.log(`AWRS constraint calls: ${totalCalls} vs full masking ${totalMasking} (${((100 * totalCalls) / totalMasking).toFixed(1)}%)`);
    expect(totalCalls).toBeLessThan(totalMasking);
  });

  it('planted: the naive weight (1 − rejected mass, stopping at the first acceptance) is biased and the same check catches it', async () => {
    // the "obvious" estimator: stop at the first allowed token, weight = 1 − mass rejected before it
    const naive: TokenSampler = {
      name: 'naive-rejection',
      async sample(ctx) {
        const p = Array.from(ctx.lmRow, Math.exp);
        let removed = 0;
        for (;;) {
          let u = ctx.rng.uniform() * (1 - removed);
          let y = 0;
          for (; y < p.length - 1; y++) {
            u -= p[y];
            if (u < 0) break;
          }
          if ((await ctx.local.token(y)) === 0) return { token: y, logWeight: Math.log(1 - removed) };
          removed += p[y];
          p[y] = 0;
        }
      },
    };
    const c: Case = { logits: [0, 0, 0, 0], mask: [true, false, false, true] };
    const r = await run(c, naive, 10_000, 'naive');
    expect(Math.abs(r.mean - r.Z) / r.Z).toBeGreaterThan(0.02);
    const good = await run(c, new AWRSSampler(), 10_000, 'naive');
    expect(Math.abs(good.mean - good.Z) / good.Z).toBeLessThan(0.02);
  });
});
