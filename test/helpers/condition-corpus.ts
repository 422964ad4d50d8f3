/**
 * Every piece of model code in the repository, as the condition lint sees it
 * at run time: TypeScript files (models/, test/, src/, scripts/, bench/,
 * playground/), the ts/js code blocks of the Markdown guides and README,
 * and the notebooks' code cells, each transpiled by esbuild as vitest and
 * tsx do (types stripped, so `x as boolean` is gone as in `fn.toString()`).
 * A code block that does not parse on its own (a fragment) is linted as
 * written. Used by test/trust/condition-lint.test.ts and
 * scripts/lint-conditions-corpus.ts to show the lint's false positives.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { transformSync } from 'esbuild';
import { lintConditions, type ConditionFinding } from '../../src/core/condition-lint.js';

/** One source in the corpus. */
export interface CorpusSource {
  /** Repository path, with `#n` for the n-th code block or cell. */
  readonly name: string;
  /** JavaScript as `toString()` would show it (or the block as written when it does not parse). */
  readonly js: string;
  /** Whether esbuild parsed it. */
  readonly transpiled: boolean;
}

const ROOT = join(import.meta.dirname, '..', '..');
const CODE_DIRS = ['models', 'test', 'src', 'scripts', 'bench', 'playground', 'examples'];
const DOC_DIRS = ['docs'];

function walk(dir: string, out: string[]): void {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return;
  }
  for (const e of entries) {
    if (e === 'node_modules' || e.startsWith('.')) continue;
    const p = join(dir, e);
    if (statSync(p).isDirectory()) walk(p, out);
    else out.push(p);
  }
}

function transpile(code: string, loader: 'ts' | 'js'): { js: string; ok: boolean } {
  try {
    return { js: transformSync(code, { loader, target: 'es2022', format: 'esm' }).code, ok: true };
  } catch {
    return { js: code, ok: false };
  }
}

/** The fenced ts/js code blocks of a Markdown file. */
function codeBlocks(md: string): { code: string; loader: 'ts' | 'js' }[] {
  const out: { code: string; loader: 'ts' | 'js' }[] = [];
  const re = /^```(\w*)[^\n]*\n([\s\S]*?)^```/gm;
  for (let m = re.exec(md); m !== null; m = re.exec(md)) {
    const lang = m[1].toLowerCase();
    if (['ts', 'typescript', 'js', 'javascript', 'tsx', 'mjs'].includes(lang)) out.push({ code: m[2], loader: lang.startsWith('j') || lang === 'mjs' ? 'js' : 'ts' });
  }
  return out;
}

/** Collect the corpus (a few hundred sources). */
export function collectCorpus(): CorpusSource[] {
  const out: CorpusSource[] = [];
  const files: string[] = [];
  for (const d of CODE_DIRS) walk(join(ROOT, d), files);
  for (const f of files.sort()) {
    if (!/\.(ts|mts|js|mjs)$/.test(f) || f.endsWith('.d.ts')) continue;
    const { js, ok } = transpile(readFileSync(f, 'utf8'), f.endsWith('ts') ? 'ts' : 'js');
    out.push({ name: relative(ROOT, f), js, transpiled: ok });
  }
  const docs: string[] = [join(ROOT, 'README.md')];
  for (const d of DOC_DIRS) walk(join(ROOT, d), docs);
  for (const f of docs.sort()) {
    if (!f.endsWith('.md')) continue;
    codeBlocks(readFileSync(f, 'utf8')).forEach((b, i) => {
      const { js, ok } = transpile(b.code, b.loader);
      out.push({ name: `${relative(ROOT, f)}#${i + 1}`, js, transpiled: ok });
    });
  }
  const nbs: string[] = [];
  walk(join(ROOT, 'notebooks'), nbs);
  for (const f of nbs.sort()) {
    if (!f.endsWith('.ipynb')) continue;
    const nb = JSON.parse(readFileSync(f, 'utf8')) as { cells: { cell_type: string; source: string | string[] }[] };
    nb.cells.forEach((c, i) => {
      if (c.cell_type !== 'code') return;
      const src = Array.isArray(c.source) ? c.source.join('') : c.source;
      const { js, ok } = transpile(src, 'ts');
      out.push({ name: `${relative(ROOT, f)}#${i + 1}`, js, transpiled: ok });
    });
  }
  return out;
}

/** The lint's findings over the corpus, by source name (sources with none left out). */
export function lintCorpus(corpus: readonly CorpusSource[]): Map<string, ConditionFinding[]> {
  const found = new Map<string, ConditionFinding[]>();
  for (const s of corpus) {
    const f = lintConditions(s.js);
    if (f.length > 0) found.set(s.name, f);
  }
  return found;
}
