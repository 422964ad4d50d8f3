/**
 * Running WebPPL programs in this process, for side-by-side benchmarks.
 *
 * WebPPL is a devDependency of the benchmarks only. A program is compiled
 * once and run through `prepare(...).run()`; its final expression becomes the
 * resolved value. Programs time their own `Infer` calls with
 * `performance.now()`, so compilation is not counted.
 *
 * @module
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';

/** The parts of WebPPL's npm API the benchmarks use. */
export interface WebPPL {
  compile(code: string, options?: { bundles?: unknown }): unknown;
  prepare(compiled: unknown, k: (s: unknown, value: unknown) => void): { run(): void };
  parsePackageCode(packages: unknown[]): unknown;
}

const require = createRequire(import.meta.url);

/** WebPPL and its version, or `undefined` when `node_modules/webppl` is absent. */
export function loadWebppl(): { wp: WebPPL; version: string } | undefined {
  let dir: string;
  try {
    dir = require.resolve('webppl/package.json');
  } catch {
    return undefined;
  }
  if (!existsSync(dir)) return undefined;
  return { wp: require('webppl') as WebPPL, version: (require('webppl/package.json') as { version: string }).version };
}

let bundles: unknown;

/** Compile and run a WebPPL program; resolves with the value of its last expression. */
export function runWebppl<T>(wp: WebPPL, code: string): Promise<T> {
  bundles ??= wp.parsePackageCode([]);
  const compiled = wp.compile(code, { bundles });
  return new Promise((resolve, reject) => {
    try {
      wp.prepare(compiled, (_s, value) => resolve(value as T)).run();
    } catch (err) {
      reject(err);
    }
  });
}
