/**
 * The shipped text transformer (models/lm/kjv-char) on this machine:
 * - tokens/second generating N = 1, 8, 64 sequences of 64 tokens batched
 *   (one step for all N, through KV caches) against one sequence at a time
 *   (goal: batched N = 64 at least 20x), for the fused one-token step
 *   (`step.ts`, SIMD WebAssembly kernels), the same step on typed-array
 *   attention and tfjs matmuls, and a padded tfjs forward pass per step;
 * - the arithmetic those rates imply (GFLOP/s) and its bound: the tfjs-wasm
 *   matmul rate at the step's N = 64 shapes, measured in the same run, over
 *   the FLOPs of one token;
 * - one KV-cached one-token extension of a 64-token prefix against
 *   recomputing the 65-token prefix (goal: at least 5x cheaper).
 * EOS is never sampled here (its probability is set to zero), so every
 * sequence has exactly 64 new tokens. Medians over repeats; one at a time is
 * 8 sequences generated one after another per repeat.
 *
 * Rates use process CPU time (the machine is shared); `--wall` uses the wall clock.
 *
 * Run: `npx tsx bench/lm.ts [--quick] [--wall]`
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
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

/** FLOPs of one generated token at position `pos` (it attends to pos + 1 positions): projections, attention, head. */
function flopsPerToken(lm: TransformerLM, pos: number): { proj: number; att: number } {
  const { dModel: d, dFF: F, nLayers, vocabSize: V } = lm.config;
  return { proj: 2 * nLayers * (3 * d * d + d * d + 2 * d * F + F * d) + 2 * d * V, att: nLayers * 4 * (pos + 1) * d };
}

/** GFLOP/s of tfjs matmuls at the fused step's N = 64 shapes, as the step runs them (upload, matmul, read back). */
async function matmulRate(lm: TransformerLM): Promise<number> {
  const { dModel: d, dFF: F, vocabSize: V } = lm.config;
  const shapes: [number, number][] = [[d, 3 * d], [d, d], [d, 2 * F], [F, d], [d, V]];
  const ws = shapes.map(([i, o]) => tf.randomNormal([i, o]) as tf.Tensor2D);
  const xs = shapes.map(([i]) => new Float32Array(64 * i).fill(0.1));
  const run = (): void => {
    shapes.forEach(([i], k) => {
      const xt = tf.tensor2d(xs[k]!, [64, i]);
      const y = tf.matMul(xt, ws[k]!);
      y.dataSync();
      tf.dispose([xt, y]);
    });
  };
  for (let r = 0; r < 50; r++) run();
  const secs: number[] = [];
  for (let rep = 0; rep < 5; rep++) {
    const c0 = process.cpuUsage();
    for (let r = 0; r < 100; r++) run();
    secs.push(cpuSince(c0) / 100);
  }
  tf.dispose(ws);
  const flops = shapes.reduce((a, [i, o]) => a + 2 * 64 * i * o, 0);
  return flops / median(secs) / 1e9;
}

async function main(): Promise<void> {
  const info = await initBackend();
  const lm = loadTransformerLM('kjv-char'); // one-token steps fused (step.ts): SIMD wasm kernels for attention and the dense layers
  const lmJs = loadTransformerLM('kjv-char', { fusedStepOptions: { wasm: false } }); // the same step on typed-array attention and tfjs matmuls
  const lmTf = loadTransformerLM('kjv-char', { fusedStep: false }); // every step a padded tfjs forward pass
  const rng = new Rng(1);
  const reps = quick ? 1 : 3;
  const paths = [['fused', lm], ['fused, typed arrays + tfjs', lmJs], ['tfjs pass', lmTf]] as const;
  for (const [, m] of paths) {
    await batched(m, 2, rng); // warm-up
    await batched(m, 64, rng);
  }
  // One at a time: sequences generated one after another.
  const one: Record<string, number> = {};
  for (const [name, m] of paths) {
    const s: number[] = [];
    for (let i = 0; i < (quick ? 1 : 5); i++) {
      let t = 0;
      for (let j = 0; j < 8; j++) t += await batched(m, 1, rng);
      s.push(t);
    }
    one[name] = (8 * LEN) / median(s);
  }
  // FLOPs of a sequence of LEN tokens (positions 1..LEN after BOS)
  let projF = 0;
  let attF = 0;
  for (let p = 1; p <= LEN; p++) {
    const f = flopsPerToken(lm, p);
    projF += f.proj;
    attF += f.att;
  }
  const perTok = (projF + attF) / LEN;
  const rows: string[][] = [];
  const at64: Record<string, number> = {};
  for (const n of [1, 8, 64]) {
    const row = [String(n)];
    for (const [name, m] of paths) {
      const secs: number[] = [];
      for (let r = 0; r < reps; r++) secs.push(await batched(m, n, rng));
      const rate = (n * LEN) / median(secs);
      if (n === 64) at64[name] = rate;
      row.push(rate.toFixed(0), (rate / one[name]!).toFixed(1));
      if (name === 'fused') row.push(((rate * perTok) / 1e9).toFixed(2));
    }
    rows.push(row);
  }
  const peak = await matmulRate(lm);
  console.log(`backend ${info.name}; model kjv-char (${lm.config.nLayers} layers, d ${lm.config.dModel}, context ${lm.contextLength}); ${LEN} new tokens per sequence; machine shared with other jobs (load ${loadavg()[0]!.toFixed(1)}): rates from ${wall ? 'wall-clock' : 'process CPU'} time`);
  console.log(`one at a time: ${paths.map(([name]) => `${one[name]!.toFixed(0)} tok/s (${name})`).join(', ')}`);
  console.log(
    table(
      ['N', 'fused tok/s', 'x one-at-a-time', 'GFLOP/s', 'typed arrays + tfjs tok/s', 'x one-at-a-time', 'tfjs-pass tok/s', 'x one-at-a-time'],
      rows,
    ),
  );
  const best1 = Math.max(...Object.values(one));
  const r64 = at64.fused! / best1;
  console.log(`batched N=64 (fused) vs the fastest one-at-a-time path: ${r64.toFixed(1)}x (goal >= 20x) ${r64 >= 20 ? 'MET' : 'NOT MET'}; fused vs tfjs pass at N=64: ${(at64.fused! / at64['tfjs pass']!).toFixed(1)}x`);
  const bound = (peak * 1e9) / (projF / LEN);
  console.log(
    `arithmetic: ${(perTok / 1e3).toFixed(0)} kFLOP per token (${((projF / LEN) / 1e3).toFixed(0)}k in projections, ${((attF / LEN) / 1e3).toFixed(0)}k in attention); ` +
      `tfjs-wasm matmuls at the N=64 shapes run at ${peak.toFixed(1)} GFLOP/s here, so the projections alone bound N=64 at ${bound.toFixed(0)} tok/s = ${(bound / best1).toFixed(1)}x one at a time`,
  );

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
  lmJs.dispose();
  const ratio = median(re) / median(kv);
  console.log(table(['step', 'median ms'], [['KV-cached one-token extension of a 64-token prefix', median(kv).toFixed(2)], ['recompute the 65-token prefix', median(re).toFixed(2)]]));
  console.log(`KV-cached extension vs recompute: ${ratio.toFixed(1)}x cheaper (goal >= 5x) ${ratio >= 5 ? 'MET' : 'NOT MET'}`);
  lm.dispose();
}

await main();
