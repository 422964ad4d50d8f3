/**
 * The shipped text transformer (models/lm/kjv-char) on this machine:
 * - tokens/second generating N = 1, 8, 64 sequences of 64 tokens batched
 *   (one step for all N, through KV caches) against one sequence at a time
 *   (goal: batched N = 64 at least 20x), for the fused one-token step
 *   (`step.ts`) and for a padded tfjs forward pass per step;
 * - one KV-cached one-token extension of a 64-token prefix against
 *   recomputing the 65-token prefix (goal: at least 5x cheaper).
 * EOS is never sampled here (its probability is set to zero), so every
 * sequence has exactly 64 new tokens. Medians over repeats.
 *
 * Rates use process CPU time (the machine is shared); `--wall` uses the wall clock.
 *
 * Run: `npx tsx bench/lm.ts [--quick] [--wall]`
 *
 * @module
 */
import { initBackend } from '../src/backend/select.js';
import { Rng } from '../src/core/rng.js';
import { sampleToken } from '../src/steer/lm/sampling.js';
import { loadTransformerLM } from '../src/steer/lm/transformer/files.js';
import type { TransformerLM } from '../src/steer/lm/transformer/lm.js';
import type { KVCache } from '../src/steer/lm/types.js';
import { loadavg } from 'node:os';
import { cpuSince, median, table } from './util.js';

const quick = process.argv.includes('--quick');
const wall = process.argv.includes('--wall');
const LEN = 64;

/** Generate `n` sequences of LEN tokens in one batch; returns CPU seconds (`--wall`: wall-clock seconds). */
async function batched(lm: TransformerLM, n: number, rng: Rng): Promise<number> {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
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
  return wall ? (performance.now() - t0) / 1000 : cpuSince(c0);
}

async function main(): Promise<void> {
  const info = await initBackend();
  const lm = loadTransformerLM('kjv-char'); // one-token steps fused (step.ts): a matmul per projection for all rows
  const lmTf = loadTransformerLM('kjv-char', { fusedStep: false }); // every step a padded tfjs forward pass
  const rng = new Rng(1);
  const reps = quick ? 1 : 3;
  await batched(lmTf, 2, rng); // warm-up
  await batched(lm, 2, rng);
  // One at a time: the rate of a single sequence (it does not depend on N), measured on several sequences.
  const rate1 = async (m: TransformerLM): Promise<number> => {
    const s: number[] = [];
    for (let i = 0; i < (quick ? 2 : 5); i++) s.push(await batched(m, 1, rng));
    return LEN / median(s);
  };
  const oneTf = await rate1(lmTf);
  const oneFused = await rate1(lm);
  const best1 = Math.max(oneTf, oneFused);
  const rows: string[][] = [];
  const at64: Record<string, number> = {};
  for (const n of [1, 8, 64]) {
    const row = [String(n)];
    for (const [name, m, one] of [['fused', lm, oneFused], ['tfjs', lmTf, oneTf]] as const) {
      const secs: number[] = [];
      for (let r = 0; r < reps; r++) secs.push(await batched(m, n, rng));
      const rate = (n * LEN) / median(secs);
      if (n === 64) at64[name] = rate;
      row.push(rate.toFixed(0), (rate / one).toFixed(1));
    }
    rows.push(row);
  }
  console.log(`backend ${info.name}; model kjv-char (${lm.config.nLayers} layers, d ${lm.config.dModel}, context ${lm.contextLength}); ${LEN} new tokens per sequence; machine shared with other jobs (load ${loadavg()[0]!.toFixed(1)}): rates from ${wall ? 'wall-clock' : 'process CPU'} time`);
  console.log(`one at a time: ${oneFused.toFixed(0)} tok/s with fused steps, ${oneTf.toFixed(0)} tok/s with a tfjs pass per token`);
  console.log(table(['N', 'fused tok/s', 'x one-at-a-time (fused)', 'tfjs-pass tok/s', 'x one-at-a-time (tfjs pass)'], rows));
  const r64 = at64.fused! / best1;
  console.log(`batched N=64 (fused) vs the faster one-at-a-time path: ${r64.toFixed(1)}x (goal >= 20x) ${r64 >= 20 ? 'MET' : 'NOT MET'}; fused vs tfjs pass at N=64: ${(at64.fused! / at64.tfjs!).toFixed(1)}x`);

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
