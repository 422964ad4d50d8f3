/**
 * Normalizing flows on 2-D targets with exact densities and samplers
 * (`src/testing/targets-2d.ts`: banana, two moons, a ring of 8 Gaussians),
 * against Gaussian baselines, two ways:
 *
 * 1. Density estimation: `fitFlow` on draws from the target (RealNVP affine
 *    coupling, MAF, rational-quadratic spline coupling) against the
 *    maximum-likelihood Gaussian (full covariance and mean-field). Printed: the held-out mean log-likelihood
 *    per point with its standard error, its paired difference from the full
 *    Gaussian, and the forward KL(p || q) = E_p[log p - log q] (the target
 *    density is exact, so this is the gap to the best possible score).
 * 2. Variational inference: the model `x ~ target` fitted with AutoNormal
 *    (mean-field) and AutoFlow (affine coupling layers). Printed: the
 *    reverse KL(q || p) = E_q[log q - log p] + log Z (minus the ELBO, as the
 *    targets are normalised) from 4000 guide draws, and the forward
 *    KL(p || q) on held-out target draws, each with its standard error.
 *
 * ```sh
 * npx tsx bench/flows-2d.ts            # about three minutes of CPU
 * npx tsx bench/flows-2d.ts --quick    # smaller budgets and no spline, well under a minute
 * ```
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { tidyAsync } from '../src/backend/autodiff.js';
import { initBackend } from '../src/backend/select.js';
import { Rng, model } from '../src/core/index.js';
import { type FlowLayer, affine, affineCoupling, buildFlow, fitFlow, flowLogProb, maf, reverse, splineCoupling, standardNormalLogDensity } from '../src/flows/index.js';
import { AutoFlow, AutoNormal, SVI, cosineDecay } from '../src/infer/vi/index.js';
import type { ParamStore } from '../src/infer/vi/param-store.js';
import { type Target2D, banana, gaussianMle, ringMixture, targetDistribution, twoMoons } from '../src/testing/targets-2d.js';
import { table } from './util.js';
import { meanAndSe } from '../src/diagnostics/empirical.js';

const quick = process.argv.includes('--quick');
await initBackend('cpu');

const nTrain = quick ? 1000 : 3000;
const nTest = quick ? 1000 : 3000;
const fitSteps = quick ? 150 : 500;
const splineSteps = quick ? 0 : 250;
const viSteps = quick ? 200 : 800;
const hidden = quick ? 16 : 32;

const fmt = ({ mean, se }: { mean: number; se: number }): string => `${mean.toFixed(3)} ± ${se.toFixed(3)}`;
const diff = (a: Float64Array, b: Float64Array): Float64Array => Float64Array.from(a, (v, i) => v - b[i]!);
const values = (t: tf.Tensor): Float64Array => {
  const out = Float64Array.from(t.dataSync());
  t.dispose();
  return out;
};

const coupling = (): FlowLayer[] => [0, 1, 2, 3].map((i) => affineCoupling({ hidden, flip: i % 2 === 1 }));
/** Each flow: its layers, and its steps (the spline layer costs about 15 affine coupling layers per step on cpu). */
const densityModels: [string, () => FlowLayer[], number][] = [
  ['RealNVP (4 coupling)', coupling, fitSteps],
  ['MAF (3 + reversals)', () => [maf({ hidden }), reverse(), maf({ hidden }), reverse(), maf({ hidden })], fitSteps],
  ['RQ spline (2 coupling + affine)', () => [splineCoupling({ hidden, bins: 8, bound: 4 }), splineCoupling({ hidden, bins: 8, bound: 4, flip: true }), affine()], splineSteps],
];

/**
 * log q(z) of an AutoNormal (no layers) or AutoFlow (`layers`) guide with the
 * default prefix `auto`, on a model whose only latent is an unconstrained
 * vector: z = loc + scale * T(eps), so log q(z) = log q_T((z - loc) / scale) - sum log scale.
 */
function guideLogQ(store: ParamStore, layers: readonly FlowLayer[], z: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const loc = store.read('auto.loc');
    const scale = store.read('auto.scale');
    const u = tf.div(tf.sub(z, loc), scale);
    const base = layers.length ? flowLogProb(buildFlow(store, 'auto.flow', layers, 2), u) : standardNormalLogDensity(u);
    return tf.sub(base, tf.sum(tf.log(scale)));
  });
}

