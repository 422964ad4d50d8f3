/**
 * Engine correctness checks that run inside a browser page (bundled by
 * test/browser/harness.ts, driven by test/browser/browser.test.ts). Each
 * check computes an estimate, its Monte Carlo standard error and the exact
 * answer, and passes when they agree within the tolerance the Node tests of
 * the same engine use; each also runs the same comparison against a planted
 * wrong answer, which must fail (so a check that cannot fail is caught).
 *
 * The checks exercise the tensor paths, which are the ones that run on the
 * page's backend (WebGL): parallel enumeration, batched state-space SMC,
 * vectorised NUTS without the compiled float64 density, VI. Per-particle
 * engines on plain numbers (sequential enumeration, importance, program SMC)
 * run in JavaScript doubles whatever the backend, and are checked too.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Bernoulli, Beta, Normal, backendInfo, infer, model, ops } from '../../../src/index.js';
import { mcseMean } from '../../../src/diagnostics/mcse.js';
import { meanAndSe } from '../../../src/diagnostics/empirical.js';
import { kalmanFilter, linearGaussian1D, linearGaussianStateSpace, particleFilter } from '../../../src/infer/smc/index.js';
import { logZUnbiasedness } from '../../../src/testing/logz.js';
import type { VIDiagnostics } from '../../../src/infer/vi/index.js';
import { GaussianMixture, vpLinear } from '../../../src/steer/diffusion/index.js';
import { fkSteering, linearReward, linearTilt } from '../../../src/steer/diffusion/steering/index.js';
import { type WeightedRun, checkWeightedRuns, mixtureStatistics } from '../../../src/testing/weighted-runs.js';
import { Rng } from '../../../src/core/rng.js';
import { conditionOnRegex } from '../../../src/steer/lm/dp.js';
import { MarkovLM } from '../../../src/steer/lm/markov.js';
import { AutomatonPotential } from '../../../src/steer/lm/potentials/automaton.js';
import { LocallyOptimalSampler } from '../../../src/steer/lm/samplers/locally-optimal.js';
import { UnweightedSampler } from '../../../src/steer/lm/smc/baselines.js';
import { smcSteer } from '../../../src/steer/lm/smc/steer.js';
import { TokenVocabulary } from '../../../src/steer/lm/vocab.js';
import type { TokenSampler } from '../../../src/steer/lm/samplers/types.js';

/** One check's outcome, as the Node side reads it. */
export interface CheckResult {
  readonly name: string;
  readonly pass: boolean;
  /** The same comparison against a planted wrong answer (must be false). */
  readonly plantedPass: boolean;
  readonly detail: string;
  readonly ms: number;
  readonly numTensorsDelta: number;
}

interface Outcome {
  readonly pass: boolean;
  readonly plantedPass: boolean;
  readonly detail: string;
}

/** |estimate - exact| < k * se, for the exact value and for a planted wrong one. */
function zTest(estimate: number, se: number, exact: number, planted: number, k = 4): Outcome {
  const ok = (truth: number): boolean => Math.abs(estimate - truth) < k * se;
  return { pass: ok(exact), plantedPass: ok(planted), detail: `estimate ${estimate.toPrecision(6)}, exact ${exact.toPrecision(6)}, se ${se.toPrecision(3)} (tolerance ${k} se); planted ${planted.toPrecision(6)}` };
}

/** |a - b| <= tol, for the exact value and for a planted wrong one. */
function closeTest(estimate: number, exact: number, planted: number, tol: number): Outcome {
  return { pass: Math.abs(estimate - exact) <= tol, plantedPass: Math.abs(estimate - planted) <= tol, detail: `estimate ${estimate.toPrecision(10)}, exact ${exact.toPrecision(10)}, tolerance ${tol}; planted ${planted.toPrecision(10)}` };
}

// ---- models with exact answers ----

