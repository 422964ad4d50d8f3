/**
 * The result type shared by every engine: a weighted set of draws.
 *
 * Enumeration returns every execution with its exact probability, importance
 * sampling and SMC return weighted particles, MCMC returns equally weighted
 * draws tagged with their chain. All of them answer the same questions:
 * marginals, moments, quantiles, a summary table, and posterior predictive
 * simulation.
 *
 * @module
 */
import { execute, type Model } from '../core/model.js';
import { substituteHandler, unconditionHandler } from '../core/handlers.js';
import { Rng, rngFrom, type Seed } from '../core/rng.js';
import { type Value, isTensor, logSumExp, toArray, unravelIndex } from '../core/value.js';
import { summarizeOne } from '../diagnostics/summary.js';
import { reachableTensors } from './mcmc/state-tensors.js';
import { Pacer } from './pace.js';
import { resizedLatentError } from './predictive-shapes.js';
import { oneAtATime } from './one-at-a-time.js';
import { type Draw, type DrawColumns, checkColumns, materialiseDraws, scalarQuantities, splitChains } from './draw-columns.js';

export type { Draw, DrawColumn, DrawColumns } from './draw-columns.js';

/**
 * `Symbol.dispose` where the runtime has it (Node 20+, modern browsers),
 * else the registered symbol that polyfills use; `using post = await
 * infer(...)` then frees a posterior at the end of the block.
 */
export const disposeSymbol: unique symbol = ((Symbol as unknown as { dispose?: symbol }).dispose ?? Symbol.for('Symbol.dispose')) as never;

/** Everything an engine hands to the Posterior constructor. */
export interface PosteriorInit<A extends unknown[], R> {
  readonly method: string;
  /** The draws; give either these or `columns`. */
  readonly draws?: Draw<R>[];
  /**
   * Equally weighted MCMC draws held as one array per site (see
   * `draw-columns.ts`): summaries, moments and chain columns read them
   * directly, and the per-draw records of {@link Posterior.draws} are made
   * only when first read.
   */
  readonly columns?: DrawColumns<R>;
  /** Estimate (or exact value) of the log marginal likelihood. */
  readonly logZ?: number;
  /** True when the weights are exact probabilities (enumeration). */
  readonly exact?: boolean;
  /** Engine-specific diagnostics (acceptance rates, ESS history, ...). */
  readonly diagnostics?: Record<string, unknown>;
  /** Facts about the run worth a line under the summary's header. */
  readonly notes?: readonly string[];
  /** Reasons not to trust the answer (the engine has already printed them with `console.warn`). */
  readonly warnings?: readonly string[];
  readonly model: Model<A, R>;
  readonly args: A;
  /**
   * Tensors with ids below this were made before the run (the user's own):
   * {@link Posterior.dispose} never frees them. Tensors reachable from
   * `args` are never freed either.
   */
  readonly tensorsSince?: number;
}

/**
 * Free the tensors that `draws` reach (values, return values), except those
 * reachable from `args` and those with ids below `since` (made before the
 * run). What {@link Posterior.dispose} does, and what an engine does with the
 * draws it has made when a run fails or is aborted.
 */
export function disposeDraws(draws: readonly Draw<unknown>[], args: unknown, since = 0): void {
  const keep = reachableTensors(args);
  for (const t of reachableTensors(draws)) {
    if (t.id >= since && !keep.has(t)) t.dispose();
  }
}

/** A probability table over distinct values (the marginal of one quantity). */
export class Marginal<V = unknown> {
  /**
   * @param support - distinct values
   * @param probs - their probabilities (summing to 1)
   */
  constructor(readonly support: V[], readonly probs: Float64Array) {}

  /** Probability of a value (0 if absent). Values are compared by their JSON form. */
  prob(value: V): number {
    const k = keyOf(value);
    let p = 0;
    for (let i = 0; i < this.support.length; i++) if (keyOf(this.support[i]) === k) p += this.probs[i];
    return p;
  }

  /** Mean of a numeric marginal. */
  get mean(): number {
    let m = 0;
    for (let i = 0; i < this.support.length; i++) m += this.probs[i] * Number(this.support[i]);
    return m;
  }

