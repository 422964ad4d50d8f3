/**
 * Geweke joint-distribution tests ("Getting it right", Geweke 2004): every
 * MCMC kernel must leave its target invariant, so a chain that alternates
 * kernel moves on the latents given the data with fresh data given the
 * latents must reproduce the moments of independent joint draws. Covers the
 * static HMC (fixed and jittered step counts) and NUTS kernels (fixed step
 * size, identity metric: adaptation would break invariance), trace MH with prior and user proposals, and Gibbs
 * on a discrete site (one run per value, and vectorised: one run over all
 * values); planted bugs (an MH proposal whose correction is
 * missing, a momentum refresh that does not match the kinetic energy, a
 * static HMC step count chosen from the state instead of the stream, Gibbs
 * that forgets the prior of the discrete site) must fail. The harness and
 * its thresholds are described in `geweke-harness.ts`.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import { type Model, model, ops } from '../../src/core/index.js';
import { Rng } from '../../src/core/rng.js';
import type { Trace } from '../../src/core/trace.js';
import { Categorical } from '../../src/distributions/categorical.js';
import { Normal } from '../../src/distributions/normal.js';
import { EuclideanMetric, type HamiltonianKernel, HmcKernel, NutsKernel, type Position } from '../../src/infer/mcmc/index.js';
import { type SiteProposal, type TraceState, gibbsStep, mhStep, runWithValues } from '../../src/infer/mcmc/trace-mh.js';
import { VectorizedGibbs } from '../../src/infer/mcmc/vector-gibbs.js';
import { LeanGibbs } from '../../src/infer/mcmc/lean-gibbs.js';
import { type SyncTarget, type TestFunctions, drive, formatGeweke, gewekeCompare, positionAt } from './geweke-harness.js';
import { A, B, type Joint, drawSigma, drawY, marginalDraws, normalModel } from './geweke-normal-model.js';

beforeAll(async () => {
  await initBackend('cpu');
});

// ---------------------------------------------------------------------------
// Continuous model: theta ~ N(0, 1), sigma ~ Gamma(A, B), y_i ~ N(theta, sigma) (geweke-normal-model.ts)
const CONTINUOUS_FNS: TestFunctions<Joint> = {
  theta: (s) => s.theta,
  sigma: (s) => s.sigma,
  'theta^2': (s) => s.theta ** 2,
  y0: (s) => s.y[0]!,
  'theta*y0': (s) => s.theta * s.y[0]!,
  'y0*y1': (s) => s.y[0]! * s.y[1]!,
  '(y0-theta)^2': (s) => (s.y[0]! - s.theta) ** 2,
};

/**
 * log p(theta, sigma | y) in the unconstrained coordinates q = (theta, log sigma),
 * Jacobian included, with its gradient (by hand: the kernels are tested, not autodiff).
 */
function posteriorTarget(y: readonly number[]): SyncTarget {
  return (q) => {
    const theta = q[0]!;
    const s = q[1]!;
    const sigma = Math.exp(s);
    let ss = 0;
    let r = 0;
    for (const v of y) {
      ss += (v - theta) ** 2;
      r += v - theta;
    }
    const logp = -0.5 * theta ** 2 + (A - 1) * s - B * sigma + s - y.length * s - ss / (2 * sigma ** 2);
    const grad = Float64Array.of(-theta + r / sigma ** 2, A - B * sigma - y.length + ss / sigma ** 2);
    return { logp, grad };
  };
}

/**
 * The successive-conditional simulator for a Hamiltonian kernel: `moves`
 * transitions at step size `eps` under `metric`, then fresh data.
 */
function successiveHamiltonian(kernel: HamiltonianKernel, metric: EuclideanMetric, eps: number, iterations: number, moves: number, rng: Rng): Joint[] {
  let theta = rng.normal();
  let sigma = drawSigma(rng);
  let y = drawY(theta, sigma, rng);
  const out: Joint[] = [];
  for (let it = 0; it < iterations; it++) {
    const target = posteriorTarget(y);
    let pos: Position = positionAt([theta, Math.log(sigma)], target);
    for (let k = 0; k < moves; k++) pos = drive(kernel.transition(pos, eps, metric, rng), target).position;
    theta = pos.q[0]!;
    sigma = Math.exp(pos.q[1]!);
    y = drawY(theta, sigma, rng);
    out.push({ theta, sigma, y });
  }
  return out;
}

