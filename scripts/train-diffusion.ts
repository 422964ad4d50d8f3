/**
 * Train the shipped diffusion networks (`npm run train:diffusion`):
 *
 * - `toy2d`: a flow-matching velocity MLP (linear interpolant) on three 2-D
 *   toy sets, class-conditional (0 two moons, 1 ring of 8 Gaussians,
 *   2 checkerboard, 3 null) for classifier-free guidance;
 * - `digits`: a class-conditional epsilon-prediction MLP on the 8x8 UCI
 *   digits under the VP-linear (DDPM) schedule, 15% of labels dropped to the
 *   null class 10;
 * - `digits-noisy-classifier`: p(class | x_t, t) under the same schedule;
 * - `digits-classifier`: p(class | x) on clean digits.
 *
 * Seeded (every batch is drawn from a stream derived from the seed and the
 * step number) and resumable: a checkpoint (weights, EMA, Adam state) is
 * written to `.checkpoints/diffusion/<name>.json` every 500 steps and picked
 * up on the next run unless `--fresh`. Weights (the EMA) go to
 * `models/diffusion/<name>.{json,bin}` with a training report in the
 * manifest's meta block.
 *
 * Usage: tsx scripts/train-diffusion.ts [--only toy2d,digits,...] [--steps N] [--seed S] [--fresh]
 *        [--out DIR] [--checkpoints DIR] [--stop-at STEP]
 */
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '../src/backend/gradients.js';
import { initBackend } from '../src/backend/select.js';
import { Rng } from '../src/core/rng.js';
import { SHIPPED_DIFFUSION_DIR, loadDigits, splitDigits, type DigitsData } from '../src/steer/diffusion/files.js';
import { Mlp, type MlpConfig } from '../src/steer/diffusion/mlp.js';
import { type ScheduleSpec, scheduleFromSpec } from '../src/steer/diffusion/networks.js';
import { toy2dSample, TOY2D_CLASSES } from '../src/steer/diffusion/toy-data.js';

type Job = 'toy2d' | 'digits' | 'digits-noisy-classifier' | 'digits-classifier';

interface JobSpec {
  readonly config: MlpConfig;
  readonly steps: number;
  readonly batch: number;
  readonly lr: number;
  readonly role: 'denoiser' | 'classifier' | 'noisy-classifier';
  readonly eventShape: number[];
  readonly schedule?: ScheduleSpec;
  readonly prediction?: 'epsilon' | 'velocity';
}

const DIGITS_SCHEDULE: ScheduleSpec = { kind: 'vp-linear' };
const TOY_SCHEDULE: ScheduleSpec = { kind: 'linear-interpolant' };

const JOBS: Record<Job, JobSpec> = {
  toy2d: { config: { inputDim: 2, outputDim: 2, hidden: [128, 128, 128], timeFrequencies: 8, classInputs: TOY2D_CLASSES.length + 1 }, steps: 8000, batch: 256, lr: 2e-3, role: 'denoiser', eventShape: [2], schedule: TOY_SCHEDULE, prediction: 'velocity' },
  digits: { config: { inputDim: 64, outputDim: 64, hidden: [192, 192, 192], timeFrequencies: 8, classInputs: 11 }, steps: 20000, batch: 128, lr: 1e-3, role: 'denoiser', eventShape: [64], schedule: DIGITS_SCHEDULE, prediction: 'epsilon' },
  'digits-noisy-classifier': { config: { inputDim: 64, outputDim: 10, hidden: [128, 128], timeFrequencies: 8, classInputs: 0 }, steps: 8000, batch: 128, lr: 1e-3, role: 'noisy-classifier', eventShape: [64], schedule: DIGITS_SCHEDULE },
  'digits-classifier': { config: { inputDim: 64, outputDim: 10, hidden: [128, 128], timeFrequencies: 0, classInputs: 0 }, steps: 4000, batch: 128, lr: 1e-3, role: 'classifier', eventShape: [64] },
};

const LABEL_DROP = 0.15;
const EMA = 0.999;
const CKPT_EVERY = 500;
const CKPT_DIR = arg('checkpoints') ?? '.checkpoints/diffusion';
const OUT_DIR = arg('out') ?? SHIPPED_DIFFUSION_DIR;
/** Stop (as if interrupted) after this many steps, leaving only the checkpoint: for testing resumption. */
const STOP_AT = arg('stop-at') !== undefined ? Number(arg('stop-at')) : Infinity;

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

