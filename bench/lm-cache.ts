/**
 * Forward passes per generated token on a resampling-like workload: N
 * particles start from a few prompts, each step every particle asks for its
 * prefix's next-token row (concurrently), samples a token, is weighted by a
 * tilt (target p^(1+beta), proposal p: weight p(token)^beta) and the
 * population is resampled multinomially, so most particles are clones of a
 * few; the whole run is repeated `sweeps` times with different seeds and the
 * same wrapper (as particle Gibbs sweeps or repeated runs on one prompt do).
 *
 * Configurations, side by side on the same model, same seeds:
 *   - direct:        every particle calls the model itself (no wrapper);
 *   - batched:       the wrapper with `cache: false` (one pass per tick, no dedup);
 *   - trie:          batching + the prefix trie (identical prefixes once, repeats free);
 *   - trie + KV:     also KV caches on trie nodes (incremental models only).
 * Reported per generated token: forward passes, rows evaluated (prefixes the
 * model computed), tokens evaluated (the compute of a non-incremental model
 * is proportional to this), and wall time; then ratios against `batched` and
 * `direct`.
 *
 * The model: a Kneser–Ney character 5-gram fitted on this repository's
 * README (exact, always present), and the shipped text transformer
 * `models/lm/kjv-char` when it exists (or `--model PATH` for another saved
 * transformer).
 *
 * Run: `npx tsx bench/lm-cache.ts [--quick] [--particles 64] [--steps 32] [--sweeps 4] [--prompts 4] [--beta 1] [--model kjv-char|PATH|ngram]`
 *
 * @module
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { initBackend } from '../src/backend/select.js';
import { Rng } from '../src/core/rng.js';
import { CachedLanguageModel, type CachedLanguageModelOptions } from '../src/steer/lm/cached.js';
import { NGramLM } from '../src/steer/lm/ngram.js';
import { sampleToken } from '../src/steer/lm/sampling.js';
import { type LanguageModel, isIncremental } from '../src/steer/lm/types.js';
import { TokenVocabulary } from '../src/steer/lm/vocab.js';
import { table, timed } from './util.js';

/** Workload settings. */
export interface CacheWorkload {
  readonly particles: number;
  readonly steps: number;
  readonly sweeps: number;
  readonly prompts: number;
  /** Tilt exponent of the weights. */
  readonly beta: number;
  readonly seed: number;
}

/** What one configuration cost. */
export interface CacheWorkloadResult {
  readonly generated: number;
  readonly forwardPasses: number;
  readonly rows: number;
  readonly tokens: number;
  readonly ms: number;
}

type Ask = (prefix: readonly number[]) => Promise<Float32Array>;

/** Run the workload through `ask`; returns the number of tokens generated. */
async function runWorkload(lm: LanguageModel, ask: Ask, w: CacheWorkload): Promise<number> {
  const { vocab } = lm;
  const rng = new Rng(w.seed);
  // prompts: the first token of a few samples from the model
  const first = await lm.nextTokenLogprobs([[]]);
  const prompts: number[][] = [];
  while (prompts.length < w.prompts) {
    const { token } = sampleToken(first[0], rng);
    if (token !== vocab.eos && token !== vocab.bos) prompts.push([token]);
  }
  let generated = 0;
  for (let sweep = 0; sweep < w.sweeps; sweep++) {
    const srng = new Rng(`${w.seed}/sweep${sweep}`);
    let pop = Array.from({ length: w.particles }, (_, i) => ({ tokens: prompts[i % prompts.length].slice(), done: false }));
    for (let t = 0; t < w.steps && pop.some((p) => !p.done); t++) {
      const rows = await Promise.all(pop.map((p) => (p.done ? Promise.resolve(null) : ask(p.tokens))));
      const logw = pop.map((p, i) => {
        const row = rows[i];
        if (!row) return 0;
        // fixed-length generation: EOS and BOS masked out of the proposal
        const masked = Float32Array.from(row);
        masked[vocab.eos] = -Infinity;
        if (vocab.bos !== null) masked[vocab.bos] = -Infinity;
        const token = sampleToken(masked, srng).token;
        generated++;
        p.tokens.push(token);
        if (p.tokens.length + 2 >= lm.contextLength) p.done = true;
        return w.beta * row[token];
      });
      // multinomial resampling
      const m = Math.max(...logw);
      const cum: number[] = [];
      let s = 0;
      for (const x of logw) cum.push((s += Math.exp(x - m)));
      pop = pop.map(() => {
        const u = srng.uniform() * s;
        let j = 0;
        while (cum[j] < u) j++;
        return { tokens: pop[j].tokens.slice(), done: pop[j].done };
      });
    }
  }
  return generated;
}

/** Counting direct calls (no wrapper): one forward pass per request. */
async function direct(lm: LanguageModel, w: CacheWorkload): Promise<CacheWorkloadResult> {
  let passes = 0;
  let tokens = 0;
  const bos = lm.vocab.bos === null ? 0 : 1;
  const ask: Ask = async (prefix) => {
    passes++;
    tokens += prefix.length + bos;
    return (await lm.nextTokenLogprobs([prefix]))[0];
  };
  const { ms, result } = await timed(() => runWorkload(lm, ask, w));
  return { generated: result, forwardPasses: passes, rows: passes, tokens, ms };
}

