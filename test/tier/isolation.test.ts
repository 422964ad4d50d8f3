/**
 * The default tier shares one worker between test files (TIER, session 15; `vitest.config.ts`,
 * `test/helpers/isolation.ts`). A file that mocks modules, hoists code above its imports, switches
 * the backend or replaces a global would see (or leave) another file's process state there: a
 * mock that never applies because the module was already loaded, a kernel interrupt that was
 * never installed (measured: `surfaces-session12-interrupt` then runs 5,000,000 particles until
 * the timeout, and the files after it in that worker queue behind it). Such a file must be in
 * `ISOLATED`; this test finds them by their source.
 *
 * Planted: with `test/infer/vi-wasm.test.ts` left out of `ISOLATED` the first test fails naming it.
 */
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import config from '../../vitest.config.js';
import { ISOLATED, NEEDS_ISOLATION } from '../helpers/isolation.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SELF = 'test/tier/isolation.test.ts';

function defaultTierFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...defaultTierFiles(p));
    else if (e.name.endsWith('.test.ts') && !e.name.endsWith('.slow.test.ts')) out.push(relative(ROOT, p).split('\\').join('/'));
  }
  return out.sort();
}

describe('test files that need a process of their own run isolated', () => {
  it('every default-tier file with a mock, hoisted code, a backend switch or a replaced global is in ISOLATED', () => {
    const missing: string[] = [];
    for (const file of defaultTierFiles(join(ROOT, 'test'))) {
      if (file === SELF) continue; // its own pattern examples below are strings
      const src = readFileSync(join(ROOT, file), 'utf8');
      const hits = NEEDS_ISOLATION.filter((n) => n.pattern.test(src)).map((n) => n.name);
      if (hits.length > 0 && !ISOLATED.includes(file)) missing.push(`${file}: ${hits.join('; ')}`);
    }
    expect(missing, 'add these to ISOLATED in test/helpers/isolation.ts').toEqual([]);
  });

  it('every ISOLATED entry names a default-tier file', () => {
    for (const file of ISOLATED) {
      expect(existsSync(join(ROOT, file)), file).toBe(true);
      expect(file.endsWith('.slow.test.ts'), file).toBe(false);
    }
  });

  it('the config runs ISOLATED with isolation and leaves them out of the shared project', () => {
    const projects = (config.test?.projects ?? []) as { test?: { name?: string; include?: string[]; exclude?: string[]; isolate?: boolean } }[];
    const isolated = projects.find((p) => p.test?.name === 'isolated')?.test;
    const shared = projects.find((p) => p.test?.name === 'shared')?.test;
    expect(isolated?.isolate).toBe(true);
    expect(isolated?.include).toEqual([...ISOLATED]);
    for (const file of ISOLATED) expect(shared?.exclude, file).toContain(file);
  });

  it('the patterns find what they are meant to and not page script or a comparison', () => {
    const needs = (src: string) => NEEDS_ISOLATION.some((n) => n.pattern.test(src));
    expect(needs(`vi.mock('../../src/x.js', () => ({}))`)).toBe(true);
    expect(needs(`vi.hoisted(() => {})`)).toBe(true);
    expect(needs(`(globalThis as any).__tslab__ = {}`)).toBe(true);
    expect(needs(`await initBackend('wasm')`)).toBe(true);
    expect(needs(`await initBackend('cpu')`)).toBe(false);
    expect(needs(`globalThis.Function = fake`)).toBe(true);
    expect(needs(`if (globalThis.Function === RealFunction) {}`)).toBe(false);
  });
});
