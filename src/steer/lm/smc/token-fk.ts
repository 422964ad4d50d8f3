/**
 * The token-level Feynman–Kac model of LM steering, on the particle core
 * ({@link runSMC}).
 *
 * Target: complete strings x (at most `maxTokens` tokens, then EOS) with
 * unnormalised probability `p_LM(x · EOS) · exp(φ.complete(x))`. Particle
 * state: the generated tokens. Step t moves every unfinished particle by one
 * token drawn by the sampler and weights it by the sampler's weight for the
 * local target `p_LM(y | x) · exp(φ.logwNext(x)[y])`; step 0 also carries
 * `φ.prefix(ε)`. So the log-weights telescope to
 * `log p_LM(x) + φ.complete(x) − log q(x)` and `exp(logZ)` is unbiased for
 * `Z = Σ_x p_LM(x) exp(φ.complete(x))`.
 *
 * A critic ψ (a potential used as a twist, e.g. a learned or exact value
 * function) adds `ψ.prefix(x·y) − ψ.prefix(x)` each step (and `ψ.prefix(ε)`
 * at step 0) and is removed when the particle finishes (`− ψ.prefix(x)` at
 * EOS), so it steers resampling without changing the target. Finished
 * particles are absorbed (potential 0). At `maxTokens` EOS is forced with its
 * weight `p_LM(EOS | x) · exp(φ_next[EOS])`.
 *
 * Conditional SMC: with a `reference` string, slot 0 is held to it (its
 * tokens are forced, weighted by the sampler's `logWeightOf`), which is what
 * particle Gibbs and the upper bound of the bidirectional bounds need.
 *
 * @module
 */
import type { Rng } from '../../../core/rng.js';
import { withKernelInterrupt } from '../../../infer/kernel-interrupt.js';
import { Pacer, abortReason, untilAborted } from '../../../infer/pace.js';
import { ExactTwist } from './exact-twist.js';
import type { FeynmanKac, StepResult } from '../../../infer/smc/core.js';
import { perParticleStore } from '../../../infer/smc/store.js';
import { CachedLanguageModel, wrapLanguageModel } from '../cached.js';
import type { LanguageModel } from '../types.js';
import { type Potential, assertPotentialVocabulary, batchPrefixOf, logwNext, logwNextToken, prefixOf } from '../potentials/potential.js';
import type { LocalWeights, TokenContext, TokenSampler } from '../samplers/types.js';

/** One particle: the tokens generated so far. */
export interface TokenParticle {
  /** Generated tokens (EOS not included). */
  tokens: number[];
  /** True once EOS was drawn (or forced). */
  done: boolean;
  /** The critic's current twist value ψ(x) included in the weight (0 without a critic). */
  twist: number;
}

/** Options of {@link TokenFeynmanKac}. */
export interface TokenModelOptions {
  /** The language model (wrapped with the batching/caching wrapper if it is not already). */
  readonly lm: LanguageModel;
  /** The potential φ the target multiplies in (default: none, the LM itself). */
  readonly potential?: Potential;
  /** A critic ψ: a twist added each step, removed at EOS (steers resampling, leaves the target alone). */
  readonly critic?: Potential;
  /** The token proposal. */
  readonly sampler: TokenSampler;
  /**
   * Most generated tokens before EOS is forced (default 32, or the room the prompt leaves in the LM's
   * context if less). Prompt + maxTokens (+ BOS) beyond the context is an error before any work.
   */
  readonly maxTokens?: number;
  /** Tokens the LM conditions on before the generated ones (not seen by potentials). */
  readonly prompt?: readonly number[];
  /** Conditional SMC: hold slot 0 to this complete string (tokens, EOS excluded). */
  readonly reference?: readonly number[];
}

/** Counters of a token model run. */
export interface TokenModelStats {
  /** Tokens generated (EOS included). */
  tokens: number;
  /** Particle-steps taken. */
  particleSteps: number;
}

/**
 * The local target of one step as {@link LocalWeights}: the potential's
 * next-token row plus the critic's twist difference (EOS: the critic removed).
 */
