/**
 * SMC-steer (Lew et al. 2023, LLaMPPL): each of N particles is extended K
 * ways (K independent proposals, each child weighted `W_parent · g / K`),
 * then the N·K children are brought back to N by Fearnhead–Clifford
 * resampling without replacement: children whose weight is at least 1/c of
 * the total are kept with their weight, the rest are thinned by systematic
 * sampling (each chosen at most once) and given weight `S / c`, where c
 * solves `Σ_j min(1, c w_j) = N`. The total weight is preserved in
 * expectation, so `exp(logZ)` stays unbiased.
 *
 * It runs on the particle core: the core's own resampling is switched off
 * (ESS threshold 0) and each step returns, per slot, the change of that
 * slot's log-weight, so the core's weights and log Z follow the particles'.
 *
 * @module
 */
import { checkSteerOptions } from '../../run-rules.js';
import { checkIntegerOptions, optionNames } from '../../../core/options.js';
import { type Rng } from '../../../core/rng.js';
import type { FeynmanKac, StepResult } from '../../../infer/smc/core.js';
import { perParticleStore } from '../../../infer/smc/store.js';
import { type SteerOptions, type SteeringResult, runTokenModel } from './steer.js';
import { TokenFeynmanKac, type TokenParticle } from './token-fk.js';

/** A particle with its own unnormalised log-weight. */
interface WeightedParticle extends TokenParticle {
  logW: number;
}

/**
 * Fearnhead–Clifford resampling: choose `n` of the weights (unnormalised
 * log-weights `lw`), returning the chosen indices and their new log-weights
 * (kept ones unchanged, thinned ones `log(S / c)`). With at most `n` positive
 * weights every positive one is kept.
 */
export function fearnheadClifford(lw: ArrayLike<number>, n: number, rng: Rng): { index: number[]; logWeight: number[] } {
  const m = lw.length;
  let max = -Infinity;
  for (let j = 0; j < m; j++) if (lw[j] > max) max = lw[j];
  const live: number[] = [];
  for (let j = 0; j < m; j++) if (lw[j] > -Infinity) live.push(j);
  if (live.length <= n) return { index: live, logWeight: live.map((j) => lw[j]) };
  const w = live.map((j) => Math.exp(lw[j] - max));
  const S = w.reduce((a, b) => a + b, 0);
  const order = live.map((_, k) => k).sort((a, b) => w[b] - w[a]);
  // k largest kept: c = (n - k) / (rest / S), valid when c · w_(k) < S (the next one is thinned)
  let rest = S;
  let k = 0;
  let c = 0;
  for (; k < n; k++) {
    c = ((n - k) * S) / rest;
    if ((c * w[order[k]]) / S < 1) break;
    rest -= w[order[k]];
  }
  const index: number[] = [];
  const logWeight: number[] = [];
  for (let i = 0; i < k; i++) {
    index.push(live[order[i]]);
    logWeight.push(lw[live[order[i]]]);
  }
  // systematic thinning of the rest: points u + i·(S/c) on their cumulative weight
  const step = S / c;
  let u = rng.uniform() * step;
  let cum = 0;
  const thinLog = max + Math.log(step);
  for (let r = k; r < order.length && index.length < n; r++) {
    cum += w[order[r]];
    if (cum > u) {
      index.push(live[order[r]]);
      logWeight.push(thinLog);
      u += step;
    }
  }
  return { index, logWeight };
}

class SmcSteerFK implements FeynmanKac<WeightedParticle[]> {
  readonly store = perParticleStore<WeightedParticle>((p) => ({ ...p, tokens: p.tokens.slice() }));
  constructor(
    readonly inner: TokenFeynmanKac,
    readonly k: number,
  ) {}

  init(n: number): WeightedParticle[] {
    return Array.from({ length: n }, () => ({ tokens: [], done: false, twist: 0, logW: 0 }));
  }

