/**
 * Reward against compute for every steering method on the shipped digit
 * model (issue 15): steer the unconditional model toward a class, the reward
 * being the shipped clean classifier's log-probability of that class (TDS
 * conditions on the same classifier, with the noisy classifier as its
 * twist). Compute is counted in network evaluations (NFE); each method is
 * sized to each budget by `steerAtBudget`. For each (method, budget), over
 * `--seeds` seeds: the reward of what the method returns (the weighted mean
 * for the samplers plain / FK / TDS / DTS, the single sample's for the
 * searches), the best reward among the returned samples, and the fraction
 * the classifier assigns to the class.
 *
 * Prints the table and writes a Vega-Lite specification and its SVG
 * rendering (docs/steer/img/reward-compute.{vl.json,svg} by default).
 *
 * Run: `npx tsx scripts/diffusion/reward-compute.ts [--class 3] [--steps 25]
 *       [--budgets 25,50,100,200,400,800,1600] [--seeds 5] [--methods fk,dts,...]
 *       [--out docs/steer/img]`
 *
 * @module
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/backend/select.js';
import { saveSvg } from '../../src/plots/render.js';
import type { PlotSpec } from '../../src/plots/render.js';
import * as St from '../../src/steer/diffusion/steering/index.js';
import { loadClassifier, loadDenoiser } from '../../src/steer/diffusion/files.js';

const { values } = parseArgs({
  options: {
    class: { type: 'string', default: '3' },
    steps: { type: 'string', default: '25' },
    budgets: { type: 'string', default: '25,50,100,200,400,800,1600' },
    seeds: { type: 'string', default: '5' },
    methods: { type: 'string', default: St.STEER_METHODS.join(',') },
    out: { type: 'string', default: 'docs/steer/img' },
  },
});
const label = Number(values.class);
const steps = Number(values.steps);
const budgets = values.budgets!.split(',').map(Number);
const seeds = Number(values.seeds);
const methods = values.methods!.split(',') as St.SteerMethod[];
for (const m of methods) if (!St.STEER_METHODS.includes(m)) throw new Error(`--methods: unknown method "${m}"; known: ${St.STEER_METHODS.join(', ')}`);

const info = await initBackend();
const model = loadDenoiser('digits');
const clean = loadClassifier('digits-classifier');
const noisy = loadClassifier('digits-noisy-classifier');
const reward = St.classifierReward(clean, label);
const pick = (lp: tf.Tensor) => tf.reshape(tf.slice(lp, [0, label], [-1, 1]), [-1]);
const likelihood: St.LogLikelihood = { name: `digit ${label}`, logProb: (x) => pick(clean.logProbs(x)), noisy: (x, t) => pick(noisy.logProbs(x, t)) };
console.log(`backend ${info.name}; digits model (unconditional), reward log p(${label} | x) from the clean classifier; DDPM ${steps} steps; budgets ${budgets.join(', ')} NFE; ${seeds} seeds; machine shared with other engineers (wall times are indicative only)\n`);

interface Row {
  method: string;
  budget: number;
  nfe: number;
  reward: number;
  rewardSe: number;
  best: number;
  hit: number;
  seconds: number;
}
const rows: Row[] = [];
for (const method of methods) {
  for (const budget of budgets) {
    const got: number[] = [];
    const bests: number[] = [];
    const hits: number[] = [];
    let nfe = 0;
    const t0 = performance.now();
    let skip = false;
    for (let s = 0; s < seeds && !skip; s++) {
      let run: St.SteerRun;
      try {
        run = await St.steerAtBudget(model, method, { reward, likelihood, budget, steps, lambda: 1, seed: `rc-${method}-${budget}-${s}` });
      } catch (err) {
        // a budget below one sample of the method (TDS needs 3 x steps)
        if (err instanceof RangeError && /does not cover/.test(err.message)) {
          skip = true;
          continue;
        }
        throw err;
      }
      const lp = clean.logProbs(run.x);
      const argmax = tf.tidy(() => tf.argMax(lp, 1));
      const classes = await argmax.data();
      tf.dispose([lp, argmax, run.x]);
      let m = 0;
      let h = 0;
      for (let i = 0; i < run.rewards.length; i++) {
        m += run.weights[i]! * run.rewards[i]!;
        h += run.weights[i]! * (classes[i] === label ? 1 : 0);
      }
      got.push(m);
      hits.push(h);
      bests.push(Math.max(...run.rewards));
      nfe += run.evaluations / seeds;
    }
    if (skip) {
      console.log(`${method.padEnd(10)} budget ${String(budget).padStart(5)}  (below one sample of this method)`);
      continue;
    }
    const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
    const mu = mean(got);
    const se = got.length > 1 ? Math.sqrt(got.reduce((a, b) => a + (b - mu) ** 2, 0) / (got.length - 1) / got.length) : NaN;
    rows.push({ method, budget, nfe, reward: mu, rewardSe: se, best: mean(bests), hit: mean(hits), seconds: (performance.now() - t0) / 1000 / seeds });
    const r = rows.at(-1)!;
    console.log(`${method.padEnd(10)} budget ${String(budget).padStart(5)}  NFE ${r.nfe.toFixed(0).padStart(5)}  reward ${r.reward.toFixed(3).padStart(8)} ± ${r.rewardSe.toFixed(3)}  best ${r.best.toFixed(3).padStart(8)}  class ${label} ${(100 * r.hit).toFixed(0).padStart(3)}%  ${r.seconds.toFixed(1)} s/run`);
  }
}

// the table, methods as rows and budgets as columns (reward of what each returns)
console.log(`\nreward (log p(${label} | x)) of the returned samples, mean over ${seeds} seeds, by budget (NFE):`);
console.log(['method'.padEnd(10), ...budgets.map((b) => String(b).padStart(9))].join(' '));
for (const method of methods) console.log([method.padEnd(10), ...budgets.map((b) => (rows.find((r) => r.method === method && r.budget === b)?.reward.toFixed(3) ?? '-').padStart(9))].join(' '));

const spec: PlotSpec = {
  $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
  title: `Digits toward class ${label}: reward vs network evaluations (DDPM ${steps} steps, ${seeds} seeds)`,
  width: 420,
  height: 280,
  data: { values: rows.map((r) => ({ ...r })) },
  mark: { type: 'line', point: true },
  encoding: {
    x: { field: 'nfe', type: 'quantitative', scale: { type: 'log' }, title: 'network evaluations (NFE)' },
    y: { field: 'reward', type: 'quantitative', title: `log p(${label} | x) of the returned samples` },
    color: { field: 'method', type: 'nominal' },
  },
};
mkdirSync(values.out!, { recursive: true });
writeFileSync(join(values.out!, 'reward-compute.vl.json'), JSON.stringify(spec, null, 1));
await saveSvg(join(values.out!, 'reward-compute.svg'), spec);
console.log(`\nwrote ${join(values.out!, 'reward-compute.vl.json')} and reward-compute.svg`);