/** One training batch: inputs, optional time/labels and the target. */
interface Batch {
  x: tf.Tensor;
  t?: tf.Tensor;
  labels?: tf.Tensor;
  target: tf.Tensor; // regression target, or int32 labels for classifiers
}

function pick(data: DigitsData, rng: Rng, b: number): { x: Float32Array; y: Int32Array } {
  const x = new Float32Array(b * 64);
  const y = new Int32Array(b);
  for (let i = 0; i < b; i++) {
    const k = rng.int(data.n);
    x.set(data.images.subarray(k * 64, k * 64 + 64), i * 64);
    y[i] = data.labels[k]!;
  }
  return { x, y };
}

/** Noise a clean batch x0 [b, d] at uniform times: x_t, t and eps. */
function noised(spec: ScheduleSpec, x0: Float32Array, d: number, rng: Rng): { xt: Float32Array; t: Float32Array; eps: Float32Array } {
  const sch = scheduleFromSpec(spec);
  const b = x0.length / d;
  const xt = new Float32Array(b * d);
  const eps = new Float32Array(b * d);
  const t = new Float32Array(b);
  for (let i = 0; i < b; i++) {
    const ti = sch.tMin + (sch.tMax - sch.tMin) * rng.uniform();
    t[i] = ti;
    const a = sch.alpha(ti);
    const s = sch.sigma(ti);
    for (let j = 0; j < d; j++) {
      const e = rng.normal();
      eps[i * d + j] = e;
      xt[i * d + j] = a * x0[i * d + j]! + s * e;
    }
  }
  return { xt, t, eps };
}

function makeBatch(job: Job, spec: JobSpec, data: DigitsData, rng: Rng, b: number): Batch {
  const d = spec.config.inputDim;
  if (job === 'toy2d') {
    const { points, labels } = toy2dSample(b, rng);
    const { xt, t, eps } = noised(spec.schedule!, points, 2, rng);
    const u = eps.map((e, i) => e - points[i]!); // velocity of the linear interpolant
    const lab = labels.map((l) => (rng.uniform() < LABEL_DROP ? TOY2D_CLASSES.length : l));
    return { x: tf.tensor2d(xt, [b, d]), t: tf.tensor1d(t), labels: tf.tensor1d(lab, 'int32'), target: tf.tensor2d(u, [b, d]) };
  }
  const { x, y } = pick(data, rng, b);
  if (job === 'digits') {
    const { xt, t, eps } = noised(spec.schedule!, x, 64, rng);
    const lab = y.map((l) => (rng.uniform() < LABEL_DROP ? 10 : l));
    return { x: tf.tensor2d(xt, [b, d]), t: tf.tensor1d(t), labels: tf.tensor1d(lab, 'int32'), target: tf.tensor2d(eps, [b, d]) };
  }
  if (job === 'digits-noisy-classifier') {
    const { xt, t } = noised(spec.schedule!, x, 64, rng);
    return { x: tf.tensor2d(xt, [b, d]), t: tf.tensor1d(t), target: tf.tensor1d(y, 'int32') };
  }
  // clean classifier: light noise augmentation
  const xa = x.map((v) => v + 0.1 * rng.normal());
  return { x: tf.tensor2d(xa, [b, d]), target: tf.tensor1d(y, 'int32') };
}

function lossOf(mlp: Mlp, spec: JobSpec, batch: Batch): tf.Scalar {
  const out = mlp.apply(batch.x, batch.t, batch.labels);
  if (spec.role === 'denoiser') return tf.mean(tf.square(tf.sub(out, batch.target))) as tf.Scalar;
  return tf.losses.softmaxCrossEntropy(tf.oneHot(batch.target, 10), out) as tf.Scalar;
}

function disposeBatch(b: Batch): void {
  tf.dispose([b.x, b.t, b.labels, b.target].filter((v): v is tf.Tensor => v !== undefined));
}

