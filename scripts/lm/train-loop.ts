/**
 * The training loop shared by the shipped transformers: seeded batches per
 * step (so a resumed run sees the same data), Adam with cosine decay,
 * checkpoints in .checkpoints/NAME every few steps and on SIGINT/SIGTERM, a
 * wall-clock limit, and the finished model written to models/lm/NAME.
 */
import * as tf from '@tensorflow/tfjs-core';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initBackend } from '../../src/backend/select.js';
import { type TransformerConfig, type TransformerWeights, initWeights, makeRope, parameterCount } from '../../src/steer/lm/transformer/model.js';
import { Adam, type Batch, cosineLR, lmLoss, scalarLoss } from '../../src/steer/lm/transformer/train.js';
import { SHIPPED_LM_DIR, loadCheckpoint, saveCheckpoint, saveModelFiles } from '../../src/steer/lm/transformer/files.js';

/** What a task gives the loop. */
export interface TrainTask {
  readonly name: string;
  readonly config: TransformerConfig;
  readonly alphabet: string;
  readonly seed: number;
  readonly steps: number;
  readonly lr: number;
  readonly warmup: number;
  /** The batch of a step (deterministic in the step). */
  batch(step: number): Batch;
  /** Held-out figures of the current weights, stored in the model's metadata. */
  evaluate(weights: TransformerWeights): Promise<Record<string, unknown>>;
  /** Extra metadata (corpus, licence...). */
  readonly metadata: Record<string, unknown>;
  /** Starting weights for a fresh run (default: random, seeded). */
  readonly init?: () => TransformerWeights;
}

const CKPT_ROOT = fileURLToPath(new URL('../../.checkpoints/', import.meta.url));

/** Run (or resume) a task for at most `minutes`; writes the model when all steps are done or `exportNow`. */
export async function train(task: TrainTask, opts: { minutes: number; fresh?: boolean; exportNow?: boolean; logEvery?: number; ckptEvery?: number }): Promise<void> {
  const info = await initBackend();
  const c = task.config;
  const dir = join(CKPT_ROOT, task.name);
  const ck = opts.fresh ? null : loadCheckpoint(dir, c);
  const outJson = join(SHIPPED_LM_DIR, `${task.name}.json`);
  if (ck && ck.step >= task.steps && !opts.exportNow && existsSync(outJson)) {
    const meta = (JSON.parse(readFileSync(outJson, 'utf8')) as { metadata?: { steps?: number } }).metadata;
    if (meta?.steps === ck.step) {
      console.log(`[${task.name}] already finished (${ck.step} steps) and exported to ${outJson}`);
      return;
    }
  }
  const init: TransformerWeights = ck ? ck.weights : task.init ? task.init() : initWeights(c, task.seed);
  const vars: Record<string, tf.Variable> = {};
  for (const [k, t] of Object.entries(init)) {
    vars[k] = tf.variable(t, true, `${task.name}/${k}`);
    t.dispose();
  }
  const adam = new Adam(vars);
  if (ck) {
    for (const k of Object.keys(vars)) {
      adam.m[k]!.dispose();
      adam.v[k]!.dispose();
      adam.m[k] = ck.m[k]!;
      adam.v[k] = ck.v[k]!;
    }
    adam.step = ck.step;
  }
  const rope = makeRope(c);
  console.log(`[${task.name}] backend ${info.name}; ${parameterCount(c)} parameters; ${ck ? `resuming at step ${ck.step}` : 'fresh start'}; ${task.steps} steps`);
  let stop = false;
  const onSignal = (): void => {
    stop = true;
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const save = (): void => saveCheckpoint(dir, c, { step: adam.step, weights: vars, m: adam.m, v: adam.v, state: { seed: task.seed } });
  const t0 = Date.now();
  const lossFn = c.head === 'lm' ? lmLoss : scalarLoss;
  let acc = 0;
  let accN = 0;
  let accTokens = 0;
  const logEvery = opts.logEvery ?? 25;
  const ckptEvery = opts.ckptEvery ?? 50;
  while (adam.step < task.steps && !stop && !opts.exportNow) {
    if (Date.now() - t0 > opts.minutes * 60_000) break;
    // Let the event loop run so SIGINT/SIGTERM handlers can fire between steps.
    await new Promise((resolve) => setImmediate(resolve));
    if (stop) break;
    const batch = task.batch(adam.step);
    const lr = cosineLR(adam.step, task.steps, task.lr, task.warmup);
    const { value, grads } = tf.variableGrads(() => lossFn(c, vars, rope, batch));
    adam.apply(grads, lr);
    acc += value.dataSync()[0]!;
    accN += 1;
    accTokens += batch.weights.reduce((a, b) => a + b, 0);
    tf.dispose([value, ...Object.values(grads)]);
    if (adam.step % logEvery === 0) {
      const sec = (Date.now() - t0) / 1000;
      console.log(`[${task.name}] step ${adam.step}/${task.steps} loss ${(acc / accN).toFixed(4)} lr ${lr.toExponential(2)} ${(accTokens / sec).toFixed(0)} tok/s ${sec.toFixed(0)} s tensors ${tf.memory().numTensors}`);
      acc = accN = 0;
    }
    if (adam.step % ckptEvery === 0) save();
  }
  save();
  if (adam.step >= task.steps || opts.exportNow) {
    const figures = await task.evaluate(vars);
    console.log(`[${task.name}] held-out: ${JSON.stringify(figures)}`);
    saveModelFiles(join(SHIPPED_LM_DIR, task.name), c, task.alphabet, vars, { ...task.metadata, seed: task.seed, steps: adam.step, plannedSteps: task.steps, ...figures });
    console.log(`[${task.name}] wrote ${join(SHIPPED_LM_DIR, task.name)}.json/.bin`);
  } else {
    console.log(`[${task.name}] stopped at step ${adam.step}; run again to resume`);
  }
  rope.dispose();
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
}
