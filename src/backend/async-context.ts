/**
 * Node's `AsyncLocalStorage` where the runtime has it: values that follow
 * one async computation (through promises, timers and `setImmediate`) and
 * not the others running beside it. Browsers have none yet; callers fall
 * back to behaviour that needs no context.
 *
 * @module
 */

import { isNode } from './runtime.js';

/** The part of `AsyncLocalStorage` tyche uses. */
export interface AsyncContext<T> {
  run<R>(store: T, fn: () => R): R;
  getStore(): T | undefined;
  /** Stop tracking until the next `run` (Node: no promise hooks while no context is enabled). */
  disable?(): void;
}

/** Held in a variable so that bundlers for the browser do not try to resolve it. */
const ASYNC_HOOKS = 'node:async_hooks';

type Ctor = new <T>() => AsyncContext<T>;
/** undefined: not looked up yet; null: not available in this runtime. */
let ctor: Ctor | null | undefined;

/** The `AsyncLocalStorage` class, loaded once (top-level await keeps the module requirable, so it is looked up lazily). */
async function load(): Promise<Ctor | null> {
  if (ctor !== undefined) return ctor;
  // outside Node (a browser) there is none; do not even ask, or the page logs a failed fetch of node:async_hooks
  if (!isNode()) return (ctor = null);
  try {
    ctor = ((await import(ASYNC_HOOKS)) as { AsyncLocalStorage: Ctor }).AsyncLocalStorage;
  } catch {
    ctor = null;
  }
  return ctor;
}

/**
 * A lazily created async context, shared by the callers of one module:
 * `await context()` gives the same instance every time, or null where the
 * runtime has no `AsyncLocalStorage`.
 */
export function asyncContext<T>(): () => Promise<AsyncContext<T> | null> {
  let instance: AsyncContext<T> | null | undefined;
  return async () => {
    if (instance !== undefined) return instance;
    const C = await load();
    instance = C === null ? null : new C<T>();
    return instance;
  };
}