class StepLocal implements LocalWeights {
  private rowP: Promise<Float64Array> | null = null;
  private criticX: number | null = null;
  readonly vocab;
  readonly name: string;

  constructor(
    private readonly potential: Potential | undefined,
    private readonly critic: Potential | undefined,
    private readonly x: readonly number[],
    private readonly potPrefix: number | undefined,
    private readonly twistX: number,
    vocab: LocalWeights['vocab'],
    /** The run's signal, passed with every potential and critic call. */
    private readonly signal?: AbortSignal,
  ) {
    this.vocab = vocab;
    this.name = [potential?.name, critic ? `critic ${critic.name}` : undefined].filter(Boolean).join(' + ') || 'none';
  }

  row(): Promise<Float64Array> {
    this.rowP ??= this.computeRow();
    return this.rowP;
  }

  private async computeRow(): Promise<Float64Array> {
    const out = this.potential ? await logwNext(this.potential, this.x, this.signal) : new Float64Array(this.vocab.size);
    if (this.vocab.bos !== null) out[this.vocab.bos] = -Infinity;
    if (this.critic) {
      const vals = await Promise.all(Array.from({ length: this.vocab.size }, (_, y) => (out[y] === -Infinity || y === this.vocab.bos ? -Infinity : this.criticTerm(y))));
      for (let y = 0; y < out.length; y++) out[y] = out[y] === -Infinity ? -Infinity : out[y] + vals[y];
    }
    return out;
  }

  /** ψ(x·y) − ψ(x) for a text token; −ψ(x) for EOS. */
  private async criticTerm(y: number): Promise<number> {
    const c = this.critic!;
    if (y === this.vocab.eos) return -this.twistX;
    const v = await prefixOf(c, [...this.x, y], this.signal);
    return v === -Infinity ? -Infinity : v - this.twistX;
  }

  async token(y: number): Promise<number> {
    if (this.rowP) return (await this.rowP)[y];
    let v = await this.potentialToken(y);
    if (v !== -Infinity && this.critic) v += await this.criticTerm(y);
    return v;
  }

  /** The potential's log-weight of `y` alone, without the critic's twist (see `LocalWeights.twist`). */
  async potentialToken(y: number): Promise<number> {
    if (y === this.vocab.bos) return -Infinity;
    return this.potential ? await logwNextToken(this.potential, this.x, y, this.potPrefix, this.signal) : 0;
  }

  /** The critic's twist difference for `y` (0 without a critic; see `LocalWeights.twist`). */
  async twist(y: number): Promise<number> {
    return this.critic ? this.criticTerm(y) : 0;
  }

  /** ψ(x·y) for the twist kept after the step (0 at EOS). */
  async twistAfter(y: number): Promise<number> {
    if (!this.critic || y === this.vocab.eos) return 0;
    this.criticX = await prefixOf(this.critic, [...this.x, y], this.signal);
    return this.criticX;
  }
}

/**
 * Particles advanced together in one step's chunk: the step yields and
 * checks the abort signal between chunks (a step of 50,000 particles took
 * about a second), and a chunk is still one large merged LM call.
 */
export const STEP_CHUNK = 4096;

/** The token-level Feynman–Kac model (see the module note). */
export class TokenFeynmanKac implements FeynmanKac<TokenParticle[]> {
  readonly lm: CachedLanguageModel;
  readonly maxTokens: number;
  readonly prompt: readonly number[];
  readonly stats: TokenModelStats = { tokens: 0, particleSteps: 0 };
  readonly store = perParticleStore<TokenParticle>((p) => ({ tokens: p.tokens.slice(), done: p.done, twist: p.twist }));
  private initialWeight: number | null = null;

