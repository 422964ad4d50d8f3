/**
 * Discrete-state hidden Markov models: the exact forward algorithm (in log
 * space) and the same model as a batched {@link StateSpaceModel}, so that
 * particle filters can be checked against exact answers.
 *
 * Model with K states and T steps: z_0 ~ Categorical(exp(logInit)),
 * z_t | z_{t-1} = j ~ Categorical(exp(logTrans[j])), and observation t has
 * log-likelihood `logEmissions[t][k]` under state k.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../../core/rng.js';
import { logSumExp } from '../../core/value.js';
import type { StateSpaceModel } from './statespace.js';

/** A row-major matrix of numbers. */
type Rows = ReadonlyArray<ArrayLike<number>>;

/** What {@link hmmForward} returns. */
export interface HMMForwardResult {
  /** log p(y_0, ..., y_{T-1}). */
  readonly logZ: number;
  /** `filtering[t][k]` = p(z_t = k | y_0..y_t). */
  readonly filtering: Float64Array[];
  /** log p(y_t | y_0..y_{t-1}) for each t. */
  readonly logIncrements: Float64Array;
}

/** Check an HMM's shapes and values (NaN and +Infinity are errors), naming the argument. */
function checkHMM(who: string, logInit: ArrayLike<number>, logTrans: Rows, logEmissions?: Rows): number {
  const K = logInit.length;
  if (K === 0) throw new Error(`${who}: logInit is empty`);
  const finite = (v: number, what: string): void => {
    if (Number.isNaN(v) || v === Infinity) throw new Error(`${who}: ${what} is ${v}; log-probabilities must be < +Infinity and not NaN`);
  };
  for (let k = 0; k < K; k++) finite(logInit[k], `logInit[${k}]`);
  if (logTrans.length !== K) throw new Error(`${who}: logTrans has ${logTrans.length} rows, expected ${K} (one per state)`);
  logTrans.forEach((row, j) => {
    if (row.length !== K) throw new Error(`${who}: logTrans row ${j} has ${row.length} entries, expected ${K}`);
    for (let k = 0; k < K; k++) finite(row[k], `logTrans[${j}][${k}]`);
  });
  logEmissions?.forEach((row, t) => {
    if (row.length !== K) throw new Error(`${who}: logEmissions row ${t} has ${row.length} entries, expected ${K}`);
    for (let k = 0; k < K; k++) finite(row[k], `logEmissions[${t}][${k}]`);
  });
  return K;
}

/**
 * The forward algorithm in log space, O(T K^2): the exact log-likelihood and
 * filtering marginals of a discrete HMM. `logInit` and the rows of
 * `logTrans` need not be normalised (an unnormalised initial distribution
 * scales Z accordingly).
 *
 * @param logInit - log p(z_0 = k), length K
 * @param logTrans - `logTrans[j][k]` = log p(z_t = k | z_{t-1} = j), K x K
 * @param logEmissions - `logEmissions[t][k]` = log p(y_t | z_t = k), T x K
 */
export function hmmForward(logInit: ArrayLike<number>, logTrans: Rows, logEmissions: Rows): HMMForwardResult {
  const K = checkHMM('hmmForward', logInit, logTrans, logEmissions);
  const T = logEmissions.length;
  const filtering: Float64Array[] = [];
  const logIncrements = new Float64Array(T);
  let logZ = 0;
  // alpha: log p(z_t = k | y_0..y_t) after each step (normalised)
  let alpha = Float64Array.from(logInit);
  const pred = new Float64Array(K);
  const terms = new Float64Array(K);
  for (let t = 0; t < T; t++) {
    if (t === 0) pred.set(alpha);
    else {
      for (let k = 0; k < K; k++) {
        for (let j = 0; j < K; j++) terms[j] = alpha[j] + logTrans[j][k];
        pred[k] = logSumExp(terms);
      }
    }
    const joint = new Float64Array(K);
    for (let k = 0; k < K; k++) joint[k] = pred[k] + logEmissions[t][k];
    const inc = logSumExp(joint);
    logIncrements[t] = inc;
    logZ += inc;
    if (inc === -Infinity) {
      filtering.push(new Float64Array(K).fill(NaN));
      for (let r = t + 1; r < T; r++) filtering.push(new Float64Array(K).fill(NaN));
      for (let r = t + 1; r < T; r++) logIncrements[r] = NaN;
      return { logZ: -Infinity, filtering, logIncrements };
    }
    alpha = Float64Array.from(joint, (v) => v - inc);
    filtering.push(Float64Array.from(alpha, Math.exp));
  }
  return { logZ, filtering, logIncrements };
}

