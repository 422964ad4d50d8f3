/**
 * Particle Gibbs over reasoning steps (Puri et al. 2025; Andrieu, Doucet &
 * Holenstein 2010): repeated conditional SMC sweeps of the step-level
 * Feynman–Kac model, each keeping one reference solution from the sweep
 * before in slot 0 (its steps forced there, its lineage kept by the
 * conditional resampling of `conditionalAncestors`). One sweep maps a
 * reference to a new one drawn by final weight, a kernel that leaves the
 * target p_LM(x) · exp(link(r(x))) invariant.
 *
 * With `ancestorSampling` (PGAS, Lindsten et al. 2014) slot 0's ancestor at
 * each resampling is redrawn with probability ∝ w_i · γ(x^i ⊕ x*_rest) / γ(x^i):
 * the LM probability of the reference's remaining steps after particle i's
 * prefix times exp(link(r) of the joined complete text - particle i's twist).
 * This needs the LM to score the reference suffix after every prefix, one
 * batched teacher-forced pass per step; it is exact for the proper (ratio)
 * weights only, so it is refused in replace mode.
 *
 * @module
 */
import { checkSteerOptions } from '../../run-rules.js';
import { checkIntegerOptions, optionNames } from '../../../core/options.js';
import { rngFrom } from '../../../core/rng.js';
import type { FeynmanKac } from '../../../infer/smc/core.js';
import { conditionalAncestors } from '../../../infer/smc/csmc.js';
import { sampleLogCategorical } from '../../../infer/smc/resampling.js';
import type { LanguageModel } from '../types.js';
import { type ReferencePath, referenceOf } from './fk.js';
import { type StepPFOptions, type StepPFResult, runStepSMC } from './pf.js';
import { type PartialSolution, StepSampler, emptySolution } from './steps.js';
import { type StepRewardModel, linkReward } from './types.js';

/** Options of {@link particleGibbsSteps}. */
export interface StepPGOptions extends Omit<StepPFOptions, 'annealing' | 'essThreshold' | 'resampling'> {
  /** Number of sweeps (default 2); the first is a plain particle filter. */
  readonly iterations?: number;
  /** Redraw the reference's ancestor at each resampling (PGAS; ratio weights only). */
  readonly ancestorSampling?: boolean;
  /** Start from this reference instead of a plain first sweep (text steps as token arrays). */
  readonly reference?: ReferencePath;
}

/** A particle Gibbs result: the last sweep's result plus every sweep's chosen reference. */
export interface StepPGResult extends StepPFResult {
  /** The reference drawn after each sweep. */
  readonly references: readonly ReferencePath[];
}

/** log p_LM(suffix tokens [+ EOS] | prompt + prefix); stops at the first impossible token (-Infinity). */
async function suffixLogprob(sampler: StepSampler, prefix: readonly number[], suffix: readonly number[], eos: boolean): Promise<number> {
  const ctx = [...sampler.promptTokens, ...prefix];
  let lp = 0;
  for (let k = 0; k < suffix.length + (eos ? 1 : 0); k++) {
    const tok = k < suffix.length ? suffix[k]! : sampler.lm.vocab.eos;
    lp += (await sampler.lm.logprobs(ctx, { signal: sampler.signal }))[tok]!;
    if (lp === -Infinity) return lp;
    ctx.push(tok);
  }
  return lp;
}

/** Ancestor-sampling log weights (without the particle weights) of every particle for the reference's steps from `t` on. */
async function ancestorTerms(sampler: StepSampler, state: readonly PartialSolution[], ref: ReferencePath, t: number, options: StepPGOptions): Promise<Float64Array | null> {
  if (t >= ref.steps.length) return null;
  const suffix = ref.steps.slice(t).flat();
  const eos = ref.ended === 'eos';
  const link = options.link ?? 'log';
  const eps = options.eps ?? (link === 'logit' ? 1e-7 : 0);
  const out = new Float64Array(state.length).fill(-Infinity);
  const joined: PartialSolution[] = [];
  const idx: number[] = [];
  await Promise.all(
    state.map(async (s, i) => {
      if (s.ended || s.tokens.length + suffix.length > sampler.maxTokens || s.steps.length !== t) return;
      out[i] = await suffixLogprob(sampler, s.tokens, suffix, eos);
      if (out[i] === -Infinity) return;
      const j = emptySolution();
      j.tokens.push(...s.tokens);
      j.steps.push(...s.steps);
      ref.steps.slice(t).forEach((st, k) => sampler.force(j, st, k === ref.steps.length - t - 1 ? ref.ended : null));
      joined.push(j);
      idx.push(i);
    }),
  );
  if (joined.length === 0) return out;
  const r = await sampler.score(joined);
  idx.forEach((i, k) => (out[i] += linkReward(link, r[k]!, eps) - state[i]!.twist));
  return out;
}

