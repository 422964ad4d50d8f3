/**
 * Doc-snippet extraction for test/docs/snippets*.test.ts: every ```ts block in README.md and
 * docs/**\/*.md, with the markers written above it, rewritten so that it runs from this checkout.
 *
 * Markers are HTML comments (invisible on GitHub) on the lines just above the fence:
 *
 *   <!-- snippet: fragment -->        not meant to run alone (a signature, part of a program)
 *   <!-- snippet: slow -->            runs only in the slow tier (a long fit, a large shipped model)
 *   <!-- snippet: external -->        needs what the repository cannot hold (a user's GGUF file, a
 *                                     server): checked to parse, never run
 *   <!-- snippet: warns -->           a console.warn is expected (otherwise one fails the snippet)
 *   <!-- snippet: id=readme-coin -->  a name the tests use to check what the snippet prints
 *
 * Several words may share one comment, separated by commas. An unmarked block must run as written.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

/** Repository root (this file lives in test/docs/). */
export const repoRoot = resolve(import.meta.dirname, '..', '..');

/** One ```ts block of the documentation. */
export interface Snippet {
  /** Markdown file, relative to the repository root. */
  file: string;
  /** 1-based line of the opening fence. */
  line: number;
  /** The block's source, as a reader sees it. */
  code: string;
  fragment: boolean;
  slow: boolean;
  external: boolean;
  warns: boolean;
  /** The `id=` marker, if any. */
  id?: string;
  /** A short label for test names: file:line (id). */
  label: string;
}

const KNOWN = new Set(['fragment', 'slow', 'warns', 'external']);

/** Markdown files whose examples are checked: README.md and docs/**\/*.md. */
export function docFiles(root = repoRoot): string[] {
  const out = [join(root, 'README.md')];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.md')) out.push(p);
    }
  };
  walk(join(root, 'docs'));
  return out;
}

/** Parse the markers in the comment lines just above line index `fence` (blank lines skipped). */
function markersAbove(lines: string[], fence: number, where: string): Pick<Snippet, 'fragment' | 'slow' | 'warns' | 'external' | 'id'> {
  const m: Pick<Snippet, 'fragment' | 'slow' | 'warns' | 'external' | 'id'> = { fragment: false, slow: false, warns: false, external: false };
  for (let i = fence - 1; i >= 0; i--) {
    const t = lines[i].trim();
    if (t === '') continue;
    const c = /^<!--\s*snippet:\s*(.*?)\s*-->$/.exec(t);
    if (!c) break;
    for (const word of c[1].split(',').map((w) => w.trim()).filter(Boolean)) {
      if (word.startsWith('id=')) m.id = word.slice(3);
      else if (KNOWN.has(word)) m[word as 'fragment' | 'slow' | 'warns' | 'external'] = true;
      else throw new Error(`${where}: unknown snippet marker "${word}" (known: fragment, slow, warns, external, id=NAME)`);
    }
  }
  return m;
}

/** Every ```ts block of one Markdown text. */
export function extractSnippets(text: string, file: string): Snippet[] {
  const lines = text.split('\n');
  const out: Snippet[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)```(\w*)\s*$/.exec(lines[i]);
    if (!open) continue;
    const indent = open[1].length;
    let j = i + 1;
    while (j < lines.length && !/^\s*```\s*$/.test(lines[j])) j++;
    if (j >= lines.length) throw new Error(`${file}:${i + 1}: code fence never closed`);
    if (open[2] === 'ts' || open[2] === 'typescript') {
      const code = lines.slice(i + 1, j).map((l) => l.slice(Math.min(indent, l.length - l.trimStart().length))).join('\n');
      const where = `${file}:${i + 1}`;
      const m = markersAbove(lines, i, where);
      out.push({ file, line: i + 1, code, ...m, label: m.id ? `${where} (${m.id})` : where });
    }
    i = j;
  }
  return out;
}

/** Every ```ts block of README.md and docs/. */
export function allSnippets(root = repoRoot): Snippet[] {
  return docFiles(root).flatMap((f) => extractSnippets(readFileSync(f, 'utf8'), relative(root, f)));
}

/** The package's entry points (package.json "exports") mapped to their sources in this checkout. */
export const ENTRY_POINTS: Record<string, string> = {
  tyche: 'src/main.ts',
  'tyche/distributions': 'src/distributions/index.ts',
  'tyche/backend': 'src/backend/index.ts',
  'tyche/testing': 'src/testing/index.ts',
  'tyche/plots': 'src/plots/index.ts',
  'tyche/progress': 'src/progress/index.ts',
  'tyche/steer': 'src/steer/index.ts',
  'tyche/steer/node': 'src/steer/node.ts',
};

/**
 * The snippet's code with `from 'tyche…'` imports pointed at this checkout's sources (absolute
 * paths), so it runs exactly as a user who installed the package would run it.
 */
export function rewriteImports(code: string, root = repoRoot): string {
  return code.replace(/(\bfrom\s+|\bimport\s*\(\s*|\bimport\s+)(['"])(tyche(?:\/[\w/-]+)?)\2/g, (all, pre: string, q: string, spec: string) => {
    const target = ENTRY_POINTS[spec];
    if (!target) throw new Error(`import '${spec}' is not one of the package's entry points (${Object.keys(ENTRY_POINTS).join(', ')})`);
    return `${pre}${q}${join(root, target)}${q}`;
  });
}

/**
 * For a fragment: import lines for the package exports it uses without importing (`exports` maps
 * each export name to its entry point, e.g. from {@link ENTRY_POINTS}' modules), so that it can be
 * type-checked. A name counts as used when it is called or constructed (`infer(`, `new SVI(`), or,
 * for a namespace export (`namespaces`), when a member is read (`ops.add`); names the fragment
 * declares or imports itself are left alone.
 */
export function autoImports(code: string, exports: Record<string, string>, namespaces: ReadonlySet<string>): Record<string, string[]> {
  const declared = new Set<string>();
  for (const m of code.matchAll(/\b(?:const|let|var|function|class|interface|type)\s+(\w+)/g)) declared.add(m[1]);
  for (const m of code.matchAll(/\bimport\s*(?:type\s*)?\{([^}]*)\}/g)) for (const n of m[1].split(',')) declared.add(n.trim().split(/\s+as\s+/).pop()!);
  for (const m of code.matchAll(/\bimport\s+\*\s+as\s+(\w+)/g)) declared.add(m[1]);
  const out: Record<string, string[]> = {};
  for (const m of code.matchAll(/(?<![.\w])([A-Za-z_]\w*)\s*(\(|<|\.)/g)) {
    const [, name, next] = m;
    if (declared.has(name) || !(name in exports)) continue;
    if (next === '.' && !namespaces.has(name)) continue;
    const from = exports[name];
    (out[from] ??= []).includes(name) || out[from].push(name);
  }
  return out;
}
