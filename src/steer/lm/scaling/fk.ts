/**
 * The step-level Feynman–Kac model of inference-time scaling with a process
 * reward model (Puri et al. 2025), in proper form.
 *
 * A particle is a partial solution; a move M_t samples its next step (tokens
 * up to the delimiter, or EOS) from the LM; the potential is the ratio of
 * successive reward twists, G_t = exp(link(r_t) - link(r_{t-1})), with
 * link(r_0) = 0. The potentials telescope, so the target over complete
 * solutions is p_LM(x) · exp(link(r(x))) (for the log link, p_LM(x) · r(x),
 * where r(x) is the reward model's score of the complete solution) and the
 * core's log Ẑ estimates log E_LM[exp(link(r(x)))]. Finished particles are
 * absorbed: potential 0 from then on.
 *
 * `mode: 'replace'` is its_hub's variant for comparison: each step's weight
 * is replaced by link(r_t) (a finished particle keeps link of its final
 * score), which with resampling at every step is the potential link(r_t).
 * It has no telescoping and no meaningful log Z.
 *
 * For conditional SMC (particle Gibbs) a reference solution can be pinned to
 * slot 0: its steps are forced there instead of sampled.
 *
 * @module
 */
import type { Rng } from '../../../core/rng.js';
import type { FeynmanKac, StepResult } from '../../../infer/smc/core.js';
import { perParticleStore } from '../../../infer/smc/store.js';
import { type PartialSolution, type StepSampler, cloneSolution, emptySolution } from './steps.js';
import type { RewardLink } from './types.js';

/** How the PRM enters the weights. */
export type WeightMode = 'ratio' | 'replace';

/** A reference path for conditional SMC: its steps as token arrays and how it ended. */
export interface ReferencePath {
  readonly steps: readonly (readonly number[])[];
  readonly ended: 'eos' | 'length' | null;
}

/** The reference path of a partial solution (its tokens split by step). */
export function referenceOf(sampler: StepSampler, s: PartialSolution): ReferencePath {
  const steps: number[][] = [];
  let k = 0;
  for (const text of s.steps) {
    const toks: number[] = [];
    let got = '';
    while (got.length < text.length && k < s.tokens.length) {
      const tok = s.tokens[k++]!;
      toks.push(tok);
      got += sampler.lm.vocab.tokenText(tok);
    }
    steps.push(toks);
  }
  return { steps, ended: s.ended };
}

/** Options of {@link stepModel}. */
export interface StepModelOptions {
  readonly link: RewardLink;
  /** Clip of reward probabilities before the link (default 1e-7 for logit, 0 for log). */
  readonly eps?: number;
  readonly mode: WeightMode;
  /** Pin this path to slot 0 (conditional SMC). */
  readonly reference?: ReferencePath;
}

/** The Feynman–Kac model over partial solutions (see the module comment). */
export function stepModel(sampler: StepSampler, options: StepModelOptions): FeynmanKac<PartialSolution[]> {
  const eps = options.eps ?? (options.link === 'logit' ? 1e-7 : 0);
  const ref = options.reference;
  return {
    store: perParticleStore(cloneSolution),
    init: (n) => Array.from({ length: n }, emptySolution),
    done: (t, state) => t >= sampler.maxSteps || state.every((s) => s.ended !== null),
    async step(state, t, rng: Rng): Promise<StepResult<PartialSolution[]>> {
      const n = state.length;
      const rngs = rng.splitN(n);
      const moved: number[] = [];
      // log p_LM − log q of each moved particle's step (0 unless `sampling` reshapes the proposal)
      const correction = new Float64Array(n);
      await Promise.all(
        state.map(async (s, i) => {
          if (s.ended) return;
          moved.push(i);
          if (i === 0 && ref) {
            const st = ref.steps[t];
            if (!st) throw new Error(`conditional SMC: the reference path has ${ref.steps.length} steps but slot 0 is still open at step ${t}`);
            const ends = t === ref.steps.length - 1 ? ref.ended : null;
            correction[i] = await sampler.correctionOf(s.tokens, st, ends === 'eos');
            sampler.force(s, st, ends);
            if (!s.ended && s.steps.length >= sampler.maxSteps) s.ended = 'length';
            return;
          }
          correction[i] = await sampler.extend(s, rngs[i]!);
        }),
      );
      moved.sort((a, b) => a - b);
      const lp = new Float64Array(n);
      const movedSols = moved.map((i) => state[i]!);
      const old = movedSols.length > 0 ? await sampler.scoreAndTwist(movedSols, options.link, eps) : new Float64Array(0);
      if (options.mode === 'ratio') {
        moved.forEach((i, k) => {
          // a zero partial score (twist -Infinity) on an unfinished solution keeps the previous twist: killing it here
          // would drop solutions the target p_LM · link(complete score) allows (and a later positive score gave +Infinity)
          if (state[i]!.twist === -Infinity && !state[i]!.ended) state[i]!.twist = old[k]!;
          const d = state[i]!.twist - old[k]! + correction[i]!;
          lp[i] = Number.isNaN(d) ? -Infinity : d; // -Inf - -Inf: a particle already dead stays dead
        });
      } else {
        for (let i = 0; i < n; i++) lp[i] = state[i]!.twist;
      }
      return { state, logPotential: lp };
    },
  };
}
