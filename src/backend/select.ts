/**
 * TensorFlow.js backend selection.
 *
 * tyche prefers, in order: `node-gpu` (`@tensorflow/tfjs-node-gpu`, CUDA),
 * `node` (`@tensorflow/tfjs-node`, native CPU), `wasm`
 * (`@tensorflow/tfjs-backend-wasm`, shipped with tyche) and `cpu` (pure
 * JavaScript, always present). The two native packages are optional peers:
 * their install scripts download libtensorflow, so the default install does
 * not need them. Set `TYCHE_BACKEND=node-gpu|node|wasm|cpu` to force one; a
 * forced backend that cannot load is an error that says why.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';

/** The backends tyche knows, in order of preference. */
export const BACKENDS = ['node-gpu', 'node', 'wasm', 'cpu'] as const;
/** A backend name. */
export type BackendName = (typeof BACKENDS)[number];

/** What {@link initBackend} found. */
export interface BackendInfo {
  /** The active backend. */
  readonly name: BackendName;
  /** The tfjs backend name (`tensorflow` for the native ones). */
  readonly tfName: string;
  /** Why each more-preferred backend was skipped. */
  readonly skipped: Readonly<Record<string, string>>;
}

let active: Promise<BackendInfo> | undefined;
let activeInfo: BackendInfo | undefined;

/** Load a module whose name is held in a variable, so type-checking never needs it installed. */
async function importOptional(name: string): Promise<unknown> {
  return import(name);
}

async function tryBackend(name: BackendName): Promise<string> {
  switch (name) {
    case 'node-gpu':
      await importOptional('@tensorflow/tfjs-node-gpu');
      return 'tensorflow';
    case 'node':
      await importOptional('@tensorflow/tfjs-node');
      return 'tensorflow';
    case 'wasm':
      await import('@tensorflow/tfjs-backend-wasm');
      return 'wasm';
    case 'cpu':
      await import('@tensorflow/tfjs-backend-cpu');
      return 'cpu';
  }
}

/**
 * Pick and initialise the backend (once per process; later calls return the
 * same result). `preferred` (or `TYCHE_BACKEND`) forces one.
 */
export function initBackend(preferred?: BackendName): Promise<BackendInfo> {
  if (active) {
    const want = preferred ?? envBackend();
    return active.then((info) => {
      if (want && want !== info.name) throw new Error(`tyche backend is already initialised as "${info.name}"; cannot switch to "${want}" in the same process`);
      return info;
    });
  }
  active = choose(preferred ?? envBackend());
  active.catch(() => {
    active = undefined;
  });
  return active;
}

function envBackend(): BackendName | undefined {
  const v = typeof process !== 'undefined' ? process.env.TYCHE_BACKEND : undefined;
  if (v === undefined || v === '') return undefined;
  if (!(BACKENDS as readonly string[]).includes(v)) {
    throw new Error(`TYCHE_BACKEND="${v}" is not a backend; choose one of ${BACKENDS.join(', ')}`);
  }
  return v as BackendName;
}

async function choose(forced: BackendName | undefined): Promise<BackendInfo> {
  const skipped: Record<string, string> = {};
  const candidates: readonly BackendName[] = forced ? [forced] : BACKENDS;
  for (const name of candidates) {
    try {
      const tfName = await tryBackend(name);
      const ok = await tf.setBackend(tfName);
      if (!ok) throw new Error(`tf.setBackend('${tfName}') returned false`);
      await tf.ready();
      activeInfo = { name, tfName, skipped };
      return activeInfo;
    } catch (err) {
      const why = err instanceof Error ? err.message.split('\n')[0] : String(err);
      if (forced) {
        const hint = name === 'node-gpu' || name === 'node' ? ` (install it with \`npm install @tensorflow/tfjs-${name}\`; it needs a machine where its install script can fetch libtensorflow)` : '';
        throw new Error(`backend "${name}" was forced but cannot be loaded: ${why}${hint}`);
      }
      skipped[name] = why;
    }
  }
  throw new Error(`no tfjs backend could be loaded: ${JSON.stringify(skipped)}`);
}

/** The active backend's name, or `undefined` before {@link initBackend} finished. */
export function backendName(): BackendName | undefined {
  return activeInfo?.name;
}

/** Details of the active backend, or `undefined` before initialisation. */
export function backendInfo(): BackendInfo | undefined {
  return activeInfo;
}
