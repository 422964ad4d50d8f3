/**
 * Steering cost on the shipped text transformer (models/lm/kjv-char):
 * tokens/second of plain batched sampling of N sequences (the model's own
 * batched KV-cached `extend`, one forward pass per step for all N) against
 * SMC steering with N particles (constraint: no letter "e", locally optimal
 * proposal, ESS-adaptive resampling, through the batching/caching wrapper),
 * and LM forward passes per generated token. Both generate at most LEN tokens
 * per sequence (EOS allowed). Goal: steering at N = 64 costs at most 1.5x
 * plain batched sampling per generated token. Medians over repeats.
 *
 * Rates use process CPU time (the machine is shared); `--wall` uses the wall clock.
 *
 * Run: `npx tsx bench/lm-steer.ts [--quick] [--wall]`
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { loadavg } from 'node:os';
import { initBackend } from '../src/backend/select.js';
import { Rng } from '../src/core/rng.js';
import { wrapLanguageModel } from '../src/steer/lm/cached.js';
import { AutomatonPotential } from '../src/steer/lm/potentials/automaton.js';
import { LocallyOptimalSampler } from '../src/steer/lm/samplers/locally-optimal.js';
import { sampleToken } from '../src/steer/lm/sampling.js';
import { smcSteer } from '../src/steer/lm/smc/steer.js';
import { loadTransformerLM } from '../src/steer/lm/transformer/files.js';
import type { TransformerLM } from '../src/steer/lm/transformer/lm.js';
import { cpuSince, median, table } from './util.js';

const quick = process.argv.includes('--quick');
const LEN = quick ? 16 : 32;
const REPEATS = quick ? 1 : 3;
const wall = process.argv.includes('--wall');
/** Elapsed seconds since (t0, c0): process CPU time, or wall-clock with `--wall`. */
const elapsed = (t0: number, c0: NodeJS.CpuUsage): number => (wall ? (performance.now() - t0) / 1000 : cpuSince(c0));

/** Wall time spent inside the model's `extend` (the forward passes), accumulated by {@link timeExtend}. */
let modelMs = 0;

/** Count the time `lm.extend` takes, so the table can split model cost from the steering layer's own. */
function timeExtend(lm: TransformerLM): void {
  const inner = lm.extend.bind(lm);
  lm.extend = async (requests) => {
    const t0 = performance.now();
    try {
      return await inner(requests);
    } finally {
      modelMs += performance.now() - t0;
    }
  };
}

/** Plain batched sampling: n sequences, one batched extend per step; returns { secs, tokens, passes }. */
async function plain(lm: TransformerLM, n: number, rng: Rng): Promise<{ secs: number; tokens: number; passes: number; model: number }> {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  modelMs = 0;
  let passes = 1;
  let res = await lm.extend(Array.from({ length: n }, () => ({ cache: null, tokens: [] })));
  let tokens = 0;
  for (let step = 0; step < LEN && res.length > 0; step++) {
    const next = res.map((r) => sampleToken(r.logprobs, rng).token);
    tokens += next.length;
    const live = res.map((r, i) => ({ r, t: next[i] })).filter((x) => x.t !== lm.vocab.eos);
    if (step === LEN - 1 || live.length === 0) {
      for (const r of res) r.cache.dispose();
      break;
    }
    const prev = res;
    res = await lm.extend(live.map((x) => ({ cache: x.r.cache, tokens: [x.t] })));
    passes++;
    for (const r of prev) r.cache.dispose();
  }
  return { secs: elapsed(t0, c0), tokens, passes, model: modelMs / (performance.now() - t0) };
}

/** SMC steering with n particles; returns { secs, tokens, passes }. */
async function steered(lm: TransformerLM, n: number, seed: number): Promise<{ secs: number; tokens: number; passes: number; model: number }> {
  const wrapped = wrapLanguageModel(lm, { maxBatchSize: Math.max(64, n) });
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  modelMs = 0;
  const res = await smcSteer({ lm: wrapped, potential: new AutomatonPotential(lm.vocab, '[^eE]*'), sampler: new LocallyOptimalSampler(), particles: n, maxTokens: LEN - 1, seed });
  const secs = elapsed(t0, c0);
  const wallMs = performance.now() - t0;
  wrapped.clearCache();
  return { secs, tokens: res.tokens, passes: res.lmStats.forwardPasses, model: modelMs / wallMs };
}

async function main(): Promise<void> {
  await initBackend();
  const lm = loadTransformerLM('kjv-char');
  timeExtend(lm);
  const rng = new Rng('bench-lm-steer');
  await plain(lm, 4, rng); // warm up kernels
  await steered(lm, 4, 0);
  const rows: string[][] = [];
  const before = tf.memory().numTensors;
  for (const n of quick ? [16] : [8, 64]) {
    const p = [];
    const s = [];
    for (let r = 0; r < REPEATS; r++) {
      p.push(await plain(lm, n, rng));
      s.push(await steered(lm, n, r));
    }
    const rate = (xs: { secs: number; tokens: number }[]) => median(xs.map((x) => x.tokens / x.secs));
    const pp = (xs: { tokens: number; passes: number }[]) => median(xs.map((x) => x.passes / x.tokens));
    const pr = rate(p);
    const sr = rate(s);
    const share = (xs: { model: number }[]) => `${(100 * median(xs.map((x) => x.model))).toFixed(0)}%`;
    rows.push([String(n), pr.toFixed(0), sr.toFixed(0), (pr / sr).toFixed(2), pp(p).toFixed(3), pp(s).toFixed(3), share(p), share(s)]);
  }
  console.log(`kjv-char on ${tf.getBackend()}, at most ${LEN} tokens per sequence, median of ${REPEATS}; rates from ${wall ? 'wall-clock' : 'process CPU'} time (machine shared, load ${loadavg()[0]!.toFixed(1)}); model share from wall time inside extend`);
  console.log(table(['N', 'plain batched tok/s', 'SMC steering tok/s', 'cost ratio (goal <= 1.5)', 'plain fwd/token', 'SMC fwd/token', 'plain in model', 'SMC in model'], rows));
  console.log(`tensors before ${before}, after ${tf.memory().numTensors}`);
  lm.dispose();
}

await main();