  /** Variance of a numeric marginal. */
  get variance(): number {
    const m = this.mean;
    let v = 0;
    for (let i = 0; i < this.support.length; i++) v += this.probs[i] * (Number(this.support[i]) - m) ** 2;
    return v;
  }

  /** Entries sorted by value (numbers) or by probability, for display. */
  entries(): [V, number][] {
    const e = this.support.map((v, i) => [v, this.probs[i]] as [V, number]);
    if (e.every(([v]) => typeof v === 'number')) e.sort((a, b) => (a[0] as number) - (b[0] as number));
    else e.sort((a, b) => b[1] - a[1]);
    return e;
  }

  toString(): string {
    return this.entries()
      .map(([v, p]) => `${JSON.stringify(v)}: ${p.toFixed(6)}`)
      .join('\n');
  }
}

function keyOf(v: unknown): string {
  if (typeof v === 'number') return String(v);
  if (isTensor(v)) return JSON.stringify(Array.from(v.dataSync()));
  return JSON.stringify(v);
}

/** One row of {@link Posterior.summary}. */
export interface SummaryRow {
  readonly name: string;
  readonly mean: number;
  readonly sd: number;
  readonly q5: number;
  readonly q50: number;
  readonly q95: number;
  /** Extra columns engines add (ess_bulk, r_hat, ...). */
  readonly [extra: string]: number | string;
}

/** A summary table that prints like Stan's or ArviZ's. */
export class Summary {
  constructor(readonly rows: SummaryRow[], readonly header: string = '') {}

  toString(): string {
    if (this.rows.length === 0) return `${this.header}(no latent sites)`;
    const cols = Object.keys(this.rows[0]).filter((c) => c !== 'name');
    const head = ['', ...cols.map((c) => (c === 'q5' ? '5%' : c === 'q50' ? '50%' : c === 'q95' ? '95%' : c))];
    const body = this.rows.map((r) => [r.name, ...cols.map((c) => fmtNum(r[c]))]);
    const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
    const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
    return [this.header, line(head), ...body.map(line)].filter((l) => l !== '').join('\n');
  }
}

function fmtNum(v: number | string): string {
  if (typeof v === 'string') return v;
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e5 || a < 1e-3)) return v.toExponential(2);
  return v.toFixed(3);
}

/** Weighted quantile of values sorted by value. */
export function weightedQuantile(values: ArrayLike<number>, weights: ArrayLike<number>, q: number): number {
  const idx = Array.from({ length: values.length }, (_, i) => i).sort((a, b) => values[a] - values[b]);
  let total = 0;
  for (let i = 0; i < weights.length; i++) total += weights[i];
  let acc = 0;
  for (const i of idx) {
    acc += weights[i] / total;
    if (acc >= q - 1e-12) return values[i];
  }
  return values[idx[idx.length - 1]];
}

/**
 * The model's arguments for {@link Posterior.predictive}: any of them may be
 * left out or `null` (observed data at new inputs, which is then drawn).
 */
export type PredictiveArgs<A extends unknown[]> = { [K in keyof A]?: A[K] | null };

/** The posterior returned by every engine. */
export class Posterior<A extends unknown[] = unknown[], R = unknown> {
  /** The engine that produced it. */
  readonly method: string;
  /** Per-draw records: given, or made from the columns on first read. */
  private drawList: Draw<R>[] | undefined;
  /** The draws as columns, until disposed (MCMC engines that hold them so). */
  private columns: DrawColumns<R> | undefined;
  /** Log marginal likelihood: exact for enumeration, an estimate for IS/SMC, NaN where not estimated. */
  readonly logZ: number;
  /** True when the weights are exact probabilities. */
  readonly exact: boolean;
  /** Engine-specific diagnostics. */
  readonly diagnostics: Record<string, unknown>;
  /** Facts about the run, printed under the summary's header (e.g. how often a compiled density fell back to tfjs). */
  readonly notes: readonly string[];
  /** Reasons not to trust the answer (e.g. VI's Pareto k-hat above 0.7), printed in the summary. */
  readonly warnings: readonly string[];
  /** Normalised weights (sum to 1). */
  readonly weights: Float64Array;
  private readonly model: Model<A, R>;
  private readonly args: A;
  private readonly tensorsSince: number;
  private disposed = false;
  private chainRows?: SummaryRow[];