/** A planted bug: momenta drawn with 1.5 times the scale the kinetic energy assumes. */
class MismatchedMomentum extends EuclideanMetric {
  override sampleMomentum(rng: Rng): number[] {
    return super.sampleMomentum(rng).map((p) => 1.5 * p);
  }
}

describe('Geweke tests of the Hamiltonian kernels (fixed step size, identity metric)', () => {
  const N = 20000;
  const identity = new EuclideanMetric('identity', 2);
  const marginal = marginalDraws(N, new Rng(101));
  const cases: [string, HamiltonianKernel, number][] = [
    ['static HMC, 4 steps of 0.3', new HmcKernel({ numSteps: 4 }), 0.3],
    ['static HMC, 1 to 7 steps of 0.3 (jitter 1)', new HmcKernel({ numSteps: 4, jitter: 1 }), 0.3],
    ['NUTS, step 0.4', new NutsKernel(), 0.4],
  ];
  for (const [label, kernel, eps] of cases) {
    it(`${label}: successive-conditional moments match the joint`, () => {
      const r = gewekeCompare(marginal, successiveHamiltonian(kernel, identity, eps, N, 1, new Rng(202)), CONTINUOUS_FNS);
      console.log(formatGeweke(label, r));
      expect(r.failures).toEqual([]);
    });
  }

  for (const [label, kernel, eps] of cases) {
    it(`${label}: a momentum refresh that does not match the kinetic energy fails`, () => {
      const bad = new MismatchedMomentum('identity', 2);
      const r = gewekeCompare(marginal, successiveHamiltonian(kernel, bad, eps, N, 1, new Rng(202)), CONTINUOUS_FNS);
      console.log(formatGeweke(`${label} [planted bug]`, r));
      expect(r.failures.length).toBeGreaterThan(0);
    });
  }

  it('static HMC whose step count is chosen from the state (not from the stream) fails', () => {
    // the planted bug of the jittered kernel: 1 step where theta > 0, 7 where theta <= 0 (a move and its reverse differ in length)
    const short = new HmcKernel({ numSteps: 1 });
    const long = new HmcKernel({ numSteps: 7 });
    const fromState: HamiltonianKernel = { name: 'hmc', transition: (from, eps, metric, rng) => (from.q[0]! > 0 ? short : long).transition(from, eps, metric, rng) };
    const r = gewekeCompare(marginal, successiveHamiltonian(fromState, identity, 0.3, N, 1, new Rng(202)), CONTINUOUS_FNS);
    console.log(formatGeweke('static HMC, steps from the state [planted bug]', r));
    expect(r.failures.length).toBeGreaterThan(0);
  });
});

// ---------------------------------------------------------------------------
// Trace MH on the same model, as the tyche model with observed data.
const num = (t: Trace, a: string): number => t.get(a)!.value as number;

/** log N(x; m, s). */
const logNormal = (x: number, m: number, s: number): number => -0.5 * ((x - m) / s) ** 2 - Math.log(s) - 0.5 * Math.log(2 * Math.PI);

/** An asymmetric (autoregressive) proposal for theta: theta' ~ N(0.5 theta + 0.3, 0.8). */
const arProposal: SiteProposal = {
  sample: (current, rng) => 0.5 * (current as number) + 0.3 + 0.8 * rng.normal(),
  logProb: (to, from) => logNormal(to as number, 0.5 * (from as number) + 0.3, 0.8),
};
/** A planted bug: the same proposal scored as if it were symmetric (no Hastings correction). */
const arProposalNoCorrection: SiteProposal = { sample: arProposal.sample, logProb: () => 0 };

