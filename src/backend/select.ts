/**
 * TensorFlow.js backend selection.
 *
 * tyche prefers, in order: `node-gpu` (`@tensorflow/tfjs-node-gpu`, CUDA),
 * `node` (`@tensorflow/tfjs-node`, native CPU), `wasm`
 * (`@tensorflow/tfjs-backend-wasm`, shipped with tyche) and `cpu` (pure
 * JavaScript, always present). The two native packages are optional peers:
 * their install scripts download libtensorflow, so the default install does
 * not need them. Set `TYCHE_BACKEND=node-gpu|node|wasm|cpu` to force one; a
 * forced backend that cannot load is an error that says why and how to
 * install it.
 *
 * In Node the WASM backend reads its `.wasm` binary from its own package
 * folder (no `setWasmPaths`, no network); it runs with SIMD and without
 * threads.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';

/** The backends tyche knows, in order of preference. */
export const BACKENDS = ['node-gpu', 'node', 'wasm', 'cpu'] as const;
/** A backend name, as accepted by {@link initBackend} and `TYCHE_BACKEND`. */
export type BackendName = (typeof BACKENDS)[number];

/** What {@link initBackend} found. */
export interface BackendInfo {
  /** The active backend. */
  readonly name: BackendName;
  /** The tfjs backend name (`tensorflow` for the native ones). */
  readonly tfName: string;
  /** Why each more-preferred backend was skipped (empty when one was forced). */
  readonly skipped: Readonly<Partial<Record<BackendName, string>>>;
  /** True when the backend was forced (argument or `TYCHE_BACKEND`). */
  readonly forced: boolean;
  /** Capabilities of the backend where known (for `wasm`: `simd`, `threads`). */
  readonly features: Readonly<Record<string, boolean>>;
}

/** The environment variable that forces a backend. */
export const BACKEND_ENV = 'TYCHE_BACKEND';

let active: Promise<BackendInfo> | undefined;
let activeInfo: BackendInfo | undefined;

/** True when `name` is one of {@link BACKENDS}. */
export function isBackendName(name: unknown): name is BackendName {
  return typeof name === 'string' && (BACKENDS as readonly string[]).includes(name);
}

/**
 * Check a backend name, with an error that lists the valid ones.
 *
 * @param name - the name to check
 * @param source - where it came from, for the message (e.g. `TYCHE_BACKEND`)
 */
export function parseBackendName(name: unknown, source = 'backend'): BackendName {
  if (isBackendName(name)) return name;
  throw new Error(`${source}=${JSON.stringify(name)} is not a tyche backend; valid names are ${BACKENDS.join(', ')}`);
}

/** The backend forced by `TYCHE_BACKEND`, if any. */
export function envBackend(): BackendName | undefined {
  const v = typeof process !== 'undefined' ? process.env?.[BACKEND_ENV] : undefined;
  if (v === undefined || v === '') return undefined;
  return parseBackendName(v, BACKEND_ENV);
}

/**
 * Pick and initialise the backend, once per process.
 *
 * `preferred` (else `TYCHE_BACKEND`) forces one; otherwise the first of
 * {@link BACKENDS} that loads is used and the reasons the others were skipped
 * are recorded in {@link BackendInfo.skipped}. Later calls return the same
 * result; a later call that names a *different* backend is an error (tfjs
 * cannot switch backends under live tensors).
 */
export async function initBackend(preferred?: BackendName): Promise<BackendInfo> {
  const explicit = preferred === undefined ? undefined : parseBackendName(preferred, 'initBackend(backend)');
  if (active) {
    const info = await active;
    if (explicit !== undefined && explicit !== info.name) {
      throw new Error(`tyche backend is already initialised as "${info.name}"; cannot switch to "${explicit}" in the same process`);
    }
    return info;
  }
  const attempt = choose(explicit ?? envBackend());
  active = attempt;
  try {
    return await attempt;
  } catch (err) {
    if (active === attempt) active = undefined;
    throw err;
  }
}

/** The active backend's name, or `undefined` before {@link initBackend} has finished. */
export function backendName(): BackendName | undefined {
  return activeInfo?.name;
}

/** Details of the active backend, or `undefined` before {@link initBackend} has finished. */
export function backendInfo(): BackendInfo | undefined {
  return activeInfo;
}

/** Load a module whose name is held in a variable, so type-checking never needs it installed. */
async function importOptional(name: string): Promise<unknown> {
  return import(name);
}

/** The npm package behind each backend. */
const PACKAGE: Record<BackendName, string> = {
  'node-gpu': '@tensorflow/tfjs-node-gpu',
  node: '@tensorflow/tfjs-node',
  wasm: '@tensorflow/tfjs-backend-wasm',
  cpu: '@tensorflow/tfjs-backend-cpu',
};

