/**
 * Runs one documentation snippet in this process: writes it (imports rewritten to the checkout's
 * sources) under .tmp/snippets/, imports it, and returns what it printed. console.log/info/warn/error
 * are captured while it runs; a snippet that runs past `timeoutMs` is reported as timed out.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { format } from 'node:util';
import { repoRoot, rewriteImports, type Snippet } from './snippets.js';

/** What one snippet did. */
export interface SnippetRun {
  /** Lines written by console.log / console.info. */
  logs: string[];
  /** Lines written by console.warn / console.error. */
  warnings: string[];
  /** The error the snippet threw, if any. */
  error?: unknown;
  ms: number;
}

let counter = 0;

/** Write the snippet as a module and import it, capturing the console. */
export async function runSnippet(s: Snippet, timeoutMs = 30_000): Promise<SnippetRun> {
  const dir = join(repoRoot, '.tmp', 'snippets');
  mkdirSync(dir, { recursive: true });
  const name = `${s.file.replace(/[^\w]+/g, '_')}_L${s.line}_${process.pid}_${counter++}.ts`;
  const path = join(dir, name);
  // `export {}` makes the file a module, so top-level await works in it
  writeFileSync(path, `${rewriteImports(s.code)}\nexport {};\n`);
  const logs: string[] = [];
  const warnings: string[] = [];
  const saved = { log: console.log, info: console.info, warn: console.warn, error: console.error };
  console.log = console.info = (...a: unknown[]) => void logs.push(format(...a));
  console.warn = console.error = (...a: unknown[]) => void warnings.push(format(...a));
  const t0 = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      import(pathToFileURL(path).href),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${s.label}: still running after ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    return { logs, warnings, ms: performance.now() - t0 };
  } catch (error) {
    return { logs, warnings, error, ms: performance.now() - t0 };
  } finally {
    clearTimeout(timer);
    Object.assign(console, saved);
    rmSync(path, { force: true }); // already read and transformed by the import
  }
}