/** Pearl's burglary network conditioned on both calls, written with `ops` so it also enumerates in parallel on tensors. */
const burglary = model(async ({ sample, observe }) => {
  const { where, eq } = ops;
  const b = await sample('burglary', Bernoulli(0.001));
  const e = await sample('earthquake', Bernoulli(0.002));
  const pA = where(eq(b, 1), where(eq(e, 1), 0.95, 0.94), where(eq(e, 1), 0.29, 0.001));
  const a = await sample('alarm', Bernoulli(pA));
  await observe('john', Bernoulli(where(eq(a, 1), 0.9, 0.05)), 1);
  await observe('mary', Bernoulli(where(eq(a, 1), 0.7, 0.01)), 1);
  return b;
});

/** P(burglary | both call) by brute force, given the burglary prior. */
function burglaryExact(prior = 0.001): number {
  let z = 0;
  let zb = 0;
  for (const b of [0, 1])
    for (const e of [0, 1])
      for (const a of [0, 1]) {
        const pA = b ? (e ? 0.95 : 0.94) : e ? 0.29 : 0.001;
        const w = (b ? prior : 1 - prior) * (e ? 0.002 : 0.998) * (a ? pA : 1 - pA) * (a ? 0.9 : 0.05) * (a ? 0.7 : 0.01);
        z += w;
        if (b) zb += w;
      }
  return zb / z;
}

const flips = [1, 0, 1, 1, 1, 0, 1, 1];
/** Beta(2, 2) coin: posterior Beta(2 + heads, 2 + tails). */
const coin = model(async ({ sample, observe }, data: number[]) => {
  const p = await sample('p', Beta(2, 2));
  for (let i = 0; i < data.length; i++) await observe(`flip${i}`, Bernoulli(p), data[i]!);
  return p;
});
const heads = flips.reduce((a, b) => a + b, 0);
const coinA = 2 + heads;
const coinB = 2 + flips.length - heads;
const coinMean = coinA / (coinA + coinB);
const coinSd = Math.sqrt((coinA * coinB) / ((coinA + coinB) ** 2 * (coinA + coinB + 1)));

/** Normal–Normal: mu ~ N(1, 2), y_i ~ N(mu, 0.8). */
const nnData = [0.3, 1.9, 2.4, 1.1, 0.7];
const normalNormal = model(async ({ sample, observe }, ys: number[]) => {
  const mu = await sample('mu', Normal(1, 2));
  for (let i = 0; i < ys.length; i++) await observe(`y${i}`, Normal(mu, 0.8), ys[i]!);
  return mu;
});
const nnPrec = 1 / 4 + nnData.length / 0.64;
const nnMean = (1 / 4 + nnData.reduce((a, b) => a + b, 0) / 0.64) / nnPrec;
const nnSd = Math.sqrt(1 / nnPrec);
/** log p(y) for Normal–Normal: y ~ N(1 * ones, 0.64 I + 4 ones ones'), by the matrix determinant lemma and Sherman–Morrison. */
function nnLogZ(): number {
  const n = nnData.length;
  const s2 = 0.64;
  const t2 = 4;
  const r = nnData.map((y) => y - 1);
  const sum = r.reduce((a, b) => a + b, 0);
  const ss = r.reduce((a, b) => a + b * b, 0);
  const quad = ss / s2 - (t2 / (s2 * (s2 + n * t2))) * sum * sum;
  const logDet = n * Math.log(s2) + Math.log(1 + (n * t2) / s2);
  return -0.5 * (n * Math.log(2 * Math.PI) + logDet + quad);
}

/**
 * LM steering's exact target (as test/steer/lm/steering.test.ts in Node): a
 * random Markov LM over "abc" conditioned on the regular expression
 * `(a|b)*c(a|b)*` with at most 6 tokens; the DP gives Z and the posterior.
 */
const abc = TokenVocabulary.characters('abc');
const steerLm = MarkovLM.random(abc, new Rng('steer-markov'), { eos: 0.25 });
const STEER_PATTERN = '(a|b)*c(a|b)*';
const STEER_MAX = 6;
const steerExact = conditionOnRegex(steerLm, STEER_PATTERN, { maxLength: STEER_MAX });
/** P(first character is c | the constraint), exact; and the same under the unconditioned LM (the planted "forgot to condition" answer). */
const C = abc.id('c')!;
const firstC = steerExact.marginals(1).tokens[0]![C]!;
const firstCPrior = steerLm.stateProbs(steerLm.startState)[C]!;