  constructor(readonly options: TokenModelOptions) {
    const { lm, potential, critic, sampler } = options;
    // options from untyped callers (notebooks, JS): name what is wrong instead of failing inside a step
    const isPotential = (p: unknown): boolean => typeof p === 'object' && p !== null && typeof (p as Potential).prefix === 'function' && typeof (p as Potential).complete === 'function' && typeof (p as Potential).vocab === 'object';
    if (potential !== undefined && !isPotential(potential)) throw new TypeError(`steering: potential must be a Potential (an object with vocab, prefix() and complete(), e.g. new AutomatonPotential(vocab, pattern)), got ${JSON.stringify(potential)}`);
    if (critic !== undefined && !isPotential(critic)) throw new TypeError(`steering: critic must be a Potential (an object with vocab, prefix() and complete()), got ${JSON.stringify(critic)}`);
    if (typeof sampler !== 'object' || sampler === null || typeof sampler.sample !== 'function') throw new TypeError(`steering: sampler must be a TokenSampler (e.g. new DirectSampler() or new LocallyOptimalSampler()), got ${typeof sampler === 'function' ? `the function ${(sampler as { name?: string }).name || '(anonymous)'} (a class is called with new)` : JSON.stringify(sampler)}`);
    // a missing or misspelt lm crashed on "Cannot read properties of undefined (reading 'name')"
    if (typeof lm !== 'object' || lm === null || typeof (lm as LanguageModel).nextTokenLogprobs !== 'function' || typeof (lm as LanguageModel).vocab !== 'object') {
      throw new TypeError(`steering: lm must be a LanguageModel (an object with vocab and nextTokenLogprobs(), e.g. wrapLanguageModel(loadTransformerLM('kjv-char'))), got ${lm === null ? 'null' : typeof lm}`);
    }
    this.lm = lm instanceof CachedLanguageModel ? lm : wrapLanguageModel(lm);
    if (potential) assertPotentialVocabulary(this.lm, potential);
    if (critic) assertPotentialVocabulary(this.lm, critic);
    if (sampler && typeof (sampler as { checkVocabulary?: unknown }).checkVocabulary === 'function') {
      (sampler as unknown as { checkVocabulary(t: CachedLanguageModel): void }).checkVocabulary(this.lm);
    }
    const maxTokens = options.maxTokens ?? 32;
    if (!(Number.isInteger(maxTokens) && maxTokens >= 0)) throw new Error(`steering: maxTokens must be a non-negative integer, got ${options.maxTokens}`);
    const v = this.lm.vocab;
    // a text prompt iterated as characters ("prompt token A is not a text token"); a number crashed on "not iterable"
    if (options.prompt !== undefined && !Array.isArray(options.prompt) && !ArrayBuffer.isView(options.prompt)) {
      throw new TypeError(`steering: prompt must be token ids (lm.vocab.encode(text)), got ${typeof options.prompt === 'string' ? `string ${JSON.stringify((options.prompt as string).slice(0, 40))}` : typeof options.prompt}`);
    }
    this.prompt = options.prompt ?? [];
    for (const t of this.prompt) if (!(Number.isInteger(t) && t >= 0 && t < v.size && t !== v.eos)) throw new Error(`steering: prompt token ${t} is not a text token of "${this.lm.name}"`);
    // The LM reads prompt + maxTokens tokens (+ BOS) before the forced EOS: check that it fits the context here,
    // not as a ContextLengthError part-way through the run (session 14). The default 32 shrinks to the room left.
    const room = this.lm.contextLength - this.prompt.length - (v.bos === null ? 0 : 1);
    if (room < 0 || (options.maxTokens !== undefined && maxTokens > room)) {
      throw new RangeError(
        `steering: the prompt (${this.prompt.length} tokens${v.bos === null ? '' : ', plus BOS'}) and maxTokens = ${maxTokens} do not fit the context of "${this.lm.name}" (${this.lm.contextLength} tokens): ${room < 0 ? 'the prompt alone is too long' : `at most maxTokens = ${room} fits`}`,
      );
    }
    this.maxTokens = options.maxTokens === undefined ? Math.min(maxTokens, room) : maxTokens;
    // an exact twist used where its −∞ is not the run's: another LM's, or one built for shorter strings (session 16)
    if (critic instanceof ExactTwist) critic.checkRun(this.lm, this.maxTokens);
    if (options.reference) {
      const r = options.reference;
      if (r.length > this.maxTokens) throw new Error(`steering: the reference has ${r.length} tokens, more than maxTokens = ${this.maxTokens}`);
      for (const t of r) if (!(Number.isInteger(t) && t >= 0 && t < v.size && t !== v.eos && t !== v.bos)) throw new Error(`steering: reference token ${t} is not a text token of "${this.lm.name}"`);
      if (!sampler.logWeightOf) throw new Error(`steering: conditional SMC (a reference string) needs a sampler with logWeightOf; "${sampler.name}" has none`);
    }
  }