async function wrapped(lm: LanguageModel, w: CacheWorkload, options: CachedLanguageModelOptions): Promise<CacheWorkloadResult> {
  const c = new CachedLanguageModel(lm, options);
  const { ms, result } = await timed(() => runWorkload(lm, (p) => c.logprobs(p), w));
  const s = c.stats();
  c.clearCache();
  return { generated: result, forwardPasses: s.forwardPasses, rows: s.misses + (options.cache === false ? s.requests - s.misses : 0), tokens: s.tokensEvaluated, ms };
}

/** Every configuration on one model; prints a table and returns the results by name. */
export async function benchCache(lm: LanguageModel, w: CacheWorkload): Promise<Record<string, CacheWorkloadResult>> {
  const configs: [string, () => Promise<CacheWorkloadResult>][] = [
    ['direct', () => direct(lm, w)],
    ['batched', () => wrapped(lm, w, { cache: false, maxBatchSize: w.particles })],
    ['trie', () => wrapped(lm, w, { kvCache: false, maxBatchSize: w.particles })],
  ];
  if (isIncremental(lm)) configs.push(['trie + KV', () => wrapped(lm, w, { maxBatchSize: w.particles })]);
  const out: Record<string, CacheWorkloadResult> = {};
  for (const [name, run] of configs) out[name] = await run();
  const per = (x: number, r: CacheWorkloadResult) => (x / r.generated).toFixed(3);
  const base = out.batched;
  console.log(
    table(
      ['config', 'generated', 'passes/token', 'rows/token', 'tokens eval/token', 'ms', 'rows vs batched', 'tokens vs batched', 'passes vs direct'],
      Object.entries(out).map(([name, r]) => [
        name,
        String(r.generated),
        per(r.forwardPasses, r),
        per(r.rows, r),
        per(r.tokens, r),
        r.ms.toFixed(0),
        `${(base.rows / r.rows).toFixed(2)}x fewer`,
        `${(base.tokens / r.tokens).toFixed(2)}x fewer`,
        `${(out.direct.forwardPasses / r.forwardPasses).toFixed(1)}x fewer`,
      ]),
    ),
  );
  return out;
}

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : def;
}

/** The exact LM used when no transformer is present: a character 5-gram on the README. */
export function readmeNGram(): NGramLM {
  const text = readFileSync(fileURLToPath(new URL('../README.md', import.meta.url)), 'utf8').toLowerCase().replace(/[^a-z .,\n]/g, ' ').replace(/ +/g, ' ');
  const lines = text.split(/\n+/).map((l) => l.trim()).filter((l) => l.length > 10);
  return NGramLM.fit(TokenVocabulary.characters('abcdefghijklmnopqrstuvwxyz .,'), lines, { order: 5, name: 'readme-5gram' });
}

/** The shipped transformer (or a saved one by path), if its files exist. */
async function transformer(nameOrPath: string): Promise<LanguageModel | null> {
  const base = nameOrPath.includes('/') ? nameOrPath.replace(/\.(json|bin)$/, '') : fileURLToPath(new URL(`../models/lm/${nameOrPath}`, import.meta.url));
  if (!existsSync(`${base}.json`)) return null;
  await initBackend();
  const files = '../src/steer/lm/transformer/files.js';
  const mod = (await import(files)) as { loadTransformerLM(p: string): LanguageModel };
  return mod.loadTransformerLM(nameOrPath.includes('/') ? base : nameOrPath);
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const w: CacheWorkload = {
    particles: Number(arg('particles', '64')),
    steps: Number(arg('steps', quick ? '16' : '32')),
    sweeps: Number(arg('sweeps', quick ? '1' : '4')),
    prompts: Number(arg('prompts', '4')),
    beta: Number(arg('beta', '1')),
    seed: Number(arg('seed', '1')),
  };
  const which = arg('model', 'all');
  console.log(`workload: ${w.particles} particles, ${w.steps} steps, ${w.sweeps} sweeps (each its own seed), ${w.prompts} prompts, tilt beta = ${w.beta}, multinomial resampling every step`);
  if (which === 'all' || which === 'ngram') {
    const lm = readmeNGram();
    console.log(`\nmodel: ${lm.name} (exact, ${lm.vocab.size} tokens, incremental: the state is the cache)`);
    await benchCache(lm, w);
  }
  if (which !== 'ngram') {
    const name = which === 'all' ? 'kjv-char' : which;
    const lm = await transformer(name);
    if (!lm) console.log(`\nmodel ${name}: not found (models/lm/${name}.json); skipped`);
    else {
      console.log(`\nmodel: ${lm.name} (transformer, ${lm.vocab.size} tokens, context ${lm.contextLength})`);
      await benchCache(lm, w);
      lm.dispose?.();
    }
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
