/**
 * Twist functions for twisted SMC: the exact optimal twist of a finite-state
 * LM conditioned on a regular expression (from the dynamic program), and a
 * learned tabular twist trained by contrastive twist learning (CTL, Zhao et
 * al. 2024). A twist is a {@link Potential} used as a critic: only its
 * `prefix` is read (the twist is removed when a particle finishes).
 *
 * @module
 */
import { checkSteerOptions } from '../../run-rules.js';
import { checkIntegerOptions, optionNames } from '../../../core/options.js';
import { type Rng, rngFrom, type Seed } from '../../../core/rng.js';
import { type SteerOptions, smcSteer } from './steer.js';
import type { Vocabulary } from '../types.js';
import type { Potential } from '../potentials/potential.js';

export { ExactTwist } from './exact-twist.js';

/**
 * A learnable twist: log ψ(x) = θ[key(x)] (0 for unseen keys and for the
 * empty prefix), with a user key function that says which prefixes share a
 * value (e.g. length, last token and automaton state). Trained by
 * {@link learnTwistCTL}.
 */
export class TabularTwist implements Potential {
  readonly theta = new Map<string, number>();
  constructor(
    readonly vocab: Vocabulary,
    readonly key: (x: readonly number[]) => string,
    readonly name = 'tabular twist',
  ) {}
  prefix(x: readonly number[]): number {
    return x.length === 0 ? 0 : (this.theta.get(this.key(x)) ?? 0);
  }
  complete(): number {
    return 0;
  }
}

/** The CTL key of a finished string (no twist parameter). */
const END = '\u0000end';

/** Options of {@link learnTwistCTL}. */
export interface CTLOptions extends Omit<SteerOptions, 'critic' | 'seed' | 'rng' | 'onStep' | 'onEmpty'> {
  /** The twist to train (updated in place). */
  readonly twist: TabularTwist;
  /** Training iterations, one twisted SMC sweep each (default 50). */
  readonly iterations?: number;
  /** Step size on θ: a constant or a schedule of the iteration (default `1 / sqrt(1 + it)`). */
  readonly learningRate?: number | ((iteration: number) => number);
  /**
   * Positive samples: exact draws from the target when you have them (one
   * call per iteration returns a batch); default: the sweep's own final
   * weighted particles (approximate).
   */
  readonly positives?: (rng: Rng) => readonly (readonly number[])[] | Promise<readonly (readonly number[])[]>;
  readonly seed?: Seed;
}

/** The option names learnTwistCTL accepts (checked against its options type by the compiler). */
const LEARN_TWIST_C_T_L_OPTIONS = optionNames<CTLOptions>({ twist: true, iterations: true, learningRate: true, positives: true, seed: true, resampling: true, essThreshold: true, signal: true, temper: true, ancestorSampler: true, particles: true, lm: true, potential: true, sampler: true, maxTokens: true, prompt: true, reference: true });

/**
 * Contrastive twist learning (Zhao et al. 2024): for every prefix length ℓ,
 * the gradient of the CTL objective for a tabular twist is
 * `E_σ[1{key(x_{1:ℓ}) = k}] − E_{π_ℓ^θ}[1{key(x_{1:ℓ}) = k}]`, where strings
 * shorter than ℓ count as "ended" (they carry no twist, which pins the
 * twist's scale: the fixed point is the optimal twist itself, not a
 * per-length multiple of it): positive
 * prefixes from the target σ (exact draws, or the sweep's final weighted
 * particles), negative prefixes from the twisted intermediate targets
 * π_ℓ ∝ p(x_{1:ℓ}) ψ(x_{1:ℓ}) (the sweep's weighted particles after ℓ
 * tokens). Each iteration runs twisted SMC with the current twist as critic
 * (so every sweep still gives an unbiased Ẑ whatever the twist) and moves θ
 * by `learningRate` times the gradient. Returns each sweep's log Ẑ.
 */
export async function learnTwistCTL(options: CTLOptions): Promise<{ logZ: number[] }> {
  checkSteerOptions('learnTwistCTL', options, LEARN_TWIST_C_T_L_OPTIONS);
  checkIntegerOptions('learnTwistCTL', options, { iterations: 1, particles: 1, maxTokens: 0 });
  const { twist, iterations = 50, learningRate = (it: number) => 1 / Math.sqrt(1 + it), positives, seed, ...steer } = options;
  if (!(Number.isInteger(iterations) && iterations >= 1)) throw new Error(`learnTwistCTL: iterations must be a positive integer, got ${iterations}`);
  const rate = typeof learningRate === 'number' ? () => learningRate : learningRate;
  const rng = rngFrom(seed ?? 'ctl');
  const logZ: number[] = [];
  for (let it = 0; it < iterations; it++) {
    const neg = new Map<number, Map<string, number>>();
    const res = await smcSteer({
      ...steer,
      critic: twist,
      rng: rng.split(),
      onEmpty: 'empty',
      onStep: (info) => {
        const len = info.t + 1;
        const m = new Map<string, number>();
        let tot = 0;
        info.state.forEach((p, i) => {
          if (!(info.weights[i] > 0)) return;
          // finished strings carry no twist: they anchor the twist's scale (no free per-length constant)
          const k = p.done ? END : twist.key(p.tokens);
          m.set(k, (m.get(k) ?? 0) + info.weights[i]);
          tot += info.weights[i];
        });
        if (tot > 0) {
          for (const [k, w] of m) m.set(k, w / tot);
          neg.set(len, m);
        }
      },
    });
    logZ.push(res.logZ);
    if (res.empty) continue;
    const posSeqs: { tokens: readonly number[]; w: number }[] = positives
      ? (await positives(rng.split())).map((tokens, _i, all) => ({ tokens, w: 1 / all.length }))
      : res.particles.filter((p) => p.weight > 0).map((p) => ({ tokens: p.tokens, w: p.weight }));
    const grad = new Map<string, number>();
    for (const [len, m] of neg) {
      const pm = new Map<string, number>();
      let tot = 0;
      for (const { tokens, w } of posSeqs) {
        const k = tokens.length < len ? END : twist.key(tokens.slice(0, len));
        pm.set(k, (pm.get(k) ?? 0) + w);
        tot += w;
      }
      if (tot === 0) continue;
      for (const [k, w] of pm) grad.set(k, (grad.get(k) ?? 0) + w / tot);
      for (const [k, w] of m) grad.set(k, (grad.get(k) ?? 0) - w);
    }
    const lr = rate(it);
    if (!(typeof lr === 'number' && Number.isFinite(lr))) throw new Error(`learnTwistCTL: the learning rate must be a finite number, got ${lr} at iteration ${it}`);
    for (const [k, g] of grad) if (k !== END) twist.theta.set(k, (twist.theta.get(k) ?? 0) + lr * g);
  }
  return { logZ };
}