/** Normalised probabilities from log-weights. */
function probs(logW: ArrayLike<number>, who: string): Float64Array {
  const lse = logSumExp(logW);
  if (lse === -Infinity) throw new Error(`${who}: a distribution has no state of positive probability`);
  return Float64Array.from(logW as ArrayLike<number>, (v) => Math.exp(v - lse));
}

/** Draw a state from cumulative probabilities. */
function drawFromCdf(cdf: Float64Array, u: number): number {
  let k = 0;
  while (k < cdf.length - 1 && cdf[k] <= u) k++;
  return k;
}

function cumulative(p: Float64Array): Float64Array {
  const c = new Float64Array(p.length);
  let s = 0;
  for (let k = 0; k < p.length; k++) c[k] = s += p[k];
  c[p.length - 1] = Infinity; // never walk past the last state through rounding
  return c;
}

/**
 * A discrete HMM as a {@link StateSpaceModel}: particles are state indices
 * held in a float32 tensor `[N]`, moved by the transition matrix and weighed
 * by the emission log-likelihoods. `logInit` and the rows of `logTrans` are
 * normalised before drawing. The mass of `logInit` as given is added to the
 * first observation's weight, so the filter's log Z estimates the same
 * quantity as {@link hmmForward}; transition rows should be normalised (the
 * forward algorithm uses them as given).
 */
export function hmmStateSpace(logInit: ArrayLike<number>, logTrans: Rows, logEmissions: Rows): StateSpaceModel {
  const K = checkHMM('hmmStateSpace', logInit, logTrans, logEmissions);
  const T = logEmissions.length;
  const init = Float64Array.from(logInit);
  const initLse = logSumExp(init);
  const initCdf = cumulative(probs(init, 'hmmStateSpace: logInit'));
  const transLp = logTrans.map((row) => {
    const lse = logSumExp(row);
    return Float64Array.from(row as ArrayLike<number>, (v) => v - lse);
  });
  const transCdf = logTrans.map((row, j) => cumulative(probs(row, `hmmStateSpace: logTrans row ${j}`)));
  const emissions = logEmissions.map((row) => Float64Array.from(row));
  const stateOf = (v: number, who: string): number => {
    const k = Math.round(v);
    if (!(k >= 0 && k < K) || Math.abs(v - k) > 1e-6) throw new Error(`hmmStateSpace: ${who} got state ${v}, expected an integer in 0..${K - 1}`);
    return k;
  };
  const perParticle = (x: tf.Tensor, f: (k: number, i: number) => number): tf.Tensor => {
    const v = x.dataSync();
    return tf.tensor1d(Float32Array.from(v, (z, i) => f(z, i)));
  };
  return {
    length: T,
    initial: (n: number, rng: Rng) => tf.tensor1d(Float32Array.from({ length: n }, () => drawFromCdf(initCdf, rng.uniform()))),
    initialLogProb: (x) => perParticle(x, (z) => init[stateOf(z, 'initialLogProb')] - initLse),
    transition: (xPrev, _t, rng) => perParticle(xPrev, (z) => drawFromCdf(transCdf[stateOf(z, 'transition')], rng.uniform())),
    transitionLogProb: (xNew, xPrev) => {
      const prev = xPrev.dataSync();
      return perParticle(xNew, (z, i) => transLp[stateOf(prev[i], 'transitionLogProb')][stateOf(z, 'transitionLogProb')]);
    },
    logObservation: (x, t) => perParticle(x, (z) => emissions[t][stateOf(z, 'logObservation')] + (t === 0 ? initLse : 0)),
  };
}
