/**
 * `tyche steer`: steer the shipped text model (or a saved one) to satisfy a
 * constraint, and compare SMC steering with best-of-N and locally
 * constrained decoding at equal particle count: satisfaction rate, LM
 * log-likelihood per token, and compute (forward passes, tokens the model
 * ran, wall time).
 *
 * ```sh
 * npx tyche steer --no-letter e --particles 16 --max-tokens 40
 * npx tyche steer --pattern "[a-z ,:;]*\." --prompt "And God said"
 * npx tyche steer --ends-with LORD
 * ```
 *
 * @module
 */
import { initBackend } from '../backend/select.js';
import { CachedLanguageModel, wrapLanguageModel } from '../steer/lm/cached.js';
import { AutomatonPotential } from '../steer/lm/potentials/automaton.js';
import { CharRegex, RegexSyntaxError } from '../steer/lm/regex.js';
import { AWRSSampler } from '../steer/lm/samplers/awrs.js';
import { DirectSampler } from '../steer/lm/samplers/direct.js';
import { LocallyOptimalSampler } from '../steer/lm/samplers/locally-optimal.js';
import type { TokenSampler } from '../steer/lm/samplers/types.js';
import { bestOfN, locallyConstrainedDecode } from '../steer/lm/smc/baselines.js';
import { smcSteer, type SteeringResult } from '../steer/lm/smc/steer.js';
import { smcSteerK } from '../steer/lm/smc/smc-steer.js';
import type { LanguageModel } from '../steer/lm/types.js';
import { UsageError } from './args.js';
import { loadModelOption } from './model-option.js';
import { parseCommandOptions } from './parse-options.js';
import type { CliIO } from './run.js';

/** Help text of `tyche steer`. */
export const STEER_HELP = `tyche steer: steer a language model to satisfy a constraint (SMC) and compare with best-of-N and locally constrained decoding

Usage: tyche steer (--no-letter C | --pattern REGEX | --ends-with WORD) [options]

Constraint (exactly one):
  --no-letter C       never use the letter C (either case)
  --pattern REGEX     the generated text matches REGEX (whole text; . [..] * + ? {m,n} |)
  --ends-with WORD    the generated text ends with WORD (optionally followed by . , ; : ! ?)
Options:
  --model NAME|PATH   shipped transformer (default kjv-char) or a saved one
  --prompt TEXT       text the model continues (the constraint reads only the generated text)
  --particles N       particles for SMC, samples for the baselines (default 16)
  --max-tokens N      most generated tokens; EOS is forced after (default 40)
  --sampler S         SMC proposal: optimal (default), direct, awrs
  --k K               SMC-steer: extend each particle K ways, Fearnhead-Clifford back to N (default 1: plain SMC)
  --seed N            random seed (default 0)
`;

function escapeRegex(s: string): string {
  return s.replace(/[\\^$.*+?()[\]{}|]/g, (c) => `\\${c}`);
}

/** The constraint's regular expression and a label. */
function constraintOf(v: { 'no-letter'?: string; pattern?: string; 'ends-with'?: string }): { pattern: string; label: string } {
  const given = [v['no-letter'], v.pattern, v['ends-with']].filter((x) => x !== undefined).length;
  if (given !== 1) throw new UsageError('steer: give exactly one of --no-letter C, --pattern REGEX, --ends-with WORD');
  if (v['no-letter'] !== undefined) {
    const c = v['no-letter'];
    if ([...c].length !== 1) throw new UsageError(`steer: --no-letter takes one character, got ${JSON.stringify(c)}`);
    const cases = [...new Set([c.toLowerCase(), c.toUpperCase()])].map(escapeRegex).join('');
    return { pattern: `[^${cases}]*`, label: `no letter "${c}"` };
  }
  if (v.pattern !== undefined) return { pattern: v.pattern, label: `matches /${v.pattern}/` };
  const w = v['ends-with']!;
  if (w.length === 0) throw new UsageError('steer: --ends-with needs a word');
  return { pattern: `(.*[^A-Za-z])?${escapeRegex(w)}[.,;:!?]?`, label: `ends with "${w}"` };
}

function int(name: string, s: string | undefined, dflt: number, min: number): number {
  if (s === undefined) return dflt;
  const n = Number(s);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`steer: --${name} must be an integer >= ${min}, got ${s}`);
  return n;
}

