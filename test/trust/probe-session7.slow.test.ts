/**
 * PROBE, session 7, slow tier (TYCHE_SLOW=1): FK steering of the shipped 2-D flow (`toy2d`, flowSde
 * as in notebook 09) against the same sampler's unsteered draws reweighted by exp(λ r) (the exact
 * tilted law of that sampler, up to Monte Carlo error, which enters the tolerance), a zero reward
 * against plain sampling, tensor counts over a long run, and the step particle filter's heavy-tailed
 * temperature-0.5 correction over 4000 runs. llama.cpp steering is in probe-session7-llama.slow.test.ts (its
 * own worker: in this file, after the toy2d runs, the vitest worker exited unexpectedly during it). Each statistical check has a planted wrong answer.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import { Rng } from '../../src/core/rng.js';
import * as D from '../../src/steer/diffusion/index.js';
import * as St from '../../src/steer/diffusion/steering/index.js';
import { loadDenoiser } from '../../src/steer/diffusion/files.js';
import { MarkovLM } from '../../src/steer/lm/markov.js';
import { TokenVocabulary } from '../../src/steer/lm/vocab.js';
import { particleFilterSteps } from '../../src/steer/lm/scaling/index.js';
import { enumerateStrings } from './probe-session7-helpers.js';
import { meanSE, zOf } from '../stats.js';

beforeAll(async () => {
  await initBackend('wasm'); // the toy2d MLP's matmuls: ~30x faster than the cpu backend (704 s -> see the report)
});

const BOX = [1, 2.5, -1, 1];
/** Minus the squared distance to the box (notebook 09's reward). */
const boxDist2 = (x: number, y: number): number => {
  const dx = Math.max(BOX[0]! - x, x - BOX[1]!, 0);
  const dy = Math.max(BOX[2]! - y, y - BOX[3]!, 0);
  return dx * dx + dy * dy;
};
const boxReward: St.Reward = {
  name: 'box',
  evaluate: (x) => {
    const v = x.dataSync();
    return Float64Array.from({ length: x.shape[0]! }, (_, i) => -boxDist2(v[2 * i]!, v[2 * i + 1]!));
  },
};
const zeroReward: St.Reward = { name: 'zero', evaluate: (x) => new Float64Array(x.shape[0]!) };
/** Statistics per particle: x, y, and the indicator of the box. */
const STATS: [string, (x: number, y: number) => number][] = [
  ['mean x', (x) => x],
  ['mean y', (_, y) => y],
  ['box mass', (x, y) => (boxDist2(x, y) === 0 ? 1 : 0)],
];

/** Per-run weighted averages of each statistic. */
function perRun(runs: { x: Float32Array; w: Float64Array }[]): number[][] {
  return STATS.map(([, f]) =>
    runs.map(({ x, w }) => {
      let a = 0;
      let s = 0;
      for (let i = 0; i < w.length; i++) {
        a += w[i]! * f(x[2 * i]!, x[2 * i + 1]!);
        s += w[i]!;
      }
      return a / s;
    }),
  );
}

/** Two-sample z of two sets of independent run estimates. */
function twoSampleZ(a: number[], b: number[]): number {
  const A = meanSE(a);
  const B = meanSE(b);
  return (A.mean - B.mean) / Math.hypot(A.se, B.se);
}