  done(t: number, state: WeightedParticle[]): boolean {
    return this.inner.done(t, state);
  }

  async step(state: WeightedParticle[], t: number, rng: Rng): Promise<StepResult<WeightedParticle[]>> {
    const n = state.length;
    const start = t === 0 ? await this.inner.untilAborted(this.inner.startWeight()) : 0;
    const logK = Math.log(this.k);
    const children: WeightedParticle[] = [];
    const jobs: (() => Promise<void>)[] = [];
    const rngs = rng.splitN(n * this.k + 1);
    state.forEach((p, i) => {
      for (let j = 0; j < this.k; j++) {
        const c: WeightedParticle = { tokens: p.tokens.slice(), done: p.done, twist: t === 0 ? this.inner.startTwist : p.twist, logW: p.logW - logK };
        children.push(c);
        if (p.done || p.logW === -Infinity) continue;
        if (start === -Infinity) {
          c.logW = -Infinity;
          c.done = true;
          continue;
        }
        const r = rngs[i * this.k + j];
        jobs.push(() =>
          this.inner.advance(c, 1 + i, r).then((g) => {
            c.logW += start + g;
            if (c.logW === -Infinity) c.done = true;
          }),
        );
      }
    });
    // the children advance a chunk at a time, pacing (and stopping at an abort) between chunks
    await this.inner.inChunks(jobs.length, async (from, to) => void (await Promise.all(jobs.slice(from, to).map((job) => job()))));
    const { index, logWeight } = fearnheadClifford(
      children.map((c) => c.logW),
      n,
      rngs[n * this.k],
    );
    const next: WeightedParticle[] = index.map((j, r) => ({ ...children[j], logW: logWeight[r] }));
    if (next.length === 0) next.push({ tokens: [], done: true, twist: 0, logW: -Infinity });
    // fewer live children than slots: split the heaviest in two halves (still properly weighted), so no slot is dead
    while (next.length < n) {
      let h = 0;
      for (let i = 1; i < next.length; i++) if (next[i].logW > next[h].logW) h = i;
      next[h].logW -= Math.LN2;
      next.push({ ...next[h], tokens: next[h].tokens.slice() });
    }
    const lp = next.map((p, i) => (p.logW === -Infinity ? -Infinity : p.logW - state[i].logW));
    return { state: next, logPotential: lp };
  }
}

/** Options of {@link smcSteerK}. */
export interface SmcSteerKOptions extends Omit<SteerOptions, 'essThreshold' | 'resampling' | 'temper' | 'ancestorSampler' | 'reference'> {
  /** Children per particle per step (default 3). */
  readonly k?: number;
}

/** The option names smcSteerK accepts (checked against its options type by the compiler). */
const SMC_STEER_K_OPTIONS = optionNames<SmcSteerKOptions>({ k: true, seed: true, rng: true, signal: true, onStep: true, particles: true, onEmpty: true, lm: true, potential: true, critic: true, sampler: true, maxTokens: true, prompt: true });

/**
 * SMC-steer: extend each particle K ways, then Fearnhead–Clifford
 * resampling without replacement back to N (see the module note).
 */
export async function smcSteerK(options: SmcSteerKOptions): Promise<SteeringResult> {
  checkSteerOptions('smcSteerK', options, SMC_STEER_K_OPTIONS);
  checkIntegerOptions('smcSteerK', options, { k: 1, particles: 1, maxTokens: 0 });
  const { particles, seed, rng, signal, onStep, onEmpty, k = 3, ...model } = options;
  if (!(Number.isInteger(k) && k >= 1)) throw new Error(`smcSteerK: k must be a positive integer, got ${k}`);
  const inner = new TokenFeynmanKac(model);
  const fk = new SmcSteerFK(inner, k);
  return runTokenModel(inner, { particles, seed, rng, signal, onStep: onStep as never, essThreshold: 0 }, onEmpty, fk);
}
