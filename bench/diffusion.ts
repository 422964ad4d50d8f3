/**
 * Diffusion sampler throughput: particles x steps per second of plain
 * sampling, for the analytic 2-D Gaussian mixture (exact epsilon under
 * VP-linear) and the shipped class-conditional digit denoiser, at batch
 * sizes 1, 16 and 256, with the ratio to batch 1. This is the baseline that
 * steering overhead (issue 15: FK steering with k particles against k
 * independent samples) is measured against.
 *
 * Samplers: DDPM (one network evaluation a step) and the Heun probability
 * flow (two). Each row is the median over runs of a fixed number of steps,
 * after one warm-up run.
 *
 * Run: `npx tsx bench/diffusion.ts [--quick] [--runs 3] [--steps 50]`
 * (backend: `TYCHE_BACKEND`, default the best available).
 *
 * @module
 */
import { initBackend } from '../src/backend/select.js';
import { Rng } from '../src/core/rng.js';
import * as D from '../src/steer/diffusion/index.js';
import { loadDenoiser } from '../src/steer/diffusion/files.js';
import { median, numberArg, table, timed } from './util.js';

const quick = process.argv.includes('--quick');
const runs = numberArg('runs', quick ? 1 : 3);
const steps = numberArg('steps', quick ? 10 : 50);

const info = await initBackend();
console.log(`backend ${info.name}; ${steps} steps per run, median of ${runs} runs\n`);

const mixture = new D.GaussianMixture([
  { weight: 0.5, mean: [-2, 0], covariance: [[0.5, 0.2], [0.2, 0.3]] },
  { weight: 0.3, mean: [2, 1], covariance: [0.2, 0.6] },
  { weight: 0.2, mean: [0, -2.5], covariance: 0.25 },
]);
const models: [string, D.DiffusionModel, boolean][] = [['mixture 2-D (exact)', mixture.model(D.vpLinear(), 'epsilon'), false]];
try {
  models.push(['digits 8x8 MLP', loadDenoiser('digits'), true]);
} catch (err) {
  console.log(`(digits model not found: ${(err as Error).message})`);
}

const rows: string[][] = [];
for (const [name, model, conditional] of models) {
  for (const sampler of [D.ddpm(), D.probabilityFlow('heun')]) {
    let base = 0;
    for (const batch of [1, 16, 256]) {
      const cond = conditional ? D.labels(batch, 3) : undefined;
      const once = async () => {
        const r = await D.sampleDiffusion(model, { sampler, steps, particles: batch, cond, rng: new Rng(batch), checkFinite: false });
        r.x.dispose();
      };
      await once();
      const ms: number[] = [];
      for (let k = 0; k < runs; k++) ms.push((await timed(once)).ms);
      cond?.dispose();
      const rate = (batch * steps) / (median(ms) / 1000);
      if (batch === 1) base = rate;
      rows.push([name, sampler.name, String(batch), median(ms).toFixed(1), rate.toFixed(0), `${(rate / base).toFixed(1)}x`]);
    }
  }
}
console.log(table(['model', 'sampler', 'batch', 'ms/run', 'particle-steps/s', 'vs batch 1'], rows));