  /** log φ.prefix(ε) + log ψ.prefix(ε): the weight every particle starts with (computed once). */
  async startWeight(): Promise<number> {
    if (this.initialWeight === null) {
      const { potential, critic } = this.options;
      const signal = this.pacer?.signal;
      const a = potential ? await prefixOf(potential, [], signal) : 0;
      this.initialTwist = critic ? await prefixOf(critic, [], signal) : 0;
      this.initialWeight = a + this.initialTwist;
    }
    return this.initialWeight;
  }
  private initialTwist = 0;

  /** The critic's value at the empty string, ψ(ε) (after {@link TokenFeynmanKac.startWeight}). */
  get startTwist(): number {
    return this.initialTwist;
  }

  init(n: number): TokenParticle[] {
    return Array.from({ length: n }, () => ({ tokens: [], done: false, twist: 0 }));
  }

  done(t: number, state: TokenParticle[]): boolean {
    return t > 0 && state.every((p) => p.done);
  }

  private pacer?: Pacer;

  /**
   * Pace the steps (the run calls this): between chunks of `STEP_CHUNK`
   * (4096) particles a step yields to the event loop when due and throws
   * the signal's reason once `signal` is aborted.
   */
  paceWith(signal: AbortSignal | undefined): void {
    // a kernel interrupt (tslab) aborts it too, so that it also ends a step awaiting an LM pass that never settles
    this.pacer = new Pacer(withKernelInterrupt(signal));
  }

  /**
   * One token step. An aborted signal ends it at once even while it awaits a
   * potential, critic or LM call that never settles (a reward calling a
   * service that hangs held the run, and the infer queue behind it, for
   * ever: the signal was only read between chunks); the call is left to
   * settle on its own.
   */
  step(state: TokenParticle[], t: number, rng: Rng): Promise<StepResult<TokenParticle[]>> {
    return this.untilAborted(this.stepBody(state, t, rng));
  }

  /** `work`, or the run's abort as soon as its signal fires (for runners over this model's particles, as SMC-steer's step). */
  untilAborted<T>(work: Promise<T>): Promise<T> {
    return untilAborted(work, this.pacer?.signal);
  }

  private async stepBody(state: TokenParticle[], t: number, rng: Rng): Promise<StepResult<TokenParticle[]>> {
    const start = t === 0 ? await this.startWeight() : 0;
    const n = state.length;
    const rngs = rng.splitN(n);
    const lp = new Float64Array(n);
    if (start === -Infinity) {
      for (let i = 0; i < n; i++) if (!state[i]!.done) [state[i]!.done, lp[i]] = [true, -Infinity];
      return { state, logPotential: lp };
    }
    const live = state.flatMap((p, i) => (p.done ? [] : [i]));
    await this.inChunks(live.length, (from, to) => this.advanceAll(state, live.slice(from, to), t, start, rngs, lp));
    return { state, logPotential: lp };
  }

  /**
   * `work(from, to)` over `[0, count)` a chunk of `STEP_CHUNK` at a
   * time, pacing between chunks (see {@link TokenFeynmanKac.paceWith}). A
   * chunk's particles ask the LM together (one merged forward pass); their
   * draws depend only on each particle's own stream, so chunking changes no
   * result.
   */
  async inChunks(count: number, work: (from: number, to: number) => Promise<void>): Promise<void> {
    for (let c = 0; c < count; c += STEP_CHUNK) {
      if (this.pacer?.due()) await this.pacer.pause();
      await untilAborted(work(c, Math.min(count, c + STEP_CHUNK)), this.pacer?.signal);
    }
  }