  /**
   * Adds reasons not to trust the answer found after the engine returned
   * (infer's MCMC diagnostics, `mcmc/warnings.ts`, and particle ESS,
   * `particle-warnings.ts`).
   *
   * @internal
   */
  addWarnings(extra: readonly string[]): void {
    if (extra.length > 0) (this as { warnings: readonly string[] }).warnings = [...this.warnings, ...extra];
  }

  constructor(init: PosteriorInit<A, R>) {
    this.tensorsSince = init.tensorsSince ?? 0;
    this.method = init.method;
    if ((init.draws === undefined) === (init.columns === undefined)) throw new TypeError(`Posterior (${init.method}): give either draws or columns`);
    if (init.columns) checkColumns(init.columns);
    this.drawList = init.draws;
    this.columns = init.columns;
    this.logZ = init.logZ ?? NaN;
    this.exact = init.exact ?? false;
    this.diagnostics = init.diagnostics ?? {};
    this.notes = init.notes ?? [];
    this.warnings = init.warnings ?? [];
    this.model = init.model;
    this.args = init.args;
    const lw = init.draws ? init.draws.map((d) => d.logWeight) : new Array<number>(init.columns!.size).fill(0);
    const lse = logSumExp(lw);
    // (a plain loop: Float64Array.from with a map function goes through the iterator protocol, ~1 us per posterior)
    const weights = new Float64Array(lw.length);
    for (let i = 0; i < lw.length; i++) weights[i] = lse === -Infinity ? 1 / lw.length : Math.exp(lw[i] - lse);
    this.weights = weights;
  }

