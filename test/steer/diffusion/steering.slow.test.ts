/**
 * Diffusion steering, slow tier (TYCHE_SLOW=1): FK steering with every
 * potential type against the closed-form tilted mixture, its error shrinking
 * with particles and steps; FK steering of a flow model through `flowSde()`
 * (planted: a flow SDE with the wrong score term) and through
 * `interpolantToVp` + DDPM (planted: no SNR matching); the twisted diffusion sampler on the
 * class-conditional target p(x0 | y) of the analytic mixture (class fractions
 * via the component masses, within-class moments), with planted bugs.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import '../../../src/backend/gradients.js';
import { initBackend } from '../../../src/backend/select.js';
import * as D from '../../../src/steer/diffusion/index.js';
import * as St from '../../../src/steer/diffusion/steering/index.js';
import { checkWeightedRuns, mixtureStatistics, type WeightedRun } from '../../../src/testing/weighted-runs.js';
import { MIX, weightedMeanRmse } from './fixtures.js';

beforeAll(async () => {
  await initBackend('cpu');
});

const SCH = D.vpLinear();
const A = [0.6, -0.4];
const TARGET = St.linearTilt(MIX.marginal(SCH, SCH.tMin), A, 1);
const RUNS = 10;

async function fk(potential: St.FkPotential, particles: number, steps: number, runs = RUNS): Promise<WeightedRun[]> {
  const out: WeightedRun[] = [];
  for (let r = 0; r < runs; r++) {
    const res = await St.fkSteering(MIX.model(SCH), { reward: St.linearReward(A), lambda: 1, potential, particles, steps, checkFinite: false, seed: `fks-${potential}-${particles}-${steps}-${r}` });
    out.push({ x: await res.x.data(), weights: Float64Array.from(res.weights) });
    res.x.dispose();
  }
  return out;
}


describe('FK steering (slow tier)', () => {
  for (const potential of ['diff', 'max', 'add', 'rt'] as const) {
    it(`potential ${potential} recovers the tilted mixture`, async () => {
      const c = checkWeightedRuns(await fk(potential, 128, 150), 2, mixtureStatistics(TARGET));
      expect(c.pass, c.summary).toBe(true);
    }, 300_000);
  }

  it('the error shrinks as particles and steps grow', async () => {
    const small = weightedMeanRmse(await fk('diff', 16, 20, 20), TARGET.mean());
    const large = weightedMeanRmse(await fk('diff', 256, 160, 20), TARGET.mean());
    expect(large, `rms error of the weighted mean: ${small.toFixed(4)} (16 particles, 20 steps) -> ${large.toFixed(4)} (256, 160)`).toBeLessThan(small / 2);
  }, 300_000);
});

describe('FK steering of a flow through its SDE (slow tier)', () => {
  const INTERP = D.linearInterpolant();
  const FLOW = MIX.model(INTERP, 'velocity');
  const FLOW_TARGET = St.linearTilt(MIX.marginal(INTERP, INTERP.tMin), A, 1);
  /** Planted bug: the flow SDE with the score term g² s instead of ½ g² s (its marginals are not the flow's). */
  function flowSdeDoubleScore(): D.Sampler {
    const good = D.flowSde();
    return {
      name: 'flow-sde-double-score',
      stochastic: true,
      async kernel(input) {
        const k = await good.kernel(input);
        const score = await D.denoise(input.model, input.x, input.t, input.cond, 'score', { checkFinite: false });
        const h = input.t - input.s;
        const mean = tf.tidy(() => tf.add(k.mean, tf.mul(score, 0.5 * input.t * input.t * h)));
        tf.dispose([k.mean, score]);
        return { ...k, mean };
      },
    };
  }
  async function flowRuns(sampler: D.Sampler, tag: string): Promise<WeightedRun[]> {
    const out: WeightedRun[] = [];
    for (let r = 0; r < RUNS; r++) {
      const res = await St.fkSteering(FLOW, { reward: St.linearReward(A), lambda: 1, particles: 256, steps: 100, sampler, checkFinite: false, seed: `fk-flow-${tag}-${r}` });
      out.push({ x: await res.x.data(), weights: Float64Array.from(res.weights) });
      res.x.dispose();
    }
    return out;
  }

  it('FK steering through flowSde() recovers the tilted mixture (256 particles); a flow SDE with the wrong score term does not', async () => {
    const ok = checkWeightedRuns(await flowRuns(D.flowSde(), 'good'), 2, mixtureStatistics(FLOW_TARGET));
    const bad = checkWeightedRuns(await flowRuns(flowSdeDoubleScore(), 'bad'), 2, mixtureStatistics(FLOW_TARGET));
    if (process.env.TYCHE_REPORT) console.log(`FK through flowSde: ${ok.summary}; planted double score: ${bad.summary}`);
    expect(ok.pass, ok.summary).toBe(true);
    expect(bad.pass, bad.summary).toBe(false);
  }, 600_000);
});

