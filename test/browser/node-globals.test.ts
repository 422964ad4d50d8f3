/**
 * Library code that the browser build bundles must not call Node's
 * `setImmediate` directly: a browser has none, and the call throws a
 * ReferenceError only when that path runs (session 17: program SMC's replay
 * watch broke every program SMC run in Chromium). `yieldToEventLoop`
 * (`src/infer/pace.ts`) is the portable next macrotask. Allowed: a call behind a
 * `typeof setImmediate` check, and Node-only modules.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

/** Modules that only Node runs (worker threads), or that check for `setImmediate` before calling it. */
const ALLOWED = new Set(['src/infer/mcmc/worker-pool.ts', 'src/infer/pace.ts', 'src/steer/lm/batcher.ts']);

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sources(path) : path.endsWith('.ts') ? [path] : [];
  });
}

/** Lines of `text` that call `setImmediate(` outside comments. */
export function bareSetImmediate(text: string): number[] {
  const lines: number[] = [];
  text.split('\n').forEach((line, i) => {
    const code = line.replace(/\/\/.*$/, '');
    if (/^\s*\*/.test(line)) return;
    if (/(^|[^.\w])setImmediate\s*\(/.test(code)) lines.push(i + 1);
  });
  return lines;
}

describe('no bare setImmediate in library code the browser runs', () => {
  it('finds none outside the allowed Node-only modules', () => {
    const root = join(import.meta.dirname, '..', '..');
    const found = sources(join(root, 'src'))
      .map((p) => relative(root, p).replaceAll('\\', '/'))
      .filter((p) => !ALLOWED.has(p) && !p.startsWith('src/cli'))
      .flatMap((p) => bareSetImmediate(readFileSync(join(root, p), 'utf8')).map((l) => `${p}:${l}`));
    expect(found).toEqual([]);
  });

  it('would catch the session-17 replay watch (planted)', () => {
    expect(bareSetImmediate('        setImmediate(() => {\n')).toEqual([1]);
    expect(bareSetImmediate('await new Promise<void>((r) => setImmediate(r));')).toEqual([1]);
    expect(bareSetImmediate('// setImmediate(r) in a comment\nif (typeof g.setImmediate === "function") g.setImmediate(fn);')).toEqual([]);
  });
});