/**
 * `runs` independent smcSteer runs (8 particles, budget-aware automaton so
 * the locally optimal proposal never meets a dead end): per run log Ẑ and
 * Ẑ·p̂(first = c) / Z, whose mean is unbiased for P(first = c | constraint).
 */
async function steerRuns(sampler: TokenSampler, runs: number): Promise<{ logZ: number[]; firstC: number[] }> {
  const logZ: number[] = [];
  const first: number[] = [];
  for (let r = 0; r < runs; r++) {
    const res = await smcSteer({ lm: steerLm, potential: new AutomatonPotential(abc, STEER_PATTERN, undefined, { maxTokens: STEER_MAX }), sampler, particles: 8, maxTokens: STEER_MAX, seed: `page-steer-${r}`, onEmpty: 'empty' });
    let a = 0;
    for (const [text, w] of res.posterior()) if (text.startsWith('c')) a += w;
    logZ.push(res.logZ);
    first.push(Math.exp(res.logZ - steerExact.logZ) * a);
  }
  return { logZ, firstC: first };
}

// ---- the checks ----

/** How long the tensor-heavy checks run: `quick` for the default test tier, `full` for the slow tier. */
export type CheckScale = 'quick' | 'full';

/** Iterations per scale (software WebGL in headless Chromium costs ~1 ms per op). */
const SIZES = {
  quick: { nutsWarmup: 60, nutsDraws: 60, viSteps: 150, viLr: 0.1 },
  full: { nutsWarmup: 300, nutsDraws: 500, viSteps: 300, viLr: 0.05 },
} as const;

type Check = (scale: CheckScale) => Promise<Outcome>;

