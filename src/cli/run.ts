/**
 * `tyche run`: load a model module, run the chosen engine with a progress
 * bar, print the summary table and optionally write the draws as JSON.
 *
 * @module
 */
import { access, constants, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Posterior } from '../infer/posterior.js';
import { UsageError, type RunCommand, ENGINE_INT_OPTIONS } from './args.js';

/** Where the CLI writes: stdout for results, stderr for progress and errors. */
export interface CliIO {
  /** Receives the summary table. */
  readonly stdout: { write(s: string): unknown };
  /** Receives progress, notices and errors. */
  readonly stderr: { write(s: string): unknown; readonly isTTY?: boolean; readonly columns?: number };
}

/** A model module as the CLI expects it. */
interface ModelModule {
  readonly default?: unknown;
  readonly data?: unknown;
}

async function loadModule(file: string): Promise<ModelModule> {
  const path = resolve(file);
  try {
    await readFile(path);
  } catch {
    throw new UsageError(`model file not found: ${file}`);
  }
  // choose the backend before the model file can make tensors at its top level (tfjs corrupts
  // some tensors when it moves them between backends; see initBackend)
  await (await import('../backend/select.js')).initBackend();
  try {
    return (await import(pathToFileURL(path).href)) as ModelModule;
  } catch (err) {
    throw loadedAsCommonJs(err) ? new UsageError(commonJsAdvice(file)) : err;
  }
}

/**
 * Whether `err` is Node refusing an ES module file that it loaded as
 * CommonJS: a `.ts` or `.js` file in a folder whose nearest package.json does
 * not say `"type": "module"` (npm's default), or has none.
 */
function loadedAsCommonJs(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'ERR_REQUIRE_CYCLE_MODULE' || code === 'ERR_REQUIRE_ESM') return true;
  return err instanceof SyntaxError && /Cannot use import statement outside a module|Unexpected token 'export'/.test(err.message);
}

/** What to do about a model file Node loaded as CommonJS. */
function commonJsAdvice(file: string): string {
  const ext = extname(file);
  const renamed = ext === '.ts' ? '.mts' : ext === '.js' ? '.mjs' : undefined;
  return (
    `${file} was loaded as CommonJS (its folder's nearest package.json does not say "type": "module", or there is none), so its ES \`import\`/\`export\` cannot run: ` +
    `${renamed ? `rename it to ${basename(file, ext)}${renamed}, or ` : ''}add "type": "module" to that package.json`
  );
}

async function loadData(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(resolve(file), 'utf8');
  } catch {
    throw new UsageError(`--data: cannot read ${file}`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new UsageError(`--data: ${file} is not valid JSON (${err instanceof Error ? err.message : String(err)})`);
  }
}

/** Check before sampling that `--out` names a file that can be written (not a directory). */
async function checkOut(out: string): Promise<void> {
  const path = resolve(out);
  const st = await stat(path).catch(() => undefined);
  if (st?.isDirectory()) throw new UsageError(`--out ${out} is a directory; give a file path, e.g. --out ${join(out, 'posterior.json')}`);
  try {
    await mkdir(dirname(path), { recursive: true });
    await access(dirname(path), constants.W_OK);
    if (st) await access(path, constants.W_OK);
  } catch (err) {
    throw new UsageError(`--out ${out}: cannot write there (${err instanceof Error ? err.message : String(err)})`);
  }
}

/** Run the command; resolves when the summary (and the --out file) is written. */
export async function runCommand(cmd: RunCommand, io: CliIO): Promise<void> {
  // a bad --out fails now, not after sampling
  if (cmd.out !== undefined) await checkOut(cmd.out);
  const mod = await loadModule(cmd.modelFile);
  if (!looksLikeModel(mod.default)) throw notAModel(cmd.modelFile, mod.default);
  // the library is loaded only now, so that argument errors never wait for TensorFlow.js
  const tyche = await import('../index.js');
  const { progressBar } = await import('../progress/index.js');
  const { toArviZ } = await import('../io/arviz.js');
  const m = asModel(mod.default, cmd.modelFile, tyche.Model);
  const engine = tyche.listEngines().find((e) => e.name === cmd.method);
  if (!engine) throw new UsageError(`unknown --method "${cmd.method}"; available: ${tyche.listEngines().map((e) => e.name).join(', ')}`);
  // the summary prints the run's warnings: not printed a second time, on stderr, as infer does by default
  const { QUIET_WARNINGS } = await import('../infer/registry.js');
  const options: Record<string | symbol, unknown> = { method: cmd.method, seed: cmd.seed, [QUIET_WARNINGS]: true };
  for (const key of ENGINE_INT_OPTIONS) {
    const v = cmd[key];
    if (v === undefined) continue;
    if (!engine.options.includes(key)) {
      const takes = ENGINE_INT_OPTIONS.filter((k) => engine.options.includes(k)).map((k) => `--${k}`);
      throw new UsageError(`--${key} is not an option of method "${cmd.method}"${takes.length ? `; it takes ${takes.join(', ')}` : ''}`);
    }
    options[key] = v;
  }
  const bar = progressBar(cmd.method, { stream: io.stderr, enabled: cmd.progress ? undefined : false, unit: engine.options.includes('onStep') ? 'steps' : 'it' });
  if (engine.options.includes('onProgress')) options.onProgress = bar.onProgress;
  if (engine.options.includes('onStep')) options.onStep = bar.onStep;
  const data = cmd.data !== undefined ? await loadData(cmd.data) : mod.data;
  const args = data === undefined ? [] : [data];
  let post: Posterior;
  try {
    post = (await tyche.infer(m, options as { method: string }, ...args)) as unknown as Posterior;
  } finally {
    bar.done();
  }
  io.stdout.write(`${post.summary().toString()}\n`);
  if (cmd.out !== undefined) {
    const dict = toArviZ(post, { model_file: cmd.modelFile, seed: cmd.seed, ...(cmd.data ? { data_file: cmd.data } : {}) });
    await mkdir(dirname(resolve(cmd.out)), { recursive: true });
    await writeFile(resolve(cmd.out), JSON.stringify(dict));
    io.stderr.write(`wrote ${cmd.out}\n`);
  }
}

function looksLikeModel(x: unknown): boolean {
  const o = x as { fn?: unknown; handlers?: unknown } | undefined;
  return typeof x === 'function' || (typeof o === 'object' && o !== null && typeof o.fn === 'function' && Array.isArray(o.handlers));
}

function notAModel(file: string, x: unknown): UsageError {
  return new UsageError(`${file} must default-export a tyche model (\`export default model(async ({ sample, observe }) => ...)\`), got ${x === undefined ? 'no default export' : typeof x}`);
}

/** The module's default export as a Model: a Model, a model from another copy of tyche, or a bare function. */
function asModel<M>(x: unknown, file: string, ModelClass: new (fn: never, handlers?: never, name?: string) => M): M {
  if (x instanceof ModelClass) return x;
  if (typeof x === 'function') return new ModelClass(x as never);
  const o = x as { fn?: unknown; handlers?: unknown; name?: unknown } | undefined;
  if (o && typeof o.fn === 'function' && Array.isArray(o.handlers)) return new ModelClass(o.fn as never, o.handlers as never, typeof o.name === 'string' ? o.name : undefined);
  throw notAModel(file, x);
}
