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
 * The models: a Kneser–Ney character 5-gram fitted on 300 sentences sampled
 * from a small seeded word grammar (exact, always the same), and the shipped text transformer
 * `models/lm/kjv-char` when it exists (or `--model PATH` for another saved
 * transformer).
 *
 * Run: `npx tsx bench/lm-cache.ts [--quick] [--particles 64] [--steps 32] [--sweeps 4] [--prompts 4] [--beta 1] [--model kjv-char|PATH|ngram]`
 *
 * @module
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { initBackend } from '../src/backend/select.js';
import { Rng } from '../src/core/rng.js';
import { CachedLanguageModel, type CachedLanguageModelOptions } from '../src/steer/lm/cached.js';
import { NGramLM } from '../src/steer/lm/ngram.js';
import { PcfgLM } from '../src/steer/lm/pcfg.js';
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

/** Sentences of a small seeded word grammar: a corpus that never changes. */
async function grammarCorpus(sentences: number, seed: number): Promise<string[]> {
  const words = ['the ', 'a ', 'shepherd ', 'king ', 'city ', 'river ', 'saw ', 'built ', 'crossed ', 'with ', 'near ', 'old ', 'great ', 'and '];
  const vocab = new TokenVocabulary(words);
  const r = (lhs: string, rhs: string[], prob: number) => ({ lhs, rhs, prob });
  const grammar = new PcfgLM(vocab, {
    start: 'S',
    rules: [
      r('S', ['NP', 'VP'], 0.8), r('S', ['S', 'CS'], 0.2), r('CS', ['And', 'S'], 1), r('And', ['and '], 1),
      r('NP', ['Det', 'N'], 0.5), r('NP', ['Det', 'AN'], 0.3), r('NP', ['NP', 'PP'], 0.2), r('AN', ['Adj', 'N'], 1),
      r('PP', ['P', 'NP'], 1), r('VP', ['V', 'NP'], 0.8), r('VP', ['VP', 'PP'], 0.2),
      r('Det', ['the '], 0.7), r('Det', ['a '], 0.3), r('Adj', ['old '], 0.5), r('Adj', ['great '], 0.5),
      r('N', ['shepherd '], 0.25), r('N', ['king '], 0.25), r('N', ['city '], 0.25), r('N', ['river '], 0.25),
      r('V', ['saw '], 0.4), r('V', ['built '], 0.3), r('V', ['crossed '], 0.3), r('P', ['with '], 0.5), r('P', ['near '], 0.5),
    ],
  }, 'bench-grammar');
  const rng = new Rng(seed);
  const out: string[] = [];
  for (let k = 0; k < sentences; k++) {
    const toks: number[] = [];
    for (;;) {
      const [row] = await grammar.nextTokenLogprobs([toks]);
      const { token } = sampleToken(row, rng);
      if (token === vocab.eos || toks.length > 24) break;
      toks.push(token);
    }
    out.push(vocab.decode(toks).trim() + '.');
  }
  return out;
}

/** The exact LM: a Kneser–Ney character 5-gram fitted on 300 sentences of a seeded grammar. */
export async function grammarNGram(): Promise<NGramLM> {
  return NGramLM.fit(TokenVocabulary.characters('abcdefghijklmnopqrstuvwxyz .'), await grammarCorpus(300, 1), { order: 5, name: 'grammar-5gram' });
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
    const lm = await grammarNGram();
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