  /**
   * Free the tensors this posterior holds (tensor-valued draws and return
   * values), so that repeated runs keep `tf.memory().numTensors` flat. The
   * model's arguments and tensors made before the run are left alone.
   * Afterwards the draws are gone: queries throw. Calling it twice is harmless.
   *
   * ```ts
   * const post = await infer(m, { method: 'smc', particles: 500 }, data);
   * console.log(post.summary().toString());
   * post.dispose();
   * ```
   */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (this.drawList) {
      disposeDraws(this.drawList, this.args, this.tensorsSince);
      this.drawList.length = 0;
    } else {
      // never materialised: only the return values can hold tensors
      const returns = this.columns?.returnValues;
      if (returns) disposeDraws(returns.map((returnValue) => ({ values: {}, returnValue, logWeight: 0 })), this.args, this.tensorsSince);
      this.drawList = [];
    }
    this.columns = undefined;
  }

  /**
   * The draws, each with its values by address, return value, log-weight and
   * chain. For MCMC posteriors held as columns the records (and a tensor per
   * draw of each non-scalar site) are made on first read; summaries, moments
   * and chain columns do not need them.
   */
  get draws(): Draw<R>[] {
    if (this.drawList === undefined) this.drawList = materialiseDraws(this.columns!);
    return this.drawList;
  }

  /** Same as {@link Posterior.dispose}, for `using` declarations. */
  [disposeSymbol](): void {
    this.dispose();
  }

  /** True once {@link Posterior.dispose} has been called. */
  get isDisposed(): boolean {
    return this.disposed;
  }

  private live(what: string): void {
    if (this.disposed) throw new Error(`${what}: this ${this.method} posterior has been disposed (its draws were freed by dispose())`);
  }

  /** Number of draws. */
  get size(): number {
    return this.columns && this.drawList === undefined ? this.columns.size : this.draws.length;
  }

  /**
   * Kish effective sample size of the weights, (sum w)^2 / sum w^2: what
   * importance weights cost. It knows nothing of autocorrelation, so for
   * MCMC (equal weights) it is the number of draws; read the per-quantity
   * `ess_bulk` / `ess_tail` of `summary()` there.
   */
  get ess(): number {
    let s2 = 0;
    for (const w of this.weights) s2 += w * w;
    return s2 === 0 ? 0 : 1 / s2;
  }

  /** Addresses of latent sites seen in any draw, in first-seen order. */
  addresses(): string[] {
    this.live('addresses');
    if (this.columns) return [...this.columns.columns.keys()];
    const seen = new Set<string>();
    for (const d of this.draws) for (const k of Object.keys(d.values)) seen.add(k);
    return [...seen];
  }

  /**
   * The marginal distribution of a site's value, or of any function of a draw
   * (e.g. `d => d.returnValue`). Draws where the site is absent are left out
   * and the rest renormalised.
   */
  marginal<V = Value>(query: string | ((d: Draw<R>) => V)): Marginal<V> {
    this.live('marginal');
    const f = typeof query === 'string' ? (d: Draw<R>) => d.values[query] as unknown as V : query;
    const index = new Map<string, number>();
    const support: V[] = [];
    const probs: number[] = [];
    let total = 0;
    this.draws.forEach((d, i) => {
      const v = f(d);
      if (v === undefined) return;
      const plain = (isTensor(v) ? (v.size === 1 ? v.dataSync()[0] : Array.from(v.dataSync())) : v) as V;
      const k = keyOf(plain);
      const w = this.weights[i];
      total += w;
      const j = index.get(k);
      if (j === undefined) {
        index.set(k, support.length);
        support.push(plain);
        probs.push(w);
      } else probs[j] += w;
    });
    if (support.length === 0) throw new Error(`marginal: no draw has a value for ${typeof query === 'string' ? `"${query}"` : 'the query'}`);
    return new Marginal(support, Float64Array.from(probs, (p) => p / total));
  }

  /** Posterior expectation of a function of a draw. */
  expectation(f: (d: Draw<R>) => number): number {
    this.live('expectation');
    let s = 0;
    this.draws.forEach((d, i) => {
      s += this.weights[i] * f(d);
    });
    return s;
  }

  /** Flattened scalar columns: `theta[0]`, `theta[1]`, ... with the draw index of each value. */
  scalarColumns(): Map<string, { draw: Int32Array; values: Float64Array }> {
    this.live('scalarColumns');
    if (this.columns) {
      const all = Int32Array.from({ length: this.columns.size }, (_, i) => i);
      return new Map([...scalarQuantities(this.columns)].map(([name, values]) => [name, { draw: all, values }]));
    }
    const cols = new Map<string, { draw: number[]; values: number[] }>();
    this.draws.forEach((d, i) => {
      for (const [addr, v] of Object.entries(d.values)) {
        const flat = toArray(v);
        const shape = typeof v === 'number' ? [] : v.shape;
        for (let j = 0; j < flat.length; j++) {
          const name = shape.length === 0 ? addr : `${addr}[${unravelIndex(j, shape).join(',')}]`;
          let c = cols.get(name);
          if (!c) cols.set(name, (c = { draw: [], values: [] }));
          c.draw.push(i);
          c.values.push(flat[j]);
        }
      }
    });
    const out = new Map<string, { draw: Int32Array; values: Float64Array }>();
    for (const [k, c] of cols) out.set(k, { draw: Int32Array.from(c.draw), values: Float64Array.from(c.values) });
    return out;
  }

  /** Weighted mean and standard deviation of a scalar site (or element name such as `theta[2]`). */
  moments(name: string): { mean: number; sd: number } {
    const c = this.scalarColumns().get(name);
    if (!c) throw new Error(`moments: no scalar quantity named "${name}"; known: ${[...this.scalarColumns().keys()].join(', ')}`);
    return this.columnMoments(c);
  }

  private columnMoments(c: { draw: Int32Array; values: Float64Array }): { mean: number; sd: number } {
    let tw = 0;
    let m = 0;
    for (let i = 0; i < c.values.length; i++) {
      const w = this.weights[c.draw[i]];
      tw += w;
      m += w * c.values[i];
    }
    m /= tw;
    let v = 0;
    for (let i = 0; i < c.values.length; i++) v += this.weights[c.draw[i]] * (c.values[i] - m) ** 2;
    return { mean: m, sd: Math.sqrt(v / tw) };
  }

  /**
   * Draws of each scalar quantity split by chain (chains x draws), when every
   * draw carries a chain index and every quantity is present in every draw
   * (MCMC output); otherwise undefined.
   */
  chainColumns(): Map<string, Float64Array[]> | undefined {
    if (this.columns && !this.disposed) {
      const chains = this.columns.chains;
      return new Map([...scalarQuantities(this.columns)].map(([name, values]) => [name, splitChains(values, chains)]));
    }
    if (this.draws.length === 0 || this.draws.some((d) => d.chain === undefined)) return undefined;
    // (a loop, not Math.max(...draws): spreading hundreds of thousands of draws overflows the stack)
    const nChains = this.draws.reduce((m, d) => Math.max(m, d.chain as number), 0) + 1;
    const counts = new Array<number>(nChains).fill(0);
    for (const d of this.draws) counts[d.chain as number]++;
    const out = new Map<string, Float64Array[]>();
    for (const [name, c] of this.scalarColumns()) {
      if (c.values.length !== this.draws.length) return undefined;
      out.set(name, this.splitByChain(c.values, counts));
    }
    return out;
  }

  /** A quantity present in every draw, split by chain (`counts[k]` draws in chain k). */
  private splitByChain(values: ArrayLike<number>, counts: number[]): Float64Array[] {
    const chains = counts.map((n) => new Float64Array(n));
    const fill = new Array<number>(counts.length).fill(0);
    for (let i = 0; i < values.length; i++) {
      const k = this.draws[i].chain as number;
      chains[k][fill[k]++] = values[i];
    }
    return chains;
  }

  /**
   * Mean, sd and 5/50/95% quantiles of every scalar quantity; for MCMC
   * output also MCSE, bulk and tail ESS and rank-normalised split R-hat
   * (Vehtari et al. 2021), as in Stan and ArviZ.
   */
  summary(): Summary {
    const byChain = this.chainColumns();
    if (!byChain && this.draws.length > 0 && this.draws.every((d) => d.chain !== undefined)) return this.partialChainSummary();
    if (byChain) {
      // (the rows of MCMC output are computed once: infer's diagnostics warnings read them too)
      const rows = (this.chainRows ??= [...byChain].map(([name, chains]) => summarizeOne(name, chains) as unknown as SummaryRow));
      const divergences = this.diagnostics.divergences;
      const extra = typeof divergences === 'number' ? `, ${divergences} divergent transitions` : '';
      const nChains = byChain.values().next().value?.length ?? 0;
      return new Summary(rows, this.withNotes(`${this.method}: ${nChains} chains x ${Math.round(this.size / Math.max(1, nChains))} draws${extra}`));
    }
    const rows: SummaryRow[] = [];
    for (const [name, c] of this.scalarColumns()) {
      const { mean, sd } = this.columnMoments(c);
      const w = Float64Array.from(c.draw, (i) => this.weights[i]);
      rows.push({
        name,
        mean,
        sd,
        q5: weightedQuantile(c.values, w, 0.05),
        q50: weightedQuantile(c.values, w, 0.5),
        q95: weightedQuantile(c.values, w, 0.95),
      });
    }
    const z = Number.isNaN(this.logZ) ? '' : `, log Z ${this.exact ? '=' : '≈'} ${this.logZ.toFixed(4)}`;
    const header = `${this.method}: ${this.size} draws, ESS ${this.ess.toFixed(1)}${z}`;
    return new Summary(rows, this.withNotes(header));
  }

  /**
   * The summary of MCMC output where some quantity is missing from some draws
   * (a site that exists only on some branches): full diagnostics for the
   * quantities in every draw; for the others mean, sd and quantiles over the
   * draws where present, and MCSE, ESS and R-hat NaN with a note (they need an
   * unbroken sequence of draws per chain), never the draw count as an ESS.
   */
  private partialChainSummary(): Summary {
    const nChains = this.draws.reduce((m, d) => Math.max(m, d.chain as number), 0) + 1;
    const counts = new Array<number>(nChains).fill(0);
    for (const d of this.draws) counts[d.chain as number]++;
    const rows: SummaryRow[] = [];
    const notes: string[] = [];
    for (const [name, c] of this.scalarColumns()) {
      if (c.values.length === this.draws.length) {
        rows.push(summarizeOne(name, this.splitByChain(c.values, counts)) as unknown as SummaryRow);
        continue;
      }
      const { mean, sd } = this.columnMoments(c);
      const w = Float64Array.from(c.draw, (i) => this.weights[i]);
      const q = (p: number): number => weightedQuantile(c.values, w, p);
      rows.push({ name, mean, sd, q5: q(0.05), q50: q(0.5), q95: q(0.95), mcse_mean: NaN, mcse_sd: NaN, ess_bulk: NaN, ess_tail: NaN, r_hat: NaN });
      notes.push(`${name} is present in ${c.values.length} of ${this.draws.length} draws: its mean, sd and quantiles are over those draws; MCSE, ESS and R-hat are NaN (they need the quantity in every draw)`);
    }
    const header = `${this.method}: ${nChains} chains x ${Math.round(this.size / nChains)} draws`;
    return new Summary(rows, this.withNotes([header, ...notes].join('\n')));
  }

  /** The header followed by a line per note and per warning. */
  private withNotes(header: string): string {
    return [header, ...this.notes, ...this.warnings.map((w) => `warning: ${w}`)].join('\n');
  }

  /** Indices of `n` draws resampled in proportion to their weights (multinomial). */
  resampleIndices(n: number, seedOrRng?: Seed | Rng): number[] {
    const rng = rngFrom(seedOrRng);
    const cdf = new Float64Array(this.weights.length);
    let acc = 0;
    this.weights.forEach((w, i) => {
      acc += w;
      cdf[i] = acc;
    });
    const out: number[] = [];
    for (let k = 0; k < n; k++) {
      const u = rng.uniform() * acc;
      let lo = 0;
      let hi = cdf.length - 1;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (cdf[mid] < u) lo = mid + 1;
        else hi = mid;
      }
      out.push(lo);
    }
    return out;
  }

  /**
   * Posterior predictive simulation: for `n` draws resampled by weight, run
   * the model with the latent values fixed and the observed sites redrawn.
   * Returns, per draw, the values of every sample site (latent and observed)
   * and the return value. `args` (default: the data inference ran on) may
   * leave observed data out: an `observe` given `undefined` or `null` is
   * drawn here, so a regression `model(x, y)` predicts at new inputs with
   * `predictive(n, { args: [xNew] })`, as NumPyro's `Predictive` does with
   * `y=None` (a placeholder `y` gives the same draws; inference itself still
   * refuses an `observe` without data). The n model runs yield to the event loop every few
   * ms; aborting `signal` stops them (no run starts after it) and rejects
   * with its reason. It waits its turn behind running `infer` calls, as
   * they do (`one-at-a-time.ts`): beside a NUTS run its tensors were taken
   * into that run's gradient scope and disposed ("Tensor is disposed").
   */
  async predictive(n: number, options: { seed?: Seed; args?: PredictiveArgs<A>; signal?: AbortSignal } = {}): Promise<{ values: Record<string, Value>; returnValue: R }[]> {
    this.live('predictive');
    return oneAtATime(options.signal, () => this.simulate(n, options));
  }

  /** The runs of {@link predictive}, once its turn has come. */
  private async simulate(n: number, options: { seed?: Seed; args?: PredictiveArgs<A>; signal?: AbortSignal }): Promise<{ values: Record<string, Value>; returnValue: R }[]> {
    const rng = rngFrom(options.seed);
    const pace = new Pacer(options.signal);
    const out: { values: Record<string, Value>; returnValue: R }[] = [];
    for (const i of this.resampleIndices(n, rng)) {
      if (pace.due()) await pace.pause();
      const d = this.draws[i];
      const args = (options.args as A | undefined) ?? this.args;
      let run: Awaited<ReturnType<typeof execute<A, R>>>;
      try {
        run = await execute(this.model, { rng: rng.split(), handlers: [unconditionHandler(), substituteHandler((m) => d.values[m.address])] }, ...args);
      } catch (err) {
        // a latent site sized by the data, at new inputs: name it (the raw error is a shape error naming no site)
        throw (options.args !== undefined ? await resizedLatentError(this.model, args, d.values) : undefined) ?? err;
      }
      const { trace, returnValue } = run;
      const values: Record<string, Value> = {};
      for (const s of trace) if (s.type === 'sample' || s.type === 'deterministic') values[s.address] = s.value;
      out.push({ values, returnValue });
    }
    return out;
  }
}
