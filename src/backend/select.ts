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
 * In a browser the order is `webgl` (`@tensorflow/tfjs-backend-webgl`, the
 * GPU through WebGL 2), `webgpu` (`@tensorflow/tfjs-backend-webgpu`, where
 * the browser has `navigator.gpu` and an adapter), `wasm`, `cpu`. WebGL is
 * the default because it is the GPU path every browser has and the one
 * tyche's engine tests run on (headless Chromium); WebGPU is taken when
 * WebGL is missing, or when asked for. WebGL is skipped when it can only
 * render float16 textures (tyche's tolerances assume float32). A page
 * forces a backend with `initBackend(name)`, or by setting
 * `globalThis.TYCHE_BACKEND` before importing tyche. The WASM backend
 * fetches its `.wasm` files from {@link setWasmPath}'s folder, by default
 * the folder of the module holding this code (the browser bundle ships them
 * there); see docs/browser.md.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { guardKernels } from './kernel-guards.js';
import { fillMissingKernels } from './missing-kernels.js';
import { isNode } from './runtime.js';

/** The backends tyche knows: Node's in order of preference, then the browser's GPU backends. */
export const BACKENDS = ['node-gpu', 'node', 'wasm', 'cpu', 'webgl', 'webgpu'] as const;
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

/** The order {@link initBackend} tries backends in under Node. */
export const NODE_BACKENDS: readonly BackendName[] = ['node-gpu', 'node', 'wasm', 'cpu'];
/** The order {@link initBackend} tries backends in a browser (or a web worker). */
export const BROWSER_BACKENDS: readonly BackendName[] = ['webgl', 'webgpu', 'wasm', 'cpu'];

/** The order {@link initBackend} tries backends in, in this runtime. */
export function backendOrder(): readonly BackendName[] {
  return isNode() ? NODE_BACKENDS : BROWSER_BACKENDS;
}

let wasmPath: string | undefined;

/**
 * Where the WASM backend fetches its `.wasm` files in a browser: a URL
 * prefix ending in `/` (the files `tfjs-backend-wasm.wasm`,
 * `tfjs-backend-wasm-simd.wasm` and `tfjs-backend-wasm-threaded-simd.wasm`
 * must be served there). Call before the WASM backend is first chosen.
 * Default: `globalThis.TYCHE_WASM_PATH`, else the folder of the module
 * holding tyche's backend code (where tyche's browser bundle puts them).
 * Ignored under Node, which reads them from the package.
 */
export function setWasmPath(prefix: string): void {
  if (typeof prefix !== 'string' || prefix === '') throw new Error(`setWasmPath(prefix): expected a URL prefix such as '/wasm/', got ${JSON.stringify(prefix)}`);
  wasmPath = prefix.endsWith('/') ? prefix : `${prefix}/`;
}

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

/** The backend forced by `TYCHE_BACKEND` (an environment variable in Node, a global in a page), if any. */
export function envBackend(): BackendName | undefined {
  const v = isNode() ? process.env?.[BACKEND_ENV] : (globalThis as Record<string, unknown>)[BACKEND_ENV];
  if (v === undefined || v === '') return undefined;
  return parseBackendName(v, BACKEND_ENV);
}

/**
 * Pick and initialise the backend, once per process.
 *
 * `preferred` (else `TYCHE_BACKEND`) forces one; otherwise the first of
 * {@link backendOrder} (Node: {@link NODE_BACKENDS}, browser:
 * {@link BROWSER_BACKENDS}) that loads is used and the reasons the others were skipped
 * are recorded in {@link BackendInfo.skipped}. Later calls return the same
 * result; a later call that names a *different* backend switches only while
 * no tensor is alive, and is otherwise an error.
 *
 * Tensors made before the backend is chosen stay right: tfjs moves a tensor
 * between backends through the dtype its buffer was first made with, and the
 * pure-JS backend shares an int32 buffer with the float32 result of an
 * int→float `cast` (`tf.oneHot(g, J).toFloat()`), which then reads back as
 * garbage on wasm. So when tensors already live on a backend, an automatic
 * choice keeps that backend (with a warning and the reason in
 * {@link BackendInfo.skipped}), and a forced one that differs is an error.
 * Importing `tyche` as an ES module chooses the backend at import, before
 * the importing module can make any tensor.
 */
export async function initBackend(preferred?: BackendName): Promise<BackendInfo> {
  const explicit = preferred === undefined ? undefined : parseBackendName(preferred, 'initBackend(backend)');
  if (active) {
    const info = await active;
    if (explicit === undefined || explicit === info.name) return info;
    const live = liveTensors();
    if (live.count > 0) {
      throw new Error(`tyche backend is already initialised as "${info.name}"; cannot switch to "${explicit}" in the same process while ${live.count} tensor(s) are alive (tfjs corrupts some tensors when it moves them between backends); dispose them first, or set ${BACKEND_ENV}=${explicit} before starting`);
    }
    active = undefined;
    activeInfo = undefined;
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

/** tfjs backend names and the tyche backend each one is. */
const TYCHE_NAME: Record<string, BackendName> = { tensorflow: 'node', wasm: 'wasm', cpu: 'cpu', webgl: 'webgl', webgpu: 'webgpu' };

/**
 * How many tensors tfjs holds, and on which backend, read without making tfjs
 * pick a backend (which `tf.memory()` and `tf.getBackend()` would do).
 */
export function liveTensors(): { count: number; tfName: string | undefined } {
  const engine = tf.engine() as unknown as { state: { numTensors: number }; backendInstance?: unknown; backendName?: string };
  const count = engine.state.numTensors;
  return { count, tfName: engine.backendInstance != null ? engine.backendName : undefined };
}

/**
 * Refuse (`forced`) or avoid a backend switch under live tensors.
 *
 * tfjs moves a tensor to a new backend lazily, through the dtype of the first
 * tensor that shared its buffer: the pure-JS backend implements an int→float
 * `cast` by sharing the int32 buffer, so after a switch to wasm such a tensor
 * reads back int bits as floats (`tf.cast(tf.tensor1d([1,1,1,1], 'int32'),
 * 'float32')` sums to 5.6e-45). Returns the tyche name of the backend that
 * must stay, or `undefined` when switching is safe.
 */
function backendToKeep(forced: BackendName | undefined): BackendName | undefined {
  const live = liveTensors();
  if (live.count === 0 || live.tfName === undefined) return undefined;
  const current = TYCHE_NAME[live.tfName];
  if (forced !== undefined) {
    if (current === forced || (forced === 'node-gpu' && current === 'node')) return undefined;
    throw new Error(`tyche backend "${forced}" cannot be selected: ${live.count} tensor(s) already live on the tfjs "${live.tfName}" backend, and tfjs corrupts some tensors when it moves them between backends. Select the backend before making tensors: \`await initBackend('${forced}')\` first, or import tyche before creating tensors, or set ${BACKEND_ENV}=${forced}`);
  }
  if (current === undefined) {
    throw new Error(`tyche cannot choose a backend: ${live.count} tensor(s) already live on the tfjs "${live.tfName}" backend, which tyche does not know, and switching would corrupt them; call \`await initBackend()\` before making tensors`);
  }
  return current;
}

let warnedKeep = false;

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
  webgl: '@tensorflow/tfjs-backend-webgl',
  webgpu: '@tensorflow/tfjs-backend-webgpu',
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
    case 'wasm': {
      if (typeof (globalThis as { WebAssembly?: unknown }).WebAssembly !== 'object') throw new Error('this JavaScript runtime has no WebAssembly');
      const wasm = await import('@tensorflow/tfjs-backend-wasm');
      if (!isNode()) wasm.setWasmPaths(wasmPath ?? globalWasmPath() ?? new URL('./', import.meta.url).href);
      return 'wasm';
    }
    case 'webgl': {
      if (isNode()) throw new Error('WebGL needs a browser; under Node use node, wasm or cpu');
      await import('@tensorflow/tfjs-backend-webgl');
      return 'webgl';
    }
    case 'webgpu': {
      if (isNode()) throw new Error('WebGPU needs a browser; under Node use node, wasm or cpu');
      const gpu = (globalThis as { navigator?: { gpu?: { requestAdapter(): Promise<unknown> } } }).navigator?.gpu;
      if (gpu === undefined) throw new Error('this browser has no WebGPU (navigator.gpu is missing)');
      if ((await gpu.requestAdapter()) == null) throw new Error('WebGPU gave no adapter (navigator.gpu.requestAdapter() returned null)');
      await import('@tensorflow/tfjs-backend-webgpu');
      return 'webgpu';
    }
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

/** `globalThis.TYCHE_WASM_PATH`, when a page set it. */
function globalWasmPath(): string | undefined {
  const v = (globalThis as { TYCHE_WASM_PATH?: unknown }).TYCHE_WASM_PATH;
  return typeof v === 'string' && v !== '' ? (v.endsWith('/') ? v : `${v}/`) : undefined;
}

/** WebGL's capabilities, as tfjs found them. */
function webglFeatures(): Record<string, boolean> {
  const env = tf.env();
  return {
    webgl2: env.getNumber('WEBGL_VERSION') === 2,
    float32: env.getBool('WEBGL_RENDER_FLOAT32_ENABLED'),
    float32Capable: env.getBool('WEBGL_RENDER_FLOAT32_CAPABLE'),
  };
}

async function featuresOf(name: BackendName): Promise<Record<string, boolean>> {
  if (name === 'webgl') return webglFeatures();
  if (name !== 'wasm') return {};
  const env = tf.env();
  return {
    simd: Boolean(await env.getAsync('WASM_HAS_SIMD_SUPPORT')),
    threads: Boolean(await env.getAsync('WASM_HAS_MULTITHREAD_SUPPORT')),
  };
}

/** Load one backend and make it active; throws with the reason when it cannot. */
async function activate(name: BackendName, forcedNow = false): Promise<string> {
  return keepProcessListeners(async () => {
    const tfName = await loadPackage(name);
    if (tf.findBackendFactory(tfName) == null) {
      throw new Error(`${PACKAGE[name]} loaded but registered no "${tfName}" backend with tyche's @tensorflow/tfjs-core ${tf.version_core} (install the same version: ${installHint(name)})`);
    }
    const ok = await tf.setBackend(tfName);
    if (!ok) throw new Error(`tf.setBackend('${tfName}') failed (tfjs printed the reason above)`);
    await tf.ready();
    guardKernels(tfName);
    fillMissingKernels(tfName);
    if (name === 'webgl' && !forcedNow && !webglFeatures().float32) {
      throw new Error('WebGL here renders only float16 textures (WEBGL_RENDER_FLOAT32_ENABLED is false); tyche\'s tolerances assume float32, force it with initBackend(\'webgl\') to use it anyway');
    }
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
  const keep = backendToKeep(forced);
  const order = backendOrder();
  let candidates: readonly BackendName[] = forced ? [forced] : order;
  if (keep !== undefined) {
    const { count, tfName } = liveTensors();
    const why = `${count} tensor(s) were made on the "${tfName}" backend before tyche chose one; tyche keeps it, because tfjs corrupts some tensors when it moves them between backends`;
    for (const name of order.slice(0, Math.max(0, order.indexOf(keep)))) skipped[name] = why;
    candidates = [keep];
    if (!warnedKeep) {
      warnedKeep = true;
      console.warn(`tyche: ${why}. For the faster backend, call \`await initBackend()\` (or import tyche) before making tensors.`);
    }
  }
  for (const name of candidates) {
    let tfName: string;
    try {
      tfName = await activate(name, forced !== undefined);
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