/** One line of the comparison. */
export interface SteerRow {
  readonly method: string;
  /** Weighted fraction of returned strings satisfying the constraint. */
  readonly satisfied: number;
  /** Weighted mean of log p_LM(x · EOS) / (|x| + 1) over returned strings (of those satisfying, when any do). */
  readonly logLikPerToken: number;
  readonly forwardPasses: number;
  readonly tokensEvaluated: number;
  readonly generated: number;
  readonly ms: number;
  /** The highest-weight satisfying string, if any. */
  readonly example: string | null;
}

async function sequenceLogprob(lm: CachedLanguageModel, prompt: readonly number[], tokens: readonly number[]): Promise<number> {
  const ctx = [...prompt];
  let lp = 0;
  for (const t of [...tokens, lm.vocab.eos]) {
    lp += (await lm.logprobs(ctx))[t];
    ctx.push(t);
  }
  return lp;
}

async function summarise(method: string, res: SteeringResult, pot: AutomatonPotential, lm: CachedLanguageModel, prompt: readonly number[], ms: number, weighted: boolean): Promise<SteerRow> {
  const stats = res.lmStats; // read before the likelihood pass below adds to the counters
  const parts = res.particles.map((p) => ({ p, ok: pot.complete(p.tokens) === 0 && p.alive, w: weighted ? p.weight : 1 / res.particles.length }));
  const satisfied = parts.reduce((a, x) => a + (x.ok ? x.w : 0), 0);
  const pool = parts.some((x) => x.ok) ? parts.filter((x) => x.ok) : parts;
  let ll = 0;
  let wsum = 0;
  for (const x of pool) {
    const w = weighted ? x.w : 1;
    if (!(w > 0)) continue;
    ll += (w * (await sequenceLogprob(lm, prompt, x.p.tokens))) / (x.p.tokens.length + 1);
    wsum += w;
  }
  const best = parts.filter((x) => x.ok).sort((a, b) => b.w - a.w)[0];
  return { method, satisfied, logLikPerToken: wsum > 0 ? ll / wsum : NaN, forwardPasses: stats.forwardPasses, tokensEvaluated: stats.tokensEvaluated, generated: res.tokens, ms, example: best ? lm.vocab.decode(best.p.tokens) : null };
}

/** Run the comparison (also used by tests and the bench). */
export async function steerCompare(
  base: LanguageModel,
  options: { pattern: string; prompt?: string; particles: number; maxTokens: number; sampler?: TokenSampler; k?: number; seed: number | string; signal?: AbortSignal },
): Promise<SteerRow[]> {
  const prompt = options.prompt ? (base.vocab.encode?.(options.prompt) ?? []) : [];
  const rows: SteerRow[] = [];
  const common = { maxTokens: options.maxTokens, prompt, particles: options.particles, seed: options.seed, signal: options.signal, onEmpty: 'empty' as const };
  const methods: [string, (lm: CachedLanguageModel, pot: AutomatonPotential) => Promise<SteeringResult>, boolean][] = [
    [
      (options.k ?? 1) > 1 ? `SMC-steer (K=${options.k})` : `SMC (${options.sampler?.name ?? 'locally-optimal'})`,
      (lm, pot) =>
        (options.k ?? 1) > 1
          ? smcSteerK({ ...common, lm, potential: pot, sampler: options.sampler ?? new LocallyOptimalSampler(), k: options.k })
          : smcSteer({ ...common, lm, potential: pot, sampler: options.sampler ?? new LocallyOptimalSampler() }),
      true,
    ],
    ['best-of-N', (lm, pot) => bestOfN({ ...common, lm, potential: pot }), false],
    ['locally constrained', (lm, pot) => locallyConstrainedDecode({ ...common, lm, potential: pot }), false],
  ];
  for (const [name, run, weighted] of methods) {
    const lm = wrapLanguageModel(base);
    const pot = new AutomatonPotential(base.vocab, options.pattern, undefined, { maxTokens: options.maxTokens });
    const t0 = performance.now();
    const res = await run(lm, pot);
    const ms = performance.now() - t0;
    rows.push(await summarise(name, res, pot, lm, prompt, ms, weighted));
    lm.clearCache();
  }
  return rows;
}

