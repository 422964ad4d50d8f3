/**
 * Look-ahead modulation for step-level particle filtering: before each
 * resampling, every open particle samples one successor step (a look-ahead
 * that is scored, then dropped) and its resampling weight is tilted by how
 * good that successor looks, so a step whose continuations score well
 * survives even when its own score is modest.
 *
 * Source: ePF's second device ("Look-ahead Modulation", Giannone et al.
 * 2025). No definition was available to us (the abstract says "a predictive
 * guide to evaluate a state's potential based on its successors"; reviews of
 * the paper describe it as re-weighting particles by predicted successor
 * quality before resampling, one extra forward pass per particle per step;
 * its_hub only has a `does_lookahead_modulation` flag that raises
 * `NotImplementedError`), so this is our reading, in proper Feynman–Kac form:
 *
 *     ψ_t = λ · (link(r(x_{1:t} · y)) − link(r(x_{1:t}))),   y ~ p_LM(step | x_{1:t})
 *
 * is a twist (a critic) held in the particle and added to the potential as
 * ψ_t − ψ_{t−1}; it is 0 once a particle has finished and at the last step,
 * so the weights telescope back to plain PF's and the target (and the
 * unbiasedness of Ẑ) is unchanged: the look-ahead draw is an auxiliary
 * variable drawn from its own proposal. A successor the reward model scores 0
 * gives ψ_t = 0 (no modulation), not −∞: a twist of −∞ would kill a particle
 * whose other continuations the target allows. λ = 0 is plain PF; λ = 1 resamples by
 * the successor's score alone. The look-ahead costs one step of generation
 * and one reward call per open particle per step, counted in `cost`.
 *
 * @module
 */
import type { FeynmanKac, StepResult } from '../../../infer/smc/core.js';
import { type PartialSolution, type StepSampler, cloneSolution } from './steps.js';
import type { RewardLink } from './types.js';

const isArrayLike = (x: unknown): x is ArrayLike<number> => typeof (x as ArrayLike<number>).length === 'number';

/** Options of look-ahead modulation. */
export interface LookaheadModulation {
  /** λ, the weight of the look-ahead twist (default 1). */
  readonly strength?: number;
}

/** Wrap a step model with look-ahead modulation (ratio weights only; see the module notes). */
export function withLookahead(sampler: StepSampler, inner: FeynmanKac<PartialSolution[]>, link: RewardLink, eps: number, options: LookaheadModulation): FeynmanKac<PartialSolution[]> {
  const lambda = options.strength ?? 1;
  if (!(Number.isFinite(lambda) && lambda >= 0)) throw new Error(`look-ahead modulation: strength must be a finite number >= 0, got ${lambda}`);
  return {
    ...inner,
    async step(state, t, rng): Promise<StepResult<PartialSolution[]>> {
      const [moveRng, lookRng] = rng.splitN(2);
      const res = await inner.step(state, t, moveRng!);
      if (!isArrayLike(res.logPotential)) throw new Error('look-ahead modulation: the step model returned a tensor potential; it needs one number per particle');
      const lp = Float64Array.from(res.logPotential);
      const sols = res.state;
      const last = t + 1 >= sampler.maxSteps;
      const open = last ? [] : sols.flatMap((s, i) => (s.ended === null && lp[i] !== -Infinity ? [i] : []));
      const psi = new Float64Array(sols.length); // 0: finished, dead, or the last step
      if (open.length > 0) {
        const ahead = open.map((i) => cloneSolution(sols[i]!));
        const rngs = lookRng!.splitN(ahead.length);
        await Promise.all(ahead.map((a, k) => sampler.extend(a, rngs[k]!)));
        await sampler.scoreAndTwist(ahead, link, eps);
        // a successor scored 0 (twist -Infinity) modulates nothing: a twist must be finite wherever the target has mass,
        // and -Infinity here killed a particle whose other continuations the target allows (E[Z^/Z] 0.74 with zero
        // partial scores, session 17); it is an auxiliary draw, so any finite psi keeps the target and Z^ unbiased
        open.forEach((i, k) => {
          const next = ahead[k]!.twist;
          psi[i] = next === -Infinity ? 0 : lambda * (next - sols[i]!.twist);
        });
      }
      sols.forEach((s, i) => {
        const d = lp[i]! + psi[i]! - (s.lookahead ?? 0);
        lp[i] = Number.isNaN(d) ? -Infinity : d;
        s.lookahead = psi[i]!;
      });
      return { state: sols, logPotential: lp };
    },
  };
}