async function successiveMh(iterations: number, moves: number, rng: Rng, proposals?: Record<string, SiteProposal>): Promise<Joint[]> {
  let theta = rng.normal();
  let sigma = drawSigma(rng);
  let y = drawY(theta, sigma, rng);
  const out: Joint[] = [];
  for (let it = 0; it < iterations; it++) {
    const values: Record<string, number> = { theta, sigma };
    let state: TraceState<void> = await runWithValues(normalModel, [y], (a) => values[a], rng);
    for (let k = 0; k < moves; k++) state = (await mhStep(normalModel, [y], state, rng, proposals ? { proposals } : {})).state;
    theta = num(state.trace, 'theta');
    sigma = num(state.trace, 'sigma');
    state.trace.disposeLogProbs();
    y = drawY(theta, sigma, rng);
    out.push({ theta, sigma, y });
  }
  return out;
}

describe('Geweke tests of trace MH', () => {
  const N = 6000;
  const marginal = marginalDraws(20000, new Rng(303));
  it('prior proposals: successive-conditional moments match the joint', async () => {
    const r = gewekeCompare(marginal, await successiveMh(N, 2, new Rng(404)), CONTINUOUS_FNS);
    console.log(formatGeweke('MH, prior proposals', r));
    expect(r.failures).toEqual([]);
  });

  it('an asymmetric user proposal for theta: moments match the joint', async () => {
    const r = gewekeCompare(marginal, await successiveMh(N, 2, new Rng(405), { theta: arProposal }), CONTINUOUS_FNS);
    console.log(formatGeweke('MH, AR proposal for theta', r));
    expect(r.failures).toEqual([]);
  });

  it('the same proposal without its Hastings correction fails', async () => {
    const r = gewekeCompare(marginal, await successiveMh(N, 2, new Rng(405), { theta: arProposalNoCorrection }), CONTINUOUS_FNS);
    console.log(formatGeweke('MH, AR proposal, no correction [planted bug]', r));
    expect(r.failures.length).toBeGreaterThan(0);
  });
});

// ---------------------------------------------------------------------------
// Gibbs on a discrete site: z ~ Categorical(PZ), x ~ N(MU[z], 1), y_i ~ N(x, 1)
const PZ = [0.2, 0.5, 0.3];
const MU = [-1, 0, 1];

/** A joint state of the mixture model. */
interface MixJoint {
  readonly z: number;
  readonly x: number;
  readonly y: readonly number[];
}

const mixture = (pz: readonly number[]) =>
  model(async ({ sample, observe }, y: readonly number[]) => {
    const z = (await sample('z', Categorical(pz as number[]))) as number;
    const x = await sample('x', Normal(MU[z]!, 1));
    for (let i = 0; i < y.length; i++) await observe(`y${i}`, Normal(x, 1), y[i]!);
  });
const mixtureModel = mixture(PZ);
/** A planted bug: Gibbs conditionals computed with a uniform prior on z. */
const mixtureForgetsPrior = mixture([1 / 3, 1 / 3, 1 / 3]);

function mixtureMarginal(n: number, rng: Rng): MixJoint[] {
  const out: MixJoint[] = [];
  for (let i = 0; i < n; i++) {
    const u = rng.uniform();
    const z = u < PZ[0]! ? 0 : u < PZ[0]! + PZ[1]! ? 1 : 2;
    const x = MU[z]! + rng.normal();
    out.push({ z, x, y: drawY(x, 1, rng) });
  }
  return out;
}

const MIXTURE_FNS: TestFunctions<MixJoint> = {
  'z=0': (s) => (s.z === 0 ? 1 : 0),
  'z=2': (s) => (s.z === 2 ? 1 : 0),
  x: (s) => s.x,
  'x^2': (s) => s.x ** 2,
  y0: (s) => s.y[0]!,
  'z*y0': (s) => s.z * s.y[0]!,
};

/** The same mixture written with tensor-aware ops (MU[z] = z - 1), so Gibbs can weigh z's values in one vectorised run. */
const mixtureOps = (pz: readonly number[]) =>
  model(async ({ sample, observe }, y: readonly number[]) => {
    const z = await sample('z', Categorical(pz as number[]));
    const x = await sample('x', Normal(ops.sub(z, 1), 1));
    for (let i = 0; i < y.length; i++) await observe(`y${i}`, Normal(x, 1), y[i]!);
  });