async function tensorsToJson(m: Map<string, tf.Tensor>): Promise<Record<string, { shape: number[]; data: number[] }>> {
  const o: Record<string, { shape: number[]; data: number[] }> = {};
  for (const [k, v] of m) o[k] = { shape: v.shape, data: Array.from(await v.data()) };
  return o;
}

/** Held-out evaluation: denoising loss (fixed draws) or classification accuracy. */
async function evaluate(job: Job, spec: JobSpec, mlp: Mlp, test: DigitsData, seed: number): Promise<Record<string, number>> {
  const rng = new Rng(`${seed}/heldout`);
  if (spec.role === 'denoiser') {
    let total = 0;
    let count = 0;
    for (let r = 0; r < 8; r++) {
      const batch = job === 'toy2d' ? makeBatch(job, spec, test, rng, 512) : makeDigitsHeldout(spec, test, rng);
      const l = tf.tidy(() => lossOf(mlp, spec, batch));
      total += (await l.data())[0]!;
      count += 1;
      l.dispose();
      disposeBatch(batch);
    }
    return { heldoutLoss: total / count };
  }
  const accAt = async (t: number | undefined): Promise<number> => {
    const sch = spec.schedule ? scheduleFromSpec(spec.schedule) : undefined;
    const x0 = tf.tensor2d(test.images, [test.n, 64]);
    const xt = sch && t !== undefined ? tf.tidy(() => tf.add(tf.mul(x0, sch.alpha(t)), tf.mul(tf.tensor2d(Float32Array.from(rng.normals(test.n * 64)), [test.n, 64]), sch.sigma(t)))) : x0;
    const pred = tf.tidy(() => tf.argMax(mlp.apply(xt, t, undefined), 1));
    const p = await pred.data();
    tf.dispose([x0, xt, pred]);
    let ok = 0;
    for (let i = 0; i < test.n; i++) ok += p[i] === test.labels[i] ? 1 : 0;
    return ok / test.n;
  };
  if (spec.role === 'classifier') return { heldoutAccuracy: await accAt(undefined) };
  const out: Record<string, number> = {};
  for (const t of [0.05, 0.2, 0.4, 0.6, 0.8]) out[`heldoutAccuracy@t=${t}`] = await accAt(t);
  return out;
}

function makeDigitsHeldout(spec: JobSpec, test: DigitsData, rng: Rng): Batch {
  const { xt, t, eps } = noised(spec.schedule!, test.images, 64, rng);
  return { x: tf.tensor2d(xt, [test.n, 64]), t: tf.tensor1d(t), labels: tf.tensor1d(test.labels, 'int32'), target: tf.tensor2d(eps, [test.n, 64]) };
}