const CHECKS: Record<string, Check> = {
  /** Sequential enumeration runs on JavaScript doubles: exact to 1e-9 on any backend. */
  'enumerate (sequential, exact)': async () => {
    const post = await infer(burglary, { method: 'enumerate' });
    return closeTest(post.marginal('burglary').prob(1), burglaryExact(), burglaryExact(0.002), 1e-9);
  },
  /**
   * Parallel enumeration computes every path's weight on tensors, in float32
   * on WebGL: the Node test's 1e-9 cannot hold there, so the tolerance is
   * float32's (relative 1e-5 of a probability near 0.28).
   */
  'enumerate (parallel, on the backend)': async () => {
    const post = await infer(burglary, { method: 'enumerate', strategy: 'parallel' });
    return closeTest(post.marginal('burglary').prob(1), burglaryExact(), burglaryExact(0.0011), 1e-5);
  },
  'importance (posterior mean within 4 MCSE)': async () => {
    const post = await infer(coin, { method: 'importance', particles: 4000, seed: 7 }, flips);
    const m = post.moments('p').mean;
    return zTest(m, coinSd / Math.sqrt(post.ess), coinMean, coinMean + coinSd / 4);
  },
  'smc over the program (Z unbiased over 20 runs)': async () => {
    const est: number[] = [];
    for (let s = 0; s < 20; s++) est.push((await infer(normalNormal, { method: 'smc', particles: 200, seed: s }, nnData)).logZ);
    const exact = nnLogZ();
    const r = logZUnbiasedness(est, exact);
    const planted = logZUnbiasedness(est, exact + 0.5);
    return { pass: r.pass, plantedPass: planted.pass, detail: `mean Zhat/Z ${r.meanRatio.toFixed(4)} +- ${r.se.toFixed(4)} (z ${r.z.toFixed(2)}, exact log Z ${exact.toFixed(4)}); planted log Z + 0.5: z ${planted.z.toFixed(1)}` };
  },
  'particle filter on batched tensors (Z unbiased against Kalman over 12 runs)': async () => {
    const params = { m0: 0, s0: 1, q: 1, r: 1 };
    const ys = [0.4, 1.1, 0.2, -0.5, 0.9, 1.8, 2.2, 1.4, 0.3, 0.8, 1.7, 2.5, 3.1, 2.2, 1.9];
    const exact = kalmanFilter(linearGaussian1D(params), ys).logLikelihood;
    const est: number[] = [];
    for (let s = 0; s < 12; s++) {
      const res = await particleFilter(linearGaussianStateSpace(params, ys), { particles: 500, seed: 100 + s, filteringMeans: false });
      est.push(res.logZ);
      res.dispose();
    }
    const r = logZUnbiasedness(est, exact);
    const planted = logZUnbiasedness(est, exact + 0.3);
    return { pass: r.pass, plantedPass: planted.pass, detail: `mean Zhat/Z ${r.meanRatio.toFixed(4)} +- ${r.se.toFixed(4)} (z ${r.z.toFixed(2)}, Kalman log Z ${exact.toFixed(4)}); planted log Z + 0.3: z ${planted.z.toFixed(1)}` };
  },
  /** compile: false keeps the log density on tensors, so the leapfrog's gradients run on the page's backend. */
  'nuts (vectorised chains on tensors, mean within 4 MCSE)': async (scale) => {
    const post = await infer(normalNormal, { method: 'nuts', chains: 8, warmup: SIZES[scale].nutsWarmup, samples: SIZES[scale].nutsDraws, seed: 11, compile: false }, nnData);
    const chains = post.chainColumns()!.get('mu')!;
    let s = 0;
    let n = 0;
    for (const c of chains) for (const x of c) (s += x), (n += 1);
    return zTest(s / n, mcseMean(chains), nnMean, nnMean + nnSd / 2);
  },
  /** AutoNormal on Normal–Normal is exact; the Node test asks for 3 decimals of the fitted mean and sd. */
  'vi (AutoNormal fits the exact posterior)': async (scale) => {
    const post = await infer(normalNormal, { method: 'vi', guide: 'normal', objective: 'elbo-stl', steps: SIZES[scale].viSteps, particles: 4, optimizer: { lr: SIZES[scale].viLr }, samples: 200, seed: 2 }, nnData);
    const d = post.diagnostics as unknown as VIDiagnostics;
    const loc = d.moments!.loc[0]!;
    const sd = Math.sqrt(d.moments!.covariance[0]!);
    const tol = 5e-3;
    const pass = Math.abs(loc - nnMean) < tol && Math.abs(sd - nnSd) < tol;
    const plantedPass = Math.abs(loc - (nnMean + nnSd / 10)) < tol;
    return { pass, plantedPass, detail: `loc ${loc.toFixed(5)} (exact ${nnMean.toFixed(5)}), sd ${sd.toFixed(5)} (exact ${nnSd.toFixed(5)}), tolerance ${tol}; planted loc + sd/10` };
  },
  /**
   * smcSteer (locally optimal proposal, resampling at ESS < N/2) on the exact
   * Markov LM + regex target: E[Ẑ] = Z (the DP's) over 80 runs, and the
   * posterior P(first = c) from the unbiased Ẑ·p̂ within 4 MCSE. Planted: a
   * proposal with its weight correction dropped (Ẑ biased, about 2.8 Z; 20
   * runs) must fail the Z test, and the unconditioned LM's P(first = c)
   * the posterior test. Runs on JavaScript doubles (the LM and automaton
   * are tables), so WebGL changes nothing; checked so the steering stack
   * loads and runs in a page. Each run costs ~37 ms in the page, mostly the
   * LM wrapper's macrotask flush (setTimeout clamps to 4 ms there).
   */
  'lm steering (smcSteer on a Markov LM under a regex: Z unbiased and posterior within MCSE over 80 runs)': async () => {
    const good = await steerRuns(new LocallyOptimalSampler(), 80);
    const z = logZUnbiasedness(good.logZ, steerExact.logZ);
    const pf = meanAndSe(good.firstC);
    const post = zTest(pf.mean, pf.se, firstC, firstCPrior);
    const bad = await steerRuns(new UnweightedSampler(new LocallyOptimalSampler()), 20);
    const plantedZ = logZUnbiasedness(bad.logZ, steerExact.logZ);
    return {
      pass: z.pass && post.pass,
      plantedPass: plantedZ.pass || post.plantedPass,
      detail: `mean Zhat/Z ${z.meanRatio.toFixed(4)} +- ${z.se.toFixed(4)} (z ${z.z.toFixed(2)}, exact Z ${steerExact.Z.toFixed(6)}); P(first c): ${post.detail} (planted: the unconditioned LM's); planted unweighted proposal: Zhat/Z ${plantedZ.meanRatio.toFixed(3)}, z ${plantedZ.z.toFixed(1)}`,
    };
  },
};