  /** Advance the live particles `idx` by one token, their prefix weights from one batched potential call. */
  private async advanceAll(state: TokenParticle[], idx: readonly number[], t: number, start: number, rngs: readonly Rng[], lp: Float64Array): Promise<void> {
    const pot = this.options.potential;
    const pre = pot ? await batchPrefixOf(
      pot,
      idx.map((i) => state[i]!.tokens),
      this.pacer?.signal,
    ) : undefined;
    await Promise.all(
      idx.map(async (i, k) => {
        const p = state[i]!;
        if (t === 0) p.twist = this.initialTwist;
        lp[i] = start + (await this.advance(p, i, rngs[i]!, pre?.[k]));
        if (lp[i] === -Infinity) p.done = true; // dead: absorbed, never moved again
      }),
    );
  }

  /**
   * Move one particle (in place) by one token; returns its log-weight
   * increment. `slot` 0 follows the reference in conditional SMC. Step 0's
   * start weight is not included (see {@link TokenFeynmanKac.startWeight}).
   * `prefixWeight` is the potential's `prefix(p.tokens)` when already known
   * (the step computes every particle's in one batched call).
   */
  async advance(p: TokenParticle, slot: number, rng: Rng, prefixWeight?: number): Promise<number> {
    const { potential, critic, sampler, reference } = this.options;
    const vocab = this.lm.vocab;
    const context = this.prompt.length ? [...this.prompt, ...p.tokens] : p.tokens;
    const signal = this.pacer?.signal;
    const lmRow = await this.lm.logprobs(context, { signal });
    const potPrefix = potential ? (prefixWeight ?? (await prefixOf(potential, p.tokens, signal))) : undefined;
    const local = new StepLocal(potential, critic, p.tokens, potPrefix, p.twist, vocab, signal);
    const ctx: TokenContext = { context, generated: p.tokens, lmRow, local, rng, signal };
    this.stats.particleSteps++;
    let token: number;
    let w: number;
    const forced = reference && slot === 0 ? (p.tokens.length < reference.length ? reference[p.tokens.length] : vocab.eos) : p.tokens.length >= this.maxTokens ? vocab.eos : -1;
    if (forced >= 0 && forced === vocab.eos && !(reference && slot === 0)) {
      // maxTokens reached: EOS forced, weighted by what the target gives it
      token = vocab.eos;
      const l = await local.token(token);
      w = lmRow[token] === -Infinity || l === -Infinity ? -Infinity : lmRow[token] + l;
    } else if (forced >= 0) {
      token = forced;
      w = p.tokens.length >= this.maxTokens ? (lmRow[token] === -Infinity ? -Infinity : lmRow[token] + (await local.token(token))) : await sampler.logWeightOf!(ctx, token);
    } else {
      const d = await sampler.sample(ctx);
      token = d.token;
      w = d.logWeight;
    }
    if (Number.isNaN(w)) throw new Error(`steering: sampler "${sampler.name}" returned a NaN weight for token ${token} after ${JSON.stringify(vocab.decode(p.tokens))}`);
    if (w === -Infinity && reference && slot === 0) {
      // conditional SMC keeps slot 0 through every resampling, so a reference of zero target density would come
      // back as a weighted string the target forbids (PROBE session 7: "ab" against (a|b)*c(a|b)* got weight 1/N)
      const what = token === vocab.eos ? 'EOS' : JSON.stringify(vocab.tokenText(token));
      throw new Error(`steering: the reference ${JSON.stringify(vocab.decode(reference))} has zero target density: ${what} after ${JSON.stringify(vocab.decode(p.tokens))} gets weight 0 (the LM or potential "${potential?.name ?? 'none'}"${critic ? ` or critic "${critic.name}"` : ''} rules it out); conditional SMC needs a reference the target allows`);
    }
    this.stats.tokens++;
    if (token === vocab.eos) {
      p.done = true;
      p.twist = 0;
    } else {
      p.twist = await local.twistAfter(token); // before the push: `local` reads p.tokens as x
      p.tokens.push(token);
    }
    return w;
  }
}