const densityRows: string[][] = [];
const viRows: string[][] = [];
const t0 = performance.now();
for (const target of [banana(), twoMoons(), ringMixture()] as Target2D[]) {
  const rng = new Rng(`flows-2d/${target.name}`);
  const train = tf.tensor2d(Float32Array.from(target.sample(nTrain, rng)), [nTrain, 2]);
  const test = tf.tensor2d(Float32Array.from(target.sample(nTest, rng)), [nTest, 2]);
  const truth = values(tf.tidy(() => tf.sub(target.logDensity(test), target.logZ)));
  densityRows.push([target.name, 'exact density', fmt(meanAndSe(truth)), '', '0']);

  // 1. density estimation
  const scores: [string, Float64Array][] = [];
  for (const diagonal of [false, true]) {
    const g = gaussianMle(train, { diagonal });
    scores.push([diagonal ? 'Gaussian, mean-field' : 'Gaussian, full', values(g.logProb(test) as tf.Tensor)]);
    tf.dispose([g.loc, g.scaleTril]);
  }
  const skipped: string[][] = [];
  for (const [name, layersFn, steps] of densityModels) {
    if (steps === 0) {
      skipped.push([target.name, name, 'skipped (--quick)', '', '']);
      continue;
    }
    const layers = layersFn();
    const s = performance.now();
    const fitted = fitFlow(train, layers, { steps, batchSize: 256, optimizer: { name: 'adam', lr: 5e-3 }, seed: 1 });
    scores.push([name, values(fitted.logProb(test))]);
    fitted.dispose();
    console.error(`${target.name}: fitted ${name} in ${((performance.now() - s) / 1000).toFixed(1)} s`);
  }
  const gauss = scores[0]![1];
  for (const [name, ll] of scores) {
    const d = meanAndSe(diff(ll, gauss));
    const kl = meanAndSe(diff(truth, ll));
    densityRows.push([target.name, name, fmt(meanAndSe(ll)), name === 'Gaussian, full' ? '' : `${d.mean >= 0 ? '+' : ''}${fmt(d)}`, fmt(kl)]);
  }
  densityRows.push(...skipped);

  // 2. variational inference on x ~ target
  const m = model(async ({ sample }) => {
    await sample('x', targetDistribution(target));
  });
  for (const [name, layers] of [['AutoNormal (mean-field)', []], ['AutoFlow (4 coupling)', coupling()]] as [string, FlowLayer[]][]) {
    const s = performance.now();
    const guide = layers.length ? new AutoFlow({ init: 'zero', initScale: 1, layers }) : new AutoNormal({ init: 'zero', initScale: 1 });
    const svi = new SVI(m, guide, { particles: 16, seed: 2, optimizer: { lr: cosineDecay(0.02, viSteps, 1e-3) } });
    for (let k = 0; k < viSteps; k++) await svi.step([]);
    const e = await svi.evaluate([], 4000);
    // check the closed-form guide density against the guide's own log q on its draws
    const mismatch = await tidyAsync(async () => {
      const draws = await guide.draw(200, new Rng(3), svi.store, []);
      return tf.max(tf.abs(tf.sub(guideLogQ(svi.store, layers, draws.stacked!.x!), draws.logQ))).dataSync()[0]!;
    }, () => []);
    if (!(mismatch < 1e-2)) throw new Error(`${name}: the closed-form guide density differs from the guide's log q by ${mismatch}`);
    const logQ = values(guideLogQ(svi.store, layers, test));
    svi.dispose();
    const rev = { mean: -e.bound + target.logZ, se: e.stderr };
    viRows.push([target.name, name, fmt(rev), fmt(meanAndSe(diff(truth, logQ))), fmt(meanAndSe(logQ)), ((performance.now() - s) / 1000).toFixed(1)]);
  }
  train.dispose();
  test.dispose();
}

console.log(`Flows on 2-D targets${quick ? ' (--quick)' : ''}: ${nTrain} training and ${nTest} held-out draws, ${fitSteps} Adam steps (spline ${splineSteps}; batch 256, lr 5e-3), hidden ${hidden}; VI ${viSteps} steps x 16 draws. ± = one standard error.`);
console.log('\nDensity estimation (held-out log-likelihood per point, higher is better; forward KL(p || q) = E_p[log p - log q], lower is better):');
console.log(table(['target', 'model', 'held-out LL', 'vs full Gaussian (paired)', 'KL(p || q)'], densityRows));
console.log('\nVariational inference (reverse KL(q || p) from 4000 guide draws; forward KL(p || q) and E_p[log q] on the held-out target draws):');
console.log(table(['target', 'guide', 'KL(q || p)', 'KL(p || q)', 'E_p[log q]', 's'], viRows));
const cpu = process.cpuUsage();
console.log(`\ntotal ${((performance.now() - t0) / 1000).toFixed(0)} s wall, ${((cpu.user + cpu.system) / 1e6).toFixed(0)} s CPU of the process; tf tensors alive: ${tf.memory().numTensors}`);
