/**
 * The shipped text transformer (models/lm/kjv-char) on this machine:
 * - tokens/second generating N = 1, 8, 64 sequences of 64 tokens batched
 *   (one forward pass per step for all N, through KV caches) against one
 *   sequence at a time (goal: batched N = 64 at least 20x);
 * - one KV-cached one-token extension of a 64-token prefix against
 *   recomputing the 65-token prefix (goal: at least 5x cheaper).
 * EOS is never sampled here (its probability is set to zero), so every
 * sequence has exactly 64 new tokens. Medians over repeats.
 *
 * Run: `npx tsx bench/lm.ts [--quick]`
 *
 * @module
 */
import { initBackend } from '../src/backend/select.js';
import { Rng } from '../src/core/rng.js';
import { sampleToken } from '../src/steer/lm/sampling.js';
import { loadTransformerLM } from '../src/steer/lm/transformer/files.js';
import type { TransformerLM } from '../src/steer/lm/transformer/lm.js';
import type { KVCache } from '../src/steer/lm/types.js';
import { median, table } from './util.js';

const quick = process.argv.includes('--quick');
const LEN = 64;

/** Generate `n` sequences of LEN tokens in one batch; returns seconds. */
async function batched(lm: TransformerLM, n: number, rng: Rng): Promise<number> {
  const t0 = performance.now();
  let res = await lm.extend(Array.from({ length: n }, () => ({ cache: null, tokens: [] })));
  for (let step = 0; step < LEN; step++) {
    const next = res.map((r) => {
      const row = Float32Array.from(r.logprobs);
      row[lm.vocab.eos] = -Infinity;
      return sampleToken(row, rng).token;
    });
    if (step === LEN - 1) break;
    const prev = res;
    res = await lm.extend(prev.map((r, i) => ({ cache: r.cache, tokens: [next[i]!] })));
    for (const r of prev) r.cache.dispose();
  }
  for (const r of res) r.cache.dispose();
  return (performance.now() - t0) / 1000;
}

async function main(): Promise<void> {
  const info = await initBackend();
  const lm = loadTransformerLM('kjv-char'); // one-token steps of up to 4 caches in typed arrays
  const lmTf = loadTransformerLM('kjv-char', { typedStepMaxBatch: 0 }); // every step a tfjs forward pass
  const rng = new Rng(1);
  const reps = quick ? 1 : 3;
  await batched(lmTf, 2, rng); // warm-up
  // One at a time: the rate of a single sequence (it does not depend on N), measured on several sequences.
  const rate1 = async (m: TransformerLM): Promise<number> => {
    const s: number[] = [];
    for (let i = 0; i < (quick ? 2 : 5); i++) s.push(await batched(m, 1, rng));
    return LEN / median(s);
  };
  const oneTf = await rate1(lmTf);
  const oneTyped = await rate1(lm);
  const rows: string[][] = [];
  let ratio64 = 0;
  let ratio64Typed = 0;
  for (const n of [1, 8, 64]) {
    const secs: number[] = [];
    for (let r = 0; r < reps; r++) secs.push(await batched(lmTf, n, rng));
    const rate = (n * LEN) / median(secs);
    if (n === 64) {
      ratio64 = rate / oneTf;
      ratio64Typed = rate / oneTyped;
    }
    rows.push([String(n), median(secs).toFixed(3), rate.toFixed(0), (rate / oneTf).toFixed(1), (rate / oneTyped).toFixed(1)]);
  }
  console.log(`backend ${info.name}; model kjv-char (${lm.config.nLayers} layers, d ${lm.config.dModel}, context ${lm.contextLength}); ${LEN} new tokens per sequence`);
  console.log(`one at a time: ${oneTf.toFixed(0)} tok/s with a tfjs pass per token, ${oneTyped.toFixed(0)} tok/s with typed-array steps`);
  console.log(table(['N', 'batched s (median)', 'batched tok/s', 'x one-at-a-time (tfjs)', 'x one-at-a-time (typed)'], rows));
  console.log(`batched N=64 vs one at a time (tfjs per token): ${ratio64.toFixed(1)}x (goal >= 20x) ${ratio64 >= 20 ? 'MET' : 'NOT MET'}; vs typed-array steps: ${ratio64Typed.toFixed(1)}x`);

  // KV-cached extension vs recompute, on a 64-token prefix.
  const prefix = lm.vocab.encode('And it came to pass, when the LORD would take up Elijah into heave').slice(0, LEN);
  const [base] = await lm.extend([{ cache: null, tokens: prefix }]);
  const cache: KVCache = base!.cache;
  const next = lm.vocab.encode('n')[0]!;
  const kv: number[] = [];
  const re: number[] = [];
  for (let i = 0; i < (quick ? 5 : 25); i++) {
    let t0 = performance.now();
    const [r] = await lm.extend([{ cache, tokens: [next] }]);
    kv.push(performance.now() - t0);
    r!.cache.dispose();
    t0 = performance.now();
    await lm.nextTokenLogprobs([[...prefix, next]]);
    re.push(performance.now() - t0);
  }
  cache.dispose();
  lmTf.dispose();
  const ratio = median(re) / median(kv);
  console.log(table(['step', 'median ms'], [['KV-cached one-token extension of a 64-token prefix', median(kv).toFixed(2)], ['recompute the 65-token prefix', median(re).toFixed(2)]]));
  console.log(`KV-cached extension vs recompute: ${ratio.toFixed(1)}x cheaper (goal >= 5x) ${ratio >= 5 ? 'MET' : 'NOT MET'}`);
  lm.dispose();
}

await main();
