/**
 * Evaluate the shipped diffusion networks (`npm run eval:diffusion`), with no
 * training and no network access:
 *
 * - held-out denoising loss of `digits` (epsilon MSE on the 360 held-out
 *   digits at 8 seeded draws of (t, eps) each) and of `toy2d` (velocity MSE
 *   on fresh toy data);
 * - held-out accuracy of `digits-classifier` and, at several t, of
 *   `digits-noisy-classifier`;
 * - sample quality of `digits`: `perClass` class-conditional samples per
 *   digit (DDPM, 200 steps, guidance scale `--guidance`), the clean
 *   classifier's accuracy on them, and the Fréchet distance between Gaussian
 *   fits of sample and data pixels (with the train-vs-held-out distance as
 *   the floor);
 * - sample quality of `toy2d`: the sliced Wasserstein-1 distance between
 *   samples of each class and fresh data (with data-vs-data as the floor);
 * - PNG pictures (digit grid, toy scatter) written to `--out` (default
 *   docs/steer/img).
 *
 * Usage: tsx scripts/eval-diffusion.ts [--per-class 50] [--guidance 1] [--out DIR]
 */
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/backend/select.js';
import { Rng } from '../src/core/rng.js';
import { imageGrid, savePng, scatterImage } from '../src/io/png.js';
import * as D from '../src/steer/diffusion/index.js';
import { SHIPPED_DIFFUSION, loadClassifier, loadDenoiser, loadDigits, loadMlp, splitDigits } from '../src/steer/diffusion/files.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
}

/** Mean and covariance of rows of a [n, d] array. */
function stats(x: ArrayLike<number>, n: number, d: number): { mean: number[]; cov: number[][] } {
  const mean = new Array<number>(d).fill(0);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j]! += x[i * d + j]! / n;
  const cov = Array.from({ length: d }, () => new Array<number>(d).fill(0));
  for (let i = 0; i < n; i++) for (let a = 0; a < d; a++) for (let b = 0; b < d; b++) cov[a]![b]! += ((x[i * d + a]! - mean[a]!) * (x[i * d + b]! - mean[b]!)) / (n - 1);
  return { mean, cov };
}

/** Symmetric square root via the eigendecomposition (negative eigenvalues clipped). */
function sqrtm(m: number[][]): number[][] {
  const { values, vectors } = D.symmetricEigen(m);
  const d = m.length;
  return Array.from({ length: d }, (_, i) => Array.from({ length: d }, (_, j) => values.reduce((s, v, e) => s + vectors[i]![e]! * vectors[j]![e]! * Math.sqrt(Math.max(0, v)), 0)));
}

function matmul(a: number[][], b: number[][]): number[][] {
  return a.map((r) => b[0]!.map((_, j) => r.reduce((s, v, k) => s + v * b[k]![j]!, 0)));
}

/** Fréchet distance between Gaussian fits: |m1 - m2|^2 + tr(S1 + S2 - 2 (S1^½ S2 S1^½)^½). */
function frechet(a: ArrayLike<number>, na: number, b: ArrayLike<number>, nb: number, d: number): number {
  const A = stats(a, na, d);
  const B = stats(b, nb, d);
  const r = sqrtm(A.cov);
  const mid = sqrtm(matmul(matmul(r, B.cov), r));
  let tr = 0;
  for (let i = 0; i < d; i++) tr += A.cov[i]![i]! + B.cov[i]![i]! - 2 * mid[i]![i]!;
  return A.mean.reduce((s, m, i) => s + (m - B.mean[i]!) ** 2, 0) + tr;
}

/** Sliced Wasserstein-1 between two 2-D point sets of equal size (64 directions). */
function slicedW1(a: ArrayLike<number>, b: ArrayLike<number>, n: number): number {
  let total = 0;
  for (let k = 0; k < 64; k++) {
    const th = (Math.PI * k) / 64;
    const pa = Float64Array.from({ length: n }, (_, i) => Math.cos(th) * a[2 * i]! + Math.sin(th) * a[2 * i + 1]!).sort();
    const pb = Float64Array.from({ length: n }, (_, i) => Math.cos(th) * b[2 * i]! + Math.sin(th) * b[2 * i + 1]!).sort();
    let s = 0;
    for (let i = 0; i < n; i++) s += Math.abs(pa[i]! - pb[i]!);
    total += s / n;
  }
  return total / 64;
}

