/**
 * The playground's engine room, free of the DOM (so the tests run it in Node
 * too and compare its errors with the page's): compile a model typed by the
 * user (TypeScript or JavaScript; types are stripped by sucrase), run it with
 * the chosen engine, options, progress and AbortSignal, and render the
 * summary and the Vega-Lite plots to SVG.
 */
import { transform } from 'sucrase';
import * as tyche from '../src/index.js';
import type { Posterior } from '../src/index.js';
import { type PlotSpec, densityPlot, toSvg, tracePlot } from '../src/plots/index.js';

/** What the user's program returns. */
export interface UserProgram {
  readonly model: tyche.Model<unknown[], unknown>;
  readonly args?: readonly unknown[];
  /** Quantities to plot (default: every scalar quantity, up to 6). */
  readonly sites?: readonly string[];
}

/** An error in the user's program, said the way the page shows it. */
export class PlaygroundError extends Error {
  constructor(
    message: string,
    /** `syntax`: the code does not parse; `program`: it ran but did not return a model; `options`: bad engine options. */
    readonly kind: 'syntax' | 'program' | 'options',
  ) {
    super(message);
    this.name = 'PlaygroundError';
  }
}

/** Lines the wrapper puts before the user's first line. */
const HEADER_LINES = 2;
const NAMES = Object.keys(tyche).filter((k) => /^[A-Za-z_$][\w$]*$/.test(k) && k !== 'default');

/**
 * Compile the user's source: the body of an async function with tyche's
 * exports in scope, returning `{ model, args, sites? }`.
 *
 * @throws PlaygroundError (`syntax`) naming the line and column
 */
export function compileProgram(source: string): () => Promise<UserProgram> {
  const wrapped = `async function __tycheProgram(__tyche) {\nconst { ${NAMES.join(', ')} } = __tyche;\n${source}\n}`;
  let code: string;
  try {
    code = transform(wrapped, { transforms: ['typescript'], disableESTransforms: true }).code;
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    const at = /\((\d+):(\d+)\)\s*$/.exec(msg);
    const where = at ? `line ${Number(at[1]) - HEADER_LINES}, column ${Number(at[2]) + 1}` : 'unknown position';
    throw new PlaygroundError(`Syntax error at ${where}: ${msg.replace(/\s*\(\d+:\d+\)\s*$/, '')}`, 'syntax');
  }
  let fn: (t: typeof tyche) => Promise<unknown>;
  try {
    fn = new Function(`${code}\nreturn __tycheProgram;`)() as typeof fn;
  } catch (err) {
    throw new PlaygroundError(`Syntax error: ${err instanceof Error ? err.message : String(err)}`, 'syntax');
  }
  return async () => {
    const out = (await fn(tyche)) as Partial<UserProgram> | undefined;
    if (out === null || typeof out !== 'object' || !(out.model instanceof tyche.Model)) {
      throw new PlaygroundError('The program must end with `return { model, args }`, where model is made by model(async (ctx, ...args) => { ... })', 'program');
    }
    if (out.args !== undefined && !Array.isArray(out.args)) throw new PlaygroundError(`args must be an array of the model's arguments, got ${typeof out.args}`, 'program');
    return out as UserProgram;
  };
}

/** Parse the options box: a JSON object. */
export function parseOptions(text: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(text.trim() === '' ? '{}' : text);
  } catch (err) {
    throw new PlaygroundError(`Options are not valid JSON: ${err instanceof Error ? err.message : String(err)}`, 'options');
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new PlaygroundError('Options must be a JSON object, e.g. { "particles": 1000, "seed": 1 }', 'options');
  return v as Record<string, unknown>;
}

/** Progress of a run, as a fraction (NaN when unknown) and a line of text. */
export type ProgressFn = (fraction: number, text: string) => void;

/** The engine's progress callbacks, mapped onto one {@link ProgressFn}. */
function progressOptions(method: string, options: Record<string, unknown>, report: ProgressFn): Record<string, unknown> {
  switch (method) {
    case 'importance':
    case 'mh':
      return { onProgress: (done: number, total: number) => report(done / total, `${done} / ${total}`) };
    case 'nuts':
    case 'hmc':
      return { onProgress: (p: { completed: number; total: number }) => report(p.completed / p.total, `${p.completed} / ${p.total} iterations (all chains)`) };
    case 'vi': {
      const steps = Number(options.steps ?? NaN);
      return { onStep: (p: { step: number; loss?: number }) => report(p.step / steps, `step ${p.step}${p.loss !== undefined ? `, loss ${p.loss.toFixed(3)}` : ''}`), progressEvery: 10 };
    }
    case 'smc':
      return { onStep: (p: { t?: number; step?: number; ess?: number }) => report(NaN, `step ${p.t ?? p.step ?? '?'}${p.ess !== undefined ? `, ESS ${p.ess.toFixed(0)}` : ''}`) };
    default:
      return {};
  }
}

/** What a run produced. */
export interface RunResult {
  readonly posterior: Posterior<unknown[], unknown>;
  readonly summary: string;
  readonly logZ: number;
  readonly plots: readonly { readonly title: string; readonly spec: PlotSpec; readonly svg: string }[];
  readonly ms: number;
}

/** Run options of {@link runProgram}. */
export interface RunOptions {
  readonly signal?: AbortSignal;
  readonly onProgress?: ProgressFn;
}

/**
 * Compile and run the user's program with `method` and `options`, then
 * summarise and plot the posterior. Errors propagate unchanged (tyche's own
 * error classes and messages, as in Node), except the program's own syntax
 * and shape errors, which are {@link PlaygroundError}s.
 */
export async function runProgram(source: string, method: string, options: Record<string, unknown>, run: RunOptions = {}): Promise<RunResult> {
  const t0 = performance.now();
  const program = await compileProgram(source)();
  const extra = run.onProgress ? progressOptions(method, options, run.onProgress) : {};
  const posterior = (await tyche.infer(program.model, { ...options, ...extra, method, ...(run.signal ? { signal: run.signal } : {}) } as tyche.CommonOptions, ...(program.args ?? []))) as Posterior<unknown[], unknown>;
  try {
    const summary = posterior.summary().toString();
    const sites = program.sites ?? [...posterior.scalarColumns().keys()].slice(0, 6);
    const specs: { title: string; spec: PlotSpec }[] = [{ title: 'posterior', spec: densityPlot(posterior, { sites, title: `${method}: posterior` }) }];
    if (posterior.draws.length > 0 && posterior.draws.every((d) => d.chain !== undefined) && (method === 'nuts' || method === 'hmc' || method === 'mh')) {
      specs.push({ title: 'trace', spec: tracePlot(posterior, { sites }) });
    }
    const plots = [];
    for (const s of specs) plots.push({ ...s, svg: await toSvg(s.spec) });
    return { posterior, summary, logZ: posterior.logZ, plots, ms: performance.now() - t0 };
  } catch (err) {
    posterior.dispose();
    throw err;
  }
}

/** An error as the page shows it: its class and message (tyche's messages name the site and what to do). */
export function describeError(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return `Error: ${String(err)}`;
}