describe('FK steering of a flow converted to VP (interpolantToVp + DDPM, slow tier)', () => {
  const INTERP = D.linearInterpolant();
  const FLOW = MIX.model(INTERP, 'velocity');
  /** Planted bug: the flow's velocity read at the VP clock time, without SNR matching or rescaling. */
  const NAIVE: D.DiffusionModel = { ...FLOW, name: 'naive-vp', schedule: SCH, predict: (y, s) => MIX.predict(y, INTERP, Math.min(INTERP.tMax, Math.max(INTERP.tMin, s)), 'velocity') };
  async function runs(model: D.DiffusionModel, n: number, tag: string): Promise<WeightedRun[]> {
    const out: WeightedRun[] = [];
    for (let r = 0; r < n; r++) {
      const res = await St.fkSteering(model, { reward: St.linearReward(A), lambda: 1, particles: 256, steps: 400, checkFinite: false, seed: `i2vp-${tag}-${r}` });
      out.push({ x: await res.x.data(), weights: Float64Array.from(res.weights) });
      res.x.dispose();
    }
    return out;
  }

  // At 100 DDPM steps the tilted covariance is missed (cov[1,1] z -5.3 at 40 x 1024 particles) and the error does not
  // shrink with particles (mean[0] 0.864, 0.864, 0.870 at 64, 256, 1024; exact 0.913): DDPM's time discretisation, the
  // same with the VP model itself (cov[1,1] z -5.27 at 40 x 1024), not the conversion (its x0-prediction matches the VP
  // model's to 7e-4) nor FK's weights. At 400 steps it passes.
  it('recovers the tilted mixture at 400 steps; the flow read at the VP clock without SNR matching does not', async () => {
    const ok = checkWeightedRuns(await runs(D.interpolantToVp(FLOW, SCH), 20, 'good'), 2, mixtureStatistics(TARGET));
    const bad = checkWeightedRuns(await runs(NAIVE, 5, 'naive'), 2, mixtureStatistics(TARGET));
    if (process.env.TYCHE_REPORT) console.log(`FK through interpolantToVp + DDPM (400 steps): ${ok.summary}; planted (no SNR matching): ${bad.summary}`);
    expect(ok.pass, ok.summary).toBe(true);
    expect(bad.pass, bad.summary).toBe(false);
  }, 600_000);
});

describe('twisted diffusion sampler (slow tier)', () => {
  async function tds(label: number, opts: Partial<St.TdsRunOptions>): Promise<WeightedRun[]> {
    const out: WeightedRun[] = [];
    for (let r = 0; r < RUNS; r++) {
      const res = await St.twistedDiffusion(MIX.model(SCH), { likelihood: St.mixtureClassLikelihood(MIX, label, SCH), particles: 128, steps: 100, seed: `tds-${label}-${r}`, ...opts });
      out.push({ x: await res.x.data(), weights: Float64Array.from(res.weights) });
      res.x.dispose();
    }
    return out;
  }

  for (const label of [0, 1]) {
    it(`class ${label}: class fractions and within-class moments match p(x0 | y); guidance on x̂0 without weights is biased`, async () => {
      const target = MIX.marginal(SCH, SCH.tMin).conditional(label);
      const ok = checkWeightedRuns(await tds(label, {}), 2, mixtureStatistics(target));
      expect(ok.pass, ok.summary).toBe(true);
      const bad = checkWeightedRuns(await tds(label, { twist: 'x0', proposalCorrection: false, essThreshold: 0 }), 2, mixtureStatistics(target));
      expect(bad.pass, bad.summary).toBe(false);
    }, 300_000);
  }
});