async function train(job: Job, seed: number, stepsOverride: number | undefined, fresh: boolean): Promise<void> {
  const spec = { ...JOBS[job], steps: stepsOverride ?? JOBS[job].steps };
  const { train: trainSet, test } = splitDigits(loadDigits(), 0);
  const mlp = Mlp.init(spec.config, new Rng(`${seed}/${job}/init`), job);
  const vars = [...mlp.params.values()] as tf.Variable[];
  const ema = new Map([...mlp.params].map(([k, v]) => [k, tf.clone(v)] as const));
  const opt = tf.train.adam(spec.lr);
  const ckpt = join(CKPT_DIR, `${job}.json`);
  let start = 0;
  const losses: number[] = [];
  if (!fresh && existsSync(ckpt)) {
    const c = JSON.parse(readFileSync(ckpt, 'utf8')) as {
      step: number;
      params: Record<string, { shape: number[]; data: number[] }>;
      ema: Record<string, { shape: number[]; data: number[] }>;
      adam: { name: string; shape: number[]; data: number[] }[];
      losses: number[];
    };
    for (const [k, v] of mlp.params) (v as tf.Variable).assign(tf.tensor(c.params[k]!.data, c.params[k]!.shape));
    for (const [k, v] of ema) {
      v.dispose();
      ema.set(k, tf.tensor(c.ema[k]!.data, c.ema[k]!.shape));
    }
    // make Adam create its slots, then overwrite them
    await opt.setWeights(c.adam.map((w) => ({ name: w.name, tensor: tf.tensor(w.data, w.shape) })));
    start = c.step;
    losses.push(...c.losses);
    console.log(`[${job}] resumed from step ${start}`);
  }
  const t0 = Date.now();
  console.log(`[${job}] ${mlp.size} parameters, steps ${start}..${spec.steps}, batch ${spec.batch}`);
  for (let step = start; step < spec.steps; step++) {
    if (step >= STOP_AT) {
      console.log(`[${job}] stopping at step ${step} (--stop-at)`);
      return;
    }
    const rng = new Rng(`${seed}/${job}/step${step}`);
    const batch = makeBatch(job, spec, trainSet, rng, spec.batch);
    // learning rate: constant, then linear decay over the last 30%
    const frac = step / spec.steps;
    (opt as unknown as { learningRate: number }).learningRate = spec.lr * (frac < 0.7 ? 1 : Math.max(0.05, (1 - frac) / 0.3));
    const loss = opt.minimize(() => lossOf(mlp, spec, batch), true, vars)!;
    disposeBatch(batch);
    tf.tidy(() => {
      for (const [k, e] of ema) {
        const next = tf.add(tf.mul(e, EMA), tf.mul(mlp.params.get(k)!, 1 - EMA));
        e.dispose();
        ema.set(k, tf.keep(next));
      }
    });
    if (step % 50 === 0 || step === spec.steps - 1) {
      losses.push((await loss.data())[0]!);
    }
    loss.dispose();
    if (step % 500 === 0) console.log(`[${job}] step ${step} loss ${losses[losses.length - 1]!.toFixed(4)} (${((Date.now() - t0) / 1000).toFixed(0)} s, ${tf.memory().numTensors} tensors)`);
    if ((step + 1) % CKPT_EVERY === 0 && step + 1 < spec.steps) {
      mkdirSync(CKPT_DIR, { recursive: true });
      const adam = await opt.getWeights();
      const adamJson = await Promise.all(adam.map(async (w) => ({ name: w.name, shape: w.tensor.shape, data: Array.from(await w.tensor.data()) })));
      adam.find((w) => w.name === 'iter')?.tensor.dispose(); // getWeights makes a fresh iteration-count scalar
      writeFileSync(ckpt, JSON.stringify({ step: step + 1, params: await tensorsToJson(mlp.params), ema: await tensorsToJson(ema), adam: adamJson, losses }));
    }
  }
  // the shipped weights are the EMA
  for (const [k, v] of mlp.params) (v as tf.Variable).assign(ema.get(k)!);
  const heldout = await evaluate(job, spec, mlp, test, seed);
  const tail = losses.slice(-20);
  const report = {
    seed,
    steps: spec.steps,
    batch: spec.batch,
    parameters: mlp.size,
    trainLossLast1000Steps: tail.reduce((a, b) => a + b, 0) / tail.length,
    ...heldout,
    trainSeconds: Math.round((Date.now() - t0) / 1000),
    lossCurveEvery50Steps: losses.map((l) => Number(l.toPrecision(4))),
  };
  console.log(`[${job}] done`, JSON.stringify({ ...report, lossCurveEvery50Steps: undefined }));
  const { manifest, data } = await mlp.serialise({ role: spec.role, eventShape: spec.eventShape, schedule: spec.schedule, prediction: spec.prediction, report });
  mkdirSync(OUT_DIR, { recursive: true });
  writeFileSync(join(OUT_DIR, `${job}.json`), JSON.stringify(manifest, null, 1));
  writeFileSync(join(OUT_DIR, `${job}.bin`), data);
  mlp.dispose();
  for (const v of ema.values()) v.dispose();
  opt.dispose();
}

async function main(): Promise<void> {
  await initBackend((process.env.TYCHE_BACKEND as 'wasm' | undefined) ?? 'wasm');
  const only = (arg('only') ?? Object.keys(JOBS).join(',')).split(',') as Job[];
  for (const j of only) if (!(j in JOBS)) throw new Error(`unknown job ${j}; jobs: ${Object.keys(JOBS).join(', ')}`);
  const seed = Number(arg('seed') ?? 1);
  const steps = arg('steps') !== undefined ? Number(arg('steps')) : undefined;
  for (const j of only) await train(j, seed, steps, process.argv.includes('--fresh'));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