describe('FK steering of the shipped toy2d flow (flowSde, 30 steps)', () => {
  let toy: D.DiffusionModel;
  const STEPS = 30;
  const LAMBDA = 2;
  let plain: { x: Float32Array; w: Float64Array }[] = [];

  beforeAll(async () => {
    toy = loadDenoiser('toy2d'); // after the backend is chosen: its weights are tensors
    // the unsteered law of the same sampler: 40 runs x 512 draws
    for (let r = 0; r < 40; r++) {
      const res = await D.sampleDiffusion(toy, { sampler: D.flowSde(), steps: STEPS, particles: 512, seed: `p7-plain-${r}`, checkFinite: false });
      plain.push({ x: (await res.x.data()) as Float32Array, w: new Float64Array(512).fill(1) });
      res.x.dispose();
    }
  }, 600_000);

  /** The unsteered runs reweighted by exp(λ r): self-normalised per run (512 draws; its O(1/n) bias is far below the tolerance). */
  const reweighted = (lambda: number) => perRun(plain.map(({ x }) => ({ x, w: Float64Array.from({ length: 512 }, (_, i) => Math.exp(-lambda * boxDist2(x[2 * i]!, x[2 * i + 1]!))) })));

  async function fkRuns(reward: St.Reward, tag: string): Promise<{ x: Float32Array; w: Float64Array }[]> {
    const out: { x: Float32Array; w: Float64Array }[] = [];
    for (let r = 0; r < 20; r++) {
      const res = await St.fkSteering(toy, { reward, lambda: LAMBDA, sampler: D.flowSde(), steps: STEPS, particles: 256, seed: `p7-${tag}-${r}`, checkFinite: false });
      out.push({ x: (await res.x.data()) as Float32Array, w: Float64Array.from(res.weights) });
      res.x.dispose();
    }
    return out;
  }

  it('box reward (λ = 2): FK matches the reweighted unsteered law in x, y and box mass (|z| < 4); planted: the law reweighted with λ = 1', async () => {
    const fk = perRun(await fkRuns(boxReward, 'box'));
    const ref = reweighted(LAMBDA);
    const wrong = reweighted(LAMBDA / 2);
    const zs = STATS.map((_, k) => twoSampleZ(fk[k]!, ref[k]!));
    const zw = STATS.map((_, k) => twoSampleZ(fk[k]!, wrong[k]!));
    if (process.env.TYCHE_REPORT) console.log(`toy2d FK box λ=2: z ${zs.map((z) => z.toFixed(2)).join(', ')}; planted λ=1: ${zw.map((z) => z.toFixed(2)).join(', ')}; FK box mass ${meanSE(fk[2]!).mean.toFixed(3)}, plain ${meanSE(perRun(plain)[2]!).mean.toFixed(3)}`);
    for (const z of zs) expect(Math.abs(z)).toBeLessThan(4);
    expect(Math.max(...zw.map(Math.abs))).toBeGreaterThan(4);
  }, 600_000);

  it('zero reward: FK reproduces plain sampling (|z| < 4); planted: the box-steered law differs', async () => {
    const fk = perRun(await fkRuns(zeroReward, 'zero'));
    const base = perRun(plain);
    const zs = STATS.map((_, k) => twoSampleZ(fk[k]!, base[k]!));
    const steered = reweighted(LAMBDA);
    const zw = STATS.map((_, k) => twoSampleZ(fk[k]!, steered[k]!));
    if (process.env.TYCHE_REPORT) console.log(`toy2d FK zero: z ${zs.map((z) => z.toFixed(2)).join(', ')}; planted steered: ${zw.map((z) => z.toFixed(2)).join(', ')}`);
    for (const z of zs) expect(Math.abs(z)).toBeLessThan(4);
    expect(Math.max(...zw.map(Math.abs))).toBeGreaterThan(4);
  }, 600_000);

  it('tensor count stays flat over a 600-step steered run (measured inside the run)', async () => {
    const counts: number[] = [];
    const before = tf.memory().numTensors;
    const res = await St.fkSteering(toy, {
      reward: boxReward, lambda: LAMBDA, sampler: D.flowSde(), steps: 600, particles: 64, seed: 'p7-long', checkFinite: false,
      onStep: (info) => {
        if (info.step % 100 === 50) counts.push(tf.memory().numTensors);
      },
    });
    res.x.dispose();
    expect(new Set(counts).size, `numTensors at steps 50, 150, ...: ${counts.join(', ')}`).toBe(1);
    expect(tf.memory().numTensors).toBe(before);
  }, 600_000);
});

describe('step PF, temperature 0.5 (heavy-tailed weights)', () => {
  it('E[Ẑ] = E_LM[r] over 4000 runs at N = 6; planted: the tempered expectation', async () => {
    const semi = TokenVocabulary.characters('ab;');
    const lm = MarkovLM.random(semi, new Rng('probe7-pf'), { eos: 0.3 });
    const T = 4;
    const reward = (t: string): number => (t.includes('b') ? 0.9 : 0.05);
    const expected = async (temperature?: number) =>
      (await enumerateStrings(lm, T, temperature ? { temperature } : undefined)).reduce((a, s) => a + Math.exp(s.tokens.length < T ? s.logp : s.logPrefix) * reward(s.text), 0);
    const z: number[] = [];
    for (let r = 0; r < 4000; r++) {
      const res = await particleFilterSteps(lm, { name: 'b', score: async (texts) => texts.map(reward) }, '', { particles: 6, seed: `q-${r}`, maxTokens: T, maxSteps: T, sampling: { temperature: 0.5 } });
      z.push(Math.exp(res.logZ!));
    }
    const right = await expected();
    const planted = await expected(0.5);
    if (process.env.TYCHE_REPORT) console.log(`pf T=0.5: ${meanSE(z).mean.toFixed(4)} ± ${meanSE(z).se.toFixed(4)} vs ${right.toFixed(4)} (z ${zOf(z, right).toFixed(2)}), planted ${planted.toFixed(4)} (z ${zOf(z, planted).toFixed(2)}), max Ẑ ${Math.max(...z).toFixed(1)}`);
    expect(Math.abs(zOf(z, right))).toBeLessThan(4);
    expect(Math.abs(zOf(z, planted))).toBeGreaterThan(4);
  }, 600_000);
});