/** Import the package of a backend (which registers it with tfjs-core); returns the tfjs backend name. */
async function loadPackage(name: BackendName): Promise<string> {
  switch (name) {
    case 'node-gpu':
    case 'node':
      try {
        await importOptional(PACKAGE[name]);
      } catch (err) {
        if (isNotFound(err, PACKAGE[name])) throw new Error(`${PACKAGE[name]} is not installed`);
        throw err;
      }
      return 'tensorflow';
    case 'wasm':
      if (typeof (globalThis as { WebAssembly?: unknown }).WebAssembly !== 'object') throw new Error('this JavaScript runtime has no WebAssembly');
      await import('@tensorflow/tfjs-backend-wasm');
      return 'wasm';
    case 'cpu':
      await import('@tensorflow/tfjs-backend-cpu');
      return 'cpu';
  }
}

/** True when `err` says that the package `name` itself is missing (not one of its dependencies). */
function isNotFound(err: unknown, name: string): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && firstLine(err).includes(`'${name}'`);
}

const PROCESS_EVENTS = ['uncaughtException', 'unhandledRejection'] as const;

/**
 * Run `fn` and then remove any process-level error listeners it added. The
 * WASM backend's Emscripten runtime installs `uncaughtException` and
 * `unhandledRejection` listeners that rethrow, which turns every later
 * uncaught error into exit code 7 with the minified runtime printed; tyche
 * leaves the process's error handling as it found it.
 */
async function keepProcessListeners<T>(fn: () => Promise<T>): Promise<T> {
  if (typeof process === 'undefined' || typeof process.listeners !== 'function') return fn();
  const proc: NodeJS.EventEmitter = process;
  const before = PROCESS_EVENTS.map((e) => new Set<unknown>(proc.listeners(e)));
  try {
    return await fn();
  } finally {
    PROCESS_EVENTS.forEach((e, i) => {
      for (const l of proc.listeners(e)) if (!before[i].has(l)) proc.removeListener(e, l as (...args: unknown[]) => void);
    });
  }
}

/**
 * Create and free one tensor with tfjs warnings off. The pure-JS backend
 * prints a banner ("Hi, looks like you are running TensorFlow.js in
 * Node.js...") through tfjs-core's `warn` on its first tensor write; `warn`
 * is silent while the `PROD` flag is set, so the first write is made here
 * with `PROD` on and the flag is then restored, leaving later warnings alone.
 */
function quietFirstWrite(): void {
  const env = tf.env();
  const prod = env.getBool('PROD');
  env.set('PROD', true);
  try {
    tf.scalar(0).dispose();
  } finally {
    env.set('PROD', prod);
  }
}

async function featuresOf(name: BackendName): Promise<Record<string, boolean>> {
  if (name !== 'wasm') return {};
  const env = tf.env();
  return {
    simd: Boolean(await env.getAsync('WASM_HAS_SIMD_SUPPORT')),
    threads: Boolean(await env.getAsync('WASM_HAS_MULTITHREAD_SUPPORT')),
  };
}

/** Load one backend and make it active; throws with the reason when it cannot. */
async function activate(name: BackendName): Promise<string> {
  return keepProcessListeners(async () => {
    const tfName = await loadPackage(name);
    if (tf.findBackendFactory(tfName) == null) {
      throw new Error(`${PACKAGE[name]} loaded but registered no "${tfName}" backend with tyche's @tensorflow/tfjs-core ${tf.version_core} (install the same version: ${installHint(name)})`);
    }
    const ok = await tf.setBackend(tfName);
    if (!ok) throw new Error(`tf.setBackend('${tfName}') failed (tfjs printed the reason above)`);
    await tf.ready();
    return tfName;
  });
}

function installHint(name: BackendName): string {
  return `npm install ${PACKAGE[name]}@${tf.version_core}`;
}

function firstLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : typeof err === 'object' && err !== null && 'message' in err ? String((err as { message: unknown }).message) : String(err);
  return msg.split('\n')[0];
}

async function choose(forced: BackendName | undefined): Promise<BackendInfo> {
  const skipped: Partial<Record<BackendName, string>> = {};
  const candidates: readonly BackendName[] = forced ? [forced] : BACKENDS;
  for (const name of candidates) {
    let tfName: string;
    try {
      tfName = await activate(name);
    } catch (err) {
      const why = firstLine(err);
      if (forced) {
        const hint = name === 'node-gpu' || name === 'node'
          ? `; install it with \`${installHint(name)}\` (its install script downloads libtensorflow, so it needs network access beyond the npm registry${name === 'node-gpu' ? ' and a CUDA GPU' : ''}), or unset ${BACKEND_ENV} to use the best available backend`
          : `; unset ${BACKEND_ENV} to use the best available backend`;
        throw new Error(`tyche backend "${name}" was forced but cannot be loaded: ${why}${hint}`);
      }
      skipped[name] = why;
      continue;
    }
    quietFirstWrite();
    activeInfo = { name, tfName, skipped, forced: forced !== undefined, features: await featuresOf(name) };
    return activeInfo;
  }
  throw new Error(`no tfjs backend could be loaded: ${JSON.stringify(skipped)}`);
}