/** Draw one final particle by weight and return its path. */
function drawReference(sampler: StepSampler, res: StepPFResult, rng: ReturnType<typeof rngFrom>): ReferencePath {
  const lw = Float64Array.from(res.weights, (w) => Math.log(w));
  const k = sampleLogCategorical(lw, rng, 'particle Gibbs reference draw');
  return referenceOf(sampler, res.particles[k]!);
}

/** The option names particleGibbsSteps accepts (checked against its options type by the compiler). */
const PARTICLE_GIBBS_STEPS_OPTIONS = optionNames<StepPGOptions>({ iterations: true, ancestorSampling: true, reference: true, seed: true, signal: true, particles: true, maxTokens: true, link: true, eps: true, weights: true, select: true, onTemperature: true, lookahead: true, delimiter: true, maxSteps: true, sampling: true, answerOf: true, rewardText: true });

/**
 * Particle Gibbs over reasoning steps: `iterations` sweeps of `particles`
 * particles each (budget = particles · iterations); the answer is chosen from
 * the last sweep's weighted particles.
 */
export async function particleGibbsSteps(lm: LanguageModel, prm: StepRewardModel, prompt: string, options: StepPGOptions): Promise<StepPGResult> {
  checkSteerOptions('particleGibbsSteps', options, PARTICLE_GIBBS_STEPS_OPTIONS);
  checkIntegerOptions('particleGibbsSteps', options, { iterations: 1, particles: 1, maxSteps: 1, maxTokens: 1 });
  const K = options.iterations ?? 2;
  if (!Number.isInteger(K) || K < 1) throw new Error(`particle Gibbs: iterations must be a positive integer, got ${options.iterations}`);
  if (options.ancestorSampling && options.weights === 'replace') throw new Error("particle Gibbs: ancestorSampling needs the proper 'ratio' weights, not 'replace'");
  const sampler = new StepSampler(lm, prompt, prm, options);
  const rng = rngFrom(options.seed);
  // split lazily: one stream per sweep as it starts, and the reference draws' stream (split K + 1, as splitN(K + 1)
  // gave) without making the K before it (iterations: 1e9 made 1e9 streams before the first sweep)
  const refRng = rng.splitAt(K + 1);
  let ref = options.reference ?? null;
  const references: ReferencePath[] = [];
  let last: StepPFResult | null = null;
  for (let k = 0; k < K; k++) {
    const sweepOptions: StepPFOptions = { ...options, seed: rng.split().int(2 ** 31), essThreshold: 1, resampling: 'multinomial' };
    if (!ref) last = await runStepSMC(sampler, sweepOptions);
    else {
      const reference = ref;
      let terms: Float64Array | null = null;
      const wrap = options.ancestorSampling
        ? (fk: FeynmanKac<PartialSolution[]>): FeynmanKac<PartialSolution[]> => ({
            ...fk,
            async step(state, t, r) {
              const out = await fk.step(state, t, r);
              terms = await ancestorTerms(sampler, out.state, reference, t + 1, options);
              return out;
            },
          })
        : undefined;
      const ancestorSampler = conditionalAncestors<PartialSolution[]>(
        options.ancestorSampling
          ? (ctx) => {
              if (!terms) {
                const keep = new Float64Array(ctx.particles).fill(-Infinity);
                keep[0] = 0;
                return keep;
              }
              const t2 = terms as Float64Array;
              return Float64Array.from(ctx.logWeights, (lw, i) => lw + t2[i]!);
            }
          : undefined,
      );
      last = await runStepSMC(sampler, sweepOptions, { reference, ancestorSampler, wrap });
    }
    ref = drawReference(sampler, last, refRng);
    references.push(ref);
  }
  return { ...last!, references };
}
