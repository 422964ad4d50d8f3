/**
 * The house rule on floors (../shared/DESIGN.md): a value import goes down or
 * sideways, never up. Type-only imports are allowed upwards (they vanish at
 * run time). Reads the sources; no tfjs.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = join(__dirname, '..', '..', 'src');

/** Floor of each top-level folder of src/, from the ground up. */
const FLOOR: Record<string, number> = {
  math: 0,
  backend: 1,
  core: 2,
  progress: 2,
  linalg: 2.5,
  ode: 2.5,
  distributions: 3,
  transforms: 3,
  diagnostics: 3,
  optim: 3.5,
  flows: 4,
  infer: 5,
  steer: 6,
  testing: 7,
  plots: 7,
  io: 7,
  cli: 7,
  '.': 8, // src/index.ts, src/cli.ts, src/main.ts
};

/** Known upward imports still to mend (each names why it remains). */
const KNOWN: Record<string, string> = {
  'core/model.ts -> distributions': 'sample() checks `instanceof Distribution`',
};

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

const top = (p: string): string => {
  const r = relative(SRC, p).split('/');
  return r.length === 1 ? '.' : r[0];
};

/** Value imports (and re-exports) of relative modules: `import type` and `export type` are skipped. */
function valueImports(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/^(import|export)\s+(type\s+)?[^;]*?from\s+'(\.[^']+)'/gms)) if (!m[2]) out.push(m[3]);
  return out;
}

describe('floors', () => {
  it('no module imports a value from a higher floor', () => {
    const bad: string[] = [];
    const seen = new Set<string>();
    for (const f of files(SRC)) {
      const from = top(f);
      for (const spec of valueImports(readFileSync(f, 'utf8'))) {
        const to = top(normalize(join(dirname(f), spec)));
        if (!(from in FLOOR) || !(to in FLOOR)) {
          bad.push(`${relative(SRC, f)}: folder without a floor (${from} -> ${to})`);
          continue;
        }
        const key = `${relative(SRC, f)} -> ${to}`;
        if (FLOOR[to] > FLOOR[from]) {
          if (key in KNOWN) seen.add(key);
          else bad.push(key);
        }
      }
    }
    expect(bad).toEqual([]);
    // a mended exception must leave the list
    expect([...seen].sort()).toEqual(Object.keys(KNOWN).sort());
  });

  it('the check catches an upward import (planted)', () => {
    expect(valueImports("import { x } from '../infer/vi/optim.js';\nimport type { Y } from '../up.js';")).toEqual(['../infer/vi/optim.js']);
  });
});
