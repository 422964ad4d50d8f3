/**
 * posteriordb hmm_example under NUTS (4 chains x (n + n), seed 700): process
 * CPU, wall, and the diagnostics' phase times (setup, warmup, sampling,
 * completion), with a sha256 of the latent chain columns and the first
 * return values (to compare two trees' draws). Usage:
 * `npx tsx bench/completion-hmm.ts [n = 100]`. TIDY, session 14: the
 * completion was ~85% of the call before the compiled record replayed the
 * return value (docs/design.md).
 */
import { createHash } from 'node:crypto';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/backend/select.js';
import { infer } from '../src/index.js';
import { hmmExample, hmmExampleData } from '../models/posteriordb/hmm-example.js';

await initBackend('cpu');
const n = Number(process.argv[2] ?? 100);
const c0 = process.cpuUsage();
const t0 = performance.now();
const post = await infer(hmmExample, { method: 'nuts', chains: 4, warmup: n, samples: n, seed: 700 }, hmmExampleData);
const c = process.cpuUsage(c0);
const d = post.diagnostics as unknown as Record<string, number>;
const cols = post.chainColumns()!;
const h = createHash('sha256');
for (const k of ['theta1[0]', 'theta2[1]', 'mu1', 'mu2']) h.update(JSON.stringify(cols.get(k)));
const first = post.draws.slice(0, 3).map((x) => (x.returnValue as tf.Tensor).dataSync()[0]);
const ms = (k: string): number => Math.round(d[k]!);
console.log(JSON.stringify({ n, cpuS: (c.user + c.system) / 1e6, wallS: (performance.now() - t0) / 1000, setupMs: ms('setupMs'), warmupMs: ms('warmupMs'), samplingMs: ms('samplingMs'), completionMs: ms('completionMs'), drawsSha: h.digest('hex').slice(0, 16), firstReturns: first }));
post.dispose();