/**
 * Each iteration: a Gibbs update of z (under `gibbsModel`, vectorised with `vectorized`, or weighed on the
 * lean runtime with `lean`, whose updates are counted in `lean.updates`), an MH move of x, fresh data.
 */
async function successiveGibbs(iterations: number, rng: Rng, gibbsModel: Model<[readonly number[]], void> = mixtureModel, vectorized?: VectorizedGibbs, lean?: { updates: number }): Promise<MixJoint[]> {
  let z = 1;
  let x = 0;
  let y = drawY(x, 1, rng);
  const out: MixJoint[] = [];
  for (let it = 0; it < iterations; it++) {
    const values: Record<string, number> = { z, x };
    let state: TraceState<void> = await runWithValues(gibbsModel, [y], (a) => values[a], rng);
    const weigher = lean ? new LeanGibbs(gibbsModel, [y]) : undefined;
    state = await gibbsStep(gibbsModel, [y], state, 'z', rng, { vectorized, ...(weigher ? { lean: weigher } : {}) });
    if (lean && weigher) lean.updates += weigher.updates;
    z = num(state.trace, 'z');
    state.trace.disposeLogProbs();
    state = await runWithValues(mixtureModel, [y], (a) => (a === 'z' ? z : a === 'x' ? x : undefined), rng);
    state = (await mhStep(mixtureModel, [y], state, rng, { sites: (a) => a === 'x' })).state;
    x = num(state.trace, 'x');
    state.trace.disposeLogProbs();
    y = drawY(x, 1, rng);
    out.push({ z, x, y });
  }
  return out;
}

describe('Geweke tests of Gibbs on a discrete site', () => {
  const marginal = mixtureMarginal(20000, new Rng(505));
  it('Gibbs on z (weighed on the lean runtime, as the engines do) with MH on x: successive-conditional moments match the joint', async () => {
    const lean = { updates: 0 };
    const r = gewekeCompare(marginal, await successiveGibbs(10000, new Rng(606), mixtureModel, undefined, lean), MIXTURE_FNS);
    console.log(formatGeweke('Gibbs z + MH x', r));
    expect(lean.updates).toBe(10000);
    expect(r.failures).toEqual([]);
  });

  it('vectorised Gibbs on z (one model run over its values) with MH on x: moments match the joint', async () => {
    const vec = new VectorizedGibbs();
    const r = gewekeCompare(marginal, await successiveGibbs(6000, new Rng(607), mixtureOps(PZ), vec), MIXTURE_FNS);
    console.log(formatGeweke('vectorised Gibbs z + MH x', r));
    expect(vec.report()).toEqual({ z: true });
    expect(r.failures).toEqual([]);
  });

  it('vectorised Gibbs conditionals that forget the prior of z fail', async () => {
    const vec = new VectorizedGibbs();
    const r = gewekeCompare(marginal, await successiveGibbs(6000, new Rng(607), mixtureOps([1 / 3, 1 / 3, 1 / 3]), vec), MIXTURE_FNS);
    console.log(formatGeweke('vectorised Gibbs with a uniform prior on z [planted bug]', r));
    expect(vec.report()).toEqual({ z: true });
    expect(r.failures.length).toBeGreaterThan(0);
  });

  it('lean Gibbs on z (runs on plain numbers, as the engines weigh it): the same draws as the general runtime, bit for bit', async () => {
    const lean = { updates: 0 };
    const a = await successiveGibbs(400, new Rng(606), mixtureModel, undefined, lean);
    expect(lean.updates).toBe(400);
    expect(a).toEqual(await successiveGibbs(400, new Rng(606)));
  });

  it('lean Gibbs conditionals that forget the prior of z fail', async () => {
    const lean = { updates: 0 };
    const r = gewekeCompare(marginal, await successiveGibbs(10000, new Rng(606), mixtureForgetsPrior, undefined, lean), MIXTURE_FNS);
    console.log(formatGeweke('lean Gibbs with a uniform prior on z [planted bug]', r));
    expect(lean.updates).toBe(10000);
    expect(r.failures.length).toBeGreaterThan(0);
  });

});