async function main(): Promise<void> {
  await initBackend((process.env.TYCHE_BACKEND as 'wasm' | undefined) ?? 'wasm');
  const perClass = Number(arg('per-class', '50'));
  const guidance = Number(arg('guidance', '1'));
  const out = arg('out', 'docs/steer/img');
  const { train, test } = splitDigits(loadDigits(), 0);

  // training reports recorded in the manifests
  for (const name of SHIPPED_DIFFUSION) {
    const { manifest, mlp } = loadMlp(name);
    const rep = { ...((manifest.meta as { report?: Record<string, unknown> }).report ?? {}) };
    delete rep.lossCurveEvery50Steps;
    console.log(`${name}: ${mlp.size} parameters; training report ${JSON.stringify(rep)}`);
    mlp.dispose();
  }

  // held-out denoising loss of the digit model, recomputed here
  const digits = loadDenoiser('digits');
  const rng = new Rng('eval/heldout');
  let loss = 0;
  const reps = 8;
  for (let r = 0; r < reps; r++) {
    const t = Float32Array.from({ length: test.n }, () => digits.schedule.tMin + (digits.schedule.tMax - digits.schedule.tMin) * rng.uniform());
    const eps = Float32Array.from(rng.normals(test.n * 64));
    // one batch per distinct time is costly; bucket times into 20 levels instead
    for (let b = 0; b < 20; b++) {
      const ids = [...t.keys()].filter((i) => Math.min(19, Math.floor((t[i]! - digits.schedule.tMin) / ((digits.schedule.tMax - digits.schedule.tMin) / 20))) === b);
      if (ids.length === 0) continue;
      const tb = digits.schedule.tMin + ((b + 0.5) * (digits.schedule.tMax - digits.schedule.tMin)) / 20;
      const a = digits.schedule.alpha(tb);
      const s = digits.schedule.sigma(tb);
      const x0 = tf.tensor2d(Float32Array.from(ids.flatMap((i) => [...test.images.subarray(i * 64, i * 64 + 64)])), [ids.length, 64]);
      const e = tf.tensor2d(Float32Array.from(ids.flatMap((i) => [...eps.subarray(i * 64, i * 64 + 64)])), [ids.length, 64]);
      const xt = tf.tidy(() => tf.add(tf.mul(x0, a), tf.mul(e, s)));
      const lab = tf.tensor1d(Int32Array.from(ids.map((i) => test.labels[i]!)), 'int32');
      const pred = await D.denoise(digits, xt, tb, lab);
      loss += tf.tidy(() => tf.sum(tf.square(tf.sub(pred, e)))).dataSync()[0]! / (test.n * 64 * reps);
      tf.dispose([x0, e, xt, lab, pred]);
    }
  }
  console.log(`digits: held-out epsilon MSE (class-conditional, t bucketed into 20 levels) = ${loss.toFixed(4)}`);

  // classifiers on held-out digits
  const clean = loadClassifier('digits-classifier');
  const noisy = loadClassifier('digits-noisy-classifier');
  const xTest = tf.tensor2d(test.images, [test.n, 64]);
  const acc = (lp: tf.Tensor, y: Int32Array) => {
    const p = tf.tidy(() => tf.argMax(lp, 1)).dataSync();
    let ok = 0;
    for (let i = 0; i < y.length; i++) ok += p[i] === y[i] ? 1 : 0;
    return ok / y.length;
  };
  const lpClean = clean.logProbs(xTest);
  console.log(`digits-classifier: held-out accuracy ${acc(lpClean, test.labels).toFixed(3)} (n = ${test.n})`);
  lpClean.dispose();
  const noisyAcc: string[] = [];
  for (const t of [0.01, 0.1, 0.3, 0.5, 0.7]) {
    const sch = noisy.schedule!;
    const xt = tf.tidy(() => tf.add(tf.mul(xTest, sch.alpha(t)), tf.mul(tf.tensor2d(Float32Array.from(rng.normals(test.n * 64)), [test.n, 64]), sch.sigma(t))));
    const lp = noisy.logProbs(xt, t);
    noisyAcc.push(`t=${t} (alpha ${sch.alpha(t).toFixed(2)}): ${acc(lp, test.labels).toFixed(3)}`);
    tf.dispose([xt, lp]);
  }
  console.log(`digits-noisy-classifier: held-out accuracy ${noisyAcc.join(', ')}`);

  // class-conditional samples
  const n = 10 * perClass;
  const labels = Int32Array.from({ length: n }, (_, i) => Math.floor(i / perClass));
  const lab = tf.tensor1d(labels, 'int32');
  const model = guidance === 1 ? digits : D.classifierFreeGuidance(digits, guidance);
  const t0 = Date.now();
  const r = await D.sampleDiffusion(model, { sampler: D.ddpm(), steps: 200, particles: n, cond: lab, seed: 'eval/samples' });
  const samples = Float32Array.from(await r.x.data(), (v) => Math.max(-1, Math.min(1, v)));
  const clipped = tf.tensor2d(samples, [n, 64]);
  const lpS = clean.logProbs(clipped);
  console.log(`digits: ${n} class-conditional samples (DDPM 200 steps, guidance ${guidance}, ${((Date.now() - t0) / 1000).toFixed(1)} s); clean classifier agrees with the requested class on ${(acc(lpS, labels) * 100).toFixed(1)}%`);
  const fdSamples = frechet(samples, n, train.images, train.n, 64);
  const fdFloor = frechet(test.images, test.n, train.images, train.n, 64);
  console.log(`digits: Fréchet distance of pixel statistics to the training digits: samples ${fdSamples.toFixed(2)}, held-out digits ${fdFloor.toFixed(2)} (floor), data vs N(0, I) ${frechet(Float32Array.from(rng.normals(n * 64)), n, train.images, train.n, 64).toFixed(2)}`);
  // a picture: 10 per class
  const show = Array.from({ length: 100 }, (_, i) => Math.floor(i / 10) * perClass + (i % 10));
  const pick = Float32Array.from(show.flatMap((i) => [...samples.subarray(i * 64, i * 64 + 64)]));
  savePng(join(out, 'digits-samples.png'), imageGrid(pick, 100, 8, 8, { columns: 10, scale: 4 }));
  tf.dispose([lab, r.x, clipped, lpS, xTest]);

  // toy 2-D model
  const toy = loadDenoiser('toy2d');
  const m = 2000;
  const all: number[] = [];
  const groups: number[] = [];
  const line: string[] = [];
  for (let k = 0; k < D.TOY2D_CLASSES.length; k++) {
    const c = D.labels(m, k);
    const rt = await D.sampleDiffusion(toy, { sampler: D.flowOde('heun'), steps: 50, particles: m, cond: c, seed: `eval/toy/${k}` });
    const pts = await rt.x.data();
    const data = D.toy2dSample(m, new Rng(`eval/toy-data/${k}`), D.TOY2D_CLASSES[k]).points;
    const data2 = D.toy2dSample(m, new Rng(`eval/toy-data2/${k}`), D.TOY2D_CLASSES[k]).points;
    line.push(`${D.TOY2D_CLASSES[k]} ${slicedW1(pts, data, m).toFixed(3)} (data vs data ${slicedW1(data2, data, m).toFixed(3)})`);
    if (D.TOY2D_CLASSES[k] === 'checkerboard') {
      // the data lie only on the squares (i, j) of the 4x4 board on [-2, 2]^2 with i + j even
      let on = 0;
      for (let i = 0; i < m; i++) {
        const ci = Math.floor(pts[2 * i]! + 2);
        const cj = Math.floor(pts[2 * i + 1]! + 2);
        if (ci >= 0 && ci < 4 && cj >= 0 && cj < 4 && (ci + cj) % 2 === 0) on++;
      }
      line.push(`checkerboard samples on the data squares ${((100 * on) / m).toFixed(1)}% (data 100%)`);
    }
    all.push(...pts);
    for (let i = 0; i < m; i++) groups.push(k);
    tf.dispose([c, rt.x]);
  }
  console.log(`toy2d: sliced Wasserstein-1 of flow-ODE samples (Heun, 50 steps) to fresh data: ${line.join(', ')}`);
  savePng(join(out, 'toy2d-samples.png'), scatterImage(all, { size: 320, groups }));
  console.log(`pictures: ${join(out, 'digits-samples.png')}, ${join(out, 'toy2d-samples.png')}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