/** Run `tyche steer` with the arguments after `steer`. */
export async function steerMain(argv: readonly string[], io: CliIO): Promise<void> {
  const values = parseCommandOptions('steer', argv, {
        'no-letter': { type: 'string' },
        pattern: { type: 'string' },
        'ends-with': { type: 'string' },
        model: { type: 'string' },
        prompt: { type: 'string' },
        particles: { type: 'string' },
        'max-tokens': { type: 'string' },
        sampler: { type: 'string' },
        k: { type: 'string' },
        seed: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      });
  if (values.help) {
    io.stdout.write(STEER_HELP);
    return;
  }
  const { pattern, label } = constraintOf(values);
  const particles = int('particles', values.particles, 16, 1);
  const maxTokens = int('max-tokens', values['max-tokens'], 40, 1);
  const k = int('k', values.k, 1, 1);
  const seed = int('seed', values.seed, 0, 0);
  const samplers: Record<string, () => TokenSampler> = { optimal: () => new LocallyOptimalSampler(), direct: () => new DirectSampler(), awrs: () => new AWRSSampler() };
  const make = samplers[values.sampler ?? 'optimal'];
  if (!make) throw new UsageError(`steer: --sampler must be one of ${Object.keys(samplers).join(', ')}, got ${values.sampler}`);
  try {
    new CharRegex(pattern); // a usage error before any model is loaded (was: a RegexSyntaxError stack trace, exit 1)
  } catch (err) {
    if (err instanceof RegexSyntaxError) throw new UsageError(`steer: --pattern: ${err.message}`);
    throw err;
  }
  await initBackend();
  const base = loadModelOption('steer', values.model ?? 'kjv-char');
  try {
    new AutomatonPotential(base.vocab, pattern); // a bad pattern fails before any generation
    // prompt + --max-tokens must fit the model's context: say so in the command's own words (session 14)
    const promptLength = values.prompt === undefined ? 0 : base.vocab.encode!(values.prompt).length;
    const room = base.contextLength - promptLength - (base.vocab.bos === null ? 0 : 1);
    if (maxTokens > room) {
      throw new UsageError(
        room < 1
          ? `steer: --prompt has ${promptLength} tokens, which leaves no room in the context of ${base.name} (${base.contextLength} tokens)`
          : `steer: --prompt (${promptLength} tokens) and --max-tokens ${maxTokens} do not fit the context of ${base.name} (${base.contextLength} tokens${base.vocab.bos === null ? '' : ', BOS included'}): pass --max-tokens ${room} or less`,
      );
    }
    // a constraint no string of at most --max-tokens tokens can meet is a usage error before any generation
    // (session 16: it printed 0% for every method and "(no satisfying string)", as if steering had been unlucky)
    if (new AutomatonPotential(base.vocab, pattern, undefined, { maxTokens }).prefix([]) === -Infinity) {
      const fits = room > maxTokens && new AutomatonPotential(base.vocab, pattern, undefined, { maxTokens: room }).prefix([]) === 0;
      throw new UsageError(`steer: no string of at most ${maxTokens} tokens of ${base.name} satisfies the constraint (${label})${fits ? `: it needs a larger --max-tokens (at most ${room} fits the context)` : ` (nor of at most ${room}, all the context allows)`}`);
    }
    io.stderr.write(`tyche steer: ${base.name}, constraint: ${label}, N = ${particles}, at most ${maxTokens} tokens, seed ${seed}\n`);
    const rows = await steerCompare(base, { pattern, prompt: values.prompt, particles, maxTokens, sampler: make(), k, seed });
    const head = ['method', 'satisfied', 'loglik/token', 'fwd passes', 'tokens run', 'generated', 'ms'];
    const cells = rows.map((r) => [r.method, `${(100 * r.satisfied).toFixed(0)}%`, r.logLikPerToken.toFixed(3), String(r.forwardPasses), String(r.tokensEvaluated), String(r.generated), r.ms.toFixed(0)]);
    const width = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
    const line = (c: string[]) => c.map((x, i) => (i === 0 ? x.padEnd(width[i]) : x.padStart(width[i]))).join('  ');
    io.stdout.write(`${line(head)}\n${cells.map(line).join('\n')}\n\n`);
    for (const r of rows) io.stdout.write(`${r.method}: ${r.example === null ? '(no satisfying string)' : JSON.stringify((values.prompt ?? '') + r.example)}\n`);
  } finally {
    base.dispose?.();
  }
}
