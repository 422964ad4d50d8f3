/**
 * Cost of FK steering against plain sampling (issue 15; goal: FK steering
 * with k particles at most 1.2x the time of k independent samples), and the
 * reward it buys: on the analytic 2-D mixture (linear reward) and the shipped
 * class-conditional digit denoiser (reward: the clean digit classifier's
 * log-probability of a target class), DDPM, the same steps. Rewards are the
 * weighted mean final reward of FK steering against the mean reward of the k
 * independent samples, at equal network evaluations.
 *
 * FK steering evaluates the reward on the particles' x0-predictions at every
 * potential step (`interval` 1: every step; 5: every fifth); on the digits the
 * reward is a classifier network, about a quarter of a denoising step at
 * k = 64, and that is most of FK's extra cost (with a free reward FK costs no
 * more CPU than plain sampling). A last table times one denoiser call
 * against one reward call at k = 64, to show where that cost comes from.
 *
 * Run: `npx tsx bench/diffusion-steer.ts [--quick] [--runs 3] [--steps 50]`
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/backend/select.js';
import { Rng } from '../src/core/rng.js';
import * as D from '../src/steer/diffusion/index.js';
import * as St from '../src/steer/diffusion/steering/index.js';
import { loadClassifier, loadDenoiser } from '../src/steer/diffusion/files.js';
import { cpuSince, median, numberArg, table, timed } from './util.js';

const quick = process.argv.includes('--quick');
const runs = numberArg('runs', quick ? 1 : 3);
const steps = numberArg('steps', quick ? 10 : 50);
const info = await initBackend();
console.log(`backend ${info.name}; ${steps} DDPM steps, median of ${runs} runs\n`);

const mixture = new D.GaussianMixture([
  { weight: 0.5, mean: [-2, 0], covariance: [[0.5, 0.2], [0.2, 0.3]] },
  { weight: 0.3, mean: [2, 1], covariance: [0.2, 0.6] },
  { weight: 0.2, mean: [0, -2.5], covariance: 0.25 },
]);
const cases: { name: string; model: D.DiffusionModel; reward: St.Reward; lambda: number; label?: number }[] = [
  { name: 'mixture 2-D', model: mixture.model(D.vpLinear(), 'epsilon'), reward: St.linearReward([1, 0]), lambda: 1 },
];
try {
  cases.push({ name: 'digits 8x8', model: loadDenoiser('digits'), reward: St.classifierReward(loadClassifier('digits-classifier'), 3), lambda: 1, label: 10 });
} catch (err) {
  console.log(`(digits models not found: ${(err as Error).message})`);
}

const rows: string[][] = [];
for (const c of cases) {
  for (const [k, interval] of (quick ? [[16, 1]] : [[4, 1], [16, 1], [64, 1], [64, 5]]) as [number, number][]) {
    const cond = c.label !== undefined ? D.labels(k, c.label) : undefined; // the null class: unconditional
    let plainReward = 0;
    let fkReward = 0;
    const plain = async () => {
      const r = await D.sampleDiffusion(c.model, { steps, particles: k, cond, rng: new Rng(k), checkFinite: false });
      const rw = await St.evaluateReward(c.reward, r.x, { step: -1, t: 0 });
      plainReward = rw.reduce((a, b) => a + b, 0) / k;
      r.x.dispose();
    };
    const fk = async () => {
      const r = await St.fkSteering(c.model, { reward: c.reward, lambda: c.lambda, steps, particles: k, cond, seed: k, checkFinite: false, interval });
      let m = 0;
      r.rewards.forEach((v, i) => (m += r.weights[i]! * v));
      fkReward = m;
      r.x.dispose();
    };
    // FK's own machinery: the same run with a reward that costs nothing
    const free: St.Reward = { name: 'free', evaluate: (x) => new Float64Array(x.shape[0]!) };
    const fkFree = async () => {
      const r = await St.fkSteering(c.model, { reward: free, lambda: c.lambda, steps, particles: k, cond, seed: k, checkFinite: false, interval });
      r.x.dispose();
    };
    await plain();
    await fk();
    await fkFree();
    const tp: number[] = [];
    const tf_: number[] = [];
    const cp: number[] = [];
    const cf: number[] = [];
    const cz: number[] = [];
    for (let i = 0; i < runs; i++) {
      let c0 = process.cpuUsage();
      tp.push((await timed(plain)).ms);
      cp.push(cpuSince(c0) * 1000);
      c0 = process.cpuUsage();
      tf_.push((await timed(fk)).ms);
      cf.push(cpuSince(c0) * 1000);
      c0 = process.cpuUsage();
      await fkFree();
      cz.push(cpuSince(c0) * 1000);
    }
    cond?.dispose();
    rows.push([c.name, String(k), String(interval), median(tp).toFixed(1), median(tf_).toFixed(1), `${(median(tf_) / median(tp)).toFixed(2)}x`, `${(median(cf) / median(cp)).toFixed(2)}x`, `${(median(cz) / median(cp)).toFixed(2)}x`, plainReward.toFixed(3), fkReward.toFixed(3), String(k * steps)]);
  }
}
// where the reward's cost comes from: one denoiser call against one reward call on the same k = 64 rows
const split: string[][] = [];
for (const c of cases) {
  const k = 64;
  const x = tf.randomNormal([k, ...c.model.eventShape], 0, 1, 'float32', 1);
  const cond = c.label !== undefined ? D.labels(k, c.label) : undefined;
  const den = async () => {
    const y = await D.denoise(c.model, x, 0.5, cond, 'x0', { checkFinite: false });
    await y.data();
    y.dispose();
  };
  const rew = async () => {
    await St.evaluateReward(c.reward, x, { step: 0, t: 0.5 });
  };
  await den();
  await rew();
  const td: number[] = [];
  const tr: number[] = [];
  for (let i = 0; i < 15 * runs; i++) {
    td.push((await timed(den)).ms);
    tr.push((await timed(rew)).ms);
  }
  tf.dispose([x, ...(cond ? [cond] : [])]);
  split.push([c.name, median(td).toFixed(3), median(tr).toFixed(3), `${(median(tr) / median(td)).toFixed(2)}x`]);
}

console.log(table(['model', 'k', 'interval', 'plain ms', 'FK ms', 'FK / plain', 'CPU FK / plain', 'CPU FK free reward / plain', 'plain reward', 'FK reward', 'evaluations'], rows));
console.log(`\none call at k = 64 (median of ${15 * runs}; a denoising step is one denoiser call plus a few ops):`);
console.log(table(['model', 'denoiser call ms', 'reward call ms', 'reward / denoiser'], split));
console.log('\n(wall times are medians on a machine shared with other engineers; the CPU-time ratio is the median CPU time of this process, less sensitive to the load)');
