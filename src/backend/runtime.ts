/**
 * Which JavaScript runtime tyche runs in, and the one way Node-only features
 * load their Node built-ins.
 *
 * tyche's main entry runs in browsers too (see docs/browser.md). A feature
 * that needs a Node built-in (file I/O, worker threads) imports it by a name
 * held in a `string` through {@link importNodeOnly}, so bundlers for the
 * browser never try to resolve it, and in a browser the feature fails with
 * an error that names it instead of a bundler or network error.
 *
 * @module
 */

/** True when running under Node.js (or a runtime that reports a Node version, such as Bun or Deno's Node mode). */
export function isNode(): boolean {
  const proc = (globalThis as { process?: { versions?: { node?: unknown } } }).process;
  return typeof proc?.versions?.node === 'string';
}

/** True in a browser page or a web worker (a DOM `navigator` and no Node). */
export function isBrowser(): boolean {
  const g = globalThis as { navigator?: { userAgent?: unknown }; document?: unknown; importScripts?: unknown };
  return !isNode() && (typeof g.document === 'object' || typeof g.importScripts === 'function') && typeof g.navigator === 'object';
}

/**
 * Import a Node built-in (or any module only a Node-only feature needs), by a
 * name held in a variable so that browser bundles leave it out.
 *
 * @param specifier - the module, e.g. `'node:fs/promises'`; or a function
 *   that imports it, for a module named relative to the caller (write
 *   `() => import(NAME)` there, with `NAME` a `string` constant)
 * @param feature - the feature that needs it, for the error (e.g. `'saveSvg'`)
 * @throws Error naming `feature` when not running under Node
 */
export async function importNodeOnly<T>(specifier: string | (() => Promise<unknown>), feature: string): Promise<T> {
  if (!isNode()) {
    const what = typeof specifier === 'string' ? ` (it imports ${specifier})` : '';
    throw new Error(`${feature} needs Node.js${what} and is not available in this runtime; see docs/browser.md for what runs in a browser`);
  }
  if (typeof specifier === 'function') return (await specifier()) as T;
  const name: string = specifier;
  return (await import(name)) as T;
}