/**
 * Checks too long for the default tier on software WebGL: run at the `full`
 * scale only (the slow tier); the quick tier reports them as skipped.
 */
const FULL_ONLY: Readonly<Record<string, Check>> = {
  /**
   * FK steering of the exact Gaussian-mixture diffusion under a linear reward
   * recovers the closed-form tilted mixture within Monte Carlo error over 10
   * runs of 64 particles (as test/steer/diffusion/steering.test.ts in Node);
   * planted: the tilt's means shifted by λa instead of λΣa.
   */
  'diffusion FK steering (tilted Gaussian mixture within MC error)': async () => {
    const mix = new GaussianMixture([
      { weight: 0.5, mean: [-2, 0], covariance: [[0.5, 0.2], [0.2, 0.3]], label: 0 },
      { weight: 0.3, mean: [2, 1], covariance: [0.2, 0.6], label: 1 },
      { weight: 0.2, mean: [0, -2.5], covariance: 0.25, label: 1 },
    ]);
    const sch = vpLinear();
    const a = [0.6, -0.4];
    const lambda = 1;
    const target = linearTilt(mix.marginal(sch, sch.tMin), a, lambda);
    const runs: WeightedRun[] = [];
    for (let r = 0; r < 10; r++) {
      const res = await fkSteering(mix.model(sch, 'epsilon'), { reward: linearReward(a), lambda, particles: 64, steps: 100, checkFinite: false, essThreshold: 0.7, seed: `fk-diff-${r}` });
      runs.push({ x: await res.x.data(), weights: Float64Array.from(res.weights) });
      res.x.dispose();
    }
    const ok = checkWeightedRuns(runs, 2, mixtureStatistics(target));
    const wrong = new GaussianMixture(mix.means.map((m, k) => ({ weight: target.weights[k]!, mean: m.map((v, i) => v + lambda * a[i]!), covariance: mix.covariances[k]! })));
    const bad = checkWeightedRuns(runs, 2, mixtureStatistics(wrong));
    return { pass: ok.pass, plantedPass: bad.pass, detail: `${ok.summary}; planted (means + λa): ${bad.summary}` };
  },
};

/** The names of the checks, in order. */
export const CHECK_NAMES = [...Object.keys(CHECKS), ...Object.keys(FULL_ONLY)];

/** Run the named checks (default all), one after another, recording time and tensor counts. */
export async function runChecks(names: readonly string[] = CHECK_NAMES, scale: CheckScale = 'quick'): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  for (const name of names) {
    const check = CHECKS[name] ?? FULL_ONLY[name];
    if (!check) throw new Error(`no in-page check "${name}"; have ${CHECK_NAMES.join(', ')}`);
    if (scale === 'quick' && FULL_ONLY[name]) continue;
    const before = tf.memory().numTensors;
    const t0 = performance.now();
    try {
      const r = await check(scale);
      out.push({ name, ...r, ms: performance.now() - t0, numTensorsDelta: tf.memory().numTensors - before });
    } catch (err) {
      out.push({ name, pass: false, plantedPass: false, detail: `threw: ${err instanceof Error ? err.stack ?? err.message : String(err)}`, ms: performance.now() - t0, numTensorsDelta: tf.memory().numTensors - before });
    }
  }
  return out;
}

/** The backend tyche chose in this page. */
export function pageBackend(): ReturnType<typeof backendInfo> {
  return backendInfo();
}
